package api_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/chaptask/chaptask/api"
)

// serveLimited serves h with limits on a free loopback port.
func serveLimited(t *testing.T, limits api.ConnLimits, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	ln = limits.Apply(srv, ln)
	go srv.Serve(ln) //nolint:errcheck // ends with Close
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// slowBody opens a connection that declares a body it sends slowly.
func slowBody(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprint(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
	return c
}

func get(addr, path string) (int, error) {
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	res, err := c.Get("http://" + addr + path)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode, nil
}

func TestConnLimits(t *testing.T) {
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.ReadAll(r.Body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	})
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		http.NewResponseController(w).Flush() //nolint:errcheck // test stream
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	t.Cleanup(func() { close(release) })

	t.Run("slow bodies make room", func(t *testing.T) {
		addr := serveLimited(t, api.ConnLimits{MaxConns: 4, ReadTimeout: time.Minute}, mux)
		for range 4 {
			slowBody(t, addr)
		}
		for i := range 10 {
			if status, err := get(addr, "/health"); err != nil || status != http.StatusOK {
				t.Fatalf("probe %d with 4 slow bodies at a cap of 4: %d %v", i, status, err)
			}
		}
	})

	t.Run("body deadline", func(t *testing.T) {
		addr := serveLimited(t, api.ConnLimits{MaxConns: 100, ReadTimeout: time.Second}, mux)
		c := slowBody(t, addr)
		began := time.Now()
		c.SetReadDeadline(time.Now().Add(10 * time.Second)) //nolint:errcheck // test conn
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("no answer to a body that never arrives: %v", err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest || time.Since(began) > 5*time.Second {
			t.Errorf("unfinished body: %d after %s, want 400 after about the 1 s read timeout", res.StatusCode, time.Since(began))
		}
	})

	t.Run("streams are kept and overflow refused", func(t *testing.T) {
		addr := serveLimited(t, api.ConnLimits{MaxConns: 2, ReadTimeout: time.Second}, mux)
		var streams []*http.Response
		for range 2 {
			res, err := http.Get("http://" + addr + "/stream")
			if err != nil {
				t.Fatal(err)
			}
			streams = append(streams, res)
		}
		// Past the read timeout, streams without a body are not cut.
		time.Sleep(1500 * time.Millisecond)
		status, err := get(addr, "/health")
		if err != nil || status != http.StatusServiceUnavailable {
			t.Errorf("new connection with every slot streaming: %d %v, want 503", status, err)
		}
		for _, res := range streams {
			res.Body.Close()
		}
		// Closed streams free their slots.
		deadline := time.Now().Add(5 * time.Second)
		for {
			status, err := get(addr, "/health")
			if err == nil && status == http.StatusOK {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("slots not freed after streams closed: %d %v", status, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}
