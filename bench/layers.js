// Layer benchmarks. W1 (DESIGN.md): LSTM, B=32, T=64, I=64, H=256, full
// output sequence — forward, and forward + backward (BPTT) — against
// TensorFlow.js (WASM backend) on the same input in the same process.
// FLOPs counted: forward 2·B·T·4H·(I+H); backward twice that.
import { init } from "../dist/runtime/wasm.js";
import { LSTM } from "../dist/layers/recurrent.js";
import { Rng } from "../dist/util/rng.js";
import { time } from "./format.js";
import { loadTfjs } from "./peers.js";

export async function run({ quick = false } = {}) {
  await init(process.env.UNFOLD_WASM || undefined);
  const B = 32, T = 64, I = 64, H = 256;
  const flopF = 2 * B * T * 4 * H * (I + H);
  const rng = new Rng(1);
  const x = rng.fillUniform(new Float32Array(T * B * I), -1, 1);
  const dOut = rng.fillUniform(new Float32Array(T * B * H), -1, 1);
  const m = new LSTM({ inputSize: I, hiddenSize: H, seed: 1 });
  const opt = { maxTime: quick ? 0.5 : 2, minSamples: quick ? 3 : 8 };
  const ours = {
    fwd: await time("ours fwd", () => m.forward(x, { batchSize: B }), opt),
    fb: await time("ours fwd+bwd", () => {
      m.forward(x, { batchSize: B });
      m.backward({ dOutput: dOut });
    }, opt),
  };
  const rows = [];
  const add = (cse, impl, r, flop, base) =>
    rows.push({ case: cse, impl, rate: r.mean * 1e3, unit: `ms (${(flop / r.mean / 1e9).toFixed(1)} GFLOP/s)`, ratio: base ? base.mean / r.mean : undefined, baseline: base ? "tfjs-wasm" : "" });

  const peer = await loadTfjs("wasm");
  let tfFwd = null, tfFb = null;
  if (peer) {
    const { tf, tfl } = peer;
    const layer = tfl.layers.lstm({ units: H, returnSequences: true, recurrentInitializer: "glorotUniform", inputShape: [T, I] });
    const xt = tf.tensor3d(Array.from(x), [B, T, I]);
    const dt = tf.tensor3d(Array.from(dOut), [B, T, H]);
    layer.apply(xt).dispose();
    const peerOpt = { maxTime: quick ? 0.5 : 2, minSamples: quick ? 2 : 5 };
    // No tf.tidy around the timed calls: on this machine tidy makes the LSTM
    // ~4x slower (its per-op tracking); layer.apply disposes its own temporaries.
    tfFwd = await time("tfjs fwd", () => {
      const y = layer.apply(xt);
      y.dataSync();
      y.dispose();
    }, peerOpt);
    const f = () => tf.sum(tf.mul(layer.apply(xt), dt));
    tfFb = await time("tfjs fwd+bwd", () => {
      const { value, grads } = tf.variableGrads(f, layer.trainableWeights.map((w) => w.read()));
      for (const g of Object.values(grads)) {
        g.dataSync();
        g.dispose();
      }
      value.dispose();
    }, { maxTime: 0.1, minSamples: quick ? 1 : 2 });
    rows.push({ case: "W1 LSTM forward", impl: "tfjs-wasm", rate: tfFwd.mean * 1e3, unit: `ms (${(flopF / tfFwd.mean / 1e9).toFixed(1)} GFLOP/s)`, ratio: 1, baseline: "tfjs-wasm" });
  }
  add("W1 LSTM forward", "unfold-rnn", ours.fwd, flopF, tfFwd);
  if (tfFb) rows.push({ case: "W1 LSTM fwd+bwd", impl: "tfjs-wasm", rate: tfFb.mean * 1e3, unit: `ms (${((3 * flopF) / tfFb.mean / 1e9).toFixed(1)} GFLOP/s)`, ratio: 1, baseline: "tfjs-wasm" });
  add("W1 LSTM fwd+bwd", "unfold-rnn", ours.fb, 3 * flopF, tfFb);
  rows.push({ case: "W1 fwd+bwd / fwd", impl: "unfold-rnn", rate: ours.fb.mean / ours.fwd.mean, unit: "x (target <= 3)" });
  m.dispose();
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { printTable } = await import("./format.js");
  printTable(await run({ quick: process.argv.includes("--quick") }));
}
