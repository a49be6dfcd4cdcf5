#!/usr/bin/env node
// unfold-rnn -> PyTorch fixtures (see tools/torch_safetensors.py): train three
// small models here, export them with saveSafetensors, and write a batch for
// PyTorch to run. Then `/usr/bin/python3 tools/torch_safetensors.py --ours`
// writes PyTorch's outputs beside them. Needs `npm run build` first.
//
//   ours_char_lstm        tokens, 2-layer LSTM, many-to-many (char LM, truncated BPTT on corpus/sotu.txt)
//   ours_bigru_classifier tokens, bidirectional GRU then LSTM, many-to-one (equal lengths)
//   ours_rnn_relu_series  features, 2-layer SimpleRNN relu, many-to-many MSE (a padded batch)
//   ours_seq2seq_lstm     Seq2Seq: token source (reverse a sequence), 2-layer LSTM
//   ours_seq2seq_vector   Seq2Seq: vector source (one-to-many), GRU
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { init, Rng, saveSafetensors, Seq2Seq, Sequential, Vocab } from "../dist/index.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const OUT = join(ROOT, "test", "fixtures", "safetensors");
await init();

function write(name, model, input, metadata = {}) {
  const st = saveSafetensors(model, { metadata });
  writeFileSync(join(OUT, `${name}.safetensors`), st);
  writeFileSync(join(OUT, `${name}.input.json`), JSON.stringify(input) + "\n");
  console.log(`wrote ${name}.safetensors (${st.length} bytes) and ${name}.input.json`);
}

// 1. A char LM trained on a stream.
{
  const text = readFileSync(join(ROOT, "corpus", "sotu.txt"), "utf8").slice(0, 4000);
  const vocab = Vocab.fromChars(text);
  const ids = vocab.encode(text);
  const m = new Sequential({ input: { type: "tokens", vocabSize: vocab.size, embeddingDim: 8 }, recurrent: [{ cell: "lstm", hiddenSize: 16, numLayers: 2 }], output: { size: vocab.size, loss: "xent" }, mode: "many-to-many", seed: 5 });
  m.fit({ stream: ids }, { steps: 30, batchSize: 8, tbptt: { k1: 16 }, optimizer: { type: "adam", lr: 0.01 } });
  const T = 10, B = 2;
  const x = [];
  for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) x.push(ids[200 + 1500 * b + t]);
  write("ours_char_lstm", m, { T, B, ids: x, lengths: [T, T] }, { vocab: JSON.stringify(vocab.tokens) });
}

// 2. A classifier: which half of the vocabulary is more frequent.
{
  const rng = new Rng(7);
  const V = 12;
  const m = new Sequential({ input: { type: "tokens", vocabSize: V, embeddingDim: 5 }, recurrent: [{ cell: "gru", hiddenSize: 6, bidirectional: true }, { cell: "lstm", hiddenSize: 5 }], output: { size: 2, loss: "xent" }, mode: "many-to-one", seed: 6 });
  const inputs = [], targets = [];
  for (let i = 0; i < 64; i++) {
    const s = Array.from({ length: 8 }, () => Math.floor(rng.next() * V));
    inputs.push(s);
    targets.push(s.filter((v) => v < V / 2).length > 4 ? 1 : 0);
  }
  m.fit({ inputs, targets }, { epochs: 3, batchSize: 16, optimizer: { type: "adam", lr: 0.02 } });
  const T = 8, B = 3;
  const x = [];
  for (let t = 0; t < T; t++) for (let b = 0; b < B; b++) x.push(inputs[b][t]);
  write("ours_bigru_classifier", m, { T, B, ids: x, lengths: [T, T, T] });
}

// 3. A regression on features: next value of a noisy sine, padded batch.
{
  const rng = new Rng(8);
  const m = new Sequential({ input: { type: "features", size: 2 }, recurrent: [{ cell: "rnn_relu", hiddenSize: 7, numLayers: 2 }], output: { size: 1, loss: "mse" }, mode: "many-to-many", seed: 9 });
  const inputs = [], targets = [];
  for (let i = 0; i < 32; i++) {
    const f = 0.2 + rng.next() * 0.5, ph = rng.next() * 6;
    const L = 6 + Math.floor(rng.next() * 5);
    const s = Array.from({ length: L + 1 }, (_, t) => Math.sin(ph + f * t));
    inputs.push(s.slice(0, L).flatMap((v) => [v, f]));
    targets.push(s.slice(1));
  }
  m.fit({ inputs, targets }, { epochs: 3, batchSize: 8, optimizer: { type: "adam", lr: 0.01 } });
  const T = 10, B = 3;
  const lengths = [10, 6, 8];
  const features = new Array(T * B * 2).fill(0);
  for (let b = 0; b < B; b++) for (let t = 0; t < lengths[b]; t++) for (let f = 0; f < 2; f++) features[(t * B + b) * 2 + f] = inputs[b][t * 2 + f] ?? 0;
  write("ours_rnn_relu_series", m, { T, B, features, lengths });
}

// 4, 5. Seq2Seq: the input is the sources and teacher-forced decoder tokens [T, B] (time-major).
for (const [name, spec] of [
  ["ours_seq2seq_lstm", { source: { type: "tokens", vocabSize: 9, embeddingDim: 5 }, target: { vocabSize: 9, embeddingDim: 5, bosId: 0, eosId: 1 }, recurrent: { cell: "lstm", hiddenSize: 8, numLayers: 2 }, seed: 10 }],
  ["ours_seq2seq_vector", { source: { type: "vector", size: 3 }, target: { vocabSize: 7, embeddingDim: 4, bosId: 0, eosId: 1 }, recurrent: { cell: "gru", hiddenSize: 6 }, seed: 11 }],
]) {
  const rng = new Rng(12);
  const m = new Seq2Seq(spec);
  const V = spec.target.vocabSize;
  const sources = [], targets = [];
  for (let i = 0; i < 48; i++) {
    const L = 2 + Math.floor(rng.next() * 4);
    const t = Array.from({ length: L }, () => 2 + Math.floor(rng.next() * (V - 2)));
    targets.push(t);
    sources.push(spec.source.type === "tokens" ? t.slice().reverse() : [t[0] / V, L / 5, rng.next()]);
  }
  m.fit({ sources, targets }, { epochs: 3, batchSize: 16, optimizer: { type: "adam", lr: 0.02 } });
  const B = 3, T = 5;
  const tokens = Array.from({ length: T * B }, () => Math.floor(rng.next() * V));
  write(name, m, { sources: sources.slice(0, B), T, B, tokens });
}
