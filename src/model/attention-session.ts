/**
 * A streaming session on an attention decoder (Seq2Seq with `attention`):
 * the encoder runs once, when the session is made, and its outputs stay in
 * the session's memory; then every token is one decoder step:
 *
 *   h_t    = cell(x_t, h_{t-1})              one `cell_step_b1` per layer
 *   score  dot: enc h_t | general: (enc W_a^T) h_t | additive: v · tanh(W_q h_t + enc W_k^T)
 *   α      = softmax(score)                  (the source's own length: every step is real)
 *   c      = enc^T α                         (context [DE])
 *   h~     = tanh(W_c [c; h_t])              (attentional state [H])
 *   p      = softmax(W_o h~ + b_o)           (next-token probabilities [V])
 *
 * With input feeding, x_t = [embedding(y_{t-1}); h~_{t-1}]. The products
 * that depend only on the source (enc W_a^T, enc W_k^T, enc^T) are made
 * once per session, so a step is a few matrix-vector products: per token one
 * WebAssembly call per recurrent layer (as {@link InferenceSession}), then
 * 1 (dot, general) or 2 (additive) for the scores, 1 masked softmax, 1 for
 * the context, 2 for h~ (product, tanh) and 1 for the output layer. Nothing
 * is allocated per step.
 *
 * Memory layout of the state block (floats), so that the vectors each
 * product reads are contiguous without copies:
 *
 *   [ emb E | h~ H | c DE | h_top H | c_top H | (h, c) of the lower layers ... ]
 *     '-- layer 0's input with input feeding
 *                  '-- [c; h_top]: the input of W_c
 *
 * Legend: S = source steps, DE = encoder output size (D*H), H = hidden size,
 * E = target embedding size, A = additive attention size (= H), V = target
 * vocabulary, L = decoder layers.
 */
import { UnfoldError } from "../errors.js";
import type { Ptr } from "../runtime/abi.js";
import { Arena, type Tensor } from "../runtime/arena.js";
import { kernels } from "../runtime/wasm.js";
import { Rng } from "../util/rng.js";
import type { Attention } from "../layers/attention.js";
import type { Recurrent } from "../layers/recurrent.js";
import { sampleInto, type SamplingOptions, softmaxInto } from "./sampling.js";
import type { SessionOptions } from "./session.js";

const KIND = { rnn_tanh: 0, rnn_relu: 1, lstm: 2, gru: 3 } as const;

/** @internal What a Seq2Seq hands its attention session. */
export interface AttentionDecoderParts {
  /** The target embedding weight [V, E] (the decoder's, or with input feeding the Seq2Seq's own). */
  embedding: Tensor;
  /** The decoder's recurrent block (L layers, unidirectional). */
  rnn: Recurrent;
  attention: Attention;
  /** The output layer: weight [V, H], bias [V]. */
  headWeight: Tensor;
  headBias: Tensor;
  inputFeeding: boolean;
  /** Encoder outputs of the one source, enc [S, DE]. */
  enc: Float32Array;
  /** The decoder's initial state: per layer h [H] then c [H] (what the encoder hands it). */
  initial: Float32Array;
}

interface Unit {
  kind: number;
  flags: number; // cell_step_b1's: bit 0 hard-sigmoid gates, bit 1 GRU reset before W_hn
  I: number;
  wIh: Tensor;
  wHh: Tensor;
  bIh: Tensor;
  bHh: Tensor;
  h: number; // byte offset of h [H] in the state block
  c: number; // byte offset of c [H]
}

/**
 * A stateful, step-by-step attention decoder for one source. Make one with
 * `seq2seq.session(source, { seed })`; feed the begin token first
 * (`s.feed([bosId])`), then `s.step(id)` or `s.sample()` token by token.
 * After every step, {@link attentionWeights} says where the step looked.
 * The session reads the model's weights in place but keeps the source's
 * products (encoder outputs, their projections) from when it was made: make
 * a new session after training the model further.
 *
 * The arrays `feed`, `step` return are reused by the next call: copy them
 * (`.slice()`) to keep them.
 */
export class AttentionSession {
  /** Outputs per step: V, the next-token probabilities. */
  readonly outputSize: number;
  /** S: the source's length (the size of {@link attentionWeights}). */
  readonly sourceLength: number;
  private readonly parts: AttentionDecoderParts;
  private readonly units: Unit[];
  private readonly arena: Arena;
  private readonly E: number;
  private readonly H: number;
  private readonly DE: number;
  private readonly stateFloats: number;
  private readonly off: { emb: number; ht: number; ctx: number };
  private readonly t: Record<string, Tensor>;
  private readonly full: Float32Array; // the state to reset() to
  private readonly seed: number;
  private rng: Rng;
  private readonly result: Float32Array;
  private readonly logits: Float32Array;
  private readonly p64: Float64Array;
  private readonly order: Int32Array;
  private steps = 0;
  private disposed = false;
  private view: Float32Array | null = null;

  /** @internal Use `seq2seq.session(source)`. */
  constructor(parts: AttentionDecoderParts, opts: SessionOptions = {}) {
    if (opts === null || typeof opts !== "object") throw new UnfoldError("E_OPTION", "session(source, options) takes an object such as { seed: 1 }", { name: "options", expected: "an object", received: opts });
    const seed = opts.seed ?? 0;
    if (!Number.isInteger(seed)) throw new UnfoldError("E_OPTION", `session({ seed }) must be an integer, got ${seed}`, { name: "seed", expected: "an integer", received: seed });
    this.parts = parts;
    this.seed = seed;
    this.rng = new Rng(seed);
    const { rnn, attention } = parts;
    const H = rnn.hiddenSize;
    const L = rnn.numLayers;
    const DE = attention.encoderSize;
    const E = parts.inputFeeding ? parts.embedding.shape[1] : 0;
    const S = parts.enc.length / DE;
    if (!Number.isInteger(S) || S < 1) throw new UnfoldError("E_SHAPE", `encoder outputs of ${parts.enc.length} values are not whole steps of ${DE}`, { name: "enc" });
    if (parts.initial.length !== 2 * L * H) throw new UnfoldError("E_SHAPE", `initial state has ${parts.initial.length} values, expected ${2 * L * H}`, { name: "initial" });
    this.E = E;
    this.H = H;
    this.DE = DE;
    this.sourceLength = S;
    this.outputSize = parts.headWeight.shape[0];
    // The state block: [emb E | h~ H | c DE | h_top H | c_top H | lower layers (h H, c H) ...].
    this.off = { emb: 0, ht: E, ctx: E + H };
    const topAt = E + H + DE;
    const p = rnn.parameters();
    const units: Unit[] = [];
    for (let l = 0; l < L; l++) {
      const at = l === L - 1 ? topAt : topAt + 2 * H + 2 * H * l;
      units.push({
        kind: KIND[rnn.kind], flags: (rnn.gateActivation === "hard_sigmoid" ? 1 : 0) | (rnn.resetAfter ? 0 : 2), I: l === 0 ? rnn.inputSize : H,
        wIh: p.get(`weight_ih_l${l}`)!, wHh: p.get(`weight_hh_l${l}`)!, bIh: p.get(`bias_ih_l${l}`)!, bHh: p.get(`bias_hh_l${l}`)!,
        h: at * 4, c: (at + H) * 4,
      });
    }
    this.units = units;
    this.stateFloats = topAt + 2 * H * L;
    // The full start state: the encoder's h, c per layer; h~ = 0 (input feeding's h~_{-1}), c = 0.
    this.full = new Float32Array(this.stateFloats);
    units.forEach((u, l) => {
      this.full.set(parts.initial.subarray(2 * l * H, 2 * l * H + H), u.h / 4);
      this.full.set(parts.initial.subarray(2 * l * H + H, 2 * (l + 1) * H), u.c / 4);
    });
    const A = attention.attentionSize;
    const a = new Arena();
    const t: Record<string, Tensor> = {
      state: a.tensor("state", [this.stateFloats]),
      enc: a.tensor("enc", [S, DE]),
      encT: a.tensor("encT", [DE, S]), // for the context c = enc^T α as one matrix-vector product
      alpha: a.tensor("alpha", [S]),
      len: a.tensor("len", [1], "i32"),
      scratch: a.tensor("scratch", [10 * H]),
      out: a.tensor("out", [this.outputSize]),
    };
    if (attention.score === "general") t.keys = a.tensor("keys", [S, H]); // enc W_a^T
    if (attention.score === "additive") {
      t.keys = a.tensor("keys", [S, A]); // enc W_k^T
      t.qp = a.tensor("qp", [A]); // W_q h
      t.th = a.tensor("th", [S, A]);
    }
    this.t = t;
    this.arena = a.commit();
    // Once per session: the source's products.
    const k = kernels();
    const mem = this.f32();
    mem.set(parts.enc, t.enc.ptr >> 2);
    const encT = t.encT.ptr >> 2;
    for (let s = 0; s < S; s++) for (let d = 0; d < DE; d++) mem[encT + d * S + s] = parts.enc[s * DE + d];
    new Int32Array(mem.buffer, t.len.ptr, 1)[0] = S;
    const ap = attention.parameters();
    if (attention.score === "general") {
      for (let s = 0; s < S; s++) k.gemv_f32x4(H, DE, ap.get("score.weight")!.ptr, t.enc.ptr + s * DE * 4, t.keys.ptr + s * H * 4, 0);
    } else if (attention.score === "additive") {
      for (let s = 0; s < S; s++) k.gemv_f32x4(A, DE, ap.get("key.weight")!.ptr, t.enc.ptr + s * DE * 4, t.keys.ptr + s * A * 4, 0);
    }
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
   * Feed target token ids (the first is usually the begin token) and return
   * the next-token probabilities after the last one.
   * @returns [V] probabilities (reused array)
   * @throws UnfoldError E_VOCAB (id outside the target vocabulary), E_SHAPE (empty),
   *   E_OPTION (not an array), E_STATE (disposed). Nothing changes on error.
   */
  feed(ids: ArrayLike<number>): Float32Array {
    this.live();
    if (!ids || typeof ids !== "object" || typeof ids.length !== "number") throw new UnfoldError("E_OPTION", "feed() takes an array of token ids", { name: "input", expected: "an array", received: ids });
    if (ids.length === 0) throw new UnfoldError("E_SHAPE", "feed() needs at least one token id", { name: "input", expected: "length >= 1", received: 0 });
    for (let i = 0; i < ids.length; i++) this.checkId(ids[i], `input[${i}]`);
    for (let i = 0; i < ids.length; i++) this.advance(ids[i]);
    return this.finish();
  }

  /** One step on token `id`; returns the probabilities after it, as {@link feed}. */
  step(id: number): Float32Array {
    this.live();
    if (typeof id !== "number") throw new UnfoldError("E_OPTION", "step(id) takes one token id", { name: "id", expected: "an integer token id", received: id });
    this.checkId(id, "id");
    this.advance(id);
    return this.finish();
  }

  /**
   * Draw the next token from the current distribution (temperature, top-k,
   * top-p, from the session's seeded RNG), feed it, and return its id. The
   * same seed gives the same tokens as `seq2seq.generate([source], { seed, temperature })`.
   * @throws UnfoldError E_STATE before anything was fed; E_OPTION for bad sampling options.
   */
  sample(opts: SamplingOptions = {}): number {
    this.live();
    if (this.steps === 0) throw new UnfoldError("E_STATE", "sample() needs a distribution to draw from: feed() the begin token first", { name: "session" });
    const id = sampleInto(this.logits, this.rng, opts, this.p64, this.order);
    this.advance(id);
    this.finish();
    return id;
  }

  /**
   * The attention weights α [S] of the last step: how much it looked at each
   * source token (they sum to 1). A copy.
   * @throws UnfoldError E_STATE before the first step.
   */
  attentionWeights(): Float32Array {
    this.live();
    if (this.steps === 0) throw new UnfoldError("E_STATE", "attentionWeights() describes the last step: feed() a token first", { name: "session" });
    const a = this.t.alpha.ptr >> 2;
    return this.f32().slice(a, a + this.sourceLength);
  }

  /** Back to the encoder's state (h~ = 0), and the sampler to its seed. The encoder outputs stay. */
  reset(): void {
    this.live();
    this.f32().set(this.full, this.t.state.ptr >> 2);
    this.f32().fill(0, this.t.alpha.ptr >> 2, (this.t.alpha.ptr >> 2) + this.sourceLength);
    this.rng = new Rng(this.seed);
    this.steps = 0;
    this.result.fill(0);
    this.logits.fill(0);
  }

  /** An independent copy: same state, last output and weights, sampler position. */
  fork(): AttentionSession {
    this.live();
    const s = new AttentionSession(this.parts, { seed: this.seed });
    const mem = this.f32();
    mem.copyWithin(s.t.state.ptr >> 2, this.t.state.ptr >> 2, (this.t.state.ptr >> 2) + this.stateFloats);
    mem.copyWithin(s.t.alpha.ptr >> 2, this.t.alpha.ptr >> 2, (this.t.alpha.ptr >> 2) + this.sourceLength);
    s.rng.setState(this.rng.getState());
    s.steps = this.steps;
    s.result.set(this.result);
    s.logits.set(this.logits);
    return s;
  }

  /** A copy of the current state block (layout in the file's header: fed embedding, h~, context, then h and c per layer). */
  state(): Float32Array {
    this.live();
    const base = this.t.state.ptr >> 2;
    return this.f32().slice(base, base + this.stateFloats);
  }

  /** Free the session's memory. Any later call throws. The model is untouched. */
  dispose(): void {
    if (this.disposed) return;
    this.arena.dispose();
    this.disposed = true;
  }

  // ---- the step ---------------------------------------------------------------------

  private advance(id: number): void {
    const k = kernels();
    const t = this.t;
    const { E, H, DE } = this;
    const st = t.state.ptr;
    const row = this.parts.embedding.ptr + id * this.parts.embedding.shape[1] * 4; // the token's embedding [E]
    let x: Ptr;
    if (this.parts.inputFeeding) {
      // Layer 0 reads [emb; h~_{t-1}]: put the row in front of the h~ the last step left.
      const mem = this.f32();
      mem.copyWithin((st >> 2) + this.off.emb, row >> 2, (row >> 2) + E);
      x = st;
    } else x = row;
    const scratch = t.scratch.ptr;
    for (const u of this.units) {
      k.cell_step_b1(u.kind, x, u.I, st + u.h, st + u.c, u.wIh.ptr, u.wHh.ptr, u.bIh.ptr, u.bHh.ptr, scratch, H, u.flags);
      x = st + u.h;
    }
    const q = x; // h_top [H]
    const att = this.parts.attention;
    const S = this.sourceLength;
    const alpha = t.alpha.ptr;
    if (att.score === "dot") k.gemv_f32x4(S, DE, t.enc.ptr, q, alpha, 0);
    else if (att.score === "general") k.gemv_f32x4(S, H, t.keys.ptr, q, alpha, 0);
    else {
      const ap = att.parameters();
      const A = att.attentionSize;
      k.gemv_f32x4(A, H, ap.get("query.weight")!.ptr, q, t.qp.ptr, 0);
      k.additive_scores_fwd(alpha, t.th.ptr, t.qp.ptr, t.keys.ptr, ap.get("energy.weight")!.ptr, 1, S, 1, A);
    }
    k.masked_softmax_fwd(alpha, alpha, 1, S, t.len.ptr, 1);
    const ctx = st + this.off.ctx * 4; // c [DE], followed by h_top: [c; h] in place
    k.gemv_f32x4(DE, S, t.encT.ptr, alpha, ctx, 0);
    const ht = st + this.off.ht * 4;
    k.gemv_f32x4(H, DE + H, att.parameters().get("combine.weight")!.ptr, ctx, ht, 0);
    k.tanh_f32x4(ht, ht, H);
    this.steps++;
  }

  private finish(): Float32Array {
    const k = kernels();
    const V = this.outputSize;
    k.dense_b1(this.t.state.ptr + this.off.ht * 4, this.H, this.parts.headWeight.ptr, this.parts.headBias.ptr, this.t.out.ptr, V);
    const mem = this.f32();
    const o = this.t.out.ptr >> 2;
    for (let i = 0; i < V; i++) this.logits[i] = mem[o + i];
    this.result.set(softmaxInto(this.logits, 1, this.p64));
    return this.result;
  }

  // ---- checks -----------------------------------------------------------------------

  private live(): void {
    if (this.disposed) throw new UnfoldError("E_STATE", "this session was disposed; make a new one with seq2seq.session(source)", { name: "session" });
  }

  private checkId(id: number, name: string): void {
    const V = this.parts.embedding.shape[0];
    if (!Number.isInteger(id) || id < 0 || id >= V) {
      throw new UnfoldError("E_VOCAB", `token id ${id} (${name}) is outside the target vocabulary [0, ${V})`, { name, expected: `an integer in [0, ${V})`, received: id });
    }
  }

  /** A Float32Array over the whole WASM memory, made again only when the memory grew. */
  private f32(): Float32Array {
    const buf = kernels().memory.buffer;
    if (!this.view || this.view.buffer !== buf) this.view = new Float32Array(buf);
    return this.view;
  }
}
