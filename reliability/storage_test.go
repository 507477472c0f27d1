package reliability

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chaptask/chaptask/db"
	"github.com/chaptask/chaptask/internal/testclient"
)

// health is what the tests read of GET /health.
type health struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
	Errors map[string]string `json:"errors"`
}

func (c *client) health(t *testing.T) (int, health) {
	t.Helper()
	r, err := c.try("GET", "/health", nil)
	if err != nil {
		t.Fatal(err)
	}
	var h health
	if err := decodeJSON(r.body, &h); err != nil {
		t.Fatal(err)
	}
	return r.status, h
}

// mountTmpfs mounts a tmpfs of size bytes on a new directory, unmounted
// when the test ends (after the children registered later have stopped).
// It skips the test, saying why, where mounting is not possible.
func mountTmpfs(t *testing.T, size int64) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("disk-full test skipped: mounting a small tmpfs needs root")
	}
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Skipf("disk-full test skipped: cannot mount a tmpfs: %v: %s", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fill writes path until the file system holding it is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return
			}
			t.Fatal(err)
		}
	}
}

// integrityCheck runs SQLite's PRAGMA integrity_check on the chaptask
// database of dataDir.
func integrityCheck(t *testing.T, dataDir string) {
	t.Helper()
	path := filepath.Join(dataDir, db.SQLiteFileName)
	bdb, err := db.Open(context.Background(), "", dataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer bdb.Close()
	var result string
	if err := bdb.QueryRowContext(context.Background(), "PRAGMA integrity_check").Scan(&result); err != nil {
		t.Fatalf("integrity_check %s: %v", path, err)
	}
	if result != "ok" {
		t.Errorf("integrity_check %s: %s", path, result)
	}
}

const typeInsufficientStorage = "urn:chapkit:error:insufficient-storage"

// TestDiskFull runs the embedded service (SQLite and the Temporal server's
// store) on a 96 MiB tmpfs and fills it: /health must name storage, writes
// must fail with 507 (never a 500, and never "Temporal is unavailable"),
// reads keep working; once space is freed everything works again, and
// after a restart the database passes SQLite's integrity check.
func TestDiskFull(t *testing.T) {
	began := time.Now()
	mnt := mountTmpfs(t, 96<<20)
	dataDir := filepath.Join(mnt, "data")
	env := childEnv(dataDir)
	env["CHAPTASK_MIN_FREE_SPACE"] = "8MiB"
	p := start(t, "chaptask", env)
	c := newClient(p.base)

	if status, h := c.health(t); status != 200 || h.Checks["storage"] != "healthy" {
		t.Fatalf("/health before the disk fills: %d %+v", status, h)
	}
	task := c.createTask(t, map[string]any{"command": "echo fits"})
	first := c.execute(t, task)
	c.waitFinished(t, 1, time.Minute)

	filler := filepath.Join(mnt, "filler")
	fill(t, filler)
	status, h := c.health(t)
	if status != 503 || h.Status == "healthy" || h.Checks["storage"] != "unhealthy" || !strings.Contains(h.Errors["storage"], dataDir) {
		t.Errorf("/health on a full disk: %d %+v, want 503 naming storage and %s", status, h, dataDir)
	}

	// Writes until one is refused: each answer is a success or a 507.
	big := strings.Repeat("x", 200<<10)
	refused, refusedExecute, written := 0, 0, 0
	var refusal problemDoc
	for i := 0; i < 200 && (refused < 3 || refusedExecute == 0); i++ {
		var r reply
		var err error
		if i%2 == 0 {
			r, err = c.try("POST", "/api/v1/tasks", map[string]any{"command": "echo " + big})
		} else {
			r, err = c.try("POST", "/api/v1/tasks/"+task+"/$execute", nil)
		}
		if err != nil {
			t.Fatal(err)
		}
		switch r.status {
		case 201, 202:
			written++
		case 507:
			refused++
			if i%2 == 1 {
				refusedExecute++
			}
			if err := decodeJSON(r.body, &refusal); err != nil || refusal.Type != typeInsufficientStorage ||
				!strings.Contains(refusal.Detail, "disk is full") || r.header.Get("Retry-After") == "" {
				t.Errorf("refused write: %s, want a 507 %s problem naming the disk, with Retry-After", r, typeInsufficientStorage)
			}
		default:
			t.Errorf("write on a full disk: %s, want 201/202 or 507", r)
		}
	}
	if refused == 0 || refusedExecute == 0 {
		t.Fatalf("on a full disk %d writes were refused, %d of them $execute, and %d succeeded; want $execute refused too", refused, refusedExecute, written)
	}
	// Reads of the database keep working; a job read needs Temporal, whose
	// shards lose their store when its disk fills: 200 or 507, never 503.
	c.must(t, 200, "GET", "/api/v1/tasks/"+task, nil, nil)
	if r, err := c.try("GET", "/api/v1/jobs/"+first, nil); err != nil || (r.status != 200 && r.status != 507) {
		t.Errorf("GET /api/v1/jobs/%s on a full disk: %v %v, want 200 or 507", first, r, err)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	testclient.Eventually(t, time.Minute, 200*time.Millisecond, func() bool { s, _ := c.health(t); return s == 200 },
		func() string { s, h := c.health(t); return fmt.Sprintf("/health after freeing space: %d %+v", s, h) })
	after := c.createTask(t, map[string]any{"command": "echo after"})
	// The embedded server's shards take their store back a little after
	// the disk has room (its frontend, which /health asks, is fine
	// meanwhile): until then a start is a 503 that started nothing.
	var afterJob string
	testclient.Eventually(t, time.Minute, 200*time.Millisecond, func() bool {
		r, err := c.try("POST", "/api/v1/tasks/"+after+"/$execute", nil)
		if err != nil {
			t.Fatal(err)
		}
		switch r.status {
		case http.StatusAccepted:
			var out struct {
				JobID string `json:"job_id"`
			}
			if err := decodeJSON(r.body, &out); err != nil {
				t.Fatal(err)
			}
			afterJob = out.JobID
			return true
		case http.StatusServiceUnavailable:
			return false
		}
		t.Fatalf("$execute after freeing space: %s, want 202, or 503 while Temporal recovers", r)
		return false
	}, func() string { return "$execute never succeeded after freeing space" })
	testclient.Eventually(t, 2*time.Minute, 200*time.Millisecond, func() bool {
		var j job
		c.must(t, 200, "GET", "/api/v1/jobs/"+afterJob, nil, &j)
		return j.Status == "completed"
	}, func() string { return "the job submitted after freeing space did not complete" })

	p.stop()
	integrityCheck(t, dataDir)
	p = start(t, "chaptask-restarted", env)
	c = newClient(p.base)
	var j job
	c.must(t, 200, "GET", "/api/v1/jobs/"+first, nil, &j)
	if j.Status != "completed" || j.ArtifactID == nil {
		t.Errorf("job %s after the restart: %+v", first, j)
	}
	t.Logf("FIGURE: disk-full: 96 MiB tmpfs filled: %d writes refused with 507 (%d of them $execute; last %q), %d accepted before; /health %q naming storage; recovered after freeing; integrity_check ok; wall %s",
		refused, refusedExecute, refusal.Detail, written, h.Status, time.Since(began).Round(time.Second))
}

// TestArtifactRetentionAndDelete runs the service with a one-minute
// artifact retention: an artifact made older than that disappears at the
// next sweep while a newer one stays, and both jobs stay readable, the
// expired one saying its artifact was deleted; DELETE does the same at once.
func TestArtifactRetentionAndDelete(t *testing.T) {
	dataDir := t.TempDir()
	env := childEnv(dataDir)
	env["CHAPTASK_ARTIFACT_RETENTION"] = "1m" // sweeps every 6 s
	p := start(t, "chaptask", env)
	c := newClient(p.base)

	task := c.createTask(t, map[string]any{"command": "echo kept"})
	jobs := []string{c.execute(t, task), c.execute(t, task), c.execute(t, task)}
	c.waitFinished(t, len(jobs), time.Minute)
	records := make([]job, len(jobs))
	for i, id := range jobs {
		c.must(t, 200, "GET", "/api/v1/jobs/"+id, nil, &records[i])
	}
	expired, deleted, kept := records[0], records[1], records[2]

	// Age one artifact past the policy, as if it were stored two hours ago.
	bdb, err := db.Open(context.Background(), "", dataDir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = bdb.NewUpdate().Table("artifacts").Set("created_at = ?", db.Now().Add(-2*time.Hour)).
		Where("id = ?", *expired.ArtifactID).Exec(context.Background())
	bdb.Close()
	if err != nil {
		t.Fatal(err)
	}

	c.must(t, http.StatusNoContent, "DELETE", "/api/v1/artifacts/"+*deleted.ArtifactID, nil, nil)
	testclient.Eventually(t, time.Minute, 200*time.Millisecond, func() bool {
		r, err := c.try("GET", "/api/v1/artifacts/"+*expired.ArtifactID, nil)
		return err == nil && r.status == 404
	}, func() string { return "the aged artifact was not removed by the retention sweep" })
	c.must(t, 200, "GET", "/api/v1/artifacts/"+*kept.ArtifactID, nil, nil)
	if !p.logged("artifact retention sweep", "artifacts_removed=1") {
		t.Errorf("no sweep logged removing one artifact")
	}

	for _, tc := range []struct {
		record  job
		deleted bool
	}{{expired, true}, {deleted, true}, {kept, false}} {
		var got struct {
			job
			ArtifactDeletedAt *time.Time `json:"artifact_deleted_at"`
		}
		c.must(t, 200, "GET", "/api/v1/jobs/"+tc.record.ID, nil, &got)
		if got.Status != "completed" || deref(got.ArtifactID) != *tc.record.ArtifactID || (got.ArtifactDeletedAt != nil) != tc.deleted {
			t.Errorf("job %s: status %s, artifact %s, deleted at %v; want completed, artifact %s, deleted %v",
				tc.record.ID, got.Status, deref(got.ArtifactID), got.ArtifactDeletedAt, *tc.record.ArtifactID, tc.deleted)
		}
	}
	var list []json.RawMessage
	c.must(t, 200, "GET", "/api/v1/jobs?status_filter=completed", nil, &list)
	if len(list) != len(jobs) {
		t.Errorf("%d completed jobs listed, want %d", len(list), len(jobs))
	}
	r, err := c.try("GET", "/metrics", nil)
	if err != nil || !strings.Contains(string(r.body), `chaptask_artifacts_removed_total{reason="retention"} 1`) ||
		!strings.Contains(string(r.body), `chaptask_artifacts_removed_total{reason="api"} 1`) {
		t.Errorf("metrics do not count the removals: %v", err)
	}
}
