// Command registerns prepares a namespace on an external Temporal cluster for
// chaptask: it registers the namespace if it is missing, adds chaptask's
// search attributes, and returns once the frontend serves both from its
// namespace cache, so jobs can start right away.
//
// scripts/distributed.sh runs it against the Temporal server it starts; the
// compose stack does the same with the temporal CLI
// (deploy/temporal/create-namespace.sh). chaptask itself never registers
// namespaces on a cluster it does not own.
//
//	go run ./scripts/registerns -address 127.0.0.1:7233 -namespace default
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/chaptask/chaptask/jobs"
)

func main() {
	if err := run(context.Background(), os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "registerns:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet(args[0], flag.ContinueOnError)
	address := fs.String("address", "127.0.0.1:7233", "host:port of the Temporal frontend")
	namespace := fs.String("namespace", "default", "namespace to prepare")
	retention := fs.Duration("retention", 72*time.Hour, "retention of a new namespace's closed workflows")
	timeout := fs.Duration("timeout", 2*time.Minute, "give up after this long (the frontend may still be starting)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	var c client.Client
	err := poll(ctx, func(ctx context.Context) error {
		var err error
		c, err = client.DialContext(ctx, client.Options{HostPort: *address, Namespace: *namespace})
		return err
	})
	if err != nil {
		return fmt.Errorf("connect to %s: %w", *address, err)
	}
	defer c.Close()

	_, err = c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{
		Namespace:                        *namespace,
		WorkflowExecutionRetentionPeriod: durationpb.New(*retention),
	})
	var exists *serviceerror.NamespaceAlreadyExists
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("register namespace %s: %w", *namespace, err)
	}

	// Request handling reads namespaces (and their search attribute aliases)
	// from a cache refreshed every few seconds; WeakConsistency asks that
	// cache, so success here means jobs will be accepted.
	err = poll(ctx, func(ctx context.Context) error {
		if err := jobs.EnsureSearchAttributes(ctx, c, *namespace); err != nil {
			return err
		}
		desc, err := c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{
			Namespace:       *namespace,
			WeakConsistency: true,
		})
		if err != nil {
			return err
		}
		cached := map[string]bool{}
		for _, alias := range desc.GetConfig().GetCustomSearchAttributeAliases() {
			cached[alias] = true
		}
		for name := range jobs.SearchAttributes {
			if !cached[name] {
				return fmt.Errorf("search attribute %s not served yet", name)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("prepare namespace %s: %w", *namespace, err)
	}
	fmt.Printf("registerns: namespace %s ready on %s\n", *namespace, *address)
	return nil
}

// poll calls fn every 200 ms until it succeeds or ctx ends, and then
// reports fn's last error.
func poll(ctx context.Context, fn func(context.Context) error) error {
	for {
		attempt, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := fn(attempt)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
