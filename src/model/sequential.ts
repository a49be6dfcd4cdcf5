/**
 * Sequential: the lecture's RNN model as one object — an input (token ids
 * through an Embedding, or feature vectors), recurrent layers (the unfolded
 * hidden state), and a Dense output layer applied per step. Two shapes
 * (p.11-13):
 *
 *  - many-to-many: an output at every step (tagging, the char-level LM);
 *  - many-to-one: one output from the last real step of each sequence
 *    (classification such as sentiment); with a bidirectional top block,
 *    `spec.readout` says whether the reverse half is read there or at step 0
 *    (its final state).
 *
 * One-to-many and encoder-decoder models are {@link Seq2Seq}.
 *
 * Legend: T = steps, B = batch, V = vocabulary, E = embedding size,
 * F = input features, H = hidden size, D = directions, O = output size.
 */
import type { Ptr } from "../runtime/abi.js";
import { InferenceSession, type SessionOptions } from "./session.js";
import { forecast, type ForecastOptions } from "./forecast.js";
import type { Scaler } from "../data/timeseries.js";
import { Arena, type Tensor } from "../runtime/arena.js";
import { heap, kernels } from "../runtime/wasm.js";
import { Dense, Embedding } from "../layers/dense.js";
import { GRU, LSTM, type Recurrent, SimpleRNN } from "../layers/recurrent.js";
import { dumpTensors, loadChecked, type StateDict } from "../layers/params.js";
import type { ParamRegion } from "../train/optimizers.js";
import { UnfoldError } from "../errors.js";
import * as v from "../validate.js";
import type { TrainHistory } from "../train/trainer.js";
import { newTrainState, type TrainState } from "../train/loop.js";
import {
  type Evaluation, evaluate, fit, fitAsync, type FitOptions, generate, type GenerateOptions, predict, type TrainData,
} from "./fit.js";
import type { Batch, RecurrentSpec, SequentialModel, SequentialSpec } from "./types.js";

export type { Batch, InputSpec, RecurrentSpec, SequentialSpec } from "./types.js";

/** Build the recurrent layer of a spec. */
export function makeRecurrent(r: RecurrentSpec, inputSize: number, seed: number): Recurrent {
  const o = { inputSize, hiddenSize: r.hiddenSize, numLayers: r.numLayers ?? 1, bidirectional: r.bidirectional ?? false, dropout: r.dropout ?? 0, seed };
  const g = r.gateActivation === undefined ? {} : { gateActivation: r.gateActivation };
  switch (r.cell) {
    case "lstm":
      return new LSTM({ ...o, ...g, forgetBias: r.forgetBias });
    case "gru":
      return new GRU({ ...o, ...g, resetAfter: r.resetAfter });
    case "rnn":
      return new SimpleRNN(o);
    case "rnn_relu":
      return new SimpleRNN({ ...o, nonlinearity: "relu" });
    default:
      throw new UnfoldError("E_OPTION", `unknown cell '${(r as RecurrentSpec).cell}' (use lstm, gru, rnn or rnn_relu)`, { name: "cell", expected: "lstm, gru, rnn or rnn_relu", received: (r as RecurrentSpec).cell });
  }
}

/** An Embedding / recurrent stack / Dense head model. */
export class Sequential implements SequentialModel {
  /** The definition the model was built from. */
  readonly spec: SequentialSpec;
  /** The input Embedding (tokens input), or null (features input). */
  readonly embedding: Embedding | null;
  /** The recurrent blocks, as in the spec. */
  readonly recurrent: Recurrent[];
  /** The Dense head, applied at every step (many-to-many) or at the last real step (many-to-one). */
  readonly head: Dense;
  /** Features per step entering the first recurrent layer (E or F). */
  readonly inputSize: number;
  /** Features per step leaving the last recurrent layer (D*H). */
  readonly hiddenOut: number;

  /** Time series: the scaler fitted on the training data, used by {@link forecast} and saved with the model. */
  scaler: Scaler | null = null;

  /** Optimizer and history, kept across fit() calls and saved with the model. @internal */
  trainState: TrainState = newTrainState();
  /** All parameters, all gradients (same layout), and each layer's share of them in floats. */
  private readonly block: { params: Arena; grads: Arena; parts: number[] };
  private work: Arena | null = null;
  private cap = { T: 0, B: 0 };
  private w!: { targets: Tensor; rows: Tensor; dTop: Tensor; feat: Tensor };
  private last: { T: number; B: number; rows: number; logits: Ptr } | null = null;

  constructor(spec: SequentialSpec) {
    validateSpec(spec);
    this.spec = structuredClone(spec);
    const seed = spec.seed ?? 0;
    if (spec.input.type === "tokens") {
      this.embedding = new Embedding({ numEmbeddings: spec.input.vocabSize, embeddingDim: spec.input.embeddingDim, seed });
      this.inputSize = spec.input.embeddingDim;
    } else {
      this.embedding = null;
      this.inputSize = spec.input.size;
    }
    let inSize = this.inputSize;
    this.recurrent = spec.recurrent.map((r, i) => {
      const layer = makeRecurrent(r, inSize, seed + 1 + i);
      inSize = layer.numDirections * layer.hiddenSize;
      return layer;
    });
    this.hiddenOut = inSize;
    this.head = new Dense({ inFeatures: inSize, outFeatures: spec.output.size, seed: seed + 101 });
    // One parameter block and one gradient block of the same layout for the whole
    // model (embedding | recurrent layers | head): clipping, the global norm, the
    // NaN check and the optimizer are then one kernel call each per update.
    const layers = [...(this.embedding ? [this.embedding] : []), ...this.recurrent, this.head].map((l) => l.arenas());
    this.block = {
      params: Arena.join(layers.map((a) => a.params)),
      grads: Arena.join(layers.map((a) => a.grads)),
      parts: layers.map((a) => a.params.bytes / 4),
    };
  }

  /** Parameter regions for an optimizer: one contiguous block for the whole model (`parts`: the layers' sizes in it). @internal */
  regions(): ParamRegion[] {
    return [this.block];
  }

  /** Named layers: "embedding", "rnn0", "rnn1", ..., "head". */
  private named(): [string, { parameters(): ReadonlyMap<string, Tensor>; gradients(): ReadonlyMap<string, Tensor> }][] {
    const out: [string, { parameters(): ReadonlyMap<string, Tensor>; gradients(): ReadonlyMap<string, Tensor> }][] = [];
    if (this.embedding) out.push(["embedding", this.embedding]);
    this.recurrent.forEach((l, i) => out.push([`rnn${i}`, l]));
    out.push(["head", this.head]);
    return out;
  }

  /** All parameter tensors by name: `embedding.weight`, `rnn0.weight_ih_l0`, `head.bias`, ... */
  parameters(): Map<string, Tensor> {
    const m = new Map<string, Tensor>();
    for (const [p, l] of this.named()) for (const [n, t] of l.parameters()) m.set(`${p}.${n}`, t);
    return m;
  }

  /** Gradient tensors, same names as {@link parameters}. */
  gradients(): Map<string, Tensor> {
    const m = new Map<string, Tensor>();
    for (const [p, l] of this.named()) for (const [n, t] of l.gradients()) m.set(`${p}.${n}`, t);
    return m;
  }

  /** Number of trainable parameters. */
  get parameterCount(): number {
    let n = 0;
    for (const t of this.parameters().values()) n += t.size;
    return n;
  }

  /** Copies of all weights by name. */
  stateDict(): Record<string, Float32Array> {
    return dumpTensors(this.parameters());
  }

  /** Load weights by name; everything is checked (missing, extra, shape, finite) before anything is written. */
  loadStateDict(sd: StateDict): void {
    loadChecked(this.parameters(), sd);
  }

  private ensure(T: number, B: number): void {
    if (this.work && T <= this.cap.T && B <= this.cap.B) return;
    const capT = Math.max(T, this.cap.T);
    const capB = Math.max(B, this.cap.B);
    this.work?.dispose();
    const a = new Arena();
    const O = this.spec.output.size;
    this.w = {
      targets: a.tensor("targets", [capT * capB * O]), // i32 ids or f32 values (same size in bytes)
      rows: a.tensor("rows", [capB], "i32"), // many-to-one: row of each sequence's last step
      dTop: a.tensor("dTop", [capT, capB, this.hiddenOut]), // many-to-one: dL/d(top output)
      feat: a.tensor("feat", [capT, capB, this.inputSize]),
    };
    this.work = a.commit();
    this.cap = { T: capT, B: capB };
  }

  /** Check a batch's shapes and values; throws naming what is wrong. */
  checkBatch(b: Batch, needTargets: boolean): void {
    v.checkObject("batch", b, "a batch { T, B, ids | features, ... }");
    const { T, B } = b;
    v.checkInt("batch.T", T, 1);
    v.checkInt("batch.B", B, 1);
    if (this.embedding) {
      if (b.ids === undefined) throw new UnfoldError("E_OPTION", "this model reads token ids: the batch needs `ids` [T, B]", { name: "batch.ids", expected: "an Int32Array [T, B]" });
      v.checkArrayLike("batch.ids", b.ids);
      v.checkLength("batch.ids", b.ids, T * B, "[T, B]");
      v.checkIds("batch.ids", b.ids, this.embedding.numEmbeddings, true);
    } else {
      const F = this.inputSize;
      if (b.features === undefined) throw new UnfoldError("E_OPTION", "this model reads feature vectors: the batch needs `features` [T, B, F]", { name: "batch.features", expected: "a Float32Array [T, B, F]" });
      v.checkArrayLike("batch.features", b.features);
      v.checkLength("batch.features", b.features, T * B * F, `[T, B, F] = [${T}, ${B}, ${F}]`);
      v.checkFinite("batch.features", b.features);
    }
    if (b.lengths !== undefined) {
      v.checkArrayLike("batch.lengths", b.lengths);
      v.checkLength("batch.lengths", b.lengths, B, "[B]");
      for (let i = 0; i < B; i++) v.checkInt(`batch.lengths[${i}]`, b.lengths[i], 1, T);
    }
    if (b.mask !== undefined) {
      v.checkArrayLike("batch.mask", b.mask);
      v.checkLength("batch.mask", b.mask, T * B, "[T, B]");
      v.checkFinite("batch.mask", b.mask);
    }
    if (!needTargets) return;
    if (b.targets === undefined) throw new UnfoldError("E_OPTION", "the batch has no targets", { name: "batch.targets" });
    v.checkArrayLike("batch.targets", b.targets);
    const O = this.spec.output.size;
    const steps = this.spec.mode === "many-to-many" ? T * B : B;
    if (this.spec.output.loss === "xent") {
      v.checkLength("batch.targets", b.targets, steps, this.spec.mode === "many-to-many" ? "[T, B] class ids" : "[B] class ids");
      // Negative class ids mean "ignore" (padding).
      v.checkIds("batch.targets", b.targets, O, true, "class");
    } else {
      v.checkLength("batch.targets", b.targets, steps * O);
      v.checkFinite("batch.targets", b.targets);
    }
  }

  /**
   * Forward a batch. Returns the head's output (logits or predictions),
   * [T*B, O] (many-to-many, time-major) or [B, O] (many-to-one), in WASM memory.
   * @param state 'zeros' starts every sequence from h0 = 0; 'keep' continues
   *   from the carried state (truncated BPTT, stateful generation).
   * @internal
   */
  forwardPtr(b: Batch, opts: { training?: boolean; state?: "zeros" | "keep" } = {}): { out: Ptr; rows: number } {
    const { T, B } = b;
    this.ensure(T, B);
    const k = kernels();
    const hp = heap();
    let x: Ptr;
    if (this.embedding) x = this.embedding.forwardIds(b.ids!);
    else {
      hp.f32(this.w.feat.ptr, b.features!.length).set(b.features!);
      x = this.w.feat.ptr;
    }
    // With lengths, every recurrent layer runs each sequence as PyTorch's packed sequences do.
    for (const r of this.recurrent) x = r.forwardPtr(x, T, B, { training: opts.training, state: opts.state, lengths: b.lengths });
    let rows = T * B;
    if (this.spec.mode === "many-to-one") {
      // Gather each sequence's last real step: row (len_b - 1)*B + b of [T*B, D*H] -> [B, D*H].
      const idx = hp.i32(this.w.rows.ptr, B);
      for (let i = 0; i < B; i++) idx[i] = ((b.lengths ? b.lengths[i] : T) - 1) * B + i;
      k.gather_rows(this.w.dTop.ptr, x, this.w.rows.ptr, B, this.hiddenOut);
      // Final states: the reverse half [H] of each row from step 0 instead, row b of [T*B, 2H].
      const H = this.reverseReadout();
      if (H > 0) k.copy2d_f32(this.w.dTop.ptr + H * 4, 2 * H, x + H * 4, 2 * H, B, H);
      x = this.w.dTop.ptr;
      rows = B;
    }
    const out = this.head.forwardPtr(x, rows);
    this.last = { T, B, rows, logits: out };
    return { out, rows };
  }

  /**
   * The loss of the last forward against `b.targets`; replaces the head's
   * output with dL/d(output) for {@link backwardPtr}. xent: mean over
   * non-ignored targets; mse: mean over values (masked steps excluded).
   * @returns the loss and the number of targets it averages over.
   * @internal
   */
  lossAndGrad(b: Batch): { loss: number; count: number } {
    if (!this.last) throw new UnfoldError("E_STATE", "lossAndGrad needs a forward first");
    const last = this.last;
    const k = kernels();
    const hp = heap();
    const O = this.spec.output.size;
    if (this.spec.output.loss === "xent") {
      const t = hp.i32(this.w.targets.ptr, last.rows);
      t.set(b.targets!);
      let count = 0;
      for (let i = 0; i < last.rows; i++) if (t[i] >= 0) count++;
      if (count === 0) {
        k.fill_f32(last.logits, last.rows * O, 0);
        return { loss: 0, count: 0 };
      }
      const sum = k.softmax_xent(last.logits, this.w.targets.ptr, last.rows, O, last.logits, 1 / count);
      return { loss: sum / count, count };
    }
    const n = last.rows * O;
    hp.f32(this.w.targets.ptr, n).set(b.targets!);
    let count = n;
    if (b.mask && this.spec.mode === "many-to-many") {
      // Masked steps: make prediction == target there, so they add nothing.
      const m = b.mask;
      const pred = hp.f32(last.logits, n);
      const tgt = hp.f32(this.w.targets.ptr, n);
      count = 0;
      for (let r = 0; r < last.rows; r++) {
        if (m[r] === 0) for (let o = 0; o < O; o++) tgt[r * O + o] = pred[r * O + o];
        else count += O;
      }
    }
    if (count === 0) {
      k.fill_f32(last.logits, n, 0);
      return { loss: 0, count: 0 };
    }
    const sum = k.mse(last.logits, this.w.targets.ptr, n, last.logits, 1 / count);
    return { loss: sum / count, count };
  }

  /**
   * Backward from the gradient {@link lossAndGrad} left in the head's output.
   * Writes all parameter gradients; returns where the gradients of the first
   * recurrent layer's initial state are (for an encoder feeding this model),
   * unless `stateGrad` is false (fit: they are not computed).
   * @internal
   */
  backwardPtr(stateGrad = true): { dh0: Ptr; dc0: Ptr | null } {
    const last = this.last;
    if (!last) throw new UnfoldError("E_STATE", "backward needs a forward first");
    const k = kernels();
    const { T, B } = last;
    let d: Ptr | null = this.head.backwardPtr(last.logits); // [rows, D*H]
    if (this.spec.mode === "many-to-one") {
      // Scatter back to the last steps; every other step gets zero gradient.
      // (dTop held the gathered rows in forward; the head copied them, so it is free.)
      k.fill_f32(this.w.dTop.ptr, T * B * this.hiddenOut, 0);
      k.scatter_add_rows(this.w.dTop.ptr, d, this.w.rows.ptr, B, this.hiddenOut);
      const H = this.reverseReadout();
      if (H > 0) {
        // Final states: the reverse half goes to step 0 (row b), not to step L_b - 1.
        // Row b at step 0 is no other sequence's last step, so it can be overwritten.
        k.copy2d_f32(this.w.dTop.ptr + H * 4, 2 * H, d + H * 4, 2 * H, B, H);
        const dTop = heap().f32(this.w.dTop.ptr, T * B * 2 * H);
        const idx = heap().i32(this.w.rows.ptr, B);
        for (let i = 0; i < B; i++) if (idx[i] !== i) dTop.fill(0, idx[i] * 2 * H + H, (idx[i] + 1) * 2 * H);
      }
      d = this.w.dTop.ptr;
    }
    let g = { dX: 0, dh0: 0, dc0: null as Ptr | null };
    for (let i = this.recurrent.length - 1; i >= 0; i--) {
      // Features in: nobody reads dL/d(features), so the first layer skips that GEMM.
      // Only the first block's dL/dh0 is returned.
      g = this.recurrent[i].backwardPtr(d, null, null, false, undefined, i > 0 || this.embedding !== null, i === 0 && stateGrad);
      d = g.dX;
    }
    if (this.embedding) this.embedding.backwardPtr(d!);
    return { dh0: g.dh0, dc0: g.dc0 };
  }

  /**
   * Many-to-one with `readout: "final-states"` and a bidirectional top block:
   * its H (the reverse half of a row is columns H..2H-1); otherwise 0 (the
   * head reads whole rows at each sequence's last step).
   */
  private reverseReadout(): number {
    if (this.spec.readout !== "final-states") return 0;
    const top = this.recurrent[this.recurrent.length - 1];
    return top.numDirections === 2 ? top.hiddenSize : 0;
  }

  /** Carry every recurrent layer's state after `step` steps of the last forward into the next one. */
  carryState(step?: number): void {
    for (const r of this.recurrent) r.carryState(step);
  }

  /** Forget the carried state (start of a new stream). */
  resetState(): void {
    for (const r of this.recurrent) r.resetState();
  }

  /**
   * Train on a token stream `{ stream }` (truncated BPTT, state carried) or
   * sequences `{ inputs, targets }` (full BPTT per batch). Calling again
   * continues with the same optimizer state.
   */
  fit(data: TrainData, opts: FitOptions = {}): TrainHistory {
    return fit(this, data, opts);
  }

  /** {@link fit} that yields to the event loop (without sleeping) every ~8 ms of work, keeping a page responsive. */
  fitAsync(data: TrainData, opts: FitOptions = {}): Promise<TrainHistory> {
    return fitAsync(this, data, opts);
  }

  /** Mean loss, and accuracy for classification, on data. */
  evaluate(data: TrainData, opts: { batchSize?: number; k1?: number; carry?: boolean } = {}): Evaluation {
    return evaluate(this, data, opts);
  }

  /** Per sequence: many-to-one [O], many-to-many [T_i * O] (probabilities for xent). */
  predict(inputs: ArrayLike<number>[], batchSize?: number): Float32Array[] {
    return predict(this, inputs, batchSize);
  }

  /** Sample `length` tokens after `prime`, feeding each back as the next input. */
  generate(prime: ArrayLike<number>, opts: GenerateOptions): number[] {
    return generate(this, prime, opts);
  }

  /**
   * A streaming inference session: `s.feed(ids)` returns the next-token
   * probabilities, then `s.step(id)`, `s.sample()`, `s.fork()`, `s.reset()`.
   * It has its own state; the model is not changed. Unidirectional layers only.
   */
  session(opts: SessionOptions = {}): InferenceSession {
    return new InferenceSession(this, opts);
  }

  /**
   * The next `horizon` steps after `history` (flat [T, F], raw values), through
   * {@link scaler}: autoregressive when the head predicts one step of every
   * feature, direct when a many-to-one head predicts several steps.
   * @returns flat [horizon, Ft]
   */
  forecast(history: ArrayLike<number>, horizon: number, opts: ForecastOptions = {}): Float32Array {
    return forecast(this, history, horizon, opts);
  }

  /** The definition, for saving: `new Sequential(model.toJSON())` rebuilds the architecture. */
  toJSON(): SequentialSpec {
    return structuredClone(this.spec);
  }

  /** Free the model's WASM memory; the model is unusable afterwards. */
  dispose(): void {
    this.trainState.optimizer?.dispose(); // its moments are WASM memory too
    this.embedding?.dispose();
    for (const r of this.recurrent) r.dispose();
    this.head.dispose();
    this.work?.dispose();
    this.block.params.dispose();
    this.block.grads.dispose();
  }
}

function validateSpec(s: SequentialSpec): void {
  v.checkObject("spec", s, "a model spec { input, recurrent, output, mode }");
  v.checkObject("spec.input", s.input, "{ type: 'tokens', vocabSize, embeddingDim } or { type: 'features', size }");
  v.checkOneOf("spec.input.type", s.input.type, ["tokens", "features"] as const);
  if (s.input.type === "tokens") {
    v.checkInt("spec.input.vocabSize", s.input.vocabSize, 1);
    v.checkInt("spec.input.embeddingDim", s.input.embeddingDim, 1);
  } else v.checkInt("spec.input.size", s.input.size, 1);
  v.checkArray("spec.recurrent", s.recurrent, "a list of recurrent layers, e.g. [{ cell: 'lstm', hiddenSize: 128 }]");
  if (s.recurrent.length === 0) throw new UnfoldError("E_OPTION", "spec.recurrent needs at least one recurrent layer, e.g. [{ cell: 'lstm', hiddenSize: 128 }]", { name: "spec.recurrent" });
  s.recurrent.forEach((r, i) => checkRecurrentSpec(`spec.recurrent[${i}]`, r));
  v.checkObject("spec.output", s.output, "{ size, loss }");
  v.checkInt("spec.output.size", s.output.size, 1);
  v.checkOneOf("spec.output.loss", s.output.loss, ["xent", "mse"] as const);
  v.checkOneOf("spec.mode", s.mode, ["many-to-many", "many-to-one"] as const);
  if (s.readout !== undefined) {
    v.checkOneOf("spec.readout", s.readout, ["last-step", "final-states"] as const);
    if (s.mode !== "many-to-one") throw new UnfoldError("E_OPTION", "spec.readout is only for many-to-one models (a many-to-many head reads every step)", { name: "spec.readout", received: s.readout });
  }
  v.checkNumber("spec.seed", s.seed, { optional: true });
}

/** One recurrent block of a spec: cell, sizes, flags. */
export function checkRecurrentSpec(name: string, r: RecurrentSpec): void {
  v.checkObject(name, r, "{ cell, hiddenSize, ... }");
  v.checkOneOf(`${name}.cell`, r.cell, ["lstm", "gru", "rnn", "rnn_relu"] as const);
  v.checkInt(`${name}.hiddenSize`, r.hiddenSize, 1);
  v.checkOptionalInt(`${name}.numLayers`, r.numLayers, 1);
  v.checkBool(`${name}.bidirectional`, r.bidirectional);
  v.checkNumber(`${name}.dropout`, r.dropout, { min: 0, max: 1, maxOpen: true, optional: true });
  v.checkNumber(`${name}.forgetBias`, r.forgetBias, { optional: true });
  if (r.forgetBias !== undefined && r.cell !== "lstm") throw new UnfoldError("E_OPTION", `${name}.forgetBias is only for lstm cells`, { name: `${name}.forgetBias` });
  v.checkOneOf(`${name}.gateActivation`, r.gateActivation, ["sigmoid", "hard_sigmoid"] as const, true);
  if (r.gateActivation === "hard_sigmoid" && r.cell !== "lstm" && r.cell !== "gru") throw new UnfoldError("E_OPTION", `${name}.gateActivation is only for lstm and gru cells`, { name: `${name}.gateActivation`, expected: "undefined or 'sigmoid'", received: r.gateActivation });
  v.checkBool(`${name}.resetAfter`, r.resetAfter);
  if (r.resetAfter !== undefined && r.cell !== "gru") throw new UnfoldError("E_OPTION", `${name}.resetAfter is only for gru cells`, { name: `${name}.resetAfter` });
}
