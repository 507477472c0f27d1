// Package domain is chaptask's shared vocabulary: the task types, the job
// statuses, the rules of the deployment (Policy) and the one error type
// every layer returns (Error, with a Code). It imports nothing of ours, so
// the workflow, the worker, the database layer and the API all read the
// same definitions.
//
// The rules are applied by the tasks and jobs services; the API maps each
// Code to an HTTP answer in one table (api/errors.go).
package domain
