// The console's only way to the server: the public HTTP API, with the API
// key of this browser tab when the service asks for one.
const keyName = "chaptask.apiKey";

export class ApiError extends Error {
  constructor(status, problem) {
    const detail = problem && typeof problem === "object" ? problem.detail || problem.title : String(problem || "");
    super(detail || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }
  // fields lists a 422's bad fields as "loc: msg".
  get fields() {
    const errs = (this.problem && this.problem.errors) || [];
    return errs.map((e) => `${(e.loc || []).slice(1).join(".")}: ${e.msg}`);
  }
}

export function apiKey() {
  return sessionStorage.getItem(keyName) || "";
}

let asking = null;

// askKey shows the key dialog once, however many requests were refused.
function askKey(message) {
  if (!asking) {
    asking = new Promise((resolve) => {
      const dialog = document.getElementById("key-dialog");
      const input = document.getElementById("key-input");
      document.getElementById("key-message").textContent = message;
      input.value = "";
      dialog.addEventListener("close", function done() {
        const key = input.value.trim();
        if (!key) { dialog.showModal(); return; }
        dialog.removeEventListener("close", done);
        sessionStorage.setItem(keyName, key);
        asking = null;
        resolve();
      });
      dialog.showModal();
      input.focus();
    });
  }
  return asking;
}

// request sends one API call and answers its JSON (null for 204); a
// problem document becomes an ApiError. With raw it answers the Response.
export async function request(method, path, opts = {}) {
  for (;;) {
    const headers = { Accept: "application/json", ...(opts.headers || {}) };
    const key = apiKey();
    if (key) headers["X-API-Key"] = key;
    const init = { method, headers, signal: opts.signal };
    if (opts.body !== undefined) {
      init.body = JSON.stringify(opts.body);
      headers["Content-Type"] = "application/json";
    }
    const res = await fetch(path, init);
    if (res.status === 401) {
      const p = await res.json().catch(() => ({}));
      await askKey(key ? `The key was refused (${p.detail || "invalid API key"}). Enter another.` :
        "This chaptask service asks for an API key (X-API-Key). It is kept for this browser tab only.");
      continue;
    }
    if (opts.raw && res.ok) return res;
    if (res.status === 204) return null;
    const type = res.headers.get("Content-Type") || "";
    const data = type.includes("json") ? await res.json() : await res.text();
    if (!res.ok) throw new ApiError(res.status, data);
    return data;
  }
}

export const get = (path, opts) => request("GET", path, opts);
export const post = (path, body, opts = {}) => request("POST", path, { ...opts, body });
export const put = (path, body) => request("PUT", path, { body });
export const patch = (path, body) => request("PATCH", path, { body });
export const del = (path) => request("DELETE", path);

// query builds "?a=1&b=2" from the set members of params.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== "" && v != null) q.set(k, v);
  const s = q.toString();
  return s ? "?" + s : "";
}

const sleep = (ms, signal) => new Promise((resolve) => {
  const t = setTimeout(resolve, ms);
  signal.addEventListener("abort", () => { clearTimeout(t); resolve(); }, { once: true });
});

// stream reads Server-Sent Events from path with fetch, which, unlike
// EventSource, can send the API key. onEvent(name, data) returns true to
// stop; a dropped connection resumes after the last event id.
export async function stream(path, onEvent, signal) {
  let lastId = "";
  while (!signal.aborted) {
    let res;
    try {
      res = await request("GET", path, { raw: true, signal, headers: lastId ? { Accept: "text/event-stream", "Last-Event-ID": lastId } : { Accept: "text/event-stream" } });
    } catch (e) {
      if (signal.aborted) return;
      if (e instanceof ApiError) throw e;
      await sleep(2000, signal);
      continue;
    }
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "", name = "", data = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let nl;
        while ((nl = buf.indexOf("\n")) >= 0) {
          let line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line.endsWith("\r")) line = line.slice(0, -1);
          if (line === "") {
            if (data && onEvent(name || "message", JSON.parse(data))) { reader.cancel(); return; }
            name = data = "";
            continue;
          }
          const colon = line.indexOf(":");
          if (colon === 0) continue;
          const field = colon < 0 ? line : line.slice(0, colon);
          const val = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "data") data += (data ? "\n" : "") + val;
          else if (field === "event") name = val;
          else if (field === "id") lastId = val;
        }
      }
    } catch (e) {
      if (signal.aborted) return;
    }
    await sleep(1000, signal);
  }
}
