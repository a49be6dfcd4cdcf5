// The browser demo: serve the repository root with any static file server
// (after `npm run build`), e.g. `python3 -m http.server 8000`, and open
// http://localhost:8000/examples/browser/. test/browser-demo.test.ts runs it
// in headless Chromium. The result is left in window.__demo for the test.
import { init, LSTM, Rng, Sequential, SimpleRNN, Vocab } from "../../dist/index.js";

const $ = (id) => document.getElementById(id);
const NS = "http://www.w3.org/2000/svg";

// Public-domain text (the US Constitution's preamble and first article).
const TEXT = `We the People of the United States, in Order to form a more perfect Union, establish Justice, insure domestic Tranquility, provide for the common defence, promote the general Welfare, and secure the Blessings of Liberty to ourselves and our Posterity, do ordain and establish this Constitution for the United States of America. All legislative Powers herein granted shall be vested in a Congress of the United States, which shall consist of a Senate and House of Representatives. The House of Representatives shall be composed of Members chosen every second Year by the People of the several States. `;

/** A polyline plot in an <svg>: series of [x, y] points, optional log-scale y. */
function plot(svg, series, { logY = false, xLabel = "", yLabel = "", legend = "top" } = {}) {
  svg.replaceChildren();
  const W = +svg.getAttribute("width"), H = +svg.getAttribute("height");
  const L = 64, R = 12, T = 10, Bm = 34;
  const ys = series.flatMap((s) => s.points.map((p) => (logY ? Math.log10(p[1]) : p[1]))).filter(Number.isFinite);
  const xs = series.flatMap((s) => s.points.map((p) => p[0]));
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const sx = (x) => L + ((x - x0) / (x1 - x0 || 1)) * (W - L - R);
  const sy = (y) => T + (1 - (y - y0) / (y1 - y0 || 1)) * (H - T - Bm);
  const add = (tag, attrs, text) => {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    svg.appendChild(e);
  };
  add("rect", { x: L, y: T, width: W - L - R, height: H - T - Bm, fill: "none", stroke: "#bbb" });
  for (const y of [y0, (y0 + y1) / 2, y1]) add("text", { x: L - 6, y: sy(y) + 4, "text-anchor": "end" }, logY ? `1e${Math.round(y)}` : y.toFixed(2));
  add("text", { x: L, y: H - 8 }, `${x0}`);
  add("text", { x: W - R, y: H - 8, "text-anchor": "end" }, `${x1}`);
  add("text", { x: (L + W) / 2, y: H - 8, "text-anchor": "middle" }, xLabel);
  add("text", { x: 12, y: (T + H - Bm) / 2, "text-anchor": "middle", transform: `rotate(-90 12 ${(T + H - Bm) / 2})` }, yLabel);
  series.forEach((s, i) => {
    const d = s.points.filter((p) => Number.isFinite(logY ? Math.log10(p[1]) : p[1]))
      .map((p, j) => `${j ? "L" : "M"}${sx(p[0]).toFixed(1)},${sy(logY ? Math.log10(p[1]) : p[1]).toFixed(1)}`).join("");
    add("path", { d, fill: "none", stroke: s.color, "stroke-width": 2 });
    const ly = legend === "top" ? T + 16 + 15 * i : H - Bm - 10 - 15 * (series.length - 1 - i);
    add("text", { x: W - R - 6, y: ly, "text-anchor": "end", style: `fill: ${s.color}` }, s.label);
  });
}

async function trainLM(epochs) {
  const vocab = Vocab.fromChars(TEXT);
  const model = new Sequential({
    input: { type: "tokens", vocabSize: vocab.size, embeddingDim: 24 },
    recurrent: [{ cell: "lstm", hiddenSize: 96 }],
    output: { size: vocab.size, loss: "xent" },
    mode: "many-to-many",
    seed: 1,
  });
  const losses = [];
  let ticks = 0;
  const timer = setInterval(() => ticks++, 0); // proof that the page stays responsive
  await model.fitAsync({ stream: vocab.encode(TEXT) }, {
    epochs, batchSize: 8, tbptt: { k1: 24 }, optimizer: { type: "adam", lr: 0.01 },
    onStep: (s) => {
      losses.push([s.step, s.loss]);
      $("status").textContent = `step ${s.step}, loss ${s.loss.toFixed(3)}`;
      if (s.step % 10 === 0) plot($("loss"), [{ label: "training loss", color: "#1f6fbf", points: losses }], { xLabel: "update", yLabel: "nats/char" });
    },
  });
  clearInterval(timer);
  plot($("loss"), [{ label: "training loss", color: "#1f6fbf", points: losses }], { xLabel: "update", yLabel: "nats/char" });
  const sample = "The " + vocab.decode(model.generate(vocab.encode("The "), { length: 200, temperature: 0.5, seed: 2 }));
  $("sample").textContent = sample;
  const unigram = unigramEntropy(TEXT);
  model.dispose();
  return { firstLoss: losses[0][1], lastLoss: losses[losses.length - 1][1], unigram, sample, ticks, steps: losses.length };
}

function unigramEntropy(text) {
  const counts = new Map();
  for (const c of text) counts.set(c, (counts.get(c) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) h -= (n / text.length) * Math.log(n / text.length);
  return h;
}

function vanishing() {
  const T = 100, B = 4, I = 8, H = 32;
  const rng = new Rng(1);
  const x = rng.fillUniform(new Float32Array(T * B * I), -1, 1);
  const dhN = new Float32Array(B * H).fill(1);
  const norms = (m) => {
    m.forward(x, { batchSize: B });
    m.backward({ dhN, recordGradNorms: true });
    const g = m.gradNorms();
    m.dispose();
    return Array.from(g, (v) => v / g[T - 1]);
  };
  const rnn = norms(new SimpleRNN({ inputSize: I, hiddenSize: H, seed: 3 }));
  const lstm = norms(new LSTM({ inputSize: I, hiddenSize: H, seed: 3, forgetBias: 1 }));
  plot($("vanish"), [
    { label: "SimpleRNN", color: "#c0392b", points: rnn.map((v, t) => [t, v]) },
    { label: "LSTM (forget bias 1)", color: "#1f6fbf", points: lstm.map((v, t) => [t, v]) },
  ], { logY: true, xLabel: "time step t", yLabel: "‖∂L/∂h_t‖ / ‖∂L/∂h_99‖", legend: "bottom" });
  return { rnn0: rnn[0], lstm0: lstm[0] };
}

async function main() {
  await init(); // fetches ../../build/unfold.wasm next to dist/
  const grads = vanishing();
  const epochs = Number(new URLSearchParams(location.search).get("epochs") ?? 25);
  const run = () => trainLM(epochs).then((lm) => (window.__demo = { ...lm, ...grads }));
  $("train").onclick = run;
  if (new URLSearchParams(location.search).has("autostart")) await run();
}

main().catch((err) => {
  $("status").textContent = `error: ${err.message}`;
  window.__demo = { error: err.message };
});
