// Maopao web client: the parts of the world view (world.js) that need no
// connection: the map of a world's places and the sim clock.

import { button, make } from "./dom.js";

// drawMap puts the places where the world's creator placed them or, when
// some have no place on the map, lays them out in rows by walking distance
// from the first one (connections taken both ways; places no path reaches
// go below), paths drawn underneath. Only places next to here can be
// clicked.
export function drawMap(container, locs, here, onMove) {
  const byId = new Map(locs.map(function (l) { return [l.id, l]; }));
  const near = new Set(locs.filter(function (l) { return l.id === here; }).flatMap(function (l) { return l.connections || []; }));
  const row = new Map(), order = [];
  locs.forEach(function (start) {
    if (row.has(start.id)) return;
    const base = order.length ? Math.max.apply(null, order.map(function (id) { return row.get(id); })) + 1 : 0;
    const queue = [start.id];
    row.set(start.id, base);
    while (queue.length) {
      const id = queue.shift();
      order.push(id);
      locs.forEach(function (l) {
        const linked = (byId.get(id).connections || []).indexOf(l.id) >= 0 || (l.connections || []).indexOf(id) >= 0;
        if (linked && !row.has(l.id)) { row.set(l.id, row.get(id) + 1); queue.push(l.id); }
      });
    }
  });
  const rows = [];
  order.forEach(function (id) { (rows[row.get(id)] = rows[row.get(id)] || []).push(id); });
  const pos = mapPositions(locs, rows);
  container.style.setProperty("--rows", String(Math.max(rows.length, 1)));
  const svgNS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(svgNS, "svg");
  svg.setAttribute("viewBox", "0 0 100 100");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("aria-hidden", "true");
  svg.classList.add("map-lines");
  locs.forEach(function (l) {
    (l.connections || []).forEach(function (to) {
      if (!pos.has(to) || (l.id > to && (byId.get(to).connections || []).indexOf(l.id) >= 0)) return;
      const a = pos.get(l.id), b = pos.get(to);
      const line = document.createElementNS(svgNS, "line");
      line.setAttribute("x1", a.x); line.setAttribute("y1", a.y);
      line.setAttribute("x2", b.x); line.setAttribute("y2", b.y);
      if ((l.id === here && near.has(to)) || (to === here && near.has(l.id))) line.classList.add("open");
      svg.append(line);
    });
  });
  const nodes = [svg];
  locs.forEach(function (l) {
    const b = button("location");
    b.dataset.id = l.id;
    b.append(make("span", "location-name", l.name));
    const p = pos.get(l.id);
    b.style.left = p.x + "%";
    b.style.top = p.y + "%";
    if (l.description) b.title = l.description;
    if (l.id === here) {
      b.classList.add("current");
      b.append(make("span", "location-you", "you are here"));
      b.setAttribute("aria-current", "location");
    } else if (near.has(l.id)) {
      b.classList.add("reachable");
      b.title = "Walk to " + l.name;
      b.addEventListener("click", function () { onMove(l.id); });
    } else {
      b.disabled = true;
      b.title = l.name + " is not next to where you are";
    }
    nodes.push(b);
  });
  container.replaceChildren.apply(container, nodes);
}

// mapPositions is where each place goes, in percent: the creator's
// positions when every place has one (kept off the very edges, where a
// label would be cut), the rows otherwise.
export function mapPositions(locs, rows) {
  const pos = new Map();
  const placed = locs.length > 0 && locs.every(function (l) { return l.map && isFinite(l.map.x) && isFinite(l.map.y); });
  if (placed) {
    const clamp = function (v) { return Math.min(92, Math.max(8, v)); };
    locs.forEach(function (l) { pos.set(l.id, { x: clamp(l.map.x), y: clamp(l.map.y) }); });
    return pos;
  }
  rows.forEach(function (ids, r) {
    ids.forEach(function (id, k) { pos.set(id, { x: (k + 0.5) / ids.length * 100, y: (r + 0.5) / rows.length * 100 }); });
  });
  return pos;
}

// worldClock follows the world's time. The world's pace is not in the
// protocol, so it is estimated from the times events carry, and the
// clock moves between events at that pace.
export function worldClock() {
  const c = { minute: -1, at: 0, rate: 0, anchorMinute: -1, anchorAt: 0, shown: -1 };
  return {
    observe: function (minute) {
      if (typeof minute !== "number" || minute < 0) return;
      const t = Date.now();
      if (c.anchorMinute < 0 || minute < c.anchorMinute) {
        c.anchorMinute = minute;
        c.anchorAt = t;
        c.shown = -1;
      } else if (t - c.anchorAt > 4000) {
        c.rate = Math.min(600, (minute - c.anchorMinute) / ((t - c.anchorAt) / 1000));
      }
      c.minute = minute;
      c.at = t;
    },
    // now is the estimated sim minute, -1 before any is known. It never
    // goes backwards: a line's time is when it began, and it may arrive
    // after the estimate has passed it.
    now: function () {
      if (c.minute < 0) return -1;
      c.shown = Math.max(c.shown, Math.floor(c.minute + c.rate * (Date.now() - c.at) / 1000));
      return c.shown;
    }
  };
}
