package jobs

import (
	"testing"
	"time"
)

func TestTerminalCache(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := newTerminalCache(2, time.Minute)

	c.put("live", &Job{ID: "live", Status: StatusRunning}, now)
	if _, ok := c.get("live", now); ok {
		t.Error("a live job was cached")
	}

	c.put("a", &Job{ID: "a", Status: StatusCompleted}, now)
	got, ok := c.get("a", now)
	if !ok || got.Status != StatusCompleted {
		t.Fatalf("get a = %+v, %v", got, ok)
	}
	got.Status = "mutated"
	if again, _ := c.get("a", now); again.Status != StatusCompleted {
		t.Error("get returned the cached record itself, not a copy")
	}

	if _, ok := c.get("a", now.Add(2*time.Minute)); ok {
		t.Error("an expired entry was returned")
	}

	c.put("b", &Job{ID: "b", Status: StatusFailed}, now)
	c.put("c", &Job{ID: "c", Status: StatusCanceled}, now)
	if _, ok := c.get("a", now); ok {
		t.Error("the oldest entry survived a full cache")
	}
	if _, ok := c.get("c", now); !ok {
		t.Error("the newest entry is missing")
	}

	c.put("d", &Job{ID: "d", Status: StatusFailed, partial: true}, now)
	if _, ok := c.get("d", now); ok {
		t.Error("a record with a part missing was cached")
	}

	c.forget("c")
	if _, ok := c.get("c", now); ok {
		t.Error("a forgotten job is still cached")
	}
}
