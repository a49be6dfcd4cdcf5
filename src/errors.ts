/**
 * The one error type of unfold-rnn. Every misuse of the public API, every
 * bad file and every runtime problem is an {@link UnfoldError} with a stable
 * `code` (documented in docs/ERRORS.md), the name of the offending argument
 * or option, and what was expected and what was received.
 * @packageDocumentation
 */

/** Stable, machine-readable error codes. Never renamed once published. */
export type UnfoldErrorCode =
  /** An array or tensor has the wrong length or shape. */
  | "E_SHAPE"
  /** An option or argument has the wrong type, is out of range, or is not one of the allowed values. */
  | "E_OPTION"
  /** A token id outside the vocabulary, or a character / word the vocabulary has never seen. */
  | "E_VOCAB"
  /** NaN or Infinity in inputs, targets, states or gradients (or training diverged). */
  | "E_NAN"
  /** A model file, state dict or exchange file (safetensors, ONNX) is corrupt, foreign or does not match the model. */
  | "E_FORMAT"
  /** The object is in the wrong state for the call: used after dispose, not initialised, not fitted. */
  | "E_STATE"
  /** The JavaScript runtime cannot do what was asked: no WebAssembly SIMD, no workers, a module that cannot be loaded. */
  | "E_RUNTIME"
  /** A file or network read or write failed (missing file, disk full, unreachable URL). */
  | "E_IO"
  /** The feature or configuration is not supported (e.g. an ONNX export of an option ONNX has no operator for). */
  | "E_UNSUPPORTED";

/** Details of an {@link UnfoldError}: what was wrong, where, and how to fix it. */
export interface UnfoldErrorDetails {
  /** The offending argument, option or tensor, e.g. `"options.beamWidth"` or `"weight_ih_l0"`. */
  name?: string;
  /** What was expected, in words: `"an integer >= 1"`. */
  expected?: string;
  /** What was received, shown briefly: `"0"`. */
  received?: unknown;
  /** The underlying error, if any. */
  cause?: unknown;
  /** E_IO: the system error code of the failed read or write (`ENOENT`, `ENOSPC`, ...). */
  errno?: string;
}

/**
 * Thrown for every user-facing failure. `message` is one line that says what
 * was wrong and how to fix it; `code`, `name`, `expected` and `received` are
 * for programs. A call that throws an UnfoldError changes nothing: weights,
 * optimizer state, carried state and RNG are as before the call.
 */
export class UnfoldError extends Error {
  /** Stable machine-readable reason (see docs/ERRORS.md). */
  readonly code: UnfoldErrorCode;
  /** The offending argument, option or tensor name, when there is one. */
  readonly param: string | undefined;
  /** What was expected, in words. */
  readonly expected: string | undefined;
  /** What was received (a short rendering). */
  readonly received: string | undefined;
  /** E_IO: the system error code (`ENOENT`, `ENOSPC`, ...), when there is one. */
  readonly errno: string | undefined;

  /**
   * @param code the stable code
   * @param message what is wrong and what to do (without the "unfold-rnn: " prefix, which is added)
   * @param details the offending name, what was expected and received, the cause
   */
  /** An error with its stable `code`, a message, and the argument it is about (`details.name`). */
  constructor(code: UnfoldErrorCode, message: string, details: UnfoldErrorDetails = {}) {
    super(message.startsWith("unfold-rnn: ") ? message : `unfold-rnn: ${message}`, details.cause !== undefined ? { cause: details.cause } : undefined);
    this.name = "UnfoldError";
    this.code = code;
    this.param = details.name;
    this.expected = details.expected;
    this.received = details.received === undefined ? undefined : show(details.received);
    this.errno = details.errno;
  }
}

/** True for an {@link UnfoldError} (also one thrown by another copy of the library, e.g. from a worker bundle). */
export function isUnfoldError(err: unknown): err is UnfoldError {
  return err instanceof UnfoldError || (err instanceof Error && typeof (err as { code?: unknown }).code === "string" && /^E_[A-Z]+$/.test((err as unknown as { code: string }).code));
}

/** All codes, in the order docs/ERRORS.md lists them. */
export const ERROR_CODES: readonly UnfoldErrorCode[] = ["E_SHAPE", "E_OPTION", "E_VOCAB", "E_NAN", "E_FORMAT", "E_STATE", "E_RUNTIME", "E_IO", "E_UNSUPPORTED"];

/** A short, one-line rendering of a received value for error messages. */
export function show(x: unknown): string {
  if (x === null) return "null";
  if (x === undefined) return "undefined";
  if (typeof x === "number") return Object.is(x, -0) ? "-0" : String(x);
  if (typeof x === "string") return JSON.stringify(x.length > 40 ? x.slice(0, 40) + "…" : x);
  if (typeof x === "bigint" || typeof x === "boolean") return String(x);
  if (typeof x === "function") return "a function";
  if (ArrayBuffer.isView(x)) return `${x.constructor.name}(${(x as unknown as { length?: number }).length ?? x.byteLength})`;
  if (Array.isArray(x)) return `an array of length ${x.length}`;
  if (typeof x === "object") {
    const c = (x as object).constructor;
    return c && c !== Object ? `a ${c.name}` : "an object";
  }
  return typeof x;
}
