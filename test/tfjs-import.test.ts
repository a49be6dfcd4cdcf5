// fromTfjs: models built and trained a few steps with @tensorflow/tfjs-layers
// (CPU backend), saved through tf.io.withSaveHandler, imported here: our
// outputs equal tfjs's predict within 1e-5. Covers Embedding (mask_zero),
// LSTM, GRU (reset_after false, tfjs-layers' only GRU), SimpleRNN (tanh, relu,
// use_bias false), Bidirectional (concat), Dense, TimeDistributed(Dense),
// Dropout, Masking; sigmoid and hard_sigmoid gates. Then fine-tuning and
// toONNX of an imported model, and bad input. CI budget: ~20 s.
import * as tf from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import * as tfl from "@tensorflow/tfjs-layers";
import * as ort from "onnxruntime-web";
import { beforeAll, describe, expect, it } from "vitest";
import { UnfoldError } from "../src/errors.js";
import { fromTfjs, type TfjsModelJson } from "../src/io/tfjs.js";
import type { Batch, Sequential } from "../src/model/sequential.js";
import { toONNX } from "../src/onnx/index.js";
import { heap, init } from "../src/runtime/wasm.js";
import { Rng } from "../src/util/rng.js";

const TOL = 1e-5;

beforeAll(async () => {
  await init();
  await tf.setBackend("cpu");
  ort.env.wasm.numThreads = 1;
});

/** Save a tfjs model in memory: topology + weight specs + the weights' bytes. */
async function saved(m: tfl.LayersModel): Promise<{ json: TfjsModelJson; data: ArrayBuffer }> {
  let art: tf.io.ModelArtifacts | null = null;
  await m.save(tf.io.withSaveHandler(async (a) => {
    art = a;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } };
  }));
  const a = art as unknown as tf.io.ModelArtifacts;
  // Through JSON text, as a model.json file would be.
  const json = JSON.parse(JSON.stringify({ modelTopology: a.modelTopology, weightsManifest: [{ paths: ["w.bin"], weights: a.weightSpecs }] })) as TfjsModelJson;
  return { json, data: a.weightData as ArrayBuffer };
}

function relErr(ours: ArrayLike<number>, theirs: ArrayLike<number>): number {
  expect(theirs.length).toBe(ours.length);
  let m = 0;
  for (let i = 0; i < ours.length; i++) m = Math.max(m, Math.abs(ours[i] - theirs[i]) / Math.max(1, Math.abs(ours[i])));
  return m;
}

/** Our output rows, time-major [T*B, O] or [B, O]; probabilities for a softmax head. */
function ours(m: Sequential, b: Batch, softmax: boolean): Float32Array {
  const { out, rows } = m.forwardPtr(b);
  const O = m.spec.output.size;
  const y = heap().f32(out, rows * O).slice();
  if (!softmax) return y;
  for (let r = 0; r < rows; r++) {
    let mx = -Infinity, s = 0;
    for (let o = 0; o < O; o++) mx = Math.max(mx, y[r * O + o]);
    for (let o = 0; o < O; o++) s += y[r * O + o] = Math.exp(y[r * O + o] - mx);
    for (let o = 0; o < O; o++) y[r * O + o] /= s;
  }
  return y;
}

const rnnOpts = { recurrentInitializer: "glorotUniform" as const }; // tfjs's default orthogonal needs the chained-ops bundle

interface Case {
  name: string;
  build: () => tfl.Sequential;
  tokens?: number; // vocabulary size for a token input
  F?: number; // features
  many: boolean;
  softmax: boolean;
  ragged?: boolean; // right-padded sequences (token 0 / masked zeros) with lengths
  expectSpec: unknown;
}

const CASES: Case[] = [
  {
    name: "Embedding(mask_zero) -> LSTM (hard_sigmoid, the default) -> Dense softmax: a classifier on padded sequences",
    tokens: 12, many: false, softmax: true, ragged: true,
    build: () => tfl.sequential({ layers: [tfl.layers.embedding({ inputDim: 12, outputDim: 5, maskZero: true, inputLength: 6 }), tfl.layers.lstm({ units: 7, ...rnnOpts }), tfl.layers.dense({ units: 3, activation: "softmax" })] }),
    expectSpec: [{ cell: "lstm", hiddenSize: 7, gateActivation: "hard_sigmoid" }],
  },
  {
    name: "features -> GRU (reset_after false, hard_sigmoid) -> TimeDistributed(Dense)",
    F: 3, many: true, softmax: false,
    build: () => tfl.sequential({ layers: [tfl.layers.gru({ units: 6, returnSequences: true, inputShape: [6, 3], ...rnnOpts }), tfl.layers.timeDistributed({ layer: tfl.layers.dense({ units: 2 }) })] }),
    expectSpec: [{ cell: "gru", hiddenSize: 6, gateActivation: "hard_sigmoid", resetAfter: false }],
  },
  {
    name: "features -> GRU (sigmoid gates) -> Dense on the last step",
    F: 4, many: false, softmax: false,
    build: () => tfl.sequential({ layers: [tfl.layers.gru({ units: 5, recurrentActivation: "sigmoid", inputShape: [6, 4], ...rnnOpts }), tfl.layers.dense({ units: 2 })] }),
    expectSpec: [{ cell: "gru", hiddenSize: 5, resetAfter: false }],
  },
  {
    name: "features -> SimpleRNN tanh (use_bias false) -> SimpleRNN relu -> Dense per step",
    F: 3, many: true, softmax: false,
    build: () => tfl.sequential({ layers: [tfl.layers.simpleRNN({ units: 5, useBias: false, returnSequences: true, inputShape: [6, 3], ...rnnOpts }), tfl.layers.simpleRNN({ units: 4, activation: "relu", returnSequences: true, ...rnnOpts }), tfl.layers.dense({ units: 2 })] }),
    expectSpec: [{ cell: "rnn", hiddenSize: 5 }, { cell: "rnn_relu", hiddenSize: 4 }],
  },
  {
    name: "Embedding(mask_zero) -> Bidirectional(LSTM sigmoid, concat) -> Dropout -> TimeDistributed(Dense softmax), padded sequences",
    tokens: 9, many: true, softmax: true, ragged: true,
    build: () => tfl.sequential({ layers: [tfl.layers.embedding({ inputDim: 9, outputDim: 4, inputLength: 6, maskZero: true }), tfl.layers.bidirectional({ layer: tfl.layers.lstm({ units: 3, returnSequences: true, recurrentActivation: "sigmoid", ...rnnOpts }) as tfl.RNN, mergeMode: "concat" }), tfl.layers.dropout({ rate: 0.3 }), tfl.layers.timeDistributed({ layer: tfl.layers.dense({ units: 9, activation: "softmax" }) })] }),
    expectSpec: [{ cell: "lstm", hiddenSize: 3, bidirectional: true }],
  },
  {
    name: "features -> Masking -> 2 stacked LSTMs (sigmoid, unit_forget_bias) -> Dense, padded sequences",
    F: 3, many: false, softmax: false, ragged: true,
    build: () => tfl.sequential({ layers: [tfl.layers.masking({ maskValue: 0, inputShape: [6, 3] }), tfl.layers.lstm({ units: 4, returnSequences: true, recurrentActivation: "sigmoid", unitForgetBias: true, ...rnnOpts }), tfl.layers.lstm({ units: 4, recurrentActivation: "sigmoid", unitForgetBias: true, ...rnnOpts }), tfl.layers.dense({ units: 1 })] }),
    expectSpec: [{ cell: "lstm", hiddenSize: 4, numLayers: 2 }],
  },
  {
    name: "Embedding -> Bidirectional(GRU hard_sigmoid) -> GRU -> Dense softmax per step",
    tokens: 10, many: true, softmax: true,
    build: () => tfl.sequential({ layers: [tfl.layers.embedding({ inputDim: 10, outputDim: 4, inputLength: 6 }), tfl.layers.bidirectional({ layer: tfl.layers.gru({ units: 3, returnSequences: true, ...rnnOpts }) as tfl.RNN }), tfl.layers.gru({ units: 5, returnSequences: true, ...rnnOpts }), tfl.layers.dense({ units: 10, activation: "softmax" })] }),
    expectSpec: [{ cell: "gru", hiddenSize: 3, bidirectional: true, gateActivation: "hard_sigmoid", resetAfter: false }, { cell: "gru", hiddenSize: 5, gateActivation: "hard_sigmoid", resetAfter: false }],
  },
];

const T = 6;

/** A batch-first tfjs input and the matching time-major batch (with lengths when ragged). */
function data(c: Case, B: number, rng: Rng): { x: tf.Tensor; batch: Batch; lengths: number[] } {
  const lengths = Array.from({ length: B }, (_, b) => (c.ragged && b > 0 ? 1 + Math.floor(rng.next() * T) : T));
  if (c.tokens) {
    const ids = new Int32Array(B * T); // [B, T], right-padded with 0
    for (let b = 0; b < B; b++) for (let t = 0; t < lengths[b]; t++) ids[b * T + t] = 1 + Math.floor(rng.next() * (c.tokens - 1));
    const tm = new Int32Array(T * B);
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) tm[t * B + b] = ids[b * T + t];
    return { x: tf.tensor2d(ids, [B, T], "int32"), batch: { T, B, ids: tm, lengths: Int32Array.from(lengths) }, lengths };
  }
  const F = c.F!;
  const x = new Float32Array(B * T * F);
  for (let b = 0; b < B; b++) for (let t = 0; t < lengths[b]; t++) for (let f = 0; f < F; f++) x[(b * T + t) * F + f] = rng.next() * 4 - 2;
  const tm = new Float32Array(T * B * F);
  for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) for (let f = 0; f < F; f++) tm[(t * B + b) * F + f] = x[(b * T + t) * F + f];
  return { x: tf.tensor3d(x, [B, T, F]), batch: { T, B, features: tm, lengths: Int32Array.from(lengths) }, lengths };
}

describe("fromTfjs: tfjs-layers models, trained, saved and imported, give tfjs's predict", () => {
  for (const [ci, c] of CASES.entries()) {
    it(c.name, async () => {
      const rng = new Rng(40 + ci);
      const tm = c.build();
      const O = (tm.outputs[0].shape[tm.outputs[0].shape.length - 1]) as number;
      // A few training steps, so the weights are not their initialisation.
      tm.compile({ optimizer: tf.train.adam(0.05), loss: c.softmax ? "categoricalCrossentropy" : "meanSquaredError" });
      const tr = data(c, 8, rng);
      const yShape = c.many ? [8, T, O] : [8, O];
      const y = tf.tidy(() => (c.softmax ? tf.softmax(tf.randomNormal(yShape, 0, 2, "float32", 7)) : tf.randomNormal(yShape, 0, 1, "float32", 7)));
      await tm.fit(tr.x, y, { epochs: 3, batchSize: 4, verbose: 0 });
      const { json, data: wd } = await saved(tm);
      const { model, description: d } = fromTfjs(json, wd);
      try {
        expect(model.spec.recurrent).toEqual(c.expectSpec);
        expect(d.mode).toBe(c.many ? "many-to-many" : "many-to-one");
        const B = 5;
        const te = data(c, B, rng);
        const want = (tm.predict(te.x) as tf.Tensor).dataSync() as Float32Array; // [B, T, O] or [B, O]
        const got = ours(model, te.batch, c.softmax); // [T, B, O] or [B, O]
        // Compare the real steps only (Keras carries the last real output over masked steps).
        const a: number[] = [], b: number[] = [];
        for (let bb = 0; bb < B; bb++) {
          if (!c.many) for (let o = 0; o < O; o++) (a.push(got[bb * O + o]), b.push(want[bb * O + o]));
          else for (let t = 0; t < te.lengths[bb]; t++) for (let o = 0; o < O; o++) (a.push(got[(t * B + bb) * O + o]), b.push(want[(bb * T + t) * O + o]));
        }
        const err = relErr(a, b);
        console.log(`[tfjs-import] ${c.name}: max rel. error ${err.toExponential(2)}`);
        expect(err).toBeLessThan(TOL);
      } finally {
        model.dispose();
        tm.dispose();
        tf.dispose([tr.x, y]);
      }
    });
  }

  it("after import: 50 fit steps lower the loss, and toONNX exports it again (equal in ONNX Runtime)", async () => {
    const c = CASES[1];
    const tm = c.build();
    const { json, data: wd } = await saved(tm);
    tm.dispose();
    const { model } = fromTfjs(json, wd);
    try {
      const rng = new Rng(9);
      // A task: y_t = the sum of the features of x_t, x_{t-1} (both outputs).
      const seqs: Float32Array[] = [], targets: Float32Array[] = [];
      for (let n = 0; n < 32; n++) {
        const x = Float32Array.from({ length: T * 3 }, () => rng.next() * 2 - 1);
        const y = new Float32Array(T * 2);
        for (let t = 0; t < T; t++) for (let o = 0; o < 2; o++) y[t * 2 + o] = (x[t * 3] + x[t * 3 + 1] + x[t * 3 + 2] + (t > 0 ? x[(t - 1) * 3] : 0)) * (o ? -0.5 : 0.5);
        seqs.push(x);
        targets.push(y);
      }
      const dataset = { inputs: seqs, targets };
      const before = model.evaluate(dataset).loss;
      model.fit(dataset, { steps: 50, batchSize: 8, optimizer: { type: "adam", lr: 0.02 } });
      const after = model.evaluate(dataset).loss;
      console.log(`[tfjs-import] fine-tuning the imported GRU: loss ${before.toFixed(4)} -> ${after.toFixed(4)} in 50 steps`);
      expect(after).toBeLessThan(before * 0.5);
      const bytes = toONNX(model, { lengths: false });
      const s = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
      const te = data(c, 3, rng);
      const r = await s.run({ features: new ort.Tensor("float32", te.batch.features!, [T, 3, 3]) });
      expect(relErr(ours(model, te.batch, false), r.predictions.data as Float32Array)).toBeLessThan(TOL);
      await s.release();
    } finally {
      model.dispose();
    }
  });
});

describe("unfold import (CLI)", () => {
  it("imports model.json with its weight file into a model file that loads and predicts the same; and an .onnx file", async () => {
    const { mkdtempSync, writeFileSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { execFileSync } = await import("node:child_process");
    const { loadModelFile } = await import("../src/node.js");
    const dir = mkdtempSync(join(tmpdir(), "unfold-import-"));
    const tm = CASES[2].build();
    const { json, data: wd } = await saved(tm);
    tm.dispose();
    writeFileSync(join(dir, "model.json"), JSON.stringify(json));
    writeFileSync(join(dir, "w.bin"), new Uint8Array(wd));
    const main = new URL("../dist/cli/main.js", import.meta.url).pathname;
    const out = execFileSync(process.execPath, [main, "import", join(dir, "model.json"), "--out", join(dir, "gru.unfold")], { encoding: "utf8" });
    expect(out).toMatch(/imported .*model\.json: GRU/);
    const { model } = await loadModelFile(join(dir, "gru.unfold"));
    const { model: direct } = fromTfjs(json, wd);
    const b = data(CASES[2], 3, new Rng(1)).batch;
    expect(ours(model as Sequential, b, false)).toEqual(ours(direct, b, false));
    model.dispose();
    direct.dispose();
    const onnx = new URL("./fixtures/onnx-import/rnn_relu_last_step.onnx", import.meta.url).pathname;
    expect(execFileSync(process.execPath, [main, "import", onnx, "--out", join(dir, "rnn.unfold")], { encoding: "utf8" })).toMatch(/saved .*rnn\.unfold/);
    // A model.json whose weight file is missing: one line, the E_FORMAT-style exit.
    writeFileSync(join(dir, "w.bin"), new Uint8Array(8));
    let failed = "";
    try {
      execFileSync(process.execPath, [main, "import", join(dir, "model.json")], { encoding: "utf8", stdio: "pipe" });
    } catch (e) {
      failed = String((e as { stderr: string }).stderr);
    }
    expect(failed).toMatch(/unfold: .*fromTfjs: weight '.*' .* needs bytes .*\[E_FORMAT\]/);
  }, 60_000);
});

describe("fromTfjs: Keras's reset_after = true GRU (bias [2, 3H])", () => {
  it("maps to the PyTorch-style GRU: the same weights written the Keras way import to the same outputs", async () => {
    const { Sequential } = await import("../src/model/sequential.js");
    const ref = new Sequential({ input: { type: "features", size: 3 }, recurrent: [{ cell: "gru", hiddenSize: 4 }], output: { size: 2, loss: "mse" }, mode: "many-to-many", seed: 2 });
    const sd = ref.stateDict();
    const H = 4, F = 3, G = 3;
    // ours r,z,n rows [3H, cols] -> Keras z,r,h column blocks [cols, 3H]
    const keras = (w: Float32Array, cols: number) => {
      const out = new Float32Array(cols * G * H);
      const order = [1, 0, 2]; // keras block k = ours block order[k]
      for (let kb = 0; kb < G; kb++) for (let u = 0; u < H; u++) for (let c = 0; c < cols; c++) out[c * G * H + kb * H + u] = w[(order[kb] * H + u) * cols + c];
      return out;
    };
    const kv = (b: Float32Array) => Float32Array.from([...b.subarray(H, 2 * H), ...b.subarray(0, H), ...b.subarray(2 * H)]);
    const hw = sd["head.weight"];
    const dense = new Float32Array(2 * H);
    for (let o = 0; o < 2; o++) for (let f = 0; f < H; f++) dense[f * 2 + o] = hw[o * H + f];
    const parts = [keras(sd["rnn0.weight_ih_l0"], F), keras(sd["rnn0.weight_hh_l0"], H), Float32Array.from([...kv(sd["rnn0.bias_ih_l0"]), ...kv(sd["rnn0.bias_hh_l0"])]), dense, sd["head.bias"]];
    const bin = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
    let o = 0;
    for (const p of parts) (bin.set(p, o), (o += p.length));
    const json: TfjsModelJson = {
      modelTopology: { class_name: "Sequential", keras_version: "2.13.1", config: { name: "s", layers: [
        { class_name: "GRU", config: { name: "gru", units: H, activation: "tanh", recurrent_activation: "sigmoid", use_bias: true, reset_after: true, return_sequences: true, batch_input_shape: [null, null, F] } },
        { class_name: "Dense", config: { name: "dense", units: 2, activation: "linear", use_bias: true } },
      ] } },
      weightsManifest: [{ paths: ["g.bin"], weights: [
        { name: "gru/gru_cell/kernel", shape: [F, 3 * H] }, { name: "gru/gru_cell/recurrent_kernel", shape: [H, 3 * H] }, { name: "gru/gru_cell/bias", shape: [2, 3 * H] },
        { name: "dense/kernel", shape: [H, 2] }, { name: "dense/bias", shape: [2] },
      ] }],
    };
    const { model } = fromTfjs(json, bin.buffer);
    expect(model.spec.recurrent).toEqual([{ cell: "gru", hiddenSize: H }]);
    expect(model.stateDict()).toEqual(sd);
    model.dispose();
    ref.dispose();
  });
});

describe("fromTfjs: bad input", () => {
  const code = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(UnfoldError);
      return [(e as UnfoldError).code, (e as UnfoldError).param, (e as UnfoldError).message];
    }
    return null;
  };
  it("a weight the binary lacks, shapes that disagree, NaN weights, unknown layers, not JSON: named UnfoldErrors, nothing left in memory", async () => {
    const tm = CASES[0].build();
    const { json, data: wd } = await saved(tm);
    tm.dispose();
    const live = heap().liveBytes;
    expect(code(() => fromTfjs(json, wd.slice(0, wd.byteLength - 8)))?.slice(0, 2)).toEqual(["E_FORMAT", json.weightsManifest![0].weights.at(-1)!.name]);
    const missing = structuredClone(json);
    missing.weightsManifest![0].weights = missing.weightsManifest![0].weights.filter((w) => !w.name.endsWith("recurrent_kernel"));
    expect(code(() => fromTfjs(missing, wd))?.[0]).toBe("E_FORMAT");
    const shaped = structuredClone(json);
    const k = shaped.weightsManifest![0].weights.find((w) => w.name.endsWith("/kernel"))!;
    k.shape = [k.shape[1], k.shape[0]];
    expect(code(() => fromTfjs(shaped, wd))?.slice(0, 2)).toEqual(["E_SHAPE", k.name]);
    const nan = new Float32Array(wd.slice(0));
    nan[3] = NaN;
    expect(code(() => fromTfjs(json, nan.buffer))?.slice(0, 2)).toEqual(["E_NAN", json.weightsManifest![0].weights[0].name]);
    const conv = structuredClone(json) as { modelTopology: { config: { layers: { class_name: string; config: { name: string } }[] } } };
    conv.modelTopology.config.layers[1].class_name = "Conv1D";
    const e = code(() => fromTfjs(conv as unknown as TfjsModelJson, wd));
    expect(e?.[0]).toBe("E_UNSUPPORTED");
    expect(e?.[2]).toMatch(/Conv1D/);
    expect(code(() => fromTfjs("{not json", wd))?.[0]).toBe("E_FORMAT");
    expect(heap().liveBytes).toBe(live);
  });
});
