// Package reliability holds tests that drive the real chaptask binary as a
// child process and break things around it. They prove that:
//
//   - a worker killed with SIGKILL mid-run loses and duplicates no job: every
//     submitted job completes with exactly one artifact, on PostgreSQL
//     against a separate Temporal server and in the single embedded binary
//     on SQLite (TestCrash*);
//   - while PostgreSQL is unreachable the API answers 503 problem documents,
//     never 500s or hangs, and jobs in flight complete once it is back
//     (TestDatabaseOutage);
//   - 1,000 executions from 50 concurrent clients, with reads alongside, all
//     complete with one artifact each, with no 5xx and bounded memory
//     (TestLoad);
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
