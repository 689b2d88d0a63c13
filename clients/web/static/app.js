// Maopao web client: protocol v1 over /ws. All text from the server or the
// player goes into the page through textContent, never as markup.
(function () {
  "use strict";

  var PROTOCOL = 1;
  var MAX_SAY_RUNES = 4000;
  var LS_TOKEN = "maopao.token";
  var LS_PLAYER = "maopao.player";
  var LS_CHAR = "maopao.character";
  var CLOSE_BAD_AUTH = 4001;
  var PING_EVERY_MS = 25000;
  var SILENCE_LIMIT_MS = 60000;

  var $ = function (id) { return document.getElementById(id); };
  var el = {
    back: $("back"), title: $("title"), status: $("status"), banner: $("engine-banner"),
    listView: $("list-view"), listError: $("list-error"), listLoading: $("list-loading"),
    characters: $("characters"), chatView: $("chat-view"), chatAvatar: $("chat-avatar"),
    chatName: $("chat-name"), chatDesc: $("chat-description"), messages: $("messages"),
    composer: $("composer"), input: $("input"), send: $("send"), studioView: $("studio-view"),
    studioLink: $("studio-link")
  };

  var ws = null;
  var ready = false;          // welcome received on the current socket
  var attempts = 0;           // failed connects since the last welcome
  var reconnectTimer = null;
  var lastFrameAt = 0;
  var frameSeq = 0;
  var characters = [];
  // The open chat: character id, conversation id once chat_opened arrives.
  var current = null;
  var requests = new Map();   // frame id → {kind, el?, text?, characterId?}
  var unsent = [];            // user message elements that never got an ack

  function store(key, value) {
    try {
      if (value == null) localStorage.removeItem(key); else localStorage.setItem(key, value);
    } catch (e) { /* private mode: the page still works for this visit */ }
  }
  function load(key) {
    try { return localStorage.getItem(key); } catch (e) { return null; }
  }

  function make(tag, cls, text) {
    var n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text != null) n.textContent = text;
    return n;
  }

  // A stable colour per name, so avatars are recognisable at a glance.
  function paintAvatar(node, name) {
    var h = 0;
    for (var i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) % 360;
    node.style.setProperty("--hue", String(h));
    node.textContent = Array.from(name.trim())[0] || "?";
  }

  function setStatus(kind, text) {
    el.status.className = "status " + kind;
    el.status.textContent = text;
    el.send.disabled = kind !== "online";
  }

  // ---- identity ----

  async function newSession() {
    var resp = await fetch("api/v1/session", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: "{}"
    });
    if (!resp.ok) {
      var detail = "";
      try { var p = await resp.json(); detail = p.message || p.detail || p.title || ""; } catch (e) { /* not JSON */ }
      throw new Error("could not start a guest session: HTTP " + resp.status + (detail ? " (" + detail + ")" : ""));
    }
    var s = await resp.json();
    if (!s.token) throw new Error("could not start a guest session: the server sent no token");
    store(LS_TOKEN, s.token);
    store(LS_PLAYER, s.player_id || "");
    return s.token;
  }

  // ---- connection ----

  function wsURL() {
    var u = new URL("ws", location.href);
    u.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    return u.toString();
  }

  async function connect() {
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    setStatus("connecting", "connecting…");
    var token = load(LS_TOKEN);
    try {
      if (!token) token = await newSession();
    } catch (e) {
      showProblem("offline", e.message);
      scheduleReconnect();
      return;
    }
    var sock = new WebSocket(wsURL());
    ws = sock;
    sock.onopen = function () {
      lastFrameAt = Date.now();
      send({ type: "hello", token: token, protocol: PROTOCOL });
    };
    sock.onmessage = function (ev) {
      if (sock !== ws) return;
      lastFrameAt = Date.now();
      var f;
      try { f = JSON.parse(ev.data); } catch (e) {
        showError("bad_frame", "the server sent something that is not JSON");
        return;
      }
      handle(f);
    };
    sock.onclose = function (ev) {
      if (sock !== ws) return;
      ws = null;
      ready = false;
      failUnacked("not sent: the connection was lost");
      if (ev.code === CLOSE_BAD_AUTH) {
        // The token is no longer valid: get a new identity right away.
        store(LS_TOKEN, null);
      }
      setStatus("offline", "offline");
      scheduleReconnect();
    };
  }

  function scheduleReconnect() {
    if (reconnectTimer) return;
    // Exponential backoff with jitter, so many pages do not return at once
    // after a server restart.
    var base = Math.min(15000, 500 * Math.pow(2, attempts));
    var delay = base / 2 + Math.random() * base / 2;
    attempts++;
    setStatus("offline", "offline, retrying in " + Math.ceil(delay / 1000) + "s");
    reconnectTimer = setTimeout(connect, delay);
  }

  function reconnectNow() {
    if (ws || !reconnectTimer) return;
    connect();
  }
  window.addEventListener("online", reconnectNow);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") reconnectNow();
  });

  setInterval(function () {
    if (!ws || !ready) return;
    if (Date.now() - lastFrameAt > SILENCE_LIMIT_MS) {
      ws.close(); // a dead link; onclose reconnects
      return;
    }
    send({ type: "ping" });
  }, PING_EVERY_MS);

  function send(frame, meta) {
    frame.id = "w" + (++frameSeq);
    if (meta) requests.set(frame.id, meta);
    ws.send(JSON.stringify(frame));
    return frame.id;
  }

  // ---- frames ----

  function handle(f) {
    var req = f.ref ? requests.get(f.ref) : null;
    if (req && f.type !== "ack") requests.delete(f.ref);
    switch (f.type) {
      case "welcome": return onWelcome(f);
      case "characters": return onCharacters(f);
      case "chat_opened": return onChatOpened(f);
      case "ack": return onAck(f, req);
      case "delta": return onDelta(f);
      case "complete": return onComplete(f);
      case "error": return onError(f, req);
      case "pong": return;
      default: return; // frames from a newer server that this page does not know
    }
  }

  function onWelcome(f) {
    ready = true;
    attempts = 0;
    setStatus("online", "online");
    el.banner.hidden = !f.engine;
    el.banner.textContent = f.engine ? "Engine: " + f.engine : "";
    // Players must not mistake noise for a character's words.
    el.banner.classList.toggle("warn", /random|untrained|not a model/i.test(f.engine || ""));
    if (f.player_id) store(LS_PLAYER, f.player_id);
    send({ type: "list_characters" }, { kind: "list" });
    var want = current ? current.characterId : load(LS_CHAR);
    if (want) openChat(want, false);
  }

  function onCharacters(f) {
    characters = Array.isArray(f.characters) ? f.characters : [];
    el.listLoading.hidden = true;
    el.listError.hidden = true;
    el.characters.replaceChildren();
    if (characters.length === 0) {
      el.listLoading.hidden = false;
      el.listLoading.textContent = "No characters yet.";
    }
    characters.forEach(function (c) {
      var card = make("button", "character");
      card.type = "button";
      card.dataset.id = c.id;
      var av = make("div", "avatar");
      av.setAttribute("aria-hidden", "true");
      paintAvatar(av, c.name || "?");
      var body = make("div", "body");
      body.append(make("div", "name", c.name), make("div", "description", c.description || ""));
      if (Array.isArray(c.tags) && c.tags.length) {
        var tags = make("div", "tags");
        c.tags.forEach(function (t) { tags.append(make("span", "tag", t)); });
        body.append(tags);
      }
      card.append(av, body);
      card.addEventListener("click", function () { openChat(c.id, true); });
      el.characters.append(card);
    });
    if (current && !current.character) {
      var c = characters.find(function (x) { return x.id === current.characterId; });
      if (c) showChatHeader(c);
    }
  }

  function openChat(characterId, byUser) {
    if (!current || current.characterId !== characterId) {
      current = { characterId: characterId, conversationId: null, character: null };
      unsent = [];
      el.messages.replaceChildren(make("div", "message system", "Opening chat…"));
    }
    store(LS_CHAR, characterId);
    if (byUser) history.pushState({ chat: characterId }, "");
    var c = characters.find(function (x) { return x.id === characterId; });
    if (c) showChatHeader(c);
    el.listView.hidden = true;
    el.studioView.hidden = true;
    el.chatView.hidden = false;
    el.back.hidden = false;
    if (ready) send({ type: "open_chat", character_id: characterId }, { kind: "open", characterId: characterId });
  }

  function showChatHeader(c) {
    if (current) current.character = c;
    el.title.textContent = c.name;
    paintAvatar(el.chatAvatar, c.name || "?");
    el.chatName.textContent = c.name;
    el.chatDesc.textContent = c.description || "";
    document.title = c.name + " · Maopao";
  }

  function showList() {
    current = null;
    unsent = [];
    store(LS_CHAR, null);
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
    if (history.state && (history.state.chat || history.state.studio)) history.back(); else showList();
  });
  window.addEventListener("popstate", function (ev) {
    // The studio (studio.js) handles its own history entries.
    if (!(ev.state && (ev.state.chat || ev.state.studio))) showList();
  });
  // The studio leaves the chat through the same path as the back button.
  window.maopao = { showList: showList };

  function onChatOpened(f) {
    if (!current || !f.character || f.character.id !== current.characterId) return;
    current.conversationId = f.conversation_id;
    showChatHeader(f.character);
    var nodes = [];
    var hist = Array.isArray(f.history) ? f.history : [];
    if (f.character.scenario) nodes.push(messageNode("system scenario", null, f.character.scenario));
    if (hist.length === 0 && f.character.greeting) {
      nodes.push(messageNode("character greeting", f.character.name, f.character.greeting));
    }
    hist.forEach(function (m) {
      var n = m.role === "user" ? messageNode("user", "you", m.content)
        : m.role === "character" ? messageNode(m.greeting ? "character greeting" : "character", f.character.name, m.content)
          : messageNode("system", null, m.content);
      if (m.id) n.dataset.id = m.id;
      if (m.reply_to) n.dataset.replyTo = m.reply_to;
      nodes.push(n);
    });
    (f.pending || []).forEach(function (id) {
      nodes.push(replyPlaceholder(id));
    });
    el.messages.replaceChildren.apply(el.messages, nodes.concat(unsent));
    scrollDown(true);
    if (!matchMedia("(pointer: coarse)").matches) el.input.focus();
  }

  function onAck(f, req) {
    if (!req || req.kind !== "say") return;
    requests.delete(f.ref);
    unsent = unsent.filter(function (n) { return n !== req.el; });
    req.el.classList.remove("pending");
    req.el.dataset.id = f.message_id;
    setMeta(req.el, "");
    if (!findReply(null, f.message_id)) {
      el.messages.append(replyPlaceholder(f.message_id));
      scrollDown(false);
    }
  }

  function onDelta(f) {
    if (!current || f.conversation_id !== current.conversationId) return;
    var n = findReply(f.message_id, f.reply_to) || el.messages.appendChild(replyPlaceholder(f.reply_to));
    n.dataset.id = f.message_id;
    n.classList.remove("waiting");
    // Drop repeats of pieces already shown (a reconnect can replay them).
    var last = n.dataset.seq == null ? -1 : Number(n.dataset.seq);
    if (typeof f.seq === "number" && f.seq <= last) return;
    n.dataset.seq = String(f.seq);
    var text = n.querySelector(".text");
    text.append(document.createTextNode(f.text || ""));
    scrollDown(false);
  }

  function onComplete(f) {
    if (!current || f.conversation_id !== current.conversationId || !f.message) return;
    var m = f.message;
    var n = findReply(m.id, m.reply_to) || el.messages.appendChild(replyPlaceholder(m.reply_to));
    n.dataset.id = m.id;
    n.classList.remove("streaming", "waiting");
    n.classList.add("complete");
    setRichText(n.querySelector(".text"), m.content);
    scrollDown(false);
  }

  function onError(f, req) {
    var text = f.message || "something went wrong";
    if (req && req.kind === "say") {
      unsent = unsent.filter(function (n) { return n !== req.el; });
      markFailed(req.el, "not sent: " + text, req.text);
      return;
    }
    if (f.code === "bad_token" || f.code === "unauthenticated") {
      // The socket is about to close; forget the token so the reconnect
      // starts a new guest session.
      store(LS_TOKEN, null);
      showProblem("connecting", "Your guest session expired; starting a new one.");
      return;
    }
    if (f.reply_to && current && f.conversation_id === current.conversationId) {
      var n = findReply(null, f.reply_to);
      if (n) {
        n.classList.remove("streaming", "waiting");
        n.classList.add("failed");
      }
    }
    if (req && req.kind === "open") {
      showList();
    }
    showError(f.code, text);
  }

  // ---- messages ----

  function messageNode(kind, who, text) {
    var n = make("div", "message " + kind);
    if (who) n.append(make("div", "who", who));
    var body = make("div", "text");
    setRichText(body, text);
    n.append(body, make("div", "meta"));
    return n;
  }

  // Role-play text marks actions as *waves*; show them as emphasis. The
  // asterisks stay in the text, so what is shown is still exactly what was
  // written, and nothing is ever parsed as markup.
  function setRichText(node, text) {
    node.replaceChildren();
    var re = /\*[^*\n]+\*/g, at = 0, m;
    text = text || "";
    while ((m = re.exec(text)) !== null) {
      if (m.index > at) node.append(document.createTextNode(text.slice(at, m.index)));
      node.append(make("em", "action", m[0]));
      at = m.index + m[0].length;
    }
    if (at < text.length) node.append(document.createTextNode(text.slice(at)));
  }

  function replyPlaceholder(replyTo) {
    var name = current && current.character ? current.character.name : "";
    var n = messageNode("character streaming waiting", name, "");
    if (replyTo) n.dataset.replyTo = replyTo;
    return n;
  }

  function findReply(id, replyTo) {
    var all = el.messages.querySelectorAll(".message.character");
    for (var i = all.length - 1; i >= 0; i--) {
      var n = all[i];
      if ((id && n.dataset.id === id) || (replyTo && n.dataset.replyTo === replyTo)) return n;
    }
    return null;
  }

  function setMeta(n, text) {
    n.querySelector(".meta").replaceChildren(document.createTextNode(text));
  }

  function markFailed(n, why, text) {
    n.classList.remove("pending");
    n.classList.add("failed");
    setMeta(n, why);
    var retry = make("button", "retry", "retry");
    retry.type = "button";
    retry.addEventListener("click", function () {
      n.remove();
      unsent = unsent.filter(function (x) { return x !== n; });
      say(text);
    });
    n.querySelector(".meta").append(retry);
  }

  function failUnacked(why) {
    requests.forEach(function (req, id) {
      if (req.kind === "say") markFailed(req.el, why, req.text);
    });
    requests.clear();
  }

  // Errors go where the player is looking: into the chat when one is open,
  // above the character list otherwise.
  function showError(code, text) {
    var line = text + (code ? " [" + code + "]" : "");
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
    var m = el.messages;
    return m.scrollHeight - m.scrollTop - m.clientHeight < 120;
  }
  function scrollDown(force) {
    if (force || nearBottom()) el.messages.scrollTop = el.messages.scrollHeight;
  }

  // ---- composing ----

  function say(text) {
    if (!current) return;
    var n = messageNode("user pending", "you", text);
    setMeta(n, "sending…");
    el.messages.append(n);
    scrollDown(true);
    if (Array.from(text).length > MAX_SAY_RUNES) {
      markFailed(n, "not sent: longer than " + MAX_SAY_RUNES + " characters", text);
      return;
    }
    if (!ready || !current.conversationId) {
      markFailed(n, "not sent: offline", text);
      unsent.push(n);
      return;
    }
    unsent.push(n);
    send({ type: "say", conversation_id: current.conversationId, text: text }, { kind: "say", el: n, text: text });
  }

  el.composer.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = el.input.value.trim();
    if (!text) return;
    el.input.value = "";
    autosize();
    say(text);
  });

  el.input.addEventListener("keydown", function (ev) {
    // Enter while an IME is composing (Chinese, Japanese…) confirms the
    // composition; it must not send.
    if (ev.key !== "Enter" || ev.shiftKey || ev.isComposing || ev.keyCode === 229) return;
    ev.preventDefault();
    el.composer.requestSubmit();
  });

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
  connect();
})();
