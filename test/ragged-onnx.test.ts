// Padded bidirectional batches against an independent engine: our Sequential
// on a right-padded batch with lengths, and the same model exported with
// toONNX run by onnxruntime-web (its LSTM / GRU / RNN operators take the
// lengths as `sequence_lens`, PyTorch's packed semantics), give the same
// output for every real step — the two used to agree only on batches of
// equal lengths. Tolerance as test/onnx.test.ts: |ours - ort| <= 1e-5 max(1, |ours|).
import * as ort from "onnxruntime-web";
import { beforeAll, describe, expect, it } from "vitest";
import { Sequential, type SequentialSpec } from "../src/model/sequential.js";
import { toONNX } from "../src/onnx/index.js";
import { heap, init } from "../src/runtime/wasm.js";
import { Rng } from "../src/util/rng.js";

const TOL = 1e-5;

beforeAll(async () => {
  await init({ simd: "plain" });
  ort.env.wasm.numThreads = 1;
});

const CASES: { name: string; spec: SequentialSpec }[] = [
  { name: "tokens, bidirectional 2-layer LSTM then GRU, many-to-many", spec: { input: { type: "tokens", vocabSize: 9, embeddingDim: 4 }, recurrent: [{ cell: "lstm", hiddenSize: 5, numLayers: 2, bidirectional: true }, { cell: "gru", hiddenSize: 6 }], output: { size: 9, loss: "xent" }, mode: "many-to-many", seed: 5 } },
  { name: "features, bidirectional 2-layer GRU, many-to-one", spec: { input: { type: "features", size: 3 }, recurrent: [{ cell: "gru", hiddenSize: 4, numLayers: 2, bidirectional: true }], output: { size: 3, loss: "xent" }, mode: "many-to-one", seed: 6 } },
  { name: "features, bidirectional SimpleRNN relu, many-to-one mse", spec: { input: { type: "features", size: 2 }, recurrent: [{ cell: "rnn_relu", hiddenSize: 6, bidirectional: true }], output: { size: 2, loss: "mse" }, mode: "many-to-one", seed: 4 } },
  { name: "tokens, GRU then bidirectional LSTM, many-to-one", spec: { input: { type: "tokens", vocabSize: 7, embeddingDim: 3 }, recurrent: [{ cell: "gru", hiddenSize: 4 }, { cell: "lstm", hiddenSize: 3, bidirectional: true }], output: { size: 2, loss: "xent" }, mode: "many-to-one", seed: 7 } },
  // readout "final-states": the reverse half of the top output at step 0 (Slice / Gather / Concat in the graph)
  { name: "tokens, bidirectional 2-layer GRU, many-to-one, readout final-states", spec: { input: { type: "tokens", vocabSize: 9, embeddingDim: 4 }, recurrent: [{ cell: "gru", hiddenSize: 5, numLayers: 2, bidirectional: true }], output: { size: 3, loss: "xent" }, mode: "many-to-one", readout: "final-states", seed: 8 } },
  { name: "features, GRU then bidirectional LSTM, many-to-one mse, readout final-states", spec: { input: { type: "features", size: 3 }, recurrent: [{ cell: "gru", hiddenSize: 4 }, { cell: "lstm", hiddenSize: 3, bidirectional: true }], output: { size: 2, loss: "mse" }, mode: "many-to-one", readout: "final-states", seed: 9 } },
];

describe("padded bidirectional batches: ours = onnxruntime-web", () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const m = new Sequential(c.spec);
      const rng = new Rng(31);
      const T = 7, B = 5, O = c.spec.output.size;
      const lengths = Int32Array.from([7, 2, 5, 1, 4]);
      const feeds: Record<string, ort.Tensor> = { lengths: new ort.Tensor("int32", lengths, [B]) };
      const b: { T: number; B: number; lengths: Int32Array; ids?: Int32Array; features?: Float32Array } = { T, B, lengths };
      if (c.spec.input.type === "tokens") {
        const V = c.spec.input.vocabSize;
        b.ids = Int32Array.from({ length: T * B }, () => rng.int(V)); // padding: random ids
        feeds.tokens = new ort.Tensor("int64", BigInt64Array.from(Array.from(b.ids, (v) => BigInt(v))), [T, B]);
      } else {
        const F = c.spec.input.size;
        b.features = Float32Array.from({ length: T * B * F }, () => rng.uniform(-2, 2)); // padding: random values
        feeds.features = new ort.Tensor("float32", b.features, [T, B, F]);
      }
      const { out, rows } = m.forwardPtr(b);
      const ours = heap().f32(out, rows * O).slice();
      const s = await ort.InferenceSession.create(toONNX(m), { executionProviders: ["wasm"] });
      try {
        const r = await s.run(feeds);
        const theirs = r[s.outputNames[0]].data as Float32Array;
        expect(theirs.length).toBe(ours.length);
        let err = 0;
        for (let t = 0; t < (c.spec.mode === "many-to-many" ? T : 1); t++) {
          for (let j = 0; j < B; j++) {
            if (c.spec.mode === "many-to-many" && t >= lengths[j]) continue;
            const row = c.spec.mode === "many-to-many" ? t * B + j : j;
            for (let o = 0; o < O; o++) err = Math.max(err, Math.abs(ours[row * O + o] - theirs[row * O + o]) / Math.max(1, Math.abs(ours[row * O + o])));
          }
        }
        console.log(`[onnx ragged] ${c.name}: max rel. error ${err.toExponential(2)}`);
        expect(err).toBeLessThan(TOL);
        if (c.spec.readout === "final-states") {
          // The check can fail: the same weights read at the last step (the default) are far from the graph's.
          const other = new Sequential({ ...c.spec, readout: undefined });
          other.loadStateDict(m.stateDict());
          const o = other.forwardPtr(b);
          const y = heap().f32(o.out, o.rows * O);
          let diff = 0;
          for (let i = 0; i < y.length; i++) diff = Math.max(diff, Math.abs(y[i] - theirs[i]));
          other.dispose();
          expect(diff).toBeGreaterThan(1e-2);
          // Without the lengths input (every sequence T steps) the graph reads step 0 and step T-1.
          const full = await ort.InferenceSession.create(toONNX(m, { lengths: false }), { executionProviders: ["wasm"] });
          const { lengths: _, ...noLens } = feeds;
          const r2 = await full.run(noLens);
          const mine = m.forwardPtr({ ...b, lengths: undefined });
          const ours2 = heap().f32(mine.out, mine.rows * O).slice();
          const t2 = r2[full.outputNames[0]].data as Float32Array;
          let e2 = 0;
          for (let i = 0; i < ours2.length; i++) e2 = Math.max(e2, Math.abs(ours2[i] - t2[i]) / Math.max(1, Math.abs(ours2[i])));
          await full.release();
          expect(e2).toBeLessThan(TOL);
        }
      } finally {
        await s.release();
        m.dispose();
      }
    });
  }
});
