package jobs

import (
	"fmt"
	"testing"
	"time"
)

func TestRunLengths(t *testing.T) {
	r := newRunLengths()
	if r.short("never-seen") {
		t.Error("a task never seen counts as short")
	}
	r.observe("quick", 20*time.Millisecond)
	r.observe("slow", 3*time.Second)
	if !r.short("quick") || r.short("slow") {
		t.Errorf("short(quick) = %v, short(slow) = %v; want true, false", r.short("quick"), r.short("slow"))
	}
	r.observe("quick", 2*time.Second) // its latest run counts
	if r.short("quick") {
		t.Error("a task whose latest run was long still counts as short")
	}
	r.setMax(5 * time.Second)
	if !r.short("slow") {
		t.Error("a 3 s run is not short under a 5 s bound")
	}
	r.setMax(0)
	if r.short("slow") {
		t.Error("a bound of 0 still lets a task run locally")
	}
	r.setMax(time.Second)
	for i := range 2 * runLengthsSize {
		r.observe(fmt.Sprint("task-", i), time.Millisecond)
	}
	if n := len(r.last); n > runLengthsSize {
		t.Errorf("%d tasks remembered, want at most %d", n, runLengthsSize)
	}
}
