/**
 * TensorFlow.js / Keras import: `fromTfjs(modelJson, weightData)` reads the
 * layers format that `model.save()` and `tensorflowjs_converter` write (a
 * model.json topology, weight specs, and the weights' bytes) into a
 * {@link Sequential}.
 *
 * Layers: Embedding (mask_zero: token 0 is padding -> pass lengths),
 * LSTM / GRU / SimpleRNN (return_sequences, use_bias; recurrent_activation
 * sigmoid or hard_sigmoid; GRU reset_after false, tfjs-layers' only one, or
 * true with Keras's bias [2, 3H]), Bidirectional (merge_mode concat) with
 * return_sequences, Dense and TimeDistributed(Dense) (activation linear or
 * softmax, the last layer), Dropout / SpatialDropout1D / Masking (identity at
 * inference; Masking means lengths).
 *
 * Keras keeps kernels as [in, G*H] with the gates as column blocks (LSTM
 * i, f, c, o; GRU z, r, h) and one bias; ours are PyTorch's [G*H, in] rows in
 * i, f, g, o / r, z, n with two biases (the second zero here).
 *
 * Legend: V vocabulary, E embedding size, F features, H hidden size, O outputs.
 */
import { UnfoldError } from "../errors.js";
import { Sequential, type RecurrentSpec, type SequentialSpec } from "../model/sequential.js";
import { regroupGates, transpose } from "../util/layout.js";

/** A weight's entry in model.json's weightsManifest (or the artifacts' weightSpecs). */
export interface TfjsWeightSpec {
  /** The weight's name, `<layer>/<weight>` (e.g. `lstm/lstm_cell/kernel`). */
  name: string;
  /** Its shape, in Keras's layout (a kernel is [in, G*H]). */
  shape: number[];
  /** Its dtype; default `"float32"`, the only one read. */
  dtype?: string;
}

/** What {@link fromTfjs} reads: model.json as parsed, or tfjs ModelArtifacts (`tf.io.withSaveHandler`). */
export interface TfjsModelJson {
  /** The Keras model config (model.json's `modelTopology`): a Sequential's layers. */
  modelTopology: unknown;
  /** model.json's weight groups, in the order of their bytes in `weightData`. */
  weightsManifest?: {
    /** The group's .bin file names (not read: pass their bytes concatenated as `weightData`). */
    paths?: string[];
    /** The group's weights, in the order of their bytes. */
    weights: TfjsWeightSpec[];
  }[];
  /** ModelArtifacts' flat list of weights; used instead of `weightsManifest` when given. */
  weightSpecs?: TfjsWeightSpec[];
}

/** What {@link fromTfjs} recognised. */
export interface TfjsImportDescription {
  /** The topology's `keras_version` (`""` when absent). */
  kerasVersion: string;
  /** The model's input. */
  input: {
    /** `"tokens"` (an Embedding first) or `"features"`. */
    type: "tokens" | "features";
    /** The vocabulary size V for tokens, else the feature size F. */
    size: number;
    /** Always `"batch-first"`: inputs are [batch, T, ...], as in Keras. */
    layout: "batch-first";
    /** The Embedding had mask_zero: token 0 is padding, so pass lengths. */
    maskZero: boolean;
    /** A Masking layer was present: masked steps are padding, so pass lengths. */
    masking: boolean;
  };
  /** Each Keras layer, in order, with what it became. */
  layers: {
    /** The Keras layer's name. */
    name: string;
    /** Its Keras class (`LSTM`, `Bidirectional`, `Dense`, ...). */
    className: string;
    /** For a recurrent layer: the cell it became. */
    cell?: RecurrentSpec["cell"];
    /** For a recurrent layer: its units H (per direction). */
    units?: number;
    /** For a recurrent layer: whether it was wrapped in Bidirectional. */
    bidirectional?: boolean;
    /** LSTM / GRU: the recurrent_activation of the gates. */
    gateActivation?: "sigmoid" | "hard_sigmoid";
    /** GRU: Keras's reset_after (true: the reset gate applies after the recurrent matmul). */
    resetAfter?: boolean;
    /** True for a layer that is the identity at inference (Dropout, SpatialDropout1D, Masking, GaussianNoise). */
    ignored?: boolean;
  }[];
  /** `"many-to-many"` if the last recurrent layer returns sequences, else `"many-to-one"`. */
  mode: "many-to-many" | "many-to-one";
  /** The Dense head, or null when there is none (the model then has an identity head). */
  head: {
    /** The Dense layer's name. */
    name: string;
    /** Its units O (the model's output size). */
    units: number;
    /** Its activation. */
    activation: "linear" | "softmax";
  } | null;
  /** The loss the model is set to train with (`opts.loss`, else xent for a softmax head, else mse). */
  loss: "xent" | "mse";
  /** Things to know when using the model (padding and lengths, a missing head, ...). */
  notes: string[];
}

const bad = (code: "E_FORMAT" | "E_UNSUPPORTED" | "E_SHAPE" | "E_NAN", msg: string, name: string, received?: unknown) =>
  new UnfoldError(code, `fromTfjs: ${msg}`, { name, received });

/**
 * Import a tfjs-layers (Keras) Sequential model.
 * @param modelJson model.json, parsed (or `{ modelTopology, weightSpecs }` artifacts)
 * @param weightData the weights' bytes: the .bin files of weightsManifest concatenated in order
 * @param opts.loss the loss to train with; default 'xent' if the head is softmax, else 'mse'
 * @returns the model and what was recognised
 * @throws UnfoldError E_FORMAT (malformed JSON, a weight the binary lacks), E_UNSUPPORTED (naming the layer and why),
 *   E_SHAPE (weights that disagree), E_NAN (non-finite weights)
 */
export function fromTfjs(modelJson: TfjsModelJson | string, weightData: ArrayBuffer | Uint8Array, opts: { loss?: "xent" | "mse"; seed?: number } = {}): {
  /** The imported model. */
  model: Sequential;
  /** What was recognised. */
  description: TfjsImportDescription;
} {
  let mj: TfjsModelJson;
  try {
    mj = typeof modelJson === "string" ? (JSON.parse(modelJson) as TfjsModelJson) : modelJson;
  } catch (e) {
    throw new UnfoldError("E_FORMAT", "fromTfjs: model.json is not JSON", { name: "modelJson", cause: e });
  }
  if (!mj || typeof mj !== "object" || !mj.modelTopology || typeof mj.modelTopology !== "object") throw bad("E_FORMAT", "model.json has no modelTopology (is it a tfjs layers model?)", "modelJson.modelTopology");
  if (!(weightData instanceof ArrayBuffer) && !(weightData instanceof Uint8Array)) throw new UnfoldError("E_OPTION", "fromTfjs: weightData must be an ArrayBuffer or Uint8Array", { name: "weightData", received: weightData });
  const bytes = weightData instanceof Uint8Array ? weightData : new Uint8Array(weightData);
  const specs = mj.weightSpecs ?? (mj.weightsManifest ?? []).flatMap((g) => g.weights ?? []);
  if (!Array.isArray(specs)) throw bad("E_FORMAT", "weightsManifest / weightSpecs is not a list", "modelJson.weightsManifest");
  // Every weight, sliced out of the binary in order.
  const weights = new Map<string, { shape: number[]; data: Float32Array }>();
  let off = 0;
  for (const w of specs) {
    if (!w || typeof w.name !== "string" || !Array.isArray(w.shape) || !w.shape.every((d) => Number.isInteger(d) && d >= 0)) throw bad("E_FORMAT", `a malformed weight entry ${JSON.stringify(w)?.slice(0, 80)}`, "weightsManifest");
    if ((w.dtype ?? "float32") !== "float32") throw bad("E_UNSUPPORTED", `weight '${w.name}' is ${w.dtype} (only float32; quantized weights are not read)`, w.name);
    const n = w.shape.reduce((a, b) => a * b, 1);
    if (off + 4 * n > bytes.length) throw bad("E_FORMAT", `weight '${w.name}' [${w.shape}] needs bytes ${off}..${off + 4 * n} but the weight data has ${bytes.length}`, w.name);
    const data = new Float32Array(n);
    const dv = new DataView(bytes.buffer, bytes.byteOffset + off, 4 * n);
    for (let i = 0; i < n; i++) data[i] = dv.getFloat32(4 * i, true);
    for (let i = 0; i < n; i++) if (!Number.isFinite(data[i])) throw bad("E_NAN", `weight '${w.name}' holds ${data[i]} at index ${i}`, w.name, data[i]);
    weights.set(w.name, { shape: w.shape, data });
    off += 4 * n;
  }
  if (off !== bytes.length) throw bad("E_FORMAT", `the weight data has ${bytes.length} bytes but the weights take ${off}`, "weightData", bytes.length);

  const topo = mj.modelTopology as { class_name?: string; keras_version?: string; config?: unknown; model_config?: unknown };
  const root = (topo.model_config ?? topo) as { class_name?: string; config?: { layers?: unknown } | unknown[] };
  if (root.class_name !== "Sequential") throw bad("E_UNSUPPORTED", `a ${root.class_name} model; fromTfjs reads Sequential models`, "modelTopology.class_name", root.class_name);
  const layerList = (Array.isArray(root.config) ? root.config : (root.config as { layers?: unknown })?.layers) as { class_name: string; config: Record<string, unknown> }[] | undefined;
  if (!Array.isArray(layerList) || layerList.length === 0) throw bad("E_FORMAT", "the Sequential has no layers", "modelTopology.config.layers");

  const used = new Set<string>();
  const take = (prefix: string, suffix: string, shape: number[] | null, layer: string): Float32Array => {
    const name = [...weights.keys()].find((k) => k.startsWith(`${prefix}/`) && k.endsWith(`/${suffix}`) && !used.has(k));
    if (!name) throw bad("E_FORMAT", `layer '${layer}' needs a weight '${prefix}/.../${suffix}' that the weights manifest does not list`, `${prefix}/${suffix}`);
    const w = weights.get(name)!;
    if (shape && (w.shape.length !== shape.length || w.shape.some((d, i) => shape[i] >= 0 && d !== shape[i]))) throw bad("E_SHAPE", `weight '${name}' of layer '${layer}' has shape [${w.shape}], expected [${shape.map((d) => (d < 0 ? "?" : d))}]`, name, w.shape);
    used.add(name);
    return w.data;
  };

  const desc: TfjsImportDescription = { kerasVersion: String(topo.keras_version ?? ""), input: { type: "features", size: 0, layout: "batch-first", maskZero: false, masking: false }, layers: [], mode: "many-to-many", head: null, loss: "mse", notes: [] };
  const state: Record<string, Float32Array> = {};
  const blocks: RecurrentSpec[] = [];
  let input: SequentialSpec["input"] | null = null;
  let F = 0; // features per step entering the next layer
  let seqOut = true; // the current output has a time axis
  let head: { W: Float32Array; b: Float32Array; O: number; softmax: boolean } | null = null;

  for (const [li, L] of layerList.entries()) {
    if (!L || typeof L.class_name !== "string" || !L.config || typeof L.config !== "object") throw bad("E_FORMAT", `layer ${li} is malformed`, `layers[${li}]`);
    const c = L.config;
    const name = String(c.name ?? `layers[${li}]`);
    const cls = L.class_name;
    if (head) throw bad("E_UNSUPPORTED", `layer '${name}' (${cls}) after the Dense head; the head must be the last layer`, name, cls);
    const batchShape = (c.batch_input_shape ?? c.batchInputShape) as (number | null)[] | undefined;
    if (li === 0 && cls !== "Embedding" && cls !== "InputLayer") {
      const f = batchShape?.[batchShape.length - 1];
      if (typeof f !== "number") throw bad("E_UNSUPPORTED", `the first layer '${name}' has no batch_input_shape with a feature size`, name);
      input = { type: "features", size: f };
      F = f;
    }
    switch (cls) {
      case "InputLayer": {
        const f = batchShape?.[batchShape.length - 1];
        if (typeof f !== "number") throw bad("E_UNSUPPORTED", `input layer '${name}' has no feature size (token inputs need an Embedding layer)`, name);
        input = { type: "features", size: f };
        F = f;
        break;
      }
      case "Embedding": {
        if (li !== 0 && input) throw bad("E_UNSUPPORTED", `an Embedding '${name}' that is not the first layer`, name);
        const V = Number(c.input_dim), E = Number(c.output_dim);
        const w = take(name, "embeddings", [V, E], name);
        state["embedding.weight"] = w;
        input = { type: "tokens", vocabSize: V, embeddingDim: E };
        F = E;
        desc.input.maskZero = !!c.mask_zero;
        if (c.mask_zero) desc.notes.push("mask_zero: token 0 is padding; give each sequence's length (its tokens before the zeros) as the batch's lengths");
        desc.layers.push({ name, className: cls });
        break;
      }
      case "Dropout":
      case "SpatialDropout1D":
      case "Masking":
      case "GaussianNoise":
        if (cls === "Masking") {
          desc.input.masking = true;
          desc.notes.push(`Masking (mask_value ${String(c.mask_value ?? 0)}): masked steps are padding; give each sequence's length as the batch's lengths`);
        }
        desc.layers.push({ name, className: cls, ignored: true });
        break;
      case "LSTM":
      case "GRU":
      case "SimpleRNN":
      case "Bidirectional": {
        if (!input) throw bad("E_UNSUPPORTED", `layer '${name}' has no input size before it`, name);
        if (!seqOut) throw bad("E_UNSUPPORTED", `recurrent layer '${name}' after a layer that returned only its last step (set return_sequences on the layer before)`, name);
        const bi = cls === "Bidirectional";
        const inner = bi ? (c.layer as { class_name: string; config: Record<string, unknown> }) : L;
        if (bi) {
          if (!inner || typeof inner !== "object" || !["LSTM", "GRU", "SimpleRNN"].includes(inner.class_name)) throw bad("E_UNSUPPORTED", `Bidirectional '${name}' wraps ${inner?.class_name}`, name);
          if ((c.merge_mode ?? "concat") !== "concat") throw bad("E_UNSUPPORTED", `Bidirectional '${name}' merge_mode '${String(c.merge_mode)}' (only concat: unfold-rnn's bidirectional layers concatenate)`, name, c.merge_mode);
        }
        const rc = inner.config;
        const kind = inner.class_name;
        const H = Number(rc.units);
        if (!Number.isInteger(H) || H < 1) throw bad("E_FORMAT", `layer '${name}' has units ${String(rc.units)}`, name);
        const cell: RecurrentSpec["cell"] = kind === "LSTM" ? "lstm" : kind === "GRU" ? "gru" : rc.activation === "relu" ? "rnn_relu" : "rnn";
        if (kind === "SimpleRNN" && rc.activation !== "tanh" && rc.activation !== "relu") throw bad("E_UNSUPPORTED", `SimpleRNN '${name}' activation '${String(rc.activation)}' (tanh or relu)`, name, rc.activation);
        if (kind !== "SimpleRNN" && (rc.activation ?? "tanh") !== "tanh") throw bad("E_UNSUPPORTED", `${kind} '${name}' activation '${String(rc.activation)}' (the cell activation must be tanh)`, name, rc.activation);
        const ra = (rc.recurrent_activation ?? "hard_sigmoid") as string;
        if (kind !== "SimpleRNN" && ra !== "sigmoid" && ra !== "hard_sigmoid") throw bad("E_UNSUPPORTED", `${kind} '${name}' recurrent_activation '${ra}' (sigmoid or hard_sigmoid)`, name, ra);
        for (const flag of ["stateful", "return_state", "unroll"] as const) if (rc[flag]) throw bad("E_UNSUPPORTED", `layer '${name}' has ${flag} set`, name);
        if (!bi && rc.go_backwards) throw bad("E_UNSUPPORTED", `layer '${name}' has go_backwards alone; unfold-rnn runs a reversed direction as the second half of a Bidirectional layer`, name);
        const returnSeq = !!rc.return_sequences;
        if (bi && !returnSeq) throw bad("E_UNSUPPORTED", `Bidirectional '${name}' without return_sequences gives the backward layer's final state (its step 0); unfold-rnn's many-to-one reads both directions at the last step`, name);
        const resetAfter = kind === "GRU" ? !!rc.reset_after : true;
        const G = kind === "LSTM" ? 4 : kind === "GRU" ? 3 : 1;
        const useBias = rc.use_bias !== false;
        const dirs = bi ? ["forward", "backward"] : [""];
        const spec: RecurrentSpec = { cell, hiddenSize: H };
        if (bi) spec.bidirectional = true;
        if (kind !== "SimpleRNN" && ra === "hard_sigmoid") spec.gateActivation = "hard_sigmoid";
        if (kind === "GRU" && !resetAfter) spec.resetAfter = false;
        // A block of the same kind before it (the previous layer) stacks as layer l.
        const prev = blocks[blocks.length - 1];
        const stack = !!prev && JSON.stringify({ ...prev, numLayers: undefined }) === JSON.stringify({ ...spec, numLayers: undefined }) && lastWasRecurrent(desc);
        const k = stack ? blocks.length - 1 : blocks.length;
        const l = stack ? prev.numLayers ?? 1 : 0;
        if (stack) prev.numLayers = l + 1;
        else blocks.push(spec);
        const order = kind === "LSTM" ? [0, 1, 2, 3] : kind === "GRU" ? [1, 0, 2] : [0];
        dirs.forEach((dname, d) => {
          const pick = (suffix: string, shape: number[] | null) => {
            if (!bi) return take(name, suffix, shape, name);
            const key = [...weights.keys()].find((n) => n.startsWith(`${name}/${dname}`) && n.endsWith(`/${suffix}`) && !used.has(n));
            if (!key) throw bad("E_FORMAT", `Bidirectional '${name}' needs a ${dname} weight '.../${suffix}' that the weights manifest does not list`, `${name}/${dname}/${suffix}`);
            const w = weights.get(key)!;
            if (shape && (w.shape.length !== shape.length || w.shape.some((x, i) => x !== shape[i]))) throw bad("E_SHAPE", `weight '${key}' has shape [${w.shape}], expected [${shape}]`, key, w.shape);
            used.add(key);
            return w.data;
          };
          const kernel = pick("kernel", [F, G * H]);
          const rec = pick("recurrent_kernel", [H, G * H]);
          let bIh: Float32Array = new Float32Array(G * H), bHh: Float32Array = new Float32Array(G * H);
          if (useBias) {
            if (kind === "GRU" && resetAfter) {
              const b = pick("bias", [2, G * H]); // Keras reset_after: [input bias; recurrent bias]
              bIh = regroupGates(b.subarray(0, G * H), H, 1, order);
              bHh = regroupGates(b.subarray(G * H), H, 1, order);
            } else bIh = regroupGates(pick("bias", [G * H]), H, 1, order);
          }
          const sfx = `_l${l}${d === 1 ? "_reverse" : ""}`;
          state[`rnn${k}.weight_ih${sfx}`] = kerasKernel(kernel, F, H, order);
          state[`rnn${k}.weight_hh${sfx}`] = kerasKernel(rec, H, H, order);
          state[`rnn${k}.bias_ih${sfx}`] = bIh;
          state[`rnn${k}.bias_hh${sfx}`] = bHh;
        });
        desc.layers.push({ name, className: cls, cell, units: H, bidirectional: bi, ...(kind !== "SimpleRNN" ? { gateActivation: ra as "sigmoid" | "hard_sigmoid" } : {}), ...(kind === "GRU" ? { resetAfter } : {}) });
        F = (bi ? 2 : 1) * H;
        seqOut = returnSeq;
        break;
      }
      case "Dense":
      case "TimeDistributed": {
        const dc = cls === "TimeDistributed" ? (c.layer as { class_name: string; config: Record<string, unknown> }) : L;
        if (!dc || dc.class_name !== "Dense") throw bad("E_UNSUPPORTED", `TimeDistributed '${name}' wraps ${dc?.class_name} (only Dense)`, name);
        if (blocks.length === 0) throw bad("E_UNSUPPORTED", `Dense '${name}' before any recurrent layer`, name);
        if (cls === "TimeDistributed" && !seqOut) throw bad("E_UNSUPPORTED", `TimeDistributed '${name}' after a layer that returned only its last step`, name);
        const act = (dc.config.activation ?? "linear") as string;
        if (act !== "linear" && act !== "softmax") throw bad("E_UNSUPPORTED", `Dense '${name}' activation '${act}' (linear or softmax; the head is the last layer)`, name, act);
        const O = Number(dc.config.units);
        const W = take(name, "kernel", [F, O], name);
        const b = dc.config.use_bias === false ? new Float32Array(O) : take(name, "bias", [O], name);
        head = { W: transpose(W, F, O), b, O, softmax: act === "softmax" };
        desc.head = { name, units: O, activation: act as "linear" | "softmax" };
        desc.layers.push({ name, className: cls });
        break;
      }
      default:
        throw bad("E_UNSUPPORTED", `layer '${name}' (${cls}); fromTfjs reads Embedding, LSTM, GRU, SimpleRNN, Bidirectional, Dense, TimeDistributed(Dense), Dropout and Masking`, name, cls);
    }
  }
  if (!input || blocks.length === 0) throw bad("E_UNSUPPORTED", "the model has no recurrent layer", "modelTopology");
  const unusedW = [...weights.keys()].filter((k) => !used.has(k));
  if (unusedW.length) throw bad("E_FORMAT", `weights no layer reads: ${unusedW.join(", ")}`, unusedW[0]);
  let O = F;
  if (head) {
    state["head.weight"] = head.W;
    state["head.bias"] = head.b;
    O = head.O;
  } else {
    const W = new Float32Array(F * F);
    for (let i = 0; i < F; i++) W[i * F + i] = 1;
    state["head.weight"] = W;
    state["head.bias"] = new Float32Array(F);
    desc.notes.push("no Dense head: the model has an identity head");
  }
  const loss = opts.loss ?? (head?.softmax ? "xent" : "mse");
  desc.loss = loss;
  desc.mode = seqOut ? "many-to-many" : "many-to-one";
  desc.input.type = input.type;
  desc.input.size = input.type === "tokens" ? input.vocabSize : input.size;
  const spec: SequentialSpec = { input, recurrent: blocks, output: { size: O, loss }, mode: desc.mode, seed: opts.seed ?? 0 };
  const model = new Sequential(spec);
  try {
    model.loadStateDict(state);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { model, description: desc };
}

/** Whether the layer before (skipping ignored ones) was recurrent, so a same-kind layer stacks onto its block. */
function lastWasRecurrent(desc: TfjsImportDescription): boolean {
  for (let i = desc.layers.length - 1; i >= 0; i--) {
    if (desc.layers[i].ignored) return false; // a Dropout between layers: keep them as separate blocks
    return desc.layers[i].cell !== undefined;
  }
  return false;
}

/** Keras kernel [cols, G*H] (gate column blocks in Keras order) -> ours [G*H, cols] rows in our order: block j = Keras block order[j]. */
function kerasKernel(k: Float32Array, cols: number, H: number, order: number[]): Float32Array {
  const G = order.length;
  const out = new Float32Array(G * H * cols);
  for (let j = 0; j < G; j++) {
    const src = order[j];
    for (let u = 0; u < H; u++) for (let c = 0; c < cols; c++) out[(j * H + u) * cols + c] = k[c * G * H + src * H + u];
  }
  return out;
}

