// Package reliability holds tests that drive the real chaptask binary as a
// child process and break things around it. They prove that:
//
//   - a worker killed with SIGKILL mid-run loses and duplicates no job: every
//     submitted job completes with exactly one artifact, on PostgreSQL
//     against a separate Temporal server and in the single embedded binary
//     on SQLite (TestCrash*);
//   - a worker killed with SIGKILL while a fan_out_sum parent waits for its
//     20 child jobs: the parent completes on another worker, attached to the
//     children it had started; exactly 20 children exist, each with one
//     artifact under the parent's (TestCrashChildJobs);
//   - while PostgreSQL is unreachable the API answers 503 problem documents,
//     never 500s or hangs, and jobs in flight complete once it is back
//     (TestDatabaseOutage);
//   - PostgreSQL refused for 120 s, or stalled (connections accepted, never
//     answered) for 60 s, with 50 jobs in flight loses nothing: every job
//     completes with one artifact holding exactly what its command printed,
//     and its live output ($logs) holds the same bytes (TestLongDatabaseOutage);
//   - processes a job started outside its process group (setsid, double
//     forks, nohup) end with the job, when it completes and when it is
//     canceled (TestJobLeavesNoProcess);
//   - 1,000 executions from 50 concurrent clients, with reads alongside, all
//     complete with one artifact each, with no 5xx and bounded memory
//     (TestLoad);
//   - while PostgreSQL stalls (accepts, never answers) every request answers
//     503 with Retry-After within CHAPTASK_DB_TIMEOUT + 1 s
//     (TestDatabaseStall);
//   - a full data disk gives 507s and a /health naming storage, and the
//     service recovers once space is freed, its SQLite intact (TestDiskFull);
//   - artifacts expire under a retention policy and can be deleted, their
//     jobs still readable (TestArtifactRetentionAndDelete);
//   - a command printing 100 MB completes with its head and tail kept and
//     the worker's memory bounded (TestLargeOutput);
//   - 2,000 slow-body connections against a service with "ulimit -n 1024"
//     leave /health and an authenticated list answering within a second
//     (TestSlowClients);
//   - a shell task run as another user (CHAPTASK_RUN_AS) reads none of the
//     service's secrets through /proc, descriptors, the data directory or
//     the keys file, on both databases (TestSecretsStayInService).
//
// Figures (jobs lost or duplicated, 5xx, peak RSS) are logged on lines
// starting with "FIGURE:"; run with -v to see them. The package has no
// non-test code.
package reliability
