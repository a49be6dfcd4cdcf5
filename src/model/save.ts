/**
 * Saving and loading whole models in the single-file format of
 * docs/FORMAT.md: the definition, vocabulary and training state in the JSON
 * header; weights and optimizer moments as little-endian f32 tensors. Works
 * on bytes in every runtime; `unfold-rnn/node` adds files.
 */
import { decodeModel, encodeModel, type ModelTensor } from "../io/format.js";
import { fromF16, toF16 } from "../io/f16.js";
import { checkOneOf } from "../validate.js";
import { isQuantized, QUANTIZATION, type QuantizedMatrix, QuantizedSeq2Seq, QuantizedSequential } from "./quantize.js";
import { isUnfoldError, UnfoldError } from "../errors.js";
import { checkBool, checkObject, checkOptionalObject } from "../validate.js";
import { attentionShapes } from "../reference/attention.js";
import { Vocab, type VocabJSON } from "../data/vocab.js";
import { Scaler, type ScalerJSON } from "../data/timeseries.js";
import { Optimizer, type OptimizerSpec } from "../train/optimizers.js";
import type { TrainHistory } from "../train/trainer.js";
import type { Recurrent } from "../layers/recurrent.js";
import { type RecurrentSpec, Sequential, type SequentialSpec } from "./sequential.js";
import { Seq2Seq, type Seq2SeqSpec } from "./seq2seq.js";

/** A model that can be saved: {@link Sequential} or {@link Seq2Seq}. */
export type AnyModel = Sequential | Seq2Seq;

interface SavedHeader {
  library: "unfold-rnn";
  kind: "sequential" | "seq2seq";
  spec: SequentialSpec | Seq2SeqSpec;
  vocab?: VocabJSON;
  targetVocab?: VocabJSON;
  train?: {
    history: TrainHistory;
    epoch: number;
    streamPosition: number;
    optimizer?: { spec: OptimizerSpec; step: number; buffers: number };
    /** Per recurrent layer: batch size of the carried state (tensors state/<i>/h, /c), or null. */
    carried?: (number | null)[];
    /** Per recurrent layer: dropout RNG state. */
    rng?: number[][];
  };
  /** Anything the caller wants to keep (e.g. CLI settings). */
  meta?: Record<string, unknown>;
  /** Time series: the model's fitted scaler. */
  scaler?: ScalerJSON;
  /** An int8 model (quantize.ts): its matrices are int8 tensors `param/<name>` with row scales `qscale/<name>`. */
  quantized?: { bits: number; scale: string };
}

/** What {@link loadModel} returns. */
export interface LoadedModel<M extends AnyModel = AnyModel> {
  /** The model, with its weights (and optimizer state and carried state, when saved). */
  model: M;
  /** The vocabulary saved with it. */
  vocab?: Vocab;
  /** Seq2Seq: the output vocabulary, when saved apart from `vocab`. */
  targetVocab?: Vocab;
  /** The caller's metadata saved with it ({@link SaveOptions.meta}). */
  meta?: Record<string, unknown>;
}

/** Options of {@link saveModel}. */
export interface SaveOptions {
  /** The vocabulary to save with the model (a language model needs it to read and write text). */
  vocab?: Vocab;
  /** Seq2Seq: the output vocabulary, if different from `vocab`. */
  targetVocab?: Vocab;
  /** Keep the optimizer's moments so training resumes exactly. Default true. */
  includeOptimizer?: boolean;
  /** Any JSON-serialisable metadata, kept in the file's header. */
  meta?: Record<string, unknown>;
  /**
   * How the weights are stored: `"f32"` (default, exact) or `"f16"` (half the
   * bytes; each weight rounded to the nearest binary16, loaded back as that
   * value widened to f32). With f16 the optimizer state is left out unless
   * `includeOptimizer: true` asks for it (then it is kept f32, so training
   * resumes from the rounded weights). A quantized model is always int8.
   */
  weights?: "f32" | "f16";
}

/** The recurrent layers of a model, in a fixed order. */
function recurrentLayers(model: AnyModel): Recurrent[] {
  if (model instanceof Seq2Seq) return [...(model.encoder ? [model.encoder] : []), ...model.decoder.recurrent];
  return model.recurrent;
}

/** Encode a model (and optionally its vocabulary and training state) as bytes. */
export function saveModel(model: AnyModel, opts: SaveOptions = {}): Uint8Array {
  checkModel("saveModel: model", model);
  checkSaveOptions(opts);
  const ts = model.trainState;
  const tensors: ModelTensor[] = [];
  const f16 = opts.weights === "f16";
  const q8: Map<string, QuantizedMatrix> | null = isQuantized(model) ? model.quantizedMatrices() : null;
  for (const [name, t] of model.parameters()) {
    const m = q8?.get(name);
    if (m) {
      tensors.push({ name: `param/${name}`, shape: [...t.shape], data: m.q, dtype: "i8" }, { name: `qscale/${name}`, shape: [m.shape[0]], data: m.scale });
    } else if (f16) {
      const w = t.toArray();
      for (let i = 0; i < w.length; i++) {
        if (Math.abs(w[i]) > 65504) throw new UnfoldError("E_OPTION", `saveModel: weight '${name}' [${i}] is ${w[i]}, beyond the f16 range (±65504); save it as f32`, { name: "options.weights", expected: "f32 for this model", received: "f16" });
      }
      tensors.push({ name: `param/${name}`, shape: [...t.shape], data: toF16(w), dtype: "f16" });
    } else tensors.push({ name: `param/${name}`, shape: [...t.shape], data: t.toArray() });
  }
  const header: SavedHeader = {
    library: "unfold-rnn",
    kind: model instanceof Seq2Seq ? "seq2seq" : "sequential",
    spec: model.toJSON(),
    train: { history: ts.history, epoch: ts.epoch, streamPosition: ts.streamPosition },
  };
  if (q8) header.quantized = { ...QUANTIZATION };
  if (ts.optimizer && (opts.includeOptimizer ?? !f16)) {
    const st = ts.optimizer.state();
    header.train!.optimizer = { spec: st.spec, step: st.step, buffers: st.buffers.length };
    st.buffers.forEach((b, i) => tensors.push({ name: `optim/${i}`, shape: [b.length], data: b }));
  }
  const rec = recurrentLayers(model);
  header.train!.rng = rec.map((r) => r.rngState);
  if (ts.carried) {
    header.train!.carried = ts.carried.map((c, i) => {
      if (!c) return null;
      tensors.push({ name: `state/${i}/h`, shape: [c.h.length], data: c.h }, { name: `state/${i}/c`, shape: [c.c.length], data: c.c });
      return c.B;
    });
  }
  if (opts.vocab) header.vocab = opts.vocab.toJSON();
  if (opts.targetVocab) header.targetVocab = opts.targetVocab.toJSON();
  if (opts.meta) header.meta = opts.meta;
  if (model instanceof Sequential && model.scaler) header.scaler = model.scaler.toJSON();
  // A model definition with options that version-2 readers do not know (and would
  // silently ignore, computing something else) is written as version 3, which they refuse.
  const minVersion = usesVersion3Options(header.spec) ? 3 : 2;
  return encodeModel({ header: header as unknown as Record<string, unknown>, tensors, minVersion });
}

/**
 * Decode bytes from {@link saveModel}: rebuilds the model, loads weights,
 * vocabulary and optimizer state. Everything is checked before a model is
 * returned; a corrupt or mismatched file throws and yields nothing.
 */
export function loadModel(bytes: Uint8Array | ArrayBuffer): LoadedModel {
  const { header: raw, tensors: stored0 } = decodeModel(bytes);
  const h = raw as unknown as SavedHeader;
  if (h.library !== "unfold-rnn" || (h.kind !== "sequential" && h.kind !== "seq2seq")) {
    throw new UnfoldError("E_FORMAT", `the file is a valid container but not a saved model (kind ${JSON.stringify(h.kind)})`, { name: "kind", received: h.kind });
  }
  const bad = (what: string, err?: unknown): never => {
    const why = err ? `: ${(err as Error).message.replace(/^unfold-rnn: /, "")}` : "";
    throw new UnfoldError("E_FORMAT", `the saved model ${what}${why}`, { cause: err });
  };
  let vocab: Vocab | undefined;
  let targetVocab: Vocab | undefined;
  try {
    vocab = h.vocab ? Vocab.fromJSON(h.vocab) : undefined;
    targetVocab = h.targetVocab ? Vocab.fromJSON(h.targetVocab) : undefined;
  } catch (err) {
    bad("has an invalid vocabulary", err);
  }
  if (h.meta !== undefined && (typeof h.meta !== "object" || h.meta === null || Array.isArray(h.meta))) bad("has a meta field that is not an object");
  checkTrainHeader(h.train, bad);
  // f16 weights widen to f32 (exactly); int8 ones stay int8, with their row scales, for a quantized model.
  if (h.quantized !== undefined && (typeof h.quantized !== "object" || h.quantized === null || h.quantized.bits !== QUANTIZATION.bits || h.quantized.scale !== QUANTIZATION.scale)) {
    bad(`is quantized as ${JSON.stringify(h.quantized)}; this library reads int8 with one scale per row ({"bits":8,"scale":"row"})`);
  }
  const mats = new Map<string, QuantizedMatrix>();
  const scales = new Map<string, Float32Array>();
  const tensors: { name: string; data: Float32Array }[] = [];
  for (const t of stored0) {
    if (t.dtype === "i8") {
      if (!h.quantized || !t.name.startsWith("param/") || t.shape.length !== 2) bad(`has an int8 tensor '${t.name}' ${h.quantized ? "that is not a weight matrix" : "but no quantization record"}`);
      mats.set(t.name.slice(6), { q: t.data as Int8Array, scale: new Float32Array(0), shape: [t.shape[0], t.shape[1]] });
    } else if (t.dtype === "f16") {
      if (!t.name.startsWith("param/")) bad(`has an f16 tensor '${t.name}' that is not a weight`);
      tensors.push({ name: t.name, data: fromF16(t.data as Uint16Array) });
    } else if (t.name.startsWith("qscale/")) scales.set(t.name.slice(7), t.data as Float32Array);
    else tensors.push({ name: t.name, data: t.data as Float32Array });
  }
  if (h.quantized) {
    for (const [name, m] of mats) {
      const sc = scales.get(name);
      if (!sc) bad(`int8 weights '${name}' have no row scales (qscale/${name} is missing)`);
      m.scale = sc!;
      scales.delete(name);
    }
    for (const name of scales.keys()) bad(`has row scales qscale/${name} for no int8 weights`);
    if (mats.size === 0) bad("is marked quantized but holds no int8 weights");
  } else if (scales.size > 0) bad("has row scales (qscale/) but is not quantized");
  // Build nothing bigger than the file: the definition must need exactly the weights the file holds.
  let stored = 0;
  for (const t of tensors) if (t.name.startsWith("param/")) stored += t.data.length;
  for (const m of mats.values()) stored += m.q.length;
  const needed = parameterCountOf(h.kind, h.spec);
  if (needed !== stored) {
    bad(Number.isNaN(needed) ? "definition is invalid" : `definition needs ${needed} weights but the file holds ${stored}`);
  }
  let model: AnyModel;
  const f32Params: Record<string, Float32Array> = {};
  if (h.quantized) {
    for (const t of tensors) if (t.name.startsWith("param/") && !mats.has(t.name.slice(6))) f32Params[t.name.slice(6)] = t.data;
  }
  try {
    if (h.quantized) {
      // Every check of the int8 weights (shapes, which tensors, scales finite and > 0) runs in the constructor.
      model = h.kind === "seq2seq" ? new QuantizedSeq2Seq(h.spec as Seq2SeqSpec, f32Params, mats) : new QuantizedSequential(h.spec as SequentialSpec, f32Params, mats);
    } else model = h.kind === "seq2seq" ? new Seq2Seq(h.spec as Seq2SeqSpec) : new Sequential(h.spec as SequentialSpec);
  } catch (err) {
    if (isUnfoldError(err) && (err.code === "E_STATE" || err.code === "E_RUNTIME")) throw err;
    if (h.quantized && isUnfoldError(err) && err.code === "E_FORMAT") return bad("has invalid int8 weights", err);
    return bad("definition is invalid", err);
  }
  try {
    const sd: Record<string, Float32Array> = {};
    const optim: Float32Array[] = [];
    const states = new Map<string, Float32Array>();
    for (const t of tensors) {
      if (t.name.startsWith("param/")) {
        if (!h.quantized) sd[t.name.slice(6)] = t.data;
      }
      else if (/^optim\/(0|[1-9]\d{0,5})$/.test(t.name)) optim[Number(t.name.slice(6))] = t.data;
      else if (/^state\/(0|[1-9]\d{0,5})\/[hc]$/.test(t.name)) states.set(t.name, t.data);
      else throw new Error(`unexpected tensor '${t.name}'`);
    }
    if (!h.quantized) model.loadStateDict(sd);
    if (h.scaler !== undefined) {
      if (!(model instanceof Sequential)) throw new Error("a scaler is saved with a model that is not Sequential");
      model.scaler = Scaler.fromJSON(h.scaler);
    }
    const tr = h.train;
    if (tr) {
      model.trainState.history = tr.history;
      model.trainState.epoch = tr.epoch;
      model.trainState.streamPosition = tr.streamPosition;
      const rec = recurrentLayers(model);
      if (tr.rng && tr.rng.length !== rec.length) throw new Error(`it has RNG states for ${tr.rng.length} recurrent layers, the model has ${rec.length}`);
      tr.rng?.forEach((s, i) => {
        if (rec[i]) rec[i].rngState = s;
      });
      if (tr.carried) {
        if (tr.carried.length !== rec.length) throw new Error(`it has carried states for ${tr.carried.length} recurrent layers, the model has ${rec.length}`);
        model.trainState.carried = tr.carried.map((B, i) => {
          if (B === null) return null;
          const h = states.get(`state/${i}/h`);
          const c = states.get(`state/${i}/c`);
          if (!h || !c) throw new Error(`carried state of recurrent layer ${i} is missing`);
          const n = rec[i].numLayers * rec[i].numDirections * B * rec[i].hiddenSize;
          if (h.length !== n || c.length !== n) throw new Error(`carried state of recurrent layer ${i} has ${h.length} values, expected ${n} for batch ${B}`);
          return { B, h, c };
        });
      }
      if (tr.optimizer) {
        if (h.quantized) throw new Error("an int8 model has optimizer state (a quantized model cannot be trained)");
        if (optim.length !== tr.optimizer.buffers || optim.some((b) => b === undefined)) throw new Error(`optimizer state has ${optim.length} of ${tr.optimizer.buffers} buffers`);
        const opt = new Optimizer(tr.optimizer.spec, model.regions());
        model.trainState.optimizer = opt; // disposed with the model if what follows fails
        opt.loadState({ spec: tr.optimizer.spec, step: tr.optimizer.step, buffers: optim });
      }
    }
  } catch (err) {
    model.trainState.optimizer?.dispose();
    model.dispose();
    if (isUnfoldError(err) && (err.code === "E_STATE" || err.code === "E_RUNTIME")) throw err;
    return bad("does not match its definition", err);
  }
  return { model, vocab, targetVocab, meta: h.meta };
}

/** `model` is a Sequential or Seq2Seq that has not been disposed. */
export function checkModel(name: string, model: unknown): asserts model is AnyModel {
  if (!(model instanceof Sequential) && !(model instanceof Seq2Seq)) {
    throw new UnfoldError("E_OPTION", `${name} must be a Sequential or Seq2Seq model, got ${model === null ? "null" : typeof model === "object" ? "another object" : typeof model}`, {
      name, expected: "a Sequential or Seq2Seq", received: model,
    });
  }
}

function checkSaveOptions(opts: SaveOptions): void {
  checkObject("saveModel: options", opts);
  for (const k of ["vocab", "targetVocab"] as const) {
    if (opts[k] !== undefined && !(opts[k] instanceof Vocab)) {
      throw new UnfoldError("E_OPTION", `saveModel: options.${k} must be a Vocab, got ${typeof opts[k]}`, { name: `options.${k}`, expected: "a Vocab", received: opts[k] });
    }
  }
  checkBool("saveModel: options.includeOptimizer", opts.includeOptimizer);
  checkOneOf("saveModel: options.weights", opts.weights, ["f32", "f16"] as const, true);
  checkOptionalObject("saveModel: options.meta", opts.meta, "a plain object");
}

const isCount = (x: unknown): x is number => typeof x === "number" && Number.isSafeInteger(x) && x >= 0;

/** The header's training record has the types {@link loadModel} relies on; `bad` throws. */
function checkTrainHeader(tr: unknown, bad: (what: string) => never): void {
  if (tr === undefined) return;
  if (typeof tr !== "object" || tr === null || Array.isArray(tr)) bad("has a training record that is not an object");
  const t = tr as NonNullable<SavedHeader["train"]>;
  const hist = t.history as unknown as { epochs?: unknown; steps?: unknown } | undefined;
  if (typeof hist !== "object" || hist === null || !Array.isArray(hist.epochs) || !isCount(hist.steps)) bad("has a malformed training history");
  for (const e of hist!.epochs as unknown[]) {
    if (typeof e !== "object" || e === null || Array.isArray(e)) bad("has a malformed epoch in its training history");
    for (const [k, v] of Object.entries(e as object)) {
      // Old files stored a non-finite loss as null; newer ones keep the number.
      if (v !== null && typeof v !== "number") bad(`has a malformed epoch field "${k}" in its training history`);
    }
  }
  if (!isCount(t.epoch) || !isCount(t.streamPosition)) bad("has a malformed epoch or stream position");
  if (t.optimizer !== undefined) {
    const o = t.optimizer as unknown as { spec?: unknown; step?: unknown; buffers?: unknown };
    if (typeof o !== "object" || o === null || typeof o.spec !== "object" || o.spec === null || !isCount(o.step) || !isCount(o.buffers)) bad("has a malformed optimizer record");
  }
  if (t.carried !== undefined && (!Array.isArray(t.carried) || t.carried.some((B) => B !== null && !(isCount(B) && B >= 1)))) bad("has a malformed carried state record");
  if (t.rng !== undefined && (!Array.isArray(t.rng) || t.rng.some((r) => !Array.isArray(r) || (r.length !== 5 && r.length !== 9) || r.some((x) => x !== null && typeof x !== "number")))) {
    bad("has a malformed RNG state record");
  }
}

/**
 * Weights a definition needs, computed without building it (NaN when the
 * definition is malformed), so a file cannot make the loader allocate more
 * than the weights it actually holds.
 */
function parameterCountOf(kind: string, spec: unknown): number {
  const pos = (x: unknown): number => (typeof x === "number" && Number.isSafeInteger(x) && x >= 1 ? x : NaN);
  const gates: Record<string, number> = { lstm: 4, gru: 3, rnn: 1, rnn_relu: 1 };
  const rnn = (r: RecurrentSpec | undefined, inSize: number, forceUni: boolean): { n: number; out: number } => {
    if (typeof r !== "object" || r === null) return { n: NaN, out: NaN };
    const G = gates[r.cell] ?? NaN;
    const H = pos(r.hiddenSize);
    const L = r.numLayers === undefined ? 1 : pos(r.numLayers);
    const D = !forceUni && r.bidirectional === true ? 2 : 1;
    let n = 0;
    for (let l = 0; l < Math.min(L, 1e4); l++) {
      const inL = l === 0 ? inSize : D * H;
      n += D * (G * H * inL + G * H * H + 2 * G * H);
    }
    return { n: L > 1e4 ? NaN : n, out: D * H };
  };
  if (typeof spec !== "object" || spec === null) return NaN;
  if (kind === "sequential") {
    const s = spec as SequentialSpec;
    if (typeof s.input !== "object" || s.input === null || !Array.isArray(s.recurrent) || typeof s.output !== "object" || s.output === null) return NaN;
    let n = 0;
    let inSize: number;
    if (s.input.type === "tokens") {
      n += pos(s.input.vocabSize) * pos(s.input.embeddingDim);
      inSize = pos(s.input.embeddingDim);
    } else inSize = pos((s.input as { size: number }).size);
    for (const r of s.recurrent) {
      const x = rnn(r, inSize, false);
      n += x.n;
      inSize = x.out;
    }
    return n + pos(s.output.size) * (inSize + 1);
  }
  const s = spec as Seq2SeqSpec;
  if (typeof s.source !== "object" || s.source === null || typeof s.target !== "object" || s.target === null || typeof s.recurrent !== "object" || s.recurrent === null) return NaN;
  const H = pos(s.recurrent.hiddenSize);
  const L = s.recurrent.numLayers === undefined ? 1 : pos(s.recurrent.numLayers);
  let n = 0;
  // With attention the encoder may be bidirectional (D = 2): its outputs are [S, B, D*H].
  const att = s.attention;
  if (att !== undefined && att !== "dot" && att !== "general" && att !== "additive") return NaN;
  const D = att !== undefined && s.recurrent.bidirectional === true ? 2 : 1;
  if (s.source.type === "tokens") {
    n += pos(s.source.vocabSize) * pos(s.source.embeddingDim) + rnn(s.recurrent, pos(s.source.embeddingDim), D === 1).n;
  } else n += (pos((s.source as { size: number }).size) + 1) * L * H;
  const Vt = pos(s.target.vocabSize);
  const Et = pos(s.target.embeddingDim);
  // Input feeding: the decoder's recurrent layer reads [embedding; h~] (E + H features).
  n += Vt * Et + rnn(s.recurrent, att !== undefined && s.inputFeeding === true ? Et + H : Et, true).n + Vt * (H + 1);
  if (att !== undefined) for (const [, shape] of attentionShapes({ score: att, hiddenSize: H, encoderSize: D * H, attentionSize: H })) n += shape[0] * shape[1];
  return n;
}

/**
 * Whether a saved model definition uses an option that readers of format
 * version 2 do not know: `gateActivation: "hard_sigmoid"`, `resetAfter: false`
 * (Keras's cells) or `readout: "final-states"`. They would load such a file
 * without an error and compute a different model, so it is written as
 * version 3, which they refuse with "upgrade unfold-rnn".
 */
function usesVersion3Options(spec: unknown): boolean {
  if (Array.isArray(spec)) return spec.some(usesVersion3Options);
  if (spec === null || typeof spec !== "object") return false;
  const o = spec as Record<string, unknown>;
  if (o.gateActivation === "hard_sigmoid" || o.resetAfter === false || o.readout === "final-states") return true;
  return Object.values(o).some(usesVersion3Options);
}
