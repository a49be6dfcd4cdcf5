/**
 * Small argument checkers for the public entries. Each one throws an
 * {@link UnfoldError} naming the argument, what was expected and what was
 * received, and returns nothing (or the checked value), so an entry point
 * validates everything with one line per argument *before* it changes any
 * state: a call that fails leaves weights, optimizer state, carried state and
 * RNG as they were.
 * @packageDocumentation
 */
import { show, UnfoldError } from "./errors.js";

/** An object (not null, not an array); `what` names it in the error. */
export function checkObject(name: string, v: unknown, what = "an object"): asserts v is object {
  if (typeof v !== "object" || v === null || Array.isArray(v) || ArrayBuffer.isView(v)) {
    throw new UnfoldError("E_OPTION", `${name} must be ${what}, got ${show(v)}`, { name, expected: what, received: v });
  }
}

/** An optional object: undefined passes. */
export function checkOptionalObject(name: string, v: unknown, what = "an object"): void {
  if (v !== undefined) checkObject(name, v, what);
}

/** An integer in [min, max]; `undefined` passes when `optional`. */
export function checkInt(name: string, v: unknown, min = -Infinity, max = Infinity, optional = false): void {
  if (v === undefined && optional) return;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    const expected = rangeText("an integer", min, max, true, true);
    throw new UnfoldError("E_OPTION", `${name} must be ${expected}, got ${show(v)}`, { name, expected, received: v });
  }
}

/** An optional integer in [min, max]. */
export function checkOptionalInt(name: string, v: unknown, min = -Infinity, max = Infinity): void {
  checkInt(name, v, min, max, true);
}

/**
 * A finite number in the range; `minOpen` / `maxOpen` exclude the bound.
 * `undefined` passes when `optional`.
 */
export function checkNumber(
  name: string, v: unknown,
  r: { min?: number; max?: number; minOpen?: boolean; maxOpen?: boolean; optional?: boolean } = {},
): void {
  if (v === undefined && r.optional) return;
  const min = r.min ?? -Infinity;
  const max = r.max ?? Infinity;
  const ok = typeof v === "number" && Number.isFinite(v) && (r.minOpen ? v > min : v >= min) && (r.maxOpen ? v < max : v <= max);
  if (!ok) {
    const expected = rangeText("a finite number", min, max, !r.minOpen, !r.maxOpen);
    throw new UnfoldError("E_OPTION", `${name} must be ${expected}, got ${show(v)}`, { name, expected, received: v });
  }
}

/** A boolean; `undefined` passes when `optional`. */
export function checkBool(name: string, v: unknown, optional = true): void {
  if (v === undefined && optional) return;
  if (typeof v !== "boolean") throw new UnfoldError("E_OPTION", `${name} must be true or false, got ${show(v)}`, { name, expected: "a boolean", received: v });
}

/** A function; `undefined` passes when `optional`. */
export function checkFunction(name: string, v: unknown, optional = true): void {
  if (v === undefined && optional) return;
  if (typeof v !== "function") throw new UnfoldError("E_OPTION", `${name} must be a function, got ${show(v)}`, { name, expected: "a function", received: v });
}

/** One of `values`; `undefined` passes when `optional`. */
export function checkOneOf<T>(name: string, v: unknown, values: readonly T[], optional = false): asserts v is T {
  if (v === undefined && optional) return;
  if (!values.includes(v as T)) {
    const expected = `one of ${values.map((x) => JSON.stringify(x)).join(", ")}`;
    throw new UnfoldError("E_OPTION", `${name} must be ${expected}, got ${show(v)}`, { name, expected, received: v });
  }
}

/** An array-like of numbers (an Array or a typed array, not a string). */
export function checkArrayLike(name: string, v: unknown, what = "an array or typed array of numbers"): asserts v is ArrayLike<number> {
  const ok = Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView));
  if (!ok) throw new UnfoldError("E_OPTION", `${name} must be ${what}, got ${show(v)}`, { name, expected: what, received: v });
}

/** An array (of anything). */
export function checkArray(name: string, v: unknown, what = "an array"): asserts v is unknown[] {
  if (!Array.isArray(v)) throw new UnfoldError("E_OPTION", `${name} must be ${what}, got ${show(v)}`, { name, expected: what, received: v });
}

/** `v.length === n` (E_SHAPE). `shape` describes the expected shape, e.g. "[T, B, H]". */
export function checkLength(name: string, v: ArrayLike<unknown>, n: number, shape?: string): void {
  if (v.length !== n) {
    const expected = `${n} values${shape ? ` (shape ${shape})` : ""}`;
    throw new UnfoldError("E_SHAPE", `${name} should have ${expected}, got ${v.length}`, { name, expected, received: v.length });
  }
}

/** Every value is a finite number (E_NAN names the first bad index). */
export function checkFinite(name: string, v: ArrayLike<number>): void {
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (typeof x !== "number" || !Number.isFinite(x)) {
      if (typeof x !== "number") {
        throw new UnfoldError("E_OPTION", `${name}[${i}] is ${show(x)}; expected a number`, { name: `${name}[${i}]`, expected: "a number", received: x });
      }
      throw new UnfoldError("E_NAN", `${name} has a non-finite value (${x}) at index ${i} (NaN or infinite values are not allowed); clean the data first`, { name: `${name}[${i}]`, expected: "a finite number", received: x });
    }
  }
}

/**
 * Token ids: integers in [0, V), or also negative (padding, "ignore") when
 * `allowNegative`. An id outside the vocabulary is E_VOCAB. `kind` "class"
 * words the message for targets (class ids of the output layer).
 */
export function checkIds(name: string, ids: ArrayLike<number>, V: number, allowNegative = false, kind: "token" | "class" = "token"): void {
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    const bad = typeof id !== "number" || !Number.isInteger(id) || id >= V || (id < 0 && !allowNegative) || id < -0x80000000;
    if (!bad) continue;
    const msg = kind === "class"
      ? `${name}: target ${show(id)} at position ${i} is not a class id in [0, ${V})${allowNegative ? ' (negative ids mean "ignore")' : ""}`
      : `${name}: token id ${show(id)} at position ${i} is outside the vocabulary [0, ${V})${allowNegative ? " (negative ids mean padding)" : ""}; encode with the model's vocabulary`;
    throw new UnfoldError("E_VOCAB", msg, { name: `${name}[${i}]`, expected: `an integer id in [0, ${V})`, received: id });
  }
}

/** A non-empty list of sequences (each array-like). */
export function checkSequences(name: string, v: unknown, allowEmpty = false): asserts v is ArrayLike<number>[] {
  checkArray(name, v, "an array of sequences (arrays or typed arrays)");
  if (!allowEmpty && v.length === 0) throw new UnfoldError("E_SHAPE", `${name} is empty; give at least one sequence`, { name, expected: "at least one sequence", received: v });
  for (let i = 0; i < v.length; i++) checkArrayLike(`${name}[${i}]`, v[i]);
}

function rangeText(what: string, min: number, max: number, minIn: boolean, maxIn: boolean): string {
  const lo = min === -Infinity ? "" : minIn ? `>= ${min}` : `> ${min}`;
  const hi = max === Infinity ? "" : maxIn ? `<= ${max}` : `< ${max}`;
  if (lo && hi) return `${what === "an integer" ? "an integer " : ""}in ${minIn ? "[" : "("}${min}, ${max}${maxIn ? "]" : ")"}`;
  if (lo) return `${what} ${lo}`;
  if (hi) return `${what} ${hi}`;
  return what;
}
