package chaptask

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
)

// EmbeddedConfig is what [Run] asks of a Temporal server started in its
// process.
type EmbeddedConfig struct {
	// DataDir holds the server's store; it is created if missing.
	DataDir string
	// FrontendAddr and UIAddr are the gRPC frontend's and the Web UI's
	// "host:port" (port 0 picks a free port); UIAddr "" disables the UI.
	FrontendAddr, UIAddr string
	// Namespace is registered on start, with SearchAttributes on it.
	Namespace        string
	SearchAttributes map[string]enums.IndexedValueType
	// Retention is how long closed workflows are kept.
	Retention time.Duration
	// APIKeys, when not empty, are the only keys the frontend accepts.
	APIKeys []string
	// Logger receives the server's logs.
	Logger *slog.Logger
}

// EmbeddedServer is a running in-process Temporal server.
type EmbeddedServer interface {
	// FrontendAddr is the gRPC frontend's "host:port".
	FrontendAddr() string
	// UIAddr is the Web UI's "host:port", or "" when it is off.
	UIAddr() string
	// ClientOptions sets up opts to reach the frontend (its API key).
	ClientOptions(opts client.Options) client.Options
	// Stop stops the server and waits for it.
	Stop() error
}

// StartEmbeddedFunc starts a Temporal server in this process and returns
// once its frontend accepts requests. Package
// github.com/chaptask/chaptask/embedded/inprocess provides one.
type StartEmbeddedFunc func(ctx context.Context, cfg EmbeddedConfig) (EmbeddedServer, error)

// errNoTemporal is Run's answer when it has neither a Temporal address nor
// a server to embed: a library links the server only when asked to.
var errNoTemporal = errors.New("no Temporal server: set TEMPORAL_ADDRESS (or -temporal-address) to a Temporal frontend's host:port, " +
	"or build the program with Options.EmbeddedTemporal set to inprocess.Start (package github.com/chaptask/chaptask/embedded/inprocess) to run one in this process")
