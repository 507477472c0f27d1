// Overview, artifacts and the function catalogue.
import { get, query } from "./api.js";
import { h, mount, badge, time, pager, json, download, go, fail } from "./ui.js";
import { jobTable, renderArtifactData, recentFailures } from "./jobs.js";
import { runNow } from "./tasks.js";

const statuses = ["pending", "running", "completed", "failed", "canceled"];

export async function overview({ view, about, signal }) {
  const health = await fetch("/health", { signal }).then((r) => r.json()).catch(() => null);
  const tasks = await get("/api/v1/tasks" + query({ enabled: "true", page: 1, size: 8 }), { signal });
  let counts = [], recent = null, failures = null;
  if (about.jobs_available) {
    [counts, recent, failures] = await Promise.all([
      Promise.all(statuses.map((s) => get("/api/v1/jobs" + query({ status_filter: s, page: 1, size: 1 }), { signal }).then((r) => r.total, () => "?"))),
      get("/api/v1/jobs?page=1&size=8", { signal }),
      recentFailures(signal),
    ]);
  }
  const runnable = tasks.items.filter((t) => t.task_type !== "shell" || about.shell_enabled);
  mount(view,
    h("h1", {}, "chaptask"),
    h("p", { class: "muted" }, "Run task templates as jobs, watch them, read their results."),
    h("div", { class: "grid" },
      h("section", { class: "card", "aria-labelledby": "health-h" }, h("h2", { id: "health-h" }, "Health"),
        health ? h("dl", { class: "kv" }, Object.entries(health.checks).map(([k, v]) => [h("dt", {}, k), h("dd", {}, badge(v), health.errors && health.errors[k] ? h("div", { class: "small error" }, health.errors[k]) : null)]))
          : h("p", { class: "error" }, "GET /health did not answer")),
      h("section", { class: "card", "aria-labelledby": "jobs-h" }, h("h2", { id: "jobs-h" }, "Jobs by status"),
        about.jobs_available ? h("div", { class: "counts" }, statuses.map((s, i) => h("a", { href: "#/jobs?status_filter=" + s }, badge(`${s} ${counts[i]}`, s))))
          : h("p", { class: "muted" }, "This process runs no jobs.")),
      h("section", { class: "card", "aria-labelledby": "svc-h" }, h("h2", { id: "svc-h" }, "This service"),
        h("dl", { class: "kv" },
          h("dt", {}, "Mode"), h("dd", {}, about.mode === "embedded" ? "embedded Temporal server" : "Temporal cluster"),
          h("dt", {}, "Role"), h("dd", {}, about.role),
          h("dt", {}, "Database"), h("dd", {}, about.database),
          h("dt", {}, "Namespace"), h("dd", {}, about.temporal_namespace),
          h("dt", {}, "Version"), h("dd", {}, about.version),
          h("dt", {}, "Links"), h("dd", {}, h("a", { href: "/docs" }, "API docs"), about.temporal_ui_url ? [" · ", h("a", { href: about.temporal_ui_url, target: "_blank", rel: "noopener" }, "Temporal Web UI")] : null)))),
    h("h2", {}, "Try a task"),
    runnable.length ? h("div", { class: "table-wrap" }, h("table", { id: "try-tasks" }, h("tbody", {}, runnable.map((t) => h("tr", {},
      h("td", { class: "cmd" }, h("a", { href: "#/tasks/" + t.id }, t.command)),
      h("td", { class: "hide-narrow" }, t.task_type === "shell" ? "shell" : h("code", {}, JSON.stringify(t.parameters))),
      h("td", {}, h("button", { type: "button", class: "small primary", disabled: !about.jobs_available, onclick: () => runNow(t).catch(fail), "aria-label": "Run " + t.command }, "Run"))))))) 
      : h("p", { class: "muted" }, "No enabled tasks. ", about.tasks_read_only ? null : h("a", { href: "#/tasks/new" }, "Create one.")),
    recent ? [h("h2", {}, "Recent jobs"), jobTable(recent.items, { signal, onChange: () => go(location.hash || "#/") }), h("p", {}, h("a", { href: "#/jobs" }, "All jobs →"))] : null,
    failures && failures.length ? h("section", { id: "recent-failures" }, h("h2", {}, "Recent failures"),
      h("p", { class: "muted small" }, "Failed jobs, and completed ones whose command exited non-zero, whose function returned an error, or that timed out."),
      jobTable(failures, { signal })) : null);
}

export async function artifacts({ view, params, signal }) {
  const taskID = params.get("task_id") || "";
  const page = +params.get("page") || 1;
  const data = await get("/api/v1/artifacts" + query({ task_id: taskID, page, size: 25 }), { signal });
  mount(view,
    h("h1", {}, "Artifacts"),
    h("p", { class: "muted" }, "Immutable results of jobs; they stay when jobs or tasks are deleted."),
    h("form", { class: "toolbar", onsubmit: (e) => { e.preventDefault(); go("#/artifacts" + query({ task_id: e.target.task.value.trim() })); } },
      h("label", { class: "inline" }, "Task id", h("input", { name: "task", value: taskID, placeholder: "all tasks", size: 30 })),
      h("button", { type: "submit" }, "Filter")),
    h("div", { class: "table-wrap" }, h("table", {},
      h("thead", {}, h("tr", {}, h("th", {}, "Artifact"), h("th", {}, "Task"), h("th", { class: "hide-narrow" }, "Level"), h("th", {}, "Created"))),
      h("tbody", {}, data.items.map((a) => h("tr", {},
        h("td", { class: "mono small" }, h("a", { href: "#/artifacts/" + a.id }, a.id)),
        h("td", { class: "cmd" }, a.data && a.data.task ? a.data.task.command : "—"),
        h("td", { class: "hide-narrow" }, a.level),
        h("td", {}, time(a.created_at))))))),
    data.items.length ? null : h("p", { class: "muted" }, "No artifacts."),
    pager(data, (p) => go("#/artifacts" + query({ task_id: taskID, page: p }))));
}

export async function artifact({ view, id, signal }) {
  const tree = await get(`/api/v1/artifacts/${id}/$tree`, { signal });
  const raw = JSON.stringify(await get("/api/v1/artifacts/" + id, { signal }), null, 2);
  const node = (n) => h("li", {}, h("a", { href: "#/artifacts/" + n.id, class: "mono small" }, n.id), " ", badge(n.level_label || "level " + n.level, "idle"),
    n.children && n.children.length ? h("ul", {}, n.children.map(node)) : null);
  mount(view,
    h("p", { class: "small" }, h("a", { href: "#/artifacts" }, "← Artifacts")),
    h("h1", { class: "mono" }, "Artifact " + id),
    h("div", { class: "toolbar" },
      h("button", { type: "button", id: "download", onclick: () => download(`artifact-${id}.json`, raw) }, "Download JSON"),
      tree.data && tree.data.task ? h("a", { href: "#/tasks/" + tree.data.task.id }, "Task") : null),
    h("dl", { class: "kv" }, h("dt", {}, "Created"), h("dd", {}, time(tree.created_at)), h("dt", {}, "Parent"), h("dd", {}, tree.parent_id ? h("a", { href: "#/artifacts/" + tree.parent_id }, tree.parent_id) : "none")),
    h("h2", {}, "Tree"), h("ul", { id: "artifact-tree" }, node(tree)),
    h("h2", {}, "Content"), renderArtifactData(tree.data),
    h("details", {}, h("summary", {}, "Raw JSON"), h("pre", { id: "artifact-raw" }, raw)));
}

export async function functions({ view, signal }) {
  const fns = await get("/api/v1/functions", { signal });
  mount(view,
    h("h1", {}, "Functions"),
    h("p", { class: "muted" }, "Go functions registered in this service; a task of type go names one and gives its parameters."),
    fns.length ? fns.map((f) => {
      const props = Object.entries(f.parameters.properties || {});
      const req = new Set(f.parameters.required || []);
      return h("section", { class: "card", id: "fn-" + f.name, style: null },
        h("h2", { class: "mono" }, f.name),
        props.length ? h("table", {}, h("thead", {}, h("tr", {}, h("th", {}, "Parameter"), h("th", {}, "Type"), h("th", {}, "Required"), h("th", {}, "Default"))),
          h("tbody", {}, props.map(([n, s]) => h("tr", {}, h("td", { class: "mono" }, n), h("td", {}, s.type || "any", s.format ? ` (${s.format})` : ""),
            h("td", {}, req.has(n) ? "yes" : "no"), h("td", { class: "mono" }, s.default !== undefined ? JSON.stringify(s.default) : "—")))))
          : h("p", { class: "muted small" }, "No parameters."),
        f.injects && f.injects.length ? h("p", { class: "small" }, "Injected: ", f.injects.map((t, i) => [i ? ", " : "", h("code", {}, t)])) : null);
    }) : h("p", { class: "muted" }, "No functions are registered."));
}
