// util.ts kernels vs src/reference/util.ts: scale, clip, axpy, fill, the
// [P,Q,F] -> [Q,P,F] swap, embedding gather / scatter-add.
//
// Tolerances: scale, clip, fill, swap01 and gather do at most one f32
// rounding of the exact result, so they are compared exactly (against the
// reference rounded with Math.fround). axpy does two roundings (a*x, then +)
// so |err| <= 2^-23 * (|dst| + |a*src|); with values in [-1, 1) that is
// below 2.4e-7 absolute, checked with maxRelErr floor 1 (an absolute error
// for |values| < 1). scatter_add sums up to n f32 terms in order: bound
// n * 2^-24 * sum|terms|, checked per element.
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Kernels } from "../src/runtime/abi.js";
import * as ref from "../src/reference/util.js";
import { Mem, Rng, loadKernels, maxRelErr, randArray } from "./helpers.js";

const NS = [0, 1, 3, 4, 5, 7, 8, 9, 17, 33, 257];
const U = 2 ** -24; // unit roundoff of f32

let k: Kernels;
const mem = new Mem();
beforeAll(async () => {
  k = await loadKernels();
});
afterEach(() => mem.release());

const fround = (a: ArrayLike<number>) => Float32Array.from(a);

describe("scale_f32", () => {
  it.each(NS)("n=%i matches x*s exactly, any alignment", (n) => {
    const rng = new Rng(n);
    for (let mis = 0; mis < 4; mis++) {
      const x = randArray(rng, n, -3, 3);
      const s = Math.fround(-1.7);
      const px = mem.put(x, mis);
      k.scale_f32(px, n, s);
      const want = Float64Array.from(x);
      ref.scale_f32(want, n, s);
      expect(mem.get(px, n)).toEqual(fround(want));
    }
  });
});

describe("clip_f32", () => {
  it.each(NS)("n=%i clamps to [-c, c] exactly", (n) => {
    const rng = new Rng(100 + n);
    for (let mis = 0; mis < 4; mis++) {
      const x = randArray(rng, n, -3, 3);
      const px = mem.put(x, mis);
      k.clip_f32(px, n, 1.5);
      const want = Float64Array.from(x);
      ref.clip_f32(want, n, 1.5);
      expect(mem.get(px, n)).toEqual(fround(want));
    }
  });

  it("keeps NaN and clips +-inf, in the SIMD body and in the tail", () => {
    const x = [NaN, Infinity, -Infinity, 0.5, -0, 7, NaN, -Infinity, Infinity];
    const px = mem.put(x, 1);
    k.clip_f32(px, x.length, 2);
    expect(Array.from(mem.get(px, x.length))).toEqual([NaN, 2, -2, 0.5, -0, 2, NaN, -2, 2]);
  });
});

describe("axpy_f32", () => {
  it.each(NS)("n=%i dst += a*src", (n) => {
    const rng = new Rng(200 + n);
    for (let mis = 0; mis < 4; mis++) {
      const d = randArray(rng, n);
      const s = randArray(rng, n);
      const a = Math.fround(0.37);
      const pd = mem.put(d, mis);
      const ps = mem.put(s, (mis + 1) % 4);
      k.axpy_f32(pd, ps, n, a);
      const want = Float64Array.from(d);
      ref.axpy_f32(want, s, n, a);
      // two roundings of O(1) values: 2 * 2^-24 * (|d| + |a s|) <= 2.4e-7 absolute
      expect(maxRelErr(mem.get(pd, n), want, 1).err).toBeLessThanOrEqual(2 * U * 2);
    }
  });

  it("dst may equal src", () => {
    const x = randArray(new Rng(7), 33);
    const p = mem.put(x, 3);
    k.axpy_f32(p, p, 33, 0.5);
    const want = Float64Array.from(x);
    ref.axpy_f32(want, x, 33, 0.5);
    expect(mem.get(p, 33)).toEqual(fround(want)); // x + 0.5x = 1.5x: one rounding
  });
});

describe("fill_f32", () => {
  it.each(NS)("n=%i writes v everywhere and nothing past n", (n) => {
    for (let mis = 0; mis < 4; mis++) {
      const p = mem.alloc(n + 4, mis, 9);
      k.fill_f32(p, n, -2.5);
      const got = mem.get(p, n + 4);
      const want = new Float32Array(n + 4).fill(9);
      want.fill(-2.5, 0, n);
      expect(got).toEqual(want);
    }
  });
});

describe("swap01_f32", () => {
  const shapes: [number, number, number][] = [
    [0, 3, 4], [3, 0, 4], [2, 3, 0], [1, 1, 1], [3, 5, 1], [4, 2, 3], [5, 3, 4], [7, 2, 9], [2, 7, 17], [16, 8, 33],
  ];
  it.each(shapes)("[P,Q,F]=[%i,%i,%i] -> [Q,P,F], and back", (P, Q, F) => {
    const rng = new Rng(P * 100 + Q * 10 + F);
    const n = P * Q * F;
    const x = randArray(rng, n);
    const ps = mem.put(x, 1);
    const pd = mem.alloc(n, 2);
    k.swap01_f32(pd, ps, P, Q, F);
    const want = new Float32Array(n);
    ref.swap01_f32(want, x, P, Q, F);
    expect(mem.get(pd, n)).toEqual(want);
    // swapping back restores the original
    const pb = mem.alloc(n, 3);
    k.swap01_f32(pb, pd, Q, P, F);
    expect(mem.get(pb, n)).toEqual(x);
  });
});

describe("copy2d_f32", () => {
  // [rows, cols, lds, ldd]: contiguous rows (one copy) and strided ones (a copy per row), empty shapes.
  const shapes: [number, number, number, number][] = [[0, 4, 4, 4], [3, 0, 5, 5], [1, 7, 7, 7], [2048, 64, 64, 64], [5, 3, 8, 3], [4, 6, 6, 10], [6, 5, 9, 7]];
  it.each(shapes)("rows=%i cols=%i lds=%i ldd=%i: the plain row-by-row copy, the rest of dst untouched", (rows, cols, lds, ldd) => {
    const rng = new Rng(rows + cols * 7 + lds * 13 + ldd);
    const src = randArray(rng, Math.max(1, rows * lds));
    const dst0 = randArray(rng, Math.max(1, rows * ldd));
    const pd = mem.put(dst0, 1);
    k.copy2d_f32(pd, ldd, mem.put(src, 2), lds, rows, cols);
    const want = Float32Array.from(dst0);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) want[r * ldd + c] = src[r * lds + c];
    expect(mem.get(pd, want.length)).toEqual(want);
  });
});

describe("gather_rows / scatter_add_rows", () => {
  const cases: [number, number][] = [
    [0, 5], [1, 1], [3, 3], [4, 4], [5, 7], [9, 8], [17, 9], [33, 17], [64, 33],
  ];
  it.each(cases)("n=%i ids, D=%i (negative ids = padding)", (n, D) => {
    const rng = new Rng(n * 1000 + D);
    const V = 6;
    const table = randArray(rng, V * D);
    // ids with repeats and padding (-1)
    const ids = Array.from({ length: n }, (_, i) => (i % 5 === 4 ? -1 : rng.int(V)));
    const pt = mem.put(table, 1);
    const pi = mem.putI32(ids);
    const po = mem.alloc(n * D, 3);
    k.gather_rows(po, pt, pi, n, D);
    const want = new Float32Array(n * D);
    ref.gather_rows(want, table, ids, n, D);
    expect(mem.get(po, n * D)).toEqual(want);

    const dout = randArray(rng, n * D);
    const dt0 = randArray(rng, V * D);
    const pdt = mem.put(dt0, 2);
    const pdo = mem.put(dout, 0);
    k.scatter_add_rows(pdt, pdo, pi, n, D);
    const wantDt = Float64Array.from(dt0);
    ref.scatter_add_rows(wantDt, dout, ids, n, D);
    // bound on in-order f32 summation: (count + 1) * 2^-24 * sum of |terms|
    const abs = Float64Array.from(dt0, Math.abs);
    ref.scatter_add_rows(abs, Float64Array.from(dout, Math.abs), ids, n, D);
    const got = mem.get(pdt, V * D);
    for (let i = 0; i < V * D; i++) {
      expect(Math.abs(got[i] - wantDt[i])).toBeLessThanOrEqual((n + 1) * U * abs[i]);
    }
  });
});
