// The demo's Web Worker: everything that computes runs here, so the page's
// main thread only draws. It builds a character-level model on the page's
// text, trains it in short chunks with `fit` (the hidden state carried across
// chunks by the model's train state), and between chunks answers the page:
// validation loss, samples, the unfolded view (`inspect`), the model file
// (`saveModel` / `loadModel`) and the vanishing-gradient experiment.
//
// Protocol: the page posts { id, type, ...args }; the worker answers
// { id, result } or { id, error }. While training it also posts
// { type: "progress" | "val" | "sample" | "stopped", ... } on its own.
import {
  init, inspect, loadModel, LSTM, Rng, saveModel, Sequential, SimpleRNN, Vocab,
} from "../../dist/index.js";

/** Settings of a training run (the page's form). */
const DEFAULTS = {
  cell: "lstm", hiddenSize: 128, numLayers: 1, embeddingDim: 32,
  batchSize: 16, k1: 48, lr: 0.01, seed: 1, valFraction: 0.1, maxValChars: 16_000,
};

let model = null; // Sequential
let vocab = null; // Vocab
let config = { ...DEFAULTS };
let trainIds = null; // Int32Array
let valIds = null; // Int32Array
let unigram = NaN;
let running = false;
let temperature = 0.8;
let samples = 0;
let loop = null; // the running training loop's promise

/** Yield to the event loop without setTimeout's clamping, so messages get in between chunks. */
const channel = new MessageChannel();
const pending = [];
channel.port1.onmessage = () => pending.shift()?.();
const yieldNow = () => new Promise((resolve) => {
  pending.push(resolve);
  channel.port2.postMessage(0);
});

/**
 * Loss of a unigram model (character frequencies of the training part, add-one
 * smoothed) on the validation part, in nats/char: the line a language model
 * must get below to have learnt anything beyond letter frequencies.
 */
function unigramLoss(train, val, V) {
  const counts = new Float64Array(V).fill(1);
  for (const id of train) counts[id]++;
  const total = train.length + V;
  let s = 0;
  for (const id of val) s -= Math.log(counts[id] / total);
  return s / val.length;
}

function disposeModel() {
  model?.dispose();
  model = null;
}

function specFor(c, V) {
  return {
    input: { type: "tokens", vocabSize: V, embeddingDim: c.embeddingDim },
    recurrent: [{ cell: c.cell, hiddenSize: c.hiddenSize, numLayers: c.numLayers, ...(c.cell === "lstm" ? { forgetBias: 1 } : {}) }],
    output: { size: V, loss: "xent" },
    mode: "many-to-many",
    seed: c.seed,
  };
}

/** Split the text (validation: the last 10%, at most maxValChars; train: the rest) and encode it with `vocab`. */
function setText(text) {
  const ids = vocab.encode(text);
  // The last 10% of the text, at most maxValChars (validation runs every ~1.5 s, on the worker's time).
  const nVal = Math.max(2 * config.batchSize, Math.min(config.maxValChars, Math.floor(ids.length * config.valFraction)));
  if (ids.length - nVal < config.batchSize * (config.k1 + 1)) {
    throw new Error(`the text is too short: ${ids.length} characters; paste at least ${config.batchSize * (config.k1 + 1) + nVal}`);
  }
  trainIds = ids.subarray(0, ids.length - nVal);
  valIds = ids.subarray(ids.length - nVal);
  unigram = unigramLoss(trainIds, valIds, vocab.size);
}

function validationLoss() {
  return model.evaluate({ stream: valIds }, { batchSize: Math.min(16, Math.floor(valIds.length / 2)), k1: 64 }).loss;
}

/** A prime for samples: the text's first word, or a capital letter it has. */
function prime() {
  for (const p of ["The ", "We ", "I ", "A ", "T"]) if ([...p].every((ch) => vocab.has(ch))) return p;
  return vocab.tokens.find((t) => t.length === 1) ?? vocab.tokens[0];
}

/** Sample `length` characters after the prime, then unfold the model over prime + sample. */
function sampleAndInspect({ length = 150, seed, temp = temperature, primeText = prime() } = {}) {
  const p = [...primeText].filter((ch) => vocab.has(ch)).join("") || prime();
  const s = seed ?? ++samples;
  const ids = model.generate(vocab.encode(p), { length, temperature: temp, seed: s });
  const text = p + vocab.decode(ids);
  return { text, seed: s, temperature: temp, trace: traceOf(text) };
}

/** The unfolded view of `text`: every layer's h, c and gates per character (transferable arrays). */
function traceOf(text) {
  const kept = [...text].filter((ch) => vocab.has(ch));
  const r = inspect(model, vocab.encode(kept.join("")));
  return {
    chars: kept,
    dropped: [...text].length - kept.length,
    steps: r.steps,
    layers: r.layers.map((l) => ({ name: l.name, cell: l.cell, hiddenSize: l.hiddenSize, kinds: l.kinds, values: l.values })),
    probs: r.probs,
    vocab: vocab.tokens,
  };
}

function transferables(x) {
  const out = [];
  const walk = (v) => {
    if (ArrayBuffer.isView(v)) out.push(v.buffer);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === "object") Object.values(v).forEach(walk);
  };
  walk(x);
  return out;
}

function describeModel() {
  const spec = model.toJSON();
  return {
    spec, parameters: model.parameterCount, vocabSize: vocab.size,
    trainChars: trainIds?.length ?? 0, valChars: valIds?.length ?? 0, unigram,
    steps: model.trainState.history.steps,
  };
}

/**
 * The training loop: chunks of ~40 ms of `fit` (one update at a time, the
 * carried state kept in the model's train state between calls), then yield so
 * the page's messages get answered; validation every ~1.5 s, a sample (and its
 * unfolded view) every ~3 s.
 */
function trainLoop() {
  return trainChunks().catch((err) => {
    // e.g. TrainingDivergedError: the weights are the last good ones; tell the page and stop.
    running = false;
    postMessage({ type: "error", message: err?.message ?? String(err) });
  });
}

async function trainChunks() {
  const fitOptions = {
    steps: 1, batchSize: config.batchSize, tbptt: { k1: config.k1 },
    optimizer: { type: "adam", lr: config.lr }, clipNorm: 5, seed: config.seed,
  };
  let lastVal = performance.now();
  let lastSample = performance.now();
  let chars = 0;
  let t0 = performance.now();
  while (running) {
    const start = performance.now();
    let loss = 0;
    let n = 0;
    while (performance.now() - start < 40) {
      model.fit({ stream: trainIds }, { ...fitOptions, onStep: (s) => { loss += s.loss; n++; } });
    }
    chars += n * config.batchSize * config.k1;
    const now = performance.now();
    postMessage({ type: "progress", step: model.trainState.history.steps, loss: loss / n, charsPerSecond: (chars * 1000) / (now - t0) });
    if (now - t0 > 3000) {
      t0 = now;
      chars = 0;
    }
    if (now - lastVal > 1500) {
      lastVal = now;
      postMessage({ type: "val", step: model.trainState.history.steps, valLoss: validationLoss() });
    }
    if (now - lastSample > 3000) {
      lastSample = now;
      const s = sampleAndInspect();
      postMessage({ type: "sample", ...s, step: model.trainState.history.steps }, transferables(s.trace));
    }
    await yieldNow();
  }
  postMessage({ type: "stopped", step: model.trainState.history.steps, valLoss: validationLoss() });
}

async function stop() {
  running = false;
  await loop;
  loop = null;
}

/** The vanishing gradient (lecture p.20, p.35): ‖∂L/∂h_t‖ with the loss on the last of 100 steps. */
function vanishing() {
  const T = 100, B = 4, I = 8, H = 32;
  const x = new Rng(1).fillUniform(new Float32Array(T * B * I), -1, 1);
  const dhN = new Float32Array(B * H).fill(1);
  const norms = (m) => {
    m.forward(x, { batchSize: B });
    m.backward({ dhN, recordGradNorms: true });
    const g = m.gradNorms();
    m.dispose();
    return Array.from(g, (v) => v / g[T - 1]);
  };
  return {
    rnn: norms(new SimpleRNN({ inputSize: I, hiddenSize: H, seed: 3 })),
    lstm: norms(new LSTM({ inputSize: I, hiddenSize: H, seed: 3, forgetBias: 1 })),
  };
}

const handlers = {
  async init() {
    await init(); // fetches build/unfold.wasm beside dist/
    return { vanishing: vanishing() };
  },
  /** Build a fresh model on `text` with `settings` and start training. */
  async start({ text, settings }) {
    await stop();
    // A text that cannot be trained on leaves the current model, vocabulary and settings as they were.
    const saved = { config, vocab, trainIds, valIds, unigram };
    try {
      config = { ...DEFAULTS, ...settings };
      vocab = Vocab.fromChars(text);
      setText(text);
    } catch (err) {
      ({ config, vocab, trainIds, valIds, unigram } = saved);
      throw err;
    }
    disposeModel();
    model = new Sequential(specFor(config, vocab.size));
    const info = { ...describeModel(), valLoss: validationLoss() };
    running = true;
    loop = trainLoop();
    return info;
  },
  async pause() {
    await stop();
    return { step: model?.trainState.history.steps ?? 0 };
  },
  /** Continue training the current model (after a pause, or after loading one) on `text`. */
  async resume({ text }) {
    if (!model) throw new Error("no model yet: press Train first");
    await stop();
    const missing = [...new Set(text)].filter((ch) => !vocab.has(ch));
    if (missing.length) throw new Error(`the model's vocabulary has no ${missing.slice(0, 5).map((c) => JSON.stringify(c)).join(", ")}${missing.length > 5 ? "…" : ""}: train a new model on this text`);
    setText(text);
    running = true;
    loop = trainLoop();
    return describeModel();
  },
  temperature({ value }) {
    temperature = value;
    return { temperature };
  },
  sample(args) {
    if (!model) throw new Error("no model yet: press Train first");
    return sampleAndInspect(args);
  },
  trace({ text }) {
    if (!model) throw new Error("no model yet: press Train first");
    return traceOf(text);
  },
  async save() {
    if (!model) throw new Error("no model yet: press Train first");
    const wasRunning = running;
    await stop(); // the file holds a consistent state: no update half-done
    const bytes = saveModel(model, { vocab, meta: { demo: { config } } });
    if (wasRunning) {
      running = true;
      loop = trainLoop();
    }
    return { bytes };
  },
  async load({ bytes }) {
    const { model: m, vocab: v, meta } = loadModel(new Uint8Array(bytes)); // checks everything first
    if (!v || !(m instanceof Sequential) || !m.embedding || m.spec.mode !== "many-to-many") {
      m.dispose();
      throw new Error("this .unfold file is not a character language model (it needs a vocabulary and a many-to-many token model)");
    }
    await stop();
    disposeModel();
    model = m;
    vocab = v;
    const r = m.spec.recurrent[0];
    config = { ...DEFAULTS, ...(meta?.demo?.config ?? {}), cell: r.cell, hiddenSize: r.hiddenSize, numLayers: r.numLayers ?? 1, embeddingDim: m.spec.input.embeddingDim };
    trainIds = valIds = null;
    return describeModel();
  },
};

self.onmessage = async (e) => {
  const { id, type, ...args } = e.data;
  try {
    if (!handlers[type]) throw new Error(`unknown request '${type}'`);
    const result = await handlers[type](args);
    postMessage({ id, result }, transferables(result));
  } catch (err) {
    postMessage({ id, error: err?.message ?? String(err) });
  }
};
