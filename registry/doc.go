// Package registry runs registered Go functions as tasks: the Go counterpart
// of chapkit's TaskRegistry. A task of type "python" names a function
// registered here and carries its parameters as a JSON object; only
// registered functions can run, so tasks cannot execute arbitrary code.
//
// # Building a registry
//
// A program builds its registry explicitly, at startup, before workers
// start; there is no global registry:
//
//	reg := registry.New(registry.WithLogger(logger))
//	err := reg.Provide(bdb, &db.ArtifactStore{DB: bdb}) // injectables, by type
//	err = registry.Add(reg, "calculate_sum", calculateSum) // typed front door
//	err = reg.Register("slow_computation", slowComputation) // any supported signature
//	res := reg.Call(ctx, "calculate_sum", json.RawMessage(`{"a":10,"b":32}`), jobLogger, progress)
//
// Registration checks everything it can: an empty or duplicate name, an
// unsupported signature, an argument that nothing can be injected into, an
// ambiguous interface argument and a default that does not parse are errors
// from Register or Add, not from the first Call.
//
// # Signatures
//
// A registered function returns (R, error), error, or R, where R is
// anything encoding/json can marshal. Its arguments are recognised by type,
// never by name (reflect cannot see names), and may come in any order:
//
//   - context.Context: the ctx given to Call;
//   - injectables: *slog.Logger, *Progress, the declared types *bun.DB,
//     bun.IDB, *db.ArtifactStore and the Temporal client.Client, types
//     declared with Declare, and the types of values given to Provide
//     (a service started with chaptask.Run declares *jobs.Children, the
//     per-job scheduler of child jobs: see docs/child-jobs.md);
//   - at most one parameters struct: a struct, or pointer to a struct, that
//     is not injectable. Its exported fields are the JSON parameters.
//
// For example:
//
//	type Params struct {
//		InputText string `json:"input_text"`               // required
//		Uppercase bool   `json:"uppercase" default:"false"` // optional, default false
//		Note      string `json:"note,omitempty"`            // optional, zero value
//	}
//	func processData(ctx context.Context, p Params, logger *slog.Logger) (Result, error)
//
// Parameter names come from json tags, else the Go field name, and are
// matched exactly (case-sensitively, unlike encoding/json). Embedded structs
// without a json name contribute their fields. A field is optional when it
// has a default tag or the omitempty (or omitzero) json option; every other
// field is required. A default tag is the text itself for fields whose JSON
// type is string (default:"hello") and a JSON value otherwise (default:"2",
// default:"[1,2]", default:"null" for a pointer); it is parsed when the
// function is registered. Field values are decoded with encoding/json, so
// nested structs, slices, maps, pointers, any (numbers become float64) and
// json.RawMessage work as they do there, except that unknown fields of
// nested structs are errors too. Default tags of nested structs are ignored.
//
// # Injection
//
// For each injected argument, Call uses, in order: a value passed to Call
// of exactly that type, or for an interface type the first one implementing
// it; a provided value of exactly that type, or for an interface type the
// only provided value implementing it; else the registry's logger for
// *slog.Logger, a reporter that discards updates for *Progress, and nil for
// declared types. The interface rule lets Provide(*bun.DB) satisfy bun.IDB
// and lets a worker pass a bun.Tx per call. Interfaces without methods are
// never matched by implementation.
//
// Arguments are classified when the function is registered. A pointer to a
// struct that is neither provided nor declared at that moment is taken for
// the parameters struct, so provide values, or declare their types, before
// registering functions that take them. Values of declared types may be
// provided at any time.
//
// # Errors
//
// Call returns a Result holding either the JSON value or an *Error with a
// Type, a Message and a Traceback, the shape chapkit stores in artifacts:
//
//   - ValueError, in chapkit's words: no function is registered under the
//     name ("Python function 'x' not found in registry"), or a required
//     parameter is missing ("Missing required parameter 'b' for task
//     function. Parameter is not injectable and not provided in
//     task.parameters.", the first one in declaration order);
//   - TypeError: the parameters are not a JSON object (or null), name an
//     unknown parameter (Python's "f() got an unexpected keyword argument
//     'x'", the first name in sorted order), or hold a value of the wrong
//     JSON type; also a result that encoding/json cannot marshal;
//   - Panic: the function panicked; the message is the panic value and the
//     traceback the goroutine's stack. The panic does not propagate;
//   - any other type: the function returned an error. Its type is the Type
//     of the first *Error in the chain (created by NewError or Errorf), else
//     a name derived from the outermost error that fmt.Errorf or errors.Join
//     did not merely wrap: context.Canceled, context.DeadlineExceeded,
//     io.EOF and io.ErrUnexpectedEOF by name, "Error" for errors.New, and
//     otherwise its Go type without the '*', such as "fs.PathError".
//
// Tracebacks read like Python's: the function's name, the file and line of
// every call from the registered function down to the NewError or Errorf
// that created the error, the chain of wrapped errors, then "Type: message".
//
// # Concurrency
//
// All methods are safe for concurrent use. Call runs the function on the
// calling goroutine and waits for it; a function should return when its
// ctx is cancelled. A panic in a goroutine the function starts itself is
// beyond the registry's reach and ends the process.
package registry
