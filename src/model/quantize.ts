/**
 * Int8 weights for inference: `quantize(model, { bits: 8 })`.
 *
 * Every weight matrix but the embeddings (the recurrent layers' W_ih and
 * W_hh, the head, a Seq2Seq's bridge and attention matrices) is stored as
 * int8 with one f32 scale per output row (symmetric: w ~ q * scale,
 * scale = max|row| / 127, q = nearest-even(w / scale) in [-127, 127]).
 * Embeddings stay f32: a lookup reads one row per token, so their size
 * costs no time, and they are small beside the matrices.
 *
 * Where each path computes (chosen by measurement, bench/RESULTS.md "int8"):
 * - Sessions and `generate` (batch 1, bound by the bytes of weights read per
 *   token) step with the int8 kernels of assembly/quant.ts: the activations
 *   are quantized per vector on the fly and multiplied in integers.
 * - The batched paths (`predict`, `evaluate`, `forecast`, `inspect`) run the
 *   f32 GEMMs on the int8 values widened once to f32 (`q * scale`), held
 *   beside the int8 copy: at batch >= 8 the GEMM is bound by arithmetic, not
 *   by bytes, so int8 there would gain nothing. So the quantized model holds
 *   1.25x the f32 model's memory; its file is about 4x smaller.
 *
 * A quantized model is for inference: training it is refused with the way
 * back named ({@link dequantize}, or train the f32 model and quantize again).
 *
 * Legend: N = rows (outputs) of a matrix, K = its columns (inputs).
 */
import { UnfoldError } from "../errors.js";
import { Arena, type Tensor } from "../runtime/arena.js";
import { kernels } from "../runtime/wasm.js";
import type { StateDict } from "../layers/params.js";
import * as v from "../validate.js";
import { roundHalfEven } from "../reference/quant.js";
import type { TrainHistory } from "../train/trainer.js";
import type { ParamRegion } from "../train/optimizers.js";
import { checkSamplingOptions } from "./sampling.js";
import type { GenerateOptions } from "./fit.js";
import { Sequential, type SequentialSpec } from "./sequential.js";
import { Seq2Seq, type Seq2SeqSpec } from "./seq2seq.js";
import { type Q8Matrix, setQ8Weights } from "./q8.js";

/** Options of {@link quantize}. */
export interface QuantizeOptions {
  /** Bits per weight: 8 (the one width supported). */
  bits: 8;
  /**
   * Quantize a model with no training steps recorded (weights loaded with
   * `loadStateDict` or from safetensors). Default false: an untrained model
   * is refused, since quantizing random weights is almost always a mistake.
   */
  allowUntrained?: boolean;
}

/** One int8 matrix: q [N, K] row-major, scale [N] (w[j, k] ~ q[j, k] * scale[j]). */
export interface QuantizedMatrix {
  /** The int8 values, [N, K] row-major, each in [-127, 127]. */
  q: Int8Array;
  /** One f32 scale per row, [N]: w[j, k] ~ q[j, k] * scale[j]. */
  scale: Float32Array;
  /** The matrix's size, [N, K]: N rows (outputs), K columns (inputs). */
  shape: [number, number];
}

/** How a quantized model stores its matrices (saved in the file header). */
export const QUANTIZATION = {
  /** Bits per weight: 8 (int8 values in [-127, 127]). */
  bits: 8,
  /** Scale granularity: `"row"`, one f32 scale per output row of each matrix. */
  scale: "row",
} as const;

/**
 * The parameters stored as int8: every matrix (2-D) but the embeddings.
 * @param name a model parameter name (`rnn0.weight_ih_l0`, `decoder.head.weight`, ...)
 */
export function isQuantizable(name: string, shape: readonly number[]): boolean {
  return shape.length === 2 && !/(^|\.)embedding\./.test(name);
}

/**
 * Symmetric per-row int8: scale[j] = max_k |w[j, k]| / 127 (1 for a row of
 * zeros), q = nearest-even(w / scale), so |w - q * scale| <= scale / 2.
 * @param w [N, K] f32 row-major, finite
 */
export function quantizeRows(w: Float32Array, N: number, K: number): QuantizedMatrix {
  const q = new Int8Array(N * K);
  const scale = new Float32Array(N);
  for (let j = 0; j < N; j++) {
    let m = 0;
    for (let k = 0; k < K; k++) m = Math.max(m, Math.abs(w[j * K + k]));
    const s = Math.fround(m / 127);
    scale[j] = s > 0 ? s : 1; // a zero (or subnormal) row: q all 0 with scale 1
    for (let k = 0; k < K; k++) q[j * K + k] = s > 0 ? Math.max(-127, Math.min(127, roundHalfEven(w[j * K + k] / s))) : 0;
  }
  return { q, scale, shape: [N, K] };
}

/** The f32 values an int8 matrix stands for: w[j, k] = f32(q[j, k] * scale[j]). */
export function dequantizeRows(m: QuantizedMatrix): Float32Array {
  const [N, K] = m.shape;
  const w = new Float32Array(N * K);
  for (let j = 0; j < N; j++) for (let k = 0; k < K; k++) w[j * K + k] = m.q[j * K + k] * m.scale[j];
  return w;
}

/** Check an int8 matrix read from a file or passed in: shapes agree, every scale finite and > 0. */
export function checkQuantizedMatrix(name: string, m: QuantizedMatrix): void {
  const [N, K] = m.shape;
  if (m.q.length !== N * K) throw new UnfoldError("E_FORMAT", `int8 weights of '${name}' have ${m.q.length} values, shape [${N}, ${K}] needs ${N * K}`, { name });
  if (m.scale.length !== N) throw new UnfoldError("E_FORMAT", `'${name}' needs ${N} row scales (one per output row), got ${m.scale.length}`, { name, expected: String(N), received: m.scale.length });
  for (let j = 0; j < N; j++) {
    const s = m.scale[j];
    if (!(s > 0) || !Number.isFinite(s)) {
      throw new UnfoldError("E_FORMAT", `row scale ${j} of '${name}' is ${s}; an int8 row needs a finite scale > 0 (the file is damaged or was not written by quantize)`, { name: `${name} scale[${j}]`, expected: "a finite number > 0", received: s });
    }
  }
}

/** Each row's sum of q over its first K & ~15 columns: the relaxed kernel's correction for its offset activations (assembly/quant.ts). */
export function rowSums(m: QuantizedMatrix): Int32Array {
  const [N, K] = m.shape;
  const K16 = K & ~15;
  const out = new Int32Array(N);
  for (let j = 0; j < N; j++) {
    let s = 0;
    for (let k = 0; k < K16; k++) s += m.q[j * K + k];
    out[j] = s;
  }
  return out;
}

/** The int8 matrices of a model in WASM memory, for the session kernels. */
class Q8Store {
  private readonly arena: Arena;
  private readonly mats = new Map<string, { q: Tensor; scale: Tensor; sum: Tensor; rows: number; cols: number }>();

  constructor(mats: ReadonlyMap<string, QuantizedMatrix>) {
    const a = new Arena();
    for (const [name, m] of mats) {
      const [N, K] = m.shape;
      this.mats.set(name, { q: a.tensor(`${name}.q`, [Math.ceil((N * K) / 4)]), scale: a.tensor(`${name}.scale`, [N]), sum: a.tensor(`${name}.sum`, [N], "i32"), rows: N, cols: K });
    }
    this.arena = a.commit();
    const buf = kernels().memory.buffer;
    for (const [name, m] of mats) {
      const t = this.mats.get(name)!;
      new Int8Array(buf, t.q.ptr, m.q.length).set(m.q);
      t.scale.set(m.scale);
      t.sum.set(rowSums(m));
    }
  }

  /** Matrices whose names start with `prefix`, by the rest of the name. */
  matrices(prefix: string): Map<string, Q8Matrix> {
    const out = new Map<string, Q8Matrix>();
    for (const [name, t] of this.mats) {
      if (name.startsWith(prefix)) out.set(name.slice(prefix.length), { q: t.q.ptr, scale: t.scale.ptr, sum: t.sum.ptr, rows: t.rows, cols: t.cols });
    }
    return out;
  }

  /** Copies of every matrix, by name. */
  read(): Map<string, QuantizedMatrix> {
    const out = new Map<string, QuantizedMatrix>();
    const buf = kernels().memory.buffer;
    for (const [name, t] of this.mats) {
      out.set(name, { q: new Int8Array(buf, t.q.ptr, t.rows * t.cols).slice(), scale: t.scale.toArray(), shape: [t.rows, t.cols] });
    }
    return out;
  }

  dispose(): void {
    this.arena.dispose();
  }
}

function refuseTraining(): UnfoldError {
  return new UnfoldError(
    "E_UNSUPPORTED",
    "a quantized (int8) model is for inference and cannot be trained: train the f32 model and quantize it again, or call dequantize(model) for a trainable f32 copy of these weights",
    { name: "model", expected: "an f32 model", received: "int8" },
  );
}

/**
 * Split a state dict into the int8 matrices (checked) and the f32 rest, and
 * the full f32 dict the model's f32 block is loaded with (matrices widened).
 */
function widen(names: Iterable<[string, Tensor]>, f32: StateDict, mats: ReadonlyMap<string, QuantizedMatrix>): StateDict {
  const sd: Record<string, ArrayLike<number>> = {};
  for (const [name, t] of names) {
    const m = mats.get(name);
    if (isQuantizable(name, t.shape)) {
      if (!m) throw new UnfoldError("E_FORMAT", `the quantized model has no int8 weights for '${name}'`, { name });
      if (m.shape[0] !== t.shape[0] || m.shape[1] !== t.shape[1]) throw new UnfoldError("E_FORMAT", `int8 weights of '${name}' have shape [${m.shape}], the model needs [${t.shape}]`, { name });
      checkQuantizedMatrix(name, m);
      sd[name] = dequantizeRows(m);
    } else {
      if (m) throw new UnfoldError("E_FORMAT", `'${name}' is stored int8 but is kept f32 in a quantized model`, { name });
      const w = (f32 as Record<string, ArrayLike<number>>)[name];
      if (w !== undefined) sd[name] = w;
    }
  }
  for (const name of mats.keys()) if (!sd[name]) throw new UnfoldError("E_FORMAT", `int8 weights '${name}' match no parameter of the model`, { name });
  return sd as StateDict;
}

/**
 * A {@link Sequential} with int8 weights: `predict`, `evaluate`, `generate`,
 * `session`, `forecast` and `inspect` work as on the f32 model; `fit` is
 * refused. Make one with {@link quantize} or load an int8 file.
 */
export class QuantizedSequential extends Sequential {
  /** Bits and scale granularity of the int8 matrices. */
  readonly quantization = QUANTIZATION;
  private readonly q8: Q8Store;

  /**
   * @internal Use {@link quantize} or `loadModel`.
   * @param f32 the parameters kept f32 (embedding, biases), by name
   * @param mats the int8 matrices, by name (every 2-D parameter but the embedding)
   */
  constructor(spec: SequentialSpec, f32: StateDict, mats: ReadonlyMap<string, QuantizedMatrix>) {
    super(spec);
    try {
      this.loadStateDict(widen(this.parameters(), f32, mats));
    } catch (err) {
      super.dispose();
      throw err;
    }
    this.q8 = new Q8Store(mats);
    setQ8Weights(this, this.q8.matrices(""));
  }

  /** Refused: a quantized model cannot be trained ({@link dequantize} it, or train the f32 model). */
  override fit(..._args: Parameters<Sequential["fit"]>): TrainHistory {
    throw refuseTraining();
  }
  /** Refused, as {@link fit}. */
  override fitAsync(..._args: Parameters<Sequential["fitAsync"]>): Promise<TrainHistory> {
    return Promise.reject(refuseTraining());
  }
  /** Refused: no optimizer can update int8 weights. */
  override regions(): ParamRegion[] {
    throw refuseTraining();
  }

  /**
   * `generate` through an int8 session (the batch-1 path): the same
   * arguments, checks and sampler as {@link Sequential.generate}.
   */
  override generate(prime: ArrayLike<number>, o: GenerateOptions): number[] {
    if (!this.embedding || this.spec.mode !== "many-to-many" || this.spec.output.loss !== "xent" || this.recurrent.some((r) => r.numDirections !== 1)) {
      throw new UnfoldError("E_UNSUPPORTED", "generate() needs a token language model (tokens input, unidirectional layers, many-to-many, xent output)");
    }
    v.checkArrayLike("generate: prime", prime);
    if (prime.length === 0) throw new UnfoldError("E_SHAPE", "generate() needs at least one prime token", { name: "prime", expected: "at least one token id", received: 0 });
    v.checkIds("generate: prime", prime, this.embedding.numEmbeddings);
    v.checkObject("generate: options", o, "an object { length, temperature?, topK?, topP?, seed?, stopAt? }");
    v.checkInt("generate: options.length", o.length, 0);
    v.checkInt("generate: options.seed", o.seed ?? 0);
    v.checkOptionalInt("generate: options.stopAt", o.stopAt, 0, this.spec.output.size - 1);
    checkSamplingOptions("generate: options", o);
    const s = this.session({ seed: o.seed ?? 0 });
    try {
      s.feed(prime);
      const res: number[] = [];
      for (let i = 0; i < o.length; i++) {
        const id = s.sample(o);
        res.push(id);
        if (id === o.stopAt) break;
      }
      return res;
    } finally {
      s.dispose();
    }
  }

  /** Copies of the int8 matrices, by parameter name (what a file stores). */
  quantizedMatrices(): Map<string, QuantizedMatrix> {
    return this.q8.read();
  }

  override dispose(): void {
    this.q8.dispose();
    super.dispose();
  }
}

/**
 * A {@link Seq2Seq} with int8 weights: `generate`, `evaluate`,
 * `attentionWeights` and `session` work as on the f32 model (sessions step
 * the decoder with the int8 kernels); `fit` is refused.
 */
export class QuantizedSeq2Seq extends Seq2Seq {
  /** Bits and scale granularity of the int8 matrices. */
  readonly quantization = QUANTIZATION;
  private readonly q8: Q8Store;

  /** @internal Use {@link quantize} or `loadModel`. Arguments as {@link QuantizedSequential}. */
  constructor(spec: Seq2SeqSpec, f32: StateDict, mats: ReadonlyMap<string, QuantizedMatrix>) {
    super(spec);
    try {
      this.loadStateDict(widen(this.parameters(), f32, mats));
    } catch (err) {
      super.dispose();
      throw err;
    }
    this.q8 = new Q8Store(mats);
    setQ8Weights(this.decoder, this.q8.matrices("decoder."));
  }

  /** Refused: a quantized model cannot be trained ({@link dequantize} it, or train the f32 model). */
  override fit(..._args: Parameters<Seq2Seq["fit"]>): TrainHistory {
    throw refuseTraining();
  }
  /** Refused, as {@link fit}. */
  override fitAsync(..._args: Parameters<Seq2Seq["fitAsync"]>): Promise<TrainHistory> {
    return Promise.reject(refuseTraining());
  }
  /** Refused: no optimizer can update int8 weights. */
  override regions(): ParamRegion[] {
    throw refuseTraining();
  }

  /** Copies of the int8 matrices, by parameter name (what a file stores). */
  quantizedMatrices(): Map<string, QuantizedMatrix> {
    return this.q8.read();
  }

  override dispose(): void {
    this.q8.dispose();
    super.dispose();
  }
}

/** A model {@link quantize} returns. */
export type QuantizedModel = QuantizedSequential | QuantizedSeq2Seq;

/** True for a model made by {@link quantize} (or loaded from an int8 file). */
export function isQuantized(model: unknown): model is QuantizedModel {
  return model instanceof QuantizedSequential || model instanceof QuantizedSeq2Seq;
}

function checkAnyModel(name: string, model: unknown): asserts model is Sequential | Seq2Seq {
  if (!(model instanceof Sequential) && !(model instanceof Seq2Seq)) {
    throw new UnfoldError("E_OPTION", `${name} must be a Sequential or Seq2Seq model`, { name, expected: "a Sequential or Seq2Seq", received: model });
  }
}

/** The training record (history, epoch) a converted model keeps; never the optimizer or a carried state. */
function copyRecord(from: Sequential | Seq2Seq, to: Sequential | Seq2Seq): void {
  to.trainState.history = structuredClone(from.trainState.history);
  to.trainState.epoch = from.trainState.epoch;
  to.trainState.streamPosition = from.trainState.streamPosition;
  if (from instanceof Sequential && to instanceof Sequential && from.scaler) to.scaler = from.scaler;
}

/**
 * An int8 inference copy of a trained model (the model itself is unchanged):
 * every matrix but the embeddings quantized per output row. See the module
 * notes for which path computes how, and `docs/quantize.md` for accuracy and speed.
 * @throws UnfoldError E_OPTION (not a model, already quantized, bits not 8),
 *   E_STATE (no training steps recorded, unless allowUntrained), E_NAN (a weight is NaN or infinite)
 */
export function quantize(model: Sequential, opts: QuantizeOptions): QuantizedSequential;
export function quantize(model: Seq2Seq, opts: QuantizeOptions): QuantizedSeq2Seq;
export function quantize(model: Sequential | Seq2Seq, opts: QuantizeOptions): QuantizedModel;
export function quantize(model: Sequential | Seq2Seq, opts: QuantizeOptions): QuantizedModel {
  checkAnyModel("quantize: model", model);
  if (isQuantized(model)) throw new UnfoldError("E_OPTION", "quantize: the model is already quantized", { name: "model", received: "int8" });
  v.checkObject("quantize: options", opts, "{ bits: 8 }");
  if (opts.bits !== 8) throw new UnfoldError("E_OPTION", `quantize: bits must be 8 (int8 is the one width supported), got ${String(opts.bits)}`, { name: "bits", expected: "8", received: opts.bits });
  v.checkBool("quantize: options.allowUntrained", opts.allowUntrained);
  if (model.trainState.history.steps === 0 && !opts.allowUntrained) {
    throw new UnfoldError("E_STATE", "quantize: the model has no training steps recorded, so its weights are its random initialisation; train it first, or pass { allowUntrained: true } for weights trained elsewhere (loadStateDict, safetensors)", { name: "model", expected: "a trained model", received: "0 training steps" });
  }
  const mats = new Map<string, QuantizedMatrix>();
  const f32: Record<string, Float32Array> = {};
  for (const [name, t] of model.parameters()) {
    const w = t.toArray();
    for (let i = 0; i < w.length; i++) {
      if (!Number.isFinite(w[i])) {
        throw new UnfoldError("E_NAN", `quantize: weight '${name}' [${i}] is ${w[i]}; the model has diverged, so there is nothing to quantize (load an earlier checkpoint)`, { name, expected: "finite weights", received: w[i] });
      }
    }
    if (isQuantizable(name, t.shape)) mats.set(name, quantizeRows(w, t.shape[0], t.shape[1]));
    else f32[name] = w;
  }
  const q = model instanceof Seq2Seq ? new QuantizedSeq2Seq(model.toJSON(), f32, mats) : new QuantizedSequential(model.toJSON(), f32, mats);
  copyRecord(model, q);
  return q;
}

/**
 * A trainable f32 model with the weights a quantized model stands for
 * (every int8 value widened: q * scale). Training it and quantizing again is
 * the way to fine-tune a quantized model.
 */
export function dequantize(model: QuantizedSequential): Sequential;
export function dequantize(model: QuantizedSeq2Seq): Seq2Seq;
export function dequantize(model: QuantizedModel): Sequential | Seq2Seq;
export function dequantize(model: QuantizedModel): Sequential | Seq2Seq {
  if (!isQuantized(model)) throw new UnfoldError("E_OPTION", "dequantize: the model is not quantized (it is already f32)", { name: "model", expected: "a quantized model" });
  const out = model instanceof QuantizedSeq2Seq ? new Seq2Seq(model.toJSON()) : new Sequential(model.toJSON() as SequentialSpec);
  out.loadStateDict(model.stateDict());
  copyRecord(model, out);
  return out;
}
