package embedded_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/chaptask/chaptask/embedded"
)

// TestAPIKeys checks that with API keys the frontend serves only callers
// that present one, that the server's own machinery (schedules run by its
// system workers) keeps working, and that none of its internal ports
// answers a caller without the internode certificate.
func TestAPIKeys(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	const key, otherKey = "first-key-0123456789", "second-key-abcdef"
	srv, err := embedded.Start(ctx, embedded.Config{
		FrontendAddr:     "127.0.0.1:0",
		UIAddr:           "127.0.0.1:0",
		Namespace:        "chaptask-auth",
		SearchAttributes: searchAttributes,
		Logger:           testLogger(),
		APIKeys:          []string{key, otherKey},
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { stop(t, srv) })

	authed := dialWith(t, srv.ClientOptions(client.Options{Namespace: srv.Namespace()}))
	startWorker(t, authed)
	// A job to describe, signal, cancel and terminate.
	waiting, err := authed.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: taskQueue}, waitWorkflow)
	if err != nil {
		t.Fatalf("ExecuteWorkflow with a key: %v", err)
	}

	plain := client.Options{HostPort: srv.FrontendAddr(), Namespace: srv.Namespace()}
	wrongKey := plain
	wrongKey.Credentials = client.NewAPIKeyStaticCredentials("not-" + key)
	wrongKey.ConnectionOptions.TLSDisabled = true
	for name, opts := range map[string]client.Options{"no key": plain, "wrong key": wrongKey} {
		t.Run(name, func(t *testing.T) {
			c := dialWith(t, opts)
			id, runID := waiting.GetID(), waiting.GetRunID()
			calls := map[string]func() error{
				"list": func() error {
					_, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{})
					return err
				},
				"describe": func() error { _, err := c.DescribeWorkflowExecution(ctx, id, runID); return err },
				"start": func() error {
					_, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: taskQueue}, greetWorkflow, greetInput{Name: "intruder"})
					return err
				},
				"signal":    func() error { return c.SignalWorkflow(ctx, id, runID, "go", "intruder") },
				"cancel":    func() error { return c.CancelWorkflow(ctx, id, runID) },
				"terminate": func() error { return c.TerminateWorkflow(ctx, id, runID, "intruder") },
				"create namespace": func() error {
					_, err := c.WorkflowService().RegisterNamespace(ctx, &workflowservice.RegisterNamespaceRequest{Namespace: "intruder"})
					return err
				},
			}
			for call, fn := range calls {
				var denied *serviceerror.PermissionDenied
				if err := fn(); !errors.As(err, &denied) {
					t.Errorf("%s without a valid key: %v, want PermissionDenied", call, err)
				}
			}
		})
	}
	t.Run("health check stays open", func(t *testing.T) {
		c := dialWith(t, plain)
		if _, err := c.CheckHealth(ctx, &client.CheckHealthRequest{}); err != nil {
			t.Errorf("CheckHealth without a key: %v", err)
		}
	})

	t.Run("with a key", func(t *testing.T) {
		if _, err := authed.DescribeWorkflowExecution(ctx, waiting.GetID(), waiting.GetRunID()); err != nil {
			t.Fatalf("describe: %v", err)
		}
		if err := authed.SignalWorkflow(ctx, waiting.GetID(), waiting.GetRunID(), "go", "key"); err != nil {
			t.Fatalf("signal: %v", err)
		}
		var got string
		if err := waiting.Get(ctx, &got); err != nil || got != "got key" {
			t.Fatalf("signalled workflow: %q, %v", got, err)
		}
		other := srv.ClientOptions(client.Options{Namespace: srv.Namespace()})
		other.Credentials = client.NewAPIKeyStaticCredentials(otherKey)
		c := dialWith(t, other)
		// waitWorkflow ignores cancellation, so the cancel request is
		// checked for acceptance and terminate then ends the run.
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{TaskQueue: taskQueue}, waitWorkflow)
		if err != nil {
			t.Fatalf("start with the second key: %v", err)
		}
		if err := c.CancelWorkflow(ctx, run.GetID(), ""); err != nil {
			t.Fatalf("cancel with the second key: %v", err)
		}
		if err := c.TerminateWorkflow(ctx, run.GetID(), "", "test"); err != nil {
			t.Fatalf("terminate with the second key: %v", err)
		}
		if err := run.Get(ctx, nil); err == nil {
			t.Errorf("workflow %s finished normally after terminate", run.GetID())
		}
	})

	t.Run("schedules fire", func(t *testing.T) {
		h, err := authed.ScheduleClient().Create(ctx, client.ScheduleOptions{
			ID:   "auth-schedule",
			Spec: client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: time.Second}}},
			Action: &client.ScheduleWorkflowAction{
				Workflow:  greetWorkflow,
				Args:      []any{greetInput{Name: "schedule"}},
				TaskQueue: taskQueue,
			},
		})
		if err != nil {
			t.Fatalf("create schedule: %v", err)
		}
		t.Cleanup(func() { _ = h.Delete(context.WithoutCancel(ctx)) })
		waitFor(t, 60*time.Second, func() error {
			desc, err := h.Describe(ctx)
			if err != nil {
				return err
			}
			for _, a := range desc.Info.RecentActions {
				if a.StartWorkflowResult != nil {
					return nil
				}
			}
			return fmt.Errorf("schedule has started nothing yet")
		})
	})

	t.Run("internal ports refuse outside callers", func(t *testing.T) {
		addrs := embedded.InternalAddrs(srv)
		if len(addrs) != 4 {
			t.Fatalf("internal addresses %v, want history, matching, worker and internal frontend", addrs)
		}
		for _, addr := range addrs {
			conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				t.Fatal(err)
			}
			callCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
			_, err = healthpb.NewHealthClient(conn).Check(callCtx, &healthpb.HealthCheckRequest{})
			cancel()
			conn.Close()
			if err == nil {
				t.Errorf("%s answered a plain-text call", addr)
			}
		}
	})

	t.Run("web UI acts with the key", func(t *testing.T) {
		resp, err := http.Get("http://" + srv.UIAddr() + "/api/v1/namespaces/" + srv.Namespace() + "/workflows")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("UI workflow list: %d %.300s", resp.StatusCode, body)
		}
	})
}

func dialWith(t *testing.T, opts client.Options) client.Client {
	t.Helper()
	opts.Logger = sdklog.NewStructuredLogger(testLogger())
	c, err := client.NewLazyClient(opts)
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}
