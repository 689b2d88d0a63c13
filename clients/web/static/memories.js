// The memory manager: what a character remembers about this player, to
// pin, edit and forget, over the REST API (/api/v1/memories). The chat
// view's panel shows a one-to-one chat's memories (lines said, facts
// told, notes written, insights, summaries); the world view (world.js)
// makes one for a resident's memories of the player in that world.

import { $, button, make } from "./dom.js";
import { guestToken } from "./connection.js";

const kindLabel = {
  said: "you said", fact: "fact", note: "your note", reflection: "insight", summary: "summary of a chat",
  observation: "saw", dialogue: "heard"
};

// manager runs one memory list. opts: list, empty, error (elements);
// query() the list's query string ("" when there is nothing to list);
// item(id) the path of one memory; token() a promise of the token.
export function manager(opts) {
  async function api(method, path, body) {
    const headers = { Authorization: "Bearer " + await opts.token() };
    const init = { method: method, headers: headers };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const resp = await fetch(path, init);
    let data = null;
    if ((resp.headers.get("Content-Type") || "").includes("json")) {
      try { data = await resp.json(); } catch (e) { /* empty */ }
    }
    if (!resp.ok) throw new Error((data && data.detail) || "HTTP " + resp.status);
    return data;
  }

  function showError(e) {
    opts.error.hidden = !e;
    opts.error.textContent = e ? "Memories: " + e.message : "";
  }

  function row(m) {
    const li = make("li", "memory" + (m.pinned ? " pinned" : ""));
    li.dataset.id = m.id;
    const text = make("span", "memory-text", m.text);
    const label = (kindLabel[m.kind] || m.kind) + (m.private_to ? " (in private)" : "");
    const meta = make("span", "memory-kind small", (m.pinned ? "📌 " : "") + label);
    const tools = make("span", "memory-tools");
    tools.append(
      button("link memory-pin", m.pinned ? "unpin" : "pin", () => change(m.id, { pinned: !m.pinned })),
      button("link memory-edit", "edit", () => edit(li, m)),
      button("link memory-forget", "forget", () => forget(m.id)));
    li.append(meta, text, tools);
    return li;
  }

  function edit(li, m) {
    const box = make("textarea", "memory-edit-text");
    box.value = m.text;
    box.rows = 2;
    box.maxLength = 2000;
    const save = button("memory-save", "Save", () => change(m.id, { text: box.value }));
    const cancel = button("link", "cancel", refresh);
    li.replaceChildren(box, save, cancel);
    box.focus();
  }

  async function change(id, body) {
    try {
      await api("PATCH", opts.item(id), body);
      showError(null);
    } catch (e) { showError(e); }
    refresh();
  }

  async function forget(id) {
    try {
      await api("DELETE", opts.item(id));
      showError(null);
    } catch (e) { showError(e); }
    refresh();
  }

  // refresh lists the memories again (every page).
  async function refresh() {
    const q = opts.query();
    if (!q) return;
    const all = [];
    try {
      for (let offset = 0; offset != null;) {
        const page = await api("GET", "api/v1/memories?limit=200&offset=" + offset + "&" + q);
        all.push(...page.memories);
        offset = page.next == null ? null : page.next;
      }
      showError(null);
    } catch (e) { showError(e); return; }
    if (q !== opts.query()) return; // moved on meanwhile
    opts.list.replaceChildren(...all.map(row));
    opts.empty.hidden = all.length > 0;
  }

  return { refresh: refresh, api: api, showError: showError };
}

// ---- the chat view's panel ----

const el = {
  toggle: $("memories-toggle"), panel: $("memories-panel"), list: $("memories-list"), empty: $("memories-empty"),
  form: $("memory-add"), text: $("memory-add-text"), pin: $("memory-add-pin"), error: $("memories-error"), char: $("memories-char")
};
let characterId = null;

const chat = manager({
  list: el.list, empty: el.empty, error: el.error, token: guestToken,
  query: function () { return characterId && !el.panel.hidden ? "character=" + encodeURIComponent(characterId) : ""; },
  item: function (id) { return "api/v1/memories/" + encodeURIComponent(id); }
});

// refresh lists the open chat's memories again.
export function refresh() { return chat.refresh(); }

// openFor points the panel at a character (the chat being opened).
export function openFor(id, name) {
  characterId = id;
  el.char.textContent = name || "";
  el.list.replaceChildren();
  refresh();
}

// close hides the panel (leaving the chat).
export function close() {
  characterId = null;
  el.panel.hidden = true;
  el.toggle.setAttribute("aria-expanded", "false");
}

el.toggle.addEventListener("click", function () {
  el.panel.hidden = !el.panel.hidden;
  el.toggle.setAttribute("aria-expanded", String(!el.panel.hidden));
  refresh();
});
el.form.addEventListener("submit", async function (ev) {
  ev.preventDefault();
  if (!characterId || !el.text.value.trim()) return;
  try {
    await chat.api("POST", "api/v1/memories?character=" + encodeURIComponent(characterId), { text: el.text.value, pinned: el.pin.checked });
    el.text.value = "";
    el.pin.checked = false;
    chat.showError(null);
  } catch (e) { chat.showError(e); }
  refresh();
});
