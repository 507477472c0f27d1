package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// The console's browser tests drive the page in a real headless Chromium,
// against the real service, the way a person uses it: clicks and typing.
// Each test fails on any console error and on any request that leaves the
// service's origin. With CHAPTASK_CONSOLE_SCREENSHOTS=dir they save a
// screenshot of each screen there (docs/console is made that way).

// browserWait bounds each wait for the page to show something.
const browserWait = 30 * time.Second

// chromiumPath finds a Chromium to drive, or skips the test.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium found (chromium, chromium-browser, google-chrome): install Debian's chromium package to run the console's browser tests")
	return ""
}

// page is one browser tab on a service's console.
type page struct {
	t    *testing.T
	ctx  context.Context
	base string
	// allow lists expected error lines the browser logs, such as the 401
	// of the first request to a key-protected service.
	allow []string

	mu       sync.Mutex
	problems []string
}

// newBrowser starts a fresh headless Chromium and returns its tab.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	// Not t.TempDir: Chromium's helper processes may still be writing its
	// profile for a moment after the browser is stopped, which fails the
	// test's own removal of the directory.
	profile, err := os.MkdirTemp("", "chaptask-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 800),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		removeWhenQuiet(t, profile)
	})
	// The first run starts the browser, which lives as long as the context
	// of that run: no timeout on this one.
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// removeWhenQuiet removes dir, trying again while processes that are
// going away still add files to it.
func removeWhenQuiet(t *testing.T, dir string) {
	var err error
	for range 50 {
		if err = os.RemoveAll(dir); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("remove the browser profile %s: %v", dir, err)
}

// openConsole starts a fresh headless Chromium on base's console.
func openConsole(t *testing.T, base string, allow ...string) *page {
	t.Helper()
	ctx := newBrowser(t)
	p := &page{t: t, ctx: ctx, base: base, allow: allow}
	chromedp.ListenTarget(ctx, func(ev any) {
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.APITypeError || ev.Type == runtime.APITypeWarning {
				var args []string
				for _, a := range ev.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				p.problem("console.%s: %s", ev.Type, strings.Join(args, " "))
			}
		case *runtime.EventExceptionThrown:
			p.problem("uncaught: %s", ev.ExceptionDetails.Error())
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.LevelError || ev.Entry.Level == cdplog.LevelWarning {
				p.problem("browser log (%s): %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
			}
		case *network.EventRequestWillBeSent:
			u := ev.Request.URL
			if u != base && !strings.HasPrefix(u, base+"/") && !strings.HasPrefix(u, "data:") && !strings.HasPrefix(u, "blob:") {
				p.problem("request left the origin: %s %s", ev.Request.Method, u)
			}
		}
	})
	p.run(network.Enable(), cdplog.Enable(), runtime.Enable())
	t.Cleanup(p.checkProblems)
	return p
}

func (p *page) problem(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	for _, a := range p.allow {
		if strings.Contains(line, a) {
			return
		}
	}
	p.mu.Lock()
	p.problems = append(p.problems, line)
	p.mu.Unlock()
}

func (p *page) checkProblems() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, line := range p.problems {
		p.t.Errorf("browser: %s", line)
	}
}

func (p *page) run(actions ...chromedp.Action) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, browserWait)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		p.t.Fatalf("browser: %v", err)
	}
}

// open navigates to a console fragment, e.g. "#/jobs".
func (p *page) open(fragment string) {
	p.t.Helper()
	p.run(chromedp.Navigate(p.base + "/" + fragment))
}

// waitFor waits until the JavaScript expression is true, saying what it
// waited for when it times out.
func (p *page) waitFor(what, expr string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, browserWait)
	defer cancel()
	if err := chromedp.Run(ctx, chromedp.Poll(expr, nil, chromedp.WithPollingInterval(50*time.Millisecond))); err != nil {
		var text string
		_ = chromedp.Run(p.ctx, chromedp.Evaluate(`document.getElementById("view").innerText.slice(0, 2000)`, &text))
		p.t.Fatalf("waiting for %s: %v\npage shows:\n%s", what, err, text)
	}
}

// text is the visible text of the first element matching the selector.
func textOf(sel string) string {
	return fmt.Sprintf(`(document.querySelector(%q) || {}).innerText || ""`, sel)
}

func (p *page) click(sel string) {
	p.t.Helper()
	p.run(chromedp.WaitVisible(sel, chromedp.ByQuery), chromedp.Click(sel, chromedp.ByQuery))
}

func (p *page) typeInto(sel, text string) {
	p.t.Helper()
	p.run(chromedp.WaitVisible(sel, chromedp.ByQuery), chromedp.Clear(sel, chromedp.ByQuery), chromedp.SendKeys(sel, text, chromedp.ByQuery))
}

// choose picks an option of a select by keyboard-equivalent value change,
// as a person's pick fires it.
func (p *page) choose(sel, value string) {
	p.t.Helper()
	p.run(chromedp.WaitVisible(sel, chromedp.ByQuery), chromedp.SetValue(sel, value, chromedp.ByQuery),
		chromedp.Evaluate(fmt.Sprintf(`document.querySelector(%q).dispatchEvent(new Event("change"))`, sel), nil))
}

// confirm accepts the console's confirmation dialog.
func (p *page) confirm() {
	p.t.Helper()
	p.waitFor("the confirmation dialog", `document.getElementById("confirm-dialog").open`)
	p.click("#confirm-ok")
}

// screenshot saves the viewport as name.png when screenshots are asked for.
func (p *page) screenshot(name string) {
	p.t.Helper()
	dir := os.Getenv("CHAPTASK_CONSOLE_SCREENSHOTS")
	if dir == "" {
		return
	}
	var png []byte
	// Notes of earlier actions would cover the picture; the pause lets
	// transitions settle for the picture only.
	p.run(chromedp.Evaluate(`document.getElementById("toasts")?.replaceChildren()`, nil),
		chromedp.Sleep(300*time.Millisecond), chromedp.CaptureScreenshot(&png))
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

func consoleEnv(t *testing.T) map[string]string {
	env := newEnv(t, "sqlite")
	env["CHAPTASK_MAX_CONCURRENCY"] = "4"
	return env
}

// TestConsole drives the console of a default service through what a
// person does with it.
func TestConsole(t *testing.T) {
	chromiumPath(t)
	s := startService(t, consoleEnv(t))
	p := openConsole(t, s.base)

	t.Run("overview", func(t *testing.T) {
		p.t = t
		p.open("")
		p.waitFor("the seeded tasks", `document.querySelectorAll("#try-tasks tr").length >= 5`)
		p.waitFor("the health checks", textOf("#view")+`.includes("temporal")`)
		p.screenshot("overview")
	})

	var shellJob string
	t.Run("shell task: create, run, live output, artifact", func(t *testing.T) {
		p.t = t
		p.open("#/tasks")
		p.click("#new-task")
		p.typeInto("#task-command", `echo first-line; sleep 2; echo second-line; echo to-stderr >&2`)
		p.screenshot("task-form")
		p.click("#task-save")
		p.waitFor("the task page", `!!document.getElementById("run-submit")`)
		p.click("#run-submit")
		// Live: the first line shows while the job still runs, before any
		// artifact exists.
		p.waitFor("live output", textOf("#live-output")+`.includes("first-line") && !document.getElementById("artifact-stdout")`)
		p.screenshot("job-running")
		p.waitFor("the artifact", textOf("#artifact-stdout")+`.includes("second-line") && `+textOf("#exit-code")+` === "0"`)
		p.waitFor("stderr", textOf("#artifact-stderr")+`.includes("to-stderr")`)
		p.run(chromedp.Evaluate(`location.hash.split("/").pop()`, &shellJob))
		p.screenshot("job-completed")
		p.click("#artifact-link")
		p.waitFor("the artifact page", textOf("#artifact-raw")+`.includes("second-line") || !!document.getElementById("artifact-tree")`)
		p.screenshot("artifact")
	})

	t.Run("function task through the generated form", func(t *testing.T) {
		p.t = t
		p.open("#/tasks/new")
		p.choose("#task-type", "go")
		p.choose("#task-function", "calculate_sum")
		p.typeInto("#param-a", "19")
		p.typeInto("#param-b", "23")
		p.screenshot("task-form-function")
		p.click("#task-save")
		p.waitFor("the task page", `!!document.getElementById("run-submit")`)
		p.click("#run-submit")
		p.waitFor("the result", textOf("#function-result")+`.includes("42")`)
	})

	t.Run("failing function shows its traceback", func(t *testing.T) {
		p.t = t
		p.open("#/tasks/01JCSEED0000000000000PYTH4")
		p.click("#run-submit")
		p.waitFor("the error", textOf("#function-error")+`.includes("ValueError") && `+textOf("#function-error")+`.includes("designed to fail")`)
		p.waitFor("the traceback", textOf("#traceback")+`.length > 0`)
		p.screenshot("job-failed-function")
		// The job is "completed" (the error is in its artifact), and the
		// overview still lists it among the recent failures.
		var failing string
		p.run(chromedp.Evaluate(`location.hash.split("/").pop()`, &failing))
		p.open("")
		p.waitFor("the failing job among recent failures", `!!document.querySelector('#recent-failures tr[data-job="`+failing+`"][data-status="completed"]')`)
	})

	t.Run("cancel a running job", func(t *testing.T) {
		p.t = t
		id := s.createTask(t, map[string]any{"command": "echo started; sleep 120"})
		p.open("#/tasks/" + id)
		p.click("#run-submit")
		p.waitFor("the job to run", textOf("#live-output")+`.includes("started")`)
		p.click("#cancel-job")
		p.waitFor("the canceled status", textOf("#view .toolbar .badge")+` === "canceled"`)
	})

	t.Run("create and pause a schedule", func(t *testing.T) {
		p.t = t
		id := s.createTask(t, map[string]any{"command": "echo scheduled"})
		p.open("#/tasks/" + id)
		p.choose("#schedule-kind", "interval_seconds")
		p.typeInto("#schedule-value", "3600")
		p.click("#schedule-form button[type=submit]")
		p.waitFor("the schedule", `document.querySelectorAll("#schedules tr[data-schedule]").length === 1`)
		p.waitFor("an active schedule", textOf("#schedules tr[data-schedule] .badge")+` === "active"`)
		p.run(chromedp.Click(`//tr[@data-schedule]//button[text()="Pause"]`, chromedp.BySearch))
		p.waitFor("the paused schedule", textOf("#schedules tr[data-schedule] .badge")+` === "paused"`)
		p.screenshot("task-schedules")
	})

	t.Run("keyboard: skip link, keeping a job, no cancel of finished jobs", func(t *testing.T) {
		p.t = t
		p.open("#/tasks")
		p.waitFor("the task list", `document.querySelectorAll("tr[data-task]").length > 0`)
		// The skip link (the page's first link) by Enter moves focus to
		// the content and stays on the page (the fragment is the router's).
		p.run(chromedp.Focus("a.skip", chromedp.ByQuery), chromedp.KeyEvent("\r"))
		p.waitFor("focus on the content", `location.hash === "#/tasks" && document.activeElement.id === "view" && !!document.getElementById("enabled-filter")`)

		p.open("#/jobs/" + shellJob)
		p.click("#delete-job")
		p.waitFor("the confirmation dialog", `document.getElementById("confirm-dialog").open`)
		p.run(chromedp.KeyEvent(kb.Escape))
		p.waitFor("the dialog closed", `!document.getElementById("confirm-dialog").open`)
		p.waitFor("the job page kept", `location.hash === "#/jobs/`+shellJob+`" && !!document.getElementById("delete-job")`)

		p.open("#/jobs?status_filter=completed")
		p.waitFor("cancel of matching jobs off", `document.getElementById("cancel-matching")?.disabled === true`)
	})

	t.Run("jobs list and the other screens", func(t *testing.T) {
		p.t = t
		p.open("#/jobs")
		p.waitFor("the jobs", `document.querySelectorAll("#jobs-table tr[data-job]").length >= 4`)
		p.waitFor("outcomes", `[...document.querySelectorAll("#jobs-table tr[data-status=completed]")].every(r => r.innerText.includes("exit") || r.innerText.includes("ok") || r.innerText.includes("Error"))`)
		p.screenshot("jobs")
		p.open("#/functions")
		p.waitFor("the catalogue", textOf("#view")+`.includes("calculate_sum")`)
		p.screenshot("functions")
		p.open("#/artifacts")
		p.waitFor("the artifacts", `document.querySelectorAll("#view tbody tr").length >= 3`)
		p.screenshot("artifacts")

		// A phone's width, and the dark theme.
		p.run(emulation.SetDeviceMetricsOverride(390, 844, 1, true))
		p.open("#/jobs/" + shellJob)
		p.waitFor("the job page", textOf("#exit-code")+` === "0"`)
		p.screenshot("job-phone")
		p.run(emulation.ClearDeviceMetricsOverride())
		p.open("")
		p.waitFor("the overview", `!!document.getElementById("try-tasks")`)
		p.click("#theme")
		p.waitFor("the dark theme", `document.documentElement.dataset.theme === "dark"`)
		p.screenshot("overview-dark")
	})
}

// TestConsoleAPIKey: a key-protected service's console asks for the key,
// then works with it.
func TestConsoleAPIKey(t *testing.T) {
	chromiumPath(t)
	env := consoleEnv(t)
	env["CHAPTASK_API_KEYS"] = "console-test-key"
	s := startService(t, env)
	// The first call without a key is refused; the browser logs that 401.
	p := openConsole(t, s.base, "status of 401")
	p.open("")
	p.waitFor("the key prompt", `document.getElementById("key-dialog").open`)
	p.screenshot("api-key")
	p.typeInto("#key-input", "console-test-key")
	p.click("#key-form button[type=submit]")
	p.waitFor("the overview", `document.querySelectorAll("#try-tasks tr").length >= 5`)
	p.open("#/tasks/01JCSEED0000000000000PYTH1")
	p.click("#run-submit")
	p.waitFor("the result", textOf("#function-result")+`.includes("42")`)
}

// TestConsoleReadOnly: with tasks read-only and shell tasks off, the
// console offers no create or edit controls and says why.
func TestConsoleReadOnly(t *testing.T) {
	chromiumPath(t)
	env := consoleEnv(t)
	env["CHAPTASK_TASKS_READ_ONLY"] = "true"
	env["CHAPTASK_SHELL_ENABLED"] = "false"
	s := startService(t, env)
	p := openConsole(t, s.base)
	p.open("#/tasks")
	p.waitFor("the task list", `document.querySelectorAll("tr[data-task]").length >= 5`)
	p.waitFor("the read-only note", textOf("#banner")+`.includes("read-only")`)
	p.waitFor("no create control", `!document.getElementById("new-task")`)
	p.waitFor("the shell task's run button disabled", `document.querySelector("tr[data-task='01JCSEED0000000000000PYTH5'] button").disabled`)
	p.open("#/tasks/01JCSEED0000000000000PYTH1")
	p.waitFor("the task page", `!!document.getElementById("run-submit")`)
	p.waitFor("no edit or delete controls", `![...document.querySelectorAll("#view button, #view a.button")].some(b => /^(Edit|Delete|Disable|Enable)$/.test(b.innerText.trim()))`)
	p.screenshot("read-only")
	p.open("#/tasks/new")
	p.waitFor("no task form", `!document.getElementById("task-form") && `+textOf("#view")+`.includes("read-only")`)
	// Running still works.
	p.open("#/tasks/01JCSEED0000000000000PYTH1")
	p.click("#run-submit")
	p.waitFor("the result", textOf("#function-result")+`.includes("42")`)
}

// TestTemporalUIScreenshots pictures what the Temporal Web UI shows of
// chaptask's jobs: their summaries in the list, and a job's link back to
// the console. It runs only when screenshots are asked for.
func TestTemporalUIScreenshots(t *testing.T) {
	if os.Getenv("CHAPTASK_CONSOLE_SCREENSHOTS") == "" {
		t.Skip("CHAPTASK_CONSOLE_SCREENSHOTS is not set")
	}
	chromiumPath(t)
	env := consoleEnv(t)
	env["CHAPTASK_EMBEDDED_UI_ADDR"] = "127.0.0.1:0"
	// The service's port is chosen at start; the picture shows the default.
	env["CHAPTASK_CONSOLE_URL"] = "http://127.0.0.1:8000"
	s := startService(t, env)
	ui, _ := s.do(t, "GET", "/api/v1/about", nil).object(t)["temporal_ui_url"].(string)
	if ui == "" {
		t.Fatal("no Temporal Web UI address in /api/v1/about")
	}
	s.runTask(t, "01JCSEED0000000000000PYTH4")
	s.runTask(t, "01JCSEED0000000000000PYTH5")
	j := s.waitStatus(t, s.execute(t, "01JCSEED0000000000000PYTH1"), "completed")
	// The Web UI is another origin and not chaptask's code: no checks.
	p := &page{t: t, ctx: newBrowser(t), base: ui}
	p.run(chromedp.Navigate(ui + "/namespaces/default/workflows"))
	p.waitFor("the jobs", `document.body.innerText.includes("chaptask.ExecuteTask")`)
	p.screenshot("temporal-ui-jobs")
	p.run(chromedp.Navigate(ui + "/namespaces/default/workflows/" + j.ID))
	p.waitFor("the job", `document.body.innerText.includes("`+j.ID+`")`)
	p.screenshot("temporal-ui-job")
	p.run(chromedp.Click(`//*[normalize-space(text())="User Metadata"]`, chromedp.BySearch))
	// The Web UI renders the summary and details out of reach of the
	// page's text (temporalui_test.go checks them through Temporal's API).
	p.waitFor("the summary and details panes", `/\bSummary\b/.test(document.body.innerText) && /\bDetails\b/.test(document.body.innerText)`)
	p.screenshot("temporal-ui-job-metadata")
}
