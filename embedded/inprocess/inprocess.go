// Package inprocess lets [chaptask.Run] start its own Temporal server (package
// embedded) when TEMPORAL_ADDRESS is empty. Only programs that import it
// link the Temporal server and its dependencies; a program that always runs
// against a cluster leaves it out and stays a fraction of the size.
//
//	err := chaptask.Run(ctx, chaptask.Options{
//		Getenv:           os.Getenv,
//		EmbeddedTemporal: inprocess.Start,
//	})
package inprocess

import (
	"context"

	"github.com/chaptask/chaptask"
	"github.com/chaptask/chaptask/embedded"
)

// Start is a [chaptask.StartEmbeddedFunc] backed by [embedded.Start].
func Start(ctx context.Context, cfg chaptask.EmbeddedConfig) (chaptask.EmbeddedServer, error) {
	srv, err := embedded.Start(ctx, embedded.Config{
		DataDir:          cfg.DataDir,
		FrontendAddr:     cfg.FrontendAddr,
		UIAddr:           cfg.UIAddr,
		Namespace:        cfg.Namespace,
		SearchAttributes: cfg.SearchAttributes,
		Retention:        cfg.Retention,
		APIKeys:          cfg.APIKeys,
		Logger:           cfg.Logger,
	})
	if err != nil {
		// A nil *embedded.Server in the interface would not compare equal
		// to nil.
		return nil, err
	}
	return srv, nil
}
