package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

func artifactsList(fs *flag.FlagSet) func(context.Context, *env, []string) error {
	var pf pageFlags
	pf.bind(fs)
	taskID := fs.String("task", "", "only executions of this task id")
	return func(ctx context.Context, e *env, _ []string) error {
		q := url.Values{}
		if *taskID != "" {
			q.Set("task_id", *taskID)
		}
		pf.set(q)
		items, p, raw, err := listItems[artifact](ctx, e, withQuery("/api/v1/artifacts", q), pf.given())
		if err != nil {
			return err
		}
		if e.json {
			return writeJSON(e.stdout, raw)
		}
		t := newTable(e.stdout, "ID", "LEVEL", "PARENT", "CREATED", "SUMMARY")
		for _, a := range items {
			t.row(a.ID, strconv.Itoa(a.Level), strText(a.ParentID), timeText(&a.CreatedAt), summary(a.Data))
		}
		if err := t.flush(); err != nil {
			return err
		}
		pageFooter(e.stdout, p, "artifacts")
		return nil
	}
}

// summary is one line about an artifact's data: how an execution ended.
func summary(data json.RawMessage) string {
	var x struct {
		execution
		Task *struct {
			Command string `json:"command"`
		} `json:"task"`
	}
	if json.Unmarshal(data, &x) != nil || x.Task == nil {
		return oneLine(compactJSON(data), 60)
	}
	cmd := oneLine(x.Task.Command, 40)
	switch {
	case x.ExitCode != nil:
		return fmt.Sprintf("%s → exit %d", cmd, *x.ExitCode)
	case x.Error != nil:
		return fmt.Sprintf("%s → %s", cmd, x.Error.Type)
	}
	return cmd + " → ok"
}

func artifactsGet(*flag.FlagSet) func(context.Context, *env, []string) error {
	return func(ctx context.Context, e *env, args []string) error {
		var a artifact
		raw, err := e.client.get(ctx, "/api/v1/artifacts/"+pathID(args[0]), &a)
		if err != nil {
			return err
		}
		if e.json {
			return writeJSON(e.stdout, raw)
		}
		if err := fields(e.stdout,
			"id", a.ID,
			"parent_id", strText(a.ParentID),
			"level", strconv.Itoa(a.Level),
			"created_at", timeText(&a.CreatedAt),
		); err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, "data:")
		return writeJSON(e.stdout, a.Data)
	}
}

func artifactsTree(*flag.FlagSet) func(context.Context, *env, []string) error {
	return func(ctx context.Context, e *env, args []string) error {
		var a artifact
		raw, err := e.client.get(ctx, "/api/v1/artifacts/"+pathID(args[0])+"/$tree", &a)
		if err != nil {
			return err
		}
		if e.json {
			return writeJSON(e.stdout, raw)
		}
		printTree(e.stdout, &a, 0)
		return nil
	}
}

func printTree(w io.Writer, a *artifact, depth int) {
	label := "level " + strconv.Itoa(a.Level)
	if a.LevelLabel != nil {
		label = *a.LevelLabel
	}
	fmt.Fprintf(w, "%s%s  %s  %s\n", strings.Repeat("  ", depth), a.ID, label, summary(a.Data))
	for i := range a.Children {
		printTree(w, &a.Children[i], depth+1)
	}
}

func health(*flag.FlagSet) func(context.Context, *env, []string) error {
	return func(ctx context.Context, e *env, _ []string) error {
		// An unhealthy service answers 503 with its checks, which the
		// error then quotes.
		res, err := e.client.request(ctx, http.MethodGet, "/health", nil)
		var raw []byte
		if err == nil {
			defer res.Body.Close()
			raw, err = io.ReadAll(io.LimitReader(res.Body, 1<<20))
		}
		if err != nil {
			return err
		}
		var h struct {
			Status string            `json:"status"`
			Checks map[string]string `json:"checks"`
		}
		if err := json.Unmarshal(raw, &h); err != nil {
			return &apiError{Title: "unexpected answer to GET /health", Detail: oneLine(string(raw), 200)}
		}
		if e.json {
			return writeJSON(e.stdout, json.RawMessage(raw))
		}
		fmt.Fprintln(e.stdout, h.Status)
		for _, name := range slices.Sorted(maps.Keys(h.Checks)) {
			fmt.Fprintf(e.stdout, "  %s: %s\n", name, h.Checks[name])
		}
		return nil
	}
}
