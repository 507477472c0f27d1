package console

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// pageWeightBudget is what a first visit to the console may download,
// uncompressed: every asset together.
const pageWeightBudget = 100 << 10

func TestPageWeightBudget(t *testing.T) {
	h := New(http.NotFoundHandler())
	if n := h.Size(); n > pageWeightBudget {
		t.Errorf("console assets weigh %d bytes, over the budget of %d", n, pageWeightBudget)
	} else {
		t.Logf("console assets: %d bytes of %d", n, pageWeightBudget)
	}
}

func TestServe(t *testing.T) {
	h := New(http.NotFoundHandler())
	tests := []struct {
		path, wantType string
		wantStatus     int
	}{
		{"/", "text/html; charset=utf-8", 200},
		{"/favicon.ico", "image/svg+xml", 200},
		{"/console/app.js", "text/javascript; charset=utf-8", 200},
		{"/console/console.css", "text/css; charset=utf-8", 200},
		{"/console/index.html", "", 404},
		{"/console/missing.js", "", 404},
		{"/console/", "", 404},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			if tt.wantStatus != 200 {
				return
			}
			if got := rec.Header().Get("Content-Type"); got != tt.wantType {
				t.Errorf("Content-Type = %q, want %q", got, tt.wantType)
			}
			if got := rec.Header().Get("Content-Security-Policy"); got != ContentSecurityPolicy {
				t.Errorf("Content-Security-Policy = %q", got)
			}
			etag := rec.Header().Get("ETag")
			if etag == "" || rec.Header().Get("Cache-Control") != "no-cache" {
				t.Fatalf("ETag %q, Cache-Control %q: want an ETag and no-cache", etag, rec.Header().Get("Cache-Control"))
			}
			again := httptest.NewRequest(http.MethodGet, tt.path, nil)
			again.Header.Set("If-None-Match", etag)
			rec = httptest.NewRecorder()
			h.ServeHTTP(rec, again)
			if rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
				t.Errorf("revalidation: status %d with %d bytes, want 304 and none", rec.Code, rec.Body.Len())
			}
		})
	}
}

// TestNoExternalReferences keeps the console self-contained: no asset names
// another origin, and no page has inline script or style the policy would
// block.
func TestNoExternalReferences(t *testing.T) {
	h := New(http.NotFoundHandler())
	for name, a := range h.assets {
		body := string(a.body)
		for _, bad := range []string{"http://", "https://", "//cdn", "<script>", "style=\""} {
			if name == "favicon.svg" && bad == "http://" {
				continue // the SVG namespace URI names no resource
			}
			if strings.Contains(body, bad) {
				t.Errorf("%s contains %q", name, bad)
			}
		}
	}
}

func TestIsPublic(t *testing.T) {
	for path, want := range map[string]bool{
		"/": true, "/favicon.ico": true, "/console/app.js": true,
		"/api/v1/about": false, "/api/v1/tasks": false, "/docs": false, "/consolex": false,
	} {
		if got := IsPublic(path); got != want {
			t.Errorf("IsPublic(%q) = %v, want %v", path, got, want)
		}
	}
}
