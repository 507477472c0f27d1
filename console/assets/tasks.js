// Task templates: list, create and edit (with forms generated from a
// function's parameter schema), run now, and the task's schedules.
import { get, post, put, patch, del, query, ApiError } from "./api.js";
import { h, mount, badge, ago, time, toast, fail, confirmAction, pager, go } from "./ui.js";
import { jobTable } from "./jobs.js";

const isFunction = (t) => t.task_type === "go" || t.task_type === "python";

// readOnlyWhy says why task writes are off, or "" when they are allowed.
function readOnlyWhy(about) {
  return about.tasks_read_only ? "Tasks are read-only in this deployment (CHAPTASK_TASKS_READ_ONLY)" : "";
}

function runBlocked(task, about) {
  if (!about.jobs_available) return "This process runs no jobs";
  if (!task.enabled) return "The task is disabled: enable it to run it";
  if (task.task_type === "shell" && !about.shell_enabled) return "Shell tasks are disabled in this deployment";
  return "";
}

// runNow submits a job of the task and opens its page.
export async function runNow(task, body, key) {
  const headers = key ? { "Idempotency-Key": key } : undefined;
  const res = await post(`/api/v1/tasks/${task.id}/$execute`, body, { headers });
  go("#/jobs/" + res.job_id);
}

export async function list({ view, params, about, signal }) {
  const enabled = params.get("enabled") || "";
  const page = +params.get("page") || 1;
  const data = await get("/api/v1/tasks" + query({ enabled, page, size: 25 }), { signal });
  const ro = readOnlyWhy(about);
  const nav = (p) => go("#/tasks" + query({ enabled, page: p }));
  mount(view,
    h("h1", {}, "Tasks"),
    h("p", { class: "muted" }, "Task templates: a shell command or a registered Go function with its parameters. Run one to start a job."),
    h("div", { class: "toolbar" },
      h("label", { class: "inline" }, "Show",
        h("select", { id: "enabled-filter", onchange: (e) => go("#/tasks" + query({ enabled: e.target.value })) },
          [["", "all tasks"], ["true", "enabled"], ["false", "disabled"]].map(([v, t]) => h("option", { value: v, selected: v === enabled }, t)))),
      h("span", { class: "spacer" }),
      ro ? h("span", { class: "muted small" }, ro) : h("a", { class: "button primary", href: "#/tasks/new", id: "new-task" }, "New task")),
    h("div", { class: "table-wrap" }, h("table", {},
      h("thead", {}, h("tr", {}, h("th", {}, "Command"), h("th", {}, "Type"), h("th", {}, "State"), h("th", { class: "hide-narrow" }, "Created"), h("th", {}, "Actions"))),
      h("tbody", {}, data.items.map((t) => taskRow(t, about))))),
    data.items.length ? null : h("p", { class: "muted" }, "No tasks here yet."),
    pager(data, nav));
}

function taskRow(t, about) {
  const blocked = runBlocked(t, about);
  return h("tr", { "data-task": t.id },
    h("td", { class: "cmd" }, h("a", { href: "#/tasks/" + t.id }, t.command)),
    h("td", {}, t.task_type),
    h("td", {}, t.enabled ? badge("enabled", "ok") : badge("disabled", "idle")),
    h("td", { class: "hide-narrow" }, ago(t.created_at)),
    h("td", {}, h("div", { class: "row-actions" },
      h("button", { type: "button", class: "small", disabled: !!blocked, title: blocked || "Run this task now",
        onclick: () => runNow(t).catch(fail) }, "Run"),
      h("a", { class: "button small", href: "#/tasks/" + t.id }, "Open"))));
}

export async function page({ view, id, about, signal, refresh }) {
  const task = await get("/api/v1/tasks/" + id, { signal });
  const ro = readOnlyWhy(about);
  const blocked = runBlocked(task, about);
  const jobs = about.jobs_available ? await get("/api/v1/jobs" + query({ task_id: id, page: 1, size: 10 }), { signal }) : null;

  const toggle = async () => {
    try {
      await put("/api/v1/tasks/" + id, writable(task, { enabled: !task.enabled }));
      toast(task.enabled ? "Task disabled" : "Task enabled");
      refresh();
    } catch (e) { fail(e); }
  };
  const remove = async () => {
    if (!await confirmAction(`Delete the task “${task.command}”? Its schedules go too; its artifacts stay.`)) return;
    try {
      await del("/api/v1/tasks/" + id);
      toast("Task deleted");
      go("#/tasks");
    } catch (e) { fail(e); }
  };

  mount(view,
    h("p", { class: "small" }, h("a", { href: "#/tasks" }, "← Tasks")),
    h("h1", { class: "mono" }, task.command),
    h("div", { class: "toolbar" },
      badge(task.task_type, "idle"), task.enabled ? badge("enabled", "ok") : badge("disabled", "idle"),
      h("span", { class: "spacer" }),
      ro ? h("span", { class: "muted small" }, ro + ": editing is off") : [
        h("a", { class: "button", href: `#/tasks/${id}/edit` }, "Edit"),
        h("button", { type: "button", onclick: toggle }, task.enabled ? "Disable" : "Enable"),
        h("button", { type: "button", class: "danger", onclick: remove }, "Delete")]),
    h("dl", { class: "kv" },
      h("dt", {}, "Id"), h("dd", { class: "mono" }, task.id),
      h("dt", {}, "Parameters"), h("dd", {}, h("code", {}, JSON.stringify(task.parameters))),
      h("dt", {}, "Timeout"), h("dd", {}, task.timeout_seconds ? `${task.timeout_seconds} s` : "none"),
      h("dt", {}, "Retry policy"), h("dd", {}, task.retry_policy ? h("code", {}, JSON.stringify(task.retry_policy)) : "default (5 attempts)"),
      h("dt", {}, "Created"), h("dd", {}, time(task.created_at)),
      h("dt", {}, "Updated"), h("dd", {}, time(task.updated_at))),
    await runForm(task, blocked),
    about.jobs_available ? await schedules(task, about, signal) : null,
    jobs ? [h("h2", {}, "Recent jobs"), jobTable(jobs.items, { signal, tasks: new Map([[task.id, task]]) }),
      h("p", {}, h("a", { href: "#/jobs" + query({ task_id: id }) }, `All ${jobs.total} jobs of this task →`))] : null);
}

// writable is the task as a PUT body, with changes applied: PUT replaces
// the whole task, so every field is sent.
function writable(t, changes) {
  return { command: t.command, task_type: t.task_type, parameters: t.parameters, enabled: t.enabled,
    timeout_seconds: t.timeout_seconds, retry_policy: t.retry_policy, ...changes };
}

async function runForm(task, blocked) {
  const fn = isFunction(task) ? await functionOf(task.command) : null;
  const params = fn ? paramFields(fn.parameters, task.parameters || {}, { overrides: true }) : null;
  const timeout = h("input", { type: "number", min: 1, max: 604800, id: "run-timeout", placeholder: task.timeout_seconds ? String(task.timeout_seconds) : "task's (none)" });
  const key = h("input", { type: "text", id: "run-key", maxlength: 255, placeholder: "optional: a repeat with the same key starts nothing" });
  const error = h("p", { class: "error", role: "alert" });
  const submit = async (e) => {
    e.preventDefault();
    error.textContent = "";
    const body = {};
    try {
      if (params) {
        const p = params.value();
        if (Object.keys(p).length) body.parameters = p;
      }
    } catch (err) { error.textContent = err.message; return; }
    if (timeout.value) body.timeout_seconds = +timeout.value;
    try { await runNow(task, Object.keys(body).length ? body : undefined, key.value.trim()); } catch (err) { error.textContent = err.message + (err.fields && err.fields.length ? " — " + err.fields.join("; ") : ""); }
  };
  return h("form", { class: "stack", onsubmit: submit, id: "run-form" },
    h("h2", {}, "Run now"),
    blocked ? h("p", { class: "note" }, blocked + ".") : null,
    params ? h("fieldset", {}, h("legend", {}, "Parameters for this run (merged over the task's)"), params.el) : null,
    h("details", {}, h("summary", {}, "More options"),
      h("div", { class: "stack" },
        h("label", {}, "Timeout for this run, seconds", timeout),
        h("label", {}, "Idempotency key", key))),
    error,
    h("div", {}, h("button", { type: "submit", class: "primary", id: "run-submit", disabled: !!blocked, title: blocked || null }, "Run now")));
}

let functionsCache = null;
async function functionsList() {
  if (!functionsCache) functionsCache = await get("/api/v1/functions");
  return functionsCache;
}
async function functionOf(name) {
  return (await functionsList()).find((f) => f.name === name) || null;
}

// paramFields builds inputs from a function's parameter schema. value()
// reads them back as a JSON object, or throws naming the bad field. With
// overrides, only fields changed from the task's values are returned.
export function paramFields(schema, current, { overrides = false } = {}) {
  const props = Object.entries((schema && schema.properties) || {});
  const required = new Set((schema && schema.required) || []);
  const simple = props.every(([, s]) => ["string", "integer", "number", "boolean"].includes(s.type));
  const jsonBox = h("textarea", { id: "param-json", "aria-label": "Parameters as JSON", rows: 6 }, JSON.stringify(current || {}, null, 2));
  if (!props.length || !simple) {
    return {
      el: h("div", { class: "stack" }, h("label", {}, "Parameters (JSON object)", jsonBox)),
      value: () => parseObject(jsonBox.value),
    };
  }
  const inputs = props.map(([name, s]) => {
    const has = current && name in current;
    const val = has ? current[name] : s.default;
    let input;
    if (s.type === "boolean") input = h("input", { type: "checkbox", name, id: "param-" + name, checked: !!val });
    else input = h("input", { type: s.type === "string" ? "text" : "number", step: s.type === "integer" ? 1 : "any", name, id: "param-" + name,
      value: val == null ? "" : String(val), required: required.has(name) && !overrides });
    const hint = [s.type, required.has(name) ? "required" : "optional", s.default !== undefined ? "default " + JSON.stringify(s.default) : null].filter(Boolean).join(" · ");
    const label = s.type === "boolean" ? h("label", { class: "inline" }, input, name, h("span", { class: "hint" }, hint))
      : h("label", {}, h("span", {}, name, " ", h("span", { class: "hint" }, hint)), input);
    return { name, s, input, label, initial: val };
  });
  let raw = false;
  const fields = h("div", { class: "stack" }, inputs.map((i) => i.label));
  const rawBox = h("div", { class: "stack", hidden: true }, h("label", {}, "Parameters (JSON object)", jsonBox));
  const read = () => {
    const out = {};
    for (const { name, s, input, initial } of inputs) {
      let v;
      if (s.type === "boolean") v = input.checked;
      else if (input.value === "") { if (required.has(name) && !overrides) throw new Error(`${name} is required`); continue; }
      else if (s.type === "string") v = input.value;
      else {
        v = Number(input.value);
        if (!Number.isFinite(v) || (s.type === "integer" && !Number.isInteger(v))) throw new Error(`${name} must be ${s.type === "integer" ? "an integer" : "a number"}`);
      }
      if (overrides && JSON.stringify(v) === JSON.stringify(initial)) continue;
      out[name] = v;
    }
    return out;
  };
  const toggle = h("button", { type: "button", class: "small", onclick: () => {
    raw = !raw;
    if (raw) jsonBox.value = JSON.stringify({ ...(overrides ? current : {}), ...read() }, null, 2);
    fields.hidden = raw;
    rawBox.hidden = !raw;
    toggle.textContent = raw ? "Use the form" : "Edit as JSON";
  } }, "Edit as JSON");
  return {
    el: h("div", { class: "stack" }, fields, rawBox, h("div", {}, toggle)),
    value: () => raw ? parseObject(jsonBox.value) : read(),
  };
}

function parseObject(text) {
  let v;
  try { v = JSON.parse(text || "{}"); } catch (e) { throw new Error("Parameters are not valid JSON: " + e.message); }
  if (v === null || typeof v !== "object" || Array.isArray(v)) throw new Error("Parameters must be a JSON object");
  return v;
}

export async function form({ view, id, about, signal }) {
  if (about.tasks_read_only) {
    mount(view, h("h1", {}, id ? "Edit task" : "New task"), h("p", { class: "note" }, readOnlyWhy(about) + ": creating and editing tasks is off."));
    return;
  }
  const task = id ? await get("/api/v1/tasks/" + id, { signal }) : { command: "", task_type: about.shell_enabled ? "shell" : "go", parameters: null, enabled: true, timeout_seconds: null, retry_policy: null };
  const functions = await functionsList();
  const type = h("select", { id: "task-type" },
    h("option", { value: "shell", disabled: !about.shell_enabled }, "shell command" + (about.shell_enabled ? "" : " (disabled in this deployment)")),
    h("option", { value: "go" }, "Go function"));
  type.value = isFunction(task) ? "go" : task.task_type;
  const command = h("input", { type: "text", id: "task-command", value: task.task_type === "shell" ? task.command : "", placeholder: "echo hello" });
  const fnSelect = h("select", { id: "task-function" }, functions.map((f) => h("option", { value: f.name }, f.name)));
  if (isFunction(task)) fnSelect.value = task.command;
  const paramsBox = h("fieldset", {}, h("legend", {}, "Parameters"));
  let params = null;
  const showParams = () => {
    const fn = functions.find((f) => f.name === fnSelect.value);
    const current = isFunction(task) && task.command === fnSelect.value ? task.parameters || {} : {};
    params = paramFields(fn ? fn.parameters : null, current);
    mount(paramsBox, h("legend", {}, "Parameters of " + fnSelect.value), params.el);
  };
  const shellPart = h("label", {}, "Command (run with /bin/sh -c)", command);
  const fnPart = h("div", { class: "stack" }, h("label", {}, "Function", fnSelect), paramsBox);
  const switchType = () => {
    const fn = type.value !== "shell";
    shellPart.hidden = fn;
    fnPart.hidden = !fn;
    if (fn) showParams();
  };
  type.addEventListener("change", switchType);
  fnSelect.addEventListener("change", showParams);
  const enabled = h("input", { type: "checkbox", id: "task-enabled", checked: task.enabled });
  const timeout = h("input", { type: "number", id: "task-timeout", min: 1, max: 604800, value: task.timeout_seconds || "" });
  const error = h("p", { class: "error", role: "alert" });
  const submit = async (e) => {
    e.preventDefault();
    error.textContent = "";
    const fn = type.value !== "shell";
    let body;
    try {
      body = writable(task, {
        command: fn ? fnSelect.value : command.value,
        task_type: fn ? (isFunction(task) ? task.task_type : "go") : "shell",
        parameters: fn ? params.value() : null,
        enabled: enabled.checked,
        timeout_seconds: timeout.value ? +timeout.value : null,
      });
    } catch (err) { error.textContent = err.message; return; }
    try {
      const saved = id ? await put("/api/v1/tasks/" + id, body) : await post("/api/v1/tasks", body);
      toast(id ? "Task saved" : "Task created");
      go("#/tasks/" + saved.id);
    } catch (err) {
      error.textContent = err.message + (err instanceof ApiError && err.fields.length ? " — " + err.fields.join("; ") : "");
    }
  };
  mount(view,
    h("p", { class: "small" }, h("a", { href: id ? "#/tasks/" + id : "#/tasks" }, "← Back")),
    h("h1", {}, id ? "Edit task" : "New task"),
    h("form", { class: "stack", onsubmit: submit, id: "task-form" },
      h("label", {}, "Type", type), shellPart, fnPart,
      h("label", { class: "inline" }, enabled, "Enabled"),
      h("label", {}, "Timeout, seconds (empty: none)", timeout),
      error,
      h("div", {}, h("button", { type: "submit", class: "primary", id: "task-save" }, id ? "Save" : "Create task"))));
  switchType();
}

async function schedules(task, about, signal) {
  let list = [];
  try { list = await get(`/api/v1/tasks/${task.id}/$schedules`, { signal }); } catch (e) { if (!(e instanceof ApiError)) throw e; }
  const box = h("section", { id: "schedules" });
  // Answers carry the schedule as it now is; listing it again could miss
  // it for a moment (visibility is eventually consistent).
  const keep = (sch) => { list = [...list.filter((x) => x.id !== sch.id), sch]; draw(); };
  const act = (s, body, msg) => async () => {
    try { keep(await patch("/api/v1/schedules/" + s.id, body)); toast(msg); } catch (e) { fail(e); }
  };
  const kind = h("select", { id: "schedule-kind", "aria-label": "Schedule kind" },
    h("option", { value: "interval_seconds" }, "every N seconds"), h("option", { value: "cron" }, "cron expression"), h("option", { value: "run_at" }, "once at"));
  const value = h("input", { type: "text", id: "schedule-value", "aria-label": "Schedule value", placeholder: "60", required: true });
  kind.addEventListener("change", () => {
    value.type = kind.value === "run_at" ? "datetime-local" : "text";
    value.placeholder = { interval_seconds: "60", cron: "0 2 * * *", run_at: "" }[kind.value];
  });
  const overlap = h("select", { id: "schedule-overlap", "aria-label": "When a run is due while one runs" },
    h("option", { value: "skip" }, "skip a run due while one runs"), h("option", { value: "buffer_one" }, "queue one"), h("option", { value: "allow_all" }, "run them all"));
  const paused = h("input", { type: "checkbox", id: "schedule-paused" });
  const error = h("p", { class: "error", role: "alert" });
  const create = async (e) => {
    e.preventDefault();
    error.textContent = "";
    const body = { overlap: overlap.value, paused: paused.checked };
    body[kind.value] = kind.value === "interval_seconds" ? +value.value : kind.value === "run_at" ? new Date(value.value).toISOString() : value.value;
    try {
      keep(await post(`/api/v1/tasks/${task.id}/$schedule`, body));
      toast("Schedule created");
      value.value = "";
    } catch (err) { error.textContent = err.message + (err.fields && err.fields.length ? " — " + err.fields.join("; ") : ""); }
  };
  const draw = () => mount(box,
    h("h2", {}, "Schedules"),
    list.length ? h("div", { class: "table-wrap" }, h("table", {},
      h("thead", {}, h("tr", {}, h("th", {}, "When"), h("th", {}, "State"), h("th", {}, "Next run"), h("th", {}, "Actions"))),
      h("tbody", {}, list.map((s) => h("tr", { "data-schedule": s.id },
        h("td", { class: "mono" }, s.cron ? "cron " + s.cron : s.interval_seconds ? `every ${s.interval_seconds} s` : "once at " + s.run_at),
        h("td", {}, s.paused ? badge("paused", "warn") : badge("active", "ok")),
        h("td", {}, s.next_run_at ? time(s.next_run_at) : "—"),
        h("td", {}, h("div", { class: "row-actions" },
          s.paused ? h("button", { type: "button", class: "small", onclick: act(s, { paused: false }, "Schedule resumed"), disabled: !task.enabled, title: task.enabled ? null : "Enable the task first" }, "Resume")
            : h("button", { type: "button", class: "small", onclick: act(s, { paused: true }, "Schedule paused") }, "Pause"),
          h("button", { type: "button", class: "small", onclick: act(s, { trigger: true }, "Run started"), disabled: !task.enabled }, "Trigger now"),
          h("button", { type: "button", class: "small danger", onclick: async () => {
            if (!await confirmAction("Delete this schedule? Its jobs stay.")) return;
            try { await del("/api/v1/schedules/" + s.id); list = list.filter((x) => x.id !== s.id); draw(); toast("Schedule deleted"); } catch (e) { fail(e); }
          } }, "Delete")))))))) : h("p", { class: "muted" }, "No schedules. A schedule runs this task by itself."),
    task.enabled ? h("form", { class: "toolbar", onsubmit: create, id: "schedule-form" },
      kind, value, overlap, h("label", { class: "inline" }, paused, "paused"),
      h("button", { type: "submit", class: "button" }, "Add schedule"), error)
      : h("p", { class: "muted small" }, "Enable the task to add schedules."));
  draw();
  return box;
}
