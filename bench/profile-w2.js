// Where W2's time goes: one training step (LSTM B=32 T=64 I=64 H=256,
// Dense 64 + softmax cross-entropy per step, Adam, clip 5) split into its
// parts, and the same update through fit() over { inputs, targets },
// alternated step by step in this process. Timed in CPU time
// (process.cpuUsage), which waiting for a core on a loaded machine does not
// inflate.
//   node bench/profile-w2.js [path to a built checkout, default: this one]
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";

const root = pathToFileURL(resolve(process.argv[2] ?? new URL("..", import.meta.url).pathname)).href;
await import(`${root}/dist/runtime/use-node.js`); // Node: read unfold.wasm from disk
const { init } = await import(`${root}/dist/runtime/wasm.js`);
const { Sequential } = await import(`${root}/dist/model/sequential.js`);
const { Rng } = await import(`${root}/dist/util/rng.js`);
const { Optimizer } = await import(`${root}/dist/train/optimizers.js`);
const { applyUpdate } = await import(`${root}/dist/train/trainer.js`);
await init();
const B = 32, T = 64, I = 64, H = 256, O = 64, N = 20;
const rng = new Rng(2);
const features = rng.fillUniform(new Float32Array(T * B * I), -1, 1);
const targets = Int32Array.from({ length: T * B }, () => rng.int(O));
const spec = { input: { type: "features", size: I }, recurrent: [{ cell: "lstm", hiddenSize: H }], output: { size: O, loss: "xent" }, mode: "many-to-many", seed: 1 };
const m = new Sequential(spec);
const batch = { T, B, features, targets };
const opt = new Optimizer({ type: "adam", lr: 1e-3 }, m.regions());
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e3; };
const parts = { "checkBatch": 0, "forward (recurrent, head GEMM + bias)": 0, "loss (softmax + xent)": 0, "backward": 0, "update (norm, clip, Adam, NaN check)": 0 };
const names = Object.keys(parts);
const step = (acc) => {
  const fns = [() => m.checkBatch(batch, true), () => m.forwardPtr(batch, { training: true }), () => m.lossAndGrad(batch), () => m.backwardPtr(), () => applyUpdate(m.regions(), opt, { clipNorm: 5, lr: 1e-3 })];
  fns.forEach((f, i) => { const t = cpu(); f(); if (acc) parts[names[i]] += cpu() - t; });
};
// The same data as 32 batch-first sequences for fit().
const inputs = [], tg = [];
for (let b = 0; b < B; b++) {
  const s = new Float32Array(T * I);
  for (let t = 0; t < T; t++) s.set(features.subarray((t * B + b) * I, (t * B + b + 1) * I), t * I);
  inputs.push(s);
  tg.push(Array.from({ length: T }, (_, t) => targets[t * B + b]));
}
const m2 = new Sequential(spec);
const fitOpts = { epochs: 1, batchSize: B, optimizer: { type: "adam", lr: 1e-3 }, clipNorm: 5, shuffle: false };
for (let i = 0; i < 3; i++) { step(false); m2.fit({ inputs, targets: tg }, fitOpts); }
let tStep = 0, tFit = 0;
for (let r = 0; r < N; r++) {
  let t = cpu(); step(true); tStep += cpu() - t;
  t = cpu(); m2.fit({ inputs, targets: tg }, fitOpts); tFit += cpu() - t;
}
console.log(`W2 (${process.argv[2] ?? "this checkout"}), CPU ms per update, mean of ${N}:`);
for (const [k, v] of Object.entries(parts)) console.log(`  ${k.padEnd(40)} ${(v / N).toFixed(2)}`);
console.log(`  ${"internal step".padEnd(40)} ${(tStep / N).toFixed(2)}\n  ${"fit() over { inputs, targets }".padEnd(40)} ${(tFit / N).toFixed(2)}  (fit / step = ${(tFit / tStep).toFixed(3)}, target <= 1.05)`);
