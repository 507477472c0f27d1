package registry_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/chaptask/chaptask/registry"
)

type node struct {
	Value    int     `json:"value"`
	Children []*node `json:"children,omitempty"`
}

type textID string

func (id *textID) UnmarshalText(b []byte) error { *id = textID(b); return nil }

type schemaParams struct {
	Base
	A        int               `json:"a"`
	Upper    bool              `json:"uppercase" default:"false"`
	Ratio    float32           `json:"ratio,omitempty"`
	Tags     []string          `json:"tags" default:"[\"x\"]"`
	Counts   map[string]int    `json:"counts,omitempty"`
	Nested   inner             `json:"nested,omitempty"`
	Tree     *node             `json:"tree,omitempty"`
	Any      any               `json:"any,omitempty"`
	Raw      json.RawMessage   `json:"raw,omitempty"`
	Bytes    []byte            `json:"bytes,omitempty"`
	When     time.Time         `json:"when,omitempty"`
	ID       textID            `json:"id,omitempty"`
	ByNumber map[int][]float64 `json:"by_number,omitempty"`
	Plain    string
}

func TestFunctions(t *testing.T) {
	type simple struct {
		A         int  `json:"a"`
		Uppercase bool `json:"uppercase" default:"false"`
	}
	r := registry.New()
	mustRegister(t, r, "simple", func(ctx context.Context, p simple, logger *slog.Logger) (int, error) { return p.A, nil })
	mustRegister(t, r, "complex", func(context.Context, schemaParams, *registry.Progress, bun.IDB) error { return nil })
	mustRegister(t, r, "bare", func() error { return nil })

	list := r.Functions()
	tests := []struct {
		name string
		want string
	}{
		{name: "bare", want: `{"name":"bare","parameters":{"type":"object","properties":{},"required":[],"additionalProperties":false},"injects":[]}`},
		{name: "complex", want: `{"name":"complex","parameters":{"type":"object","properties":{` +
			`"source":{"type":"string","default":""},` +
			`"a":{"type":"integer"},` +
			`"uppercase":{"type":"boolean","default":false},` +
			`"ratio":{"type":"number","default":0},` +
			`"tags":{"type":"array","items":{"type":"string"},"default":["x"]},` +
			`"counts":{"type":"object","additionalProperties":{"type":"integer"},"default":null},` +
			`"nested":{"type":"object","properties":{"x":{"type":"integer"},"tags":{"type":"array","items":{"type":"string"}}},"required":[],"additionalProperties":false,"default":{"x":0}},` +
			`"tree":{"type":"object","properties":{"value":{"type":"integer"},"children":{"type":"array","items":{"type":"object"}}},"required":[],"additionalProperties":false,"default":null},` +
			`"any":{"default":null},` +
			`"raw":{"default":null},` +
			`"bytes":{"type":"string","format":"byte","default":null},` +
			`"when":{"type":"string","format":"date-time","default":"0001-01-01T00:00:00Z"},` +
			`"id":{"type":"string","default":""},` +
			`"by_number":{"type":"object","additionalProperties":{"type":"array","items":{"type":"number"}},"default":null},` +
			`"Plain":{"type":"string"}` +
			`},"required":["a","Plain"],"additionalProperties":false},"injects":["*registry.Progress","bun.IDB"]}`},
		{name: "simple", want: `{"name":"simple","parameters":{"type":"object","properties":{"a":{"type":"integer"},"uppercase":{"type":"boolean","default":false}},"required":["a"],"additionalProperties":false},"injects":["*slog.Logger"]}`},
	}
	if len(list) != len(tests) {
		t.Fatalf("Functions() has %d entries, want %d", len(list), len(tests))
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if list[i].Name != tt.name {
				t.Fatalf("Functions()[%d] = %q, want %q (sorted by name)", i, list[i].Name, tt.name)
			}
			got, err := json.Marshal(list[i])
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("got\n%s\nwant\n%s", got, tt.want)
			}
			// The schema reads back into the same value, order included.
			var back registry.Function
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatal(err)
			}
			again, err := json.Marshal(back)
			if err != nil || string(again) != tt.want {
				t.Fatalf("round trip = %s, %v", again, err)
			}
		})
	}

	// Listings are copies.
	list[2].Parameters.Properties[0].Name = "changed"
	list[2].Parameters.Required[0] = "changed"
	list[2].Injects[0] = "changed"
	if fresh := r.Functions(); !reflect.DeepEqual(fresh[2].Parameters.Required, []string{"a"}) ||
		fresh[2].Parameters.Properties[0].Name != "a" || fresh[2].Injects[0] != "*slog.Logger" {
		t.Fatalf("modifying a listing changed the registry: %+v", fresh[2])
	}
}

func TestSchemaMarshalIsDeterministic(t *testing.T) {
	s := registry.Schema{
		Type: "object",
		Properties: []registry.Property{
			{Name: "z", Schema: registry.Schema{Type: "integer"}},
			{Name: "a", Schema: registry.Schema{Type: "string", Default: json.RawMessage(`"d"`)}},
		},
		Required: []string{"z"},
		Closed:   true,
	}
	for range 5 {
		got, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if want := `{"type":"object","properties":{"z":{"type":"integer"},"a":{"type":"string","default":"d"}},"required":["z"],"additionalProperties":false}`; string(got) != want {
			t.Fatalf("got %s", got)
		}
	}
	if _, err := json.Marshal(registry.Schema{Default: json.RawMessage(`{bad`)}); err == nil {
		t.Error("invalid default marshalled")
	}
	if got, _ := json.Marshal(registry.Schema{}); string(got) != `{}` {
		t.Errorf("empty schema = %s", got)
	}
}
