package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/chaptask/chaptask/db"
	"github.com/chaptask/chaptask/db/dbtest"
)

// TestHold holds three connections as a role of its own and checks the
// server sees them under that role, and that release closes them and drops
// the role it created.
func TestHold(t *testing.T) {
	dsn := os.Getenv(dbtest.PostgresURLEnv)
	if dsn == "" {
		t.Skipf("%s not set: the holder needs a server", dbtest.PostgresURLEnv)
	}
	ctx := context.Background()
	// The server may be nearly full (the suite is run beside a holder):
	// connections wait for a slot as dbtest's do.
	const wait = 2 * time.Minute
	admin := sql.OpenDB(db.PostgresConnector(dsn, wait))
	defer admin.Close()
	admin.SetMaxOpenConns(1)
	// A name of this run's own, so a holder someone runs meanwhile is not
	// counted.
	role := "chaptask_holder_test_" + randomSuffix(t)
	held := func() (sessions, roles int) {
		t.Helper()
		err := admin.QueryRowContext(ctx, `SELECT
			(SELECT count(*) FROM pg_stat_activity WHERE usename = $1),
			(SELECT count(*) FROM pg_roles WHERE rolname = $1)`, role).Scan(&sessions, &roles)
		if err != nil {
			t.Fatal(err)
		}
		return sessions, roles
	}

	h, err := hold(ctx, dsn, role, 3, wait)
	if err != nil {
		t.Fatal(err)
	}
	if s, r := held(); s != 3 || r != 1 {
		h.release()
		t.Fatalf("holding: %d sessions of role %s (%d roles), want 3 (1)", s, role, r)
	}
	t.Log(h.census)
	h.release()
	// The server ends a session as the client's terminate message arrives;
	// pg_stat_activity may show it a moment longer, so only the role,
	// which DROP ROLE removes synchronously, is checked.
	if _, r := held(); r != 0 {
		t.Errorf("after release: role %s still exists", role)
	}
}

func randomSuffix(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
