// The streaming session (src/model/session.ts): its batch-1 kernels against
// their float64 references, and the session against the batched model path
// (predict / generate) it must agree with, on a model trained on real text.
//
// Tolerances.
// - gemv / dense_b1 vs float64: a dot product of K f32 products has error
//   <= (K+2) u sum|w||x| (Higham); we assert |y - r| <= 4 (K+2) 2^-24 sum|w||x|.
// - cell_step_b1 vs float64 on the same f32 inputs: the gate sums carry the
//   GEMV bound above, then a few f32 operations and the SIMD activations
//   (relative error < 2e-7); |y - r| / max(|r|, 1) <= 2e-6, as test/cells.test.ts.
// - Session vs the batched path (GEMM + the same cell kernels): the sums are
//   the same products added in another order, so outputs agree to a few f32
//   ulps per step, growing slowly through the recurrence; 2e-5 on
//   probabilities and predictions after 40 steps leaves a wide margin while a
//   wrong gate, bias or state would be off by orders of magnitude more.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UnfoldError } from "../src/errors.js";
import type { Kernels } from "../src/runtime/abi.js";
import { Sequential, type SequentialSpec } from "../src/model/sequential.js";
import { Seq2Seq } from "../src/model/seq2seq.js";
import { Vocab } from "../src/data/vocab.js";
import { argmax } from "../src/model/sampling.js";
import * as ref from "../src/reference/session.js";
import { loadKernels, maxRelErr, Mem, randArray, Rng } from "./helpers.js";

let k: Kernels;
const mem = new Mem();
beforeAll(async () => {
  k = await loadKernels();
});
afterAll(() => mem.release());

const U = 2 ** -24;

function gemvBound(N: number, K: number, W: ArrayLike<number>, x: ArrayLike<number>, j: number): number {
  let s = 0;
  for (let i = 0; i < K; i++) s += Math.abs(W[j * K + i] * x[i]);
  return 4 * (K + 2) * U * s + 1e-30;
}

describe("batch-1 kernels vs float64 references", () => {
  it("gemv_f32x4 and dense_b1 at row and column edges, unaligned", () => {
    const rng = new Rng(7);
    for (const N of [1, 3, 4, 5, 8, 9, 17]) {
      for (const K of [1, 2, 3, 4, 5, 8, 33, 64]) {
        for (const mis of [0, 1, 3]) {
          const W = randArray(rng, N * K);
          const x = randArray(rng, K);
          const y0 = randArray(rng, N);
          const b = randArray(rng, N);
          for (const beta of [0, 1]) {
            const pW = mem.put(W, mis), px = mem.put(x, (mis + 1) & 3), py = mem.put(y0, (mis + 2) & 3);
            k.gemv_f32x4(N, K, pW, px, py, beta);
            const got = mem.get(py, N);
            const want = Float64Array.from(y0);
            ref.gemv_ref(N, K, W, x, want, beta);
            for (let j = 0; j < N; j++) expect(Math.abs(got[j] - want[j]), `N=${N} K=${K} beta=${beta} row ${j}`).toBeLessThanOrEqual(gemvBound(N, K, W, x, j) + (beta ? 2 * U * Math.abs(want[j]) : 0));
          }
          const pW = mem.put(W, mis), px = mem.put(x, mis), pb = mem.put(b), py = mem.alloc(N, mis);
          k.dense_b1(px, K, pW, pb, py, N);
          const got = mem.get(py, N);
          const want = new Float64Array(N);
          ref.dense_b1_ref(x, K, W, b, want, N);
          for (let j = 0; j < N; j++) expect(Math.abs(got[j] - want[j])).toBeLessThanOrEqual(gemvBound(N, K, W, x, j) + 2 * U * Math.abs(want[j]) + 1e-7);
        }
      }
    }
  });

  it.each([
    ["rnn tanh", 0, 1, 0], ["rnn relu", 1, 1, 0], ["lstm", 2, 4, 0], ["gru", 3, 3, 0],
    ["lstm hard-sigmoid", 2, 4, 1], ["gru hard-sigmoid", 3, 3, 1], ["gru reset-before", 3, 3, 2], ["gru reset-before hard-sigmoid", 3, 3, 3],
  ] as const)("cell_step_b1 %s: one step in place on h (and c)", (_name, kind, G, flags) => {
    const rng = new Rng(11 + kind + 10 * flags);
    for (const [I, H] of [[1, 1], [3, 4], [5, 7], [16, 33], [64, 128]]) {
      const wIh = randArray(rng, G * H * I, -0.5, 0.5);
      const wHh = randArray(rng, G * H * H, -0.5, 0.5);
      const bIh = randArray(rng, G * H), bHh = randArray(rng, G * H);
      const x = randArray(rng, I), h = randArray(rng, H), c = randArray(rng, H);
      const ph = mem.put(h, 1), pc = mem.put(c, 2);
      k.cell_step_b1(kind, mem.put(x, 3), I, ph, pc, mem.put(wIh), mem.put(wHh, 1), mem.put(bIh, 2), mem.put(bHh, 3), mem.alloc(10 * H), H, flags);
      const wantH = Float64Array.from(h), wantC = Float64Array.from(c);
      ref.cell_step_b1_ref(kind, x, I, wantH, wantC, wIh, wHh, bIh, bHh, H, flags);
      const eh = maxRelErr(mem.get(ph, H), wantH, 1);
      expect(eh.err, `h, I=${I} H=${H}, at ${eh.at}`).toBeLessThanOrEqual(2e-6);
      if (kind === 2) expect(maxRelErr(mem.get(pc, H), wantC, 1).err, `c, I=${I} H=${H}`).toBeLessThanOrEqual(2e-6);
    }
  });
});

// A paragraph of the bundled State of the Union corpus: real text.
const TEXT = readFileSync(new URL("../corpus/sotu.txt", import.meta.url), "utf8").slice(20_000, 26_000);
const vocab = Vocab.fromChars(TEXT);

function charModel(recurrent: SequentialSpec["recurrent"], seed = 3): Sequential {
  return new Sequential({
    input: { type: "tokens", vocabSize: vocab.size, embeddingDim: 12 },
    recurrent,
    output: { size: vocab.size, loss: "xent" },
    mode: "many-to-many",
    seed,
  });
}

const CONFIGS: [string, SequentialSpec["recurrent"]][] = [
  ["lstm", [{ cell: "lstm", hiddenSize: 32 }]],
  ["gru", [{ cell: "gru", hiddenSize: 24 }]],
  ["rnn", [{ cell: "rnn", hiddenSize: 20 }]],
  ["rnn_relu", [{ cell: "rnn_relu", hiddenSize: 20 }]],
  ["lstm 2 layers + gru block", [{ cell: "lstm", hiddenSize: 16, numLayers: 2 }, { cell: "gru", hiddenSize: 9 }]],
  ["Keras variants: hard-sigmoid lstm + reset-before hard-sigmoid gru", [{ cell: "lstm", hiddenSize: 12, gateActivation: "hard_sigmoid" }, { cell: "gru", hiddenSize: 10, numLayers: 2, resetAfter: false, gateActivation: "hard_sigmoid" }]],
];

describe("session vs the batched model", () => {
  it.each(CONFIGS)("%s: per-step probabilities equal predict()'s", (_name, recurrent) => {
    const model = charModel(recurrent);
    model.fit({ stream: vocab.encode(TEXT) }, { epochs: 1, batchSize: 4, tbptt: { k1: 20 }, optimizer: { type: "adam", lr: 0.01 } });
    const ids = Array.from(vocab.encode(TEXT.slice(100, 140))); // 40 steps
    const want = model.predict([ids])[0]; // [T, V]
    const s = model.session();
    const V = vocab.size;
    let worst = 0;
    for (let t = 0; t < ids.length; t++) {
      const p = s.step(ids[t]);
      for (let v = 0; v < V; v++) worst = Math.max(worst, Math.abs(p[v] - want[t * V + v]));
    }
    expect(worst).toBeLessThan(2e-5);
    // feed() of the whole sequence from a reset session gives the last step's distribution.
    s.reset();
    const last = s.feed(ids).slice();
    for (let v = 0; v < V; v++) expect(Math.abs(last[v] - want[(ids.length - 1) * V + v])).toBeLessThan(2e-5);
    s.dispose();
    model.dispose();
  });

  it("sample() continues a prime exactly as generate() does for the same seed, and fork()/reset() are independent", () => {
    const model = charModel([{ cell: "lstm", hiddenSize: 48 }]);
    model.fit({ stream: vocab.encode(TEXT) }, { epochs: 2, batchSize: 8, tbptt: { k1: 25 }, optimizer: { type: "adam", lr: 0.01 } });
    const prime = vocab.encode("The ");
    for (const opts of [{ temperature: 0 }, { temperature: 0.8 }, { temperature: 1, topK: 5 }, { temperature: 0.7, topP: 0.9 }]) {
      const want = model.generate(prime, { length: 60, seed: 42, ...opts });
      const s = model.session({ seed: 42 });
      s.feed(prime);
      const got = Array.from({ length: 60 }, () => s.sample(opts));
      expect(vocab.decode(got), JSON.stringify(opts)).toBe(vocab.decode(want));
      s.dispose();
    }
    // fork: an independent copy of state and sampler.
    const s = model.session({ seed: 5 });
    s.feed(prime);
    const f = s.fork();
    const a = Array.from({ length: 30 }, () => s.sample({ temperature: 1 }));
    const before = f.state();
    const b = Array.from({ length: 30 }, () => f.sample({ temperature: 1 }));
    expect(b).toEqual(a); // same state and RNG position: same continuation
    f.reset();
    expect(f.length).toBe(0);
    f.feed(prime);
    expect(f.state()).toEqual(before);
    expect(Array.from({ length: 30 }, () => f.sample({ temperature: 1 }))).toEqual(a); // the fork was made before any draw: reset replays it
    // Stepping the fork leaves the original where it was.
    const st = s.state();
    f.step(prime[0]);
    expect(s.state()).toEqual(st);
    s.dispose();
    f.dispose();
    model.dispose();
  });

  it("features model, many-to-one: the session's output after T steps equals predict()", () => {
    const F = 3;
    const model = new Sequential({ input: { type: "features", size: F }, recurrent: [{ cell: "gru", hiddenSize: 10, numLayers: 2 }], output: { size: 2, loss: "mse" }, mode: "many-to-one", seed: 9 });
    const rng = new Rng(1);
    const x = randArray(rng, 25 * F);
    const want = model.predict([x])[0];
    const s = model.session();
    const got = s.feed(x);
    for (let i = 0; i < 2; i++) expect(Math.abs(got[i] - want[i])).toBeLessThan(2e-5);
    // step by step gives the same
    s.reset();
    let last!: Float32Array;
    for (let t = 0; t < 25; t++) last = s.step(x.subarray(t * F, t * F + F));
    expect(Array.from(last)).toEqual(Array.from(got));
    s.dispose();
    model.dispose();
  });

  it("Seq2Seq decoder session: greedy steps from the encoder's state equal generate()", () => {
    for (const cell of ["lstm", "gru"] as const) {
      const m = new Seq2Seq({
        source: { type: "tokens", vocabSize: 9, embeddingDim: 6 },
        target: { vocabSize: 11, embeddingDim: 5, bosId: 0, eosId: 1 },
        recurrent: { cell, hiddenSize: 12, numLayers: 2 },
        seed: 4,
      });
      const sources = [[2, 3, 4, 5, 6], [8, 7], [5, 5, 5, 2, 3, 4, 1, 0]];
      const want = m.generate(sources, { maxLength: 12 });
      sources.forEach((src, i) => {
        const s = m.session(src);
        let p = s.feed([0]);
        const got: number[] = [];
        while (got.length < 12) {
          const id = argmax(p);
          if (id === 1) break;
          got.push(id);
          p = s.step(id);
        }
        expect(got, `${cell} source ${i}`).toEqual(want[i]);
        s.dispose();
      });
      m.dispose();
    }
  });
});

describe("session: bad input gets a clear error and changes nothing", () => {
  const code = (f: () => unknown): string => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(UnfoldError);
      return (e as UnfoldError).code;
    }
    throw new Error("expected an UnfoldError");
  };

  it("ids, shapes, NaN, order of calls, dispose, bidirectional", () => {
    const model = charModel([{ cell: "lstm", hiddenSize: 8 }]);
    const s = model.session();
    expect(code(() => s.sample())).toBe("E_STATE"); // nothing fed yet
    s.feed([1, 2, 3]);
    const st = s.state();
    const p = s.step(4).slice();
    s.reset();
    s.feed([1, 2, 3]);
    expect(code(() => s.feed([1, vocab.size]))).toBe("E_VOCAB");
    expect(code(() => s.feed([1, -1]))).toBe("E_VOCAB");
    expect(code(() => s.feed([1.5]))).toBe("E_VOCAB");
    expect(code(() => s.step(vocab.size + 3))).toBe("E_VOCAB");
    expect(code(() => s.feed([]))).toBe("E_SHAPE");
    expect(code(() => s.feed(null as unknown as number[]))).toBe("E_OPTION");
    expect(code(() => s.step([1, 2] as unknown as number))).toBe("E_OPTION");
    expect(code(() => s.sample({ temperature: -1 }))).toBe("E_OPTION");
    expect(code(() => s.sample({ topK: 0 }))).toBe("E_OPTION");
    expect(code(() => s.sample({ topP: 1.5 }))).toBe("E_OPTION");
    expect(s.state()).toEqual(st); // nothing changed by the failed calls
    expect(Array.from(s.step(4))).toEqual(Array.from(p));
    expect(code(() => model.session({ seed: 1.5 }))).toBe("E_OPTION");
    s.dispose();
    expect(code(() => s.feed([1]))).toBe("E_STATE");
    expect(code(() => s.fork())).toBe("E_STATE");
    model.dispose();

    const fm = new Sequential({ input: { type: "features", size: 2 }, recurrent: [{ cell: "rnn", hiddenSize: 4 }], output: { size: 1, loss: "mse" }, mode: "many-to-many" });
    const fs = fm.session();
    expect(code(() => fs.feed([1, 2, 3]))).toBe("E_SHAPE");
    expect(code(() => fs.feed([1, NaN]))).toBe("E_NAN");
    expect(code(() => fs.step([Infinity, 0]))).toBe("E_NAN");
    expect(code(() => fs.step(1))).toBe("E_OPTION");
    expect(code(() => fs.sample())).toBe("E_UNSUPPORTED");
    fs.dispose();
    fm.dispose();

    const bi = new Sequential({ input: { type: "features", size: 2 }, recurrent: [{ cell: "gru", hiddenSize: 4, bidirectional: true }], output: { size: 1, loss: "mse" }, mode: "many-to-one" });
    expect(code(() => bi.session())).toBe("E_UNSUPPORTED");
    bi.dispose();

    const att = new Seq2Seq({
      source: { type: "tokens", vocabSize: 6, embeddingDim: 4 },
      target: { vocabSize: 7, embeddingDim: 4, bosId: 0, eosId: 1 },
      recurrent: { cell: "lstm", hiddenSize: 8 },
      attention: "dot",
    });
    const as = att.session([2, 3]); // attention decoders stream too (test/attention-session.test.ts)
    expect(as.feed([0]).length).toBe(7);
    expect(code(() => att.session([2, 6]))).toBe("E_VOCAB");
    as.dispose();
    att.dispose();
  });
});
