package chaptask

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLibraryLeavesOutTemporalServer guards the boundary that keeps a
// cluster-only program small: the library and its example must not depend
// on the Temporal server (about 200 MB of binary with its cloud SDKs); only
// embedded, embedded/inprocess and the commands that import them may.
func TestLibraryLeavesOutTemporalServer(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list dependencies: %v", err)
	}
	for _, pkg := range []string{".", "./examples/library", "./api", "./jobs", "./activities", "./registry", "./db", "./cli"} {
		out, err := exec.Command(goTool, "list", "-deps", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, out)
		}
		for _, dep := range strings.Fields(string(out)) {
			if dep == "go.temporal.io/server" || strings.HasPrefix(dep, "go.temporal.io/server/") {
				t.Errorf("%s depends on %s: a program using chaptask as a library would link the Temporal server; import it only through embedded/inprocess", pkg, dep)
				break
			}
		}
	}
}
