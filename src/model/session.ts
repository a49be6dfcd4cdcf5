/**
 * A streaming inference session: the unfolded network run one step at a
 * time, for real-time use (type-ahead, live captioning, a forecaster fed one
 * reading at a time). It holds its own hidden (and cell) state, separate from
 * the model's, so several sessions can run on one model and `fork()` can try
 * continuations from the same point.
 *
 * Per token and per layer it makes one WebAssembly call (`cell_step_b1`: the
 * input and recurrent matrix-vector products and the fused cell), plus one
 * for the output layer (`dense_b1`); the embedding is read in place (a
 * pointer to the token's row), and nothing is allocated per step. A
 * quantized model (quantize.ts, registered in q8.ts) steps with the int8
 * twins of those kernels (`cell_step_b1_q8`, `dense_b1_q8`).
 *
 * Legend: V = vocabulary, E = embedding size, F = input features, H = hidden
 * size, O = outputs of the head, L = layers.
 */
import { UnfoldError } from "../errors.js";
import type { Ptr } from "../runtime/abi.js";
import { Arena, type Tensor } from "../runtime/arena.js";
import { kernels } from "../runtime/wasm.js";
import { Rng } from "../util/rng.js";
import { type Q8Matrix, q8Weights } from "./q8.js";
import { sampleInto, type SamplingOptions, softmaxInto } from "./sampling.js";
import type { SequentialModel as Sequential } from "./types.js";

/** Options of `model.session()`. */
export interface SessionOptions {
  /** Seed of the session's sampler (`sample`). Default 0. */
  seed?: number;
}

/** One recurrent layer (one of a block's stacked layers), as the session steps it. */
interface Unit {
  kind: number; // 0 rnn tanh, 1 rnn relu, 2 lstm, 3 gru (the kernel's codes)
  flags: number; // bit 0 hard-sigmoid gates, bit 1 GRU reset before W_hn (cell_step_b1's flags)
  I: number;
  H: number;
  wIh: Tensor; // [G*H, I]
  wHh: Tensor; // [G*H, H]
  bIh: Tensor; // [G*H]
  bHh: Tensor; // [G*H]
  h: number; // byte offset of h [H] inside the session's state block
  c: number; // byte offset of c [H] (LSTM) inside the state block
  q8: { wIh: Q8Matrix; wHh: Q8Matrix } | null; // int8 weights of a quantized model (quantize.ts), else null
}

const KIND = { rnn_tanh: 0, rnn_relu: 1, lstm: 2, gru: 3 } as const;

/**
 * A stateful, step-by-step view of a model. Make one with
 * `model.session({ seed })` (a {@link Sequential}) or
 * `seq2seq.session(source, { seed })` (the decoder side of a Seq2Seq,
 * starting from the encoder's state for `source`).
 *
 * The arrays it returns are reused by the next call (no allocation per
 * step): copy them (`.slice()`) to keep them.
 */
export class InferenceSession {
  /** Outputs per step: V for a token language model (probabilities), O otherwise. */
  readonly outputSize: number;
  private readonly model: Sequential;
  private readonly units: Unit[];
  private readonly arena: Arena;
  private readonly stateBytes: number;
  private readonly scratchPtr: Tensor;
  private readonly xPtr: Tensor | null;
  private readonly out: Tensor;
  private readonly initial: Float32Array | null;
  private readonly xent: boolean;
  private readonly embW: Tensor | null; // [V, E]
  private readonly headW: Tensor; // [O, H]
  private readonly headB: Tensor; // [O]
  private readonly headQ8: Q8Matrix | null; // int8 head of a quantized model
  private readonly q8Scratch: Tensor | null; // i16 quantized activations (x, then h)
  private rng: Rng;
  private readonly seed: number;
  /** The last step's output: probabilities (xent) or predictions (mse). Reused. */
  private readonly result: Float32Array;
  /** Raw head output of the last step (logits for xent). Reused. */
  private readonly logits: Float32Array;
  private readonly p64: Float64Array;
  private readonly order: Int32Array;
  private steps = 0;
  private disposed = false;
  private view: Float32Array | null = null;

  /**
   * @internal Use `model.session()`.
   * @param initial the state to start from and `reset()` to: h then c of every unit, or null for zeros
   */
  constructor(model: Sequential, opts: SessionOptions = {}, initial: Float32Array | null = null) {
    if (opts === null || typeof opts !== "object") throw new UnfoldError("E_OPTION", "session(options) takes an object such as { seed: 1 }", { name: "options", expected: "an object", received: opts });
    const seed = opts.seed ?? 0;
    if (!Number.isInteger(seed)) throw new UnfoldError("E_OPTION", `session({ seed }) must be an integer, got ${seed}`, { name: "seed", expected: "an integer", received: seed });
    for (const r of model.recurrent) {
      if (r.numDirections !== 1) {
        throw new UnfoldError("E_UNSUPPORTED", "a streaming session runs forward in time, so it cannot run a bidirectional layer (its reverse direction needs the whole sequence); use predict() for such models", { name: "bidirectional" });
      }
    }
    this.model = model;
    this.seed = seed;
    this.rng = new Rng(seed);
    this.xent = model.spec.output.loss === "xent";
    this.outputSize = model.spec.output.size;
    const units: Unit[] = [];
    let off = 0;
    let inSize = model.inputSize;
    let maxH = 0;
    let maxI = 0;
    const q8 = q8Weights(model);
    for (const [ri, r] of model.recurrent.entries()) {
      const p = r.parameters();
      for (let l = 0; l < r.numLayers; l++) {
        const H = r.hiddenSize;
        units.push({
          kind: KIND[r.kind], flags: (r.gateActivation === "hard_sigmoid" ? 1 : 0) | (r.resetAfter ? 0 : 2), I: inSize, H,
          wIh: p.get(`weight_ih_l${l}`)!, wHh: p.get(`weight_hh_l${l}`)!, bIh: p.get(`bias_ih_l${l}`)!, bHh: p.get(`bias_hh_l${l}`)!,
          h: off, c: off + H * 4,
          // The reset-before GRU (flags & 2) has no int8 step: it runs cell_step_b1 on the widened weights.
          q8: q8 && !(r.kind === "gru" && !r.resetAfter) ? { wIh: q8.get(`rnn${ri}.weight_ih_l${l}`)!, wHh: q8.get(`rnn${ri}.weight_hh_l${l}`)! } : null,
        });
        maxI = Math.max(maxI, inSize);
        off += 2 * H * 4;
        inSize = H;
        maxH = Math.max(maxH, H);
      }
    }
    this.units = units;
    this.stateBytes = off;
    this.embW = model.embedding ? model.embedding.parameters().get("weight")! : null;
    const head = model.head.parameters();
    this.headW = head.get("weight")!;
    this.headB = head.get("bias")!;
    this.headQ8 = q8?.get("head.weight") ?? null;
    if (initial && initial.length * 4 !== off) throw new UnfoldError("E_SHAPE", `initial state has ${initial.length} values, expected ${off / 4}`, { name: "initial" });
    this.initial = initial ? initial.slice() : null;
    const a = new Arena();
    a.tensor("state", [off / 4]);
    this.scratchPtr = a.tensor("scratch", [10 * maxH]);
    this.xPtr = model.embedding ? null : a.tensor("x", [model.inputSize]);
    this.out = a.tensor("out", [this.outputSize]);
    const k8 = (n: number) => (n + 7) & ~7;
    this.q8Scratch = q8 ? a.tensor("q8", [(k8(Math.max(maxI, maxH)) + k8(maxH)) / 2]) : null; // i16 lanes, 2 per float
    this.arena = a.commit();
    this.result = new Float32Array(this.outputSize);
    this.logits = new Float32Array(this.outputSize);
    this.p64 = new Float64Array(this.outputSize);
    this.order = new Int32Array(this.outputSize);
    this.reset();
  }

  /** Steps fed since the last {@link reset}. */
  get length(): number {
    return this.steps;
  }

  /**
   * Feed a sequence and return the output after its last step.
   * @param input tokens model: token ids; features model: T steps of F values, flat [T, F]
   * @returns tokens/xent: next-token probabilities [V]; mse: the prediction [O] (reused array)
   * @throws UnfoldError E_VOCAB (id outside the vocabulary), E_NAN (non-finite feature),
   *   E_SHAPE (empty, or not a whole number of steps), E_STATE (disposed). Nothing changes on error.
   */
  feed(input: ArrayLike<number>): Float32Array {
    this.live();
    const n = this.checkInput(input, "input");
    const F = this.model.inputSize;
    if (this.model.embedding) for (let t = 0; t < n; t++) this.advance(input[t], null, 0);
    else for (let t = 0; t < n; t++) this.advance(0, input, t * F);
    return this.finish();
  }

  /**
   * One step: a token id (tokens model) or one step of F features.
   * @returns the output after it, as {@link feed}.
   */
  step(x: number | ArrayLike<number>): Float32Array {
    this.live();
    if (this.model.embedding) {
      if (typeof x !== "number") throw new UnfoldError("E_OPTION", "step(id) takes one token id for a tokens model", { name: "id", expected: "an integer token id", received: x });
      this.checkId(x, "id");
      this.advance(x, null, 0);
    } else {
      if (typeof x === "number" || !x || typeof x.length !== "number") throw new UnfoldError("E_OPTION", `step(x) takes one step of ${this.model.inputSize} feature values for a features model`, { name: "x", expected: `an array of ${this.model.inputSize} numbers`, received: x });
      if (x.length !== this.model.inputSize) throw new UnfoldError("E_SHAPE", `step(x) needs ${this.model.inputSize} feature values, got ${x.length}`, { name: "x", expected: String(this.model.inputSize), received: x.length });
      this.checkFinite(x, "x");
      this.advance(0, x, 0);
    }
    return this.finish();
  }

  /**
   * Draw the next token from the current distribution (temperature, top-k,
   * top-p, from the session's seeded RNG), feed it, and return its id. The
   * same seed and prime give the same tokens as `model.generate`.
   * @throws UnfoldError E_STATE before anything was fed; E_UNSUPPORTED for a model that does not read and write tokens.
   */
  sample(opts: SamplingOptions = {}): number {
    this.live();
    if (!this.model.embedding || !this.xent) {
      throw new UnfoldError("E_UNSUPPORTED", "sample() feeds the drawn token back, so it needs a token language model (tokens input, xent output)", { name: "model" });
    }
    if (this.steps === 0) throw new UnfoldError("E_STATE", "sample() needs a distribution to draw from: feed() a prime first", { name: "session" });
    if (this.outputSize > this.model.embedding.numEmbeddings) {
      throw new UnfoldError("E_UNSUPPORTED", `sample() feeds the drawn token back, but the model has ${this.outputSize} outputs and ${this.model.embedding.numEmbeddings} input tokens`, { name: "model" });
    }
    const id = sampleInto(this.logits, this.rng, opts, this.p64, this.order);
    this.advance(id, null, 0);
    this.finish();
    return id;
  }

  /** Back to the start state (zeros, or the encoder's state for a Seq2Seq session), and the sampler to its seed. */
  reset(): void {
    this.live();
    const mem = this.f32();
    const base = this.arena.ptr >> 2;
    if (this.initial) mem.set(this.initial, base);
    else mem.fill(0, base, base + (this.stateBytes >> 2));
    this.rng = new Rng(this.seed);
    this.steps = 0;
    this.result.fill(0);
    this.logits.fill(0);
  }

  /** An independent copy: same state, same last output, same sampler position; stepping one does not move the other. */
  fork(): InferenceSession {
    this.live();
    const s = new InferenceSession(this.model, { seed: this.seed }, this.initial);
    const mem = this.f32();
    mem.copyWithin(s.arena.ptr >> 2, this.arena.ptr >> 2, (this.arena.ptr + this.stateBytes) >> 2);
    s.rng.setState(this.rng.getState());
    s.steps = this.steps;
    s.result.set(this.result);
    s.logits.set(this.logits);
    return s;
  }

  /** A copy of the current state: per layer h (and c), flat. */
  state(): Float32Array {
    this.live();
    const base = this.arena.ptr >> 2;
    return this.f32().slice(base, base + (this.stateBytes >> 2));
  }

  /** Free the session's memory. Any later call throws. The model is untouched. */
  dispose(): void {
    if (this.disposed) return;
    this.arena.dispose();
    this.disposed = true;
  }

  // ---- the step ---------------------------------------------------------------------

  /** Run one step through every layer: x is the token's embedding row, or features src[at..at+F). */
  private advance(id: number, src: ArrayLike<number> | null, at: number): void {
    const k = kernels();
    let x: Ptr;
    if (this.model.embedding) {
      x = this.embW!.ptr + id * this.model.inputSize * 4; // the token's row [E]
    } else {
      const F = this.model.inputSize;
      const mem = this.f32();
      const xp = this.xPtr!.ptr;
      for (let i = 0; i < F; i++) mem[(xp >> 2) + i] = src![at + i];
      x = xp;
    }
    const state = this.arena.ptr;
    const scratch = this.scratchPtr.ptr;
    for (const u of this.units) {
      if (u.q8) k.cell_step_b1_q8(u.kind, x, u.I, state + u.h, state + u.c, u.q8.wIh.q, u.q8.wIh.scale, u.q8.wIh.sum, u.q8.wHh.q, u.q8.wHh.scale, u.q8.wHh.sum, u.bIh.ptr, u.bHh.ptr, scratch, this.q8Scratch!.ptr, u.H, u.flags);
      else k.cell_step_b1(u.kind, x, u.I, state + u.h, state + u.c, u.wIh.ptr, u.wHh.ptr, u.bIh.ptr, u.bHh.ptr, scratch, u.H, u.flags);
      x = state + u.h;
    }
    this.steps++;
  }

  /** The head on the top layer's h; softmax for xent. */
  private finish(): Float32Array {
    const k = kernels();
    const top = this.units[this.units.length - 1];
    const O = this.outputSize;
    if (this.headQ8) k.dense_b1_q8(this.arena.ptr + top.h, top.H, this.headQ8.q, this.headQ8.scale, this.headQ8.sum, this.headB.ptr, this.out.ptr, O, this.q8Scratch!.ptr);
    else k.dense_b1(this.arena.ptr + top.h, top.H, this.headW.ptr, this.headB.ptr, this.out.ptr, O);
    const mem = this.f32();
    const o = this.out.ptr >> 2;
    for (let i = 0; i < O; i++) this.logits[i] = mem[o + i];
    if (!this.xent) {
      this.result.set(this.logits);
      return this.result;
    }
    this.result.set(softmaxInto(this.logits, 1, this.p64));
    return this.result;
  }

  // ---- checks -----------------------------------------------------------------------

  private live(): void {
    if (this.disposed) throw new UnfoldError("E_STATE", "this session was disposed; make a new one with model.session()", { name: "session" });
  }

  /** Validate a whole feed before any step runs (a failed call changes nothing); returns the step count. */
  private checkInput(input: ArrayLike<number>, name: string): number {
    if (!input || typeof input !== "object" || typeof input.length !== "number") {
      throw new UnfoldError("E_OPTION", `feed() takes an array of ${this.model.embedding ? "token ids" : "feature values"}`, { name, expected: "an array", received: input });
    }
    if (this.model.embedding) {
      if (input.length === 0) throw new UnfoldError("E_SHAPE", "feed() needs at least one token id", { name, expected: "length >= 1", received: 0 });
      for (let i = 0; i < input.length; i++) this.checkId(input[i], `${name}[${i}]`);
      return input.length;
    }
    const F = this.model.inputSize;
    if (input.length === 0 || input.length % F !== 0) {
      throw new UnfoldError("E_SHAPE", `feed() needs whole steps of ${F} features (flat [T, ${F}]), got ${input.length} values`, { name, expected: `a positive multiple of ${F}`, received: input.length });
    }
    this.checkFinite(input, name);
    return input.length / F;
  }

  private checkId(id: number, name: string): void {
    const V = this.model.embedding!.numEmbeddings;
    if (!Number.isInteger(id) || id < 0 || id >= V) {
      throw new UnfoldError("E_VOCAB", `token id ${id} (${name}) is outside the vocabulary [0, ${V})`, { name, expected: `an integer in [0, ${V})`, received: id });
    }
  }

  private checkFinite(x: ArrayLike<number>, name: string): void {
    for (let i = 0; i < x.length; i++) {
      if (!Number.isFinite(x[i])) throw new UnfoldError("E_NAN", `${name}[${i}] is ${x[i]}; feed finite values`, { name: `${name}[${i}]`, expected: "a finite number", received: x[i] });
    }
  }

  /** A Float32Array over the whole WASM memory, made again only when the memory grew. */
  private f32(): Float32Array {
    const buf = kernels().memory.buffer;
    if (!this.view || this.view.buffer !== buf) this.view = new Float32Array(buf);
    return this.view;
  }
}
