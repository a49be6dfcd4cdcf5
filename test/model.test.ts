// Sequential models and the trainer: whole-model gradients against finite
// differences, the many-to-many and many-to-one shapes learning real tasks,
// truncated BPTT (exactness, k2 > k1, carried state), the NaN guard, and
// determinism.
import { beforeAll, describe, expect, it } from "vitest";
import { Sequential, type SequentialSpec } from "../src/model/sequential.js";
import { streamWindows } from "../src/model/fit.js";
import { TokenStream } from "../src/data/stream.js";
import { Vocab } from "../src/data/vocab.js";
import { TrainingDivergedError } from "../src/train/trainer.js";
import { loadKernels, Rng } from "./helpers.js";

beforeAll(async () => {
  await loadKernels();
});

const tokenLM = (V: number, cell: "lstm" | "gru" | "rnn", H: number, seed = 1, layers = 1): SequentialSpec => ({
  input: { type: "tokens", vocabSize: V, embeddingDim: 8 },
  recurrent: [{ cell, hiddenSize: H, numLayers: layers }],
  output: { size: V, loss: "xent" },
  mode: "many-to-many",
  seed,
});

/** Loss of a batch without training (forward + loss only). */
function lossOf(m: Sequential, b: Parameters<Sequential["forwardPtr"]>[0]): number {
  m.forwardPtr(b);
  return m.lossAndGrad(b).loss;
}

describe("whole-model gradients", () => {
  // float32 forward, so central differences with h = 1e-2 have truncation
  // error ~h^2 and rounding error ~1e-7/h: a few 1e-3 relative is the floor.
  const specs: [string, SequentialSpec][] = [
    ["tokens lstm many-to-many", tokenLM(5, "lstm", 6, 3, 2)],
    ["features gru many-to-one mse", { input: { type: "features", size: 3 }, recurrent: [{ cell: "gru", hiddenSize: 5 }, { cell: "rnn", hiddenSize: 4 }], output: { size: 2, loss: "mse" }, mode: "many-to-one", seed: 2 }],
    ["features bi-lstm many-to-one xent", { input: { type: "features", size: 2 }, recurrent: [{ cell: "lstm", hiddenSize: 3, bidirectional: true }], output: { size: 3, loss: "xent" }, mode: "many-to-one", seed: 4 }],
  ];
  for (const [name, spec] of specs) {
    it(name, () => {
      const m = new Sequential(spec);
      const rng = new Rng(5);
      const T = 4, B = 3;
      const b: Parameters<Sequential["forwardPtr"]>[0] = { T, B };
      if (spec.input.type === "tokens") {
        b.ids = Int32Array.from({ length: T * B }, () => rng.int(spec.input.type === "tokens" ? spec.input.vocabSize : 1));
        b.targets = Int32Array.from({ length: T * B }, (_, i) => (i % 5 === 0 ? -1 : rng.int(spec.output.size)));
      } else {
        b.features = Float32Array.from({ length: T * B * spec.input.size }, () => rng.uniform(-1, 1));
        b.lengths = spec.recurrent[0].bidirectional ? undefined : Int32Array.of(4, 2, 3);
        b.targets = spec.output.loss === "xent" ? Int32Array.of(0, 2, 1) : Float32Array.from({ length: B * spec.output.size }, () => rng.uniform(-1, 1));
      }
      m.checkBatch(b, true);
      m.forwardPtr(b);
      m.lossAndGrad(b);
      m.backwardPtr();
      const grads = m.gradients();
      let worst = 0;
      for (const [pname, p] of m.parameters()) {
        const g = grads.get(pname)!.toArray();
        // Probe a few entries of every tensor.
        for (const i of [0, Math.floor(p.size / 2), p.size - 1]) {
          const v = p.f32()[i];
          const h = 1e-2;
          p.f32()[i] = v + h;
          const lp = lossOf(m, b);
          p.f32()[i] = v - h;
          const lm = lossOf(m, b);
          p.f32()[i] = v;
          const fd = (lp - lm) / (2 * h);
          const err = Math.abs(fd - g[i]) / Math.max(1e-2, Math.abs(fd));
          worst = Math.max(worst, err);
          expect(err, `${pname}[${i}]: fd ${fd} vs ${g[i]}`).toBeLessThan(2e-2);
        }
      }
      console.log(`${name}: worst FD relative error ${worst.toExponential(2)}`);
      m.dispose();
    });
  }
});

describe("many-to-one (p.13): classification", () => {
  it("learns to report the first token of variable-length sequences (needs the hidden state to carry it)", () => {
    // Sequences of 3-9 tokens from {0..3}; label = the first token.
    const rng = new Rng(11);
    const make = (n: number) => {
      const inputs: number[][] = [];
      const targets: number[] = [];
      for (let i = 0; i < n; i++) {
        const L = 3 + rng.int(7);
        const s = Array.from({ length: L }, () => rng.int(4));
        inputs.push(s);
        targets.push(s[0]);
      }
      return { inputs, targets };
    };
    const train = make(600);
    const test = make(200);
    const m = new Sequential({ input: { type: "tokens", vocabSize: 4, embeddingDim: 8 }, recurrent: [{ cell: "lstm", hiddenSize: 24 }], output: { size: 4, loss: "xent" }, mode: "many-to-one", seed: 3 });
    const chance = m.evaluate(test).accuracy!;
    m.fit(train, { epochs: 15, batchSize: 32, optimizer: { type: "adam", lr: 0.01 } });
    const ev = m.evaluate(test);
    console.log(`many-to-one held-out accuracy: ${(ev.accuracy! * 100).toFixed(1)}% (before training ${(chance * 100).toFixed(1)}%)`);
    expect(ev.accuracy!).toBeGreaterThanOrEqual(0.95);
    // predict() agrees with evaluate()'s argmax.
    const probs = m.predict(test.inputs.slice(0, 10));
    for (const p of probs) expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
  });

  it("padding does not change a sequence's output (last real step, masks respected)", () => {
    const m = new Sequential({ input: { type: "tokens", vocabSize: 6, embeddingDim: 4 }, recurrent: [{ cell: "gru", hiddenSize: 5 }], output: { size: 3, loss: "xent" }, mode: "many-to-one", seed: 8 });
    const alone = m.predict([[1, 2, 3]])[0];
    const padded = m.predict([[1, 2, 3], [4, 5, 1, 2, 3, 4, 5]])[0];
    for (let i = 0; i < 3; i++) expect(padded[i]).toBeCloseTo(alone[i], 6);
  });
});

describe("many-to-many (p.11): tagging with padding", () => {
  it("learns to tag each token with (token + previous token) mod 3", () => {
    const rng = new Rng(21);
    const make = (n: number) => {
      const inputs: number[][] = [];
      const targets: number[][] = [];
      for (let i = 0; i < n; i++) {
        const L = 2 + rng.int(8);
        const s = Array.from({ length: L }, () => rng.int(3));
        inputs.push(s);
        targets.push(s.map((v, t) => (v + (t > 0 ? s[t - 1] : 0)) % 3));
      }
      return { inputs, targets };
    };
    const m = new Sequential({ input: { type: "tokens", vocabSize: 3, embeddingDim: 6 }, recurrent: [{ cell: "gru", hiddenSize: 16 }], output: { size: 3, loss: "xent" }, mode: "many-to-many", seed: 2 });
    m.fit(make(500), { epochs: 12, batchSize: 16, optimizer: { type: "adam", lr: 0.02 } });
    const ev = m.evaluate(make(200));
    console.log(`tagging per-token accuracy: ${(ev.accuracy! * 100).toFixed(1)}%`);
    expect(ev.accuracy!).toBeGreaterThanOrEqual(0.97);
  });

  it("regression (MSE) on a time series: predicts the next value of noisy sines", () => {
    const rng = new Rng(4);
    const seqs: number[][] = [];
    const targets: number[][] = [];
    for (let i = 0; i < 200; i++) {
      const f = 0.2 + 0.3 * rng.next();
      const ph = rng.next() * 6.28;
      const s = Array.from({ length: 21 }, (_, t) => Math.sin(ph + f * t));
      seqs.push(s.slice(0, 20));
      targets.push(s.slice(1));
    }
    const m = new Sequential({ input: { type: "features", size: 1 }, recurrent: [{ cell: "lstm", hiddenSize: 16 }], output: { size: 1, loss: "mse" }, mode: "many-to-many", seed: 1 });
    const data = { inputs: seqs.slice(0, 160), targets: targets.slice(0, 160) };
    const held = { inputs: seqs.slice(160), targets: targets.slice(160) };
    const before = m.evaluate(held).loss;
    m.fit(data, { epochs: 30, batchSize: 16, optimizer: { type: "adam", lr: 0.01 } });
    const after = m.evaluate(held).loss;
    console.log(`sine MSE: ${before.toFixed(4)} -> ${after.toFixed(5)}`);
    expect(after).toBeLessThan(0.01);
    expect(after).toBeLessThan(before / 20);
  });
});

describe("truncated BPTT (p.19-20)", () => {
  const text = "We the People of the United States, in Order to form a more perfect Union, establish Justice, insure domestic Tranquility, provide for the common defence, promote the general Welfare, and secure the Blessings of Liberty to ourselves and our Posterity, do ordain and establish this Constitution for the United States of America.";

  it("with one window covering the stream, TBPTT is exactly full BPTT", () => {
    const vocab = Vocab.fromChars(text);
    const ids = Array.from(vocab.encode(text.slice(0, 41)));
    const a = new Sequential(tokenLM(vocab.size, "lstm", 12, 5));
    const b = new Sequential(tokenLM(vocab.size, "lstm", 12, 5));
    a.fit({ stream: ids }, { epochs: 3, batchSize: 1, tbptt: { k1: 100 }, shuffle: false });
    b.fit({ inputs: [ids.slice(0, -1)], targets: [ids.slice(1)] }, { epochs: 3, batchSize: 1, shuffle: false });
    expect(a.stateDict()).toEqual(b.stateDict());
  });

  it("windows: k2 > k1 reaches back k2 steps and counts only the k1 new targets", () => {
    const ids = Array.from({ length: 61 }, (_, i) => i % 7);
    const ts = new TokenStream(ids, 2); // L = 30 per stream
    const ws = [...streamWindows(ts, 4, 10)];
    let counted = 0;
    let prevEnd = 0;
    for (const w of ws) {
      const T = w.batch.T;
      const real = Array.from(w.batch.targets!).filter((y) => y >= 0).length / 2;
      counted += real;
      expect(T).toBeLessThanOrEqual(10);
      expect(real).toBeLessThanOrEqual(4);
      // The counted targets are exactly the steps after the previous window's end.
      expect(w.next - prevEnd).toBe(real);
      prevEnd = w.next;
    }
    expect(counted).toBe(29); // every target of each stream exactly once
    // A window starting at step 0 starts from the zero state; later ones carry.
    expect(ws[0].first).toBe(true);
    expect(ws[ws.length - 1].first).toBe(false);
  });

  it("k2 > k1 trains, and carrying the state beats resetting it on a long-dependency stream", () => {
    // Segments "a......A" / "b......B": the closing letter repeats the opening
    // one 7 steps back. Windows of 5 cut most segments, so only a carried
    // state can see the opening letter of a cut segment.
    const rng = new Rng(9);
    let s = "";
    while (s.length < 6000) {
      const c = rng.next() < 0.5 ? "a" : "b";
      s += c + ".".repeat(6) + c.toUpperCase();
    }
    const vocab = Vocab.fromChars(s);
    const ids = vocab.encode(s);
    const run = (carry: boolean, k2: number) => {
      const m = new Sequential(tokenLM(vocab.size, "lstm", 24, 2));
      m.fit({ stream: ids }, { epochs: 6, batchSize: 16, tbptt: { k1: 5, k2, carry }, optimizer: { type: "adam", lr: 0.01 } });
      const loss = m.evaluate({ stream: ids }, { batchSize: 16, k1: 5, carry }).loss;
      m.dispose();
      return loss;
    };
    const carried = run(true, 5);
    const reset = run(false, 5);
    const longer = run(true, 10);
    // Per-character entropy: dots are certain given position; the closing letter
    // costs ln 2 /8 per char without memory, ~0 with it; the opening letter ln 2 / 8.
    console.log(`TBPTT loss: carry ${carried.toFixed(4)}, reset ${reset.toFixed(4)}, carry with k2=10 ${longer.toFixed(4)} (ln2/8 = ${(Math.LN2 / 8).toFixed(4)})`);
    expect(carried).toBeLessThan(reset - 0.02);
    expect(longer).toBeLessThan(reset - 0.02);
  });
});

describe("training safety and determinism", () => {
  it("a diverging run stops with an error and keeps the last good weights", () => {
    const m = new Sequential({ input: { type: "features", size: 1 }, recurrent: [{ cell: "rnn", hiddenSize: 4 }], output: { size: 1, loss: "mse" }, mode: "many-to-one", seed: 1 });
    const inputs = [[1e18, 1e18, 1e18]];
    const before = m.stateDict();
    let err: unknown;
    try {
      m.fit({ inputs, targets: [[3e38]] }, { epochs: 3, batchSize: 1, clipNorm: null, optimizer: { type: "sgd", lr: 1 } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TrainingDivergedError);
    expect((err as Error).message).toMatch(/last good ones|non-finite/);
    const after = m.stateDict();
    for (const [k, v] of Object.entries(after)) {
      expect(v.every(Number.isFinite), k).toBe(true);
    }
    expect(after).toEqual(before);
  });

  it("the same seed and data give bit-identical weights after training", () => {
    const vocab = Vocab.fromChars("abcde");
    const ids = Array.from({ length: 400 }, (_, i) => (i * 7 + (i >> 3)) % 5);
    const run = () => {
      const m = new Sequential({ ...tokenLM(vocab.size, "gru", 10, 4), recurrent: [{ cell: "gru", hiddenSize: 10, numLayers: 2, dropout: 0.2 }] });
      m.fit({ stream: ids }, { epochs: 2, batchSize: 4, tbptt: { k1: 8, k2: 12 } });
      return m.stateDict();
    };
    expect(run()).toEqual(run());
  });

  it("bad data gets clear errors", () => {
    const m = new Sequential(tokenLM(4, "lstm", 4));
    expect(() => m.fit({ inputs: [], targets: [] })).toThrow(/no training sequences/);
    expect(() => m.fit({ inputs: [[1, 2]], targets: [[1]] })).toThrow(/target of sequence 0 should be 2 class ids/);
    expect(() => m.fit({ inputs: [[1, 9]], targets: [[1, 2]] })).toThrow(/token id 9 .* outside the vocabulary \[0, 4\)/);
    expect(() => m.fit({ inputs: [[1, 2]], targets: [[1, 7]] })).toThrow(/target 7 .* not a class id in \[0, 4\)/);
    expect(() => m.fit({ stream: [1] })).toThrow(/at least 2 tokens/);
    expect(() => new Sequential({ ...tokenLM(4, "lstm", 4), recurrent: [] })).toThrow(/at least one recurrent layer/);
    const bi = new Sequential({ ...tokenLM(4, "lstm", 4), recurrent: [{ cell: "lstm", hiddenSize: 4, bidirectional: true }] });
    expect(() => bi.fit({ stream: [1, 2, 3, 1, 2, 3] })).toThrow(/needs unidirectional recurrent layers/);
    expect(() => bi.generate([1], { length: 3 })).toThrow(/unidirectional layers/);
    const f = new Sequential({ input: { type: "features", size: 2 }, recurrent: [{ cell: "gru", hiddenSize: 3 }], output: { size: 1, loss: "mse" }, mode: "many-to-one" });
    expect(() => f.fit({ inputs: [[1, 2, 3]], targets: [[1]] })).toThrow(/3 values, which is not a positive multiple of the 2 input features/);
    expect(() => f.fit({ inputs: [[1, NaN]], targets: [[1]] })).toThrow(/non-finite value \(NaN\)/);
  });
});

describe("training options", () => {
  const data = () => {
    const rng = new Rng(31);
    const inputs: number[][] = [];
    const targets: number[] = [];
    for (let i = 0; i < 120; i++) {
      const s = Array.from({ length: 4 }, () => rng.int(3));
      inputs.push(s);
      targets.push(s[0]);
    }
    return { inputs, targets };
  };
  const spec: SequentialSpec = { input: { type: "tokens", vocabSize: 3, embeddingDim: 4 }, recurrent: [{ cell: "gru", hiddenSize: 8 }], output: { size: 3, loss: "xent" }, mode: "many-to-one", seed: 5 };

  it("fitAsync gives the same weights as fit", async () => {
    // How and when it yields (every ~8 ms of work, never sleeping): test/fit-yield.test.ts.
    const a = new Sequential(spec);
    const b = new Sequential(spec);
    const d = data();
    a.fit(d, { epochs: 2, batchSize: 16 });
    await b.fitAsync(d, { epochs: 2, batchSize: 16 });
    expect(b.stateDict()).toEqual(a.stateDict());
  });

  it("callbacks report every step and epoch, and returning false stops", () => {
    const m = new Sequential(spec);
    const steps: number[] = [];
    const epochs: number[] = [];
    m.fit(data(), { epochs: 5, batchSize: 16, onStep: (s) => void steps.push(s.step), onEpoch: (e) => { epochs.push(e.epoch); return e.epoch < 2; } });
    expect(epochs).toEqual([1, 2]);
    expect(steps).toEqual(Array.from({ length: 16 }, (_, i) => i + 1)); // 120/16 -> 8 batches per epoch
    const info: number[] = [];
    m.fit(data(), { steps: 3, batchSize: 16, onStep: (s) => void info.push(s.gradNorm, s.tokensPerSecond, s.lr) });
    expect(info.length).toBe(9);
    expect(info.every((v) => Number.isFinite(v) && v > 0)).toBe(true);
  });

  it("early stopping restores the best validation weights", () => {
    const m = new Sequential(spec);
    const vals: number[] = [];
    let best: Record<string, Float32Array> | null = null;
    let bestVal = Infinity;
    m.fit(data(), {
      epochs: 40, batchSize: 16, optimizer: { type: "sgd", lr: 2 }, // deliberately unstable
      validation: { fraction: 0.25 }, earlyStopping: { patience: 2 },
      onEpoch: (e) => {
        vals.push(e.valLoss!);
        if (e.valLoss! < bestVal) {
          bestVal = e.valLoss!;
          best = m.stateDict();
        }
      },
    });
    expect(vals.length).toBeLessThan(40);
    expect(m.stateDict()).toEqual(best);
  });

  it("learning-rate schedules and value clipping", () => {
    const lrs: number[] = [];
    const m = new Sequential(spec);
    m.fit(data(), { steps: 6, batchSize: 16, optimizer: { type: "adam", lr: 0.1 }, schedule: { type: "step", stepSize: 2, gamma: 0.5 }, clipValue: 0.01, onStep: (s) => void lrs.push(s.lr) });
    expect(lrs).toEqual([0.1, 0.1, 0.05, 0.05, 0.025, 0.025]);
    // clipValue bounds every gradient value that the update saw.
    const g = [...m.gradients().values()].flatMap((t) => Array.from(t.toArray()));
    expect(Math.max(...g.map(Math.abs))).toBeLessThanOrEqual(0.01);
  });
});

describe("model state dicts", () => {
  it("a bad state dict is refused whole, naming the tensor, and changes nothing", () => {
    const m = new Sequential(tokenLM(5, "lstm", 4, 2, 2));
    const sd = m.stateDict();
    const before = m.stateDict();
    const bad = { ...sd, "embedding.weight": sd["embedding.weight"].map((v) => v + 1), "head.bias": new Float32Array(3) };
    expect(() => m.loadStateDict(bad)).toThrow(/'head\.bias' should have shape \[5\] \(5 values\), got 3 values/);
    expect(m.stateDict()).toEqual(before);
    const missing: Record<string, Float32Array> = { ...sd };
    delete missing["rnn0.weight_hh_l1"];
    expect(() => m.loadStateDict(missing)).toThrow(/missing key\(s\) in state dict: rnn0\.weight_hh_l1/);
    expect(() => m.loadStateDict({ ...sd, "rnn1.weight_ih_l0": new Float32Array(1) })).toThrow(/unexpected key\(s\) in state dict: rnn1\.weight_ih_l0/);
    // A valid one loads.
    const other = new Sequential(tokenLM(5, "lstm", 4, 3, 2)).stateDict();
    m.loadStateDict(other);
    expect(m.stateDict()).toEqual(other);
  });
});
