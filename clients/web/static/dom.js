// Maopao web client: the DOM and storage helpers every module shares. Text
// from the server or the player goes into the page through textContent
// (make, button) or form values, never as markup.

// $ is the element with this id, or null.
export const $ = (id) => document.getElementById(id);

// make is a new element with an optional class and text.
export function make(tag, cls, text) {
  const n = document.createElement(tag);
  if (cls) n.className = cls;
  if (text != null) n.textContent = text;
  return n;
}

// button is a <button type="button">; onClick is optional.
export function button(cls, text, onClick) {
  const b = make("button", cls, text);
  b.type = "button";
  if (onClick) b.addEventListener("click", onClick);
  return b;
}

// paintAvatar gives a name a stable colour and its first letter, so
// avatars are recognisable at a glance.
export function paintAvatar(node, name) {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) % 360;
  node.style.setProperty("--hue", String(h));
  node.textContent = Array.from(name.trim())[0] || "?";
}

// enterSubmits makes Enter in a textarea submit its form; Shift+Enter
// still makes a new line, and Enter while an IME is composing (Chinese,
// Japanese…) confirms the composition instead of sending.
export function enterSubmits(textarea) {
  textarea.addEventListener("keydown", (ev) => {
    if (ev.key !== "Enter" || ev.shiftKey || ev.isComposing || ev.keyCode === 229) return;
    ev.preventDefault();
    textarea.form.requestSubmit();
  });
}

// store keeps a value in localStorage (null removes it); load reads one
// back. In private mode storage may throw: the page still works for the
// visit, it just forgets.
export function store(key, value) {
  try {
    if (value == null) localStorage.removeItem(key); else localStorage.setItem(key, value);
  } catch (e) { /* private mode: the page still works for this visit */ }
}

export function load(key) {
  try { return localStorage.getItem(key); } catch (e) { return null; }
}

// loadJSON is a stored JSON value, null when absent or unreadable.
export function loadJSON(key) {
  try { return JSON.parse(load(key) || "null"); } catch (e) { return null; }
}
