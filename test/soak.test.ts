// Soak: bounded memory over long runs.
//  - 20,000 training steps of a small LSTM language model, with generate, save
//    and load (training continues on the loaded model) every 1,000 steps. After
//    a warm-up of 2,000 steps the WASM memory must not grow at all (same size,
//    same bytes allocated at every checkpoint) and the JS heap (after a full
//    GC) must stay within 4 MiB of its level after warm-up.
//  - a "server" that calls predict (and generate) 20,000 times: WASM memory
//    exactly flat, JS heap within 2 MiB.
import * as v8 from "node:v8";
import * as vm from "node:vm";
import { beforeAll, describe, expect, it } from "vitest";
import { init, loadModel, saveModel, Sequential, type Vocab, Vocab as V } from "../src/index.js";
import { heap } from "../src/runtime/wasm.js";

v8.setFlagsFromString("--expose-gc");
const gc = vm.runInNewContext("gc") as () => void;

const MiB = 1 << 20;
const wasmBytes = () => heap().f32(0, 0).buffer.byteLength;
function jsHeap(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

beforeAll(async () => {
  await init();
});

describe("soak", () => {
  it("20,000 training steps with generate / save / load every 1,000: memory flat after warm-up", () => {
    const text = "the cat sat on the mat. the dog ate the log. ".repeat(12);
    const vocab: Vocab = V.fromChars(text);
    const stream = vocab.encode(text);
    let model = new Sequential({
      input: { type: "tokens", vocabSize: vocab.size, embeddingDim: 4 },
      recurrent: [{ cell: "lstm", hiddenSize: 8 }],
      output: { size: vocab.size, loss: "xent" },
      mode: "many-to-many",
      seed: 1,
    });
    const opts = { steps: 1000, batchSize: 2, tbptt: { k1: 4 }, optimizer: { type: "adam" as const, lr: 0.01 } };
    const samples: { step: number; wasm: number; live: number; js: number }[] = [];
    let firstLoss = NaN;
    let lastLoss = NaN;
    for (let k = 1; k <= 20; k++) {
      model.fit({ stream }, { ...opts, onStep: (s) => {
        lastLoss = s.loss;
        if (Number.isNaN(firstLoss)) firstLoss = s.loss;
      } });
      const g = model.generate(vocab.encode("the "), { length: 20, temperature: 0.8, seed: k });
      expect(g.length).toBe(20);
      const bytes = saveModel(model, { vocab });
      model.dispose();
      model = loadModel(bytes).model as Sequential;
      samples.push({ step: model.trainState.history.steps, wasm: wasmBytes(), live: heap().liveBytes, js: jsHeap() });
    }
    expect(samples.at(-1)!.step).toBe(20_000);
    expect(lastLoss).toBeLessThan(firstLoss); // it really trained
    const after = samples.slice(2); // warm-up: the first 2,000 steps
    for (const s of after) {
      expect(s.wasm, `WASM memory at step ${s.step}`).toBe(after[0].wasm);
      expect(s.live, `WASM bytes allocated at step ${s.step}`).toBe(after[0].live);
      expect(Math.abs(s.js - after[0].js), `JS heap at step ${s.step}: ${(s.js / MiB).toFixed(1)} MiB vs ${(after[0].js / MiB).toFixed(1)}`).toBeLessThan(4 * MiB);
    }
    model.dispose();
  }, 300_000);

  it("predict and generate forever: memory flat", () => {
    const m = new Sequential({
      input: { type: "tokens", vocabSize: 10, embeddingDim: 4 },
      recurrent: [{ cell: "gru", hiddenSize: 8 }],
      output: { size: 10, loss: "xent" },
      mode: "many-to-many",
      seed: 2,
    });
    const inputs = [[1, 2, 3, 4, 5], [6, 7, 8]];
    const samples: { wasm: number; live: number; js: number }[] = [];
    for (let i = 1; i <= 20_000; i++) {
      const p = m.predict(inputs);
      if (p[0].length !== 5 * 10) throw new Error("bad predict");
      if (i % 10 === 0) m.generate([1, 2], { length: 5, seed: i });
      if (i % 1000 === 0) samples.push({ wasm: wasmBytes(), live: heap().liveBytes, js: jsHeap() });
    }
    const after = samples.slice(2);
    for (const s of after) {
      expect(s.wasm).toBe(after[0].wasm);
      expect(s.live).toBe(after[0].live);
      expect(Math.abs(s.js - after[0].js)).toBeLessThan(2 * MiB);
    }
    m.dispose();
  }, 300_000);
});
