package registry_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/chaptask/chaptask/registry"
)

// Mailer stands for any dependency of a registered function, such as an
// HTTP client or a database handle.
type Mailer struct{ From string }

// Send pretends to send a message.
func (m *Mailer) Send(to, subject string) string {
	return fmt.Sprintf("%s -> %s: %s", m.From, to, subject)
}

// SumParams are the JSON parameters of a calculate_sum function.
type SumParams struct {
	A int `json:"a"`
	B int `json:"b" default:"0"`
}

// SumResult is what calculate_sum returns.
type SumResult struct {
	Result    int    `json:"result"`
	Operation string `json:"operation"`
}

func Example() {
	reg := registry.New()
	err := registry.Add(reg, "calculate_sum", func(ctx context.Context, p SumParams) (SumResult, error) {
		return SumResult{Result: p.A + p.B, Operation: "sum"}, nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}

	res := reg.Call(context.Background(), "calculate_sum", json.RawMessage(`{"a":10,"b":32}`))
	fmt.Println(string(res.Value))

	res = reg.Call(context.Background(), "calculate_sum", json.RawMessage(`{"b":1}`))
	fmt.Println(res.Err.Type+":", res.Err.Message)
	// Output:
	// {"result":42,"operation":"sum"}
	// ValueError: Missing required parameter 'a' for task function. Parameter is not injectable and not provided in task.parameters.
}

func ExampleRegistry_Register() {
	type notifyParams struct {
		To      string `json:"to"`
		Subject string `json:"subject" default:"hello"`
	}
	reg := registry.New()
	// Values are injected by type; provide them before registering.
	if err := reg.Provide(&Mailer{From: "chaptask"}); err != nil {
		fmt.Println(err)
		return
	}
	// The *Mailer argument is injected; notifyParams holds the JSON parameters.
	err := reg.Register("notify", func(ctx context.Context, m *Mailer, p notifyParams) (string, error) {
		return m.Send(p.To, p.Subject), nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	res := reg.Call(context.Background(), "notify", json.RawMessage(`{"to":"ops"}`))
	fmt.Println(string(res.Value))

	// A type that is neither provided nor declared is refused up front.
	err = reg.Register("broken", func(ctx context.Context, s fmt.Stringer) error { return nil })
	fmt.Println(err)
	// Output:
	// "chaptask -> ops: hello"
	// function "broken": argument 1: no provider for type fmt.Stringer
}

func ExampleRegistry_Register_withoutParameters() {
	reg := registry.New()
	// No parameters struct: the function takes no JSON parameters.
	err := reg.Register("ping", func(ctx context.Context) (map[string]bool, error) {
		return map[string]bool{"pong": true}, nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(reg.Call(context.Background(), "ping", nil).Value))
	fmt.Println(reg.Call(context.Background(), "ping", json.RawMessage(`{"x":1}`)).Err.Message)
	// Output:
	// {"pong":true}
	// ping() got an unexpected keyword argument 'x'
}

func ExampleAdd() {
	type upperParams struct {
		Text string `json:"text"`
	}
	reg := registry.New()
	// Add checks the signature at compile time.
	err := registry.Add(reg, "upper", func(ctx context.Context, p upperParams) (string, error) {
		return strings.ToUpper(p.Text), nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(reg.Call(context.Background(), "upper", json.RawMessage(`{"text":"go"}`)).Value))
	// Output:
	// "GO"
}

func ExampleDeclare() {
	reg := registry.New()
	// *Mailer may be provided later, or never: then functions get nil.
	if err := registry.Declare[*Mailer](reg); err != nil {
		fmt.Println(err)
		return
	}
	err := reg.Register("maybe_mail", func(ctx context.Context, m *Mailer) (string, error) {
		if m == nil {
			return "no mailer configured", nil
		}
		return m.Send("ops", "report"), nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(reg.Call(context.Background(), "maybe_mail", nil).Value))
	// A per-call value works too.
	fmt.Println(string(reg.Call(context.Background(), "maybe_mail", nil, &Mailer{From: "job"}).Value))
	// Output:
	// "no mailer configured"
	// "job -> ops: report"
}

func ExampleNewError() {
	type failParams struct {
		ShouldFail bool `json:"should_fail" default:"true"`
	}
	reg := registry.New()
	err := registry.Add(reg, "failing_task", func(ctx context.Context, p failParams) (map[string]bool, error) {
		if p.ShouldFail {
			return nil, registry.NewError("ValueError", "This task was designed to fail")
		}
		return map[string]bool{"success": true}, nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	res := reg.Call(context.Background(), "failing_task", nil)
	fmt.Println(res.Err.Type)
	fmt.Println(res.Err.Message)
	fmt.Println(strings.HasPrefix(res.Err.Traceback, "Traceback (most recent call last):"))
	// Output:
	// ValueError
	// This task was designed to fail
	// true
}

func ExampleNewProgress() {
	reg := registry.New()
	err := reg.Register("steps", func(ctx context.Context, progress *registry.Progress) error {
		progress.Report(50, "half way")
		progress.Report(100, "done")
		return nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	progress := registry.NewProgress(func(u registry.ProgressUpdate) {
		fmt.Printf("%.0f%% %s\n", u.Percent, u.Message)
	})
	reg.Call(context.Background(), "steps", nil, progress)
	// Output:
	// 50% half way
	// 100% done
}

func ExampleRegistry_Functions() {
	type params struct {
		A         int  `json:"a"`
		Uppercase bool `json:"uppercase" default:"false"`
	}
	reg := registry.New()
	if err := registry.Add(reg, "f", func(ctx context.Context, p params) (int, error) { return p.A, nil }); err != nil {
		fmt.Println(err)
		return
	}
	data, _ := json.Marshal(reg.Functions())
	fmt.Println(string(data))
	// Output:
	// [{"name":"f","parameters":{"type":"object","properties":{"a":{"type":"integer"},"uppercase":{"type":"boolean","default":false}},"required":["a"],"additionalProperties":false},"injects":[]}]
}
