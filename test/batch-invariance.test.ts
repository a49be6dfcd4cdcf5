// Batch invariance over the model space (issue 15): for every cell x
// direction x depth x mode x model kind, a sequence's output is the same alone
// and inside a right-padded batch with random other lengths and random padding
// values, and the gradient of a batch's loss is the sum of its sequences'
// gradients computed one at a time — each weighted as the batch loss weighs
// it (the loss is a mean over the batch's targets: sequence b's share is
// count_b / count, with count_b the targets it has, as `lossAndGrad` reports).
//
// The reference is each sequence run alone (B = 1, T = its length), the path
// that test/torch-parity.test.ts and test/torch-models.test.ts hold to
// PyTorch. Everything is seeded; sizes are small (CI budget: a few seconds).
import { beforeAll, describe, expect, it } from "vitest";
import { Seq2Seq, type Seq2SeqSpec } from "../src/model/seq2seq.js";
import { type Batch, type RecurrentSpec, Sequential, type SequentialSpec } from "../src/model/sequential.js";
import { heap } from "../src/runtime/wasm.js";
import { loadKernels, Rng, scaledErr } from "./helpers.js";

beforeAll(async () => {
  await loadKernels();
});

const CELLS: RecurrentSpec["cell"][] = ["rnn", "rnn_relu", "lstm", "gru"];
const OUT_TOL = 1e-6; // max |batch - alone| / max |alone| per sequence
const GRAD_TOL = 1e-5; // max |batch - Σ share_b * alone_b| / max |Σ| per tensor

/** Copies of every gradient tensor by name. */
function grads(m: { gradients(): Map<string, { toArray(): Float32Array }> }): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const [n, t] of m.gradients()) out[n] = t.toArray();
  return out;
}

/** Σ_b w_b * g_b per tensor. */
function weightedSum(parts: { w: number; g: Record<string, Float32Array> }[]): Record<string, Float64Array> {
  const s: Record<string, Float64Array> = {};
  for (const { w, g } of parts) {
    for (const [n, v] of Object.entries(g)) {
      s[n] ??= new Float64Array(v.length);
      for (let i = 0; i < v.length; i++) s[n][i] += w * v[i];
    }
  }
  return s;
}

/**
 * Per tensor max |got - want| / max(max |want|, 1e-3 G), G the largest
 * gradient entry of the whole model: a tensor whose gradient is three orders
 * below the rest (an attention query at initialisation, ~1e-7) is a sum that
 * cancels, and float32 keeps only a few of its digits in any batching.
 */
function gradErrs(got: Record<string, Float32Array>, want: Record<string, Float64Array>): Record<string, number> {
  let G = 0;
  for (const v of Object.values(want)) for (const x of v) G = Math.max(G, Math.abs(x));
  const out: Record<string, number> = {};
  for (const [n, w] of Object.entries(want)) {
    let num = 0;
    let den = 1e-3 * G;
    for (let i = 0; i < w.length; i++) {
      num = Math.max(num, Math.abs(got[n][i] - w[i]));
      den = Math.max(den, Math.abs(w[i]));
    }
    out[n] = Number.isNaN(num) ? Infinity : num / den;
  }
  return out;
}

/** Random lengths in [1, maxT] for B sequences, with `len` at position `at`. */
function otherLengths(rng: Rng, B: number, maxT: number, at: number, len: number): number[] {
  return Array.from({ length: B }, (_, b) => (b === at ? len : 1 + rng.int(maxT)));
}

describe("Sequential: batch invariance (tokens and features, every cell, direction, depth and mode)", () => {
  for (const input of ["tokens", "features"] as const) {
    for (const cell of CELLS) {
      for (const bidirectional of [false, true]) {
        for (const depth of [1, 2]) {
          for (const mode of ["many-to-many", "many-to-one"] as const) {
            const name = `${input} ${cell} ${bidirectional ? "bi" : "uni"} depth ${depth} ${mode}`;
            it(name, () => checkSequential(input, cell, bidirectional, depth, mode, name));
          }
        }
      }
    }
  }

  it("two stacked recurrent blocks (uni GRU under a bidirectional LSTM), and predict() matches too", () => {
    checkSequential("tokens", "lstm", true, 1, "many-to-many", "blocks", [{ cell: "gru", hiddenSize: 3 }]);
    checkSequential("features", "gru", true, 2, "many-to-one", "blocks", [{ cell: "lstm", hiddenSize: 2, bidirectional: true }]);
  });

  // readout "final-states": the reverse half is read at step 0, the forward half at step L_b - 1.
  for (const cell of CELLS) {
    for (const depth of [1, 2]) {
      const input = depth === 1 ? "tokens" : "features";
      const name = `readout final-states: ${input} ${cell} bi depth ${depth} many-to-one`;
      it(name, () => checkSequential(input, cell, true, depth, "many-to-one", name, [], "final-states"));
    }
  }
  it("readout final-states under a unidirectional block, and on a unidirectional top block (= last-step)", () => {
    checkSequential("features", "lstm", true, 1, "many-to-one", "readout blocks", [{ cell: "gru", hiddenSize: 3 }], "final-states");
    checkSequential("tokens", "gru", false, 2, "many-to-one", "readout uni", [], "final-states");
  });
});

function checkSequential(
  input: "tokens" | "features", cell: RecurrentSpec["cell"], bidirectional: boolean, depth: number,
  mode: "many-to-many" | "many-to-one", name: string, below: RecurrentSpec[] = [],
  readout?: SequentialSpec["readout"],
): void {
  const V = 7, E = 3, F = 2, H = 3, O = 3;
  const xent = input === "tokens"; // tokens: xent classes; features: mse values
  const spec: SequentialSpec = {
    input: input === "tokens" ? { type: "tokens", vocabSize: V, embeddingDim: E } : { type: "features", size: F },
    recurrent: [...below, { cell, hiddenSize: H, numLayers: depth, bidirectional }],
    output: { size: O, loss: xent ? "xent" : "mse" },
    mode,
    readout,
    seed: 17,
  };
  const m = new Sequential(spec);
  const rng = new Rng(name.length * 131 + depth);
  const B = 4, maxT = 6;
  const lens = otherLengths(rng, B, maxT, 0, 1 + rng.int(maxT));
  lens[1] = maxT; // at least one full-length neighbour; T = maxT
  const T = Math.max(...lens);
  // The sequences' real content (ids or features) and targets.
  const seqIds = lens.map((L) => Array.from({ length: L }, () => rng.int(V)));
  const seqFeat = lens.map((L) => Array.from({ length: L * F }, () => rng.uniform(-1, 1)));
  const seqTgt = lens.map((L) => {
    const n = mode === "many-to-many" ? L : 1;
    return xent ? Array.from({ length: n }, () => rng.int(O)) : Array.from({ length: n * O }, () => rng.uniform(-1, 1));
  });

  /** A batch of the sequences `idx` (time-major, right-padded with random values at T_b >= L). */
  const batchOf = (idx: number[], Tb: number): Batch => {
    const Bb = idx.length;
    const b: Batch = { T: Tb, B: Bb, lengths: Int32Array.from(idx.map((i) => lens[i])) };
    if (input === "tokens") {
      const ids = new Int32Array(Tb * Bb).map(() => rng.int(V)); // padding: random valid ids
      idx.forEach((i, j) => seqIds[i].forEach((id, t) => (ids[t * Bb + j] = id)));
      b.ids = ids;
    } else {
      const f = new Float32Array(Tb * Bb * F).map(() => rng.uniform(-30, 30)); // padding: random values
      idx.forEach((i, j) => { for (let t = 0; t < lens[i]; t++) for (let k = 0; k < F; k++) f[(t * Bb + j) * F + k] = seqFeat[i][t * F + k]; });
      b.features = f;
    }
    if (mode === "many-to-one") {
      b.targets = xent ? Int32Array.from(idx.map((i) => seqTgt[i][0])) : Float32Array.from(idx.flatMap((i) => seqTgt[i]));
    } else if (xent) {
      const t = new Int32Array(Tb * Bb).fill(-1);
      idx.forEach((i, j) => seqTgt[i].forEach((y, s) => (t[s * Bb + j] = y)));
      b.targets = t;
    } else {
      const t = new Float32Array(Tb * Bb * O).map(() => rng.uniform(-5, 5));
      const mask = new Float32Array(Tb * Bb);
      idx.forEach((i, j) => { for (let s = 0; s < lens[i]; s++) { mask[s * Bb + j] = 1; for (let o = 0; o < O; o++) t[(s * Bb + j) * O + o] = seqTgt[i][s * O + o]; } });
      b.targets = t;
      b.mask = mask;
    }
    return b;
  };

  /** Forward (the head's output, a copy), loss and backward of a batch. */
  const run = (b: Batch) => {
    m.checkBatch(b, true);
    const { out, rows } = m.forwardPtr(b, { training: true });
    const y = heap().f32(out, rows * O).slice();
    const lc = m.lossAndGrad(b);
    m.backwardPtr();
    return { y, count: lc.count, g: grads(m) };
  };

  const all = Array.from({ length: B }, (_, i) => i);
  const batch = run(batchOf(all, T));
  const alone = all.map((i) => run(batchOf([i], lens[i])));
  const errs: Record<string, number> = {};
  const worst = (n: string, e: number) => (errs[n] = Math.max(errs[n] ?? 0, e));
  all.forEach((i) => {
    const a = alone[i].y;
    let row: Float32Array;
    if (mode === "many-to-one") row = batch.y.subarray(i * O, (i + 1) * O);
    else {
      row = new Float32Array(lens[i] * O);
      for (let t = 0; t < lens[i]; t++) row.set(batch.y.subarray((t * B + i) * O, (t * B + i + 1) * O), t * O);
    }
    worst("output", scaledErr(row, a));
  });
  const total = alone.reduce((s, r) => s + r.count, 0);
  expect(batch.count).toBe(total);
  const want = weightedSum(alone.map((r) => ({ w: r.count / total, g: r.g })));
  for (const [n, e] of Object.entries(gradErrs(batch.g, want))) worst(n, e);
  for (const [n, e] of Object.entries(errs)) expect(e, `${name}: ${n}`).toBeLessThan(n === "output" ? OUT_TOL : GRAD_TOL);

  // The public path (predict pads with its own values): the same rows as alone.
  const inputs = input === "tokens" ? seqIds : seqFeat;
  const together = m.predict(inputs, B);
  inputs.forEach((s, i) => expect(scaledErr(together[i], m.predict([s])[0]), `${name}: predict ${i}`).toBeLessThan(OUT_TOL));
  m.dispose();
}

describe("Seq2Seq: batch invariance (every cell, encoder direction and depth, with and without attention)", () => {
  const kinds: { attention?: "dot" | "general" | "additive"; bidirectional: boolean; inputFeeding?: boolean }[] = [
    { bidirectional: false },
    { attention: "dot", bidirectional: false },
    { attention: "general", bidirectional: true },
    { attention: "additive", bidirectional: false, inputFeeding: true },
    { attention: "additive", bidirectional: true, inputFeeding: true },
    { attention: "additive", bidirectional: true },
    { attention: "general", bidirectional: false, inputFeeding: true },
  ];
  for (const cell of CELLS) {
    for (const k of kinds) {
      for (const depth of [1, 2]) {
        const name = `${cell} ${k.bidirectional ? "bi" : "uni"} encoder, depth ${depth}, ${k.attention ? `${k.attention} attention${k.inputFeeding ? " + input feeding" : ""}` : "no attention"}`;
        it(name, () => checkSeq2Seq(cell, k, depth, name));
      }
    }
  }
});

/** The private steps of Seq2Seq this test reads the logits through. */
interface Seq2SeqInternals {
  encode(sources: ArrayLike<number>[], training: boolean): void;
  decoderBatch(targets: ArrayLike<number>[]): Batch;
  decoderForward(b: Batch, training: boolean): number;
}

function checkSeq2Seq(cell: RecurrentSpec["cell"], k: { attention?: "dot" | "general" | "additive"; bidirectional: boolean; inputFeeding?: boolean }, depth: number, name: string): void {
  const Vs = 6, Vt = 7, H = 3;
  const spec: Seq2SeqSpec = {
    source: { type: "tokens", vocabSize: Vs, embeddingDim: 3 },
    target: { vocabSize: Vt, embeddingDim: 2, bosId: 0, eosId: 1 },
    recurrent: { cell, hiddenSize: H, numLayers: depth, bidirectional: k.bidirectional },
    attention: k.attention,
    inputFeeding: k.inputFeeding,
    seed: 5,
  };
  const m = new Seq2Seq(spec);
  const rng = new Rng(name.length * 97 + depth);
  const B = 4;
  const srcLens = otherLengths(rng, B, 6, 0, 1 + rng.int(6));
  const tgtLens = Array.from({ length: B }, () => rng.int(5)); // 0..4 tokens (+ the end token)
  const sources = srcLens.map((L) => Array.from({ length: L }, () => rng.int(Vs)));
  const targets = tgtLens.map((L) => Array.from({ length: L }, () => 2 + rng.int(Vt - 2)));
  const mi = m as unknown as Seq2SeqInternals;

  /** Decoder logits [T*B, V] under teacher forcing (a copy), and its batch. */
  const logits = (idx: number[]) => {
    mi.encode(idx.map((i) => sources[i]), false);
    const b = mi.decoderBatch(idx.map((i) => targets[i]));
    const y = heap().f32(mi.decoderForward(b, false), b.T * b.B * Vt).slice();
    m.decoder.resetState();
    return { y, b };
  };
  /** Gradients of the mean loss over `idx`: one full-batch step with a negligible learning rate. */
  const gradOf = (idx: number[]) => {
    m.fit({ sources: idx.map((i) => sources[i]), targets: idx.map((i) => targets[i]) }, {
      epochs: 1, batchSize: idx.length, shuffle: false, clipNorm: null, optimizer: { type: "sgd", lr: 1e-30 },
    });
    return grads(m);
  };

  const all = Array.from({ length: B }, (_, i) => i);
  const errs: Record<string, number> = {};
  const worst = (n: string, e: number) => (errs[n] = Math.max(errs[n] ?? 0, e));
  const together = logits(all);
  all.forEach((i) => {
    const alone = logits([i]);
    const n = tgtLens[i] + 1;
    const row = new Float32Array(n * Vt);
    for (let t = 0; t < n; t++) row.set(together.y.subarray((t * B + i) * Vt, (t * B + i + 1) * Vt), t * Vt);
    worst("logits", scaledErr(row, alone.y.subarray(0, n * Vt)));
  });
  const before = m.stateDict();
  const gBatch = gradOf(all);
  const total = tgtLens.reduce((s, L) => s + L + 1, 0);
  const want = weightedSum(all.map((i) => ({ w: (tgtLens[i] + 1) / total, g: gradOf([i]) })));
  for (const [n, e] of Object.entries(gradErrs(gBatch, want))) worst(n, e);
  // (The negligible steps changed no weight.)
  for (const [n, v] of Object.entries(m.stateDict())) expect(Array.from(v), n).toEqual(Array.from(before[n]));
  for (const [n, e] of Object.entries(errs)) expect(e, `${name}: ${n}`).toBeLessThan(n === "logits" ? OUT_TOL : GRAD_TOL);
  m.dispose();
}
