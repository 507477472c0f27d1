package api

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestEveryRouteInAPIDoc: every operation of openapi.json (which
// TestOpenAPIMatchesRouter keeps equal to the router) has a row in the
// endpoint table of docs/api.md, so the reference for people cannot fall
// behind the routes.
func TestEveryRouteInAPIDoc(t *testing.T) {
	raw, err := os.ReadFile("../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := documentedOperations(string(raw))
	if len(documented) == 0 {
		t.Fatal("docs/api.md has no endpoint table rows like | `GET /path` | … |")
	}
	for path, item := range loadOpenAPI(t).Paths {
		for key := range item {
			if !slices.Contains(httpMethods, key) {
				continue
			}
			if op := strings.ToUpper(key) + " " + path; !documented[op] {
				t.Errorf("docs/api.md has no row for %s", op)
			}
		}
	}
}

// documentedOperations reads the first cell of each table row: "`GET
// /path`", or several methods sharing a path, "`GET`, `PATCH`, `DELETE
// /path`", or several operations, "`GET /a`, `GET /b`".
func documentedOperations(doc string) map[string]bool {
	ops := map[string]bool{}
	code := regexp.MustCompile("`([^`]+)`")
	for line := range strings.SplitSeq(doc, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		first, _, _ := strings.Cut(strings.TrimPrefix(line, "| "), " | ")
		var methods []string
		for _, m := range code.FindAllStringSubmatch(first, -1) {
			method, path, hasPath := strings.Cut(m[1], " ")
			methods = append(methods, method)
			if hasPath {
				for _, method := range methods {
					ops[method+" "+path] = true
				}
				methods = nil
			}
		}
	}
	return ops
}
