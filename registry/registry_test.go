package registry_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chaptask/chaptask/registry"
)

// mustRegister registers fn or fails the test.
func mustRegister(t *testing.T, r *registry.Registry, name string, fn any) {
	t.Helper()
	if err := r.Register(name, fn); err != nil {
		t.Fatalf("Register(%q): %v", name, err)
	}
}

// wantValue fails unless res succeeded with a value JSON-equal to want.
func wantValue(t *testing.T, res registry.Result, want string) {
	t.Helper()
	if res.Err != nil {
		t.Fatalf("got error %s: %s\n%s", res.Err.Type, res.Err.Message, res.Err.Traceback)
	}
	if !jsonEqual(t, res.Value, []byte(want)) {
		t.Fatalf("value = %s, want %s", res.Value, want)
	}
}

// wantError fails unless res failed with type typ and a message containing msg.
func wantError(t *testing.T, res registry.Result, typ, msg string) {
	t.Helper()
	if res.Err == nil {
		t.Fatalf("got value %s, want %s error containing %q", res.Value, typ, msg)
	}
	if res.Value != nil {
		t.Errorf("both Value (%s) and Err are set", res.Value)
	}
	if res.Err.Type != typ || !strings.Contains(res.Err.Message, msg) {
		t.Fatalf("got %s: %q, want %s containing %q", res.Err.Type, res.Err.Message, typ, msg)
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("invalid JSON %s: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("invalid JSON %s: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}

type inner struct {
	X    int      `json:"x"`
	Tags []string `json:"tags,omitempty"`
}

type Base struct {
	Source string `json:"source,omitempty"`
}

type bindParams struct {
	Base
	A        int             `json:"a"`
	Name     string          `json:"name"`
	Ratio    float64         `json:"ratio" default:"0.5"`
	Upper    bool            `json:"upper" default:"false"`
	Count    int             `json:"count" default:"2"`
	Label    string          `json:"label" default:"true"`
	Note     string          `json:"note,omitempty"`
	Ptr      *int            `json:"ptr,omitempty"`
	Items    []int           `json:"items" default:"[1,2]"`
	Meta     map[string]any  `json:"meta,omitempty"`
	Inner    inner           `json:"inner,omitzero"`
	InnerPtr *inner          `json:"inner_ptr,omitempty"`
	Any      any             `json:"any,omitempty"`
	Raw      json.RawMessage `json:"raw,omitempty"`
	Small    int8            `json:"small,omitempty"`
	Unsigned uint            `json:"unsigned,omitempty"`
	GoName   string          `json:",omitempty"`
	Ignored  string          `json:"-"`
	private  string
}

func intPtr(n int) *int { return &n }

func TestCallBinding(t *testing.T) {
	r := registry.New()
	// echo returns its parameters, and mutates the defaults it got to prove
	// that later calls get fresh ones.
	mustRegister(t, r, "echo", func(ctx context.Context, p bindParams) (bindParams, error) {
		out := p
		out.Items = slices.Clone(p.Items)
		if len(p.Items) > 0 {
			p.Items[0] = 99
		}
		return out, nil
	})
	defaults := bindParams{A: 1, Name: "x", Ratio: 0.5, Count: 2, Label: "true", Items: []int{1, 2}}
	with := func(change func(p *bindParams)) bindParams {
		p := defaults
		p.Items = []int{1, 2}
		change(&p)
		return p
	}

	tests := []struct {
		name    string
		params  string
		want    bindParams
		wantErr string // TypeError (ValueError for a missing parameter) message substring
	}{
		{name: "defaults applied", params: `{"a":1,"name":"x"}`, want: defaults},
		{name: "defaults applied again", params: `{"a":1,"name":"x"}`, want: defaults},
		{name: "all given", params: `{"a":-7,"name":"y","ratio":2,"upper":true,"count":0,"label":"L","note":"n","ptr":3,"items":[],"small":-128,"unsigned":7,"GoName":"g","source":"s"}`,
			want: bindParams{Base: Base{Source: "s"}, A: -7, Name: "y", Ratio: 2, Upper: true, Count: 0, Label: "L", Note: "n", Ptr: intPtr(3), Items: []int{}, Small: -128, Unsigned: 7, GoName: "g"}},
		{name: "nested values", params: `{"a":1,"name":"x","inner":{"x":5,"tags":["t"]},"inner_ptr":{"x":6},"meta":{"k":[1,"v"]},"any":{"z":null},"raw":[1, 2]}`,
			want: with(func(p *bindParams) {
				p.Inner = inner{X: 5, Tags: []string{"t"}}
				p.InnerPtr = &inner{X: 6}
				p.Meta = map[string]any{"k": []any{1.0, "v"}}
				p.Any = map[string]any{"z": nil}
				p.Raw = json.RawMessage(`[1,2]`)
			})},
		{name: "null for nullable fields", params: `{"a":1,"name":"x","ptr":null,"items":null,"meta":null,"any":null,"inner_ptr":null}`,
			want: with(func(p *bindParams) { p.Items = nil })},
		{name: "whitespace around params", params: " \n {\"a\":1,\"name\":\"x\"}\t", want: defaults},

		{name: "nil params", params: "", wantErr: "Missing required parameter 'a' for task function. Parameter is not injectable and not provided in task.parameters."},
		{name: "null params", params: "null", wantErr: "Missing required parameter 'a' for task function. Parameter is not injectable and not provided in task.parameters."},
		{name: "empty object", params: "{}", wantErr: "Missing required parameter 'a' for task function. Parameter is not injectable and not provided in task.parameters."},
		{name: "missing one", params: `{"a":1}`, wantErr: "Missing required parameter 'name' for task function. Parameter is not injectable and not provided in task.parameters."},
		{name: "unknown", params: `{"a":1,"name":"x","zzz":1}`, wantErr: "echo() got an unexpected keyword argument 'zzz'"},
		{name: "unknown two", params: `{"a":1,"name":"x","z":1,"y":2}`, wantErr: "echo() got an unexpected keyword argument 'y'"},
		{name: "unknown before missing", params: `{"b":1}`, wantErr: "echo() got an unexpected keyword argument 'b'"},
		{name: "ignored field is unknown", params: `{"a":1,"name":"x","Ignored":"i"}`, wantErr: "echo() got an unexpected keyword argument 'Ignored'"},
		{name: "unexported field is unknown", params: `{"a":1,"name":"x","private":"p"}`, wantErr: "echo() got an unexpected keyword argument 'private'"},
		{name: "names are case-sensitive", params: `{"A":1,"name":"x"}`, wantErr: "echo() got an unexpected keyword argument 'A'"},
		{name: "int given string", params: `{"a":"1","name":"x"}`, wantErr: "parameter 'a' must be integer, got string"},
		{name: "int given float", params: `{"a":1.5,"name":"x"}`, wantErr: "parameter 'a' must be integer, got number 1.5"},
		{name: "int given exponent", params: `{"a":1e2,"name":"x"}`, wantErr: "parameter 'a' must be integer, got number 1e2"},
		{name: "int given bool", params: `{"a":true,"name":"x"}`, wantErr: "parameter 'a' must be integer, got boolean"},
		{name: "int given object", params: `{"a":{},"name":"x"}`, wantErr: "parameter 'a' must be integer, got object"},
		{name: "int given null", params: `{"a":null,"name":"x"}`, wantErr: "parameter 'a' must be integer, got null"},
		{name: "int out of range", params: `{"a":1,"name":"x","small":300}`, wantErr: "parameter 'small' is out of range for int8: 300"},
		{name: "uint given negative", params: `{"a":1,"name":"x","unsigned":-1}`, wantErr: "parameter 'unsigned' is out of range for uint: -1"},
		{name: "string given number", params: `{"a":1,"name":2}`, wantErr: "parameter 'name' must be string, got number"},
		{name: "bool given string", params: `{"a":1,"name":"x","upper":"true"}`, wantErr: "parameter 'upper' must be boolean, got string"},
		{name: "float given string", params: `{"a":1,"name":"x","ratio":"0.1"}`, wantErr: "parameter 'ratio' must be number, got string"},
		{name: "float overflow", params: `{"a":1,"name":"x","ratio":1e400}`, wantErr: "parameter 'ratio' is out of range for float64: 1e400"},
		{name: "array given object", params: `{"a":1,"name":"x","items":{}}`, wantErr: "parameter 'items' must be array, got object"},
		{name: "array element wrong", params: `{"a":1,"name":"x","items":[1,"two"]}`, wantErr: "parameter 'items' must be integer, got string"},
		{name: "nested field wrong", params: `{"a":1,"name":"x","inner":{"x":"s"}}`, wantErr: "parameter 'inner.x' must be integer, got string"},
		{name: "nested unknown field", params: `{"a":1,"name":"x","inner":{"y":1}}`, wantErr: "parameter 'inner' has unknown field 'y'"},
		{name: "struct given array", params: `{"a":1,"name":"x","inner":[]}`, wantErr: "parameter 'inner' must be object, got array"},
		{name: "map value wrong", params: `{"a":1,"name":"x","meta":[]}`, wantErr: "parameter 'meta' must be object, got array"},
		{name: "params array", params: `[1,2]`, wantErr: "parameters must be a JSON object, got array"},
		{name: "params string", params: `"a"`, wantErr: "parameters must be a JSON object, got string"},
		{name: "params number", params: `42`, wantErr: "parameters must be a JSON object, got number"},
		{name: "params bool", params: `true`, wantErr: "parameters must be a JSON object, got boolean"},
		{name: "params invalid JSON", params: `{"a":`, wantErr: "parameters are not valid JSON"},
		{name: "params trailing data", params: `{"a":1} {}`, wantErr: "parameters are not valid JSON"},
		{name: "params garbage", params: "\x00\xff", wantErr: "parameters are not valid JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var params json.RawMessage
			if tt.params != "" {
				params = json.RawMessage(tt.params)
			}
			res := r.Call(t.Context(), "echo", params)
			if tt.wantErr != "" {
				typ := "TypeError"
				if strings.HasPrefix(tt.wantErr, "Missing required parameter") {
					typ = "ValueError" // chapkit's type
				}
				wantError(t, res, typ, tt.wantErr)
				return
			}
			if res.Err != nil {
				t.Fatalf("error %s: %s", res.Err.Type, res.Err.Message)
			}
			var got bindParams
			if err := json.Unmarshal(res.Value, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("bound\n %+v\nwant\n %+v", got, tt.want)
			}
		})
	}
}

func TestCallDefaultsOfEveryKind(t *testing.T) {
	type params struct {
		S    string            `json:"s" default:"hello world"`
		SP   *string           `json:"sp" default:"p"`
		I    int64             `json:"i" default:"-3"`
		U    uint16            `json:"u" default:"65535"`
		F    float32           `json:"f" default:"1.25"`
		B    bool              `json:"b" default:"true"`
		L    []string          `json:"l" default:"[\"a\",\"b\"]"`
		M    map[string]int    `json:"m" default:"{\"k\":1}"`
		N    *int              `json:"n" default:"null"`
		T    time.Time         `json:"t" default:"2025-10-17T10:00:00Z"`
		In   inner             `json:"in" default:"{\"x\":4}"`
		Raw  json.RawMessage   `json:"raw" default:"{\"r\":true}"`
		Dict map[string]string `json:"dict,omitempty"`
	}
	r := registry.New()
	mustRegister(t, r, "defaults", func(_ context.Context, p params) (params, error) { return p, nil })
	res := r.Call(t.Context(), "defaults", nil)
	wantValue(t, res, `{"s":"hello world","sp":"p","i":-3,"u":65535,"f":1.25,"b":true,"l":["a","b"],"m":{"k":1},"n":null,
		"t":"2025-10-17T10:00:00Z","in":{"x":4},"raw":{"r":true}}`)
}

func TestCallPointerParamsAndNoParams(t *testing.T) {
	type params struct {
		N int `json:"n"`
	}
	r := registry.New()
	mustRegister(t, r, "pointer", func(_ context.Context, p *params) (int, error) { return p.N * 2, nil })
	mustRegister(t, r, "none", func(context.Context) (string, error) { return "ok", nil })
	mustRegister(t, r, "empty", func(context.Context, struct{}) (string, error) { return "ok", nil })

	wantValue(t, r.Call(t.Context(), "pointer", json.RawMessage(`{"n":21}`)), `42`)
	wantError(t, r.Call(t.Context(), "pointer", nil), "ValueError", "Missing required parameter 'n' for task function. Parameter is not injectable and not provided in task.parameters.")
	for _, name := range []string{"none", "empty"} {
		t.Run(name, func(t *testing.T) {
			wantValue(t, r.Call(t.Context(), name, nil), `"ok"`)
			wantValue(t, r.Call(t.Context(), name, json.RawMessage(`null`)), `"ok"`)
			wantValue(t, r.Call(t.Context(), name, json.RawMessage(`{}`)), `"ok"`)
			wantError(t, r.Call(t.Context(), name, json.RawMessage(`{"x":1}`)), "TypeError", name+"() got an unexpected keyword argument 'x'")
			wantError(t, r.Call(t.Context(), name, json.RawMessage(`[]`)), "TypeError", "parameters must be a JSON object, got array")
		})
	}
}

func TestCallResults(t *testing.T) {
	type out struct {
		V int `json:"v"`
	}
	tests := []struct {
		name    string
		fn      any
		want    string
		wantErr string
	}{
		{name: "value and error", fn: func(context.Context) (out, error) { return out{V: 1}, nil }, want: `{"v":1}`},
		{name: "bare error nil", fn: func(context.Context) error { return nil }, want: `null`},
		{name: "single value", fn: func() []int { return []int{1, 2} }, want: `[1,2]`},
		{name: "nil map", fn: func() (map[string]int, error) { return nil, nil }, want: `null`},
		{name: "nil slice", fn: func() ([]int, error) { return nil, nil }, want: `null`},
		{name: "nil pointer", fn: func() (*out, error) { return nil, nil }, want: `null`},
		{name: "nil any", fn: func() (any, error) { return nil, nil }, want: `null`},
		{name: "value is ignored on error", fn: func() (out, error) { return out{V: 1}, errors.New("failed") }, wantErr: "failed"},
		{name: "bare error", fn: func() error { return errors.New("failed") }, wantErr: "failed"},
		{name: "channel", fn: func() (chan int, error) { return make(chan int), nil }, wantErr: "result is not JSON-serialisable: unsupported type: chan int"},
		{name: "NaN", fn: func() (float64, error) { return math.NaN(), nil }, wantErr: "result is not JSON-serialisable: unsupported value: NaN"},
		{name: "NaN in map", fn: func() (any, error) { return map[string]any{"x": math.Inf(1)}, nil }, wantErr: "result is not JSON-serialisable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := registry.New()
			mustRegister(t, r, "f", tt.fn)
			res := r.Call(t.Context(), "f", nil)
			switch {
			case tt.wantErr == "":
				wantValue(t, res, tt.want)
			case strings.HasPrefix(tt.wantErr, "result"):
				wantError(t, res, "TypeError", tt.wantErr)
			default:
				wantError(t, res, "Error", tt.wantErr)
			}
		})
	}
}

func TestCallUnknownFunction(t *testing.T) {
	r := registry.New()
	res := r.Call(t.Context(), "nope", json.RawMessage(`{}`))
	wantError(t, res, "ValueError", "Python function 'nope' not found in registry")
	if res.Err.Message != "Python function 'nope' not found in registry" { // chapkit's words
		t.Errorf("message = %q", res.Err.Message)
	}
	if r.Has("nope") {
		t.Error("Has(nope) = true")
	}
}

type stringer struct{}

func (stringer) String() string { return "s" }

type otherStringer struct{}

func (otherStringer) String() string { return "o" }

func TestRegisterErrors(t *testing.T) {
	type params struct {
		A int `json:"a"`
	}
	ok := func(context.Context, params) (int, error) { return 0, nil }
	tests := []struct {
		name    string
		fnName  string
		fn      any
		provide []any
		wantErr string
	}{
		{name: "empty name", fnName: "", fn: ok, wantErr: "function name is empty"},
		{name: "not a func", fn: 42, wantErr: `function "f": want a func, got int`},
		{name: "nil", fn: nil, wantErr: `function "f": want a func, got <nil>`},
		{name: "nil func", fn: (func(context.Context) error)(nil), wantErr: `function "f": nil func`},
		{name: "variadic", fn: func(ctx context.Context, xs ...int) error { return nil }, wantErr: "variadic functions are not supported"},
		{name: "no results", fn: func(context.Context) {}, wantErr: "must return (R, error), error or R, not ()"},
		{name: "second result not error", fn: func(context.Context) (int, string) { return 0, "" }, wantErr: "not (int, string)"},
		{name: "three results", fn: func(context.Context) (int, int, error) { return 0, 0, nil }, wantErr: "not (int, int, error)"},
		{name: "unknown injectable interface", fn: func(context.Context, io.Reader) error { return nil }, wantErr: `function "f": argument 1: no provider for type io.Reader`},
		{name: "unknown injectable scalar", fn: func(context.Context, params, int) error { return nil }, wantErr: `function "f": argument 2: no provider for type int`},
		{name: "unknown injectable pointer", fn: func(*http.Client) error { return nil },
			wantErr: `function "f": argument 0: no provider for type *http.Client, and it cannot be the parameters struct: field Transport: unsupported type http.RoundTripper`},
		{name: "empty interface is not injectable", fn: func(any) error { return nil }, provide: []any{stringer{}}, wantErr: "no provider for type interface {}"},
		{name: "self-decoding struct", fn: func(time.Time) error { return nil }, wantErr: "no provider for type time.Time, and it cannot be the parameters struct"},
		{name: "two parameter structs", fn: func(context.Context, params, *params) error { return nil },
			wantErr: "arguments 1 (registry_test.params) and 2 (*registry_test.params) would both be the parameters struct"},
		{name: "ambiguous interface", fn: func(fmt.Stringer) error { return nil }, provide: []any{stringer{}, otherStringer{}},
			wantErr: "argument 0: ambiguous type fmt.Stringer: provided values of types registry_test.otherStringer, registry_test.stringer all implement it"},
		{name: "bad int default", fn: func(struct {
			N int `json:"n" default:"abc"`
		}) error {
			return nil
		}, wantErr: `field N: bad default "abc" for type int`},
		{name: "float default for int", fn: func(struct {
			N int `json:"n" default:"1.5"`
		}) error {
			return nil
		}, wantErr: `field N: bad default "1.5" for type int`},
		{name: "null default for int", fn: func(struct {
			N int `json:"n" default:"null"`
		}) error {
			return nil
		}, wantErr: `field N: bad default "null": null is not a valid int`},
		{name: "bad bool default", fn: func(struct {
			B bool `json:"b" default:"yes"`
		}) error {
			return nil
		}, wantErr: `bad default "yes" for type bool`},
		{name: "default with trailing data", fn: func(struct {
			N int `json:"n" default:"1 2"`
		}) error {
			return nil
		}, wantErr: `bad default "1 2"`},
		{name: "default with unknown nested field", fn: func(struct {
			In inner `json:"in" default:"{\"y\":1}"`
		}) error {
			return nil
		}, wantErr: `bad default "{\"y\":1}" for type registry_test.inner: unknown field "y"`},
		{name: "bad time default", fn: func(struct {
			T time.Time `json:"t" default:"yesterday"`
		}) error {
			return nil
		}, wantErr: `bad default "yesterday" for type time.Time`},
		{name: "channel field", fn: func(struct{ C chan int }) error { return nil }, wantErr: "field C: unsupported type chan int"},
		{name: "func field", fn: func(struct{ F func() }) error { return nil }, wantErr: "field F: unsupported type func()"},
		{name: "complex field", fn: func(struct{ C complex128 }) error { return nil }, wantErr: "field C: unsupported type complex128"},
		{name: "nested unsupported field", fn: func(struct{ In struct{ R io.Reader } }) error { return nil }, wantErr: "field In: field R: unsupported type io.Reader"},
		{name: "bad map key", fn: func(struct{ M map[bool]int }) error { return nil }, wantErr: "field M: unsupported map key type bool"},
		{name: "string option", fn: func(struct {
			N int `json:"n,string"`
		}) error {
			return nil
		}, wantErr: `field N: the json ",string" option is not supported`},
		{name: "duplicate JSON names", fn: duplicateTagFunc(), wantErr: `fields A and B both have the JSON name "x"`},
		{name: "duplicate through embedding", fn: func(struct {
			Base
			Source string `json:"source"`
		}) error {
			return nil
		}, wantErr: `fields Base.Source and Source both have the JSON name "source"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := registry.New()
			if err := r.Provide(tt.provide...); err != nil {
				t.Fatal(err)
			}
			name := tt.fnName
			if name == "" && tt.wantErr != "function name is empty" {
				name = "f"
			}
			err := r.Register(name, tt.fn)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Register error = %v, want one containing %q", err, tt.wantErr)
			}
			if r.Has(name) || len(r.Functions()) != 0 {
				t.Fatal("a failed registration registered something")
			}
		})
	}
}

// duplicateTagFunc returns a func taking a struct whose fields A and B are
// both tagged json:"x", built with reflect because go vet rightly refuses
// such a struct literal.
func duplicateTagFunc() any {
	intType, errType := reflect.TypeFor[int](), reflect.TypeFor[error]()
	params := reflect.StructOf([]reflect.StructField{
		{Name: "A", Type: intType, Tag: `json:"x"`},
		{Name: "B", Type: intType, Tag: `json:"x"`},
	})
	ft := reflect.FuncOf([]reflect.Type{params}, []reflect.Type{errType}, false)
	return reflect.MakeFunc(ft, func([]reflect.Value) []reflect.Value {
		return []reflect.Value{reflect.Zero(errType)}
	}).Interface()
}

func TestRegisterDuplicate(t *testing.T) {
	r := registry.New()
	mustRegister(t, r, "f", func() error { return nil })
	err := r.Register("f", func() int { return 1 })
	if err == nil || err.Error() != `function "f" is already registered` {
		t.Fatalf("Register = %v", err)
	}
	err = registry.Add(r, "f", func(context.Context, struct{}) (int, error) { return 2, nil })
	if err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Fatalf("Add = %v", err)
	}
	wantValue(t, r.Call(t.Context(), "f", nil), `null`) // the first one stays
}

func TestAdd(t *testing.T) {
	type sumParams struct {
		A int `json:"a"`
		B int `json:"b" default:"1"`
	}
	type sumResult struct {
		Sum int `json:"sum"`
	}
	r := registry.New()
	if err := registry.Add(r, "sum", func(_ context.Context, p sumParams) (sumResult, error) {
		return sumResult{Sum: p.A + p.B}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := registry.Add(r, "ptr", func(_ context.Context, p *sumParams) (*sumResult, error) {
		if p.A < 0 {
			return nil, registry.NewError("ValueError", "negative")
		}
		return &sumResult{Sum: p.A}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := registry.Add[sumParams, int](r, "nil", nil); err == nil {
		t.Fatal("Add accepted a nil func")
	}
	wantValue(t, r.Call(t.Context(), "sum", json.RawMessage(`{"a":41}`)), `{"sum":42}`)
	wantValue(t, r.Call(t.Context(), "ptr", json.RawMessage(`{"a":3}`)), `{"sum":3}`)
	wantError(t, r.Call(t.Context(), "ptr", json.RawMessage(`{"a":-1}`)), "ValueError", "negative")
	wantError(t, r.Call(t.Context(), "sum", json.RawMessage(`{"a":"x"}`)), "TypeError", "parameter 'a' must be integer, got string")
	if !r.Has("sum") || !r.Has("ptr") || r.Has("nil") {
		t.Fatal("Has disagrees with Add")
	}
}

func TestCallPanics(t *testing.T) {
	type bad struct{}
	tests := []struct {
		name    string
		fn      any
		message string
	}{
		{name: "string", fn: func() error { panic("boom") }, message: "boom"},
		{name: "error value", fn: func() error { panic(errors.New("exploded")) }, message: "exploded"},
		{name: "nil map write", fn: func() error {
			var m map[string]int
			m["x"] = 1
			return nil
		}, message: "assignment to entry in nil map"},
		{name: "nil pointer", fn: func() (int, error) {
			var p *inner
			return p.X, nil
		}, message: "invalid memory address or nil pointer dereference"},
		{name: "panic in MarshalJSON", fn: func() (panicky, error) { return panicky{}, nil }, message: "marshal exploded"},
		{name: "typed", fn: func(context.Context) (int, error) { panic(bad{}) }, message: "{}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := registry.New()
			mustRegister(t, r, "p", tt.fn)
			res := r.Call(t.Context(), "p", nil)
			wantError(t, res, "Panic", tt.message)
			for _, want := range []string{"Traceback", `Function "p"`, "panic: ", "goroutine ", "Panic: " + res.Err.Message} {
				if !strings.Contains(res.Err.Traceback, want) {
					t.Errorf("traceback lacks %q:\n%s", want, res.Err.Traceback)
				}
			}
			// The registry and the process carry on.
			mustRegister(t, r, "after", func() int { return 1 })
			wantValue(t, r.Call(t.Context(), "after", nil), `1`)
		})
	}
}

type panicky struct{}

func (panicky) MarshalJSON() ([]byte, error) { panic("marshal exploded") }

func TestCallCancellation(t *testing.T) {
	r := registry.New()
	started := make(chan struct{})
	mustRegister(t, r, "wait", func(ctx context.Context) (bool, error) {
		close(started)
		<-ctx.Done()
		return false, ctx.Err()
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan registry.Result, 1)
	go func() { done <- r.Call(ctx, "wait", nil) }()

	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("function did not start")
	}
	cancel()
	select {
	case res := <-done:
		wantError(t, res, "context.Canceled", "context canceled")
	case <-time.After(10 * time.Second):
		t.Fatal("Call did not return after cancellation")
	}
}

func TestCallPassesContext(t *testing.T) {
	type key struct{}
	r := registry.New()
	mustRegister(t, r, "ctx", func(ctx context.Context, _ struct{}, again context.Context) (string, error) {
		if ctx != again {
			return "", errors.New("two different contexts")
		}
		v, _ := ctx.Value(key{}).(string)
		return v, nil
	})
	ctx := context.WithValue(t.Context(), key{}, "value")
	wantValue(t, r.Call(ctx, "ctx", nil), `"value"`)
}

func TestConcurrentCalls(t *testing.T) {
	type params struct {
		N int `json:"n"`
	}
	r := registry.New()
	if err := registry.Add(r, "double", func(_ context.Context, p params) (int, error) { return 2 * p.N, nil }); err != nil {
		t.Fatal(err)
	}
	mustRegister(t, r, "fail", func(p params) error { return registry.Errorf("ValueError", "n=%d", p.N) })
	mustRegister(t, r, "panic", func(p params) error { panic(p.N) })

	var wg sync.WaitGroup
	errs := make(chan error, 300)
	for i := range 100 {
		params := json.RawMessage(fmt.Sprintf(`{"n":%d}`, i))
		wg.Go(func() {
			if res := r.Call(t.Context(), "double", params); res.Err != nil || string(res.Value) != fmt.Sprint(2*i) {
				errs <- fmt.Errorf("double(%d) = %s, %v", i, res.Value, res.Err)
			}
		})
		wg.Go(func() {
			if res := r.Call(t.Context(), "fail", params); res.Err == nil || res.Err.Message != fmt.Sprintf("n=%d", i) {
				errs <- fmt.Errorf("fail(%d) = %v", i, res.Err)
			}
		})
		wg.Go(func() {
			if res := r.Call(t.Context(), "panic", params); res.Err == nil || res.Err.Message != fmt.Sprint(i) {
				errs <- fmt.Errorf("panic(%d) = %v", i, res.Err)
			}
			_ = r.Functions()
			_ = r.Has("double")
		})
	}
	// Registration and providing may race with calls; the lock keeps them safe.
	wg.Go(func() {
		if err := r.Register("late", func() int { return 1 }); err != nil {
			errs <- err
		}
		if err := r.Provide(stringer{}); err != nil {
			errs <- err
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

type hiddenBase struct {
	Hidden string `json:"hidden"`
}

type PtrBase struct {
	Level int `json:"level" default:"3"`
}

func TestCallEmbeddedStructs(t *testing.T) {
	type params struct {
		hiddenBase
		*PtrBase
		Own string `json:"own,omitempty"`
	}
	r := registry.New()
	mustRegister(t, r, "embedded", func(p params) (string, error) {
		if p.PtrBase == nil {
			return p.Hidden + "/nil", nil
		}
		return fmt.Sprintf("%s/%d", p.Hidden, p.Level), nil
	})
	wantValue(t, r.Call(t.Context(), "embedded", json.RawMessage(`{"hidden":"h","level":7}`)), `"h/7"`)
	wantValue(t, r.Call(t.Context(), "embedded", json.RawMessage(`{"hidden":"h"}`)), `"h/3"`)
	wantError(t, r.Call(t.Context(), "embedded", json.RawMessage(`{}`)), "ValueError", "Missing required parameter 'hidden' for task function. Parameter is not injectable and not provided in task.parameters.")
	got, _ := json.Marshal(r.Functions()[0].Parameters)
	if want := `{"type":"object","properties":{"hidden":{"type":"string"},"level":{"type":"integer","default":3},"own":{"type":"string","default":""}},"required":["hidden"],"additionalProperties":false}`; string(got) != want {
		t.Errorf("schema = %s", got)
	}

	type hiddenPtr struct{ X int }
	err := r.Register("unexported_pointer", func(struct{ *hiddenPtr }) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "embedded pointer to unexported struct type is not supported") {
		t.Errorf("Register = %v", err)
	}
}

// explosive panics when decoded, as a buggy UnmarshalJSON might.
type explosive struct{}

func (*explosive) UnmarshalJSON([]byte) error { panic("decoder exploded") }

// picky refuses every value with its own error.
type picky struct{}

func (*picky) UnmarshalJSON([]byte) error { return errors.New("picky says no") }

func TestCallCustomDecoders(t *testing.T) {
	r := registry.New()
	mustRegister(t, r, "explosive", func(struct {
		E explosive `json:"e"`
	}) error {
		return nil
	})
	mustRegister(t, r, "picky", func(struct {
		P picky `json:"p"`
	}) error {
		return nil
	})
	wantError(t, r.Call(t.Context(), "explosive", json.RawMessage(`{"e":1}`)), "Panic", "decoder exploded")
	wantError(t, r.Call(t.Context(), "picky", json.RawMessage(`{"p":1}`)), "TypeError", "parameter 'p': picky says no")
}

func FuzzCall(f *testing.F) {
	for _, seed := range []string{
		``, `null`, `{}`, `[]`, `"x"`, `1`, `{"a":1,"name":"x"}`, `{"a":1.5}`, `{"a":1,"name":"x","inner":{"x":[]}}`,
		`{"a":1,"name":"x","items":[1,{}],"meta":{"k":[[[]]]},"raw":{"r":1},"small":-129}`, `{"a":`, "{\"\xff\":1}",
	} {
		f.Add([]byte(seed))
	}
	r := registry.New()
	if err := r.Register("echo", func(p bindParams) bindParams { return p }); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, params []byte) {
		res := r.Call(t.Context(), "echo", params)
		if (res.Err == nil) == (res.Value == nil) {
			t.Fatalf("want exactly one of Value and Err, got %s and %+v", res.Value, res.Err)
		}
		if res.Err != nil && res.Err.Type != "TypeError" && res.Err.Type != "ValueError" {
			t.Fatalf("unexpected error type %s: %s", res.Err.Type, res.Err.Message)
		}
		if res.Value != nil && !json.Valid(res.Value) {
			t.Fatalf("invalid result JSON %s", res.Value)
		}
	})
}
