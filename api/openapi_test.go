package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gorilla/mux"

	"github.com/chaptask/chaptask/tasks"
)

// openAPIDoc is the part of the OpenAPI document the tests check.
type openAPIDoc struct {
	OpenAPI string                                `json:"openapi"`
	Paths   map[string]map[string]json.RawMessage `json:"paths"`
}

func loadOpenAPI(t *testing.T) openAPIDoc {
	t.Helper()
	var doc openAPIDoc
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	return doc
}

// httpMethods are the keys of an OpenAPI path item that are operations.
var httpMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// TestOpenAPIMatchesRouter keeps openapi.json and the router in step: every
// route is documented and every documented operation is routed. A new route
// fails here until it is described.
func TestOpenAPIMatchesRouter(t *testing.T) {
	doc := loadOpenAPI(t)
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Errorf("openapi = %q, want 3.1.x", doc.OpenAPI)
	}

	routed := map[string]bool{}
	r := routes(Config{}, tasks.New(tasks.Config{}), nil)
	err := r.Walk(func(route *mux.Route, _ *mux.Router, _ []*mux.Route) error {
		tpl, err := route.GetPathTemplate()
		if err != nil {
			return err
		}
		methods, err := route.GetMethods()
		if err != nil {
			t.Errorf("route %s matches every method; give it Methods(...)", tpl)
			return nil
		}
		for _, m := range methods {
			routed[strings.ToLower(m)+" "+tpl] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	documented := map[string]bool{}
	for path, item := range doc.Paths {
		for key := range item {
			if slices.Contains(httpMethods, key) {
				documented[key+" "+path] = true
			}
		}
	}
	for op := range routed {
		if !documented[op] {
			t.Errorf("route %q is not in openapi.json", op)
		}
	}
	for op := range documented {
		if !routed[op] {
			t.Errorf("openapi.json documents %q, which has no route", op)
		}
	}
	if len(routed) == 0 {
		t.Fatal("walked no routes")
	}
}

// TestOpenAPIReferencesResolve checks every $ref points at a component
// that exists, so renderers and generators can follow them.
func TestOpenAPIReferencesResolve(t *testing.T) {
	var doc map[string]any
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	refs := 0
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				refs++
				if resolve(doc, ref) == nil {
					t.Errorf("$ref %q resolves to nothing", ref)
				}
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(doc)
	if refs == 0 {
		t.Error("no $ref found; the document should share its schemas")
	}
}

func resolve(doc map[string]any, ref string) any {
	path, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil
	}
	var cur any = doc
	for _, part := range strings.Split(path, "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	return cur
}

// TestDocsPageIsSelfContained checks /docs loads nothing from elsewhere.
func TestDocsPageIsSelfContained(t *testing.T) {
	page := string(docsPage)
	for _, bad := range []string{"http://", "https://", "//cdn", "<link "} {
		if strings.Contains(page, bad) {
			t.Errorf("docs.html contains %q: it must not load external assets", bad)
		}
	}
	if !strings.Contains(page, "/openapi.json") {
		t.Error("docs.html does not load /openapi.json")
	}
	if http.DetectContentType(docsPage) != "text/html; charset=utf-8" {
		t.Errorf("docs.html is not HTML")
	}
}
