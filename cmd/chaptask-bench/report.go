package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// primaryDesign is the chaptask row the references are compared with.
const primaryDesign = "chaptask echo (HTTP poll)"

// row is one design in the table. Saturated is nil when it was not
// measured.
type row struct {
	Design    string
	Serial    summary
	Saturated *phase
}

// report is everything the bench prints on stdout.
type report struct {
	Config  string
	Rows    []row
	Reads   []labeledReads
	Notes   []string
	Elapsed time.Duration
}

// write prints the report: the configuration, the table, the ratios, the
// read test and the notes.
func (r report) write(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "chaptask-bench: %s\n\n", r.Config)

	cells := [][]string{{"design", "serial p50 ms", "p95 ms", "p99 ms", "|", "saturated jobs/s", "CPU ms/job", "shell CPU ms/job", "|", "server CPU ms/job", "PG CPU ms/job", "total CPU ms/job"}}
	for _, row := range r.Rows {
		measured := row.Serial.N > 0
		cells = append(cells, append([]string{row.Design,
			msNumber(row.Serial.P50, measured), msNumber(row.Serial.P95, measured), msNumber(row.Serial.P99, measured),
			"|", jobsPerSecond(row.Saturated), cpuPerJob(row.Saturated, false), cpuPerJob(row.Saturated, true), "|"},
			clusterCPU(row.Saturated)...))
	}
	b.WriteString(formatTable(cells))

	if line := r.ratios(); line != "" {
		b.WriteString(line + "\n")
	}
	for _, reads := range r.Reads {
		for _, l := range strings.Split(reads.line(), "\n") {
			b.WriteString(reads.Label + l + "\n")
		}
	}
	if len(r.Notes) > 0 {
		b.WriteString("notes:\n")
		for _, n := range r.Notes {
			b.WriteString("  - " + n + "\n")
		}
	}
	if r.Elapsed > 0 {
		fmt.Fprintf(&b, "elapsed: %s\n", r.Elapsed.Round(time.Second))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// formatTable lays out cells in columns two spaces apart: the first
// column aligned left, the others right.
func formatTable(cells [][]string) string {
	var widths []int
	for _, line := range cells {
		for i, c := range line {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	for _, line := range cells {
		for i, c := range line {
			pad := strings.Repeat(" ", widths[i]-utf8.RuneCountInString(c))
			switch {
			case i == 0:
				b.WriteString(c + pad)
			default:
				b.WriteString("  " + pad + c)
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// ratios compares the chaptask rows that were measured both ways (the
// polling clients' and the ?wait= clients') with each reference.
func (r report) ratios() string {
	find := func(design string) *row {
		for i := range r.Rows {
			if r.Rows[i].Design == design {
				return &r.Rows[i]
			}
		}
		return nil
	}
	var parts []string
	for _, ours := range []struct{ label, design string }{
		{"poll", primaryDesign},
		{"?wait=", waitDesign},
	} {
		mine := find(ours.design)
		if mine == nil || mine.Saturated == nil {
			continue
		}
		for _, ref := range []struct{ label, design string }{
			{"naive", naiveDesign},
			{"no-Temporal", rawDesign},
		} {
			other := find(ref.design)
			if other == nil {
				continue
			}
			parts = append(parts, fmt.Sprintf("chaptask %s vs %s: serial p50 %s, jobs/s %s, CPU/job %s", ours.label, ref.label,
				ratio(mine.Serial.P50.Seconds(), other.Serial.P50.Seconds()),
				ratio(rate(mine.Saturated), rate(other.Saturated)),
				ratio(selfCPU(mine.Saturated), selfCPU(other.Saturated))))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "ratios (chaptask ÷ reference): " + strings.Join(parts, "; ")
}

// line is the read test: the quiet reads, the reads under load with the
// service's scheduling latency meanwhile, and the peak RSS.
func (r readsResult) line() string {
	sched := "n/a"
	if bound, share, ok := r.Sched.shareAbove(schedSlowWait); ok {
		lo, hi, _ := r.Sched.quantile(0.99)
		sched = fmt.Sprintf("longer than %s ms in %.1f %% of wake-ups (p99 between %s and %s ms)",
			boundMs(bound), share*100, boundMs(lo), boundMs(hi))
	}
	var steps strings.Builder
	for _, st := range r.Steps {
		fmt.Fprintf(&steps, "API reads with %d finished jobs, 1 reader alone%s: %s (filling took %s for %d jobs, %.1f jobs/s; peak RSS so far %s)\n",
			st.Finished, st.Settled.note(), endpointsLine(st.Quiet), st.Fill.Round(time.Second), st.FillJobs, float64(st.FillJobs)/max(st.Fill.Seconds(), 0.001), rssLine(st.PeakRSS))
	}
	if r.FillJobs > 0 {
		fmt.Fprintf(&steps, "filling the history to %d finished jobs: %d jobs in %s (%.1f jobs/s)\n", r.Finished, r.FillJobs, r.Fill.Round(time.Second), float64(r.FillJobs)/max(r.Fill.Seconds(), 0.001))
	}
	return steps.String() + fmt.Sprintf("API reads with %d finished jobs, 1 reader alone%s: %s\n"+
		"API reads under load (%d jobs submitted meanwhile): %s; the service's goroutines waited for a CPU %s; peak RSS %s",
		r.Finished, r.Settled.note(), endpointsLine(r.Quiet), r.Submitted, endpointsLine(r.Endpoints), sched, rssLine(r.PeakRSS))
}

// endpointsLine lists the latency of each endpoint.
func endpointsLine(es []endpointResult) string {
	var parts []string
	for _, e := range es {
		p := fmt.Sprintf("%s p50 %s p99 %s", e.Name, ms(e.Latency.P50), ms(e.Latency.P99))
		if e.Latency.N < e.Requested {
			p += fmt.Sprintf(" (only %d of %d within the time limit)", e.Latency.N, e.Requested)
		}
		if e.Non200 > 0 {
			p += fmt.Sprintf(" (%d not 200)", e.Non200)
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "; ")
}

// schedSlowWait is where a goroutine's wait for a CPU stops being
// negligible next to the reads' own latency; Go preempts a goroutine after
// 10 ms of CPU, so waits past it mean every core was busy.
const schedSlowWait = 0.01

// boundMs formats a histogram bucket bound in seconds as milliseconds.
func boundMs(s float64) string {
	if math.IsInf(s, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(s*1000, 'g', 3, 64)
}

// ratio formats a/b as "x1.23", or "n/a" when either is unknown.
func ratio(a, b float64) string {
	if a <= 0 || b <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("x%.2f", a/b)
}

func rate(p *phase) float64 {
	if p == nil {
		return 0
	}
	return p.jobsPerSecond()
}

func selfCPU(p *phase) float64 {
	if p == nil {
		return 0
	}
	return p.perJob().Self.Seconds()
}

func jobsPerSecond(p *phase) string {
	if p == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f", p.jobsPerSecond())
}

func cpuPerJob(p *phase, children bool) string {
	if p == nil {
		return "-"
	}
	c := p.perJob()
	if children {
		return msNumber(c.Children, true)
	}
	return msNumber(c.Self, true)
}

// clusterCPU is the Temporal server's, PostgreSQL's and the total CPU per
// job (chaptask, its shells, the server and PostgreSQL), "-" where the
// bench does not run the server.
func clusterCPU(p *phase) []string {
	if p == nil || p.Cluster == nil {
		return []string{"-", "-", "-"}
	}
	own := p.perJob()
	c := p.Cluster
	return []string{msNumber(c.ServerCPU, true), msNumber(c.PGCPU, true), msNumber(own.Self+own.Children+c.ServerCPU+c.PGCPU, true)}
}

// labeledReads is the read test of one topology.
type labeledReads struct {
	Label string
	readsResult
}

// msNumber formats d in milliseconds without unit, "-" when !ok.
func msNumber(d time.Duration, ok bool) string {
	if !ok {
		return "-"
	}
	v := float64(d) / float64(time.Millisecond)
	if v < 10 {
		return fmt.Sprintf("%.2f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

// ms formats d in milliseconds with unit.
func ms(d time.Duration) string {
	return msNumber(d, true) + " ms"
}

// rssLine lists peak RSS figures by process.
func rssLine(rss []namedBytes) string {
	parts := make([]string, len(rss))
	for i, m := range rss {
		parts[i] = fmt.Sprintf("%s %.0f MiB", m.Name, float64(m.Bytes)/(1<<20))
	}
	return strings.Join(parts, ", ")
}
