// The Keras cell variants (hard-sigmoid gates, the reset-before GRU) on padded
// batches with lengths (packed-sequence semantics, docs/ragged.md): every
// sequence as if run alone — outputs, final states, dInput, dh0, dc0 — and
// parameter gradients equal to the sum of the sequences' own, as
// test/ragged.test.ts checks for the PyTorch cells. (The single-sequence path
// is itself held to the float64 reference in test/layers.test.ts.)
import { beforeAll, describe, expect, it } from "vitest";
import { GRU, LSTM, type Recurrent } from "../src/layers/recurrent.js";
import { loadKernels, randArray, Rng, scaledErr } from "./helpers.js";

beforeAll(async () => {
  await loadKernels();
});

type Variant = "lstm hard_sigmoid" | "gru hard_sigmoid" | "gru resetAfter=false" | "gru resetAfter=false hard_sigmoid";
const KINDS: Variant[] = ["lstm hard_sigmoid", "gru hard_sigmoid", "gru resetAfter=false", "gru resetAfter=false hard_sigmoid"];

function make(kind: Variant, o: { inputSize: number; hiddenSize: number; numLayers: number; bidirectional: boolean }, seed: number): Recurrent {
  const gateActivation = kind.includes("hard") ? ("hard_sigmoid" as const) : ("sigmoid" as const);
  if (kind.startsWith("lstm")) return new LSTM({ ...o, seed, gateActivation });
  return new GRU({ ...o, seed, gateActivation, resetAfter: !kind.includes("resetAfter=false") });
}

/** Rows of sequence b from a [L*D, B, H] state: [L*D, 1, H]. */
function stateRows(s: ArrayLike<number>, b: number, B: number, H: number): Float32Array {
  const n = s.length / (B * H);
  const o = new Float32Array(n * H);
  for (let u = 0; u < n; u++) for (let j = 0; j < H; j++) o[u * H + j] = s[(u * B + b) * H + j];
  return o;
}

/** A padded time-major batch [T, B, F] of `seqs` ([L_b, F] each), padding filled with `pad()`. */
function padded(seqs: Float32Array[], F: number, T: number, pad: () => number): Float32Array {
  const B = seqs.length;
  const x = new Float32Array(T * B * F);
  for (let i = 0; i < x.length; i++) x[i] = pad();
  seqs.forEach((s, b) => {
    for (let t = 0; t < s.length / F; t++) x.set(s.subarray(t * F, (t + 1) * F), (t * B + b) * F);
  });
  return x;
}

describe("cell variants with lengths (packed sequences)", () => {
  for (const kind of KINDS) {
    for (const bidirectional of [false, true]) {
      it(`${kind} ${bidirectional ? "bidirectional" : "unidirectional"}, 2 layers: every sequence as if alone, forward and backward`, () => {
        const I = 3, H = 4, L = 2, D = bidirectional ? 2 : 1;
        const lens = [5, 2, 4, 1, 5];
        const B = lens.length, T = Math.max(...lens);
        const cfg = { inputSize: I, hiddenSize: H, numLayers: L, bidirectional };
        const m = make(kind, cfg, 7);
        const solo = make(kind, cfg, 7);
        const rng = new Rng(11);
        const seqs = lens.map((n) => randArray(rng, n * I));
        const x = padded(seqs, I, T, () => rng.uniform(-50, 50)); // padding that must not matter
        const h0 = randArray(rng, L * D * B * H);
        const c0 = kind.startsWith("lstm") ? randArray(rng, L * D * B * H) : undefined;
        const y = m.forward(x, { batchSize: B, h0, c0, lengths: lens });
        // Upstream gradients: random at real steps, garbage at padding (ignored).
        const dOutput = randArray(rng, T * B * D * H, -3, 3);
        const dhN = randArray(rng, L * D * B * H);
        const dcN = kind.startsWith("lstm") ? randArray(rng, L * D * B * H) : undefined;
        const g = m.backward({ dOutput, dhN, dcN });
        const grads = m.gradStateDict();
        const sum: Record<string, Float64Array> = {};
        const errs: Record<string, number> = {};
        const worst = (name: string, e: number) => (errs[name] = Math.max(errs[name] ?? 0, e));
        seqs.forEach((s, b) => {
          const n = lens[b];
          const ys = solo.forward(s, { batchSize: 1, h0: stateRows(h0, b, B, H), c0: c0 && stateRows(c0, b, B, H) });
          const row = (a: ArrayLike<number>, F: number, t: number) => Array.from({ length: F }, (_, j) => a[(t * B + b) * F + j]);
          const dOut = new Float32Array(n * D * H);
          for (let t = 0; t < n; t++) dOut.set(row(dOutput, D * H, t), t * D * H);
          const gs = solo.backward({ dOutput: dOut, dhN: stateRows(dhN, b, B, H), dcN: dcN && stateRows(dcN, b, B, H) });
          const outB = new Float32Array(n * D * H);
          const dInB = new Float32Array(n * I);
          for (let t = 0; t < n; t++) {
            outB.set(row(y.output, D * H, t), t * D * H);
            dInB.set(row(g.dInput, I, t), t * I);
          }
          for (let t = n; t < T; t++) {
            expect(row(y.output, D * H, t).every((v) => v === 0), `output past the length (b ${b}, t ${t})`).toBe(true);
            expect(row(g.dInput, I, t).every((v) => v === 0), `dInput past the length (b ${b}, t ${t})`).toBe(true);
          }
          worst("output", scaledErr(outB, ys.output));
          worst("hN", scaledErr(stateRows(y.hN, b, B, H), ys.hN));
          if (kind.startsWith("lstm")) worst("cN", scaledErr(stateRows(y.cN!, b, B, H), ys.cN!));
          worst("dInput", scaledErr(dInB, gs.dInput));
          worst("dh0", scaledErr(stateRows(g.dh0, b, B, H), gs.dh0));
          if (kind.startsWith("lstm")) worst("dc0", scaledErr(stateRows(g.dc0!, b, B, H), gs.dc0!));
          for (const [name, v] of Object.entries(solo.gradStateDict())) {
            sum[name] ??= new Float64Array(v.length);
            for (let i = 0; i < v.length; i++) sum[name][i] += v[i];
          }
        });
        for (const [name, v] of Object.entries(sum)) worst(name, scaledErr(grads[name], v));
        for (const [name, e] of Object.entries(errs)) expect(e, name).toBeLessThan(2e-6);
        m.dispose();
        solo.dispose();
      });
    }
  }
});
