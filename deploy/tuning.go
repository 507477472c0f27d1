package deploy

import _ "embed"

// VisibilityTuning is deploy/temporal/visibility-tuning.sql: the autovacuum
// settings for Temporal's visibility table on PostgreSQL, which the compose
// stack applies and chaptask-bench -production applies to the cluster it
// starts.
//
//go:embed temporal/visibility-tuning.sql
var VisibilityTuning string
