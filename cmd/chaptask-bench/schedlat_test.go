package main

import (
	"bufio"
	"math"
	"strings"
	"testing"
)

func TestSchedHistogram(t *testing.T) {
	read := func(text string) schedHistogram {
		t.Helper()
		h, err := parseSchedHistogram(bufio.NewScanner(strings.NewReader(text)))
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	before := read(`# HELP go_sched_latencies_seconds Distribution of the time goroutines have spent in the scheduler in a runnable state before actually running.
# TYPE go_sched_latencies_seconds histogram
go_sched_latencies_seconds_bucket{le="0.001"} 90
go_sched_latencies_seconds_bucket{le="0.0001"} 50
go_sched_latencies_seconds_bucket{le="0.01"} 100
go_sched_latencies_seconds_bucket{le="+Inf"} 100
go_sched_latencies_seconds_sum NaN
go_sched_latencies_seconds_count 100
go_goroutines 12
`)
	after := read(`go_sched_latencies_seconds_bucket{le="0.0001"} 150
go_sched_latencies_seconds_bucket{le="0.001"} 250
go_sched_latencies_seconds_bucket{le="0.01"} 299
go_sched_latencies_seconds_bucket{le="+Inf"} 300
`)
	d := after.since(before)
	for _, tt := range []struct {
		q      float64
		lo, hi float64
	}{{0.5, 0, 0.0001}, {0.7, 0.0001, 0.001}, {0.99, 0.001, 0.01}, {1, 0.01, math.Inf(1)}} {
		if lo, hi, ok := d.quantile(tt.q); !ok || lo != tt.lo || hi != tt.hi {
			t.Errorf("quantile(%v) = (%v, %v], %v; want (%v, %v]", tt.q, lo, hi, ok, tt.lo, tt.hi)
		}
	}
	if bound, share, ok := d.shareAbove(0.001); !ok || bound != 0.001 || math.Abs(share-0.2) > 1e-9 {
		t.Errorf("shareAbove(1 ms) = %v, %v, %v; want 0.001, 0.2", bound, share, ok)
	}
	if _, _, ok := before.since(before).quantile(0.5); ok {
		t.Errorf("quantile of an empty histogram reported a value")
	}
	if _, err := parseSchedHistogram(bufio.NewScanner(strings.NewReader("go_goroutines 12\n"))); err == nil {
		t.Errorf("metrics without the histogram: no error")
	}
}
