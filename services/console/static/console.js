// Sightline console: poll the JSON API, draw the frame's overlay in SVG, edit lines and zones.
// Plain ES2020, no build step, no download: works offline.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const POLL_MS = 400;
const $ = (id) => document.getElementById(id);

const state = {
  cameras: [], camera: null, detail: null, eventSeq: -1, frameSeq: -1,
  draft: null, baseline: null, dirty: false, selected: null, drawing: null, drag: null,
  savedAt: null, lastCheck: null,
};

// -- helpers --------------------------------------------------------------------------------

function el(tag, attrs = {}, text = null) {
  const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) node.setAttribute(k, v);
  if (text !== null) node.textContent = text;
  return node;
}
const clone = (x) => JSON.parse(JSON.stringify(x));
const size = () => [state.detail?.width || 1280, state.detail?.height || 720];
const round = (v, units) => units === "px" ? Math.round(v * 10) / 10 : Math.round(v * 100) / 100;
function toPx(shape, p) { const [w, h] = size(); return shape.units === "px" ? p : [p[0] * w / 100, p[1] * h / 100]; }
function fromPx(shape, p) {
  const [w, h] = size();
  const x = Math.min(Math.max(p[0], 0), w), y = Math.min(Math.max(p[1], 0), h);
  return shape.units === "px" ? [round(x, "px"), round(y, "px")] : [round(x * 100 / w, "pct"), round(y * 100 / h, "pct")];
}
const label = (s) => s.name || s.description || "";
function zonePoints(zone) {
  if (zone.points) return zone.points.map((p) => toPx(zone, p));
  const [w, h] = size();
  const x1 = zone.x1_pct * w / 100, y1 = zone.y1_pct * h / 100, x2 = zone.x2_pct * w / 100, y2 = zone.y2_pct * h / 100;
  return [[x1, y1], [x2, y1], [x2, y2], [x1, y2]];
}
function linePoints(line) {
  const [w, h] = size();
  if (line.type === "vertical") { const x = (line.position_pct ?? 50) * w / 100; return [[x, 0], [x, h]]; }
  if (line.type === "horizontal") { const y = (line.position_pct ?? 50) * h / 100; return [[0, y], [w, y]]; }
  return (line.points || []).map((p) => toPx(line, p));
}
function trackColour(id) { return id === null ? "#aaaaaa" : `hsl(${(id * 67) % 360} 90% 60%)`; }

async function api(path, options = {}) {
  const response = await fetch(path, { credentials: "same-origin", ...options });
  if (response.status === 401) { window.location.href = "login"; throw new Error("unauthorized"); }
  return response;
}

// -- polling --------------------------------------------------------------------------------

async function poll() {
  try {
    const data = await (await api("api/cameras")).json();
    $("conn").textContent = "live"; $("conn").className = "conn ok";
    $("logout").hidden = !data.auth;
    state.cameras = data.cameras;
    if (!state.camera && data.cameras.length) {
      const wanted = decodeURIComponent(location.hash.replace(/^#camera=/, ""));
      selectCamera(data.cameras.some((c) => c.camera_id === wanted) ? wanted : data.cameras[0].camera_id);
    }
    renderCameras();
    if (state.camera) await pollCamera();
    if (data.event_seq !== state.eventSeq) {
      state.eventSeq = data.event_seq;
      renderEvents((await (await api("api/events")).json()).events);
    }
  } catch (err) {
    $("conn").textContent = "console unreachable"; $("conn").className = "conn bad";
  } finally {
    setTimeout(poll, POLL_MS);
  }
}

async function pollCamera() {
  const response = await api(`api/cameras/${encodeURIComponent(state.camera)}`);
  if (!response.ok) return;
  const detail = await response.json();
  if (detail.camera_id !== state.camera) return;
  state.detail = detail;
  const meta = [];
  if (detail.device_id) meta.push(`device ${detail.device_id}`);
  if (detail.width) meta.push(`${detail.width}×${detail.height}`);
  if (detail.frame_number !== null) meta.push(`frame ${detail.frame_number}`);
  if (detail.fps !== null && detail.fps !== undefined) meta.push(`${Number(detail.fps).toFixed(1)} fps`);
  $("camera-meta").textContent = meta.join(" · ");
  if (detail.frame_seq !== state.frameSeq && detail.has_frame) {
    state.frameSeq = detail.frame_seq;
    const next = new Image();
    next.onload = () => { $("frame").src = next.src; $("frame").hidden = false; $("noframe").hidden = true; };
    next.src = `api/cameras/${encodeURIComponent(state.camera)}/frame.jpg?seq=${detail.frame_seq}`;
  }
  const engineConfig = detail.engine && detail.engine.config ? detail.engine.config : null;
  const engineText = JSON.stringify(engineConfig);
  if (state.draft === null || (!state.dirty && !state.drawing && engineText !== state.baseline)) {
    state.baseline = engineText;
    state.draft = engineConfig ? clone(engineConfig) : { lines: [], zones: [], events: [] };
    state.draft.lines ||= []; state.draft.zones ||= [];
    state.selected = null;
    renderShapes(); check();
  }
  renderEngineStatus();
  renderOverlay();
}

function selectCamera(id) {
  state.camera = id; state.detail = null; state.draft = null; state.baseline = null; state.dirty = false;
  state.selected = null; state.drawing = null; state.frameSeq = -1; state.savedAt = null;
  $("frame").hidden = true; $("noframe").hidden = false;
  $("camera-title").textContent = id;
  history.replaceState(null, "", `#camera=${encodeURIComponent(id)}`);
  $("save-status").textContent = ""; $("errors").replaceChildren(); $("yaml").textContent = "";
  renderCameras(); renderShapes();
}

// -- rendering ------------------------------------------------------------------------------

function renderCameras() {
  const list = $("camera-list");
  if (!state.cameras.length) return;
  list.replaceChildren(...state.cameras.map((c) => {
    const status = c.status === "offline" ? "offline" : c.live ? "online" : c.status === "online" ? "quiet" : "";
    const li = el("li", { "data-camera": c.camera_id, class: c.camera_id === state.camera ? "selected" : "" });
    li.append(el("span", { class: `dot ${status}`, title: c.status || "no status" }), el("span", {}, c.camera_id));
    const bits = [];
    if (c.fps !== null && c.fps !== undefined) bits.push(`${Number(c.fps).toFixed(1)} fps`);
    bits.push(c.age_s === null ? "no envelope yet" : `last ${c.age_s}s ago`);
    if (c.status) bits.push(c.status);
    li.append(el("span", { class: "meta" }, bits.join(" · ")));
    li.addEventListener("click", () => selectCamera(c.camera_id));
    return li;
  }));
}

function renderOverlay() {
  const svg = $("overlay");
  const [w, h] = size();
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  if (!state.detail?.has_frame) $("noframe").style.aspectRatio = `${w} / ${h}`;
  const font = Math.max(12, w / 70), stroke = Math.max(2, w / 400);
  const nodes = [];
  const draft = state.draft || { lines: [], zones: [] };
  draft.zones.forEach((zone, i) => {
    const pts = zonePoints(zone);
    const sel = state.selected?.kind === "zones" && state.selected.index === i;
    nodes.push(el("svg:polygon", { points: pts.map((p) => p.join(",")).join(" "), class: "shape", "data-kind": "zones", "data-index": i,
      fill: sel ? "rgba(78,161,255,0.28)" : "rgba(0,200,255,0.16)", stroke: sel ? "#4ea1ff" : "#00c8ff", "stroke-width": stroke }));
    const cx = pts.reduce((a, p) => a + p[0], 0) / pts.length, cy = pts.reduce((a, p) => a + p[1], 0) / pts.length;
    nodes.push(el("svg:text", { x: cx, y: cy, fill: "#9ee8ff", "font-size": font, "text-anchor": "middle" }, label(zone)));
  });
  draft.lines.forEach((line, i) => drawLine(nodes, line, i, font, stroke));
  const boxes = state.detail?.has_frame ? state.detail.frame_boxes : state.detail?.boxes;
  for (const box of boxes || []) {
    const [x1, y1, x2, y2] = box.bbox, colour = trackColour(box.track_id);
    nodes.push(el("svg:rect", { x: x1, y: y1, width: x2 - x1, height: y2 - y1, fill: "none", stroke: colour, "stroke-width": stroke * 0.75, "pointer-events": "none", class: "box" }));
    const text = `${box.track_id === null ? "" : "#" + box.track_id + " "}${box.class_name}`;
    nodes.push(el("svg:text", { x: x1, y: Math.max(font, y1 - 4), fill: colour, "font-size": font * 0.8 }, text));
  }
  if (state.selected && !state.drawing) drawHandles(nodes, font);
  if (state.drawing) {
    const d = state.drawing, pts = d.points.map((p) => toPx(d, p));
    const tag = d.kind === "zones" ? "svg:polygon" : "svg:polyline";
    nodes.push(el(tag, { points: pts.map((p) => p.join(",")).join(" "), fill: d.kind === "zones" ? "rgba(255,211,78,0.15)" : "none",
      stroke: "#ffd34e", "stroke-width": stroke, "stroke-dasharray": `${stroke * 3} ${stroke * 2}`, "pointer-events": "none" }));
    pts.forEach((p) => nodes.push(el("svg:circle", { cx: p[0], cy: p[1], r: font * 0.4, fill: "#ffd34e", "pointer-events": "none" })));
  }
  svg.replaceChildren(...nodes);
}

function arrow(nodes, from, to, colour, stroke) {
  nodes.push(el("svg:line", { x1: from[0], y1: from[1], x2: to[0], y2: to[1], stroke: colour, "stroke-width": stroke, "pointer-events": "none" }));
  const dx = to[0] - from[0], dy = to[1] - from[1], len = Math.hypot(dx, dy) || 1, ux = dx / len, uy = dy / len, s = stroke * 4;
  const a = [to[0] - ux * s - uy * s * 0.6, to[1] - uy * s + ux * s * 0.6], b = [to[0] - ux * s + uy * s * 0.6, to[1] - uy * s - ux * s * 0.6];
  nodes.push(el("svg:polygon", { points: `${to.join(",")} ${a.join(",")} ${b.join(",")}`, fill: colour, "pointer-events": "none" }));
}

function drawLine(nodes, line, i, font, stroke) {
  const pts = linePoints(line);
  if (pts.length < 2) return;
  const sel = state.selected?.kind === "lines" && state.selected.index === i;
  const colour = sel ? "#4ea1ff" : "#ffd34e";
  const attrs = { points: pts.map((p) => p.join(",")).join(" "), fill: "none", stroke: colour, "stroke-width": stroke * 1.5, class: "shape", "data-kind": "lines", "data-index": i };
  nodes.push(el("svg:polyline", { ...attrs, stroke: "transparent", "stroke-width": font }));  // wide hit area
  nodes.push(el("svg:polyline", attrs));
  const [w] = size(), arm = w / 28;
  const seg = Math.floor((pts.length - 1) / 2), p = pts[seg], q = pts[seg + 1];
  const mid = [(p[0] + q[0]) / 2, (p[1] + q[1]) / 2];
  const len = Math.hypot(q[0] - p[0], q[1] - p[1]) || 1, dx = (q[0] - p[0]) / len, dy = (q[1] - p[1]) / len;
  let normal, inText = "IN", outText = "OUT";
  if (line.type === "polyline") {
    normal = line.in_side === "right" ? [-dy, dx] : [dy, -dx];  // y grows downwards
  } else if (line.type === "vertical") { normal = [1, 0]; inText = "→ left_to_right"; outText = ""; }
  else { normal = [0, 1]; inText = "↓ top_to_bottom"; outText = ""; }
  arrow(nodes, [mid[0] - normal[0] * arm, mid[1] - normal[1] * arm], [mid[0] + normal[0] * arm, mid[1] + normal[1] * arm], colour, stroke);
  const anchor = (n) => (Math.abs(n[0]) < 0.3 ? "middle" : n[0] > 0 ? "start" : "end");
  nodes.push(el("svg:text", { x: mid[0] + normal[0] * arm * 1.3, y: mid[1] + normal[1] * arm * 1.3 + font * 0.35, fill: "#7dffb2", "font-size": font * 0.8, "text-anchor": anchor(normal), class: "side-in" }, inText));
  if (outText) nodes.push(el("svg:text", { x: mid[0] - normal[0] * arm * 1.3, y: mid[1] - normal[1] * arm * 1.3 + font * 0.35, fill: "#ff9d9d", "font-size": font * 0.8, "text-anchor": anchor([-normal[0], -normal[1]]), class: "side-out" }, outText));
  const first = pts[0];
  nodes.push(el("svg:text", { x: first[0] + font * 0.4, y: first[1] - font * 0.5, fill: colour, "font-size": font, class: "line-name" }, label(line)));
}

function drawHandles(nodes, font) {
  const { kind, index } = state.selected, shape = state.draft[kind][index];
  if (!shape || (kind === "lines" && shape.type !== "polyline")) return;
  const pts = kind === "zones" ? zonePoints(shape) : linePoints(shape);
  const closed = kind === "zones";
  for (let i = 0; i < pts.length - (closed ? 0 : 1); i++) {
    const a = pts[i], b = pts[(i + 1) % pts.length];
    nodes.push(el("svg:circle", { cx: (a[0] + b[0]) / 2, cy: (a[1] + b[1]) / 2, r: font * 0.5, fill: "#1d2128", stroke: "#4ea1ff", class: "insert", "data-insert": i }));
    nodes.push(el("svg:text", { x: (a[0] + b[0]) / 2, y: (a[1] + b[1]) / 2 + font * 0.35, fill: "#4ea1ff", "font-size": font, "text-anchor": "middle" }, "+"));
  }
  pts.forEach((p, i) => nodes.push(el("svg:circle", { cx: p[0], cy: p[1], r: font * 0.45, fill: "#4ea1ff", stroke: "#fff", class: "handle", "data-point": i })));
}

function renderShapes() {
  const list = $("shapes"), draft = state.draft;
  const items = [];
  if (draft) for (const kind of ["lines", "zones"]) draft[kind].forEach((shape, i) => {
    const sel = state.selected?.kind === kind && state.selected.index === i;
    const li = el("li", { class: sel ? "selected" : "", "data-kind": kind, "data-index": i });
    li.append(el("span", { class: "swatch", style: null }), el("span", {}, `${kind === "lines" ? "line" : "zone"}: ${label(shape) || "(no name)"}`));
    li.firstChild.classList.add(kind === "lines" ? "swatch-line" : "swatch-zone");
    li.firstChild.style.background = kind === "lines" ? "#ffd34e" : "#00c8ff";
    li.addEventListener("click", () => select(kind, i));
    items.push(li);
  });
  if (!items.length) items.push(el("li", { class: "muted" }, draft ? "No line or zone yet." : "Pick a camera."));
  list.replaceChildren(...items);
  renderProps();
}

function renderProps() {
  const sel = state.selected, shape = sel && state.draft ? state.draft[sel.kind][sel.index] : null;
  $("props").hidden = !shape;
  if (!shape) return;
  $("props-title").textContent = sel.kind === "lines" ? "Line" : "Zone";
  if (document.activeElement !== $("shape-name")) $("shape-name").value = label(shape);
  const isLine = sel.kind === "lines";
  $("rule-label").textContent = isLine ? "Event on each crossing" : "Events on enter and exit";
  $("rule-toggle").checked = ownRules(sel.kind, label(shape)).length > 0;
  $("row-type").hidden = !isLine; $("row-inside").hidden = !isLine || shape.type !== "polyline";
  $("row-position").hidden = !isLine || shape.type === "polyline";
  if (isLine) {
    $("line-type").value = shape.type; $("in-side").value = shape.in_side || "left";
    if (document.activeElement !== $("position")) $("position").value = shape.position_pct ?? "";
  }
}

function renderEngineStatus() {
  const engine = state.detail?.engine, status = $("save-status");
  if (state.savedAt === null) {
    if (!engine) { status.className = "status wait"; status.textContent = "The engine has not reported this camera's config yet; saving sets it."; }
    else if (engine.applied === false) { status.className = "status bad"; status.textContent = `Engine: not applied: ${engine.error}`; }
    else { status.className = "status ok"; status.textContent = `Engine config in effect (${engine.timestamp || ""})${state.dirty ? "; unsaved changes" : ""}`; }
    return;
  }
  if (engine && engine.timestamp !== state.savedAt.engineBefore) {
    status.className = engine.applied ? "status ok" : "status bad";
    status.textContent = engine.applied ? `Applied by the engine at ${engine.timestamp}` : `Engine refused it: ${engine.error}`;
  } else { status.className = "status wait"; status.textContent = "Saved to the broker; waiting for the engine to apply it…"; }
}

function renderEvents(events) {
  const list = $("event-list");
  if (!events.length) return;
  list.replaceChildren(...events.map((e) => {
    const li = el("li", { "data-event": e.event_id });
    if (e.snapshot) li.append(el("img", { src: `api/snapshots/${encodeURIComponent(e.event_id)}.jpg`, alt: `snapshot of ${e.event_type}`, loading: "lazy" }));
    li.append(el("div", { class: "type" }, `${e.event_type} · ${e.camera_id}`));
    const what = e.line ? `line ${e.line} ${e.direction}` : e.zone ? `zone ${e.zone}` : "";
    li.append(el("div", {}, `${e.class_name} #${e.track_id} ${what}`));
    li.append(el("div", { class: "muted" }, `${e.rule} · ${e.timestamp.replace("T", " ").slice(0, 19)}`));
    if (!e.snapshot && e.snapshot_reason) li.append(el("div", { class: "muted" }, `no snapshot: ${e.snapshot_reason}`));
    return li;
  }));
}

// -- editing --------------------------------------------------------------------------------

function changed() { state.dirty = true; state.savedAt = null; renderShapes(); renderOverlay(); renderEngineStatus(); checkSoon(); }
function select(kind, index) { state.selected = kind === null ? null : { kind, index }; renderShapes(); renderOverlay(); }
function uniqueName(kind, stem) {
  const names = new Set(state.draft[kind].map(label));
  for (let n = state.draft[kind].length + 1; ; n++) if (!names.has(`${stem}-${n}`)) return `${stem}-${n}`;
}

// A line's crossing rule, a zone's enter and exit rules: the rules that match only it.
const RULE_TYPES = { lines: ["LINE_CROSS"], zones: ["ZONE_ENTER", "ZONE_EXIT"] };
const RULE_SUFFIX = { LINE_CROSS: "crossed", ZONE_ENTER: "entered", ZONE_EXIT: "left" };
const KEY = { lines: "line", zones: "zone" };
const ruleId = (text) => text.toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^[^a-z0-9]+/, "").slice(0, 100) || "shape";
function ownRules(kind, name) {
  return (state.draft.events || []).filter((r) => r.match && r.match[KEY[kind]] === name && RULE_TYPES[kind].includes(r.match.event_type));
}
function setOwnRules(kind, name, wanted) {
  state.draft.events ||= [];
  if (!wanted) { state.draft.events = state.draft.events.filter((r) => !ownRules(kind, name).includes(r)); return; }
  const taken = new Set(state.draft.events.map((r) => r.name));
  for (const type of RULE_TYPES[kind]) {
    if (ownRules(kind, name).some((r) => r.match.event_type === type)) continue;
    let rule = `${ruleId(name)}-${RULE_SUFFIX[type]}`;
    for (let n = 2; taken.has(rule); n++) rule = `${ruleId(name)}-${RULE_SUFFIX[type]}-${n}`;
    taken.add(rule);
    state.draft.events.push({ name: rule, match: { event_type: type, [KEY[kind]]: name }, actions: { json_log: true } });
  }
}
function renameInRules(kind, before, after) {
  const taken = new Set((state.draft.events || []).map((r) => r.name));
  for (const rule of state.draft.events || []) {
    if (!rule.match || rule.match[KEY[kind]] !== before) continue;
    rule.match[KEY[kind]] = after;
    const suffix = RULE_SUFFIX[rule.match.event_type], fresh = `${ruleId(after)}-${suffix}`;
    if (suffix && rule.name === `${ruleId(before)}-${suffix}` && !taken.has(fresh)) { taken.delete(rule.name); rule.name = fresh; taken.add(fresh); }
  }
}

function startDrawing(kind) {
  if (!state.draft) return;
  state.drawing = { kind, points: [], units: "pct" };
  state.selected = null;
  $("stage").classList.add("drawing");
  $("finish").hidden = false; $("cancel-draw").hidden = false;
  $("hint").textContent = kind === "lines" ? "Click the points of the line on the picture, then Finish (Enter)." : "Click the corners of the zone, then Finish (Enter).";
  renderShapes(); renderOverlay();
}
function stopDrawing() {
  state.drawing = null; $("stage").classList.remove("drawing"); $("finish").hidden = true; $("cancel-draw").hidden = true;
  $("hint").textContent = "Select a line or zone to edit it: drag a point to move it, click a + to add one, double-click or right-click a point to delete it.";
}
function finishDrawing() {
  const d = state.drawing;
  if (!d) return;
  if (d.points.length < (d.kind === "zones" ? 3 : 2)) { $("hint").textContent = d.kind === "zones" ? "A zone needs at least 3 points." : "A line needs at least 2 points."; return; }
  const shape = d.kind === "lines"
    ? { type: "polyline", name: uniqueName("lines", "line"), points: d.points, units: "pct", in_side: "left" }
    : { name: uniqueName("zones", "zone"), points: d.points, units: "pct" };
  state.draft[d.kind].push(shape);
  setOwnRules(d.kind, shape.name, true);  // a new shape raises events unless unticked
  stopDrawing();
  state.selected = { kind: d.kind, index: state.draft[d.kind].length - 1 };
  changed();
  $("shape-name").focus(); $("shape-name").select();
}

function svgPoint(event) {
  const svg = $("overlay"), pt = svg.createSVGPoint();
  pt.x = event.clientX; pt.y = event.clientY;
  const p = pt.matrixTransform(svg.getScreenCTM().inverse());
  return [p.x, p.y];
}
function editablePoints(shape, kind) {
  if (kind === "zones" && !shape.points) {  // a seed rectangle becomes a polygon once edited
    shape.points = [[shape.x1_pct, shape.y1_pct], [shape.x2_pct, shape.y1_pct], [shape.x2_pct, shape.y2_pct], [shape.x1_pct, shape.y2_pct]];
    shape.units = "pct"; delete shape.x1_pct; delete shape.y1_pct; delete shape.x2_pct; delete shape.y2_pct;
  }
  return shape.points;
}

function onPointerDown(event) {
  if (event.button !== 0) return;
  const p = svgPoint(event), target = event.target;
  if (state.drawing) { state.drawing.points.push(fromPx(state.drawing, p)); renderOverlay(); event.preventDefault(); return; }
  if (state.selected && target.dataset.point !== undefined) {
    state.drag = { point: Number(target.dataset.point) };
  } else if (state.selected && target.dataset.insert !== undefined) {
    const shape = state.draft[state.selected.kind][state.selected.index], pts = editablePoints(shape, state.selected.kind);
    const at = Number(target.dataset.insert) + 1;
    pts.splice(at, 0, fromPx(shape, p));
    state.drag = { point: at };
    changed();
  } else if (target.dataset.kind) {
    select(target.dataset.kind, Number(target.dataset.index));
    return;
  } else { select(null); return; }
  $("overlay").setPointerCapture(event.pointerId);
  event.preventDefault();
}
function onPointerMove(event) {
  if (!state.drag || !state.selected) return;
  const shape = state.draft[state.selected.kind][state.selected.index], pts = editablePoints(shape, state.selected.kind);
  pts[state.drag.point] = fromPx(shape, svgPoint(event));
  state.drag.moved = true; state.dirty = true; renderOverlay();
}
function onPointerUp() {
  const drag = state.drag;
  state.drag = null;
  if (drag && drag.moved) changed();  // a plain click leaves the handles in place (dblclick)
}
function onDeletePoint(event) {
  // the svg holds the pointer capture since the press: ask what lies under the pointer
  const target = document.elementFromPoint(event.clientX, event.clientY) || event.target;
  if (!state.selected || target.dataset.point === undefined) return;
  event.preventDefault();
  const shape = state.draft[state.selected.kind][state.selected.index], pts = editablePoints(shape, state.selected.kind);
  if (pts.length <= (state.selected.kind === "zones" ? 3 : 2)) { $("hint").textContent = "That is the fewest points this shape can have."; return; }
  pts.splice(Number(target.dataset.point), 1);
  changed();
}

// -- checking and saving --------------------------------------------------------------------

let checkTimer = null;
function checkSoon() { clearTimeout(checkTimer); checkTimer = setTimeout(check, 250); }
function body() { return JSON.stringify({ device_id: state.detail?.device_id || null, config: state.draft }); }
function showResult(result) {
  $("errors").replaceChildren(...(result.errors || []).map((e) => el("li", {}, e)));
  if (result.yaml) $("yaml").textContent = result.yaml;
}
async function check() {
  if (!state.camera || !state.draft) return;
  const response = await api(`api/cameras/${encodeURIComponent(state.camera)}/check`, { method: "POST", headers: { "Content-Type": "application/json" }, body: body() });
  showResult(await response.json());
}
async function save() {
  if (!state.camera || !state.draft) return;
  $("save").disabled = true;
  const status = $("save-status");
  status.className = "status wait"; status.textContent = "Saving…";
  try {
    const response = await api(`api/cameras/${encodeURIComponent(state.camera)}/save`, { method: "POST", headers: { "Content-Type": "application/json" }, body: body() });
    const result = await response.json();
    showResult(result);
    if (result.saved) {
      state.savedAt = { engineBefore: state.detail?.engine?.timestamp ?? null }; state.dirty = false;
      state.baseline = JSON.stringify(state.detail?.engine?.config ?? null);
      renderEngineStatus();
    } else { status.className = "status bad"; status.textContent = response.status === 422 ? "Not saved: fix the errors below." : "Not saved."; }
  } finally { $("save").disabled = false; }
}

// -- wiring ---------------------------------------------------------------------------------

function currentShape() { const s = state.selected; return s && state.draft ? state.draft[s.kind][s.index] : null; }
document.addEventListener("DOMContentLoaded", () => {
  const svg = $("overlay");
  svg.addEventListener("pointerdown", onPointerDown);
  svg.addEventListener("pointermove", onPointerMove);
  svg.addEventListener("pointerup", onPointerUp);
  svg.addEventListener("dblclick", onDeletePoint);
  svg.addEventListener("contextmenu", onDeletePoint);
  $("new-line").addEventListener("click", () => startDrawing("lines"));
  $("new-zone").addEventListener("click", () => startDrawing("zones"));
  $("finish").addEventListener("click", finishDrawing);
  $("cancel-draw").addEventListener("click", () => { stopDrawing(); renderOverlay(); });
  document.addEventListener("keydown", (e) => {
    if (!state.drawing) return;
    if (e.key === "Enter") { e.preventDefault(); finishDrawing(); }
    if (e.key === "Escape") { stopDrawing(); renderOverlay(); }
  });
  $("shape-name").addEventListener("input", () => {
    const shape = currentShape(); if (!shape) return;
    const before = label(shape);
    shape.name = $("shape-name").value; delete shape.description;
    renameInRules(state.selected.kind, before, shape.name);
    changed();
  });
  $("line-type").addEventListener("change", () => {
    const shape = currentShape(); if (!shape) return;
    const type = $("line-type").value;
    if (type === "polyline") {
      const pos = shape.position_pct ?? 50;
      shape.points = shape.type === "horizontal" ? [[10, pos], [90, pos]] : [[pos, 10], [pos, 90]];
      shape.units = "pct"; shape.in_side = shape.in_side || "left"; delete shape.position_pct;
    } else if (shape.type === "polyline") { shape.position_pct = 50; delete shape.points; delete shape.in_side; delete shape.units; }
    shape.type = type; changed();
  });
  $("position").addEventListener("input", () => { const shape = currentShape(); if (shape) { shape.position_pct = Number($("position").value); changed(); } });
  $("in-side").addEventListener("change", () => { const shape = currentShape(); if (shape) { shape.in_side = $("in-side").value; changed(); } });
  $("rule-toggle").addEventListener("change", () => {
    const shape = currentShape(); if (!shape) return;
    setOwnRules(state.selected.kind, label(shape), $("rule-toggle").checked); changed();
  });
  $("delete-shape").addEventListener("click", () => {
    const s = state.selected; if (!s) return;
    setOwnRules(s.kind, label(state.draft[s.kind][s.index]), false);
    state.draft[s.kind].splice(s.index, 1); state.selected = null; changed();
  });
  $("save").addEventListener("click", save);
  $("revert").addEventListener("click", () => { state.dirty = false; state.draft = null; state.savedAt = null; state.selected = null; stopDrawing(); pollCamera(); });
  $("copy").addEventListener("click", (e) => { e.preventDefault(); navigator.clipboard?.writeText($("yaml").textContent); });
  poll();
});
