/**
 * ONNX import: `fromONNX(bytes)` turns the graph a recurrent model is
 * exported as (by torch.onnx.export, tf2onnx, or toONNX here) into a
 * {@link Sequential} that runs, and trains, in unfold-rnn.
 *
 * It reads the graph as a small symbolic interpreter: every value gets a
 * kind (the model input, a sequence [T, B, F], an RNN operator's Y or Y_h,
 * the last step [B, F], the head's output, shape arithmetic, zeros, a
 * constant), and every node must turn the kinds of its inputs into a kind the
 * next node accepts. What is recognised:
 *
 *   input      token ids -> Gather(embedding)   or float features [T, B, F]
 *              (either can be batch-first: a Transpose perm [1, 0, 2] before the first RNN)
 *   recurrent  LSTM / GRU / RNN, forward or bidirectional (a reverse operator
 *              concatenated after a forward one on the same input is a bidirectional layer),
 *              with Squeeze (D = 1) or Transpose [0, 2, 1, 3] + Reshape [0, 0, -1] (D = 2) between
 *              layers; sequence_lens from a graph input or absent; initial states zeros
 *              (ConstantOfShape, Expand, Slice of them), graph inputs, or absent
 *   last step  Gather(index -1) on the time axis, or Y_h (Squeeze / Gather -1 of it,
 *              also of a Concat of the layers' Y_h): many-to-one
 *   head       MatMul + Add, MatMul, or Gemm; then Softmax / LogSoftmax, or nothing
 *   glue       Identity, Dropout, Cast, shape arithmetic (Shape, Gather, Unsqueeze, Concat, ...)
 *
 * Gate orders: ONNX LSTM i, o, f, c -> ours i, f, g, o; GRU z, r, h -> r, z, n.
 * GRU linear_before_reset 1 is PyTorch's cell, 0 Keras's (resetAfter: false);
 * gate activations Sigmoid or HardSigmoid(0.2, 0.5).
 *
 * Anything else is an UnfoldError E_UNSUPPORTED naming the first node that
 * does not fit and why; a file that is not ONNX, truncated or malformed is
 * E_FORMAT; weights whose shapes disagree E_SHAPE; NaN or infinite weights
 * E_NAN — each naming the node or tensor. Nothing is allocated in WASM memory
 * until the whole graph has been read and checked, so a failed import leaves
 * nothing behind.
 */
import { UnfoldError } from "../errors.js";
import { Sequential, type RecurrentSpec, type SequentialSpec } from "../model/sequential.js";
import { decodeModel, type OnnxAttr, type OnnxModel, type OnnxNode, type OnnxTensor } from "./decode.js";
import { ProtoError } from "./protobuf.js";
import { regroupGates, transpose } from "../util/layout.js";

/** Options of {@link fromONNX}. */
export interface FromONNXOptions {
  /**
   * The loss the imported model trains with. Default: 'xent' when the graph
   * ends in Softmax / LogSoftmax, else 'mse' (so `predict` returns the
   * graph's own output values).
   */
  loss?: "xent" | "mse";
  /** Seed of the model's dropout and sampling streams. Default 0. */
  seed?: number;
}

/** What {@link fromONNX} recognised in the graph. */
export interface ONNXImportDescription {
  /** The file's producer_name (`""` when absent), e.g. `"pytorch"`. */
  producer: string;
  /** The default (ai.onnx) domain's opset version (0 when absent). */
  opset: number;
  /** The model input: token ids or float features, time-major [T, B, ...] or batch-first [B, T, ...]. */
  input: {
    /** The graph input's name. */
    name: string;
    /** `"tokens"` (ids into an embedding Gather) or `"features"` (floats). */
    type: "tokens" | "features";
    /** `"time-major"` [T, B, ...] or `"batch-first"` [B, T, ...]. */
    layout: "time-major" | "batch-first";
    /** The embedding size E for tokens, else the feature size F. */
    size: number;
  };
  /** The graph input that feeds sequence_lens, if any: pass it as the batch's lengths. */
  lengths: string | null;
  /** Graph inputs that feed initial states; the imported model starts from zeros unless given a state. */
  initialStates: string[];
  /** One entry per recurrent operator (a reverse operator merged into a bidirectional layer is listed with it). */
  layers: {
    /** The node names of the operator(s): one, or the forward and reverse of a bidirectional layer. */
    nodes: string[];
    /** The ONNX operator. */
    op: "LSTM" | "GRU" | "RNN";
    /** The cell it became. */
    cell: RecurrentSpec["cell"];
    /** Whether it is bidirectional (D = 2). */
    bidirectional: boolean;
    /** Its hidden_size H (per direction). */
    hiddenSize: number;
    /** The gates' activation (Sigmoid, or HardSigmoid(0.2, 0.5)). */
    gateActivation: "sigmoid" | "hard_sigmoid";
    /** GRU only: linear_before_reset 1 (PyTorch's cell; false is Keras's reset_after false). */
    resetAfter?: boolean;
  }[];
  /** many-to-many: an output per step; many-to-one: from the last step ('last step') or the final state ('final state'). */
  mode: "many-to-many" | "many-to-one";
  /** Many-to-one only: whether the output is read from the last step of Y or from the final state Y_h. */
  manyToOneFrom?: "last step" | "final state";
  /** The head's nodes, or null when the graph has none (the model then gets an identity head). */
  head: {
    /** The head's node names (MatMul + Add, MatMul, or Gemm). */
    nodes: string[];
    /** Its output size O. */
    size: number;
  } | null;
  /** The graph output: logits or values, probabilities (Softmax) or log-probabilities (LogSoftmax). */
  output: {
    /** The graph output's name. */
    name: string;
    /** Logits or values, probabilities (Softmax) or log-probabilities (LogSoftmax). */
    kind: "values" | "probabilities" | "log-probabilities";
    /** Many-to-many: `"time-major"` [T, B, O] or `"batch-first"` [B, T, O]; omitted at run time for many-to-one ([B, O]). */
    layout: "time-major" | "batch-first";
  };
  /** The model's loss ('xent' trains the head's logits with softmax cross-entropy). */
  loss: "xent" | "mse";
  /** Other graph outputs (final states and such), not part of the model. */
  ignoredOutputs: string[];
  /** Anything a user should know about how the import behaves. */
  notes: string[];
}

/** The result of {@link fromONNX}. */
export interface ONNXImport {
  /** The imported model. */
  model: Sequential;
  /** What was recognised in the graph. */
  description: ONNXImportDescription;
}

// ---- value kinds ----------------------------------------------------------------------

type Sym =
  | { k: "const"; t: OnnxTensor }
  | { k: "shape" } // integers computed from shapes: only ever feed shape arithmetic
  | { k: "zeros" } // a float tensor of zeros (an initial state made of ConstantOfShape / Expand)
  | { k: "input"; name: string; elem: number; rank: number | null; shape: (number | string | null)[] | null }
  | { k: "lengths"; name: string }
  | { k: "lastIdx"; axes: number } // lengths - 1 ([B]; axes 1 after an Unsqueeze to [B, 1])
  | { k: "state"; name: string }
  | { k: "seq"; F: number; swaps: number; top: number } // [T, B, F] (swaps odd: transposed to [B, T, F]); top = the last layer read (-1 = the model input)
  | { k: "rseq"; F: number; layer: number } // the Squeeze of a reverse-only operator's Y, waiting for its Concat
  | { k: "Y"; layer: number }
  | { k: "Yt"; layer: number } // Y transposed to [T, B, D, H]
  | { k: "Yh"; layer: number }
  | { k: "Yc"; layer: number }
  | { k: "hcat"; layers: number[] } // Concat of layers' Y_h along axis 0
  | { k: "vec"; F: number; top: number; from: "last step" | "final state" } // [B, F]
  | { k: "mm"; W: Float32Array; F: number; O: number; many: boolean; swaps: number; nodes: string[] } // MatMul by a constant, no bias yet
  | { k: "head"; W: Float32Array; b: Float32Array; F: number; O: number; many: boolean; swaps: number; nodes: string[] }
  | { k: "out"; kind: "probabilities" | "log-probabilities"; of: Sym & { k: "head" | "seq" | "vec" } };

interface Layer {
  nodes: string[];
  op: "LSTM" | "GRU" | "RNN";
  cell: RecurrentSpec["cell"];
  D: number;
  H: number;
  F: number;
  gate: "sigmoid" | "hard_sigmoid";
  resetAfter: boolean;
  /** Our weights per direction, PyTorch layout and gate order. */
  dirs: { wIh: Float32Array; wHh: Float32Array; bIh: Float32Array; bHh: Float32Array }[];
  reverseOnly: boolean;
  /** The X input's value name (a reverse operator pairs with a forward one on the same X). */
  x: string;
}

const GATES = { LSTM: 4, GRU: 3, RNN: 1 } as const;
/** ours[j] = onnx[INV[op][j]]: LSTM onnx i,o,f,c -> i,f,g,o; GRU z,r,h -> r,z,n. */
const INV = { LSTM: [0, 2, 3, 1], GRU: [1, 0, 2], RNN: [0] } as const;
const GLUE_SHAPE_OPS = new Set(["Shape", "Gather", "Unsqueeze", "Squeeze", "Concat", "Slice", "Cast", "Reshape", "Add", "Sub", "Mul", "Div", "Equal", "Where", "Range", "ReduceProd", "Size", "Min", "Max", "Expand", "Identity"]);
const ZERO_OPS = new Set(["Slice", "Reshape", "Unsqueeze", "Squeeze", "Expand", "Transpose", "Concat", "Identity", "Cast", "Tile", "Gather"]);

const unsupported = (n: OnnxNode, why: string) =>
  new UnfoldError("E_UNSUPPORTED", `fromONNX: node '${n.name || "(unnamed)"}' (${n.op}) does not fit a recurrent model: ${why}`, { name: n.name || n.op, received: n.op });

/**
 * Import a recurrent model from ONNX bytes (a ModelProto, weights inside).
 * Returns the model, a {@link Sequential}, and a description of what was
 * recognised (layers, head, the input and output names, layouts, lengths).
 * The model's outputs equal the graph's on the same inputs; it can be
 * trained further with `fit` and exported again with `toONNX`.
 *
 * @throws UnfoldError E_FORMAT (not ONNX, truncated, malformed), E_UNSUPPORTED
 *   (naming the first node that does not fit and why), E_SHAPE (weights that
 *   disagree, naming the tensor), E_NAN (non-finite weights, naming the tensor).
 */
export function fromONNX(bytes: Uint8Array | ArrayBuffer, opts: FromONNXOptions = {}): ONNXImport {
  if (bytes && typeof bytes === "object" && "encoder" in bytes && "decoder" in bytes) {
    throw new UnfoldError("E_OPTION", "fromONNX reads one graph; for an encoder/decoder pair use fromONNXSeq2Seq({ encoder, decoder }) (kept apart so that importing a Sequential does not bundle Seq2Seq)", { name: "bytes" });
  }
  if (bytes instanceof ArrayBuffer) bytes = new Uint8Array(bytes);
  if (!(bytes instanceof Uint8Array)) throw new UnfoldError("E_OPTION", "fromONNX takes the bytes of an .onnx file (Uint8Array or ArrayBuffer)", { name: "bytes", expected: "a Uint8Array", received: bytes });
  if (typeof opts !== "object" || opts === null) throw new UnfoldError("E_OPTION", "fromONNX options must be an object", { name: "options", received: opts });
  if (opts.loss !== undefined && opts.loss !== "xent" && opts.loss !== "mse") throw new UnfoldError("E_OPTION", "fromONNX: options.loss is 'xent' or 'mse'", { name: "options.loss", received: opts.loss });
  if (opts.seed !== undefined && !Number.isFinite(opts.seed)) throw new UnfoldError("E_OPTION", "fromONNX: options.seed must be a finite number", { name: "options.seed", received: opts.seed });
  const m = readModel(bytes, "bytes");
  const { spec, state, description } = recognise(m, opts);
  // Only now is WASM memory allocated; a failure here frees what was made.
  const model = new Sequential(spec);
  try {
    model.loadStateDict(state);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { model, description };
}

/** Decode and sanity-check a ModelProto; E_FORMAT naming `what` otherwise. @internal */
export function readModel(bytes: unknown, what: string): OnnxModel {
  if (!(bytes instanceof Uint8Array)) throw new UnfoldError("E_OPTION", `fromONNX: ${what} must be the bytes of an .onnx file (Uint8Array)`, { name: what, expected: "a Uint8Array", received: bytes });
  let m: OnnxModel;
  try {
    m = decodeModel(bytes);
  } catch (e) {
    if (e instanceof ProtoError) throw new UnfoldError("E_FORMAT", `fromONNX: ${what} is not a readable ONNX model (${e.message})`, { name: what, cause: e });
    throw e;
  }
  if (m.irVersion < 3 || m.nodes.length === 0 || m.outputs.length === 0) {
    throw new UnfoldError("E_FORMAT", `fromONNX: ${what} is not an ONNX model (ir_version ${m.irVersion}, ${m.nodes.length} nodes, ${m.outputs.length} outputs)`, { name: what });
  }
  return m;
}

/** The Sequential in a graph (or, with `encoder`, a Seq2Seq encoder's embedding and stack). @internal */
export function recognise(m: OnnxModel, opts: FromONNXOptions, encoder = false): { spec: SequentialSpec; state: Record<string, Float32Array>; description: ONNXImportDescription } {
  const vals = new Map<string, Sym>();
  for (const [name, t] of m.initializers) vals.set(name, { k: "const", t });
  for (const i of m.inputs) {
    if (vals.has(i.name)) continue; // an initializer listed as an input (IR < 4): a constant
    vals.set(i.name, { k: "input", name: i.name, elem: i.elemType, rank: i.shape ? i.shape.length : null, shape: i.shape });
  }
  // The nodes the first graph output needs; the others (final states as extra outputs) are not the model.
  const main = m.outputs[0].name;
  const producer = new Map<string, OnnxNode>();
  for (const n of m.nodes) for (const o of n.outputs) if (o) producer.set(o, n);
  const live = new Set<OnnxNode>();
  const stack = [main];
  const seen = new Set<string>();
  while (stack.length) {
    const v = stack.pop()!;
    if (seen.has(v)) continue;
    seen.add(v);
    const n = producer.get(v);
    if (!n || live.has(n)) continue;
    live.add(n);
    for (const i of n.inputs) if (i) stack.push(i);
  }
  if (!producer.has(main) && !vals.has(main)) throw new UnfoldError("E_FORMAT", `fromONNX: no node computes the graph output '${main}'`, { name: main });

  const layers: Layer[] = [];
  const lengthsInputs = new Set<string>();
  const stateInputs = new Set<string>();
  let modelInput: { name: string; type: "tokens" | "features"; F: number; embedding: Float32Array | null; embNode: string | null } | null = null;
  let inSwaps: number | null = null;
  let lastRealStep = false; // many-to-one reads each sequence's step lengths[b] - 1 (as unfold-rnn does)
  const notes: string[] = [];

  const get = (n: OnnxNode, i: number): Sym | null => {
    const name = n.inputs[i];
    if (!name) return null;
    const s = vals.get(name);
    if (!s) throw new UnfoldError("E_FORMAT", `fromONNX: node '${n.name}' (${n.op}) reads '${name}', which nothing before it defines (the nodes must be in topological order)`, { name: name });
    return s;
  };
  const constOf = (n: OnnxNode, i: number, what: string): OnnxTensor => {
    const s = get(n, i);
    if (!s || s.k !== "const") throw unsupported(n, `its ${what} (input ${i}) must be a constant`);
    return s.t;
  };
  const intsOf = (n: OnnxNode, i: number, what: string): number[] => {
    const t = constOf(n, i, what);
    if (!t.ints) throw unsupported(n, `its ${what} must be integers`);
    return t.ints;
  };
  const setOut = (n: OnnxNode, i: number, s: Sym) => {
    if (n.outputs[i]) vals.set(n.outputs[i], s);
  };
  const isTimeMajor = (swaps: number) => inSwaps !== null && (swaps - inSwaps) % 2 === 0;

  for (const n of m.nodes) {
    if (!live.has(n)) continue;
    if (n.domain && n.domain !== "ai.onnx") throw unsupported(n, `operator domain '${n.domain}' (only the default ONNX domain)`);
    const ins = n.inputs.map((_, i) => get(n, i));
    const a0 = ins[0];
    const known = ins.filter((s): s is Sym => s !== null);
    // Shape arithmetic and constants: the glue exporters write around initial states.
    if (n.op === "Constant") {
      setOut(n, 0, { k: "const", t: constantValue(n) });
      continue;
    }
    if (n.op === "Identity" || n.op === "Dropout") {
      if (!a0) throw unsupported(n, "no input");
      setOut(n, 0, a0);
      continue;
    }
    if (n.op === "ConstantOfShape") {
      const v = n.attrs.get("value")?.t;
      const zero = !v || (v.floats ? v.floats.every((x) => x === 0) : (v.ints ?? []).every((x) => x === 0));
      if (!zero) throw unsupported(n, "a ConstantOfShape that is not zeros");
      setOut(n, 0, { k: "zeros" });
      continue;
    }
    if (known.length > 0 && known.every((s) => s.k === "shape" || (s.k === "const" && !!s.t.ints)) && GLUE_SHAPE_OPS.has(n.op)) {
      // An all-constant integer node folds to shape arithmetic too: its value only sizes things.
      setOut(n, 0, { k: "shape" });
      continue;
    }
    if (n.op === "Shape") {
      setOut(n, 0, { k: "shape" });
      continue;
    }
    if (ZERO_OPS.has(n.op) && a0 && (a0.k === "zeros" || (a0.k === "const" && !!a0.t.floats && a0.t.floats.every((x) => x === 0)))) {
      if (known.slice(1).every((s) => s.k === "shape" || s.k === "const" || s.k === "zeros")) {
        setOut(n, 0, { k: "zeros" });
        continue;
      }
    }
    if (n.op === "Cast" && a0 && (a0.k === "input" || a0.k === "lengths")) {
      setOut(n, 0, a0);
      continue;
    }
    if (n.op === "Slice" && a0 && (a0.k === "input" || a0.k === "state")) {
      // One layer's share of an initial-state input [L*D, B, H].
      const name = a0.k === "input" ? a0.name : a0.name;
      setOut(n, 0, { k: "state", name });
      continue;
    }

    switch (n.op) {
      case "Gather": {
        const axis = n.attrs.get("axis")?.i ?? 0;
        if (a0?.k === "const" && a0.t.floats && ins[1]?.k === "input") {
          // The embedding: weight [V, E] gathered at the token ids.
          if (axis !== 0) throw unsupported(n, "an embedding Gather must be on axis 0");
          if (a0.t.dims.length !== 2) throw new UnfoldError("E_SHAPE", `fromONNX: embedding '${a0.t.name}' of node '${n.name}' has shape [${a0.t.dims}], expected [V, E]`, { name: a0.t.name });
          const inp = ins[1];
          if (inp.elem !== 7 && inp.elem !== 6) throw unsupported(n, `token ids '${inp.name}' must be int64 or int32`);
          if (modelInput) throw unsupported(n, `a second model input '${inp.name}' (already '${modelInput.name}')`);
          checkFinite(a0.t, n);
          modelInput = { name: inp.name, type: "tokens", F: a0.t.dims[1], embedding: a0.t.floats, embNode: n.name };
          setOut(n, 0, { k: "seq", F: a0.t.dims[1], swaps: 0, top: -1 });
          break;
        }
        const idx = ins[1]?.k === "const" ? ins[1].t : null;
        const scalarLast = (len: number) => !!idx && idx.dims.length === 0 && !!idx.ints && (idx.ints[0] === -1 || idx.ints[0] === len - 1);
        if (a0?.k === "seq" && inSwaps !== null) {
          // The last step of a sequence: Gather(index -1) on the time axis.
          const timeAxis = isTimeMajor(a0.swaps) ? 0 : 1;
          if (a0.top < 0) throw unsupported(n, "selects a step of the model input itself");
          if (!(idx && idx.dims.length === 0 && idx.ints && idx.ints[0] === -1) || axis !== timeAxis) throw unsupported(n, `only the last step (index -1 on the time axis, ${timeAxis}) can be selected from a sequence`);
          setOut(n, 0, { k: "vec", F: a0.F, top: a0.top, from: "last step" });
          break;
        }
        if (a0?.k === "hcat" || a0?.k === "Yh") {
          const list = a0.k === "hcat" ? a0.layers : [a0.layer];
          const count = list.reduce((s, l) => s + layers[l].D, 0);
          if (axis !== 0 || !scalarLast(count)) throw unsupported(n, "only the last final state (index -1 on axis 0) can be taken from Y_h");
          const top = list[list.length - 1];
          if (layers[top].D === 2) throw unsupported(n, "h_n[-1] of a bidirectional layer is its reverse direction's final state alone; unfold-rnn's many-to-one reads both directions at the last step");
          setOut(n, 0, { k: "vec", F: layers[top].H, top, from: "final state" });
          break;
        }
        throw unsupported(n, `a Gather of ${describe(a0)}`);
      }
      case "Transpose": {
        const perm = n.attrs.get("perm")?.ints ?? [];
        if (a0?.k === "input" && a0.elem === 1 && same(perm, [1, 0, 2])) {
          setOut(n, 0, { k: "seq", F: featuresOf(a0, n), swaps: 1, top: -1 });
          if (!modelInput) modelInput = { name: a0.name, type: "features", F: featuresOf(a0, n), embedding: null, embNode: null };
          break;
        }
        if (a0?.k === "seq" && same(perm, [1, 0, 2])) {
          setOut(n, 0, { ...a0, swaps: a0.swaps + 1 });
          break;
        }
        if (a0?.k === "Y" && same(perm, [0, 2, 1, 3])) {
          setOut(n, 0, { k: "Yt", layer: a0.layer });
          break;
        }
        throw unsupported(n, `a Transpose perm [${perm}] of ${describe(a0)} (recurrent glue swaps T and B, perm [1, 0, 2], or moves D after B, perm [0, 2, 1, 3])`);
      }
      case "Squeeze": {
        const axes = n.attrs.get("axes")?.ints ?? (ins[1] ? intsOf(n, 1, "axes") : []);
        if (a0?.k === "Y" && same(axes, [1])) {
          const L = layers[a0.layer];
          if (L.D !== 1) throw unsupported(n, "squeezes the direction axis of a bidirectional Y");
          if (L.reverseOnly) setOut(n, 0, { k: "rseq", F: L.H, layer: a0.layer });
          else setOut(n, 0, { k: "seq", F: L.H, swaps: inSwaps ?? 0, top: a0.layer });
          break;
        }
        if (a0?.k === "Yh" && same(axes, [0])) {
          const L = layers[a0.layer];
          if (L.D !== 1 || L.reverseOnly) throw unsupported(n, "the final state of a reverse or bidirectional layer alone");
          setOut(n, 0, { k: "vec", F: L.H, top: a0.layer, from: "final state" });
          break;
        }
        throw unsupported(n, `a Squeeze of axes [${axes}] of ${describe(a0)}`);
      }
      case "Reshape": {
        const shape = ins[1]?.k === "const" ? ins[1].t.ints : null;
        if (a0?.k === "Yt" && shape) {
          const L = layers[a0.layer];
          if (same(shape, [0, 0, -1]) || same(shape, [0, 0, L.D * L.H])) {
            setOut(n, 0, { k: "seq", F: L.D * L.H, swaps: inSwaps ?? 0, top: a0.layer });
            break;
          }
        }
        throw unsupported(n, `a Reshape of ${describe(a0)} to ${shape ? `[${shape}]` : "a computed shape"} (bidirectional glue reshapes [T, B, 2, H] with [0, 0, -1])`);
      }
      case "Concat": {
        const axis = n.attrs.get("axis")?.i;
        if (known.length === ins.length && known.every((s) => s.k === "Yh")) {
          if (axis !== 0) throw unsupported(n, "a Concat of final states not on axis 0");
          setOut(n, 0, { k: "hcat", layers: known.map((s) => (s as { layer: number }).layer) });
          break;
        }
        if (ins.length === 2 && a0?.k === "seq" && ins[1]?.k === "rseq" && (axis === 2 || axis === -1)) {
          // A forward and a reverse operator on the same input, concatenated: one bidirectional layer.
          const fwd = layers[a0.top];
          const rev = layers[ins[1].layer];
          if (!(a0.top === layers.length - 2 && ins[1].layer === layers.length - 1) || fwd.x !== rev.x || fwd.cell !== rev.cell || fwd.H !== rev.H || fwd.gate !== rev.gate || fwd.resetAfter !== rev.resetAfter || fwd.D !== 1) {
            throw unsupported(n, "concatenates two recurrent outputs that are not a forward and a reverse operator of the same kind on the same input");
          }
          fwd.D = 2;
          fwd.dirs.push(rev.dirs[0]);
          fwd.nodes.push(...rev.nodes);
          layers.pop();
          setOut(n, 0, { k: "seq", F: 2 * fwd.H, swaps: a0.swaps, top: layers.length - 1 });
          break;
        }
        throw unsupported(n, `a Concat of ${ins.map(describe).join(", ")}`);
      }
      case "LSTM":
      case "GRU":
      case "RNN": {
        const L = readRecurrent(n, ins, m, layers.length);
        if (!a0 || (a0.k !== "seq" && a0.k !== "input")) throw unsupported(n, `its input X is ${describe(a0)}, not a sequence`);
        let x: Sym & { k: "seq" };
        if (a0.k === "input") {
          if (a0.elem !== 1) throw unsupported(n, `its input '${a0.name}' is not float`);
          x = { k: "seq", F: featuresOf(a0, n), swaps: 0, top: -1 };
          if (!modelInput) modelInput = { name: a0.name, type: "features", F: x.F, embedding: null, embNode: null };
        } else x = a0;
        const pairing = L.reverseOnly && layers.length > 0 && layers[layers.length - 1].x === n.inputs[0] && layers[layers.length - 1].D === 1 && !layers[layers.length - 1].reverseOnly;
        const expectTop = pairing ? layers.length - 2 : layers.length - 1;
        if (x.top !== expectTop) throw unsupported(n, `its input is not the output of the recurrent layer before it (the layers must form one chain)`);
        if (x.F !== L.F) throw new UnfoldError("E_SHAPE", `fromONNX: node '${n.name}' (${n.op}): W has input size ${L.F} but its input X has ${x.F} features`, { name: n.inputs[1], expected: `${x.F} columns`, received: L.F });
        if (inSwaps === null) inSwaps = x.swaps;
        else if (!isTimeMajor(x.swaps)) throw unsupported(n, "its input is batch-first; ONNX recurrent operators read [T, B, F]");
        if (L.reverseOnly && !pairing) throw unsupported(n, "a reverse-only recurrent operator; unfold-rnn runs reverse directions as the second half of a bidirectional layer (Concat it after a forward operator on the same input)");
        // sequence_lens
        const sl = ins[4];
        if (sl && sl.k !== "zeros") {
          if (sl.k !== "input" && sl.k !== "lengths") throw unsupported(n, `its sequence_lens is ${describe(sl)}, not a graph input`);
          lengthsInputs.add(sl.name);
          vals.set(sl.name, { k: "lengths", name: sl.name });
        }
        for (const [i, what] of [[5, "initial_h"], [6, "initial_c"]] as const) {
          const s = ins[i];
          if (!s || s.k === "zeros") continue;
          if (s.k === "const" && s.t.floats && s.t.floats.every((v) => v === 0)) continue;
          if (s.k === "input" || s.k === "state") stateInputs.add(s.name);
          else throw unsupported(n, `its ${what} is ${describe(s)} (zeros, a graph input, or absent)`);
        }
        if (n.op === "LSTM" && ins[7]) {
          const p = ins[7];
          if (!(p.k === "zeros" || (p.k === "const" && p.t.floats && p.t.floats.every((v) => v === 0)))) throw unsupported(n, "peephole weights P (unfold-rnn's LSTM has none)");
        }
        L.x = n.inputs[0];
        layers.push(L);
        const li = layers.length - 1;
        setOut(n, 0, { k: "Y", layer: li });
        setOut(n, 1, { k: "Yh", layer: li });
        setOut(n, 2, { k: "Yc", layer: li });
        break;
      }
      case "Sub": {
        // lengths - 1: the index of each sequence's last real step (toONNX's many-to-one).
        const one = ins[1];
        if (a0?.k === "lengths" && one?.k === "const" && one.t.ints && one.t.ints.length === 1 && one.t.ints[0] === 1) {
          setOut(n, 0, { k: "lastIdx", axes: 0 });
          break;
        }
        throw unsupported(n, `a Sub of ${ins.map(describe).join(" and ")}`);
      }
      case "Unsqueeze": {
        const axes = n.attrs.get("axes")?.ints ?? (ins[1] ? intsOf(n, 1, "axes") : []);
        if (a0?.k === "lastIdx" && a0.axes === 0 && same(axes, [1])) {
          setOut(n, 0, { k: "lastIdx", axes: 1 });
          break;
        }
        throw unsupported(n, `an Unsqueeze of ${describe(a0)}`);
      }
      case "GatherND": {
        // Each sequence's last real step of a batch-first [B, T, F] output, at [B, 1] indices lengths - 1.
        const bd = n.attrs.get("batch_dims")?.i ?? 0;
        if (a0?.k === "seq" && a0.top >= 0 && !isTimeMajor(a0.swaps) && ins[1]?.k === "lastIdx" && ins[1].axes === 1 && bd === 1) {
          setOut(n, 0, { k: "vec", F: a0.F, top: a0.top, from: "last step" });
          lastRealStep = true;
          break;
        }
        throw unsupported(n, `a GatherND of ${ins.map(describe).join(" at ")}`);
      }
      case "MatMul": {
        const w = ins[1];
        if ((a0?.k === "seq" || a0?.k === "vec") && a0.top >= 0 && w?.k === "const" && w.t.floats) {
          if (w.t.dims.length !== 2 || w.t.dims[0] !== a0.F) throw new UnfoldError("E_SHAPE", `fromONNX: node '${n.name}' (MatMul): weight '${w.t.name}' has shape [${w.t.dims}], expected [${a0.F}, O]`, { name: w.t.name, expected: `[${a0.F}, O]`, received: w.t.dims });
          checkFinite(w.t, n);
          const [F, O] = w.t.dims;
          setOut(n, 0, { k: "mm", W: transpose(w.t.floats, F, O), F, O, many: a0.k === "seq", swaps: a0.k === "seq" ? a0.swaps : 0, nodes: [n.name] });
          break;
        }
        throw unsupported(n, `a MatMul of ${describe(a0)} by ${describe(w)} (the head multiplies the recurrent output by a constant [F, O])`);
      }
      case "Add": {
        const [x, b] = ins[0]?.k === "mm" ? [ins[0], ins[1]] : [ins[1], ins[0]];
        if (x?.k === "mm" && b?.k === "const" && b.t.floats && b.t.floats.length === x.O && (b.t.dims.length === 1 || (b.t.dims.length === 2 && b.t.dims[0] === 1))) {
          checkFinite(b.t, n);
          setOut(n, 0, { k: "head", W: x.W, b: b.t.floats, F: x.F, O: x.O, many: x.many, swaps: x.swaps, nodes: [...x.nodes, n.name] });
          break;
        }
        throw unsupported(n, `an Add of ${ins.map(describe).join(" and ")} (the head adds a bias [O] to its MatMul)`);
      }
      case "Gemm": {
        const alpha = n.attrs.get("alpha")?.f ?? 1, beta = n.attrs.get("beta")?.f ?? 1;
        const tA = n.attrs.get("transA")?.i ?? 0, tB = n.attrs.get("transB")?.i ?? 0;
        const w = ins[1], c = ins[2];
        if (a0?.k === "vec" && a0.top >= 0 && w?.k === "const" && w.t.floats && w.t.dims.length === 2 && alpha === 1 && tA === 0) {
          const [r0, r1] = w.t.dims;
          const F = tB ? r1 : r0, O = tB ? r0 : r1;
          if (F !== a0.F) throw new UnfoldError("E_SHAPE", `fromONNX: node '${n.name}' (Gemm): weight '${w.t.name}' has shape [${w.t.dims}] (transB ${tB}) but its input has ${a0.F} features`, { name: w.t.name, received: w.t.dims });
          checkFinite(w.t, n);
          let bias = new Float32Array(O);
          if (c) {
            if (c.k !== "const" || !c.t.floats || (c.t.floats.length !== O && c.t.floats.length !== 1)) throw unsupported(n, `its bias C is ${describe(c)}, not a constant [O]`);
            checkFinite(c.t, n);
            bias = c.t.floats.length === O ? Float32Array.from(c.t.floats, (v) => v * beta) : new Float32Array(O).fill(c.t.floats[0] * beta);
          }
          setOut(n, 0, { k: "head", W: tB ? Float32Array.from(w.t.floats) : transpose(w.t.floats, F, O), b: bias, F, O, many: false, swaps: 0, nodes: [n.name] });
          break;
        }
        throw unsupported(n, `a Gemm of ${describe(a0)} (alpha 1, no transA, a constant weight: the head on the last step)`);
      }
      case "Softmax":
      case "LogSoftmax": {
        const x = a0?.k === "mm" ? toHead(a0) : a0;
        if (x && (x.k === "head" || x.k === "seq" || x.k === "vec")) {
          const rank = x.k === "vec" || (x.k === "head" && !x.many) ? 2 : 3;
          const axis = n.attrs.get("axis")?.i ?? (m.opset >= 13 ? -1 : 1);
          if (axis !== -1 && axis !== rank - 1) throw unsupported(n, `a ${n.op} on axis ${axis}, not the last`);
          setOut(n, 0, { k: "out", kind: n.op === "Softmax" ? "probabilities" : "log-probabilities", of: x });
          break;
        }
        throw unsupported(n, `a ${n.op} of ${describe(a0)}`);
      }
      default:
        throw unsupported(n, `operator ${n.op} of ${ins.map(describe).join(", ") || "no inputs"} (fromONNX reads Gather embeddings, LSTM / GRU / RNN and their glue, a MatMul+Add or Gemm head, Softmax / LogSoftmax)`);
    }
  }

  // The graph output.
  const got = vals.get(main);
  if (!got) throw new UnfoldError("E_FORMAT", `fromONNX: the graph output '${main}' is never computed`, { name: main });
  let out: Sym = got.k === "mm" ? toHead(got) : got;
  let kind: ONNXImportDescription["output"]["kind"] = "values";
  if (out.k === "out") {
    kind = out.kind;
    out = out.of;
  }
  if (!modelInput || layers.length === 0) {
    throw new UnfoldError("E_UNSUPPORTED", `fromONNX: the graph has ${layers.length === 0 ? "no LSTM, GRU or RNN operator" : "no model input"} on the way to its output '${main}'`, { name: main });
  }
  const mi = modelInput as { name: string; type: "tokens" | "features"; F: number; embedding: Float32Array | null; embNode: string | null };
  let head: { W: Float32Array; b: Float32Array; F: number; O: number; nodes: string[] } | null = null;
  let many: boolean;
  let outSwaps = 0;
  let top: number;
  let manyToOneFrom: "last step" | "final state" | undefined;
  if (out.k === "head") {
    head = out;
    many = out.many;
    outSwaps = out.swaps;
    top = -2; // checked below through the head's input
  } else if (out.k === "seq" || out.k === "vec") {
    many = out.k === "seq";
    if (out.k === "seq") outSwaps = out.swaps;
    top = out.top;
  } else if (encoder && (out.k === "hcat" || out.k === "Yh")) {
    // A Seq2Seq encoder: its output is the final state of every layer, [L, B, H], in order.
    const list = out.k === "hcat" ? out.layers : [out.layer];
    if (!same(list, layers.map((_, i) => i)) || layers.some((L) => L.D !== 1)) throw new UnfoldError("E_UNSUPPORTED", `fromONNX: the encoder output '${main}' is not the final states of all its layers in order (unidirectional)`, { name: main });
    many = true;
    top = layers.length - 1;
  } else throw new UnfoldError("E_UNSUPPORTED", `fromONNX: the graph output '${main}' is ${describe(out)}, not a sequence, a last step or a head on them`, { name: main });
  // Which layer the head read: the last one (recognition only lets heads read a layer's output).
  if (top !== -2 && top !== layers.length - 1) throw new UnfoldError("E_UNSUPPORTED", `fromONNX: the graph output '${main}' does not come from the last recurrent layer`, { name: main });
  const last = layers[layers.length - 1];
  const topF = last.D * last.H;
  if (head && head.F !== topF) throw new UnfoldError("E_SHAPE", `fromONNX: the head reads ${head.F} features but the last recurrent layer gives ${topF}`, { name: head.nodes[0] });
  if (!many) {
    const v = [...vals.values()].find((s): s is Sym & { k: "vec" } => s.k === "vec");
    manyToOneFrom = v?.from;
  }
  for (const L of layers) if (L.reverseOnly) throw new UnfoldError("E_UNSUPPORTED", `fromONNX: node '${L.nodes[0]}' is a reverse-only ${L.op}; it must be concatenated after a forward operator on the same input`, { name: L.nodes[0] });

  // The spec: consecutive layers of the same kind become one block of stacked layers.
  const blocks: { spec: RecurrentSpec; layers: Layer[] }[] = [];
  for (const L of layers) {
    const prev = blocks[blocks.length - 1];
    const sameKind = prev && prev.layers[0].cell === L.cell && prev.layers[0].H === L.H && prev.layers[0].D === L.D && prev.layers[0].gate === L.gate && prev.layers[0].resetAfter === L.resetAfter;
    if (sameKind) {
      prev.layers.push(L);
      prev.spec.numLayers = prev.layers.length;
      continue;
    }
    const spec: RecurrentSpec = { cell: L.cell, hiddenSize: L.H };
    if (L.D === 2) spec.bidirectional = true;
    if (L.gate === "hard_sigmoid") spec.gateActivation = "hard_sigmoid";
    if (L.cell === "gru" && !L.resetAfter) spec.resetAfter = false;
    blocks.push({ spec, layers: [L] });
  }
  const O = head ? head.O : topF;
  const loss = opts.loss ?? (kind === "values" ? "mse" : "xent");
  const spec: SequentialSpec = {
    input: mi.type === "tokens" ? { type: "tokens", vocabSize: mi.embedding!.length / mi.F, embeddingDim: mi.F } : { type: "features", size: mi.F },
    recurrent: blocks.map((b) => b.spec),
    output: { size: O, loss },
    mode: many ? "many-to-many" : "many-to-one",
    seed: opts.seed ?? 0,
  };
  const state: Record<string, Float32Array> = {};
  if (mi.embedding) state["embedding.weight"] = mi.embedding;
  blocks.forEach((b, k) => {
    b.layers.forEach((L, l) => {
      L.dirs.forEach((d, dir) => {
        const sfx = `_l${l}${dir === 1 ? "_reverse" : ""}`;
        state[`rnn${k}.weight_ih${sfx}`] = d.wIh;
        state[`rnn${k}.weight_hh${sfx}`] = d.wHh;
        state[`rnn${k}.bias_ih${sfx}`] = d.bIh;
        state[`rnn${k}.bias_hh${sfx}`] = d.bHh;
      });
    });
  });
  if (head) {
    state["head.weight"] = head.W;
    state["head.bias"] = head.b;
  } else {
    // No head in the graph: an identity head keeps the outputs the recurrent layer's.
    const W = new Float32Array(topF * topF);
    for (let i = 0; i < topF; i++) W[i * topF + i] = 1;
    state["head.weight"] = W;
    state["head.bias"] = new Float32Array(topF);
    notes.push("the graph has no head: the model has an identity Dense head (trainable like any other)");
  }
  if (lengthsInputs.size > 0 && manyToOneFrom === "last step" && !lastRealStep) notes.push("the graph selects step T-1 of a padded output (zeros past a sequence's length); the model reads each sequence's last real step, which is the same on batches of equal lengths");
  if (stateInputs.size > 0) notes.push(`initial states come from graph inputs (${[...stateInputs].join(", ")}); the model starts from zeros unless given a state`);
  if (kind === "log-probabilities") notes.push("the graph ends in LogSoftmax: the model's predict() gives probabilities (their exp)");
  const layout = (swaps: number) => (isTimeMajor(swaps) ? "time-major" : "batch-first") as "time-major" | "batch-first";
  const description: ONNXImportDescription = {
    producer: m.producer,
    opset: m.opset,
    input: { name: mi.name, type: mi.type, layout: inSwaps === 0 || inSwaps === null ? "time-major" : (inSwaps ?? 0) % 2 === 1 ? "batch-first" : "time-major", size: mi.F },
    lengths: lengthsInputs.size ? [...lengthsInputs][0] : null,
    initialStates: [...stateInputs],
    layers: layers.map((L) => ({ nodes: L.nodes, op: L.op, cell: L.cell, bidirectional: L.D === 2, hiddenSize: L.H, gateActivation: L.gate, ...(L.cell === "gru" ? { resetAfter: L.resetAfter } : {}) })),
    mode: many ? "many-to-many" : "many-to-one",
    ...(manyToOneFrom ? { manyToOneFrom } : {}),
    head: head ? { nodes: head.nodes, size: head.O } : null,
    output: { name: main, kind, layout: many ? layout(outSwaps) : "time-major" },
    loss,
    ignoredOutputs: m.outputs.slice(1).map((o) => o.name),
    notes,
  };
  if (!many) delete (description.output as { layout?: string }).layout;
  return { spec, state, description };
}

/** One recurrent operator's attributes and weights, converted to PyTorch's layout and gate order. */
function readRecurrent(n: OnnxNode, ins: (Sym | null)[], m: OnnxModel, index: number): Layer {
  const op = n.op as "LSTM" | "GRU" | "RNN";
  const G = GATES[op];
  const dir = n.attrs.get("direction")?.s ?? "forward";
  if (dir !== "forward" && dir !== "reverse" && dir !== "bidirectional") throw unsupported(n, `direction '${dir}'`);
  const D = dir === "bidirectional" ? 2 : 1;
  for (const [name, ok] of [["clip", undefined], ["input_forget", 0], ["layout", 0]] as const) {
    const a = n.attrs.get(name);
    if (a && !(ok !== undefined && (a.i ?? 0) === ok)) throw unsupported(n, `attribute ${name}${a.i !== undefined ? ` = ${a.i}` : ""} (unfold-rnn has no such cell option)`);
  }
  const W = ins[1], R = ins[2], Bs = ins[3];
  if (W?.k !== "const" || !W.t.floats || R?.k !== "const" || !R.t.floats) throw unsupported(n, "its weights W and R must be constants (initializers)");
  if (W.t.dims.length !== 3 || W.t.dims[0] !== D || W.t.dims[1] % G !== 0) throw new UnfoldError("E_SHAPE", `fromONNX: node '${n.name}' (${op}): W '${W.t.name}' has shape [${W.t.dims}], expected [${D}, ${G}*H, F]`, { name: W.t.name, received: W.t.dims });
  const H = W.t.dims[1] / G;
  const F = W.t.dims[2];
  const hs = n.attrs.get("hidden_size")?.i;
  if (hs !== undefined && hs !== H) throw new UnfoldError("E_SHAPE", `fromONNX: node '${n.name}' (${op}): hidden_size ${hs} but W '${W.t.name}' has ${G}*${H} rows`, { name: W.t.name });
  if (H < 1 || F < 1) throw new UnfoldError("E_SHAPE", `fromONNX: node '${n.name}' (${op}): W '${W.t.name}' has shape [${W.t.dims}]`, { name: W.t.name });
  if (!same(R.t.dims, [D, G * H, H])) throw new UnfoldError("E_SHAPE", `fromONNX: node '${n.name}' (${op}): R '${R.t.name}' has shape [${R.t.dims}], expected [${D}, ${G * H}, ${H}]`, { name: R.t.name, received: R.t.dims });
  let bias: Float32Array | null = null;
  if (Bs && !(Bs.k === "zeros")) {
    if (Bs.k !== "const" || !Bs.t.floats) throw unsupported(n, "its bias B must be a constant");
    if (!same(Bs.t.dims, [D, 2 * G * H])) throw new UnfoldError("E_SHAPE", `fromONNX: node '${n.name}' (${op}): B '${Bs.t.name}' has shape [${Bs.t.dims}], expected [${D}, ${2 * G * H}]`, { name: Bs.t.name, received: Bs.t.dims });
    checkFinite(Bs.t, n);
    bias = Bs.t.floats;
  }
  checkFinite(W.t, n);
  checkFinite(R.t, n);
  // Activations: (f, g[, h]) per direction.
  const acts = n.attrs.get("activations")?.strings;
  const alphas = n.attrs.get("activation_alpha")?.floats ?? [];
  const betas = n.attrs.get("activation_beta")?.floats ?? [];
  let cell: RecurrentSpec["cell"] = op === "LSTM" ? "lstm" : op === "GRU" ? "gru" : "rnn";
  let gate: "sigmoid" | "hard_sigmoid" = "sigmoid";
  const per = op === "LSTM" ? 3 : op === "GRU" ? 2 : 1;
  if (acts && acts.length) {
    if (acts.length !== per * D) throw unsupported(n, `${acts.length} activations for ${D} direction(s) (expected ${per * D})`);
    let hs = 0;
    const kinds = new Set<string>();
    for (let d = 0; d < D; d++) {
      const a = acts.slice(d * per, (d + 1) * per).map((s) => s.toLowerCase());
      if (op === "RNN") {
        if (a[0] !== "tanh" && a[0] !== "relu") throw unsupported(n, `RNN activation ${acts[d]} (Tanh or Relu)`);
        kinds.add(a[0]);
        continue;
      }
      if (a.slice(1).some((s) => s !== "tanh")) throw unsupported(n, `activations [${acts.slice(d * per, (d + 1) * per)}]: the cell and hidden activations must be Tanh`);
      if (a[0] === "hardsigmoid") {
        const al = alphas[hs] ?? 0.2, be = betas[hs] ?? 0.5;
        hs++;
        if (Math.abs(al - 0.2) > 1e-6 || Math.abs(be - 0.5) > 1e-6) throw unsupported(n, `HardSigmoid(alpha ${al}, beta ${be}); unfold-rnn's hard sigmoid is Keras's, alpha 0.2 and beta 0.5`);
        kinds.add("hard_sigmoid");
      } else if (a[0] === "sigmoid") kinds.add("sigmoid");
      else throw unsupported(n, `gate activation ${acts[d * per]} (Sigmoid or HardSigmoid)`);
    }
    if (kinds.size !== 1) throw unsupported(n, `different activations per direction [${acts}]`);
    const k = [...kinds][0];
    if (op === "RNN") cell = k === "relu" ? "rnn_relu" : "rnn";
    else gate = k as "sigmoid" | "hard_sigmoid";
  }
  const lbr = n.attrs.get("linear_before_reset")?.i ?? 0;
  if (op !== "GRU" && n.attrs.has("linear_before_reset")) throw unsupported(n, "linear_before_reset on a non-GRU operator");
  const inv = INV[op];
  const dirs: Layer["dirs"] = [];
  for (let d = 0; d < D; d++) {
    const w = W.t.floats.subarray(d * G * H * F, (d + 1) * G * H * F);
    const r = R.t.floats.subarray(d * G * H * H, (d + 1) * G * H * H);
    const b = bias ? bias.subarray(d * 2 * G * H, (d + 1) * 2 * G * H) : new Float32Array(2 * G * H);
    dirs.push({ wIh: regroupGates(w, H, F, inv), wHh: regroupGates(r, H, H, inv), bIh: regroupGates(b.subarray(0, G * H), H, 1, inv), bHh: regroupGates(b.subarray(G * H), H, 1, inv) });
  }
  void m;
  void index;
  return { nodes: [n.name], op, cell, D, H, F, gate, resetAfter: op === "GRU" ? lbr === 1 : true, dirs, reverseOnly: dir === "reverse", x: "" };
}


function toHead(x: Sym & { k: "mm" }): Sym & { k: "head" } {
  return { k: "head", W: x.W, b: new Float32Array(x.O), F: x.F, O: x.O, many: x.many, swaps: x.swaps, nodes: x.nodes };
}

function featuresOf(inp: Sym & { k: "input" }, n: OnnxNode): number {
  const f = inp.shape?.[2];
  if (inp.rank !== null && inp.rank !== 3) throw unsupported(n, `the features input '${inp.name}' has rank ${inp.rank}, expected 3 ([T, B, F] or [B, T, F])`);
  if (typeof f !== "number" || !(f >= 1)) throw unsupported(n, `the features input '${inp.name}' needs a fixed feature size (its last dimension is ${f ?? "unknown"})`);
  return f;
}

function checkFinite(t: OnnxTensor, n: OnnxNode): void {
  const a = t.floats;
  if (!a) return;
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i])) throw new UnfoldError("E_NAN", `fromONNX: tensor '${t.name}' (read by node '${n.name}') holds ${a[i]} at index ${i}`, { name: t.name, received: a[i] });
  }
}

/** The value of a Constant node, as a tensor. */
function constantValue(n: OnnxNode): OnnxTensor {
  const a: OnnxAttr | undefined = n.attrs.get("value") ?? n.attrs.get("value_ints") ?? n.attrs.get("value_int") ?? n.attrs.get("value_floats") ?? n.attrs.get("value_float");
  if (!a) throw unsupported(n, "a Constant without a value, value_int(s) or value_float(s)");
  if (a.t) return { ...a.t, name: n.outputs[0] ?? a.t.name };
  const name = n.outputs[0] ?? "";
  if (a.name === "value_ints") return { name, dims: [a.ints.length], dataType: 7, ints: a.ints };
  if (a.name === "value_int") return { name, dims: [], dataType: 7, ints: [a.i ?? 0] };
  if (a.name === "value_floats") return { name, dims: [a.floats.length], dataType: 1, floats: Float32Array.from(a.floats) };
  return { name, dims: [], dataType: 1, floats: Float32Array.of(a.f ?? 0) };
}

function same(a: readonly number[] | undefined, b: readonly number[]): boolean {
  return !!a && a.length === b.length && a.every((v, i) => v === b[i]);
}

function describe(s: Sym | null | undefined): string {
  if (!s) return "nothing";
  switch (s.k) {
    case "const":
      return `constant '${s.t.name}' [${s.t.dims}]`;
    case "input":
      return `graph input '${s.name}'`;
    case "seq":
      return s.top < 0 ? "the model input sequence" : "a recurrent output sequence";
    case "rseq":
      return "a reverse operator's output";
    case "Y":
      return "an RNN operator's Y [T, D, B, H]";
    case "Yt":
      return "a transposed Y [T, B, D, H]";
    case "Yh":
      return "an RNN operator's Y_h";
    case "Yc":
      return "an LSTM's Y_c";
    case "hcat":
      return "the final states of several layers";
    case "vec":
      return "the last step [B, F]";
    case "mm":
      return "a MatMul result";
    case "head":
      return "the head's output";
    case "out":
      return `the ${s.kind}`;
    case "shape":
      return "shape arithmetic";
    case "zeros":
      return "zeros";
    case "lengths":
      return `the lengths input '${s.name}'`;
    case "lastIdx":
      return "lengths - 1";
    case "state":
      return `the state input '${s.name}'`;
  }
}
