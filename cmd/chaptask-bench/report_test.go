package main

import (
	"strings"
	"testing"
	"time"
)

func TestRatio(t *testing.T) {
	tests := []struct {
		a, b float64
		want string
	}{
		{10, 20, "x0.50"},
		{30, 10, "x3.00"},
		{1, 0, "n/a"},
		{0, 1, "n/a"},
	}
	for _, tt := range tests {
		if got := ratio(tt.a, tt.b); got != tt.want {
			t.Errorf("ratio(%v, %v) = %q, want %q", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestMilliseconds(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{1234 * time.Microsecond, "1.23"},
		{12345 * time.Microsecond, "12.3"},
		{0, "0.00"},
	}
	for _, tt := range tests {
		if got := msNumber(tt.d, true); got != tt.want {
			t.Errorf("msNumber(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
	if got := msNumber(time.Second, false); got != "-" {
		t.Errorf("msNumber of an unmeasured value = %q, want -", got)
	}
}

func TestReportRatiosAndTable(t *testing.T) {
	chaptask := &phase{Latencies: make([]time.Duration, 100), Wall: time.Second, CPU: cpuTimes{Self: time.Second}}
	naive := &phase{Latencies: make([]time.Duration, 100), Wall: 4 * time.Second, CPU: cpuTimes{Self: 4 * time.Second}}
	r := report{
		Config: "test",
		Rows: []row{
			{Design: primaryDesign, Serial: summary{N: 1, P50: 10 * time.Millisecond}, Saturated: chaptask},
			{Design: "chaptask echo (HTTP SSE)", Serial: summary{N: 1, P50: 12 * time.Millisecond}},
			{Design: naiveDesign, Serial: summary{N: 1, P50: 40 * time.Millisecond}, Saturated: naive},
		},
	}
	want := "ratios (chaptask ÷ reference): chaptask poll vs naive: serial p50 x0.25, jobs/s x4.00, CPU/job x0.25"
	if got := r.ratios(); got != want {
		t.Errorf("ratios =\n%s\nwant\n%s", got, want)
	}

	var b strings.Builder
	if err := r.write(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	// The configuration, a blank line, the header and the rows, all of
	// the table's lines the same width.
	table := lines[2:6]
	for _, l := range table[1:] {
		if len([]rune(l)) != len([]rune(table[0])) {
			t.Errorf("table lines differ in width:\n%s", strings.Join(table, "\n"))
			break
		}
	}
	if !strings.HasPrefix(table[3], naiveDesign+" ") || !strings.HasSuffix(table[2], "-") {
		t.Errorf("unexpected table:\n%s", strings.Join(table, "\n"))
	}
}
