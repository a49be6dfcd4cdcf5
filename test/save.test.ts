// Saving and loading models: the round trip restores weights, vocabulary and
// the optimizer, so training resumes exactly; corrupt files fail cleanly.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { Sequential, type SequentialSpec } from "../src/model/sequential.js";
import { Seq2Seq } from "../src/model/seq2seq.js";
import { loadModel, saveModel } from "../src/model/save.js";
import { loadModelFile, saveModelFile } from "../src/node.js";
import { decodeModel, encodeModel } from "../src/io/format.js";
import { Vocab } from "../src/data/vocab.js";
import { loadKernels } from "./helpers.js";

beforeAll(async () => {
  await loadKernels();
});

const text = "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age of foolishness";

function lm(seed = 1) {
  const vocab = Vocab.fromChars(text);
  const model = new Sequential({
    input: { type: "tokens", vocabSize: vocab.size, embeddingDim: 8 },
    recurrent: [{ cell: "lstm", hiddenSize: 16, numLayers: 2 }],
    output: { size: vocab.size, loss: "xent" },
    mode: "many-to-many",
    seed,
  });
  return { vocab, model, ids: vocab.encode(text) };
}

describe("save / load", () => {
  it("round trip restores weights and vocabulary, and resumed training is bit-identical", () => {
    const { vocab, model, ids } = lm();
    const opts = { batchSize: 4, tbptt: { k1: 8 }, optimizer: { type: "adam" as const, lr: 0.01 } };
    model.fit({ stream: ids }, { ...opts, epochs: 2 });
    const bytes = saveModel(model, { vocab, meta: { note: "test" } });
    const { model: m2, vocab: v2, meta } = loadModel(bytes);
    expect(meta).toEqual({ note: "test" });
    expect(v2!.toJSON()).toEqual(vocab.toJSON());
    expect(m2.stateDict()).toEqual(model.stateDict());
    expect(m2.trainState.history.steps).toBe(model.trainState.history.steps);
    // Continue both: the loaded one must follow exactly (same Adam moments and step count).
    model.fit({ stream: ids }, { ...opts, epochs: 1 });
    (m2 as Sequential).fit({ stream: ids }, { ...opts, epochs: 1 });
    expect(m2.stateDict()).toEqual(model.stateDict());
  });

  it("resumes mid-epoch at the same stream position", () => {
    const { model, ids } = lm(2);
    const { model: twin } = lm(2);
    const opts = { batchSize: 2, tbptt: { k1: 6 }, optimizer: { type: "sgd" as const, lr: 0.1, momentum: 0.9 } };
    twin.fit({ stream: ids }, { ...opts, epochs: 1 });
    model.fit({ stream: ids }, { ...opts, steps: 3 }); // stops inside the epoch
    expect(model.trainState.streamPosition).toBe(18);
    const { model: resumed } = loadModel(saveModel(model));
    (resumed as Sequential).fit({ stream: ids }, { ...opts, epochs: 1 }); // finishes the epoch
    expect(resumed.stateDict()).toEqual(twin.stateDict());
  });

  it("the Keras cell variants (hard-sigmoid gates, reset-before GRU) round trip and predict the same", () => {
    const spec = {
      input: { type: "features" as const, size: 3 },
      recurrent: [
        { cell: "gru" as const, hiddenSize: 6, resetAfter: false, gateActivation: "hard_sigmoid" as const, bidirectional: true },
        { cell: "lstm" as const, hiddenSize: 5, gateActivation: "hard_sigmoid" as const },
      ],
      output: { size: 2, loss: "mse" as const },
      mode: "many-to-many" as const,
      seed: 4,
    };
    const model = new Sequential(spec);
    const loaded = loadModel(saveModel(model)).model as Sequential;
    expect(loaded.spec).toEqual(model.spec);
    expect(loaded.recurrent.map((r) => [r.gateActivation, r.resetAfter])).toEqual([["hard_sigmoid", false], ["hard_sigmoid", true]]);
    const x = Float32Array.from({ length: 4 * 2 * 3 }, (_, i) => Math.sin(i));
    const a = model.predict([x.subarray(0, 12), x.subarray(12)]);
    const b = loaded.predict([x.subarray(0, 12), x.subarray(12)]);
    expect(b).toEqual(a);
    // ... and differ from the PyTorch-style cells with the same weights.
    const plain = new Sequential({ ...spec, recurrent: spec.recurrent.map(({ gateActivation: _g, resetAfter: _r, ...r }) => r) });
    plain.loadStateDict(model.stateDict());
    expect(plain.predict([x.subarray(0, 12), x.subarray(12)])).not.toEqual(a);
    model.dispose();
    loaded.dispose();
    plain.dispose();
  });

  it("seq2seq models round trip", () => {
    const m = new Seq2Seq({ source: { type: "vector", size: 3 }, target: { vocabSize: 5, embeddingDim: 4, bosId: 3, eosId: 4 }, recurrent: { cell: "gru", hiddenSize: 6 }, seed: 3 });
    const { model } = loadModel(saveModel(m));
    expect(model).toBeInstanceOf(Seq2Seq);
    expect(model.stateDict()).toEqual(m.stateDict());
    expect((model as Seq2Seq).generate([[0.1, 0.2, 0.3]], { maxLength: 5 })).toEqual(m.generate([[0.1, 0.2, 0.3]], { maxLength: 5 }));
  });

  it("a many-to-one spec's readout round trips; a file without it (as older versions wrote) loads as 'last-step'", () => {
    const spec: SequentialSpec = { input: { type: "tokens", vocabSize: 5, embeddingDim: 3 }, recurrent: [{ cell: "gru", hiddenSize: 4, bidirectional: true }], output: { size: 2, loss: "xent" }, mode: "many-to-one", readout: "final-states", seed: 4 };
    const m = new Sequential(spec);
    const seqs = [[1, 2, 3, 4], [0, 4], [3]];
    const bytes = saveModel(m);
    const { model: back } = loadModel(bytes);
    expect((back as Sequential).spec.readout).toBe("final-states");
    expect((back as Sequential).predict(seqs)).toEqual(m.predict(seqs));
    // The same file with the field removed from its spec: the default readout.
    const file = decodeModel(bytes);
    delete (file.header.spec as Record<string, unknown>).readout;
    const { model: old } = loadModel(encodeModel(file));
    expect((old as Sequential).spec.readout).toBeUndefined();
    const lastStep = new Sequential({ ...spec, readout: undefined });
    lastStep.loadStateDict(m.stateDict());
    expect((old as Sequential).predict(seqs)).toEqual(lastStep.predict(seqs));
    expect((old as Sequential).predict(seqs)[0]).not.toEqual(m.predict(seqs)[0]);
    for (const x of [m, back, old, lastStep]) x.dispose();
  });

  it("a model with options version-2 readers do not know is written as version 3 (which they refuse); others stay version 2", () => {
    const version = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(8, true);
    const base: SequentialSpec = { input: { type: "tokens", vocabSize: 5, embeddingDim: 3 }, recurrent: [{ cell: "gru", hiddenSize: 4, bidirectional: true }], output: { size: 2, loss: "xent" }, mode: "many-to-one", seed: 4 };
    const cases: [SequentialSpec, number][] = [
      [base, 2],
      [{ ...base, readout: "last-step" }, 2],
      [{ ...base, readout: "final-states" }, 3],
      [{ ...base, recurrent: [{ cell: "gru", hiddenSize: 4, resetAfter: true }] }, 2],
      [{ ...base, recurrent: [{ cell: "gru", hiddenSize: 4, resetAfter: false }] }, 3],
      [{ ...base, recurrent: [{ cell: "lstm", hiddenSize: 4, gateActivation: "sigmoid" }] }, 2],
      [{ ...base, recurrent: [{ cell: "lstm", hiddenSize: 4, gateActivation: "hard_sigmoid" }] }, 3],
    ];
    for (const [spec, want] of cases) {
      const m = new Sequential(spec);
      const bytes = saveModel(m);
      expect(version(bytes), JSON.stringify(spec.recurrent) + (spec.readout ?? "")).toBe(want);
      const { model: back } = loadModel(bytes);
      expect((back as Sequential).predict([[1, 2, 3], [4]])).toEqual(m.predict([[1, 2, 3], [4]]));
      m.dispose();
      back.dispose();
    }
    expect(() => encodeModel({ header: {}, tensors: [], minVersion: 4 })).toThrow(/minVersion/);
  });

  it("files are written atomically and corrupt ones are refused with a reason", async () => {
    const dir = mkdtempSync(join(tmpdir(), "unfold-save-"));
    const { vocab, model } = lm(3);
    const path = join(dir, "m.unfold");
    await saveModelFile(path, model, { vocab });
    expect(readdirSync(dir)).toEqual(["m.unfold"]);
    const { model: m2 } = await loadModelFile(path);
    expect(m2.stateDict()).toEqual(model.stateDict());
    const bytes = readFileSync(path);
    const flipped = Uint8Array.from(bytes);
    flipped[flipped.length - 100] ^= 1;
    writeFileSync(join(dir, "bad.unfold"), flipped);
    await expect(loadModelFile(join(dir, "bad.unfold"))).rejects.toThrow(/checksum/i);
    writeFileSync(join(dir, "short.unfold"), bytes.subarray(0, 50));
    await expect(loadModelFile(join(dir, "short.unfold"))).rejects.toThrow(/truncated|checksum/i);
    writeFileSync(join(dir, "text.unfold"), "hello, I am not a model");
    await expect(loadModelFile(join(dir, "text.unfold"))).rejects.toThrow(/not an unfold-rnn model file/);
    await expect(loadModelFile(join(dir, "missing.unfold"))).rejects.toThrow(/no such model file/);
  });
});
