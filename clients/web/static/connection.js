// Maopao web client: the one WebSocket client of the page, protocol v1 over
// /ws. app.js (the character chat) keeps one open for the whole visit;
// world.js opens one while the world view is shown. A Connection says hello
// with the guest token, numbers its frames and remembers what each request
// was for (so the answer's ref finds it), pings, notices a dead link, and
// reconnects with backoff until its owner closes it.

import { load, store } from "./dom.js";

const PROTOCOL = 1;
const LS_TOKEN = "maopao.token";
const LS_PLAYER = "maopao.player";
const CLOSE_BAD_AUTH = 4001;
const PING_EVERY_MS = 25000;
const SILENCE_LIMIT_MS = 60000;

// ---- the guest identity, shared by every connection of the page ----

let newSessionInFlight = null;

async function newSession() {
  const resp = await fetch("api/v1/session", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: "{}"
  });
  if (!resp.ok) {
    let detail = "";
    try { const p = await resp.json(); detail = p.message || p.detail || p.title || ""; } catch (e) { /* not JSON */ }
    throw new Error("could not start a guest session: HTTP " + resp.status + (detail ? " (" + detail + ")" : ""));
  }
  const s = await resp.json();
  if (!s.token) throw new Error("could not start a guest session: the server sent no token");
  store(LS_TOKEN, s.token);
  store(LS_PLAYER, s.player_id || "");
  return s.token;
}

// guestToken is the stored guest token, or a new guest session's. Two
// connections asking at once share one new session.
export function guestToken() {
  const t = load(LS_TOKEN);
  if (t) return Promise.resolve(t);
  if (!newSessionInFlight) newSessionInFlight = newSession().finally(() => { newSessionInFlight = null; });
  return newSessionInFlight;
}

// forgetToken drops the stored guest token, the server having refused it;
// the next connect starts a new guest session. Given the refused token, it
// drops the stored one only if that is still it: another connection may
// have replaced it already, and the page must not end up as two guests.
export function forgetToken(refused) {
  if (refused === undefined || load(LS_TOKEN) === refused) store(LS_TOKEN, null);
}

// storedPlayer is the player id the last session or welcome gave.
export function storedPlayer() {
  return load(LS_PLAYER) || "";
}

function wsURL() {
  const u = new URL("ws", location.href);
  u.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  return u.toString();
}

// Connection is one WebSocket to the gateway that comes back by itself.
// Callbacks, all optional:
//   token()              a promise of the token for hello; by default the
//                        guest's (guestToken), whose player id the welcome
//                        then stores
//   onStatus(kind, text) kind "connecting", "online" or "offline"
//   onWelcome(frame)     the server said welcome: ready; send the state again
//                        (open chat, joined world) after a reconnect
//   onFrame(frame, req)  every other frame but pong; req is the metadata
//                        send() was given for the frame's ref, if any
//   onLost(reqs)         the socket closed: the metadata of every request
//                        still waiting for an answer, now forgotten
//   onBadAuth(token)     the server closed with 4001: this token is bad
//   onSessionError(err)  token() failed (the reconnect is already planned)
//   onBadFrame()         the server sent something that is not JSON
// newMessageID names a line on the client, so that sending it again after
// a lost ack is the same line to the server (client_message_id). Pages
// served over plain HTTP on a LAN address have no crypto.randomUUID.
export function newMessageID() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

export class Connection {
  #opts;
  #prefix;
  #ws = null;            // the current socket, null between sockets
  #token = "";           // the token its hello gave
  #ready = false;        // welcome received on the current socket
  #active = false;       // between open() and close()
  #generation = 0;       // numbers the calls of #connect
  #connecting = 0;       // the one waiting for its token, 0 when none
  #attempts = 0;         // failed connects since the last welcome
  #reconnectTimer = null;
  #pingTimer = null;
  #lastFrameAt = 0;
  #frameSeq = 0;
  #requests = new Map(); // frame id → the caller's metadata

  // prefix starts every frame id this connection sends ("w1", "w2"…).
  constructor(prefix, opts) {
    this.#prefix = prefix;
    this.#opts = opts || {};
    const reconnectNow = () => {
      if (this.#ws || !this.#reconnectTimer) return;
      this.#connect();
    };
    window.addEventListener("online", reconnectNow);
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") reconnectNow();
    });
  }

  // ready says whether the current socket has been welcomed: requests may
  // be sent.
  get ready() { return this.#ready; }

  // connected says whether a socket is open or opening.
  get connected() { return this.#ws !== null; }

  // token is the token the current or last socket said hello with.
  get token() { return this.#token; }

  // open connects, and keeps reconnecting until close(). On an open
  // connection it does nothing; while a reconnect waits it connects now.
  open() {
    if (!this.#active) {
      this.#active = true;
      this.#pingTimer = setInterval(() => this.#ping(), PING_EVERY_MS);
    }
    if (this.#ws || this.#connecting) return;
    this.#connect();
  }

  // close closes the socket and stops reconnecting. Requests still waiting
  // are forgotten without onLost: the owner is leaving.
  close() {
    this.#active = false;
    this.#connecting = 0;
    clearInterval(this.#pingTimer);
    this.#pingTimer = null;
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = null;
    const sock = this.#ws;
    this.#ws = null;
    this.#ready = false;
    this.#requests.clear();
    if (sock) sock.close();
  }

  // send sends a frame with the next id, remembering meta (if given) for
  // the answers that name it in ref, and returns the id. Without a socket
  // it drops the frame and returns null. On a socket that is not open (a
  // dead link being closed) the frame is dropped but its request kept, so
  // onLost reports it when the close completes.
  send(frame, meta) {
    const sock = this.#ws;
    if (!sock) return null;
    frame.id = this.#prefix + (++this.#frameSeq);
    if (meta) this.#requests.set(frame.id, meta);
    if (sock.readyState === WebSocket.OPEN) sock.send(JSON.stringify(frame));
    return frame.id;
  }

  // forget drops the metadata of a request that needs no more answers. An
  // answer other than ack forgets its request by itself; after an ack the
  // owner decides.
  forget(id) {
    this.#requests.delete(id);
  }

  // pending lists the requests still remembered, as [id, meta] pairs.
  pending() {
    return Array.from(this.#requests.entries());
  }

  #status(kind, text) {
    if (this.#opts.onStatus) this.#opts.onStatus(kind, text);
  }

  async #connect() {
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = null;
    const gen = ++this.#generation;
    this.#connecting = gen;
    this.#status("connecting", "connecting…");
    let token;
    try {
      token = await (this.#opts.token || guestToken)();
    } catch (e) {
      if (this.#connecting !== gen) return;
      this.#connecting = 0;
      if (this.#opts.onSessionError) this.#opts.onSessionError(e);
      this.#scheduleReconnect();
      return;
    }
    // Closed, or another connect took over, while the token came.
    if (this.#connecting !== gen) return;
    this.#connecting = 0;
    if (!this.#active) return;
    const sock = new WebSocket(wsURL());
    this.#ws = sock;
    this.#token = token;
    sock.onopen = () => {
      if (sock !== this.#ws) return;
      this.#lastFrameAt = Date.now();
      this.send({ type: "hello", token: token, protocol: PROTOCOL });
    };
    sock.onmessage = (ev) => {
      if (sock !== this.#ws) return;
      this.#lastFrameAt = Date.now();
      let f;
      try { f = JSON.parse(ev.data); } catch (e) {
        if (this.#opts.onBadFrame) this.#opts.onBadFrame();
        return;
      }
      this.#handle(f);
    };
    sock.onclose = (ev) => {
      if (sock !== this.#ws) return;
      this.#ws = null;
      this.#ready = false;
      const lost = Array.from(this.#requests.values());
      this.#requests.clear();
      if (this.#opts.onLost) this.#opts.onLost(lost);
      if (ev.code === CLOSE_BAD_AUTH && this.#opts.onBadAuth) this.#opts.onBadAuth(token);
      this.#status("offline", "offline");
      this.#scheduleReconnect();
    };
  }

  #scheduleReconnect() {
    if (this.#reconnectTimer || !this.#active) return;
    // Exponential backoff with jitter, so many pages do not return at once
    // after a server restart.
    const base = Math.min(15000, 500 * Math.pow(2, this.#attempts));
    const delay = base / 2 + Math.random() * base / 2;
    this.#attempts++;
    this.#status("offline", "offline, retrying in " + Math.ceil(delay / 1000) + "s");
    this.#reconnectTimer = setTimeout(() => this.#connect(), delay);
  }

  #ping() {
    if (!this.#ws || !this.#ready) return;
    if (Date.now() - this.#lastFrameAt > SILENCE_LIMIT_MS) {
      this.#ws.close(); // a dead link; onclose reconnects
      return;
    }
    this.send({ type: "ping" });
  }

  #handle(f) {
    const req = f.ref ? this.#requests.get(f.ref) : undefined;
    if (req && f.type !== "ack") this.#requests.delete(f.ref);
    switch (f.type) {
      case "welcome":
        this.#ready = true;
        this.#attempts = 0;
        // The guest's player id, when this is the guest's token.
        if (f.player_id && !this.#opts.token) store(LS_PLAYER, f.player_id);
        this.#status("online", "online");
        if (this.#opts.onWelcome) this.#opts.onWelcome(f);
        return;
      case "pong":
        return;
      default:
        if (this.#opts.onFrame) this.#opts.onFrame(f, req || null);
    }
  }
}
