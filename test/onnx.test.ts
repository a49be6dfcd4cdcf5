// src/onnx: toONNX graphs run in ONNX Runtime (onnxruntime-web, WASM backend,
// one thread, in Node; one case in headless Chromium) and must give our
// outputs. Tolerance: |ours - ort| <= 1e-5 * max(1, |ours|) for every value
// (both engines are float32; the differences are rounding in the GEMMs and
// our polynomial sigmoid/tanh, ~1e-7 relative).
//
// The protobuf encoding is checked independently by decoding our bytes with
// protobufjs and the ONNX schema (the fields we write, test/onnx.proto subset below).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-web";
import protobuf from "protobufjs";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UnfoldError } from "../src/errors.js";
import { Sequential, type SequentialSpec } from "../src/model/sequential.js";
import { Seq2Seq, type Seq2SeqSpec } from "../src/model/seq2seq.js";
import type { AttentionSession } from "../src/model/attention-session.js";
import { toONNX } from "../src/onnx/index.js";
import { ProtoWriter } from "../src/onnx/protobuf.js";
import { heap, init } from "../src/runtime/wasm.js";
import { Rng } from "../src/util/rng.js";
import { deadline, findChromium, ROOT, serve } from "./runtimes/harness.js";

const TOL = 1e-5;

beforeAll(async () => {
  await init();
  ort.env.wasm.numThreads = 1;
});

/** Largest |a-b| / max(1, |a|); throws on a length mismatch. */
function relErr(ours: ArrayLike<number>, theirs: ArrayLike<number>): number {
  expect(theirs.length).toBe(ours.length);
  let m = 0;
  for (let i = 0; i < ours.length; i++) m = Math.max(m, Math.abs(ours[i] - theirs[i]) / Math.max(1, Math.abs(ours[i])));
  return m;
}

const i64 = (a: ArrayLike<number>, dims: number[]) => new ort.Tensor("int64", BigInt64Array.from(Array.from(a, (v) => BigInt(v))), dims);
const f32 = (a: Float32Array, dims: number[]) => new ort.Tensor("float32", a, dims);
const i32 = (a: ArrayLike<number>) => new ort.Tensor("int32", Int32Array.from(a), [a.length]);

async function session(bytes: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
}

/** A random batch for a Sequential: ids in [0, V) or features, and lengths (T for the longest). */
function batchFor(spec: SequentialSpec, T: number, B: number, rng: Rng, equal: boolean) {
  const lengths = Int32Array.from({ length: B }, (_, b) => (equal || b === 0 ? T : 1 + Math.floor(rng.next() * T)));
  if (spec.input.type === "tokens") {
    const V = spec.input.vocabSize;
    return { T, B, lengths, ids: Int32Array.from({ length: T * B }, () => Math.floor(rng.next() * V)) };
  }
  return { T, B, lengths, features: Float32Array.from({ length: T * B * spec.input.size }, () => rng.next() * 4 - 2) };
}

/** Our output for a batch: [T*B, O] (many-to-many) or [B, O]. */
function ours(m: Sequential, b: ReturnType<typeof batchFor>, state: "zeros" | "keep" = "zeros"): Float32Array {
  const { out, rows } = m.forwardPtr(b, { state });
  return heap().f32(out, rows * m.spec.output.size).slice();
}

function softmaxRows(x: Float32Array, O: number): Float32Array {
  const y = new Float32Array(x.length);
  for (let r = 0; r < x.length / O; r++) {
    let mx = -Infinity;
    for (let o = 0; o < O; o++) mx = Math.max(mx, x[r * O + o]);
    let s = 0;
    for (let o = 0; o < O; o++) s += (y[r * O + o] = Math.exp(x[r * O + o] - mx));
    for (let o = 0; o < O; o++) y[r * O + o] /= s;
  }
  return y;
}

/** Keep only the rows of real steps (t < lengths[b]) of a time-major [T*B, O] array. */
function realSteps(x: ArrayLike<number>, T: number, B: number, O: number, lengths: Int32Array): number[] {
  const out: number[] = [];
  for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) if (t < lengths[b]) for (let o = 0; o < O; o++) out.push(x[(t * B + b) * O + o]);
  return out;
}

interface Case {
  name: string;
  spec: SequentialSpec;
  equal?: boolean;
  softmax?: boolean;
  lengths?: boolean;
}

const tok = (V: number, E: number) => ({ type: "tokens" as const, vocabSize: V, embeddingDim: E });
const feat = (F: number) => ({ type: "features" as const, size: F });

const CASES: Case[] = [
  { name: "char LM: tokens, LSTM, many-to-many, padded batch", spec: { input: tok(11, 6), recurrent: [{ cell: "lstm", hiddenSize: 9 }], output: { size: 11, loss: "xent" }, mode: "many-to-many", seed: 1 } },
  { name: "classifier: tokens, GRU, many-to-one, padded batch, softmax", softmax: true, spec: { input: tok(13, 5), recurrent: [{ cell: "gru", hiddenSize: 7 }], output: { size: 3, loss: "xent" }, mode: "many-to-one", seed: 2 } },
  { name: "features, SimpleRNN tanh, 2 stacked layers, many-to-many mse", spec: { input: feat(4), recurrent: [{ cell: "rnn", hiddenSize: 8, numLayers: 2, dropout: 0.3 }], output: { size: 2, loss: "mse" }, mode: "many-to-many", seed: 3 } },
  { name: "features, SimpleRNN relu, bidirectional, many-to-one, no lengths input", equal: true, lengths: false, spec: { input: feat(3), recurrent: [{ cell: "rnn_relu", hiddenSize: 6, bidirectional: true }], output: { size: 2, loss: "mse" }, mode: "many-to-one", seed: 4 } },
  {
    name: "tokens, bidirectional 2-layer LSTM then GRU, many-to-many, softmax, padded", softmax: true,
    spec: { input: tok(9, 4), recurrent: [{ cell: "lstm", hiddenSize: 5, numLayers: 2, bidirectional: true }, { cell: "gru", hiddenSize: 6 }], output: { size: 9, loss: "xent" }, mode: "many-to-many", seed: 5 },
  },
  { name: "features, bidirectional GRU, many-to-one, padded", spec: { input: feat(5), recurrent: [{ cell: "gru", hiddenSize: 4, bidirectional: true, numLayers: 2 }], output: { size: 3, loss: "xent" }, mode: "many-to-one", seed: 6 } },
  { name: "features, 2-layer LSTM (forgetBias 1) + SimpleRNN, many-to-one, padded", spec: { input: feat(3), recurrent: [{ cell: "lstm", hiddenSize: 6, numLayers: 2, forgetBias: 1 }, { cell: "rnn", hiddenSize: 5 }], output: { size: 1, loss: "mse" }, mode: "many-to-one", seed: 7 } },
  // The Keras / tfjs-layers variants: ONNX Runtime is the reference for their forward values.
  { name: "Keras variants: tokens, hard-sigmoid LSTM (HardSigmoid 0.2/0.5), padded", spec: { input: tok(10, 5), recurrent: [{ cell: "lstm", hiddenSize: 9, gateActivation: "hard_sigmoid" }], output: { size: 10, loss: "xent" }, mode: "many-to-many", seed: 8 } },
  { name: "Keras variants: features, reset-before GRU (linear_before_reset 0), 2 layers, padded", spec: { input: feat(4), recurrent: [{ cell: "gru", hiddenSize: 8, numLayers: 2, resetAfter: false }], output: { size: 3, loss: "xent" }, mode: "many-to-many", seed: 9 } },
  {
    name: "Keras variants: bidirectional hard-sigmoid reset-before GRU + bidirectional hard-sigmoid LSTM, many-to-one", equal: true, softmax: true,
    spec: { input: feat(3), recurrent: [{ cell: "gru", hiddenSize: 5, bidirectional: true, resetAfter: false, gateActivation: "hard_sigmoid" }, { cell: "lstm", hiddenSize: 4, bidirectional: true, gateActivation: "hard_sigmoid" }], output: { size: 3, loss: "xent" }, mode: "many-to-one", seed: 10 },
  },
];

describe("toONNX(Sequential) in onnxruntime-web", () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const m = new Sequential(c.spec);
      // A few training steps, so the weights are not just their initialisation.
      const rng = new Rng(99);
      const T = 6, B = 4;
      const O = c.spec.output.size;
      try {
        const train = batchFor(c.spec, T, B, rng, true);
        const many = c.spec.mode === "many-to-many";
        const n = many ? T * B : B;
        const targets = c.spec.output.loss === "xent" ? Int32Array.from({ length: n }, () => Math.floor(rng.next() * O)) : Float32Array.from({ length: n * O }, () => rng.next());
        for (let s = 0; s < 3; s++) {
          m.forwardPtr(train, { training: false });
          m.lossAndGrad({ ...train, targets });
          m.backwardPtr();
          for (const [name, p] of m.parameters()) {
            const g = m.gradients().get(name)!.f32();
            const w = p.f32();
            for (let i = 0; i < w.length; i++) w[i] -= 0.5 * g[i];
          }
        }
        const b = batchFor(c.spec, T, B, rng, c.equal ?? false);
        let want = ours(m, b);
        if (c.softmax) want = softmaxRows(want, O);
        const s = await session(toONNX(m, { softmax: c.softmax, lengths: c.lengths }));
        const feeds: Record<string, ort.Tensor> = {};
        if (b.ids) feeds.tokens = i64(b.ids, [T, B]);
        else feeds.features = f32(b.features!, [T, B, c.spec.input.type === "features" ? c.spec.input.size : 0]);
        if (c.lengths !== false) feeds.lengths = i32(b.lengths);
        expect([...s.inputNames].sort()).toEqual(Object.keys(feeds).sort());
        const outName = c.spec.output.loss === "mse" ? "predictions" : c.softmax ? "probabilities" : "logits";
        expect(s.outputNames).toEqual([outName]);
        const r = await s.run(feeds);
        const got = r[outName];
        expect(got.dims).toEqual(many ? [T, B, O] : [B, O]);
        const data = got.data as Float32Array;
        const err = many ? relErr(realSteps(want, T, B, O, b.lengths), realSteps(data, T, B, O, b.lengths)) : relErr(want, data);
        console.log(`[onnx] ${c.name}: max rel. error ${err.toExponential(2)}`);
        expect(err).toBeLessThan(TOL);
        await s.release();
      } finally {
        m.dispose();
      }
    });
  }

  it("a bidirectional model on a padded batch: each sequence as if run alone (reverse direction from its last real step)", async () => {
    const spec: SequentialSpec = { input: tok(8, 4), recurrent: [{ cell: "gru", hiddenSize: 5, bidirectional: true }, { cell: "lstm", hiddenSize: 4, bidirectional: true }], output: { size: 3, loss: "xent" }, mode: "many-to-many", seed: 10 };
    const m = new Sequential(spec);
    const s = await session(toONNX(m));
    try {
      const rng = new Rng(4);
      const T = 7, B = 3;
      const b = batchFor(spec, T, B, rng, false);
      const r = await s.run({ tokens: i64(b.ids!, [T, B]), lengths: i32(b.lengths) });
      const y = r.logits.data as Float32Array; // [T, B, 3]
      // Ours on the same padded batch: packed semantics, so the same numbers at every real step.
      expect(relErr(realSteps(ours(m, b), T, B, 3, b.lengths), realSteps(y, T, B, 3, b.lengths))).toBeLessThan(TOL);
      for (let j = 0; j < B; j++) {
        const L = b.lengths[j];
        const alone = ours(m, { T: L, B: 1, lengths: Int32Array.of(L), ids: Int32Array.from({ length: L }, (_, t) => b.ids![t * B + j]) });
        const got = Array.from({ length: L * 3 }, (_, i) => y[(Math.floor(i / 3) * B + j) * 3 + (i % 3)]);
        expect(relErr(alone, got)).toBeLessThan(TOL);
        for (let t = L; t < T; t++) for (let o = 0; o < 3; o++) expect(y[(t * B + j) * 3 + o]).toBe(m.stateDict()["head.bias"][o]); // past the length: zero state, so the head's bias
      }
    } finally {
      await s.release();
      m.dispose();
    }
  });

  it("states: true carries the hidden and cell state across calls like our truncated-BPTT carry", async () => {
    const spec: SequentialSpec = { input: tok(10, 4), recurrent: [{ cell: "lstm", hiddenSize: 6, numLayers: 2 }, { cell: "gru", hiddenSize: 5 }], output: { size: 10, loss: "xent" }, mode: "many-to-many", seed: 8 };
    const m = new Sequential(spec);
    const s = await session(toONNX(m, { states: true, lengths: false }));
    try {
      expect([...s.inputNames].sort()).toEqual(["rnn0.c0", "rnn0.h0", "rnn1.h0", "tokens"]);
      expect([...s.outputNames].sort()).toEqual(["logits", "rnn0.cN", "rnn0.hN", "rnn1.hN"]);
      const rng = new Rng(5);
      const T = 5, B = 3;
      let state: Record<string, ort.Tensor> = {
        "rnn0.h0": f32(new Float32Array(2 * B * 6), [2, B, 6]),
        "rnn0.c0": f32(new Float32Array(2 * B * 6), [2, B, 6]),
        "rnn1.h0": f32(new Float32Array(B * 5), [1, B, 5]),
      };
      m.resetState();
      for (let chunk = 0; chunk < 3; chunk++) {
        const b = batchFor(spec, T, B, rng, true);
        const want = ours(m, b, "keep");
        m.carryState();
        const r = await s.run({ tokens: i64(b.ids!, [T, B]), ...state });
        const err = relErr(want, r.logits.data as Float32Array);
        expect(err).toBeLessThan(TOL);
        state = { "rnn0.h0": r["rnn0.hN"], "rnn0.c0": r["rnn0.cN"], "rnn1.h0": r["rnn1.hN"] };
      }
    } finally {
      await s.release();
      m.dispose();
    }
  });
});

describe("toONNX(Seq2Seq): encoder graph + a decoder step graph looped by the caller", () => {
  const cases: [string, Seq2SeqSpec][] = [
    ["token source, 2-layer LSTM", { source: tok(12, 5), target: { vocabSize: 10, embeddingDim: 4, bosId: 0, eosId: 1 }, recurrent: { cell: "lstm", hiddenSize: 7, numLayers: 2 }, seed: 11 }],
    ["vector source (one-to-many), GRU", { source: { type: "vector", size: 6 }, target: { vocabSize: 8, embeddingDim: 3, bosId: 0, eosId: 1 }, recurrent: { cell: "gru", hiddenSize: 5 }, seed: 12 }],
    ["vector source, LSTM (c0 = 0)", { source: { type: "vector", size: 4 }, target: { vocabSize: 7, embeddingDim: 3, bosId: 0, eosId: 1 }, recurrent: { cell: "lstm", hiddenSize: 5, numLayers: 2 }, seed: 13 }],
  ];
  for (const [name, spec] of cases) {
    it(`${name}: greedy decoding in ONNX Runtime writes what Seq2Seq.generate writes, logits within ${TOL}`, async () => {
      const m = new Seq2Seq(spec);
      const rng = new Rng(21);
      const B = 3;
      const sources: number[][] =
        spec.source.type === "tokens"
          ? Array.from({ length: B }, (_, b) => Array.from({ length: 6 - b }, () => Math.floor(rng.next() * (spec.source as { vocabSize: number }).vocabSize)))
          : Array.from({ length: B }, () => Array.from({ length: (spec.source as { size: number }).size }, () => rng.next() * 2 - 1));
      // Train a little so decoding is not trivial.
      const targets = sources.map(() => Array.from({ length: 4 }, () => 2 + Math.floor(rng.next() * (spec.target.vocabSize - 2))));
      m.fit({ sources, targets }, { epochs: 5, batchSize: 3, optimizer: { type: "adam", lr: 0.05 } });
      const { encoder, decoder } = toONNX(m);
      const enc = await session(encoder);
      const dec = await session(decoder);
      try {
        const lstm = spec.recurrent.cell === "lstm";
        expect([...dec.inputNames].sort()).toEqual(lstm ? ["c0", "h0", "tokens"] : ["h0", "tokens"]);
        let feeds: Record<string, ort.Tensor>;
        if (spec.source.type === "tokens") {
          const S = Math.max(...sources.map((s) => s.length));
          const ids = new Array<number>(S * B).fill(0);
          sources.forEach((s, b) => s.forEach((v, t) => (ids[t * B + b] = v)));
          feeds = { source: i64(ids, [S, B]), source_lengths: i32(sources.map((s) => s.length)) };
        } else {
          const F = sources[0].length;
          feeds = { source: f32(Float32Array.from(sources.flat()), [B, F]) };
        }
        const e = await enc.run(feeds);
        let state: Record<string, ort.Tensor> = lstm ? { h0: e.hN, c0: e.cN } : { h0: e.hN };
        const maxLength = 8;
        const want = m.generate(sources, { maxLength });
        const got: number[][] = sources.map(() => []);
        const done = new Array(B).fill(false);
        let tokens = new Array<number>(B).fill(spec.target.bosId);
        const V = spec.target.vocabSize;
        for (let t = 0; t < maxLength && done.includes(false); t++) {
          const r = await dec.run({ tokens: i64(tokens, [1, B]), ...state });
          const logits = r.logits.data as Float32Array;
          tokens = Array.from({ length: B }, (_, b) => {
            const row = logits.subarray(b * V, (b + 1) * V);
            return row.indexOf(Math.max(...row));
          });
          tokens.forEach((v, b) => {
            if (done[b]) return;
            if (v === spec.target.eosId) done[b] = true;
            else got[b].push(v);
          });
          state = lstm ? { h0: r.hN, c0: r.cN } : { h0: r.hN };
        }
        expect(got).toEqual(want);

        // The numbers: our decoder's logits from our encoder state, under teacher forcing, vs the ONNX decoder over the same tokens.
        const T = 4;
        const ids = Int32Array.from({ length: T * B }, () => Math.floor(rng.next() * V));
        const ourLogits = teacherForcedLogits(m, sources, ids, T, B);
        const e2 = await enc.run(feeds);
        const r = await dec.run({ tokens: i64(ids, [T, B]), ...(lstm ? { h0: e2.hN, c0: e2.cN } : { h0: e2.hN }) });
        const err = relErr(ourLogits, r.logits.data as Float32Array);
        console.log(`[onnx] seq2seq ${name}: max rel. error ${err.toExponential(2)}`);
        expect(err).toBeLessThan(TOL);
      } finally {
        await enc.release();
        await dec.release();
        m.dispose();
      }
    });
  }
});

describe("toONNX(Seq2Seq) with attention: encoder graph (+ encoder outputs) and a decoder step graph (scores, masked softmax, context, h~)", () => {
  const target = { vocabSize: 9, embeddingDim: 4, bosId: 0, eosId: 1 };
  const att = (score: "dot" | "general" | "additive", cell: "lstm" | "gru" | "rnn", bidirectional: boolean, inputFeeding: boolean, numLayers = 1, seed = 30): Seq2SeqSpec => ({
    source: tok(9, 5), target, recurrent: { cell, hiddenSize: 8, numLayers, bidirectional }, attention: score, inputFeeding, seed,
  });
  const cases: [string, Seq2SeqSpec][] = [
    ["dot, LSTM, unidirectional", att("dot", "lstm", false, false)],
    ["dot, GRU 2 layers, input feeding", att("dot", "gru", false, true, 2)],
    ["general, GRU, bidirectional", att("general", "gru", true, false)],
    ["general, LSTM 2 layers, bidirectional, input feeding", att("general", "lstm", true, true, 2)],
    ["additive, LSTM, unidirectional, input feeding", att("additive", "lstm", false, true)],
    ["additive, SimpleRNN, bidirectional 2 layers", att("additive", "rnn", true, false, 2)],
  ];
  for (const [name, spec] of cases) {
    it(`${name}: greedy decoding looped in ONNX Runtime = generate() on ragged sources; probabilities and weights = our session's`, async () => {
      const m = new Seq2Seq(spec);
      const rng = new Rng(41);
      const V = target.vocabSize;
      const data = { sources: [] as number[][], targets: [] as number[][] };
      for (let i = 0; i < 60; i++) {
        const n = 2 + Math.floor(rng.next() * 6);
        const t = Array.from({ length: n }, () => 2 + Math.floor(rng.next() * (V - 2)));
        data.targets.push(t);
        data.sources.push(t.slice().reverse());
      }
      m.fit(data, { epochs: 4, batchSize: 12, optimizer: { type: "adam", lr: 0.02 } });
      const sources = [data.sources[1], [3, 4], [5, 6, 7, 2, 3, 4, 5], data.sources[4]]; // ragged: lengths differ
      const B = sources.length;
      const { encoder, decoder } = toONNX(m);
      const enc = await session(encoder);
      const dec = await session(decoder);
      try {
        const lstm = spec.recurrent.cell === "lstm";
        const feeding = !!spec.inputFeeding;
        expect([...enc.outputNames].sort()).toEqual(lstm ? ["cN", "encoder_outputs", "hN"] : ["encoder_outputs", "hN"]);
        const ins = ["encoder_outputs", "h0", "source_lengths", "tokens", ...(lstm ? ["c0"] : []), ...(feeding ? ["h_tilde0"] : [])];
        expect([...dec.inputNames].sort()).toEqual(ins.sort());
        const S = Math.max(...sources.map((s) => s.length));
        const ids = new Array<number>(S * B).fill(0);
        sources.forEach((s, b) => s.forEach((v, t) => (ids[t * B + b] = v)));
        const lengths = i32(sources.map((s) => s.length));
        const e = await enc.run({ source: i64(ids, [S, B]), source_lengths: lengths });
        const H = spec.recurrent.hiddenSize;
        let state: Record<string, ort.Tensor> = lstm ? { h0: e.hN, c0: e.cN } : { h0: e.hN };
        if (feeding) state.h_tilde0 = f32(new Float32Array(B * H), [B, H]);
        const maxLength = 10;
        const want = m.generate(sources, { maxLength });
        expect(want.some((w) => w.length >= 2)).toBe(true);
        // Our streaming sessions, one per source, fed the same tokens: the reference numbers per step.
        const ourSessions = sources.map((s) => m.session(s) as AttentionSession);
        const got: number[][] = sources.map(() => []);
        const done = new Array(B).fill(false);
        let tokens = new Array<number>(B).fill(target.bosId);
        let errP = 0;
        let errW = 0;
        for (let t = 0; t < maxLength && done.includes(false); t++) {
          const r = await dec.run({ tokens: i64(tokens, [1, B]), encoder_outputs: e.encoder_outputs, source_lengths: lengths, ...state });
          const logits = r.logits.data as Float32Array; // [1, B, V]
          const w = r.attention_weights.data as Float32Array; // [1, B, S]
          expect(r.attention_weights.dims).toEqual([1, B, S]);
          for (let b = 0; b < B; b++) {
            if (done[b]) continue;
            const p = ourSessions[b].step(tokens[b]);
            errP = Math.max(errP, relErr(p, softmaxRows(logits.slice(b * V, (b + 1) * V), V)));
            const ow = ourSessions[b].attentionWeights();
            errW = Math.max(errW, relErr(ow, w.slice(b * S, b * S + sources[b].length)));
            for (let s = sources[b].length; s < S; s++) expect(w[b * S + s]).toBe(0); // padding gets no weight
          }
          tokens = Array.from({ length: B }, (_, b) => {
            const row = logits.subarray(b * V, (b + 1) * V);
            return row.indexOf(Math.max(...row));
          });
          tokens.forEach((v, b) => {
            if (done[b]) return;
            if (v === target.eosId) done[b] = true;
            else got[b].push(v);
          });
          state = lstm ? { h0: r.hN, c0: r.cN } : { h0: r.hN };
          if (feeding) state.h_tilde0 = r.h_tildeN;
        }
        ourSessions.forEach((s) => s.dispose());
        expect(got).toEqual(want);
        console.log(`[onnx] attention seq2seq ${name}: max rel. error of probabilities ${errP.toExponential(2)}, of weights ${errW.toExponential(2)}`);
        expect(errP).toBeLessThan(TOL);
        expect(errW).toBeLessThan(TOL);
      } finally {
        await enc.release();
        await dec.release();
        m.dispose();
      }
    });
  }

  it("without input feeding the decoder graph runs T steps at once: teacher-forced logits = T single steps", async () => {
    const m = new Seq2Seq(att("general", "lstm", true, false, 2, 33));
    const { encoder, decoder } = toONNX(m, { softmax: true });
    const enc = await session(encoder);
    const dec = await session(decoder);
    try {
      const sources = [[2, 3, 4, 5], [6, 7]];
      const B = 2, S = 4, T = 5, V = target.vocabSize;
      const ids = [2, 6, 3, 7, 4, 0, 5, 0];
      const lengths = i32([4, 2]);
      const e = await enc.run({ source: i64(ids, [S, B]), source_lengths: lengths });
      const rng = new Rng(3);
      const toks = Array.from({ length: T * B }, () => Math.floor(rng.next() * V));
      const all = await dec.run({ tokens: i64(toks, [T, B]), h0: e.hN, c0: e.cN, encoder_outputs: e.encoder_outputs, source_lengths: lengths });
      expect(all.probabilities.dims).toEqual([T, B, V]);
      const ours = sources.map((s) => m.session(s));
      let err = 0;
      for (let t = 0; t < T; t++) {
        for (let b = 0; b < B; b++) {
          const p = ours[b].step(toks[t * B + b]);
          err = Math.max(err, relErr(p, (all.probabilities.data as Float32Array).slice((t * B + b) * V, (t * B + b + 1) * V)));
        }
      }
      ours.forEach((s) => s.dispose());
      expect(err).toBeLessThan(TOL);
    } finally {
      await enc.release();
      await dec.release();
      m.dispose();
    }
  });
});

/** Our decoder logits [T*B, V] for decoder inputs `ids` after encoding `sources` (through the public decode path's pieces). */
function teacherForcedLogits(m: Seq2Seq, sources: number[][], ids: Int32Array, T: number, B: number): Float32Array {
  // Seq2Seq.encode is private; it is what generate() runs first, so call it the same way.
  (m as unknown as { encode(s: number[][], training: boolean): void }).encode(sources, false);
  const { out, rows } = m.decoder.forwardPtr({ T, B, ids }, { state: "keep" });
  const r = heap().f32(out, rows * m.spec.target.vocabSize).slice();
  m.decoder.resetState();
  return r;
}

describe("toONNX: what it refuses", () => {
  const base: SequentialSpec = { input: tok(5, 3), recurrent: [{ cell: "lstm", hiddenSize: 4 }], output: { size: 5, loss: "xent" }, mode: "many-to-many" };

  function refuses(fn: () => unknown, code: string, name: string): void {
    let err: unknown;
    try {
      fn();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UnfoldError);
    expect((err as UnfoldError).code).toBe(code);
    expect((err as UnfoldError).param).toBe(name);
    expect((err as UnfoldError).message).toContain(name.replace(/^options\./, ""));
  }

  it("a model feature the operators cannot express, named (a spec field it does not know)", () => {
    const m = new Sequential(base);
    try {
      // A later model feature (say attention) shows up as a spec field: the exporter must not silently drop it.
      (m as unknown as { spec: SequentialSpec & { attention?: unknown } }).spec.attention = { type: "luong" };
      refuses(() => toONNX(m), "E_UNSUPPORTED", "spec.attention");
      delete (m as unknown as { spec: { attention?: unknown } }).spec.attention;
      (m.spec.recurrent[0] as { layerNorm?: boolean }).layerNorm = true;
      refuses(() => toONNX(m), "E_UNSUPPORTED", "spec.recurrent[0].layerNorm");
    } finally {
      m.dispose();
    }
  });

  it("states with a bidirectional layer; softmax on a regression; unknown options; a non-model", () => {
    const bi = new Sequential({ ...base, recurrent: [{ cell: "gru", hiddenSize: 3 }, { cell: "lstm", hiddenSize: 4, bidirectional: true }] });
    const reg = new Sequential({ ...base, output: { size: 2, loss: "mse" } });
    try {
      refuses(() => toONNX(bi, { states: true }), "E_UNSUPPORTED", "recurrent[1].bidirectional");
      refuses(() => toONNX(reg, { softmax: true }), "E_OPTION", "options.softmax");
      refuses(() => toONNX(reg, { opset: 9 } as never), "E_OPTION", "options.opset");
      refuses(() => toONNX(reg, { states: "yes" } as never), "E_OPTION", "options.states");
      refuses(() => toONNX({ spec: base } as never), "E_UNSUPPORTED", "model");
    } finally {
      bi.dispose();
      reg.dispose();
    }
  });
});

describe("the package entry", () => {
  it("'unfold-rnn/onnx' resolves through package.json exports to the built toONNX", async () => {
    const { execFileSync } = await import("node:child_process");
    const code = 'import("unfold-rnn/onnx").then((m) => console.log(typeof m.toONNX, m.OPSET))';
    expect(execFileSync(process.execPath, ["--input-type=module", "-e", code], { cwd: ROOT, encoding: "utf8" }).trim()).toBe("function 17");
  });
});

describe("the protobuf writer", () => {
  // The subset of onnx/onnx.proto (proto2) that we write, for protobufjs to decode.
  const SCHEMA = `syntax = "proto2"; package onnx;
    message AttributeProto { optional string name = 1; optional float f = 2; optional int64 i = 3; optional bytes s = 4;
      repeated float floats = 7; repeated int64 ints = 8; repeated bytes strings = 9; optional int32 type = 20; }
    message NodeProto { repeated string input = 1; repeated string output = 2; optional string name = 3; optional string op_type = 4; repeated AttributeProto attribute = 5; }
    message TensorProto { repeated int64 dims = 1; optional int32 data_type = 2; optional string name = 8; optional bytes raw_data = 9; }
    message Dim { optional int64 dim_value = 1; optional string dim_param = 2; }
    message TensorShapeProto { repeated Dim dim = 1; }
    message TensorType { optional int32 elem_type = 1; optional TensorShapeProto shape = 2; }
    message TypeProto { optional TensorType tensor_type = 1; }
    message ValueInfoProto { optional string name = 1; optional TypeProto type = 2; }
    message GraphProto { repeated NodeProto node = 1; optional string name = 2; repeated TensorProto initializer = 5; repeated ValueInfoProto input = 11; repeated ValueInfoProto output = 12; }
    message OperatorSetIdProto { optional string domain = 1; optional int64 version = 2; }
    message StringStringEntryProto { optional string key = 1; optional string value = 2; }
    message ModelProto { optional int64 ir_version = 1; optional string producer_name = 2; optional GraphProto graph = 7; repeated OperatorSetIdProto opset_import = 8; repeated StringStringEntryProto metadata_props = 14; }
    message Scalars { optional int64 a = 1; optional int32 b = 2; optional float c = 3; optional string d = 4; repeated int64 e = 5; }`;
  const root = protobuf.parse(SCHEMA, { keepCase: true }).root;

  it("varints at byte boundaries and negatives, floats, strings, repeated fields decode with protobufjs", () => {
    const Scalars = root.lookupType("onnx.Scalars");
    for (const a of [0, 1, 127, 128, 16383, 16384, 2 ** 31, 2 ** 53 - 1, -1, -2, -(2 ** 40)]) {
      const bytes = new ProtoWriter().int(1, a).int(2, 300).float(3, 1.5).string(4, "h₀ é").int(5, 7).int(5, -3).finish();
      const d = Scalars.toObject(Scalars.decode(bytes), { longs: String }) as { a: string; b: number; c: number; d: string; e: string[] };
      expect(d).toEqual({ a: String(a), b: 300, c: 1.5, d: "h₀ é", e: ["7", "-3"] });
    }
  });

  it("an exported model decodes to the graph we meant: opset, LSTM gate order i,o,f,c, inputs and outputs", () => {
    const m = new Sequential({ input: feat(2), recurrent: [{ cell: "lstm", hiddenSize: 3 }], output: { size: 2, loss: "mse" }, mode: "many-to-one", seed: 9 });
    try {
      const Model = root.lookupType("onnx.ModelProto");
      const before = m.stateDict();
      const bytes = toONNX(m);
      expect(Buffer.from(toONNX(m)).equals(Buffer.from(bytes))).toBe(true); // deterministic
      expect(m.stateDict()).toEqual(before); // and the model is left as it was
      const d = Model.toObject(Model.decode(bytes), { longs: Number, bytes: Array }) as any;
      expect(d.ir_version).toBe(8);
      expect(d.opset_import).toEqual([{ domain: "", version: 17 }]);
      expect(d.graph.input.map((v: any) => v.name)).toEqual(["features", "lengths"]);
      expect(d.graph.input[0].type.tensor_type.shape.dim).toEqual([{ dim_param: "T" }, { dim_param: "B" }, { dim_value: 2 }]);
      expect(d.graph.output.map((v: any) => v.name)).toEqual(["predictions"]);
      const lstm = d.graph.node.find((n: any) => n.op_type === "LSTM");
      expect(lstm.attribute.find((a: any) => a.name === "hidden_size").i).toBe(3);
      const W = d.graph.initializer.find((t: any) => t.name === lstm.input[1]);
      expect(W.dims).toEqual([1, 12, 2]);
      const w = new Float32Array(Uint8Array.from(W.raw_data).buffer);
      const ours = m.parameters().get("rnn0.weight_ih_l0")!.toArray(); // [i; f; g; o] blocks of 3 rows x 2
      const block = (a: Float32Array, k: number) => Array.from(a.subarray(k * 6, k * 6 + 6));
      for (const [onnx, mine] of [[0, 0], [1, 3], [2, 1], [3, 2]]) expect(block(w, onnx)).toEqual(block(ours, mine));
    } finally {
      m.dispose();
    }
  });

  it("the attention decoder step: standard operators of the default domain only: the mask is Range + Less + Where, the weights a Softmax", () => {
    const Model = root.lookupType("onnx.ModelProto");
    const m = new Seq2Seq({ source: tok(7, 3), target: { vocabSize: 6, embeddingDim: 3, bosId: 0, eosId: 1 }, recurrent: { cell: "gru", hiddenSize: 4, bidirectional: true }, attention: "additive", inputFeeding: true, seed: 2 });
    try {
      const { encoder, decoder } = toONNX(m);
      const STANDARD = new Set(["Gather", "GRU", "LSTM", "RNN", "Transpose", "Reshape", "ReduceSum", "Identity", "Concat", "Unsqueeze", "Squeeze", "MatMul", "Add", "Tanh", "Shape", "Range", "Cast", "Less", "Where", "Softmax", "Slice"]);
      for (const bytes of [encoder, decoder]) {
        const d = Model.toObject(Model.decode(bytes), { longs: Number, bytes: Array }) as any;
        expect(d.opset_import).toEqual([{ domain: "", version: 17 }]);
        for (const n of d.graph.node) {
          expect(n.domain ?? "").toBe("");
          expect(STANDARD.has(n.op_type), n.op_type).toBe(true);
        }
      }
      const d = Model.toObject(Model.decode(decoder), { longs: Number, bytes: Array }) as any;
      const ops = d.graph.node.map((n: any) => n.op_type);
      for (const op of ["Range", "Less", "Where", "Softmax", "Tanh"]) expect(ops).toContain(op);
      expect(d.graph.input.map((v: any) => v.name)).toEqual(["tokens", "h0", "encoder_outputs", "source_lengths", "h_tilde0"]);
      expect(d.graph.output.map((v: any) => v.name)).toEqual(["logits", "hN", "attention_weights", "h_tildeN"]);
      // The combine weight W_c [H, DE + H] is exported transposed for MatMul([c; h], W_c^T).
      const Wc = d.graph.initializer.find((t: any) => t.name.startsWith("attention.combine.weight_T"));
      expect(Wc.dims).toEqual([12, 4]);
      const w = new Float32Array(Uint8Array.from(Wc.raw_data).buffer);
      const ours = m.parameters().get("attention.combine.weight")!.toArray(); // [4, 12]
      for (let r = 0; r < 4; r++) for (let c = 0; c < 12; c++) expect(w[c * 4 + r]).toBe(ours[r * 12 + c]);
    } finally {
      m.dispose();
    }
  });
});

describe("in headless Chromium (onnxruntime-web's browser bundle, served locally)", () => {
  const bin = findChromium();
  let tmp = "";
  afterAll(() => tmp && rmSync(tmp, { recursive: true, force: true }));
  const run = bin ? it : it.skip;
  if (!bin) console.warn("[onnx] skipping the Chromium test: no chromium binary (apt-get install -y chromium, or set CHROMIUM_PATH)");
  run("a bidirectional GRU + LSTM token model gives our outputs in the page", async () => {
    const spec: SequentialSpec = { input: tok(9, 4), recurrent: [{ cell: "gru", hiddenSize: 5, bidirectional: true }, { cell: "lstm", hiddenSize: 6 }], output: { size: 4, loss: "xent" }, mode: "many-to-one", seed: 31 };
    const m = new Sequential(spec);
    const rng = new Rng(3);
    const T = 5, B = 3;
    const b = batchFor(spec, T, B, rng, true);
    const want = softmaxRows(ours(m, b), 4);
    tmp = mkdtempSync(join(tmpdir(), "unfold-onnx-"));
    writeFileSync(join(tmp, "model.onnx"), toONNX(m, { softmax: true }));
    writeFileSync(join(tmp, "input.json"), JSON.stringify({ ids: Array.from(b.ids!), T, B, lengths: Array.from(b.lengths) }));
    m.dispose();
    writeFileSync(
      join(tmp, "index.html"),
      `<!doctype html><script type="module">
      globalThis.__result = (async () => {
        const ort = await import("/ort/ort.wasm.min.mjs");
        ort.env.wasm.numThreads = 1;
        ort.env.wasm.wasmPaths = "/ort/";
        const model = new Uint8Array(await (await fetch("/model.onnx")).arrayBuffer());
        const x = await (await fetch("/input.json")).json();
        const s = await ort.InferenceSession.create(model, { executionProviders: ["wasm"] });
        const r = await s.run({
          tokens: new ort.Tensor("int64", BigInt64Array.from(x.ids.map(BigInt)), [x.T, x.B]),
          lengths: new ort.Tensor("int32", Int32Array.from(x.lengths), [x.B]),
        });
        return { dims: r.probabilities.dims, data: Array.from(r.probabilities.data), ua: navigator.userAgent };
      })();
      </script>`,
    );
    const server = await serve({ "/": join(tmp, "index.html"), "/model.onnx": join(tmp, "model.onnx"), "/input.json": join(tmp, "input.json") }, { "/ort/": join(ROOT, "node_modules", "onnxruntime-web", "dist") });
    const browser = await chromium.launch({ executablePath: bin!.path, args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"], timeout: 30_000 });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      await page.goto(server.url + "/", { timeout: 15_000 });
      const r = await deadline(page.evaluate(() => (globalThis as unknown as { __result: Promise<{ dims: number[]; data: number[]; ua: string }> }).__result), 45_000, "ONNX Runtime in Chromium").catch((e) => {
        throw new Error(`${(e as Error).message}; page errors: ${errors.join("; ")}`);
      });
      expect(r.ua).toContain("Chrome");
      expect(r.dims).toEqual([B, 4]);
      const err = relErr(want, r.data);
      console.log(`[onnx] Chromium: max rel. error ${err.toExponential(2)}`);
      expect(err).toBeLessThan(TOL);
    } finally {
      await deadline(browser.close(), 10_000, "browser.close()").catch(() => {});
      await server.close();
    }
  }, 90_000);
});
