package db_test

import (
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/chaptask/chaptask/db"
	"github.com/chaptask/chaptask/db/dbtest"
)

// Artifacts can go under a job's reserved artifact before the job stores it,
// in any order: a child job's artifact first (its parent's row is reserved
// then), then the parent's own, which takes the reserved row over and keeps
// its id. A second store changes nothing; a reservation whose row was
// deleted is made again.
func TestReservedArtifactHierarchy(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, bdb *bun.DB) {
		ctx := t.Context()
		parentJob, parentArt := db.NewID(), db.NewID()
		if err := db.ReserveArtifact(ctx, bdb, db.Reservation{ID: parentArt, JobID: parentJob}); err != nil {
			t.Fatal(err)
		}
		childJob, childArt := db.NewID(), db.NewID()
		id, created, err := db.PersistJobArtifact(ctx, bdb, db.Execution{
			JobID: childJob, RunID: "run-c", TaskID: db.NewID(), StartedAt: time.Now(), Data: db.JSON(`{"result":3}`),
			ArtifactID: childArt, ParentID: parentArt, Level: 1,
		})
		if err != nil || !created || id != childArt {
			t.Fatalf("child artifact: %s, %v, %v; want %s created", id, created, err, childArt)
		}
		store := db.ArtifactStore{DB: bdb}
		own, err := store.Create(ctx, parentArt, 1, db.JSON(`{"note":"stored by the function"}`))
		if err != nil {
			t.Fatal(err)
		}

		pending, err := db.GetArtifact(ctx, bdb, parentArt)
		if err != nil || pending.JobID != nil || string(pending.Data) == "" {
			t.Fatalf("reserved row: %+v, %v", pending, err)
		}
		for range 2 {
			id, _, err = db.PersistJobArtifact(ctx, bdb, db.Execution{
				JobID: parentJob, RunID: "run-p", TaskID: db.NewID(), StartedAt: time.Now(), Data: db.JSON(`{"result":10}`),
				ArtifactID: parentArt,
			})
			if err != nil || id != parentArt {
				t.Fatalf("parent artifact: %s, %v; want %s", id, err, parentArt)
			}
		}
		parent, err := db.GetArtifact(ctx, bdb, parentArt)
		if err != nil || parent.JobID == nil || *parent.JobID != parentJob || parent.Level != 0 || parent.ParentID != nil {
			t.Fatalf("parent artifact after store: %+v, %v", parent, err)
		}
		if got := string(parent.Data); got != `{"result":10}` && got != `{"result": 10}` {
			t.Errorf("parent data %s", got)
		}
		found, err := db.JobArtifacts(ctx, bdb, []string{parentJob, childJob})
		if err != nil || found[parentJob].ID != parentArt || found[childJob].ID != childArt {
			t.Errorf("job artifacts %+v, %v", found, err)
		}
		children, err := db.ArtifactChildren(ctx, bdb, []string{parentArt})
		if err != nil || len(children) != 2 {
			t.Fatalf("children of the parent: %d, %v; want the child job's and the function's", len(children), err)
		}
		for _, c := range children {
			if c.ID != childArt && c.ID != own.ID {
				t.Errorf("unexpected child %s", c.ID)
			}
		}

		// A child stored after its parent's reserved row was deleted gets
		// a fresh reservation instead of a foreign-key failure.
		gone := db.NewID()
		if _, _, err := db.PersistJobArtifact(ctx, bdb, db.Execution{
			JobID: db.NewID(), TaskID: db.NewID(), StartedAt: time.Now(), Data: db.JSON(`{}`), ParentID: gone, Level: 1,
		}); err != nil {
			t.Fatalf("child of a missing parent: %v", err)
		}
		if _, err := db.GetArtifact(ctx, bdb, gone); err != nil {
			t.Errorf("missing parent not reserved again: %v", err)
		}
	})
}
