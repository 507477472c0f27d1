package chaptask

import (
	"os/exec"
	"strings"
	"testing"
)

// mayLinkTemporalServer are the only packages allowed to depend on
// go.temporal.io/server: the embedded server, the option that hands it to
// Run, and the commands that pass that option. Test helper packages (named
// like dbtest or servicetest) may too: only tests import them, and a
// library package that did would be caught itself.
var mayLinkTemporalServer = map[string]bool{
	"github.com/chaptask/chaptask/embedded":           true,
	"github.com/chaptask/chaptask/embedded/inprocess": true,
	"github.com/chaptask/chaptask/cmd/chaptask":       true,
	"github.com/chaptask/chaptask/cmd/chaptask-bench": true,
}

// TestLibraryLeavesOutTemporalServer guards the boundary that keeps a
// cluster-only program small: the library (this package and every package
// it is built from) and its example must not depend on the Temporal server,
// about 180 MB of binary with its storage drivers and cloud SDKs.
func TestLibraryLeavesOutTemporalServer(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list dependencies: %v", err)
	}
	// Deps is transitive and leaves out test files: what a program links.
	out, err := exec.Command(goTool, "list", "-f", "{{.ImportPath}} {{join .Deps \" \"}}", "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	checked := 0
	for line := range strings.Lines(string(out)) {
		pkg, deps, _ := strings.Cut(strings.TrimSpace(line), " ")
		checked++
		if mayLinkTemporalServer[pkg] || strings.HasSuffix(pkg, "test") {
			continue
		}
		for dep := range strings.FieldsSeq(deps) {
			if dep == "go.temporal.io/server" || strings.HasPrefix(dep, "go.temporal.io/server/") {
				t.Errorf("%s depends on %s: every program built on it would link the Temporal server; only embedded/inprocess may bring it in", pkg, dep)
				break
			}
		}
	}
	if checked < 10 {
		t.Fatalf("go list listed %d packages:\n%s", checked, out)
	}
}
