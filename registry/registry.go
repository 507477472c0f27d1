package registry

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"reflect"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"

	"github.com/uptrace/bun"
	"go.temporal.io/sdk/client"

	"github.com/chaptask/chaptask/db"
)

var (
	contextType  = reflect.TypeFor[context.Context]()
	errorType    = reflect.TypeFor[error]()
	loggerType   = reflect.TypeFor[*slog.Logger]()
	progressType = reflect.TypeFor[*Progress]()
)

// noProgress is the reporter functions get when the caller passes none.
var noProgress = NewProgress(nil)

// Registry holds the Go functions that may run as tasks, and the values
// injected into them. Build one with New, register functions and provide
// values at startup, then Call concurrently.
type Registry struct {
	mu        sync.RWMutex
	logger    *slog.Logger
	functions map[string]*function
	provided  map[reflect.Type]reflect.Value
	declared  map[reflect.Type]bool
}

// Option configures a Registry built by New.
type Option func(*Registry)

// WithLogger sets the logger injected into functions that take a
// *slog.Logger when neither the caller of Call nor Provide gave one.
// Without it they get slog.Default() as of the call.
func WithLogger(logger *slog.Logger) Option {
	return func(r *Registry) { r.logger = logger }
}

// New returns an empty registry. The types *bun.DB, bun.IDB,
// *db.ArtifactStore and the Temporal client.Client are declared: functions
// may take them, and get nil until a value is provided with Provide or
// passed to Call.
func New(opts ...Option) *Registry {
	r := &Registry{
		functions: map[string]*function{},
		provided:  map[reflect.Type]reflect.Value{},
		declared: map[reflect.Type]bool{
			reflect.TypeFor[*bun.DB]():           true,
			reflect.TypeFor[bun.IDB]():           true,
			reflect.TypeFor[*db.ArtifactStore](): true,
			reflect.TypeFor[client.Client]():     true,
		},
	}
	for _, opt := range opts {
		opt(r)
	}
	return r
}

// Provide makes values injectable into functions, keyed by their dynamic
// type. A function argument of that exact type receives the value; an
// argument of an interface type receives the only provided value that
// implements it. Providing a second value of the same type replaces the
// first. Provide fails, changing nothing, for a nil value, or when a value
// would make an interface argument of a registered function ambiguous.
func (r *Registry) Provide(values ...any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	next := maps.Clone(r.provided)
	for i, v := range values {
		rv := reflect.ValueOf(v)
		if !rv.IsValid() {
			return fmt.Errorf("provide value %d: nil", i)
		}
		if rv.Kind() == reflect.Pointer && rv.IsNil() {
			return fmt.Errorf("provide value %d: nil %s", i, rv.Type())
		}
		next[rv.Type()] = rv
	}
	for _, name := range slices.Sorted(maps.Keys(r.functions)) {
		for _, a := range r.functions[name].args {
			if a.kind != argInject || a.typ.Kind() != reflect.Interface {
				continue
			}
			if _, _, err := lookupProvided(next, a.typ); err != nil {
				return fmt.Errorf("provide: function %q: %w", name, err)
			}
		}
	}
	r.provided = next
	return nil
}

// Declare declares T injectable without providing a value yet: functions
// may take a T, and get nil unless a value is provided later with Provide or
// passed to Call. This is optional injection. T must be a pointer or an
// interface type.
func Declare[T any](r *Registry) error {
	t := reflect.TypeFor[T]()
	if t.Kind() != reflect.Pointer && t.Kind() != reflect.Interface {
		return fmt.Errorf("declare %s: only pointer and interface types can be declared", t)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.declared[t] = true
	return nil
}

// argKind says where an argument's value comes from.
type argKind int

const (
	argContext argKind = iota // the call's ctx
	argParams                 // the parameters struct, decoded from JSON
	argInject                 // a per-call, provided, built-in or declared value
)

type argument struct {
	kind argKind
	typ  reflect.Type
}

// function is a registered function with its precomputed binding plan.
type function struct {
	name   string
	goName string
	args   []argument
	params *paramsPlan // nil without a parameters argument
	call   func(args []reflect.Value) (any, error)
	desc   Function
}

// Register adds fn under name. fn is a func whose arguments are, in any
// order and number: context.Context (the call's ctx); injectable types
// (*slog.Logger, *Progress, the types declared by New or Declare, and the
// types of values given to Provide); and at most one parameters struct (a
// struct or pointer to a struct that is not injectable) whose exported
// fields are the JSON parameters. fn returns (R, error), error, or R.
//
// Struct fields are named by their json tag, or their Go name. A field is
// optional when it has a default tag (default:"2", parsed now) or the json
// option omitempty; every other field is required. Arguments are recognised
// by type only, and classified now: provide values before registering
// functions that take them, unless their type is declared.
//
// Register fails, registering nothing, for an empty or duplicate name, a
// value that is not a func, an unsupported signature, an argument no
// provider can satisfy, an ambiguous interface argument or a bad default.
// Arguments are numbered from 0 in errors, as reflect.Type.In numbers them.
func (r *Registry) Register(name string, fn any) error {
	v := reflect.ValueOf(fn)
	if !v.IsValid() || v.Kind() != reflect.Func {
		return fmt.Errorf("function %q: want a func, got %T", name, fn)
	}
	if v.IsNil() {
		return fmt.Errorf("function %q: nil func", name)
	}
	return r.add(name, v, nil)
}

// Add registers fn under name, like Register, with its signature checked
// by the compiler. P is usually the parameters struct (struct{} for none)
// but may be any type Register accepts as an argument.
func Add[P, R any](r *Registry, name string, fn func(context.Context, P) (R, error)) error {
	if fn == nil {
		return fmt.Errorf("function %q: nil func", name)
	}
	call := func(args []reflect.Value) (any, error) {
		ctx, _ := args[0].Interface().(context.Context)
		p, _ := args[1].Interface().(P)
		return fn(ctx, p)
	}
	return r.add(name, reflect.ValueOf(fn), call)
}

// add checks fn's signature and registers it. call, when not nil, invokes
// fn without reflection.
func (r *Registry) add(name string, fv reflect.Value, call func([]reflect.Value) (any, error)) error {
	if name == "" {
		return errors.New("function name is empty")
	}
	ft := fv.Type()
	if ft.IsVariadic() {
		return fmt.Errorf("function %q: variadic functions are not supported", name)
	}
	if call == nil {
		var err error
		if call, err = reflectCall(fv); err != nil {
			return fmt.Errorf("function %q: %w", name, err)
		}
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.functions[name]; dup {
		return fmt.Errorf("function %q is already registered", name)
	}
	f := &function{
		name: name,
		call: call,
		desc: Function{Name: name, Injects: []string{}},
	}
	if rf := runtime.FuncForPC(fv.Pointer()); rf != nil {
		f.goName = rf.Name()
	}
	paramsArg := -1
	for i := range ft.NumIn() {
		t := ft.In(i)
		switch ok, err := r.injectable(t); {
		case err != nil:
			return fmt.Errorf("function %q: argument %d: %w", name, i, err)
		case t == contextType:
			f.args = append(f.args, argument{kind: argContext, typ: t})
			continue
		case ok:
			f.args = append(f.args, argument{kind: argInject, typ: t})
			f.desc.Injects = append(f.desc.Injects, t.String())
			continue
		}
		if t.Kind() != reflect.Struct && (t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct) {
			return fmt.Errorf("function %q: argument %d: no provider for type %s", name, i, t)
		}
		p, err := asParams(t)
		if err != nil {
			return fmt.Errorf("function %q: argument %d: no provider for type %s, and it cannot be the parameters struct: %w", name, i, t, err)
		}
		if paramsArg >= 0 {
			return fmt.Errorf("function %q: arguments %d (%s) and %d (%s) would both be the parameters struct; at most one is allowed (Provide or Declare the injected one)",
				name, paramsArg, ft.In(paramsArg), i, t)
		}
		paramsArg = i
		f.params = p
		f.args = append(f.args, argument{kind: argParams, typ: t})
	}
	if f.params != nil {
		f.desc.Parameters = f.params.schema
	} else {
		f.desc.Parameters = Schema{Type: "object", Closed: true, Properties: []Property{}, Required: []string{}}
	}
	r.functions[name] = f
	return nil
}

// reflectCall returns a caller for fn, after checking its results.
func reflectCall(fv reflect.Value) (func([]reflect.Value) (any, error), error) {
	ft := fv.Type()
	switch {
	case ft.NumOut() == 2 && ft.Out(1) == errorType:
		return func(args []reflect.Value) (any, error) {
			out := fv.Call(args)
			err, _ := out[1].Interface().(error)
			return out[0].Interface(), err
		}, nil
	case ft.NumOut() == 1 && ft.Out(0) == errorType:
		return func(args []reflect.Value) (any, error) {
			err, _ := fv.Call(args)[0].Interface().(error)
			return nil, err
		}, nil
	case ft.NumOut() == 1:
		return func(args []reflect.Value) (any, error) {
			return fv.Call(args)[0].Interface(), nil
		}, nil
	}
	var outs []string
	for i := range ft.NumOut() {
		outs = append(outs, ft.Out(i).String())
	}
	return nil, fmt.Errorf("must return (R, error), error or R, not (%s)", strings.Join(outs, ", "))
}

// injectable reports whether arguments of type t are injected. It fails for
// an interface type that several provided values implement.
func (r *Registry) injectable(t reflect.Type) (bool, error) {
	switch {
	case t == contextType, t == loggerType, t == progressType, r.declared[t]:
		if t.Kind() == reflect.Interface {
			if _, _, err := lookupProvided(r.provided, t); err != nil {
				return false, err
			}
		}
		return true, nil
	}
	_, ok, err := lookupProvided(r.provided, t)
	return ok, err
}

// lookupProvided finds the provided value for type t: the value of exactly
// that type, else for an interface type with methods the single value that
// implements it.
func lookupProvided(provided map[reflect.Type]reflect.Value, t reflect.Type) (reflect.Value, bool, error) {
	if v, ok := provided[t]; ok {
		return v, true, nil
	}
	if t.Kind() != reflect.Interface || t.NumMethod() == 0 {
		return reflect.Value{}, false, nil
	}
	var found []reflect.Type
	for pt := range provided {
		if pt.Implements(t) {
			found = append(found, pt)
		}
	}
	switch len(found) {
	case 0:
		return reflect.Value{}, false, nil
	case 1:
		return provided[found[0]], true, nil
	}
	names := make([]string, len(found))
	for i, pt := range found {
		names[i] = pt.String()
	}
	slices.Sort(names)
	return reflect.Value{}, false, fmt.Errorf("ambiguous type %s: provided values of types %s all implement it", t, strings.Join(names, ", "))
}

// Has reports whether a function is registered under name.
func (r *Registry) Has(name string) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, ok := r.functions[name]
	return ok
}

// Functions describes every registered function, sorted by name.
func (r *Registry) Functions() []Function {
	r.mu.RLock()
	defer r.mu.RUnlock()
	list := make([]Function, 0, len(r.functions))
	for _, f := range r.functions {
		list = append(list, f.desc.clone())
	}
	slices.SortFunc(list, func(a, b Function) int { return cmp.Compare(a.Name, b.Name) })
	return list
}

// Result is the outcome of Call: exactly one of Value and Err is set. It
// marshals as {"result": ..., "error": ...}, the shape of a chapkit Python
// task artifact.
type Result struct {
	// Value is the function's return value as JSON; null for a function that
	// returns only an error, or a nil map, slice or pointer.
	Value json.RawMessage `json:"result"`
	// Err describes why the call failed.
	Err *Error `json:"error"`
}

// Call runs the function registered under name with the JSON object params
// (nil, null or an object) and returns its result or its error; it never
// panics because of params or the function. values are per-call injectables,
// matched by type before provided values: a value of exactly an argument's
// type, else for an interface argument the first value implementing it. Nil
// values are ignored. An injectable without a value gets: the registry's
// logger for *slog.Logger, a reporter that discards updates for *Progress,
// and nil for declared types.
//
// The errors Call returns have these types, with chapkit's messages where
// chapkit has one: ValueError for an unknown name and for a missing
// required parameter; TypeError for params that are not an object, name an
// unknown parameter or hold a mistyped value, and for a result that cannot
// be marshalled to JSON; Panic when the function panics; for an error the function
// returns, the type chosen with NewError or Errorf, else a name derived from
// the error's Go type (see the package documentation).
//
// Call is safe for concurrent use. The function runs on the calling
// goroutine with ctx; Call waits for it to return even if ctx is cancelled.
func (r *Registry) Call(ctx context.Context, name string, params json.RawMessage, values ...any) Result {
	r.mu.RLock()
	f := r.functions[name]
	if f == nil {
		r.mu.RUnlock()
		return Result{Err: newError(name, "", ValueError, fmt.Sprintf("Python function '%s' not found in registry", name))}
	}
	args, err := r.bind(ctx, f, params, values)
	r.mu.RUnlock()
	if e, ok := err.(*Error); ok {
		return Result{Err: e}
	}
	if err != nil {
		return Result{Err: newError(f.name, f.goName, TypeError, err.Error())}
	}
	return invoke(f, args)
}

// bind builds the argument list for one call. The caller holds r.mu. A
// panic while binding, which only a parameter type's own UnmarshalJSON or
// UnmarshalText can cause, is returned as a Panic error.
func (r *Registry) bind(ctx context.Context, f *function, params json.RawMessage, values []any) (args []reflect.Value, err error) {
	defer func() {
		if v := recover(); v != nil {
			args, err = nil, fromPanic(f.name, f.goName, v, debug.Stack())
		}
	}()
	obj, err := decodeObject(params)
	if err != nil {
		return nil, err
	}
	if err := checkNames(f, obj, f.params); err != nil {
		return nil, err
	}
	perCall := make([]reflect.Value, 0, len(values))
	for _, v := range values {
		rv := reflect.ValueOf(v)
		if !rv.IsValid() || (rv.Kind() == reflect.Pointer && rv.IsNil()) {
			continue
		}
		perCall = append(perCall, rv)
	}
	args = make([]reflect.Value, len(f.args))
	for i, a := range f.args {
		switch a.kind {
		case argContext:
			args[i] = reflect.ValueOf(&ctx).Elem()
		case argParams:
			if args[i], err = f.params.bind(obj); err != nil {
				return nil, err
			}
		case argInject:
			if args[i], err = r.inject(a.typ, perCall); err != nil {
				return nil, err
			}
		}
	}
	return args, nil
}

// inject finds the value for an injected argument of type t.
func (r *Registry) inject(t reflect.Type, perCall []reflect.Value) (reflect.Value, error) {
	for _, v := range perCall {
		if v.Type() == t {
			return v, nil
		}
	}
	if t.Kind() == reflect.Interface && t.NumMethod() > 0 {
		for _, v := range perCall {
			if v.Type().Implements(t) {
				return v, nil
			}
		}
	}
	v, ok, err := lookupProvided(r.provided, t)
	switch {
	case err != nil:
		return reflect.Value{}, err
	case ok:
		return v, nil
	case t == loggerType:
		logger := r.logger
		if logger == nil {
			logger = slog.Default()
		}
		return reflect.ValueOf(logger), nil
	case t == progressType:
		return reflect.ValueOf(noProgress), nil
	}
	return reflect.Zero(t), nil
}

// invoke runs a registered function and converts its outcome. Tracebacks
// of errors created by NewError and Errorf stop at this frame.
func invoke(f *function, args []reflect.Value) (res Result) {
	defer func() {
		if v := recover(); v != nil {
			res = Result{Err: fromPanic(f.name, f.goName, v, debug.Stack())}
		}
	}()
	value, err := f.call(args)
	if err != nil {
		return Result{Err: fromError(f.name, f.goName, err)}
	}
	data, err := marshalResult(value)
	if err != nil {
		msg := "result is not JSON-serialisable: " + strings.TrimPrefix(err.Error(), "json: ")
		return Result{Err: newError(f.name, f.goName, TypeError, msg)}
	}
	return Result{Value: data}
}

// marshalResult is json.Marshal without escaping <, > and &: results are
// data for artifacts and APIs, not HTML.
func marshalResult(value any) (json.RawMessage, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(value); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
