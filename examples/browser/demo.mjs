// The demo page's main thread: it only draws. Training, sampling, the
// unfolded view's numbers and the model file all come from the Web Worker
// (worker.mjs), so the page stays smooth while the network learns.
//
// Run it with `npm run demo` (builds, then serves the repository root on
// 127.0.0.1 with the COOP/COEP headers of examples/browser/serve.mjs).
// test/browser-demo.test.ts drives it in headless Chromium; what it checks is
// left in window.__demo.

const $ = (id) => document.getElementById(id);
const NS = "http://www.w3.org/2000/svg";

// ---- what the test reads ------------------------------------------------------------

/** Longest gap between two animation frames while training: the page's smoothness. */
const frames = { maxGap: 0, count: 0, monitoring: false };
const demo = (window.__demo = {
  ready: false, error: null, info: null, losses: [], vals: [], unigram: NaN, samples: [], trace: null,
  frames, vanishing: null, loaded: 0,
});

let last = null;
const tick = (t) => {
  if (last !== null && frames.monitoring) {
    frames.maxGap = Math.max(frames.maxGap, t - last);
    frames.count++;
  }
  last = t;
  requestAnimationFrame(tick);
};
requestAnimationFrame(tick);

// ---- the worker ----------------------------------------------------------------------

const worker = new Worker(new URL("./worker.mjs", import.meta.url), { type: "module" });
let nextId = 1;
const waiting = new Map();

/** Ask the worker; resolves with its result, rejects with its error message. */
function ask(type, args = {}, transfer = []) {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    waiting.set(id, { resolve, reject });
    worker.postMessage({ id, type, ...args }, transfer);
  });
}

worker.onerror = (e) => fail(new Error(e.message || "the worker failed to start"));
worker.onmessage = (e) => {
  const m = e.data;
  if (m.id !== undefined) {
    const w = waiting.get(m.id);
    waiting.delete(m.id);
    if (m.error !== undefined) w.reject(new Error(m.error));
    else w.resolve(m.result);
    return;
  }
  if (m.type === "progress") onProgress(m);
  else if (m.type === "val") onVal(m.step, m.valLoss);
  else if (m.type === "sample") onSample(m);
  else if (m.type === "stopped") onVal(m.step, m.valLoss);
  else if (m.type === "error") {
    setTraining(false);
    fail(new Error(m.message));
  }
};

function fail(err) {
  demo.error = err.message;
  $("status").textContent = `error: ${err.message}`;
  $("status").style.color = "#c0392b";
}

// ---- the text ------------------------------------------------------------------------

let defaultText = "";

function showTextInfo() {
  const t = $("text").value;
  const distinct = new Set(t).size;
  $("text-info").textContent = `${t.length.toLocaleString("en")} characters, ${distinct} distinct`;
}

async function loadDefaultText() {
  const r = await fetch(new URL("./default-text.txt", import.meta.url));
  if (!r.ok) throw new Error(`cannot fetch default-text.txt (HTTP ${r.status})`);
  defaultText = await r.text();
  $("text").value = defaultText;
  showTextInfo();
}

async function useFile(file) {
  if (!file) return;
  $("text").value = await file.text();
  showTextInfo();
}

$("text").addEventListener("input", showTextInfo);
$("text-file").addEventListener("change", (e) => useFile(e.target.files[0]));
$("reset-text").addEventListener("click", () => {
  $("text").value = defaultText;
  showTextInfo();
});
document.addEventListener("dragover", (e) => {
  e.preventDefault();
  document.body.classList.add("dragging");
});
document.addEventListener("dragleave", () => document.body.classList.remove("dragging"));
document.addEventListener("drop", (e) => {
  e.preventDefault();
  document.body.classList.remove("dragging");
  const f = e.dataTransfer?.files?.[0];
  if (f) useFile(f);
  else if (e.dataTransfer?.getData("text")) {
    $("text").value = e.dataTransfer.getData("text");
    showTextInfo();
  }
});

// ---- training ------------------------------------------------------------------------

let training = false;
let hasModel = false;
let status = { step: 0, loss: NaN, val: NaN, cps: 0 };

function settings() {
  return { cell: $("cell").value, hiddenSize: +$("hidden").value, numLayers: +$("layers").value, lr: +$("lr").value };
}

function setTraining(on) {
  training = on;
  frames.monitoring = on;
  $("pause").disabled = !hasModel;
  $("pause").textContent = on ? "Pause" : "Resume";
  $("train").textContent = hasModel ? "Train a new model" : "Train";
  for (const id of ["sample", "download", "unfold"]) $(id).disabled = !hasModel;
}

function describe(info) {
  const r = info.spec.recurrent[0];
  const cell = { lstm: "LSTM", gru: "GRU", rnn: "SimpleRNN", rnn_relu: "ReLU RNN" }[r.cell];
  return `${cell} ${r.numLayers ?? 1}×${r.hiddenSize}, ${info.parameters.toLocaleString("en")} parameters, ${info.vocabSize} characters`;
}

function showStatus() {
  const s = status;
  const parts = [`step ${s.step}`];
  if (Number.isFinite(s.loss)) parts.push(`loss ${s.loss.toFixed(3)}`);
  if (Number.isFinite(s.val)) parts.push(`validation ${s.val.toFixed(3)} nats/char`);
  if (Number.isFinite(demo.unigram)) parts.push(`unigram baseline ${demo.unigram.toFixed(3)}`);
  if (training && s.cps) parts.push(`${Math.round(s.cps / 1000)}k chars/s`);
  $("status").textContent = `${training ? "training" : "paused"} · ${parts.join(" · ")} · ${demo.info ? describe(demo.info) : ""}`;
}

$("train").addEventListener("click", async () => {
  try {
    $("train").disabled = true;
    demo.losses = [];
    demo.vals = [];
    frames.maxGap = 0;
    frames.count = 0;
    const info = await ask("start", { text: $("text").value, settings: settings() });
    demo.info = info;
    demo.unigram = info.unigram;
    hasModel = true;
    status = { step: 0, loss: NaN, val: info.valLoss, cps: 0 };
    onVal(0, info.valLoss);
    setTraining(true);
    showStatus();
  } catch (err) {
    fail(err);
  } finally {
    $("train").disabled = false;
  }
});

$("pause").addEventListener("click", async () => {
  try {
    $("pause").disabled = true;
    if (training) {
      setTraining(false);
      await ask("pause");
    } else {
      const info = await ask("resume", { text: $("text").value });
      demo.info = info;
      demo.unigram = info.unigram;
      setTraining(true);
    }
    showStatus();
  } catch (err) {
    fail(err);
  } finally {
    $("pause").disabled = !hasModel;
  }
});

function onProgress(m) {
  status.step = m.step;
  status.loss = m.loss;
  status.cps = m.charsPerSecond;
  demo.losses.push([m.step, m.loss]);
  if (demo.losses.length > 1200) {
    // Keep the curve light: average neighbouring points.
    const halved = [];
    for (let i = 0; i + 1 < demo.losses.length; i += 2) halved.push([demo.losses[i + 1][0], (demo.losses[i][1] + demo.losses[i + 1][1]) / 2]);
    demo.losses = halved;
  }
  redrawSoon();
}

function onVal(step, v) {
  if (!Number.isFinite(v)) return;
  status.val = v;
  if (!demo.vals.length || demo.vals[demo.vals.length - 1][0] !== step) demo.vals.push([step, v]);
  redrawSoon();
}

let redrawPending = false;
let lastRedraw = 0;
/** Redraw the loss plot and status at most 5 times a second, in an animation frame. */
function redrawSoon() {
  if (redrawPending) return;
  redrawPending = true;
  const wait = Math.max(0, 200 - (performance.now() - lastRedraw));
  setTimeout(() => requestAnimationFrame(() => {
    redrawPending = false;
    lastRedraw = performance.now();
    drawLoss();
    showStatus();
  }), wait);
}

function drawLoss() {
  const series = [{ label: "training loss", color: "#1f6fbf", points: demo.losses }];
  if (demo.vals.length) series.push({ label: "validation loss", color: "#d9480f", points: demo.vals, dots: true });
  const lines = Number.isFinite(demo.unigram) ? [{ y: demo.unigram, label: "unigram baseline" }] : [];
  plot($("loss"), series, { xLabel: "update", yLabel: "nats / char", lines });
}

// ---- samples -------------------------------------------------------------------------

const temperatureInput = $("temperature");
temperatureInput.addEventListener("input", () => {
  const t = +temperatureInput.value;
  $("temperature-value").textContent = t.toFixed(2);
  ask("temperature", { value: t }).catch(fail);
});

function onSample(s) {
  demo.samples.push({ text: s.text, seed: s.seed, temperature: s.temperature, step: s.step });
  $("sample-text").textContent = s.text;
  if ($("follow").checked) showTrace(s.trace);
}

$("sample").addEventListener("click", async () => {
  try {
    const s = await ask("sample", { seed: Math.trunc(+$("seed").value), temp: +temperatureInput.value });
    onSample(s);
    demo.manualSample = s.text;
  } catch (err) {
    fail(err);
  }
});

// ---- the model file ------------------------------------------------------------------

$("download").addEventListener("click", async () => {
  try {
    const { bytes } = await ask("save");
    const url = URL.createObjectURL(new Blob([bytes], { type: "application/octet-stream" }));
    const a = Object.assign(document.createElement("a"), { href: url, download: "unfold-demo.unfold" });
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
    $("file-info").textContent = `saved ${(bytes.byteLength / 1024).toFixed(0)} KB`;
  } catch (err) {
    fail(err);
  }
});

$("model-file").addEventListener("change", async (e) => {
  const f = e.target.files[0];
  if (!f) return;
  try {
    const bytes = await f.arrayBuffer();
    setTraining(false);
    const info = await ask("load", { bytes }, [bytes]);
    demo.info = info;
    demo.unigram = NaN;
    demo.loaded++;
    hasModel = true;
    const r = info.spec.recurrent[0];
    $("cell").value = r.cell;
    $("hidden").value = String(r.hiddenSize);
    $("layers").value = String(r.numLayers ?? 1);
    status = { step: info.steps, loss: NaN, val: NaN, cps: 0 };
    setTraining(false);
    showStatus();
    $("file-info").textContent = `loaded ${f.name}: trained ${info.steps} updates`;
  } catch (err) {
    fail(err);
  } finally {
    e.target.value = "";
  }
});

// ---- the unfolded view ---------------------------------------------------------------

let CW = 7; // CSS px per character column: as wide as fits the panel, 4 to 9
let selected = null; // { kind, unit }

function layerOf(trace) {
  const i = Math.min(+$("layer").value || 0, trace.layers.length - 1);
  return trace.layers[i];
}

/** Show a trace from the worker: the heatmap of its chosen layer, and the chosen unit over the text. */
function showTrace(trace) {
  demo.trace = trace;
  const sel = $("layer");
  const names = trace.layers.map((l) => l.name);
  if ([...sel.options].map((o) => o.value + o.textContent).join() !== names.map((n, i) => i + n).join()) {
    sel.replaceChildren(...names.map((n, i) => Object.assign(document.createElement("option"), { value: String(i), textContent: n })));
  }
  drawHeatmap();
  requestAnimationFrame(drawUnit); // the coloured text in the next frame: two short tasks, not one long one
}

const GATES = new Set(["i", "f", "o", "r", "z"]);

/** Colour of a value: signed kinds (h, c, g, n) blue-white-red; gates in [0, 1] white to teal. */
function colour(kind, v, scale) {
  if (GATES.has(kind)) {
    const a = Math.min(1, Math.max(0, v)) ** 1.5;
    return [250 - 235 * a, 250 - 150 * a, 245 - 125 * a];
  }
  const a = Math.max(-1, Math.min(1, v / scale));
  return a >= 0 ? [255 - 35 * a, 255 - 200 * a, 255 - 190 * a] : [255 + 215 * a, 255 + 130 * a, 255 + 30 * a];
}

/** 256-entry RGBA lookup tables of {@link colour}, as little-endian u32 pixels: signed [-1, 1] and gate [0, 1]. */
const LUT = (() => {
  const make = (kind, f) => Uint32Array.from({ length: 256 }, (_, i) => {
    const [r, g, b] = colour(kind, f(i), 1);
    return (255 << 24) | (Math.round(b) << 16) | (Math.round(g) << 8) | Math.round(r);
  });
  return { signed: make("h", (i) => i / 127.5 - 1), gate: make("i", (i) => i / 255) };
})();

/** Colour scale of a kind: 1, except the cell state c (unbounded), which uses its 95th percentile of |c|. */
function scaleOf(L, kind) {
  if (kind !== "c") return 1;
  if (L.cScale) return L.cScale;
  const c = L.values.c;
  const a = new Float32Array(c.length);
  for (let i = 0; i < c.length; i++) a[i] = Math.abs(c[i]);
  a.sort();
  return (L.cScale = Math.max(0.25, a[Math.floor(0.95 * (a.length - 1))]));
}

/** The unit of `kind` whose value changes most over the text: the default unit to colour the text by. */
function liveliest(L, kind) {
  const H = L.hiddenSize;
  const v = L.values[kind];
  const T = v.length / H;
  let best = 0;
  let bestVar = -1;
  for (let u = 0; u < H; u++) {
    let s = 0, s2 = 0;
    for (let t = 0; t < T; t++) {
      s += v[t * H + u];
      s2 += v[t * H + u] ** 2;
    }
    const variance = s2 / T - (s / T) ** 2;
    if (variance > bestVar) [best, bestVar] = [u, variance];
  }
  return best;
}

function shown(ch) {
  return ch === "\n" ? "↵" : ch === "\t" ? "→" : ch;
}

/**
 * The heatmap: one canvas pixel per (unit, character), rows grouped by kind
 * [K*H, T], scaled up by CSS without smoothing — so a redraw is one
 * putImageData of K*H*T pixels, cheap enough for the main thread.
 */
function drawHeatmap() {
  const trace = demo.trace;
  if (!trace) return;
  const L = layerOf(trace);
  const T = trace.steps;
  const H = L.hiddenSize;
  const K = L.kinds.length;
  const rows = K * H;
  const ch = Math.max(1, Math.min(8, Math.floor(768 / rows))); // CSS px per unit row
  CW = Math.max(4, Math.min(9, Math.floor(($("heatmap-wrap").clientWidth - 44) / T)));
  const canvas = $("heatmap");
  canvas.width = T;
  canvas.height = rows;
  canvas.style.width = `${T * CW}px`;
  canvas.style.height = `${rows * ch}px`;
  Object.assign(canvas.dataset, { rows, cols: T, kinds: L.kinds.join(","), hidden: H, cellW: CW, cellH: ch, layer: L.name });
  const img = new ImageData(T, rows);
  const px = new Uint32Array(img.data.buffer); // [rows, T]: row k*H + u, column t
  L.kinds.forEach((kind, k) => {
    const v = L.values[kind]; // [T, H]
    const gate = GATES.has(kind);
    const lut = gate ? LUT.gate : LUT.signed;
    const s = scaleOf(L, kind);
    for (let t = 0; t < T; t++) {
      for (let u = 0; u < H; u++) {
        const x = v[t * H + u];
        const i = gate ? x * 255 : (x / s + 1) * 127.5;
        px[(k * H + u) * T + t] = lut[i <= 0 ? 0 : i >= 255 ? 255 : Math.round(i)];
      }
    }
  });
  canvas.getContext("2d").putImageData(img, 0, 0);
  // The characters above the columns, the kinds beside the row groups.
  const chars = $("heat-chars");
  chars.width = T * CW;
  chars.height = 16;
  const ctx = chars.getContext("2d");
  ctx.font = "10px ui-monospace, Menlo, monospace";
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  ctx.fillStyle = "#333";
  trace.chars.forEach((c, t) => ctx.fillText(shown(c), t * CW + CW / 2, 8));
  $("heat-kinds").replaceChildren(...L.kinds.map((kind) => Object.assign(document.createElement("div"), { textContent: kind, style: `height: ${H * ch}px` })));
  markSelected();
}

/** Outline the chosen unit's row. */
function markSelected() {
  const box = $("heat-sel");
  const c = $("heatmap");
  const kinds = (c.dataset.kinds ?? "").split(",");
  if (!selected || !kinds.includes(selected.kind) || selected.unit >= +c.dataset.hidden) {
    box.hidden = true;
    return;
  }
  const ch = +c.dataset.cellH;
  box.hidden = false;
  box.style.top = `${(kinds.indexOf(selected.kind) * +c.dataset.hidden + selected.unit) * ch - 1}px`;
  box.style.height = `${ch + 2}px`;
  box.style.width = c.style.width;
}

/** The cell under a point (CSS px from the canvas's top left): { kind, unit, t, layer } or null. */
function cellAt(x, y) {
  const trace = demo.trace;
  if (!trace) return null;
  const L = layerOf(trace);
  const ch = +$("heatmap").dataset.cellH;
  const t = Math.floor(x / CW);
  const row = Math.floor(y / ch);
  if (t < 0 || t >= trace.steps || row < 0 || row >= L.kinds.length * L.hiddenSize) return null;
  return { kind: L.kinds[Math.floor(row / L.hiddenSize)], unit: row % L.hiddenSize, t, layer: L };
}

const heat = $("heatmap");
const tip = $("tooltip");
heat.addEventListener("mousemove", (e) => {
  const r = heat.getBoundingClientRect();
  const c = cellAt(e.clientX - r.left, e.clientY - r.top);
  if (!c) {
    tip.hidden = true;
    return;
  }
  const trace = demo.trace;
  const v = c.layer.values[c.kind][c.t * c.layer.hiddenSize + c.unit];
  let next = "";
  if (trace.probs) {
    // What the model predicts after this character: its three likeliest next characters.
    const V = trace.vocab.length;
    const p = trace.probs.subarray(c.t * V, (c.t + 1) * V);
    const top = [...p.keys()].sort((a, b) => p[b] - p[a]).slice(0, 3);
    next = ` · next: ${top.map((i) => `${JSON.stringify(trace.vocab[i])} ${p[i].toFixed(2)}`).join(", ")}`;
  }
  tip.textContent = `${c.layer.name} ${c.kind}[${c.unit}] at step ${c.t} ${JSON.stringify(trace.chars[c.t])} = ${v.toFixed(4)}${next}`;
  tip.dataset.value = String(v);
  tip.hidden = false;
  const wrap = $("heatmap-wrap").getBoundingClientRect();
  tip.style.left = `${Math.min(e.clientX - wrap.left + $("heatmap-wrap").scrollLeft + 14, wrap.width - 380)}px`;
  tip.style.top = `${e.clientY - wrap.top + 14}px`;
});
heat.addEventListener("mouseleave", () => (tip.hidden = true));
heat.addEventListener("click", (e) => {
  const r = heat.getBoundingClientRect();
  const c = cellAt(e.clientX - r.left, e.clientY - r.top);
  if (!c) return;
  selected = { kind: c.kind, unit: c.unit };
  markSelected();
  drawUnit();
});
$("layer").addEventListener("change", () => {
  drawHeatmap();
  drawUnit();
});

/** The chosen unit's activation over the text: each character coloured by it (what the unit "remembers"). */
function drawUnit() {
  const trace = demo.trace;
  const out = $("unit-text");
  if (!trace) return;
  const L = layerOf(trace);
  const kind0 = L.kinds.includes("c") ? "c" : "h";
  const sel = selected && L.kinds.includes(selected.kind) && selected.unit < L.hiddenSize ? selected : { kind: kind0, unit: liveliest(L, kind0) };
  const H = L.hiddenSize;
  const v = L.values[sel.kind];
  const s = scaleOf(L, sel.kind);
  $("unit-info").textContent = `${L.name} ${sel.kind}[${sel.unit}] over the text${selected ? "" : " (the unit that changes most here; click a heatmap row to choose another)"}${trace.dropped ? ` · ${trace.dropped} characters the model does not know were left out` : ""}`;
  out.dataset.kind = sel.kind;
  out.dataset.unit = String(sel.unit);
  out.replaceChildren(...trace.chars.map((c, t) => {
    const x = v[t * H + sel.unit];
    const [r, g, b] = colour(sel.kind, x, s);
    const span = document.createElement("span");
    span.textContent = c === "\n" ? "↵\n" : c;
    span.style.background = `rgb(${r | 0},${g | 0},${b | 0})`;
    span.title = `${sel.kind}[${sel.unit}] = ${x.toFixed(3)}`;
    span.dataset.v = String(x);
    return span;
  }));
}

$("unfold").addEventListener("click", async () => {
  try {
    const text = $("unfold-text").value || demo.samples.at(-1)?.text;
    if (!text) return;
    $("follow").checked = false;
    showTrace(await ask("trace", { text }));
  } catch (err) {
    fail(err);
  }
});

// ---- plots ---------------------------------------------------------------------------

/** Polylines in an <svg viewBox>: series of [x, y] points, optional log-scale y and horizontal reference lines. */
function plot(svg, series, { logY = false, xLabel = "", yLabel = "", legend = "top", lines = [] } = {}) {
  const [, , W, H] = svg.getAttribute("viewBox").split(" ").map(Number);
  const L = 56, R = 12, T = 10, Bm = 34;
  const f = (y) => (logY ? Math.log10(y) : y);
  const ys = [...series.flatMap((s) => s.points.map((p) => f(p[1]))), ...lines.map((l) => f(l.y))].filter(Number.isFinite);
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  if (!xs.length || !ys.length) return;
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (!logY) y0 = Math.min(y0, 0.9 * y0);
  const sx = (x) => L + ((x - x0) / (x1 - x0 || 1)) * (W - L - R);
  const sy = (y) => T + (1 - (y - y0) / (y1 - y0 || 1)) * (H - T - Bm);
  const els = [];
  const add = (tag, attrs, text) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    els.push(e);
  };
  add("rect", { x: L, y: T, width: W - L - R, height: H - T - Bm, fill: "none", stroke: "#ccc" });
  for (const y of [y0, (y0 + y1) / 2, y1]) add("text", { x: L - 6, y: sy(y) + 4, "text-anchor": "end" }, logY ? `1e${Math.round(y)}` : y.toFixed(2));
  add("text", { x: L, y: H - 14 }, `${x0}`);
  add("text", { x: W - R, y: H - 14, "text-anchor": "end" }, `${x1}`);
  add("text", { x: (L + W) / 2, y: H - 4, "text-anchor": "middle" }, xLabel);
  add("text", { x: 12, y: (T + H - Bm) / 2, "text-anchor": "middle", transform: `rotate(-90 12 ${(T + H - Bm) / 2})` }, yLabel);
  for (const l of lines) {
    add("line", { x1: L, x2: W - R, y1: sy(f(l.y)), y2: sy(f(l.y)), stroke: "#999", "stroke-dasharray": "4 3" });
    add("text", { x: L + 6, y: sy(f(l.y)) - 4 }, `${l.label} ${l.y.toFixed(2)}`);
  }
  series.forEach((s, i) => {
    const pts = s.points.filter((p) => Number.isFinite(f(p[1])));
    const d = pts.map((p, j) => `${j ? "L" : "M"}${sx(p[0]).toFixed(1)},${sy(f(p[1])).toFixed(1)}`).join("");
    add("path", { d, fill: "none", stroke: s.color, "stroke-width": 2, class: "series" });
    if (s.dots) for (const p of pts) add("circle", { cx: sx(p[0]), cy: sy(f(p[1])), r: 2.5, fill: s.color });
    const ly = legend === "top" ? T + 16 + 15 * i : H - Bm - 10 - 15 * (series.length - 1 - i);
    add("text", { x: W - R - 6, y: ly, "text-anchor": "end", style: `fill: ${s.color}` }, s.label);
  });
  svg.replaceChildren(...els);
}

// ---- start ---------------------------------------------------------------------------

async function main() {
  const [{ vanishing }] = await Promise.all([ask("init"), loadDefaultText()]);
  const rnn = vanishing.rnn, lstm = vanishing.lstm;
  demo.vanishing = { rnn0: rnn[0], lstm0: lstm[0] };
  plot($("vanish"), [
    { label: "SimpleRNN", color: "#c0392b", points: rnn.map((v, t) => [t, v]) },
    { label: "LSTM (forget bias 1)", color: "#1f6fbf", points: lstm.map((v, t) => [t, v]) },
  ], { logY: true, xLabel: "time step t", yLabel: "‖∂L/∂h_t‖ / ‖∂L/∂h_99‖", legend: "bottom" });
  $("train").disabled = false;
  $("status").textContent = "ready: press Train (or load a model)";
  demo.ready = true;
  if (new URLSearchParams(location.search).has("autostart")) $("train").click();
}

main().catch(fail);
