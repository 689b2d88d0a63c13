// Maopao web client: the model hint and the model catalogue. When replies
// come from a model with random weights the page says so in plain words
// and offers the catalogue; on the machine Maopao runs on, a click
// installs a model (with its progress) and the engine switches to it.
(function () {
  "use strict";

  var $ = function (id) { return document.getElementById(id); };
  var el = {
    hint: $("model-hint"), open: $("models-open"), panel: $("models-panel"), close: $("models-close"),
    note: $("models-note"), list: $("models-list"), progress: $("pull-progress"), label: $("pull-label"), bar: $("pull-bar")
  };
  var polling = null;

  function make(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text != null) n.textContent = text;
    return n;
  }

  function size(n) {
    if (n >= 1 << 30) return (n / (1 << 30)).toFixed(1) + " GiB";
    return Math.max(1, Math.round(n / (1 << 20))) + " MiB";
  }

  // app.js calls this with what the welcome or engine_changed frame says.
  window.maopaoModels = {
    engine: function (describe, untrained) {
      el.hint.hidden = !untrained;
      if (!untrained && !el.panel.hidden && !polling) el.panel.hidden = true;
    }
  };

  async function load() {
    var resp = await fetch("api/v1/models");
    if (!resp.ok) {
      el.note.textContent = resp.status === 404 ? "This server's engine runs elsewhere: install models there with “maopao model pull”." : "Could not list the models (HTTP " + resp.status + ").";
      el.list.replaceChildren();
      return null;
    }
    var st = await resp.json();
    render(st);
    return st;
  }

  function render(st) {
    el.note.textContent = (st.untrained ? "Replies now come from a model with random weights. " : "Replies come from: " + st.engine + ". ") +
      (st.can_install ? "Pick a model to install; the characters switch to it when it is ready." :
        "Models can be installed only on the machine Maopao runs on: there, run “maopao model pull NAME” and restart with --model NAME.");
    var busy = st.pull && (st.pull.state === "pulling" || st.pull.state === "loading");
    var installed = {};
    (st.installed || []).forEach(function (m) { installed[m.name] = m; });
    el.list.replaceChildren();
    (st.catalogue || []).forEach(function (m) {
      var tr = make("tr", "model-row");
      tr.dataset.name = m.name;
      var what = make("td");
      what.append(make("div", "name", m.title), make("div", "small", m.params + " · " + m.about));
      var action = make("td");
      var have = installed[m.name];
      if (have && have.active) {
        action.append(make("span", "badge ok", "in use"));
      } else if (st.can_install) {
        var b = make("button", "install", have ? "Use" : "Install");
        b.type = "button";
        b.disabled = busy || !m.fits;
        if (!m.fits) b.title = "This machine has too little memory for it";
        b.addEventListener("click", function () { install(m.name); });
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
    var pct = p.total > 0 ? Math.floor(100 * p.done / p.total) : 0;
    el.bar.max = p.total > 0 ? p.total : 1;
    el.bar.value = p.done;
    el.label.textContent = p.state === "pulling" ? "Downloading " + p.name + ": " + pct + "% (" + size(p.done) + " of " + size(p.total) + ")" :
      p.state === "loading" ? "Loading " + p.name + "…" :
        p.state === "done" ? p.name + " is installed; the characters now use it." :
          "Installing " + p.name + " failed: " + (p.error || "unknown error");
    el.progress.className = "pull-" + p.state;
  }

  async function install(name) {
    var resp = await fetch("api/v1/models/pull", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ name: name }) });
    if (!resp.ok && resp.status !== 202) {
      var detail = "";
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
      var st = await load().catch(function () { return null; });
      if (st && st.pull && (st.pull.state === "pulling" || st.pull.state === "loading")) poll();
    }, 400);
  }

  el.open.addEventListener("click", function () {
    el.panel.hidden = false;
    load().then(function (st) { if (st && st.pull && (st.pull.state === "pulling" || st.pull.state === "loading")) poll(); });
  });
  el.close.addEventListener("click", function () { el.panel.hidden = true; });
})();
