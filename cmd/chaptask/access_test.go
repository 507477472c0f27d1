package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chaptask/chaptask/db/dbtest"
)

// TestLockedDown runs the service as an operator who manages tasks in a file
// would: API keys from a file, read-only tasks, no shell. Functions from the
// file still execute; a shell task left from before is refused.
func TestLockedDown(t *testing.T) {
	for _, dialect := range dbtest.Dialects {
		t.Run(dialect, func(t *testing.T) {
			env := newEnv(t, dialect)
			svc := startService(t, env)
			shellTask := svc.createTask(t, map[string]any{"command": "echo from before"})
			svc.stop()

			dir := t.TempDir()
			const sumID = "01K72P5N5KCRM6MD3BRE4P0991"
			tasksFile := filepath.Join(dir, "tasks.yaml")
			writeFile(t, tasksFile, `
tasks:
  - id: `+sumID+`
    command: calculate_sum
    task_type: python
    parameters: {a: 40, b: 2}
`)
			keysFile := filepath.Join(dir, "keys")
			writeFile(t, keysFile, "# rotated 2026-11\nfirst-key-6b1d\nsecond-key-93ce\n")
			env["CHAPTASK_TASKS_FILE"] = tasksFile
			env["CHAPTASK_API_KEYS_FILE"] = keysFile
			env["CHAPTASK_TASKS_READ_ONLY"] = "true"
			env["CHAPTASK_SHELL_ENABLED"] = "false"
			svc.start()

			svc.want(t, svc.do(t, "GET", "/health", nil), 200)
			denied := svc.do(t, "GET", "/api/v1/tasks", nil)
			svc.want(t, denied, 401)
			if denied.object(t)["type"] != "urn:chapkit:error:unauthorized" {
				t.Errorf("401 body: %s", denied.body)
			}
			svc.want(t, svc.do(t, "POST", "/api/v1/tasks/"+sumID+"/$execute", nil), 401)

			svc.apiKey = "second-key-93ce"
			svc.want(t, svc.do(t, "POST", "/api/v1/tasks", map[string]any{"command": "calculate_sum", "task_type": "go"}), 405)
			svc.want(t, svc.do(t, "DELETE", "/api/v1/tasks/"+sumID, nil), 405)
			data := svc.runTask(t, sumID)
			if result, _ := data["result"].(map[string]any); result["result"] != 42.0 {
				t.Errorf("calculate_sum from the tasks file: %v", data)
			}

			refused := svc.do(t, "POST", "/api/v1/tasks/"+shellTask+"/$execute", nil)
			svc.want(t, refused, 400)
			if !strings.Contains(string(refused.body), "shell tasks are disabled") {
				t.Errorf("refusal does not say why: %s", refused.body)
			}
		})
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}
