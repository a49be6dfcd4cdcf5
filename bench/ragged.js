// Padded batches with lengths (PyTorch's packed semantics, docs/ragged.md):
// the cost of one forward + backward of a right-padded batch run with its
// lengths, against the same batch run without them (the padding then goes
// through the recurrence like data), measured alternately in one process
// (rounds of baseline, variant, ...; the ratio is the median over rounds).
// T = 60, B = 32, I = 64, H = 128, lengths 10..60.
import { init } from "../dist/runtime/wasm.js";
import { GRU, LSTM } from "../dist/layers/recurrent.js";
import { Rng } from "../dist/util/rng.js";
import { time } from "./format.js";

export async function run({ quick = false } = {}) {
  await init(process.env.UNFOLD_WASM || undefined);
  const T = 60, B = 32, I = 64, H = 128;
  const rng = new Rng(5);
  const lengths = Array.from({ length: B }, (_, b) => 10 + ((b * 37) % 51));
  const x = Float32Array.from({ length: T * B * I }, () => rng.uniform(-0.5, 0.5));
  const layers = [
    ["LSTM", new LSTM({ inputSize: I, hiddenSize: H, seed: 1 }), 1],
    ["LSTM bidirectional", new LSTM({ inputSize: I, hiddenSize: H, bidirectional: true, seed: 1 }), 2],
    ["GRU bidirectional", new GRU({ inputSize: I, hiddenSize: H, bidirectional: true, seed: 1 }), 2],
  ];
  const rows = [];
  const rounds = quick ? 2 : 5;
  for (const [name, m, D] of layers) {
    const dOutput = Float32Array.from({ length: T * B * D * H }, () => rng.uniform(-0.5, 0.5));
    const step = (lens) => () => {
      m.forward(x, { batchSize: B, lengths: lens });
      m.backward({ dOutput });
    };
    const plain = [];
    const packed = [];
    for (let r = 0; r < rounds; r++) {
      plain.push((await time(`${name} plain`, step(undefined), { maxTime: quick ? 0.2 : 0.6, minSamples: 3 })).mean);
      packed.push((await time(`${name} lengths`, step(lengths), { maxTime: quick ? 0.2 : 0.6, minSamples: 3 })).mean);
    }
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const c = `${name} forward+backward T=${T} B=${B} I=${I} H=${H}, lengths 10..60`;
    rows.push({ case: c, impl: "without lengths (baseline)", rate: median(plain) * 1e3, unit: "ms", ratio: 1, baseline: "without lengths" });
    rows.push({ case: c, impl: "with lengths (packed)", rate: median(packed) * 1e3, unit: "ms", ratio: median(plain.map((p, r) => p / packed[r])), baseline: "without lengths" });
    m.dispose();
  }
  return rows;
}
