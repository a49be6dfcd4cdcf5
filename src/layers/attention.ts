/**
 * Attention for the encoder-decoder (Luong et al. 2015, "Effective Approaches
 * to Attention-based Neural Machine Translation"; the additive score of
 * Bahdanau et al. 2015). The lecture's encoder-decoder squeezes the whole
 * source into one final state; with attention, every decoder step looks back
 * at all encoder outputs and takes a weighted average of them (the context).
 *
 * Legend: T = target (decoder) steps, S = source (encoder) steps, B = batch,
 * H = decoder hidden size, DE = encoder output size (D*H), A = attention size
 * (= H), R = T*B rows. Time-major everywhere: row t*B + b is step t of example b.
 *
 * For every decoder step, with h = q[t, b] the decoder's hidden state and e_s
 * = enc[s, b] the encoder outputs (math and parameter names as in
 * src/reference/attention.ts):
 *   score_s  dot: h · e_s | general: h · (W_a e_s) | additive: v · tanh(W_q h + W_k e_s)
 *   α = softmax(score) masked by the source's length      (weights [T, B, S])
 *   c = Σ_s α_s e_s                                       (context [T, B, DE])
 *   h~ = tanh(W_c [c; h])                                 (attentional hidden state [T, B, H])
 *
 * All of it is GEMMs (whole-batch ones for the projections and W_c, one small
 * GEMM per example for scores and context, on strided views of the
 * time-major tensors), the masked-softmax kernel and, for the additive score,
 * one fused kernel (assembly/attention.ts). Backward adds nothing in JS.
 */
import type { Ptr } from "../runtime/abi.js";
import { Arena, type Tensor } from "../runtime/arena.js";
import * as threads from "../runtime/threads.js";
import { heap, kernels } from "../runtime/wasm.js";
import { UnfoldError } from "../errors.js";
import { Rng } from "../util/rng.js";
import { uniformInit } from "./init.js";
import { dumpTensors, loadChecked, type StateDict } from "./params.js";
import { attentionShapes, type ScoreKind } from "../reference/attention.js";
import type { Recurrent } from "./recurrent.js";

export type { ScoreKind } from "../reference/attention.js";

/** Options of {@link Attention}. */
export interface AttentionOptions {
  /** The score: Luong "dot" or "general", or Bahdanau "additive". */
  score: ScoreKind;
  /** H: decoder hidden size (and of h~). */
  hiddenSize: number;
  /** DE: size of one encoder output (2H for a bidirectional encoder). */
  encoderSize: number;
  /** Seed of the U(-1/sqrt(in), 1/sqrt(in)) initialisation (torch.nn.Linear's). Default 0. */
  seed?: number;
}

/** The attention block between a decoder's recurrent layers and its output layer. */
export class Attention {
  /** The score kind. */
  readonly score: ScoreKind;
  /** Decoder hidden size H. */
  readonly hiddenSize: number;
  /** Encoder output size DE (2H for a bidirectional encoder). */
  readonly encoderSize: number;
  /** A: additive attention's hidden size (= H). */
  readonly attentionSize: number;
  private readonly params = new Arena();
  private readonly grads = new Arena();
  private readonly pByName = new Map<string, Tensor>();
  private readonly gByName = new Map<string, Tensor>();
  private acts: Arena | null = null;
  private cap = { T: 0, S: 0, B: 0 };
  private t!: Record<string, Tensor>;
  private last: { T: number; S: number; B: number } | null = null;
  private encSet: { S: number; B: number } | null = null;

  constructor(o: AttentionOptions) {
    if (o.score !== "dot" && o.score !== "general" && o.score !== "additive") {
      throw new UnfoldError("E_OPTION", `attention must be 'dot', 'general' or 'additive', got ${JSON.stringify(o.score)}`, { name: "attention", expected: "'dot' | 'general' | 'additive'", received: o.score });
    }
    if (o.score === "dot" && o.encoderSize !== o.hiddenSize) {
      throw new UnfoldError("E_OPTION", `attention 'dot' needs encoder outputs of the decoder's size ${o.hiddenSize}, got ${o.encoderSize} (a bidirectional encoder doubles it); use 'general' or 'additive'`, { name: "attention", expected: "'general' or 'additive' with a bidirectional encoder", received: o.score });
    }
    this.score = o.score;
    this.hiddenSize = o.hiddenSize;
    this.encoderSize = o.encoderSize;
    this.attentionSize = o.hiddenSize;
    const rng = new Rng(o.seed ?? 0);
    for (const [name, shape] of attentionShapes(this.config)) {
      this.pByName.set(name, this.params.tensor(name, shape));
      this.gByName.set(name, this.grads.tensor(name, shape));
    }
    this.params.commit();
    this.grads.commit();
    for (const p of this.pByName.values()) uniformInit(p.f32(), rng, 1 / Math.sqrt(p.shape[1]));
  }

  /** The configuration in the reference's terms. @internal */
  get config(): { score: ScoreKind; hiddenSize: number; encoderSize: number; attentionSize: number } {
    return { score: this.score, hiddenSize: this.hiddenSize, encoderSize: this.encoderSize, attentionSize: this.attentionSize };
  }

  /** Parameter tensors: `combine.weight` [H, DE+H]; `score.weight` [H, DE] (general); `query.weight` [A, H], `key.weight` [A, DE], `energy.weight` [1, A] (additive). */
  parameters(): ReadonlyMap<string, Tensor> {
    return this.pByName;
  }
  /** Gradient tensors, same names. */
  gradients(): ReadonlyMap<string, Tensor> {
    return this.gByName;
  }
  /** The parameter and gradient arenas (one block each, same layout). @internal */
  arenas(): { params: Arena; grads: Arena } {
    return { params: this.params, grads: this.grads };
  }
  /** Load the parameters by name (see {@link Attention.parameters}), checked before anything changes. */
  loadStateDict(sd: StateDict): void {
    loadChecked(this.pByName, sd);
  }
  /** Copies of the parameters by name. */
  stateDict(): Record<string, Float32Array> {
    return dumpTensors(this.pByName);
  }
  /** Copies of the gradients of the last backward, by parameter name. */
  gradStateDict(): Record<string, Float32Array> {
    return dumpTensors(this.gByName);
  }

  private ensure(T: number, S: number, B: number): void {
    const c = this.cap;
    if (this.acts && T <= c.T && S <= c.S && B <= c.B) return;
    const capT = Math.max(T, c.T);
    const capS = Math.max(S, c.S);
    const capB = Math.max(B, c.B);
    // The encoder outputs and lengths survive a re-plan for a longer target (generation grows T one step at a time).
    const kept = this.acts && this.encSet ? { enc: this.t.enc.toArray(), len: heap().i32(this.t.lengths.ptr, capB).slice() } : null;
    this.acts?.dispose();
    const H = this.hiddenSize;
    const DE = this.encoderSize;
    const A = this.attentionSize;
    const R = capT * capB;
    const SB = capS * capB;
    const a = new Arena();
    const t: Record<string, Tensor> = {
      enc: a.tensor("enc", [capS, capB, DE]), // the encoder outputs
      lengths: a.tensor("lengths", [capB], "i32"),
      x: a.tensor("x", [R, DE + H]), // [c; h] of every row
      alpha: a.tensor("alpha", [R, capS]), // scores, then the weights α
      out: a.tensor("out", [R, H]), // h~
      dpre: a.tensor("dpre", [R, H]),
      dx: a.tensor("dx", [R, DE + H]),
      dalpha: a.tensor("dalpha", [R, capS]),
      dq: a.tensor("dq", [R, H]),
      dEnc: a.tensor("dEnc", [SB, DE]),
    };
    if (this.score === "general") {
      t.ew = a.tensor("ew", [SB, H]); // W_a e_s of every source step
      t.dew = a.tensor("dew", [SB, H]);
    }
    if (this.score === "additive") {
      t.qp = a.tensor("qp", [R, A]); // W_q h
      t.kp = a.tensor("kp", [SB, A]); // W_k e_s
      t.th = a.tensor("th", [R, capS, A]); // tanh(W_q h + W_k e_s)
      t.dqp = a.tensor("dqp", [R, A]);
      t.dkp = a.tensor("dkp", [SB, A]);
    }
    const widest = Math.ceil(Math.max(DE + H, A, capS) / 8) * 8;
    t.scratch = a.tensor("scratch", [widest * Math.max(R, SB, DE + H, A, capS, capT)]);
    this.t = t;
    this.acts = a.commit();
    if (kept && capB === c.B && capS === c.S) {
      this.t.enc.set(kept.enc);
      heap().i32(this.t.lengths.ptr, capB).set(kept.len);
    } else this.encSet = null;
    this.cap = { T: capT, S: capS, B: capB };
  }

  /**
   * Keep the encoder outputs enc [S, B, DE] (time-major, in WASM memory) and
   * each source's length [B] for the next forwards: one call per batch, then
   * any number of decoder forwards (generation calls it once and steps).
   */
  setEncoderPtr(enc: Ptr, S: number, B: number, lengths: ArrayLike<number>): void {
    if (S < 1) throw new UnfoldError("E_SHAPE", "attention needs a non-empty source (0 source steps)", { name: "sources", expected: "at least one source step", received: S });
    for (let b = 0; b < B; b++) {
      if (!(Number.isInteger(lengths[b]) && lengths[b] >= 1 && lengths[b] <= S)) {
        throw new UnfoldError("E_SHAPE", `source ${b} has length ${lengths[b]}; attention needs every source to have 1..${S} steps`, { name: `sources[${b}]`, expected: `1..${S} steps`, received: lengths[b] });
      }
    }
    this.ensure(Math.max(this.cap.T, 1), S, B);
    const DE = this.encoderSize;
    // Re-planned for a larger S or B, enc keeps the capacity's layout; store at [S, B, DE] contiguous.
    kernels().copy2d_f32(this.t.enc.ptr, S * B * DE, enc, S * B * DE, 1, S * B * DE);
    heap().i32(this.t.lengths.ptr, B).set(lengths);
    this.encSet = { S, B };
  }

  /**
   * h~ [T, B, H] for the decoder's hidden states q [T, B, H] (time-major, in
   * WASM memory), against the encoder outputs of {@link setEncoderPtr}.
   * @returns byte offset of h~, valid until the next call.
   */
  forwardPtr(q: Ptr, T: number): Ptr {
    const e = this.encSet;
    if (!e) throw new UnfoldError("E_STATE", "attention needs the encoder outputs first (setEncoderPtr)");
    const { S, B } = e;
    this.ensure(T, S, B);
    const k = kernels();
    const t = this.t;
    const H = this.hiddenSize;
    const DE = this.encoderSize;
    const A = this.attentionSize;
    const R = T * B;
    const X = DE + H; // row length of x = [c; h]
    const sc = t.scratch.ptr;
    const enc = t.enc.ptr;
    const xq = t.x.ptr + DE * 4; // h part of x: [R, H] with leading dim X
    k.copy2d_f32(xq, X, q, H, R, H);
    // Per example b, strided views: q_b [T, H] (ld B*X), e_b [S, DE] (ld B*DE), α_b [T, S] (ld B*S).
    const qb = (b: number) => xq + b * X * 4;
    const eb = (b: number) => enc + b * DE * 4;
    const ab = (b: number) => t.alpha.ptr + b * S * 4;
    // 1. Scores [T, B, S].
    if (this.score === "dot") {
      for (let b = 0; b < B; b++) k.gemm_nt(T, S, H, qb(b), B * X, eb(b), B * DE, ab(b), B * S, 0, sc);
    } else if (this.score === "general") {
      threads.gemmNT(S * B, H, DE, enc, DE, this.pByName.get("score.weight")!.ptr, DE, t.ew.ptr, H, 0, sc); // ew = enc W_a^T
      for (let b = 0; b < B; b++) k.gemm_nt(T, S, H, qb(b), B * X, t.ew.ptr + b * H * 4, B * H, ab(b), B * S, 0, sc);
    } else {
      threads.gemmNT(R, A, H, xq, X, this.pByName.get("query.weight")!.ptr, H, t.qp.ptr, A, 0, sc);
      threads.gemmNT(S * B, A, DE, enc, DE, this.pByName.get("key.weight")!.ptr, DE, t.kp.ptr, A, 0, sc);
      k.additive_scores_fwd(t.alpha.ptr, t.th.ptr, t.qp.ptr, t.kp.ptr, this.pByName.get("energy.weight")!.ptr, T, S, B, A);
    }
    // 2. Weights α: softmax over each source's real steps.
    k.masked_softmax_fwd(t.alpha.ptr, t.alpha.ptr, R, S, t.lengths.ptr, B);
    // 3. Context c_b [T, DE] = α_b e_b, into the first DE columns of x.
    for (let b = 0; b < B; b++) k.gemm_nn(T, DE, S, ab(b), B * S, eb(b), B * DE, t.x.ptr + b * X * 4, B * X, 0, sc);
    // 4. h~ = tanh([c; h] W_c^T).
    threads.gemmNT(R, H, X, t.x.ptr, X, this.pByName.get("combine.weight")!.ptr, X, t.out.ptr, H, 0, sc);
    k.tanh_f32x4(t.out.ptr, t.out.ptr, R * H);
    this.last = { T, S, B };
    return t.out.ptr;
  }

  /** S and B of the encoder outputs held for the next forwards. @internal */
  encoderShape(): { S: number; B: number } {
    if (!this.encSet) throw new UnfoldError("E_STATE", "attention needs the encoder outputs first (setEncoderPtr)");
    return { ...this.encSet };
  }

  /** The encoder outputs held by {@link setEncoderPtr}, enc [S, B, DE] (a copy; a streaming session keeps its own). */
  encoderOutputs(): Float32Array {
    if (!this.encSet) throw new UnfoldError("E_STATE", "attention needs the encoder outputs first (setEncoderPtr)");
    const { S, B } = this.encSet;
    return heap().f32(this.t.enc.ptr, S * B * this.encoderSize).slice();
  }

  /** The weights α [T, B, S] of the last forward (a copy). */
  weights(): Float32Array {
    if (!this.last) throw new UnfoldError("E_STATE", "attention weights need a forward first");
    const { T, S, B } = this.last;
    return heap().f32(this.t.alpha.ptr, T * B * S).slice();
  }

  /**
   * Backward from dL/dh~ [T, B, H] (in WASM memory; not modified). Writes
   * every parameter gradient (overwriting).
   * @returns byte offsets of dL/dq [T, B, H] and dL/denc [S, B, DE].
   * @internal
   */
  backwardPtr(dOut: Ptr): { dq: Ptr; dEnc: Ptr } {
    if (!this.last) throw new UnfoldError("E_STATE", "attention backward needs a forward first");
    const { T, S, B } = this.last;
    const k = kernels();
    const t = this.t;
    const H = this.hiddenSize;
    const DE = this.encoderSize;
    const A = this.attentionSize;
    const R = T * B;
    const SB = S * B;
    const X = DE + H;
    const sc = t.scratch.ptr;
    const enc = t.enc.ptr;
    const xq = t.x.ptr + DE * 4;
    const g = (n: string) => this.gByName.get(n)!.ptr;
    const p = (n: string) => this.pByName.get(n)!.ptr;
    const qb = (b: number) => xq + b * X * 4;
    const eb = (b: number) => enc + b * DE * 4;
    const ab = (b: number) => t.alpha.ptr + b * S * 4;
    const dab = (b: number) => t.dalpha.ptr + b * S * 4;
    const dEb = (b: number) => t.dEnc.ptr + b * DE * 4;
    const dqb = (b: number) => t.dq.ptr + b * H * 4;
    // 4. h~ = tanh(pre): dpre = dh~ (1 - h~²); dW_c = dpre^T x; dx = dpre W_c.
    k.rnn_step_bwd(t.out.ptr, dOut, t.dpre.ptr, R, H, 0);
    threads.gemmTN(H, X, R, t.dpre.ptr, H, t.x.ptr, X, g("combine.weight"), X, 0, sc);
    threads.gemmNN(R, X, H, t.dpre.ptr, H, p("combine.weight"), X, t.dx.ptr, X, 0, sc);
    k.copy2d_f32(t.dq.ptr, H, t.dx.ptr + DE * 4, X, R, H); // the h part of dx
    // 3. c_b = α_b e_b: dα_b = dc_b e_b^T; de_b = α_b^T dc_b.
    for (let b = 0; b < B; b++) {
      const dc = t.dx.ptr + b * X * 4;
      k.gemm_nt(T, S, DE, dc, B * X, eb(b), B * DE, dab(b), B * S, 0, sc);
      k.gemm_tn(S, DE, T, ab(b), B * S, dc, B * X, dEb(b), B * DE, 0, sc);
    }
    // 2. Through the masked softmax: dscores in dalpha.
    k.masked_softmax_bwd(t.dalpha.ptr, t.alpha.ptr, t.dalpha.ptr, R, S);
    // 1. Through the scores.
    if (this.score === "dot") {
      for (let b = 0; b < B; b++) {
        k.gemm_nn(T, H, S, dab(b), B * S, eb(b), B * DE, dqb(b), B * H, 1, sc); // dq_b += ds_b e_b
        k.gemm_tn(S, H, T, dab(b), B * S, qb(b), B * X, dEb(b), B * DE, 1, sc); // de_b += ds_b^T q_b
      }
    } else if (this.score === "general") {
      for (let b = 0; b < B; b++) {
        k.gemm_nn(T, H, S, dab(b), B * S, t.ew.ptr + b * H * 4, B * H, dqb(b), B * H, 1, sc); // dq_b += ds_b ew_b
        k.gemm_tn(S, H, T, dab(b), B * S, qb(b), B * X, t.dew.ptr + b * H * 4, B * H, 0, sc); // dew_b = ds_b^T q_b
      }
      threads.gemmTN(H, DE, SB, t.dew.ptr, H, enc, DE, g("score.weight"), DE, 0, sc); // dW_a = dew^T enc
      threads.gemmNN(SB, DE, H, t.dew.ptr, H, p("score.weight"), DE, t.dEnc.ptr, DE, 1, sc); // denc += dew W_a
    } else {
      k.additive_scores_bwd(t.dqp.ptr, t.dkp.ptr, g("energy.weight"), t.dalpha.ptr, t.th.ptr, p("energy.weight"), T, S, B, A);
      threads.gemmTN(A, H, R, t.dqp.ptr, A, xq, X, g("query.weight"), H, 0, sc); // dW_q = dqp^T q
      threads.gemmNN(R, H, A, t.dqp.ptr, A, p("query.weight"), H, t.dq.ptr, H, 1, sc); // dq += dqp W_q
      threads.gemmTN(A, DE, SB, t.dkp.ptr, A, enc, DE, g("key.weight"), DE, 0, sc); // dW_k = dkp^T enc
      threads.gemmNN(SB, DE, A, t.dkp.ptr, A, p("key.weight"), DE, t.dEnc.ptr, DE, 1, sc); // denc += dkp W_k
    }
    return { dq: t.dq.ptr, dEnc: t.dEnc.ptr };
  }

  /** Free the layer's WASM memory; the layer is unusable afterwards. */
  dispose(): void {
    this.acts?.dispose();
    this.acts = null;
    this.params.dispose();
    this.grads.dispose();
  }
}

/**
 * Input feeding (Luong et al. 2015, §3.3): the decoder's input at step t is
 * [embedding of y_{t-1}; h~_{t-1}], so each step knows where the previous one
 * attended. That makes step t's input depend on step t-1's output, so the
 * decoder can no longer run all T steps in one call: it runs step by step
 * (one recurrent call and one attention call per step, batched over B), and
 * backward walks the steps back, re-running each step's forward from its
 * saved initial state to restore the layers' caches (recomputation instead of
 * T copies of every cache), and adding up the per-step parameter gradients.
 *
 * Legend: T = target steps, B = batch, E = embedding size, H = hidden size,
 * L = decoder layers, X = E + H (the recurrent layer's input).
 */
export class InputFeeding {
  private work: Arena | null = null;
  private cap = { T: 0, B: 0 };
  private t!: Record<string, Tensor>;
  private acc: Arena | null = null;
  private last: { T: number; B: number; emb: Ptr } | null = null;
  private readonly E: number;
  private readonly H: number;
  private readonly L: number;
  private readonly hasCell: boolean;

  constructor(
    readonly embedding: { embeddingDim: number; forwardIds(ids: ArrayLike<number>): Ptr; backwardPtr(dy: Ptr): void },
    readonly rnn: Recurrent,
    readonly attention: Attention,
    readonly head: { forwardPtr(x: Ptr, N: number): Ptr; backwardPtr(dy: Ptr): Ptr },
  ) {
    this.E = embedding.embeddingDim;
    this.H = rnn.hiddenSize;
    this.L = rnn.numLayers;
    this.hasCell = rnn.kind === "lstm";
    if (rnn.inputSize !== this.E + this.H) throw new UnfoldError("E_SHAPE", `input feeding needs a recurrent layer with input size E + H = ${this.E + this.H}, got ${rnn.inputSize}`);
  }

  private ensure(T: number, B: number): void {
    if (this.work && T <= this.cap.T && B <= this.cap.B) return;
    const capT = Math.max(T, this.cap.T);
    const capB = Math.max(B, this.cap.B);
    // The fed-back h~ and the initial state from start() survive a re-plan for a longer sequence.
    const nState = this.L * capB * this.H;
    const kept = this.work && capB === this.cap.B
      ? { feed: this.t.feed.toArray(), h0: heap().f32(this.t.hS.ptr, nState).slice(), c0: heap().f32(this.t.cS.ptr, nState).slice() }
      : null;
    this.work?.dispose();
    const { E, H, L } = this;
    const a = new Arena();
    this.t = {
      x: a.tensor("x", [capB, E + H]), // one step's input [emb; h~_{t-1}]
      feed: a.tensor("feed", [capB, H]), // h~ of the last step, fed to the next call
      feed0: a.tensor("feed0", [capB, H]), // the h~ fed to step 0 of the last forward
      q: a.tensor("q", [capT, capB, H]), // the decoder's hidden states
      ht: a.tensor("ht", [capT, capB, H]), // h~ of every step
      hS: a.tensor("hS", [capT + 1, L, capB, H]), // the state entering every step
      cS: a.tensor("cS", [capT + 1, L, capB, H]),
      dht: a.tensor("dht", [capT, capB, H]),
      dEmb: a.tensor("dEmb", [capT, capB, E]),
      dh: a.tensor("dh", [L, capB, H]),
      dc: a.tensor("dc", [L, capB, H]),
      tmp: a.tensor("tmp", [capB, H]),
    };
    this.work = a.commit();
    if (kept) {
      this.t.feed.set(kept.feed);
      heap().f32(this.t.hS.ptr, nState).set(kept.h0);
      heap().f32(this.t.cS.ptr, nState).set(kept.c0);
    } else kernels().fill_f32(this.t.feed.ptr, capB * H, 0);
    this.cap = { T: capT, B: capB };
  }

  /** A new batch: the decoder's initial state h0, c0 [L, B, H] (from the encoder), and h~_{-1} = 0. */
  start(h0: Ptr, c0: Ptr | null, B: number): void {
    this.ensure(Math.max(this.cap.T, 1), B);
    const k = kernels();
    const n = this.L * B * this.H;
    k.copy2d_f32(this.t.hS.ptr, n, h0, n, 1, n);
    if (c0 !== null) k.copy2d_f32(this.t.cS.ptr, n, c0, n, 1, n);
    else k.fill_f32(this.t.cS.ptr, n, 0);
    k.fill_f32(this.t.feed.ptr, B * this.H, 0);
    this.rnn.setInitialStatePtr(h0, c0, B);
  }

  /**
   * Run T steps on token ids [T, B] (time-major; negative = padding, a zero
   * embedding) from the carried state and fed h~. Returns the logits [T*B, V].
   */
  forwardPtr(ids: ArrayLike<number>, T: number, B: number): Ptr {
    this.ensure(T, B);
    const k = kernels();
    const t = this.t;
    const { H, L } = this;
    const BH4 = B * H * 4;
    const n = L * B * H;
    const emb = this.embedding.forwardIds(ids); // [T, B, E]
    k.copy2d_f32(t.feed0.ptr, H, t.feed.ptr, H, B, H);
    for (let s = 0; s < T; s++) {
      this.stepInput(emb, s, B);
      const qs = this.rnn.forwardPtr(t.x.ptr, 1, B, { state: "keep" }); // [B, H]
      this.rnn.carryState();
      k.copy2d_f32(t.q.ptr + s * BH4, H, qs, H, B, H);
      const f = this.rnn.finalStatePtr();
      k.copy2d_f32(t.hS.ptr + (s + 1) * n * 4, n, f.hN, n, 1, n);
      if (f.cN !== null) k.copy2d_f32(t.cS.ptr + (s + 1) * n * 4, n, f.cN, n, 1, n);
      const hs = this.attention.forwardPtr(qs, 1); // h~ [B, H]
      k.copy2d_f32(t.ht.ptr + s * BH4, H, hs, H, B, H);
    }
    k.copy2d_f32(t.feed.ptr, H, t.ht.ptr + (T - 1) * BH4, H, B, H);
    this.last = { T, B, emb };
    return this.head.forwardPtr(t.ht.ptr, T * B);
  }

  /** x = [emb_s; h~_{s-1}] for step s (h~_{-1} = the fed h~ of the call). */
  private stepInput(emb: Ptr, s: number, B: number): void {
    const k = kernels();
    const { E, H } = this;
    const X = E + H;
    k.copy2d_f32(this.t.x.ptr, X, emb + s * B * E * 4, E, B, E);
    const prev = s === 0 ? this.t.feed0.ptr : this.t.ht.ptr + (s - 1) * B * H * 4;
    k.copy2d_f32(this.t.x.ptr + E * 4, X, prev, H, B, H);
  }

  /** The h~ fed to the next step: rows follow `order` (beam search keeps the surviving beams'). */
  permuteFeed(order: ArrayLike<number>): void {
    const H = this.H;
    const v = heap().f32(this.t.feed.ptr, order.length * H);
    const old = v.slice();
    for (let b = 0; b < order.length; b++) v.set(old.subarray(order[b] * H, (order[b] + 1) * H), b * H);
  }

  /**
   * Backward from dL/dlogits (in the head's output) of the last forward,
   * which must have started from {@link start}. Writes the parameter
   * gradients of the embedding, the recurrent layer, the attention and the
   * head. Returns dL/dh0, dL/dc0 [L, B, H] and dL/denc [S, B, DE].
   */
  backwardPtr(dLogits: Ptr): { dh0: Ptr; dc0: Ptr | null; dEnc: Ptr } {
    const last = this.last;
    if (!last) throw new UnfoldError("E_STATE", "input feeding backward needs a forward first");
    const { T, B, emb } = last;
    const k = kernels();
    const t = this.t;
    const { E, H, L } = this;
    const X = E + H;
    const BH4 = B * H * 4;
    const n = L * B * H;
    const att = this.attention;
    const { S } = att.encoderShape();
    const nEnc = S * B * att.encoderSize;
    const rg = this.rnn.arenas().grads;
    const ag = att.arenas().grads;
    if (!this.acc || this.acc.get("enc").size < nEnc) {
      this.acc?.dispose();
      const a = new Arena();
      a.tensor("rnn", [rg.bytes / 4]);
      a.tensor("att", [ag.bytes / 4]);
      a.tensor("enc", [nEnc]);
      this.acc = a.commit();
    }
    const accR = this.acc.get("rnn").ptr;
    const accA = this.acc.get("att").ptr;
    const dEnc = this.acc.get("enc").ptr;
    k.fill_f32(accR, rg.bytes / 4, 0);
    k.fill_f32(accA, ag.bytes / 4, 0);
    k.fill_f32(dEnc, nEnc, 0);
    k.fill_f32(t.dh.ptr, n, 0);
    k.fill_f32(t.dc.ptr, n, 0);
    // The head over all steps at once: dL/dh~ [T, B, H].
    const dHead = this.head.backwardPtr(dLogits);
    k.copy2d_f32(t.dht.ptr, T * B * H, dHead, T * B * H, 1, T * B * H);
    for (let s = T - 1; s >= 0; s--) {
      // Attention at step s (re-run for its caches), then its backward.
      att.forwardPtr(t.q.ptr + s * BH4, 1);
      const ga = att.backwardPtr(t.dht.ptr + s * BH4);
      k.axpy_f32(accA, ag.ptr, ag.bytes / 4, 1);
      k.axpy_f32(dEnc, ga.dEnc, nEnc, 1);
      // The recurrent step s, re-run from its saved initial state, then BPTT through it.
      this.stepInput(emb, s, B);
      this.rnn.setInitialStatePtr(t.hS.ptr + s * n * 4, this.hasCell ? t.cS.ptr + s * n * 4 : null, B);
      this.rnn.forwardPtr(t.x.ptr, 1, B, { state: "keep" });
      const g = this.rnn.backwardPtr(ga.dq, t.dh.ptr, this.hasCell ? t.dc.ptr : null);
      k.axpy_f32(accR, rg.ptr, rg.bytes / 4, 1);
      k.copy2d_f32(t.dh.ptr, n, g.dh0, n, 1, n);
      if (g.dc0 !== null) k.copy2d_f32(t.dc.ptr, n, g.dc0, n, 1, n);
      // dx = [d emb_s; d h~_{s-1}].
      k.copy2d_f32(t.dEmb.ptr + s * B * E * 4, E, g.dX, X, B, E);
      if (s > 0) {
        k.copy2d_f32(t.tmp.ptr, H, g.dX + E * 4, X, B, H);
        k.axpy_f32(t.dht.ptr + (s - 1) * BH4, t.tmp.ptr, B * H, 1);
      }
    }
    k.copy2d_f32(rg.ptr, rg.bytes / 4, accR, rg.bytes / 4, 1, rg.bytes / 4);
    k.copy2d_f32(ag.ptr, ag.bytes / 4, accA, ag.bytes / 4, 1, ag.bytes / 4);
    this.embedding.backwardPtr(t.dEmb.ptr);
    return { dh0: t.dh.ptr, dc0: this.hasCell ? t.dc.ptr : null, dEnc };
  }

  dispose(): void {
    this.work?.dispose();
    this.acc?.dispose();
    this.work = null;
    this.acc = null;
  }
}
