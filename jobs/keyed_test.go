package jobs

import (
	"strings"
	"testing"

	"github.com/oklog/ulid/v2"
)

func TestKeyedJobID(t *testing.T) {
	const task, other = "01K72P5N5KCRM6MD3BRE4P0999", "01K72P5N5KCRM6MD3BRE4P0998"
	id := KeyedJobID(task, "k")
	parsed, err := ulid.ParseStrict(id)
	if err != nil || parsed.Time() != 0 || !strings.HasPrefix(id, "0000000000") {
		t.Fatalf("KeyedJobID = %s (%v), want a ULID with a zero time part", id, err)
	}
	if again := KeyedJobID(task, "k"); again != id {
		t.Errorf("not deterministic: %s then %s", id, again)
	}
	// The separator keeps (task, key) pairs apart that concatenate alike.
	for _, differs := range []string{KeyedJobID(other, "k"), KeyedJobID(task, "k2"), KeyedJobID(task+"k", "")} {
		if differs == id {
			t.Errorf("%s collides with %s", differs, id)
		}
	}
}

func TestValidIdempotencyKey(t *testing.T) {
	for key, want := range map[string]bool{
		"":                        false,
		"a":                       true,
		"order 4711 / retry ~ok!": true,
		strings.Repeat("k", 255):  true,
		strings.Repeat("k", 256):  false,
		"tab\tkey":                false,
		"new\nline":               false,
		"del\x7f":                 false,
		"clé":                     false,
		"\x00":                    false,
	} {
		if got := ValidIdempotencyKey(key); got != want {
			t.Errorf("ValidIdempotencyKey(%q) = %v, want %v", key, got, want)
		}
	}
}
