package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// requestTimeout bounds every API request, a job's event stream included.
const requestTimeout = time.Minute

// apiClient talks to chaptask's HTTP API as a user's program would.
type apiClient struct {
	base string
	http *http.Client
	// submitted counts the jobs submitted through this client.
	submitted atomic.Int64
	// polls counts the reads of a job's status by awaitPoll.
	polls atomic.Int64
}

func newAPIClient(base string) *apiClient {
	// Enough idle connections for every concurrent client, so that no
	// request pays for a new connection.
	tr := &http.Transport{
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 1024,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	return &apiClient{base: base, http: &http.Client{Transport: tr, Timeout: requestTimeout}}
}

func (c *apiClient) close() {
	c.http.CloseIdleConnections()
}

// do sends a request and decodes the JSON answer into out (if not nil). An
// answer other than want is an error.
func (c *apiClient) do(ctx context.Context, method, path string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(raw))
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
		}
	}
	return nil
}

// createTask creates a task and returns its id.
func (c *apiClient) createTask(ctx context.Context, task map[string]any) (string, error) {
	var created struct {
		ID string `json:"id"`
	}
	if err := c.do(ctx, http.MethodPost, "/api/v1/tasks", task, http.StatusCreated, &created); err != nil {
		return "", err
	}
	return created.ID, nil
}

// execute submits a job of the task and returns the job's id.
func (c *apiClient) execute(ctx context.Context, taskID string) (string, error) {
	var accepted struct {
		JobID string `json:"job_id"`
	}
	if err := c.do(ctx, http.MethodPost, "/api/v1/tasks/"+taskID+"/$execute", nil, http.StatusAccepted, &accepted); err != nil {
		return "", err
	}
	c.submitted.Add(1)
	return accepted.JobID, nil
}

// job is the part of a job record the bench reads.
type job struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

func (j job) terminal() bool {
	return j.Status == "completed" || j.Status == "failed" || j.Status == "canceled"
}

// awaitPoll reads the job every interval until its status is terminal and
// returns that status.
func (c *apiClient) awaitPoll(ctx context.Context, jobID string, interval time.Duration) (string, error) {
	for {
		var j job
		c.polls.Add(1)
		if err := c.do(ctx, http.MethodGet, "/api/v1/jobs/"+jobID, nil, http.StatusOK, &j); err != nil {
			return "", err
		}
		if j.terminal() {
			return j.Status, nil
		}
		if err := sleepCtx(ctx, interval); err != nil {
			return "", err
		}
	}
}

// awaitWait long-polls the job with ?wait= until its status is terminal and
// returns that status: the client a job service wants, one request per job
// instead of one per poll interval.
func (c *apiClient) awaitWait(ctx context.Context, jobID string) (string, error) {
	for {
		var j job
		c.polls.Add(1)
		if err := c.do(ctx, http.MethodGet, "/api/v1/jobs/"+jobID+"?wait=30s", nil, http.StatusOK, &j); err != nil {
			return "", err
		}
		if j.terminal() {
			return j.Status, nil
		}
	}
}

// awaitStream follows the job's event stream until its status is terminal
// and returns that status.
func (c *apiClient) awaitStream(ctx context.Context, jobID string) (string, error) {
	path := "/api/v1/jobs/" + jobID + "/$stream"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.http.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(resp.Body)
		return "", fmt.Errorf("GET %s: %s: %s", path, resp.Status, bytes.TrimSpace(raw))
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		var j job
		if err := json.Unmarshal([]byte(data), &j); err != nil {
			return "", fmt.Errorf("GET %s: decode event: %w", path, err)
		}
		if j.terminal() {
			return j.Status, nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("GET %s: %w", path, err)
	}
	return "", fmt.Errorf("GET %s: stream ended before the job did", path)
}

// jobsPage returns the number of jobs with the status ("" for any) and the
// id of the first one listed.
func (c *apiClient) jobsPage(ctx context.Context, status string) (total int, firstID string, err error) {
	q := url.Values{"page": {"1"}, "size": {"1"}}
	if status != "" {
		q.Set("status_filter", status)
	}
	var page struct {
		Items []job `json:"items"`
		Total int   `json:"total"`
	}
	if err := c.do(ctx, http.MethodGet, "/api/v1/jobs?"+q.Encode(), nil, http.StatusOK, &page); err != nil {
		return 0, "", err
	}
	if len(page.Items) > 0 {
		firstID = page.Items[0].ID
	}
	return page.Total, firstID, nil
}

// timedGet sends a GET, reads the whole answer and returns how long that
// took and the HTTP status.
func (c *apiClient) timedGet(ctx context.Context, path string) (time.Duration, int, error) {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return 0, 0, err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, 0, fmt.Errorf("GET %s: read answer: %w", path, err)
	}
	return time.Since(start), resp.StatusCode, nil
}

// pollJob submits a job of the task and polls it to its end.
func pollJob(api *apiClient, taskID string, interval time.Duration) jobFunc {
	return func(ctx context.Context) (string, error) {
		id, err := api.execute(ctx, taskID)
		if err != nil {
			return "", err
		}
		return api.awaitPoll(ctx, id, interval)
	}
}

// waitJob submits a job of the task and long-polls it to its end.
func waitJob(api *apiClient, taskID string) jobFunc {
	return func(ctx context.Context) (string, error) {
		id, err := api.execute(ctx, taskID)
		if err != nil {
			return "", err
		}
		return api.awaitWait(ctx, id)
	}
}

// streamJob submits a job of the task and follows its event stream to its
// end.
func streamJob(api *apiClient, taskID string) jobFunc {
	return func(ctx context.Context) (string, error) {
		id, err := api.execute(ctx, taskID)
		if err != nil {
			return "", err
		}
		return api.awaitStream(ctx, id)
	}
}
