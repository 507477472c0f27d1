// Package chaptask runs the chaptask job service: the HTTP API, a Temporal
// worker, or both, against PostgreSQL or SQLite and a Temporal cluster, or
// an in-process Temporal server when the program asks for one.
//
// A program that wants its own Go functions as tasks builds on [Run]:
//
//	err := chaptask.Run(ctx, chaptask.Options{
//		Getenv: os.Getenv,
//		Register: func(reg *registry.Registry) error {
//			return registry.Add(reg, "greet", greet)
//		},
//	})
//
// This program needs TEMPORAL_ADDRESS, and does not link the Temporal
// server. Setting [Options].EmbeddedTemporal to inprocess.Start (package
// github.com/chaptask/chaptask/embedded/inprocess) adds the embedded mode
// of cmd/chaptask: an in-process server when TEMPORAL_ADDRESS is empty.
//
// Every setting comes from the environment (through Options.Getenv) and
// flags (Options.Args), as documented in docs/configuration.md.
package chaptask
