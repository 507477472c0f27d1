package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"unicode/utf8"
)

// maxBodyBytes bounds every request body.
const maxBodyBytes = 1 << 20

// encode writes v as JSON with the given status.
func encode(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	encodeStatus(w, status, v)
}

func encodeStatus(w http.ResponseWriter, status int, v any) {
	w.WriteHeader(status)
	// The status is on the wire already; a failed write means the client
	// went away and there is nobody left to tell.
	_ = json.NewEncoder(w).Encode(v)
}

// readBody reads the whole request body, at most maxBodyBytes of it.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, newProblem(http.StatusRequestEntityTooLarge, typePayloadTooLarge, "request body exceeds 1 MiB")
		}
		return nil, badRequest("read request body: %v", err)
	}
	return body, nil
}

// pathIDAndBody reads what every write to one resource starts with: the
// ULID in the path and the request body.
func pathIDAndBody(w http.ResponseWriter, r *http.Request) (string, []byte, error) {
	id, err := pathULID(r)
	if err != nil {
		return "", nil, err
	}
	body, err := readBody(w, r)
	if err != nil {
		return "", nil, err
	}
	return id, body, nil
}

// decodeObject parses body as one JSON object into its members.
func decodeObject(body []byte) (map[string]json.RawMessage, error) {
	// encoding/json would quietly turn invalid bytes into U+FFFD and store
	// a command the client never sent.
	if !utf8.Valid(body) {
		return nil, badRequest("request body is not valid UTF-8")
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, validationFailed([]fieldError{{Loc: []string{"body"}, Msg: "body must be a JSON object", Type: "type_error.dict"}})
		}
		return nil, badRequest("malformed JSON: %v", err)
	}
	if members == nil { // the literal null
		return nil, validationFailed([]fieldError{{Loc: []string{"body"}, Msg: "body must be a JSON object", Type: "type_error.dict"}})
	}
	return members, nil
}
