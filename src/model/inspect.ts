/**
 * The unfolded view (lecture p.4-6, p.38): run one sequence through a
 * {@link Sequential} model and return, for every time step and every
 * recurrent layer, what the network holds inside — the hidden state h, the
 * LSTM's cell state c and the gate activations (LSTM i, f, g, o; GRU r, z, n).
 *
 * The values are read from the caches the layers' forward already keeps for
 * backpropagation through time, so this is the engine's own arithmetic, not a
 * second implementation (test/inspect.test.ts checks it against the float64
 * reference layers).
 *
 * Legend: T = steps of the inspected sequence, H = hidden size, O = outputs
 * of the head, F = input features.
 */
import { UnfoldError } from "../errors.js";
import type { CellKind } from "../layers/recurrent.js";
import { heap } from "../runtime/wasm.js";
import { softmax } from "./sampling.js";
import type { SequentialModel as Sequential } from "./types.js";

/** What one layer-direction of a recurrent block did at every step. */
export interface LayerInspection {
  /** `rnn0.l0`, `rnn0.l1_reverse`, ...: the recurrent block and layer, named as in the state dict. */
  name: string;
  /** Index of the recurrent block in the model's spec (the `rnnK` of its parameter names). */
  block: number;
  /** Stacked layer inside the block. */
  layer: number;
  /** 0 forward, 1 reverse (bidirectional blocks). */
  direction: 0 | 1;
  /** The layer's cell. */
  cell: CellKind;
  /** H */
  hiddenSize: number;
  /**
   * The kinds of value, in display order: LSTM `h, c, i, f, g, o`;
   * GRU `h, r, z, n`; SimpleRNN `h`.
   */
  kinds: string[];
  /**
   * Per kind, [T, H] row-major: row t is the value after reading input step
   * t (h_t, c_t) or while reading it (the gates of step t).
   */
  values: Record<string, Float32Array>;
}

/** Result of {@link inspect}. */
export interface Inspection {
  /** T */
  steps: number;
  /** Every layer-direction, in the order data flows (block 0 layer 0 forward first). */
  layers: LayerInspection[];
  /** Many-to-many xent models: the head's softmax at every step, [T, O] (the prediction of the next token). */
  probs?: Float32Array;
}

/** The kinds of value each cell keeps, in display order. */
export const INSPECT_KINDS: Readonly<Record<CellKind, readonly string[]>> = {
  lstm: ["h", "c", "i", "f", "g", "o"],
  gru: ["h", "r", "z", "n"],
  rnn_tanh: ["h"],
  rnn_relu: ["h"],
};

/**
 * Run `input` (one sequence, from zero initial state) through `model` and
 * return every layer's hidden state, cell state and gate activations at every
 * step. The model's weights are not changed; a carried state is reset.
 *
 * @param model a {@link Sequential} (any mode; tokens or features input)
 * @param input tokens model: T token ids; features model: T*F values, [T, F] flat
 * @throws UnfoldError E_SHAPE (empty or ragged input), E_VOCAB (an id outside
 *   the vocabulary), E_NAN (a non-finite feature), E_OPTION (not a Sequential)
 */
export function inspect(model: Sequential, input: ArrayLike<number>): Inspection {
  if (!model || typeof model !== "object" || !Array.isArray((model as Sequential).recurrent) || typeof (model as Sequential).forwardPtr !== "function") {
    throw new UnfoldError("E_OPTION", "inspect() needs a Sequential model", { name: "model", expected: "a Sequential", received: model });
  }
  if (!input || typeof input.length !== "number" || input.length === 0) {
    throw new UnfoldError("E_SHAPE", "inspect() needs a non-empty sequence: token ids, or T*F feature values", { name: "input", expected: "at least one step", received: input });
  }
  const F = model.inputSize;
  let T: number;
  let batch: { T: number; B: number; ids?: Int32Array; features?: Float32Array };
  if (model.embedding) {
    T = input.length;
    const V = model.embedding.numEmbeddings;
    for (let t = 0; t < T; t++) {
      const id = input[t];
      if (!Number.isInteger(id) || id < 0 || id >= V) {
        throw new UnfoldError("E_VOCAB", `token id ${id} at step ${t} is not in the vocabulary [0, ${V}); encode the text with the model's vocab`, { name: `input[${t}]`, expected: `an integer in [0, ${V})`, received: id });
      }
    }
    batch = { T, B: 1, ids: Int32Array.from(input) };
  } else {
    if (input.length % F !== 0) {
      throw new UnfoldError("E_SHAPE", `a features model reads ${F} values per step, and ${input.length} is not a multiple of ${F}`, { name: "input", expected: `T*${F} values ([T, ${F}] flat)`, received: input.length });
    }
    T = input.length / F;
    for (let i = 0; i < input.length; i++) {
      if (!Number.isFinite(input[i])) throw new UnfoldError("E_NAN", `input value ${i} is ${input[i]}; clean the data first`, { name: `input[${i}]`, expected: "a finite number", received: input[i] });
    }
    batch = { T, B: 1, features: Float32Array.from(input) };
  }

  const { out, rows } = model.forwardPtr(batch, { state: "zeros" });
  const hp = heap();
  let probs: Float32Array | undefined;
  if (model.spec.mode === "many-to-many" && model.spec.output.loss === "xent") {
    const O = model.spec.output.size;
    const logits = hp.f32(out, rows * O).slice(); // [T, O] (B = 1)
    probs = new Float32Array(rows * O);
    for (let t = 0; t < rows; t++) probs.set(softmax(logits.subarray(t * O, (t + 1) * O)), t * O);
  }

  const layers: LayerInspection[] = [];
  model.recurrent.forEach((r, block) => {
    const H = r.hiddenSize;
    const G = r.gates;
    const D = r.numDirections;
    for (let l = 0; l < r.numLayers; l++) {
      for (let d = 0; d < D; d++) {
        const a = r.lastActivations(l * D + d);
        if (!a || a.T !== T || a.B !== 1) throw new UnfoldError("E_STATE", "inspect(): the layer kept no activations of this sequence (internal error)");
        const kinds = INSPECT_KINDS[r.kind];
        const values: Record<string, Float32Array> = {};
        // h_t (and c_t) live in slot t+1 going forward, slot t going backward (B = 1: a slot is H values).
        const slot0 = d === 0 ? 1 : 0;
        values.h = hp.f32(a.hs + slot0 * H * 4, T * H).slice();
        if (a.cs !== null) values.c = hp.f32(a.cs + slot0 * H * 4, T * H).slice();
        // Gates: per step a [G*H] row (LSTM, activated) or [4H] (GRU cache r, z, n, hn); split into [T, H] per gate.
        const gateKinds = r.kind === "lstm" ? ["i", "f", "g", "o"] : r.kind === "gru" ? ["r", "z", "n"] : [];
        const src = r.kind === "gru" ? a.gru! : a.gates;
        const stride = r.kind === "gru" ? 4 * H : G * H;
        if (gateKinds.length > 0) {
          const all = hp.f32(src, T * stride);
          gateKinds.forEach((k, gi) => {
            const v = new Float32Array(T * H);
            for (let t = 0; t < T; t++) v.set(all.subarray(t * stride + gi * H, t * stride + (gi + 1) * H), t * H);
            values[k] = v;
          });
        }
        layers.push({ name: `rnn${block}.l${l}${d === 1 ? "_reverse" : ""}`, block, layer: l, direction: d as 0 | 1, cell: r.kind, hiddenSize: H, kinds: [...kinds], values });
      }
    }
  });
  model.resetState();
  return { steps: T, layers, probs };
}
