/**
 * Shared pieces of the `unfold` command: the user-facing error type, where the
 * package lives, option parsers and number / time formatting.
 */
import { existsSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { InvalidArgumentError } from "commander";
import { isUnfoldError, type UnfoldErrorCode } from "../errors.js";
import { threadCount } from "../runtime/threads.js";
import "../runtime/use-node.js"; // the CLI runs in Node: files from disk, worker_threads
import { init } from "../runtime/wasm.js";

/**
 * Exit status of the `unfold` command for each {@link UnfoldError} code
 * (docs/ERRORS.md). 1 is a user error without a code (a bad flag, a conflict
 * with a resumed model); 130 is Ctrl-C.
 */
export const EXIT_CODES: Readonly<Record<UnfoldErrorCode, number>> = {
  E_OPTION: 2,
  E_SHAPE: 2,
  E_VOCAB: 3,
  E_NAN: 4,
  E_FORMAT: 5,
  E_STATE: 6,
  E_RUNTIME: 7,
  E_IO: 8,
  E_UNSUPPORTED: 9,
};

/** The exit status for an error: its code's (see {@link EXIT_CODES}), else 1. */
export function exitCodeFor(err: unknown): number {
  return isUnfoldError(err) ? (EXIT_CODES[err.code] ?? 1) : 1;
}

/** An error's message as one line, without the library's "unfold-rnn: " prefix. */
export function oneLine(err: unknown): string {
  return String((err as Error)?.message ?? err).replace(/^unfold-rnn: /, "").replace(/\s*\n\s*/g, " ").trim();
}

/**
 * An error the user can fix (bad file, bad flag, conflicting resume): printed
 * as one line on stderr without a stack trace, exit code 1 (or the code's
 * exit status when it wraps an {@link UnfoldError}).
 */
export class CliError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = "CliError";
  }
}

/**
 * The package root: two levels above this file both in the source tree
 * (src/cli/common.ts) and in the build (dist/cli/common.js), found by looking
 * for package.json so a different layout still works.
 */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    if (existsSync(join(dir, "package.json"))) return dir;
    dir = dirname(dir);
  }
  return join(dirname(fileURLToPath(import.meta.url)), "..", "..");
}

/** The version in package.json ("0.0.0" if it cannot be read). */
export function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as { version: string }).version;
  } catch {
    return "0.0.0";
  }
}

/** The default corpus shipped with the package. */
export function defaultCorpusPath(): string {
  return join(packageRoot(), "corpus", "sotu.txt");
}

// ---- option parsers (commander calls them with the raw string) ----

export function positiveInt(v: string): number {
  const n = Number(v);
  if (!/^\s*\d+\s*$/.test(v) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError("must be a positive integer.");
  return n;
}

export function nonNegativeInt(v: string): number {
  const n = Number(v);
  if (!/^\s*\d+\s*$/.test(v) || !Number.isSafeInteger(n)) throw new InvalidArgumentError("must be a non-negative integer.");
  return n;
}

export function positiveNumber(v: string): number {
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("must be a positive number.");
  return n;
}

export function nonNegativeNumber(v: string): number {
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError("must be a number >= 0.");
  return n;
}

/** A fraction in [0, 1). */
export function fraction(v: string): number {
  const n = Number(v);
  if (v.trim() === "" || !(n >= 0 && n < 1)) throw new InvalidArgumentError("must be a number in [0, 1).");
  return n;
}

/** A probability in (0, 1]. */
export function probability(v: string): number {
  const n = Number(v);
  if (v.trim() === "" || !(n > 0 && n <= 1)) throw new InvalidArgumentError("must be a number in (0, 1].");
  return n;
}

/** "90", "90s", "1.5m", "2h", "500ms" -> seconds. */
export function duration(v: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)?\s*$/.exec(v);
  if (!m || Number(m[1]) <= 0) throw new InvalidArgumentError("must be a duration such as 90s, 2m or 1h.");
  const unit = m[2] ?? "s";
  const mul = unit === "ms" ? 1e-3 : unit === "s" ? 1 : unit === "h" ? 3600 : 60;
  return Number(m[1]) * mul;
}

/** "200" -> every 200 steps; "10m", "90s", "1h" -> every so many seconds (--checkpoint-every). "0": only at the end. */
export function stepsOrDuration(v: string): { steps?: number; seconds?: number } {
  if (/^\s*\d+\s*$/.test(v)) return { steps: Number(v) };
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h)\s*$/.exec(v);
  if (!m || Number(m[1]) <= 0) throw new InvalidArgumentError("must be a number of steps (e.g. 200) or a duration (e.g. 90s, 10m, 1h).");
  return { seconds: duration(v) };
}

/** A count of characters: "256000", "256k", "2M", or "all" (Infinity). */
export function charCount(v: string): number {
  if (/^\s*all\s*$/i.test(v)) return Infinity;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*$/.exec(v);
  const n = m ? Number(m[1]) * (m[2] === "" ? 1 : /k/i.test(m[2]) ? 1e3 : 1e6) : NaN;
  if (!Number.isSafeInteger(Math.round(n)) || Math.round(n) < 1) throw new InvalidArgumentError("must be a number of characters such as 256000, 256k or 2M, or all.");
  return Math.round(n);
}

/** The default thread count: the cores available, at most 4 (more stop helping these kernel sizes). */
export function defaultThreads(): number {
  return Math.max(1, Math.min(4, availableParallelism()));
}

/**
 * The thread count `unfold train` uses when `--threads` is not given: 1 when
 * a recurrent step (8·B·H² flops) is too small to be split across threads
 * (batch 1 at hidden 128, batch 2 at 128 or less): then only the window's
 * few GEMMs would split, which measured no faster than 1 thread (bench/RESULTS.md,
 * "Threads where they pay"); otherwise {@link defaultThreads}.
 */
export function trainThreads(batch: number, hidden: number): number {
  return 8 * batch * hidden * hidden < 1 << 19 ? 1 : defaultThreads();
}

export function oneOf<T extends string>(values: readonly T[]): (v: string) => T {
  return (v: string) => {
    if (!values.includes(v as T)) throw new InvalidArgumentError(`must be one of ${values.join(", ")}.`);
    return v as T;
  };
}

// ---- formatting ----

/** 12345 -> "12,345". */
export function int(n: number): string {
  return Math.round(n).toLocaleString("en-US");
}

/** 5300 -> "5.3k", 1.2e6 -> "1.2M". */
export function compact(n: number): string {
  if (!Number.isFinite(n)) return "-";
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e7 ? 0 : 1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(n >= 1e4 ? 0 : 1)}k`;
  return n.toFixed(0);
}

/** Seconds -> "45s", "3m05s", "1h02m". */
export function hms(s: number): string {
  if (!Number.isFinite(s) || s < 0) return "-";
  s = Math.round(s);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** Bytes -> "1.5 MB". */
export function bytes(n: number): string {
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} kB`;
  return `${n} B`;
}

/** A character as the user should see it in a message: "é" (U+00E9), "\n" (U+000A). */
export function showChar(ch: string): string {
  const cp = ch.codePointAt(0)!;
  return `${JSON.stringify(ch)} (U+${cp.toString(16).toUpperCase().padStart(4, "0")})`;
}

/** Seconds elapsed since `t0` (performance.now() ms). */
export function since(t0: number): number {
  return (performance.now() - t0) / 1000;
}

/**
 * Load the kernels, on `threads` threads if asked (the shared-memory build and
 * worker threads; results are bit-identical to one thread). If that build is
 * not available, say so on stderr and run on one thread.
 * @returns the threads in use
 */
export async function initKernels(threads = 1): Promise<number> {
  if (threads > 1) {
    try {
      await init({ threads });
      return threadCount();
    } catch (err) {
      process.stderr.write(`unfold: note: running on 1 thread (${(err as Error).message.replace(/^unfold-rnn: /, "")})\n`);
    }
  }
  await init();
  return 1;
}
