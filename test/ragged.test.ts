// Packed-sequence semantics at the layer level (PyTorch's
// pack_padded_sequence(x, lengths, enforce_sorted=False)): a right-padded
// batch with `lengths` gives, for every sequence, what the layer gives for
// that sequence alone — outputs (zero past its length), final states, dInput,
// dh0, dc0 — and parameter gradients equal to the sum of the sequences' own.
// The reference is the layer itself on one unpadded sequence (B = 1, T = L_b),
// the path that test/torch-parity.test.ts holds to PyTorch.
import { beforeAll, describe, expect, it } from "vitest";
import { type CellKind, GRU, LSTM, type Recurrent, SimpleRNN } from "../src/layers/recurrent.js";
import { heap } from "../src/runtime/wasm.js";
import { loadKernels, Mem, randArray, Rng, scaledErr } from "./helpers.js";

beforeAll(async () => {
  await loadKernels();
});

const KINDS: CellKind[] = ["rnn_tanh", "rnn_relu", "lstm", "gru"];
/** The Keras cell variants (hard-sigmoid gates, the reset-before GRU), held to the same packed semantics. */
const VARIANTS = ["lstm hard_sigmoid", "gru hard_sigmoid", "gru resetAfter=false", "gru resetAfter=false hard_sigmoid"] as const;
type Kind = CellKind | (typeof VARIANTS)[number];

function make(kind: Kind, o: { inputSize: number; hiddenSize: number; numLayers: number; bidirectional: boolean; batchFirst?: boolean }, seed: number): Recurrent {
  const opts = { ...o, seed };
  const gateActivation = kind.includes("hard_sigmoid") ? ("hard_sigmoid" as const) : ("sigmoid" as const);
  if (kind.startsWith("lstm")) return new LSTM({ ...opts, gateActivation });
  if (kind.startsWith("gru")) return new GRU({ ...opts, gateActivation, resetAfter: !kind.includes("resetAfter=false") });
  return new SimpleRNN({ ...opts, nonlinearity: kind === "rnn_relu" ? "relu" : "tanh" });
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

describe("Recurrent with lengths (packed sequences)", () => {
  for (const kind of [...KINDS, ...VARIANTS]) {
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

  it("unidirectional layers are bit-identical with and without lengths on the real steps", () => {
    for (const kind of KINDS) {
      const I = 3, H = 5, lens = [4, 6, 1];
      const B = lens.length, T = 6;
      const m = make(kind, { inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: false }, 3);
      const rng = new Rng(5);
      const seqs = lens.map((n) => randArray(rng, n * I));
      const x = padded(seqs, I, T, () => 0);
      const dOutput = randArray(rng, T * B * H);
      for (let b = 0; b < B; b++) for (let t = lens[b]; t < T; t++) dOutput.fill(0, (t * B + b) * H, (t * B + b + 1) * H);
      const plain = m.forward(x, { batchSize: B });
      const gPlain = m.backward({ dOutput });
      const wPlain = m.gradStateDict();
      const packed = m.forward(x, { batchSize: B, lengths: lens });
      const gPacked = m.backward({ dOutput });
      for (let b = 0; b < B; b++) {
        for (let t = 0; t < lens[b]; t++) {
          const at = (t * B + b) * H;
          expect(Array.from(packed.output.subarray(at, at + H))).toEqual(Array.from(plain.output.subarray(at, at + H)));
        }
      }
      expect(Array.from(gPacked.dInput)).toEqual(Array.from(gPlain.dInput));
      expect(Array.from(gPacked.dh0)).toEqual(Array.from(gPlain.dh0));
      expect(m.gradStateDict()).toEqual(wPlain);
      m.dispose();
    }
  });

  it("lengths all equal to T is the plain run, bit for bit (bidirectional too)", () => {
    const m = make("lstm", { inputSize: 2, hiddenSize: 3, numLayers: 2, bidirectional: true }, 1);
    const x = randArray(new Rng(2), 4 * 3 * 2);
    const dOutput = randArray(new Rng(3), 4 * 3 * 6);
    const a = m.forward(x, { batchSize: 3 });
    const ga = m.backward({ dOutput });
    const wa = m.gradStateDict();
    const b = m.forward(x, { batchSize: 3, lengths: [4, 4, 4] });
    const gb = m.backward({ dOutput });
    expect(Array.from(b.output)).toEqual(Array.from(a.output));
    expect(Array.from(b.hN)).toEqual(Array.from(a.hN));
    expect(Array.from(gb.dInput)).toEqual(Array.from(ga.dInput));
    expect(m.gradStateDict()).toEqual(wa);
    m.dispose();
  });

  it("batch-first, lastStepOnly: each sequence's own last step, and backward from it", () => {
    for (const kind of ["gru", "lstm"] as CellKind[]) {
      const I = 2, H = 3, lens = [3, 5, 2];
      const B = lens.length, T = 5;
      const m = make(kind, { inputSize: I, hiddenSize: H, numLayers: 1, bidirectional: true, batchFirst: true }, 4);
      const solo = make(kind, { inputSize: I, hiddenSize: H, numLayers: 1, bidirectional: true, batchFirst: true }, 4);
      const rng = new Rng(9);
      const seqs = lens.map((n) => randArray(rng, n * I));
      const x = new Float32Array(B * T * I).map(() => rng.uniform(-9, 9));
      seqs.forEach((s, b) => x.set(s, b * T * I)); // [B, T, I]
      const last = m.forward(x, { batchSize: B, lengths: lens, lastStepOnly: true }).output; // [B, 2H]
      const dLast = randArray(rng, B * 2 * H);
      const g = m.backward({ dOutput: dLast });
      const sum: Record<string, Float64Array> = {};
      seqs.forEach((s, b) => {
        const ys = solo.forward(s, { batchSize: 1, lastStepOnly: true }).output;
        expect(scaledErr(last.subarray(b * 2 * H, (b + 1) * 2 * H), ys)).toBeLessThan(1e-6);
        const gs = solo.backward({ dOutput: dLast.subarray(b * 2 * H, (b + 1) * 2 * H) });
        expect(scaledErr(g.dInput.subarray(b * T * I, b * T * I + lens[b] * I), gs.dInput)).toBeLessThan(2e-6);
        expect(Array.from(g.dInput.subarray(b * T * I + lens[b] * I, (b + 1) * T * I)).every((v) => v === 0)).toBe(true);
        for (const [name, v] of Object.entries(solo.gradStateDict())) {
          sum[name] ??= new Float64Array(v.length);
          for (let i = 0; i < v.length; i++) sum[name][i] += v[i];
        }
      });
      const grads = m.gradStateDict();
      for (const [name, v] of Object.entries(sum)) expect(scaledErr(grads[name], v), name).toBeLessThan(2e-6);
      m.dispose();
      solo.dispose();
    }
  });

  it("engine API: forwardPtr with lengths drives finalStatePtr and backwardPtr (bidirectional)", () => {
    const I = 2, H = 3, L = 2, lens = [2, 4, 3];
    const B = lens.length, T = 4;
    const m = make("lstm", { inputSize: I, hiddenSize: H, numLayers: L, bidirectional: true }, 6);
    const rng = new Rng(1);
    const x = randArray(rng, T * B * I);
    const mem = new Mem();
    const out = m.forwardPtr(mem.put(x), T, B, { lengths: lens });
    const viaPtr = heap().f32(out, T * B * 2 * H).slice();
    const fs = m.finalStatePtr();
    const hN = heap().f32(fs.hN, L * 2 * B * H).slice();
    const dOutput = randArray(rng, T * B * 2 * H);
    const dhN = randArray(rng, L * 2 * B * H);
    const g = m.backwardPtr(mem.put(dOutput), mem.put(dhN), null);
    const dX = heap().f32(g.dX, T * B * I).slice();
    const wPtr = m.gradStateDict();
    // The same through the public API.
    const y = m.forward(x, { batchSize: B, lengths: lens });
    expect(Array.from(viaPtr)).toEqual(Array.from(y.output));
    expect(Array.from(hN)).toEqual(Array.from(y.hN));
    const gp = m.backward({ dOutput, dhN });
    expect(Array.from(dX)).toEqual(Array.from(gp.dInput));
    expect(m.gradStateDict()).toEqual(wPtr);
    // Lengths given again must be the same ones; a bidirectional layer needs them in forward.
    expect(() => m.finalStatePtr([2, 4, 4])).toThrow(/differ/);
    m.forwardPtr(mem.put(x), T, B);
    expect(() => m.finalStatePtr(lens)).toThrow(/forwardPtr/);
    expect(() => m.backwardPtr(null, null, null, false, lens)).toThrow(/forwardPtr/);
    mem.release();
    m.dispose();
  });

  it("no NaN or infinity from padding: a relu layer that overflows float32 over a long padding", () => {
    // W_hh all ones: h grows ~4x per step, so the 60+ padding steps of a plain run overflow,
    // and 0 * inf in the weight-gradient GEMMs would be NaN.
    const H = 4, I = 1, T = 70, lens = [3, 5];
    const m = new SimpleRNN({ inputSize: I, hiddenSize: H, nonlinearity: "relu", bidirectional: true });
    const sd = m.stateDict();
    for (const n of Object.keys(sd)) sd[n] = sd[n].map(() => (n.startsWith("weight_hh") ? 1 : 0.5));
    m.loadStateDict(sd);
    const x = new Float32Array(T * 2 * I).fill(0.01);
    const plain = m.forward(x, { batchSize: 2 });
    expect(plain.output.some((v) => !Number.isFinite(v))).toBe(true); // the premise: the padding overflows
    const y = m.forward(x, { batchSize: 2, lengths: lens });
    expect(y.output.every(Number.isFinite) && y.hN.every(Number.isFinite)).toBe(true);
    const g = m.backward({ dOutput: new Float32Array(T * 2 * 2 * H).fill(1), dhN: new Float32Array(2 * 2 * H).fill(1) });
    expect(g.dInput.every(Number.isFinite) && g.dh0.every(Number.isFinite)).toBe(true);
    for (const [name, v] of Object.entries(m.gradStateDict())) expect(v.every(Number.isFinite), name).toBe(true);
    m.dispose();
  });
});

describe("models on ragged data (issue 15's examples)", () => {
  it("a 2-layer bidirectional GRU classifier trains on sequences of lengths 3-12, and a tagger's rows do not depend on the batch", async () => {
    const { Sequential } = await import("../src/model/sequential.js");
    const m = new Sequential({ input: { type: "tokens", vocabSize: 9, embeddingDim: 5 }, recurrent: [{ cell: "gru", hiddenSize: 7, numLayers: 2, bidirectional: true }], output: { size: 3, loss: "xent" }, mode: "many-to-one", seed: 3 });
    const inputs = Array.from({ length: 300 }, (_, i) => Array.from({ length: 3 + (i % 10) }, (_, t) => (i + t) % 9));
    // The class is the last token's: read at once by the reverse direction, which starts there.
    const targets = inputs.map((s) => s[s.length - 1] % 3);
    const before = m.evaluate({ inputs, targets }).loss;
    const h = m.fit({ inputs, targets }, { epochs: 3, batchSize: 16, optimizer: { type: "adam", lr: 0.01 } });
    expect(h.epochs.length).toBe(3);
    expect(m.evaluate({ inputs, targets }).loss).toBeLessThan(before * 0.5);
    // Batched evaluation is the mean of the sequences' own losses.
    const one = inputs.slice(0, 20).map((s, i) => m.evaluate({ inputs: [s], targets: [targets[i]] }).loss);
    const batched = m.evaluate({ inputs: inputs.slice(0, 20), targets: targets.slice(0, 20) }, { batchSize: 7 }).loss;
    expect(Math.abs(batched - one.reduce((a, b) => a + b, 0) / 20)).toBeLessThan(1e-6);
    m.dispose();

    const tagger = new Sequential({ input: { type: "tokens", vocabSize: 9, embeddingDim: 5 }, recurrent: [{ cell: "gru", hiddenSize: 7, numLayers: 2, bidirectional: true }], output: { size: 3, loss: "xent" }, mode: "many-to-many", seed: 3 });
    const alone = tagger.predict([[1, 2]])[0];
    const inBatch = tagger.predict([[1, 2], [1, 2, 3, 4, 5, 6]])[0];
    expect(scaledErr(inBatch, alone)).toBeLessThan(1e-6);
    tagger.dispose();
  });
});
