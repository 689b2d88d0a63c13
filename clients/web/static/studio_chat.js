// Maopao creator studio, test chat: talks to the draft in the editor through
// POST /api/v1/studio/preview, a server-sent event stream read with fetch
// (lore, then delta pieces, then complete or error), and shows which
// lorebook entries fired and why. Nothing of it is stored.

import { $, enterSubmits, make } from "./dom.js";
import { currentAccount, currentDraft, markFired, onDraftOpened, showDraftErrors, signOut } from "./studio.js";

const el = {
  messages: $("preview-messages"), lore: $("preview-lore"), form: $("preview-form"),
  input: $("preview-input"), send: $("preview-send"), stop: $("preview-stop"), reset: $("preview-reset")
};

let lines = [];        // the test chat so far: {role, content}
let running = null;    // AbortController of the preview in flight

function bubble(kind, who, text) {
  const n = make("div", "pmsg " + kind);
  n.append(make("div", "who", who), make("div", "text", text), make("div", "meta"));
  el.messages.append(n);
  el.messages.scrollTop = el.messages.scrollHeight;
  return n;
}

// expand fills the name macros the way prompts do, for the greeting shown.
function expand(text, d) {
  const a = currentAccount();
  const user = a ? a.username : "User", char = (d.nickname || "").trim() || d.name || "";
  return text.replace(/\{\{char\}\}|<BOT>/gi, char).replace(/\{\{user\}\}|<USER>/gi, user);
}

function setBusy(b) {
  el.send.disabled = b || !currentDraft();
  el.stop.hidden = !b;
}

function reset() {
  if (running) running.abort();
  lines = [];
  el.messages.replaceChildren();
  el.lore.replaceChildren();
  markFired([]);
  const d = currentDraft();
  el.input.disabled = el.send.disabled = !d;
  el.input.placeholder = d ? "Say something to the draft…" : "Open or create a character to test it.";
  if (d && d.first_mes) bubble("character greeting", d.name || "draft", expand(d.first_mes, d));
}
onDraftOpened(reset);
el.reset.addEventListener("click", reset);
el.stop.addEventListener("click", function () { if (running) running.abort(); });

function renderLore(data) {
  const entries = data.entries || [], dropped = data.dropped || [], warnings = data.warnings || [];
  const nodes = [make("h4", null, "Lorebook entries that fired")];
  if (!entries.length) nodes.push(make("p", "small lore-none", "None fired for this line."));
  entries.forEach(function (e) { nodes.push(loreRow(e, "lore-fired")); });
  dropped.forEach(function (e) {
    const r = loreRow(e, "lore-dropped");
    r.querySelector(".lore-reason").append(document.createTextNode(" — left out: over the token budget"));
    nodes.push(r);
  });
  warnings.forEach(function (w) { nodes.push(make("p", "small lore-warning", "⚠ " + w)); });
  el.lore.replaceChildren.apply(el.lore, nodes);
  markFired(entries.map(function (e) { return e.index; }));
}

function loreRow(e, cls) {
  const n = make("div", cls);
  n.dataset.index = String(e.index);
  const head = make("div", "lore-row-head");
  head.append(make("span", "lore-title", e.name || "Entry #" + (e.index + 1)));
  (e.keys || []).forEach(function (k) { head.append(make("span", "tag", k)); });
  const where = e.depth >= 0 ? "in the chat, " + e.depth + " from the end" : (e.position || "before_char").replace("_", " ");
  n.append(head, make("div", "lore-reason small", e.reason + " · " + where + (e.tokens ? " · " + e.tokens + " tokens" : "")));
  return n;
}

// readEvents calls onEvent(name, data) for each server-sent event of a
// response body as it arrives.
async function readEvents(body, onEvent) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  for (;;) {
    const chunk = await reader.read();
    if (chunk.done) break;
    buf += decoder.decode(chunk.value, { stream: true });
    let cut;
    while ((cut = buf.search(/\r?\n\r?\n/)) >= 0) {
      const block = buf.slice(0, cut);
      buf = buf.slice(cut).replace(/^\r?\n\r?\n/, "");
      let name = "message";
      const data = [];
      block.split(/\r?\n/).forEach(function (line) {
        if (line.startsWith(":")) return; // keep-alive comment
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") name = value;
        else if (field === "data") data.push(value);
      });
      if (!data.length) continue;
      let parsed;
      try { parsed = JSON.parse(data.join("\n")); } catch (e) { continue; }
      if (onEvent(name, parsed) === false) return;
    }
  }
}

async function send(text) {
  const draft = currentDraft();
  const account = currentAccount();
  if (!draft || !account || running) return;
  lines.push({ role: "user", content: text });
  const mine = bubble("user", "you", text);
  const reply = bubble("character streaming waiting", draft.name || "draft", "");
  const replyText = reply.querySelector(".text");
  const ctl = new AbortController();
  running = ctl;
  setBusy(true);
  let finished = false;
  function fail(msg) {
    finished = true;
    reply.classList.remove("streaming", "waiting");
    reply.classList.add("failed");
    reply.querySelector(".meta").textContent = msg;
    // The failed line leaves the chat, so sending it again is a clean retry.
    lines.pop();
    mine.classList.add("failed");
  }
  try {
    const resp = await fetch("api/v1/studio/preview", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: "Bearer " + account.token },
      body: JSON.stringify({ character: draft, messages: lines, user_name: account.username }),
      signal: ctl.signal
    });
    if (!resp.ok) {
      let p = {};
      try { p = await resp.json(); } catch (e) { /* not JSON */ }
      // Fields of the draft are marked in the editor; the rest is said here.
      const draftErrs = (p.errors || []).filter(function (e) { return /^character\./.test(e.path || ""); })
        .map(function (e) { return { path: e.path.replace(/^character\./, ""), message: e.message }; });
      if (draftErrs.length) showDraftErrors(draftErrs);
      if (resp.status === 401) signOut("Your sign-in expired; log in again.");
      fail((p.detail || "HTTP " + resp.status) + (draftErrs.length ? " (see the marked fields)" : ""));
      return;
    }
    await readEvents(resp.body, function (name, data) {
      switch (name) {
        case "lore":
          renderLore(data);
          const fired = (data.entries || []).map(function (e) { return e.name || "#" + (e.index + 1); });
          reply.querySelector(".meta").textContent = fired.length ? "lorebook: " + fired.join(", ") : "";
          return true;
        case "delta":
          reply.classList.remove("waiting");
          reply.dataset.deltas = String(Number(reply.dataset.deltas || 0) + 1);
          replyText.append(document.createTextNode(data.text || ""));
          el.messages.scrollTop = el.messages.scrollHeight;
          return true;
        case "complete":
          finished = true;
          replyText.textContent = data.text || "";
          reply.classList.remove("streaming", "waiting");
          reply.classList.add("complete");
          if (data.finish_reason === "length") reply.querySelector(".meta").append(document.createTextNode(" · cut at the length limit"));
          lines.push({ role: "character", content: data.text || "…" });
          return false;
        case "error":
          fail((data.message || "the preview failed") + (data.code ? " [" + data.code + "]" : ""));
          return false;
      }
      return true;
    });
    if (!finished) fail("the stream ended before the reply was complete");
  } catch (e) {
    fail(e.name === "AbortError" ? "stopped" : "the server cannot be reached (" + e.message + ")");
  } finally {
    if (running === ctl) running = null;
    setBusy(false);
  }
}

el.form.addEventListener("submit", function (ev) {
  ev.preventDefault();
  const text = el.input.value.trim();
  if (!text || running) return;
  el.input.value = "";
  send(text);
});
enterSubmits(el.input);
reset();
