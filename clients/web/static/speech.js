// Maopao web client: characters speak. With the server's speech backend
// (GET api/v1/speech says so) a reply is spoken a sentence at a time as it
// streams (POST api/v1/speech) and a stored message whole (GET
// api/v1/messages/{id}/speech); without one, the browser's own voices
// speak, in the character's language. Each message has play/stop; the
// auto-play toggle speaks replies as they come.

import { load, store } from "./dom.js";

const LS_AUTO = "maopao.autoplay";
const SENTENCE_END = /[.!?…。！？\n]/;

let serverSpeech = null; // a promise of true/false
let token = function () { return Promise.resolve(""); };
let queue = Promise.resolve();
let generation = 0;      // bumped by stop(): queued pieces of an older one are dropped
let playing = null;      // the <audio> speaking now
let speakingNode = null;
const streams = new Map(); // reply key → {said, pending}

// init tells the module how to get the page's token.
export function init(getToken) {
  token = getToken;
}

function hasServer() {
  if (!serverSpeech) {
    serverSpeech = fetch("api/v1/speech").then(function (r) { return r.ok ? r.json() : {}; })
      .then(function (info) { return !!info.server; }).catch(function () { return false; });
  }
  return serverSpeech;
}

export function autoplay() { return load(LS_AUTO) === "1"; }
export function setAutoplay(on) {
  store(LS_AUTO, on ? "1" : null);
  if (!on) stop();
}

// stop silences everything now and drops what was queued.
export function stop() {
  generation++;
  if (playing) { playing.pause(); playing = null; }
  if (window.speechSynthesis) window.speechSynthesis.cancel();
  queue = Promise.resolve();
  streams.clear();
  mark(null);
}

function mark(node) {
  if (speakingNode) speakingNode.classList.remove("speaking");
  speakingNode = node;
  if (node) node.classList.add("speaking");
}

export function speakingNow(node) { return speakingNode === node; }

// browserVoice picks one of the browser's voices for a language.
function browserVoice(lang) {
  if (!window.speechSynthesis) return null;
  const voices = window.speechSynthesis.getVoices();
  const want = (lang || "en-US").toLowerCase();
  return voices.find(function (v) { return v.lang.toLowerCase() === want; }) ||
    voices.find(function (v) { return v.lang.toLowerCase().slice(0, 2) === want.slice(0, 2); }) || null;
}

function sayInBrowser(text, lang, gen, node) {
  return new Promise(function (resolve) {
    if (!window.speechSynthesis || gen !== generation) { resolve(); return; }
    const u = new SpeechSynthesisUtterance(text);
    u.lang = lang || "en-US";
    const v = browserVoice(lang);
    if (v) u.voice = v;
    u.onend = u.onerror = function () { resolve(); };
    mark(node);
    window.__maopaoSpoke = (window.__maopaoSpoke || 0) + 1; // for tests and curious developers
    window.speechSynthesis.speak(u);
    // Headless browsers may never end an utterance: do not wait forever.
    setTimeout(resolve, 2000 + 120 * text.length);
  });
}

function playAudio(blob, gen, node) {
  return new Promise(function (resolve) {
    if (gen !== generation) { resolve(); return; }
    const url = URL.createObjectURL(blob);
    const a = new Audio(url);
    playing = a;
    mark(node);
    const done = function () { URL.revokeObjectURL(url); if (playing === a) playing = null; resolve(); };
    a.onended = done;
    a.onerror = done;
    a.play().then(function () { window.__maopaoPlayed = (window.__maopaoPlayed || 0) + 1; }).catch(done);
  });
}

async function fetchAudio(method, path, body) {
  const t = await token();
  const init = { method: method, headers: { Authorization: "Bearer " + t } };
  if (body) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const r = await fetch(path, init);
  if (!r.ok) throw new Error("HTTP " + r.status);
  return r.blob();
}

// enqueue speaks one piece after the ones before it; fetch starts at once
// so the next sentence is ready when the last ends.
function enqueue(fetchPiece, sayFallback, node) {
  const gen = generation;
  const ready = hasServer().then(function (server) {
    return server ? fetchPiece().catch(function () { return null; }) : null;
  });
  queue = queue.then(async function () {
    if (gen !== generation) return;
    const blob = await ready;
    if (blob) await playAudio(blob, gen, node); else await sayFallback(gen);
  }).then(function () { if (gen === generation && speakingNode === node) mark(null); });
}

// speakMessage speaks a stored message whole (its play button).
export function speakMessage(node, m, conversationId, lang) {
  stop();
  enqueue(function () { return fetchAudio("GET", "api/v1/messages/" + encodeURIComponent(m.id) + "/speech"); },
    function (gen) { return sayInBrowser(m.content || "", lang, gen, node); }, node);
}

// streamed follows a reply as it streams: with auto-play on, each
// finished sentence is spoken; final flushes the rest.
export function streamed(key, node, text, conversationId, lang, final) {
  if (!autoplay()) return;
  let s = streams.get(key);
  if (!s) { s = { said: 0 }; streams.set(key, s); }
  const rest = text.slice(s.said);
  let cut = -1;
  for (let i = 0; i < rest.length; i++) {
    if (SENTENCE_END.test(rest[i]) && (i + 1 === rest.length ? final : /\s/.test(rest[i + 1]) || /[。！？…\n]/.test(rest[i]))) cut = i + 1;
  }
  if (final) cut = rest.length;
  if (cut <= 0) return;
  const piece = rest.slice(0, cut).trim();
  s.said += cut;
  if (final) streams.delete(key);
  if (!piece) return;
  enqueue(function () { return fetchAudio("POST", "api/v1/speech", { conversation_id: conversationId, text: piece }); },
    function (gen) { return sayInBrowser(piece, lang, gen, node); }, node);
}
