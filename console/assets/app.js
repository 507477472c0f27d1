// The console's router: one page, views chosen by the URL fragment
// (#/jobs/ID), so the server serves only "/" and its assets.
import { get } from "./api.js";
import { h, mount } from "./ui.js";
import * as misc from "./misc.js";
import * as tasks from "./tasks.js";
import * as jobs from "./jobs.js";

const routes = [
  [/^\/?$/, "overview", misc.overview],
  [/^\/tasks$/, "tasks", tasks.list],
  [/^\/tasks\/new$/, "tasks", tasks.form],
  [/^\/tasks\/([^/]+)\/edit$/, "tasks", tasks.form],
  [/^\/tasks\/([^/]+)$/, "tasks", tasks.page],
  [/^\/jobs$/, "jobs", jobs.list],
  [/^\/jobs\/([^/]+)$/, "jobs", jobs.page],
  [/^\/artifacts$/, "artifacts", misc.artifacts],
  [/^\/artifacts\/([^/]+)$/, "artifacts", misc.artifact],
  [/^\/functions$/, "functions", misc.functions],
];

let about = null;
let current = null;

function applyTheme(theme) {
  document.documentElement.dataset.theme = theme;
}

async function loadAbout() {
  about = await get("/api/v1/about");
  const ui = document.getElementById("temporal-ui-link");
  if (about.temporal_ui_url) {
    ui.href = about.temporal_ui_url + "/namespaces/" + encodeURIComponent(about.temporal_namespace) + "/workflows";
    ui.hidden = false;
  }
  const notes = [];
  if (about.tasks_read_only) notes.push("Tasks are read-only in this deployment (CHAPTASK_TASKS_READ_ONLY): they come from a file the operator manages, so creating, editing and deleting them is off. Running them still works.");
  if (!about.shell_enabled) notes.push("Shell tasks are disabled in this deployment (CHAPTASK_SHELL_ENABLED=false): only registered functions run.");
  if (!about.jobs_available) notes.push("This process runs no jobs: job pages are unavailable.");
  const banner = document.getElementById("banner");
  banner.replaceChildren(...notes.map((n) => h("div", {}, n)));
  banner.hidden = !notes.length;
}

async function route() {
  if (current) current.abort();
  const controller = new AbortController();
  current = controller;
  const hash = decodeURIComponent(location.hash.replace(/^#/, "")) || "/";
  const [path, search] = hash.split("?");
  const params = new URLSearchParams(search || "");
  // Each visit renders into an element of its own, shown from its first
  // content on (the page before stays until then): an earlier render that
  // finishes late fills only its own detached element, never this page.
  const main = document.getElementById("view");
  const view = document.createElement("div");
  new MutationObserver((_, seen) => {
    seen.disconnect();
    if (current === controller) main.replaceChildren(view);
  }).observe(view, { childList: true });
  for (const [re, section, render] of routes) {
    const m = path.match(re);
    if (!m) continue;
    for (const a of document.querySelectorAll("[data-nav]")) {
      if (a.dataset.nav === section) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    try {
      if (!about) await loadAbout();
      await render({ view, id: m[1], params, about, signal: controller.signal, refresh: route });
    } catch (e) {
      if (controller.signal.aborted) return;
      mount(view, h("h1", {}, "Something went wrong"), h("p", { class: "error" }, e.message || String(e)),
        h("p", {}, h("a", { href: "#/" }, "Back to the overview")));
    }
    return;
  }
  mount(view, h("h1", {}, "Not found"), h("p", {}, "No console page at ", h("code", {}, path), ". ", h("a", { href: "#/" }, "Overview")));
}

const saved = localStorage.getItem("chaptask.theme");
applyTheme(saved || (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light"));
document.getElementById("theme").addEventListener("click", () => {
  const next = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
  localStorage.setItem("chaptask.theme", next);
  applyTheme(next);
});
// The fragment is the router's, so the skip link moves focus itself
// instead of navigating to "#view".
document.querySelector("a.skip").addEventListener("click", (e) => {
  e.preventDefault();
  document.getElementById("view").focus();
});
addEventListener("hashchange", route);
route();
