// GEMM kernels (assembly/gemm.ts) against the float64 reference (src/reference/gemm.ts).
//
// Every variant, at the edges of the 4x8 tile (sizes below, at, above and
// multiples of 4 and 8) in each of M, N and K, with leading dimensions larger
// than the width, unaligned pointers, beta in {0, 1, 0.5} and special values.
//
// Tolerance. The kernels sum K products and beta*C in float32, each mul and add
// rounded (no FMA). For any order of summation the error is bounded by
// (Higham, "Accuracy and Stability of Numerical Algorithms", 3.1)
//   |got - exact| <= gamma_(K+1) * S,  S = |beta*C| + sum_k |a_ik| |b_kj|,
// gamma_n = n*u / (1 - n*u), u = 2^-24. We allow (K + 2) * u * S, which is
// >= gamma_(K+1) for every K here, and is measured against S, not |C|: plain
// relative error is meaningless where products cancel and C is near 0. The
// float64 reference's own error (~K * 2^-53 * S) is far below the slack.
// The bound is rigorous, so no fudge factor; it is also tight enough to see
// real bugs: a dropped or doubled product k moves an element by |a_ik b_kj|,
// about S/K, which is K^2/(K+2) * 2^24 times more than the tolerance (see the
// "tolerance catches" test).
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Kernels, Ptr } from "../src/runtime/abi.js";
import { gemmErrorScale, gemmRef, packBRef } from "../src/reference/gemm.js";
import { Mem, Rng, loadKernels, randArray } from "./helpers.js";

const U = 2 ** -24;

/** Tolerance in units of S for a sum of K products: see the header. */
const tolerance = (K: number): number => (Math.max(K, 0) + 2) * U;

type Variant = "nn" | "nt" | "tn" | "packed_nn" | "packed_nt" | "nn_ref";
const VARIANTS: Variant[] = ["nn", "nt", "tn", "packed_nn", "packed_nt", "nn_ref"];

/**
 * How each variant stores op(A) and op(B). packed_nn reads A [M, K]
 * (aRs = lda, aCs = 1); packed_nt reads A stored [K, M] (aRs = 1, aCs = lda),
 * so together with gemm_nt / gemm_tn every packing meets both A layouts.
 */
const LAYOUT: Record<Variant, { transA: boolean; transB: boolean }> = {
  nn: { transA: false, transB: false },
  nt: { transA: false, transB: true },
  tn: { transA: true, transB: false },
  packed_nn: { transA: false, transB: false },
  packed_nt: { transA: true, transB: true },
  nn_ref: { transA: false, transB: false },
};

interface Case {
  M: number;
  N: number;
  K: number;
  beta: number;
  /** Extra elements per row beyond the width, for A, B and C. */
  pad: [number, number, number];
  /** Misalignment in floats (0-3) of A, B, C and the packing scratch. */
  mis: [number, number, number, number];
}

interface Outcome {
  /** C as stored (ldc), after the call. */
  got: Float32Array;
  /** C before the call. */
  before: Float32Array;
  /** Reference result, dense [M, N]. */
  want: Float64Array;
  /** Error scale S, dense [M, N]. */
  scale: Float64Array;
  ldc: number;
  /** op(A), op(B) as stored, for re-running on other variants. */
  A: Float32Array;
  B: Float32Array;
  /** The scratch past its documented ceil(N/8)*8*K floats was left alone. */
  scratchKept: boolean;
}

/** Floats after the scratch that must stay untouched, and their value. */
const GUARD = 16;
const GUARD_VALUE = 7777;

let k: Kernels;
const mem = new Mem();

beforeAll(async () => {
  k = await loadKernels();
});
afterEach(() => mem.release());

/** A [rows, ld] matrix of random values in its first `width` columns and NaN in the padding. */
function matrix(rng: Rng, rows: number, width: number, ld: number, lo = -1, hi = 1): Float32Array {
  const m = new Float32Array(rows * ld).fill(NaN);
  for (let r = 0; r < rows; r++) m.set(randArray(rng, width, lo, hi), r * ld);
  return m;
}

/** Call variant v on A and B (in v's layout) and C0; returns the outcome, checked against the reference by `verify`. */
function run(v: Variant, c: Case, A: Float32Array, B: Float32Array, C0: Float32Array): Outcome {
  const { transA, transB } = LAYOUT[v];
  const { M, N, K, beta } = c;
  const lda = (transA ? M : K) + c.pad[0];
  const ldb = (transB ? K : N) + c.pad[1];
  const ldc = N + c.pad[2];
  const pA = mem.put(A, c.mis[0]);
  const pB = mem.put(B, c.mis[1]);
  const pC = mem.put(C0, c.mis[2]);
  const sLen = Math.ceil(N / 8) * 8 * Math.max(K, 0);
  // NaN in the scratch (what a kernel reads back it must have written), a guard after it.
  const pS: Ptr = mem.put(new Float32Array(sLen + GUARD).fill(NaN).fill(GUARD_VALUE, sLen), c.mis[3]);
  switch (v) {
    case "nn": k.gemm_nn(M, N, K, pA, lda, pB, ldb, pC, ldc, beta, pS); break;
    case "nt": k.gemm_nt(M, N, K, pA, lda, pB, ldb, pC, ldc, beta, pS); break;
    case "tn": k.gemm_tn(M, N, K, pA, lda, pB, ldb, pC, ldc, beta, pS); break;
    case "packed_nn":
      k.gemm_pack_b_nn(pB, ldb, K, N, pS);
      k.gemm_packed_f32x4_4x8(M, N, K, pA, lda, 1, pS, pC, ldc, beta);
      break;
    case "packed_nt":
      k.gemm_pack_b_nt(pB, ldb, K, N, pS);
      k.gemm_packed_f32x4_4x8(M, N, K, pA, 1, lda, pS, pC, ldc, beta);
      break;
    case "nn_ref": k.gemm_nn_ref(M, N, K, pA, lda, pB, ldb, pC, ldc, beta); break;
  }
  const got = mem.get(pC, C0.length);
  const scratchKept = mem.get(pS + sLen * 4, GUARD).every((x) => x === GUARD_VALUE);
  const want = new Float64Array(Math.max(0, M * N));
  for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) want[i * N + j] = C0[i * ldc + j];
  gemmRef(transA, transB, M, N, K, A, lda, B, ldb, want, N, beta);
  const scale = gemmErrorScale(transA, transB, M, N, K, A, lda, B, ldb, C0, ldc, beta);
  mem.release();
  return { got, before: C0, want, scale, ldc, A, B, scratchKept };
}

/** Random inputs for variant v and case c; C0 is NaN when beta = 0 (it must not be read), and 777 in the padding and the guard after it. */
function inputs(rng: Rng, v: Variant, c: Case): { A: Float32Array; B: Float32Array; C0: Float32Array } {
  const { transA, transB } = LAYOUT[v];
  const { M, N, K } = c;
  const A = transA ? matrix(rng, K, M, M + c.pad[0]) : matrix(rng, M, K, K + c.pad[0]);
  const B = transB ? matrix(rng, N, K, K + c.pad[1]) : matrix(rng, K, N, N + c.pad[1]);
  const ldc = N + c.pad[2];
  const C0 = new Float32Array(M * ldc + 8).fill(777);
  for (let i = 0; i < M; i++) {
    const row = c.beta === 0 ? new Float32Array(N).fill(NaN) : randArray(rng, N);
    C0.set(row, i * ldc);
  }
  return { A, B, C0 };
}

/**
 * The worst element of an outcome against the reference, in units of the
 * tolerance: NaN where the reference is NaN, the same infinity where it is
 * infinite, else |got - want| / (tol * S). Above 1 fails.
 */
function worstError(o: Outcome, c: Case, tol = tolerance(c.K)): { worst: number; where: string } {
  const { M, N } = c;
  const { got, want, scale, ldc } = o;
  let worst = 0;
  let where = "";
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      const g = got[i * ldc + j];
      const w = want[i * N + j];
      const s = scale[i * N + j];
      let bad: number;
      if (Number.isNaN(w)) bad = Number.isNaN(g) ? 0 : Infinity;
      else if (!Number.isFinite(w)) bad = g === w ? 0 : Infinity;
      else if (!Number.isFinite(g)) bad = Infinity;
      else {
        const d = Math.abs(g - w);
        bad = d === 0 ? 0 : d / (tol * s); // s = 0 and d > 0 gives Infinity
      }
      if (bad > worst) {
        worst = bad;
        where = `C[${i},${j}] = ${g}, want ${w} (S = ${s}, err/tol = ${bad.toPrecision(3)})`;
      }
    }
  }
  return { worst, where };
}

/**
 * Compare an outcome with the reference (see {@link worstError}) and check
 * that every element of C outside the [M, N] block (row padding, the guard
 * after it) is untouched. Returns "" when it passes, else what is wrong.
 */
function verify(o: Outcome, c: Case, tol = tolerance(c.K)): string {
  if (!o.scratchKept) return "wrote past the scratch (ceil(N/8)*8*K floats)";
  const { worst, where } = worstError(o, c, tol);
  if (worst > 1) return where;
  const { M, N } = c;
  const { got, before, ldc } = o;
  for (let p = 0; p < got.length; p++) {
    const inside = p < M * ldc && p % ldc < N;
    if (!inside && !Object.is(got[p], before[p])) return `wrote outside C at element ${p} (row ${Math.floor(p / ldc)}, col ${p % ldc}): ${got[p]}`;
  }
  return "";
}

const label = (v: Variant, c: Case) =>
  `${v} M=${c.M} N=${c.N} K=${c.K} beta=${c.beta} pad=${c.pad.join(",")} mis=${c.mis.join(",")}`;

/** Run variant v on case c with fresh random inputs; "" or a failure message. */
function check(rng: Rng, v: Variant, c: Case): string {
  const { A, B, C0 } = inputs(rng, v, c);
  const e = verify(run(v, c, A, B, C0), c);
  return e && `${label(v, c)}: ${e}`;
}

/**
 * Run variant v on case c, then the same op(A), op(B) (dense and
 * untransposed) through gemm_nn_ref: "" when the results agree bit for bit
 * and v also passes {@link verify}, else what is wrong.
 */
function sameBitsAsRef(rng: Rng, v: Variant, c: Case): string {
  const { M, N, K } = c;
  const { A, B, C0 } = inputs(rng, v, c);
  const o = run(v, c, A, B, C0);
  const e = verify(o, c);
  if (e) return `${label(v, c)}: ${e}`;
  const { transA, transB } = LAYOUT[v];
  const lda = (transA ? M : K) + c.pad[0];
  const ldb = (transB ? K : N) + c.pad[1];
  const a = new Float32Array(M * K), b = new Float32Array(K * N);
  for (let i = 0; i < M; i++) for (let kk = 0; kk < K; kk++) a[i * K + kk] = transA ? A[kk * lda + i] : A[i * lda + kk];
  for (let kk = 0; kk < K; kk++) for (let j = 0; j < N; j++) b[kk * N + j] = transB ? B[j * ldb + kk] : B[kk * ldb + j];
  const r = run("nn_ref", { ...c, pad: [0, 0, c.pad[2]] }, a, b, C0);
  return o.got.every((x, i) => Object.is(x, r.got[i])) ? "" : `${label(v, c)}: not bit-identical to gemm_nn_ref`;
}

const BETAS = [0, 1, 0.5];
const PADS = [0, 1, 3, 8];

/** Case number n of a sweep: beta, padding and misalignment rotate with n. */
function caseAt(M: number, N: number, K: number, n: number): Case {
  return {
    M, N, K,
    beta: BETAS[n % 3],
    pad: [PADS[n % 4], PADS[(n >> 2) % 4], PADS[(n + 1) % 4]],
    mis: [n % 4, (n >> 1) % 4, (n >> 2) % 4, (n + 3) % 4],
  };
}

// Every residue of M, K mod 4 and N mod 8: below, at and above the 4x8 tile,
// the 2x16 and 1x8 remainder tiles, and the 4-wide k steps of pack_b_nt.
const SMALL = [1, 2, 3, 4, 5, 6, 7, 8, 9, 17, 33];

describe("gemm", () => {
  it("every variant at every M, N, K in {1,2,3,4,5,6,7,8,9,17,33}", () => {
    const rng = new Rng(1);
    const fails: string[] = [];
    let n = 0;
    for (const M of SMALL) for (const N of SMALL) for (const K of SMALL) {
      VARIANTS.forEach((v, vi) => {
        const e = check(rng, v, caseAt(M, N, K, n + 5 * vi));
        if (e) fails.push(e);
      });
      n++;
    }
    expect(fails.slice(0, 10).join("\n")).toBe("");
  });

  it("every variant with 64 or 257 in one dimension", () => {
    const rng = new Rng(2);
    const others = [1, 2, 6, 8, 9, 33];
    const fails: string[] = [];
    let n = 0;
    for (const big of [64, 257]) for (const dim of [0, 1, 2]) for (const x of others) for (const y of others) {
      const d = dim === 0 ? [big, x, y] : dim === 1 ? [x, big, y] : [x, y, big];
      VARIANTS.forEach((v, vi) => {
        const e = check(rng, v, caseAt(d[0], d[1], d[2], n + vi));
        if (e) fails.push(e);
      });
      n++;
    }
    expect(fails.slice(0, 10).join("\n")).toBe("");
  });

  it("every variant at large sizes in all dimensions", () => {
    const rng = new Rng(3);
    const fails: string[] = [];
    const shapes = [[64, 64, 64], [257, 64, 257], [64, 257, 257], [257, 257, 64]];
    shapes.forEach(([M, N, K], n) => {
      VARIANTS.forEach((v, vi) => {
        const e = check(rng, v, caseAt(M, N, K, n + vi));
        if (e) fails.push(e);
      });
    });
    // One cube per packing, with padding, misalignment and beta = 0.5.
    for (const v of ["nt", "tn"] as Variant[]) {
      const e = check(rng, v, { M: 257, N: 257, K: 257, beta: 0.5, pad: [3, 1, 5], mis: [1, 2, 3, 1] });
      if (e) fails.push(e);
    }
    expect(fails.join("\n")).toBe("");
  });

  it("beta = 0 never reads C: NaN in C does not reach the result", () => {
    const rng = new Rng(4);
    const fails: string[] = [];
    for (const v of VARIANTS) {
      for (const [M, N, K] of [[1, 1, 1], [4, 8, 5], [7, 13, 9], [33, 17, 3]]) {
        const c: Case = { M, N, K, beta: 0, pad: [0, 0, 2], mis: [0, 0, 1, 0] };
        const { A, B, C0 } = inputs(rng, v, c); // C0 is NaN inside [M, N]
        const o = run(v, c, A, B, C0);
        for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
          if (Number.isNaN(o.got[i * o.ldc + j])) fails.push(`${label(v, c)}: NaN at C[${i},${j}]`);
        }
        const e = verify(o, c);
        if (e) fails.push(`${label(v, c)}: ${e}`);
      }
    }
    expect(fails.slice(0, 10).join("\n")).toBe("");
  });

  it("K = 0 gives C = beta*C; M = 0 or N = 0 touches nothing", () => {
    const rng = new Rng(5);
    const fails: string[] = [];
    for (const v of VARIANTS) {
      for (const [M, N, K] of [[5, 9, 0], [4, 8, 0], [0, 9, 5], [5, 0, 5], [0, 0, 0]]) {
        for (const beta of BETAS) {
          const c: Case = { M, N, K, beta, pad: [1, 1, 1], mis: [0, 1, 2, 3] };
          const { A, B, C0 } = inputs(rng, v, c);
          const e = verify(run(v, c, A, B, C0), c); // K = 0: tolerance 2u * |beta*C|
          if (e) fails.push(`${label(v, c)}: ${e}`);
        }
      }
    }
    expect(fails.join("\n")).toBe("");
  });

  it("NaN and infinities propagate like the reference", () => {
    const rng = new Rng(6);
    const fails: string[] = [];
    const specials = [NaN, Infinity, -Infinity, 0, -0];
    for (const v of VARIANTS) {
      for (const [M, N, K] of [[9, 17, 33], [5, 8, 4], [1, 3, 7], [4, 12, 2]]) {
        for (const beta of BETAS) {
          const c: Case = { M, N, K, beta, pad: [2, 0, 1], mis: [3, 2, 1, 0] };
          const { A, B, C0 } = inputs(rng, v, c);
          const { transA, transB } = LAYOUT[v];
          const lda = (transA ? M : K) + c.pad[0];
          const ldb = (transB ? K : N) + c.pad[1];
          // A few special values in A, B and C; zeros in B make inf * 0 = NaN.
          for (let t = 0; t < 3; t++) {
            const i = rng.nextU32() % M, kk = rng.nextU32() % K, j = rng.nextU32() % N;
            A[transA ? kk * lda + i : i * lda + kk] = specials[rng.nextU32() % 5];
            B[transB ? j * ldb + kk : kk * ldb + j] = specials[rng.nextU32() % 5];
            if (beta !== 0) C0[(rng.nextU32() % M) * (N + c.pad[2]) + (rng.nextU32() % N)] = specials[t];
          }
          const e = verify(run(v, c, A, B, C0), c);
          if (e) fails.push(`${label(v, c)}: ${e}`);
        }
      }
    }
    expect(fails.join("\n")).toBe("");
  });

  it("pack_b_nn and pack_b_nt write the panel layout exactly, zero-padded, nothing beyond", () => {
    const rng = new Rng(7);
    const fails: string[] = [];
    for (const transB of [false, true]) {
      for (const K of [1, 2, 3, 4, 5, 9, 33]) for (const N of [1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 17, 33]) {
        const ldb = (transB ? K : N) + 3;
        const B = matrix(rng, transB ? N : K, transB ? K : N, ldb);
        const len = Math.ceil(N / 8) * 8 * K;
        const pB = mem.put(B, 1);
        const pS = mem.alloc(len + 8, 2); // NaN-filled: padding must be written as 0
        if (transB) k.gemm_pack_b_nt(pB, ldb, K, N, pS);
        else k.gemm_pack_b_nn(pB, ldb, K, N, pS);
        const got = mem.get(pS, len + 8);
        const want = new Float32Array(len + 8).fill(NaN);
        packBRef(transB, B, ldb, K, N, want);
        if (!got.every((x, i) => Object.is(x, want[i]))) fails.push(`${transB ? "nt" : "nn"} K=${K} N=${N}`);
        mem.release();
      }
    }
    expect(fails.join("\n")).toBe("");
  });

  it("SIMD variants are bit-identical to gemm_nn_ref (same k order, no FMA)", () => {
    // A design property, see assembly/gemm.ts: rows do not depend on M or on
    // the tile they fall in. An FMA (relaxed SIMD) kernel would relax this to
    // the tolerance.
    const rng = new Rng(8);
    const fails: string[] = [];
    let n = 0;
    // K = 600: three k blocks of the strided-A path (packed_nt) and of tn's packed A.
    for (const [M, N, K] of [[1, 33, 17], [2, 40, 9], [3, 17, 64], [6, 24, 5], [13, 9, 33], [32, 64, 40], [7, 20, 600]]) {
      for (const v of VARIANTS) {
        if (v === "nn_ref") continue;
        const e = sameBitsAsRef(rng, v, caseAt(M, N, K, n++));
        if (e) fails.push(e);
      }
    }
    expect(fails.join("\n")).toBe("");
  });

  it("gemm_tn with A packed (K >= 32): edges of tiles, row blocks, panels and k blocks, bit-identical to gemm_nn_ref", () => {
    // gemm_tn packs A^T from K = 32 on (assembly/gemm.ts): k blocks of
    // min(256, K/2) steps, row blocks of min(8*ceil(N/8), 128) rows in 4-row
    // panels, M mod 4 rows on A in place. Sizes below, at and above each edge;
    // run() also checks that nothing past ceil(N/8)*8*K floats of scratch is written.
    const rng = new Rng(10);
    const fails: string[] = [];
    const shapes: number[][] = [];
    // Rows and panels: row blocks of 8 (N <= 8), 16, 24 and 72 rows, remainders 1..3.
    for (const M of [1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 24, 25, 74, 75]) for (const N of [1, 7, 8, 9, 16, 17, 24, 65]) shapes.push([M, N, 40]);
    // Row blocks of 128 rows (N > 120), partial last block, remainder rows.
    for (const M of [127, 128, 129, 131, 256, 259]) for (const N of [121, 136]) shapes.push([M, N, 34]);
    // k: in place below 32; K/2-step blocks (one short) below 512; 256-step blocks, a short last one, above.
    for (const K of [31, 32, 33, 34, 35, 63, 64, 65, 127, 255, 257, 511, 512, 513, 515, 1029]) for (const [M, N] of [[9, 12], [20, 8], [6, 33]]) shapes.push([M, N, K]);
    shapes.push([130, 72, 2051]);
    shapes.forEach(([M, N, K], n) => {
      const e = sameBitsAsRef(rng, "tn", caseAt(M, N, K, n));
      if (e) fails.push(e);
    });
    expect(shapes.length).toBe(15 * 8 + 6 * 2 + 16 * 3 + 1);
    expect(fails.slice(0, 10).join("\n")).toBe("");
  });

  it("the tolerance catches a one-element error, a dropped product and a wrong beta", () => {
    const rng = new Rng(9);
    const c: Case = { M: 9, N: 17, K: 257, beta: 0.5, pad: [0, 0, 0], mis: [0, 0, 0, 0] };
    const { A, B, C0 } = inputs(rng, "nt", c);
    const o = run("nt", c, A, B, C0);
    expect(verify(o, c)).toBe("");
    // The real rounding error is a small but nonzero fraction of the bound
    // (errors grow like sqrt(K), the bound like K).
    const { worst } = worstError(o, c);
    expect(worst).toBeGreaterThan(0.001);
    expect(worst).toBeLessThan(0.5);
    const tol = tolerance(c.K);
    // (a) One element off by twice the tolerance.
    const at = 5 * c.N + 11;
    const bumped = { ...o, got: o.got.slice() };
    bumped.got[at] += 2 * tol * o.scale[at];
    expect(verify(bumped, c)).toMatch(/C\[5,11\]/);
    // (b) One product dropped in one element (an off-by-one in k).
    const last = c.K - 1;
    const dropped = { ...o, got: o.got.slice() };
    dropped.got[at] -= A[5 * c.K + last] * B[11 * c.K + last];
    expect(verify(dropped, c)).toMatch(/C\[5,11\]/);
    // (c) beta = 1 applied where 0.5 was asked.
    const wrongBeta = { ...o, got: o.got.slice() };
    for (let i = 0; i < c.M * c.N; i++) wrongBeta.got[i] += 0.5 * C0[i];
    expect(verify(wrongBeta, c)).not.toBe("");
    // (d) A write past the last valid column of a row.
    const spill = { ...o, got: o.got.slice() };
    spill.got[spill.got.length - 1] = 0;
    expect(verify(spill, c)).toMatch(/wrote outside C/);
  });
});
