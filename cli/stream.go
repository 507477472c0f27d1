package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Reconnecting a stream that broke: how often before giving up, and the
// pauses in between (doubling).
const (
	maxStreamRetries = 5
	firstRetryPause  = 250 * time.Millisecond
	maxRetryPause    = 4 * time.Second
)

// jobEvent is one state of a job as the stream sent it.
type jobEvent struct {
	job job
	raw json.RawMessage
}

// follow reads the job's Server-Sent Events until a terminal status, calling
// onEvent for each state, and returns the last one. A stream that breaks
// before the end is opened again: the server sends the current state first.
func (c *client) follow(ctx context.Context, id string, onEvent func(jobEvent)) (jobEvent, error) {
	var last jobEvent
	failures := 0
	pause := firstRetryPause
	for {
		progressed := false
		err := c.stream(ctx, id, func(ev jobEvent) {
			last, progressed = ev, true
			onEvent(ev)
		})
		if last.job.terminal() {
			return last, nil
		}
		var api *apiError
		switch {
		case ctx.Err() != nil:
			return last, ctx.Err()
		case errors.As(err, &api) && api.Status != 0 && api.Status != http.StatusServiceUnavailable:
			return last, err // the API refused: retrying changes nothing
		}
		if progressed {
			failures, pause = 0, firstRetryPause
		}
		if failures++; failures > maxStreamRetries {
			if err == nil {
				err = errors.New("the stream kept closing before the job finished")
			}
			return last, fmt.Errorf("follow job %s: %w", id, err)
		}
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, maxRetryPause)
	}
}

// stream reads one connection of the job's event stream until it ends.
func (c *client) stream(ctx context.Context, id string, onEvent func(jobEvent)) error {
	res, err := c.request(ctx, http.MethodGet, "/api/v1/jobs/"+pathID(id)+"/$stream", nil)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	return readEvents(res.Body, func(data string) error {
		var ev jobEvent
		if err := json.Unmarshal([]byte(data), &ev.job); err != nil {
			return &apiError{Title: "unexpected event in the job stream", Detail: oneLine(data, 200)}
		}
		ev.raw = json.RawMessage(data)
		onEvent(ev)
		return nil
	})
}

// readEvents parses a text/event-stream and calls onData with the data of
// each event; comments and other fields are skipped.
func readEvents(r io.Reader, onData func(string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxBody)
	var data []string
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if len(data) > 0 {
				if err := onData(strings.Join(data, "\n")); err != nil {
					return err
				}
				data = data[:0]
			}
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		if field == "data" {
			data = append(data, strings.TrimPrefix(value, " "))
		}
	}
	if err := sc.Err(); err != nil {
		return &apiError{Title: "job stream broke", Detail: err.Error()}
	}
	return nil
}
