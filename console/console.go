// Package console is chaptask's web console: a few static files, embedded
// in the binary, that run in the browser as one more client of the public
// HTTP API. Nothing is built: the files are served as written.
package console

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
)

// AssetPrefix is the path under which the console's assets are served.
const AssetPrefix = "/console/"

//go:embed assets
var files embed.FS

// ContentSecurityPolicy lets the console load code, styles and data only
// from its own origin: no inline script, no other host.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// asset is one embedded file, ready to serve.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// Handler serves the console: the page at "/", the favicon at
// "/favicon.ico" and every asset under AssetPrefix. Anything else is
// answered by notFound.
type Handler struct {
	assets   map[string]asset
	notFound http.Handler
}

// New returns the console's handler; notFound answers paths it does not
// serve.
func New(notFound http.Handler) *Handler {
	h := &Handler{assets: map[string]asset{}, notFound: notFound}
	// The embedded tree is fixed at build time, so walking it cannot fail.
	_ = fs.WalkDir(files, "assets", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := files.ReadFile(name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		ct := mime.TypeByExtension(path.Ext(name))
		if ct == "" {
			ct = "application/octet-stream"
		}
		h.assets[strings.TrimPrefix(name, "assets/")] = asset{body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	return h
}

// Size is the number of bytes of all the console's assets, uncompressed:
// what a first visit downloads at most.
func (h *Handler) Size() int {
	n := 0
	for _, a := range h.assets {
		n += len(a.body)
	}
	return n
}

// IsPublic reports whether path is part of the console itself, which holds
// no data and so is served without an API key: the page must load to ask
// for one.
func IsPublic(p string) bool {
	return p == "/" || p == "/favicon.ico" || strings.HasPrefix(p, AssetPrefix)
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	name := ""
	switch {
	case r.URL.Path == "/":
		name = "index.html"
	case r.URL.Path == "/favicon.ico":
		name = "favicon.svg"
	case strings.HasPrefix(r.URL.Path, AssetPrefix):
		name = strings.TrimPrefix(r.URL.Path, AssetPrefix)
	}
	a, ok := h.assets[name]
	if !ok || name == "index.html" && r.URL.Path != "/" {
		h.notFound.ServeHTTP(w, r)
		return
	}
	hdr := w.Header()
	hdr.Set("Content-Type", a.contentType)
	// Revalidated on every load, answered 304 while unchanged: an upgrade
	// is never mixed with cached files of the previous version.
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("ETag", a.etag)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("Content-Security-Policy", ContentSecurityPolicy)
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(a.body) // a failed write means the client left
}
