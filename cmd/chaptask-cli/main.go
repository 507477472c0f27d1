// Command chaptask-cli is the command-line client of a chaptask service: it
// manages tasks, runs them (optionally waiting and exiting with the job's
// exit code), and reads jobs and artifacts, all over the HTTP API.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/chaptask/chaptask/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args, os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole client; main only binds it to the process.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	return cli.Run(ctx, args, getenv, stdin, stdout, stderr)
}
