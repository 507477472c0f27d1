package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

func jobsList(fs *flag.FlagSet) func(context.Context, *env, []string) error {
	var pf pageFlags
	pf.bind(fs)
	status := fs.String("status", "", "only jobs in this status: pending, running, completed, failed or canceled")
	taskID := fs.String("task", "", "only jobs of this task id")
	return func(ctx context.Context, e *env, _ []string) error {
		q := url.Values{}
		if *status != "" {
			q.Set("status_filter", *status)
		}
		if *taskID != "" {
			q.Set("task_id", *taskID)
		}
		pf.set(q)
		items, p, raw, err := listItems[job](ctx, e, withQuery("/api/v1/jobs", q), pf.given())
		if err != nil {
			return err
		}
		if e.json {
			return writeJSON(e.stdout, raw)
		}
		t := newTable(e.stdout, "ID", "TASK", "STATUS", "SUBMITTED", "RAN FOR")
		for _, j := range items {
			t.row(j.ID, j.TaskID, j.Status, timeText(&j.SubmittedAt), jobDuration(&j))
		}
		if err := t.flush(); err != nil {
			return err
		}
		pageFooter(e.stdout, p, "jobs")
		return nil
	}
}

func jobsGet(*flag.FlagSet) func(context.Context, *env, []string) error {
	return func(ctx context.Context, e *env, args []string) error {
		var j job
		raw, err := e.client.get(ctx, "/api/v1/jobs/"+pathID(args[0]), &j)
		if err != nil {
			return err
		}
		if e.json {
			return writeJSON(e.stdout, raw)
		}
		return printJob(e.stdout, &j)
	}
}

func printJob(w io.Writer, j *job) error {
	err := fields(w,
		"id", j.ID,
		"task_id", j.TaskID,
		"status", j.Status,
		"artifact_id", strText(j.ArtifactID),
		"submitted_at", timeText(&j.SubmittedAt),
		"started_at", timeText(j.StartedAt),
		"finished_at", timeText(j.FinishedAt),
		"error", strText(j.Error),
	)
	if err == nil && j.ErrorTraceback != nil && *j.ErrorTraceback != "" {
		_, err = fmt.Fprintf(w, "error_traceback:\n%s\n", strings.TrimRight(*j.ErrorTraceback, "\n"))
	}
	return err
}

func jobsCancel(fs *flag.FlagSet) func(context.Context, *env, []string) error {
	wait := fs.Bool("wait", false, "wait until the job has stopped")
	return func(ctx context.Context, e *env, args []string) error {
		path := "/api/v1/jobs/" + pathID(args[0])
		var j job
		if _, err := e.client.get(ctx, path, &j); err != nil {
			return err
		}
		// DELETE of a finished job removes it from the list: not what
		// "cancel" promises.
		if j.terminal() {
			return fmt.Errorf("job %s already finished (%s): nothing to cancel; \"jobs delete\" removes it from the list", j.ID, j.Status)
		}
		if _, err := e.client.do(ctx, http.MethodDelete, path, nil); err != nil {
			return err
		}
		var raw json.RawMessage
		if *wait {
			p := e.newProgress(j.ID)
			last, err := e.client.follow(ctx, j.ID, func(ev jobEvent) { p.update(&ev.job) })
			p.finish(&last.job)
			if err != nil {
				return err
			}
			j, raw = last.job, last.raw
		} else {
			var err error
			if raw, err = e.client.get(ctx, path, &j); err != nil {
				return err
			}
		}
		if e.json {
			if err := writeJSON(e.stdout, raw); err != nil {
				return err
			}
		} else if j.terminal() {
			fmt.Fprintf(e.stdout, "job %s %s\n", j.ID, j.Status)
		} else {
			fmt.Fprintf(e.stdout, "cancel requested for job %s (%s)\n", j.ID, j.Status)
		}
		if j.terminal() && j.Status != statusCanceled {
			return fmt.Errorf("job %s ended %s before the cancellation took effect", j.ID, j.Status)
		}
		return nil
	}
}

func jobsDelete(*flag.FlagSet) func(context.Context, *env, []string) error {
	return func(ctx context.Context, e *env, args []string) error {
		if _, err := e.client.do(ctx, http.MethodDelete, "/api/v1/jobs/"+pathID(args[0]), nil); err != nil {
			return err
		}
		return e.deleted("job", args[0])
	}
}

func jobsWatch(fs *flag.FlagSet) func(context.Context, *env, []string) error {
	traceback := fs.Bool("traceback", false, "also print a function error's traceback")
	return func(ctx context.Context, e *env, args []string) error {
		return e.waitAndReport(ctx, args[0], *traceback)
	}
}

// waitResult is the --json output of a job waited for.
type waitResult struct {
	Job      json.RawMessage `json:"job"`
	Artifact json.RawMessage `json:"artifact"` // null unless the job completed
}

// waitAndReport follows the job to its end, prints what it produced and
// returns the exit code it stands for: a shell command's own code, 1 for a
// function's error, ExitJobFailed or ExitJobCanceled.
func (e *env) waitAndReport(ctx context.Context, id string, traceback bool) error {
	p := e.newProgress(id)
	last, err := e.client.follow(ctx, id, func(ev jobEvent) { p.update(&ev.job) })
	if err != nil {
		p.finish(nil)
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			fmt.Fprintf(e.stderr, "stopped waiting; job %s goes on (chaptask-cli jobs cancel %s stops it)\n", id, id)
			return exitCode(ExitInterrupted)
		}
		return err
	}
	j := &last.job
	p.finish(j)

	var art artifact
	artRaw := json.RawMessage("null")
	if j.Status == statusCompleted && j.ArtifactID != nil {
		if artRaw, err = e.client.get(ctx, "/api/v1/artifacts/"+pathID(*j.ArtifactID), &art); err != nil {
			return err
		}
	}
	if e.json {
		if err := writeJSON(e.stdout, waitResult{Job: last.raw, Artifact: artRaw}); err != nil {
			return err
		}
	}

	switch j.Status {
	case statusFailed:
		if !e.json {
			fmt.Fprintf(e.stderr, "error: job %s failed: %s\n", j.ID, strText(j.Error))
		}
		return exitCode(ExitJobFailed)
	case statusCanceled:
		if !e.json {
			fmt.Fprintf(e.stderr, "job %s was canceled\n", j.ID)
		}
		return exitCode(ExitJobCanceled)
	case statusCompleted:
	default:
		return fmt.Errorf("job %s ended in unknown status %q", j.ID, j.Status)
	}
	if j.ArtifactID == nil {
		return fmt.Errorf("job %s completed without an artifact", j.ID)
	}
	var x execution
	if err := json.Unmarshal(art.Data, &x); err != nil {
		return fmt.Errorf("read artifact %s: %w", art.ID, err)
	}
	if !e.json {
		if err := e.printExecution(&x, traceback); err != nil {
			return err
		}
	}
	return executionExit(&x)
}

// printExecution writes a job's outcome the way the command itself would
// have: a shell command's streams to ours, a function's result to stdout
// and its error to stderr.
func (e *env) printExecution(x *execution, traceback bool) error {
	if x.ExitCode != nil {
		if x.Stdout != nil {
			if _, err := io.WriteString(e.stdout, *x.Stdout); err != nil {
				return err
			}
		}
		if x.Stderr != nil {
			io.WriteString(e.stderr, *x.Stderr)
		}
		if x.StdoutTruncated || x.StderrTruncated {
			fmt.Fprintln(e.stderr, "note: the service kept only the start of this job's output")
		}
		return nil
	}
	if x.Error != nil {
		fmt.Fprintf(e.stderr, "error: %s: %s\n", x.Error.Type, x.Error.Message)
		if traceback && x.Error.Traceback != "" {
			fmt.Fprintln(e.stderr, strings.TrimRight(x.Error.Traceback, "\n"))
		}
		return nil
	}
	return printResult(e.stdout, x.Result)
}

// printResult prints a function's result: a string as plain text, nothing
// for null, any other value as JSON.
func printResult(w io.Writer, result json.RawMessage) error {
	if len(result) == 0 || string(result) == "null" {
		return nil
	}
	var s string
	if json.Unmarshal(result, &s) == nil {
		_, err := fmt.Fprintln(w, s)
		return err
	}
	return writeJSON(w, result)
}

// executionExit is the exit code of a completed job: a shell command's own
// (128+N when signal N killed it), 1 for a function's error.
func executionExit(x *execution) error {
	switch {
	case x.ExitCode != nil && *x.ExitCode < 0:
		return exitCode(128 - *x.ExitCode)
	case x.ExitCode != nil && *x.ExitCode > 0:
		return exitCode(min(*x.ExitCode, 255))
	case x.ExitCode == nil && x.Error != nil:
		return exitCode(ExitError)
	}
	return nil
}
