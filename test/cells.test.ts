// Fused step kernels (assembly/cells.ts) against the float64 references
// (src/reference/cells.ts), and the references' backward formulas against
// central finite differences of their forward.
//
// Tolerances.
// - Reference backward vs finite differences (all float64): the central
//   difference with eps = 1e-6 has truncation error ~eps^2 * f''' ~ 1e-12 and
//   rounding error ~1e-16 / eps = 1e-10, so 1e-7 * (1 + |g|) leaves room
//   while any wrong term in a formula (errors of order |g|) fails at once.
// - WASM (f32) vs reference (float64 on the same f32 inputs): each output is
//   a handful of f32 operations on O(1) values plus activations with relative
//   error < 2e-7, so its absolute error is a few times 1e-7 * (magnitude of
//   the intermediates, <= ~4 here). We compare |y - r| / max(|r|, 1) (relative
//   for large values, absolute below 1: cancellation, e.g. in c = f c_prev + i g,
//   may make a small result's relative error large without any real loss) with
//   a bound of 2e-6; measured worst cases are printed and are < 1e-6.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Kernels } from "../src/runtime/abi.js";
import * as ref from "../src/reference/cells.js";
import { loadKernels, maxRelErr, Mem, randArray, Rng } from "./helpers.js";

const TOL = 2e-6;
const FD_EPS = 1e-6;
const FD_TOL = 1e-7;

let k: Kernels;
const mem = new Mem();
const worst: Record<string, number> = {};
beforeAll(async () => {
  k = await loadKernels();
});
afterAll(() => {
  mem.release();
  console.log("worst |wasm - ref| / max(|ref|, 1):", Object.fromEntries(Object.entries(worst).map(([a, b]) => [a, b.toExponential(2)])));
});

const SHAPES: [number, number][] = [];
for (const B of [1, 3]) for (const H of [1, 3, 4, 5, 8, 33]) SHAPES.push([B, H]);

/** Compare a WASM output with the float64 reference, by name; record the worst. */
function check(name: string, got: Float32Array, want: ArrayLike<number>): void {
  const { err, at } = maxRelErr(got, want, 1);
  worst[name] = Math.max(worst[name] ?? 0, err);
  expect(err, `${name}: element ${at}: ${got[at]} vs ${want[at]}`).toBeLessThanOrEqual(TOL);
}

/** Misalignment (in floats) of the i-th pointer of a call: every pointer off 16-byte alignment differently. */
const mis = (i: number, salt: number) => (i + salt) & 3;

const f64 = (a: ArrayLike<number>) => Float64Array.from(a);

describe("cells: WASM vs float64 reference", () => {
  it.each(SHAPES)("rnn fwd/bwd, B=%i H=%i", (B, H) => {
    const rng = new Rng(B * 100 + H);
    for (const act of [0, 1]) {
      for (let salt = 0; salt < 4; salt++) {
        const G = randArray(rng, B * H, -3, 3);
        const bIh = randArray(rng, H);
        const bHh = randArray(rng, H);
        const dh = randArray(rng, B * H);
        const pG = mem.put(G, mis(0, salt));
        const pH = mem.alloc(B * H, mis(1, salt));
        k.rnn_step_fwd(pG, mem.put(bIh, mis(2, salt)), mem.put(bHh, mis(3, salt)), pH, B, H, act);
        const h = new Float64Array(B * H);
        ref.rnn_step_fwd_ref(G, bIh, bHh, h, B, H, act);
        const hw = mem.get(pH, B * H);
        check(`rnn_fwd act=${act}`, hw, h);

        // Backward from the WASM h (the cache it would really see).
        const pdG = mem.alloc(B * H, mis(2, salt));
        k.rnn_step_bwd(pH, mem.put(dh, mis(3, salt)), pdG, B, H, act);
        const dG = new Float64Array(B * H);
        ref.rnn_step_bwd_ref(hw, dh, dG, B, H, act);
        check(`rnn_bwd act=${act}`, mem.get(pdG, B * H), dG);

        // In place: h == G, dG == dh.
        const pG2 = mem.put(G, mis(1, salt));
        k.rnn_step_fwd(pG2, mem.put(bIh), mem.put(bHh), pG2, B, H, act);
        expect(mem.get(pG2, B * H)).toEqual(hw);
        const pdh = mem.put(dh, mis(0, salt));
        k.rnn_step_bwd(pH, pdh, pdh, B, H, act);
        expect(mem.get(pdh, B * H)).toEqual(mem.get(pdG, B * H));
        mem.release();
      }
    }
  });

  it.each(SHAPES)("lstm fwd/bwd, B=%i H=%i, both gate activations", (B, H) => {
    const rng = new Rng(B * 1000 + H);
    for (let salt = 0; salt < 8; salt++) {
      const gact = salt & 1; // 0 sigmoid, 1 hard sigmoid
      const sfx = gact ? " (hard)" : "";
      const G = randArray(rng, B * 4 * H, -3, 3);
      const bIh = randArray(rng, 4 * H);
      const bHh = randArray(rng, 4 * H);
      const cPrev = randArray(rng, B * H, -2, 2);
      const dh = randArray(rng, B * H);
      const dcIn = randArray(rng, B * H);

      const pG = mem.put(G, mis(0, salt));
      const pc = mem.alloc(B * H, mis(1, salt));
      const ph = mem.alloc(B * H, mis(2, salt));
      const ptc = mem.alloc(B * H, mis(3, salt));
      const pcPrev = mem.put(cPrev, mis(4, salt));
      k.lstm_step_fwd(pG, mem.put(bIh, mis(1, salt)), mem.put(bHh, mis(2, salt)), pcPrev, pc, ph, ptc, B, H, gact);
      const Gr = f64(G);
      const c = new Float64Array(B * H);
      const h = new Float64Array(B * H);
      const tc = new Float64Array(B * H);
      ref.lstm_step_fwd_ref(Gr, bIh, bHh, cPrev, c, h, tc, B, H, gact);
      const gates = mem.get(pG, B * 4 * H);
      check("lstm_fwd gates" + sfx, gates, Gr);
      check("lstm_fwd c" + sfx, mem.get(pc, B * H), c);
      check("lstm_fwd h" + sfx, mem.get(ph, B * H), h);
      check("lstm_fwd tc" + sfx, mem.get(ptc, B * H), tc);

      // Backward from the WASM caches.
      const tcw = mem.get(ptc, B * H);
      const pdc = mem.put(dcIn, mis(2, salt));
      const pdG = mem.alloc(B * 4 * H, mis(3, salt));
      k.lstm_step_bwd(pG, pcPrev, ptc, mem.put(dh, mis(1, salt)), pdc, pdG, B, H, gact);
      const dc = f64(dcIn);
      const dG = new Float64Array(B * 4 * H);
      ref.lstm_step_bwd_ref(gates, cPrev, tcw, dh, dc, dG, B, H, gact);
      const dGw = mem.get(pdG, B * 4 * H);
      check("lstm_bwd dG" + sfx, dGw, dG);
      check("lstm_bwd dc_prev" + sfx, mem.get(pdc, B * H), dc);

      // By hidden units (a backward step split by units, threads.ts): ranges [0, j) and [j, H) with j a
      // multiple of 4 (the last range may hold a partial vector) give the whole step's bits.
      const j = 4 * Math.floor(H / 8);
      const pdc3 = mem.put(dcIn);
      const pdG3 = mem.alloc(B * 4 * H);
      const pdh3 = mem.put(dh);
      k.lstm_step_bwd_cols(pG, pcPrev, ptc, pdh3, pdc3, pdG3, B, H, j, H, gact);
      k.lstm_step_bwd_cols(pG, pcPrev, ptc, pdh3, pdc3, pdG3, B, H, 0, j, gact);
      expect(mem.get(pdG3, B * 4 * H), "lstm_bwd by units: dG" + sfx).toEqual(dGw);
      expect(mem.get(pdc3, B * H), "lstm_bwd by units: dc_prev" + sfx).toEqual(mem.get(pdc, B * H));

      // In place: dG == G.
      const pdc2 = mem.put(dcIn);
      k.lstm_step_bwd(pG, pcPrev, ptc, mem.put(dh), pdc2, pG, B, H, gact);
      expect(mem.get(pG, B * 4 * H)).toEqual(dGw);
      mem.release();
    }
  });

  it.each(SHAPES)("gru fwd/bwd, B=%i H=%i, both gate activations", (B, H) => {
    const rng = new Rng(B * 10000 + H);
    for (let salt = 0; salt < 8; salt++) {
      const gact = salt & 1;
      const sfx = gact ? " (hard)" : "";
      const Gi = randArray(rng, B * 3 * H, -2, 2);
      const Gh = randArray(rng, B * 3 * H, -2, 2);
      const bIh = randArray(rng, 3 * H);
      const bHh = randArray(rng, 3 * H);
      const hPrev = randArray(rng, B * H);
      const dh = randArray(rng, B * H);

      const ph = mem.alloc(B * H, mis(0, salt));
      const pcache = mem.alloc(B * 4 * H, mis(1, salt));
      const phPrev = mem.put(hPrev, mis(2, salt));
      k.gru_step_fwd(mem.put(Gi, mis(3, salt)), mem.put(Gh, mis(4, salt)), mem.put(bIh, mis(5, salt)), mem.put(bHh, mis(6, salt)), phPrev, ph, pcache, B, H, gact);
      const h = new Float64Array(B * H);
      const cache = new Float64Array(B * 4 * H);
      ref.gru_step_fwd_ref(Gi, Gh, bIh, bHh, hPrev, h, cache, B, H, gact);
      check("gru_fwd h" + sfx, mem.get(ph, B * H), h);
      const cachew = mem.get(pcache, B * 4 * H);
      check("gru_fwd cache" + sfx, cachew, cache);

      const pdh = mem.put(dh, mis(1, salt));
      const pdGi = mem.alloc(B * 3 * H, mis(2, salt));
      const pdGh = mem.alloc(B * 3 * H, mis(3, salt));
      const pdhPrev = mem.alloc(B * H, mis(0, salt));
      k.gru_step_bwd(pcache, phPrev, pdh, pdGi, pdGh, pdhPrev, B, H, gact);
      const dGi = new Float64Array(B * 3 * H);
      const dGh = new Float64Array(B * 3 * H);
      const dhPrev = new Float64Array(B * H);
      ref.gru_step_bwd_ref(cachew, hPrev, dh, dGi, dGh, dhPrev, B, H, gact);
      check("gru_bwd dGi" + sfx, mem.get(pdGi, B * 3 * H), dGi);
      check("gru_bwd dGh" + sfx, mem.get(pdGh, B * 3 * H), dGh);
      check("gru_bwd dhPrev" + sfx, mem.get(pdhPrev, B * H), dhPrev);

      // In place: dhPrev == dh.
      k.gru_step_bwd(pcache, phPrev, pdh, pdGi, pdGh, pdh, B, H, gact);
      expect(mem.get(pdh, B * H)).toEqual(mem.get(pdhPrev, B * H));
      mem.release();
    }
  });

  it.each(SHAPES)("gru reset-before (gru_rb_step_fwd/bwd, GEMMs inside), B=%i H=%i, both gate activations", (B, H) => {
    const rng = new Rng(B * 20000 + H);
    for (let salt = 0; salt < 4; salt++) {
      const gact = salt & 1;
      const sfx = gact ? " (hard)" : "";
      const Gi = randArray(rng, B * 3 * H, -2, 2);
      const wHh = randArray(rng, 3 * H * H, -1, 1);
      const bIh = randArray(rng, 3 * H);
      const bHh = randArray(rng, 3 * H);
      const hPrev = randArray(rng, B * H);
      const dh = randArray(rng, B * H);
      const pW = mem.put(wHh, mis(0, salt));
      const panel = (N: number, K: number) => Math.ceil(N / 8) * 8 * K;
      // Packed operands: forward W_hh^T (r,z rows; n rows), backward W_hh (r,z rows; n rows).
      const pRZ = mem.alloc(panel(2 * H, H), 0, 0), pN = mem.alloc(panel(H, H), 0, 0);
      const pRZN = mem.alloc(panel(H, 2 * H), 0, 0), pNN = mem.alloc(panel(H, H), 0, 0);
      k.gemm_pack_b_nt(pW, H, H, 2 * H, pRZ);
      k.gemm_pack_b_nt(pW + 2 * H * H * 4, H, H, H, pN);
      k.gemm_pack_b_nn(pW, H, 2 * H, H, pRZN);
      k.gemm_pack_b_nn(pW + 2 * H * H * 4, H, H, H, pNN);
      const phPrev = mem.put(hPrev, mis(1, salt));
      const ph = mem.alloc(B * H, mis(2, salt));
      const pcache = mem.alloc(B * 4 * H, mis(3, salt));
      const pGh = mem.alloc(B * 3 * H, mis(0, salt));
      const pbIh = mem.put(bIh, mis(1, salt)), pbHh = mem.put(bHh, mis(2, salt));
      const pGi = mem.put(Gi, mis(3, salt));
      k.gru_rb_step_fwd(phPrev, pRZ, pN, pGi, pGh, pbIh, pbHh, ph, pcache, B, H, gact);
      const h = new Float64Array(B * H);
      const cache = new Float64Array(B * 4 * H);
      ref.gru_rb_step_fwd_ref(hPrev, wHh, Gi, bIh, bHh, h, cache, B, H, gact);
      const hw = mem.get(ph, B * H);
      check("gru_rb_fwd h" + sfx, hw, h);
      const cachew = mem.get(pcache, B * 4 * H);
      check("gru_rb_fwd cache" + sfx, cachew, cache);

      const pdGi = mem.alloc(B * 3 * H, mis(1, salt));
      const pdGh = mem.alloc(B * 3 * H, mis(2, salt));
      const pdhPrev = mem.alloc(B * H, mis(3, salt));
      k.gru_rb_step_bwd(pcache, phPrev, mem.put(dh, mis(0, salt)), pdGi, pdGh, pdhPrev, pRZN, pNN, B, H, gact);
      const dGi = new Float64Array(B * 3 * H);
      const dGh = new Float64Array(B * 3 * H);
      const dhPrev = new Float64Array(B * H);
      ref.gru_rb_step_bwd_ref(cachew, hPrev, dh, wHh, dGi, dGh, dhPrev, B, H, gact);
      check("gru_rb_bwd dGi" + sfx, mem.get(pdGi, B * 3 * H), dGi);
      check("gru_rb_bwd dGh" + sfx, mem.get(pdGh, B * 3 * H), dGh);
      check("gru_rb_bwd dhPrev" + sfx, mem.get(pdhPrev, B * H), dhPrev);

      // In place: h == hPrev.
      k.gru_rb_step_fwd(phPrev, pRZ, pN, pGi, pGh, pbIh, pbHh, phPrev, pcache, B, H, gact);
      expect(mem.get(phPrev, B * H)).toEqual(hw);
      mem.release();
    }
  });

  it("hard sigmoid gates: tfjs's clip(0.5 + 0.2 x, 0, 1) in f32, exact at the clip, NaN kept, zero gradient where clipped", () => {
    const H = 8;
    // Pre-activations of the i, f, g, o blocks; g and the biases 0. i covers the kinks and special values.
    const xs = [-Infinity, -1e30, -2.5, -2.4999, 0, 1.25, 2.5, NaN];
    const G = new Float32Array(4 * H);
    for (let j = 0; j < H; j++) {
      G[j] = xs[j];
      G[H + j] = 3; // f clipped at 1
      G[3 * H + j] = -3; // o clipped at 0
    }
    const zero = new Float32Array(4 * H);
    const pG = mem.put(G);
    const pc = mem.alloc(H), ph = mem.alloc(H), ptc = mem.alloc(H);
    k.lstm_step_fwd(pG, mem.put(zero), mem.put(zero), mem.put(new Float32Array(H).fill(0.5)), pc, ph, ptc, 1, H, 1);
    const gates = mem.get(pG, 4 * H);
    const f32 = Math.fround;
    for (let j = 0; j < H; j++) {
      const want = Math.min(Math.max(f32(0.5 + f32(f32(0.2) * f32(xs[j]))), 0), 1);
      if (Number.isNaN(xs[j])) expect(Number.isNaN(gates[j])).toBe(true);
      else expect(gates[j], `i(${xs[j]})`).toBe(want);
      expect(gates[H + j]).toBe(1);
      expect(gates[3 * H + j]).toBe(0);
    }
    // Backward: dG_f and dG_o are 0 where the gate is clipped.
    const pdG = mem.alloc(4 * H);
    k.lstm_step_bwd(pG, mem.put(new Float32Array(H).fill(0.5)), ptc, mem.put(new Float32Array(H).fill(1)), mem.put(new Float32Array(H).fill(1)), pdG, 1, H, 1);
    const dG = mem.get(pdG, 4 * H);
    for (let j = 0; j < H; j++) {
      if (Number.isNaN(xs[j])) {
        // A NaN gate makes c, tanh(c) and so every gradient of its column NaN: never a silent 0.
        expect(Number.isNaN(dG[H + j])).toBe(true);
        continue;
      }
      expect(dG[H + j]).toBe(0);
      expect(dG[3 * H + j]).toBe(0);
    }
    mem.release();
  });

  it("propagates NaN and saturates at huge pre-activations", () => {
    const B = 1;
    const H = 5;
    // LSTM: gate pre-activations of +-1e30 saturate to exactly 0/1 and +-1.
    const G = new Float32Array(4 * H).fill(1e30);
    for (let j = 0; j < H; j++) G[H + j] = -1e30; // forget gate closed
    G[0] = NaN; // i of column 0
    const zero = new Float32Array(4 * H);
    const pG = mem.put(G);
    const pc = mem.alloc(H);
    const ph = mem.alloc(H);
    const ptc = mem.alloc(H);
    k.lstm_step_fwd(pG, mem.put(zero), mem.put(zero), mem.put(new Float32Array(H).fill(5)), pc, ph, ptc, B, H, 0);
    const c = mem.get(pc, H);
    const h = mem.get(ph, H);
    const tc = mem.get(ptc, H);
    expect(Number.isNaN(c[0]) && Number.isNaN(h[0])).toBe(true);
    for (let j = 1; j < H; j++) {
      expect(c[j]).toBe(1); // f = 0, i = 1, g = 1 exactly
      expect(h[j]).toBe(tc[j]); // o = 1 exactly
      expect(Math.abs(tc[j] - Math.tanh(1))).toBeLessThanOrEqual(2e-7);
    }
    mem.release();
  });
});

// ---- finite differences of the float64 reference ----------------------------

/** Central difference of loss(x) with respect to x[i], restoring x[i]. */
function fd(x: Float64Array, i: number, loss: () => number): number {
  const v = x[i];
  x[i] = v + FD_EPS;
  const lp = loss();
  x[i] = v - FD_EPS;
  const lm = loss();
  x[i] = v;
  return (lp - lm) / (2 * FD_EPS);
}

function expectClose(name: string, num: number, an: number): void {
  expect(Math.abs(num - an), `${name}: numeric ${num} vs analytic ${an}`).toBeLessThanOrEqual(FD_TOL * (1 + Math.abs(an)));
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

const rand64 = (rng: Rng, n: number, lo = -1, hi = 1) => Float64Array.from(randArray(rng, n, lo, hi));

describe("cells: reference backward vs finite differences", () => {
  // A random linear loss L = <wh, h> (+ <wc, c>): its gradients with respect to
  // h and c are wh and wc, which are what backward receives as dh and dc.
  const B = 2;
  const H = 3;

  it.each([0, 1])("rnn, act=%i", (act) => {
    const rng = new Rng(21 + act);
    // Keep relu pre-activations away from the kink at 0.
    const G = rand64(rng, B * H, -2, 2).map((v) => (Math.abs(v) < 0.1 ? v + 0.3 : v));
    const bIh = new Float64Array(H);
    const bHh = new Float64Array(H);
    const wh = rand64(rng, B * H);
    const h = new Float64Array(B * H);
    const loss = () => {
      ref.rnn_step_fwd_ref(G, bIh, bHh, h, B, H, act);
      return dot(wh, h);
    };
    loss();
    const dG = new Float64Array(B * H);
    ref.rnn_step_bwd_ref(h, wh, dG, B, H, act);
    for (let i = 0; i < G.length; i++) expectClose(`dG[${i}]`, fd(G, i, loss), dG[i]);
  });

  it.each([0, 1])("lstm, gact=%i", (gact) => {
    const rng = new Rng(31 + gact);
    const G0 = rand64(rng, B * 4 * H, -2, 2);
    const bIh = rand64(rng, 4 * H);
    const bHh = rand64(rng, 4 * H);
    const cPrev = rand64(rng, B * H, -2, 2);
    const wh = rand64(rng, B * H);
    const wc = rand64(rng, B * H);
    const G = new Float64Array(G0.length);
    const c = new Float64Array(B * H);
    const h = new Float64Array(B * H);
    const tc = new Float64Array(B * H);
    const loss = () => {
      G.set(G0); // forward overwrites G with the activated gates
      ref.lstm_step_fwd_ref(G, bIh, bHh, cPrev, c, h, tc, B, H, gact);
      return dot(wh, h) + dot(wc, c);
    };
    loss();
    const dc = Float64Array.from(wc);
    const dG = new Float64Array(B * 4 * H);
    ref.lstm_step_bwd_ref(G, cPrev, tc, wh, dc, dG, B, H, gact);
    for (let i = 0; i < G0.length; i++) expectClose(`dG[${i}]`, fd(G0, i, loss), dG[i]);
    for (let i = 0; i < cPrev.length; i++) expectClose(`dc_prev[${i}]`, fd(cPrev, i, loss), dc[i]);
  });

  it.each([0, 1])("gru, gact=%i", (gact) => {
    const rng = new Rng(41 + gact);
    const Gi = rand64(rng, B * 3 * H, -2, 2);
    const Gh = rand64(rng, B * 3 * H, -2, 2);
    const bIh = rand64(rng, 3 * H);
    const bHh = rand64(rng, 3 * H);
    const hPrev = rand64(rng, B * H);
    const wh = rand64(rng, B * H);
    const h = new Float64Array(B * H);
    const cache = new Float64Array(B * 4 * H);
    const loss = () => {
      ref.gru_step_fwd_ref(Gi, Gh, bIh, bHh, hPrev, h, cache, B, H, gact);
      return dot(wh, h);
    };
    loss();
    const dGi = new Float64Array(B * 3 * H);
    const dGh = new Float64Array(B * 3 * H);
    const dhPrev = new Float64Array(B * H);
    ref.gru_step_bwd_ref(cache, hPrev, wh, dGi, dGh, dhPrev, B, H, gact);
    for (let i = 0; i < Gi.length; i++) expectClose(`dGi[${i}]`, fd(Gi, i, loss), dGi[i]);
    for (let i = 0; i < Gh.length; i++) expectClose(`dGh[${i}]`, fd(Gh, i, loss), dGh[i]);
    // With Gh held fixed, h_prev reaches h only through z h_prev: the direct path.
    for (let i = 0; i < hPrev.length; i++) expectClose(`dhPrev[${i}]`, fd(hPrev, i, loss), dhPrev[i]);
  });

  it.each([0, 1])("gru reset-before (whole step, W_hh included), gact=%i", (gact) => {
    const rng = new Rng(51 + gact);
    const Gi = rand64(rng, B * 3 * H, -2, 2);
    const wHh = rand64(rng, 3 * H * H);
    const bIh = rand64(rng, 3 * H);
    const bHh = rand64(rng, 3 * H);
    const hPrev = rand64(rng, B * H);
    const wh = rand64(rng, B * H);
    const h = new Float64Array(B * H);
    const cache = new Float64Array(B * 4 * H);
    const loss = () => {
      ref.gru_rb_step_fwd_ref(hPrev, wHh, Gi, bIh, bHh, h, cache, B, H, gact);
      return dot(wh, h);
    };
    loss();
    const dGi = new Float64Array(B * 3 * H);
    const dGh = new Float64Array(B * 3 * H);
    const dhPrev = new Float64Array(B * H);
    ref.gru_rb_step_bwd_ref(cache, hPrev, wh, wHh, dGi, dGh, dhPrev, B, H, gact);
    for (let i = 0; i < Gi.length; i++) expectClose(`dGi[${i}]`, fd(Gi, i, loss), dGi[i]);
    // b_hh enters each gate's pre-activation with coefficient 1: dL/db_hh = the sum over rows of dGh.
    for (let j = 0; j < 3 * H; j++) {
      let s = 0;
      for (let b = 0; b < B; b++) s += dGh[b * 3 * H + j];
      expectClose(`dbHh[${j}]`, fd(bHh, j, loss), s);
    }
    // The whole dL/dh_{t-1}: direct, through u = r h_prev and through W_hr, W_hz.
    for (let i = 0; i < hPrev.length; i++) expectClose(`dhPrev[${i}]`, fd(hPrev, i, loss), dhPrev[i]);
  });
});
