// Maopao web client, the character chat: protocol v1 over /ws through
// connection.js. All text from the server or the player goes into the page
// through textContent, never as markup.

import { $, button, enterSubmits, load, make, paintAvatar, store } from "./dom.js";
import { Connection, forgetToken, guestToken, newMessageID } from "./connection.js";
import { attacher, pictureStrip } from "./pictures.js";
import * as speech from "./speech.js";
import { engineChanged } from "./models.js";
import * as memories from "./memories.js";

const MAX_SAY_RUNES = 4000;
const LS_CHAR = "maopao.character";
const LS_CONV = "maopao.conversation";
const LS_NAMED = "maopao.named";

const el = {
  back: $("back"), title: $("title"), status: $("status"), banner: $("engine-banner"),
  listView: $("list-view"), listError: $("list-error"), listLoading: $("list-loading"),
  characters: $("characters"), chatView: $("chat-view"), chatAvatar: $("chat-avatar"),
  chatName: $("chat-name"), chatDesc: $("chat-description"), messages: $("messages"),
  composer: $("composer"), input: $("input"), send: $("send"), stop: $("stop"), studioView: $("studio-view"),
  studioLink: $("studio-link"), search: $("search"), sort: $("sort"), tagFilter: $("tag-filter"),
  tagFilterName: $("tag-filter-name"), tagFilterClear: $("tag-filter-clear"),
  personaFirst: $("persona-first"), personaFirstName: $("persona-first-name"),
  personaOpen: $("persona-open"), personaNameLabel: $("persona-name-label"), personaPanel: $("persona-panel"),
  personaName: $("persona-name"), personaDescription: $("persona-description"), personaCancel: $("persona-cancel"),
  personaScope: $("persona-scope"), personaThisChat: $("persona-this-chat"),
  personaChat: $("persona-chat"), personaChatName: $("persona-chat-name"), chatTitle: $("chat-title"),
  aboutToggle: $("about-toggle"), charDetails: $("char-details"), detailsMeta: $("details-meta"),
  detailsTags: $("details-tags"), detailsNotes: $("details-notes"), chatsToggle: $("chats-toggle"),
  chatsPanel: $("chats-panel"), chatsList: $("chats-list"), chatsChar: $("chats-char"), newChat: $("new-chat")
};

let characters = [];
// The open chat: character id, conversation id once chat_opened arrives.
let current = null;
let held = [];    // say requests waiting for the chat to be open again
let unsent = [];  // user message elements that never got an ack
let persona = { name: "", description: "" }; // the player's default persona
let tagFilter = "";

function setStatus(kind, text) {
  el.status.className = "status " + kind;
  el.status.textContent = text;
  el.send.disabled = kind !== "online";
}

// ---- connection ----

// The chat's connection lives as long as the page. Its requests' metadata
// is {kind: "list"|"open"|"say"|"request", el?, text?, characterId?, ...}.
const conn = new Connection("w", {
  onStatus: setStatus,
  onWelcome: onWelcome,
  onFrame: handle,
  onLost: (reqs) => holdUnacked(reqs),
  // The token is no longer valid: get a new identity right away.
  onBadAuth: forgetToken,
  onSessionError: (e) => showProblem("offline", e.message),
  onBadFrame: () => showError("bad_frame", "the server sent something that is not JSON")
});
const send = (frame, meta) => conn.send(frame, meta);

// ---- frames ----

function handle(f, req) {
  switch (f.type) {
    case "characters": return onCharacters(f, req);
    case "chat_opened": return onChatOpened(f);
    case "ack": return onAck(f, req);
    case "delta": return onDelta(f);
    case "retrying": return onRetrying(f);
    case "notice": return onNotice(f);
    case "complete": return onComplete(f);
    case "error": return onError(f, req);
    case "message_updated": return onMessageUpdated(f);
    case "rewound": return onRewound(f);
    case "chat_forked": return onChatForked(f, req);
    case "chats": return onChats(f);
    case "chat_updated": return onChatUpdated(f);
    case "chat_deleted": return onChatDeleted(f);
    case "persona": return onPersona(f);
    case "characters_changed": return send({ type: "list_characters" }, { kind: "list" });
    case "engine_changed": return showEngine(f.engine, f.untrained);
    default: return; // frames from a newer server that this page does not know
  }
}

// onWelcome comes with every new socket: the list, and the open chat again.
function onWelcome(f) {
  showEngine(f.engine, f.untrained);
  if (f.persona) showPersona(f.persona, null);
  // A guest picks a name on the first visit instead of being "Traveler".
  el.personaFirst.hidden = !!load(LS_NAMED) || !!(f.persona && f.persona.name && f.persona.name !== "Traveler");
  send({ type: "list_characters" }, { kind: "list" });
  const want = current ? current.characterId : load(LS_CHAR);
  if (want) openChat(want, false, current ? current.conversationId : load(LS_CONV));
}

// showEngine says what writes the replies; players must not mistake the
// random text of an untrained model for a character's words.
function showEngine(describe, untrained) {
  untrained = untrained || /untrained|random weights/i.test(describe || "");
  el.banner.hidden = !describe;
  el.banner.textContent = describe ? "Engine: " + describe : "";
  el.banner.classList.toggle("warn", untrained);
  engineChanged(describe, untrained);
}

// onCharacters takes a page of characters; the next page is asked for
// until the list is whole (or very long).
function onCharacters(f, req) {
  const page = Array.isArray(f.characters) ? f.characters : [];
  characters = req && req.append ? characters.concat(page) : page;
  if (f.next && characters.length < 2000) send({ type: "list_characters", cursor: f.next }, { kind: "list", append: true });
  el.listLoading.hidden = true;
  el.listError.hidden = true;
  renderList();
  if (current && !current.character) {
    const c = characters.find(function (x) { return x.id === current.characterId; });
    if (c) showChatHeader(c);
  }
}

// renderList shows the characters the search box, tag and sort pick.
function renderList() {
  const q = el.search.value.trim().toLowerCase();
  const shown = characters.filter(function (c) {
    const tags = Array.isArray(c.tags) ? c.tags : [];
    if (tagFilter && !tags.some(function (t) { return t.toLowerCase() === tagFilter.toLowerCase(); })) return false;
    if (!q) return true;
    return (c.name || "").toLowerCase().indexOf(q) >= 0 || (c.creator || "").toLowerCase().indexOf(q) >= 0 ||
      tags.some(function (t) { return t.toLowerCase().indexOf(q) >= 0; });
  });
  const by = el.sort.value;
  shown.sort(function (a, b) {
    if (by === "newest") return String(b.created_at || "").localeCompare(String(a.created_at || ""));
    if (by === "chatted") return (b.chats || 0) - (a.chats || 0) || characters.indexOf(a) - characters.indexOf(b);
    return characters.indexOf(a) - characters.indexOf(b); // the server lists them by name
  });
  el.tagFilter.hidden = !tagFilter;
  el.tagFilterName.textContent = tagFilter;
  el.characters.replaceChildren();
  if (shown.length === 0) {
    el.listLoading.hidden = false;
    el.listLoading.textContent = characters.length ? "No character matches." : "No characters yet.";
  } else {
    el.listLoading.hidden = true;
  }
  shown.forEach(function (c) {
    const card = make("div", "character");
    card.tabIndex = 0;
    card.setAttribute("role", "button");
    card.dataset.id = c.id;
    const av = make("div", "avatar");
    av.setAttribute("aria-hidden", "true");
    paintAvatar(av, c.name || "?");
    const body = make("div", "body");
    const name = make("div", "name", c.name);
    if (c.visibility === "private") name.append(" ", make("span", "badge", "private"));
    body.append(name, make("div", "description", c.description || ""));
    if (c.creator) body.append(make("div", "creator small", "by " + c.creator));
    if (Array.isArray(c.tags) && c.tags.length) {
      const tags = make("div", "tags");
      c.tags.forEach(function (t) {
        const tag = button("tag", t, function (ev) { ev.stopPropagation(); setTagFilter(t); });
        tags.append(tag);
      });
      body.append(tags);
    }
    card.append(av, body);
    card.addEventListener("click", function () { openChat(c.id, true); });
    card.addEventListener("keydown", function (ev) { if (ev.key === "Enter") openChat(c.id, true); });
    el.characters.append(card);
  });
}

function setTagFilter(t) {
  tagFilter = t;
  renderList();
}
el.tagFilterClear.addEventListener("click", function () { setTagFilter(""); });
el.search.addEventListener("input", renderList);
el.sort.addEventListener("change", renderList);

function openChat(characterId, byUser, conversationId) {
  if (!current || current.characterId !== characterId || (conversationId && conversationId !== current.conversationId)) {
    speech.stop();
    current = { characterId: characterId, conversationId: null, character: null };
    unsent = [];
    el.messages.replaceChildren(make("div", "message system", "Opening chat…"));
  }
  store(LS_CHAR, characterId);
  if (byUser) history.pushState({ chat: characterId, conv: conversationId || null }, "");
  const c = characters.find(function (x) { return x.id === characterId; });
  if (c) showChatHeader(c);
  el.listView.hidden = true;
  el.studioView.hidden = true;
  el.chatView.hidden = false;
  el.back.hidden = false;
  if (!conn.ready) return;
  const frame = { type: "open_chat", character_id: characterId };
  if (conversationId) frame.conversation_id = conversationId;
  send(frame, { kind: "open", characterId: characterId });
}

function showChatHeader(c) {
  if (current) current.character = c;
  el.title.textContent = c.name;
  paintAvatar(el.chatAvatar, c.name || "?");
  el.chatName.textContent = c.name;
  if (c.visibility === "private") el.chatName.append(" ", make("span", "badge", "private"));
  el.chatDesc.textContent = c.description || "";
  el.chatsChar.textContent = c.name;
  // The character's details panel: what its creator tells players.
  const meta = [];
  if (c.creator) meta.push("by " + c.creator);
  if (c.alternate_greetings) meta.push(c.alternate_greetings + " alternate greeting" + (c.alternate_greetings === 1 ? "" : "s"));
  el.detailsMeta.textContent = meta.join(" · ");
  el.detailsTags.replaceChildren();
  (c.tags || []).forEach(function (t) { el.detailsTags.append(make("span", "tag", t)); });
  el.detailsNotes.replaceChildren();
  if (c.creator_notes) setRichText(el.detailsNotes, c.creator_notes); else el.detailsNotes.textContent = "The creator left no notes.";
  document.title = c.name + " · Maopao";
}

// showList shows the character list, closing the chat. The studio and the
// world view leave the chat through it, as the back button does.
export function showList() {
  speech.stop();
  current = null;
  unsent = [];
  store(LS_CHAR, null);
  store(LS_CONV, null);
  el.chatsPanel.hidden = el.charDetails.hidden = true;
  memories.close();
  el.chatView.hidden = true;
  el.studioView.hidden = true;
  el.listView.hidden = false;
  el.back.hidden = true;
  el.studioLink.hidden = false;
  el.title.textContent = "Maopao";
  document.title = "Maopao";
  el.messages.replaceChildren();
}

el.back.addEventListener("click", function () {
  if (history.state && history.state.studio) {
    history.back();
    return;
  }
  // The header's back always leads to the characters; the browser's
  // back goes through the chats opened before.
  if (history.state && history.state.chat) history.pushState({ list: true }, "");
  showList();
});
window.addEventListener("popstate", function (ev) {
  // The studio (studio.js) handles its own history entries.
  if (ev.state && ev.state.chat) {
    openChat(ev.state.chat, false, ev.state.conv || null);
    return;
  }
  if (!(ev.state && ev.state.studio)) showList();
});

function onChatOpened(f) {
  if (!current || !f.character || f.character.id !== current.characterId) return;
  current.conversationId = f.conversation_id;
  store(LS_CONV, f.conversation_id);
  showChatHeader(f.character);
  if (f.persona) showPersona(f.persona, f.conversation_id);
  if (f.persona && f.persona.name === persona.name && f.persona.description === persona.description) current.persona = null;
  showChatTitle(f.chat);
  memories.openFor(f.character.id, f.character.name);
  const nodes = [];
  const hist = Array.isArray(f.history) ? f.history : [];
  if (f.character.scenario) nodes.push(messageNode("system scenario", null, f.character.scenario));
  if (hist.length === 0 && f.character.greeting) {
    nodes.push(messageNode("character greeting", f.character.name, f.character.greeting));
  }
  hist.forEach(function (m) { nodes.push(renderMessage(m)); });
  (f.pending || []).forEach(function (id) {
    nodes.push(replyPlaceholder(id));
  });
  el.messages.replaceChildren.apply(el.messages, nodes.concat(unsent));
  refreshTools();
  scrollDown(true);
  resendHeld();
  if (!el.chatsPanel.hidden) send({ type: "list_chats", character_id: current.characterId });
  if (!matchMedia("(pointer: coarse)").matches) el.input.focus();
}

function showChatTitle(chat) {
  el.chatTitle.textContent = chat && chat.title ? chat.title : "";
}

// renderMessage is a stored message as the chat shows it.
function renderMessage(m) {
  const name = current && current.character ? current.character.name : "";
  const n = m.role === "user" ? messageNode("user", myName(), m.content)
    : m.role === "character" ? messageNode(m.greeting ? "character greeting complete" : "character complete", name, m.content)
      : messageNode("system", null, m.content);
  fillMessage(n, m);
  return n;
}

// fillMessage puts what a stored message says into its node.
function fillMessage(n, m) {
  n.message = m;
  if (m.id) n.dataset.id = m.id;
  if (m.reply_to) n.dataset.replyTo = m.reply_to;
  if (m.seq) n.dataset.seq2 = String(m.seq);
  n.classList.remove("streaming", "waiting", "failed", "stopped");
  n.classList.toggle("edited", !!m.edited);
  if (m.status === "failed") {
    n.classList.add("failed");
    setRichText(n.querySelector(".text"), "The character could not answer just now.");
  } else {
    if (m.status === "stopped") n.classList.add("stopped");
    setRichText(n.querySelector(".text"), m.content);
  }
  const old = n.querySelector(".pictures");
  if (old) old.remove();
  if (m.pictures && m.pictures.length) n.querySelector(".text").after(pictureStrip(m.pictures));
  setMeta(n, (m.status === "stopped" ? "stopped" : "") + (m.edited ? (m.status === "stopped" ? " · " : "") + "edited" : ""));
}

// refreshTools gives every stored message its buttons, and the last
// reply its swipe and regenerate controls (or Retry when it failed).
function refreshTools() {
  const all = el.messages.querySelectorAll(".message[data-id]");
  let last = null;
  all.forEach(function (n) { if (n.message && !n.classList.contains("pending")) last = n; });
  all.forEach(function (n) {
    const old = n.querySelector(".tools");
    if (old) old.remove();
    if (!n.message) return;
    const tools = make("div", "tools");
    const m = n.message;
    if (n === last && m.role === "character") {
      const count = m.swipes && m.swipes.length ? m.swipes.length : 1;
      const at = m.swipes && m.swipes.length ? m.swipe_id || 0 : 0;
      if (m.status === "failed") {
        tools.append(tool("Retry", "retry", function () { regenerate(m.id); }));
      } else {
        if (count > 1 || !m.greeting) {
          tools.append(tool("‹", "swipe-left", function () { swipe(m, at - 1); }, at === 0),
            make("span", "swipe-count", (at + 1) + "/" + count),
            tool("›", "swipe-right", function () { swipe(m, at + 1); }, m.greeting && at + 1 >= count));
        }
        if (!m.greeting) tools.append(tool("↻", "regenerate", function () { regenerate(""); }));
      }
    }
    if (n === last && m.role === "user") tools.append(tool("↻", "regenerate", function () { regenerate(""); }));
    if (m.role === "character" && m.status !== "failed" && m.content) {
      tools.append(tool("Play", "speak", function () { speech.speakMessage(n, m, current.conversationId, voiceLang()); }),
        tool("Stop", "speak-stop", function () { speech.stop(); }));
    }
    if (m.status !== "failed") tools.append(tool("Edit", "edit", function () { editMessage(n); }));
    tools.append(tool("Delete", "delete", function () { chatRequest({ type: "delete_message", message_id: m.id }); }));
    tools.append(tool("Branch", "branch", function () { chatRequest({ type: "fork_chat", message_id: m.id }); }));
    if (n !== last) tools.append(tool("Rewind here", "rewind", function () { chatRequest({ type: "rewind", message_id: m.id }); }));
    n.append(tools);
  });
  updateStop();
}

function tool(label, cls, onClick, disabled) {
  const b = button("tool " + cls, label, onClick);
  b.disabled = !!disabled;
  return b;
}

function chatRequest(frame, meta) {
  if (!conn.ready || !current || !current.conversationId) {
    showError("offline", "not connected; try again in a moment");
    return null;
  }
  frame.conversation_id = current.conversationId;
  return send(frame, meta || { kind: "request", type: frame.type });
}

function regenerate(messageId) {
  const frame = { type: "regenerate" };
  if (messageId) frame.message_id = messageId;
  if (chatRequest(frame) == null) return;
  const last = lastReplyNode();
  if (last && last.message && (last.message.status === "failed" || last.message.role === "character")) {
    last.classList.add("streaming", "waiting");
    last.querySelector(".text").replaceChildren();
    delete last.dataset.seq;
  }
  updateStop();
}

function swipe(m, to) {
  if (to < 0) return;
  const count = m.swipes && m.swipes.length ? m.swipes.length : 1;
  if (chatRequest({ type: "swipe", message_id: m.id, swipe_id: to }) == null) return;
  if (to >= count) {
    const n = lastReplyNode();
    if (n) {
      n.classList.add("streaming", "waiting");
      n.querySelector(".text").replaceChildren();
      delete n.dataset.seq;
    }
    updateStop();
  }
}

function lastReplyNode() {
  const all = el.messages.querySelectorAll(".message.character[data-id]");
  return all.length ? all[all.length - 1] : null;
}

// editMessage swaps a message's text for an editor.
function editMessage(n) {
  if (n.querySelector(".editor")) return;
  const form = make("form", "editor");
  const area = make("textarea");
  area.value = n.message.content;
  area.rows = Math.min(10, Math.max(2, area.value.split("\n").length));
  const save = make("button", "primary", "Save");
  save.type = "submit";
  const close = function () { form.remove(); n.querySelector(".text").hidden = false; };
  const cancel = button(null, "Cancel", close);
  form.append(area, save, cancel);
  n.querySelector(".text").hidden = true;
  n.insertBefore(form, n.querySelector(".meta"));
  area.focus();
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    const text = area.value.trim();
    if (!text) return;
    close();
    if (text !== n.message.content) chatRequest({ type: "edit_message", message_id: n.message.id, text: text });
  });
}

function updateStop() {
  const streaming = !!el.messages.querySelector(".message.character.streaming");
  el.stop.hidden = !streaming;
  el.send.hidden = streaming;
}
el.stop.addEventListener("click", function () { chatRequest({ type: "stop" }); });

function onMessageUpdated(f) {
  if (!current || f.conversation_id !== current.conversationId || !f.message) return;
  const m = f.message;
  const n = el.messages.querySelector('.message[data-id="' + CSS.escape(m.id) + '"]');
  if (m.deleted) {
    if (n) n.remove();
  } else if (n) {
    fillMessage(n, m);
  }
  refreshTools();
}

function onRewound(f) {
  if (!current || f.conversation_id !== current.conversationId) return;
  const n = el.messages.querySelector('.message[data-id="' + CSS.escape(f.message_id) + '"]');
  if (!n) return;
  while (n.nextSibling) n.nextSibling.remove();
  refreshTools();
}

function onChatForked(f, req) {
  if (!current || f.conversation_id !== current.conversationId) return;
  // Only the tab that asked follows the branch.
  let mine = false;
  conn.pending().forEach(function ([id, r]) { if (r.ackedAs === f.reply_to) { mine = true; conn.forget(id); } });
  if (mine || req) openChat(current.characterId, true, f.new_conversation_id);
}

// ---- chats ----

el.chatsToggle.addEventListener("click", function () {
  el.chatsPanel.hidden = !el.chatsPanel.hidden;
  el.chatsToggle.setAttribute("aria-expanded", String(!el.chatsPanel.hidden));
  if (!el.chatsPanel.hidden && current && conn.ready) send({ type: "list_chats", character_id: current.characterId });
});
el.aboutToggle.addEventListener("click", function () {
  el.charDetails.hidden = !el.charDetails.hidden;
  el.aboutToggle.setAttribute("aria-expanded", String(!el.charDetails.hidden));
});
el.newChat.addEventListener("click", function () {
  if (!current || !conn.ready) return;
  current.conversationId = null;
  el.messages.replaceChildren(make("div", "message system", "Starting a new chat…"));
  send({ type: "new_chat", character_id: current.characterId }, { kind: "open", characterId: current.characterId });
});

function onChats(f) {
  if (!current || f.character_id !== current.characterId) return;
  el.chatsList.replaceChildren();
  (f.chats || []).forEach(function (c) {
    const li = make("li", "chat-item" + (c.id === current.conversationId ? " current" : ""));
    li.dataset.id = c.id;
    const open = button("link chat-open", c.title || (c.last_message ? "“" + c.last_message + "”" : "New chat"),
      function () { openChat(current.characterId, false, c.id); });
    const when = make("span", "small", " · " + c.messages + " messages · " + new Date(c.updated_at).toLocaleString());
    const rename = tool("Rename", "chat-rename", function () {
      const title = prompt("Name this chat", c.title || "");
      if (title != null) send({ type: "rename_chat", conversation_id: c.id, title: title.trim() });
    });
    const del = tool("Delete", "chat-delete", function () {
      if (confirm("Delete this chat and all its messages?")) send({ type: "delete_chat", conversation_id: c.id });
    });
    li.append(open, when, " ", rename, del);
    el.chatsList.append(li);
  });
}

function onChatUpdated(f) {
  if (current && f.chat && f.chat.id === current.conversationId) showChatTitle(f.chat);
  if (current && !el.chatsPanel.hidden) send({ type: "list_chats", character_id: current.characterId });
}

function onChatDeleted(f) {
  if (!current) return;
  if (f.conversation_id === current.conversationId) {
    store(LS_CONV, null);
    const id = current.characterId;
    current = null;
    openChat(id, false);
  }
  if (!el.chatsPanel.hidden) send({ type: "list_chats", character_id: current.characterId });
}

// ---- persona ----

// showPersona shows who the player is: everywhere, or (conversationId)
// in the open chat.
function showPersona(p, conversationId) {
  if (!conversationId) persona = { name: p.name || "", description: p.description || "" };
  else if (current) current.persona = { name: p.name || "", description: p.description || "" };
  el.personaNameLabel.textContent = persona.name || "?";
  const inChat = current && current.persona ? current.persona : persona;
  el.personaChatName.textContent = inChat.name || "?";
}

// myName is who the player is in the open chat.
function myName() {
  const p = current && current.persona ? current.persona : persona;
  return p.name || "you";
}

function onPersona(f) {
  showPersona(f, f.conversation_id || null);
  el.personaPanel.hidden = true;
  el.personaFirst.hidden = true;
  if (!f.conversation_id) store(LS_NAMED, "1");
}

function openPersona(inChat) {
  const p = inChat && current && current.persona ? current.persona : persona;
  el.personaName.value = p.name;
  el.personaDescription.value = p.description;
  el.personaScope.hidden = !(inChat && current && current.conversationId);
  el.personaThisChat.checked = false;
  el.personaPanel.hidden = false;
  el.personaName.focus();
}
el.personaOpen.addEventListener("click", function () { openPersona(false); });
el.personaChat.addEventListener("click", function () { openPersona(true); });
el.personaCancel.addEventListener("click", function () { el.personaPanel.hidden = true; });
el.personaPanel.addEventListener("submit", function (ev) {
  ev.preventDefault();
  const name = el.personaName.value.trim();
  if (!name || !conn.ready) return;
  const frame = { type: "set_persona", name: name, description: el.personaDescription.value.trim() };
  if (!el.personaScope.hidden && el.personaThisChat.checked && current && current.conversationId) frame.conversation_id = current.conversationId;
  send(frame);
});
el.personaFirst.addEventListener("submit", function (ev) {
  ev.preventDefault();
  const name = el.personaFirstName.value.trim();
  if (!name || !conn.ready) return;
  send({ type: "set_persona", name: name, description: persona.description });
});

function onAck(f, req) {
  if (req && req.kind === "request") {
    // A branch is followed by the tab that asked: remember which.
    if (req.type === "fork_chat") req.ackedAs = f.message_id; else conn.forget(f.ref);
    return;
  }
  if (!req || req.kind !== "say") return;
  conn.forget(f.ref);
  unsent = unsent.filter(function (n) { return n !== req.el; });
  const stored = Array.from(el.messages.querySelectorAll(".message.user")).find((n) => n !== req.el && n.dataset.id === f.message_id);
  if (stored) {
    // A resent line the server had already: the history shows it.
    req.el.remove();
    return;
  }
  req.el.classList.remove("pending");
  req.el.dataset.id = f.message_id;
  req.el.message = { id: f.message_id, role: "user", content: req.text, pictures: req.pictures };
  setMeta(req.el, "");
  if (!findReply(null, f.message_id)) {
    el.messages.append(replyPlaceholder(f.message_id));
    scrollDown(false);
  }
  refreshTools();
}

function onDelta(f) {
  if (!current || f.conversation_id !== current.conversationId) return;
  const n = findReply(f.message_id, f.request ? null : f.reply_to) || el.messages.appendChild(replyPlaceholder(f.reply_to));
  if (!n.classList.contains("streaming")) {
    // A new alternative of a shown reply starts from an empty text.
    n.classList.add("streaming");
    n.querySelector(".text").replaceChildren();
    delete n.dataset.seq;
    updateStop();
  }
  n.dataset.id = f.message_id;
  n.classList.remove("waiting");
  endRetrying(n);
  // Drop repeats of pieces already shown (a reconnect can replay them).
  const last = n.dataset.seq == null ? -1 : Number(n.dataset.seq);
  if (typeof f.seq === "number" && f.seq <= last) return;
  n.dataset.seq = String(f.seq);
  const text = n.querySelector(".text");
  // An engine failed mid-reply and another starts it over: what was shown
  // of the failed attempt goes.
  if (f.restart) text.replaceChildren();
  text.append(document.createTextNode(f.text || ""));
  scrollDown(false);
  speech.streamed(f.message_id, n, text.textContent, current.conversationId, voiceLang(), false);
}

// voiceLang is the language the character speaks in the browser's voices.
function voiceLang() {
  const v = current && current.character && current.character.voice;
  return v && v.lang ? v.lang : "en-US";
}

// onRetrying: the engine is down for a moment; the line stays accepted.
function onRetrying(f) {
  if (!current || f.conversation_id !== current.conversationId) return;
  const n = findReply(null, f.request ? null : f.reply_to) || el.messages.appendChild(replyPlaceholder(f.reply_to));
  const secs = Math.max(1, Math.round((f.retry_in_ms || 0) / 1000));
  n.classList.add("retrying");
  setMeta(n, "the engine is unavailable; still trying (again in " + secs + "s)");
}

// onNotice: the server says something about a line (the character could
// not see its pictures); it shows above the reply.
function onNotice(f) {
  if (!current || f.conversation_id !== current.conversationId) return;
  const n = make("div", "message notice", f.text || "");
  if (f.code) n.dataset.code = f.code;
  const reply = findReply(null, f.reply_to);
  if (reply) reply.before(n); else el.messages.append(n);
  scrollDown(false);
}

function endRetrying(n) {
  if (!n.classList.contains("retrying")) return;
  n.classList.remove("retrying");
  setMeta(n, "");
}

function onComplete(f) {
  if (!current || f.conversation_id !== current.conversationId || !f.message) return;
  const m = f.message;
  const n = findReply(m.id, f.request ? null : m.reply_to) || el.messages.appendChild(replyPlaceholder(m.reply_to));
  n.classList.add("complete");
  endRetrying(n);
  fillMessage(n, m);
  if (m.status !== "failed") speech.streamed(m.id, n, m.content || "", current.conversationId, voiceLang(), true);
  refreshTools();
  scrollDown(false);
  // The line just answered may have left memories.
  memories.refresh();
}

function onError(f, req) {
  const text = f.message || "something went wrong";
  if (req && req.kind === "say") {
    unsent = unsent.filter(function (n) { return n !== req.el; });
    markFailed(req.el, "not sent: " + text, req.text);
    return;
  }
  if (f.code === "bad_token" || f.code === "unauthenticated") {
    // The socket is about to close; forget the token so the reconnect
    // starts a new guest session.
    forgetToken(conn.token);
    showProblem("connecting", "Your guest session expired; starting a new one.");
    return;
  }
  if (f.reply_to && current && f.conversation_id === current.conversationId) {
    if (f.failed_message) {
      // The failure is stored: the reply shows it with a Retry button.
      const fm = f.failed_message;
      const n = findReply(fm.id, fm.reply_to) || el.messages.appendChild(replyPlaceholder(fm.reply_to));
      fillMessage(n, fm);
      refreshTools();
      showError("", text);
      return;
    }
    const stuck = el.messages.querySelectorAll(".message.character.streaming");
    stuck.forEach(function (x) {
      x.classList.remove("streaming", "waiting");
      if (x.message) fillMessage(x, x.message); else x.classList.add("failed");
    });
    refreshTools();
  }
  if (req && req.kind === "open") {
    if (f.code === "unknown_chat" && current) {
      // The chat this page remembered is gone: open the latest.
      store(LS_CONV, null);
      const cid = current.characterId;
      current = null;
      openChat(cid, false);
      return;
    }
    showList();
  }
  showError(f.code, text);
}

// ---- messages ----

function messageNode(kind, who, text) {
  const n = make("div", "message " + kind);
  if (who) n.append(make("div", "who", who));
  const body = make("div", "text");
  setRichText(body, text);
  n.append(body, make("div", "meta"));
  return n;
}

// Role-play text marks actions as *waves*; show them as emphasis. The
// asterisks stay in the text, so what is shown is still exactly what was
// written, and nothing is ever parsed as markup.
function setRichText(node, text) {
  node.replaceChildren();
  const re = /\*[^*\n]+\*/g;
  let at = 0, m;
  text = text || "";
  while ((m = re.exec(text)) !== null) {
    if (m.index > at) node.append(document.createTextNode(text.slice(at, m.index)));
    node.append(make("em", "action", m[0]));
    at = m.index + m[0].length;
  }
  if (at < text.length) node.append(document.createTextNode(text.slice(at)));
}

function replyPlaceholder(replyTo) {
  const name = current && current.character ? current.character.name : "";
  const n = messageNode("character streaming waiting", name, "");
  if (replyTo) n.dataset.replyTo = replyTo;
  setTimeout(updateStop, 0);
  return n;
}

function findReply(id, replyTo) {
  const all = el.messages.querySelectorAll(".message.character");
  for (let i = all.length - 1; i >= 0; i--) {
    const n = all[i];
    if ((id && n.dataset.id === id) || (replyTo && n.dataset.replyTo === replyTo)) return n;
  }
  return null;
}

function setMeta(n, text) {
  n.querySelector(".meta").replaceChildren(document.createTextNode(text));
}

function markFailed(n, why, text, cid, pictures) {
  n.classList.remove("pending");
  n.classList.add("failed");
  setMeta(n, why);
  const retry = button("retry", "retry", function () {
    n.remove();
    unsent = unsent.filter(function (x) { return x !== n; });
    say(text, cid, pictures);
  });
  n.querySelector(".meta").append(retry);
}

// holdUnacked keeps the lines of lost requests to send again once the
// chat is open on a new connection: each keeps its client id, so a line
// the server had stored before the ack was lost is not stored twice.
function holdUnacked(reqs) {
  reqs.forEach(function (req) {
    if (req.kind !== "say") return;
    req.el.classList.add("pending");
    setMeta(req.el, "connection lost; will send again when back");
    held.push(req);
  });
}

// resendHeld sends the held lines of the chat just opened, in order.
function resendHeld() {
  const mine = held.filter((r) => current && r.conversationId === current.conversationId);
  held = held.filter((r) => !mine.includes(r));
  mine.forEach(function (r) {
    setMeta(r.el, "sending again…");
    const frame = { type: "say", conversation_id: r.conversationId, text: r.text, client_message_id: r.cid, pictures: r.pictures };
    if (!send(frame, r)) markFailed(r.el, "not sent: offline", r.text, r.cid, r.pictures);
  });
}

// Errors go where the player is looking: into the chat when one is open,
// above the character list otherwise.
function showError(code, text) {
  const line = text + (code ? " [" + code + "]" : "");
  if (current) {
    el.messages.append(make("div", "message error", line));
    scrollDown(true);
  } else {
    el.listError.hidden = false;
    el.listError.textContent = line;
  }
}

function showProblem(status, text) {
  setStatus(status, status === "offline" ? "offline" : "connecting…");
  showError("", text);
}

function nearBottom() {
  const m = el.messages;
  return m.scrollHeight - m.scrollTop - m.clientHeight < 120;
}
function scrollDown(force) {
  if (force || nearBottom()) el.messages.scrollTop = el.messages.scrollHeight;
}

// ---- composing ----

// say sends a line with its pictures' ids; cid names it (a retry of a line
// whose fate is unknown keeps its name, so it is stored once).
function say(text, cid, pictures) {
  if (!current) return;
  cid = cid || newMessageID();
  pictures = pictures || [];
  const n = messageNode("user pending", myName(), text);
  if (pictures.length) n.querySelector(".text").after(pictureStrip(pictures));
  setMeta(n, "sending…");
  el.messages.append(n);
  scrollDown(true);
  if (Array.from(text).length > MAX_SAY_RUNES) {
    markFailed(n, "not sent: longer than " + MAX_SAY_RUNES + " characters", text);
    return;
  }
  unsent.push(n);
  const req = { kind: "say", el: n, text: text, cid: cid, conversationId: current.conversationId, pictures: pictures };
  if (!conn.ready || !current.conversationId) {
    // Offline: it goes out when the chat is open again.
    setMeta(n, "offline; will send when back");
    if (current.conversationId) held.push(req); else markFailed(n, "not sent: offline", text, cid, pictures);
    return;
  }
  send({ type: "say", conversation_id: current.conversationId, text: text, client_message_id: cid, pictures: pictures }, req);
}

speech.init(function () { return conn.token ? Promise.resolve(conn.token) : guestToken(); });
const autoplayToggle = $("autoplay-toggle");
function showAutoplay() {
  autoplayToggle.setAttribute("aria-pressed", speech.autoplay() ? "true" : "false");
  autoplayToggle.textContent = speech.autoplay() ? "🔊 Auto-play on" : "🔈 Auto-play off";
}
autoplayToggle.addEventListener("click", function () { speech.setAutoplay(!speech.autoplay()); showAutoplay(); });
showAutoplay();

const pictures = attacher({
  composer: el.composer, input: el.input, dropZone: el.chatView,
  token: function () { return conn.token ? Promise.resolve(conn.token) : guestToken(); },
  onChange: function () { el.send.disabled = !conn.ready || (pictures ? pictures.busy() : false); },
  onProblem: function (text) { showError("", text); }
});

el.composer.addEventListener("submit", function (ev) {
  ev.preventDefault();
  const text = el.input.value.trim();
  if (pictures.busy()) return; // the send button says so: it waits for the uploads
  if (!text && !pictures.count()) return;
  el.input.value = "";
  autosize();
  say(text, null, pictures.take());
});

enterSubmits(el.input);

function autosize() {
  el.input.style.height = "auto";
  el.input.style.height = Math.min(el.input.scrollHeight + 2, window.innerHeight * 0.4) + "px";
}
el.input.addEventListener("input", autosize);

// ---- start ----

if (load(LS_CHAR)) {
  // Show the chat frame at once on reload; its contents come with
  // chat_opened after the socket is up.
  openChat(load(LS_CHAR), false);
}
setStatus("connecting", "connecting…");
conn.open();
