package api

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// ConnLimits bound what slow or abusive clients can hold of the HTTP
// server: a whole request must arrive within ReadTimeout, and at most
// MaxConns connections are open at once.
//
// When the cap is reached, a new connection takes the place of the one that
// has been reading its request body longest (a client trickling a body),
// else of the longest idle keep-alive connection, else of the one reading
// headers longest; only when every connection is busy being answered (Server-Sent Events, long polls, handlers) is the new
// one refused with a 503 and closed at once. So 2,000 slow-body clients
// cannot lock out a health probe, and streams are never cut to make room.
type ConnLimits struct {
	// MaxConns caps open connections; 0 means no cap.
	MaxConns int
	// ReadTimeout bounds reading a request's body, counted from the
	// request's first byte; 0 means no bound. Headers have the server's
	// ReadHeaderTimeout. Streams and long polls have no body, so they
	// are not cut by it.
	ReadTimeout time.Duration
}

// connPhase is what a connection is doing, for choosing whom to close.
type connPhase int

const (
	phaseHeaders connPhase = iota // reading a request's headers
	phaseBody                     // its handler reads the request body
	phaseIdle                     // between requests
	phaseServing                  // its handler runs
)

type trackedConn struct {
	net.Conn
	phase connPhase
	since time.Time // start of the phase
}

// connTracker implements ConnLimits on a server.
type connTracker struct {
	limits ConnLimits
	mu     sync.Mutex
	conns  map[net.Conn]*trackedConn
}

type trackedConnKey struct{}

// Apply sets srv up to enforce the limits and returns the listener srv
// must serve: it counts and, at the cap, evicts or refuses connections.
// srv's Handler is wrapped; set it first.
func (l ConnLimits) Apply(srv *http.Server, ln net.Listener) net.Listener {
	t := &connTracker{limits: l, conns: map[net.Conn]*trackedConn{}}
	prevState := srv.ConnState
	srv.ConnState = func(c net.Conn, s http.ConnState) {
		t.setState(c, s)
		if prevState != nil {
			prevState(c, s)
		}
	}
	prevCtx := srv.ConnContext
	srv.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if prevCtx != nil {
			ctx = prevCtx(ctx, c)
		}
		return context.WithValue(ctx, trackedConnKey{}, c)
	}
	srv.Handler = t.bodyDeadline(srv.Handler)
	return &limitedListener{Listener: ln, t: t}
}

func (t *connTracker) setState(c net.Conn, s http.ConnState) {
	t.mu.Lock()
	defer t.mu.Unlock()
	tc, ok := t.conns[c]
	if !ok {
		return
	}
	switch s {
	case http.StateActive:
		tc.phase, tc.since = phaseHeaders, time.Now()
	case http.StateIdle:
		tc.phase, tc.since = phaseIdle, time.Now()
	case http.StateHijacked, http.StateClosed:
		delete(t.conns, c)
	}
}

// setPhase records a phase the server has no state for: a handler that
// has started (serving) or is reading its body.
func (t *connTracker) setPhase(c net.Conn, p connPhase) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tc, ok := t.conns[c]; ok && tc.phase != p {
		tc.phase = p
		if p != phaseBody { // a body is timed from the request's first byte
			tc.since = time.Now()
		}
	}
}

// admit registers c, making room first when the cap is reached. It
// returns false when every connection is busy being answered.
func (t *connTracker) admit(c net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.limits.MaxConns > 0 && len(t.conns) >= t.limits.MaxConns {
		victim := t.pickVictim()
		if victim == nil {
			return false
		}
		delete(t.conns, victim.Conn)
		// Closing makes the server's pending read fail, which ends the
		// request; the server then drops the connection as closed.
		_ = victim.Conn.Close()
	}
	t.conns[c] = &trackedConn{Conn: c, phase: phaseHeaders, since: time.Now()}
	return true
}

// pickVictim returns the connection reading a body longest, else the one
// idle longest, else the one reading headers longest, else nil. Headers
// come last: a request just arriving (a health probe) is still reading
// them, and ReadHeaderTimeout bounds them anyway.
func (t *connTracker) pickVictim() *trackedConn {
	oldest := map[connPhase]*trackedConn{}
	for _, tc := range t.conns {
		if o := oldest[tc.phase]; o == nil || tc.since.Before(o.since) {
			oldest[tc.phase] = tc
		}
	}
	for _, p := range []connPhase{phaseBody, phaseIdle, phaseHeaders} {
		if oldest[p] != nil {
			return oldest[p]
		}
	}
	return nil
}

// bodyDeadline bounds reading a request body and lifts the bound once the
// body is read, so a handler that answers for long (a long poll after a
// POST) is not cut off by it. Requests without a body only mark their
// connection as being served.
func (t *connTracker) bodyDeadline(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := r.Context().Value(trackedConnKey{}).(net.Conn)
		if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 || c == nil {
			if c != nil {
				t.setPhase(c, phaseServing)
			}
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		if t.limits.ReadTimeout > 0 {
			_ = rc.SetReadDeadline(t.requestStart(c).Add(t.limits.ReadTimeout))
		}
		t.setPhase(c, phaseBody)
		r.Body = &deadlineBody{ReadCloser: r.Body, done: func() {
			_ = rc.SetReadDeadline(time.Time{})
			t.setPhase(c, phaseServing)
		}}
		next.ServeHTTP(w, r)
	})
}

// requestStart is when c began reading its current request.
func (t *connTracker) requestStart(c net.Conn) time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tc, ok := t.conns[c]; ok && tc.phase == phaseHeaders {
		return tc.since
	}
	return time.Now()
}

// deadlineBody calls done once, when the body has been read to its end.
type deadlineBody struct {
	io.ReadCloser
	once sync.Once
	done func()
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, io.EOF) {
		b.once.Do(b.done)
	}
	return n, err
}

// limitedListener admits connections through its tracker and answers the
// ones it cannot admit with a 503 before closing them.
type limitedListener struct {
	net.Listener
	t *connTracker
}

// refusalBody is the problem a connection over the cap is answered with.
const refusalBody = `{"type":"` + typeServiceUnavailable + `","title":"Service Unavailable","status":503,` +
	`"detail":"too many open connections, try again shortly","instance":""}` + "\n"

// refusal is the whole answer to a connection over the cap.
var refusal = "HTTP/1.1 503 Service Unavailable\r\n" +
	"Content-Type: application/problem+json\r\n" +
	"Retry-After: 1\r\n" +
	"Connection: close\r\n" +
	"Content-Length: " + strconv.Itoa(len(refusalBody)) + "\r\n\r\n" + refusalBody

// refusalWriteTimeout bounds writing the refusal to a client that does not read.
const refusalWriteTimeout = 100 * time.Millisecond

// refusalLinger and refusalDrainLimit bound how long a refused connection
// waits for its request, and how much of it is read before the close.
const (
	refusalLinger     = 500 * time.Millisecond
	refusalDrainLimit = 64 << 10
)

// refuse answers c with the refusal and closes it. It waits, briefly, for
// the request to begin first: an HTTP client treats an answer that comes
// before its request as unsolicited and drops it. And closing a socket with
// the request unread makes the kernel send a reset, which can destroy the
// 503 before the client reads it; so the write half is closed first and
// the rest of the request drained, briefly, before the close.
func refuse(c net.Conn) {
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(refusalLinger))
	_, _ = c.Read(make([]byte, 4<<10))
	_ = c.SetWriteDeadline(time.Now().Add(refusalWriteTimeout))
	if _, err := io.WriteString(c, refusal); err != nil {
		return
	}
	if hc, ok := c.(interface{ CloseWrite() error }); ok && hc.CloseWrite() == nil {
		_ = c.SetReadDeadline(time.Now().Add(refusalLinger))
		_, _ = io.Copy(io.Discard, io.LimitReader(c, refusalDrainLimit))
	}
}

func (l *limitedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.t.admit(c) {
			return c, nil
		}
		go refuse(c)
	}
}
