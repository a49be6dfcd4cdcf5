// Tier 2: the WASM float32 recurrent layers against the float64 reference
// (src/reference/layers.ts, itself checked by finite differences and against
// PyTorch), every output and every gradient tensor by name.
//
// Error measure: max |wasm - ref| / max |ref| over a tensor. float32 rounding
// errors scale with the magnitudes that were summed, not with each result, so
// a per-element relative error would be dominated by values that happen to
// cancel to near zero. Target (issue): <= 1e-4.
import { beforeAll, describe, expect, it } from "vitest";
import { GRU, LSTM, Recurrent, SimpleRNN, setProjectionBlock } from "../src/layers/recurrent.js";
import { type CellKind, type RefConfig, refBackward, refForward } from "../src/reference/layers.js";
import { heap } from "../src/runtime/wasm.js";
import { loadKernels, Mem, randArray, Rng, scaledErr } from "./helpers.js";

beforeAll(async () => {
  await loadKernels();
});

const TOL = 1e-4;


function make(kind: CellKind, cfg: Omit<RefConfig, "kind">, seed: number): Recurrent {
  const { resetAfter, ...o } = { ...cfg, seed };
  switch (kind) {
    case "lstm":
      return new LSTM(o);
    case "gru":
      return new GRU({ ...o, resetAfter });
    case "rnn_relu":
      return new SimpleRNN({ ...o, nonlinearity: "relu" });
    default:
      return new SimpleRNN(o);
  }
}

interface Case {
  kind: CellKind;
  T: number;
  B: number;
  I: number;
  H: number;
  L: number;
  bi: boolean;
  gateActivation?: "sigmoid" | "hard_sigmoid";
  resetAfter?: boolean;
}

const cases: Case[] = [];
for (const kind of ["rnn_tanh", "rnn_relu", "lstm", "gru"] as CellKind[]) {
  for (const [T, B, H, L, bi] of [
    [1, 1, 1, 1, false],
    [7, 3, 5, 1, false],
    [7, 1, 33, 1, true],
    [1, 3, 5, 2, true],
    [7, 3, 5, 3, false],
    [7, 3, 33, 2, true],
  ] as [number, number, number, number, boolean][]) {
    cases.push({ kind, T, B, I: 4, H, L, bi });
  }
}
// The Keras / tfjs-layers variants (hard-sigmoid gates, reset-before GRU), tile edges H = 5, 8, 33.
for (const [kind, gateActivation, resetAfter] of [
  ["lstm", "hard_sigmoid", undefined], ["gru", "hard_sigmoid", undefined], ["gru", "sigmoid", false], ["gru", "hard_sigmoid", false],
] as const) {
  for (const [T, B, H, L, bi] of [[7, 3, 5, 1, false], [1, 1, 1, 1, false], [7, 3, 8, 2, true], [5, 2, 33, 2, false]] as const) {
    cases.push({ kind, T, B, I: 4, H, L, bi, gateActivation, resetAfter });
  }
}

describe("recurrent layers vs float64 reference", () => {
  const worst: Record<string, number> = {};
  for (const c of cases) {
    const variant = `${c.gateActivation === "hard_sigmoid" ? " hard_sigmoid" : ""}${c.resetAfter === false ? " resetAfter=false" : ""}`;
    const label = `${c.kind}${variant} T=${c.T} B=${c.B} H=${c.H} L=${c.L} ${c.bi ? "bi" : "uni"}`;
    it(label, () => {
      const cfg: RefConfig = { kind: c.kind, inputSize: c.I, hiddenSize: c.H, numLayers: c.L, bidirectional: c.bi };
      if (c.gateActivation) cfg.gateActivation = c.gateActivation;
      if (c.resetAfter !== undefined) cfg.resetAfter = c.resetAfter;
      const m = make(c.kind, cfg, 11);
      const rng = new Rng(c.T * 100 + c.H);
      const D = c.bi ? 2 : 1;
      const x = randArray(rng, c.T * c.B * c.I);
      const nS = c.L * D * c.B * c.H;
      const h0 = randArray(rng, nS, -0.5, 0.5);
      const c0 = c.kind === "lstm" ? randArray(rng, nS, -0.5, 0.5) : undefined;
      const dOut = randArray(rng, c.T * c.B * D * c.H);
      const dhN = randArray(rng, nS);
      const dcN = c.kind === "lstm" ? randArray(rng, nS) : undefined;

      const params = m.stateDict();
      const ref = refForward(cfg, params, x, c.B, h0, c0);
      const y = m.forward(x, { batchSize: c.B, h0, c0 });
      const errs: Record<string, number> = {
        output: scaledErr(y.output, ref.output),
        hN: scaledErr(y.hN, ref.hN),
      };
      if (c0) errs.cN = scaledErr(y.cN!, ref.cN!);

      const rb = refBackward(cfg, params, ref.cache, dOut, dhN, dcN);
      const g = m.backward({ dOutput: dOut, dhN, dcN });
      errs.dInput = scaledErr(g.dInput, rb.dInput);
      errs.dh0 = scaledErr(g.dh0, rb.dh0);
      if (c0) errs.dc0 = scaledErr(g.dc0!, rb.dc0!);
      const grads = m.gradStateDict();
      expect(Object.keys(grads).sort()).toEqual(Object.keys(rb.grads).sort());
      for (const name of Object.keys(rb.grads)) errs[name] = scaledErr(grads[name], rb.grads[name]);
      for (const [name, e] of Object.entries(errs)) {
        worst[name] = Math.max(worst[name] ?? 0, e);
        expect(e, `${label}: ${name}`).toBeLessThan(TOL);
      }
      m.dispose();
    });
  }
  it("report", () => {
    console.log("max scaled error by tensor:", Object.fromEntries(Object.entries(worst).map(([k, v]) => [k, v.toExponential(2)])));
  });
});

describe("layer API", () => {
  it("batchFirst gives the transposed result of time-major", () => {
    const T = 5, B = 3, I = 4, H = 6;
    const a = new GRU({ inputSize: I, hiddenSize: H, seed: 3, bidirectional: true });
    const b = new GRU({ inputSize: I, hiddenSize: H, seed: 3, bidirectional: true, batchFirst: true });
    const rng = new Rng(1);
    const x = randArray(rng, T * B * I);
    const xb = new Float32Array(x.length);
    for (let t = 0; t < T; t++) for (let bb = 0; bb < B; bb++) for (let i = 0; i < I; i++) xb[(bb * T + t) * I + i] = x[(t * B + bb) * I + i];
    const ya = a.forward(x, { batchSize: B });
    const yb = b.forward(xb, { batchSize: B });
    const F = 2 * H;
    for (let t = 0; t < T; t++) for (let bb = 0; bb < B; bb++) for (let f = 0; f < F; f++) {
      expect(yb.output[(bb * T + t) * F + f]).toBe(ya.output[(t * B + bb) * F + f]);
    }
    expect(Array.from(yb.hN)).toEqual(Array.from(ya.hN));
    const dOut = randArray(rng, T * B * F);
    const dOutB = new Float32Array(dOut.length);
    for (let t = 0; t < T; t++) for (let bb = 0; bb < B; bb++) for (let f = 0; f < F; f++) dOutB[(bb * T + t) * F + f] = dOut[(t * B + bb) * F + f];
    const ga = a.backward({ dOutput: dOut });
    const gb = b.backward({ dOutput: dOutB });
    for (let t = 0; t < T; t++) for (let bb = 0; bb < B; bb++) for (let i = 0; i < I; i++) {
      expect(gb.dInput[(bb * T + t) * I + i]).toBe(ga.dInput[(t * B + bb) * I + i]);
    }
  });

  it("grows its activation memory for longer sequences and bigger batches", () => {
    const m = new LSTM({ inputSize: 3, hiddenSize: 8, seed: 1 });
    const rng = new Rng(2);
    const cfg: RefConfig = { kind: "lstm", inputSize: 3, hiddenSize: 8, numLayers: 1, bidirectional: false };
    for (const [T, B] of [[2, 1], [9, 2], [3, 5], [20, 1]]) {
      const x = randArray(rng, T * B * 3);
      const y = m.forward(x, { batchSize: B });
      const r = refForward(cfg, m.stateDict(), x, B);
      expect(scaledErr(y.output, r.output)).toBeLessThan(TOL);
    }
  });

  it("dropout is active only in training and is seeded", () => {
    const opts = { inputSize: 3, hiddenSize: 6, numLayers: 2, dropout: 0.5, seed: 4 };
    const a = new LSTM(opts);
    const b = new LSTM(opts);
    const x = randArray(new Rng(5), 4 * 2 * 3);
    const ya = a.forward(x, { batchSize: 2 }).output;
    const ta = a.forward(x, { batchSize: 2, training: true }).output;
    const tb = b.forward(x, { batchSize: 2, training: true }).output;
    expect(Array.from(ta)).toEqual(Array.from(tb));
    expect(Array.from(ta)).not.toEqual(Array.from(ya));
    // Without training, layer 2 sees layer 1's output unchanged: same as the reference.
    const cfg: RefConfig = { kind: "lstm", inputSize: 3, hiddenSize: 6, numLayers: 2, bidirectional: false };
    expect(scaledErr(ya, refForward(cfg, a.stateDict(), x, 2).output)).toBeLessThan(TOL);
  });

  it("dropout backward matches finite differences of the dropped-out forward", () => {
    // Same seed, same call count: the mask is reproduced by a twin model.
    const opts = { inputSize: 2, hiddenSize: 3, numLayers: 2, dropout: 0.3, seed: 9 };
    const m = new SimpleRNN(opts);
    const x = randArray(new Rng(6), 3 * 2);
    const dOut = randArray(new Rng(7), 3 * 3);
    m.forward(x, { training: true });
    const g = m.backward({ dOutput: dOut });
    // Finite differences with a twin whose mask is regenerated identically each time.
    const loss = (xx: Float32Array) => {
      const twin = new SimpleRNN(opts);
      const y = twin.forward(xx, { training: true }).output;
      twin.dispose();
      let s = 0;
      for (let i = 0; i < y.length; i++) s += y[i] * dOut[i];
      return s;
    };
    const eps = 1e-2;
    for (let i = 0; i < x.length; i++) {
      const xp = x.slice(); xp[i] += eps;
      const xm = x.slice(); xm[i] -= eps;
      const fd = (loss(xp) - loss(xm)) / (2 * eps);
      expect(Math.abs(fd - g.dInput[i])).toBeLessThan(2e-3 * Math.max(1, Math.abs(fd)));
    }
  });

  it("PyTorch-style state dict round trip, and bad state dicts change nothing", () => {
    const m = new LSTM({ inputSize: 2, hiddenSize: 3, numLayers: 2, bidirectional: true });
    const sd = m.stateDict();
    expect(Object.keys(sd)).toEqual([
      "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
      "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse", "bias_hh_l0_reverse",
      "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1",
      "weight_ih_l1_reverse", "weight_hh_l1_reverse", "bias_ih_l1_reverse", "bias_hh_l1_reverse",
    ]);
    expect(sd.weight_ih_l1.length).toBe(12 * 6);
    const before = m.stateDict();
    const bad = { ...sd, weight_hh_l0: new Float32Array(5) };
    expect(() => m.loadStateDict(bad)).toThrow(/'weight_hh_l0' should have shape \[12, 3\] \(36 values\), got 5/);
    const missing: Record<string, Float32Array> = { ...sd };
    delete missing.bias_hh_l1;
    expect(() => m.loadStateDict(missing)).toThrow(/missing key\(s\) in state dict: bias_hh_l1/);
    expect(() => m.loadStateDict({ ...sd, extra: new Float32Array(1) })).toThrow(/unexpected key\(s\).*extra/);
    const nan = { ...sd, bias_ih_l0: sd.bias_ih_l0.slice() };
    nan.bias_ih_l0[3] = NaN;
    // The NaN tensor comes after valid ones in order: none of them may have been written.
    const changed = { ...sd, weight_ih_l0: sd.weight_ih_l0.map((v) => v + 1), bias_ih_l0: nan.bias_ih_l0 };
    expect(() => m.loadStateDict(changed)).toThrow(/'bias_ih_l0' has a non-finite value \(NaN\) at index 3/);
    expect(m.stateDict()).toEqual(before);
    // Nested arrays (as from torch's .tolist()) load too.
    const nested: Record<string, number[] | number[][]> = {};
    for (const [k, v] of Object.entries(sd)) {
      const shape = m.parameters().get(k)!.shape;
      nested[k] = shape.length === 2 ? Array.from({ length: shape[0] }, (_, r) => Array.from(v.subarray(r * shape[1], (r + 1) * shape[1]))) : Array.from(v);
    }
    m.loadStateDict(nested);
    expect(m.stateDict()).toEqual(before);
  });

  it("bad inputs get errors that name the problem", () => {
    const m = new GRU({ inputSize: 3, hiddenSize: 4 });
    expect(() => m.forward(new Float32Array(7), { batchSize: 2 })).toThrow(/7 values.*batchSize 2 and inputSize 3/);
    const x = new Float32Array(6);
    x[4] = NaN;
    expect(() => m.forward(x, { batchSize: 2 })).toThrow(/NaN or infinite/);
    expect(() => m.forward(new Float32Array(6), { batchSize: 2, h0: new Float32Array(3) })).toThrow(/h0 should have shape \[numLayers\*D, B, H\] = \[1, 2, 4\] \(8 values\), got 3/);
    expect(() => m.forward(new Float32Array(6), { batchSize: 2, c0: new Float32Array(8) })).toThrow(/c0 is only for LSTM/);
    expect(() => new LSTM({ inputSize: 0, hiddenSize: 3 })).toThrow(/inputSize must be an integer >= 1, got 0/);
    expect(() => new LSTM({ inputSize: 2, hiddenSize: 3, dropout: 1 })).toThrow(/dropout must be in \[0, 1\)/);
    expect(() => new GRU({ inputSize: 3, hiddenSize: 4 }).backward()).toThrow(/needs a forward\(\) first/);
    m.forward(new Float32Array(6), { batchSize: 2 });
    expect(() => m.backward({ dOutput: new Float32Array(3) })).toThrow(/dOutput should have 8 values/);
  });

  it("initialisers are seeded and have the documented scale", () => {
    const a = new LSTM({ inputSize: 4, hiddenSize: 16, seed: 7 }).stateDict();
    const b = new LSTM({ inputSize: 4, hiddenSize: 16, seed: 7 }).stateDict();
    const c = new LSTM({ inputSize: 4, hiddenSize: 16, seed: 8 }).stateDict();
    expect(a).toEqual(b);
    expect(a.weight_hh_l0).not.toEqual(c.weight_hh_l0);
    const bound = 1 / Math.sqrt(16);
    expect(Math.max(...Array.from(a.weight_ih_l0).map(Math.abs))).toBeLessThanOrEqual(bound);
    const o = new GRU({ inputSize: 4, hiddenSize: 8, init: "orthogonal", seed: 1 }).stateDict();
    // Each [H, H] gate block of W_hh is orthogonal: W W^T = I.
    for (let g = 0; g < 3; g++) {
      for (let i = 0; i < 8; i++) for (let j = 0; j < 8; j++) {
        let s = 0;
        for (let k = 0; k < 8; k++) s += o.weight_hh_l0[g * 64 + i * 8 + k] * o.weight_hh_l0[g * 64 + j * 8 + k];
        expect(Math.abs(s - (i === j ? 1 : 0))).toBeLessThan(1e-5);
      }
    }
    expect(Array.from(o.bias_ih_l0).every((v) => v === 0)).toBe(true);
  });
});

describe("variable-length sequences (lengths)", () => {
  it("final state and BPTT with lengths equal running each sequence alone", () => {
    for (const kind of ["lstm", "gru", "rnn_tanh"] as CellKind[]) {
      const I = 3, H = 4, L = 2, lens = [5, 2, 4];
      const B = lens.length, T = Math.max(...lens);
      const cfg = { inputSize: I, hiddenSize: H, numLayers: L, bidirectional: false };
      const m = make(kind, { kind, ...cfg } as RefConfig, 5);
      const solo = make(kind, { kind, ...cfg } as RefConfig, 5);
      const rng = new Rng(3);
      const seqs = lens.map((n) => randArray(rng, n * I));
      const dhN = randArray(rng, L * B * H);
      const dcN = randArray(rng, L * B * H);
      // Batched, right-padded with garbage that must not matter.
      const x = randArray(rng, T * B * I, -5, 5);
      seqs.forEach((s, b) => { for (let t = 0; t < lens[b]; t++) for (let i = 0; i < I; i++) x[(t * B + b) * I + i] = s[t * I + i]; });
      m.forward(x, { batchSize: B });
      const fs = m.finalStatePtr(lens);
      const view = (ptr: number, n: number) => heap().f32(ptr, n).slice();
      const hN = view(fs.hN, L * B * H);
      const cN = fs.cN === null ? null : view(fs.cN, L * B * H);
      const mem = new Mem(); // dhN, dcN in WASM memory
      const g = m.backwardPtr(null, mem.put(dhN), kind === "lstm" ? mem.put(dcN) : null, false, lens);
      const dX = view(g.dX, T * B * I);
      const grads = m.gradStateDict();
      const sum: Record<string, Float64Array> = {};
      seqs.forEach((s, b) => {
        const pick = (v: Float32Array) => { const o = new Float32Array(L * H); for (let l = 0; l < L; l++) o.set(v.subarray((l * B + b) * H, (l * B + b + 1) * H), l * H); return o; };
        const y = solo.forward(s, { batchSize: 1 });
        expect(scaledErr(y.hN, pick(hN))).toBeLessThan(1e-6);
        if (cN) expect(scaledErr(y.cN!, pick(cN))).toBeLessThan(1e-6);
        const gs = solo.backward({ dhN: pick(dhN), dcN: kind === "lstm" ? pick(dcN) : undefined });
        for (let t = 0; t < lens[b]; t++) for (let i = 0; i < I; i++) expect(Math.abs(dX[(t * B + b) * I + i] - gs.dInput[t * I + i])).toBeLessThan(1e-5);
        for (let t = lens[b]; t < T; t++) for (let i = 0; i < I; i++) expect(dX[(t * B + b) * I + i]).toBe(0);
        for (const [n, v] of Object.entries(solo.gradStateDict())) {
          sum[n] ??= new Float64Array(v.length);
          for (let i = 0; i < v.length; i++) sum[n][i] += v[i];
        }
      });
      for (const [n, v] of Object.entries(sum)) expect(scaledErr(grads[n], v), `${kind} ${n}`).toBeLessThan(1e-5);
      mem.release();
    }
  });
});

describe("last step only", () => {
  it("returns output[T-1] and backpropagates from it alone", () => {
    const T = 6, B = 2, I = 3, H = 4;
    const m = new LSTM({ inputSize: I, hiddenSize: H, seed: 2, bidirectional: true });
    const x = randArray(new Rng(8), T * B * I);
    const full = m.forward(x, { batchSize: B }).output;
    const dLast = randArray(new Rng(9), B * 2 * H);
    const dFull = new Float32Array(T * B * 2 * H);
    dFull.set(dLast, (T - 1) * B * 2 * H);
    const gFull = m.backward({ dOutput: dFull });
    const gradsFull = m.gradStateDict();
    const last = m.forward(x, { batchSize: B, lastStepOnly: true }).output;
    expect(Array.from(last)).toEqual(Array.from(full.subarray((T - 1) * B * 2 * H)));
    const g = m.backward({ dOutput: dLast });
    expect(Array.from(g.dInput)).toEqual(Array.from(gFull.dInput));
    expect(m.gradStateDict()).toEqual(gradsFull);
    expect(() => m.backward({ dOutput: dFull })).toThrow(/forward returned the last step only/);
  });
});

describe("forward({ output }): the output written into the caller's array", () => {
  const T = 5, B = 3, I = 4, H = 8;
  const x = randArray(new Rng(91), T * B * I);
  const lengths = [5, 2, 4];
  const cases: [string, { bidirectional?: boolean; batchFirst?: boolean }, { lastStepOnly?: boolean; lengths?: number[] }][] = [
    ["time-major", {}, {}],
    ["batch-first, bidirectional", { batchFirst: true, bidirectional: true }, {}],
    ["last step only", {}, { lastStepOnly: true }],
    ["last step only with lengths, bidirectional", { bidirectional: true }, { lastStepOnly: true, lengths }],
    ["lengths", {}, { lengths }],
  ];
  it.each(cases)("%s: the same values as a fresh array, in the given array, whatever it held", (_, cfg, fo) => {
    const m = new LSTM({ inputSize: I, hiddenSize: H, seed: 4, ...cfg });
    const want = m.forward(x, { batchSize: B, ...fo });
    const out = new Float32Array(want.output.length).fill(NaN);
    const got = m.forward(x, { batchSize: B, ...fo, output: out });
    expect(got.output).toBe(out);
    expect(Array.from(out)).toEqual(Array.from(want.output));
    expect(Array.from(got.hN)).toEqual(Array.from(want.hN));
    // Reused: a second call overwrites it with the new input's output.
    const x2 = randArray(new Rng(92), T * B * I);
    const want2 = m.forward(x2, { batchSize: B, ...fo }).output;
    m.forward(x2, { batchSize: B, ...fo, output: out });
    expect(Array.from(out)).toEqual(Array.from(want2));
    m.dispose();
  });
  it("a wrong length is refused before the forward runs (backward still sees the last forward); a non-Float32Array too", () => {
    const m = new LSTM({ inputSize: I, hiddenSize: H, seed: 4 });
    m.forward(x, { batchSize: B });
    const dOut = randArray(new Rng(93), T * B * H);
    m.backward({ dOutput: dOut });
    const g1 = m.gradStateDict();
    expect(() => m.forward(randArray(new Rng(94), T * B * I), { batchSize: B, output: new Float32Array(T * B * H - 1) })).toThrow(
      /options\.output has 119 values; this output has 120 \(\[T, B, D\*H\] with T = 5, B = 3, D\*H = 8\)/,
    );
    expect(() => m.forward(x, { batchSize: B, lastStepOnly: true, output: new Float32Array(T * B * H) })).toThrow(/this output has 24 \(\[B, D\*H\] = \[3, 8\]\)/);
    expect(() => m.forward(x, { batchSize: B, output: new Array(T * B * H).fill(0) as unknown as Float32Array })).toThrow(/options\.output must be a Float32Array/);
    m.backward({ dOutput: dOut });
    const g2 = m.gradStateDict();
    for (const name of Object.keys(g1)) expect(Array.from(g2[name]), name).toEqual(Array.from(g1[name]));
    m.dispose();
  });
});

// backwardPtr(..., inputGrad, stateGrad) with a gradient nobody reads left out: the same parameter
// gradients bit for bit, and the buffer it would have written untouched (a sentinel stays).
describe("backwardPtr without the input gradient or the state gradient", () => {
  const cases = [
    // inputGrad false: no dX (the first layer's dX GEMM); stateGrad false: the LSTM leaves out dh0 = dG_0 W_hh.
    { what: "input", shapes: [[1, false, 3], [2, true, 3]] },
    // (B = 1: the LSTM's whole-loop kernel, lstm_bwd_b1.)
    { what: "state", shapes: [[1, false, 3], [2, true, 3], [1, false, 1]] },
  ] as const;
  for (const { what, shapes } of cases) {
    it(`${what} gradient: the same parameter gradients bit for bit, and the ${what === "input" ? "dX" : "dh0 (LSTM)"} buffer untouched`, () => {
      for (const kind of ["lstm", "gru", "rnn_tanh"] as CellKind[]) {
        for (const [L, bidirectional, B] of shapes) {
          const T = 5, I = 4, H = 8;
          const m = make(kind, { kind, inputSize: I, hiddenSize: H, numLayers: L, bidirectional } as RefConfig, 7);
          const rng = new Rng(11);
          const x = randArray(rng, T * B * I);
          const D = bidirectional ? 2 : 1;
          const mem = new Mem();
          const dYp = mem.put(randArray(rng, T * B * D * H));
          const tag = `${kind} L${L} B${B}`;
          m.forward(x, { batchSize: B });
          const full = m.backwardPtr(dYp, null, null, false);
          const want = m.gradStateDict();
          // The buffer the left-out product would write: dX [T, B, I] or dh0 [L*D, B, H].
          const [at, n] = what === "input" ? [full.dX, T * B * I] : [full.dh0, L * D * B * H];
          expect(heap().f32(at, n).some((v) => v !== 0), `${tag}: ${what} gradient`).toBe(true);
          heap().f32(at, n).fill(12345);
          m.forward(x, { batchSize: B });
          const skip = what === "input" ? m.backwardPtr(dYp, null, null, false, undefined, false) : m.backwardPtr(dYp, null, null, false, undefined, true, false);
          if (what === "input") expect(skip.dX, tag).toBe(0);
          const got = m.gradStateDict();
          for (const name of Object.keys(want)) expect(Array.from(got[name]), `${tag} ${name}`).toEqual(Array.from(want[name]));
          const untouched = what === "input" ? L === 1 : kind === "lstm";
          if (untouched) expect(heap().f32(at, n).every((v) => v === 12345), `${tag}: the left-out product did not run`).toBe(true);
          mem.release();
          m.dispose();
        }
      }
    });
  }
});

describe("the input projection in blocks of steps", () => {
  it("gives the bits of one projection of all steps: every cell, both directions, ragged, block sizes that do not divide T", () => {
    const T = 7, B = 3, I = 5, H = 8, lens = [7, 3, 5];
    for (const kind of ["lstm", "gru", "rnn_tanh"] as CellKind[]) {
      const run = (bytes: number) => {
        const was = setProjectionBlock(bytes);
        try {
          const m = make(kind, { kind, inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: true } as RefConfig, 3);
          const x = randArray(new Rng(4), T * B * I);
          const y = m.forward(x, { batchSize: B, lengths: lens });
          const g = m.backward({ dOutput: randArray(new Rng(5), T * B * 2 * H) });
          const out = { y: y.output, hN: y.hN, dX: g.dInput, ...m.gradStateDict() };
          m.dispose();
          return out;
        } finally {
          setProjectionBlock(was);
        }
      };
      const whole = run(0);
      // Blocks of 1, 2 and 3 steps (B * GH * 4 bytes per step).
      const G = kind === "lstm" ? 4 : kind === "gru" ? 3 : 1;
      for (const steps of [1, 2, 3]) {
        const got = run(steps * B * G * H * 4);
        for (const [name, v] of Object.entries(whole)) expect(Array.from(got[name as keyof typeof got] as Float32Array), `${kind} ${steps} steps ${name}`).toEqual(Array.from(v as Float32Array));
      }
    }
  });
});
