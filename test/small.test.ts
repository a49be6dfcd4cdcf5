// assembly/small.ts, the batch-1 LSTM training path: gemv_b1 and b1_pack_t
// against a scalar float32 twin in the GEMM tiles' k order (bit-exact in the
// plain build), against gemm_packed_f32x4_4x8 itself, and a whole LSTM
// forward + backward at B = 1 through the fast path bit-identical to the
// per-step loop it replaces (Recurrent.b1Path forced off).
import { beforeAll, describe, expect, it } from "vitest";
import type { Kernels } from "../src/runtime/abi.js";
import { heap } from "../src/runtime/wasm.js";
import { LSTM } from "../src/layers/recurrent.js";
import { Sequential } from "../src/model/sequential.js";
import { loadKernels, Mem, Rng } from "./helpers.js";

let k: Kernels;
beforeAll(async () => {
  k = await loadKernels();
});

/** y[j] = beta*y[j] + sum_k x[k] W(k, j), float32, k in order (the GEMM tiles' order, plain build). */
function gemvTwin(N: number, K: number, x: Float32Array, w: (k: number, j: number) => number, y: Float32Array, beta: number): Float32Array {
  const out = new Float32Array(N);
  for (let j = 0; j < N; j++) {
    let s = beta ? y[j] : 0;
    for (let i = 0; i < K; i++) s = Math.fround(s + Math.fround(x[i] * w(i, j)));
    out[j] = s;
  }
  return out;
}

const same = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) throw new Error(`differs at ${i}: ${a[i]} vs ${b[i]}`);
};

describe("gemv_b1 / b1_pack_t", () => {
  it("packed (W [N, K] -> 24-column panels) and in place (row-major [K, N]) equal the scalar twin bit for bit, N 4..100, K 0..37, beta 0 and 1", () => {
    const rng = new Rng(5);
    let cases = 0;
    for (const N of [4, 8, 12, 20, 24, 28, 48, 52, 100]) {
      for (const K of [0, 1, 3, 4, 7, 37]) {
        for (const beta of [0, 1]) {
          const m = new Mem();
          const x = rng.fillUniform(new Float32Array(Math.max(K, 1)), -1, 1) as Float32Array;
          const y0 = rng.fillUniform(new Float32Array(N), -1, 1) as Float32Array;
          // Packed: y = W x (W [N, K], ld K + 1).
          const ld = K + 1;
          const Wl = rng.fillUniform(new Float32Array(N * ld), -1, 1);
          const pW = m.put(Wl), px = m.put(x), pP = m.alloc(Math.ceil(N / 24) * 24 * Math.max(K, 1)), py = m.put(y0);
          k.b1_pack_t(pW, ld, N, K, pP);
          k.gemv_b1(N, K, px, pP, 96, 96 * K, py, beta);
          same(heap().f32(py, N), gemvTwin(N, K, x, (i, j) => Wl[j * ld + i], y0, beta));
          // In place: y = x W, W [K, N] row-major, ld N + 3.
          const ld2 = N + 3;
          const Wr = rng.fillUniform(new Float32Array(Math.max(K, 1) * ld2), -1, 1);
          const pR = m.put(Wr), py2 = m.put(y0);
          k.gemv_b1(N, K, px, pR, 4 * ld2, 96, py2, beta);
          same(heap().f32(py2, N), gemvTwin(N, K, x, (i, j) => Wr[i * ld2 + j], y0, beta));
          // And gemm_packed_f32x4_4x8 on the GEMM packing of the same matrix.
          const pB = m.alloc(Math.ceil(N / 8) * 8 * Math.max(K, 1)), py3 = m.put(y0);
          k.gemm_pack_b_nn(pR, ld2, K, N, pB);
          k.gemm_packed_f32x4_4x8(1, N, K, px, K, 1, pB, py3, N, beta);
          same(heap().f32(py2, N), heap().f32(py3, N));
          m.release();
          cases++;
        }
      }
    }
    expect(cases).toBe(9 * 6 * 2);
  });
});

/** Everything an LSTM forward + backward at B = 1 produces, with the batch-1 path on or off. */
function lstmRun(H: number, fast: boolean, gateActivation: "sigmoid" | "hard_sigmoid" = "sigmoid", L = 1): Record<string, ArrayLike<number>> {
  const T = 9, I = 5;
  const l = new LSTM({ inputSize: I, hiddenSize: H, numLayers: L, seed: 3, gateActivation });
  if (!fast) (l as unknown as { b1Path: () => boolean }).b1Path = () => false;
  const rng = new Rng(H);
  const x = rng.fillUniform(new Float32Array(T * I), -1, 1);
  const h0 = rng.fillUniform(new Float32Array(L * H), -1, 1);
  const c0 = rng.fillUniform(new Float32Array(L * H), -1, 1);
  const f = l.forward(x, { h0, c0 });
  const b = l.backward({ dOutput: rng.fillUniform(new Float32Array(T * H), -1, 1), dhN: rng.fillUniform(new Float32Array(L * H), -1, 1), dcN: rng.fillUniform(new Float32Array(L * H), -1, 1) });
  const out: Record<string, ArrayLike<number>> = { output: f.output, hN: f.hN, cN: f.cN!, dInput: b.dInput, dh0: b.dh0, dc0: b.dc0!, ...l.gradStateDict() };
  l.dispose();
  return out;
}

describe("the batch-1 LSTM path", () => {
  for (const [H, gact, L] of [[4, "sigmoid", 1], [24, "sigmoid", 1], [32, "hard_sigmoid", 1], [36, "sigmoid", 2], [128, "sigmoid", 1]] as const) {
    it(`forward + backward bit-identical to the per-step loop, H=${H}, ${gact}, ${L} layer(s)`, () => {
      const a = lstmRun(H, true, gact, L);
      const b = lstmRun(H, false, gact, L);
      for (const n of Object.keys(b)) {
        try {
          same(a[n], b[n]);
        } catch (e) {
          throw new Error(`${n}: ${(e as Error).message}`);
        }
      }
    });
  }

  it("W3-like training (tokens, LSTM 64, batch 1, truncated BPTT, Adam) ends in the same weights either way", () => {
    const ids = Array.from({ length: 400 }, (_, i) => (i * 7 + (i >> 3)) % 13);
    const train = (fast: boolean) => {
      const m = new Sequential({ input: { type: "tokens", vocabSize: 13, embeddingDim: 6 }, recurrent: [{ cell: "lstm", hiddenSize: 64 }], output: { size: 13, loss: "xent" }, mode: "many-to-many", seed: 2 });
      if (!fast) for (const r of m.recurrent) (r as unknown as { b1Path: () => boolean }).b1Path = () => false;
      m.fit({ stream: ids }, { batchSize: 1, tbptt: { k1: 25 }, steps: 12, optimizer: { type: "adam", lr: 0.01 } });
      const w = m.stateDict();
      m.dispose();
      return w;
    };
    const a = train(true), b = train(false);
    for (const n of Object.keys(b)) same(a[n], b[n]);
  });
});
