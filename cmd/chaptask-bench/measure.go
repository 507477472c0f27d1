package main

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// summary is the distribution of a set of latencies.
type summary struct {
	N             int
	P50, P95, P99 time.Duration
	Max           time.Duration
}

// summarize returns nearest-rank percentiles of ds (which it does not
// modify); the zero summary when ds is empty.
func summarize(ds []time.Duration) summary {
	if len(ds) == 0 {
		return summary{}
	}
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	return summary{
		N:   len(sorted),
		P50: percentile(sorted, 50),
		P95: percentile(sorted, 95),
		P99: percentile(sorted, 99),
		Max: sorted[len(sorted)-1],
	}
}

// percentile returns the nearest-rank p-th percentile of sorted, which must
// not be empty: the smallest value with at least p% of the values at or
// below it.
func percentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// clockTicks is USER_HZ, the unit of CPU times in /proc; 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// cpuTimes is CPU time spent by processes.
type cpuTimes struct {
	Self     time.Duration // utime + stime
	Children time.Duration // cutime + cstime: children that exited and were reaped
}

func (c cpuTimes) add(o cpuTimes) cpuTimes {
	return cpuTimes{Self: c.Self + o.Self, Children: c.Children + o.Children}
}

func (c cpuTimes) sub(o cpuTimes) cpuTimes {
	return cpuTimes{Self: c.Self - o.Self, Children: c.Children - o.Children}
}

// readCPU reads the CPU times of a process from /proc/<pid>/stat; pid 0
// means this process.
func readCPU(pid int) (cpuTimes, error) {
	raw, err := os.ReadFile(procPath(pid, "stat"))
	if err != nil {
		return cpuTimes{}, fmt.Errorf("read CPU times: %w", err)
	}
	return parseStat(raw)
}

// parseStat extracts the CPU times from the contents of /proc/<pid>/stat.
// The command name (field 2) may contain spaces and parentheses, so fields
// are counted after its closing parenthesis: field 3 (state) comes first,
// utime, stime, cutime and cstime are fields 14 to 17.
func parseStat(raw []byte) (cpuTimes, error) {
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return cpuTimes{}, fmt.Errorf("malformed stat %q", raw)
	}
	fields := strings.Fields(string(raw[i+1:]))
	const first = 3 // the field number of fields[0]
	if len(fields) < 17-first+1 {
		return cpuTimes{}, fmt.Errorf("malformed stat %q", raw)
	}
	var ticks [4]int64
	for k := range ticks {
		v, err := strconv.ParseInt(fields[14+k-first], 10, 64)
		if err != nil {
			return cpuTimes{}, fmt.Errorf("malformed stat field %d: %w", 14+k, err)
		}
		ticks[k] = v
	}
	toDuration := func(t int64) time.Duration { return time.Duration(t) * time.Second / clockTicks }
	return cpuTimes{Self: toDuration(ticks[0] + ticks[1]), Children: toDuration(ticks[2] + ticks[3])}, nil
}

// readMachineBusy returns the CPU time all processes of the machine have
// spent, from the first line of /proc/stat: user, nice, system, irq,
// softirq and steal (idle and iowait are not busy).
func readMachineBusy() (time.Duration, error) {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, fmt.Errorf("read machine CPU time: %w", err)
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	fields := strings.Fields(line)
	if len(fields) < 9 || fields[0] != "cpu" {
		return 0, fmt.Errorf("malformed /proc/stat line %q", line)
	}
	var busy int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		v, err := strconv.ParseInt(fields[i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("malformed /proc/stat line %q: %w", line, err)
		}
		busy += v
	}
	return time.Duration(busy) * time.Second / clockTicks, nil
}

// readPeakRSS returns the peak resident set size (VmHWM) of a process in
// bytes; pid 0 means this process.
func readPeakRSS(pid int) (int64, error) {
	f, err := os.Open(procPath(pid, "status"))
	if err != nil {
		return 0, fmt.Errorf("read peak RSS: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse VmHWM %q: %w", rest, err)
		}
		return kb << 10, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("read peak RSS: %w", err)
	}
	return 0, fmt.Errorf("no VmHWM in %s", procPath(pid, "status"))
}

func procPath(pid int, name string) string {
	if pid == 0 {
		return "/proc/self/" + name
	}
	return "/proc/" + strconv.Itoa(pid) + "/" + name
}
