// Package chaptask runs the chaptask job service: the HTTP API, a Temporal
// worker, or both, with an embedded Temporal server and SQLite by default, or
// against PostgreSQL and a Temporal cluster.
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
// Every setting comes from the environment (through Options.Getenv) and
// flags (Options.Args), as documented in the README.
package chaptask
