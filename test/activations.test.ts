// SIMD activations (assembly/activations.ts) against float64 Math.* and the
// scalar references in src/reference/activations.ts.
//
// Error metric, for a float64 reference value r and a kernel output y:
// - r a normal f32 (|r| >= 2^-126): relative error |y - r| / |r|. The
//   contract is 1e-6 (about 8 ulp). Measured: exp 7.9e-8, sigmoid 1.7e-7,
//   tanh 1.7e-7 (a few f32 roundings on top of a polynomial good to < 1e-7),
//   so the tests assert REL_TIGHT = 3e-7: a regression shows up long before
//   the contract breaks, with margin for the rounding luck of other sweeps.
// - r below the normal range: denormal results cannot carry 24 significant
//   bits, so the bound is absolute: 1 denormal ulp (2^-149).
// - r above FLT_MAX: +inf, and finite r that rounds to FLT_MAX when it is
//   within half an ulp is accepted either way.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Kernels, Ptr } from "../src/runtime/abi.js";
import * as ref from "../src/reference/activations.js";
import { loadKernels, Mem, Rng } from "./helpers.js";

const REL = 1e-6;
const REL_TIGHT = 3e-7;
const MIN_NORMAL = 2 ** -126;
const DENORM_ULP = 2 ** -149;
const FLT_MAX = 3.4028234663852886e38;

type Name = "exp" | "sigmoid" | "tanh";
const REF: Record<Name, (x: number) => number> = { exp: Math.exp, sigmoid: ref.sigmoid, tanh: Math.tanh };

let k: Kernels;
const mem = new Mem();
beforeAll(async () => {
  k = await loadKernels();
});
afterAll(() => mem.release());

function kernel(name: Name | "relu"): (dst: Ptr, src: Ptr, n: number) => void {
  return { exp: k.exp_f32x4, sigmoid: k.sigmoid_f32x4, tanh: k.tanh_f32x4, relu: k.relu_f32x4 }[name];
}

/** Run kernel `name` on xs (aligned, out of place) and return the outputs. */
function run(name: Name | "relu", xs: ArrayLike<number>, misalign = 0): Float32Array {
  const src = mem.put(xs, misalign);
  const dst = mem.alloc(xs.length, misalign);
  kernel(name)(dst, src, xs.length);
  const y = mem.get(dst, xs.length);
  mem.release();
  return y;
}

/** Worst relative error (normal results) and worst error in denormal ulps; throws on a wrong special value. */
function measure(name: Name, xs: Float32Array, ys: Float32Array): { rel: number; relAt: number; den: number } {
  let rel = 0;
  let relAt = NaN;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i];
    const y = ys[i];
    const r = REF[name](x);
    if (Number.isNaN(r) || Number.isNaN(y)) {
      if (!(Number.isNaN(r) && Number.isNaN(y))) throw new Error(`${name}(${x}) = ${y}, want ${r}`);
      continue;
    }
    if (Math.abs(r) > FLT_MAX) {
      if (y !== r && Math.fround(r) !== y) throw new Error(`${name}(${x}) = ${y}, want ${r}`);
      continue;
    }
    if (Math.abs(r) < MIN_NORMAL) {
      den = Math.max(den, Math.abs(y - r) / DENORM_ULP);
      continue;
    }
    const e = Math.abs(y - r) / Math.abs(r);
    if (e > rel) {
      rel = e;
      relAt = x;
    }
  }
  return { rel, relAt, den };
}

/** Random f32 bit patterns: every exponent (and NaN/inf) equally likely. */
function randomBits(rng: Rng, n: number): Float32Array {
  const u = new Uint32Array(n);
  for (let i = 0; i < n; i++) u[i] = rng.nextU32();
  return new Float32Array(u.buffer);
}

function sweep(lo: number, hi: number, n: number): Float32Array {
  const xs = new Float32Array(n);
  for (let i = 0; i < n; i++) xs[i] = lo + ((hi - lo) * i) / (n - 1);
  return xs;
}

/** Every `step`-th f32 (in bit-pattern order) in [lo, hi], 0 < lo < hi, and its negation. */
function bitSweep(lo: number, hi: number, step: number): Float32Array {
  const ends = new Uint32Array(new Float32Array([lo, hi]).buffer);
  const m = Math.floor((ends[1] - ends[0]) / step) + 1;
  const u = new Uint32Array(2 * m);
  for (let i = 0; i < m; i++) {
    u[2 * i] = ends[0] + i * step;
    u[2 * i + 1] = (ends[0] + i * step) | 0x80000000;
  }
  return new Float32Array(u.buffer);
}

describe("activations: special values", () => {
  const cases: [Name | "relu", number, number][] = [
    ["exp", 0, 1], ["exp", -0, 1], ["exp", Infinity, Infinity], ["exp", -Infinity, 0], ["exp", NaN, NaN],
    ["exp", 88.73, Infinity], ["exp", 89, Infinity], ["exp", 1000, Infinity], ["exp", 3e38, Infinity],
    ["exp", -104, 0], ["exp", -1000, 0], ["exp", -3e38, 0],
    ["sigmoid", Infinity, 1], ["sigmoid", -Infinity, 0], ["sigmoid", NaN, NaN], ["sigmoid", 0, 0.5], ["sigmoid", -0, 0.5],
    ["sigmoid", 200, 1], ["sigmoid", -200, 0],
    ["tanh", 0, 0], ["tanh", -0, -0], ["tanh", Infinity, 1], ["tanh", -Infinity, -1], ["tanh", NaN, NaN],
    ["tanh", 50, 1], ["tanh", -50, -1], ["tanh", 1e-30, 1e-30], ["tanh", -1e-30, -1e-30],
    ["tanh", 1e-45, 1e-45], ["tanh", -1e-45, -1e-45],
    ["relu", 0, 0], ["relu", -0, 0], ["relu", -1, 0], ["relu", 2.5, 2.5], ["relu", Infinity, Infinity],
    ["relu", -Infinity, 0], ["relu", NaN, NaN],
  ];
  it.each(cases)("%s(%s) = %s", (name, x, want) => {
    // Each value in every lane position and in the masked tail.
    for (const n of [1, 2, 3, 4, 5, 8]) {
      for (let lane = 0; lane < n; lane++) {
        const xs = new Float32Array(n).fill(0.25);
        xs[lane] = x;
        const y = run(name, xs)[lane];
        expect(Object.is(y, Math.fround(want)), `${name}(${x}) lane ${lane} of ${n} gave ${y}`).toBe(true);
      }
    }
  });

  it("exp at the overflow edge 88.72 and the underflow edge -87.3 / -103.9", () => {
    const xs = new Float32Array([88.72, 88.7228, 88.72283, 88.7229, -87.33, -87.34, -100, -103.27, -103.97, -103.98]);
    const ys = run("exp", xs);
    const m = measure("exp", xs, ys);
    expect(m.rel).toBeLessThanOrEqual(REL_TIGHT);
    expect(m.den).toBeLessThanOrEqual(1);
    expect(ys[0]).toBeLessThan(Infinity);
    expect(ys[3]).toBe(Infinity);
    expect(ys[9]).toBe(0);
  });

  it("tanh is odd and sigmoid symmetric on a dense grid", () => {
    const xs = sweep(0, 12, 4097);
    const neg = xs.map((x) => -x);
    const tp = run("tanh", xs);
    const tn = run("tanh", neg);
    const sp = run("sigmoid", xs);
    const sn = run("sigmoid", neg);
    for (let i = 0; i < xs.length; i++) {
      expect(tn[i]).toBe(-tp[i]);
      // sigmoid(x) + sigmoid(-x) = 1 up to the error of each (< REL_TIGHT
      // relative, values <= 1) and the rounding of the sum (float64: exact).
      expect(Math.abs(sp[i] + sn[i] - 1)).toBeLessThanOrEqual(2 * REL_TIGHT);
    }
  });
});

describe("activations: accuracy", () => {
  const ranges: Record<Name, [number, number][]> = {
    exp: [[-110, 95], [-1, 1], [-0.01, 0.01]],
    sigmoid: [[-110, 110], [-20, 20], [-1e-3, 1e-3]],
    tanh: [[-20, 20], [-1, 1], [-0.7, 0.7], [-1e-3, 1e-3]],
  };
  const worst: Record<string, string> = {};

  for (const name of ["exp", "sigmoid", "tanh"] as Name[]) {
    it(`${name}: dense sweeps`, () => {
      for (const [lo, hi] of ranges[name]) {
        const xs = sweep(lo, hi, 1 << 18);
        const m = measure(name, xs, run(name, xs));
        expect(m.rel, `${name} on [${lo}, ${hi}] worst at ${m.relAt}`).toBeLessThanOrEqual(REL_TIGHT);
        expect(m.den).toBeLessThanOrEqual(1);
        worst[`${name} [${lo},${hi}]`] = m.rel.toExponential(2);
      }
    });

    it(`${name}: random floats of all magnitudes`, () => {
      const rng = new Rng(7);
      const xs = randomBits(rng, 1 << 18);
      const m = measure(name, xs, run(name, xs));
      expect(m.rel, `worst at ${m.relAt}`).toBeLessThanOrEqual(REL);
      expect(m.rel).toBeLessThanOrEqual(REL_TIGHT);
      expect(m.den).toBeLessThanOrEqual(1);
      worst[`${name} random bits`] = m.rel.toExponential(2);
    });
  }

  it("tanh from denormals to 1.5: every 256th f32", () => {
    // Tiny and denormal |x| (tanh(x) = x), then across the points where the
    // reduction -2|x| = n ln2 + r steps from n = 0 to -1, -2, -3, -4
    // (|x| = 0.17, 0.52, 0.87, 1.21): the regions where expm1 could cancel.
    const xs = bitSweep(1e-42, 1.5, 256);
    const m = measure("tanh", xs, run("tanh", xs));
    expect(m.rel, `worst at ${m.relAt}`).toBeLessThanOrEqual(REL_TIGHT);
    worst["tanh [1e-42, 1.5] every 256th f32"] = m.rel.toExponential(2);
  });

  it("exp and sigmoid on every 16th f32 of the denormal-result range", () => {
    const xs = bitSweep(87, 104, 16).map((x) => -Math.abs(x)); // 2 x 35K points
    for (const name of ["exp", "sigmoid"] as Name[]) {
      const m = measure(name, xs, run(name, xs));
      expect(m.rel).toBeLessThanOrEqual(REL_TIGHT);
      expect(m.den, name).toBeLessThanOrEqual(1);
      worst[`${name} denormal range (ulps of 2^-149)`] = m.den.toFixed(3);
    }
  });

  afterAll(() => {
    console.log("max relative error:", worst);
  });
});

describe("activations: sizes, alignment, in place", () => {
  const sizes = [0, 1, 3, 4, 5, 7, 8, 9, 17, 33, 257];
  for (const name of ["exp", "sigmoid", "tanh", "relu"] as const) {
    it(`${name}: every size and misalignment matches the reference and writes nothing outside [0, n)`, () => {
      const rng = new Rng(3);
      const refArr = { exp: ref.exp_ref, sigmoid: ref.sigmoid_ref, tanh: ref.tanh_ref, relu: ref.relu_ref }[name];
      for (const n of sizes) {
        const xs = new Float32Array(n);
        for (let i = 0; i < n; i++) xs[i] = (rng.next() - 0.5) * 12;
        const want = new Float64Array(n);
        refArr(want, xs, n);
        for (let mis = 0; mis < 4; mis++) {
          for (const inPlace of [false, true]) {
            const GUARD = 4;
            const buf = mem.alloc(n + 2 * GUARD, mis, 1234.5);
            const dst = buf + GUARD * 4;
            // Out of place, the source has a different misalignment from dst.
            const src = inPlace ? dst : mem.put(xs, (mis + 1) & 3);
            if (inPlace) new Float32Array(k.memory.buffer, dst, n).set(xs);
            kernel(name)(dst, src, n);
            const all = mem.get(buf, n + 2 * GUARD);
            for (let g = 0; g < GUARD; g++) {
              expect(all[g]).toBe(1234.5);
              expect(all[GUARD + n + g]).toBe(1234.5);
            }
            const y = all.subarray(GUARD, GUARD + n);
            for (let i = 0; i < n; i++) {
              const tol = name === "relu" ? 0 : REL_TIGHT * Math.abs(want[i]);
              expect(Math.abs(y[i] - want[i]), `${name} n=${n} mis=${mis} inPlace=${inPlace} i=${i}`).toBeLessThanOrEqual(tol);
            }
            mem.release();
          }
        }
      }
    });
  }

  it("the masked tail gives the same bits as the vector body", () => {
    const rng = new Rng(11);
    const xs = new Float32Array(64);
    for (let i = 0; i < xs.length; i++) xs[i] = (rng.next() - 0.5) * 30;
    for (const name of ["exp", "sigmoid", "tanh", "relu"] as const) {
      const full = run(name, xs);
      for (const n of [1, 2, 3, 5, 6, 7]) {
        for (let start = 0; start + n <= 12; start++) {
          const part = run(name, xs.subarray(start, start + n));
          for (let i = 0; i < n; i++) expect(Object.is(part[i], full[start + i])).toBe(true);
        }
      }
    }
  });
});
