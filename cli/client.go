package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// apiKeyHeader carries CHAPTASK_API_KEY to the server.
const apiKeyHeader = "X-API-Key"

// maxBody bounds what the client reads of one response; artifacts hold at
// most a few MiB of output per stream.
const maxBody = 64 << 20

// client talks to one chaptask API.
type client struct {
	base   string // scheme://host[:port][/prefix], no trailing slash
	apiKey string
	http   *http.Client
}

// newClient checks the service URL. A bare host:port means http.
func newClient(rawURL, apiKey string) (*client, error) {
	if !strings.Contains(rawURL, "://") {
		rawURL = "http://" + rawURL
	}
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usageErrorf("service URL %q: want http://host:port", rawURL)
	}
	// No overall timeout: a stream lasts as long as its job. A server that
	// accepts the connection but never answers is caught by the header
	// timeout.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = 90 * time.Second
	return &client{
		base:   strings.TrimRight(u.String(), "/"),
		apiKey: apiKey,
		http:   &http.Client{Transport: tr},
	}, nil
}

// apiError is a failed HTTP exchange: a problem document from the API, an
// unexpected response, or no response at all.
type apiError struct {
	Status int    // 0 when the server was not reached
	Title  string // problem title, or the HTTP status text
	Detail string
	Type   string
}

func (e *apiError) Error() string {
	switch {
	case e.Detail == "":
		return e.Title
	case e.Title == "":
		return e.Detail
	}
	return e.Title + ": " + e.Detail
}

// problemDoc is the part of an RFC 9457 document the client shows. Detail
// is a string, or for a 422 FastAPI's list of invalid fields.
type problemDoc struct {
	Type   string          `json:"type"`
	Title  string          `json:"title"`
	Status int             `json:"status"`
	Detail json.RawMessage `json:"detail"`
}

// detailText renders a problem's detail: the string as it is, a list of
// invalid fields as "name: msg; name: msg" (a nested field by its path).
func detailText(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var fields []struct {
		Loc []any  `json:"loc"`
		Msg string `json:"msg"`
	}
	if json.Unmarshal(raw, &fields) != nil {
		return ""
	}
	parts := make([]string, 0, len(fields))
	for _, f := range fields {
		name := make([]string, 0, len(f.Loc))
		for i, l := range f.Loc {
			if i > 0 || len(f.Loc) == 1 { // leave out "body", "query": the field says enough
				name = append(name, fmt.Sprint(l))
			}
		}
		parts = append(parts, strings.Join(name, ".")+": "+f.Msg)
	}
	return strings.Join(parts, "; ")
}

// request sends a request with an optional JSON body.
func (c *client) request(ctx context.Context, method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode request body: %w", err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("build request %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json, application/problem+json")
	if c.apiKey != "" {
		req.Header.Set(apiKeyHeader, c.apiKey)
	}
	res, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &apiError{Title: "cannot reach chaptask at " + c.base, Detail: unwrapURLError(err).Error()}
	}
	if res.StatusCode >= 400 {
		defer res.Body.Close()
		return nil, responseError(res)
	}
	return res, nil
}

// do sends a request and returns the response body.
func (c *client) do(ctx context.Context, method, path string, body any) ([]byte, error) {
	res, err := c.request(ctx, method, path, body)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxBody))
	if err != nil {
		return nil, &apiError{Status: res.StatusCode, Title: "read response of " + method + " " + path, Detail: err.Error()}
	}
	return raw, nil
}

// get decodes the JSON answer of GET path into v and returns it raw as
// well, so --json can print exactly what the server sent.
func (c *client) get(ctx context.Context, path string, v any) (json.RawMessage, error) {
	raw, err := c.do(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, err
	}
	if v != nil {
		if err := json.Unmarshal(raw, v); err != nil {
			return nil, &apiError{Title: "unexpected answer to GET " + path, Detail: err.Error()}
		}
	}
	return raw, nil
}

// responseError turns a 4xx/5xx answer into an apiError, from its problem
// document when it has one.
func responseError(res *http.Response) error {
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	var p problemDoc
	if json.Unmarshal(raw, &p) == nil && (p.Title != "" || detailText(p.Detail) != "") {
		if p.Title == "" {
			p.Title = http.StatusText(res.StatusCode)
		}
		return &apiError{Status: res.StatusCode, Title: p.Title, Detail: detailText(p.Detail), Type: p.Type}
	}
	// Not ours (a proxy, another service on the port): show a little of it.
	detail := strings.TrimSpace(string(raw))
	if len(detail) > 200 {
		detail = detail[:200] + "…"
	}
	return &apiError{Status: res.StatusCode, Title: fmt.Sprintf("HTTP %d %s", res.StatusCode, http.StatusText(res.StatusCode)), Detail: detail}
}

// unwrapURLError drops net/http's "Get "URL":" prefix, which repeats what
// the message already says.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// pathID escapes an id given on the command line for use in a path, so
// that a typo reaches the API as one bad id rather than another route.
func pathID(id string) string { return url.PathEscape(id) }
