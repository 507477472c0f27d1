package chaptask

import (
	"bytes"
	"errors"
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestConfigurationDocumented: every flag of the binary, the variable its
// usage names, and every variable the service's code reads are in
// docs/configuration.md (the command-line client's in docs/cli.md), so a new
// setting cannot ship undocumented.
func TestConfigurationDocumented(t *testing.T) {
	config := readDoc(t, "docs/configuration.md")
	var usage bytes.Buffer
	if _, err := parseConfig([]string{"chaptask", "-h"}, func(string) string { return "" }, &usage); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("parseConfig -h: %v, want flag.ErrHelp", err)
	}
	flags := regexp.MustCompile(`(?m)^\s+(-[a-z-]+)`).FindAllStringSubmatch(usage.String(), -1)
	vars := regexp.MustCompile(`\(([A-Z][A-Z_]+)\)`).FindAllStringSubmatch(usage.String(), -1)
	if len(flags) < 20 || len(vars) != len(flags) {
		t.Fatalf("usage has %d flags and %d variables; is its format still -flag ... (VARIABLE)?\n%s", len(flags), len(vars), usage.String())
	}
	for _, m := range append(flags, vars...) {
		if !strings.Contains(config, "`"+m[1]+"`") {
			t.Errorf("docs/configuration.md does not document `%s`", m[1])
		}
	}

	docs := config + readDoc(t, "docs/cli.md")
	literal := regexp.MustCompile(`"((?:CHAPTASK|TEMPORAL|DATABASE)_[A-Z_]+)"`)
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") && path != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range literal.FindAllStringSubmatch(string(src), -1) {
			if !strings.Contains(docs, "`"+m[1]+"`") && !strings.Contains(docs, m[1]+"=") {
				t.Errorf("%s reads %s, which neither docs/configuration.md nor docs/cli.md documents", path, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func readDoc(t *testing.T, path string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// TestLibraryDocShowsExample: docs/library.md shows examples/library/main.go
// whole, as it says, so the page cannot drift from code that compiles.
func TestLibraryDocShowsExample(t *testing.T) {
	example, err := os.ReadFile("examples/library/main.go")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(readDoc(t, "docs/library.md"), "```go\n"+string(example)+"```\n") {
		t.Error("docs/library.md does not show examples/library/main.go as it is; copy the file into its ```go block")
	}
}
