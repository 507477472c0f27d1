package api_test

import (
	"net/http/httptest"
	"testing"

	"github.com/uptrace/bun"

	"github.com/chaptask/chaptask/api"
	"github.com/chaptask/chaptask/db"
	"github.com/chaptask/chaptask/db/dbtest"
)

// $tree and $expand label each level from the configured hierarchy, the
// default one when none is configured; a level without a label shows null.
func TestArtifactHierarchyLabels(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, bdb *bun.DB) {
		store := db.ArtifactStore{DB: bdb}
		root, err := store.Create(t.Context(), "", 0, db.JSON(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		parent := root.ID
		for level := 1; level <= 3; level++ {
			a, err := store.Create(t.Context(), parent, level, db.JSON(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			parent = a.ID
		}
		custom := api.ArtifactHierarchy{Name: "ml", LevelLabels: map[int]string{0: "train", 1: "fold", 3: "epoch"}}
		for _, tc := range []struct {
			name string
			h    api.ArtifactHierarchy
			want []any
		}{
			{"default", api.ArtifactHierarchy{}, []any{"execution", "child", "grandchild", nil}},
			{"custom", custom, []any{"train", "fold", nil, "epoch"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				srv := httptest.NewServer(api.NewServer(api.Config{DB: bdb, ArtifactHierarchy: tc.h}))
				t.Cleanup(srv.Close)
				c := &client{t: t, base: srv.URL}
				node := c.do("GET", "/api/v1/artifacts/"+root.ID+"/$tree", nil).Object(t)
				for level, want := range tc.want {
					if node["level"] != float64(level) || node["level_label"] != want {
						t.Errorf("level %d: level_label %v, want %v", level, node["level_label"], want)
					}
					if children, _ := node["children"].([]any); len(children) == 1 {
						node = children[0].(map[string]any)
					}
				}
				if got := c.do("GET", "/api/v1/artifacts/"+root.ID+"/$expand", nil).Object(t)["level_label"]; got != tc.want[0] {
					t.Errorf("$expand level_label %v, want %v", got, tc.want[0])
				}
			})
		}
	})
}
