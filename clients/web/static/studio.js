// Maopao creator studio: accounts, the character editor with its lorebook,
// avatars, import/export and version history, over the creator REST API.
// The test chat is in studio_chat.js. Like app.js, every text goes into the
// page through textContent or form values, never as markup.

import { $, button, load, loadJSON, make, paintAvatar, store } from "./dom.js";
import { showList } from "./app.js";

const LS_ACCOUNT = "maopao.account";
const LS_VIEW = "maopao.view";
const LS_EDIT = "maopao.studio.character";

const el = {
  link: $("studio-link"), back: $("back"), title: $("title"), view: $("studio-view"),
  listView: $("list-view"), chatView: $("chat-view"),
  auth: $("studio-auth"), authForm: $("auth-form"), authUser: $("auth-username"), authPass: $("auth-password"),
  authRegister: $("auth-register"), authError: $("auth-error"), main: $("studio-main"),
  user: $("studio-user"), logout: $("auth-logout"), newBtn: $("studio-new"), importFile: $("import-file"),
  importStatus: $("import-status"), mine: $("my-characters"), mineEmpty: $("my-empty"),
  editorEmpty: $("editor-empty"), form: $("editor-form"), editorTitle: $("editor-title"), meta: $("editor-meta"),
  avatarPreview: $("avatar-preview"), avatarImg: $("avatar-img"), avatarFile: $("avatar-file"),
  save: $("studio-save"), message: $("studio-message"), error: $("studio-error"),
  conflict: $("studio-conflict"), conflictText: $("conflict-text"), conflictReload: $("conflict-reload"),
  conflictOverwrite: $("conflict-overwrite"), greetings: $("greetings"), greetingAdd: $("greeting-add"),
  scanDepth: $("book-scan-depth"), tokenBudget: $("book-token-budget"), recursive: $("book-recursive"),
  lore: $("lore-entries"), loreAdd: $("lore-add"), historyLoad: $("history-load"), historyList: $("history-list"),
  del: $("studio-delete"), delConfirm: $("delete-confirm"), delText: $("delete-text"), delYes: $("delete-yes"),
  delNo: $("delete-no")
};

// Card text fields edited as they are.
const TEXT_FIELDS = ["name", "nickname", "description", "personality", "scenario", "first_mes", "mes_example",
  "system_prompt", "post_history_instructions", "creator_notes", "creator", "character_version", "visibility"];

let account = readAccount();
let draft = null;       // the character being edited, as the API returned it (unknown fields kept)
let loreState = [];     // its lorebook entries, synced from the form before every change
let dirty = false;
let discardFor = null;  // what a second click may switch to, losing unsaved edits
const listeners = [];   // studio_chat.js: called when another draft is opened

function readAccount() {
  const a = loadJSON(LS_ACCOUNT);
  return a && a.token && a.player_id ? a : null;
}

// ---- API ----

// api calls the creator API with the account's token and returns
// {ok, status, data, problem, response}; problem is the RFC 9457 body of
// a failure, or one made up for a network error.
async function api(method, path, body, headers) {
  const h = Object.assign({}, headers || {});
  if (account) h.Authorization = "Bearer " + account.token;
  const init = { method: method, headers: h };
  if (body !== undefined) {
    if (body instanceof FormData || body instanceof Blob) {
      init.body = body;
    } else {
      h["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
  }
  let resp;
  try {
    resp = await fetch(path, init);
  } catch (e) {
    return { ok: false, status: 0, problem: { detail: "the server cannot be reached (" + e.message + ")" } };
  }
  const out = { ok: resp.ok, status: resp.status, response: resp };
  const ct = resp.headers.get("Content-Type") || "";
  if (/json/.test(ct)) {
    let data = null;
    try { data = await resp.json(); } catch (e) { /* empty or broken body */ }
    if (resp.ok) out.data = data; else out.problem = data || {};
  } else if (!resp.ok) {
    out.problem = { detail: "HTTP " + resp.status };
  }
  if (resp.status === 401 && account && !/accounts\/(login|register)$/.test(path)) {
    signOut("Your sign-in expired; log in again.");
  }
  return out;
}

function problemText(p) {
  if (!p) return "something went wrong";
  return p.detail || p.title || "something went wrong";
}

// ---- views ----

function showStudio(push) {
  showList();
  el.listView.hidden = true;
  el.chatView.hidden = true;
  el.view.hidden = false;
  el.back.hidden = false;
  el.link.hidden = true;
  el.title.textContent = "Maopao Studio";
  document.title = "Studio · Maopao";
  store(LS_VIEW, "studio");
  if (push) history.pushState({ studio: true }, "");
  renderAccount();
}
// leftStudio forgets the studio once it is no longer shown, so a reload
// does not bring it back.
export function leftStudio() {
  if (el.view.hidden) store(LS_VIEW, null);
}
el.link.addEventListener("click", function () { showStudio(true); });
window.addEventListener("popstate", function (ev) {
  if (ev.state && ev.state.studio) showStudio(false); else leftStudio();
});
// app.js's back button shows the list; the studio only forgets itself.
el.back.addEventListener("click", function () { setTimeout(leftStudio, 0); });

function renderAccount() {
  el.auth.hidden = !!account;
  el.main.hidden = !account;
  accountListeners.forEach(function (f) { f(account); });
  if (!account) {
    el.authUser.focus();
    return;
  }
  el.user.textContent = "Signed in as " + account.username;
  loadMine();
  const want = load(LS_EDIT);
  if (want && (!draft || draft.id !== want)) openCharacter(want, true);
}

// ---- accounts ----

async function authenticate(kind) {
  clearErrors(el.authForm);
  el.authError.hidden = true;
  el.authPass.autocomplete = kind === "register" ? "new-password" : "current-password";
  const body = { username: el.authUser.value.trim(), password: el.authPass.value };
  // A device that logged in before says so: someone guessing passwords
  // behind the same address cannot lock it out.
  const deviceKey = "maopao.device." + body.username.toLowerCase();
  const device = load(deviceKey);
  if (device) body.device = device;
  const r = await api("POST", "api/v1/accounts/" + kind, body);
  if (!r.ok) {
    const shown = showFieldErrors(el.authForm, (r.problem && r.problem.errors) || []);
    if (!shown || !(r.problem && r.problem.errors)) {
      el.authError.hidden = false;
      el.authError.textContent = problemText(r.problem);
    }
    return;
  }
  account = { token: r.data.token, player_id: r.data.player_id, username: r.data.username };
  store(LS_ACCOUNT, JSON.stringify(account));
  if (r.data.device) store(deviceKey, r.data.device);
  el.authPass.value = "";
  renderAccount();
}
el.authForm.addEventListener("submit", function (ev) { ev.preventDefault(); authenticate("login"); });
el.authRegister.addEventListener("click", function () {
  if (el.authForm.reportValidity()) authenticate("register");
});

export function signOut(why) {
  account = null;
  store(LS_ACCOUNT, null);
  store(LS_EDIT, null);
  closeEditor();
  el.mine.replaceChildren();
  renderAccount();
  if (why) {
    el.authError.hidden = false;
    el.authError.textContent = why;
  }
}
el.logout.addEventListener("click", function () { signOut(""); });

// Deleting the account asks for the password again: a page left signed in
// on a shared computer cannot erase it.
$("account-delete-form").addEventListener("submit", async function (ev) {
  ev.preventDefault();
  const pass = $("account-delete-password");
  const shown = $("account-delete-error");
  shown.hidden = true;
  const r = await api("DELETE", "api/v1/accounts/me", { password: pass.value });
  pass.value = "";
  if (!r.ok) {
    shown.hidden = false;
    shown.textContent = problemText(r.problem);
    return;
  }
  $("account-delete").open = false;
  signOut("Your account was deleted.");
});

// ---- my characters ----

async function loadMine() {
  // A page at a time (the server gives at most 200), every page.
  let list = [];
  for (let offset = 0; offset != null && list.length < 2000;) {
    const r = await api("GET", "api/v1/characters?limit=200&offset=" + offset + "&owner=" + encodeURIComponent(account.player_id));
    if (!r.ok) {
      showError(problemText(r.problem));
      return;
    }
    list = list.concat((r.data && r.data.characters) || []);
    offset = r.data && r.data.next != null ? r.data.next : null;
  }
  el.mineEmpty.hidden = list.length > 0;
  el.mine.replaceChildren.apply(el.mine, list.map(function (c) {
    const b = button("my-character");
    b.dataset.id = c.id;
    const av = make("span", "avatar small-avatar");
    av.setAttribute("aria-hidden", "true");
    paintAvatar(av, c.name || "?");
    const body = make("span", "body");
    body.append(make("span", "name", c.name), make("span", "description", c.description || ""));
    b.append(av, body);
    b.classList.toggle("selected", !!(draft && draft.id === c.id));
    b.addEventListener("click", function () { openCharacter(c.id); });
    return b;
  }));
}

function markSelected() {
  el.mine.querySelectorAll(".my-character").forEach(function (b) {
    b.classList.toggle("selected", !!(draft && draft.id === b.dataset.id));
  });
}

// ---- editor ----

// leaving says whether the editor may show something else now: unsaved
// edits are only dropped when the creator asks twice.
function leaving(target) {
  if (!draft || !dirty || discardFor === target) return true;
  discardFor = target;
  showError("“" + ($("f-name").value.trim() || "This character") + "” has unsaved changes. Save them, or click again to discard them.");
  return false;
}

async function openCharacter(id, force) {
  if (!force && !leaving("open:" + id)) return;
  discardFor = null;
  const r = await api("GET", "api/v1/characters/" + encodeURIComponent(id));
  if (!r.ok) {
    if (r.status === 404) store(LS_EDIT, null);
    showError(problemText(r.problem));
    return;
  }
  edit(r.data);
}

function edit(c) {
  draft = c;
  store(LS_EDIT, c.id || null);
  fillForm();
  listeners.forEach(function (f) { f(); });
}

function newCharacter() {
  if (!leaving("new")) return;
  discardFor = null;
  edit({
    name: "", description: "", personality: "", scenario: "", first_mes: "", mes_example: "",
    system_prompt: "", post_history_instructions: "", creator_notes: "", alternate_greetings: [],
    tags: [], creator: account ? account.username : "", character_version: "1.0", visibility: "private", revision: 0
  });
  el.form.querySelector("#f-name").focus();
}
el.newBtn.addEventListener("click", newCharacter);
// On narrow screens the test chat is below the whole form.
$("to-test-chat").addEventListener("click", function () { $("studio-chat").scrollIntoView({ block: "start" }); });

function closeEditor() {
  draft = null;
  el.form.hidden = true;
  el.editorEmpty.hidden = false;
  listeners.forEach(function (f) { f(); });
}

function fillForm() {
  el.editorEmpty.hidden = true;
  el.form.hidden = false;
  hideNotices();
  clearErrors(el.form);
  TEXT_FIELDS.forEach(function (f) {
    el.form.querySelector('[data-path="' + f + '"]').value = draft[f] || (f === "visibility" ? "private" : "");
  });
  $("f-tags").value = (draft.tags || []).join(", ");
  const voice = (draft.extensions && draft.extensions.maopao && draft.extensions.maopao.voice) || {};
  $("f-voice-name").value = typeof voice.name === "string" ? voice.name : "";
  $("f-voice-lang").value = typeof voice.lang === "string" ? voice.lang : "";
  renderGreetings(draft.alternate_greetings || []);
  const book = draft.character_book || {};
  el.scanDepth.value = book.scan_depth == null ? "" : String(book.scan_depth);
  el.tokenBudget.value = book.token_budget == null ? "" : String(book.token_budget);
  el.recursive.value = book.recursive_scanning == null ? "" : String(book.recursive_scanning);
  loreState = (book.entries || []).map(function (e) { return Object.assign({}, e); });
  renderLore();
  el.historyList.hidden = true;
  el.delConfirm.hidden = true;
  showAvatar();
  setDirty(false);
  markSelected();
}

function setDirty(d) {
  dirty = d;
  el.editorTitle.textContent = ($("f-name").value.trim() || draft.name || "New character") + (dirty ? " •" : "");
  const parts = [];
  if (draft.id) parts.push("revision " + draft.revision);
  else parts.push("not saved yet");
  if (draft.updated_at && draft.id) parts.push("saved " + new Date(draft.updated_at).toLocaleString());
  if (dirty) parts.push("unsaved changes");
  el.meta.textContent = parts.join(" · ");
  el.meta.classList.toggle("dirty", dirty);
  const saved = !!draft.id;
  ["export-png", "export-json", "export-charx", "history-load", "studio-delete"].forEach(function (id) { $(id).disabled = !saved; });
  el.avatarFile.disabled = !saved;
  $("avatar-label").classList.toggle("disabled", !saved);
  $("avatar-label").title = saved ? "Upload a PNG or JPEG" : "Save the character first";
}
el.form.addEventListener("input", function () { if (draft) setDirty(true); });
el.form.addEventListener("change", function () { if (draft) setDirty(true); });

function renderGreetings(list) {
  el.greetings.replaceChildren.apply(el.greetings, list.map(function (g, i) { return greetingRow(g, i); }));
}
function greetingRow(text, i) {
  const row = make("div", "greeting-row");
  const ta = make("textarea", "greeting-text");
  ta.rows = 2;
  ta.value = text;
  ta.dataset.path = "alternate_greetings[" + i + "]";
  ta.setAttribute("aria-label", "Alternate greeting " + (i + 1));
  const err = make("div", "field-error");
  err.dataset.for = "alternate_greetings[" + i + "]";
  row.append(ta, button("small-button", "Remove", function () {
    const list = greetingValues();
    list.splice(i, 1);
    renderGreetings(list);
    setDirty(true);
  }), err);
  return row;
}
function greetingValues() {
  return Array.from(el.greetings.querySelectorAll(".greeting-text")).map(function (t) { return t.value; });
}
el.greetingAdd.addEventListener("click", function () {
  const list = greetingValues();
  list.push("");
  renderGreetings(list);
  setDirty(true);
  el.greetings.lastChild.querySelector("textarea").focus();
});

// ---- lorebook ----

function splitKeys(s) {
  return s.split(",").map(function (k) { return k.trim(); }).filter(function (k) { return k !== ""; });
}

function renderLore() {
  el.lore.replaceChildren.apply(el.lore, loreState.map(loreCard));
  if (!loreState.length) el.lore.append(make("p", "small hint-left", "No entries. An entry's content enters the prompt when one of its keys appears in the chat."));
}

function loreCard(e, i) {
  const p = "character_book.entries[" + i + "]";
  const card = make("div", "lore-entry");
  card.dataset.index = String(i);
  function input(cls, path, label, value, type) {
    const l = make("label", "lore-field " + cls + "-label", label + " ");
    const n = make(type === "textarea" ? "textarea" : "input", cls);
    if (type && type !== "textarea") n.type = type;
    if (type === "textarea") n.rows = 3;
    n.value = value == null ? "" : String(value);
    n.dataset.path = p + "." + path;
    l.append(n);
    return l;
  }
  function check(cls, path, label, value) {
    const l = make("label", "check");
    const n = make("input", cls);
    n.type = "checkbox";
    n.checked = !!value;
    n.dataset.path = p + "." + path;
    l.append(n, document.createTextNode(" " + label));
    return l;
  }
  const head = make("div", "lore-head");
  head.append(make("span", "lore-number", "#" + (i + 1)), input("lore-name", "name", "Name", e.name || ""),
    make("span", "lore-fired-badge", "fired"),
    button("small-button lore-remove", "Remove", function () {
      syncLore();
      loreState.splice(i, 1);
      renderLore();
      setDirty(true);
    }));
  const keys = make("div", "grid2");
  keys.append(input("lore-keys", "keys", "Keys (comma-separated)", (e.keys || []).join(", ")),
    input("lore-secondary", "secondary_keys", "Secondary keys", (e.secondary_keys || []).join(", ")));
  const flags = make("div", "row wrap checks");
  flags.append(check("lore-enabled", "enabled", "enabled", e.enabled), check("lore-constant", "constant", "constant", e.constant),
    check("lore-selective", "selective", "selective", e.selective),
    check("lore-case", "case_sensitive", "case sensitive", e.case_sensitive),
    check("lore-regex", "use_regex", "regex keys", e.use_regex));
  const nums = make("div", "grid3");
  const pos = make("label", "lore-field", "Position ");
  const sel = make("select", "lore-position");
  sel.dataset.path = p + ".position";
  [["before_char", "before char"], ["after_char", "after char"]].forEach(function (o) {
    const opt = make("option", null, o[1]);
    opt.value = o[0];
    sel.append(opt);
  });
  sel.value = e.position === "after_char" ? "after_char" : "before_char";
  pos.append(sel);
  nums.append(input("lore-order", "insertion_order", "Insertion order", e.insertion_order || 0, "number"),
    input("lore-priority", "priority", "Priority", e.priority, "number"), pos);
  const err = make("div", "field-error");
  err.dataset.for = p;
  head.querySelector(".lore-name").placeholder = e.comment || "optional label";
  card.append(head, keys, input("lore-content", "content", "Content", e.content || "", "textarea"), flags, nums, err);
  return card;
}

// syncLore copies the entry cards' values into loreState, keeping every
// field the form does not show (ids, extensions, decorators' extras).
function syncLore() {
  el.lore.querySelectorAll(".lore-entry").forEach(function (card) {
    const i = Number(card.dataset.index);
    const e = loreState[i];
    const q = function (c) { return card.querySelector("." + c); };
    const flag = function (key, c) {
      const v = q(c).checked;
      if (v || e[key] != null) e[key] = v;
    };
    const name = q("lore-name").value.trim();
    if (name || e.name != null) e.name = name;
    e.keys = splitKeys(q("lore-keys").value);
    const sk = splitKeys(q("lore-secondary").value);
    if (sk.length || e.secondary_keys) e.secondary_keys = sk;
    e.content = q("lore-content").value;
    e.enabled = q("lore-enabled").checked;
    flag("constant", "lore-constant");
    flag("selective", "lore-selective");
    flag("case_sensitive", "lore-case");
    flag("use_regex", "lore-regex");
    e.insertion_order = Number(q("lore-order").value) || 0;
    const pr = q("lore-priority").value.trim();
    if (pr === "") delete e.priority; else e.priority = Number(pr);
    e.position = q("lore-position").value;
    if (!e.extensions) e.extensions = {};
  });
}

el.loreAdd.addEventListener("click", function () {
  syncLore();
  loreState.push({ keys: [], content: "", extensions: {}, enabled: true, insertion_order: 100, position: "before_char" });
  renderLore();
  setDirty(true);
  el.lore.lastChild.querySelector(".lore-keys").focus();
});

// markFired highlights the entries a test chat activated.
export function markFired(indices) {
  el.lore.querySelectorAll(".lore-entry").forEach(function (card) {
    card.classList.toggle("fired", indices.indexOf(Number(card.dataset.index)) >= 0);
  });
}

// collect returns the draft with the form's values, ready to send.
function collect() {
  const c = Object.assign({}, draft);
  TEXT_FIELDS.forEach(function (f) {
    c[f] = el.form.querySelector('[data-path="' + f + '"]').value;
  });
  c.name = c.name.trim();
  c.tags = splitKeys($("f-tags").value);
  c.alternate_greetings = greetingValues().filter(function (g) { return g.trim() !== ""; });
  // The voice lives in extensions.maopao.voice; the card's other
  // extensions (other apps') stay as they were.
  const voiceName = $("f-voice-name").value.trim(), voiceLang = $("f-voice-lang").value.trim();
  const ext = Object.assign({}, draft.extensions || {});
  const mine = Object.assign({}, ext.maopao || {});
  if (voiceName || voiceLang) mine.voice = Object.assign({}, voiceName ? { name: voiceName } : {}, voiceLang ? { lang: voiceLang } : {});
  else delete mine.voice;
  if (Object.keys(mine).length) ext.maopao = mine; else delete ext.maopao;
  c.extensions = ext;
  syncLore();
  const book = Object.assign({}, draft.character_book || {});
  const num = function (v) { return v.trim() === "" ? null : Number(v); };
  const sd = num(el.scanDepth.value), tb = num(el.tokenBudget.value);
  const rec = el.recursive.value === "" ? null : el.recursive.value === "true";
  if (sd == null) delete book.scan_depth; else book.scan_depth = sd;
  if (tb == null) delete book.token_budget; else book.token_budget = tb;
  if (rec == null) delete book.recursive_scanning; else book.recursive_scanning = rec;
  book.entries = loreState.map(function (e) { return Object.assign({}, e); });
  if (!book.extensions) book.extensions = {};
  if (draft.character_book || book.entries.length || sd != null || tb != null || rec != null) c.character_book = book;
  else delete c.character_book;
  delete c.avatar;
  return c;
}

// ---- saving ----

async function save(overwrite) {
  if (!draft) return;
  hideNotices();
  clearErrors(el.form);
  const body = collect();
  const r = draft.id
    ? await api("PUT", "api/v1/characters/" + encodeURIComponent(draft.id), body)
    : await api("POST", "api/v1/characters", body);
  if (r.ok) {
    // The test chat goes on with the saved draft: it is the same character.
    draft = r.data;
    fillForm();
    store(LS_EDIT, draft.id);
    showMessage((overwrite ? "Saved over the other edit as revision " : "Saved revision ") + draft.revision + ".");
    loadMine();
    return;
  }
  if (r.status === 409) {
    el.conflict.hidden = false;
    el.conflictText.textContent = "Not saved: this character was changed elsewhere (another tab or device) after you " +
      "opened it. Reload to see that version (your edits here are discarded), or save yours over it.";
    return;
  }
  const errs = (r.problem && r.problem.errors) || [];
  showFieldErrors(el.form, errs);
  showError(problemText(r.problem));
}
el.form.addEventListener("submit", function (ev) { ev.preventDefault(); save(false); });
el.conflictReload.addEventListener("click", function () { if (draft) openCharacter(draft.id, true); });
el.conflictOverwrite.addEventListener("click", async function () {
  const r = await api("GET", "api/v1/characters/" + encodeURIComponent(draft.id));
  if (!r.ok) {
    showError(problemText(r.problem));
    return;
  }
  draft.revision = r.data.revision;
  save(true);
});

// ---- avatar ----

async function showAvatar() {
  paintAvatar(el.avatarPreview, draft.name || "?");
  el.avatarPreview.hidden = false;
  el.avatarImg.hidden = true;
  if (!draft.avatar_url) return;
  const want = draft;
  // Private characters' pictures need the token, which an <img> cannot
  // send; the CSP allows data: images.
  let r;
  try {
    r = await fetch(draft.avatar_url, { headers: { Authorization: "Bearer " + account.token } });
  } catch (e) { return; }
  if (!r.ok || want !== draft) return;
  const blob = await r.blob();
  const reader = new FileReader();
  reader.onload = function () {
    if (want !== draft) return;
    el.avatarImg.src = reader.result;
    el.avatarImg.hidden = false;
    el.avatarPreview.hidden = true;
  };
  reader.readAsDataURL(blob);
}

el.avatarFile.addEventListener("change", async function () {
  const f = el.avatarFile.files[0];
  el.avatarFile.value = "";
  if (!f || !draft || !draft.id) return;
  hideNotices();
  const r = await api("PUT", "api/v1/characters/" + encodeURIComponent(draft.id) + "/avatar", f, { "Content-Type": f.type || "application/octet-stream" });
  if (!r.ok) {
    showError("Avatar not saved: " + problemText(r.problem));
    return;
  }
  // The picture makes a new revision; the form's unsaved edits stay.
  draft.revision = r.data.revision;
  draft.updated_at = r.data.updated_at;
  draft.avatar_url = r.data.avatar_url;
  setDirty(dirty);
  showAvatar();
  showMessage("Avatar saved (revision " + draft.revision + ").");
});

// ---- import / export ----

el.importFile.addEventListener("change", async function () {
  const f = el.importFile.files[0];
  el.importFile.value = "";
  if (!f) return;
  el.importStatus.textContent = "Importing " + f.name + "…";
  const fd = new FormData();
  fd.append("file", f, f.name);
  const r = await api("POST", "api/v1/characters/import", fd);
  if (!r.ok) {
    const errs = (r.problem && r.problem.errors) || [];
    el.importStatus.textContent = "Not imported: " + problemText(r.problem) +
      errs.map(function (e) { return " " + e.path + ": " + e.message; }).join(";");
    return;
  }
  const w = r.data.warnings || [];
  el.importStatus.textContent = "Imported " + r.data.character.name + " (" + r.data.format + ")" +
    (w.length ? ". Notes: " + w.join("; ") : ".");
  discardFor = null;
  edit(r.data.character);
  loadMine();
});

function exportCard(format) {
  return async function () {
    if (!draft || !draft.id) return;
    hideNotices();
    let r;
    try {
      r = await fetch("api/v1/characters/" + encodeURIComponent(draft.id) + "/export?format=" + format,
        { headers: { Authorization: "Bearer " + account.token } });
    } catch (e) {
      showError("Export failed: " + e.message);
      return;
    }
    if (!r.ok) {
      let p = null;
      try { p = await r.json(); } catch (e) { /* not JSON */ }
      showError("Export failed: " + problemText(p));
      return;
    }
    let name = "character." + format;
    const m = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(r.headers.get("Content-Disposition") || "");
    if (m) {
      try { name = decodeURIComponent(m[1]); } catch (e) { name = m[1]; }
    }
    const url = URL.createObjectURL(await r.blob());
    const a = make("a");
    a.href = url;
    a.download = name;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 60000);
    showMessage("Exported " + name + (dirty ? " (the saved version; your unsaved edits are not in it)" : "") + ".");
  };
}
["png", "json", "charx"].forEach(function (f) { $("export-" + f).addEventListener("click", exportCard(f)); });

// ---- history ----

el.historyLoad.addEventListener("click", async function () {
  if (!draft || !draft.id) return;
  const r = await api("GET", "api/v1/characters/" + encodeURIComponent(draft.id) + "/history");
  if (!r.ok) {
    showError(problemText(r.problem));
    return;
  }
  const revs = (r.data && r.data.revisions) || [];
  el.historyList.hidden = false;
  el.historyList.replaceChildren.apply(el.historyList, revs.map(function (v) {
    const li = make("li", "history-item");
    li.dataset.revision = String(v.revision);
    const when = v.updated_at ? new Date(v.updated_at).toLocaleString() : "";
    li.append(make("span", "history-label", "Revision " + v.revision + " · " + when + " · " + v.name));
    if (v.revision === draft.revision) {
      li.append(make("span", "small", " (current)"));
    } else {
      li.append(button("small-button history-restore", "Load into editor", function () { restore(v); }));
    }
    return li;
  }));
});

// restore puts an old revision's card into the form; saving it makes a
// new revision, so nothing in the history is lost.
function restore(v) {
  const keep = { id: draft.id, revision: draft.revision, avatar_url: draft.avatar_url, updated_at: draft.updated_at };
  draft = Object.assign({}, v, keep);
  fillForm();
  setDirty(true);
  showMessage("Revision " + v.revision + " is in the editor; save to make it current.");
}

// ---- delete ----

el.del.addEventListener("click", function () {
  el.delConfirm.hidden = false;
  el.delText.textContent = "Delete " + (draft.name || "this character") + " and its history? Players lose their chats with it.";
});
el.delNo.addEventListener("click", function () { el.delConfirm.hidden = true; });
el.delYes.addEventListener("click", async function () {
  const r = await api("DELETE", "api/v1/characters/" + encodeURIComponent(draft.id));
  if (!r.ok && r.status !== 404) {
    showError(problemText(r.problem));
    return;
  }
  const name = draft.name;
  store(LS_EDIT, null);
  closeEditor();
  loadMine();
  el.importStatus.textContent = "Deleted " + name + ".";
});

// ---- notices and field errors ----

function hideNotices() {
  el.message.hidden = true;
  el.error.hidden = true;
  el.conflict.hidden = true;
}
function showMessage(text) {
  el.message.hidden = false;
  el.message.textContent = text;
}
function showError(text) {
  el.error.hidden = false;
  el.error.textContent = text;
}

function clearErrors(root) {
  root.querySelectorAll(".field-error").forEach(function (n) { n.replaceChildren(); });
  root.querySelectorAll(".invalid").forEach(function (n) { n.classList.remove("invalid"); });
}

// showFieldErrors puts each {path, message} next to its field: the
// nearest element whose data-for is the path or one of its parents
// ("character_book.entries[0].content" falls back to the entry's
// box). It returns how many found a place.
function showFieldErrors(root, errors) {
  let placed = 0;
  errors.forEach(function (e) {
    const path = String(e.path || "");
    const input = root.querySelector('[data-path="' + CSS.escape(path) + '"]');
    if (input) input.classList.add("invalid");
    for (let p = path; p; p = parentPath(p)) {
      const box = root.querySelector('.field-error[data-for="' + CSS.escape(p) + '"]');
      if (box) {
        box.append(make("div", null, (p === path ? "" : path.slice(p.length).replace(/^\./, "") + ": ") + e.message));
        placed++;
        return;
      }
    }
  });
  const first = root.querySelector(".invalid, .field-error:not(:empty)");
  if (first && first.scrollIntoView) first.scrollIntoView({ block: "center" });
  return placed;
}
function parentPath(p) {
  const i = Math.max(p.lastIndexOf("."), p.lastIndexOf("["));
  return i > 0 ? p.slice(0, i) : "";
}

// ---- for studio_chat.js and world_studio.js ----

export { api, problemText, showFieldErrors, clearErrors };

// onAccount calls f(account) whenever the studio shows an account (null
// once signed out).
const accountListeners = [];
export function onAccount(f) { accountListeners.push(f); }

// yieldEditor hands the editor area to another editor (the world
// studio). It refuses while the character has unsaved edits, saying so;
// a second call for the same target drops them.
export function yieldEditor(target) {
  if (!leaving(target)) return false;
  discardFor = null;
  draft = null;
  store(LS_EDIT, null);
  el.form.hidden = true;
  el.editorEmpty.hidden = true;
  hideNotices();
  markSelected();
  listeners.forEach(function (f) { f(); });
  return true;
}

// currentAccount is the signed-in creator, or null.
export function currentAccount() { return account; }

// currentDraft is the character in the editor as the form has it, saved
// or not, or null.
export function currentDraft() { return draft ? collect() : null; }

// onDraftOpened calls f whenever another draft is opened (or the editor
// closes).
export function onDraftOpened(f) { listeners.push(f); }

// showDraftErrors marks the draft's fields that errors name.
export function showDraftErrors(errors) {
  hideNotices();
  clearErrors(el.form);
  return showFieldErrors(el.form, errors);
}

// A reload returns to the studio; the back button then shows the list
// (this entry has no studio state to go back from).
if (load(LS_VIEW) === "studio") showStudio(false);
