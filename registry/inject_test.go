package registry_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/sqlitedialect"
	"go.temporal.io/sdk/client"
	_ "modernc.org/sqlite"

	"github.com/chaptask/chaptask/db"
	"github.com/chaptask/chaptask/db/dbtest"
	"github.com/chaptask/chaptask/registry"
)

// greeter is a user dependency injected by type.
type greeter struct{ greeting string }

func (g *greeter) Greet(name string) string { return g.greeting + ", " + name }

// greeterI is what a function may ask for instead of *greeter.
type greeterI interface{ Greet(name string) string }

type shouter struct{}

func (shouter) Greet(name string) string { return strings.ToUpper(name) + "!" }

type nameParams struct {
	Name string `json:"name"`
}

func TestBuiltinInjection(t *testing.T) {
	var registryLogs, callLogs bytes.Buffer
	r := registry.New(registry.WithLogger(slog.New(slog.NewTextHandler(&registryLogs, nil))))
	mustRegister(t, r, "log", func(logger *slog.Logger, ctx context.Context, p nameParams) (string, error) {
		logger.InfoContext(ctx, "hello", "name", p.Name)
		return p.Name, nil
	})
	var updates []registry.ProgressUpdate
	progress := registry.NewProgress(func(u registry.ProgressUpdate) { updates = append(updates, u) })
	mustRegister(t, r, "progress", func(_ context.Context, p *registry.Progress) (int, error) {
		p.Report(50, "half")
		p.Report(100, "done")
		return 2, nil
	})

	wantValue(t, r.Call(t.Context(), "log", json.RawMessage(`{"name":"from registry"}`)), `"from registry"`)
	callLogger := slog.New(slog.NewTextHandler(&callLogs, nil))
	wantValue(t, r.Call(t.Context(), "log", json.RawMessage(`{"name":"per call"}`), callLogger), `"per call"`)
	if !strings.Contains(registryLogs.String(), "from registry") || strings.Contains(registryLogs.String(), "per call") {
		t.Errorf("registry logger got %q", registryLogs.String())
	}
	if !strings.Contains(callLogs.String(), "per call") || strings.Contains(callLogs.String(), "from registry") {
		t.Errorf("per-call logger got %q", callLogs.String())
	}

	// Without a per-call reporter the function gets one that discards.
	wantValue(t, r.Call(t.Context(), "progress", nil), `2`)
	wantValue(t, r.Call(t.Context(), "progress", nil, progress, (*registry.Progress)(nil), nil), `2`)
	if len(updates) != 2 || updates[0].Percent != 50 || updates[1].Message != "done" {
		t.Errorf("updates = %+v", updates)
	}

	// Without WithLogger the function gets slog.Default().
	bare := registry.New()
	mustRegister(t, bare, "logger", func(l *slog.Logger) bool { return l == slog.Default() })
	wantValue(t, bare.Call(t.Context(), "logger", nil), `true`)
}

func TestDeclaredBuiltinsAreNilUntilProvided(t *testing.T) {
	r := registry.New()
	type seen struct {
		DB, IDB, Artifacts, Temporal bool
	}
	mustRegister(t, r, "deps", func(ctx context.Context, bdb *bun.DB, idb bun.IDB, as *db.ArtifactStore, tc client.Client) (seen, error) {
		return seen{DB: bdb != nil, IDB: idb != nil, Artifacts: as != nil, Temporal: tc != nil}, nil
	})
	wantValue(t, r.Call(t.Context(), "deps", nil), `{"DB":false,"IDB":false,"Artifacts":false,"Temporal":false}`)

	bdb := bun.NewDB(sqlOpenSQLite(t), sqlitedialect.New())
	if err := r.Provide(bdb, &db.ArtifactStore{DB: bdb}); err != nil {
		t.Fatal(err)
	}
	// *bun.DB also satisfies bun.IDB, the only provided value implementing it.
	wantValue(t, r.Call(t.Context(), "deps", nil), `{"DB":true,"IDB":true,"Artifacts":true,"Temporal":false}`)
	got := r.Functions()[0].Injects
	want := []string{"*bun.DB", "bun.IDB", "*db.ArtifactStore", "client.Client"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Injects = %q, want %q", got, want)
	}
}

func TestProvide(t *testing.T) {
	type config struct {
		Prefix string
	}
	r := registry.New()
	if err := r.Provide(&greeter{greeting: "Hello"}, config{Prefix: ">"}); err != nil {
		t.Fatal(err)
	}
	// Argument names and positions do not matter, only types.
	mustRegister(t, r, "concrete", func(p nameParams, c config, g *greeter) string { return c.Prefix + g.Greet(p.Name) })
	mustRegister(t, r, "interface", func(ctx context.Context, anything greeterI, p *nameParams) (string, error) {
		return anything.Greet(p.Name), nil
	})
	wantValue(t, r.Call(t.Context(), "concrete", json.RawMessage(`{"name":"Ada"}`)), `">Hello, Ada"`)
	wantValue(t, r.Call(t.Context(), "interface", json.RawMessage(`{"name":"Ada"}`)), `"Hello, Ada"`)

	// Per-call values override provided ones: by exact type, and for an
	// interface the first value implementing it.
	wantValue(t, r.Call(t.Context(), "concrete", json.RawMessage(`{"name":"Ada"}`), &greeter{greeting: "Hi"}, config{Prefix: "#"}), `"#Hi, Ada"`)
	wantValue(t, r.Call(t.Context(), "interface", json.RawMessage(`{"name":"Ada"}`), 42, shouter{}, &greeter{greeting: "Hi"}), `"ADA!"`)

	// Providing again replaces.
	if err := r.Provide(&greeter{greeting: "Howdy"}); err != nil {
		t.Fatal(err)
	}
	wantValue(t, r.Call(t.Context(), "concrete", json.RawMessage(`{"name":"Ada"}`)), `">Howdy, Ada"`)

	// A second implementation would make "interface" ambiguous: refused,
	// and nothing changes.
	err := r.Provide(config{Prefix: "!"}, shouter{})
	if err == nil || !strings.Contains(err.Error(), `function "interface": ambiguous type registry_test.greeterI`) {
		t.Fatalf("Provide = %v", err)
	}
	wantValue(t, r.Call(t.Context(), "concrete", json.RawMessage(`{"name":"Ada"}`)), `">Howdy, Ada"`)

	for _, bad := range []any{nil, (*greeter)(nil)} {
		if err := r.Provide(bad); err == nil {
			t.Errorf("Provide(%#v) succeeded", bad)
		}
	}
	if got := r.Functions()[0].Injects; fmt.Sprint(got) != "[registry_test.config *registry_test.greeter]" {
		t.Errorf("Injects = %q", got)
	}
}

func TestDeclare(t *testing.T) {
	r := registry.New()
	if err := registry.Declare[*greeter](r); err != nil {
		t.Fatal(err)
	}
	if err := registry.Declare[greeterI](r); err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"int":    registry.Declare[int](r),
		"struct": registry.Declare[nameParams](r),
		"slice":  registry.Declare[[]string](r),
	} {
		if err == nil || !strings.Contains(err.Error(), "only pointer and interface types can be declared") {
			t.Errorf("Declare[%s] = %v", name, err)
		}
	}
	// *greeter is a pointer to a struct: declared, it is injected rather
	// than taken for the parameters struct.
	mustRegister(t, r, "optional", func(ctx context.Context, g *greeter, gi greeterI, p nameParams) (string, error) {
		if g == nil || gi == nil {
			return fmt.Sprintf("no greeter for %s (%v, %v)", p.Name, g == nil, gi == nil), nil
		}
		return g.Greet(p.Name) + " / " + gi.Greet(p.Name), nil
	})
	wantValue(t, r.Call(t.Context(), "optional", json.RawMessage(`{"name":"Bo"}`)), `"no greeter for Bo (true, true)"`)
	// Provided after registration.
	if err := r.Provide(&greeter{greeting: "Hey"}); err != nil {
		t.Fatal(err)
	}
	wantValue(t, r.Call(t.Context(), "optional", json.RawMessage(`{"name":"Bo"}`)), `"Hey, Bo / Hey, Bo"`)
	// Per call only.
	r2 := registry.New()
	if err := registry.Declare[greeterI](r2); err != nil {
		t.Fatal(err)
	}
	mustRegister(t, r2, "g", func(g greeterI) string {
		if g == nil {
			return "none"
		}
		return g.Greet("x")
	})
	wantValue(t, r2.Call(t.Context(), "g", nil), `"none"`)
	wantValue(t, r2.Call(t.Context(), "g", nil, shouter{}), `"X!"`)
}

func TestDeclaredInterfaceAmbiguousAtRegistration(t *testing.T) {
	r := registry.New()
	bdb := bun.NewDB(sqlOpenSQLite(t), sqlitedialect.New())
	conn, err := bdb.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if err := r.Provide(bdb, conn); err != nil {
		t.Fatal(err) // no registered function takes bun.IDB yet
	}
	err = r.Register("idb", func(bun.IDB) error { return nil })
	if err == nil || !strings.Contains(err.Error(), `function "idb": argument 0: ambiguous type bun.IDB: provided values of types *bun.DB, bun.Conn all implement it`) {
		t.Fatalf("Register = %v", err)
	}
	mustRegister(t, r, "exact", func(*bun.DB) error { return nil })
}

func TestProgress(t *testing.T) {
	var mu sync.Mutex
	var got []registry.ProgressUpdate
	p := registry.NewProgress(func(u registry.ProgressUpdate) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, u)
	})
	before := time.Now()
	for _, percent := range []float64{-5, 0, 42.5, 100, 150, nan()} {
		p.Report(percent, fmt.Sprint(percent))
	}
	want := []float64{0, 0, 42.5, 100, 100, 0}
	if len(got) != len(want) {
		t.Fatalf("got %d updates", len(got))
	}
	for i, u := range got {
		if u.Percent != want[i] || u.At.Before(before) || u.At.Location() != time.UTC {
			t.Errorf("update %d = %+v, want percent %v", i, u, want[i])
		}
	}
	var nilProgress *registry.Progress
	nilProgress.Report(10, "nil-safe")
	registry.NewProgress(nil).Report(10, "discarded")
	data, _ := json.Marshal(registry.ProgressUpdate{Percent: 5, Message: "m", At: time.Date(2025, 10, 17, 10, 0, 0, 0, time.UTC)})
	if string(data) != `{"percent":5,"message":"m","at":"2025-10-17T10:00:00Z"}` {
		t.Errorf("marshal = %s", data)
	}
}

func nan() float64 {
	zero := 0.0
	return zero / zero
}

func sqlOpenSQLite(t *testing.T) *sql.DB {
	t.Helper()
	sqldb, err := sql.Open("sqlite", "file:"+t.TempDir()+"/x.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sqldb.Close() })
	return sqldb
}

type widget struct {
	bun.BaseModel `bun:"table:widgets"`
	ID            int64  `bun:"id,pk"`
	Name          string `bun:"name,notnull"`
}

func TestDatabaseInjection(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, bdb *bun.DB) {
		ctx := t.Context()
		if _, err := bdb.NewCreateTable().Model((*widget)(nil)).Exec(ctx); err != nil {
			t.Fatalf("create table: %v", err)
		}
		t.Cleanup(func() {
			if _, err := bdb.NewDropTable().Model((*widget)(nil)).IfExists().Exec(context.WithoutCancel(ctx)); err != nil {
				t.Errorf("drop table: %v", err)
			}
		})
		widgets := []widget{{ID: 1, Name: "a"}, {ID: 2, Name: "b"}, {ID: 3, Name: "c"}}
		if _, err := bdb.NewInsert().Model(&widgets).Exec(ctx); err != nil {
			t.Fatalf("insert: %v", err)
		}

		type countResult struct {
			Count int64 `json:"count"`
		}
		r := registry.New()
		mustRegister(t, r, "count_db", func(ctx context.Context, bdb *bun.DB) (countResult, error) {
			n, err := bdb.NewSelect().Table("widgets").Count(ctx)
			return countResult{Count: n}, err
		})
		type prefix struct {
			Prefix string `json:"prefix" default:""`
		}
		mustRegister(t, r, "count_idb", func(ctx context.Context, p prefix, idb bun.IDB) (countResult, error) {
			if idb == nil {
				return countResult{}, registry.NewError("RuntimeError", "no database")
			}
			n, err := idb.NewSelect().Table("widgets").Where("name LIKE ?", p.Prefix+"%").Count(ctx)
			return countResult{Count: n}, err
		})
		// Declared slots: callable before the database is provided.
		wantError(t, r.Call(ctx, "count_idb", nil), "RuntimeError", "no database")

		if err := r.Provide(bdb); err != nil {
			t.Fatal(err)
		}
		wantValue(t, r.Call(ctx, "count_db", nil), `{"count":3}`)
		wantValue(t, r.Call(ctx, "count_idb", nil), `{"count":3}`)
		wantValue(t, r.Call(ctx, "count_idb", json.RawMessage(`{"prefix":"b"}`)), `{"count":1}`)

		// A transaction passed per call overrides the provided *bun.DB for
		// bun.IDB arguments.
		err := bdb.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
			if _, err := tx.NewInsert().Model(&widget{ID: 4, Name: "d"}).Exec(ctx); err != nil {
				return err
			}
			wantValue(t, r.Call(ctx, "count_idb", nil, tx), `{"count":4}`)
			return fmt.Errorf("roll back")
		})
		if err == nil || err.Error() != "roll back" {
			t.Fatalf("RunInTx = %v", err)
		}
		wantValue(t, r.Call(ctx, "count_idb", nil), `{"count":3}`)

		// A database error becomes the function's error.
		mustRegister(t, r, "broken", func(ctx context.Context, idb bun.IDB) (int64, error) {
			n, err := idb.NewSelect().Table("no_such_table").Count(ctx)
			if err != nil {
				return 0, fmt.Errorf("count: %w", err)
			}
			return n, nil
		})
		res := r.Call(ctx, "broken", nil)
		if res.Err == nil || !strings.HasPrefix(res.Err.Message, "count: ") {
			t.Fatalf("broken = %s, %+v", res.Value, res.Err)
		}
	})
}
