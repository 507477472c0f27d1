package api

import (
	"context"
	"fmt"
	"syscall"
)

// StorageCheck is the "storage" check of GET /health: the free space of the
// file system holding dir (the data directory of SQLite and the embedded
// Temporal server) must be at least minFree bytes. Below it the service
// still answers, but writes are about to fail, so health is "degraded"
// and 503: a load balancer or an operator learns it before the disk fills.
func StorageCheck(dir string, minFree int64) HealthCheck {
	return HealthCheck{
		Name:     "storage",
		Degrades: true,
		Check: func(context.Context) error {
			free, err := freeBytes(dir)
			if err != nil {
				return fmt.Errorf("free space of %s: %w", dir, err)
			}
			if free < minFree {
				return fmt.Errorf("%s free in %s, below the %s minimum (CHAPTASK_MIN_FREE_SPACE)",
					formatBytes(free), dir, formatBytes(minFree))
			}
			return nil
		},
	}
}

// freeBytes is the space an unprivileged process may still write on the
// file system holding dir.
func freeBytes(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

func formatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
