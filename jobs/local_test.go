package jobs

import (
	"testing"
)

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestLocalRunsWakesWaitersWhenTheWorkflowReturns(t *testing.T) {
	l := NewLocalRuns()
	first, stopFirst := l.subscribe("job")
	defer stopFirst()
	second, stopSecond := l.subscribe("job")
	defer stopSecond()
	other, stopOther := l.subscribe("other")
	defer stopOther()

	l.begin("job")
	if !l.runsHere("job") || l.runsHere("other") {
		t.Fatalf("runsHere(job), runsHere(other) = %v, %v; want true, false", l.runsHere("job"), l.runsHere("other"))
	}
	if closed(first) {
		t.Fatal("a waiter woke before the workflow returned")
	}
	l.end("job")
	if !closed(first) || !closed(second) {
		t.Error("the job's waiters did not wake when its workflow returned")
	}
	if closed(other) {
		t.Error("another job's waiter woke")
	}
	if l.runsHere("job") {
		t.Error("the job still runs here after its workflow returned")
	}
}

func TestLocalRunsCountsOverlappingExecutions(t *testing.T) {
	// A replay after an eviction can begin before the evicted execution
	// has unwound.
	l := NewLocalRuns()
	l.begin("job")
	l.begin("job")
	l.end("job")
	if !l.runsHere("job") {
		t.Error("the job stopped running here while an execution was left")
	}
	l.end("job")
	if l.runsHere("job") {
		t.Error("the job runs here after both executions ended")
	}
}

func TestLocalRunsForgetsSubscriptions(t *testing.T) {
	l := NewLocalRuns()
	_, stop := l.subscribe("job")
	stop()
	ended, stopAfter := l.subscribe("late")
	l.begin("late")
	l.end("late")
	stopAfter() // after end: must not panic or resurrect the entry
	if !closed(ended) {
		t.Error("the late waiter did not wake")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.waiters) != 0 || len(l.running) != 0 {
		t.Errorf("LocalRuns kept %d waiter sets and %d running jobs; want none", len(l.waiters), len(l.running))
	}
}

func TestNilLocalRunsNeverWakes(t *testing.T) {
	var l *LocalRuns
	ended, stop := l.subscribe("job")
	defer stop()
	if l.runsHere("job") || closed(ended) {
		t.Error("a nil LocalRuns claims the job or woke its waiter")
	}
}
