package api_test

import (
	"encoding/json"
	"testing"

	"github.com/uptrace/bun"

	"github.com/chaptask/chaptask/api"
	"github.com/chaptask/chaptask/db/dbtest"
)

// TestConsoleBehindAPIKey: the console's own files load without a key (the
// page must load to ask for one); the data it reads, /api/v1/about
// included, needs the key.
func TestConsoleBehindAPIKey(t *testing.T) {
	const key = "console-key-5e1a"
	dbtest.Each(t, func(t *testing.T, bdb *bun.DB) {
		c := newAPIWith(t, api.Config{DB: bdb, APIKeys: []string{key}, TasksReadOnly: true, ShellDisabled: true,
			About: api.About{Version: "v1.2.3", Mode: "cluster", Role: "api", Database: "postgresql", TemporalNamespace: "ns", TemporalUIURL: "http://ui.example:8080"}})
		for _, path := range []string{"/", "/favicon.ico", "/console/app.js"} {
			if res := c.withHeader("GET", path, "X-API-Key", "", ""); res.Status != 200 {
				t.Errorf("GET %s without a key: %d, want 200", path, res.Status)
			}
		}
		if res := c.withHeader("GET", "/console/nothing.js", "X-API-Key", "", ""); res.Status != 404 {
			t.Errorf("GET /console/nothing.js: %d, want 404", res.Status)
		}
		expect(t, c.withHeader("GET", "/api/v1/about", "X-API-Key", "", ""), 401, "unauthorized")

		res := c.withHeader("GET", "/api/v1/about", "X-API-Key", key, "")
		if res.Status != 200 {
			t.Fatalf("GET /api/v1/about: %d %s", res.Status, res.Body)
		}
		var got map[string]any
		if err := json.Unmarshal(res.Body, &got); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{
			"service": "chaptask", "version": "v1.2.3", "mode": "cluster", "role": "api", "database": "postgresql",
			"temporal_namespace": "ns", "temporal_ui_url": "http://ui.example:8080", "tasks_read_only": true,
			"shell_enabled": false, "api_key_required": true, "jobs_available": false,
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("about.%s = %v, want %v", k, got[k], v)
			}
		}
		if len(got) != len(want) {
			t.Errorf("about has %d members, want %d: %v", len(got), len(want), got)
		}
	})
}
