/**
 * Where a streaming session finds a model's int8 weights (src/model/quantize.ts).
 *
 * A quantized model registers, for each {@link Sequential} it steps with a
 * session (itself, or a Seq2Seq's decoder), its int8 matrices by their
 * parameter names (`rnn0.weight_ih_l0`, `head.weight`). The session
 * (src/model/session.ts) looks its model up here; a model that is not in the
 * map runs the f32 kernels. A WeakMap, so this module imports no model code
 * and nothing outlives its model.
 */
import type { Ptr } from "../runtime/abi.js";

/**
 * One int8 matrix in WASM memory: q [rows, cols] int8, scale [rows] f32
 * (w ~ q * scale per row), sum [rows] i32 (each row's sum of q over its first
 * cols & ~15 columns, for the relaxed build's kernel).
 */
export interface Q8Matrix {
  readonly q: Ptr;
  readonly scale: Ptr;
  readonly sum: Ptr;
  readonly rows: number;
  readonly cols: number;
}

const registry = new WeakMap<object, ReadonlyMap<string, Q8Matrix>>();

/** @internal Register `model`'s int8 matrices by parameter name. */
export function setQ8Weights(model: object, weights: ReadonlyMap<string, Q8Matrix>): void {
  registry.set(model, weights);
}

/** @internal The int8 matrices a quantized model registered for `model`, or undefined (f32). */
export function q8Weights(model: object): ReadonlyMap<string, Q8Matrix> | undefined {
  return registry.get(model);
}
