// The int8 kernels of assembly/quant.ts against their scalar twins in
// src/reference/quant.ts.
//
// Tolerances.
// - quantize_act_q8 and gemv_q8 / dense_b1_q8's products: integer sums are
//   exact and every f32 rounding is reproduced by the twin, so bit-exact
//   (Object.is per element, so NaN and -0 count), at every tile edge.
// - cell_step_b1_q8 vs the twin: the same gate values (bit-exact), then the
//   SIMD cell against the float64 one: |y - r| / max(|r|, 1) <= 2e-6, as in
//   test/cells.test.ts.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Kernels, Ptr } from "../src/runtime/abi.js";
import { heap } from "../src/runtime/wasm.js";
import * as ref from "../src/reference/quant.js";
import { loadKernels, maxRelErr, Mem, randArray, Rng } from "./helpers.js";

let k: Kernels;
const mem = new Mem();
beforeAll(async () => {
  k = await loadKernels();
});
afterAll(() => mem.release());

/** Copy int8 values to fresh memory at byte offset `misalign` past 16-byte alignment. */
function putI8(data: Int8Array, misalign = 0): Ptr {
  const p = mem.alloc(Math.ceil((data.length + misalign) / 4) + 1, 0, 0) + misalign;
  new Int8Array(k.memory.buffer, p, data.length).set(data);
  return p;
}
function putI16(data: Int16Array): Ptr {
  const p = mem.alloc(Math.ceil(data.length / 2) + 1, 0, 0);
  new Int16Array(k.memory.buffer, p, data.length).set(data);
  return p;
}
const getI16 = (p: Ptr, n: number): Int16Array => new Int16Array(k.memory.buffer, p, n).slice();

function randI8(rng: Rng, n: number): Int8Array {
  const a = new Int8Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.int(255) - 127; // -127..127
  return a;
}

/** Row sums of W [N, K] over its first K & ~15 columns, in WASM memory (the relaxed kernel's wsum). */
function sums(W: Int8Array, N: number, K: number): Ptr {
  const out = new Int32Array(N);
  for (let j = 0; j < N; j++) for (let i = 0; i < (K & ~15); i++) out[j] += W[j * K + i];
  return mem.putI32(out);
}

function sameBits(a: ArrayLike<number>, b: ArrayLike<number>): number {
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i]) && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return i;
  return -1;
}

// Tile edges: 8 columns per step, 4 rows per block.
const KS = [1, 3, 7, 8, 9, 15, 16, 17, 24, 63, 64, 65, 100, 257, 512];
const NS = [1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 20, 21, 23, 37]; // >= 20: the plain gemv_q8 prefetches 4 groups ahead

describe("quantize_act_q8", () => {
  it("matches the twin bit for bit at every tile edge, on random data", () => {
    const rng = new Rng(1);
    for (const K of KS) {
      for (const mis of [0, 1, 3]) {
        const x = randArray(rng, K, -3, 3);
        const xp = mem.put(x, mis);
        const K8 = (K + 7) & ~7;
        const qp = mem.alloc(K8, 0, NaN);
        const s = k.quantize_act_q8(xp, K, qp);
        const want = new Int16Array(K8);
        const sr = ref.quantize_act_q8_ref(x, K, want);
        expect(s).toBe(sr);
        expect(sameBits(getI16(qp, K8), want), `K ${K}`).toBe(-1);
        // It is a quantizer: |x - q s| <= s / 2, the largest |x| maps to ±63.
        const q = getI16(qp, K8);
        let top = 0;
        for (let i = 0; i < K; i++) {
          expect(Math.abs(x[i] - q[i] * s)).toBeLessThanOrEqual(s * 0.5 * (1 + 1e-6));
          top = Math.max(top, Math.abs(q[i]));
        }
        expect(top).toBe(63);
      }
    }
  });

  it("special values: zeros, -0, subnormals, huge, ties, NaN and infinity", () => {
    const cases: [string, number[]][] = [
      ["all zero", [0, 0, 0, 0, 0, 0, 0, 0, 0]],
      ["-0", [-0, 0, -0, -0, 0]],
      ["subnormal", [1e-40, -3e-41, 0, 1.4e-45, 2e-39, 5e-40, 1e-41, -1e-40, 7e-41]],
      ["below 127 ulp", [1.4e-45, -2.8e-45, 0]],
      ["huge", [3.4e38, -3.4e38, 1e38, 1, -1, 0, 2e38, -5e37, 1e30]],
      ["ties", [127, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.5, 126.5]],
      ["one nonzero", [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.25]],
      ["NaN", [1, NaN, -2, 0.5, 0, 0, 0, 0, 3]],
      ["+inf", [1, Infinity, -2, 0.5, 0, 0, 0, 0, 3]],
      ["-inf", [1, 2, -Infinity, 0.5, 0, 0, 0, 0, 3]],
    ];
    for (const [name, vals] of cases) {
      const x = Float32Array.from(vals);
      const K = x.length;
      const K8 = (K + 7) & ~7;
      const qp = mem.alloc(K8, 0, NaN);
      const s = k.quantize_act_q8(mem.put(x), K, qp);
      const want = new Int16Array(K8);
      const sr = ref.quantize_act_q8_ref(x, K, want);
      expect(Object.is(s, sr) || (Number.isNaN(s) && Number.isNaN(sr)), name).toBe(true);
      expect(sameBits(getI16(qp, K8), want), name).toBe(-1);
    }
  });
});

describe("gemv_q8", () => {
  it("matches the twin bit for bit: every (N, K) tile edge, beta 0 and 1, unaligned rows", () => {
    const rng = new Rng(2);
    for (const N of NS) {
      for (const K of KS) {
        for (const beta of [0, 1, 0.5]) {
          const W = randI8(rng, N * K);
          const sw = randArray(rng, N, 1e-4, 2e-2);
          const xq = new Int16Array((K + 7) & ~7);
          for (let i = 0; i < K; i++) xq[i] = rng.int(127) - 63;
          const sx = 0.013;
          const y0 = randArray(rng, N);
          const yp = mem.put(y0);
          k.gemv_q8(N, K, putI8(W, (N + K) % 5), mem.put(sw), sums(W, N, K), putI16(xq), sx, yp, beta);
          const want = Float32Array.from(y0);
          ref.gemv_q8_ref(N, K, W, sw, xq, sx, want, beta);
          expect(sameBits(mem.get(yp, N), want), `N ${N} K ${K} beta ${beta}`).toBe(-1);
        }
      }
    }
  });

  it("beta 0 never reads y (NaN there stays out); extreme int8 values do not overflow", () => {
    const N = 5, K = 520;
    const W = new Int8Array(N * K).fill(-128); // the int8 minimum, beyond what quantize writes
    const xq = new Int16Array(K).fill(-63);
    const sw = new Float32Array(N).fill(1);
    const yp = mem.alloc(N, 0, NaN);
    k.gemv_q8(N, K, putI8(W), mem.put(sw), sums(W, N, K), putI16(xq), 1, yp, 0);
    const want = new Float32Array(N);
    ref.gemv_q8_ref(N, K, W, sw, xq, 1, want, 0);
    expect(Array.from(mem.get(yp, N))).toEqual(Array.from(want));
    expect(want[0]).toBe(128 * 63 * K);
  });

  it("approximates the f32 product within the quantization error", () => {
    const rng = new Rng(3);
    const N = 37, K = 129;
    const w = randArray(rng, N * K, -0.3, 0.3);
    const x = randArray(rng, K, -1, 1);
    const W = new Int8Array(N * K);
    const sw = new Float32Array(N);
    for (let j = 0; j < N; j++) {
      let m = 0;
      for (let i = 0; i < K; i++) m = Math.max(m, Math.abs(w[j * K + i]));
      sw[j] = m / 127;
      for (let i = 0; i < K; i++) W[j * K + i] = Math.round(w[j * K + i] / sw[j]);
    }
    const qp = mem.alloc(K + 8, 0, 0);
    const sx = k.quantize_act_q8(mem.put(x), K, qp);
    const yp = mem.alloc(N);
    k.gemv_q8(N, K, putI8(W), mem.put(sw), sums(W, N, K), qp, sx, yp, 0);
    const y = mem.get(yp, N);
    for (let j = 0; j < N; j++) {
      let exact = 0, bound = 0;
      for (let i = 0; i < K; i++) {
        exact += w[j * K + i] * x[i];
        // |w x - wq xq| <= |w| ex + |x| ew + ew ex, ew = sw/2, ex = sx/2
        bound += Math.abs(w[j * K + i]) * sx / 2 + Math.abs(x[i]) * sw[j] / 2 + sw[j] * sx / 4;
      }
      expect(Math.abs(y[j] - exact)).toBeLessThanOrEqual(bound * 1.001 + 1e-6);
    }
  });
});

describe("cell_step_b1_q8 and dense_b1_q8", () => {
  const kinds: [string, number, number, number][] = [["rnn tanh", 0, 1, 0], ["rnn relu", 1, 1, 0], ["lstm", 2, 4, 0], ["gru", 3, 3, 0], ["lstm, hard-sigmoid gates", 2, 4, 1], ["gru, hard-sigmoid gates", 3, 3, 1]];
  for (const [name, kind, G, flags] of kinds) {
    it(`${name}: the twin within the cells' tolerance at odd and tile-edge sizes`, () => {
      const rng = new Rng(10 + kind);
      for (const [I, H] of [[1, 1], [3, 5], [8, 4], [9, 7], [16, 17], [33, 64], [64, 129]]) {
        const wIh = randI8(rng, G * H * I);
        const wHh = randI8(rng, G * H * H);
        const sIh = randArray(rng, G * H, 1e-3, 1e-2);
        const sHh = randArray(rng, G * H, 1e-3, 1e-2);
        const bIh = randArray(rng, G * H, -0.5, 0.5);
        const bHh = randArray(rng, G * H, -0.5, 0.5);
        const x = randArray(rng, I);
        const h0 = randArray(rng, H, -0.9, 0.9);
        const c0 = randArray(rng, H, -2, 2);
        const hp = mem.put(h0);
        const cp = mem.put(c0);
        const scratch = mem.alloc(10 * H);
        const qs = mem.alloc((((I + 7) & ~7) + ((H + 7) & ~7)) / 2 + 4, 0, NaN);
        k.cell_step_b1_q8(kind, mem.put(x, 1), I, hp, cp, putI8(wIh, 3), mem.put(sIh), sums(wIh, G * H, I), putI8(wHh, 1), mem.put(sHh), sums(wHh, G * H, H), mem.put(bIh), mem.put(bHh), scratch, qs, H, flags);
        const h = Float64Array.from(h0);
        const c = Float64Array.from(c0);
        ref.cell_step_b1_q8_ref(kind, x, I, h, c, wIh, sIh, wHh, sHh, bIh, bHh, H, flags);
        expect(maxRelErr(mem.get(hp, H), h, 1).err, `h I ${I} H ${H}`).toBeLessThanOrEqual(2e-6);
        if (kind === 2) expect(maxRelErr(mem.get(cp, H), c, 1).err, `c I ${I} H ${H}`).toBeLessThanOrEqual(2e-6);
      }
    });
  }

  it("dense_b1_q8: bias plus the int8 product, bit for bit", () => {
    const rng = new Rng(20);
    for (const [K, N] of [[1, 1], [7, 3], [8, 4], [9, 5], [64, 96], [129, 13]]) {
      const W = randI8(rng, N * K);
      const sw = randArray(rng, N, 1e-3, 1e-2);
      const b = randArray(rng, N);
      const x = randArray(rng, K, -2, 2);
      const yp = mem.alloc(N);
      k.dense_b1_q8(mem.put(x), K, putI8(W), mem.put(sw), sums(W, N, K), mem.put(b), yp, N, mem.alloc(K + 8));
      const want = new Float32Array(N);
      ref.dense_b1_q8_ref(x, K, W, sw, b, want, N);
      expect(sameBits(mem.get(yp, N), want), `K ${K} N ${N}`).toBe(-1);
    }
  });
});

// Keep a reference to heap so a grown memory is noticed by Mem's views.
void heap;

describe("the int8 kernels in every build", () => {
  // Integer dot products (plain: i16 lanes; relaxed: the i7 operand q + 64 and the row sums) and the same f32 ops:
  // the relaxed build must give the plain build's bits. It runs where the runtime has relaxed SIMD
  // (npm test on Node 24; Node 20 has it off by default).
  const bytes = (f: string) => new Uint8Array(readFileSync(new URL(`../build/${f}`, import.meta.url)));
  const relaxedOk = WebAssembly.validate(bytes("unfold-relaxed.wasm"));
  it.runIf(relaxedOk)("relaxed build: gemv_q8 and dense_b1_q8 bit-identical to the plain build at tile edges; the LSTM / GRU steps within the cells' FMA rounding", async () => {
    const run = async (f: string) => {
      const { instance } = await WebAssembly.instantiate(bytes(f), { env: { abort() {}, seed: () => 1 } });
      const e = instance.exports as unknown as Kernels & { memory: WebAssembly.Memory };
      e.memory.grow(64);
      const rng = new Rng(30);
      const out: number[] = [];
      const cells: number[] = [];
      let at = 1 << 16;
      const take = (n: number) => ((at += n + 16 - ((n + 16) % 16)), at - (n + 16 - ((n + 16) % 16)));
      const f32 = () => new Float32Array(e.memory.buffer);
      const putF = (a: ArrayLike<number>) => { const p = take(a.length * 4); f32().set(a, p / 4); return p; };
      const putB = (a: Int8Array) => { const p = take(a.length) + 1; new Int8Array(e.memory.buffer).set(a, p); return p; };
      const putS = (a: Int32Array) => { const p = take(a.length * 4); new Int32Array(e.memory.buffer).set(a, p / 4); return p; };
      const rs = (W: Int8Array, N: number, K: number) => { const o = new Int32Array(N); for (let j = 0; j < N; j++) for (let i = 0; i < (K & ~15); i++) o[j] += W[j * K + i]; return o; };
      for (const [N, K] of [[1, 1], [5, 15], [4, 16], [7, 17], [37, 301], [8, 512]]) {
        const W = Int8Array.from({ length: N * K }, () => rng.int(256) - 128);
        const x = Float32Array.from({ length: K }, () => rng.uniform(-2, 2));
        const xq = take(2 * ((K + 7) & ~7));
        const y = take(4 * N);
        const s = e.quantize_act_q8(putF(x), K, xq);
        e.gemv_q8(N, K, putB(W), putF(Float32Array.from({ length: N }, () => rng.uniform(1e-3, 1e-2))), putS(rs(W, N, K)), xq, s, y, 0);
        out.push(...f32().subarray(y / 4, y / 4 + N));
        const b = putF(Float32Array.from({ length: N }, () => rng.uniform(-1, 1)));
        e.dense_b1_q8(putF(x), K, putB(W), putF(new Float32Array(N).fill(0.01)), putS(rs(W, N, K)), b, y, N, take(2 * K + 32));
        out.push(...f32().subarray(y / 4, y / 4 + N));
      }
      for (const [kind, G] of [[2, 4], [3, 3]]) {
        for (const [I, H] of [[9, 7], [24, 33]]) {
          const wIh = Int8Array.from({ length: G * H * I }, () => rng.int(255) - 127);
          const wHh = Int8Array.from({ length: G * H * H }, () => rng.int(255) - 127);
          const h = putF(Float32Array.from({ length: H }, () => rng.uniform(-0.9, 0.9)));
          const c = putF(Float32Array.from({ length: H }, () => rng.uniform(-1, 1)));
          const sc = () => putF(Float32Array.from({ length: G * H }, () => rng.uniform(1e-3, 1e-2)));
          const bias = () => putF(Float32Array.from({ length: G * H }, () => rng.uniform(-0.5, 0.5)));
          e.cell_step_b1_q8(kind, putF(Float32Array.from({ length: I }, () => rng.uniform(-1, 1))), I, h, c, putB(wIh), sc(), putS(rs(wIh, G * H, I)), putB(wHh), sc(), putS(rs(wHh, G * H, H)), bias(), bias(), take(40 * H), take(2 * (I + H) + 64), H, 0);
          cells.push(...f32().subarray(h / 4, h / 4 + H), ...f32().subarray(c / 4, c / 4 + H));
        }
      }
      return { out, cells };
    };
    const a = await run("unfold.wasm");
    const b = await run("unfold-relaxed.wasm");
    expect(a.out.every(Number.isFinite)).toBe(true);
    expect(b.out).toEqual(a.out); // the int8 products: the same integers, the same f32 ops
    // The cells' gate polynomials use relaxed_madd (fused in this build): rounding differences only (test/relaxed.test.ts's 1e-5 is the layer budget).
    expect(maxRelErr(b.cells, a.cells, 1).err).toBeLessThanOrEqual(2e-6);
  });
});
