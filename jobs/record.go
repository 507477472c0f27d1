package jobs

import (
	"strings"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/converter"

	"github.com/chaptask/chaptask/workflows"
)

// jobFromInfo builds the record Temporal's execution info describes. A live
// job comes out pending, and nothing is known yet of its run step, its
// artifact or its failure: Service.complete fills those in.
func jobFromInfo(info *workflowpb.WorkflowExecutionInfo) *Job {
	start := micro(info.GetStartTime().AsTime())
	job := &Job{
		ID:          info.GetExecution().GetWorkflowId(),
		runID:       info.GetExecution().GetRunId(),
		TaskID:      keyword(info.GetSearchAttributes(), workflows.SearchAttrTaskID),
		SubmittedAt: start,
		CreatedAt:   start,
		UpdatedAt:   start,
	}
	if p := info.GetMemo().GetFields()[memoRerunOf]; p != nil {
		var of string
		if converter.GetDefaultDataConverter().FromPayload(p, &of) == nil && of != "" {
			job.RerunOf = &of
		}
	}
	if p := info.GetMemo().GetFields()[memoRunsLocally]; p != nil {
		_ = converter.GetDefaultDataConverter().FromPayload(p, &job.runsLocally)
	}
	if parent := keyword(info.GetSearchAttributes(), workflows.SearchAttrParentJob); parent != "" {
		job.ParentJobID = &parent
	}
	if sid := scheduleIDOf(info.GetSearchAttributes()); sid != "" {
		job.ScheduleID = &sid
	}
	if ct := info.GetCloseTime(); ct != nil && info.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		closed := micro(ct.AsTime())
		job.FinishedAt = &closed
		job.UpdatedAt = closed
	}
	job.Status = statusOf(info.GetStatus())
	return job
}

// keyword reads a Keyword search attribute; one that cannot be read is empty.
func keyword(sa *commonpb.SearchAttributes, name string) string {
	p := sa.GetIndexedFields()[name]
	if p == nil {
		return ""
	}
	var s string
	_ = converter.GetDefaultDataConverter().FromPayload(p, &s)
	return s
}

func setError(job *Job, msg, trace string) {
	job.Error = &msg
	if trace != "" {
		job.ErrorTraceback = &trace
	}
}

// failureTrace renders a Temporal failure and its causes, innermost last,
// with any stack traces they carry.
func failureTrace(f *failurepb.Failure) string {
	var b strings.Builder
	for depth := 0; f != nil; depth++ {
		if depth > 0 {
			b.WriteString("caused by: ")
		}
		if typ := f.GetApplicationFailureInfo().GetType(); typ != "" {
			b.WriteString(typ + ": ")
		}
		b.WriteString(f.GetMessage())
		b.WriteByte('\n')
		if st := strings.TrimSpace(f.GetStackTrace()); st != "" {
			b.WriteString(st)
			b.WriteByte('\n')
		}
		f = f.GetCause()
	}
	return strings.TrimRight(b.String(), "\n")
}

// micro normalises a time to UTC microseconds, the precision visibility
// stores, so a job's times read the same from every source.
func micro(t time.Time) time.Time {
	return t.UTC().Truncate(time.Microsecond)
}

// progressFrom reads the progress report a run step's heartbeat carries;
// heartbeats without one (shell commands, silent functions) give nil.
func progressFrom(details *commonpb.Payloads) *Progress {
	if len(details.GetPayloads()) == 0 {
		return nil
	}
	var u struct {
		Percent float64   `json:"percent"`
		Message string    `json:"message"`
		At      time.Time `json:"at"`
	}
	if converter.GetDefaultDataConverter().FromPayload(details.GetPayloads()[0], &u) != nil {
		return nil
	}
	return &Progress{Percent: u.Percent, Message: u.Message, UpdatedAt: micro(u.At)}
}
