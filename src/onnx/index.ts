/**
 * ONNX export: hand a model trained here to ONNX Runtime (or any ONNX engine)
 * for serving. Import from "unfold-rnn/onnx", so the core bundle stays small.
 *
 * The graphs use the standard recurrent operators, time-major like the
 * engine (ONNX Runtime supports only `layout = 0`):
 *
 *  - `LSTM`: ONNX orders the gates i, o, f, c; ours (PyTorch's) i, f, g, o.
 *  - `GRU`: ONNX z, r, h; ours r, z, n; `linear_before_reset = 1` is
 *    PyTorch's (and our) candidate n = tanh(x W_in^T + b_in + r ⊙ (h W_hn^T + b_hn)).
 *  - `RNN`: activation Tanh or Relu.
 *  - Biases: ONNX's B is [W_b, R_b] concatenated per direction = [b_ih, b_hh].
 *  - One operator per layer; a bidirectional layer's output Y [T, 2, B, H]
 *    becomes [T, B, 2H] (forward half first, as ours) for the next one.
 *  - `sequence_lens` (the graph input `lengths`) stops each sequence at its
 *    real length: outputs past it are zero and the final states are those of
 *    its last real step. Many-to-one reads each sequence's step lengths[b]-1
 *    (with `readout: "final-states"` and a bidirectional top block, the
 *    reverse half at step 0: Slice, Gather, Concat).
 *
 * Legend: T = steps, B = batch, F = features, V = vocabulary, H = hidden
 * size, D = directions, L = layers, O = outputs.
 */
import { UnfoldError } from "../errors.js";
import type { Sequential, SequentialSpec } from "../model/sequential.js";
import type { Seq2Seq, Seq2SeqSpec } from "../model/seq2seq.js";
import type { Tensor } from "../runtime/arena.js";
import { DT, GraphBuilder } from "./graph.js";
import { attentionBlock } from "./attention.js";
import { regroupGates, transpose } from "../util/layout.js";

export { IR_VERSION, OPSET } from "./graph.js";

/** Options of {@link toONNX}. */
export interface ONNXOptions {
  /**
   * Append a softmax to a classifier's head: the output is `probabilities`
   * instead of `logits`. Only for `loss: "xent"`. Default false.
   */
  softmax?: boolean;
  /**
   * Sequential: add initial-state inputs and final-state outputs (`h0`, `c0`
   * → `hN`, `cN`, each [L, B, H]), so a caller can carry the hidden state from
   * one call to the next (streaming, generation). Unidirectional layers only.
   * With `lengths`, `hN` is each sequence's state after its last real step.
   * Default false (every sequence starts from zeros). A Seq2Seq decoder
   * always has them.
   */
  states?: boolean;
  /**
   * Sequential: include the `lengths` input [B] (int32: each sequence's real
   * length, for padded batches). Default true; false means every sequence is
   * T steps long.
   */
  lengths?: boolean;
}

/** The two graphs of a {@link Seq2Seq}: run the encoder once, then loop the decoder one step at a time. */
export interface Seq2SeqONNX {
  /** `source` → `hN` (and `cN` for LSTM), [L, B, H]: the decoder's initial state (with attention also `encoder_outputs` [S, B, D*H]). */
  encoder: Uint8Array;
  /**
   * `tokens` [T, B], `h0` (`c0`) → `logits` (or `probabilities`) [T, B, V], `hN` (`cN`). T = 1 for one step.
   * With attention also `encoder_outputs`, `source_lengths` → `attention_weights` [T, B, S];
   * with input feeding `h_tilde0` [B, H] → `h_tildeN` (T = 1).
   */
  decoder: Uint8Array;
}

const PRODUCER = "unfold-rnn";
const VERSION = "0.1.0";

/**
 * Export a model as ONNX.
 *
 * Sequential graph — inputs: `tokens` [T, B] int64 (token model) or
 * `features` [T, B, F] float32; `lengths` [B] int32 (unless `lengths: false`);
 * with `states: true` also `h0` [L*D, B, H] (and `c0` for LSTM) per recurrent
 * block (named `rnn{k}.h0` when the model has several blocks). Outputs:
 * `logits` / `probabilities` / `predictions` (mse) — [T, B, O] many-to-many,
 * [B, O] many-to-one — and with `states: true`, `hN` (`cN`).
 *
 * Seq2Seq: an encoder graph (`source` [S, B] int64 + `source_lengths` [B]
 * int32, or `source` [B, F] float32 for a vector source → `hN`, `cN`) and a
 * decoder-step graph (`tokens` [T, B] int64, `h0`, `c0` → `logits`, `hN`,
 * `cN`) that a caller loops, feeding back each chosen token and state.
 * With attention the encoder also returns `encoder_outputs` [S, B, D*H], and
 * the decoder step takes them with `source_lengths` and returns
 * `attention_weights` [T, B, S]; with input feeding it also takes the last
 * step's attentional state `h_tilde0` [B, H] (zeros at the start) and returns
 * `h_tildeN` (then T = 1). Scores, the softmax masked by source length
 * (Less + Where), the context and tanh(W_c [c; h]) are standard operators
 * (src/onnx/attention.ts).
 *
 * Padding: with `lengths`, outputs past a sequence's length are zero, and a
 * bidirectional layer's reverse direction starts at each sequence's last real
 * step (as PyTorch's packed sequences do, and unfold-rnn's own forward):
 * every sequence gives what it gives alone, at every real step.
 *
 * Dropout is identity at inference and is left out. Throws UnfoldError
 * E_UNSUPPORTED naming the option for anything the standard operators cannot
 * express.
 */
export function toONNX(model: Sequential, opts?: ONNXOptions): Uint8Array;
export function toONNX(model: Seq2Seq, opts?: Pick<ONNXOptions, "softmax">): Seq2SeqONNX;
export function toONNX(model: Sequential | Seq2Seq, opts: ONNXOptions = {}): Uint8Array | Seq2SeqONNX {
  checkOptions(opts);
  // Told apart by their specs, not instanceof: this entry imports no model code, only reads the model.
  const m = model as { parameters?: unknown; toJSON?: unknown; spec?: { input?: unknown; source?: unknown } } | null;
  const isModel = !!m && typeof m.parameters === "function" && typeof m.toJSON === "function" && !!m.spec;
  if (isModel && m.spec!.input) return sequentialGraph(model as Sequential, opts);
  if (isModel && m.spec!.source) {
    if (opts.states !== undefined || opts.lengths !== undefined) {
      const name = opts.states !== undefined ? "states" : "lengths";
      throw new UnfoldError("E_OPTION", `toONNX: option '${name}' is for Sequential models; a Seq2Seq decoder graph always takes and returns its states`, { name: `options.${name}` });
    }
    return seq2seqGraphs(model as Seq2Seq, opts);
  }
  throw new UnfoldError("E_UNSUPPORTED", "toONNX exports a Sequential or a Seq2Seq model", { name: "model", expected: "a Sequential or Seq2Seq", received: model });
}

function checkOptions(opts: ONNXOptions): void {
  if (!opts || typeof opts !== "object") throw new UnfoldError("E_OPTION", "toONNX options must be an object", { name: "options", received: opts });
  for (const [k, v] of Object.entries(opts)) {
    if (!["softmax", "states", "lengths"].includes(k)) throw new UnfoldError("E_OPTION", `toONNX: unknown option '${k}' (softmax, states, lengths)`, { name: `options.${k}`, received: v });
    if (v !== undefined && typeof v !== "boolean") throw new UnfoldError("E_OPTION", `toONNX: option '${k}' must be true or false`, { name: `options.${k}`, expected: "a boolean", received: v });
  }
}

// ---- what the standard operators can express ----------------------------------------

const KNOWN = {
  sequential: ["input", "recurrent", "output", "mode", "readout", "seed"],
  seq2seq: ["source", "target", "recurrent", "attention", "inputFeeding", "seed"],
  recurrent: ["cell", "hiddenSize", "numLayers", "bidirectional", "dropout", "forgetBias", "gateActivation", "resetAfter"],
  input: ["type", "vocabSize", "embeddingDim", "size"],
  output: ["size", "loss"],
  target: ["vocabSize", "embeddingDim", "bosId", "eosId"],
};

/** Any spec field this exporter does not know (a newer model feature) is refused by name. */
function checkKnown(obj: object, known: string[], path: string): void {
  for (const [k, v] of Object.entries(obj)) {
    if (v !== undefined && !known.includes(k)) {
      throw new UnfoldError("E_UNSUPPORTED", `toONNX cannot export '${path}.${k}': the standard ONNX operators have no equivalent (known fields: ${known.join(", ")})`, { name: `${path}.${k}`, received: v });
    }
  }
}

const OPS = { lstm: "LSTM", gru: "GRU", rnn: "RNN", rnn_relu: "RNN" } as const;

function checkRecurrent(r: SequentialSpec["recurrent"][number], path: string): void {
  checkKnown(r, KNOWN.recurrent, path);
  if (!(r.cell in OPS)) throw new UnfoldError("E_UNSUPPORTED", `toONNX cannot export cell '${r.cell}' (lstm, gru, rnn, rnn_relu)`, { name: `${path}.cell`, received: r.cell });
}

// ---- building blocks ------------------------------------------------------------------

/** Gate blocks of ours in ONNX order: LSTM i,f,g,o -> i,o,f,c; GRU r,z,n -> z,r,h. */
const GATE_ORDER: Record<keyof typeof OPS, number[]> = { lstm: [0, 3, 1, 2], gru: [1, 0, 2], rnn: [0], rnn_relu: [0] };


type Params = (name: string) => Tensor;

function paramsOf(map: Map<string, Tensor>, prefix: string): Params {
  return (name) => {
    const t = map.get(prefix + name);
    if (!t) throw new UnfoldError("E_STATE", `toONNX: the model has no parameter '${prefix + name}'`, { name: prefix + name });
    return t;
  };
}

/**
 * One recurrent block (L layers, D directions) on x [T, B, I]. Returns the top
 * output [T, B, D*H] and the final states [L*D, B, H] of every layer.
 */
function recurrentBlock(
  g: GraphBuilder, x: string, r: SequentialSpec["recurrent"][number], p: Params, tag: string,
  lengths: string, init: { h: string; c: string } | null,
): { y: string; hN: string; cN: string | null } {
  const L = r.numLayers ?? 1;
  const D = r.bidirectional ? 2 : 1;
  const H = r.hiddenSize;
  const order = GATE_ORDER[r.cell];
  const G = order.length;
  const hs: string[] = [];
  const cs: string[] = [];
  for (let l = 0; l < L; l++) {
    const sfx = (d: number) => `_l${l}${d === 1 ? "_reverse" : ""}`;
    const inSize = p(`weight_ih${sfx(0)}`).shape[1];
    const W = new Float32Array(D * G * H * inSize);
    const R = new Float32Array(D * G * H * H);
    const Bias = new Float32Array(D * 2 * G * H);
    for (let d = 0; d < D; d++) {
      W.set(regroupGates(p(`weight_ih${sfx(d)}`).toArray(), H, inSize, order), d * G * H * inSize);
      R.set(regroupGates(p(`weight_hh${sfx(d)}`).toArray(), H, H, order), d * G * H * H);
      Bias.set(regroupGates(p(`bias_ih${sfx(d)}`).toArray(), H, 1, order), d * 2 * G * H);
      Bias.set(regroupGates(p(`bias_hh${sfx(d)}`).toArray(), H, 1, order), d * 2 * G * H + G * H);
    }
    const ins = [
      x,
      g.floats(`${tag}.W_l${l}`, [D, G * H, inSize], W),
      g.floats(`${tag}.R_l${l}`, [D, G * H, H], R),
      g.floats(`${tag}.B_l${l}`, [D, 2 * G * H], Bias),
      lengths,
    ];
    if (init) {
      // This layer's slice [l*D, (l+1)*D) of the block's [L*D, B, H] state.
      const slice = (s: string) =>
        L === 1 ? s : g.op("Slice", [s, g.int64s("start", [l * D]), g.int64s("end", [(l + 1) * D]), g.int64s("axis0", [0])]);
      ins.push(slice(init.h));
      if (r.cell === "lstm") ins.push(slice(init.c));
    }
    const attrs: Record<string, number | string | { strings: string[] } | { floats: number[] }> = { hidden_size: H, direction: D === 2 ? "bidirectional" : "forward" };
    if (r.cell === "gru") attrs.linear_before_reset = r.resetAfter === false ? 0 : 1;
    if (r.cell === "rnn" || r.cell === "rnn_relu") attrs.activations = { strings: Array(D).fill(r.cell === "rnn" ? "Tanh" : "Relu") };
    if (r.gateActivation === "hard_sigmoid") {
      // ONNX's (f, g[, h]) per direction; HardSigmoid takes alpha 0.2, beta 0.5 (Keras's), one pair per HardSigmoid.
      const per = r.cell === "lstm" ? ["HardSigmoid", "Tanh", "Tanh"] : ["HardSigmoid", "Tanh"];
      attrs.activations = { strings: Array.from({ length: D }, () => per).flat() };
      attrs.activation_alpha = { floats: Array(D).fill(0.2) };
      attrs.activation_beta = { floats: Array(D).fill(0.5) };
    }
    const nOut = r.cell === "lstm" ? 3 : 2;
    const outs = g.node(OPS[r.cell], ins, [`${tag}.Y_l${l}`, `${tag}.Y_h_l${l}`, `${tag}.Y_c_l${l}`].slice(0, nOut), attrs);
    hs.push(outs[1]);
    if (r.cell === "lstm") cs.push(outs[2]);
    // Y [T, D, B, H] -> [T, B, D, H] -> [T, B, D*H].
    const yt = g.op("Transpose", [outs[0]], { perm: { ints: [0, 2, 1, 3] } });
    x = g.op("Reshape", [yt, g.int64s("shape_T_B_DH", [0, 0, -1])], {}, `${tag}.out_l${l}`);
  }
  const cat = (list: string[]) => (list.length === 1 ? list[0] : g.op("Concat", list, { axis: 0 }));
  return { y: x, hN: cat(hs), cN: r.cell === "lstm" ? cat(cs) : null };
}

/** The Dense head on x [..., In]: x W^T + b, as MatMul with W^T [In, O] and Add. */
function dense(g: GraphBuilder, x: string, p: Params, tag: string): string {
  const w = p("weight");
  const [O, In] = w.shape;
  const wt = g.floats(`${tag}.weight_T`, [In, O], transpose(w.toArray(), O, In));
  const b = g.floats(`${tag}.bias`, [O], p("bias").toArray());
  return g.op("Add", [g.op("MatMul", [x, wt]), b]);
}

// ---- Sequential -----------------------------------------------------------------------

interface SeqNames {
  tokens: string;
  features: string;
  lengths: string;
  h0: (k: number) => string;
  c0: (k: number) => string;
  hN: (k: number) => string;
  cN: (k: number) => string;
}

function defaultNames(blocks: number): SeqNames {
  const st = (s: string) => (k: number) => (blocks === 1 ? s : `rnn${k}.${s}`);
  return { tokens: "tokens", features: "features", lengths: "lengths", h0: st("h0"), c0: st("c0"), hN: st("hN"), cN: st("cN") };
}

function checkSequentialSpec(s: SequentialSpec, path: string): void {
  checkKnown(s, KNOWN.sequential, path);
  checkKnown(s.input, KNOWN.input, `${path}.input`);
  checkKnown(s.output, KNOWN.output, `${path}.output`);
  s.recurrent.forEach((r, i) => checkRecurrent(r, `${path}.recurrent[${i}]`));
}

/** Fill `g` with a Sequential's graph; `p` reads its parameters. */
function buildSequential(g: GraphBuilder, spec: SequentialSpec, p: Params, opts: ONNXOptions, names: SeqNames): void {
  const many = spec.mode === "many-to-many";
  if (opts.softmax && spec.output.loss !== "xent") {
    throw new UnfoldError("E_OPTION", "toONNX: softmax is for classifiers (loss 'xent'); this model's output is a regression (mse)", { name: "options.softmax", received: true });
  }
  for (const [k, r] of spec.recurrent.entries()) {
    if (opts.states && r.bidirectional) {
      throw new UnfoldError("E_UNSUPPORTED", `toONNX: states: true needs unidirectional layers; recurrent[${k}].bidirectional is true (a reverse direction cannot carry a state from one call to the next)`, { name: `recurrent[${k}].bidirectional` });
    }
  }
  let x: string;
  if (spec.input.type === "tokens") {
    const ids = g.input(names.tokens, DT.INT64, ["T", "B"]);
    const emb = p("embedding.weight");
    x = g.op("Gather", [g.floats("embedding.weight", [...emb.shape], emb.toArray()), ids], { axis: 0 }, "embedded"); // [T, B, E]
  } else {
    x = g.input(names.features, DT.FLOAT, ["T", "B", spec.input.size]);
  }
  const lengths = opts.lengths === false ? "" : g.input(names.lengths, DT.INT32, ["B"]);
  const finals: { k: number; hN: string; cN: string | null; shape: (string | number)[] }[] = [];
  spec.recurrent.forEach((r, k) => {
    const LD = (r.numLayers ?? 1) * (r.bidirectional ? 2 : 1);
    const shape = [LD, "B", r.hiddenSize];
    const init = opts.states ? { h: g.input(names.h0(k), DT.FLOAT, shape), c: r.cell === "lstm" ? g.input(names.c0(k), DT.FLOAT, shape) : "" } : null;
    const out = recurrentBlock(g, x, r, (n) => p(`rnn${k}.${n}`), `rnn${k}`, lengths, init);
    x = out.y;
    finals.push({ k, hN: out.hN, cN: out.cN, shape });
  });
  if (!many) {
    // Many-to-one: each sequence's last real step, [B, D*H].
    const topOut = x; // [T, B, D*H]
    if (lengths) {
      const xb = g.op("Transpose", [x], { perm: { ints: [1, 0, 2] } }); // [B, T, D*H]
      const last = g.op("Sub", [g.op("Cast", [lengths], { to: DT.INT64 }), g.int64s("one", [1], [])]);
      const idx = g.op("Unsqueeze", [last, g.int64s("axis1", [1])]); // [B, 1]
      x = g.op("GatherND", [xb, idx], { batch_dims: 1 }, "last_step");
    } else {
      x = g.op("Gather", [x, g.int64s("minus_one", [-1], [])], { axis: 0 }, "last_step");
    }
    const top = spec.recurrent[spec.recurrent.length - 1];
    if (spec.readout === "final-states" && top.bidirectional) {
      // Each direction's final state: the forward half at the last real step, the
      // reverse half at step 0 (where the reverse direction ends), [B, 2H].
      const H = top.hiddenSize;
      const cols = (from: number, to: number) => [g.int64s("cols_from", [from]), g.int64s("cols_to", [to]), g.int64s("cols_axis", [-1])];
      const fwd = g.op("Slice", [x, ...cols(0, H)], {}, "forward_final"); // [B, H]
      const first = g.op("Gather", [topOut, g.int64s("zero", [0], [])], { axis: 0 }); // [B, 2H], step 0
      const rev = g.op("Slice", [first, ...cols(H, 2 * H)], {}, "reverse_final"); // [B, H]
      x = g.op("Concat", [fwd, rev], { axis: -1 }, "final_states");
    }
  }
  let y = dense(g, x, (n) => p(`head.${n}`), "head");
  const O = spec.output.size;
  const outName = spec.output.loss === "mse" ? "predictions" : opts.softmax ? "probabilities" : "logits";
  if (opts.softmax) y = g.op("Softmax", [y], { axis: -1 });
  g.output(y, outName, DT.FLOAT, many ? ["T", "B", O] : ["B", O]);
  if (opts.states) {
    for (const f of finals) {
      g.output(f.hN, names.hN(f.k), DT.FLOAT, f.shape);
      if (f.cN) g.output(f.cN, names.cN(f.k), DT.FLOAT, f.shape);
    }
  }
}

function sequentialGraph(model: Sequential, opts: ONNXOptions): Uint8Array {
  const spec = model.toJSON();
  checkSequentialSpec(spec, "spec");
  const g = new GraphBuilder("unfold_sequential");
  buildSequential(g, spec, paramsOf(model.parameters(), ""), opts, defaultNames(spec.recurrent.length));
  return g.toModel({ producer: PRODUCER, version: VERSION, doc: `unfold-rnn Sequential (${spec.mode}), time-major`, props: { "unfold.kind": "Sequential", "unfold.spec": JSON.stringify(spec) } });
}

// ---- Seq2Seq --------------------------------------------------------------------------

function seq2seqGraphs(model: Seq2Seq, opts: ONNXOptions): Seq2SeqONNX {
  const spec: Seq2SeqSpec = model.toJSON();
  checkKnown(spec, KNOWN.seq2seq, "spec");
  checkKnown(spec.source, KNOWN.input, "spec.source");
  checkKnown(spec.target, KNOWN.target, "spec.target");
  checkRecurrent(spec.recurrent, "spec.recurrent");
  const all = model.parameters();
  if (spec.attention) return attentionGraphs(spec, all, opts);
  const r = { ...spec.recurrent, bidirectional: false };
  const L = r.numLayers ?? 1;
  const H = r.hiddenSize;
  const lstm = r.cell === "lstm";
  const props = { "unfold.kind": "Seq2Seq", "unfold.spec": JSON.stringify(spec) };

  // Encoder: source -> the decoder's initial state [L, B, H].
  const e = new GraphBuilder("unfold_seq2seq_encoder");
  let hN: string;
  let cN: string | null = null;
  if (spec.source.type === "tokens") {
    const src = e.input("source", DT.INT64, ["S", "B"]);
    const lengths = e.input("source_lengths", DT.INT32, ["B"]);
    const emb = all.get("encoder.embedding.weight")!;
    const x = e.op("Gather", [e.floats("encoder.embedding.weight", [...emb.shape], emb.toArray()), src], { axis: 0 }, "embedded");
    const out = recurrentBlock(e, x, r, paramsOf(all, "encoder.rnn."), "encoder", lengths, null);
    hN = out.hN;
    cN = out.cN;
  } else {
    // h0 = tanh(v W^T + b) [B, L*H] -> [B, L, H] -> [L, B, H]; c0 = 0.
    const src = e.input("source", DT.FLOAT, ["B", spec.source.size]);
    const pre = dense(e, src, paramsOf(all, "bridge."), "bridge");
    const h = e.op("Reshape", [e.op("Tanh", [pre]), e.int64s("shape_BLH", [0, L, H])]);
    hN = e.op("Transpose", [h], { perm: { ints: [1, 0, 2] } });
    if (lstm) cN = e.op("ConstantOfShape", [e.op("Shape", [hN])]);
  }
  e.output(hN, "hN", DT.FLOAT, [L, "B", H]);
  if (cN) e.output(cN, "cN", DT.FLOAT, [L, "B", H]);

  // Decoder step: the decoder Sequential with its state in and out.
  const d = new GraphBuilder("unfold_seq2seq_decoder");
  const decSpec = model.decoder.toJSON();
  buildSequential(d, decSpec, paramsOf(all, "decoder."), { softmax: opts.softmax, states: true, lengths: false }, defaultNames(1));
  return {
    encoder: e.toModel({ producer: PRODUCER, version: VERSION, doc: "unfold-rnn Seq2Seq encoder: source -> decoder initial state", props }),
    decoder: d.toModel({ producer: PRODUCER, version: VERSION, doc: "unfold-rnn Seq2Seq decoder: tokens [T, B] and state -> logits and next state", props }),
  };
}

/**
 * An attention Seq2Seq. Encoder: `source` [S, B] int64, `source_lengths` [B]
 * int32 → `hN` (`cN`) [L, B, H] (a bidirectional encoder: the two
 * directions' final states summed per layer, as {@link Seq2Seq} does) and
 * `encoder_outputs` [S, B, D*H] (zero past each source's length). Decoder
 * step: `tokens` [T, B] int64, `h0` (`c0`), `encoder_outputs`,
 * `source_lengths` (and with input feeding `h_tilde0` [B, H], the previous
 * step's attentional state, zeros at the start; then T = 1) → `logits` (or
 * `probabilities`) [T, B, V], `hN` (`cN`), `attention_weights` [T, B, S]
 * (and `h_tildeN`).
 */
function attentionGraphs(spec: Seq2SeqSpec, all: Map<string, Tensor>, opts: ONNXOptions): Seq2SeqONNX {
  const r = spec.recurrent;
  const L = r.numLayers ?? 1;
  const H = r.hiddenSize;
  const D = r.bidirectional ? 2 : 1;
  const lstm = r.cell === "lstm";
  const feeding = !!spec.inputFeeding;
  const V = spec.target.vocabSize;
  const props = { "unfold.kind": "Seq2Seq", "unfold.spec": JSON.stringify(spec) };

  // Encoder: the outputs for attention, and the decoder's initial state.
  const e = new GraphBuilder("unfold_seq2seq_attention_encoder");
  const src = e.input("source", DT.INT64, ["S", "B"]);
  const lengths = e.input("source_lengths", DT.INT32, ["B"]);
  const emb = all.get("encoder.embedding.weight")!;
  const x = e.op("Gather", [e.floats("encoder.embedding.weight", [...emb.shape], emb.toArray()), src], { axis: 0 }, "embedded");
  const out = recurrentBlock(e, x, r, paramsOf(all, "encoder.rnn."), "encoder", lengths, null);
  // Bidirectional: [L*2, B, H] (forward, reverse per layer) -> [L, 2, B, H] -> sum over the directions.
  const sumDirs = (st: string) => (D === 1 ? st : e.op("ReduceSum", [e.op("Reshape", [st, e.int64s("shape_L2BH", [L, 2, -1, H])]), e.int64s("axis1", [1])], { keepdims: 0 }));
  e.output(sumDirs(out.hN), "hN", DT.FLOAT, [L, "B", H]);
  if (lstm) e.output(sumDirs(out.cN!), "cN", DT.FLOAT, [L, "B", H]);
  e.output(out.y, "encoder_outputs", DT.FLOAT, ["S", "B", D * H]);

  // Decoder step: embedding (+ h~ of the last step), the recurrent layers from h0, attention, the head on h~.
  const d = new GraphBuilder("unfold_seq2seq_attention_decoder");
  const tokens = d.input("tokens", DT.INT64, [feeding ? 1 : "T", "B"]);
  const h0 = d.input("h0", DT.FLOAT, [L, "B", H]);
  const c0 = lstm ? d.input("c0", DT.FLOAT, [L, "B", H]) : "";
  const enc = d.input("encoder_outputs", DT.FLOAT, ["S", "B", D * H]);
  const srcLen = d.input("source_lengths", DT.INT32, ["B"]);
  const dembW = all.get("decoder.embedding.weight")!;
  let xd = d.op("Gather", [d.floats("decoder.embedding.weight", [...dembW.shape], dembW.toArray()), tokens], { axis: 0 }, "embedded"); // [T, B, E]
  if (feeding) {
    const prev = d.input("h_tilde0", DT.FLOAT, ["B", H]);
    xd = d.op("Concat", [xd, d.op("Unsqueeze", [prev, d.int64s("axis0", [0])])], { axis: 2 }, "fed_input"); // [1, B, E + H]
  }
  const dec = recurrentBlock(d, xd, { ...r, bidirectional: false }, paramsOf(all, "decoder.rnn0."), "decoder", "", { h: h0, c: c0 });
  const att = attentionBlock(d, dec.y, enc, srcLen, spec.attention!, paramsOf(all, "attention."));
  let y = dense(d, att.ht, paramsOf(all, "decoder.head."), "head");
  if (opts.softmax) y = d.op("Softmax", [y], { axis: -1 });
  d.output(y, opts.softmax ? "probabilities" : "logits", DT.FLOAT, [feeding ? 1 : "T", "B", V]);
  d.output(dec.hN, "hN", DT.FLOAT, [L, "B", H]);
  if (lstm) d.output(dec.cN!, "cN", DT.FLOAT, [L, "B", H]);
  d.output(att.alpha, "attention_weights", DT.FLOAT, [feeding ? 1 : "T", "B", "S"]);
  if (feeding) d.output(d.op("Squeeze", [att.ht, d.int64s("axis0", [0])]), "h_tildeN", DT.FLOAT, ["B", H]);
  const kind = `${spec.attention} attention${feeding ? ", input feeding" : ""}`;
  return {
    encoder: e.toModel({ producer: PRODUCER, version: VERSION, doc: `unfold-rnn Seq2Seq encoder (${kind}): source, source_lengths -> decoder initial state, encoder outputs`, props }),
    decoder: d.toModel({ producer: PRODUCER, version: VERSION, doc: `unfold-rnn Seq2Seq decoder step (${kind}): tokens, state, encoder outputs -> logits, next state, attention weights`, props }),
  };
}
export { fromONNX, type FromONNXOptions, type ONNXImport, type ONNXImportDescription } from "./import.js";
export { fromONNXSeq2Seq, type FromONNXPairOptions, type ONNXSeq2SeqImport } from "./import-seq2seq.js";
