package reliability

import (
	"encoding/json"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/chaptask/chaptask/db/dbtest"
	"github.com/chaptask/chaptask/internal/testclient"
)

// stallProxy forwards connections to a target until it is stalled: then
// it still accepts connections but forwards nothing either way, on new and
// open connections alike, as a database host whose disk or network froze.
// When the stall ends, every connection that saw it is closed, as a peer
// that timed out would find it: nothing held back is delivered late, and
// the shared server never gets a burst of connections nobody uses.
type stallProxy struct {
	addr    string
	target  string
	mu      sync.Mutex
	stalled bool
	resumed chan struct{} // closed when a stall ends
}

func newStallProxy(t *testing.T, target string) *stallProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &stallProxy{addr: ln.Addr().String(), target: target, resumed: make(chan struct{})}
	close(p.resumed)
	var conns sync.WaitGroup
	t.Cleanup(func() { p.resume(); ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			go func() { defer conns.Done(); p.forward(c) }()
		}
	}()
	return p
}

// gate blocks while the proxy is stalled and reports whether it did.
func (p *stallProxy) gate() (waited bool) {
	p.mu.Lock()
	resumed, stalled := p.resumed, p.stalled
	p.mu.Unlock()
	<-resumed
	return stalled
}

func (p *stallProxy) stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.stalled {
		p.stalled = true
		p.resumed = make(chan struct{})
	}
}

func (p *stallProxy) resume() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stalled {
		p.stalled = false
		close(p.resumed)
	}
}

func (p *stallProxy) forward(client net.Conn) {
	defer client.Close()
	if p.gate() {
		return
	}
	server, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		return
	}
	defer server.Close()
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				if p.gate() {
					break // held back by a stall: dropped with the connection
				}
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		dst.Close()
		src.Close()
	}
	go pipe(server, client)
	pipe(client, server)
}

// TestDatabaseStall freezes PostgreSQL (connections accepted, nothing
// answered) under a running service: every request that needs the
// database must answer 503 with Retry-After within the database timeout
// plus a second, the first on a connection and all that follow, while
// requests keep arriving from several clients at once; /health names the
// database; once the stall ends everything works again.
func TestDatabaseStall(t *testing.T) {
	const dbTimeout = 2 * time.Second
	const bound = dbTimeout + time.Second
	pgURL := dbtest.PostgresURL(t)
	u, err := url.Parse(pgURL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newStallProxy(t, u.Host)
	u.Host = proxy.addr

	env := childEnv(t.TempDir())
	env["DATABASE_URL"] = u.String()
	env["CHAPTASK_DB_TIMEOUT"] = dbTimeout.String()
	p := start(t, "chaptask", env)
	c := newClient(p.base)

	task := c.createTask(t, map[string]any{"command": "echo stalled"})
	jobID := c.execute(t, task)
	c.waitFinished(t, 1, time.Minute)
	var done job
	c.must(t, 200, "GET", "/api/v1/jobs/"+jobID, nil, &done)

	proxy.stall()
	stallBegan := time.Now()
	probes := []struct {
		method, path string
		body         any
	}{
		{"GET", "/api/v1/tasks", nil},
		{"GET", "/api/v1/tasks?page=1&size=10", nil},
		{"GET", "/api/v1/tasks/" + task, nil},
		{"POST", "/api/v1/tasks", map[string]any{"command": "echo during the stall"}},
		{"PUT", "/api/v1/tasks/" + task, map[string]any{"command": "echo replaced"}},
		{"POST", "/api/v1/tasks/" + task + "/$execute", nil},
		{"GET", "/api/v1/artifacts", nil},
		{"GET", "/api/v1/artifacts/" + deref(done.ArtifactID), nil},
		{"GET", "/api/v1/artifacts/" + deref(done.ArtifactID) + "/$tree", nil},
		{"DELETE", "/api/v1/artifacts/" + deref(done.ArtifactID), nil},
		{"GET", "/api/v1/jobs/" + jobID + "/$logs", nil},
	}
	// Several rounds from several clients at once: more requests than the
	// pool has connections, so later ones wait for a connection too.
	const clients, rounds = 6, 2
	var mu sync.Mutex
	var requests int
	var slowest time.Duration
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				for _, pr := range probes {
					sent := time.Now()
					r, err := c.try(pr.method, pr.path, pr.body)
					took := time.Since(sent)
					mu.Lock()
					requests++
					slowest = max(slowest, took)
					mu.Unlock()
					if err != nil {
						t.Errorf("%s %s during the stall: %v", pr.method, pr.path, err)
						continue
					}
					var doc problemDoc
					if r.status != 503 || r.header.Get("Retry-After") == "" ||
						json.Unmarshal(r.body, &doc) != nil || doc.Type != typeUnavailable {
						t.Errorf("%s %s during the stall: %s (Retry-After %q), want a 503 %s problem with Retry-After",
							pr.method, pr.path, r, r.header.Get("Retry-After"), typeUnavailable)
					}
					if took > bound {
						t.Errorf("%s %s during the stall took %s, want at most %s", pr.method, pr.path, took.Round(time.Millisecond), bound)
					}
				}
			}
		}()
	}
	var healthSlowest time.Duration
	for range 3 {
		sent := time.Now()
		r, err := c.try("GET", "/health", nil)
		took := time.Since(sent)
		healthSlowest = max(healthSlowest, took)
		if err != nil {
			t.Fatalf("GET /health during the stall: %v", err)
		}
		var health struct {
			Checks map[string]string `json:"checks"`
		}
		if r.status != 503 || json.Unmarshal(r.body, &health) != nil || health.Checks["database"] != "unhealthy" ||
			health.Checks["temporal"] != "healthy" || r.header.Get("Retry-After") == "" {
			t.Errorf("GET /health during the stall: %s, want 503 naming the database only, with Retry-After", r)
		}
		if took > bound {
			t.Errorf("GET /health during the stall took %s, want at most %s", took.Round(time.Millisecond), bound)
		}
	}
	wg.Wait()
	stall := time.Since(stallBegan)
	proxy.resume()

	testclient.Eventually(t, time.Minute, 100*time.Millisecond, func() bool {
		r, err := c.try("GET", "/health", nil)
		return err == nil && r.status == 200
	}, func() string { return "health still failing after the stall ended" })
	// A task created during the stall may exist (its INSERT may have
	// reached the database); none may exist twice, and the service works.
	after := c.createTask(t, map[string]any{"command": "echo after"})
	c.execute(t, after)
	c.must(t, 200, "GET", "/api/v1/artifacts/"+deref(done.ArtifactID), nil, nil)
	t.Logf("FIGURE: stall: PostgreSQL stalled for %s with CHAPTASK_DB_TIMEOUT=%s; %d requests from %d clients, all 503 with Retry-After, slowest %s; /health slowest %s",
		stall.Round(100*time.Millisecond), dbTimeout, requests, clients, slowest.Round(time.Millisecond), healthSlowest.Round(time.Millisecond))
}
