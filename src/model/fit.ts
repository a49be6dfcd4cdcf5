/**
 * Training, evaluation, prediction and generation for a `Sequential`
 * ({@link SequentialModel}); training is train/loop.ts's loop, driven through
 * {@link sequentialTrainer}.
 *
 * Data comes in one of two forms:
 *  - a token stream `{ stream }` for a language model: cut into B parallel
 *    streams and read in truncated-BPTT windows, the hidden state carried
 *    from one window to the next;
 *  - sequences `{ inputs, targets }`: batched by length, padded, masked.
 */
import { heap } from "../runtime/wasm.js";
import { bucketBatches, padBatch, trainValSplit } from "../data/batch.js";
import { TokenStream } from "../data/stream.js";
import { isTokenIds } from "../data/chars.js";
import { Rng } from "../util/rng.js";
import { fit as runFit, fitAsync as runFitAsync, type Trainable } from "../train/loop.js";
import {
  resolveOptions, type ResolvedOptions, sequentialBatches, type TrainHistory, type TrainOptions,
} from "../train/trainer.js";
import { argmax, checkSamplingOptions, sampleToken, type SamplingOptions, softmax } from "./sampling.js";
import { UnfoldError } from "../errors.js";
import * as v from "../validate.js";
import type { Batch, SequentialModel } from "./types.js";

/** (Functions here take the interface; `Sequential` implements it.) */
type Sequential = SequentialModel;

/**
 * A language-model corpus: token ids in reading order. A Uint8Array,
 * Uint16Array or Int32Array (e.g. `vocab.encode(text, { compact: true })`)
 * is read in place, never copied to 32-bit; other arrays are copied.
 */
export interface StreamData {
  /** Token ids [N], in reading order. */
  stream: ArrayLike<number>;
}

/**
 * Sequences and their targets. `inputs[i]`: token ids (tokens models) or
 * T_i*F features (features models). `targets[i]`: many-to-one — a class id
 * (xent) or O values (mse); many-to-many — T_i class ids or T_i*O values.
 */
export interface SequenceData {
  /** One entry per sequence: T_i token ids, or T_i*F features. */
  inputs: ArrayLike<number>[];
  /** One entry per sequence: a class id or O values (many-to-one), T_i ids or T_i*O values (many-to-many). */
  targets: (number | ArrayLike<number>)[];
}

/** What {@link Sequential.fit} trains on: a token stream, or sequences with targets. */
export type TrainData = StreamData | SequenceData;

/** Options of {@link Sequential.fit}: the training options plus validation data. */
export interface FitOptions extends TrainOptions {
  /** Held-out data, or a fraction of sequence data to hold out (seeded). */
  validation?: TrainData | {
    /** In (0, 1): this fraction of the sequences, chosen by the seed. */
    fraction: number;
  };
}

export { newTrainState, type TrainState } from "../train/loop.js";

/** Mean loss and accuracy (xent) of a model on data. */
export interface Evaluation {
  /** Mean loss per target (nats for xent). */
  loss: number;
  /** Fraction of correct argmax predictions over all targets (xent only). */
  accuracy?: number;
  /** Number of targets averaged over. */
  count: number;
}

const isStream = (d: TrainData): d is StreamData => (d as StreamData).stream !== undefined;

/** Train `model` on `data` (train/loop.ts's loop); returns the model's history. */
export function fit(model: Sequential, data: TrainData, opts: FitOptions = {}): TrainHistory {
  return runFit(sequentialTrainer(model), data, opts);
}

/** {@link fit} that yields to the event loop (without sleeping) every ~8 ms of work. */
export function fitAsync(model: Sequential, data: TrainData, opts: FitOptions = {}): Promise<TrainHistory> {
  return runFitAsync(sequentialTrainer(model), data, opts);
}

/** One step of Sequential training: a batch, the state it starts from, and (streams) where the next window starts. */
interface SequentialStep {
  batch: Batch;
  state: "zeros" | "keep";
  /** Stream windows: the step of this window whose state starts the next one, and the next window's position. */
  window?: { carry: number; next: number };
}

/**
 * A Sequential as the training loop sees it. Stream data: truncated-BPTT
 * windows over `batchSize` parallel streams, the hidden state carried from
 * one window to the next, resumable inside an epoch. Sequences: padded
 * batches with their lengths, bucketed by length when shuffling.
 */
export function sequentialTrainer(model: Sequential): Trainable<TrainData, FitOptions, SequentialStep> {
  const st = model.trainState;
  return {
    trainState: st,
    regions: () => model.regions(),
    checkFit(data, opts) {
      const o = resolveOptions(opts, model.spec.seed ?? 0);
      checkData(model, data, "data", o.batchSize);
      checkValidation(model, opts.validation, isStream(data));
      return o;
    },
    splitValidation: (data, opts, rng) => splitValidation(data, opts.validation, rng),
    *batches(train, o, rng) {
      if (isStream(train)) {
        const ts = new TokenStream(train.stream, o.batchSize);
        if (st.streamPosition > 0 && st.carried) {
          // Resuming inside an epoch: continue from the state the run stopped with.
          st.carried.forEach((c, i) => (c ? model.recurrent[i].restoreCarriedState(c) : model.recurrent[i].resetState()));
        }
        st.carried = undefined;
        for (const w of streamWindows(ts, o.k1, o.k2, st.streamPosition)) {
          yield { batch: w.batch, state: w.first || !o.carry ? "zeros" : "keep", window: { carry: w.carry, next: w.next } };
        }
        st.streamPosition = 0; // (the epoch ran to its end)
        return;
      }
      const order = o.shuffle
        ? bucketBatches(train.inputs.map((s, i) => seqLen(model, s, i)), o.batchSize, { rng })
        : sequentialBatches(train.inputs.length, o.batchSize);
      for (const idx of order) yield { batch: makeBatch(model, train, idx, true), state: "zeros" };
    },
    lossAndBackward({ batch, state }) {
      model.checkBatch(batch, true);
      model.forwardPtr(batch, { training: true, state });
      const lc = model.lossAndGrad(batch);
      if (Number.isFinite(lc.loss)) model.backwardPtr(false); // fit has no use for dL/dh0
      return lc;
    },
    afterStep({ window }) {
      if (!window) return;
      model.carryState(window.carry);
      st.streamPosition = window.next;
    },
    stoppedInside(train) {
      if (!isStream(train)) return true;
      if (st.streamPosition === 0) return false;
      st.carried = model.recurrent.map((r) => r.carriedState()); // to resume with
      return true;
    },
    validationLoss: (val, o) => evaluate(model, val, { batchSize: o.batchSize, k1: o.k1, carry: o.carry }).loss,
    resetState: () => model.resetState(),
  };
}

/** A token stream trains a left-to-right language model: many-to-many, unidirectional (the state is carried forward). */
function checkStreamModel(model: Sequential): void {
  if (!model.embedding || model.spec.output.loss !== "xent") throw new UnfoldError("E_UNSUPPORTED", "stream data is for token language models (tokens input, xent output)");
  if (model.spec.mode !== "many-to-many") throw new UnfoldError("E_UNSUPPORTED", "stream data is for many-to-many (language) models");
  if (model.recurrent.some((r) => r.numDirections !== 1)) {
    throw new UnfoldError("E_UNSUPPORTED", "stream data (truncated BPTT with a carried state) needs unidirectional recurrent layers; a bidirectional layer would read the future");
  }
}

/**
 * Check training or evaluation data completely, before any of it is used:
 * its form, every id (inside the vocabulary and the output classes), every
 * length, every value finite. `batchSize` (streams) needs 2 tokens per stream.
 */
export function checkData(model: Sequential, d: TrainData, name: string, batchSize?: number): void {
  v.checkObject(name, d, "{ stream } or { inputs, targets }");
  if (isStream(d)) {
    checkStreamModel(model);
    v.checkArrayLike(`${name}.stream`, d.stream);
    if (d.stream.length < 2) throw new UnfoldError("E_SHAPE", `${name}.stream has ${d.stream.length} token(s); a language model needs at least 2 tokens`, { name: `${name}.stream`, expected: "at least 2 tokens", received: d.stream.length });
    // Every token is an input (< V) and, but the first, a target (< O).
    v.checkIds(`${name}.stream`, d.stream, Math.min(model.embedding!.numEmbeddings, model.spec.output.size));
    if (batchSize !== undefined && d.stream.length < 2 * batchSize) {
      throw new UnfoldError("E_OPTION", `${d.stream.length} tokens cannot make batchSize = ${batchSize} parallel streams of at least 2 tokens; lower batchSize`, { name: "batchSize", expected: `<= ${Math.floor(d.stream.length / 2)}`, received: batchSize });
    }
    return;
  }
  if (!Array.isArray((d as SequenceData).inputs) || !Array.isArray((d as SequenceData).targets)) {
    throw new UnfoldError("E_OPTION", `${name} must be { stream } or { inputs, targets } with arrays`, { name, expected: "{ stream } or { inputs: [], targets: [] }", received: d });
  }
  if (d.inputs.length === 0) throw new UnfoldError("E_SHAPE", `no training sequences (${name}.inputs is empty)`, { name: `${name}.inputs`, expected: "at least one sequence", received: 0 });
  checkInputs(model, d.inputs, `${name}.inputs`);
  if (d.inputs.length !== d.targets.length) throw new UnfoldError("E_SHAPE", `${d.inputs.length} inputs but ${d.targets.length} targets`, { name: `${name}.targets`, expected: `${d.inputs.length} targets`, received: d.targets.length });
  const O = model.spec.output.size;
  const xent = model.spec.output.loss === "xent";
  d.targets.forEach((y, i) => {
    const n = `${name}.targets[${i}]`;
    const L = seqLen(model, d.inputs[i], i);
    if (model.spec.mode === "many-to-one") {
      if (xent) {
        if (typeof y !== "number") badTarget(i, "a class id");
        v.checkIds(n, [y as number], O, true, "class");
      } else {
        if (typeof y === "number" || y.length !== O) badTarget(i, `${O} values`);
        v.checkArrayLike(n, y);
        v.checkFinite(n, y as ArrayLike<number>);
      }
    } else {
      if (typeof y === "number") badTarget(i, xent ? `${L} class ids (one per step)` : `${L * O} values (${O} per step)`);
      v.checkArrayLike(n, y);
      if (xent) {
        if (y.length !== L) badTarget(i, `${L} class ids (one per step)`);
        v.checkIds(n, y, O, true, "class");
      } else {
        if (y.length !== L * O) badTarget(i, `${L * O} values (${O} per step)`);
        v.checkFinite(n, y);
      }
    }
  });
}

/** Input sequences of a model: token ids in [0, V), or T_i*F finite features. */
function checkInputs(model: Sequential, inputs: unknown, name: string): asserts inputs is ArrayLike<number>[] {
  v.checkSequences(name, inputs);
  inputs.forEach((s, i) => {
    seqLen(model, s, i);
    if (model.embedding) v.checkIds(`${name}[${i}]`, s, model.embedding.numEmbeddings);
    else v.checkFinite(`${name}[${i}]`, s);
  });
}

/** `validation`: held-out data of the same kind, or { fraction } in (0, 1). */
function checkValidation(model: Sequential, val: FitOptions["validation"], stream: boolean): void {
  if (val === undefined) return;
  v.checkObject("validation", val, "held-out data or { fraction }");
  if ("fraction" in val) {
    v.checkNumber("validation.fraction", val.fraction, { min: 0, max: 1, minOpen: true, maxOpen: true });
    return;
  }
  if (isStream(val) !== stream) throw new UnfoldError("E_OPTION", `validation must be ${stream ? "{ stream }" : "{ inputs, targets }"} like the training data`, { name: "validation" });
  checkData(model, val, "validation");
}

/**
 * Truncated-BPTT windows (lecture p.20) over B parallel streams. Every k1
 * steps an update; the window reaches back k2 steps, so gradients flow
 * through k2 steps while the loss counts only the k1 new targets (the
 * others were counted by the previous update). `carry` is the step of this
 * window whose state starts the next window.
 */
export function* streamWindows(ts: TokenStream, k1: number, k2: number, from = 0): Generator<{ batch: Batch; first: boolean; carry: number; next: number }> {
  const L = ts.L;
  for (let p = from; p < L - 1; ) {
    const s = Math.max(0, p - (k2 - k1));
    const e = Math.min(p + k1, L - 1);
    const w = ts.window(s, e - s);
    const targets = w.y;
    for (let i = 0; i < (p - s) * w.B; i++) targets[i] = -1; // already counted
    const nextS = Math.max(0, e - (k2 - k1));
    yield { batch: { T: w.T, B: w.B, ids: w.x, targets }, first: s === 0, carry: nextS - s, next: e };
    p = e;
  }
}

function splitValidation(data: TrainData, v: FitOptions["validation"], rng: Rng): { train: TrainData; val: TrainData | null } {
  if (!v) return { train: data, val: null };
  if ("fraction" in v) {
    if (isStream(data)) {
      // Hold out the end of the stream.
      const n = data.stream.length;
      const cut = Math.floor(n * (1 - v.fraction));
      if (isTokenIds(data.stream)) return { train: { stream: data.stream.subarray(0, cut) }, val: { stream: data.stream.subarray(cut) } }; // views, no copies
      const arr = Array.from(data.stream);
      return { train: { stream: arr.slice(0, cut) }, val: { stream: arr.slice(cut) } };
    }
    const { train, val } = trainValSplit(data.inputs.length, v.fraction, rng);
    const pick = (ix: number[]): SequenceData => ({ inputs: ix.map((i) => data.inputs[i]), targets: ix.map((i) => data.targets[i]) });
    return { train: pick(train), val: pick(val) };
  }
  return { train: data, val: v };
}

/** Steps in sequence `s` (number `i` of the data), checked. */
function seqLen(model: Sequential, s: ArrayLike<number>, i: number): number {
  const L = model.embedding ? s.length : s.length / model.inputSize;
  if (!(Number.isInteger(L) && L >= 1)) {
    throw new UnfoldError("E_SHAPE", `sequence ${i} has ${s.length} values, which is not a positive multiple of the ${model.embedding ? 1 : model.inputSize} input features per step`);
  }
  return L;
}

/** Pad and stack sequences `idx` of `data` into an engine batch. */
export function makeBatch(model: Sequential, data: SequenceData, idx: number[], withTargets: boolean): Batch {
  if (idx.length === 0) throw new UnfoldError("E_SHAPE", "empty batch");
  const F = model.inputSize;
  const O = model.spec.output.size;
  const seqs = idx.map((i) => data.inputs[i]);
  const lens = seqs.map((s, j) => seqLen(model, s, idx[j]));
  const B = idx.length;
  const T = Math.max(...lens);
  const lengths = Int32Array.from(lens);
  const b: Batch = { T, B, lengths };
  if (model.embedding) b.ids = padBatch(seqs, { padId: -1 }).ids;
  else {
    const f = new Float32Array(T * B * F);
    seqs.forEach((s, j) => {
      // Batch-first sequence [T_j, F] -> time-major rows (t, j); typed arrays copy a whole row at a time.
      if (ArrayBuffer.isView(s) && !(s instanceof DataView)) {
        const v = s as unknown as Float32Array;
        for (let t = 0; t < lens[j]; t++) f.set(v.subarray(t * F, (t + 1) * F), (t * B + j) * F);
      } else for (let t = 0; t < lens[j]; t++) for (let i = 0; i < F; i++) f[(t * B + j) * F + i] = s[t * F + i];
    });
    b.features = f;
  }
  if (!withTargets) return b;
  const tg = idx.map((i) => data.targets[i]);
  const xent = model.spec.output.loss === "xent";
  if (model.spec.mode === "many-to-one") {
    if (xent) b.targets = Int32Array.from(tg.map((y, j) => (typeof y === "number" ? y : badTarget(idx[j], "a class id"))));
    else {
      const t = new Float32Array(B * O);
      tg.forEach((y, j) => {
        if (typeof y === "number" || y.length !== O) badTarget(idx[j], `${O} values`);
        t.set(y as ArrayLike<number>, j * O);
      });
      b.targets = t;
    }
  } else if (xent) {
    const t = new Int32Array(T * B).fill(-1);
    tg.forEach((y, j) => {
      if (typeof y === "number" || y.length !== lens[j]) badTarget(idx[j], `${lens[j]} class ids (one per step)`);
      const yy = y as ArrayLike<number>;
      for (let s = 0; s < lens[j]; s++) t[s * B + j] = yy[s];
    });
    b.targets = t;
  } else {
    const t = new Float32Array(T * B * O);
    const mask = new Float32Array(T * B);
    tg.forEach((y, j) => {
      if (typeof y === "number" || y.length !== lens[j] * O) badTarget(idx[j], `${lens[j] * O} values (${O} per step)`);
      const yy = y as ArrayLike<number>;
      for (let s = 0; s < lens[j]; s++) {
        mask[s * B + j] = 1;
        for (let q = 0; q < O; q++) t[(s * B + j) * O + q] = yy[s * O + q];
      }
    });
    b.targets = t;
    b.mask = mask;
  }
  return b;
}

function badTarget(i: number, want: string): never {
  throw new UnfoldError("E_SHAPE", `the target of sequence ${i} should be ${want}`, { name: `targets[${i}]`, expected: want });
}

/** Mean loss (and accuracy for xent) on data, without training. */
export function evaluate(model: Sequential, data: TrainData, o: { batchSize?: number; k1?: number; carry?: boolean } = {}): Evaluation {
  v.checkObject("evaluate: options", o);
  v.checkOptionalInt("evaluate: options.batchSize", o.batchSize, 1);
  v.checkOptionalInt("evaluate: options.k1", o.k1, 1);
  v.checkBool("evaluate: options.carry", o.carry);
  checkData(model, data, "data");
  const batchSize = o.batchSize ?? 32;
  let lossSum = 0;
  let count = 0;
  let correct = 0;
  let counted = 0;
  const xent = model.spec.output.loss === "xent";
  const O = model.spec.output.size;
  const run = (b: Batch, state: "zeros" | "keep") => {
    model.checkBatch(b, true);
    const { out, rows } = model.forwardPtr(b, { state });
    if (xent) {
      const logits = heap().f32(out, rows * O);
      for (let r = 0; r < rows; r++) {
        const y = b.targets![r];
        if (y < 0) continue;
        counted++;
        if (argmax(logits, r * O, O) === y) correct++;
      }
    }
    const { loss, count: c } = model.lossAndGrad(b);
    lossSum += loss * c;
    count += c;
  };
  if (isStream(data)) {
    const B = Math.max(1, Math.min(batchSize, Math.floor(data.stream.length / 2)));
    const ts = new TokenStream(data.stream, B);
    const k1 = o.k1 ?? 64;
    for (const w of streamWindows(ts, k1, k1)) {
      run(w.batch, w.first || o.carry === false ? "zeros" : "keep");
      model.carryState(w.carry);
    }
  } else {
    for (const idx of sequentialBatches(data.inputs.length, batchSize)) run(makeBatch(model, data, idx, true), "zeros");
  }
  model.resetState();
  if (count === 0) throw new UnfoldError("E_SHAPE", "no targets to evaluate on (all ignored?)", { name: "data.targets" });
  const res: Evaluation = { loss: lossSum / count, count };
  if (xent) res.accuracy = correct / counted;
  return res;
}

/**
 * Outputs for each input sequence: many-to-one — [O] (class probabilities
 * for xent, values for mse); many-to-many — [T_i * O].
 */
export function predict(model: Sequential, inputs: ArrayLike<number>[], batchSize = 32): Float32Array[] {
  checkInputs(model, inputs, "inputs");
  v.checkInt("predict: batchSize", batchSize, 1);
  const out: Float32Array[] = [];
  const O = model.spec.output.size;
  const xent = model.spec.output.loss === "xent";
  const data: SequenceData = { inputs, targets: [] };
  for (const idx of sequentialBatches(inputs.length, batchSize)) {
    const b = makeBatch(model, data, idx, false);
    model.checkBatch(b, false);
    const { out: p } = model.forwardPtr(b);
    const y = heap().f32(p, (model.spec.mode === "many-to-one" ? b.B : b.T * b.B) * O).slice();
    idx.forEach((_, j) => {
      if (model.spec.mode === "many-to-one") {
        const row = y.subarray(j * O, (j + 1) * O);
        out.push(xent ? Float32Array.from(softmax(row)) : row.slice());
      } else {
        const L = b.lengths![j];
        const r = new Float32Array(L * O);
        for (let t = 0; t < L; t++) {
          const row = y.subarray((t * b.B + j) * O, (t * b.B + j + 1) * O);
          r.set(xent ? Float32Array.from(softmax(row)) : row, t * O);
        }
        out.push(r);
      }
    });
  }
  model.resetState();
  return out;
}

/** Options of {@link Sequential.generate}. */
export interface GenerateOptions extends SamplingOptions {
  /** Tokens to generate after the prime. */
  length: number;
  /** Seed of the sampler. Default 0. */
  seed?: number;
  /** Stop early at this token id (e.g. an end token). */
  stopAt?: number;
}

/**
 * Free-running generation from a token language model: read `prime`, then
 * repeatedly sample the next token and feed it back as the next input.
 * @returns the generated ids (without the prime).
 */
export function generate(model: Sequential, prime: ArrayLike<number>, o: GenerateOptions): number[] {
  if (!model.embedding || model.spec.mode !== "many-to-many" || model.spec.output.loss !== "xent" || model.recurrent.some((r) => r.numDirections !== 1)) {
    throw new UnfoldError("E_UNSUPPORTED", "generate() needs a token language model (tokens input, unidirectional layers, many-to-many, xent output)");
  }
  v.checkArrayLike("generate: prime", prime);
  if (prime.length === 0) throw new UnfoldError("E_SHAPE", "generate() needs at least one prime token", { name: "prime", expected: "at least one token id", received: 0 });
  v.checkIds("generate: prime", prime, model.embedding.numEmbeddings);
  v.checkObject("generate: options", o, "an object { length, temperature?, topK?, topP?, seed?, stopAt? }");
  v.checkInt("generate: options.length", o.length, 0);
  v.checkNumber("generate: options.seed", o.seed, { optional: true });
  v.checkOptionalInt("generate: options.stopAt", o.stopAt, 0, model.spec.output.size - 1);
  checkSamplingOptions("generate: options", o);
  const O = model.spec.output.size;
  const rng = new Rng(o.seed ?? 0);
  const ids = Int32Array.from(prime);
  const b: Batch = { T: ids.length, B: 1, ids };
  model.checkBatch(b, false);
  let { out, rows } = model.forwardPtr(b);
  const res: number[] = [];
  for (let i = 0; i < o.length; i++) {
    const logits = heap().f32(out + (rows - 1) * O * 4, O).slice();
    const next = sampleToken(logits, rng, o);
    res.push(next);
    if (next === o.stopAt) break;
    model.carryState();
    ({ out, rows } = model.forwardPtr({ T: 1, B: 1, ids: Int32Array.of(next) }, { state: "keep" }));
  }
  model.resetState();
  return res;
}

export type { ResolvedOptions };
