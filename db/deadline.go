package db

import (
	"context"
	"time"

	"github.com/uptrace/bun"
)

// DefaultCallTimeout bounds one database call made for an API request, and
// each network read or write of a PostgreSQL connection.
const DefaultCallTimeout = 5 * time.Second

type callTimeoutKey struct{}

// WithCallTimeout marks ctx so that every database call made with it, each
// query and each transaction as a whole, waits at most d from its start,
// pool wait included. The API marks every request: a stalled database then
// costs a request d, not however long the connection takes to give up.
func WithCallTimeout(ctx context.Context, d time.Duration) context.Context {
	if d <= 0 {
		return ctx
	}
	return context.WithValue(ctx, callTimeoutKey{}, d)
}

// callContext is ctx with the deadline its call timeout asks for; ctx
// itself when it carries none.
func callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	d, ok := ctx.Value(callTimeoutKey{}).(time.Duration)
	if !ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}

// callDeadlineHook applies the call timeout to every query bun runs; the
// deadline is released once the query's rows are read.
type callDeadlineHook struct{}

var _ bun.QueryHook = callDeadlineHook{}

func (callDeadlineHook) BeforeQuery(ctx context.Context, event *bun.QueryEvent) context.Context {
	if event.Query == "BEGIN" {
		// bun reports BeginTx as a query, and the context it returns
		// becomes the transaction's: releasing it after BEGIN would roll
		// the transaction back. Transactions take their deadline from
		// callContext as a whole.
		return ctx
	}
	ctx, cancel := callContext(ctx)
	if event.Stash == nil {
		event.Stash = map[any]any{}
	}
	event.Stash[callDeadlineHook{}] = cancel
	return ctx
}

func (callDeadlineHook) AfterQuery(_ context.Context, event *bun.QueryEvent) {
	if cancel, ok := event.Stash[callDeadlineHook{}].(context.CancelFunc); ok {
		cancel()
	}
}
