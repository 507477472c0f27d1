// Package testclient is the one HTTP client and the one waiting helper of
// chaptask's tests: every test package that talks to the API or waits for
// something to happen uses these, so a fix to either reaches them all.
package testclient

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Client talks HTTP to a chaptask API at Base.
type Client struct {
	// Base is the API's base URL, e.g. http://127.0.0.1:41234.
	Base string
	// APIKey, when set, is sent as X-API-Key.
	APIKey string
	// HTTP sends the requests; nil uses http.DefaultClient.
	HTTP *http.Client
}

// Reply is an answer, read whole.
type Reply struct {
	Status int
	Header http.Header
	Body   []byte
}

// Decode unmarshals the body into v, failing the test if it cannot.
func (r Reply) Decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %q: %v", r.Body, err)
	}
}

// Object is the body as a JSON object.
func (r Reply) Object(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	r.Decode(t, &m)
	return m
}

// Try sends a request and reads the answer, reporting failures as errors:
// for tests that expect some requests to fail (outages). A string or
// []byte body is sent as it is, anything else but nil as JSON. header adds
// request headers.
func (c *Client) Try(method, path string, body any, header http.Header) (Reply, error) {
	var rd io.Reader
	isJSON := false
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return Reply{}, err
		}
		rd, isJSON = bytes.NewReader(raw), true
	}
	req, err := http.NewRequest(method, c.Base+path, rd)
	if err != nil {
		return Reply{}, err
	}
	if isJSON {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.APIKey != "" {
		req.Header.Set("X-API-Key", c.APIKey)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	res, err := hc.Do(req)
	if err != nil {
		return Reply{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return Reply{}, fmt.Errorf("%s %s: read body: %w", method, path, err)
	}
	return Reply{Status: res.StatusCode, Header: res.Header, Body: raw}, nil
}

// Do is Try for a request that must get an answer: an error fails the
// test.
func (c *Client) Do(t testing.TB, method, path string, body any, header http.Header) Reply {
	t.Helper()
	r, err := c.Try(method, path, body, header)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// Want fails the test unless r has status. A 422 must also carry FastAPI's
// detail list, which chapkit clients read as body["detail"][0]["loc"].
func Want(t testing.TB, r Reply, status int) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	if status != http.StatusUnprocessableEntity {
		return
	}
	var p struct {
		Detail []struct {
			Loc  []string `json:"loc"`
			Msg  string   `json:"msg"`
			Type string   `json:"type"`
		} `json:"detail"`
	}
	if err := json.Unmarshal(r.Body, &p); err != nil || len(p.Detail) == 0 || len(p.Detail[0].Loc) == 0 || p.Detail[0].Msg == "" || p.Detail[0].Type == "" {
		t.Fatalf("422 detail is not FastAPI's list (%v): %s", err, r.Body)
	}
}

// Eventually calls check every interval until it returns true, failing the
// test with what() once within has passed.
func Eventually(t testing.TB, within, interval time.Duration, check func() bool, what func() string) {
	t.Helper()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for !check() {
		select {
		case <-deadline.C:
			t.Fatalf("after %s: %s", within, what())
		case <-tick.C:
		}
	}
}
