/**
 * State dicts: parameters under PyTorch's names, as flat row-major arrays.
 * Loading validates everything first and copies only when all of it is
 * right, so a failed load leaves the previous weights untouched.
 */
import type { Tensor } from "../runtime/arena.js";
import { show, UnfoldError } from "../errors.js";

/** Parameters (or gradients) by PyTorch name; values are flat row-major, or nested arrays. */
export type StateDict = Record<string, Float32Array | ArrayLike<number> | NestedArray>;
/** Nested arrays of numbers (PyTorch's `tensor.tolist()`), read in row-major order. */
export type NestedArray = ReadonlyArray<number | NestedArray>;

/** A flat Float32Array of `value`, checked against `shape`; throws naming the tensor. */
export function flattenChecked(name: string, value: unknown, shape: readonly number[]): Float32Array {
  const size = shape.reduce((a, b) => a * b, 1);
  let flat: Float32Array;
  if (value instanceof Float32Array) flat = value;
  else if (ArrayBuffer.isView(value) && !(value instanceof DataView)) flat = Float32Array.from(value as unknown as ArrayLike<number>);
  else if (Array.isArray(value)) {
    const nested = value.some((v) => Array.isArray(v));
    if (nested) {
      const got = shapeOf(value);
      if (got.length !== shape.length || got.some((d, i) => d !== shape[i])) {
        throw new UnfoldError("E_SHAPE", `'${name}' should have shape [${shape.join(", ")}], got [${got.join(", ")}]`, { name });
      }
      flat = Float32Array.from(value.flat(Infinity) as number[]);
    } else flat = Float32Array.from(value as number[]);
  } else {
    throw new UnfoldError("E_OPTION", `'${name}' should be a Float32Array or an array of numbers, got ${show(value)}`, { name, expected: "a Float32Array or an array of numbers", received: value });
  }
  if (flat.length !== size) {
    throw new UnfoldError("E_SHAPE", `'${name}' should have shape [${shape.join(", ")}] (${size} values), got ${flat.length} values`, { name, expected: `${size} values`, received: flat.length });
  }
  for (let i = 0; i < flat.length; i++) {
    if (!Number.isFinite(flat[i])) throw new UnfoldError("E_NAN", `'${name}' has a non-finite value (${flat[i]}) at index ${i}`, { name, received: flat[i] });
  }
  return flat;
}

function shapeOf(v: unknown): number[] {
  const s: number[] = [];
  let cur = v;
  while (Array.isArray(cur)) {
    s.push(cur.length);
    cur = cur[0];
  }
  return s;
}

/**
 * Check a whole state dict against the expected tensors (no missing, no extra,
 * right shapes, finite), then copy. Nothing is written unless all is valid.
 */
export function loadChecked(params: ReadonlyMap<string, Tensor>, sd: StateDict): void {
  if (typeof sd !== "object" || sd === null || Array.isArray(sd)) {
    throw new UnfoldError("E_OPTION", `a state dict must be an object of named tensors, got ${show(sd)}`, { name: "stateDict", expected: "an object { name: Float32Array }", received: sd });
  }
  const extra = Object.keys(sd).filter((k) => !params.has(k));
  if (extra.length) {
    throw new UnfoldError("E_FORMAT", `unexpected key(s) in state dict: ${extra.join(", ")}. Expected: ${[...params.keys()].join(", ")}`);
  }
  const missing = [...params.keys()].filter((k) => !(k in sd));
  if (missing.length) throw new UnfoldError("E_FORMAT", `missing key(s) in state dict: ${missing.join(", ")}`, { name: missing[0] });
  const flats = new Map<Tensor, Float32Array>();
  for (const [name, t] of params) flats.set(t, flattenChecked(name, sd[name], t.shape));
  for (const [t, flat] of flats) t.f32().set(flat);
}

/** Copies of the tensors under their names. */
export function dumpTensors(params: ReadonlyMap<string, Tensor>): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const [name, t] of params) out[name] = t.toArray();
  return out;
}
