// Int8 inference (src/model/quantize.ts): quantized models against their f32
// twins on real text, the refusals, and int8 files.
//
// Budgets (CI cost: char LMs of H = 64-96 trained for ~1-2 s each).
// - Held-out nats/char of the int8 session (int8 weights, int8 activations)
//   and of the batched int8 path (int8 weights widened to f32) within 1% of
//   the f32 model's (the budget for CLI-trained models; measured
//   here at 0.0-0.3%, see docs/quantize.md).
// - The int8 session against the f32 session, step by step: next-token
//   probabilities within 0.03 (max abs), a bound that per-row int8 weights
//   and per-vector int8 activations keep with a wide margin, while a wrong
//   scale or row would be off by far more.
// - The session of a quantized model against its own batched path (the same
//   int8 weights, f32 activations there): within 0.03 as well.
// - dequantize: exactly q * scale, bit for bit.
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { UnfoldError } from "../src/errors.js";
import { Sequential, type SequentialSpec } from "../src/model/sequential.js";
import { Seq2Seq } from "../src/model/seq2seq.js";
import { Vocab } from "../src/data/vocab.js";
import { Scaler } from "../src/data/timeseries.js";
import { dequantize, dequantizeRows, isQuantized, quantize, quantizeRows, QuantizedSequential } from "../src/model/quantize.js";
import { loadModel, saveModel } from "../src/model/save.js";
import { loadKernels, Rng } from "./helpers.js";

beforeAll(async () => {
  await loadKernels();
});

const TEXT = readFileSync(new URL("../corpus/sotu.txt", import.meta.url), "utf8").slice(30_000, 52_000);
const TRAIN = TEXT.slice(0, 18_000);
const HELD = TEXT.slice(18_000, 22_000);
const vocab = Vocab.fromChars(TEXT);

function charLM(cell: "lstm" | "gru" | "rnn", H: number, layers: number): Sequential {
  const spec: SequentialSpec = {
    input: { type: "tokens", vocabSize: vocab.size, embeddingDim: 24 },
    recurrent: [{ cell, hiddenSize: H, numLayers: layers }],
    output: { size: vocab.size, loss: "xent" },
    mode: "many-to-many",
    seed: 3,
  };
  const m = new Sequential(spec);
  m.fit({ stream: vocab.encode(TRAIN) }, { epochs: 2, batchSize: 16, tbptt: { k1: 32 }, optimizer: { type: "adam", lr: 0.006 }, clipNorm: 5 });
  return m;
}

/** Mean -log p(next char) of a session fed the held-out text one char at a time. */
function sessionNats(m: Sequential, ids: Int32Array): number {
  const s = m.session();
  let p = s.feed([ids[0]]);
  let nll = 0;
  for (let t = 1; t < ids.length; t++) {
    nll -= Math.log(Math.max(p[ids[t]], 1e-30));
    p = s.step(ids[t]);
  }
  s.dispose();
  return nll / (ids.length - 1);
}

describe("quantize: char LMs on held-out text", () => {
  const held = vocab.encode(HELD);
  for (const [cell, H, L] of [["lstm", 96, 2], ["gru", 64, 1], ["rnn", 64, 1]] as const) {
    it(`${cell} ${L}x${H}: int8 session and batched path within 1% of f32 nats/char; session within 0.03 of f32 per step`, () => {
      const f = charLM(cell, H, L);
      const q = quantize(f, { bits: 8 });
      expect(isQuantized(q)).toBe(true);
      const natsF = sessionNats(f, held);
      const natsQ = sessionNats(q, held);
      const evalF = f.evaluate({ stream: held }, { batchSize: 1, k1: 64 }).loss;
      const evalQ = q.evaluate({ stream: held }, { batchSize: 1, k1: 64 }).loss;
      expect(natsF).toBeLessThan(Math.log(vocab.size) * 0.75); // it learned something
      expect(Math.abs(natsQ - natsF) / natsF).toBeLessThanOrEqual(0.01);
      expect(Math.abs(evalQ - evalF) / evalF).toBeLessThanOrEqual(0.01);
      // Step by step: the int8 session against the f32 one, and against the int8 model's batched path.
      const sf = f.session();
      const sq = q.session();
      const ids = held.subarray(0, 120);
      let worst = 0;
      for (const id of ids) {
        const a = sf.step(id);
        const b = sq.step(id);
        for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
      }
      expect(worst).toBeLessThanOrEqual(0.03);
      const batched = q.predict([ids])[0]; // [T * V], probabilities
      const V = vocab.size;
      const sq2 = q.session();
      let worstB = 0;
      for (let t = 0; t < ids.length; t++) {
        const b = sq2.step(ids[t]);
        for (let i = 0; i < V; i++) worstB = Math.max(worstB, Math.abs(b[i] - batched[t * V + i]));
      }
      expect(worstB).toBeLessThanOrEqual(0.03);
      expect(worstB).toBeGreaterThan(0); // the session really runs other kernels than the batched path
      // generate runs the int8 session: the same tokens as feeding the session by hand.
      const g = q.generate(vocab.encode("The "), { length: 40, seed: 5, temperature: 0.8 });
      const s = q.session({ seed: 5 });
      s.feed(vocab.encode("The "));
      const byHand = Array.from({ length: 40 }, () => s.sample({ temperature: 0.8 }));
      expect(g).toEqual(byHand);
      for (const x of [sf, sq, sq2, s]) x.dispose();
      q.dispose();
      f.dispose();
    });
  }
});

describe("quantize: cell variants (imported models)", () => {
  it("hard-sigmoid LSTM gates step int8; a reset-before GRU steps f32 on the widened weights; both match f32 within 0.03", () => {
    for (const r of [{ cell: "lstm", hiddenSize: 48, gateActivation: "hard_sigmoid" }, { cell: "gru", hiddenSize: 48, resetAfter: false }] as const) {
      const f = new Sequential({ input: { type: "tokens", vocabSize: vocab.size, embeddingDim: 16 }, recurrent: [r], output: { size: vocab.size, loss: "xent" }, mode: "many-to-many", seed: 5 });
      f.fit({ stream: vocab.encode(TRAIN.slice(0, 6000)) }, { epochs: 1, batchSize: 8, tbptt: { k1: 32 }, optimizer: { type: "adam", lr: 0.01 } });
      const q = quantize(f, { bits: 8 });
      const ids = vocab.encode(HELD.slice(0, 80));
      const a = f.session();
      const b = q.session();
      let worst = 0;
      for (const id of ids) {
        const pa = a.step(id);
        const pb = b.step(id);
        for (let i = 0; i < pa.length; i++) worst = Math.max(worst, Math.abs(pa[i] - pb[i]));
      }
      expect(worst, r.cell).toBeLessThanOrEqual(0.03);
      expect(worst, r.cell).toBeGreaterThan(0);
      for (const x of [a, b, q, f]) x.dispose();
    }
  });
});

describe("quantize: weights, refusals, the way back", () => {
  it("quantizeRows: |w - q s| <= s/2, the largest |w| of a row is ±127, zero rows get scale 1", () => {
    const rng = new Rng(4);
    const N = 9, K = 13;
    const w = new Float32Array(N * K);
    for (let i = 0; i < w.length; i++) w[i] = rng.uniform(-2, 2);
    w.fill(0, 2 * K, 3 * K); // row 2 all zero
    const m = quantizeRows(w, N, K);
    for (let j = 0; j < N; j++) {
      let top = 0;
      for (let k = 0; k < K; k++) {
        const i = j * K + k;
        expect(Math.abs(w[i] - m.q[i] * m.scale[j])).toBeLessThanOrEqual(m.scale[j] / 2 + 1e-7);
        top = Math.max(top, Math.abs(m.q[i]));
      }
      expect(top).toBe(j === 2 ? 0 : 127);
    }
    expect(m.scale[2]).toBe(1);
  });

  it("refuses: training (naming dequantize), untrained and non-finite models, other bit widths, quantizing twice", async () => {
    const spec: SequentialSpec = { input: { type: "tokens", vocabSize: 10, embeddingDim: 4 }, recurrent: [{ cell: "lstm", hiddenSize: 8 }], output: { size: 10, loss: "xent" }, mode: "many-to-many", seed: 1 };
    const f = new Sequential(spec);
    const code = (fn: () => unknown): string | undefined => {
      try {
        fn();
      } catch (e) {
        return e instanceof UnfoldError ? `${e.code}: ${e.message}` : String(e);
      }
      return undefined;
    };
    expect(code(() => quantize(f, { bits: 8 }))).toMatch(/^E_STATE: .*no training steps/);
    const q = quantize(f, { bits: 8, allowUntrained: true });
    const data = { stream: Int32Array.from({ length: 200 }, (_, i) => i % 10) };
    expect(code(() => q.fit(data))).toMatch(/^E_UNSUPPORTED: .*dequantize\(model\)/);
    await expect(q.fitAsync(data)).rejects.toMatchObject({ code: "E_UNSUPPORTED" });
    expect(code(() => q.regions())).toMatch(/^E_UNSUPPORTED/);
    expect(code(() => quantize(q, { bits: 8 }))).toMatch(/^E_OPTION: .*already quantized/);
    expect(code(() => quantize(f, { bits: 4 as 8, allowUntrained: true }))).toMatch(/^E_OPTION: .*bits must be 8/);
    expect(code(() => quantize({} as Sequential, { bits: 8 }))).toMatch(/^E_OPTION/);
    // The way back: a trainable f32 model whose weights are exactly q * scale.
    const back = dequantize(q) as Sequential;
    expect(isQuantized(back)).toBe(false);
    const mats = (q as QuantizedSequential).quantizedMatrices();
    const w = back.parameters().get("rnn0.weight_hh_l0")!.toArray();
    expect(Array.from(w)).toEqual(Array.from(dequantizeRows(mats.get("rnn0.weight_hh_l0")!)));
    expect(back.parameters().get("embedding.weight")!.toArray()).toEqual(f.parameters().get("embedding.weight")!.toArray());
    back.fit(data, { epochs: 1, batchSize: 2, tbptt: { k1: 10 } });
    // Non-finite weights are refused, naming the tensor; nothing is made.
    f.parameters().get("head.bias")!.f32()[3] = NaN;
    expect(code(() => quantize(f, { bits: 8, allowUntrained: true }))).toMatch(/^E_NAN: .*'head\.bias' \[3\] is NaN/);
    for (const m of [f, q, back]) m.dispose();
  });
});

describe("quantize: Seq2Seq, features models, forecast", () => {
  it("Seq2Seq (reverse a sequence): int8 generate matches f32 on nearly all held-out sources, its session steps int8", () => {
    const rng = new Rng(7);
    const V = 12, BOS = 10, EOS = 11;
    const make = (n: number) => Array.from({ length: n }, () => Array.from({ length: 3 + rng.int(4) }, () => rng.int(10)));
    const src = make(600);
    const m = new Seq2Seq({ source: { type: "tokens", vocabSize: V, embeddingDim: 16 }, target: { vocabSize: V, embeddingDim: 16, bosId: BOS, eosId: EOS }, recurrent: { cell: "lstm", hiddenSize: 64 }, seed: 2 });
    m.fit({ sources: src, targets: src.map((s) => [...s].reverse()) }, { epochs: 12, batchSize: 32, optimizer: { type: "adam", lr: 0.01 } });
    const test = make(100);
    const q = quantize(m, { bits: 8 });
    const gf = m.generate(test);
    const gq = q.generate(test);
    const exactF = test.filter((s, i) => gf[i].join() === [...s].reverse().join()).length;
    const exactQ = test.filter((s, i) => gq[i].join() === [...s].reverse().join()).length;
    expect(exactF).toBeGreaterThan(50);
    expect(Math.abs(exactQ - exactF)).toBeLessThanOrEqual(2);
    // The session: int8 decoder steps, close to the f32 decoder's.
    const sf = m.session(test[0]);
    const sq = q.session(test[0]);
    let a = sf.feed([BOS]);
    let b = sq.feed([BOS]);
    for (let t = 0; t < 5; t++) {
      let worst = 0;
      for (let i = 0; i < V; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
      expect(worst).toBeLessThanOrEqual(0.03);
      const next = a.indexOf(Math.max(...a));
      a = sf.step(next);
      b = sq.step(next);
    }
    expect(() => q.fit({ sources: src, targets: src })).toThrow(/dequantize/);
    for (const x of [sf, sq]) x.dispose();
    q.dispose();
    m.dispose();
  });

  it("a features model: int8 session and forecast within 2% of f32's range", () => {
    const T = 400;
    const raw = Float32Array.from({ length: T }, (_, t) => Math.sin(t / 6) + 0.3 * Math.sin(t / 17));
    const scaler = Scaler.fit(raw);
    const series = scaler.transform(raw);
    const W = 24;
    const inputs: Float32Array[] = [];
    const targets: Float32Array[] = [];
    for (let t = 0; t + W + 1 <= T; t += 2) {
      inputs.push(series.slice(t, t + W));
      targets.push(series.slice(t + 1, t + W + 1));
    }
    const m = new Sequential({ input: { type: "features", size: 1 }, recurrent: [{ cell: "gru", hiddenSize: 32 }], output: { size: 1, loss: "mse" }, mode: "many-to-many", seed: 4 });
    m.fit({ inputs, targets }, { epochs: 30, batchSize: 16, optimizer: { type: "adam", lr: 0.01 } });
    m.scaler = scaler;
    const q = quantize(m, { bits: 8 });
    expect(q.scaler).toBe(scaler);
    const hist = raw.slice(0, 100);
    const ff = m.forecast(hist, 20);
    const fq = q.forecast(hist, 20);
    for (let i = 0; i < 20; i++) expect(Math.abs(fq[i] - ff[i])).toBeLessThanOrEqual(0.02 * 1.3 * 2);
    const sf = m.session();
    const sq = q.session();
    const pf = sf.feed(series.slice(0, 100))[0];
    const pq = sq.feed(series.slice(0, 100))[0];
    expect(Math.abs(pq - pf)).toBeLessThanOrEqual(0.02 * 1.3 * 2);
    for (const x of [sf, sq, q, m]) x.dispose();
  });
});

describe("int8 model files", () => {
  it("saveModel writes int8 (~4x smaller); loadModel gives the same int8 model back", () => {
    const f = charLM("lstm", 64, 1);
    const q = quantize(f, { bits: 8 });
    const bf = saveModel(f, { vocab, includeOptimizer: false });
    const bq = saveModel(q, { vocab });
    // 0.34 for this small model (its f32 embedding, biases, row scales and header weigh more
    // beside 28k matrix weights); the CLI models of docs/quantize.md are 0.26-0.27.
    expect(bq.length / bf.length).toBeLessThan(0.36);
    const back = loadModel(bq).model as QuantizedSequential;
    expect(isQuantized(back)).toBe(true);
    const ids = vocab.encode(HELD.slice(0, 200));
    const s1 = q.session();
    const s2 = back.session();
    expect(Array.from(s2.feed(ids))).toEqual(Array.from(s1.feed(ids)));
    expect(() => back.fit({ stream: ids })).toThrow(/dequantize/);
    for (const x of [s1, s2, back, q, f]) x.dispose();
  });
});

describe("f16 model files", () => {
  it("saveModel({ weights: 'f16' }) halves the weights; loadModel gives f32 weights equal to the f16 values widened", async () => {
    const { f16BitsToF32, f32ToF16Bits } = await import("../src/io/f16.js");
    const f = new Sequential({ input: { type: "tokens", vocabSize: vocab.size, embeddingDim: 16 }, recurrent: [{ cell: "lstm", hiddenSize: 48, numLayers: 2 }], output: { size: vocab.size, loss: "xent" }, mode: "many-to-many", seed: 9 });
    f.fit({ stream: vocab.encode(TRAIN.slice(0, 3000)) }, { epochs: 1, batchSize: 8, tbptt: { k1: 32 } });
    const b32 = saveModel(f, { vocab, includeOptimizer: false });
    const b16 = saveModel(f, { vocab, weights: "f16" }); // leaves the optimizer out by default
    const weights = f.parameterCount;
    // The data shrinks by exactly the f16 halves (each tensor padded to 4 bytes); the table gains a dtype per tensor (< 20 bytes each).
    const saved = weights * 4 - Array.from(f.parameters().values()).reduce((n, t) => n + Math.ceil((t.size * 2) / 4) * 4, 0);
    expect(b32.length - b16.length).toBeLessThanOrEqual(saved);
    expect(b32.length - b16.length).toBeGreaterThan(saved - 20 * f.parameters().size);
    expect(b16.length / b32.length).toBeLessThan(0.56);
    const back = loadModel(b16).model as Sequential;
    expect(isQuantized(back)).toBe(false);
    let mismatches = 0;
    let changed = 0;
    for (const [name, t] of f.parameters()) {
      const w = t.toArray();
      const r = back.parameters().get(name)!.toArray();
      for (let i = 0; i < w.length; i++) {
        if (!Object.is(r[i], f16BitsToF32(f32ToF16Bits(w[i])))) mismatches++;
        if (r[i] !== w[i]) changed++;
      }
    }
    expect(mismatches).toBe(0);
    expect(changed).toBeGreaterThan(weights / 2); // really rounded, not stored f32
    back.fit({ stream: vocab.encode(TRAIN.slice(0, 2000)) }, { epochs: 1, batchSize: 8, tbptt: { k1: 32 } }); // an f32 model again: trainable
    expect(() => saveModel(f, { weights: "f8" as "f16" })).toThrow(/options.weights/);
    f.parameters().get("head.bias")!.f32()[0] = 7e4;
    expect(() => saveModel(f, { weights: "f16" })).toThrow(/beyond the f16 range/);
    back.dispose();
    f.trainState.optimizer?.dispose();
    f.dispose();
  });
});
