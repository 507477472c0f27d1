package registry_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/chaptask/chaptask/registry"
)

type customError struct{ code int }

func (e *customError) Error() string { return "custom " + strconv.Itoa(e.code) }

type valueError struct{}

func (valueError) Error() string { return "value receiver" }

func TestErrorTypes(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.txt")
	_, pathErr := os.Open(missing)
	_, numErr := strconv.Atoi("x")
	tests := []struct {
		name    string
		err     error
		typ     string
		message string
	}{
		{name: "NewError", err: registry.NewError("ValueError", "bad value"), typ: "ValueError", message: "bad value"},
		{name: "NewError empty type", err: registry.NewError("", "untyped"), typ: "Error", message: "untyped"},
		{name: "Errorf", err: registry.Errorf("KeyError", "key %q", "k"), typ: "KeyError", message: `key "k"`},
		{name: "Errorf wrapping", err: registry.Errorf("ValueError", "parse: %w", numErr), typ: "ValueError", message: `parse: strconv.Atoi: parsing "x": invalid syntax`},
		{name: "wrapped NewError", err: fmt.Errorf("step two: %w", fmt.Errorf("step one: %w", registry.NewError("ValueError", "bad"))), typ: "ValueError", message: "step two: step one: bad"},
		{name: "errors.New", err: errors.New("plain"), typ: "Error", message: "plain"},
		{name: "fmt.Errorf without %w", err: fmt.Errorf("formatted %d", 1), typ: "Error", message: "formatted 1"},
		{name: "fs.PathError", err: pathErr, typ: "fs.PathError", message: "no such file or directory"},
		{name: "wrapped fs.PathError", err: fmt.Errorf("load config: %w", pathErr), typ: "fs.PathError", message: "load config: open " + missing},
		{name: "strconv.NumError", err: numErr, typ: "strconv.NumError", message: "invalid syntax"},
		{name: "context.Canceled", err: context.Canceled, typ: "context.Canceled", message: "context canceled"},
		{name: "wrapped context.Canceled", err: fmt.Errorf("wait: %w", context.Canceled), typ: "context.Canceled", message: "wait: context canceled"},
		{name: "context.DeadlineExceeded", err: context.DeadlineExceeded, typ: "context.DeadlineExceeded", message: "context deadline exceeded"},
		{name: "io.EOF", err: io.EOF, typ: "io.EOF", message: "EOF"},
		{name: "custom pointer type", err: &customError{code: 7}, typ: "registry_test.customError", message: "custom 7"},
		{name: "custom value type", err: valueError{}, typ: "registry_test.valueError", message: "value receiver"},
		{name: "errors.Join names the first", err: errors.Join(&customError{code: 1}, errors.New("second")), typ: "registry_test.customError", message: "custom 1\nsecond"},
		{name: "multiple %w names the first", err: fmt.Errorf("%w and %w", io.EOF, pathErr), typ: "io.EOF", message: "EOF and open"},
		{name: "NewError wins anywhere in the chain", err: errors.Join(io.EOF, fmt.Errorf("x: %w", registry.NewError("KeyError", "k"))), typ: "KeyError", message: "EOF\nx: k"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := registry.New()
			mustRegister(t, r, "fails", func(context.Context) error { return tt.err })
			res := r.Call(t.Context(), "fails", nil)
			wantError(t, res, tt.typ, tt.message)
			if res.Err.Message != tt.err.Error() {
				t.Errorf("Message = %q, want err.Error() = %q", res.Err.Message, tt.err.Error())
			}
			if !strings.HasSuffix(res.Err.Traceback, tt.typ+": "+tt.err.Error()+"\n") {
				t.Errorf("traceback does not end with the type and message:\n%s", res.Err.Traceback)
			}
		})
	}
}

func TestNewErrorIsAnError(t *testing.T) {
	err := registry.NewError("ValueError", "bad")
	var e *registry.Error
	if !errors.As(err, &e) || e.Type != "ValueError" || e.Message != "bad" || err.Error() != "bad" {
		t.Fatalf("NewError = %#v", err)
	}
	if e.Traceback != "" {
		t.Errorf("NewError filled Traceback: %q", e.Traceback)
	}
	wrapped := registry.Errorf("ValueError", "read: %w", fs.ErrNotExist)
	if !errors.Is(wrapped, fs.ErrNotExist) {
		t.Error("errors.Is does not see through Errorf")
	}
	two := registry.Errorf("ValueError", "%w, %w", io.EOF, fs.ErrClosed)
	if !errors.Is(two, io.EOF) || !errors.Is(two, fs.ErrClosed) {
		t.Error("errors.Is does not see both errors wrapped by Errorf")
	}
	data, err := json.Marshal(registry.NewError("KeyError", "k"))
	if err != nil || string(data) != `{"type":"KeyError","message":"k","traceback":""}` {
		t.Errorf("marshal = %s, %v", data, err)
	}
}

// failDeep and failDeeper create an error two calls below the registered
// function, so the traceback must list them outermost first.
func failDeep() error { return failDeeper() }

func failDeeper() error { return registry.NewError("ValueError", "deep failure") }

func TestTraceback(t *testing.T) {
	r := registry.New()
	mustRegister(t, r, "deep", func(context.Context) error { return fmt.Errorf("outer: %w", failDeep()) })
	res := r.Call(t.Context(), "deep", nil)
	wantError(t, res, "ValueError", "outer: deep failure")
	tb := res.Err.Traceback

	for _, want := range []string{
		"Traceback (most recent call last):\n",
		`  Function "deep", in github.com/chaptask/chaptask/registry_test.TestTraceback.func1` + "\n",
		"errors_test.go\", line ",
		"in github.com/chaptask/chaptask/registry_test.failDeep\n",
		"in github.com/chaptask/chaptask/registry_test.failDeeper\n",
		"Error chain (outermost first):\n  *fmt.wrapError: outer: deep failure\n    *registry.Error: deep failure\n",
	} {
		if !strings.Contains(tb, want) {
			t.Errorf("traceback lacks %q:\n%s", want, tb)
		}
	}
	if !strings.HasSuffix(tb, "ValueError: outer: deep failure\n") {
		t.Errorf("traceback does not end with the error:\n%s", tb)
	}
	fn := strings.Index(tb, "TestTraceback.func1\n  File")
	deep, deeper := strings.Index(tb, "failDeep\n"), strings.Index(tb, "failDeeper\n")
	if fn < 0 || deep < fn || deeper < deep {
		t.Errorf("frames are not oldest first:\n%s", tb)
	}
	for _, unwanted := range []string{"testing.tRunner", "reflect.", "registry.invoke", "registry.NewError", "runtime."} {
		if strings.Contains(tb, unwanted) {
			t.Errorf("traceback contains %q:\n%s", unwanted, tb)
		}
	}
}

func TestTracebackOfRegistryErrors(t *testing.T) {
	r := registry.New()
	mustRegister(t, r, "needs", func(struct {
		Name string `json:"name"`
	}) error {
		return nil
	})
	res := r.Call(t.Context(), "needs", json.RawMessage(`{}`))
	wantError(t, res, "ValueError", "Missing required parameter 'name' for task function. Parameter is not injectable and not provided in task.parameters.")
	if !strings.HasPrefix(res.Err.Traceback, "Traceback (most recent call last):\n  Function \"needs\"") ||
		!strings.HasSuffix(res.Err.Traceback, "ValueError: Missing required parameter 'name' for task function. Parameter is not injectable and not provided in task.parameters.\n") {
		t.Errorf("traceback:\n%s", res.Err.Traceback)
	}
	res = r.Call(t.Context(), "gone", nil)
	if want := "Traceback (most recent call last):\n  Function \"gone\"\nValueError: Python function 'gone' not found in registry\n"; res.Err.Traceback != want {
		t.Errorf("traceback = %q, want %q", res.Err.Traceback, want)
	}
}

func TestResultJSON(t *testing.T) {
	r := registry.New()
	mustRegister(t, r, "ok", func() map[string]int { return map[string]int{"n": 1} })
	mustRegister(t, r, "fail", func() error { return registry.NewError("ValueError", "no") })

	mustRegister(t, r, "html", func() string { return "<a & b>" })
	if res := r.Call(t.Context(), "html", nil); string(res.Value) != `"<a & b>"` {
		t.Errorf("html = %s, want it unescaped", res.Value)
	}

	data, err := json.Marshal(r.Call(t.Context(), "ok", nil))
	if err != nil || string(data) != `{"result":{"n":1},"error":null}` {
		t.Errorf("ok = %s, %v", data, err)
	}
	data, err = json.Marshal(r.Call(t.Context(), "fail", nil))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Result json.RawMessage `json:"result"`
		Error  registry.Error  `json:"error"`
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if string(got.Result) != "null" || got.Error.Type != "ValueError" || got.Error.Message != "no" || got.Error.Traceback == "" {
		t.Errorf("fail = %s", data)
	}
}

// TestTracebackPaths: tracebacks name files by import path, as -trimpath
// builds do, never by the directory of the machine that built the binary.
func TestTracebackPaths(t *testing.T) {
	wd, err := os.Getwd() // this package's source directory
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Dir(wd) // the module root, /…/chaptask
	r := registry.New()
	mustRegister(t, r, "deep", func(context.Context) error { return failDeep() })
	mustRegister(t, r, "boom", func(context.Context) error { panic("boom") })
	deep := r.Call(t.Context(), "deep", nil).Err.Traceback
	if !strings.Contains(deep, `File "github.com/chaptask/chaptask/registry/errors_test.go", line `) {
		t.Errorf("traceback does not name the file by import path:\n%s", deep)
	}
	boom := r.Call(t.Context(), "boom", nil).Err.Traceback
	if !strings.Contains(boom, "\tgithub.com/chaptask/chaptask/registry/errors_test.go:") || !strings.Contains(boom, "\truntime/panic.go:") {
		t.Errorf("panic traceback does not name files by import path:\n%s", boom)
	}
	for name, tb := range map[string]string{"deep": deep, "boom": boom} {
		if strings.Contains(tb, root) || (runtime.GOROOT() != "" && strings.Contains(tb, runtime.GOROOT()+"/")) {
			t.Errorf("%s traceback shows a build directory (%s):\n%s", name, root, tb)
		}
	}
}
