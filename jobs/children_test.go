package jobs

import (
	"testing"

	"github.com/oklog/ulid/v2"
)

// Child job ids are ULIDs, the same for the same parent run and key (so a
// retried run step attaches to its children), and distinct otherwise.
func TestChildJobID(t *testing.T) {
	id := ChildJobID("01PARENT", "run-1", "pair-0")
	if _, err := ulid.ParseStrict(id); err != nil {
		t.Fatalf("child job id %q is not a ULID: %v", id, err)
	}
	if again := ChildJobID("01PARENT", "run-1", "pair-0"); again != id {
		t.Errorf("same parent run and key: %s, then %s", id, again)
	}
	for _, other := range []string{
		ChildJobID("01PARENT", "run-1", "pair-1"),
		ChildJobID("01PARENT", "run-2", "pair-0"),
		ChildJobID("01OTHER", "run-1", "pair-0"),
		KeyedJobID("01PARENT", "pair-0"),
	} {
		if other == id {
			t.Errorf("%s names two different children", id)
		}
	}
}
