package reliability

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/chaptask/chaptask/db/dbtest"
	"github.com/chaptask/chaptask/internal/testclient"
)

// tcpProxy forwards connections to a target. An outage cuts every open
// connection and then either refuses new ones (the listener is closed, as
// when the database host is gone) or accepts and drops them at once (as a
// restarting server does); a stall keeps every connection open and
// answers nothing on any (as a host that hangs does); bringing it up
// forwards again on the same address.
type tcpProxy struct {
	t      *testing.T
	target string
	addr   string

	mu       sync.Mutex
	ln       net.Listener
	dropping bool
	stalled  bool
	conns    map[net.Conn]struct{}
	held     []net.Conn // accepted while stalled, never answered
}

func newProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{t: t, target: target, addr: ln.Addr().String(), conns: map[net.Conn]struct{}{}}
	p.serve(ln)
	t.Cleanup(func() { p.cut(true) })
	return p
}

func (p *tcpProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.forward(c)
		}
	}()
}

func (p *tcpProxy) forward(client net.Conn) {
	p.mu.Lock()
	dropping, stalled := p.dropping, p.stalled
	if stalled {
		p.held = append(p.held, client)
	}
	p.mu.Unlock()
	if dropping {
		client.Close()
		return
	}
	if stalled {
		return
	}
	server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		client.Close()
		return
	}
	p.mu.Lock()
	if p.ln == nil || p.dropping { // went down while dialling
		p.mu.Unlock()
		client.Close()
		server.Close()
		return
	}
	p.conns[client], p.conns[server] = struct{}{}, struct{}{}
	p.mu.Unlock()
	go p.pipe(server, client)
	p.pipe(client, server)
	p.mu.Lock()
	delete(p.conns, client)
	delete(p.conns, server)
	p.mu.Unlock()
}

// pipe copies src to dst until either side closes, dropping what arrives
// while the proxy stalls.
func (p *tcpProxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		p.mu.Lock()
		stalled := p.stalled
		p.mu.Unlock()
		if n > 0 && !stalled {
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// stall keeps every connection open and answers nothing on any of them.
func (p *tcpProxy) stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stalled = true
}

// cut closes the open connections and refuses (refuse) or drops new ones.
func (p *tcpProxy) cut(refuse bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closeHeld()
	if refuse && p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	p.dropping = !refuse
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// up forwards connections again on the same address. Connections that
// stalled are closed, as a peer that comes back after a long silence
// resets them.
func (p *tcpProxy) up() {
	p.t.Helper()
	p.mu.Lock()
	p.dropping = false
	if p.stalled {
		p.stalled = false
		for c := range p.conns {
			c.Close()
			delete(p.conns, c)
		}
	}
	p.closeHeld()
	listening := p.ln != nil
	p.mu.Unlock()
	if listening {
		return
	}
	var ln net.Listener
	testclient.Eventually(p.t, 30*time.Second, 50*time.Millisecond, func() bool {
		var err error
		ln, err = net.Listen("tcp", p.addr)
		return err == nil
	}, func() string { return "cannot listen on " + p.addr + " again" })
	p.serve(ln)
}

func (p *tcpProxy) closeHeld() {
	for _, c := range p.held {
		c.Close()
	}
	p.held = nil
}

// problemDoc is what the tests read of an RFC 9457 problem document.
type problemDoc struct {
	Type   string `json:"type"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

const typeUnavailable = "urn:chapkit:error:service-unavailable"

// TestDatabaseOutage cuts the service off from PostgreSQL while jobs run,
// once refusing new connections and once accepting and dropping them.
// Temporal's own store (the embedded server's SQLite) stays up. Meanwhile
// every database-backed endpoint must answer 503 with a problem document,
// never 500 and never hang, and /health must name the database; once the
// database is back the jobs in flight complete with one artifact each.
func TestDatabaseOutage(t *testing.T) {
	t.Run("refused", func(t *testing.T) { testOutage(t, true) })
	t.Run("dropped", func(t *testing.T) { testOutage(t, false) })
}

func testOutage(t *testing.T, refuse bool) {
	began := time.Now()
	proxy, p, c := startBehindProxy(t, dbtest.PostgresURL(t), 8, nil)

	marks := t.TempDir()
	quick := c.createTask(t, map[string]any{"command": "echo quick"})
	slow := c.createTask(t, map[string]any{"command": "sleep 3; echo done; touch " + marks + "/$CHAPTASK_JOB_ID"})
	quickJob := c.execute(t, quick)
	c.waitFinished(t, 1, time.Minute)
	var done job
	c.must(t, 200, "GET", "/api/v1/jobs/"+quickJob, nil, &done)

	const inFlight = 4
	jobTask := map[string]string{quickJob: quick}
	for range inFlight {
		jobTask[c.execute(t, slow)] = slow
	}
	testclient.Eventually(t, time.Minute, 50*time.Millisecond, func() bool { return c.countJobs(t, "running") == inFlight },
		func() string { return fmt.Sprintf("%d of %d jobs running", c.countJobs(t, "running"), inFlight) })

	// The outage.
	proxy.cut(refuse)
	outageBegan := time.Now()
	probes := []struct{ method, path string }{
		{"GET", "/api/v1/tasks"},
		{"GET", "/api/v1/tasks?page=1&size=10"},
		{"GET", "/api/v1/tasks/" + slow},
		{"POST", "/api/v1/tasks/" + slow + "/$execute"},
		{"GET", "/api/v1/artifacts"},
		{"GET", "/api/v1/artifacts/" + deref(done.ArtifactID)},
		{"GET", "/api/v1/artifacts/" + deref(done.ArtifactID) + "/$tree"},
	}
	var requests int
	var slowest time.Duration
	probe := func() {
		for _, pr := range probes {
			sent := time.Now()
			r, err := c.try(pr.method, pr.path, nil)
			slowest = max(slowest, time.Since(sent))
			requests++
			if err != nil {
				t.Errorf("%s %s during the outage: %v", pr.method, pr.path, err)
				continue
			}
			var doc problemDoc
			if r.status != 503 || r.header.Get("Content-Type") != "application/problem+json" ||
				json.Unmarshal(r.body, &doc) != nil || doc.Type != typeUnavailable {
				t.Errorf("%s %s during the outage: %s (%s), want a 503 %s problem",
					pr.method, pr.path, r, r.header.Get("Content-Type"), typeUnavailable)
			}
		}
		// Job lists come from Temporal, and the finished jobs on this one
		// were read before the outage: their records are known, so the
		// list needs no database.
		var completed []job
		if r, err := c.try("GET", "/api/v1/jobs?status_filter=completed", nil); err != nil {
			t.Errorf("GET /api/v1/jobs?status_filter=completed during the outage: %v", err)
		} else if r.status != 200 || json.Unmarshal(r.body, &completed) != nil || len(completed) != 1 ||
			completed[0].ID != quickJob || deref(completed[0].ArtifactID) != deref(done.ArtifactID) {
			t.Errorf("GET /api/v1/jobs?status_filter=completed during the outage: %s, want 200 listing %s with artifact %s",
				r, quickJob, deref(done.ArtifactID))
		}

		r, err := c.try("GET", "/health", nil)
		requests++
		if err != nil {
			t.Fatalf("GET /health during the outage: %v", err)
		}
		var health struct {
			Checks map[string]string `json:"checks"`
		}
		if r.status != 503 || json.Unmarshal(r.body, &health) != nil ||
			health.Checks["database"] != "unhealthy" || health.Checks["temporal"] != "healthy" {
			t.Errorf("GET /health during the outage: %s, want 503 naming the database only", r)
		}
	}
	probe()
	// Hold the outage until every command in flight has finished, so their
	// results must wait for the database to be stored.
	testclient.Eventually(t, time.Minute, 50*time.Millisecond, func() bool { return countFiles(t, marks) == inFlight },
		func() string { return fmt.Sprintf("%d of %d commands finished", countFiles(t, marks), inFlight) })
	// … and every one of them has failed to store its artifact at least once.
	persistFailed := func() (n int) {
		for id := range jobTask {
			if id != quickJob && p.logged("store artifact failed", id) {
				n++
			}
		}
		return n
	}
	testclient.Eventually(t, time.Minute, 50*time.Millisecond, func() bool { return persistFailed() == inFlight },
		func() string {
			return fmt.Sprintf("%d of %d jobs tried to store their artifact", persistFailed(), inFlight)
		})
	probe()
	proxy.up()
	outage := time.Since(outageBegan)

	testclient.Eventually(t, time.Minute, 100*time.Millisecond, func() bool {
		r, err := c.try("GET", "/health", nil)
		return err == nil && r.status == 200
	}, func() string { return "health still failing after the database came back" })
	c.waitFinished(t, 1+inFlight, 2*time.Minute)
	lost, dup := c.checkOneArtifactEach(t, jobTask, func(taskID string, data map[string]any) error {
		want := map[string]string{quick: "quick\n", slow: "done\n"}[taskID]
		if data["stdout"] != want {
			return fmt.Errorf("stdout %q, want %q", data["stdout"], want)
		}
		return nil
	})
	// The total is a count shared by the service's requests, up to a few
	// seconds old: wait until it is the accepted jobs' count, which a job
	// started by a refused $execute never lets it be.
	var all page[job]
	testclient.Eventually(t, 30*time.Second, 100*time.Millisecond, func() bool {
		c.must(t, 200, "GET", "/api/v1/jobs?page=1&size=1", nil, &all)
		return all.Total == len(jobTask)
	}, func() string {
		return fmt.Sprintf("%d jobs exist, want %d: an $execute refused during the outage started one", all.Total, len(jobTask))
	})
	t.Logf("FIGURE: outage/%s: database cut for %s with %d jobs in flight; %d requests during it, all 503, slowest %s; "+
		"%d lost, %d duplicated; wall %s",
		t.Name()[len("TestDatabaseOutage/"):], outage.Round(100*time.Millisecond), inFlight, requests, slowest.Round(time.Millisecond), lost, dup, time.Since(began).Round(time.Second))
}

// startBehindProxy starts chaptask (embedded Temporal) on PostgreSQL at
// pgURL through a proxy the test controls, running jobs jobs at a time,
// with env added to its environment.
func startBehindProxy(t *testing.T, pgURL string, jobs int, env map[string]string) (*tcpProxy, *proc, *client) {
	t.Helper()
	u, err := url.Parse(pgURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newProxy(t, u.Host)
	u.Host = proxy.addr
	full := childEnv(t.TempDir())
	maps.Copy(full, env)
	full["DATABASE_URL"] = u.String()
	full["CHAPTASK_MAX_CONCURRENCY"] = strconv.Itoa(jobs)
	p := start(t, "chaptask", full)
	return proxy, p, newClient(p.base)
}

func countFiles(t *testing.T, dir string) int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if info, err := os.Stat(filepath.Join(dir, e.Name())); err == nil && info.Mode().IsRegular() {
			n++
		}
	}
	return n
}
