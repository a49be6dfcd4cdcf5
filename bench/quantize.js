// Int8 inference (issue 16): next-token latency of a session on the f32
// model and on its quantize(model, { bits: 8 }) copy, and onnxruntime-node's
// (native) on the same model exported with toONNX({ states: true }), all in
// one process, alternating, one thread each. Also batched inference (W1
// shape through forwardPtr) on both, which must not be slower for int8.
//
//   node bench/run.js quantize            (ORT_NODE=<dir of onnxruntime-node> to add it)
//
// onnxruntime-node is not a dependency of this package: install it anywhere
// (`ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node` in a scratch
// directory) and point ORT_NODE at that package's directory.
import { init } from "../dist/runtime/wasm.js";
import { Sequential } from "../dist/model/sequential.js";
import { quantize } from "../dist/model/quantize.js";
import { toONNX } from "../dist/onnx/index.js";
import { time } from "./format.js";

const V = 96; // vocabulary of a char LM
const E = 64; // the CLI's default embedding

function charLM(H, L) {
  return new Sequential({
    input: { type: "tokens", vocabSize: V, embeddingDim: E },
    recurrent: [{ cell: "lstm", hiddenSize: H, numLayers: L }],
    output: { size: V, loss: "xent" },
    mode: "many-to-many",
    seed: 1,
  });
}

async function loadOrt() {
  const dir = process.env.ORT_NODE;
  if (!dir) return null;
  const { pathToFileURL } = await import("node:url");
  const mod = await import(pathToFileURL(`${dir.replace(/\/$/, "")}/dist/index.js`).href);
  return mod.default ?? mod;
}

/** CPU seconds per call of fn, best of `rounds` runs of `n` calls (wall time counts other processes' turns on a loaded machine). */
function cpuPer(fn, n, rounds = 5) {
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < n; i++) fn();
    const c = process.cpuUsage(c0);
    best = Math.min(best, (c.user + c.system) * 1e-6 / n);
  }
  return best;
}

export async function run({ quick = false } = {}) {
  await init(process.env.UNFOLD_WASM || undefined);
  const ort = await loadOrt();
  const rows = [];
  const N = 100; // tokens per timed call
  const opt = { maxTime: quick ? 0.5 : 2, minSamples: quick ? 3 : 8 };
  for (const [H, L] of quick ? [[512, 2]] : [[256, 1], [512, 2]]) {
    const f = charLM(H, L);
    const q = quantize(f, { bits: 8, allowUntrained: true }); // latency does not depend on the values
    const sf = f.session({ seed: 1 });
    const sq = q.session({ seed: 1 });
    sf.feed([1, 2, 3]);
    sq.feed([1, 2, 3]);
    const cases = {
      "f32 session": () => { for (let i = 0; i < N; i++) sf.sample(); },
      "int8 session": () => { for (let i = 0; i < N; i++) sq.sample(); },
    };
    let ortSession = null;
    if (ort) {
      ortSession = await ort.InferenceSession.create(toONNX(f, { states: true, softmax: true, lengths: false }), { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: "sequential" });
      const st = [L, 1, H];
      let h = new ort.Tensor("float32", new Float32Array(L * H), st);
      let c = new ort.Tensor("float32", new Float32Array(L * H), st);
      const tok = new BigInt64Array(1);
      const feeds = { tokens: new ort.Tensor("int64", tok, [1, 1]), h0: h, c0: c };
      const outName = ortSession.outputNames;
      // One token per run (the caller's loop, as a session's step): tokens [1, 1], h0, c0 -> probabilities, hN, cN.
      cases["onnxruntime-node f32"] = { defer: true, fn: async (d) => {
        for (let i = 0; i < N; i++) {
          const r = await ortSession.run(feeds);
          feeds.h0 = r[outName[1]];
          feeds.c0 = r[outName[2]];
          tok[0] = BigInt(i % V);
        }
        d.resolve();
      } };
    }
    const wall = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
    for (let round = 0; round < (quick ? 1 : 3); round++) {
      for (const [name, fn] of Object.entries(cases)) wall[name].push((await time(name, fn, opt)).min / N);
    }
    const cpu = { "f32 session": [], "int8 session": [] };
    for (let round = 0; round < 3; round++) {
      cpu["f32 session"].push(cpuPer(cases["f32 session"], 10));
      cpu["int8 session"].push(cpuPer(cases["int8 session"], 10));
    }
    const best = (a) => Math.min(...a);
    const label = `next-token latency, char LSTM ${L}x${H} V=${V}, B=1`;
    const base = best(wall["f32 session"]);
    for (const name of Object.keys(cases)) rows.push({ case: label, impl: name, rate: best(wall[name]) * 1e6, unit: "µs/token", ratio: base / best(wall[name]), baseline: "f32 session" });
    if (ort) rows.push({ case: label, impl: "int8 session vs onnxruntime-node", rate: best(wall["int8 session"]) * 1e6, unit: "µs/token", ratio: best(wall["onnxruntime-node f32"]) / best(wall["int8 session"]), baseline: "onnxruntime-node f32" });
    const cb = best(cpu["f32 session"]);
    for (const name of Object.keys(cpu)) rows.push({ case: `${label}, CPU time`, impl: name, rate: best(cpu[name]) * 1e6 / N, unit: "µs CPU/token", ratio: cb / best(cpu[name]), baseline: "f32 session" });
    sf.dispose();
    sq.dispose();
    await ortSession?.release?.();
    q.dispose();
    f.dispose();
  }
  // Batched inference, the W1 shape (B32 T64 I64 H256), through forwardPtr: the int8 model runs the f32 GEMMs on its widened weights.
  {
    const spec = { input: { type: "features", size: 64 }, recurrent: [{ cell: "lstm", hiddenSize: 256 }], output: { size: 64, loss: "mse" }, mode: "many-to-many", seed: 1 };
    const f = new Sequential(spec);
    const q = quantize(f, { bits: 8, allowUntrained: true });
    const T = 64, B = 32;
    const features = new Float32Array(T * B * 64).map((_, i) => Math.sin(i));
    const batch = { T, B, features };
    const cases = { f32: () => f.forwardPtr(batch), int8: () => q.forwardPtr(batch) };
    const res = { f32: [], int8: [] };
    for (let round = 0; round < (quick ? 1 : 3); round++) for (const [n, fn] of Object.entries(cases)) res[n].push((await time(n, fn, { maxTime: quick ? 0.5 : 1.5, minSamples: 5 })).min);
    const best = (a) => Math.min(...a);
    for (const n of ["f32", "int8"]) rows.push({ case: "batched forward, LSTM B32 T64 I64 H256 + Dense(64)", impl: `${n} model`, rate: best(res[n]) * 1e3, unit: "ms", ratio: best(res.f32) / best(res[n]), baseline: "f32 model" });
    q.dispose();
    f.dispose();
  }
  return rows;
}
