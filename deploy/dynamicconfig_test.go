package deploy

import (
	"os"
	"testing"

	"go.temporal.io/server/common/dynamicconfig"
)

// TestDynamicConfigKeys loads the Temporal server's dynamic config the way
// the server does: a key it does not know, or a value of the wrong type,
// would be ignored with only a warning in its log.
func TestDynamicConfigKeys(t *testing.T) {
	raw, err := os.ReadFile("temporal/dynamicconfig.yaml")
	if err != nil {
		t.Fatal(err)
	}
	loaded := dynamicconfig.LoadYamlFile(raw)
	if err := loaded.Err(); err != nil {
		t.Fatalf("the server cannot load the file: %v", err)
	}
	for _, w := range loaded.Warnings {
		t.Errorf("the server would warn: %v", w)
	}
	if len(loaded.Map) == 0 {
		t.Error("no settings loaded")
	}
}
