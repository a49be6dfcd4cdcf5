// Training benchmarks (DESIGN.md workloads), each against a peer run in the same process.
//  W2: LSTM B=32, T=64, I=64, H=256, Dense(64) + softmax cross-entropy at every
//      step, one Adam update — ms per training step, vs TensorFlow.js (WASM).
//  W3: char-LSTM, H=128, vocabulary 65, sequence 25, batch 1 — µs per character
//      trained, vs brain.js's recurrent.LSTM on the same text.
import { createRequire } from "node:module";
import { init } from "../dist/runtime/wasm.js";
import { Sequential } from "../dist/model/sequential.js";
import { Rng } from "../dist/util/rng.js";
import { time } from "./format.js";
import { loadTfjs } from "./peers.js";

export async function run({ quick = false } = {}) {
  await init(process.env.UNFOLD_WASM || undefined);
  const rows = [];
  rows.push(...(await w2(quick)));
  rows.push(...(await w3(quick)));
  return rows;
}

async function w2(quick) {
  const B = 32, T = 64, I = 64, H = 256, O = 64;
  const rng = new Rng(2);
  const features = rng.fillUniform(new Float32Array(T * B * I), -1, 1);
  const targets = Int32Array.from({ length: T * B }, () => rng.int(O));
  const m = new Sequential({ input: { type: "features", size: I }, recurrent: [{ cell: "lstm", hiddenSize: H }], output: { size: O, loss: "xent" }, mode: "many-to-many", seed: 1 });
  const batch = { T, B, features, targets };
  // One training step exactly as fit() does it: forward, loss, backward, clip, Adam.
  const { Optimizer } = await import("../dist/train/optimizers.js");
  const { applyUpdate } = await import("../dist/train/trainer.js");
  const opt = new Optimizer({ type: "adam", lr: 1e-3 }, m.regions());
  const step = () => {
    m.forwardPtr(batch, { training: true });
    m.lossAndGrad(batch);
    m.backwardPtr();
    applyUpdate(m.regions(), opt, { clipNorm: 5, lr: 1e-3 });
  };
  // The same update through the public API: fit() over { inputs, targets } (32 batch-first sequences = one update),
  // alternated with the internal step in this process: the cost of fit's batching, checks and bookkeeping.
  const m2 = new Sequential({ input: { type: "features", size: I }, recurrent: [{ cell: "lstm", hiddenSize: H }], output: { size: O, loss: "xent" }, mode: "many-to-many", seed: 1 });
  const inputs = [], tg = [];
  for (let b = 0; b < B; b++) {
    const s = new Float32Array(T * I);
    for (let t = 0; t < T; t++) s.set(features.subarray((t * B + b) * I, (t * B + b + 1) * I), t * I);
    inputs.push(s);
    tg.push(Array.from({ length: T }, (_, t) => targets[t * B + b]));
  }
  const fitOpts = { epochs: 1, batchSize: B, shuffle: false, optimizer: { type: "adam", lr: 1e-3 }, clipNorm: 5 };
  const viaFit = () => m2.fit({ inputs, targets: tg }, fitOpts);
  const opt1 = { maxTime: quick ? 0.5 : 1.5, minSamples: quick ? 3 : 5 };
  const inner = [], outer = [];
  for (let r = 0; r < (quick ? 1 : 3); r++) {
    inner.push((await time("w2 ours", step, opt1)).mean);
    outer.push((await time("w2 ours via fit", viaFit, opt1)).mean);
  }
  const med = (xs) => [...xs].sort((a, b) => a - b)[(xs.length - 1) >> 1];
  const ours = { mean: med(inner) };
  const fitMean = med(outer);
  const rows = [];
  const peer = await loadTfjs("wasm");
  let base;
  if (peer) {
    const { tf, tfl } = peer;
    const model = tfl.sequential();
    model.add(tfl.layers.lstm({ units: H, returnSequences: true, recurrentInitializer: "glorotUniform", inputShape: [T, I] }));
    model.add(tfl.layers.timeDistributed({ layer: tfl.layers.dense({ units: O, activation: "softmax" }) }));
    model.compile({ optimizer: tf.train.adam(1e-3), loss: "sparseCategoricalCrossentropy" });
    const xb = new Float32Array(B * T * I);
    for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) for (let i = 0; i < I; i++) xb[(b * T + t) * I + i] = features[(t * B + b) * I + i];
    const yb = new Float32Array(B * T);
    for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) yb[b * T + t] = targets[t * B + b];
    const xt = tf.tensor3d(xb, [B, T, I]);
    const yt = tf.tensor3d(yb, [B, T, 1]);
    await model.trainOnBatch(xt, yt);
    const r = await time("w2 tfjs", { defer: true, fn: (d) => model.trainOnBatch(xt, yt).then(() => d.resolve()) }, { maxTime: 0.1, minSamples: quick ? 1 : 2 });
    base = r;
    rows.push({ case: "W2 LSTM train step", impl: "tfjs-wasm", rate: r.mean * 1e3, unit: "ms", ratio: 1, baseline: "tfjs-wasm" });
  }
  rows.push({ case: "W2 LSTM train step", impl: "unfold-rnn", rate: ours.mean * 1e3, unit: "ms (target <= 150)", ratio: base ? base.mean / ours.mean : undefined, baseline: base ? "tfjs-wasm" : "" });
  rows.push({ case: "W2 LSTM train step", impl: "unfold-rnn via fit()", rate: fitMean * 1e3, unit: "ms (target <= 95)", ratio: base ? base.mean / fitMean : undefined, baseline: base ? "tfjs-wasm" : "" });
  rows.push({ case: "W2 fit() / internal step", impl: "unfold-rnn", rate: fitMean / ours.mean, unit: "x (target <= 1.05)" });
  opt.dispose();
  m.dispose();
  m2.dispose();
  return rows;
}

async function w3(quick) {
  // Real text: the opening of the US Constitution (public domain), repeated to length.
  const base = "We the People of the United States, in Order to form a more perfect Union, establish Justice, insure domestic Tranquility, provide for the common defence, promote the general Welfare, and secure the Blessings of Liberty to ourselves and our Posterity, do ordain and establish this Constitution for the United States of America. ";
  let text = base;
  // 65 distinct characters, like tiny-shakespeare's vocabulary.
  const extra = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 .,;:!?'-\n";
  text += extra;
  const chars = [...new Set(text)].slice(0, 65);
  text = [...text].filter((c) => chars.includes(c)).join("");
  const V = chars.length;
  const ids = Array.from(text, (c) => chars.indexOf(c));
  const seq = 25, H = 128;
  const m = new Sequential({ input: { type: "tokens", vocabSize: V, embeddingDim: V }, recurrent: [{ cell: "lstm", hiddenSize: H }], output: { size: V, loss: "xent" }, mode: "many-to-many", seed: 3 });
  const n = seq * 8; // characters per timed call
  const stream = ids.concat(ids).slice(0, n + 1);
  const ours = await time("w3 ours", () => m.fit({ stream }, { epochs: 1, batchSize: 1, tbptt: { k1: seq }, optimizer: { type: "adam", lr: 2e-3 } }), { maxTime: quick ? 0.5 : 2, minSamples: quick ? 3 : 6 });
  const usOurs = (ours.mean / n) * 1e6;
  const rows = [];
  let brainUs;
  try {
    const require = createRequire(import.meta.url);
    const brain = require("brain.js");
    // The same vocabulary as ours (V characters): without a DataFormatter
    // brain.js builds one from its first train() call's data, here two
    // pieces, and would be a smaller model than ours.
    const net = new brain.recurrent.LSTM({ hiddenLayers: [H], dataFormatter: brain.utilities.DataFormatter.fromString(text) });
    // Sequences of 25 characters, one pass each: brain.js trains one sequence per step, batch 1.
    const pieces = [];
    for (let i = 0; i + seq <= text.length; i += seq) pieces.push(text.slice(i, i + seq));
    net.train(pieces.slice(0, 2), { iterations: 1, log: false });
    const k = quick ? 4 : 8;
    const r = await time("w3 brain.js", () => net.train(pieces.slice(0, k), { iterations: 1, log: false, errorThresh: 0 }), { maxTime: quick ? 0.5 : 2, minSamples: 2 });
    brainUs = (r.mean / (k * seq)) * 1e6;
    rows.push({ case: "W3 char-LSTM train", impl: "brain.js", rate: brainUs, unit: "µs/char", ratio: 1, baseline: "brain.js" });
  } catch (err) {
    console.warn(`(brain.js not available: ${err.message})`);
  }
  rows.push({ case: "W3 char-LSTM train", impl: "unfold-rnn", rate: usOurs, unit: "µs/char (target <= 100)", ratio: brainUs ? brainUs / usOurs : undefined, baseline: brainUs ? "brain.js" : "" });
  m.dispose();
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { printTable } = await import("./format.js");
  printTable(await run({ quick: process.argv.includes("--quick") }));
}
