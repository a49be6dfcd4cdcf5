/**
 * The types shared by {@link Sequential} and the functions around it
 * (training in fit.ts, forecast.ts, inspect.ts): the serialisable spec, the
 * engine's batch, and {@link SequentialModel}, what those functions read of a
 * model. They import this file, never sequential.ts, so model/ has no import
 * cycle through them.
 *
 * Legend: T = steps, B = batch, F = input features, O = output size.
 */
import type { Dense, Embedding } from "../layers/dense.js";
import type { Recurrent } from "../layers/recurrent.js";
import type { Ptr } from "../runtime/abi.js";
import type { Scaler } from "../data/timeseries.js";
import type { ParamRegion } from "../train/optimizers.js";
import type { TrainState } from "../train/loop.js";

/** One recurrent block of a model. */
export interface RecurrentSpec {
  /** The cell: LSTM, GRU, or SimpleRNN with tanh ("rnn") or ReLU ("rnn_relu"). */
  cell: "lstm" | "gru" | "rnn" | "rnn_relu";
  /** Hidden size H. */
  hiddenSize: number;
  /** Stacked layers in this block (default 1). */
  numLayers?: number;
  /** Run each layer backwards in time too, concatenating both directions (D*H outputs; default false). */
  bidirectional?: boolean;
  /** Dropout probability between stacked layers while training (default 0). */
  dropout?: number;
  /** LSTM: initial forget-gate bias. */
  forgetBias?: number;
  /**
   * LSTM, GRU: 'sigmoid' (default, PyTorch) or 'hard_sigmoid' (clip(0.2x + 0.5, 0, 1),
   * Keras's and tfjs-layers' default recurrent activation).
   */
  gateActivation?: "sigmoid" | "hard_sigmoid";
  /**
   * GRU: true (default, PyTorch) applies the reset gate to h W_hn^T + b_hn; false
   * to h before W_hn (Keras reset_after=False, tfjs-layers' GRU, ONNX linear_before_reset=0).
   */
  resetAfter?: boolean;
}

/** The input of a model: token ids (with an Embedding) or feature vectors. */
export type InputSpec =
  | {
      /** Token ids, embedded. */
      type: "tokens";
      /** Vocabulary size V. */
      vocabSize: number;
      /** Embedding size E. */
      embeddingDim: number;
    }
  | {
      /** Feature vectors. */
      type: "features";
      /** Features F per step. */
      size: number;
    };

/** A serialisable model definition. */
export interface SequentialSpec {
  /** Token ids through an Embedding, or feature vectors. */
  input: InputSpec;
  /** The recurrent blocks, first to last. */
  recurrent: RecurrentSpec[];
  /** The Dense head: O outputs per step; loss 'xent' (softmax cross-entropy on class ids) or 'mse'. */
  output: {
    /** Outputs O per step (classes for xent). */
    size: number;
    /** "xent": softmax cross-entropy on class ids; "mse": mean squared error. */
    loss: "xent" | "mse";
  };
  /** "many-to-many": an output at every step; "many-to-one": one output per sequence, at its last real step. */
  mode: "many-to-many" | "many-to-one";
  /**
   * Many-to-one only: which row of the top block's output [T, B, D*H] the head
   * reads for sequence b of length L_b (default "last-step").
   *
   *  - "last-step": step L_b - 1, both directions — PyTorch's
   *    `output[lengths - 1, arange(B)]`. For a bidirectional top block the
   *    reverse direction has then read only the last token.
   *  - "final-states": each direction's final state — the forward half at
   *    step L_b - 1, the reverse half at step 0 (where the reverse direction
   *    ends) — as Keras' `Bidirectional(LSTM(..., return_sequences=False))`
   *    and PyTorch's `torch.cat((h_n[-2], h_n[-1]), 1)`. The choice for a
   *    bidirectional classifier.
   *
   * For a unidirectional top block both are the same. A many-to-many spec
   * with `readout` is refused (E_OPTION): it reads every step.
   */
  readout?: "last-step" | "final-states";
  /** Seeds initialisation, dropout, shuffling and sampling (default 0). */
  seed?: number;
}

/**
 * A batch in the engine's layout (time-major). Build one with
 * `padBatch` (src/data) or let {@link Sequential.fit} do it.
 */
export interface Batch {
  /** Time steps. */
  T: number;
  /** Sequences. */
  B: number;
  /** Token ids [T, B] (tokens input); a negative id is padding. */
  ids?: Int32Array;
  /** Features [T, B, F] (features input). */
  features?: Float32Array;
  /**
   * Real length of each sequence [B] (default: all T) of a right-padded batch,
   * as PyTorch's `pack_padded_sequence(x, lengths, enforce_sorted=False)`:
   * what lies past a sequence's length is never read, and its results are the
   * same in any batch. Many-to-one reads step lengths[b]-1 (both directions,
   * PyTorch's `output[lengths - 1, arange(B)]`), or with `readout:
   * "final-states"` the reverse direction at step 0.
   */
  lengths?: Int32Array;
  /**
   * xent: class ids, many-to-many [T, B] (negative = ignore, e.g. padding),
   * many-to-one [B]. mse: values, many-to-many [T, B, O], many-to-one [B, O].
   */
  targets?: Int32Array | Float32Array;
  /** mse many-to-many: 1 at real steps, 0 at padding [T, B] (default all 1). */
  mask?: Float32Array;
}

/** A stateful step-by-step view of a model (`InferenceSession`), as forecast() uses it. */
export interface StepSession {
  /** Read steps [n, F] flat (or n token ids); returns the output after the last one. */
  feed(input: ArrayLike<number>): Float32Array;
  /** One more step; returns its output. */
  step(x: number | ArrayLike<number>): Float32Array;
  reset(): void;
  dispose(): void;
}

/**
 * What training, forecasting and inspection read of a {@link Sequential}
 * (which implements it): its spec and layers, the engine-level
 * forward / loss / backward on a {@link Batch}, and its carried state.
 */
export interface SequentialModel {
  readonly spec: SequentialSpec;
  readonly embedding: Embedding | null;
  readonly recurrent: Recurrent[];
  readonly head: Dense;
  /** Features per step entering the first recurrent layer (E or F). */
  readonly inputSize: number;
  scaler: Scaler | null;
  trainState: TrainState;
  regions(): ParamRegion[];
  checkBatch(b: Batch, needTargets: boolean): void;
  /** Head output [rows, O] in WASM memory: rows = T*B (many-to-many) or B (many-to-one). */
  forwardPtr(b: Batch, opts?: { training?: boolean; state?: "zeros" | "keep" }): { out: Ptr; rows: number };
  lossAndGrad(b: Batch): { loss: number; count: number };
  /** `stateGrad` false: the caller has no use for dL/dh0 (it may be left uncomputed). */
  backwardPtr(stateGrad?: boolean): { dh0: Ptr; dc0: Ptr | null };
  carryState(step?: number): void;
  resetState(): void;
  session(): StepSession;
}
