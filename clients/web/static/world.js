// Maopao web client: open worlds. A player picks a world, walks its map,
// talks in the room where it stands and privately with one character.
// The view keeps its own connection (connection.js, with the same guest
// token as app.js), opened while the view is shown and closed when it is
// left, so the character chat in app.js is untouched by world traffic.
// All text from the server or the player goes in through textContent.

import { $, button, enterSubmits, loadJSON, make, store } from "./dom.js";
import { Connection, forgetToken, guestToken, newMessageID, storedPlayer } from "./connection.js";
import { drawMap, worldClock } from "./world_map.js";
import { showList } from "./app.js";
import { currentAccount, leftStudio } from "./studio.js";
import { manager } from "./memories.js";
import { attacher, pictureStrip } from "./pictures.js";

const MAX_SAY_RUNES = 4000;
const LS_WORLD = "maopao.world";

const view = $("world-view");
const link = $("worlds-link");

// ---- the view's markup, built once ----

const el = {};
buildView();

function buildView() {
  const picker = make("div", "world-picker");
  picker.id = "world-picker";
  const head = make("div", "world-picker-head");
  head.append(make("h2", null, "Worlds"), make("p", "hint-left", "Step into a town where characters live their days. Everyone at the same place hears what is said there."));
  el.pickerError = make("div", "notice error");
  el.pickerError.id = "world-error";
  el.pickerError.setAttribute("role", "alert");
  el.pickerError.hidden = true;
  el.loading = make("p", "hint", "Loading worlds…");
  el.loading.id = "worlds-loading";
  el.worlds = make("div");
  el.worlds.id = "worlds";
  picker.append(head, el.pickerError, el.loading, el.worlds);

  const room = make("div");
  room.id = "world-room";
  room.hidden = true;
  const bar = make("div");
  bar.id = "world-bar";
  el.here = make("div");
  el.here.id = "world-here";
  el.clock = make("div", "clock");
  el.clock.id = "world-clock";
  el.clock.title = "Time in the world";
  el.conn = make("span", "status connecting", "connecting…");
  el.conn.id = "world-conn";
  el.leave = button("", "Leave", function () { leaveWorld(); });
  el.leave.id = "world-leave";
  bar.append(el.here, el.clock, el.conn, el.leave);

  const tabs = make("div");
  tabs.id = "world-tabs";
  tabs.setAttribute("role", "tablist");
  el.tabs = {};
  [["room", "Room"], ["map", "Map & people"], ["private", "Private"]].forEach(function (t) {
    const b = button("world-tab", t[1], function () { showPane(t[0]); });
    b.dataset.pane = t[0];
    b.setAttribute("role", "tab");
    el.tabs[t[0]] = b;
    tabs.append(b);
  });

  const grid = make("div");
  grid.id = "world-grid";

  const side = make("div", "world-pane");
  side.id = "world-side";
  side.dataset.pane = "map";
  el.map = make("div");
  el.map.id = "world-map";
  el.map.setAttribute("aria-label", "Map");
  el.place = make("div");
  el.place.id = "world-place";
  el.placeName = make("div", "place-name");
  el.placeDesc = make("div", "place-desc");
  el.place.append(el.placeName, el.placeDesc);
  el.present = make("ul");
  el.present.id = "world-present";
  el.present.setAttribute("aria-label", "Who is here");
  side.append(el.map, el.place, make("h3", null, "Here now"), el.present);

  const main = make("div", "world-pane");
  main.id = "world-main";
  main.dataset.pane = "room";
  el.feed = make("div", "feed");
  el.feed.id = "world-feed";
  el.feed.setAttribute("aria-live", "polite");
  el.form = make("form");
  el.form.id = "world-form";
  el.form.autocomplete = "off";
  el.to = make("div");
  el.to.id = "world-to";
  el.to.hidden = true;
  el.toName = make("span");
  el.toName.id = "world-to-name";
  el.toClear = button("", "×", function () { setAddressee(null); });
  el.toClear.id = "world-to-clear";
  el.toClear.setAttribute("aria-label", "Speak to everyone");
  el.to.append(make("span", null, "To "), el.toName, el.toClear);
  const row = make("div", "compose-row");
  el.input = composeBox("world-input", "Say something…");
  el.send = make("button", "primary", "Say");
  el.send.id = "world-send";
  el.send.type = "submit";
  row.append(el.input, el.send);
  el.form.append(el.to, row);
  main.append(el.feed, el.form);

  const priv = make("div", "world-pane");
  priv.id = "world-private";
  priv.dataset.pane = "private";
  el.privateTabs = make("div");
  el.privateTabs.id = "private-tabs";
  el.privateEmpty = make("p", "hint-left small", "Pick “private” next to a character to talk just between the two of you.");
  el.privateEmpty.id = "private-empty";
  el.privateLogs = make("div");
  el.privateLogs.id = "private-logs";
  el.privateForm = make("form");
  el.privateForm.id = "private-form";
  el.privateForm.autocomplete = "off";
  el.privateForm.hidden = true;
  el.privateInput = composeBox("private-input", "Private message…");
  el.privateSend = make("button", "primary", "Send");
  el.privateSend.id = "private-send";
  el.privateSend.type = "submit";
  const prow = make("div", "compose-row");
  prow.append(el.privateInput, el.privateSend);
  el.privateForm.append(prow);
  // What the open private chat's character remembers about the player in
  // this world: the memory manager (memories.js), with ?world=.
  el.memToggle = button("small-button", "Memories", function () {
    el.memPanel.hidden = !el.memPanel.hidden;
    el.memToggle.setAttribute("aria-expanded", String(!el.memPanel.hidden));
    worldMemories.refresh();
  });
  el.memToggle.id = "world-memories-toggle";
  el.memToggle.setAttribute("aria-expanded", "false");
  el.memToggle.hidden = true;
  el.memPanel = make("div", "panel");
  el.memPanel.id = "world-memories";
  el.memPanel.hidden = true;
  el.memTitle = make("div", "list-head");
  el.memError = make("div", "notice error");
  el.memError.setAttribute("role", "alert");
  el.memError.hidden = true;
  el.memList = make("ol");
  el.memList.id = "world-memories-list";
  el.memEmpty = make("p", "small", "Nothing yet: what you say and do here is remembered.");
  el.memEmpty.hidden = true;
  el.memPanel.append(el.memTitle, make("p", "small hint-left", "Pinned memories are in the character's prompts while you are with it; forgotten ones in none. Only you see these."),
    el.memError, el.memList, el.memEmpty);
  priv.append(make("h3", null, "Private"), el.privateTabs, el.privateEmpty, el.memToggle, el.memPanel, el.privateLogs, el.privateForm);

  grid.append(side, main, priv);
  room.append(bar, tabs, grid);
  el.room = room;
  el.picker = picker;
  view.replaceChildren(picker, room);
}

function composeBox(id, placeholder) {
  const t = make("textarea");
  t.id = id;
  t.rows = 1;
  t.maxLength = MAX_SAY_RUNES;
  t.placeholder = placeholder;
  t.setAttribute("aria-label", placeholder);
  t.setAttribute("enterkeyhint", "send");
  enterSubmits(t);
  const grow = function () {
    t.style.height = "auto";
    if (t.value) t.style.height = Math.min(t.scrollHeight + 2, window.innerHeight * 0.3) + "px";
  };
  t.addEventListener("input", grow);
  return t;
}

// ---- state ----

let shown = false;
let me = storedPlayer();
let world = null;              // the world summary once joined (or joining)
let here = "";                 // location id
const present = new Map();     // actor id → actor, at this location
const characters = new Map();  // character id → name, every one seen in this world
let addressee = null;          // {id, name} the room line goes to
const chats = new Map();       // character id → {name, log, tab}
let activeChat = "";
let movingTo = "";             // the place a move was asked for, until its world_joined
let clock = worldClock();

// ---- connection ----

function setConn(kind, text) {
  el.conn.className = "status " + kind;
  el.conn.textContent = text;
  el.send.disabled = kind !== "online";
  el.privateSend.disabled = kind !== "online";
}

// The view's connection, open while the view is shown. Its requests'
// metadata is {kind: "list"|"join"|"move"|"say", el?, box?}.
const conn = new Connection("x", {
  // A signed-in creator enters worlds as themselves (their private worlds
  // too); anyone else as the page's guest.
  token: function () {
    const a = currentAccount();
    return a ? Promise.resolve(a.token) : guestToken();
  },
  onStatus: setConn,
  onWelcome: onWelcome,
  onFrame: handle,
  onLost: (reqs) => holdPending(reqs),
  onBadAuth: forgetToken,
  onSessionError: (e) => pickerProblem(e.message)
});
const send = (frame, meta) => conn.send(frame, meta);

function handle(f, req) {
  // Any answer ends its request here, an ack too.
  if (f.type === "ack" && f.ref) conn.forget(f.ref);
  switch (f.type) {
    case "worlds": return onWorlds(f);
    case "world_joined": return onJoined(f, req);
    case "world_event": return f.event && onEvent(f.event);
    case "ack": return onAck(f, req);
    case "error": return onError(f, req);
    default: return;
  }
}

// onWelcome comes with every new socket: join the world again, or list them.
function onWelcome(f) {
  if (f.player_id) me = f.player_id;
  if (world) {
    send({ type: "join_world", world_id: world.id, location_id: here }, { kind: "join" });
  } else {
    listWorlds();
  }
}

// ---- views ----

function showWorlds(push) {
  showList();
  ["list-view", "chat-view", "studio-view"].forEach(function (id) { const n = $(id); if (n) n.hidden = true; });
  // Leaving the studio this way must not bring it back on reload.
  leftStudio();
  const studioLink = $("studio-link");
  if (studioLink) studioLink.hidden = false;
  view.hidden = false;
  $("back").hidden = false;
  link.hidden = true;
  $("title").textContent = world && world.name ? world.name : "Worlds";
  document.title = "Worlds · Maopao";
  shown = true;
  if (push) history.pushState({ world: true }, "");
  if (!conn.connected) conn.open(); else if (conn.ready && !world) listWorlds();
}

function hideWorlds() {
  if (!shown) return;
  shown = false;
  view.hidden = true;
  link.hidden = false;
  store(LS_WORLD, null);
  resetWorld();
  // Closing the socket is leaving: the gateway takes the player out of
  // every world it was in.
  conn.close();
}

link.addEventListener("click", function () { showWorlds(true); });
$("back").addEventListener("click", function () { setTimeout(hideWorlds, 0); });
const studioLink = $("studio-link");
if (studioLink) studioLink.addEventListener("click", hideWorlds);
window.addEventListener("popstate", function (ev) {
  if (ev.state && ev.state.world) showWorlds(false); else hideWorlds();
});

function showPane(name) {
  el.room.dataset.pane = name;
  el.tabs[name].classList.remove("unread");
  Object.keys(el.tabs).forEach(function (k) {
    el.tabs[k].classList.toggle("active", k === name);
    el.tabs[k].setAttribute("aria-selected", k === name ? "true" : "false");
  });
  if (name === "private" && activeChat && chats.get(activeChat)) chats.get(activeChat).tab.classList.remove("unread");
}

// ---- world list ----

function listWorlds() {
  el.picker.hidden = false;
  el.room.hidden = true;
  send({ type: "list_worlds" }, { kind: "list" });
}

function pickerProblem(text) {
  el.pickerError.hidden = false;
  el.pickerError.textContent = text;
}

function onWorlds(f) {
  const list = Array.isArray(f.worlds) ? f.worlds : [];
  if (wanted) {
    const w = list.find(function (x) { return x.id === wanted; });
    wanted = null;
    if (w) { join(w, ""); return; }
  }
  el.loading.hidden = list.length > 0;
  el.loading.textContent = list.length ? "" : "No worlds yet.";
  el.pickerError.hidden = true;
  el.worlds.replaceChildren.apply(el.worlds, list.map(function (w) {
    const card = make("div", "world-card");
    card.dataset.id = w.id;
    const locs = Array.isArray(w.locations) ? w.locations : [];
    const enter = button("world-join primary", "Enter", function () { join(w, ""); });
    card.append(make("div", "name", w.name), make("div", "description", w.description || ""),
      make("div", "small", locs.length + (locs.length === 1 ? " place · " : " places · ") + (w.residents || 0) + " residents"));
    const places = make("div", "world-places");
    places.append(make("span", "small", "Start at:"));
    locs.forEach(function (l) {
      const b = button("world-enter small-button", l.name, function () { join(w, l.id); });
      b.dataset.location = l.id;
      places.append(b);
    });
    card.append(places, enter);
    return card;
  }));
}

// openWorld shows the worlds and enters one (the studio's "Open in
// Worlds").
let wanted = null;
export function openWorld(id) {
  if (shown && world && world.id === id) return;
  if (shown) { resetWorld(); conn.close(); shown = false; }
  wanted = id;
  world = null;
  showWorlds(true);
}

function join(w, locationID) {
  if (!conn.ready) return;
  resetWorld();
  world = w;
  send({ type: "join_world", world_id: w.id, location_id: locationID }, { kind: "join" });
}

// ---- in a world ----

function resetWorld() {
  world = null;
  here = "";
  present.clear();
  characters.clear();
  chats.clear();
  activeChat = "";
  addressee = null;
  clock = worldClock();
  el.feed.replaceChildren();
  el.privateTabs.replaceChildren();
  el.privateLogs.replaceChildren();
  el.privateForm.hidden = true;
  el.privateEmpty.hidden = false;
  el.to.hidden = true;
  el.clock.textContent = "";
}

function leaveWorld() {
  if (world && conn.ready) send({ type: "leave_world", world_id: world.id });
  store(LS_WORLD, null);
  resetWorld();
  $("title").textContent = "Worlds";
  if (conn.ready) listWorlds(); else { el.picker.hidden = false; el.room.hidden = true; }
}

function locationOf(id) {
  const locs = world && Array.isArray(world.locations) ? world.locations : [];
  for (let i = 0; i < locs.length; i++) if (locs[i].id === id) return locs[i];
  return null;
}

function onJoined(f, req) {
  if (!f.world) return;
  if (f.location_id === movingTo) movingTo = "";
  const moved = world && world.id === f.world.id && here && here !== f.location_id;
  world = f.world;
  here = f.location_id;
  store(LS_WORLD, JSON.stringify({ world: world.id, location: here }));
  el.picker.hidden = true;
  el.room.hidden = false;
  if (!el.room.dataset.pane) showPane("room");
  $("title").textContent = world.name;
  const loc = locationOf(here);
  el.placeName.textContent = loc ? loc.name : here;
  el.here.textContent = loc ? loc.name : here;
  el.placeDesc.textContent = loc && loc.description ? loc.description : "";
  present.clear();
  (f.present || []).forEach(function (a) { present.set(a.id, a); noteActor(a); });
  if (me && !present.has(me)) present.set(me, { kind: "player", id: me, name: "you" });
  if (addressee && !present.has(addressee.id)) setAddressee(null);
  if (moved || (req && req.kind === "join")) {
    el.feed.append(make("div", "event place", "— " + (loc ? loc.name : here) + " —"));
  }
  (f.recent || []).forEach(function (ev) {
    if (!ev.message_id || !findLine(el.feed, ev.message_id)) onEvent(ev, true);
  });
  tick(f.sim_minute);
  renderMap();
  renderPresent();
  scrollDown(el.feed, true);
  resendHeld();
}

function noteActor(a) {
  if (a && a.kind === "character" && a.id) characters.set(a.id, a.name || a.id);
}

function renderMap() {
  const locs = world && Array.isArray(world.locations) ? world.locations : [];
  drawMap(el.map, locs, here, move);
}

function move(locationID) {
  if (!conn.ready || !world) return;
  movingTo = locationID;
  send({ type: "move", world_id: world.id, location_id: locationID }, { kind: "move" });
}

function renderPresent() {
  const all = Array.from(present.values()).sort(function (a, b) {
    return (a.kind === b.kind ? 0 : a.kind === "character" ? -1 : 1) || String(a.name).localeCompare(String(b.name));
  });
  el.present.replaceChildren.apply(el.present, all.map(function (a) {
    const li = make("li", "actor " + (a.kind === "character" ? "character" : "player"));
    li.dataset.id = a.id;
    li.dataset.kind = a.kind;
    if (a.id === me) {
      li.classList.add("me");
      li.append(make("span", "actor-name", "You"));
      return li;
    }
    if (a.kind !== "character") {
      li.append(make("span", "actor-name", name(a)));
      return li;
    }
    const talk = button("actor-name address", a.name, function () { setAddressee({ id: a.id, name: a.name }); });
    talk.title = "Speak to " + a.name;
    if (addressee && addressee.id === a.id) li.classList.add("addressed");
    const priv = button("private-open small-button", "private", function () { openChat(a.id, a.name, true); });
    priv.title = "Talk privately with " + a.name;
    li.append(talk, priv);
    return li;
  }));
}

function setAddressee(a) {
  addressee = a;
  el.to.hidden = !a;
  el.toName.textContent = a ? a.name : "";
  renderPresent();
  if (a) { showPane("room"); el.input.focus(); }
}

// ---- the sim clock ----

function tick(minute) { clock.observe(minute); showClock(); }
function showClock() {
  const m = clock.now();
  if (m < 0) return;
  el.clock.textContent = hhmm(m, true);
  el.clock.dataset.minute = String(m);
  el.clock.title = "Day " + (Math.floor(m / 1440) + 1) + " in " + (world ? world.name : "the world");
}
setInterval(showClock, 1000);

// hhmm shows a sim minute as a time of day; a line's minute 0 is
// "unknown" unless zero is meant (the clock at midnight of day 1).
function hhmm(minute, zeroOK) {
  if (typeof minute !== "number" || minute < 0 || (minute === 0 && !zeroOK)) return "";
  const hh = Math.floor(minute / 60) % 24, mm = minute % 60;
  return (hh < 10 ? "0" : "") + hh + ":" + (mm < 10 ? "0" : "") + mm;
}

// ---- events ----

// onEvent shows one event; old ones (a place's recent lines) do not
// move the clock.
function onEvent(ev, old) {
  if (!world || ev.world_id !== world.id) return;
  if (ev.kind !== "delta" && !old) tick(ev.sim_minute);
  noteActor(ev.actor);
  if (ev.kind === "moved" || ev.kind === "changed") {
    // The world put the player elsewhere (its place was removed), or a new
    // revision of it applies: the gateway sends world_joined with the new
    // place, map and people after this; the feed says what happened.
    if (!old) notice(el.feed, ev.kind, ev, ev.text || "The world has changed.");
    return;
  }
  const priv = !!ev.private_with;
  // Events of the place just left are dropped; those of the place being
  // walked to may come before its world_joined.
  if (!priv && ev.location_id && ev.location_id !== here && ev.location_id !== movingTo) return;
  let box = priv ? openChat(ev.private_with, ev.actor && ev.actor.kind === "character" ? ev.actor.name : "", false).log : el.feed;
  switch (ev.kind) {
    case "said": return said(box, ev);
    case "speaking": return streamInto(box, ev, "");
    case "delta": return streamInto(box, ev, ev.text || "");
    case "arrived":
      if (ev.actor && ev.actor.id) { present.set(ev.actor.id, ev.actor); renderPresent(); }
      // The player's own comings and goings show as the place divider.
      if (ev.actor && ev.actor.id === me) return;
      return notice(box, "arrived", ev, ev.text || (name(ev.actor) + " arrived."));
    case "left":
      if (ev.actor && ev.actor.id && ev.actor.id !== me) {
        present.delete(ev.actor.id);
        if (addressee && addressee.id === ev.actor.id) setAddressee(null); else renderPresent();
      }
      if (ev.actor && ev.actor.id === me) return;
      return notice(box, "left", ev, ev.text || (name(ev.actor) + " left."));
    case "happened": {
      // One of the creator's events: narration, not anyone's line.
      if (ev.message_id && box.querySelector('.event.happened[data-message-id="' + CSS.escape(ev.message_id) + '"]')) return;
      const n = make("div", "event happened", ev.text || "");
      if (ev.message_id) n.dataset.messageId = ev.message_id;
      box.append(n);
      return scrollDown(box, false);
    }
    case "error": {
      // An error about a private line may come without private_with.
      if (!priv && ev.reply_to && !findLine(el.feed, ev.reply_to)) {
        chats.forEach(function (c) { if (findLine(c.log, ev.reply_to)) box = c.log; });
      }
      // The character's unfinished line, if it had begun, ends here.
      box.querySelectorAll(".event.line.streaming").forEach(function (n) {
        if (n.dataset.replyTo === ev.reply_to && ev.actor && n.dataset.actorId === ev.actor.id) {
          n.classList.remove("streaming", "waiting");
          n.classList.add("failed");
        }
      });
      const who = ev.actor && ev.actor.name ? ev.actor.name + ": " : "";
      return notice(box, "error", ev, who + (ev.text || "could not answer") + (ev.code ? " [" + ev.code + "]" : ""));
    }
    default: return; // kinds from a newer server
  }
}

// name is how an actor shows; two other players of the same name (guests
// are all "Traveler") are told apart by the start of their ids.
function name(a) {
  if (!a) return "someone";
  if (a.id === me) return "You";
  const n = a.name || "someone";
  if (a.kind === "character" || !a.id) return n;
  let twin = false;
  present.forEach(function (p) { twin = twin || (p.id !== a.id && p.id !== me && p.name === a.name); });
  return twin ? n + " #" + a.id.slice(0, 4) : n;
}

function findLine(box, messageID) {
  const all = box.querySelectorAll(".event.line");
  for (let i = all.length - 1; i >= 0; i--) if (all[i].dataset.messageId === messageID) return all[i];
  return null;
}

function lineNode(ev) {
  const n = make("div", "event line");
  const a = ev.actor || {};
  n.classList.add(a.kind === "character" ? "character" : "player");
  if (a.id === me) n.classList.add("mine");
  if (ev.message_id) n.dataset.messageId = ev.message_id;
  if (ev.reply_to) n.dataset.replyTo = ev.reply_to;
  if (a.id) n.dataset.actorId = a.id;
  const head = make("div", "who", name(a));
  if (a.kind === "character" && a.id) {
    // Clicking a character's name answers it, when it is still here.
    head.classList.add("addressable");
    head.title = "Speak to " + (a.name || "");
    head.addEventListener("click", function () { if (present.has(a.id)) setAddressee({ id: a.id, name: a.name }); });
  }
  const t = hhmm(ev.sim_minute);
  if (t) head.append(make("span", "time", t));
  n.append(head, make("div", "text"), make("div", "meta"));
  return n;
}

function said(box, ev) {
  let n = ev.message_id ? findLine(box, ev.message_id) : null;
  if (!n) {
    n = lineNode(ev);
    box.append(n);
  }
  if (ev.reply_to) n.dataset.replyTo = ev.reply_to;
  n.classList.remove("streaming", "waiting", "pending");
  n.classList.add("said");
  n.querySelector(".text").textContent = ev.text || "";
  n.querySelector(".meta").textContent = "";
  if (ev.pictures && ev.pictures.length && !n.querySelector(".pictures")) n.querySelector(".text").after(pictureStrip(ev.pictures));
  scrollDown(box, false);
  unread(box);
}

function streamInto(box, ev, text) {
  if (!ev.message_id) return;
  let n = findLine(box, ev.message_id);
  if (n && n.classList.contains("said")) return; // the whole line is in already
  if (!n) {
    n = lineNode(ev);
    n.classList.add("streaming", "waiting");
    box.append(n);
  }
  if (!text) return;
  const last = n.dataset.seq == null ? -1 : Number(n.dataset.seq);
  if (typeof ev.seq === "number" && ev.seq <= last && last >= 0) return;
  n.dataset.seq = String(ev.seq || 0);
  n.classList.remove("waiting");
  n.querySelector(".text").append(document.createTextNode(text));
  scrollDown(box, false);
}

function notice(box, kind, ev, text) {
  const n = make("div", "event " + kind, text);
  if (ev.actor && ev.actor.id) n.dataset.actorId = ev.actor.id;
  if (ev.reply_to) n.dataset.replyTo = ev.reply_to;
  box.append(n);
  scrollDown(box, false);
}

function scrollDown(box, force) {
  const scroller = box === el.feed ? el.feed : el.privateLogs;
  if (force || scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 140) scroller.scrollTop = scroller.scrollHeight;
}

// ---- private chats ----

const worldMemories = manager({
  list: el.memList, empty: el.memEmpty, error: el.memError,
  token: function () { return conn.token ? Promise.resolve(conn.token) : guestToken(); },
  query: function () {
    return world && activeChat && !el.memPanel.hidden ? "world=" + encodeURIComponent(world.id) + "&character=" + encodeURIComponent(activeChat) : "";
  },
  item: function (id) { return "api/v1/memories/" + encodeURIComponent(id) + "?world=" + encodeURIComponent(world.id); }
});

function openChat(id, nameHint, focus) {
  let c = chats.get(id);
  if (!c) {
    const label = nameHint || characters.get(id) || id;
    const log = make("div", "private-log feed");
    log.dataset.character = id;
    log.hidden = true;
    log.append(make("div", "event place", "Only you and " + label + " hear this."));
    const tab = button("private-tab", label, function () { openChat(id, "", true); });
    tab.dataset.id = id;
    c = { name: label, log: log, tab: tab };
    chats.set(id, c);
    el.privateLogs.append(log);
    el.privateTabs.append(tab);
  }
  if (focus || !activeChat) {
    activeChat = id;
    chats.forEach(function (x, k) { x.log.hidden = k !== id; x.tab.classList.toggle("active", k === id); });
    el.privateEmpty.hidden = true;
    el.privateForm.hidden = false;
    c.tab.classList.remove("unread");
    el.memToggle.hidden = false;
    el.memTitle.textContent = "What " + c.name + " remembers about you here";
    el.memList.replaceChildren();
    worldMemories.refresh();
  }
  if (focus) {
    showPane("private");
    el.privateInput.focus();
    scrollDown(c.log, true);
  }
  return c;
}

function unread(box) {
  const pane = box === el.feed ? "room" : "private";
  if (el.room.dataset.pane !== pane) el.tabs[pane].classList.add("unread");
  if (box === el.feed) return;
  const id = box.dataset.character;
  const c = chats.get(id);
  const seen = id === activeChat && (el.room.dataset.pane === "private" || window.matchMedia("(min-width: 900px)").matches);
  if (c && !seen) c.tab.classList.add("unread");
}

// ---- speaking ----

function sayLine(box, text, frame) {
  const n = lineNode({ actor: { kind: "player", id: me, name: "You" } });
  n.classList.add("pending");
  n.querySelector(".text").textContent = text;
  if (frame.pictures && frame.pictures.length) n.querySelector(".text").after(pictureStrip(frame.pictures));
  n.querySelector(".meta").textContent = "sending…";
  box.append(n);
  scrollDown(box, true);
  if (Array.from(text).length > MAX_SAY_RUNES) return failLine(n, "not sent: longer than " + MAX_SAY_RUNES + " characters");
  if (!world) return failLine(n, "not sent: offline");
  // The line keeps one client id however often it is sent: the world
  // logs it once.
  frame.client_message_id = newMessageID();
  const req = { kind: "say", el: n, box: box, frame: frame, worldId: world.id };
  if (!conn.ready) {
    n.querySelector(".meta").textContent = "offline; will send when back";
    held.push(req);
    return;
  }
  send(frame, req);
}

// held are lines whose ack never came (or that were said offline); they go
// out again, with the same client id, once the world is joined again.
let held = [];

function holdPending(reqs) {
  reqs.forEach(function (req) {
    if (req.kind !== "say") return;
    req.el.querySelector(".meta").textContent = "connection lost; will send again when back";
    held.push(req);
  });
}

function resendHeld() {
  const mine = held.filter((r) => world && r.worldId === world.id);
  held = held.filter((r) => !mine.includes(r));
  mine.forEach(function (r) {
    r.el.querySelector(".meta").textContent = "sending again…";
    if (!send(r.frame, r)) failLine(r.el, "not sent: offline");
  });
}

function failLine(n, why) {
  n.classList.remove("pending");
  n.classList.add("failed");
  n.querySelector(".meta").textContent = why;
}

function onAck(f, req) {
  if (!req || req.kind !== "say" || !f.message_id) return;
  // The line's own said event can come before its ack.
  const echo = findLine(req.box, f.message_id);
  if (echo && echo !== req.el) { req.el.remove(); return; }
  req.el.dataset.messageId = f.message_id;
  req.el.classList.remove("pending");
  req.el.querySelector(".meta").textContent = "";
}

function onError(f, req) {
  const text = (f.message || "something went wrong") + (f.code ? " [" + f.code + "]" : "");
  if (req && req.kind === "say") return failLine(req.el, "not sent: " + text);
  if (f.code === "bad_token" || f.code === "unauthenticated") { forgetToken(conn.token); return; }
  if (req && req.kind === "join") {
    const was = world;
    resetWorld();
    if (was) store(LS_WORLD, null);
    el.picker.hidden = false;
    el.room.hidden = true;
    pickerProblem(text);
    if (conn.ready) send({ type: "list_worlds" }, { kind: "list" });
    return;
  }
  if (req && req.kind === "list") return pickerProblem(text);
  if (world) notice(el.feed, "error", {}, text); else pickerProblem(text);
}

// Pictures shown in the room (pictures.js): attach, paste or drop.
const roomPictures = attacher({
  composer: el.input.parentNode, input: el.input, dropZone: el.feed, idPrefix: "world-",
  token: function () { return conn.token ? Promise.resolve(conn.token) : guestToken(); },
  onChange: function () { el.send.disabled = roomPictures ? roomPictures.busy() : false; },
  onProblem: function (text) { notice(el.feed, "error", {}, text); }
});

el.form.addEventListener("submit", function (ev) {
  ev.preventDefault();
  const text = el.input.value.trim();
  if (roomPictures.busy() || !world || (!text && !roomPictures.count())) return;
  el.input.value = "";
  el.input.style.height = "auto";
  const frame = { type: "room_say", world_id: world.id, text: text };
  const pics = roomPictures.take();
  if (pics.length) frame.pictures = pics;
  if (addressee) frame.to = addressee.id;
  sayLine(el.feed, text, frame);
});

el.privateForm.addEventListener("submit", function (ev) {
  ev.preventDefault();
  const text = el.privateInput.value.trim();
  const c = chats.get(activeChat);
  if (!text || !world || !c) return;
  el.privateInput.value = "";
  el.privateInput.style.height = "auto";
  sayLine(c.log, text, { type: "private_say", world_id: world.id, character_id: activeChat, text: text });
});

// ---- start ----

// A reload returns to the world the player was in.
const saved = loadJSON(LS_WORLD);
if (saved && saved.world) {
  world = { id: saved.world, name: "", locations: [] };
  here = saved.location || "";
  showWorlds(false);
}
