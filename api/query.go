package api

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gorilla/mux"
	"github.com/oklog/ulid/v2"
)

// maxPageSize bounds "size" on every paginated list.
const maxPageSize = 100

// maxPage keeps (page-1)*size far inside int64 for every database.
const maxPage = 1_000_000_000

// pageRequest is the parsed page/size pair. Pagination applies only when
// both are given; otherwise lists are plain arrays, as in chapkit.
type pageRequest struct {
	given bool
	page  int
	size  int
}

func (p pageRequest) limit() int {
	if !p.given {
		return 0
	}
	return p.size
}

func (p pageRequest) offset() int {
	if !p.given {
		return 0
	}
	return (p.page - 1) * p.size
}

// pageEnvelope is the paginated list shape.
type pageEnvelope[T any] struct {
	Items []T `json:"items"`
	Total int `json:"total"`
	Page  int `json:"page"`
	Size  int `json:"size"`
	Pages int `json:"pages"`
}

func newPage[T any](p pageRequest, items []T, total int) pageEnvelope[T] {
	pages := (total + p.size - 1) / p.size
	return pageEnvelope[T]{Items: items, Total: total, Page: p.page, Size: p.size, Pages: pages}
}

// parsePage reads page and size. Each is validated when present, even alone,
// so a typo never silently returns everything.
func parsePage(q url.Values) (pageRequest, []fieldError) {
	var errs []fieldError
	read := func(name string, max int) (int, bool) {
		if !q.Has(name) {
			return 0, false
		}
		raw := q.Get(name)
		n, err := strconv.Atoi(strings.TrimSpace(raw))
		switch {
		case err != nil:
			errs = append(errs, queryError(name, "must be an integer", "type_error.integer"))
		case n < 1:
			errs = append(errs, queryError(name, "must be at least 1", "value_error.number.not_ge"))
		case max > 0 && n > max:
			errs = append(errs, queryError(name, "must be at most "+strconv.Itoa(max), "value_error.number.not_le"))
		default:
			return n, true
		}
		return 0, false
	}
	page, hasPage := read("page", maxPage)
	size, hasSize := read("size", maxPageSize)
	if len(errs) > 0 {
		return pageRequest{}, errs
	}
	return pageRequest{given: hasPage && hasSize, page: page, size: size}, nil
}

// parseBoolQuery reads an optional boolean query parameter, accepting the
// spellings FastAPI accepts.
func parseBoolQuery(q url.Values, name string) (*bool, []fieldError) {
	if !q.Has(name) {
		return nil, nil
	}
	var v bool
	switch strings.ToLower(strings.TrimSpace(q.Get(name))) {
	case "true", "1", "yes", "on":
		v = true
	case "false", "0", "no", "off":
		v = false
	default:
		return nil, []fieldError{queryError(name, "must be a boolean (true or false)", "type_error.bool")}
	}
	return &v, nil
}

// parseULIDQuery reads an optional ULID query parameter in canonical form.
func parseULIDQuery(q url.Values, name string) (string, []fieldError) {
	if !q.Has(name) {
		return "", nil
	}
	id, err := parseULID(q.Get(name))
	if err != nil {
		return "", []fieldError{queryError(name, "must be a ULID", "value_error.ulid")}
	}
	return id, nil
}

func queryError(name, msg, typ string) fieldError {
	return fieldError{Loc: []string{"query", name}, Msg: msg, Type: typ}
}

func collect(groups ...[]fieldError) []fieldError {
	var all []fieldError
	for _, g := range groups {
		all = append(all, g...)
	}
	return all
}

// pathULID returns the {id} path variable in canonical form, or an
// invalid-ulid problem.
func pathULID(r *http.Request) (string, error) {
	return parseULID(mux.Vars(r)["id"])
}

func parseULID(raw string) (string, error) {
	id, err := ulid.ParseStrict(raw)
	if err != nil {
		return "", invalidULID(raw)
	}
	return id.String(), nil
}
