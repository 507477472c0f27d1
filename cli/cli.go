package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
)

// Exit codes of the client. A shell job waited for with "tasks run --wait"
// exits with its command's own code instead (128+N when a signal killed it),
// so these may collide with a command's codes; --json tells them apart.
const (
	ExitOK = 0
	// ExitError is a local failure, or a function task that returned an
	// error.
	ExitError = 1
	// ExitUsage is a command line the client does not understand.
	ExitUsage = 2
	// ExitJobFailed is a job that ended failed (not a command's non-zero
	// exit: that job completed).
	ExitJobFailed = 3
	// ExitJobCanceled is a job that ended canceled.
	ExitJobCanceled = 4
	// ExitAPI is a request the API refused (a problem document), or a
	// server that could not be reached.
	ExitAPI = 5
	// ExitInterrupted is an interrupt while waiting; the job goes on.
	ExitInterrupted = 130
)

// DefaultURL is where the client looks for the API when neither CHAPTASK_URL
// nor --url says otherwise.
const DefaultURL = "http://127.0.0.1:8000"

// Run runs the client with args (program name first) and returns its exit
// code. getenv reads CHAPTASK_URL and CHAPTASK_API_KEY; stdin feeds
// "--parameters -"; stdout gets results and stderr errors and progress.
func Run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, tty: isTerminal(stderr)}
	err := e.dispatch(ctx, args, getenv)
	if err == nil {
		return ExitOK
	}
	var code exitCode
	if errors.As(err, &code) {
		return int(code)
	}
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if errors.Is(err, context.Canceled) && ctx.Err() != nil {
		fmt.Fprintln(stderr, "error: interrupted")
		return ExitInterrupted
	}
	fmt.Fprintln(stderr, "error:", err)
	var usage *usageError
	var api *apiError
	switch {
	case errors.As(err, &usage):
		if usage.hint != "" {
			fmt.Fprintln(stderr, usage.hint)
		}
		return ExitUsage
	case errors.As(err, &api):
		return ExitAPI
	}
	return ExitError
}

// env is one invocation: its streams and the settings every command shares.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	tty            bool // stderr is a terminal: progress may redraw a line

	url, apiKey string
	json, quiet bool
	client      *client
}

// exitCode ends a command with a code after it has said what it had to.
type exitCode int

func (c exitCode) Error() string { return fmt.Sprintf("exit status %d", int(c)) }

// usageError is a command line mistake; hint points at the usage to read.
type usageError struct {
	msg  string
	hint string
}

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) *usageError {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// command is one subcommand of a group.
type command struct {
	group, name string
	args        string // synopsis of the positional arguments and flags
	summary     string
	nargs       int // positional arguments required (and allowed)
	// setup declares the command's flags on fs and returns the function
	// that runs it once they are parsed.
	setup func(fs *flag.FlagSet) func(ctx context.Context, e *env, args []string) error
}

// commands lists every subcommand, in the order usage shows them.
func commands() []command {
	return []command{
		{"tasks", "list", "[--enabled true|false] [--page N --size N]", "list task templates", 0, tasksList},
		{"tasks", "get", "<task-id>", "show a task", 1, tasksGet},
		{"tasks", "create", "--command CMD [--type shell|go|python] [--parameters JSON|-] [--disabled]", "create a task; prints its id", 0, tasksCreate},
		{"tasks", "delete", "<task-id>", "delete a task (its artifacts stay)", 1, tasksDelete},
		{"tasks", "run", "<task-id> [--wait] [--traceback]", "execute a task; prints the job id, or with --wait its output", 1, tasksRun},
		{"jobs", "list", "[--status S] [--task ID] [--page N --size N]", "list jobs", 0, jobsList},
		{"jobs", "get", "<job-id>", "show a job", 1, jobsGet},
		{"jobs", "cancel", "<job-id> [--wait]", "cancel a pending or running job", 1, jobsCancel},
		{"jobs", "delete", "<job-id>", "cancel a live job or remove a finished one from the list", 1, jobsDelete},
		{"jobs", "watch", "<job-id>", "follow a job until it finishes; exits like run --wait", 1, jobsWatch},
		{"artifacts", "list", "[--task ID] [--page N --size N]", "list artifacts", 0, artifactsList},
		{"artifacts", "get", "<artifact-id>", "show an artifact", 1, artifactsGet},
		{"artifacts", "tree", "<artifact-id>", "show an artifact and its descendants", 1, artifactsTree},
		{"health", "", "", "check the service's health", 0, health},
	}
}

const usageHeader = `chaptask-cli talks to a chaptask service over HTTP.

Usage: chaptask-cli [--url URL] [--api-key KEY] [--json] [-q] <command> [flags] [args]

Commands ("chaptask-cli <command> -h" shows a command's flags):
`

const usageFooter = `
Common flags (before or after the command):
  --url URL       service address (CHAPTASK_URL, default ` + DefaultURL + `)
  --api-key KEY   sent as X-API-Key (CHAPTASK_API_KEY)
  --json          machine-readable JSON on stdout
  -q              no progress on stderr

Exit codes: 0 ok; 1 error (or a function task's error); 2 usage; 3 job failed;
4 job canceled; 5 API refused or unreachable; 130 interrupted while waiting.
"tasks run --wait" of a shell task exits with the command's exit code.
`

func printUsage(w io.Writer) {
	fmt.Fprint(w, usageHeader)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, c := range commands() {
		// Flags are for "<command> -h"; the overview keeps to one line each.
		words := []string{c.group, c.name}
		for _, w := range strings.Fields(c.args) {
			if strings.HasPrefix(w, "<") {
				words = append(words, w)
			}
		}
		fmt.Fprintf(tw, "  %s\t%s\n", strings.Join(strings.Fields(strings.Join(words, " ")), " "), c.summary)
	}
	tw.Flush()
	fmt.Fprint(w, usageFooter)
}

// commonFlags binds the shared settings, so they may come before or after
// the command name.
func (e *env) commonFlags(fs *flag.FlagSet) {
	fs.StringVar(&e.url, "url", e.url, "service address (CHAPTASK_URL)")
	fs.StringVar(&e.apiKey, "api-key", e.apiKey, "API key sent as X-API-Key (CHAPTASK_API_KEY)")
	fs.BoolVar(&e.json, "json", e.json, "machine-readable JSON on stdout")
	fs.BoolVar(&e.quiet, "q", e.quiet, "no progress on stderr")
}

func (e *env) dispatch(ctx context.Context, args []string, getenv func(string) string) error {
	e.url, e.apiKey = getenv("CHAPTASK_URL"), getenv("CHAPTASK_API_KEY")
	if e.url == "" {
		e.url = DefaultURL
	}
	name := "chaptask-cli"
	if len(args) > 0 {
		name, args = args[0], args[1:]
	}
	global := flag.NewFlagSet(name, flag.ContinueOnError)
	global.SetOutput(io.Discard)
	e.commonFlags(global)
	if err := global.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(e.stdout)
			return err
		}
		return &usageError{msg: err.Error(), hint: "run chaptask-cli -h for usage"}
	}
	rest := global.Args()
	if len(rest) == 0 {
		printUsage(e.stderr)
		return exitCode(ExitUsage)
	}
	if rest[0] == "help" {
		printUsage(e.stdout)
		return flag.ErrHelp
	}
	cmd, rest, err := findCommand(rest)
	if err != nil {
		return err
	}
	full := strings.TrimSpace(cmd.group + " " + cmd.name)
	fs := flag.NewFlagSet(full, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	e.commonFlags(fs)
	runCmd := cmd.setup(fs)
	hint := fmt.Sprintf("usage: chaptask-cli %s %s (chaptask-cli %s -h for its flags)", full, cmd.args, full)
	positional, err := parseInterspersed(fs, rest)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprintf(e.stdout, "Usage: chaptask-cli %s %s\n\n%s.\n\nFlags:\n", full, cmd.args, cmd.summary)
		fs.SetOutput(e.stdout)
		fs.PrintDefaults()
		return err
	}
	if err != nil {
		return &usageError{msg: err.Error(), hint: hint}
	}
	if len(positional) != cmd.nargs {
		what := "no arguments"
		if cmd.nargs == 1 {
			what = "one argument"
		}
		return &usageError{msg: fmt.Sprintf("%s takes %s, got %d", full, what, len(positional)), hint: hint}
	}
	if e.client, err = newClient(e.url, e.apiKey); err != nil {
		return err
	}
	return runCmd(ctx, e, positional)
}

// findCommand picks the command named by the first one or two words.
func findCommand(words []string) (command, []string, error) {
	var groups []string
	for _, c := range commands() {
		if c.group == words[0] && c.name == "" {
			return c, words[1:], nil
		}
		if c.group == words[0] && len(words) > 1 && c.name == words[1] {
			return c, words[2:], nil
		}
		if c.group == words[0] {
			groups = append(groups, c.name)
		}
	}
	if len(groups) > 0 {
		what := "missing"
		if len(words) > 1 {
			what = fmt.Sprintf("unknown %q", words[1])
		}
		return command{}, nil, &usageError{
			msg:  fmt.Sprintf("%s: %s subcommand", words[0], what),
			hint: fmt.Sprintf("%s subcommands: %s", words[0], strings.Join(groups, ", ")),
		}
	}
	return command{}, nil, &usageError{msg: fmt.Sprintf("unknown command %q", words[0]), hint: "run chaptask-cli -h for usage"}
}

// parseInterspersed parses flags anywhere among the positional arguments
// ("tasks run ID --wait"), which the flag package alone stops at. Everything
// after "--" is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for len(args) > 0 {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		// Parse stops at the first non-flag, or just after a "--" it
		// swallows; the word before the rest tells which.
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
	return positional, nil
}

// isTerminal reports whether w is a character device, e.g. a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
