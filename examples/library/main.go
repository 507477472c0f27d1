// Command library is chaptask used as a library: a program of its own that
// registers a Go function as a task and serves the HTTP API and a worker,
// configured like the chaptask command (environment variables and flags).
// It runs against a Temporal cluster and does not link the Temporal server
// (a program that wants one in-process passes inprocess.Start as
// chaptask.Options.EmbeddedTemporal):
//
//	TEMPORAL_ADDRESS=127.0.0.1:7233 go run ./examples/library
//	curl -X POST localhost:8000/api/v1/tasks -d '{"command":"greet","task_type":"go","parameters":{"name":"Ada"}}'
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/chaptask/chaptask"
	"github.com/chaptask/chaptask/registry"
)

// greetParams are greet's JSON parameters: name is required, greeting
// optional.
type greetParams struct {
	Name     string `json:"name"`
	Greeting string `json:"greeting" default:"Hello"`
}

func greet(_ context.Context, p greetParams) (string, error) {
	return fmt.Sprintf("%s, %s!", p.Greeting, p.Name), nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "library:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return chaptask.Run(ctx, chaptask.Options{
		Args: args, Getenv: getenv, Stdout: stdout, Stderr: stderr,
		Register: func(reg *registry.Registry) error {
			return registry.Add(reg, "greet", greet)
		},
	})
}
