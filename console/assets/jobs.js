// Jobs: a live list, and each job's page with its output as it arrives.
import { get, post, del, query, stream, apiKey } from "./api.js";
import { h, mount, badge, ago, time, duration, bytes, toast, fail, confirmAction, pager, json, copyBox, go } from "./ui.js";

const live = (j) => j.status === "pending" || j.status === "running";
const artifacts = new Map(); // artifacts never change: kept for the tab's life

async function artifactOf(id) {
  if (!artifacts.has(id)) artifacts.set(id, get("/api/v1/artifacts/" + id).catch((e) => { artifacts.delete(id); throw e; }));
  return artifacts.get(id);
}

// succeeded tells whether an artifact's data records a success.
const succeeded = (data) => !!data && !data.timed_out && ("exit_code" in data ? data.exit_code === 0 : !data.error);

// outcome is a finished job's result at a glance, from its artifact.
export function outcomeOf(data) {
  if (!data) return null;
  const label = data.timed_out ? "timed out" : "exit_code" in data ? "exit " + data.exit_code : data.error ? data.error.type || "error" : "ok";
  return badge(label, succeeded(data) ? "ok" : "bad");
}

// recentFailures are the latest jobs that did not succeed: failed ones, and
// completed ones among the last 25 whose artifact holds a non-zero exit, an
// error or a timeout (the status says "completed" for those, as chapkit's
// does; a person looking for what went wrong wants them too).
export async function recentFailures(signal, n = 5) {
  const [failed, done] = await Promise.all([
    get("/api/v1/jobs" + query({ status_filter: "failed", page: 1, size: n }), { signal }),
    get("/api/v1/jobs" + query({ status_filter: "completed", page: 1, size: 25 }), { signal }),
  ]);
  const unsuccessful = [];
  await Promise.all(done.items.filter((j) => j.artifact_id).map((j) => artifactOf(j.artifact_id).then(
    (a) => { if (!succeeded(a.data)) unsuccessful.push(j); }, () => {})));
  return [...failed.items, ...unsuccessful]
    .sort((a, b) => (b.finished_at || "").localeCompare(a.finished_at || ""))
    .slice(0, n);
}

// fill completes rows that need another read: the task's command and the
// outcome, a few requests at a time.
async function fill(rows, tasks, signal) {
  const queue = [...rows];
  const worker = async () => {
    for (let r; (r = queue.shift()) && !signal.aborted;) {
      const { job, cmd, out } = r;
      if (job.artifact_id) {
        try {
          const a = await artifactOf(job.artifact_id);
          mount(out, outcomeOf(a.data));
          if (a.data && a.data.task && !cmd.textContent) cmd.textContent = a.data.task.command;
        } catch { out.textContent = "—"; }
      }
      if (!cmd.textContent) {
        if (!tasks.has(job.task_id)) tasks.set(job.task_id, get("/api/v1/tasks/" + job.task_id).catch(() => null));
        const t = await tasks.get(job.task_id);
        cmd.textContent = t ? t.command : "(task deleted)";
      }
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
}

// jobTable lists jobs; with select, rows get checkboxes for bulk actions.
export function jobTable(items, { signal, tasks = new Map(), select = null, onChange = () => {} }) {
  const rows = [];
  const body = items.map((job) => {
    const cmd = h("span");
    const t = tasks.get(job.task_id);
    if (t && !(t instanceof Promise)) cmd.textContent = t.command;
    const out = h("span", {}, job.status === "failed" ? badge("failed", "bad") : job.status === "canceled" ? "—" : live(job) ? "…" : "");
    rows.push({ job, cmd, out });
    const acts = h("div", { class: "row-actions" },
      live(job) ? h("button", { type: "button", class: "small", onclick: () => cancelJob(job).then(onChange) }, "Cancel")
        : h("button", { type: "button", class: "small", onclick: () => removeJob(job).then(onChange) }, "Delete"),
      h("button", { type: "button", class: "small", onclick: () => rerun(job) }, "Rerun"));
    return h("tr", { "data-job": job.id, "data-status": job.status },
      select ? h("td", {}, h("input", { type: "checkbox", "aria-label": "Select job " + job.id, checked: select.has(job.id),
        onchange: (e) => { e.target.checked ? select.add(job.id) : select.delete(job.id); e.target.closest("tr").classList.toggle("selected", e.target.checked); onChange(true); } })) : null,
      h("td", { class: "mono small" }, h("a", { href: "#/jobs/" + job.id }, job.id.slice(-10))),
      h("td", { class: "cmd" }, cmd),
      h("td", {}, badge(job.status)),
      h("td", { class: "hide-narrow" }, ago(job.submitted_at)),
      h("td", { class: "hide-narrow" }, duration(job.started_at, job.finished_at)),
      h("td", {}, out),
      h("td", {}, acts));
  });
  fill(rows, tasks, signal);
  return h("div", { class: "table-wrap" }, h("table", { id: "jobs-table" },
    h("thead", {}, h("tr", {}, select ? h("th", {}, h("span", { class: "skip" }, "Select")) : null, h("th", {}, "Job"), h("th", {}, "Task"), h("th", {}, "Status"),
      h("th", { class: "hide-narrow" }, "Submitted"), h("th", { class: "hide-narrow" }, "Duration"), h("th", {}, "Outcome"), h("th", {}, "Actions"))),
    h("tbody", {}, body)),
    items.length ? null : h("p", { class: "muted" }, "No jobs match."));
}

async function cancelJob(job) {
  try { await del("/api/v1/jobs/" + job.id); toast("Cancel requested"); } catch (e) { fail(e); }
}
// removeJob answers whether the job was deleted.
async function removeJob(job) {
  if (!await confirmAction("Delete this finished job? Its artifact stays.")) return false;
  try { await del("/api/v1/jobs/" + job.id); toast("Job deleted"); return true; } catch (e) { fail(e); return false; }
}
async function rerun(job) {
  try { const r = await post(`/api/v1/jobs/${job.id}/$rerun`); go("#/jobs/" + r.job_id); } catch (e) { fail(e); }
}

// refreshEvery is how often a shown list re-reads its page to find new
// jobs. Ends of the jobs it shows arrive sooner, by a long-poll.
const refreshEvery = 5000;

export async function list({ view, params, about, signal }) {
  if (!about.jobs_available) { mount(view, h("h1", {}, "Jobs"), h("p", { class: "note" }, "This process runs no jobs.")); return; }
  const status = params.get("status_filter") || "";
  const taskID = params.get("task_id") || "";
  let page = +params.get("page") || 1;
  const selected = new Set();
  const tasks = new Map();
  const table = h("div");
  const info = h("span", { class: "muted small", id: "live-note" });
  const bulk = h("button", { type: "button", id: "cancel-selected", disabled: true, onclick: async () => {
    if (!await confirmAction(`Cancel ${selected.size} selected job(s)?`)) return;
    try { const r = await post("/api/v1/jobs/$cancel", { ids: [...selected] }); toast(`${r.canceled.length} canceled, ${r.already_finished.length} already finished`); selected.clear(); load(); } catch (e) { fail(e); }
  } }, "Cancel selected");
  // A filter on a finished status matches no live job: nothing to cancel.
  const finishedFilter = status !== "" && status !== "pending" && status !== "running";
  const cancelAll = h("button", { type: "button", id: "cancel-matching", disabled: finishedFilter,
    title: finishedFilter ? `No ${status} job can be canceled` : null, onclick: async () => {
    const st = status === "pending" || status === "running" ? status : null;
    const what = st ? `every ${st} job` : "every pending and running job";
    if (!await confirmAction(`Cancel ${what}${taskID ? " of this task" : ""}?`)) return;
    try {
      let n = 0, more = false;
      for (const s of st ? [st] : ["pending", "running"]) {
        const r = await post("/api/v1/jobs/$cancel", { status_filter: s, task_id: taskID || undefined });
        n += r.canceled.length;
        more = more || r.truncated;
      }
      // The API cancels at most 1000 jobs a call and says when more matched.
      toast(`${n} job(s) canceled` + (more ? "; more matched: press again for the rest" : ""));
      load();
    } catch (e) { fail(e); }
  } }, "Cancel all live matching");
  const statusSelect = h("select", { id: "status-filter", onchange: (e) => go("#/jobs" + query({ status_filter: e.target.value, task_id: taskID })) },
    ["", "pending", "running", "completed", "failed", "canceled"].map((s) => h("option", { value: s, selected: s === status }, s || "any status")));
  const taskSelect = h("select", { id: "task-filter", onchange: (e) => go("#/jobs" + query({ status_filter: status, task_id: e.target.value })) }, h("option", { value: "" }, "any task"));
  get("/api/v1/tasks?page=1&size=100").then((ts) => {
    for (const t of ts.items) {
      tasks.set(t.id, t);
      taskSelect.append(h("option", { value: t.id, selected: t.id === taskID }, t.command.slice(0, 60)));
    }
    if (taskID && !tasks.has(taskID)) taskSelect.append(h("option", { value: taskID, selected: true }, taskID));
  }).catch(() => {});

  let waiting = null;
  let timer = 0;
  // load reads the page, then waits: for the end of a live job shown (a
  // long-poll, no polling), or the next refresh for jobs submitted since.
  const load = async () => {
    clearTimeout(timer);
    if (waiting) waiting.abort();
    if (signal.aborted) return;
    let data;
    try {
      data = await get("/api/v1/jobs" + query({ status_filter: status, task_id: taskID, page, size: 25 }), { signal });
    } catch (e) {
      if (signal.aborted) return;
      info.textContent = "Could not refresh: " + e.message;
      timer = setTimeout(load, refreshEvery);
      return;
    }
    for (const id of [...selected]) if (!data.items.some((j) => j.id === id && live(j))) selected.delete(id);
    const changed = () => { bulk.disabled = !selected.size; bulk.textContent = `Cancel selected (${selected.size})`; };
    mount(table, jobTable(data.items, { signal, tasks, select: selected, onChange: (onlySelection) => { changed(); if (!onlySelection) load(); } }),
      pager(data, (p) => { page = p; load(); }));
    changed();
    info.textContent = "Live: updated " + new Date().toLocaleTimeString();
    const next = data.items.find(live);
    if (next) {
      waiting = new AbortController();
      const stop = () => waiting && waiting.abort();
      signal.addEventListener("abort", stop, { once: true });
      get(`/api/v1/jobs/${next.id}?wait=30s`, { signal: waiting.signal }).then(() => load(), () => {});
    }
    timer = setTimeout(function tick() {
      if (document.hidden) { timer = setTimeout(tick, refreshEvery); return; }
      load();
    }, refreshEvery);
  };
  signal.addEventListener("abort", () => { clearTimeout(timer); if (waiting) waiting.abort(); });

  mount(view,
    h("h1", {}, "Jobs"),
    h("div", { class: "toolbar" },
      h("label", { class: "inline" }, "Status", statusSelect),
      h("label", { class: "inline" }, "Task", taskSelect),
      h("span", { class: "spacer" }), info),
    h("div", { class: "toolbar" }, bulk, cancelAll),
    table);
  await load();
}

export async function page({ view, id, about, signal }) {
  let job = await get("/api/v1/jobs/" + id, { signal });
  const tasks = get("/api/v1/tasks/" + job.task_id).catch(() => null);
  const title = h("h1", { class: "mono" }, "Job");
  const status = h("span");
  const actions = h("div", { class: "row-actions" });
  const timeline = h("ol", { class: "timeline", "aria-label": "Timeline" });
  const progress = h("div", { id: "progress" });
  const output = h("pre", { class: "log", id: "live-output", "aria-live": "off" });
  const liveBox = h("section", { hidden: true }, h("h2", {}, "Live output"), progress, output);
  const result = h("section", { id: "result" });
  const errorBox = h("section");
  const origin = location.origin;
  const key = apiKey() ? ` -H 'X-API-Key: …'` : "";
  const uiLink = about.temporal_ui_url ? h("a", { href: `${about.temporal_ui_url}/namespaces/${encodeURIComponent(about.temporal_namespace)}/workflows/${encodeURIComponent(id)}`, target: "_blank", rel: "noopener" }, "Open in the Temporal Web UI") : null;

  const draw = () => {
    mount(status, badge(job.status));
    const step = (name, at, done) => h("li", { class: done ? "done" : "" }, h("strong", {}, name), h("br"), at ? time(at) : h("span", { class: "muted" }, "—"));
    mount(timeline,
      step("Submitted", job.submitted_at, true),
      step("Started", job.started_at, !!job.started_at),
      step(job.status === "canceled" ? "Canceled" : job.status === "failed" ? "Failed" : "Finished", job.finished_at, !!job.finished_at),
      h("li", { class: job.finished_at ? "done" : "" }, h("strong", {}, "Duration"), h("br"), duration(job.started_at, job.finished_at)));
    mount(actions,
      live(job) ? h("button", { type: "button", id: "cancel-job", class: "danger", onclick: () => cancelJob(job) }, "Cancel job")
        : h("button", { type: "button", id: "delete-job", onclick: async () => { if (await removeJob(job)) go("#/jobs"); } }, "Delete job"),
      h("button", { type: "button", id: "rerun-job", onclick: () => rerun(job) }, "Rerun"));
    const p = job.progress;
    mount(progress, p ? [h("div", { class: "progress", role: "progressbar", "aria-valuenow": p.percent, "aria-valuemin": 0, "aria-valuemax": 100 }, h("div", { style: null })), h("p", { class: "small" }, `${Math.round(p.percent)} % ${p.message || ""}`)] : null);
    if (p) progress.querySelector(".progress > div").style.width = Math.max(0, Math.min(100, p.percent)) + "%";
    mount(errorBox, job.error ? [h("h2", {}, "Error"), h("pre", { class: "stderr", id: "job-error" }, job.error), job.error_traceback ? h("details", {}, h("summary", {}, "Traceback"), h("pre", {}, job.error_traceback)) : null] : null);
  };

  const showArtifact = async () => {
    if (!job.artifact_id) {
      mount(result, job.status === "canceled" ? h("p", { class: "muted" }, "A canceled job has no artifact.") : null);
      return;
    }
    const a = await artifactOf(job.artifact_id);
    liveBox.hidden = true;
    mount(result, h("h2", {}, "Result ", outcomeOf(a.data)), renderArtifactData(a.data),
      h("p", { class: "toolbar" }, h("a", { href: "#/artifacts/" + a.id, id: "artifact-link" }, "Artifact " + a.id + " (tree, raw JSON, download)"),
        // Without a key the browser can open the API's JSON itself.
        about.api_key_required ? null : h("a", { href: "/api/v1/artifacts/" + a.id, target: "_blank", rel: "noopener" }, "raw JSON")));
  };

  const t = await tasks;
  title.textContent = t ? t.command : "Job " + id;
  mount(view,
    h("p", { class: "small" }, h("a", { href: "#/jobs" }, "← Jobs")),
    title,
    h("div", { class: "toolbar" }, status, h("span", { class: "mono small muted" }, id), h("span", { class: "spacer" }), actions),
    h("dl", { class: "kv" },
      h("dt", {}, "Task"), h("dd", {}, h("a", { href: "#/tasks/" + job.task_id }, t ? `${t.task_type}: ${t.command}` : job.task_id + (t ? "" : " (deleted)"))),
      job.schedule_id ? [h("dt", {}, "Schedule"), h("dd", { class: "mono" }, job.schedule_id)] : null,
      job.rerun_of ? [h("dt", {}, "Rerun of"), h("dd", {}, h("a", { href: "#/jobs/" + job.rerun_of }, job.rerun_of))] : null,
      job.parent_job_id ? [h("dt", {}, "Child job of"), h("dd", {}, h("a", { href: "#/jobs/" + job.parent_job_id }, job.parent_job_id))] : null),
    timeline, errorBox, liveBox, result,
    h("h2", {}, "Elsewhere"),
    h("p", {}, uiLink, uiLink ? " · " : null, h("a", { href: "/docs" }, "API docs")),
    h("h3", {}, "Run it again from a shell"),
    copyBox(`curl -s -X POST${key} '${origin}/api/v1/jobs/${id}/$rerun'`, "curl command"));
  draw();

  if (!live(job)) { await showArtifact(); return; }
  liveBox.hidden = false;
  const seen = { offset: 0 };
  stream(`/api/v1/jobs/${id}/$stream?events=status,output,progress`, (name, data) => {
    if (name === "output") {
      if (data.offset < seen.offset) return false;
      seen.offset = data.offset + data.data.length;
      output.append(h("span", { class: data.stream === "stderr" ? "stderr" : null }, data.data));
      output.scrollTop = output.scrollHeight;
      return false;
    }
    if (name === "progress") { job = { ...job, progress: data }; draw(); return false; }
    job = data;
    draw();
    if (!live(job)) { showArtifact().catch(fail); return true; }
    return false;
  }, signal).catch((e) => { if (!signal.aborted) fail(e); });
}

// renderArtifactData shows an execution artifact: output with its
// truncation, exit code, a function's result or error.
export function renderArtifactData(d) {
  if (!d || typeof d !== "object" || !d.task) return json(d);
  const output = (name) => {
    const text = d[name] || "";
    const cut = d[name + "_truncated"];
    return [h("h3", {}, name, " ", h("span", { class: "muted small" }, cut ? `truncated: ${bytes(d[name + "_bytes"])} in all, head and tail kept` : bytes(new TextEncoder().encode(text).length))),
      text ? h("pre", { class: name === "stderr" ? "stderr" : "", id: "artifact-" + name }, text) : h("p", { class: "muted small" }, "(empty)")];
  };
  if ("exit_code" in d) {
    return h("div", {},
      h("p", {}, "Exit code ", h("strong", { id: "exit-code" }, String(d.exit_code)), d.timed_out ? " — stopped by the task's timeout" : ""),
      output("stdout"), output("stderr"),
      d.error ? h("p", { class: "error" }, `${d.error.type}: ${d.error.message}`) : null);
  }
  return h("div", {},
    d.error ? h("div", { id: "function-error" },
      h("p", { class: "error" }, h("strong", {}, d.error.type), ": ", d.error.message),
      d.error.traceback ? [h("h3", {}, "Traceback"), h("pre", { class: "stderr", id: "traceback" }, d.error.traceback)] : null) : null,
    h("h3", {}, "Result"), h("div", { id: "function-result" }, json(d.result)),
    d.timed_out ? h("p", { class: "error" }, "Stopped by the task's timeout.") : null);
}

