// Command chaptask runs the chaptask job service: the HTTP API, a Temporal
// worker, or both, with an embedded Temporal server and SQLite by default. It
// registers chapkit's example functions and can seed their example tasks.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/chaptask/chaptask"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "chaptask:", err)
		os.Exit(1)
	}
}

// run is the service with the example functions and tasks.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return chaptask.Run(ctx, chaptask.Options{
		Args:      args,
		Getenv:    getenv,
		Stdout:    stdout,
		Stderr:    stderr,
		Register:  registerExampleFunctions,
		SeedTasks: exampleTasks(),
		// The default run mode: an in-process server when
		// TEMPORAL_ADDRESS is empty.
		EmbeddedTemporal: startEmbedded(getenv),
	})
}

// getenv is os.Getenv, except that CHAPTASK_EMBEDDED_UI_ADDR set to the empty
// string reads as "off": empty disables the UI, unset keeps the default.
func getenv(name string) string {
	v, ok := os.LookupEnv(name)
	if ok && v == "" && name == "CHAPTASK_EMBEDDED_UI_ADDR" {
		return "off"
	}
	return v
}
