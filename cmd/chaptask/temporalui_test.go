package main

import (
	"context"
	"strings"
	"testing"

	"go.temporal.io/sdk/converter"

	"github.com/chaptask/chaptask/db/dbtest"
	"github.com/chaptask/chaptask/workflows"
)

// TestJobsInTemporalSayWhatTheyAre: a person reading a job in the Temporal
// Web UI sees what it runs (its summary), a link to its console page, and
// the outcome at a glance in the workflow result, without the output.
func TestJobsInTemporalSayWhatTheyAre(t *testing.T) {
	for _, dialect := range dbtest.Dialects {
		t.Run(dialect, func(t *testing.T) { jobsSayWhatTheyAre(t, dialect) })
	}
}

func jobsSayWhatTheyAre(t *testing.T, dialect string) {
	env := newEnv(t, dialect)
	env["CHAPTASK_CONSOLE_URL"] = "http://console.example:8000/"
	s := startService(t, env)
	tc := s.temporalClient(t)
	ctx := context.Background()

	shell := s.createTask(t, map[string]any{"command": "echo a-long-output-line; exit 3"})
	cases := []struct {
		name, taskID, summary string
		want                  workflows.Outcome
	}{
		{"shell exit code", shell, "shell: echo a-long-output-line; exit 3", workflows.Outcome{ExitCode: ptr(3)}},
		{"function result", "01JCSEED0000000000000PYTH1", "go: calculate_sum", workflows.Outcome{OK: true}},
		{"function error", "01JCSEED0000000000000PYTH4", "go: failing_task",
			workflows.Outcome{ErrorType: "ValueError", ErrorMessage: "This task was designed to fail"}},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			id := s.execute(t, tt.taskID)
			s.waitStatus(t, id, "completed")
			desc, err := tc.DescribeWorkflowExecution(ctx, id, "")
			if err != nil {
				t.Fatal(err)
			}
			md := desc.GetExecutionConfig().GetUserMetadata()
			var summary, details string
			dc := converter.GetDefaultDataConverter()
			if err := dc.FromPayload(md.GetSummary(), &summary); err != nil {
				t.Fatalf("summary: %v", err)
			}
			if err := dc.FromPayload(md.GetDetails(), &details); err != nil {
				t.Fatalf("details: %v", err)
			}
			if summary != tt.summary {
				t.Errorf("summary = %q, want %q", summary, tt.summary)
			}
			if link := "(http://console.example:8000/#/jobs/" + id + ")"; !strings.Contains(details, link) {
				t.Errorf("details = %q, want a link %s", details, link)
			}
			var res workflows.ExecuteResult
			if err := tc.GetWorkflow(ctx, id, "").Get(ctx, &res); err != nil {
				t.Fatal(err)
			}
			got := res.Outcome
			if got == nil || got.OK != tt.want.OK || got.ErrorType != tt.want.ErrorType || got.ErrorMessage != tt.want.ErrorMessage ||
				(got.ExitCode == nil) != (tt.want.ExitCode == nil) || got.ExitCode != nil && *got.ExitCode != *tt.want.ExitCode {
				t.Errorf("outcome = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
