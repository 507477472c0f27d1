package embedded_test

import (
	"slices"
	"go.temporal.io/sdk/client"
	"testing"
	"time"

	"github.com/chaptask/chaptask/embedded"
)

func TestZZStartTimes(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  embedded.Config
	}{
		{"memory", embedded.Config{FrontendAddr: "127.0.0.1:0"}},
		{"memory+sa", embedded.Config{FrontendAddr: "127.0.0.1:0", SearchAttributes: searchAttributes}},
		{"memory+sa+ui", embedded.Config{FrontendAddr: "127.0.0.1:0", SearchAttributes: searchAttributes, UIAddr: "127.0.0.1:0"}},
		{"file-new", embedded.Config{FrontendAddr: "127.0.0.1:0", SearchAttributes: searchAttributes, DataDir: t.TempDir()}},
	} {
		began := time.Now()
		srv, err := embedded.Start(t.Context(), tc.cfg)
		if err != nil {
			t.Fatal(err)
		}
		started := time.Since(began)
		began = time.Now()
		if err := srv.Stop(); err != nil {
			t.Fatal(err)
		}
		t.Logf("%-14s start %v stop %v", tc.name, started.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
	}
}

func TestZZCold(t *testing.T) {
	cfg := embedded.Config{FrontendAddr: "127.0.0.1:0", SearchAttributes: searchAttributes}
	if testing.Short() {
		cfg.DataDir = t.TempDir()
	}
	began := time.Now()
	srv, err := embedded.Start(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cold start (file=%v): %v", cfg.DataDir != "", time.Since(began).Round(time.Millisecond))
	srv.Stop()
}

func TestZZColdDir(t *testing.T) {
	dir := "/tmp/zzdir"
	began := time.Now()
	srv, err := embedded.Start(t.Context(), embedded.Config{FrontendAddr: "127.0.0.1:0", SearchAttributes: searchAttributes, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cold start dir: %v", time.Since(began).Round(time.Millisecond))
	srv.Stop()
}

func TestZZLatency(t *testing.T) {
	for _, dir := range []string{"", t.TempDir()} {
		srv, err := embedded.Start(t.Context(), embedded.Config{FrontendAddr: "127.0.0.1:0", DataDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		c := dial(t, srv)
		w := startWorker(t, c)
		var durs []time.Duration
		for i := 0; i < 60; i++ {
			began := time.Now()
			run, err := c.ExecuteWorkflow(t.Context(), client.StartWorkflowOptions{TaskQueue: taskQueue}, greetWorkflow, greetInput{Name: "x"})
			if err != nil {
				t.Fatal(err)
			}
			if err := run.Get(t.Context(), nil); err != nil {
				t.Fatal(err)
			}
			durs = append(durs, time.Since(began))
		}
		slices.Sort(durs)
		var sum time.Duration
		for _, d := range durs[10:] {
			sum += d
		}
		t.Logf("file=%v: workflow+activity round trip: median %v p90 %v max %v mean(after warmup) %v", dir != "", durs[30], durs[54], durs[59], sum/50)
		w.Stop()
		c.Close()
		srv.Stop()
	}
}
