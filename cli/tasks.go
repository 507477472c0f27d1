package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// pageFlags are --page and --size; asking for either paginates, the other
// taking its default.
type pageFlags struct{ page, size int }

func (p *pageFlags) bind(fs *flag.FlagSet) {
	fs.IntVar(&p.page, "page", 0, "page number, from 1 (paginates)")
	fs.IntVar(&p.size, "size", 0, "items per page (paginates; default 50)")
}

func (p *pageFlags) set(q url.Values) {
	if p.page == 0 && p.size == 0 {
		return
	}
	page, size := p.page, p.size
	if page == 0 {
		page = 1
	}
	if size == 0 {
		size = 50
	}
	q.Set("page", strconv.Itoa(page))
	q.Set("size", strconv.Itoa(size))
}

func (p *pageFlags) given() bool { return p.page != 0 || p.size != 0 }

// withQuery appends q to path when it has values.
func withQuery(path string, q url.Values) string {
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// listItems reads a list answer: a plain array, or a page when paginated.
func listItems[T any](ctx context.Context, e *env, path string, paginated bool) ([]T, *page[T], json.RawMessage, error) {
	if paginated {
		var p page[T]
		raw, err := e.client.get(ctx, path, &p)
		return p.Items, &p, raw, err
	}
	var items []T
	raw, err := e.client.get(ctx, path, &items)
	return items, nil, raw, err
}

// pageFooter says where a page sits in the whole list.
func pageFooter[T any](w io.Writer, p *page[T], noun string) {
	if p != nil {
		fmt.Fprintf(w, "page %d of %d (%d %s)\n", p.Page, p.Pages, p.Total, noun)
	}
}

func tasksList(fs *flag.FlagSet) func(context.Context, *env, []string) error {
	var pf pageFlags
	pf.bind(fs)
	enabled := fs.String("enabled", "", "only enabled (true) or disabled (false) tasks")
	return func(ctx context.Context, e *env, _ []string) error {
		q := url.Values{}
		if *enabled != "" {
			q.Set("enabled", *enabled)
		}
		pf.set(q)
		items, p, raw, err := listItems[task](ctx, e, withQuery("/api/v1/tasks", q), pf.given())
		if err != nil {
			return err
		}
		if e.json {
			return writeJSON(e.stdout, raw)
		}
		t := newTable(e.stdout, "ID", "TYPE", "ENABLED", "COMMAND")
		for _, tk := range items {
			t.row(tk.ID, tk.TaskType, strconv.FormatBool(tk.Enabled), oneLine(tk.Command, 60))
		}
		if err := t.flush(); err != nil {
			return err
		}
		pageFooter(e.stdout, p, "tasks")
		return nil
	}
}

func tasksGet(*flag.FlagSet) func(context.Context, *env, []string) error {
	return func(ctx context.Context, e *env, args []string) error {
		var tk task
		raw, err := e.client.get(ctx, "/api/v1/tasks/"+pathID(args[0]), &tk)
		if err != nil {
			return err
		}
		if e.json {
			return writeJSON(e.stdout, raw)
		}
		return fields(e.stdout,
			"id", tk.ID,
			"command", tk.Command,
			"task_type", tk.TaskType,
			"parameters", compactJSON(tk.Parameters),
			"enabled", strconv.FormatBool(tk.Enabled),
			"created_at", timeText(&tk.CreatedAt),
			"updated_at", timeText(&tk.UpdatedAt),
		)
	}
}

func tasksCreate(fs *flag.FlagSet) func(context.Context, *env, []string) error {
	command := fs.String("command", "", "shell command, or the name of a registered function (required)")
	taskType := fs.String("type", "", `"shell" (the server's default), "go" or "python" (a registered function)`)
	params := fs.String("parameters", "", `JSON object passed to a function; "-" reads it from stdin`)
	disabled := fs.Bool("disabled", false, "create the task disabled")
	return func(ctx context.Context, e *env, _ []string) error {
		if strings.TrimSpace(*command) == "" {
			return &usageError{msg: "tasks create needs --command", hint: `e.g. chaptask-cli tasks create --command "echo hello"`}
		}
		body := map[string]any{"command": *command}
		if *taskType != "" {
			body["task_type"] = *taskType
		}
		if *params != "" {
			raw := []byte(*params)
			if *params == "-" {
				var err error
				if raw, err = io.ReadAll(e.stdin); err != nil {
					return fmt.Errorf("read parameters from stdin: %w", err)
				}
			}
			if !json.Valid(raw) {
				return usageErrorf("--parameters is not valid JSON: %s", oneLine(strings.TrimSpace(string(raw)), 80))
			}
			body["parameters"] = json.RawMessage(raw)
		}
		if *disabled {
			body["enabled"] = false
		}
		raw, err := e.client.do(ctx, http.MethodPost, "/api/v1/tasks", body)
		if err != nil {
			return err
		}
		if e.json {
			return writeJSON(e.stdout, json.RawMessage(raw))
		}
		var tk task
		if err := json.Unmarshal(raw, &tk); err != nil {
			return &apiError{Title: "unexpected answer to POST /api/v1/tasks", Detail: err.Error()}
		}
		_, err = fmt.Fprintln(e.stdout, tk.ID)
		return err
	}
}

func tasksDelete(*flag.FlagSet) func(context.Context, *env, []string) error {
	return func(ctx context.Context, e *env, args []string) error {
		if _, err := e.client.do(ctx, http.MethodDelete, "/api/v1/tasks/"+pathID(args[0]), nil); err != nil {
			return err
		}
		return e.deleted("task", args[0])
	}
}

// deleted reports a deletion, which the API answers without a body.
func (e *env) deleted(noun, id string) error {
	if e.json {
		return writeJSON(e.stdout, map[string]any{"id": id, "deleted": true})
	}
	_, err := fmt.Fprintf(e.stdout, "deleted %s %s\n", noun, id)
	return err
}

func tasksRun(fs *flag.FlagSet) func(context.Context, *env, []string) error {
	wait := fs.Bool("wait", false, "follow the job, print its output and exit with its exit code")
	traceback := fs.Bool("traceback", false, "with --wait, also print a function error's traceback")
	return func(ctx context.Context, e *env, args []string) error {
		raw, err := e.client.do(ctx, http.MethodPost, "/api/v1/tasks/"+pathID(args[0])+"/$execute", nil)
		if err != nil {
			return err
		}
		var reply executeReply
		if err := json.Unmarshal(raw, &reply); err != nil || reply.JobID == "" {
			return &apiError{Title: "unexpected answer to $execute", Detail: oneLine(string(raw), 200)}
		}
		if !*wait {
			if e.json {
				return writeJSON(e.stdout, json.RawMessage(raw))
			}
			_, err := fmt.Fprintln(e.stdout, reply.JobID)
			return err
		}
		return e.waitAndReport(ctx, reply.JobID, *traceback)
	}
}
