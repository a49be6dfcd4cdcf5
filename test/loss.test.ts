// loss.ts kernels vs src/reference/loss.ts: bias add / bias gradient over
// rows, softmax, softmax cross-entropy and MSE, at shapes on and off the
// f32x4 tile, at every alignment, in place, with extreme logits, and with
// finite-difference checks of the two loss gradients.
//
// Tolerances (u = 2^-24, the f32 unit roundoff):
// - bias_add_rows: one f32 rounding of the exact sum: compared exactly.
// - sum_rows: f32 accumulation down M rows; the classic bound for a
//   recursive sum, (M + 2) u sum_i |x_ij| (+ the beta term), per column.
// - softmax: the f32 difference x - m is rounded by up to u|x - m|
//   absolute, which exp turns into a relative error: with logits in [-8, 8]
//   that is <= 16u = 9.5e-7 (torch's f32 softmax has the same error). The
//   SIMD exp adds ~2u (Cephes polynomial), the f64 row sum nothing, the
//   normalisation 2u: we allow 2e-6 relative, floor 1e-6 (probabilities sum
//   to 1, so smaller ones are held to 1e-12 absolute). Measured <= 6e-7.
// - softmax_xent: each row's loss is log(sum) + m - x_t in f64, so its error
//   is a weighted mean of the exps' relative errors (above): 1e-6 absolute
//   per valid row (measured <= 2e-8 over all rows: the errors average out). The gradient
//   scale*(p - onehot) is compared with floor |scale|, i.e. 1e-6 * |scale|
//   absolute (p - 1 at the target cancels).
// - mse: the loss is formed in f64 from the f32 inputs (exact differences):
//   1e-12 relative; dpred is 2*scale*(p - t) with two f32 roundings.
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Kernels } from "../src/runtime/abi.js";
import * as ref from "../src/reference/loss.js";
import { Mem, Rng, loadKernels, maxRelErr, randArray } from "./helpers.js";

const U = 2 ** -24;
const NS = [0, 1, 3, 4, 5, 7, 8, 9, 17, 33, 257];
/** (M, N): N on, below and above multiples of 4 and 16, and one wide row. */
const MN: [number, number][] = [
  [0, 5], [1, 1], [1, 3], [2, 4], [3, 5], [4, 7], [5, 8], [7, 9], [8, 16], [3, 17], [9, 33], [2, 257], [33, 3], [17, 20], [5, 1024], [6, 259],
];
const SOFTMAX_TOL = 2e-6;
const XENT_TOL = 1e-6;

let k: Kernels;
const mem = new Mem();
beforeAll(async () => {
  k = await loadKernels();
});
afterEach(() => mem.release());

describe("bias_add_rows", () => {
  it.each(MN)("M=%i N=%i", (M, N) => {
    const rng = new Rng(M * 100 + N);
    for (let mis = 0; mis < 4; mis++) {
      const C = randArray(rng, M * N);
      const b = randArray(rng, N);
      const pc = mem.put(C, mis);
      k.bias_add_rows(pc, M, N, mem.put(b, (mis + 3) % 4));
      const want = Float64Array.from(C);
      ref.bias_add_rows(want, M, N, b);
      expect(mem.get(pc, M * N)).toEqual(Float32Array.from(want));
    }
  });
});

describe("sum_rows", () => {
  it.each(MN)("M=%i N=%i, beta 0 (dst not read), 1 and 0.5", (M, N) => {
    const rng = new Rng(M * 100 + N + 1);
    for (const beta of [0, 1, 0.5]) {
      for (let mis = 0; mis < 4; mis++) {
        const src = randArray(rng, M * N, -2, 2);
        const d0 = randArray(rng, N);
        // beta 0: dst starts as NaN, which must not leak into the result
        const pd = beta === 0 ? mem.alloc(N, mis) : mem.put(d0, mis);
        k.sum_rows(pd, mem.put(src, (mis + 1) % 4), M, N, beta);
        const want = new Float64Array(N);
        if (beta !== 0) want.set(d0);
        ref.sum_rows(want, src, M, N, beta);
        const absSum = new Float64Array(N);
        ref.sum_rows(absSum, Float64Array.from(src, Math.abs), M, N, 0);
        const got = mem.get(pd, N);
        for (let j = 0; j < N; j++) {
          const bound = (M + 2) * U * (absSum[j] + (beta === 0 ? 0 : Math.abs(beta * d0[j])));
          expect(Math.abs(got[j] - want[j])).toBeLessThanOrEqual(bound);
        }
      }
    }
  });
});

describe("sum_rows, summation order", () => {
  // Wide rows are added row by row into dst, narrow ones in column blocks down the rows:
  // either way each column is ((0 + r0) + r1) + ... in f32, bit for bit.
  it.each([[64, 1024], [9, 259], [40, 64], [3, 300]])("M=%i N=%i equals the in-order float32 sum exactly", (M, N) => {
    const rng = new Rng(M + N);
    const src = randArray(rng, M * N, -3, 3);
    const pd = mem.alloc(N, 0);
    k.sum_rows(pd, mem.put(src, 0), M, N, 0);
    const got = mem.get(pd, N);
    const f32 = Math.fround;
    for (let j = 0; j < N; j++) {
      let a = 0;
      for (let i = 0; i < M; i++) a = f32(a + f32(src[i * N + j]));
      expect(got[j]).toBe(a);
    }
  });

  // sum_rows_ld: a column range [j0, j0 + n) of a wider src (rows lds floats apart), as the threads' split by
  // columns takes it; ranges on both sides of the row-by-row path's N >= 256 give the same in-order sums.
  it.each([[64, 1024, 512, 512], [64, 1024, 16, 1008], [9, 300, 0, 48], [5, 259, 3, 256], [2048, 1024, 256, 512]])(
    "sum_rows_ld M=%i lds=%i, columns from %i, %i of them: the in-order float32 sums",
    (M, lds, j0, n) => {
      const rng = new Rng(M + lds + j0);
      const src = randArray(rng, M * lds, -3, 3);
      const pd = mem.alloc(n, 0);
      k.sum_rows_ld(pd, mem.put(src, 0) + 4 * j0, M, n, lds, 0);
      const got = mem.get(pd, n);
      const f32 = Math.fround;
      for (let j = 0; j < n; j++) {
        let a = 0;
        for (let i = 0; i < M; i++) a = f32(a + f32(src[i * lds + j0 + j]));
        expect(got[j]).toBe(a);
      }
    },
  );
});

describe("softmax_rows", () => {
  it.each(MN)("M=%i N=%i, out of place and in place", (M, N) => {
    const rng = new Rng(M * 100 + N + 2);
    for (let mis = 0; mis < 4; mis++) {
      const x = randArray(rng, M * N, -8, 8);
      const want = new Float64Array(M * N);
      ref.softmax_rows(want, x, M, N);
      const ps = mem.put(x, mis);
      const pd = mem.alloc(M * N, (mis + 2) % 4);
      k.softmax_rows(pd, ps, M, N);
      expect(maxRelErr(mem.get(pd, M * N), want).err).toBeLessThanOrEqual(SOFTMAX_TOL);
      k.softmax_rows(ps, ps, M, N);
      expect(mem.get(ps, M * N)).toEqual(mem.get(pd, M * N)); // in place: the same bits
    }
  });

  it("covers the exp range: logits spread over [-120, 0] in one row", () => {
    // exp(x - max) takes every exponent from 0 down past the f32 underflow
    // (-87.3 and below flush to 0; the reference's subnormals are < 1e-38).
    const N = 257;
    const x = Float32Array.from({ length: N }, (_, j) => -120 * (j / (N - 1)) ** 0.7);
    const want = new Float64Array(N);
    ref.softmax_rows(want, x, 1, N);
    const p = mem.put(x, 1);
    k.softmax_rows(p, p, 1, N);
    expect(maxRelErr(mem.get(p, N), want, 1e-30).err).toBeLessThanOrEqual(SOFTMAX_TOL);
  });

  it("stays finite and exact with huge logits (+-1e30) and -inf entries", () => {
    const N = 7;
    const rows = [
      [1e30, -1e30, 0, -Infinity, 1e30, 5, -Infinity], // two tied maxima at 1e30 share the mass
      [-1e30, -1e30 * 0.5, -Infinity, -3e38, -1e30, -Infinity, -2e30], // everything hugely negative
      [3e38, 0, 0, 0, 0, 0, 0], // near FLT_MAX: a naive exp overflows
      [-Infinity, -Infinity, 2, -Infinity, -Infinity, -Infinity, -Infinity], // one finite entry
    ];
    const x = Float32Array.from(rows.flat());
    const M = rows.length;
    const want = new Float64Array(M * N);
    ref.softmax_rows(want, x, M, N);
    const pd = mem.alloc(M * N, 3);
    k.softmax_rows(pd, mem.put(x, 2), M, N);
    const got = mem.get(pd, M * N);
    expect(got.every(Number.isFinite)).toBe(true);
    expect(maxRelErr(got, want).err).toBeLessThanOrEqual(SOFTMAX_TOL);
    expect(Array.from(got.subarray(0, N))).toEqual([0.5, 0, 0, 0, 0.5, 0, 0]);
    expect(Array.from(got.subarray(3 * N, 4 * N))).toEqual([0, 0, 1, 0, 0, 0, 0]);
  });

  it("gives NaN for an all -inf row or a NaN logit (as torch.softmax does), not a silent number", () => {
    const x = [-Infinity, -Infinity, -Infinity, -Infinity, -Infinity, 1, NaN, 2, 3, 4];
    const pd = mem.alloc(10, 0);
    k.softmax_rows(pd, mem.put(x, 1), 2, 5);
    expect(mem.get(pd, 10).every(Number.isNaN)).toBe(true);
  });
});

describe("softmax_xent", () => {
  const targetsFor = (rng: Rng, M: number, N: number) =>
    Array.from({ length: M }, (_, i) => (i % 3 === 2 ? -1 : rng.int(N))); // every third row is padding

  it.each(MN)("M=%i N=%i: loss, gradient, ignore mask, in place", (M, N) => {
    const rng = new Rng(M * 100 + N + 3);
    for (let mis = 0; mis < 4; mis++) {
      const x = randArray(rng, M * N, -6, 6);
      const t = targetsFor(rng, M, N);
      const valid = t.filter((v) => v >= 0).length;
      const scale = valid ? 1 / valid : 1;
      const want = new Float64Array(M * N);
      const wantLoss = ref.softmax_xent(x, t, M, N, want, scale);
      const pl = mem.put(x, mis);
      const pt = mem.putI32(t, (mis + 1) % 4);
      const pd = mem.alloc(M * N, (mis + 2) % 4); // NaN-filled: ignored rows must be written
      const loss = k.softmax_xent(pl, pt, M, N, pd, scale);
      expect(Math.abs(loss - wantLoss)).toBeLessThanOrEqual(XENT_TOL * valid + 1e-12 * Math.abs(wantLoss));
      const got = mem.get(pd, M * N);
      expect(maxRelErr(got, want, scale).err).toBeLessThanOrEqual(XENT_TOL);
      for (let i = 0; i < M; i++) {
        if (t[i] < 0) expect(got.subarray(i * N, (i + 1) * N).every((v) => v === 0)).toBe(true);
      }
      // dlogits == logits: the same loss and the same bits
      expect(k.softmax_xent(pl, pt, M, N, pl, scale)).toBe(loss);
      expect(mem.get(pl, M * N)).toEqual(got);
    }
  });

  it("all rows ignored: loss 0, gradient 0", () => {
    const pd = mem.alloc(12, 1);
    expect(k.softmax_xent(mem.put(randArray(new Rng(1), 12), 2), mem.putI32([-1, -5, -1]), 3, 4, pd, 1)).toBe(0);
    expect(Array.from(mem.get(pd, 12))).toEqual(new Array(12).fill(0));
  });

  it("huge logits (+-1e30, -inf) give the exact finite loss", () => {
    const N = 5;
    const x = [1e30, -1e30, 0, -Infinity, 3, /**/ 2, 1, -Infinity, 0, 1e30];
    const t = [1, 3];
    const pd = mem.alloc(10, 0);
    const loss = k.softmax_xent(mem.put(x, 3), mem.putI32(t), 2, N, pd, 1);
    // row 0: log-sum-exp = 1e30, loss = 1e30 - (-1e30); row 1: 1e30 - 0. In f32 logits 1e30 is 1.0000000150474662e30.
    const big = Math.fround(1e30);
    expect(loss).toBe(2 * big + big);
    const g = mem.get(pd, 10);
    expect(g.every(Number.isFinite)).toBe(true);
    expect(Array.from(g)).toEqual([1, -1, 0, 0, 0, 0, 0, 0, -1, 1]);
    // a target whose logit is -inf has infinite loss (as in torch), gradient still finite
    const pd2 = mem.alloc(5, 0);
    expect(k.softmax_xent(mem.put(x.slice(0, 5)), mem.putI32([3]), 1, N, pd2, 1)).toBe(Infinity);
    expect(Array.from(mem.get(pd2, 5))).toEqual([1, 0, 0, -1, 0]);
  });

  it("gradient matches central finite differences of its own loss", () => {
    // f(x) = scale * loss(x); h = 1/64 is exact in f32 steps around |x| < 2, the
    // central-difference truncation error h^2/6 |f'''| is < 1e-4 * scale, and
    // the loss's f32-exp noise (~1e-7 per row) over 2h adds < 1e-5.
    const rng = new Rng(42);
    const M = 3, N = 9, h = 1 / 64, scale = 0.5;
    const x = randArray(rng, M * N, -2, 2);
    const t = [4, -1, 8];
    const pt = mem.putI32(t);
    const pd = mem.alloc(M * N);
    k.softmax_xent(mem.put(x), pt, M, N, pd, scale);
    const grad = mem.get(pd, M * N);
    const scratch = mem.alloc(M * N);
    const lossAt = (xs: Float32Array) => scale * k.softmax_xent(mem.put(xs), pt, M, N, scratch, scale);
    for (let i = 0; i < M * N; i++) {
      const xp = x.slice(), xm = x.slice();
      xp[i] += h;
      xm[i] -= h;
      const fd = (lossAt(xp) - lossAt(xm)) / (xp[i] - xm[i]);
      expect(Math.abs(fd - grad[i]), `element ${i}`).toBeLessThanOrEqual(1e-4);
    }
  });
});

describe("mse", () => {
  it.each(NS)("n=%i: loss, gradient, aliasing", (n) => {
    const rng = new Rng(70 + n);
    for (let mis = 0; mis < 4; mis++) {
      const p = randArray(rng, n, -3, 3);
      const y = randArray(rng, n, -3, 3);
      const scale = n ? 1 / n : 1;
      const want = new Float64Array(n);
      const wantLoss = ref.mse(p, y, n, want, scale);
      const pp = mem.put(p, mis);
      const py = mem.put(y, (mis + 1) % 4);
      const pd = mem.alloc(n, (mis + 2) % 4);
      const loss = k.mse(pp, py, n, pd, scale);
      expect(Math.abs(loss - wantLoss)).toBeLessThanOrEqual(1e-12 * wantLoss);
      // 2*scale rounded, times (p - t) rounded, the product rounded: 3u relative,
      // relative to |2 scale (p - t)|; floor: its size for |p - t| ~ 1e-3
      expect(maxRelErr(mem.get(pd, n), want, 2e-3 * scale).err).toBeLessThanOrEqual(4 * U);
      // dpred == pred
      expect(k.mse(pp, py, n, pp, scale)).toBe(loss);
      expect(mem.get(pp, n)).toEqual(mem.get(pd, n));
    }
  });

  it("gradient matches central finite differences (exact for a quadratic)", () => {
    const rng = new Rng(43);
    const n = 11, h = 1 / 128, scale = 0.25;
    const p = randArray(rng, n), y = randArray(rng, n);
    const py = mem.put(y);
    const pd = mem.alloc(n);
    k.mse(mem.put(p), py, n, pd, scale);
    const grad = mem.get(pd, n);
    const scratch = mem.alloc(n);
    const lossAt = (ps: Float32Array) => scale * k.mse(mem.put(ps), py, n, scratch, scale);
    for (let i = 0; i < n; i++) {
      const a = p.slice(), b = p.slice();
      a[i] += h;
      b[i] -= h;
      // central differences are exact on a quadratic; what remains is f64
      // rounding of the sums (1e-16 / h) and the f32 rounding of grad (1e-7)
      const fd = (lossAt(a) - lossAt(b)) / (a[i] - b[i]);
      expect(Math.abs(fd - grad[i])).toBeLessThanOrEqual(4 * U * Math.abs(grad[i]) + 1e-12);
    }
  });
});
