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

  it.each(SHAPES)("lstm fwd/bwd, B=%i H=%i", (B, H) => {
    const rng = new Rng(B * 1000 + H);
    for (let salt = 0; salt < 4; salt++) {
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
      k.lstm_step_fwd(pG, mem.put(bIh, mis(1, salt)), mem.put(bHh, mis(2, salt)), pcPrev, pc, ph, ptc, B, H);
      const Gr = f64(G);
      const c = new Float64Array(B * H);
      const h = new Float64Array(B * H);
      const tc = new Float64Array(B * H);
      ref.lstm_step_fwd_ref(Gr, bIh, bHh, cPrev, c, h, tc, B, H);
      const gates = mem.get(pG, B * 4 * H);
      check("lstm_fwd gates", gates, Gr);
      check("lstm_fwd c", mem.get(pc, B * H), c);
      check("lstm_fwd h", mem.get(ph, B * H), h);
      check("lstm_fwd tc", mem.get(ptc, B * H), tc);

      // Backward from the WASM caches.
      const tcw = mem.get(ptc, B * H);
      const pdc = mem.put(dcIn, mis(2, salt));
      const pdG = mem.alloc(B * 4 * H, mis(3, salt));
      k.lstm_step_bwd(pG, pcPrev, ptc, mem.put(dh, mis(1, salt)), pdc, pdG, B, H);
      const dc = f64(dcIn);
      const dG = new Float64Array(B * 4 * H);
      ref.lstm_step_bwd_ref(gates, cPrev, tcw, dh, dc, dG, B, H);
      const dGw = mem.get(pdG, B * 4 * H);
      check("lstm_bwd dG", dGw, dG);
      check("lstm_bwd dc_prev", mem.get(pdc, B * H), dc);

      // In place: dG == G.
      const pdc2 = mem.put(dcIn);
      k.lstm_step_bwd(pG, pcPrev, ptc, mem.put(dh), pdc2, pG, B, H);
      expect(mem.get(pG, B * 4 * H)).toEqual(dGw);
      mem.release();
    }
  });

  it.each(SHAPES)("gru fwd/bwd, B=%i H=%i", (B, H) => {
    const rng = new Rng(B * 10000 + H);
    for (let salt = 0; salt < 4; salt++) {
      const Gi = randArray(rng, B * 3 * H, -2, 2);
      const Gh = randArray(rng, B * 3 * H, -2, 2);
      const bIh = randArray(rng, 3 * H);
      const bHh = randArray(rng, 3 * H);
      const hPrev = randArray(rng, B * H);
      const dh = randArray(rng, B * H);

      const ph = mem.alloc(B * H, mis(0, salt));
      const pcache = mem.alloc(B * 4 * H, mis(1, salt));
      const phPrev = mem.put(hPrev, mis(2, salt));
      k.gru_step_fwd(mem.put(Gi, mis(3, salt)), mem.put(Gh, mis(4, salt)), mem.put(bIh, mis(5, salt)), mem.put(bHh, mis(6, salt)), phPrev, ph, pcache, B, H);
      const h = new Float64Array(B * H);
      const cache = new Float64Array(B * 4 * H);
      ref.gru_step_fwd_ref(Gi, Gh, bIh, bHh, hPrev, h, cache, B, H);
      check("gru_fwd h", mem.get(ph, B * H), h);
      const cachew = mem.get(pcache, B * 4 * H);
      check("gru_fwd cache", cachew, cache);

      const pdh = mem.put(dh, mis(1, salt));
      const pdGi = mem.alloc(B * 3 * H, mis(2, salt));
      const pdGh = mem.alloc(B * 3 * H, mis(3, salt));
      const pdhPrev = mem.alloc(B * H, mis(0, salt));
      k.gru_step_bwd(pcache, phPrev, pdh, pdGi, pdGh, pdhPrev, B, H);
      const dGi = new Float64Array(B * 3 * H);
      const dGh = new Float64Array(B * 3 * H);
      const dhPrev = new Float64Array(B * H);
      ref.gru_step_bwd_ref(cachew, hPrev, dh, dGi, dGh, dhPrev, B, H);
      check("gru_bwd dGi", mem.get(pdGi, B * 3 * H), dGi);
      check("gru_bwd dGh", mem.get(pdGh, B * 3 * H), dGh);
      check("gru_bwd dhPrev", mem.get(pdhPrev, B * H), dhPrev);

      // In place: dhPrev == dh.
      k.gru_step_bwd(pcache, phPrev, pdh, pdGi, pdGh, pdh, B, H);
      expect(mem.get(pdh, B * H)).toEqual(mem.get(pdhPrev, B * H));
      mem.release();
    }
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
    k.lstm_step_fwd(pG, mem.put(zero), mem.put(zero), mem.put(new Float32Array(H).fill(5)), pc, ph, ptc, B, H);
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

  it("lstm", () => {
    const rng = new Rng(31);
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
      ref.lstm_step_fwd_ref(G, bIh, bHh, cPrev, c, h, tc, B, H);
      return dot(wh, h) + dot(wc, c);
    };
    loss();
    const dc = Float64Array.from(wc);
    const dG = new Float64Array(B * 4 * H);
    ref.lstm_step_bwd_ref(G, cPrev, tc, wh, dc, dG, B, H);
    for (let i = 0; i < G0.length; i++) expectClose(`dG[${i}]`, fd(G0, i, loss), dG[i]);
    for (let i = 0; i < cPrev.length; i++) expectClose(`dc_prev[${i}]`, fd(cPrev, i, loss), dc[i]);
  });

  it("gru", () => {
    const rng = new Rng(41);
    const Gi = rand64(rng, B * 3 * H, -2, 2);
    const Gh = rand64(rng, B * 3 * H, -2, 2);
    const bIh = rand64(rng, 3 * H);
    const bHh = rand64(rng, 3 * H);
    const hPrev = rand64(rng, B * H);
    const wh = rand64(rng, B * H);
    const h = new Float64Array(B * H);
    const cache = new Float64Array(B * 4 * H);
    const loss = () => {
      ref.gru_step_fwd_ref(Gi, Gh, bIh, bHh, hPrev, h, cache, B, H);
      return dot(wh, h);
    };
    loss();
    const dGi = new Float64Array(B * 3 * H);
    const dGh = new Float64Array(B * 3 * H);
    const dhPrev = new Float64Array(B * H);
    ref.gru_step_bwd_ref(cache, hPrev, wh, dGi, dGh, dhPrev, B, H);
    for (let i = 0; i < Gi.length; i++) expectClose(`dGi[${i}]`, fd(Gi, i, loss), dGi[i]);
    for (let i = 0; i < Gh.length; i++) expectClose(`dGh[${i}]`, fd(Gh, i, loss), dGh[i]);
    // With Gh held fixed, h_prev reaches h only through z h_prev: the direct path.
    for (let i = 0; i < hPrev.length; i++) expectClose(`dhPrev[${i}]`, fd(hPrev, i, loss), dhPrev[i]);
  });
});
