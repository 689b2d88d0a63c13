// Maopao web client: the model hint and the model catalogue. When replies
// come from a model with random weights the page says so in plain words
// and offers the catalogue; on the machine Maopao runs on, a click
// installs a model (with its progress) and the engine switches to it.

import { $, button, make } from "./dom.js";

const el = {
  hint: $("model-hint"), open: $("models-open"), panel: $("models-panel"), close: $("models-close"),
  note: $("models-note"), list: $("models-list"), progress: $("pull-progress"), label: $("pull-label"), bar: $("pull-bar")
};
let polling = null;

function size(n) {
  if (n >= 1 << 30) return (n / (1 << 30)).toFixed(1) + " GiB";
  return Math.max(1, Math.round(n / (1 << 20))) + " MiB";
}

// engineChanged shows the hint while replies come from an untrained model;
// app.js calls it with what the welcome or engine_changed frame says.
export function engineChanged(describe, untrained) {
  el.hint.hidden = !untrained;
  if (!untrained && !el.panel.hidden && !polling) el.panel.hidden = true;
}

async function loadModels() {
  const resp = await fetch("api/v1/models");
  if (!resp.ok) {
    el.note.textContent = resp.status === 404 ? "This server's engine runs elsewhere: install models there with “maopao model pull”." : "Could not list the models (HTTP " + resp.status + ").";
    el.list.replaceChildren();
    return null;
  }
  const st = await resp.json();
  render(st);
  return st;
}

function render(st) {
  el.note.textContent = (st.untrained ? "Replies now come from a model with random weights. " : "Replies come from: " + st.engine + ". ") +
    (st.can_install ? "Pick a model to install; the characters switch to it when it is ready." :
      "Models can be installed only on the machine Maopao runs on: there, run “maopao model pull NAME” and restart with --model NAME.");
  const busy = st.pull && (st.pull.state === "pulling" || st.pull.state === "loading");
  const installed = {};
  (st.installed || []).forEach(function (m) { installed[m.name] = m; });
  el.list.replaceChildren();
  (st.catalogue || []).forEach(function (m) {
    const tr = make("tr", "model-row");
    tr.dataset.name = m.name;
    const what = make("td");
    what.append(make("div", "name", m.title), make("div", "small", m.params + " · " + m.about));
    const action = make("td");
    const have = installed[m.name];
    if (have && have.active) {
      action.append(make("span", "badge ok", "in use"));
    } else if (st.can_install) {
      const b = button("install", have ? "Use" : "Install", function () { install(m.name); });
      b.disabled = busy || !m.fits;
      if (!m.fits) b.title = "This machine has too little memory for it";
      action.append(b);
    }
    tr.append(what, make("td", null, size(m.size) + " " + m.quant), make("td", null, size(m.ram)),
      make("td", "small", (m.languages || []).join(", ")), make("td", "small", m.licence), action);
    el.list.append(tr);
  });
  showPull(st.pull);
}

function showPull(p) {
  if (!p) { el.progress.hidden = true; return; }
  el.progress.hidden = false;
  const pct = p.total > 0 ? Math.floor(100 * p.done / p.total) : 0;
  el.bar.max = p.total > 0 ? p.total : 1;
  el.bar.value = p.done;
  el.label.textContent = p.state === "pulling" ? "Downloading " + p.name + ": " + pct + "% (" + size(p.done) + " of " + size(p.total) + ")" :
    p.state === "loading" ? "Loading " + p.name + "…" :
      p.state === "done" ? p.name + " is installed; the characters now use it." :
        "Installing " + p.name + " failed: " + (p.error || "unknown error");
  el.progress.className = "pull-" + p.state;
}

async function install(name) {
  const resp = await fetch("api/v1/models/pull", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ name: name }) });
  if (!resp.ok && resp.status !== 202) {
    let detail = "";
    try { detail = (await resp.json()).detail || ""; } catch (e) { /* not JSON */ }
    showPull({ name: name, state: "failed", error: detail || "HTTP " + resp.status, done: 0, total: 0 });
    return;
  }
  poll();
}

function poll() {
  clearTimeout(polling);
  polling = setTimeout(async function () {
    polling = null;
    const st = await loadModels().catch(function () { return null; });
    if (st && st.pull && (st.pull.state === "pulling" || st.pull.state === "loading")) poll();
  }, 400);
}

el.open.addEventListener("click", function () {
  el.panel.hidden = false;
  loadModels().then(function (st) { if (st && st.pull && (st.pull.state === "pulling" || st.pull.state === "loading")) poll(); });
});
el.close.addEventListener("click", function () { el.panel.hidden = true; });
