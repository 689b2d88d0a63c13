// Maopao web client: pictures in chat. A player attaches pictures with the
// button, by pasting or by dropping them on the chat; each is uploaded at
// once (POST /api/v1/pictures, with the page's token) and shown as a
// thumbnail in the composer until the line goes out with their ids.
// Messages show their pictures from /api/v1/pictures/{id}.

import { button, make } from "./dom.js";

const MAX_PER_LINE = 4;
const MAX_BYTES = 10 << 20;
const TYPES = ["image/png", "image/jpeg", "image/webp"];

// pictureURL is where a stored picture is served.
export function pictureURL(id) { return "api/v1/pictures/" + encodeURIComponent(id); }

// pictureStrip shows a message's pictures; clicking one opens it whole.
export function pictureStrip(ids) {
  const strip = make("div", "pictures");
  ids.forEach(function (id) {
    const a = make("a", "picture");
    a.href = pictureURL(id);
    a.target = "_blank";
    a.rel = "noopener";
    const img = make("img");
    img.src = pictureURL(id);
    img.alt = "a picture";
    img.loading = "lazy";
    img.dataset.id = id;
    a.append(img);
    strip.append(a);
  });
  return strip;
}

// attacher wires the composer: files to upload, their thumbnails, and
// what the line will carry. token() gives the page's token; onChange is
// called when the set of pictures changes (the send button may follow).
export function attacher(opts) {
  const items = []; // {file, url, id, failed, node}
  const prefix = opts.idPrefix || ""; // two composers on the page: ids apart
  const strip = make("div", "attachments");
  strip.id = prefix + "attachments";
  strip.hidden = true;
  const input = make("input");
  input.type = "file";
  input.accept = TYPES.join(",");
  input.multiple = true;
  input.hidden = true;
  input.id = prefix + "attach-file";
  const attach = button("icon-button attach-button", "📎", function () { input.click(); });
  attach.id = prefix + "attach";
  attach.title = "Attach a picture (or paste, or drop one here)";
  attach.setAttribute("aria-label", "Attach a picture");
  input.addEventListener("change", function () {
    Array.from(input.files || []).forEach(add);
    input.value = "";
  });
  opts.composer.insertBefore(strip, opts.composer.firstChild);
  opts.composer.insertBefore(attach, opts.input);
  opts.composer.append(input);

  opts.input.addEventListener("paste", function (ev) {
    const files = Array.from((ev.clipboardData && ev.clipboardData.files) || []).filter(function (f) { return f.type.indexOf("image/") === 0; });
    if (files.length) {
      ev.preventDefault();
      files.forEach(add);
    }
  });
  opts.dropZone.addEventListener("dragover", function (ev) {
    if (ev.dataTransfer && Array.from(ev.dataTransfer.types || []).indexOf("Files") >= 0) {
      ev.preventDefault();
      opts.dropZone.classList.add("dropping");
    }
  });
  opts.dropZone.addEventListener("dragleave", function () { opts.dropZone.classList.remove("dropping"); });
  opts.dropZone.addEventListener("drop", function (ev) {
    opts.dropZone.classList.remove("dropping");
    const files = Array.from((ev.dataTransfer && ev.dataTransfer.files) || []);
    if (!files.length) return;
    ev.preventDefault();
    files.forEach(add);
  });

  function render() {
    strip.hidden = items.length === 0;
    strip.replaceChildren.apply(strip, items.map(function (it) { return it.node; }));
    opts.onChange();
  }

  function add(file) {
    if (items.length >= MAX_PER_LINE) {
      opts.onProblem("A line carries at most " + MAX_PER_LINE + " pictures.");
      return;
    }
    if (TYPES.indexOf(file.type) < 0) {
      opts.onProblem("“" + file.name + "” is not a PNG, JPEG or WebP picture.");
      return;
    }
    if (file.size > MAX_BYTES) {
      opts.onProblem("“" + file.name + "” is larger than 10 MiB.");
      return;
    }
    const it = { file: file, url: URL.createObjectURL(file), id: "", failed: "" };
    it.node = make("div", "attachment uploading");
    const img = make("img");
    img.src = it.url;
    img.alt = file.name;
    const remove = button("attachment-remove", "×", function () {
      items.splice(items.indexOf(it), 1);
      URL.revokeObjectURL(it.url);
      render();
    });
    remove.setAttribute("aria-label", "Remove " + file.name);
    it.node.append(img, remove);
    items.push(it);
    render();
    upload(it);
  }

  async function upload(it) {
    try {
      const token = await opts.token();
      const resp = await fetch("api/v1/pictures", { method: "POST", headers: { Authorization: "Bearer " + token, "Content-Type": it.file.type }, body: it.file });
      const body = await resp.json().catch(function () { return {}; });
      if (!resp.ok) throw new Error(body.detail || ("HTTP " + resp.status));
      it.id = body.id;
      it.node.classList.remove("uploading");
      it.node.dataset.id = it.id;
    } catch (e) {
      it.failed = e.message;
      it.node.classList.remove("uploading");
      it.node.classList.add("failed");
      it.node.title = "Not uploaded: " + e.message;
      opts.onProblem("The picture could not be uploaded: " + e.message);
    }
    opts.onChange();
  }

  return {
    // busy: some picture is still uploading.
    busy: function () { return items.some(function (it) { return !it.id && !it.failed; }); },
    // count is how many pictures are ready to go.
    count: function () { return items.filter(function (it) { return it.id; }).length; },
    // take returns the uploaded pictures' ids and empties the composer.
    take: function () {
      const ids = items.filter(function (it) { return it.id; }).map(function (it) { return it.id; });
      items.forEach(function (it) { URL.revokeObjectURL(it.url); });
      items.length = 0;
      render();
      return ids;
    }
  };
}
