package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"reflect"
	"runtime"
	"runtime/debug"
	"strings"
)

// Error types produced by the registry itself, as found in Error.Type.
// Functions name their own types with NewError or Errorf.
const (
	// ValueError is the type chapkit gives the error for a name that is not
	// registered ("Python function 'x' not found in registry") and for a
	// missing required parameter.
	ValueError = "ValueError"
	// TypeError is the type of the other parameter binding errors
	// (parameters not an object, an unknown or a mistyped parameter) and of
	// a result that cannot be marshalled to JSON.
	TypeError = "TypeError"
	// Panic is the type of the error for a function that panicked.
	Panic = "Panic"
	// PlainError is the type of errors created with errors.New or with
	// fmt.Errorf without %w, and of a NewError call with an empty type.
	PlainError = "Error"
)

// Error is a function failure in the shape chapkit stores in artifacts:
// a type name, a message and a traceback. Functions return one with NewError
// or Errorf to choose their error type; Call turns every other error into one.
type Error struct {
	// Type names the kind of failure, such as "ValueError" or "TypeError".
	Type string `json:"type"`
	// Message is the error text, err.Error() of the error the function returned.
	Message string `json:"message"`
	// Traceback is a human-readable account of where the error came from.
	// Call fills it in; errors created by NewError or Errorf leave it empty.
	Traceback string `json:"traceback"`

	causes []error   // errors wrapped with %w by Errorf
	stack  []uintptr // program counters where NewError or Errorf was called
}

// Error returns the message, without the type, as Python's str(exc) does.
func (e *Error) Error() string { return e.Message }

// Unwrap returns the errors that Errorf wrapped with %w, so errors.Is and
// errors.As see through an *Error.
func (e *Error) Unwrap() []error { return e.causes }

// NewError returns an error of the given type, such as "ValueError", with
// the stack of its caller recorded for the traceback. An empty typ means
// "Error".
func NewError(typ, message string) error {
	return &Error{Type: typeOrDefault(typ), Message: message, stack: callers()}
}

// Errorf is NewError with a fmt.Errorf message. Errors given with %w stay
// reachable through errors.Is and errors.As.
func Errorf(typ, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	e := &Error{Type: typeOrDefault(typ), Message: err.Error(), stack: callers()}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		e.causes = []error{u.Unwrap()}
	case interface{ Unwrap() []error }:
		e.causes = u.Unwrap()
	}
	return e
}

func typeOrDefault(typ string) string {
	if typ == "" {
		return PlainError
	}
	return typ
}

// callers records the stack of the function that called NewError or Errorf.
func callers() []uintptr {
	pcs := make([]uintptr, 32)
	// Skip runtime.Callers, callers and NewError or Errorf.
	n := runtime.Callers(3, pcs)
	return pcs[:n]
}

var (
	// pkgPrefix is the import path of this package followed by a dot; frames
	// of this package are left out of tracebacks.
	pkgPrefix = reflect.TypeFor[Registry]().PkgPath() + "."
	// boundary is the function through which every registered function is
	// called (invoke); tracebacks stop there.
	boundary = pkgPrefix + "invoke"
)

// sentinels names well-known error values that are indistinguishable by
// their type alone.
var sentinels = []struct {
	err  error
	name string
}{
	{context.Canceled, "context.Canceled"},
	{context.DeadlineExceeded, "context.DeadlineExceeded"},
	{io.EOF, "io.EOF"},
	{io.ErrUnexpectedEOF, "io.ErrUnexpectedEOF"},
}

// isWrapper reports whether err only adds context to the errors it wraps:
// the values fmt.Errorf returns for %w and errors.Join returns.
func isWrapper(err error) bool {
	switch reflect.TypeOf(err).String() {
	case "*fmt.wrapError", "*fmt.wrapErrors", "*errors.joinError":
		return true
	}
	return false
}

// unwrapAll returns the errors err wraps, whichever Unwrap it implements.
func unwrapAll(err error) []error {
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		if next := u.Unwrap(); next != nil {
			return []error{next}
		}
	case interface{ Unwrap() []error }:
		return u.Unwrap()
	}
	return nil
}

// typeName names the type of an error returned by a function:
//
//   - the Type of the first *Error in the chain (errors.As order);
//   - else, for the outermost error that is not a wrapper made by fmt.Errorf
//     with %w or by errors.Join (following the first wrapped error):
//     context.Canceled, context.DeadlineExceeded, io.EOF and
//     io.ErrUnexpectedEOF by their variable names; errors made by errors.New
//     or by fmt.Errorf without %w as "Error"; anything else by its Go type
//     without a leading '*', such as "fs.PathError" or "strconv.NumError".
func typeName(err error) string {
	if e, ok := errors.AsType[*Error](err); ok {
		return typeOrDefault(e.Type)
	}
	for isWrapper(err) {
		next := unwrapAll(err)
		if len(next) == 0 || next[0] == nil {
			break
		}
		err = next[0]
	}
	for _, s := range sentinels {
		if err == s.err {
			return s.name
		}
	}
	name := reflect.TypeOf(err).String()
	if name == "*errors.errorString" {
		return PlainError
	}
	return strings.TrimPrefix(name, "*")
}

// fromError converts an error a function returned into an *Error with a
// traceback. The error itself is never modified.
func fromError(function, goName string, err error) *Error {
	typ := typeName(err)
	var b strings.Builder
	writeHeader(&b, function, goName)
	if e, ok := errors.AsType[*Error](err); ok {
		writeFrames(&b, e.stack)
	}
	if next := unwrapAll(err); len(next) > 0 {
		b.WriteString("Error chain (outermost first):\n")
		writeChain(&b, err, 1)
	}
	fmt.Fprintf(&b, "%s: %s\n", typ, err.Error())
	return &Error{Type: typ, Message: err.Error(), Traceback: b.String()}
}

// newError builds an *Error raised by the registry itself, on behalf of the
// named function.
func newError(function, goName, typ, message string) *Error {
	var b strings.Builder
	writeHeader(&b, function, goName)
	fmt.Fprintf(&b, "%s: %s\n", typ, message)
	return &Error{Type: typ, Message: message, Traceback: b.String()}
}

// fromPanic converts a recovered panic value and the stack captured with it.
func fromPanic(function, goName string, value any, stack []byte) *Error {
	message := fmt.Sprint(value) // fmt survives a panicking Error or String method
	var b strings.Builder
	writeHeader(&b, function, goName)
	fmt.Fprintf(&b, "panic: %s\n\n%s", message, trimStackPaths(stack))
	if len(stack) > 0 && stack[len(stack)-1] != '\n' {
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "%s: %s\n", Panic, message)
	return &Error{Type: Panic, Message: message, Traceback: b.String()}
}

func writeHeader(b *strings.Builder, function, goName string) {
	b.WriteString("Traceback (most recent call last):\n")
	if goName != "" {
		fmt.Fprintf(b, "  Function %q, in %s\n", function, goName)
	} else {
		fmt.Fprintf(b, "  Function %q\n", function)
	}
}

// writeFrames writes the recorded stack oldest call first, as Python does,
// from the registered function down to where the error was created.
func writeFrames(b *strings.Builder, pcs []uintptr) {
	if len(pcs) == 0 {
		return
	}
	var lines []string
	frames := runtime.CallersFrames(pcs)
	for {
		f, more := frames.Next()
		if f.Function == boundary || strings.HasPrefix(f.Function, boundary+".") {
			break
		}
		skip := strings.HasPrefix(f.Function, "runtime.") ||
			strings.HasPrefix(f.Function, "reflect.") ||
			strings.HasPrefix(f.Function, pkgPrefix)
		if !skip && f.Function != "" {
			lines = append(lines, fmt.Sprintf("  File %q, line %d, in %s\n", sourcePath(f.Function, f.File), f.Line, f.Function))
		}
		if !more {
			break
		}
	}
	for i := len(lines) - 1; i >= 0; i-- {
		b.WriteString(lines[i])
	}
}

// writeChain writes err and everything it wraps, one error per line,
// indented by depth.
func writeChain(b *strings.Builder, err error, depth int) {
	if depth > 32 {
		b.WriteString(strings.Repeat("  ", depth) + "...\n")
		return
	}
	fmt.Fprintf(b, "%s%s: %s\n", strings.Repeat("  ", depth), reflect.TypeOf(err), err.Error())
	for _, next := range unwrapAll(err) {
		if next != nil {
			writeChain(b, next, depth+1)
		}
	}
}

// sourcePath names a frame's file the way "go build -trimpath" would, by
// its package's import path (runtime/panic.go,
// github.com/chaptask/chaptask/cmd/chaptask/functions.go), so a traceback
// never shows the directory of the machine that built the binary.
func sourcePath(function, file string) string {
	pkg := packagePath(function)
	if pkg == "" || file == "" {
		return file
	}
	if pkg == "main" {
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Path != "" {
			pkg = bi.Path
		}
	}
	return pkg + "/" + path.Base(filepath.ToSlash(file))
}

// packagePath is the import path in a function's full name:
// "github.com/a/b.(*T).M" -> "github.com/a/b".
func packagePath(function string) string {
	if i := strings.IndexByte(function, '['); i >= 0 { // type arguments
		function = function[:i]
	}
	slash := strings.LastIndexByte(function, '/')
	dot := strings.IndexByte(function[slash+1:], '.')
	if dot < 0 {
		return ""
	}
	// An external test package (x_test) lives in x's directory.
	return strings.TrimSuffix(function[:slash+1+dot], "_test")
}

// trimStackPaths rewrites the file lines of a goroutine stack from
// debug.Stack ("\t/abs/dir/file.go:12 +0x1d") with sourcePath, using the
// function line above each.
func trimStackPaths(stack []byte) string {
	lines := strings.Split(string(stack), "\n")
	for i := 1; i < len(lines); i++ {
		rest, ok := strings.CutPrefix(lines[i], "\t")
		if !ok {
			continue
		}
		colon := strings.LastIndex(rest, ".go:")
		if colon < 0 {
			continue
		}
		fn := strings.TrimPrefix(lines[i-1], "created by ")
		if in := strings.Index(fn, " in goroutine "); in >= 0 {
			fn = fn[:in]
		}
		if paren := strings.LastIndexByte(fn, '('); paren > 0 {
			fn = fn[:paren]
		}
		if !strings.Contains(fn, ".") {
			fn = "runtime." + fn // the stack names runtime.gopanic "panic"
		}
		file := rest[:colon+len(".go")]
		lines[i] = "\t" + sourcePath(fn, file) + rest[colon+len(".go"):]
	}
	return strings.Join(lines, "\n")
}
