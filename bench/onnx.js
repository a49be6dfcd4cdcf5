// The same model in unfold-rnn and, exported with toONNX, in ONNX Runtime Web
// (its WASM backend, one thread, in this Node process): what serving the
// export costs against running it here. Both sides compute the same numbers
// (test/onnx.test.ts checks them within 1e-5).
//   W1 + head: features I=64 -> LSTM H=256 -> Dense(64) per step, B=32, T=64
//   char step: tokens V=65, E=32 -> LSTM H=128 -> Dense(65), B=1, T=1, state carried
//              (one generation step, as a text-generation service runs it)
import * as ort from "onnxruntime-web";
import { init } from "../dist/runtime/wasm.js";
import { Sequential } from "../dist/model/sequential.js";
import { toONNX } from "../dist/onnx/index.js";
import { Rng } from "../dist/util/rng.js";
import { time } from "./format.js";

/** Time `a` and `b` alternately for a few rounds; the best mean of each (the machine is shared: noise only adds time). */
async function alternate(a, b, opt, rounds) {
  let ta = null, tb = null;
  for (let r = 0; r < rounds; r++) {
    const x = await time("a", a, opt);
    const y = await time("b", b, opt);
    if (!ta || x.mean < ta.mean) ta = x;
    if (!tb || y.mean < tb.mean) tb = y;
  }
  return [ta, tb];
}

export async function run({ quick = false } = {}) {
  await init(process.env.UNFOLD_WASM || undefined);
  ort.env.wasm.numThreads = 1;
  const rows = [];
  const opt = { maxTime: quick ? 0.5 : 1, minSamples: quick ? 3 : 5 };
  const rounds = quick ? 1 : 3;
  const rng = new Rng(1);

  {
    const B = 32, T = 64, I = 64, H = 256, O = 64;
    const m = new Sequential({ input: { type: "features", size: I }, recurrent: [{ cell: "lstm", hiddenSize: H }], output: { size: O, loss: "mse" }, mode: "many-to-many", seed: 1 });
    const features = rng.fillUniform(new Float32Array(T * B * I), -1, 1);
    const batch = { T, B, features };
    const s = await ort.InferenceSession.create(toONNX(m, { lengths: false }), { executionProviders: ["wasm"] });
    const feeds = { features: new ort.Tensor("float32", features, [T, B, I]) };
    await s.run(feeds);
    const flop = 2 * B * T * 4 * H * (I + H) + 2 * T * B * H * O;
    const [theirs, ours] = await alternate({ defer: true, fn: (d) => s.run(feeds).then(() => d.resolve()) }, () => m.forwardPtr(batch), opt, rounds);
    const unit = (r) => `ms (${(flop / r.mean / 1e9).toFixed(1)} GFLOP/s)`;
    rows.push({ case: "W1 LSTM + Dense(64) forward", impl: "onnxruntime-web (wasm, 1 thread)", rate: theirs.mean * 1e3, unit: unit(theirs), ratio: 1, baseline: "ort-web" });
    rows.push({ case: "W1 LSTM + Dense(64) forward", impl: "unfold-rnn", rate: ours.mean * 1e3, unit: unit(ours), ratio: theirs.mean / ours.mean, baseline: "ort-web" });
    await s.release();
    m.dispose();
  }

  {
    const V = 65, H = 128;
    const m = new Sequential({ input: { type: "tokens", vocabSize: V, embeddingDim: 32 }, recurrent: [{ cell: "lstm", hiddenSize: H }], output: { size: V, loss: "xent" }, mode: "many-to-many", seed: 2 });
    const s = await ort.InferenceSession.create(toONNX(m, { states: true, lengths: false }), { executionProviders: ["wasm"] });
    let state = { h0: new ort.Tensor("float32", new Float32Array(H), [1, 1, H]), c0: new ort.Tensor("float32", new Float32Array(H), [1, 1, H]) };
    let tok = 3;
    const ids = new Int32Array(1);
    m.resetState();
    const [theirs, ours] = await alternate({
      defer: true,
      fn: (d) =>
        s.run({ tokens: new ort.Tensor("int64", BigInt64Array.of(BigInt(tok)), [1, 1]), ...state }).then((r) => {
          state = { h0: r.hN, c0: r.cN };
          tok = (tok + 7) % V;
          d.resolve();
        }),
    }, () => {
      ids[0] = tok;
      m.forwardPtr({ T: 1, B: 1, ids }, { state: "keep" });
      m.carryState();
      tok = (tok + 7) % V;
    }, opt, rounds);
    rows.push({ case: "char LSTM H=128, one generation step", impl: "onnxruntime-web (wasm, 1 thread)", rate: theirs.mean * 1e6, unit: "µs", ratio: 1, baseline: "ort-web" });
    rows.push({ case: "char LSTM H=128, one generation step", impl: "unfold-rnn", rate: ours.mean * 1e6, unit: "µs", ratio: theirs.mean / ours.mean, baseline: "ort-web" });
    await s.release();
    m.dispose();
  }
  return rows;
}
