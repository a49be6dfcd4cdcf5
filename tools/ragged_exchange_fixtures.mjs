#!/usr/bin/env node
// Padded bidirectional models crossing unfold-rnn -> PyTorch -> unfold-rnn
// (issue 15; test/safetensors.test.ts "ragged batches"). Step 1 of 2: train
// two char-level bidirectional models here on words of corpus/sotu.txt, save
// them with saveSafetensors(m, { metadata: { vocab } }), and write a ragged
// batch (lengths differ; the padding holds random ids, which must change
// nothing). Step 2, `/usr/bin/python3 tools/torch_ragged_exchange.py`, runs
// them in PyTorch with pack_padded_sequence, trains them on there (one as a
// DistributedDataParallel module) and saves them back. Needs `npm run build`.
//
//   ours_ragged_bigru_words    tokens, 2-layer bidirectional GRU, many-to-one (3 classes of words)
//   ours_ragged_bilstm_tagger  tokens, bidirectional LSTM, many-to-many (a vowel tagger)
//   ours_ragged_seq2seq_attention  Seq2Seq: words spelled backwards, 2-layer bidirectional LSTM encoder,
//                              'general' attention with input feeding; ragged sources, teacher-forced decoder tokens
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { init, Rng, saveSafetensors, Seq2Seq, Sequential, Vocab } from "../dist/index.node.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const OUT = join(ROOT, "test", "fixtures", "safetensors");
await init();

const text = readFileSync(join(ROOT, "corpus", "sotu.txt"), "utf8").slice(0, 20000);
const vocab = Vocab.fromChars(text);
const words = text.split(/\s+/).filter((w) => w.length >= 2 && w.length <= 12);
/** Word classes: 0 capitalised, 1 ends in punctuation, 2 otherwise. */
const wordClass = (w) => (/^[A-Z]/.test(w) ? 0 : /[.,;:!?]$/.test(w) ? 1 : 2);
const isVowel = (c) => ("aeiouAEIOU".includes(c) ? 1 : 0);

/** A ragged time-major batch of words: ids [T, B] with random ids as padding, lengths [B]. */
function raggedBatch(list, rng) {
  const B = list.length;
  const T = Math.max(...list.map((w) => w.length));
  const ids = Array.from({ length: T * B }, () => Math.floor(rng.next() * vocab.size)); // padding: random ids
  list.forEach((w, b) => Array.from(vocab.encode(w)).forEach((id, t) => (ids[t * B + b] = id)));
  return { T, B, ids, lengths: list.map((w) => w.length), words: list };
}

function write(name, model, input) {
  const st = saveSafetensors(model, { metadata: { vocab: JSON.stringify(vocab.tokens), corpus: "corpus/sotu.txt, first 20000 characters" } });
  writeFileSync(join(OUT, `${name}.safetensors`), st);
  writeFileSync(join(OUT, `${name}.input.json`), JSON.stringify(input) + "\n");
  console.log(`wrote ${name}.safetensors (${st.length} bytes) and ${name}.input.json`);
}

const rng = new Rng(15);
// The evaluation batch: lengths 2..12, shuffled (not sorted: enforce_sorted=False on the PyTorch side).
const pick = (n) => [7, 2, 12, 4, 9, 5, 11, 3].slice(0, n).map((L, k) => words.slice(2000 + 20 * k).find((w) => w.length === L));

// 1. Word classifier: 2-layer bidirectional GRU, many-to-one.
{
  const m = new Sequential({ input: { type: "tokens", vocabSize: vocab.size, embeddingDim: 8 }, recurrent: [{ cell: "gru", hiddenSize: 10, numLayers: 2, bidirectional: true }], output: { size: 3, loss: "xent" }, mode: "many-to-one", seed: 21 });
  // Trained on words of one length per batch (works with or without packed semantics), a few epochs.
  const train = words.slice(0, 2000);
  for (let L = 3; L <= 9; L++) {
    const ws = train.filter((w) => w.length === L);
    m.fit({ inputs: ws.map((w) => vocab.encode(w)), targets: ws.map(wordClass) }, { epochs: 2, batchSize: 16, optimizer: { type: "adam", lr: 0.01 } });
  }
  write("ours_ragged_bigru_words", m, raggedBatch(pick(8), rng));
}

// 2. Vowel tagger: bidirectional LSTM, many-to-many (each character: is it a vowel? needs no context, but trains both directions).
{
  const m = new Sequential({ input: { type: "tokens", vocabSize: vocab.size, embeddingDim: 6 }, recurrent: [{ cell: "lstm", hiddenSize: 7, bidirectional: true }], output: { size: 2, loss: "xent" }, mode: "many-to-many", seed: 22 });
  const windows = [];
  for (let i = 0; i + 10 < 8000; i += 10) windows.push(text.slice(i, i + 10));
  m.fit({ inputs: windows.map((w) => vocab.encode(w)), targets: windows.map((w) => Array.from(w, isVowel)) }, { epochs: 2, batchSize: 16, optimizer: { type: "adam", lr: 0.02 } });
  write("ours_ragged_bilstm_tagger", m, raggedBatch(pick(6), rng));
}

// 3. An attention Seq2Seq: spell a word backwards (characters in, characters out; ids 0, 1 are begin/end).
{
  const V = vocab.size + 2;
  const enc = (w) => Array.from(vocab.encode(w), (id) => id + 2);
  const m = new Seq2Seq({
    source: { type: "tokens", vocabSize: vocab.size, embeddingDim: 8 },
    target: { vocabSize: V, embeddingDim: 6, bosId: 0, eosId: 1 },
    recurrent: { cell: "lstm", hiddenSize: 10, numLayers: 2, bidirectional: true },
    attention: "general",
    inputFeeding: true,
    seed: 23,
  });
  const train = words.slice(0, 600);
  m.fit({ sources: train.map((w) => vocab.encode(w)), targets: train.map((w) => enc([...w].reverse().join(""))) }, { epochs: 2, batchSize: 16, optimizer: { type: "adam", lr: 0.01 } });
  const list = pick(5);
  const B = list.length;
  const T = Math.max(...list.map((w) => w.length)) + 1;
  // Decoder inputs [bos, y...] (time-major [T, B], random ids past each target's length).
  const tokens = Array.from({ length: T * B }, () => Math.floor(rng.next() * V));
  list.forEach((w, b) => [0, ...enc([...w].reverse().join(""))].forEach((id, t) => (tokens[t * B + b] = id)));
  const S = Math.max(...list.map((w) => w.length));
  const source = Array.from({ length: S * B }, () => Math.floor(rng.next() * vocab.size)); // padding: random ids
  list.forEach((w, b) => Array.from(vocab.encode(w)).forEach((id, t) => (source[t * B + b] = id)));
  write("ours_ragged_seq2seq_attention", m, { S, T, B, source, source_lengths: list.map((w) => w.length), tokens, target_lengths: list.map((w) => w.length + 1), sources: list.map((w) => Array.from(vocab.encode(w))), words: list });
}
