package api

import "net/url"

// parseJobIDQuery reads query parameter name as a job id (see parseJobID);
// "" when it is absent.
func parseJobIDQuery(q url.Values, name string) (string, []fieldError) {
	if !q.Has(name) {
		return "", nil
	}
	id, err := parseJobID(q.Get(name))
	if err != nil {
		return "", []fieldError{queryError(name, "must be a job id", "value_error.ulid")}
	}
	return id, nil
}
