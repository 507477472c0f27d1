package api

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/uptrace/bun"

	"github.com/chaptask/chaptask/db"
	"github.com/chaptask/chaptask/jobs"
	"github.com/chaptask/chaptask/metrics"
)

type artifactJSON struct {
	ID        string          `json:"id"`
	ParentID  *string         `json:"parent_id"`
	Level     int             `json:"level"`
	Data      json.RawMessage `json:"data"`
	CreatedAt time.Time       `json:"created_at"`
	UpdatedAt time.Time       `json:"updated_at"`
}

// artifactNodeJSON is an artifact in $tree and $expand answers.
type artifactNodeJSON struct {
	artifactJSON
	LevelLabel *string             `json:"level_label"`
	Children   *[]artifactNodeJSON `json:"children,omitempty"`
}

func newArtifactJSON(a *db.Artifact) artifactJSON {
	return artifactJSON{
		ID:        a.ID,
		ParentID:  a.ParentID,
		Level:     a.Level,
		Data:      json.RawMessage(a.Data),
		CreatedAt: a.CreatedAt.UTC(),
		UpdatedAt: a.UpdatedAt.UTC(),
	}
}

func newArtifactNode(a *db.Artifact, h ArtifactHierarchy) artifactNodeJSON {
	return artifactNodeJSON{artifactJSON: newArtifactJSON(a), LevelLabel: h.label(a.Level)}
}

// maxTreeNodes bounds a $tree answer so one request cannot walk an unbounded
// hierarchy into memory.
const maxTreeNodes = 10_000

func handleArtifactList(bdb *bun.DB, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		page, errs := parsePage(q)
		taskID, idErrs := parseULIDQuery(q, "task_id")
		errs = append(errs, idErrs...)
		if len(errs) > 0 {
			writeError(w, r, logger, validationFailed(errs))
			return
		}
		filter := db.ArtifactFilter{TaskID: taskID, Limit: page.limit(), Offset: page.offset()}
		artifacts, err := db.ListArtifacts(r.Context(), bdb, filter)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		items := make([]artifactJSON, len(artifacts))
		for i := range artifacts {
			items[i] = newArtifactJSON(&artifacts[i])
		}
		if !page.given {
			encode(w, http.StatusOK, items)
			return
		}
		total, err := db.CountArtifacts(r.Context(), bdb, filter)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		encode(w, http.StatusOK, newPage(page, items, total))
	})
}

func handleArtifactGet(bdb *bun.DB, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, err := artifactFromPath(r, bdb)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		encode(w, http.StatusOK, newArtifactJSON(a))
	})
}

func handleArtifactExpand(bdb *bun.DB, h ArtifactHierarchy, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, err := artifactFromPath(r, bdb)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		encode(w, http.StatusOK, newArtifactNode(a, h))
	})
}

func handleArtifactTree(bdb *bun.DB, h ArtifactHierarchy, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		root, err := artifactFromPath(r, bdb)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		tree := newArtifactNode(root, h)
		// Walk level by level: one query per depth, not per node.
		frontier := []*artifactNodeJSON{&tree}
		seen := map[string]bool{root.ID: true}
		for len(frontier) > 0 && len(seen) <= maxTreeNodes {
			byID := make(map[string]*artifactNodeJSON, len(frontier))
			ids := make([]string, 0, len(frontier))
			for _, n := range frontier {
				empty := []artifactNodeJSON{}
				n.Children = &empty
				byID[n.ID] = n
				ids = append(ids, n.ID)
			}
			children, err := db.ArtifactChildren(r.Context(), bdb, ids)
			if err != nil {
				writeError(w, r, logger, err)
				return
			}
			for i := range children {
				c := &children[i]
				if seen[c.ID] { // a cycle written by hand; never loop on it
					continue
				}
				seen[c.ID] = true
				parent := byID[*c.ParentID]
				*parent.Children = append(*parent.Children, newArtifactNode(c, h))
			}
			frontier = frontier[:0]
			for _, n := range byID {
				for i := range *n.Children {
					frontier = append(frontier, &(*n.Children)[i])
				}
			}
		}
		encode(w, http.StatusOK, tree)
	})
}

func artifactFromPath(r *http.Request, bdb *bun.DB) (*db.Artifact, error) {
	id, err := pathULID(r)
	if err != nil {
		return nil, err
	}
	a, err := db.GetArtifact(r.Context(), bdb, id)
	if err != nil {
		return nil, about(err, "Artifact %s not found", id)
	}
	return a, nil
}

// handleArtifactDelete removes an artifact and its descendants. The job it
// came from keeps artifact_id and gains artifact_deleted_at.
func handleArtifactDelete(bdb *bun.DB, js *jobs.Service, m *metrics.Metrics, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathULID(r)
		if err != nil {
			writeError(w, r, logger, err)
			return
		}
		removed, err := db.DeleteArtifact(r.Context(), bdb, id)
		if err != nil {
			writeError(w, r, logger, about(err, "Artifact %s not found", id))
			return
		}
		m.ArtifactsRemoved("api", 1)
		js.ForgetArtifact(removed)
		w.WriteHeader(http.StatusNoContent)
	})
}
