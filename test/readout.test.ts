// Many-to-one readout of a bidirectional top block (spec.readout):
// "last-step" reads both directions at step L_b - 1, so the reverse direction
// has read one token and its recurrent weights get no gradient at all;
// "final-states" reads the reverse half at step 0, where it has read the
// whole sequence (Keras' Bidirectional(return_sequences=False), PyTorch's
// torch.cat((h_n[-2], h_n[-1]), 1)). PyTorch parity of "final-states" is in
// test/torch-ragged.test.ts, batch invariance in test/batch-invariance.test.ts,
// ONNX in test/ragged-onnx.test.ts. CI budget: a few seconds.
import { beforeAll, describe, expect, it } from "vitest";
import { type Batch, Sequential, type SequentialSpec } from "../src/model/sequential.js";
import { heap } from "../src/runtime/wasm.js";
import { loadKernels, Rng } from "./helpers.js";

beforeAll(async () => {
  await loadKernels();
});

/** A ragged token batch [T, B] with class targets. */
function batch(rng: Rng, lengths: number[], V: number, O: number): Batch {
  const T = Math.max(...lengths), B = lengths.length;
  return {
    T, B, lengths: Int32Array.from(lengths),
    ids: Int32Array.from({ length: T * B }, () => rng.int(V)),
    targets: Int32Array.from({ length: B }, () => rng.int(O)),
  };
}

/** Forward, loss, backward; the head's output and the gradients by name. */
function step(m: Sequential, b: Batch): { y: Float32Array; g: Map<string, Float32Array> } {
  const { out, rows } = m.forwardPtr(b, { training: true });
  const y = heap().f32(out, rows * m.spec.output.size).slice();
  m.lossAndGrad(b);
  m.backwardPtr();
  return { y, g: new Map([...m.gradients()].map(([n, t]) => [n, t.toArray()])) };
}

const maxAbs = (a: Float32Array) => a.reduce((s, x) => Math.max(s, Math.abs(x)), 0);

describe("many-to-one readout", () => {
  it("1-layer bidirectional classifier: weight_hh_l0_reverse gets exactly zero gradient with 'last-step', a real one with 'final-states'", () => {
    for (const cell of ["lstm", "gru", "rnn"] as const) {
      const spec: SequentialSpec = { input: { type: "tokens", vocabSize: 8, embeddingDim: 4 }, recurrent: [{ cell, hiddenSize: 5, bidirectional: true }], output: { size: 3, loss: "xent" }, mode: "many-to-one", seed: 9 };
      const b = batch(new Rng(5), [6, 2, 4, 1, 5], 8, 3);
      const last = new Sequential(spec);
      const fin = new Sequential({ ...spec, readout: "final-states" });
      expect(fin.stateDict()).toEqual(last.stateDict()); // the readout changes no parameter
      const a = step(last, b), c = step(fin, b);
      const revLast = maxAbs(a.g.get("rnn0.weight_hh_l0_reverse")!), revFin = maxAbs(c.g.get("rnn0.weight_hh_l0_reverse")!);
      console.log(`${cell}: max |dL/d weight_hh_l0_reverse| last-step ${revLast}, final-states ${revFin.toExponential(2)}; forward direction ${maxAbs(a.g.get("rnn0.weight_hh_l0")!).toExponential(2)} / ${maxAbs(c.g.get("rnn0.weight_hh_l0")!).toExponential(2)}`);
      expect(revLast).toBe(0);
      expect(revFin).toBeGreaterThan(1e-4);
      // The forward direction is read at the same rows either way: its recurrent gradient is non-zero in both.
      expect(maxAbs(a.g.get("rnn0.weight_hh_l0")!)).toBeGreaterThan(1e-4);
      // A sequence of length 1: both readouts read row b of step 0, so its output is the same.
      expect(c.y.subarray(3 * 3, 4 * 3)).toEqual(a.y.subarray(3 * 3, 4 * 3));
      expect(c.y).not.toEqual(a.y);
      last.dispose();
      fin.dispose();
    }
  });

  it("a unidirectional top block: 'final-states' is 'last-step', outputs and gradients bit for bit", () => {
    const spec: SequentialSpec = { input: { type: "tokens", vocabSize: 6, embeddingDim: 3 }, recurrent: [{ cell: "gru", hiddenSize: 4, bidirectional: true }, { cell: "lstm", hiddenSize: 3, numLayers: 2 }], output: { size: 2, loss: "xent" }, mode: "many-to-one", seed: 2 };
    const b = batch(new Rng(8), [3, 7, 1, 5], 6, 2);
    const x = new Sequential(spec), y = new Sequential({ ...spec, readout: "final-states" });
    const p = step(x, b), q = step(y, b);
    expect(q.y).toEqual(p.y);
    for (const [n, g] of p.g) expect(q.g.get(n), n).toEqual(g);
    x.dispose();
    y.dispose();
  });

  it("issue 15's example with 'final-states': a 2-layer bidirectional GRU classifier trains on sequences of lengths 3-12", () => {
    const inputs = Array.from({ length: 300 }, (_, i) => Array.from({ length: 3 + (i % 10) }, (_, t) => (i * 7 + t * (1 + (i % 4))) % 9));
    // The class is the first token's: the reverse direction ends on it (at step 0), the forward direction starts there.
    const targets = inputs.map((s) => s[0] % 3);
    const losses: Record<string, { before: number; after: number; acc: number }> = {};
    for (const readout of ["final-states", "last-step"] as const) {
      const m = new Sequential({ input: { type: "tokens", vocabSize: 9, embeddingDim: 5 }, recurrent: [{ cell: "gru", hiddenSize: 7, numLayers: 2, bidirectional: true }], output: { size: 3, loss: "xent" }, mode: "many-to-one", readout, seed: 3 });
      const before = m.evaluate({ inputs, targets }).loss;
      const h = m.fit({ inputs, targets }, { epochs: 3, batchSize: 16, optimizer: { type: "adam", lr: 0.01 } });
      expect(h.epochs.length).toBe(3);
      const e = m.evaluate({ inputs, targets });
      losses[readout] = { before, after: e.loss, acc: e.accuracy! };
      m.dispose();
    }
    console.log(`first-token class, 3 epochs: ${JSON.stringify(losses)}`);
    expect(losses["final-states"].after).toBeLessThan(losses["final-states"].before * 0.5);
    expect(losses["final-states"].acc).toBeGreaterThan(0.9);
    // Same seed and data: "last-step" must carry the first token through the forward direction alone.
    expect(losses["final-states"].after).toBeLessThan(losses["last-step"].after);
  });
});
