// One JavaScript peer of `npm run bench:peers` in its own process (started by
// bench/peers-all.js, which alternates requests between all peers):
//   node bench/peers-child.js <engine> [threads] [simd]
//   engine: unfold | tfjs-wasm | tfjs-cpu | brain | ort
// Reads JSON requests { case: "W1"|"W2"|"W3"|"W3cli", cell: "lstm"|"gru", seconds, min }
// on stdin, one per line; answers one JSON line each on stdout:
// { mean: seconds per call, samples, per: units (characters) per call } or { skip: why }.
// The first line it prints is { ready: description } or { error: why it cannot run }.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createInterface } from "node:readline";
import { time } from "./format.js";
import { corpusText, loadTfjs, W3, w3Text } from "./peers.js";

const [engine, threadsArg = "1", simd = "plain"] = process.argv.slice(2);
const threads = Number(threadsArg);
const require = createRequire(import.meta.url);
const root = new URL("..", import.meta.url);
const versionOf = (pkg) => JSON.parse(readFileSync(new URL(`node_modules/${pkg}/package.json`, root), "utf8")).version;

// Workloads (../shared/DESIGN.md).
const B = 32, T = 64, I = 64, H = 256, O = 64;

/** Deterministic uniform numbers in [-1, 1) (no dependency on our Rng, so peers share the data). */
function uniform(n, seed) {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 31 - 1;
  }
  return a;
}
const ints = (n, k, seed) => Array.from(uniform(n, seed), (u) => Math.floor(((u + 1) / 2) * k) % k);

const w3Ids = () => w3Text().ids;

const engines = {
  async unfold() {
    await import("../dist/runtime/use-node.js"); // Node: read unfold.wasm from disk
    const { init } = await import("../dist/runtime/wasm.js");
    await init({ threads, simd });
    const { LSTM, GRU } = await import("../dist/layers/recurrent.js");
    const { Sequential } = await import("../dist/model/sequential.js");
    return {
      ready: `unfold-rnn, ${threads} thread${threads > 1 ? "s" : ""}, ${simd} SIMD, node ${process.version}`,
      W1(cell) {
        const m = new (cell === "lstm" ? LSTM : GRU)({ inputSize: I, hiddenSize: H, seed: 1 });
        const x = uniform(T * B * I, 1);
        return { fn: () => m.forward(x, { batchSize: B }) };
      },
      W2(cell) {
        // The public API as a user calls it: fit() over { inputs, targets }, 32 sequences = one update per call.
        const m = new Sequential({ input: { type: "features", size: I }, recurrent: [{ cell, hiddenSize: H }], output: { size: O, loss: "xent" }, mode: "many-to-many", seed: 1 });
        const inputs = Array.from({ length: B }, (_, b) => uniform(T * I, 10 + b));
        const targets = Array.from({ length: B }, (_, b) => ints(T, O, 100 + b));
        const opts = { epochs: 1, batchSize: B, shuffle: false, optimizer: { type: "adam", lr: 1e-3 }, clipNorm: 5 };
        return { fn: () => m.fit({ inputs, targets }, opts) };
      },
      /** The model of `unfold train --hidden 128 --layers L --embedding E` on W3's text (req.text "w3") or the default corpus (all its characters), trained by fit(). */
      async W3cli(cell, req) {
        const { Vocab } = await import("../dist/data/vocab.js");
        const text = req.text === "w3" ? w3Text().text : corpusText(40_000);
        const vocab = Vocab.fromChars(text);
        const m = new Sequential({ input: { type: "tokens", vocabSize: vocab.size, embeddingDim: req.embedding }, recurrent: [{ cell, hiddenSize: W3.H, numLayers: req.layers }], output: { size: vocab.size, loss: "xent" }, mode: "many-to-many", seed: 1 });
        const stream = Array.from(vocab.encode(text)).slice(0, W3.S * W3.calls + 1);
        const opts = { epochs: 1, batchSize: 1, tbptt: { k1: W3.S }, optimizer: { type: "adam", lr: 2e-3 } };
        return { fn: () => m.fit({ stream }, opts), per: W3.S * W3.calls };
      },
      W3(cell) {
        const m = new Sequential({ input: { type: "tokens", vocabSize: W3.V, embeddingDim: W3.E }, recurrent: [{ cell, hiddenSize: W3.H }], output: { size: W3.V, loss: "xent" }, mode: "many-to-many", seed: 3 });
        const stream = w3Ids().slice(0, W3.S * W3.calls + 1);
        const opts = { epochs: 1, batchSize: 1, tbptt: { k1: W3.S }, optimizer: { type: "adam", lr: 2e-3 } };
        return { fn: () => m.fit({ stream }, opts), per: W3.S * W3.calls };
      },
    };
  },

  async tfjs(backend) {
    const peer = await loadTfjs(backend);
    if (!peer) throw new Error(`TensorFlow.js ${backend} backend did not load`);
    const { tf, tfl } = peer;
    // tfjs's GRU applies the reset gate before the recurrent matmul (Keras reset_after=false; PyTorch's is after): same cost.
    const rnn = (cell, opts) => (cell === "lstm" ? tfl.layers.lstm(opts) : tfl.layers.gru(opts));
    return {
      ready: `TensorFlow.js ${tf.version_core} ${backend} backend (one thread in Node)`,
      W1(cell) {
        const layer = rnn(cell, { units: H, returnSequences: true, recurrentInitializer: "glorotUniform", inputShape: [T, I] });
        const xt = tf.tensor3d(uniform(B * T * I, 1), [B, T, I]);
        // No tf.tidy: it makes tfjs's LSTM ~4x slower here; apply disposes its own temporaries.
        return { fn: () => { const y = layer.apply(xt); y.dataSync(); y.dispose(); } };
      },
      W2(cell) {
        if (backend === "cpu") return { skip: "tfjs cpu backend: one W2 step takes minutes (its W1 forward alone is seconds); not run" };
        const model = tfl.sequential();
        model.add(rnn(cell, { units: H, returnSequences: true, recurrentInitializer: "glorotUniform", inputShape: [T, I] }));
        model.add(tfl.layers.timeDistributed({ layer: tfl.layers.dense({ units: O, activation: "softmax" }) }));
        // tfjs optimizers have no gradient clipping by global norm: W2 without the clip for this peer.
        model.compile({ optimizer: tf.train.adam(1e-3), loss: "sparseCategoricalCrossentropy" });
        const xt = tf.tensor3d(uniform(B * T * I, 1), [B, T, I]);
        const yt = tf.tensor3d(Float32Array.from(ints(B * T, O, 100)), [B, T, 1]);
        return { async: true, fn: () => model.trainOnBatch(xt, yt) };
      },
      W3: () => ({ skip: "TensorFlow.js: W3 (batch 1 char LSTM) not measured; its per-step op overhead is shown by W1/W2" }),
    };
  },

  async brain() {
    const brain = require("brain.js");
    return {
      ready: `brain.js ${versionOf("brain.js")} recurrent.LSTM`,
      W1: () => ({ skip: "brain.js has no batched sequence forward (batch 1, one sequence at a time)" }),
      W2: () => ({ skip: "brain.js has no batched training with a softmax head over features" }),
      W3(cell) {
        if (cell !== "lstm") return { skip: "W3 is an LSTM" };
        // The same text and vocabulary as ours: brain.js builds its DataFormatter
        // from the first train() call's data unless given one, and from two
        // pieces it saw 23 characters, a smaller model than ours (V = E = 65).
        const { text } = w3Text();
        const net = new brain.recurrent.LSTM({ hiddenLayers: [W3.H], dataFormatter: brain.utilities.DataFormatter.fromString(text) });
        const pieces = [];
        for (let i = 0; i + W3.S <= text.length && pieces.length < 4; i += W3.S) pieces.push(text.slice(i, i + W3.S));
        net.train(pieces.slice(0, 2), { iterations: 1, log: false });
        // One sequence of 25 characters per step, batch 1, like W3.
        return { fn: () => net.train(pieces, { iterations: 1, log: false, errorThresh: 0 }), per: pieces.length * W3.S };
      },
    };
  },

  async ort() {
    const ort = await import("onnxruntime-web");
    ort.env.wasm.numThreads = threads;
    ort.env.logLevel = "error";
    const bytes = readFileSync(new URL("bench/models/lstm-w1.onnx", root));
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
    const x = new ort.Tensor("float32", uniform(T * B * I, 1), [T, B, I]);
    await session.run({ x });
    return {
      ready: `onnxruntime-web ${versionOf("onnxruntime-web")} wasm, ${threads} thread${threads > 1 ? "s" : ""} (LSTM exported by torch.onnx.export, tools/export_onnx_lstm.py)`,
      W1: (cell) => (cell === "lstm" ? { async: true, fn: () => session.run({ x }) } : { skip: "only the LSTM is exported to ONNX" }),
      W2: () => ({ skip: "onnxruntime-web is inference only" }),
      W3: () => ({ skip: "onnxruntime-web is inference only" }),
    };
  },
};

let impl;
try {
  impl = engine === "tfjs-wasm" ? await engines.tfjs("wasm") : engine === "tfjs-cpu" ? await engines.tfjs("cpu") : await engines[engine]();
  console.log(JSON.stringify({ ready: impl.ready }));
} catch (err) {
  console.log(JSON.stringify({ error: err.message.split("\n")[0] }));
  process.exit(0);
}

const cases = new Map();
for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const req = JSON.parse(line);
  const key = `${req.case}/${req.cell}/${req.layers ?? ""}/${req.embedding ?? ""}`;
  try {
    if (!cases.has(key)) {
      const c = impl[req.case] ? await impl[req.case](req.cell, req) : { skip: `no ${req.case} for this peer` };
      if (!c.skip) await (c.async ? c.fn() : c.fn()); // warm-up
      cases.set(key, c);
    }
    const c = cases.get(key);
    if (c.skip) {
      console.log(JSON.stringify({ skip: c.skip }));
      continue;
    }
    const fn = c.async ? { defer: true, fn: (d) => c.fn().then(() => d.resolve()) } : c.fn;
    const r = await time(key, fn, { maxTime: req.seconds ?? 1, minSamples: req.min ?? 3 });
    console.log(JSON.stringify({ mean: r.mean, samples: r.samples, per: c.per ?? 1 }));
  } catch (err) {
    console.log(JSON.stringify({ skip: `failed: ${err.message.split("\n")[0]}` }));
  }
}
process.exit(0);
