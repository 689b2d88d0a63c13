// Maopao world studio: creators build worlds in the studio. Places sit on
// a map where they are dragged into position and joined by paths;
// residents come from the creator's characters, each with a start place
// and a daily routine; the world has a description, a clock speed, a
// visibility and a lorebook of its own. Saving stores a new revision over
// the creator REST API, and a running world applies it at once. Every
// text goes into the page through textContent or form values.

import { $, button, make } from "./dom.js";
import { api, clearErrors, currentDraft, onAccount, onDraftOpened, problemText, showFieldErrors, yieldEditor } from "./studio.js";
import { mapPositions } from "./world_map.js";
import { openWorld } from "./world.js";

const svgNS = "http://www.w3.org/2000/svg";

let account = null;
let wd = null;          // the world being edited, as the API returned it (unknown fields kept)
let dirty = false;
let mine = [];          // the creator's characters: who may live in a world
let deleteArmed = false;

// ---- markup, built once ----

const el = {};
build();

function build() {
  const side = make("div");
  side.id = "world-studio-list";
  el.newWorld = button("primary", "New world", function () { newWorld(); });
  el.newWorld.id = "studio-new-world";
  el.myWorlds = make("div");
  el.myWorlds.id = "my-worlds";
  el.worldsEmpty = make("p", "hint-left small", "No worlds yet.");
  el.worldsEmpty.hidden = true;
  side.append(make("h3", null, "My worlds"), el.newWorld, el.myWorlds, el.worldsEmpty);
  const sidebar = $("studio-sidebar");
  sidebar.insertBefore(side, $("account-delete"));

  const ed = make("form");
  ed.id = "world-editor";
  ed.hidden = true;
  ed.autocomplete = "off";
  ed.addEventListener("submit", function (ev) { ev.preventDefault(); save(false); });
  const bar = make("div");
  bar.id = "w-toolbar";
  const titles = make("div", "grow");
  el.title = make("div");
  el.title.id = "w-title";
  el.meta = make("div", "small");
  el.meta.id = "w-meta";
  titles.append(el.title, el.meta);
  el.save = make("button", "primary", "Save");
  el.save.type = "submit";
  el.save.id = "w-save";
  el.publish = button("", "Publish", function () { save(true); });
  el.publish.id = "w-publish";
  el.open = button("", "Open in Worlds", function () { if (wd && wd.id) openWorld(wd.id); });
  el.open.id = "w-open";
  bar.append(titles, el.save, el.publish, el.open);
  el.message = make("div", "notice");
  el.message.id = "w-message";
  el.message.setAttribute("role", "status");
  el.error = make("div", "notice error");
  el.error.id = "w-error";
  el.error.setAttribute("role", "alert");
  el.message.hidden = el.error.hidden = true;

  el.name = make("input");
  el.name.id = "w-name";
  el.name.maxLength = 128;
  el.name.dataset.path = "name";
  el.description = make("textarea");
  el.description.id = "w-description";
  el.description.rows = 3;
  el.description.dataset.path = "description";
  el.speed = make("input");
  el.speed.id = "w-speed";
  el.speed.type = "number";
  el.speed.step = "any";
  el.speed.min = "0.1";
  el.speed.max = "600";
  el.speed.dataset.path = "sim_minutes_per_second";
  el.visibility = make("select");
  el.visibility.id = "w-visibility";
  el.visibility.dataset.path = "visibility";
  [["private", "Private: only you"], ["unlisted", "Unlisted: whoever has the id"], ["public", "Public: everyone"]].forEach(function (o) {
    const opt = make("option", null, o[1]);
    opt.value = o[0];
    el.visibility.append(opt);
  });
  [[el.name, "name"], [el.description, "description"]].forEach(function (f) {
    f[0].addEventListener("input", function () { wd[f[1]] = f[0].value; touched(); });
  });
  el.speed.addEventListener("input", function () { wd.sim_minutes_per_second = Number(el.speed.value) || 0; touched(); });
  el.visibility.addEventListener("change", function () { wd.visibility = el.visibility.value; touched(); });

  el.map = make("div");
  el.map.id = "w-map";
  el.map.setAttribute("aria-label", "Map of the world's places");
  el.places = make("div");
  el.places.id = "w-places";
  el.addPlace = button("", "Add place", addPlace);
  el.addPlace.id = "w-add-place";

  el.pick = make("select");
  el.pick.id = "w-resident-pick";
  el.addResident = button("", "Add resident", addResident);
  el.addResident.id = "w-add-resident";
  el.residents = make("div");
  el.residents.id = "w-residents";

  el.lore = make("div");
  el.lore.id = "w-lore";
  el.addLore = button("", "Add lore entry", function () {
    lore().entries.push({ keys: [], content: "", enabled: true, insertion_order: lore().entries.length });
    touched();
    renderLore();
  });
  el.addLore.id = "w-add-lore";

  el.events = make("div");
  el.events.id = "w-events";
  el.addEvent = button("", "Add event", addEvent);
  el.addEvent.id = "w-add-event";

  el.del = button("danger", "Delete world…", deleteWorld);
  el.del.id = "w-delete";

  ed.append(bar, el.message, el.error,
    field("Name", el.name, "name"), field("Description", el.description, "description"),
    field("Clock: sim minutes per real second", el.speed, "sim_minutes_per_second"), field("Who can enter", el.visibility, "visibility"),
    make("h3", null, "Places"),
    make("p", "hint-left small", "Drag a place on the map to move it. Tick the places one can walk to from each place; paths go both ways."),
    el.map, el.places, el.addPlace, errorBox("locations"),
    make("h3", null, "Residents"),
    make("p", "hint-left small", "Your characters live here: each starts at a place and follows a daily routine."),
    row(el.pick, el.addResident), el.residents, errorBox("residents"),
    make("h3", null, "World lore"),
    make("p", "hint-left small", "Entries fire in every resident's prompt when their keys are said, as a card's lorebook does in a chat."),
    el.lore, el.addLore, errorBox("lorebook"),
    make("h3", null, "Events"),
    make("p", "hint-left small", "Things that happen: every day at a time, when someone arrives at a place, or when a word is said. Residents there notice and react; players see them."),
    el.events, el.addEvent, errorBox("events"),
    make("hr"), el.del);
  $("studio-editor").append(ed);
  el.form = ed;
}

function field(label, input, path) {
  const l = make("label", null, label + " ");
  l.append(input);
  const box = make("div");
  box.append(l, errorBox(path));
  return box;
}

function errorBox(path) {
  const e = make("div", "field-error");
  e.dataset.for = path;
  return e;
}

function row() {
  const r = make("div", "row");
  r.append.apply(r, arguments);
  return r;
}

// ---- the list of my worlds ----

onAccount(function (a) {
  account = a;
  if (a) loadMine();
  else closeWorld();
});

onDraftOpened(function () {
  // A character opened in the editor takes the area back.
  if (currentDraft()) closeWorld();
});

async function loadMine() {
  await loadCharacters();
  const r = await api("GET", "api/v1/worlds");
  if (!r.ok) return;
  const list = ((r.data && r.data.worlds) || []).filter(function (w) { return account && w.owner_id === account.player_id; });
  el.worldsEmpty.hidden = list.length > 0;
  el.myWorlds.replaceChildren.apply(el.myWorlds, list.map(function (w) {
    const b = button("my-world", w.name + " · " + w.visibility, function () { openEditor(w.id); });
    b.dataset.id = w.id;
    b.classList.toggle("selected", !!(wd && wd.id === w.id));
    return b;
  }));
}

// loadCharacters reads the creator's characters, who may live in worlds.
async function loadCharacters() {
  if (!account) return;
  const c = await api("GET", "api/v1/characters?limit=200&owner=" + encodeURIComponent(account.player_id));
  if (c.ok) {
    mine = (c.data && c.data.characters) || [];
    renderPick();
  }
}

function renderPick() {
  const living = new Set(wd ? wd.residents.map(function (r) { return r.character_id; }) : []);
  const opts = mine.filter(function (c) { return !living.has(c.id); }).map(function (c) {
    const o = make("option", null, c.name);
    o.value = c.id;
    return o;
  });
  if (!opts.length) {
    const o = make("option", null, mine.length ? "all your characters live here" : "create a character first");
    o.value = "";
    opts.push(o);
  }
  el.pick.replaceChildren.apply(el.pick, opts);
}

// ---- opening, saving ----

function newWorld() {
  if (!yieldEditor("new-world")) return;
  loadCharacters();
  edit({ name: "", description: "", locations: [], residents: [], sim_minutes_per_second: 1, visibility: "private", revision: 0 });
  addPlace();
  dirty = false;
  renderHead();
  el.name.focus();
}

async function openEditor(id) {
  if (!yieldEditor("world:" + id)) return;
  await loadCharacters();
  const r = await api("GET", "api/v1/worlds/" + encodeURIComponent(id));
  if (!r.ok) {
    showError(problemText(r.problem));
    return;
  }
  edit(r.data);
}

function edit(w) {
  wd = w;
  wd.locations = wd.locations || [];
  wd.residents = wd.residents || [];
  wd.events = wd.events || [];
  deleteArmed = false;
  el.del.textContent = "Delete world…";
  el.form.hidden = false;
  el.message.hidden = el.error.hidden = true;
  clearErrors(el.form);
  el.name.value = wd.name || "";
  el.description.value = wd.description || "";
  el.speed.value = String(wd.sim_minutes_per_second || 1);
  el.visibility.value = wd.visibility || "private";
  dirty = false;
  renderAll();
}

function closeWorld() {
  wd = null;
  el.form.hidden = true;
  el.myWorlds.querySelectorAll(".my-world").forEach(function (b) { b.classList.remove("selected"); });
}

function touched() {
  dirty = true;
  renderHead();
}

function renderHead() {
  el.title.textContent = (wd.name || "").trim() || "New world";
  el.title.textContent += dirty ? " •" : "";
  el.meta.textContent = wd.id ? "revision " + wd.revision + " · " + wd.visibility : "not saved yet";
  el.open.disabled = !wd.id;
  el.myWorlds.querySelectorAll(".my-world").forEach(function (b) { b.classList.toggle("selected", b.dataset.id === wd.id); });
}

function renderAll() {
  renderHead();
  renderMap();
  renderPlaces();
  renderResidents();
  renderLore();
  renderEvents();
  renderPick();
}

async function save(publish) {
  if (!wd) return;
  if (publish) {
    wd.visibility = "public";
    el.visibility.value = "public";
  }
  el.message.hidden = el.error.hidden = true;
  clearErrors(el.form);
  const book = wd.lorebook && wd.lorebook.entries && wd.lorebook.entries.length ? wd.lorebook : null;
  const body = {
    name: wd.name, description: wd.description, locations: wd.locations, residents: wd.residents,
    sim_minutes_per_second: wd.sim_minutes_per_second, visibility: wd.visibility, lorebook: book, events: wd.events, revision: wd.revision
  };
  const r = wd.id ? await api("PUT", "api/v1/worlds/" + encodeURIComponent(wd.id), body) : await api("POST", "api/v1/worlds", body);
  if (!r.ok) {
    const errs = (r.problem && r.problem.errors) || [];
    showError(problemText(r.problem));
    if (errs.length) showFieldErrors(el.form, errs);
    return;
  }
  edit(r.data);
  await loadMine(); // the list shows the world (selected) before the message says it is saved
  showMessage(publish ? "Published: everyone can enter “" + wd.name + "”." : "Saved revision " + wd.revision + ". A running world takes it at once.");
}

async function deleteWorld() {
  if (!wd) return;
  if (!wd.id) { closeWorld(); return; }
  if (!deleteArmed) {
    deleteArmed = true;
    el.del.textContent = "Click again to delete “" + (wd.name || "this world") + "” for good";
    return;
  }
  const r = await api("DELETE", "api/v1/worlds/" + encodeURIComponent(wd.id));
  if (!r.ok) {
    showError(problemText(r.problem));
    return;
  }
  closeWorld();
  loadMine();
}

function showMessage(text) { el.message.hidden = false; el.message.textContent = text; }
function showError(text) { el.error.hidden = false; el.error.textContent = text; }

// ---- places and the map ----

function addPlace() {
  let n = wd.locations.length + 1;
  while (wd.locations.some(function (l) { return l.id === "place-" + n; })) n++;
  const k = wd.locations.length;
  // New places go round the middle, so they do not land on each other.
  const angle = k * 2.4;
  wd.locations.push({ id: "place-" + n, name: "Place " + n, description: "", connections: [],
    map: { x: Math.round(50 + 30 * Math.cos(angle) * Math.min(1, k / 3)), y: Math.round(50 + 30 * Math.sin(angle) * Math.min(1, k / 3)) } });
  touched();
  renderMap();
  renderPlaces();
  renderResidents();
}

function removePlace(i) {
  const id = wd.locations[i].id;
  wd.locations.splice(i, 1);
  wd.locations.forEach(function (l) { l.connections = (l.connections || []).filter(function (c) { return c !== id; }); });
  touched();
  renderAll();
}

function setPath(a, b, on) {
  [[a, b], [b, a]].forEach(function (p) {
    const l = p[0];
    const list = (l.connections || []).filter(function (c) { return c !== p[1].id; });
    if (on) list.push(p[1].id);
    l.connections = list;
  });
  touched();
  renderMap();
}

function renderMap() {
  wd.locations.forEach(function (l, k) { if (!l.map) l.map = { x: 15 + (k % 5) * 17, y: 15 + Math.floor(k / 5) * 20 }; });
  const pos = mapPositions(wd.locations, []);
  const svg = document.createElementNS(svgNS, "svg");
  svg.setAttribute("viewBox", "0 0 100 100");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("aria-hidden", "true");
  svg.classList.add("map-lines");
  const drawn = new Set();
  wd.locations.forEach(function (l) {
    (l.connections || []).forEach(function (to) {
      const key = [l.id, to].sort().join(" ");
      if (!pos.has(to) || drawn.has(key)) return;
      drawn.add(key);
      const a = pos.get(l.id), b = pos.get(to);
      const line = document.createElementNS(svgNS, "line");
      line.setAttribute("x1", a.x); line.setAttribute("y1", a.y);
      line.setAttribute("x2", b.x); line.setAttribute("y2", b.y);
      svg.append(line);
    });
  });
  const nodes = [svg];
  wd.locations.forEach(function (l) {
    const n = make("div", "w-node", l.name || l.id);
    n.dataset.id = l.id;
    n.tabIndex = 0;
    n.title = "Drag to move " + (l.name || l.id);
    const p = pos.get(l.id);
    n.style.left = p.x + "%";
    n.style.top = p.y + "%";
    drag(n, l);
    nodes.push(n);
  });
  el.map.replaceChildren.apply(el.map, nodes);
}

// drag moves a place's node with the pointer (or the arrow keys) and keeps
// its position in percent of the map.
function drag(node, loc) {
  let active = false;
  node.addEventListener("pointerdown", function (ev) {
    active = true;
    node.setPointerCapture(ev.pointerId);
    node.classList.add("dragging");
    ev.preventDefault();
  });
  node.addEventListener("pointermove", function (ev) {
    if (!active) return;
    const r = el.map.getBoundingClientRect();
    loc.map = {
      x: Math.round(Math.min(100, Math.max(0, (ev.clientX - r.left) / r.width * 100)) * 10) / 10,
      y: Math.round(Math.min(100, Math.max(0, (ev.clientY - r.top) / r.height * 100)) * 10) / 10
    };
    node.style.left = Math.min(92, Math.max(8, loc.map.x)) + "%";
    node.style.top = Math.min(92, Math.max(8, loc.map.y)) + "%";
  });
  const end = function () {
    if (!active) return;
    active = false;
    node.classList.remove("dragging");
    touched();
    renderMap();
  };
  // A press must not start a text selection: dragging it past the edge
  // would scroll the editor under the pointer.
  node.addEventListener("mousedown", function (ev) { ev.preventDefault(); });
  node.addEventListener("pointerup", end);
  node.addEventListener("pointercancel", end);
  node.addEventListener("keydown", function (ev) {
    const step = { ArrowLeft: [-2, 0], ArrowRight: [2, 0], ArrowUp: [0, -2], ArrowDown: [0, 2] }[ev.key];
    if (!step) return;
    ev.preventDefault();
    loc.map = { x: Math.min(100, Math.max(0, loc.map.x + step[0])), y: Math.min(100, Math.max(0, loc.map.y + step[1])) };
    touched();
    renderMap();
    const again = el.map.querySelector('.w-node[data-id="' + CSS.escape(loc.id) + '"]');
    if (again) again.focus();
  });
}

// renamed shows a place's new name wherever it is named, in place: a
// re-render would swallow a click the creator makes right after typing.
function renamed(l) {
  const id = CSS.escape(l.id);
  const shown = l.name || l.id;
  const node = el.map.querySelector('.w-node[data-id="' + id + '"]');
  if (node) node.textContent = shown;
  el.places.querySelectorAll('.w-path[data-to="' + id + '"]').forEach(function (cb) { cb.nextSibling.textContent = " " + shown; });
  el.residents.querySelectorAll('option[value="' + id + '"]').forEach(function (o) { o.textContent = shown; });
}

function renderPlaces() {
  el.places.replaceChildren.apply(el.places, wd.locations.map(function (l, i) {
    const box = make("div", "w-place-row");
    box.dataset.id = l.id;
    const name = make("input", "w-place-name");
    name.value = l.name || "";
    name.maxLength = 128;
    name.dataset.path = "locations[" + i + "].name";
    name.setAttribute("aria-label", "Name of " + l.id);
    name.addEventListener("input", function () {
      l.name = name.value;
      touched();
      renamed(l);
    });
    const desc = make("textarea", "w-place-desc");
    desc.rows = 2;
    desc.value = l.description || "";
    desc.placeholder = "What one sees here";
    desc.dataset.path = "locations[" + i + "].description";
    desc.addEventListener("input", function () { l.description = desc.value; touched(); });
    const paths = make("div", "w-paths small");
    paths.append(make("span", null, "Paths to: "));
    wd.locations.forEach(function (o) {
      if (o.id === l.id) return;
      const lab = make("label", "w-path-label");
      const cb = make("input", "w-path");
      cb.type = "checkbox";
      cb.dataset.to = o.id;
      cb.checked = (l.connections || []).indexOf(o.id) >= 0;
      cb.addEventListener("change", function () { setPath(l, o, cb.checked); renderPlaces(); });
      lab.append(cb, document.createTextNode(" " + (o.name || o.id)));
      paths.append(lab);
    });
    const remove = button("link w-place-remove", "remove", function () { removePlace(i); });
    box.append(row(name, make("span", "small", l.id), remove), desc, paths, errorBox("locations[" + i + "]"));
    return box;
  }));
}

// ---- residents ----

function characterName(id) {
  const c = mine.find(function (x) { return x.id === id; });
  return c ? c.name : id;
}

function addResident() {
  const id = el.pick.value;
  if (!id || !wd) return;
  const start = wd.locations.length ? wd.locations[0].id : "";
  wd.residents.push({ character_id: id, location_id: start, talkativeness: 0.5, routine: [] });
  touched();
  renderResidents();
  renderPick();
}

function placeSelect(value, path, onChange) {
  const s = make("select");
  s.dataset.path = path;
  wd.locations.forEach(function (l) {
    const o = make("option", null, l.name || l.id);
    o.value = l.id;
    s.append(o);
  });
  s.value = value;
  s.addEventListener("change", function () { onChange(s.value); touched(); });
  return s;
}

function hhmm(m) {
  const h = Math.floor(m / 60), mm = m % 60;
  return (h < 10 ? "0" : "") + h + ":" + (mm < 10 ? "0" : "") + mm;
}

function renderResidents() {
  el.residents.replaceChildren.apply(el.residents, wd.residents.map(function (r, i) {
    const p = "residents[" + i + "]";
    const box = make("div", "w-resident-row");
    box.dataset.id = r.character_id;
    const start = placeSelect(r.location_id, p + ".location_id", function (v) { r.location_id = v; });
    start.classList.add("w-start");
    const talk = make("input", "w-talk");
    talk.type = "range";
    talk.min = "0"; talk.max = "1"; talk.step = "0.1";
    talk.value = String(r.talkativeness || 0.5);
    talk.setAttribute("aria-label", "Talkativeness");
    talk.addEventListener("input", function () { r.talkativeness = Number(talk.value); touched(); });
    const remove = button("link w-resident-remove", "remove", function () {
      wd.residents.splice(i, 1);
      touched();
      renderResidents();
      renderPick();
    });
    const head = row(make("strong", null, characterName(r.character_id)), make("span", "small", "starts at"), start,
      make("span", "small", "talks"), talk, remove);
    const steps = make("div", "w-routine");
    (r.routine || []).forEach(function (st, k) {
      const q = p + ".routine[" + k + "]";
      const time = make("input", "w-step-time");
      time.type = "time";
      time.value = hhmm(st.at_minute || 0);
      time.dataset.path = q + ".at_minute";
      time.addEventListener("change", function () {
        const m = /^(\d\d):(\d\d)/.exec(time.value);
        if (m) st.at_minute = Number(m[1]) * 60 + Number(m[2]);
        touched();
      });
      const place = placeSelect(st.location_id, q + ".location_id", function (v) { st.location_id = v; });
      place.classList.add("w-step-place");
      const act = make("input", "w-step-activity");
      act.value = st.activity || "";
      act.placeholder = "what it does there";
      act.maxLength = 200;
      act.dataset.path = q + ".activity";
      act.addEventListener("input", function () { st.activity = act.value; touched(); });
      const rm = button("link", "remove", function () { r.routine.splice(k, 1); touched(); renderResidents(); });
      steps.append(row(make("span", "small", "at"), time, make("span", "small", "goes to"), place, act, rm));
    });
    const addStep = button("small-button w-add-step", "Add routine step", function () {
      r.routine = r.routine || [];
      r.routine.push({ at_minute: 8 * 60, location_id: r.location_id, activity: "" });
      touched();
      renderResidents();
    });
    box.append(head, steps, addStep, errorBox(p));
    return box;
  }));
}

// ---- world lore ----

function lore() {
  if (!wd.lorebook) wd.lorebook = { entries: [], extensions: {} };
  if (!wd.lorebook.entries) wd.lorebook.entries = [];
  return wd.lorebook;
}

function renderLore() {
  const entries = wd.lorebook && wd.lorebook.entries ? wd.lorebook.entries : [];
  el.lore.replaceChildren.apply(el.lore, entries.map(function (e, i) {
    const p = "lorebook.entries[" + i + "]";
    const box = make("div", "w-lore-entry");
    const keys = make("input", "w-lore-keys");
    keys.placeholder = "keys, comma separated";
    keys.value = (e.keys || []).join(", ");
    keys.dataset.path = p + ".keys";
    keys.addEventListener("input", function () {
      e.keys = keys.value.split(",").map(function (k) { return k.trim(); }).filter(Boolean);
      touched();
    });
    const content = make("textarea", "w-lore-content");
    content.rows = 2;
    content.value = e.content || "";
    content.placeholder = "what the residents know when a key is said";
    content.dataset.path = p + ".content";
    content.addEventListener("input", function () { e.content = content.value; touched(); });
    const rm = button("link", "remove", function () { lore().entries.splice(i, 1); touched(); renderLore(); });
    box.append(row(keys, rm), content, errorBox(p));
    return box;
  }));
}

// ---- events ----

function addEvent() {
  let n = wd.events.length + 1;
  while (wd.events.some(function (e) { return e.id === "event-" + n; })) n++;
  wd.events.push({ id: "event-" + n, text: "", trigger: { at_minute: 12 * 60 } });
  touched();
  renderEvents();
}

function option(value, text) {
  const o = make("option", null, text);
  o.value = value;
  return o;
}

function triggerKind(t) {
  if (t.arrival) return "arrival";
  if (t.keyword != null && t.at_minute == null) return "keyword";
  return "time";
}

function renderEvents() {
  el.events.replaceChildren.apply(el.events, wd.events.map(function (ev, i) {
    const p = "events[" + i + "]";
    const box = make("div", "w-event-row");
    box.dataset.id = ev.id;
    const text = make("textarea", "w-event-text");
    text.rows = 2;
    text.value = ev.text || "";
    text.placeholder = "What happens, as those there see it: “A storm rolls in from the sea.”";
    text.dataset.path = p + ".text";
    text.addEventListener("input", function () { ev.text = text.value; touched(); });
    const kind = make("select", "w-event-kind");
    kind.append(option("time", "every day at"), option("arrival", "when someone arrives at"), option("keyword", "when someone says"));
    kind.value = triggerKind(ev.trigger || {});
    kind.addEventListener("change", function () {
      ev.trigger = kind.value === "time" ? { at_minute: 12 * 60 } : kind.value === "arrival" ? { arrival: wd.locations.length ? wd.locations[0].id : "" } : { keyword: "" };
      touched();
      renderEvents();
    });
    const t = ev.trigger || (ev.trigger = { at_minute: 12 * 60 });
    let value;
    if (kind.value === "time") {
      value = make("input", "w-event-time");
      value.type = "time";
      value.value = hhmm(t.at_minute || 0);
      value.dataset.path = p + ".trigger.at_minute";
      value.addEventListener("change", function () {
        const m = /^(\d\d):(\d\d)/.exec(value.value);
        if (m) t.at_minute = Number(m[1]) * 60 + Number(m[2]);
        touched();
      });
    } else if (kind.value === "arrival") {
      value = placeSelect(t.arrival, p + ".trigger.arrival", function (v) { t.arrival = v; });
      value.classList.add("w-event-arrival");
    } else {
      value = make("input", "w-event-keyword");
      value.value = t.keyword || "";
      value.placeholder = "a word";
      value.maxLength = 100;
      value.dataset.path = p + ".trigger.keyword";
      value.addEventListener("input", function () { t.keyword = value.value; touched(); });
    }
    const who = make("select", "w-event-who");
    who.dataset.path = p + ".trigger.who";
    who.append(option("", "anyone"), option("player", "a player"));
    wd.residents.forEach(function (r) { who.append(option(r.character_id, characterName(r.character_id))); });
    who.value = t.who || "";
    who.hidden = kind.value === "time";
    who.addEventListener("change", function () { t.who = who.value || undefined; touched(); });
    const where = make("select", "w-event-place");
    where.dataset.path = p + ".location_id";
    where.append(option("", kind.value === "time" ? "everywhere" : "where it is set off"));
    wd.locations.forEach(function (l) { where.append(option(l.id, "at " + (l.name || l.id))); });
    where.value = ev.location_id || "";
    where.addEventListener("change", function () { ev.location_id = where.value || undefined; touched(); });
    const onceLabel = make("label", "w-path-label");
    const once = make("input", "w-event-once");
    once.type = "checkbox";
    once.checked = !!ev.once;
    once.addEventListener("change", function () { ev.once = once.checked; touched(); });
    onceLabel.append(once, document.createTextNode(" only once"));
    const rm = button("link", "remove", function () { wd.events.splice(i, 1); touched(); renderEvents(); });
    box.append(text, row(kind, value, who, where, onceLabel, rm), errorBox(p));
    return box;
  }));
}
