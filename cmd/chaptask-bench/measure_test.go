package main

import (
	"strings"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		// Reversed, to show that the input need not be sorted.
		hundred[i] = time.Duration(100-i) * time.Millisecond
	}
	tests := []struct {
		name string
		in   []time.Duration
		want summary
	}{
		{"empty", nil, summary{}},
		{"one", []time.Duration{7}, summary{N: 1, P50: 7, P95: 7, P99: 7, Max: 7}},
		{"two", []time.Duration{2, 1}, summary{N: 2, P50: 1, P95: 2, P99: 2, Max: 2}},
		{"hundred", hundred, summary{N: 100, P50: 50 * time.Millisecond, P95: 95 * time.Millisecond, P99: 99 * time.Millisecond, Max: 100 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := summarize(tt.in); got != tt.want {
				t.Errorf("summarize = %+v, want %+v", got, tt.want)
			}
		})
	}
	if hundred[0] != 100*time.Millisecond {
		t.Errorf("summarize sorted its input")
	}
}

func TestParseStat(t *testing.T) {
	// A command name with spaces and a parenthesis; utime 150, stime 50,
	// cutime 30, cstime 20 ticks.
	fields := strings.Fields("S 1 2 3 4 5 6 7 8 9 10 150 50 30 20 20 0 1 0 100 200 300")
	raw := "1234 (my (cmd) x) " + strings.Join(fields, " ")
	got, err := parseStat([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	want := cpuTimes{Self: 2 * time.Second, Children: 500 * time.Millisecond}
	if got != want {
		t.Errorf("parseStat = %+v, want %+v", got, want)
	}
	if _, err := parseStat([]byte("1234 (x) S 1 2")); err == nil {
		t.Error("parseStat accepted a short line")
	}
}

func TestPhaseFigures(t *testing.T) {
	p := phase{
		Latencies: make([]time.Duration, 200),
		Wall:      4 * time.Second,
		CPU:       cpuTimes{Self: time.Second, Children: 200 * time.Millisecond},
		Statuses:  map[string]int{"completed": 197, "failed": 2, "canceled": 1},
	}
	if got := p.jobsPerSecond(); got != 50 {
		t.Errorf("jobsPerSecond = %v, want 50", got)
	}
	if got, want := p.perJob(), (cpuTimes{Self: 5 * time.Millisecond, Children: time.Millisecond}); got != want {
		t.Errorf("perJob = %+v, want %+v", got, want)
	}
	if got, want := p.unexpected(), "1 canceled, 2 failed"; got != want {
		t.Errorf("unexpected = %q, want %q", got, want)
	}
}
