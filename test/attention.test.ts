// Attention in the encoder-decoder, in three tiers:
//  1. the float64 reference (src/reference/attention.ts) against central
//     finite differences, every parameter, the decoder states and the encoder
//     outputs, for each score kind, with padded sources;
//  2. the WASM layer (src/layers/attention.ts) against the reference: h~, the
//     weights and every gradient by name, at sizes around the f32x4 and GEMM
//     tiles;
//  3. whole Seq2Seq models with attention against PyTorch 1.13 (plain torch
//     ops: torch has no Luong module), from the fixtures in
//     test/fixtures/torch-attention/ (tools/torch_attention_fixtures.py):
//     loss and every gradient, for each score kind, uni- and bidirectional
//     encoder, padded sources, with and without input feeding.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { Attention } from "../src/layers/attention.js";
import { attentionShapes, type RefAttentionConfig, refAttentionBackward, refAttentionForward, type ScoreKind } from "../src/reference/attention.js";
import { heap, kernels } from "../src/runtime/wasm.js";
import { Arena } from "../src/runtime/arena.js";
import { Rng } from "../src/util/rng.js";
import { Seq2Seq, type Seq2SeqSpec } from "../src/model/seq2seq.js";
import { loadModel, saveModel } from "../src/model/save.js";
import { UnfoldError } from "../src/errors.js";
import { loadKernels, scaledErr } from "./helpers.js";

beforeAll(async () => {
  await loadKernels();
});

const KINDS: ScoreKind[] = ["dot", "general", "additive"];

function uniform(rng: Rng, n: number, a = 1): Float64Array {
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = rng.uniform(-a, a);
  return x;
}
const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
};

/** A random problem: parameters, decoder states q [T, B, H], encoder outputs enc [S, B, DE]. */
function problem(c: RefAttentionConfig, T: number, S: number, B: number, seed: number) {
  const rng = new Rng(seed);
  const p: Record<string, Float64Array> = {};
  for (const [n, shape] of attentionShapes(c)) p[n] = uniform(rng, size(shape), 0.6);
  const q = uniform(rng, T * B * c.hiddenSize);
  const enc = uniform(rng, S * B * c.encoderSize);
  const dOut = uniform(rng, T * B * c.hiddenSize);
  return { p, q, enc, dOut };
}

describe("tier 1: the float64 reference against finite differences", () => {
  // L = Σ dOut ⊙ h~ for a random dOut. Central differences, eps 1e-5:
  // truncation ~eps²·L'''/6 ≈ 1e-10, rounding ~1e-16·|L|/eps ≈ 1e-11; so a
  // relative error (floor 1e-3 on the denominator) below 1e-6 leaves a margin.
  for (const score of KINDS) {
    it(`${score}: every parameter, q and enc (padded sources)`, () => {
      const H = 3;
      const c: RefAttentionConfig = { score, hiddenSize: H, encoderSize: score === "dot" ? H : 2 * H, attentionSize: H };
      const T = 2, S = 4, B = 2;
      const lengths = [4, 2];
      const { p, q, enc, dOut } = problem(c, T, S, B, 7);
      const loss = () => dot(dOut, refAttentionForward(c, p, q, enc, lengths, T, S, B).out);
      const g = refAttentionBackward(refAttentionForward(c, p, q, enc, lengths, T, S, B), dOut);
      const check = (name: string, x: Float64Array, analytic: Float64Array) => {
        let worst = 0;
        for (let i = 0; i < x.length; i++) {
          const v = x[i];
          x[i] = v + 1e-5;
          const lp = loss();
          x[i] = v - 1e-5;
          const lm = loss();
          x[i] = v;
          const fd = (lp - lm) / 2e-5;
          worst = Math.max(worst, Math.abs(fd - analytic[i]) / Math.max(Math.abs(fd), Math.abs(analytic[i]), 1e-3));
        }
        expect(worst, name).toBeLessThan(1e-6);
      };
      for (const n of Object.keys(p)) check(n, p[n], g.grads[n]);
      check("q", q, g.dq);
      check("enc", enc, g.dEnc);
      // Padded source steps get no weight and no gradient.
      const a = refAttentionForward(c, p, q, enc, lengths, T, S, B).alpha;
      for (let t = 0; t < T; t++) expect(a[(t * B + 1) * S + 2] + a[(t * B + 1) * S + 3]).toBe(0);
      for (let s = 2; s < S; s++) for (let j = 0; j < c.encoderSize; j++) expect(g.dEnc[(s * B + 1) * c.encoderSize + j]).toBe(0);
    });
  }
});

describe("tier 2: the WASM layer against the reference, every gradient by name", () => {
  // float32 GEMMs and the SIMD tanh/exp against float64: scaled error
  // max|ours - ref| / max|ref| below 2e-5 (measured ~1e-7).
  const cases: [ScoreKind, number, number, number, number, number[], boolean][] = [
    // score, T, S, B, H, lengths, bidirectional (DE = 2H)
    ["dot", 3, 5, 2, 4, [5, 3], false],
    ["dot", 1, 1, 1, 1, [1], false],
    ["general", 5, 7, 3, 9, [7, 1, 4], true],
    ["general", 4, 9, 5, 8, [9, 9, 2, 5, 8], false],
    ["additive", 3, 6, 4, 5, [6, 2, 5, 1], true],
    ["additive", 6, 4, 2, 12, [4, 3], false],
  ];
  for (const [score, T, S, B, H, lengths, bi] of cases) {
    it(`${score} T${T} S${S} B${B} H${H}${bi ? " (DE = 2H)" : ""}`, () => {
      const c: RefAttentionConfig = { score, hiddenSize: H, encoderSize: bi ? 2 * H : H, attentionSize: H };
      const { p, q, enc, dOut } = problem(c, T, S, B, 11 + T + S);
      const layer = new Attention({ score, hiddenSize: H, encoderSize: c.encoderSize });
      layer.loadStateDict(Object.fromEntries(Object.entries(p).map(([n, v]) => [n, Float32Array.from(v)])));
      const buf = new Arena();
      const tq = buf.tensor("q", [T * B * H]);
      const te = buf.tensor("enc", [S * B * c.encoderSize]);
      const td = buf.tensor("d", [T * B * H]);
      buf.commit();
      // The reference gets the float32-rounded inputs too.
      const q32 = Float32Array.from(q), e32 = Float32Array.from(enc), d32 = Float32Array.from(dOut);
      tq.set(q32);
      te.set(e32);
      td.set(d32);
      const ref = refAttentionForward(c, Object.fromEntries(Object.entries(p).map(([n, v]) => [n, Float64Array.from(Float32Array.from(v))])), Float64Array.from(q32), Float64Array.from(e32), lengths, T, S, B);
      const rg = refAttentionBackward(ref, Float64Array.from(d32));
      layer.setEncoderPtr(te.ptr, S, B, lengths);
      const out = heap().f32(layer.forwardPtr(tq.ptr, T), T * B * H).slice();
      const errs: Record<string, number> = { out: scaledErr(out, ref.out), weights: scaledErr(layer.weights(), ref.alpha) };
      const { dq, dEnc } = layer.backwardPtr(td.ptr);
      errs.dq = scaledErr(heap().f32(dq, T * B * H), rg.dq);
      errs.dEnc = scaledErr(heap().f32(dEnc, S * B * c.encoderSize), rg.dEnc);
      const grads = layer.gradStateDict();
      expect(Object.keys(grads).sort()).toEqual(Object.keys(rg.grads).sort());
      for (const n of Object.keys(rg.grads)) errs[n] = scaledErr(grads[n], rg.grads[n]);
      const worst = Object.entries(errs).reduce((w, e) => (e[1] > w[1] ? e : w));
      console.log(`attention ${score} T${T} S${S} B${B} H${H}: worst scaled error ${worst[1].toExponential(2)} (${worst[0]})`);
      for (const [n, e] of Object.entries(errs)) expect(e, n).toBeLessThan(2e-5);
      // Masked source steps: exactly zero weight.
      const w = layer.weights();
      for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) for (let s = lengths[b]; s < S; s++) expect(w[(t * B + b) * S + s]).toBe(0);
      expect(kernels().count_nonfinite(dEnc, S * B * c.encoderSize)).toBe(0);
      layer.dispose();
      buf.dispose();
    });
  }
});

describe("tier 3: Seq2Seq with attention against PyTorch 1.13", () => {
  // float32 on both sides, summed in different orders: loss 1e-5 relative,
  // gradients and attention weights 1e-4 scaled (measured ~1e-6; up to 2e-5
  // for the additive query weight, a sum over source steps of terms that
  // cancel: the softmax gradient sums to zero over them).
  const dir = new URL("./fixtures/torch-attention/", import.meta.url);
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".json")) : [];
  it("has fixtures for every score kind, uni- and bidirectional", () => {
    const specs = files.map((f) => JSON.parse(readFileSync(new URL(f, dir), "utf8")).spec as Seq2SeqSpec);
    for (const k of KINDS) expect(specs.some((s) => s.attention === k), k).toBe(true);
    expect(specs.some((s) => s.recurrent.bidirectional)).toBe(true);
    expect(specs.some((s) => !s.recurrent.bidirectional)).toBe(true);
  });
  for (const file of files) {
    it(`${file}: loss, every gradient by name, attention weights (padded sources)`, () => {
      const f = JSON.parse(readFileSync(new URL(file, dir), "utf8"));
      const m = new Seq2Seq(f.spec);
      expect([...m.parameters().keys()].sort()).toEqual(Object.keys(f.state_dict).sort());
      for (const [n, t] of m.parameters()) expect(t.shape, n).toEqual(f.shapes[n]);
      m.loadStateDict(f.state_dict);
      let loss = NaN;
      // One full-batch step with a negligible learning rate: the gradients stay in the grad arenas.
      m.fit({ sources: f.sources, targets: f.targets }, {
        epochs: 1, batchSize: f.sources.length, shuffle: false, clipNorm: null, optimizer: { type: "sgd", lr: 1e-30 },
        onStep: (st) => { loss = st.loss; },
      });
      const errs: Record<string, number> = {};
      for (const [n, t] of m.gradients()) errs[n] = scaledErr(t.toArray(), f.grads[n]);
      f.sources.forEach((s: number[], b: number) => {
        errs[`alpha[${b}]`] = scaledErr(m.attentionWeights(s, f.targets[b]).flat(), f.alpha[b]);
      });
      const worst = Object.entries(errs).reduce((w, e) => (e[1] > w[1] ? e : w));
      console.log(`${file}: loss ${loss} vs torch ${f.loss}; worst scaled error ${worst[1].toExponential(2)} (${worst[0]})`);
      expect(Math.abs(loss - f.loss) / f.loss).toBeLessThan(1e-5);
      expect(Object.keys(errs).filter((n) => !n.startsWith("alpha")).sort()).toEqual(Object.keys(f.grads).sort());
      for (const [n, e] of Object.entries(errs)) expect(e, n).toBeLessThan(1e-4);
      m.dispose();
    });
  }
});

// Digits 0-9 are tokens 0-9; 10 = begin, 11 = end.
function reversal(n: number, rng: Rng) {
  const sources: number[][] = [];
  const targets: number[][] = [];
  for (let i = 0; i < n; i++) {
    const s = Array.from({ length: 3 + rng.int(6) }, () => rng.int(10));
    sources.push(s);
    targets.push([...s].reverse());
  }
  return { sources, targets };
}
const reverseSpec = (attention: ScoreKind, bidirectional: boolean): Seq2SeqSpec => ({
  source: { type: "tokens", vocabSize: 10, embeddingDim: 16 },
  target: { vocabSize: 12, embeddingDim: 16, bosId: 10, eosId: 11 },
  recurrent: { cell: "gru", hiddenSize: 48, bidirectional },
  attention,
  seed: 5,
});

describe("Seq2Seq with attention learns, decodes, saves", () => {
  it("reverses digit strings; greedy and beam decode; the weights find the mirrored position", () => {
    const rng = new Rng(1);
    const train = reversal(2000, rng);
    const test = reversal(100, rng);
    const m = new Seq2Seq(reverseSpec("additive", true));
    m.fit(train, { epochs: 6, batchSize: 32, optimizer: { type: "adam", lr: 0.01 } });
    const greedy = m.generate(test.sources, { maxLength: 12 });
    const exact = greedy.filter((g, i) => g.join() === test.targets[i].join()).length / test.sources.length;
    const beam = test.sources.slice(0, 30).map((s) => m.generate([s], { beamWidth: 3, maxLength: 12 })[0]);
    const exactBeam = beam.filter((g, i) => g.join() === test.targets[i].join()).length / beam.length;
    // Output step i of a reversal copies source step len-1-i: where the weights should peak.
    let hits = 0;
    let rows = 0;
    for (const s of test.sources.slice(0, 30)) {
      const w = m.attentionWeights(s, [...s].reverse());
      expect(w.length).toBe(s.length + 1); // every target token and the end token
      for (let i = 0; i < s.length; i++, rows++) {
        expect(w[i].length).toBe(s.length);
        expect(w[i].reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
        if (w[i].indexOf(Math.max(...w[i])) === s.length - 1 - i) hits++;
      }
    }
    console.log(`reverse digits with attention: greedy exact ${(100 * exact).toFixed(1)}%, beam(3) ${(100 * exactBeam).toFixed(1)}%, weights peak at the mirrored step in ${((100 * hits) / rows).toFixed(1)}% of rows`);
    expect(exact).toBeGreaterThanOrEqual(0.9);
    expect(exactBeam).toBeGreaterThanOrEqual(0.9);
    expect(hits / rows).toBeGreaterThanOrEqual(0.8);
    // Free-running weights: one row per written token plus the end token.
    expect(m.attentionWeights(test.sources[0]).length).toBe(greedy[0].length + 1);
    m.dispose();
  });

  it("trains with scheduled sampling; saves and loads: toJSON and the file carry attention; outputs are identical after loading", () => {
    const m = new Seq2Seq(reverseSpec("general", true));
    const rng = new Rng(2);
    const data = reversal(200, rng);
    const l0 = m.evaluate(data).loss;
    m.fit(data, { epochs: 2, batchSize: 16, optimizer: { type: "adam", lr: 0.01 }, scheduledSampling: 0.2 }); // through the attention path too
    expect(m.evaluate(data).loss).toBeLessThan(0.9 * l0);
    expect(m.toJSON().attention).toBe("general");
    const bytes = saveModel(m);
    expect(new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true)).toBe(2);
    const { model } = loadModel(bytes);
    const m2 = model as Seq2Seq;
    expect(m2.toJSON()).toEqual(m.toJSON());
    const probe = reversal(5, rng).sources;
    expect(m2.generate(probe)).toEqual(m.generate(probe));
    expect(m2.attentionWeights(probe[0])).toEqual(m.attentionWeights(probe[0]));
    m.dispose();
    m2.dispose();
  });

  it("input feeding: trains, decodes greedy and by beam search, saves and loads", () => {
    const m = new Seq2Seq({ ...reverseSpec("general", false), inputFeeding: true });
    expect(m.parameters().get("decoder.rnn0.weight_ih_l0")!.shape).toEqual([3 * 48, 16 + 48]); // reads [embedding; h~]
    const rng = new Rng(4);
    const data = reversal(300, rng);
    const l0 = m.evaluate(data).loss;
    m.fit(data, { epochs: 2, batchSize: 16, optimizer: { type: "adam", lr: 0.01 } });
    expect(m.evaluate(data).loss).toBeLessThan(0.9 * l0);
    const probe = reversal(4, rng).sources;
    const greedy = m.generate(probe, { maxLength: 10 });
    const beam = probe.map((s) => m.generate([s], { beamWidth: 3, maxLength: 10 })[0]);
    expect(beam.every((b) => b.length <= 10)).toBe(true);
    // Greedy one at a time and in a batch agree (the fed h~ is per row).
    expect(probe.map((s) => m.generate([s], { maxLength: 10 })[0])).toEqual(greedy);
    const m2 = loadModel(saveModel(m)).model as Seq2Seq;
    expect(m2.toJSON().inputFeeding).toBe(true);
    expect(m2.generate(probe, { maxLength: 10 })).toEqual(greedy);
    expect(probe.map((s) => m2.generate([s], { beamWidth: 3, maxLength: 10 })[0])).toEqual(beam);
    m.dispose();
    m2.dispose();
  });

  it("loads a model file written by the version-1 code (no attention) with the same outputs", () => {
    const dir = new URL("./fixtures/models/", import.meta.url);
    const bytes = readFileSync(new URL("seq2seq-v1.unfold", dir));
    const ref = JSON.parse(readFileSync(new URL("seq2seq-v1.json", dir), "utf8"));
    expect(bytes.readUInt32LE(8)).toBe(1);
    const m = loadModel(bytes).model as Seq2Seq;
    expect(m.attention).toBeNull();
    expect(m.generate(ref.sources, { maxLength: 8 })).toEqual(ref.greedy);
    m.dispose();
  });
});

describe("attention: bad input gets a clear error and changes nothing", () => {
  it("an empty source", () => {
    const m = new Seq2Seq(reverseSpec("dot", false));
    const before = m.stateDict();
    const err = (() => {
      try {
        m.generate([[1, 2], []]);
      } catch (e) {
        return e as UnfoldError;
      }
    })();
    expect(err).toBeInstanceOf(UnfoldError);
    expect(err!.code).toBe("E_SHAPE");
    expect(err!.message).toMatch(/sources?\[?1\]? is empty/);
    expect(() => m.attentionWeights([])).toThrow(/source 0 is empty/);
    expect(() => m.fit({ sources: [[1], []], targets: [[1], [2]] })).toThrow(/sources?\[?1\]? is empty/);
    expect(m.stateDict()).toEqual(before);
    expect(m.trainState.history.steps).toBe(0);
    // Still works afterwards.
    expect(m.generate([[1, 2, 3]], { maxLength: 3 })[0].length).toBeLessThanOrEqual(3);
    m.dispose();
  });

  it("bad attention options", () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as UnfoldError).code;
      }
    };
    expect(code(() => new Seq2Seq({ ...reverseSpec("dot", false), attention: "luong" as ScoreKind }))).toBe("E_OPTION");
    expect(code(() => new Seq2Seq(reverseSpec("dot", true)))).toBe("E_OPTION"); // dot needs DE = H
    expect(code(() => new Seq2Seq({ ...reverseSpec("general", false), source: { type: "vector", size: 3 } }))).toBe("E_OPTION");
    expect(code(() => new Seq2Seq({ ...reverseSpec("general", false), attention: undefined, inputFeeding: true }))).toBe("E_OPTION");
    const plain = new Seq2Seq({ ...reverseSpec("general", false), attention: undefined });
    expect(code(() => plain.attentionWeights([1, 2]))).toBe("E_STATE");
    plain.dispose();
  });
});
