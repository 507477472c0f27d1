// Small DOM helpers. Text always goes in as text nodes, never as HTML.

// h builds an element: h("a", {href: "#/"}, "text", child, [more]).
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k in el && k !== "list" && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c == null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function badge(text, kind = text) {
  return h("span", { class: "badge " + kind }, text);
}

export function time(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return h("time", { datetime: iso, title: iso }, d.toLocaleString());
}

export function ago(iso) {
  if (!iso) return "—";
  const s = Math.round((Date.now() - new Date(iso)) / 1000);
  const text = s < 60 ? `${Math.max(s, 0)} s ago` : s < 3600 ? `${Math.round(s / 60)} min ago` : s < 86400 ? `${Math.round(s / 3600)} h ago` : new Date(iso).toLocaleDateString();
  return h("time", { datetime: iso, title: new Date(iso).toLocaleString() }, text);
}

// duration of a job: from start to finish, or to now while it runs.
export function duration(from, to) {
  if (!from) return "—";
  const ms = (to ? new Date(to) : new Date()) - new Date(from);
  if (ms < 1000) return `${Math.max(ms, 0)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(ms / 60000);
  return m < 60 ? `${m} min ${Math.round((ms % 60000) / 1000)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

export function bytes(n) {
  return n < 1024 ? `${n} B` : n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1048576).toFixed(1)} MiB`;
}

export function toast(message, bad = false) {
  const el = h("div", { class: "toast" + (bad ? " bad" : ""), role: bad ? "alert" : "status" }, message);
  document.getElementById("toasts").append(el);
  setTimeout(() => el.remove(), bad ? 8000 : 4000);
}

// fail reports an error of an action to the person who started it.
export function fail(e) {
  const extra = e.fields && e.fields.length ? " — " + e.fields.join("; ") : "";
  toast((e.message || String(e)) + extra, true);
}

export function confirmAction(text) {
  const dialog = document.getElementById("confirm-dialog");
  document.getElementById("confirm-text").textContent = text;
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.showModal();
    document.getElementById("confirm-ok").focus();
  });
}

// json renders a value as collapsible JSON: objects and arrays in
// <details>, open down to depth open.
export function json(value, open = 2, depth = 0) {
  if (value === null || typeof value !== "object") {
    const cls = typeof value === "string" ? "s" : "n";
    return h("span", { class: cls }, JSON.stringify(value));
  }
  const isArray = Array.isArray(value);
  const entries = isArray ? value.map((v, i) => [i, v]) : Object.entries(value);
  if (!entries.length) return h("span", {}, isArray ? "[]" : "{}");
  const summary = isArray ? `[ ${entries.length} items ]` : `{ ${entries.length} keys }`;
  return h("details", { class: "json mono", open: depth < open },
    h("summary", {}, summary),
    entries.map(([k, v]) => h("div", {}, isArray ? null : [h("span", { class: "k" }, JSON.stringify(String(k))), ": "], json(v, open, depth + 1))));
}

export function copyBox(text, label) {
  const pre = h("pre", { class: "mono", "aria-label": label }, text);
  const button = h("button", { type: "button", class: "small", onclick: async () => {
    try {
      await navigator.clipboard.writeText(text);
      toast("Copied");
    } catch {
      getSelection().selectAllChildren(pre);
      toast("Selected: press Ctrl+C to copy");
    }
  } }, "Copy");
  return h("div", { class: "copy" }, pre, button);
}

// pager moves between pages of a {items,total,page,size,pages} answer.
export function pager(list, go) {
  if (!list.pages || list.pages <= 1) return h("p", { class: "muted small" }, `${list.total} in all`);
  return h("div", { class: "pager" },
    h("button", { type: "button", disabled: list.page <= 1, onclick: () => go(list.page - 1) }, "← Newer"),
    h("span", { class: "muted small" }, `page ${list.page} of ${list.pages} · ${list.total} in all`),
    h("button", { type: "button", disabled: list.page >= list.pages, onclick: () => go(list.page + 1) }, "Older →"));
}

export function download(name, text) {
  const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
  const a = h("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

// go navigates to a console fragment (also to the one shown, to reload
// it), moving focus to the new view so keyboard users start at its top.
export function go(hash) {
  if (location.hash === hash) dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = hash;
  document.getElementById("view").focus({ preventScroll: true });
}
