// fromONNX: ONNX graphs in, Sequential models out, checked against ONNX
// Runtime Web running the very same file.
//  - torch.onnx.export files of PyTorch 1.13 (tools/torch_onnx_import_fixtures.py,
//    committed in test/fixtures/onnx-import/): LSTM, GRU, RNN; stacked;
//    bidirectional; embedding and head; batch-first; many-to-one from the last
//    step or from h_n; Softmax / LogSoftmax;
//  - every configuration toONNX exports comes back with equal outputs (and the same spec);
//  - graphs in the style tf2onnx writes for Keras (batch-first input, HardSigmoid
//    gates, GRU linear_before_reset = 0, a reverse operator concatenated after a forward one);
//  - bad files: E_FORMAT / E_UNSUPPORTED / E_SHAPE / E_NAN naming the node or tensor;
//  - after import the model trains (50 steps lower the loss) and exports again.
// CI budget: ~20 s.
import { readFileSync } from "node:fs";
import * as ort from "onnxruntime-web";
import { beforeAll, describe, expect, it } from "vitest";
import { UnfoldError } from "../src/errors.js";
import { type Batch, Sequential, type SequentialSpec } from "../src/model/sequential.js";
import { Seq2Seq, type Seq2SeqSpec } from "../src/model/seq2seq.js";
import { fromONNX, fromONNXSeq2Seq, toONNX } from "../src/onnx/index.js";
import { DT, GraphBuilder } from "../src/onnx/graph.js";
import { heap, init } from "../src/runtime/wasm.js";
import { Rng } from "../src/util/rng.js";
import { deadline, findChromium, ROOT, serve } from "./runtimes/harness.js";

const TOL = 1e-5;
const FIX = new URL("./fixtures/onnx-import/", import.meta.url);

beforeAll(async () => {
  await init();
  ort.env.wasm.numThreads = 1;
});

/** Largest |a-b| / max(1, |a|). */
function relErr(ours: ArrayLike<number>, theirs: ArrayLike<number>): number {
  expect(theirs.length).toBe(ours.length);
  let m = 0;
  for (let i = 0; i < ours.length; i++) m = Math.max(m, Math.abs(ours[i] - theirs[i]) / Math.max(1, Math.abs(ours[i])));
  return m;
}

async function runOrt(bytes: Uint8Array, feeds: Record<string, ort.Tensor>): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
  try {
    const r = await s.run(feeds);
    return r[s.outputNames[0]].data as Float32Array;
  } finally {
    await s.release();
  }
}

/** [a, b, F] -> [b, a, F]. */
function swap01(x: ArrayLike<number>, a: number, b: number, F: number): Float32Array {
  const out = new Float32Array(a * b * F);
  for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) for (let f = 0; f < F; f++) out[(j * a + i) * F + f] = x[(i * b + j) * F + f];
  return out;
}

function softmaxRows(x: Float32Array, O: number, log = false): Float32Array {
  const y = new Float32Array(x.length);
  for (let r = 0; r < x.length / O; r++) {
    let mx = -Infinity;
    for (let o = 0; o < O; o++) mx = Math.max(mx, x[r * O + o]);
    let s = 0;
    for (let o = 0; o < O; o++) s += Math.exp(x[r * O + o] - mx);
    for (let o = 0; o < O; o++) y[r * O + o] = log ? x[r * O + o] - mx - Math.log(s) : Math.exp(x[r * O + o] - mx) / s;
  }
  return y;
}

/** Our output [T*B, O] or [B, O] (time-major rows) for a time-major batch. */
function ours(m: Sequential, b: Batch): Float32Array {
  const { out, rows } = m.forwardPtr(b);
  return heap().f32(out, rows * m.spec.output.size).slice();
}

const i64 = (a: ArrayLike<number>, dims: number[]) => new ort.Tensor("int64", BigInt64Array.from(Array.from(a, (v) => BigInt(v))), dims);

describe("fromONNX: torch.onnx.export (PyTorch 1.13) files, against ONNX Runtime on the same file", () => {
  const index = JSON.parse(readFileSync(new URL("index.json", FIX), "utf8")) as { name: string; input: "tokens" | "features"; batchFirst: boolean; shape: number[] }[];
  for (const f of index) {
    it(f.name, async () => {
      const bytes = new Uint8Array(readFileSync(new URL(`${f.name}.onnx`, FIX)));
      const { model, description: d } = fromONNX(bytes);
      try {
        expect(d.producer).toBe("pytorch");
        expect(d.input.layout).toBe(f.batchFirst ? "batch-first" : "time-major");
        const rng = new Rng(f.name.length);
        // Batch sizes other than the export's: the exported zero states follow the input's shape.
        const [a, b] = f.shape;
        const T = f.batchFirst ? b + 2 : a + 2;
        const B = f.batchFirst ? a + 1 : b + 1;
        const O = model.spec.output.size;
        let feeds: Record<string, ort.Tensor>;
        let batch: Batch;
        if (f.input === "tokens") {
          const V = model.spec.input.type === "tokens" ? model.spec.input.vocabSize : 0;
          const ids = Int32Array.from({ length: T * B }, () => Math.floor(rng.next() * V)); // [T, B]
          batch = { T, B, ids };
          feeds = { input: f.batchFirst ? i64(swap01(ids, T, B, 1), [B, T]) : i64(ids, [T, B]) };
        } else {
          const F = f.shape[2];
          const x = Float32Array.from({ length: T * B * F }, () => rng.next() * 4 - 2); // [T, B, F]
          batch = { T, B, features: x };
          feeds = { input: new ort.Tensor("float32", f.batchFirst ? swap01(x, T, B, F) : x, f.batchFirst ? [B, T, F] : [T, B, F]) };
        }
        let want = ours(model, batch);
        if (d.output.kind === "probabilities") want = softmaxRows(want, O);
        if (d.output.kind === "log-probabilities") want = softmaxRows(want, O, true);
        let got = await runOrt(bytes, feeds);
        if (d.mode === "many-to-many" && d.output.layout === "batch-first") got = swap01(got, B, T, O);
        const err = relErr(want, got);
        console.log(`[onnx-import] ${f.name}: ${d.layers.map((l) => `${l.op}${l.bidirectional ? "x2" : ""}`).join("+")} ${d.mode}${d.manyToOneFrom ? ` (${d.manyToOneFrom})` : ""}, ${d.output.kind}: max rel. error ${err.toExponential(2)}`);
        expect(err).toBeLessThan(TOL);
      } finally {
        model.dispose();
      }
    });
  }
});

const tok = (V: number, E: number) => ({ type: "tokens" as const, vocabSize: V, embeddingDim: E });
const feat = (F: number) => ({ type: "features" as const, size: F });

/** Every configuration toONNX exports. */
const ROUND_TRIP: { name: string; spec: SequentialSpec; softmax?: boolean; lengths?: boolean; equal?: boolean }[] = [
  { name: "tokens LSTM many-to-many", spec: { input: tok(11, 6), recurrent: [{ cell: "lstm", hiddenSize: 9 }], output: { size: 11, loss: "xent" }, mode: "many-to-many" } },
  { name: "tokens GRU many-to-one, softmax", softmax: true, spec: { input: tok(13, 5), recurrent: [{ cell: "gru", hiddenSize: 7 }], output: { size: 3, loss: "xent" }, mode: "many-to-one" } },
  { name: "features 2-layer tanh RNN, mse", spec: { input: feat(4), recurrent: [{ cell: "rnn", hiddenSize: 8, numLayers: 2 }], output: { size: 2, loss: "mse" }, mode: "many-to-many" } },
  { name: "features bidirectional relu RNN many-to-one, no lengths", lengths: false, equal: true, spec: { input: feat(3), recurrent: [{ cell: "rnn_relu", hiddenSize: 6, bidirectional: true }], output: { size: 2, loss: "mse" }, mode: "many-to-one" } },
  { name: "tokens bidirectional 2-layer LSTM then GRU, ragged", spec: { input: tok(9, 4), recurrent: [{ cell: "lstm", hiddenSize: 5, numLayers: 2, bidirectional: true }, { cell: "gru", hiddenSize: 6 }], output: { size: 9, loss: "xent" }, mode: "many-to-many" } },
  { name: "features bidirectional 2-layer GRU many-to-one, ragged", spec: { input: feat(5), recurrent: [{ cell: "gru", hiddenSize: 4, bidirectional: true, numLayers: 2 }], output: { size: 3, loss: "xent" }, mode: "many-to-one" } },
  { name: "features LSTM + RNN many-to-one", spec: { input: feat(3), recurrent: [{ cell: "lstm", hiddenSize: 6, numLayers: 2 }, { cell: "rnn", hiddenSize: 5 }], output: { size: 1, loss: "mse" }, mode: "many-to-one" } },
  { name: "states: true (h0 inputs, hN outputs)", spec: { input: tok(7, 3), recurrent: [{ cell: "lstm", hiddenSize: 4 }], output: { size: 7, loss: "xent" }, mode: "many-to-many" } },
  { name: "Keras variants: hard-sigmoid LSTM, reset-before GRU, bidirectional, ragged", spec: { input: feat(3), recurrent: [{ cell: "gru", hiddenSize: 5, bidirectional: true, resetAfter: false, gateActivation: "hard_sigmoid" }, { cell: "lstm", hiddenSize: 4, gateActivation: "hard_sigmoid" }], output: { size: 3, loss: "xent" }, mode: "many-to-many" } },
];

function randomBatch(spec: SequentialSpec, T: number, B: number, rng: Rng, equal: boolean): Batch {
  const lengths = Int32Array.from({ length: B }, (_, b) => (equal || b === 0 ? T : 1 + Math.floor(rng.next() * T)));
  if (spec.input.type === "tokens") return { T, B, lengths, ids: Int32Array.from({ length: T * B }, () => Math.floor(rng.next() * (spec.input as { vocabSize: number }).vocabSize)) };
  return { T, B, lengths, features: Float32Array.from({ length: T * B * spec.input.size }, () => rng.next() * 4 - 2) };
}

describe("fromONNX(toONNX(model)): every exported configuration comes back equal, and equals ONNX Runtime on ragged batches", () => {
  for (const c of ROUND_TRIP) {
    it(c.name, async () => {
      const m = new Sequential({ ...c.spec, seed: 3 });
      const states = c.name.startsWith("states");
      const { model: back, description: d } = fromONNX(toONNX(m, { softmax: c.softmax, lengths: c.lengths, states }), { loss: c.spec.output.loss });
      try {
        // The same model: spec (but the seed) and every weight.
        const { seed: _s, ...spec } = back.spec;
        expect(spec).toEqual(c.spec);
        expect(back.stateDict()).toEqual(m.stateDict());
        expect(d.lengths).toBe(c.lengths === false ? null : "lengths");
        if (states) expect(d.initialStates).toEqual(["h0", "c0"]);
        const rng = new Rng(5);
        const T = 6, B = 4;
        const b = randomBatch(c.spec, T, B, rng, c.equal ?? false);
        const mine = ours(back, b);
        expect(mine).toEqual(ours(m, b));
        // The imported model against ONNX Runtime on the very file it came from (padded batch: real steps only).
        const bytes = toONNX(m, { softmax: c.softmax, lengths: c.lengths, states });
        const feeds: Record<string, ort.Tensor> = {};
        if (b.ids) feeds.tokens = i64(b.ids, [T, B]);
        else feeds.features = new ort.Tensor("float32", b.features!, [T, B, (c.spec.input as { size: number }).size]);
        if (c.lengths !== false) feeds.lengths = new ort.Tensor("int32", b.lengths!, [B]);
        if (states) for (const n of ["h0", "c0"]) feeds[n] = new ort.Tensor("float32", new Float32Array(B * 4), [1, B, 4]);
        let want = mine;
        if (c.softmax) want = softmaxRows(want, c.spec.output.size);
        const got = await runOrt(bytes, feeds);
        const O = c.spec.output.size;
        const real = (x: ArrayLike<number>) => {
          if (c.spec.mode === "many-to-one") return Array.from(x);
          const out: number[] = [];
          for (let t = 0; t < T; t++) for (let bb = 0; bb < B; bb++) if (t < b.lengths![bb]) for (let o = 0; o < O; o++) out.push(x[(t * B + bb) * O + o]);
          return out;
        };
        const err = relErr(real(want), real(got));
        console.log(`[onnx-import] round trip ${c.name}: vs ONNX Runtime max rel. error ${err.toExponential(2)}`);
        expect(err).toBeLessThan(TOL);
      } finally {
        m.dispose();
        back.dispose();
      }
    });
  }
});

describe("fromONNXSeq2Seq({ encoder, decoder }): toONNX(Seq2Seq)'s pair comes back a Seq2Seq", () => {
  const cases: [string, Seq2SeqSpec][] = [
    ["2-layer LSTM", { source: tok(12, 5), target: { vocabSize: 10, embeddingDim: 4, bosId: 0, eosId: 1 }, recurrent: { cell: "lstm", hiddenSize: 7, numLayers: 2 } }],
    ["reset-before hard-sigmoid GRU", { source: tok(9, 3), target: { vocabSize: 8, embeddingDim: 3, bosId: 2, eosId: 3 }, recurrent: { cell: "gru", hiddenSize: 5, resetAfter: false, gateActivation: "hard_sigmoid" } }],
  ];
  for (const [name, spec] of cases) {
    it(`${name}: same spec, same weights, same greedy decoding`, () => {
      const m = new Seq2Seq({ ...spec, seed: 4 });
      const rng = new Rng(3);
      const sources = Array.from({ length: 4 }, (_, b) => Array.from({ length: 6 - b }, () => Math.floor(rng.next() * (spec.source as { vocabSize: number }).vocabSize)));
      const targets = sources.map(() => Array.from({ length: 4 }, () => 4 + Math.floor(rng.next() * (spec.target.vocabSize - 4))));
      m.fit({ sources, targets }, { epochs: 5, batchSize: 4, optimizer: { type: "adam", lr: 0.05 } });
      const { model: back, description } = fromONNXSeq2Seq(toONNX(m));
        expectError(() => fromONNX(toONNX(m) as never), "E_OPTION", /fromONNXSeq2Seq/);
      try {
        const { seed: _s, ...got } = back.toJSON();
        expect(got).toEqual(spec);
        expect(back.stateDict()).toEqual(m.stateDict());
        expect(description.decoder.initialStates.length).toBeGreaterThan(0);
        expect(back.generate(sources, { maxLength: 8 })).toEqual(m.generate(sources, { maxLength: 8 }));
      } finally {
        m.dispose();
        back.dispose();
      }
    });
  }

  it("refuses a pair whose stacks differ, and asks for bosId / eosId when the files carry no metadata", () => {
    const a = new Seq2Seq({ source: tok(6, 3), target: { vocabSize: 6, embeddingDim: 3, bosId: 0, eosId: 1 }, recurrent: { cell: "lstm", hiddenSize: 4 } });
    const b = new Seq2Seq({ source: tok(6, 3), target: { vocabSize: 6, embeddingDim: 3, bosId: 0, eosId: 1 }, recurrent: { cell: "gru", hiddenSize: 4 } });
    try {
      expectError(() => fromONNXSeq2Seq({ encoder: toONNX(a).encoder, decoder: toONNX(b).decoder }), "E_UNSUPPORTED", /same recurrent stack/);
      const seqDecoder = toONNX(new Sequential({ input: tok(6, 3), recurrent: [{ cell: "lstm", hiddenSize: 4 }], output: { size: 6, loss: "xent" }, mode: "many-to-many" }), { states: true, lengths: false });
      expectError(() => fromONNXSeq2Seq({ encoder: toONNX(a).encoder, decoder: seqDecoder }), "E_OPTION", "options.bosId");
      const { model } = fromONNXSeq2Seq({ encoder: toONNX(a).encoder, decoder: seqDecoder }, { bosId: 0, eosId: 1 });
      model.dispose();
    } finally {
      a.dispose();
      b.dispose();
    }
  });
});

// ---- graphs in tf2onnx's style for Keras -------------------------------------------------------

/** Keras gate blocks, written the way tf2onnx writes ONNX's: a random [D, G*H, cols]. */
function rand(rng: Rng, n: number, s = 0.5): Float32Array {
  return Float32Array.from({ length: n }, () => (rng.next() * 2 - 1) * s);
}

/**
 * Like tf2onnx's output for Keras `Sequential([LSTM(H, recurrent_activation='hard_sigmoid'), Dense(O, 'softmax')])`
 * on a batch-first [B, T, F] input: Transpose -> LSTM (HardSigmoid, Tanh, Tanh) -> Squeeze(Y_h) -> MatMul -> Add -> Softmax.
 */
function kerasLstmClassifier(F: number, H: number, O: number, rng: Rng): Uint8Array {
  const g = new GraphBuilder("tf2onnx");
  const x = g.input("lstm_input", DT.FLOAT, ["unk__1", "unk__2", F]);
  const xt = g.op("Transpose", [x], { perm: { ints: [1, 0, 2] } }, "lstm/transpose");
  const outs = g.node("LSTM", [xt, g.floats("W", [1, 4 * H, F], rand(rng, 4 * H * F)), g.floats("R", [1, 4 * H, H], rand(rng, 4 * H * H)), g.floats("B", [1, 8 * H], rand(rng, 8 * H))], ["lstm/Y", "lstm/Y_h", "lstm/Y_c"], {
    hidden_size: H, direction: "forward", activations: { strings: ["HardSigmoid", "Tanh", "Tanh"] }, activation_alpha: { floats: [0.2] }, activation_beta: { floats: [0.5] },
  });
  const h = g.op("Squeeze", [outs[1], g.int64s("axes0", [0])], {}, "lstm/Squeeze");
  const y = g.op("Add", [g.op("MatMul", [h, g.floats("dense/kernel", [H, O], rand(rng, H * O))], {}, "dense/MatMul"), g.floats("dense/bias", [O], rand(rng, O))], {}, "dense/BiasAdd");
  g.output(g.op("Softmax", [y], { axis: 1 }, "dense/Softmax"), "dense", DT.FLOAT, ["unk__1", O]);
  return g.toModel({ producer: "tf2onnx", version: "1.16" });
}

/**
 * Keras `Bidirectional(GRU(H, return_sequences=True, reset_after=False, recurrent_activation='hard_sigmoid'))`
 * then `TimeDistributed(Dense(O))`, as a forward and a reverse GRU (linear_before_reset 0) on the same input,
 * their Squeezed outputs concatenated on the feature axis; batch-first in and out.
 */
function kerasBiGruTagger(F: number, H: number, O: number, rng: Rng): Uint8Array {
  const g = new GraphBuilder("tf2onnx");
  const x = g.input("input_1", DT.FLOAT, ["unk__1", "unk__2", F]);
  const xt = g.op("Transpose", [x], { perm: { ints: [1, 0, 2] } });
  const half = (dir: "forward" | "reverse") => {
    const o = g.node("GRU", [xt, g.floats(`${dir}/W`, [1, 3 * H, F], rand(rng, 3 * H * F)), g.floats(`${dir}/R`, [1, 3 * H, H], rand(rng, 3 * H * H)), g.floats(`${dir}/B`, [1, 6 * H], rand(rng, 6 * H))], [`${dir}/Y`, `${dir}/Y_h`], {
      hidden_size: H, direction: dir, linear_before_reset: 0, activations: { strings: ["HardSigmoid", "Tanh"] },
    });
    return g.op("Squeeze", [o[0], g.int64s(`${dir}/axes`, [1])]);
  };
  const cat = g.op("Concat", [half("forward"), half("reverse")], { axis: -1 });
  const yb = g.op("Transpose", [cat], { perm: { ints: [1, 0, 2] } });
  const y = g.op("Add", [g.op("MatMul", [yb, g.floats("td/kernel", [2 * H, O], rand(rng, 2 * H * O))]), g.floats("td/bias", [O], rand(rng, O))]);
  g.output(y, "time_distributed", DT.FLOAT, ["unk__1", "unk__2", O]);
  return g.toModel({ producer: "tf2onnx", version: "1.16" });
}

describe("fromONNX: graphs in tf2onnx's style for Keras", () => {
  it("LSTM with HardSigmoid gates, many-to-one from Y_h, Dense softmax; batch-first", async () => {
    const rng = new Rng(17);
    const F = 3, H = 6, O = 4, T = 5, B = 3;
    const bytes = kerasLstmClassifier(F, H, O, rng);
    const { model, description: d } = fromONNX(bytes);
    try {
      expect(d.layers).toEqual([{ nodes: ["LSTM_1"], op: "LSTM", cell: "lstm", bidirectional: false, hiddenSize: H, gateActivation: "hard_sigmoid" }]);
      expect([d.input.layout, d.mode, d.manyToOneFrom, d.output.kind, d.loss]).toEqual(["batch-first", "many-to-one", "final state", "probabilities", "xent"]);
      const x = Float32Array.from({ length: T * B * F }, () => rng.next() * 6 - 3); // wide enough to reach the clipped parts
      const want = softmaxRows(ours(model, { T, B, features: x }), O);
      const got = await runOrt(bytes, { lstm_input: new ort.Tensor("float32", swap01(x, T, B, F), [B, T, F]) });
      const err = relErr(want, got);
      console.log(`[onnx-import] Keras-style hard-sigmoid LSTM classifier: max rel. error ${err.toExponential(2)}`);
      expect(err).toBeLessThan(TOL);
    } finally {
      model.dispose();
    }
  });

  it("a forward and a reverse GRU (linear_before_reset 0, HardSigmoid) concatenated: one bidirectional reset-before layer", async () => {
    const rng = new Rng(23);
    const F = 4, H = 5, O = 3, T = 6, B = 2;
    const bytes = kerasBiGruTagger(F, H, O, rng);
    const { model, description: d } = fromONNX(bytes);
    try {
      expect(model.spec.recurrent).toEqual([{ cell: "gru", hiddenSize: H, bidirectional: true, gateActivation: "hard_sigmoid", resetAfter: false }]);
      expect(d.layers[0].nodes).toEqual(["GRU_1", "GRU_3"]);
      expect([d.output.layout, d.mode, d.loss]).toEqual(["batch-first", "many-to-many", "mse"]);
      const x = Float32Array.from({ length: T * B * F }, () => rng.next() * 6 - 3);
      const want = ours(model, { T, B, features: x });
      const got = swap01(await runOrt(bytes, { input_1: new ort.Tensor("float32", swap01(x, T, B, F), [B, T, F]) }), B, T, O);
      const err = relErr(want, got);
      console.log(`[onnx-import] Keras-style bidirectional reset-before GRU tagger: max rel. error ${err.toExponential(2)}`);
      expect(err).toBeLessThan(TOL);
    } finally {
      model.dispose();
    }
  });
});

// ---- after import: training, and export again -------------------------------------------

describe("fromONNX: an imported model trains and exports again", () => {
  it("PyTorch char LM: 50 fit steps lower the loss; toONNX of the fine-tuned model matches it in ONNX Runtime", async () => {
    const bytes = new Uint8Array(readFileSync(new URL("lstm_embedding_head.onnx", FIX)));
    const { model } = fromONNX(bytes, { loss: "xent" });
    try {
      const text = "the cat sat on the mat and the dog sat on the log ";
      const V = (model.spec.input as { vocabSize: number }).vocabSize;
      const ids = Array.from(text, (ch) => ch.charCodeAt(0) % V);
      const before = model.evaluate({ stream: ids }, { k1: 10 }).loss;
      model.fit({ stream: ids }, { steps: 50, batchSize: 4, tbptt: { k1: 10 }, optimizer: { type: "adam", lr: 0.02 } });
      const after = model.evaluate({ stream: ids }, { k1: 10 }).loss;
      console.log(`[onnx-import] fine-tuning the imported LSTM: loss ${before.toFixed(3)} -> ${after.toFixed(3)} in 50 steps`);
      expect(after).toBeLessThan(before * 0.7);
      const again = toONNX(model, { lengths: false });
      const T = 8, B = 2;
      const b = { T, B, ids: Int32Array.from({ length: T * B }, (_, i) => ids[i % ids.length]) };
      const got = await runOrt(again, { tokens: i64(b.ids, [T, B]) });
      expect(relErr(ours(model, b), got)).toBeLessThan(TOL);
    } finally {
      model.dispose();
    }
  });
});

// ---- bad input ---------------------------------------------------------------------------

function expectError(f: () => unknown, code: string, name?: string | RegExp, message?: RegExp): UnfoldError {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err, "should throw").toBeInstanceOf(UnfoldError);
  const u = err as UnfoldError;
  expect(u.code, u.message).toBe(code);
  if (name !== undefined) {
    if (typeof name === "string") expect(u.param, u.message).toBe(name);
    else expect(u.message).toMatch(name);
  }
  if (message) expect(u.message).toMatch(message);
  return u;
}

describe("fromONNX: bad input", () => {
  const good = () => new Uint8Array(readFileSync(new URL("lstm_embedding_head.onnx", FIX)));

  it("not ONNX, empty, truncated: E_FORMAT", () => {
    expectError(() => fromONNX(new TextEncoder().encode("{\"format\": \"not onnx\"}")), "E_FORMAT");
    expectError(() => fromONNX(new Uint8Array(0)), "E_FORMAT");
    const b = good();
    for (const cut of [1, 10, 100, b.length >> 1, b.length - 1]) expectError(() => fromONNX(b.subarray(0, cut)), "E_FORMAT");
    expectError(() => fromONNX("model.onnx" as unknown as Uint8Array), "E_OPTION");
  });

  it("an operator that does not fit: E_UNSUPPORTED naming the first such node and why", () => {
    const g = new GraphBuilder("g");
    const x = g.input("x", DT.FLOAT, ["T", "B", 2]);
    const rng = new Rng(1);
    const y = g.node("LSTM", [x, g.floats("W", [1, 8, 2], rand(rng, 16)), g.floats("R", [1, 8, 2], rand(rng, 16))], ["Y", "Y_h", "Y_c"], { hidden_size: 2 })[0];
    const s = g.op("Squeeze", [y, g.int64s("ax", [1])]);
    g.output(g.op("Relu", [s], {}, "the_relu"), "out", DT.FLOAT, ["T", "B", 2]);
    expectError(() => fromONNX(g.toModel({ producer: "t", version: "1" })), "E_UNSUPPORTED", /node 'Relu_2' \(Relu\).*operator Relu/);
    // An attribute with no equivalent: clip.
    const g2 = new GraphBuilder("g");
    const x2 = g2.input("x", DT.FLOAT, ["T", "B", 2]);
    const y2 = g2.node("GRU", [x2, g2.floats("W", [1, 6, 2], rand(rng, 12)), g2.floats("R", [1, 6, 2], rand(rng, 12))], ["Y", "Y_h"], { hidden_size: 2, clip: { float: 3 } as never })[0];
    g2.output(g2.op("Squeeze", [y2, g2.int64s("ax", [1])]), "out", DT.FLOAT, ["T", "B", 2]);
    expectError(() => fromONNX(g2.toModel({ producer: "t", version: "1" })), "E_UNSUPPORTED", /GRU_0.*clip/);
    // h_n[-1] of a bidirectional layer.
    const g3 = new GraphBuilder("g");
    const x3 = g3.input("x", DT.FLOAT, ["T", "B", 2]);
    const o3 = g3.node("RNN", [x3, g3.floats("W", [2, 2, 2], rand(rng, 8)), g3.floats("R", [2, 2, 2], rand(rng, 8))], ["Y", "Y_h"], { hidden_size: 2, direction: "bidirectional" });
    g3.output(g3.op("Gather", [o3[1], g3.int64s("m1", [-1], [])], { axis: 0 }), "out", DT.FLOAT, ["B", 2]);
    expectError(() => fromONNX(g3.toModel({ producer: "t", version: "1" })), "E_UNSUPPORTED", /reverse direction/);
  });

  it("weights whose shapes disagree: E_SHAPE naming the tensor; NaN weights: E_NAN naming the tensor", () => {
    const rng = new Rng(2);
    const mk = (R: Float32Array, Rdims: number[]) => {
      const g = new GraphBuilder("g");
      const x = g.input("x", DT.FLOAT, ["T", "B", 2]);
      const y = g.node("LSTM", [x, g.floats("W", [1, 8, 2], rand(rng, 16)), g.floats("R", Rdims, R)], ["Y", "Y_h", "Y_c"], { hidden_size: 2 })[0];
      g.output(g.op("Squeeze", [y, g.int64s("ax", [1])]), "out", DT.FLOAT, ["T", "B", 2]);
      return g.toModel({ producer: "t", version: "1" });
    };
    expectError(() => fromONNX(mk(rand(rng, 24), [1, 8, 3])), "E_SHAPE", "R");
    const bad = rand(rng, 16);
    bad[5] = NaN;
    expectError(() => fromONNX(mk(bad, [1, 8, 2])), "E_NAN", "R");
    expect(() => fromONNX(mk(rand(rng, 16), [1, 8, 2]))).not.toThrow();
  });

  it("2,000 mutations of a committed file: each imports or throws an UnfoldError; no hang; no WASM memory left behind", () => {
    const base = good();
    const rng = new Rng(2026);
    const live0 = heap().liveBytes;
    const mem = () => heap().f32(0, 0).buffer.byteLength;
    const mem0 = mem();
    let imported = 0;
    const codes: Record<string, number> = {};
    const t0 = Date.now();
    for (let i = 0; i < 2000; i++) {
      const b = base.slice();
      const kind = i % 4;
      if (kind === 0) b[Math.floor(rng.next() * b.length)] ^= 1 << Math.floor(rng.next() * 8);
      else if (kind === 1) for (let j = 0; j < 8; j++) b[Math.floor(rng.next() * b.length)] = Math.floor(rng.next() * 256);
      else if (kind === 2) b[Math.floor(rng.next() * b.length)] = 0xff;
      const data = kind === 3 ? b.subarray(0, Math.floor(rng.next() * b.length)) : b;
      try {
        const { model } = fromONNX(data);
        imported++;
        model.dispose();
      } catch (e) {
        if (!(e instanceof UnfoldError)) throw new Error(`mutation ${i}: ${String(e)}`);
        codes[e.code] = (codes[e.code] ?? 0) + 1;
      }
    }
    console.log(`[onnx-import] fuzz: ${imported} imported, rejected by code ${JSON.stringify(codes)}, ${Date.now() - t0} ms`);
    expect(imported + Object.values(codes).reduce((a, b) => a + b, 0)).toBe(2000);
    expect(codes.E_FORMAT).toBeGreaterThan(0);
    expect(heap().liveBytes).toBe(live0); // every model made was freed, no failed import left memory
    expect(mem() - mem0).toBeLessThanOrEqual(16 * base.length + (1 << 20)); // growth bounded by the file's size
  }, 120_000);
});

// ---- in the browser ----------------------------------------------------------------------

describe("fromONNX in headless Chromium (the web build, bundled by esbuild)", () => {
  const bin = findChromium();
  if (!bin) console.warn("[onnx-import] skipping the Chromium test: no chromium binary (apt-get install -y chromium, or set CHROMIUM_PATH)");
  (bin ? it : it.skip)("imports the PyTorch LSTM file in the page and gives ONNX Runtime Web's outputs there", async () => {
    const { mkdtempSync, rmSync, writeFileSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { build } = await import("esbuild");
    const { chromium } = await import("playwright-core");
    const tmp = mkdtempSync(join(tmpdir(), "unfold-onnx-import-"));
    const r = await build({
      stdin: { contents: 'export { init } from "./src/index.ts"; export { fromONNX } from "./src/onnx/index.ts"; export { heap } from "./src/runtime/wasm.ts";', resolveDir: ROOT, loader: "ts" },
      bundle: true, format: "esm", platform: "neutral", target: "es2022", write: false,
    });
    writeFileSync(join(tmp, "unfold.mjs"), r.outputFiles[0].contents);
    writeFileSync(join(tmp, "index.html"), `<!doctype html><script type="module">
      globalThis.__result = (async () => {
        const u = await import("/unfold.mjs");
        const ort = await import("/ort/ort.wasm.min.mjs");
        ort.env.wasm.numThreads = 1;
        ort.env.wasm.wasmPaths = "/ort/";
        await u.init(await (await fetch("/unfold.wasm")).arrayBuffer());
        const bytes = new Uint8Array(await (await fetch("/model.onnx")).arrayBuffer());
        const { model, description } = u.fromONNX(bytes);
        const T = 9, B = 4, V = model.spec.input.vocabSize, O = model.spec.output.size;
        const ids = Int32Array.from({ length: T * B }, (_, i) => (i * 7 + 3) % V);
        const { out, rows } = model.forwardPtr({ T, B, ids });
        const ours = Array.from(u.heap().f32(out, rows * O));
        const s = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
        const res = await s.run({ input: new ort.Tensor("int64", BigInt64Array.from(Array.from(ids, BigInt)), [T, B]) });
        model.dispose();
        return { ours, theirs: Array.from(res[s.outputNames[0]].data), layers: description.layers.length, ua: navigator.userAgent };
      })();
      </script>`);
    const server = await serve(
      { "/": join(tmp, "index.html"), "/unfold.mjs": join(tmp, "unfold.mjs"), "/unfold.wasm": join(ROOT, "build", "unfold.wasm"), "/model.onnx": fileURLToPathCompat(new URL("lstm_embedding_head.onnx", FIX)) },
      { "/ort/": join(ROOT, "node_modules", "onnxruntime-web", "dist") },
    );
    const browser = await chromium.launch({ executablePath: bin!.path, args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"], timeout: 30_000 });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      await page.goto(server.url + "/", { timeout: 15_000 });
      const res = await deadline(page.evaluate(() => (globalThis as unknown as { __result: Promise<{ ours: number[]; theirs: number[]; layers: number; ua: string }> }).__result), 45_000, "fromONNX in Chromium").catch((e) => {
        throw new Error(`${(e as Error).message}; page errors: ${errors.join("; ")}`);
      });
      expect(res.ua).toContain("Chrome");
      expect(res.layers).toBe(1);
      const err = relErr(res.ours, res.theirs);
      console.log(`[onnx-import] Chromium: imported PyTorch LSTM vs ONNX Runtime Web in the page, max rel. error ${err.toExponential(2)}`);
      expect(err).toBeLessThan(TOL);
    } finally {
      await deadline(browser.close(), 10_000, "browser.close()").catch(() => {});
      await server.close();
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 90_000);
});

function fileURLToPathCompat(u: URL): string {
  return decodeURIComponent(u.pathname);
}
