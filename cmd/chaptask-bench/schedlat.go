package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// schedMetric is the Go runtime's histogram of how long runnable goroutines
// waited for a CPU, as the service's /metrics reports it.
const schedMetric = "go_sched_latencies_seconds"

// schedHistogram is a cumulative histogram: counts[i] goroutine wake-ups
// waited at most bounds[i] seconds. The last bound is +Inf.
type schedHistogram struct {
	bounds []float64
	counts []float64
}

// schedLatencies reads the service's scheduling latency histogram.
func (c *apiClient) schedLatencies(ctx context.Context) (schedHistogram, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/metrics", nil)
	if err != nil {
		return schedHistogram{}, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return schedHistogram{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return schedHistogram{}, fmt.Errorf("GET /metrics: status %d", resp.StatusCode)
	}
	return parseSchedHistogram(bufio.NewScanner(resp.Body))
}

// parseSchedHistogram reads the buckets of schedMetric from Prometheus text
// exposition lines.
func parseSchedHistogram(lines *bufio.Scanner) (schedHistogram, error) {
	type bucket struct{ bound, count float64 }
	var buckets []bucket
	prefix := schedMetric + `_bucket{le="`
	for lines.Scan() {
		rest, ok := strings.CutPrefix(lines.Text(), prefix)
		if !ok {
			continue
		}
		le, value, ok := strings.Cut(rest, `"} `)
		if !ok {
			return schedHistogram{}, fmt.Errorf("%s: malformed bucket line %q", schedMetric, lines.Text())
		}
		bound, err := strconv.ParseFloat(le, 64)
		if err != nil {
			return schedHistogram{}, fmt.Errorf("%s: bucket bound %q: %w", schedMetric, le, err)
		}
		count, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return schedHistogram{}, fmt.Errorf("%s: bucket count %q: %w", schedMetric, value, err)
		}
		buckets = append(buckets, bucket{bound, count})
	}
	if err := lines.Err(); err != nil {
		return schedHistogram{}, err
	}
	if len(buckets) == 0 {
		return schedHistogram{}, fmt.Errorf("/metrics has no %s", schedMetric)
	}
	sort.Slice(buckets, func(i, j int) bool { return buckets[i].bound < buckets[j].bound })
	var h schedHistogram
	for _, b := range buckets {
		h.bounds = append(h.bounds, b.bound)
		h.counts = append(h.counts, b.count)
	}
	return h, nil
}

// since is the histogram of the wake-ups after before was read.
func (h schedHistogram) since(before schedHistogram) schedHistogram {
	d := schedHistogram{bounds: h.bounds, counts: make([]float64, len(h.counts))}
	for i := range h.counts {
		d.counts[i] = h.counts[i]
		if len(before.counts) == len(h.counts) {
			d.counts[i] -= before.counts[i]
		}
	}
	return d
}

// quantile is the bucket holding the q-th wake-up, as its lower and upper
// bound (runtime/metrics buckets are a factor of ~10 apart here), and false
// when the histogram is empty.
func (h schedHistogram) quantile(q float64) (lo, hi float64, ok bool) {
	if len(h.counts) == 0 || h.counts[len(h.counts)-1] <= 0 {
		return 0, 0, false
	}
	want := q * h.counts[len(h.counts)-1]
	i := min(sort.Search(len(h.counts), func(i int) bool { return h.counts[i] >= want }), len(h.counts)-1)
	if i > 0 {
		lo = h.bounds[i-1]
	}
	return lo, h.bounds[i], true
}

// shareAbove is the fraction of wake-ups that waited longer than the first
// bucket bound at or above limit seconds, and that bound.
func (h schedHistogram) shareAbove(limit float64) (bound, share float64, ok bool) {
	total := 0.0
	if len(h.counts) > 0 {
		total = h.counts[len(h.counts)-1]
	}
	if total <= 0 {
		return 0, 0, false
	}
	for i, b := range h.bounds {
		if b >= limit {
			return b, 1 - h.counts[i]/total, true
		}
	}
	return 0, 0, false
}
