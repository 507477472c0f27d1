package main

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chaptask/chaptask/db"
)

// sqliteLockHeld is how long TestLockedSQLiteKeepsOutput keeps the
// database locked: past the 30 s after which the persist step of earlier
// versions gave up.
const sqliteLockHeld = 35 * time.Second

// TestLockedSQLiteKeepsOutput is a database outage on SQLite: another
// connection holds the write lock while a job's command finishes, for
// longer than any single retry of the persist step lasts. The job stays
// running, then completes with its output and a complete live log once the
// lock is released. The history (run step without artifact, then the
// persist step as an activity) is recorded for the replay test.
func TestLockedSQLiteKeepsOutput(t *testing.T) {
	env := newEnv(t, "sqlite")
	s := startService(t, env)
	taskID := s.createTask(t, map[string]any{"command": "echo out-$CHAPTASK_JOB_ID; echo err >&2"})

	lockDB, err := sql.Open("sqlite", "file:"+filepath.Join(env["CHAPTASK_DATA_DIR"], db.SQLiteFileName)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer lockDB.Close()
	ctx := context.Background()
	conn, err := lockDB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	locked := time.Now()
	released := false
	release := func() {
		if !released {
			released = true
			if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
				t.Fatal(err)
			}
		}
	}
	defer release()

	jobID := s.execute(t, taskID) // reads the task: reads are not locked out
	for time.Since(locked) < sqliteLockHeld {
		if j := s.job(t, jobID); j.Status != "running" && j.Status != "pending" {
			t.Fatalf("job is %s while the database is locked: %+v", j.Status, j)
		}
		time.Sleep(200 * time.Millisecond)
	}
	release()
	j := s.waitStatus(t, jobID, "completed", "failed", "canceled")
	if j.Status != "completed" || j.ArtifactID == nil {
		t.Fatalf("after the lock: %+v", j)
	}
	data := s.artifactData(t, j)
	if data["stdout"] != "out-"+jobID+"\n" || data["stderr"] != "err\n" {
		t.Errorf("artifact stdout %q stderr %q", data["stdout"], data["stderr"])
	}
	r := s.do(t, "GET", "/api/v1/jobs/"+jobID+"/$logs?format=text", nil)
	s.want(t, r, 200)
	if got := string(r.body); !strings.Contains(got, "out-"+jobID+"\n") || !strings.Contains(got, "err\n") || r.header.Get("X-Log-Complete") != "true" {
		t.Errorf("$logs %q (complete %s), want the artifact's output", got, r.header.Get("X-Log-Complete"))
	}
	step := s.runHistory(t, jobID)
	step.ranOnce(t)
	t.Logf("FIGURE: sqlite-locked: write lock held %s; job completed %s after it was released",
		sqliteLockHeld, time.Since(locked.Add(sqliteLockHeld)).Round(100*time.Millisecond))
	s.recordHistory(t, jobID, "completed_shell_persisted_after_outage.json")
}
