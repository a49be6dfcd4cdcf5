/**
 * Encoder-decoder (lecture p.14) and one-to-many (p.13, p.21) models.
 *
 * The encoder reads the source — a token sequence through an Embedding and a
 * recurrent layer, or a single vector (an image, say) through Dense + tanh —
 * and its final hidden (and cell) state initialises the decoder. The decoder
 * is a token language model ({@link Sequential}, many-to-many) that writes the
 * target one token at a time.
 *
 * Training uses teacher forcing (p.15): the decoder's input at step t is the
 * true token t-1 (the begin token at t = 0), not its own guess. With
 * `scheduledSampling: p`, a fraction p of those inputs is replaced by the
 * model's own greedy predictions from a first, teacher-forced pass (the
 * parallel form of scheduled sampling, Duckworth et al. 2019).
 *
 * With `attention` (Luong et al. 2015: 'dot', 'general'; Bahdanau et al.
 * 2015: 'additive'), every decoder step also looks back at all encoder
 * outputs: its hidden state h scores them, a softmax masked by the source's
 * length weighs them, their weighted average is the context c, and the output
 * layer reads the attentional hidden state tanh(W_c [c; h]) instead of h
 * (src/layers/attention.ts). The encoder may then be bidirectional.
 *
 * Legend: S = source steps, T = target steps, B = batch, H = hidden size,
 * L = recurrent layers, V = target vocabulary, D = encoder directions.
 */
import { UnfoldError } from "../errors.js";
import { InferenceSession, type SessionOptions } from "./session.js";
import { AttentionSession } from "./attention-session.js";
import type { Ptr } from "../runtime/abi.js";
import { Arena, type Tensor } from "../runtime/arena.js";
import { heap, kernels } from "../runtime/wasm.js";
import { Dense, Embedding } from "../layers/dense.js";
import type { Recurrent } from "../layers/recurrent.js";
import { Attention, InputFeeding, type ScoreKind } from "../layers/attention.js";
import { dumpTensors, loadChecked, type StateDict } from "../layers/params.js";
import { bucketBatches, padBatch, trainValSplit } from "../data/batch.js";
import type { ParamRegion } from "../train/optimizers.js";
import { resolveOptions, sequentialBatches, type TrainHistory } from "../train/trainer.js";
import { fit as runFit, fitAsync as runFitAsync, newTrainState, type Trainable, type TrainState } from "../train/loop.js";
import { Rng } from "../util/rng.js";
import type { FitOptions } from "./fit.js";
import { argmax, checkSamplingOptions, logSoftmax, sampleToken, type SamplingOptions } from "./sampling.js";
import { type Batch, checkRecurrentSpec, makeRecurrent, type RecurrentSpec, Sequential } from "./sequential.js";
import { checkTrainOptions } from "../train/trainer.js";
import * as v from "../validate.js";

/** A serialisable encoder-decoder definition. */
export interface Seq2SeqSpec {
  /** Token source (encoder-decoder) or one vector per example (one-to-many). */
  source:
    | {
        /** Token ids, embedded. */
        type: "tokens";
        /** Source vocabulary size. */
        vocabSize: number;
        /** Source embedding size. */
        embeddingDim: number;
      }
    | {
        /** One vector per example (one-to-many). */
        type: "vector";
        /** Values per vector. */
        size: number;
      };
  /** Target vocabulary; it must contain the begin and end tokens. */
  target: {
    /** Target vocabulary size. */
    vocabSize: number;
    /** Target embedding size. */
    embeddingDim: number;
    /** Id of the begin token, fed first. */
    bosId: number;
    /** Id of the end token, which ends a generated sequence. */
    eosId: number;
  };
  /**
   * Both encoder and decoder use this cell, hidden size and layer count.
   * `bidirectional` makes the encoder bidirectional (attention only; the
   * decoder always writes left to right, from the sum of the two directions'
   * final states).
   */
  recurrent: RecurrentSpec;
  /** Attention over the encoder outputs at every decoder step (token sources). Default none. */
  attention?: ScoreKind;
  /** With attention: feed each step's attentional state h~ into the next step's input (Luong's input feeding). Default false. */
  inputFeeding?: boolean;
  /** Seeds initialisation, dropout, shuffling and sampling (default 0). */
  seed?: number;
}

/** Examples: a source (token ids, or a vector) and its target token ids (without begin/end tokens). */
export interface Seq2SeqData {
  /** One per example: token ids (tokens source) or `size` values (vector source). */
  sources: ArrayLike<number>[];
  /** One per example: target token ids, without the begin and end tokens. */
  targets: ArrayLike<number>[];
}

/** Options of {@link Seq2Seq.fit}. */
export interface Seq2SeqFitOptions extends Omit<FitOptions, "validation" | "tbptt"> {
  /** Probability of feeding the model's own prediction instead of the truth. Default 0 (pure teacher forcing). */
  scheduledSampling?: number;
  /** Held-out examples, or a fraction of the data to hold out (seeded). */
  validation?: Seq2SeqData | {
    /** In (0, 1): this fraction of the examples, chosen by the seed. */
    fraction: number;
  };
}

/** Options of {@link Seq2Seq.generate}. */
export interface DecodeOptions extends SamplingOptions {
  /** Longest output. Default 50. */
  maxLength?: number;
  /** Beam width; 1 (default) is greedy (or sampling, with a temperature > 0). */
  beamWidth?: number;
  /** Beam search: divide scores by length^alpha. Default 0.6 (0 = none). */
  lengthPenalty?: number;
  /** Seeds sampling (default: the model's seed). */
  seed?: number;
}

/** An encoder-decoder (lecture p.14): the encoder's final state starts a decoder language model; optional attention. Built from a plain-data {@link Seq2SeqSpec}. */
export class Seq2Seq {
  /** The definition the model was built from. */
  readonly spec: Seq2SeqSpec;
  /** Encoder input: an Embedding (tokens) or Dense projecting the vector to L*H (vector). */
  readonly encEmbedding: Embedding | null;
  /** The unidirectional encoder (token source), else null. */
  readonly encoder: Recurrent | null;
  /** The bidirectional encoder (attention with `recurrent.bidirectional`), else null. @internal */
  readonly biEncoder: BidirectionalEncoder | null = null;
  /** Vector source: the Dense layer that maps the vector to the decoder's initial state, else null. */
  readonly bridge: Dense | null;
  /** The attention block between the decoder's recurrent layers and its head, or null. */
  readonly attention: Attention | null = null;
  /** Input feeding: the decoder's own token embedding (its recurrent layer reads [embedding; h~]) and the step loop. */
  private readonly decEmbedding: Embedding | null = null;
  private readonly feeding: InputFeeding | null = null;
  /** The decoder: a token LM whose initial state is the encoder's final state. */
  readonly decoder: Sequential;
  /** Optimizer and history, kept across fit() calls and saved with the model. @internal */
  trainState: TrainState = newTrainState();
  private work: Arena | null = null;
  private cap = 0;
  private w!: { src: Tensor; h0: Tensor; c0: Tensor; dpre: Tensor; dbridge: Tensor };
  /** Attention: decoder targets, i32 [T*B]. */
  private targets: Arena | null = null;
  private lastLogits: Ptr = 0;
  private lastB = 0;
  private srcLengths: Int32Array = new Int32Array(0);

  constructor(spec: Seq2SeqSpec) {
    validate(spec);
    this.spec = structuredClone(spec);
    const seed = spec.seed ?? 0;
    const r = spec.recurrent;
    if (spec.source.type === "tokens") {
      this.encEmbedding = new Embedding({ numEmbeddings: spec.source.vocabSize, embeddingDim: spec.source.embeddingDim, seed });
      if (r.bidirectional) {
        this.encoder = null;
        this.biEncoder = new BidirectionalEncoder(r, spec.source.embeddingDim, seed + 1);
      } else this.encoder = makeRecurrent({ ...r, bidirectional: false }, spec.source.embeddingDim, seed + 1);
      this.bridge = null;
    } else {
      this.encEmbedding = null;
      this.encoder = null;
      // h0 = tanh(v W^T + b) for every layer; c0 = 0.
      this.bridge = new Dense({ inFeatures: spec.source.size, outFeatures: (r.numLayers ?? 1) * r.hiddenSize, seed: seed + 1 });
    }
    const feed = !!spec.inputFeeding;
    this.decoder = new Sequential({
      // Input feeding: the recurrent layer reads [embedding; h~] (E + H features), the embedding is ours.
      input: feed ? { type: "features", size: spec.target.embeddingDim + r.hiddenSize } : { type: "tokens", vocabSize: spec.target.vocabSize, embeddingDim: spec.target.embeddingDim },
      recurrent: [{ ...r, bidirectional: false }],
      output: { size: spec.target.vocabSize, loss: "xent" },
      mode: "many-to-many",
      seed: seed + 1000,
    });
    if (spec.attention) {
      this.attention = new Attention({ score: spec.attention, hiddenSize: r.hiddenSize, encoderSize: (r.bidirectional ? 2 : 1) * r.hiddenSize, seed: seed + 2000 });
      if (feed) {
        this.decEmbedding = new Embedding({ numEmbeddings: spec.target.vocabSize, embeddingDim: spec.target.embeddingDim, seed: seed + 1000 });
        this.feeding = new InputFeeding(this.decEmbedding, this.decoder.recurrent[0], this.attention, this.decoder.head);
      }
    }
  }

  private get L(): number {
    return this.spec.recurrent.numLayers ?? 1;
  }
  private get H(): number {
    return this.spec.recurrent.hiddenSize;
  }

  /** Parameter regions for an optimizer. @internal */
  regions(): ParamRegion[] {
    const r: ParamRegion[] = [];
    if (this.encEmbedding) r.push(this.encEmbedding.arenas());
    if (this.encoder) r.push(this.encoder.arenas());
    if (this.biEncoder) r.push(...this.biEncoder.regions());
    if (this.bridge) r.push(this.bridge.arenas());
    if (this.decEmbedding) r.push(this.decEmbedding.arenas());
    r.push(...this.decoder.regions());
    if (this.attention) r.push(this.attention.arenas());
    return r;
  }

  /** All parameters: `encoder.embedding.weight`, `encoder.rnn.weight_ih_l0`, `bridge.weight`, `decoder.*`, `attention.*`. */
  parameters(): Map<string, Tensor> {
    const m = new Map<string, Tensor>();
    const add = (prefix: string, l: { parameters(): ReadonlyMap<string, Tensor> } | null) => {
      if (l) for (const [n, t] of l.parameters()) m.set(`${prefix}.${n}`, t);
    };
    add("encoder.embedding", this.encEmbedding);
    add("encoder.rnn", this.encoder);
    add("bridge", this.bridge);
    add("encoder.rnn", this.biEncoder);
    add("decoder.embedding", this.decEmbedding);
    add("decoder", this.decoder);
    add("attention", this.attention);
    return m;
  }

  /** Gradient tensors of the last training step, same names as {@link parameters}. */
  gradients(): Map<string, Tensor> {
    const m = new Map<string, Tensor>();
    const add = (prefix: string, l: { gradients(): ReadonlyMap<string, Tensor> } | null) => {
      if (l) for (const [n, t] of l.gradients()) m.set(`${prefix}.${n}`, t);
    };
    add("encoder.embedding", this.encEmbedding);
    add("encoder.rnn", this.encoder);
    add("encoder.rnn", this.biEncoder);
    add("bridge", this.bridge);
    add("decoder.embedding", this.decEmbedding);
    add("decoder", this.decoder);
    add("attention", this.attention);
    return m;
  }

  /** Copies of all weights by name. */
  stateDict(): Record<string, Float32Array> {
    return dumpTensors(this.parameters());
  }

  /** Load weights by name; everything is checked (missing, extra, shape, finite) before anything is written. */
  loadStateDict(sd: StateDict): void {
    loadChecked(this.parameters(), sd);
  }

  /** Number of trainable parameters. */
  get parameterCount(): number {
    let n = 0;
    for (const t of this.parameters().values()) n += t.size;
    return n;
  }

  private ensure(B: number): void {
    if (this.work && B <= this.cap) return;
    this.work?.dispose();
    const a = new Arena();
    const n = this.L * B * this.H;
    const F = this.spec.source.type === "vector" ? this.spec.source.size : 1;
    this.w = {
      src: a.tensor("src", [B, F]),
      h0: a.tensor("h0", [n]), // [L, B, H]
      c0: a.tensor("c0", [n]), // [L, B, H] (bidirectional encoder: the decoder's initial cell state)
      dpre: a.tensor("dpre", [n]), // [B, L*H]
      dbridge: a.tensor("dbridge", [n]),
    };
    this.work = a.commit();
    this.cap = B;
  }

  /** Encode a batch of sources and set the decoder's initial state. */
  private encode(sources: ArrayLike<number>[], training: boolean): void {
    const B = sources.length;
    this.ensure(B);
    const k = kernels();
    const dec = this.decoder.recurrent[0];
    if (this.encEmbedding) {
      const emb = this.encEmbedding;
      if (this.attention) {
        const empty = sources.findIndex((s) => s.length === 0);
        if (empty >= 0) throw new UnfoldError("E_SHAPE", `source ${empty} is empty; attention needs at least one source token to attend to`, { name: `sources[${empty}]`, expected: "at least one token", received: "[]" });
      }
      // Right-padded; each source's final state is read at its own last step.
      const p = padBatch(sources, { padId: -1 });
      emb.checkIds(sources.flatMap((s) => Array.from(s)));
      const x = emb.forwardIds(p.ids);
      this.srcLengths = p.lengths;
      if (this.biEncoder) {
        const out = this.biEncoder.forwardPtr(x, p.T, B, p.lengths, training);
        // The decoder starts from the sum of the two directions' final states, layer by layer.
        this.biEncoder.finalStateSum(this.w.h0.ptr, this.w.c0.ptr);
        dec.setInitialStatePtr(this.w.h0.ptr, this.biEncoder.hasCell ? this.w.c0.ptr : null, B);
        this.attention!.setEncoderPtr(out, p.T, B, p.lengths);
        this.feeding?.start(this.w.h0.ptr, this.biEncoder.hasCell ? this.w.c0.ptr : null, B);
      } else {
        const out = this.encoder!.forwardPtr(x, p.T, B, { training, lengths: p.lengths });
        const { hN, cN } = this.encoder!.finalStatePtr(p.lengths);
        dec.setInitialStatePtr(hN, cN, B);
        this.attention?.setEncoderPtr(out, p.T, B, p.lengths);
        this.feeding?.start(hN, cN, B);
      }
    } else {
      const F = (this.spec.source as { size: number }).size;
      const src = heap().f32(this.w.src.ptr, B * F);
      sources.forEach((s, b) => {
        if (s.length !== F) throw new UnfoldError("E_SHAPE", `source ${b} should be a vector of ${F} values, got ${s.length}`);
        for (let i = 0; i < F; i++) {
          if (!Number.isFinite(s[i])) throw new UnfoldError("E_NAN", `source ${b} has a non-finite value at ${i}`);
          src[b * F + i] = s[i];
        }
      });
      const pre = this.bridge!.forwardPtr(this.w.src.ptr, B); // [B, L*H]
      k.tanh_f32x4(this.w.dbridge.ptr, pre, B * this.L * this.H); // keep tanh output for backward
      k.swap01_f32(this.w.h0.ptr, this.w.dbridge.ptr, B, this.L, this.H); // [L, B, H]
      dec.setInitialStatePtr(this.w.h0.ptr, null, B);
    }
    this.lastB = B;
  }

  /** Backward through the encoder from the decoder's initial-state gradients (and, with attention, the encoder outputs' [S, B, D*H]). */
  private encodeBackward(dh0: Ptr, dc0: Ptr | null, dEnc: Ptr | null = null): void {
    const k = kernels();
    if (this.biEncoder) {
      this.encEmbedding!.backwardPtr(this.biEncoder.backwardPtr(dEnc!, dh0, dc0));
    } else if (this.encoder) {
      const g = this.encoder.backwardPtr(dEnc, dh0, dc0, false, this.srcLengths);
      this.encEmbedding!.backwardPtr(g.dX);
    } else {
      const B = this.lastB;
      // dh0 [L, B, H] -> [B, L*H], through tanh (y = tanh(pre): dpre = dy (1 - y^2)), into the bridge.
      k.swap01_f32(this.w.dpre.ptr, dh0, this.L, B, this.H);
      k.rnn_step_bwd(this.w.dbridge.ptr, this.w.dpre.ptr, this.w.dpre.ptr, B, this.L * this.H, 0);
      this.bridge!.backwardPtr(this.w.dpre.ptr);
    }
  }

  /** Decoder batch under teacher forcing: inputs [bos, y1..y(n)], targets [y1..y(n), eos]. */
  private decoderBatch(targets: ArrayLike<number>[]): Batch {
    const { bosId, eosId, vocabSize } = this.spec.target;
    const ins = targets.map((t, i) => {
      for (let j = 0; j < t.length; j++) {
        if (!Number.isInteger(t[j]) || t[j] < 0 || t[j] >= vocabSize) throw new UnfoldError("E_VOCAB", `target ${i} has token id ${t[j]} outside the target vocabulary [0, ${vocabSize})`);
      }
      return [bosId, ...Array.from(t)];
    });
    const outs = targets.map((t) => [...Array.from(t), eosId]);
    const pi = padBatch(ins, { padId: -1 });
    const po = padBatch(outs, { padId: -1 });
    return { T: pi.T, B: pi.B, ids: pi.ids, targets: po.ids, lengths: pi.lengths };
  }

  /**
   * Loss of a batch (teacher forcing), leaving gradients in place when
   * `train` is set. Returns the mean cross-entropy per target token.
   */
  private lossBatch(sources: ArrayLike<number>[], targets: ArrayLike<number>[], train: boolean, ss: number, rng: Rng): { loss: number; count: number } {
    const b = this.decoderBatch(targets);
    if (ss > 0 && train) {
      // Pass 1: teacher-forced greedy predictions; replace a fraction ss of the inputs (not the begin token).
      this.encode(sources, false);
      const out = this.decoderForward(b, false);
      const V = this.spec.target.vocabSize;
      const logits = heap().f32(out, b.T * b.B * V);
      const ids = b.ids!.slice();
      for (let t = 1; t < b.T; t++) {
        for (let j = 0; j < b.B; j++) {
          if (ids[t * b.B + j] >= 0 && rng.next() < ss) ids[t * b.B + j] = argmax(logits, ((t - 1) * b.B + j) * V, V);
        }
      }
      b.ids = ids;
    }
    this.encode(sources, train);
    if (!this.feeding) this.decoder.checkBatch(b, true); // (input feeding: ids and targets were checked by decoderBatch)
    if (this.attention) {
      this.decoderForward(b, train);
      const r = this.attentionLoss(b);
      if (train) this.attentionBackward();
      return r;
    }
    this.decoder.forwardPtr(b, { training: train, state: "keep" });
    const r = this.decoder.lossAndGrad(b);
    if (train) {
      const { dh0, dc0 } = this.decoder.backwardPtr();
      this.encodeBackward(dh0, dc0);
    }
    return r;
  }

  /**
   * The decoder over a batch from the state {@link encode} set: embedding,
   * recurrent layers, then (with attention) h~ = tanh(W_c [c; h]) and the
   * head. Returns the logits [T*B, V] in WASM memory.
   */
  private decoderForward(b: Batch, training: boolean): Ptr {
    const dec = this.decoder;
    if (!this.attention) return dec.forwardPtr(b, { training, state: "keep" }).out;
    if (this.feeding) {
      this.lastLogits = this.feeding.forwardPtr(b.ids!, b.T, b.B);
      return this.lastLogits;
    }
    const x = dec.embedding!.forwardIds(b.ids!);
    const q = dec.recurrent[0].forwardPtr(x, b.T, b.B, { training, state: "keep" }); // [T, B, H]
    const ht = this.attention.forwardPtr(q, b.T); // [T, B, H]
    this.lastLogits = dec.head.forwardPtr(ht, b.T * b.B);
    return this.lastLogits;
  }

  /** Attention: mean cross-entropy over real targets of the last {@link decoderForward}; leaves dL/dlogits in place. */
  private attentionLoss(b: Batch): { loss: number; count: number } {
    const n = b.T * b.B;
    if (!this.targets || this.targets.get("t").size < n) {
      this.targets?.dispose();
      this.targets = new Arena();
      this.targets.tensor("t", [n], "i32");
      this.targets.commit();
    }
    const t = this.targets.get("t");
    heap().i32(t.ptr, n).set(b.targets!);
    let count = 0;
    for (let i = 0; i < n; i++) if (b.targets![i] >= 0) count++;
    const V = this.spec.target.vocabSize;
    const sum = kernels().softmax_xent(this.lastLogits, t.ptr, n, V, this.lastLogits, 1 / Math.max(count, 1));
    return { loss: count ? sum / count : 0, count };
  }

  /** Attention: backward from the gradient {@link attentionLoss} left: head, attention, decoder, encoder. */
  private attentionBackward(): void {
    const dec = this.decoder;
    if (this.feeding) {
      const g = this.feeding.backwardPtr(this.lastLogits);
      this.encodeBackward(g.dh0, g.dc0, g.dEnc);
      return;
    }
    const dht = dec.head.backwardPtr(this.lastLogits); // dL/dh~ [T*B, H]
    const { dq, dEnc } = this.attention!.backwardPtr(dht);
    const g = dec.recurrent[0].backwardPtr(dq);
    dec.embedding!.backwardPtr(g.dX);
    this.encodeBackward(g.dh0, g.dc0, dEnc);
  }

  /** One free-running decoder step for B rows from the carried state: logits [B, V] (a copy); the state moves on. */
  private decodeStep(ids: Int32Array, B: number): Float32Array {
    const out = this.decoderForward({ T: 1, B, ids }, false);
    const logits = heap().f32(out, B * this.spec.target.vocabSize).slice();
    this.decoder.carryState();
    return logits;
  }

  /**
   * The attention weights of one source: row i is how much output step i
   * (the i-th token written, the end token last) attended to each source
   * token. With `target`, under teacher forcing (rows: target.length + 1);
   * without, for the model's own greedy output.
   * @returns the [target step][source step] matrix.
   */
  attentionWeights(source: ArrayLike<number>, target?: ArrayLike<number>, opts: { maxLength?: number } = {}): number[][] {
    if (!this.attention) throw new UnfoldError("E_STATE", "this model has no attention (create it with attention: 'dot' | 'general' | 'additive')", { name: "attention" });
    const { bosId, eosId } = this.spec.target;
    if (target) this.decoderBatch([target]); // checks the ids
    this.encode([source], false);
    // Step by step (with input feeding a step needs the previous one's h~): the true tokens with a target, else greedy.
    const rows: number[][] = [];
    const steps = target ? target.length + 1 : (opts.maxLength ?? 50);
    let ids = Int32Array.of(bosId);
    for (let t = 0; t < steps; t++) {
      const logits = this.decodeStep(ids, 1);
      rows.push(Array.from(this.attention.weights()));
      const next = target ? (t < target.length ? target[t] : eosId) : argmax(logits);
      if (!target && next === eosId) break;
      ids = Int32Array.of(next);
    }
    this.decoder.resetState();
    return rows;
  }


  /** Train with teacher forcing (and optional scheduled sampling); train/loop.ts's loop. */
  fit(data: Seq2SeqData, opts: Seq2SeqFitOptions = {}): TrainHistory {
    return runFit(this.trainer(), data, opts);
  }

  /** {@link fit} that yields to the event loop (without sleeping) every ~8 ms of work. */
  fitAsync(data: Seq2SeqData, opts: Seq2SeqFitOptions = {}): Promise<TrainHistory> {
    return runFitAsync(this.trainer(), data, opts);
  }

  /**
   * This model as the training loop sees it: batches of example indices
   * (bucketed by target length when shuffling), each a teacher-forced
   * forward / loss / backward through decoder and encoder.
   */
  private trainer(): Trainable<Seq2SeqData, Seq2SeqFitOptions, number[]> {
    let ss = 0;
    let train: Seq2SeqData = { sources: [], targets: [] };
    return {
      trainState: this.trainState,
      regions: () => this.regions(),
      checkFit: (data, opts) => {
        checkTrainOptions(opts);
        v.checkNumber("scheduledSampling", opts.scheduledSampling, { min: 0, max: 1, optional: true });
        this.checkData(data, "data");
        if (opts.validation !== undefined) {
          v.checkObject("validation", opts.validation, "held-out { sources, targets } or { fraction }");
          if ("fraction" in opts.validation) v.checkNumber("validation.fraction", opts.validation.fraction, { min: 0, max: 1, minOpen: true, maxOpen: true });
          else this.checkData(opts.validation, "validation");
        }
        ss = opts.scheduledSampling ?? 0;
        return resolveOptions(opts, this.spec.seed ?? 0);
      },
      splitValidation: (data, opts, rng) => {
        if (opts.validation && "fraction" in opts.validation) {
          const sp = trainValSplit(data.sources.length, opts.validation.fraction, rng);
          const pick = (ix: number[]) => ({ sources: ix.map((i) => data.sources[i]), targets: ix.map((i) => data.targets[i]) });
          return { train: pick(sp.train), val: pick(sp.val) };
        }
        return { train: data, val: (opts.validation as Seq2SeqData | undefined) ?? null };
      },
      batches: (t, o, rng) => {
        train = t;
        return o.shuffle ? bucketBatches(t.targets.map((y) => y.length + 1), o.batchSize, { rng }) : sequentialBatches(t.sources.length, o.batchSize);
      },
      lossAndBackward: (idx, rng) => this.lossBatch(idx.map((i) => train.sources[i]), idx.map((i) => train.targets[i]), true, ss, rng),
      stoppedInside: () => true,
      validationLoss: (val, o) => this.evaluate(val, o.batchSize).loss,
      resetState: () => this.decoder.resetState(),
    };
  }

  /** Mean per-token cross-entropy (teacher forcing) on data. */
  evaluate(data: Seq2SeqData, batchSize = 32): {
    /** Mean cross-entropy per target token (nats). */
    loss: number;
    /** Target tokens averaged over. */
    count: number;
  } {
    this.checkData(data, "data");
    v.checkInt("evaluate: batchSize", batchSize, 1);
    let sum = 0;
    let count = 0;
    const rng = new Rng(0);
    for (const idx of sequentialBatches(data.sources.length, batchSize)) {
      const r = this.lossBatch(idx.map((i) => data.sources[i]), idx.map((i) => data.targets[i]), false, 0, rng);
      sum += r.loss * r.count;
      count += r.count;
    }
    return { loss: sum / count, count };
  }

  /**
   * A streaming session on the decoder, starting from the encoder's final
   * state for `source` (a token sequence, or the vector of a one-to-many
   * model). Feed the begin token first: `s.feed([spec.target.bosId])`, then
   * `s.sample()` or `s.step(id)` token by token; `reset()` returns to the
   * encoder's state. The model itself is left as it was.
   *
   * With attention it is an {@link AttentionSession}: the encoder outputs
   * are computed once, here, and each step also attends over them
   * (`s.attentionWeights()` after a step says where); the same tokens as
   * `generate([source])`, greedy or sampled with the same seed.
   */
  session(source: ArrayLike<number>, opts: SessionOptions = {}): InferenceSession | AttentionSession {
    if (!source || typeof source !== "object" || typeof source.length !== "number" || source.length === 0) {
      throw new UnfoldError("E_SHAPE", "session(source) needs a non-empty source sequence (or vector)", { name: "source", expected: "a non-empty array", received: source });
    }
    if (this.attention) this.checkSources([source], "source");
    const dec = this.decoder.recurrent[0];
    const carried = dec.carriedState();
    this.encode([source], false);
    const st = dec.carriedState()!; // [L, 1, H] h and c, set by encode
    const enc = this.attention ? this.attention.encoderOutputs() : null; // [S, 1, DE]
    if (carried) dec.restoreCarriedState(carried);
    else this.decoder.resetState();
    const { L, H } = this;
    const initial = new Float32Array(2 * L * H); // per layer: h [H], then c [H]
    for (let l = 0; l < L; l++) {
      initial.set(st.h.subarray(l * H, (l + 1) * H), 2 * l * H);
      initial.set(st.c.subarray(l * H, (l + 1) * H), 2 * l * H + H);
    }
    if (this.attention) {
      const emb = (this.decEmbedding ?? this.decoder.embedding!).parameters().get("weight")!;
      const head = this.decoder.head.parameters();
      return new AttentionSession({
        embedding: emb, rnn: dec, attention: this.attention, headWeight: head.get("weight")!, headBias: head.get("bias")!,
        inputFeeding: !!this.feeding, enc: enc!, initial,
      }, opts);
    }
    return new InferenceSession(this.decoder, opts, initial);
  }

  /**
   * Free-running decoding: each output token is fed back as the next input,
   * until the end token or maxLength. Greedy by default; sampling with a
   * temperature > 0; beam search with beamWidth > 1.
   * @returns the output token ids of each source (without begin/end tokens).
   */
  generate(sources: ArrayLike<number>[], o: DecodeOptions = {}): number[][] {
    this.checkSources(sources, "sources", true);
    checkSamplingOptions("generate: options", o);
    v.checkOptionalInt("generate: options.maxLength", o.maxLength, 0);
    v.checkOptionalInt("generate: options.beamWidth", o.beamWidth, 1);
    v.checkNumber("generate: options.lengthPenalty", o.lengthPenalty, { min: 0, optional: true });
    v.checkNumber("generate: options.seed", o.seed, { optional: true });
    if (sources.length === 0) return [];
    if ((o.beamWidth ?? 1) > 1) return sources.map((s) => this.beamSearch(s, o));
    const maxLen = o.maxLength ?? 50;
    const { bosId, eosId, vocabSize: V } = this.spec.target;
    const rng = new Rng(o.seed ?? 0);
    const B = sources.length;
    this.encode(sources, false);
    const outs: number[][] = sources.map(() => []);
    const done = new Array<boolean>(B).fill(false);
    let ids = new Int32Array(B).fill(bosId);
    const greedy = (o.temperature ?? 0) === 0;
    for (let t = 0; t < maxLen && done.includes(false); t++) {
      const logits = this.decodeStep(ids, B);
      ids = new Int32Array(B);
      for (let b = 0; b < B; b++) {
        const row = logits.subarray(b * V, (b + 1) * V);
        const next = greedy ? argmax(row) : sampleToken(row, rng, o);
        ids[b] = next;
        if (done[b]) continue;
        if (next === eosId) done[b] = true;
        else outs[b].push(next);
      }
    }
    this.decoder.resetState();
    return outs;
  }

  /** Beam search for one source: keeps the `beamWidth` best partial outputs by log-probability. */
  private beamSearch(source: ArrayLike<number>, o: DecodeOptions): number[] {
    const W = o.beamWidth!;
    const maxLen = o.maxLength ?? 50;
    const alpha = o.lengthPenalty ?? 0.6;
    const { bosId, eosId, vocabSize: V } = this.spec.target;
    // Encode once per beam slot (same source), so the decoder runs W rows.
    this.encode(Array.from({ length: W }, () => source), false);
    let beams = [{ tokens: [] as number[], score: 0 }];
    const finished: { tokens: number[]; score: number }[] = [];
    const norm = (b: { tokens: number[]; score: number }) => b.score / Math.pow(Math.max(1, b.tokens.length + 1), alpha);
    let ids = new Int32Array(W).fill(bosId);
    const dec = this.decoder.recurrent[0];
    for (let t = 0; t < maxLen && beams.length > 0; t++) {
      const logits = this.decodeStep(ids, W);
      const cand: { parent: number; token: number; score: number }[] = [];
      beams.forEach((b, i) => {
        const lp = logSoftmax(logits.subarray(i * V, (i + 1) * V));
        for (let v = 0; v < V; v++) cand.push({ parent: i, token: v, score: b.score + lp[v] });
      });
      cand.sort((a, b) => b.score - a.score);
      const next: { tokens: number[]; score: number }[] = [];
      const parents: number[] = [];
      for (const c of cand) {
        if (next.length >= W) break;
        const tokens = [...beams[c.parent].tokens, c.token];
        if (c.token === eosId) finished.push({ tokens: tokens.slice(0, -1), score: c.score });
        else {
          next.push({ tokens, score: c.score });
          parents.push(c.parent);
        }
      }
      // Stop when the best finished output beats every live beam.
      const bestDone = finished.length ? Math.max(...finished.map(norm)) : -Infinity;
      beams = next;
      if (beams.length === 0 || (finished.length >= W && bestDone >= Math.max(...beams.map(norm)))) break;
      // Reorder the carried states to follow the surviving beams (unused slots copy beam 0).
      const order = Array.from({ length: W }, (_, i) => parents[i] ?? 0);
      dec.permuteState(order);
      this.feeding?.permuteFeed(order);
      ids = Int32Array.from(order.map((_, i) => (beams[i] ? beams[i].tokens[beams[i].tokens.length - 1] : bosId)));
    }
    this.decoder.resetState();
    const all = finished.length ? finished : beams;
    all.sort((a, b) => norm(b) - norm(a));
    return all[0]?.tokens ?? [];
  }

  /** Sources of this model: token ids in [0, V_source), or finite vectors of the source size. */
  private checkSources(sources: unknown, name: string, allowEmpty = false): asserts sources is ArrayLike<number>[] {
    v.checkSequences(name, sources, allowEmpty);
    const src = this.spec.source;
    sources.forEach((s, i) => {
      if (src.type === "tokens") {
        if (s.length === 0) throw new UnfoldError("E_SHAPE", `${name}[${i}] is empty`, { name: `${name}[${i}]`, expected: "at least one token id", received: 0 });
        v.checkIds(`${name}[${i}]`, s, src.vocabSize);
      } else {
        v.checkLength(`${name}[${i}]`, s, src.size, `[${src.size}]`);
        v.checkFinite(`${name}[${i}]`, s);
      }
    });
  }

  /** Examples `{ sources, targets }`: as many of each, every id inside its vocabulary. */
  private checkData(d: Seq2SeqData, name: string): void {
    v.checkObject(name, d, "{ sources, targets }");
    if (!Array.isArray(d.sources) || !Array.isArray(d.targets)) throw new UnfoldError("E_OPTION", `${name} must be { sources, targets } arrays`, { name, expected: "{ sources: [], targets: [] }", received: d });
    this.checkSources(d.sources, `${name}.sources`);
    if (d.sources.length !== d.targets.length) throw new UnfoldError("E_SHAPE", `${d.sources.length} sources but ${d.targets.length} targets`, { name: `${name}.targets`, expected: `${d.sources.length} targets`, received: d.targets.length });
    v.checkSequences(`${name}.targets`, d.targets);
    d.targets.forEach((t, i) => v.checkIds(`${name}.targets[${i}]`, t, this.spec.target.vocabSize));
  }

  /** The definition, for saving. */
  toJSON(): Seq2SeqSpec {
    return structuredClone(this.spec);
  }

  /** Free the model's WASM memory; the model is unusable afterwards. */
  dispose(): void {
    this.trainState.optimizer?.dispose(); // its moments are WASM memory too
    this.encEmbedding?.dispose();
    this.encoder?.dispose();
    this.biEncoder?.dispose();
    this.attention?.dispose();
    this.feeding?.dispose();
    this.decEmbedding?.dispose();
    this.targets?.dispose();
    this.bridge?.dispose();
    this.decoder.dispose();
    this.work?.dispose();
  }
}

function validate(s: Seq2SeqSpec): void {
  v.checkObject("spec", s, "a Seq2Seq spec { source, target, recurrent }");
  v.checkObject("spec.source", s.source, "{ type: 'tokens', vocabSize, embeddingDim } or { type: 'vector', size }");
  v.checkOneOf("spec.source.type", s.source.type, ["tokens", "vector"] as const);
  if (s.source.type === "tokens") {
    v.checkInt("spec.source.vocabSize", s.source.vocabSize, 1);
    v.checkInt("spec.source.embeddingDim", s.source.embeddingDim, 1);
  } else v.checkInt("spec.source.size", s.source.size, 1);
  v.checkObject("spec.target", s.target, "{ vocabSize, embeddingDim, bosId, eosId }");
  v.checkInt("spec.target.vocabSize", s.target.vocabSize, 2);
  v.checkInt("spec.target.embeddingDim", s.target.embeddingDim, 1);
  v.checkInt("spec.target.bosId", s.target.bosId, 0, s.target.vocabSize - 1);
  v.checkInt("spec.target.eosId", s.target.eosId, 0, s.target.vocabSize - 1);
  if (s.target.bosId === s.target.eosId) {
    throw new UnfoldError("E_OPTION", `spec.target.bosId and eosId are both ${s.target.bosId}; the begin and end tokens must differ`, { name: "spec.target.eosId", expected: `an id other than bosId ${s.target.bosId}`, received: s.target.eosId });
  }
  checkRecurrentSpec("spec.recurrent", s.recurrent);
  v.checkNumber("spec.seed", s.seed, { optional: true });
  if (s.attention !== undefined) {
    if (!["dot", "general", "additive"].includes(s.attention)) {
      throw new UnfoldError("E_OPTION", `attention must be 'dot', 'general' or 'additive', got ${JSON.stringify(s.attention)}`, { name: "spec.attention", expected: "'dot' | 'general' | 'additive'", received: s.attention });
    }
    if (s.source.type !== "tokens") throw new UnfoldError("E_OPTION", "attention needs a token source (a vector source has no steps to attend to)", { name: "spec.attention", expected: "source.type 'tokens'", received: s.source.type });
    if (s.recurrent.bidirectional && (s.recurrent.numLayers ?? 1) > 1 && (s.recurrent.dropout ?? 0) > 0) {
      throw new UnfoldError("E_UNSUPPORTED", "dropout between the layers of a bidirectional encoder is not supported; set recurrent.dropout to 0", { name: "spec.recurrent.dropout", expected: "0", received: s.recurrent.dropout });
    }
    if (s.inputFeeding && (s.recurrent.numLayers ?? 1) > 1 && (s.recurrent.dropout ?? 0) > 0) {
      // Backward re-runs each step's forward, which would draw new dropout masks.
      throw new UnfoldError("E_UNSUPPORTED", "dropout between decoder layers is not supported with input feeding; set recurrent.dropout to 0", { name: "spec.recurrent.dropout", expected: "0", received: s.recurrent.dropout });
    }
  } else if (s.inputFeeding) {
    throw new UnfoldError("E_OPTION", "inputFeeding feeds the attentional state to the next step: it needs attention", { name: "spec.inputFeeding", expected: "attention: 'dot' | 'general' | 'additive'", received: true });
  } else if (s.recurrent.bidirectional) {
    throw new UnfoldError("E_UNSUPPORTED", "seq2seq encoder and decoder are unidirectional (the decoder writes left to right); a bidirectional encoder needs attention", { name: "spec.recurrent.bidirectional" });
  }
}

/**
 * A bidirectional encoder over right-padded sources, for attention: per layer
 * a forward and a reverse unidirectional layer. The reverse one reads each
 * source reversed within its own length (a gather with index
 * (len_b - 1 - s) * B + b), so padding never enters either direction, as
 * PyTorch's packed sequences; its outputs are gathered back. Output
 * [S, B, 2H] (forward, reverse); final states at each source's length.
 * Parameter names are PyTorch's (`weight_ih_l0`, `weight_ih_l0_reverse`, ...).
 */
export class BidirectionalEncoder {
  readonly fwd: Recurrent[] = [];
  readonly rev: Recurrent[] = [];
  readonly hiddenSize: number;
  readonly hasCell: boolean;
  private work: Arena | null = null;
  private cap = 0;
  private w!: { idx: Tensor; out: Tensor[]; revIn: Tensor; tmp: Tensor; dF: Tensor; dR: Tensor; dX: Tensor };
  private last: { S: number; B: number; lengths: Int32Array } | null = null;
  private readonly inputSize: number;

  constructor(r: RecurrentSpec, inputSize: number, seed: number) {
    const L = r.numLayers ?? 1;
    this.hiddenSize = r.hiddenSize;
    this.inputSize = inputSize;
    this.hasCell = r.cell === "lstm";
    for (let l = 0; l < L; l++) {
      const one = { ...r, numLayers: 1, bidirectional: false, dropout: 0 };
      const inSize = l === 0 ? inputSize : 2 * r.hiddenSize;
      this.fwd.push(makeRecurrent(one, inSize, seed + 2 * l));
      this.rev.push(makeRecurrent(one, inSize, seed + 2 * l + 1));
    }
  }

  /** Parameters under PyTorch's names for a bidirectional nn.LSTM / GRU / RNN. */
  parameters(): Map<string, Tensor> {
    return this.named((u) => u.parameters());
  }

  /** Gradients, same names. */
  gradients(): Map<string, Tensor> {
    return this.named((u) => u.gradients());
  }

  private named(get: (u: Recurrent) => ReadonlyMap<string, Tensor>): Map<string, Tensor> {
    const m = new Map<string, Tensor>();
    this.fwd.forEach((u, l) => {
      for (const [n, t] of get(u)) m.set(n.replace(/_l0$/, `_l${l}`), t);
      for (const [n, t] of get(this.rev[l])) m.set(n.replace(/_l0$/, `_l${l}_reverse`), t);
    });
    return m;
  }

  regions(): ParamRegion[] {
    return this.fwd.flatMap((u, l) => [u.arenas(), this.rev[l].arenas()]);
  }

  private ensure(SB: number): void {
    if (this.work && SB <= this.cap) return;
    this.work?.dispose();
    const a = new Arena();
    const H = this.hiddenSize;
    const F = Math.max(this.inputSize, 2 * H);
    this.w = {
      idx: a.tensor("idx", [SB], "i32"), // reversal index within each source's length (-1: padding)
      out: this.fwd.map((_, l) => a.tensor(`out${l}`, [SB, 2 * H])), // layer l's output [S, B, 2H]
      revIn: a.tensor("revIn", [SB, F]),
      tmp: a.tensor("tmp", [SB, H]),
      dF: a.tensor("dF", [SB, H]),
      dR: a.tensor("dR", [SB, H]),
      dX: a.tensor("dX", [SB, F]),
    };
    this.work = a.commit();
    this.cap = SB;
  }

  /** Encode x [S, B, I] (time-major, right-padded; lengths [B]). Returns the top layer's output [S, B, 2H]. */
  forwardPtr(x: Ptr, S: number, B: number, lengths: Int32Array, training: boolean): Ptr {
    const SB = S * B;
    this.ensure(SB);
    const k = kernels();
    const H = this.hiddenSize;
    const idx = heap().i32(this.w.idx.ptr, SB);
    for (let s = 0; s < S; s++) for (let b = 0; b < B; b++) idx[s * B + b] = s < lengths[b] ? (lengths[b] - 1 - s) * B + b : -1;
    let X = x;
    let inSize = this.inputSize;
    for (let l = 0; l < this.fwd.length; l++) {
      const out = this.w.out[l].ptr;
      const f = this.fwd[l].forwardPtr(X, S, B, { training });
      k.copy2d_f32(out, 2 * H, f, H, SB, H);
      k.gather_rows(this.w.revIn.ptr, X, this.w.idx.ptr, SB, inSize);
      const r = this.rev[l].forwardPtr(this.w.revIn.ptr, S, B, { training });
      k.gather_rows(this.w.tmp.ptr, r, this.w.idx.ptr, SB, H);
      k.copy2d_f32(out + H * 4, 2 * H, this.w.tmp.ptr, H, SB, H);
      X = out;
      inSize = 2 * H;
    }
    this.last = { S, B, lengths: lengths.slice() };
    return X;
  }

  /** h0, c0 [L, B, H] = the forward plus the reverse direction's final state of each layer. */
  finalStateSum(h0: Ptr, c0: Ptr): void {
    const { B, lengths } = this.last!;
    const k = kernels();
    const BH = B * this.hiddenSize;
    this.fwd.forEach((u, l) => {
      const f = u.finalStatePtr(lengths);
      k.copy2d_f32(h0 + l * BH * 4, BH, f.hN, BH, 1, BH);
      if (f.cN !== null) k.copy2d_f32(c0 + l * BH * 4, BH, f.cN, BH, 1, BH);
      const r = this.rev[l].finalStatePtr(lengths);
      k.axpy_f32(h0 + l * BH * 4, r.hN, BH, 1);
      if (r.cN !== null) k.axpy_f32(c0 + l * BH * 4, r.cN, BH, 1);
    });
  }

  /**
   * Backward from dOut [S, B, 2H] and the gradients of the summed final
   * states dh0, dc0 [L, B, H]. Returns dL/dx [S, B, I].
   */
  backwardPtr(dOut: Ptr, dh0: Ptr, dc0: Ptr | null): Ptr {
    const { S, B, lengths } = this.last!;
    const SB = S * B;
    const k = kernels();
    const H = this.hiddenSize;
    const BH4 = B * H * 4;
    let dY = dOut;
    for (let l = this.fwd.length - 1; l >= 0; l--) {
      const inSize = l === 0 ? this.inputSize : 2 * H;
      k.copy2d_f32(this.w.dF.ptr, H, dY, 2 * H, SB, H);
      k.copy2d_f32(this.w.tmp.ptr, H, dY + H * 4, 2 * H, SB, H);
      k.gather_rows(this.w.dR.ptr, this.w.tmp.ptr, this.w.idx.ptr, SB, H); // into the reverse layer's own order
      const dhl = dh0 + l * BH4;
      const dcl = dc0 === null ? null : dc0 + l * BH4;
      const gr = this.rev[l].backwardPtr(this.w.dR.ptr, dhl, dcl, false, lengths);
      k.gather_rows(this.w.dX.ptr, gr.dX, this.w.idx.ptr, SB, inSize); // back to source order
      const gf = this.fwd[l].backwardPtr(this.w.dF.ptr, dhl, dcl, false, lengths);
      k.axpy_f32(this.w.dX.ptr, gf.dX, SB * inSize, 1);
      dY = this.w.dX.ptr;
      if (l > 0) {
        // dX is the next (lower) layer's dOut; move it out of the way of its gathers.
        k.copy2d_f32(this.w.revIn.ptr, 2 * H, dY, 2 * H, SB, 2 * H);
        dY = this.w.revIn.ptr;
      }
    }
    return dY;
  }

  dispose(): void {
    for (const u of [...this.fwd, ...this.rev]) u.dispose();
    this.work?.dispose();
  }
}
