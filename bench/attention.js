// Attention in Seq2Seq: the cost of one training step (forward, loss,
// backward, Adam) with attention, against the same encoder-decoder without
// it, measured alternately in one process (rounds of baseline, variant, ...;
// the ratio is the median over rounds). Shapes of examples/cmudict.mjs: batch
// 64, 26 letters -> 41 phoneme tokens, words of 7 letters / 6 phonemes (the
// mean), LSTM H=128, embedding 48.
import { init } from "../dist/runtime/wasm.js";
import { Seq2Seq } from "../dist/model/seq2seq.js";
import { Rng } from "../dist/util/rng.js";
import { time } from "./format.js";

export async function run({ quick = false } = {}) {
  await init(process.env.UNFOLD_WASM || undefined);
  const B = 64, S = 7, T = 6;
  const rng = new Rng(3);
  const data = {
    sources: Array.from({ length: B }, () => Array.from({ length: S }, () => rng.int(26))),
    targets: Array.from({ length: B }, () => Array.from({ length: T }, () => rng.int(39))),
  };
  const make = (attention, bidirectional) => new Seq2Seq({
    source: { type: "tokens", vocabSize: 26, embeddingDim: 48 },
    target: { vocabSize: 41, embeddingDim: 48, bosId: 39, eosId: 40 },
    recurrent: { cell: "lstm", hiddenSize: 128, bidirectional },
    ...(attention ? { attention } : {}),
    seed: 1,
  });
  const variants = [
    ["no attention (baseline)", make(undefined, false)],
    ["general, unidirectional encoder", make("general", false)],
    ["general, bidirectional encoder (cmudict --attention)", make("general", true)],
    ["additive, bidirectional encoder", make("additive", true)],
  ];
  // One update per call: the whole batch, in order.
  const step = (m) => () => m.fit(data, { epochs: 1, batchSize: B, shuffle: false, optimizer: { type: "adam", lr: 1e-3 } });
  const rounds = quick ? 2 : 5;
  const means = variants.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < variants.length; i++) {
      const t = await time(variants[i][0], step(variants[i][1]), { maxTime: quick ? 0.2 : 0.6, minSamples: 5 });
      means[i].push(t.mean);
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const rows = variants.map(([name], i) => ({
    case: `seq2seq train step B=${B} S=${S} T=${T} H=128`,
    impl: name,
    rate: median(means[i]) * 1e3,
    unit: "ms",
    ratio: median(means[i].map((m, r) => means[0][r] / m)),
    baseline: "no attention",
  }));
  for (const [, m] of variants) m.dispose();
  return rows;
}
