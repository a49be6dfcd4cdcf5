// Encoder-decoder (p.14) and one-to-many (p.13, p.21) models: they learn
// their tasks under teacher forcing and then decode free-running (greedy and
// beam search) on held-out examples; gradients match finite differences.
import { beforeAll, describe, expect, it } from "vitest";
import { Seq2Seq } from "../src/model/seq2seq.js";
import { loadKernels, Rng } from "./helpers.js";

beforeAll(async () => {
  await loadKernels();
});

// Digits 0-9 are tokens 0-9; 10 = begin, 11 = end.
const BOS = 10, EOS = 11;

function reversal(n: number, rng: Rng) {
  const sources: number[][] = [];
  const targets: number[][] = [];
  for (let i = 0; i < n; i++) {
    const L = 3 + rng.int(4);
    const s = Array.from({ length: L }, () => rng.int(10));
    sources.push(s);
    targets.push([...s].reverse());
  }
  return { sources, targets };
}

describe("encoder-decoder: reverse a string of digits", () => {
  it("reaches >= 95% exact-sequence accuracy on held-out pairs (greedy and beam)", () => {
    const rng = new Rng(1);
    const train = reversal(3000, rng);
    const test = reversal(200, rng);
    const m = new Seq2Seq({
      source: { type: "tokens", vocabSize: 10, embeddingDim: 16 },
      target: { vocabSize: 12, embeddingDim: 16, bosId: BOS, eosId: EOS },
      recurrent: { cell: "lstm", hiddenSize: 96 },
      seed: 2,
    });
    const before = m.evaluate(test).loss;
    m.fit(train, { epochs: 12, batchSize: 32, optimizer: { type: "adam", lr: 0.005 } });
    const after = m.evaluate(test).loss;
    const greedy = m.generate(test.sources, { maxLength: 10 });
    const exact = greedy.filter((g, i) => g.join() === test.targets[i].join()).length / test.sources.length;
    const beam = test.sources.slice(0, 50).map((s) => m.generate([s], { beamWidth: 4, maxLength: 10 })[0]);
    const exactBeam = beam.filter((g, i) => g.join() === test.targets[i].join()).length / beam.length;
    console.log(`reverse digits: loss ${before.toFixed(3)} -> ${after.toFixed(4)}, greedy exact ${(exact * 100).toFixed(1)}%, beam(4) exact ${(exactBeam * 100).toFixed(1)}%`);
    expect(exact).toBeGreaterThanOrEqual(0.95);
    expect(exactBeam).toBeGreaterThanOrEqual(0.95);
    m.dispose();
  });

  it("scheduled sampling trains too", () => {
    const rng = new Rng(3);
    const train = reversal(800, rng);
    const m = new Seq2Seq({
      source: { type: "tokens", vocabSize: 10, embeddingDim: 8 },
      target: { vocabSize: 12, embeddingDim: 8, bosId: BOS, eosId: EOS },
      recurrent: { cell: "gru", hiddenSize: 32 },
      seed: 4,
    });
    const l0 = m.evaluate(train).loss;
    m.fit(train, { epochs: 3, batchSize: 32, optimizer: { type: "adam", lr: 0.01 }, scheduledSampling: 0.25 });
    expect(m.evaluate(train).loss).toBeLessThan(l0 * 0.7);
  });
});

describe("one-to-many: a vector in, a sequence out", () => {
  it("spells the class of a noisy one-hot vector, from the vector as the initial state", () => {
    // 'Captioning' in miniature: vector = noisy one-hot of class c in 0..5;
    // output = the digits of c*37 (e.g. 3 -> "111").
    const rng = new Rng(5);
    const make = (n: number) => {
      const sources: number[][] = [];
      const targets: number[][] = [];
      for (let i = 0; i < n; i++) {
        const c = rng.int(6);
        sources.push(Array.from({ length: 6 }, (_, j) => (j === c ? 1 : 0) + 0.2 * (rng.next() - 0.5)));
        targets.push(String(c * 37).split("").map(Number));
      }
      return { sources, targets };
    };
    const m = new Seq2Seq({
      source: { type: "vector", size: 6 },
      target: { vocabSize: 12, embeddingDim: 8, bosId: BOS, eosId: EOS },
      recurrent: { cell: "lstm", hiddenSize: 32, numLayers: 2 },
      seed: 6,
    });
    m.fit(make(600), { epochs: 10, batchSize: 32, optimizer: { type: "adam", lr: 0.01 } });
    const test = make(100);
    const out = m.generate(test.sources, { maxLength: 6 });
    const exact = out.filter((g, i) => g.join() === test.targets[i].join()).length / out.length;
    console.log(`one-to-many exact: ${(exact * 100).toFixed(1)}%`);
    expect(exact).toBeGreaterThanOrEqual(0.95);
  });
});

describe("seq2seq gradients", () => {
  for (const [source, cell] of [["tokens", "lstm"], ["vector", "lstm"], ["tokens", "gru"], ["vector", "rnn"]] as const) {
    it(`${source} source, ${cell}: every parameter tensor matches finite differences`, () => {
      const m = new Seq2Seq({
        source: source === "tokens" ? { type: "tokens", vocabSize: 5, embeddingDim: 3 } : { type: "vector", size: 3 },
        target: { vocabSize: 6, embeddingDim: 3, bosId: 4, eosId: 5 },
        recurrent: { cell, hiddenSize: 4, numLayers: 2 },
        seed: 9,
      });
      const data = {
        sources: source === "tokens" ? [[1, 2, 3], [0, 4], [2, 2, 1, 0]] : [[0.5, -0.2, 0.1], [0.3, 0.9, -0.7], [-1, 0.2, 0.4]],
        targets: [[1, 2], [3], [0, 1, 2]],
      };
      // One training step with a negligible learning rate leaves the batch's
      // gradients in the gradient arenas; read them by name, restore the weights.
      const before = m.stateDict();
      m.fit(data, { epochs: 1, batchSize: 3, shuffle: false, clipNorm: null, optimizer: { type: "sgd", lr: 1e-30 } });
      const grads = collectGrads(m);
      m.loadStateDict(before);
      const loss = () => m.evaluate(data, 3).loss;
      let worst = 0;
      for (const [name, p] of m.parameters()) {
        for (const i of [0, p.size - 1]) {
          const v = p.f32()[i];
          const h = 1e-2;
          p.f32()[i] = v + h;
          const lp = loss();
          p.f32()[i] = v - h;
          const lm = loss();
          p.f32()[i] = v;
          const fd = (lp - lm) / (2 * h);
          const g = grads.get(name)![i];
          const err = Math.abs(fd - g) / Math.max(1e-2, Math.abs(fd));
          worst = Math.max(worst, err);
          expect(err, `${name}[${i}] fd ${fd} vs ${g}`).toBeLessThan(2e-2);
        }
      }
      console.log(`seq2seq ${source} ${cell}: worst FD relative error ${worst.toExponential(2)}`);
    });
  }
});

/** Gradient tensors of a Seq2Seq by parameter name. */
function collectGrads(m: Seq2Seq): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  const add = (prefix: string, l: { gradients(): ReadonlyMap<string, { toArray(): Float32Array }> } | null) => {
    if (l) for (const [n, t] of l.gradients()) out.set(`${prefix}.${n}`, t.toArray());
  };
  add("encoder.embedding", m.encEmbedding);
  add("encoder.rnn", m.encoder);
  add("bridge", m.bridge);
  add("decoder", m.decoder);
  return out;
}
