package chaptask_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/chaptask/chaptask"
	"github.com/chaptask/chaptask/api"
	"github.com/chaptask/chaptask/db/dbtest"
	"github.com/chaptask/chaptask/embedded/inprocess"
	"github.com/chaptask/chaptask/internal/testclient"
	"github.com/chaptask/chaptask/jobs"
	"github.com/chaptask/chaptask/registry"
)

// TestChildJobHierarchy runs a library user's functions through Run: a
// parent that stores an artifact of its own and runs a child job, whose
// function stores one too. $tree shows three levels, labelled by the
// hierarchy given in Options, on both databases.
func TestChildJobHierarchy(t *testing.T) {
	for _, dialect := range dbtest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			env := map[string]string{
				"CHAPTASK_DATA_DIR":               t.TempDir(),
				"CHAPTASK_HTTP_ADDR":              "127.0.0.1:0",
				"CHAPTASK_EMBEDDED_TEMPORAL_ADDR": "127.0.0.1:0",
				"CHAPTASK_EMBEDDED_UI_ADDR":       "off",
				"CHAPTASK_SEED_EXAMPLES":          "false",
				"CHAPTASK_LOG_LEVEL":              "warn",
			}
			if dialect == "postgres" {
				env["DATABASE_URL"] = dbtest.PostgresURL(t)
			}
			svc := &testclient.Client{Base: startLibraryService(t, env, chaptask.Options{
				EmbeddedTemporal: inprocess.Start,
				Register:         registerHierarchyFunctions,
				ArtifactHierarchy: api.ArtifactHierarchy{Name: "pipeline", LevelLabels: map[int]string{
					0: "pipeline", 1: "stage", 2: "detail",
				}},
			})}

			leaf := createTask(t, svc, map[string]any{"command": "leaf", "task_type": "go"})
			parent := createTask(t, svc, map[string]any{"command": "parent", "task_type": "go", "parameters": map[string]any{"leaf_task_id": leaf}})
			var submitted struct {
				JobID string `json:"job_id"`
			}
			call(t, svc, "POST", "/api/v1/tasks/"+parent+"/$execute", nil, 202, &submitted)
			var job jobs.Job
			call(t, svc, "GET", "/api/v1/jobs/"+submitted.JobID+"?wait=60s", nil, 200, &job)
			if job.Status != jobs.StatusCompleted || job.ArtifactID == nil {
				t.Fatalf("parent job: %s, artifact %v, error %v", job.Status, job.ArtifactID, job.Error)
			}

			type node struct {
				Level      int            `json:"level"`
				LevelLabel *string        `json:"level_label"`
				Data       map[string]any `json:"data"`
				Children   []node         `json:"children"`
			}
			var tree node
			call(t, svc, "GET", "/api/v1/artifacts/"+*job.ArtifactID+"/$tree", nil, 200, &tree)
			if tree.Level != 0 || label(tree.LevelLabel) != "pipeline" || tree.Data["error"] != nil || len(tree.Children) != 2 {
				t.Fatalf("root: level %d %q, error %v, %d children; want pipeline with 2", tree.Level, label(tree.LevelLabel), tree.Data["error"], len(tree.Children))
			}
			var note, child *node
			for i := range tree.Children {
				if tree.Children[i].Data["note"] != nil {
					note = &tree.Children[i]
				} else {
					child = &tree.Children[i]
				}
			}
			if note == nil || child == nil || note.Level != 1 || label(note.LevelLabel) != "stage" || child.Level != 1 {
				t.Fatalf("level 1: %+v", tree.Children)
			}
			if len(child.Children) != 1 || child.Children[0].Level != 2 || label(child.Children[0].LevelLabel) != "detail" ||
				child.Children[0].Data["note"] != "stored by the leaf" {
				t.Fatalf("the child job's artifact: %+v", child.Children)
			}
		})
	}
}

type parentParams struct {
	LeafTaskID string `json:"leaf_task_id"`
}

// registerHierarchyFunctions registers the functions of
// TestChildJobHierarchy, the way a program using the library would.
func registerHierarchyFunctions(reg *registry.Registry) error {
	err := reg.Register("parent", func(ctx context.Context, p parentParams, children *jobs.Children) (string, error) {
		if _, err := children.StoreArtifact(ctx, map[string]string{"note": "stored by the parent"}); err != nil {
			return "", err
		}
		id, err := children.Submit(ctx, "leaf", p.LeafTaskID, nil)
		if err != nil {
			return "", err
		}
		done, err := children.Wait(ctx, id)
		if err != nil {
			return "", err
		}
		if done[0].Status != jobs.StatusCompleted {
			return "", fmt.Errorf("leaf job %s ended %s", id, done[0].Status)
		}
		return id, nil
	})
	if err != nil {
		return err
	}
	return reg.Register("leaf", func(ctx context.Context, children *jobs.Children) (int, error) {
		if children.Level() != 1 {
			return 0, fmt.Errorf("leaf runs at level %d, want 1", children.Level())
		}
		_, err := children.StoreArtifact(ctx, map[string]string{"note": "stored by the leaf"})
		return children.Level(), err
	})
}

func label(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

// startLibraryService runs Run with env until the test ends and returns
// the base URL of its API.
func startLibraryService(t *testing.T, env map[string]string, opts chaptask.Options) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	pr, pw := io.Pipe()
	opts.Args = []string{"chaptask"}
	opts.Getenv = func(k string) string { return env[k] }
	opts.Stdout, opts.Stderr = pw, io.Discard
	go func() {
		err := chaptask.Run(ctx, opts)
		pw.CloseWithError(fmt.Errorf("run returned: %v", err))
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(60 * time.Second):
			t.Error("service did not stop within 60 s")
		}
	})
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		if addr, ok := strings.CutPrefix(sc.Text(), "chaptask: serving HTTP on "); ok {
			go io.Copy(io.Discard, pr) //nolint:errcheck // drain the rest
			return addr
		}
	}
	t.Fatalf("service did not start: %v", sc.Err())
	return ""
}

func createTask(t *testing.T, c *testclient.Client, body map[string]any) string {
	t.Helper()
	var task struct {
		ID string `json:"id"`
	}
	call(t, c, "POST", "/api/v1/tasks", body, 201, &task)
	return task.ID
}

// call sends a request and decodes the answer into out, failing the test
// unless it has status want.
func call(t *testing.T, c *testclient.Client, method, path string, body any, want int, out any) {
	t.Helper()
	reply := c.Do(t, method, path, body, nil)
	testclient.Want(t, reply, want)
	reply.Decode(t, out)
}
