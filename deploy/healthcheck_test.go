package deploy

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
)

// runHealthcheck runs chaptask-healthcheck.sh with only PATH and env set,
// and reports whether it passed (exit status 0) and what it printed.
func runHealthcheck(t *testing.T, env ...string) (bool, string) {
	t.Helper()
	cmd := exec.Command("sh", "chaptask-healthcheck.sh")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("run health check: %v", err)
		}
	}
	return err == nil, string(out)
}

func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("the health check reads /proc/net and runs in Linux containers only")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed: %v", tool, err)
		}
	}
}

func TestHealthcheckAPI(t *testing.T) {
	requireTools(t, "sh", "curl")
	var status atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(int(status.Load()))
	}))
	defer srv.Close()
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		role   string
		status int
		want   bool
	}{
		{"api", http.StatusOK, true},
		{"api", http.StatusServiceUnavailable, false},
		{"all", http.StatusOK, true},
		{"", http.StatusOK, true}, // the binary's default role is all
		{"all", http.StatusServiceUnavailable, false},
	} {
		t.Run(tc.role+"/"+strconv.Itoa(tc.status), func(t *testing.T) {
			status.Store(int32(tc.status))
			ok, out := runHealthcheck(t, "CHAPTASK_ROLE="+tc.role, "CHAPTASK_HTTP_ADDR=0.0.0.0:"+port)
			if ok != tc.want {
				t.Errorf("healthy = %v, want %v (output %q)", ok, tc.want, out)
			}
		})
	}
}

func TestHealthcheckWorker(t *testing.T) {
	requireTools(t, "sh", "awk")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := ln.Accept(); err == nil {
			accepted <- c
		}
	}()
	addr := "TEMPORAL_ADDRESS=" + ln.Addr().String()

	if ok, out := runHealthcheck(t, "CHAPTASK_ROLE=worker", addr); ok {
		t.Errorf("healthy without a connection to Temporal (output %q)", out)
	}

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if ok, out := runHealthcheck(t, "CHAPTASK_ROLE=worker", addr); !ok {
		t.Errorf("unhealthy while connected to Temporal (output %q)", out)
	}
	conn.Close()
	(<-accepted).Close()
}
