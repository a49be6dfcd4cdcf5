#!/usr/bin/env node
// Vanishing gradients and truncated BPTT (lecture p.19-20 and p.35).
//
// (a) Vanishing gradients. Put a loss on the last of T = 100 steps only and
//     backpropagate through time: ‖∂L/∂h_t‖ is how much step t can still
//     learn from it. In a plain tanh RNN it shrinks geometrically going back
//     in time; in an LSTM whose forget gate starts open (bias 1) the additive
//     cell-state path keeps it alive (p.35-36). Printed as a log-scale table
//     and written to examples/out/vanishing.svg.
//
// (b) Truncated BPTT (p.20). A long stream is cut into windows of k1 steps;
//     gradients flow back k2 >= k1 steps; the hidden state may be carried
//     from one window into the next or reset to zero. On a stream whose
//     segments "a......A" / "b......B" repeat their opening letter 7 steps
//     later, windows of 5 steps never contain both ends of a segment: only a
//     carried state can remember the opening letter. Full BPTT (one window
//     per pass over the stream, so one update per pass) is shown for
//     comparison: it gets there too, but only with ~50x the compute.
//
//   node examples/tbptt-vanishing.mjs                # --budget full
//   node examples/tbptt-vanishing.mjs --budget ci    # < 25 s, the CI smoke run
//
// Exits with code 1 unless the SimpleRNN's gradient at t = 0 is at least
// 10^6 times (relative to its value at the last step) below the LSTM's, and
// carrying the state beats resetting it on a held-out stream by at least
// 0.1 nats/char (ci) or 0.2 (full).
import { parseBudget } from "./lib/budget.mjs";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { GRU, init, LSTM, Rng, Sequential, SimpleRNN, Vocab } from "unfold-rnn";

const BUDGETS = {
  // fullEpochs: passes of full BPTT, which makes one update per pass.
  ci: { streamLen: 6000, epochs: 6, fullEpochs: 100, margin: 0.1 },
  full: { streamLen: 24000, epochs: 12, fullEpochs: 600, margin: 0.2 },
};
const budgetName = parseBudget(process.argv.slice(2));
const cfg = BUDGETS[budgetName];
const t0 = performance.now();
const here = dirname(fileURLToPath(import.meta.url));

await init();

// ---- (a) vanishing gradients ---------------------------------------------------
const T = 100, B = 4, I = 8, H = 32;
const x = new Rng(1).fillUniform(new Float32Array(T * B * I), -1, 1); // [T, B, I] random inputs
const dhN = new Float32Array(B * H).fill(1); // ∂L/∂h_T: the loss sits on the last step only
const curve = (layer) => {
  layer.forward(x, { batchSize: B });
  layer.backward({ dhN, recordGradNorms: true });
  const g = layer.gradNorms(); // ‖∂L/∂h_t‖, t = 0..T-1
  layer.dispose();
  return Array.from(g, (v) => v / g[T - 1]); // relative to the last step, where all start alike
};
const curves = [
  { name: "SimpleRNN (tanh)", color: "#d62728", g: curve(new SimpleRNN({ inputSize: I, hiddenSize: H, seed: 3 })) },
  { name: "GRU", color: "#2ca02c", g: curve(new GRU({ inputSize: I, hiddenSize: H, seed: 3 })) },
  { name: "LSTM (forget bias 1)", color: "#1f77b4", g: curve(new LSTM({ inputSize: I, hiddenSize: H, seed: 3, forgetBias: 1 })) },
];
console.log(`(a) vanishing gradients: ‖∂L/∂h_t‖ / ‖∂L/∂h_T-1‖ with the loss on the last of T=${T} steps (B=${B}, I=${I}, H=${H}, random inputs)`);
printTable(curves);
const svgPath = join(here, "out", "vanishing.svg");
mkdirSync(dirname(svgPath), { recursive: true });
writeFileSync(svgPath, svgPlot(curves));
console.log(`plot written to ${relative(process.cwd(), svgPath) || svgPath}`);
const rnnRatio = curves[0].g[0], lstmRatio = curves[2].g[0];
const orders = Math.log10(lstmRatio / rnnRatio);
const okA = orders >= 6;
console.log(`at t=0: SimpleRNN ${rnnRatio.toExponential(2)}, LSTM ${lstmRatio.toExponential(2)}: the RNN's is ${orders.toFixed(1)} orders of magnitude smaller (required: 6)`);

// ---- (b) truncated BPTT and state carrying --------------------------------------
const makeStream = (seed, n) => {
  const rng = new Rng(seed);
  let s = "";
  while (s.length < n) {
    const c = rng.next() < 0.5 ? "a" : "b";
    s += c + ".".repeat(6) + c.toUpperCase();
  }
  return s;
};
const trainText = makeStream(9, cfg.streamLen);
const testText = makeStream(10, 4000);
const vocab = Vocab.fromChars("abAB.");
const trainIds = vocab.encode(trainText), testIds = vocab.encode(testText);
const STREAMS = 16;
const noMemory = (2 * Math.LN2) / 8, withMemory = Math.LN2 / 8;
console.log(`\n(b) truncated BPTT on "${trainText.slice(0, 24)}...": ${trainIds.length} chars in ${STREAMS} parallel streams of ${Math.floor(trainIds.length / STREAMS)}, ` +
  `LSTM H=24; test on a fresh stream of ${testIds.length}`);
console.log(`    best possible loss: ${withMemory.toFixed(4)} nats/char remembering the opening letter 7 steps back, ${noMemory.toFixed(4)} knowing the position ` +
  `in the segment but not its opening letter (more if the position is lost too, as with a reset every 5 steps)`);

const L = Math.floor(trainIds.length / STREAMS);
const variants = [
  { name: "reset", k1: 5, k2: 5, carry: false, epochs: cfg.epochs },
  { name: "carry", k1: 5, k2: 5, carry: true, epochs: cfg.epochs },
  { name: "carry k2=10", k1: 5, k2: 10, carry: true, epochs: cfg.epochs },
  { name: "full BPTT", k1: L, k2: L, carry: true, epochs: cfg.epochs },
  { name: "full BPTT", k1: L, k2: L, carry: true, epochs: cfg.fullEpochs },
];
console.log("    variant        k1    k2  state   epochs   updates   cell steps   train loss   test loss   seconds");
for (const v of variants) {
  const ts = performance.now();
  const m = new Sequential({
    input: { type: "tokens", vocabSize: vocab.size, embeddingDim: 8 },
    recurrent: [{ cell: "lstm", hiddenSize: 24 }],
    output: { size: vocab.size, loss: "xent" },
    mode: "many-to-many",
    seed: 2,
  });
  const h = m.fit({ stream: trainIds }, { epochs: v.epochs, batchSize: STREAMS, tbptt: { k1: v.k1, k2: v.k2, carry: v.carry }, optimizer: { type: "adam", lr: 0.01 } });
  // Evaluate the way the model was trained: windows of k1, the state carried or reset.
  v.train = m.evaluate({ stream: trainIds }, { batchSize: STREAMS, k1: Math.min(v.k1, 250), carry: v.carry }).loss;
  v.test = m.evaluate({ stream: testIds }, { batchSize: STREAMS, k1: Math.min(v.k1, 250), carry: v.carry }).loss;
  v.updates = h.steps; // cell steps (forward + backward through one LSTM step of one stream): about updates * k2 * streams
  m.dispose();
  console.log(`    ${v.name.padEnd(13)} ${String(v.k1).padStart(4)}  ${String(v.k2).padStart(4)}  ${v.carry ? "carry" : "reset"}  ${String(v.epochs).padStart(6)}  ${String(v.updates).padStart(8)}   ${fmtK(v.updates * v.k2 * STREAMS).padStart(10)}   ` +
    `${v.train.toFixed(4).padStart(10)}   ${v.test.toFixed(4).padStart(9)}   ${((performance.now() - ts) / 1000).toFixed(1).padStart(7)}`);
}
const [reset, carry, longer] = variants;
const okB = carry.test < reset.test - cfg.margin;
console.log(`carrying the state: test loss ${carry.test.toFixed(4)} vs ${reset.test.toFixed(4)} resetting it (required: lower by ${cfg.margin}); ` +
  `gradients through k2=10 steps: ${longer.test.toFixed(4)}; full BPTT after ${variants[3].updates} updates ${variants[3].test.toFixed(4)}, ` +
  `after ${variants[4].updates} ${variants[4].test.toFixed(4)}`);

const ok = okA && okB;
console.log(`time ${((performance.now() - t0) / 1000).toFixed(1)} s`);
console.log(`RESULT tbptt-vanishing budget=${budgetName} rnn_t0=${rnnRatio.toExponential(2)} lstm_t0=${lstmRatio.toExponential(2)} orders=${orders.toFixed(1)} ` +
  `carry=${carry.test.toFixed(4)} reset=${reset.test.toFixed(4)} carry_k2_10=${longer.test.toFixed(4)} full_bptt=${variants[3].test.toFixed(4)} full_bptt_${cfg.fullEpochs}=${variants[4].test.toFixed(4)} ${ok ? "PASS" : "FAIL"}`);
if (!ok) process.exit(1);

// ---- helpers --------------------------------------------------------------------

/** 1234567 -> "1.23M". */
function fmtK(n) {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(0)}k` : String(n);
}


/** A table of the curves at every 10th step, with a log-scale bar per value (one # per decade above 1e-20). */
function printTable(cs) {
  const bar = (v) => "#".repeat(Math.max(0, Math.round(20 + Math.log10(Math.max(v, 1e-30)))));
  const steps = [T - 1];
  for (let t = 90; t >= 0; t -= 10) steps.push(t);
  console.log(`    t   ${cs.map((c) => c.name.padEnd(22)).join("")}`);
  for (const t of steps) {
    const cells = cs.map((c) => `${c.g[t].toExponential(1).padStart(8)} ${bar(c.g[t]).padEnd(13)}`);
    console.log(`  ${String(t).padStart(3)}   ${cells.join("")}`);
  }
  console.log("        (bars: log10 scale, one # per decade above 1e-20)");
}

/** A hand-built SVG line plot of the curves on a log10 y axis. */
function svgPlot(cs) {
  const W = 720, Hh = 420, ml = 70, mr = 20, mt = 40, mb = 50;
  const pw = W - ml - mr, ph = Hh - mt - mb;
  const all = cs.flatMap((c) => c.g).filter((v) => v > 0);
  const lo = Math.floor(Math.log10(Math.min(...all))), hi = Math.max(0, Math.ceil(Math.log10(Math.max(...all))));
  const X = (t) => ml + (t / (T - 1)) * pw;
  const Y = (v) => mt + ((hi - Math.log10(Math.max(v, 10 ** lo))) / (hi - lo)) * ph;
  const out = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${Hh}" viewBox="0 0 ${W} ${Hh}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${Hh}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">Vanishing gradients: ‖∂L/∂h_t‖ / ‖∂L/∂h_${T - 1}‖, loss on the last step (T=${T}, H=${H})</text>`);
  const dstep = Math.max(1, Math.ceil((hi - lo) / 12));
  for (let d = hi; d >= lo; d -= dstep) {
    const y = Y(10 ** d).toFixed(1);
    out.push(`<line x1="${ml}" y1="${y}" x2="${ml + pw}" y2="${y}" stroke="#ddd"/>`);
    out.push(`<text x="${ml - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">1e${d}</text>`);
  }
  for (let t = 0; t < T; t += 10) {
    const xx = X(t).toFixed(1);
    out.push(`<line x1="${xx}" y1="${mt}" x2="${xx}" y2="${mt + ph}" stroke="#eee"/>`);
    out.push(`<text x="${xx}" y="${mt + ph + 16}" text-anchor="middle">${t}</text>`);
  }
  out.push(`<rect x="${ml}" y="${mt}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${ml + pw / 2}" y="${Hh - 10}" text-anchor="middle">time step t</text>`);
  out.push(`<text transform="translate(16 ${mt + ph / 2}) rotate(-90)" text-anchor="middle">gradient norm (log scale)</text>`);
  cs.forEach((c, i) => {
    const pts = c.g.map((v, t) => `${X(t).toFixed(1)},${Y(v).toFixed(1)}`).join(" ");
    out.push(`<polyline fill="none" stroke="${c.color}" stroke-width="2" points="${pts}"/>`);
    const ly = mt + ph - 14 - 18 * (cs.length - 1 - i);
    out.push(`<line x1="${ml + pw - 250}" y1="${ly}" x2="${ml + pw - 226}" y2="${ly}" stroke="${c.color}" stroke-width="2"/>`);
    out.push(`<text x="${ml + pw - 220}" y="${ly}" dominant-baseline="middle">${c.name}: t=0 ${c.g[0].toExponential(1)}</text>`);
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}
