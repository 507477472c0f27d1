// Package api is chaptask's HTTP API: the chapkit-compatible task, job,
// schedule and artifact endpoints, health, metrics, the OpenAPI document
// and the console, as one http.Handler (NewServer).
//
// It owns HTTP only: decoding and validating requests (422 naming every
// bad field), encoding answers, RFC 9457 problems, and the middleware
// around them (API keys, request limits, deadlines, logs, metrics). It owns
// no rule of the domain: whether a task may be stored, run or scheduled is
// decided by the tasks service (package tasks), what a job is by package
// jobs, and both answer with domain errors.
//
// Where things are:
//   - routes.go is the whole API, one line a route.
//   - errors.go is the one table from domain error codes to HTTP statuses
//     and problem types; problem.go writes every error answer.
//   - tasks.go, jobs.go, bulk.go, schedules.go, artifacts.go, joblogs.go
//     hold the handlers of each resource, and their request decoding.
//
// To add an endpoint: put the rule it needs in package tasks (or jobs)
// returning a domain.Error; write a handler in the resource's file that
// decodes the request, calls the service and encodes the answer, passing
// any error to writeError; add its route to routes.go and its operation to
// openapi.json (TestOpenAPIMatchesRouter checks the two agree).
package api
