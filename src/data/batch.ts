/**
 * Batching variable-length sequences: padding with masks, the last real step
 * of each sequence (many-to-one), length bucketing, shuffles and splits.
 *
 * Legend: B = batch size (sequences), T = time steps (longest sequence in the
 * batch), n = number of sequences in a data set.
 *
 * Layouts: time-major `[T, B]` (the engine's layout: step t is the contiguous
 * row `ids[t*B .. (t+1)*B)`) or batch-first `[B, T]` (row b is sequence b).
 *
 * All randomness comes from a seeded {@link Rng}: the same seed gives the same
 * batches in every runtime.
 */
import { UnfoldError } from "../errors.js";
import type { Rng } from "../util/rng.js";

/** Options of {@link padBatch}. */
export interface PadBatchOptions {
  /** The id written into padding positions (e.g. `vocab.padId`). */
  padId: number;
  /** Time-major `[T, B]` (default true) or batch-first `[B, T]`. */
  timeMajor?: boolean;
  /** Longest allowed sequence. A longer one throws, unless `truncate`. Default unlimited. */
  maxLen?: number;
  /** Cut sequences longer than `maxLen` to their first `maxLen` ids instead of throwing. Default false. */
  truncate?: boolean;
}

/** A padded batch: see {@link padBatch}. */
export interface PaddedBatch {
  /** Ids, [T, B] time-major or [B, T] batch-first; padding positions hold `padId`. */
  ids: Int32Array;
  /** Same layout as `ids`: 1 at a real step, 0 at padding. */
  mask: Float32Array;
  /** Length of each sequence after truncation. [B] */
  lengths: Int32Array;
  /** Time steps: the longest length. */
  T: number;
  /** Batch size: the number of sequences. */
  B: number;
  /** Which layout `ids` and `mask` use. */
  timeMajor: boolean;
}

/**
 * Pad sequences of ids to a common length T (the longest) and stack them.
 * Sequences keep their order: column (time-major) or row (batch-first) b is
 * `seqs[b]`; padding goes at the end of each sequence.
 *
 * @param seqs B sequences of integer ids, each of length >= 1
 * @throws Error for an empty list, an empty sequence, a non-integer id, or a
 *   sequence longer than `maxLen` (without `truncate`)
 */
export function padBatch(seqs: readonly ArrayLike<number>[], opts: PadBatchOptions): PaddedBatch {
  if (!Array.isArray(seqs)) throw new UnfoldError("E_OPTION", `padBatch: expected an array of sequences, got ${typeof seqs}`);
  const B = seqs.length;
  if (B === 0) throw new UnfoldError("E_SHAPE", "padBatch: no sequences; a batch needs at least one");
  const { padId, timeMajor = true, maxLen = Infinity, truncate = false } = opts;
  if (padId === undefined) {
    throw new UnfoldError("E_OPTION", "padBatch: padId is undefined; pass the pad id (a vocab built with specials: { pad: true } has it as vocab.padId)");
  }
  checkInt32("padBatch", "padId", padId);
  if (maxLen !== Infinity && (!Number.isInteger(maxLen) || maxLen < 1)) {
    throw new UnfoldError("E_OPTION", `padBatch: maxLen must be an integer >= 1, got ${maxLen}`);
  }
  const lengths = new Int32Array(B); // [B]
  for (let b = 0; b < B; b++) {
    const s = seqs[b];
    if (s == null || typeof s.length !== "number") throw new UnfoldError("E_OPTION", `padBatch: sequence ${b} is not an array of ids`);
    if (s.length === 0) {
      throw new UnfoldError("E_SHAPE", `padBatch: sequence ${b} is empty; drop empty sequences before batching (a sequence needs at least one step)`);
    }
    if (s.length > maxLen && !truncate) {
      throw new UnfoldError("E_SHAPE", `padBatch: sequence ${b} has length ${s.length}, longer than maxLen ${maxLen}; shorten it, raise maxLen, or pass truncate: true to keep its first ${maxLen} ids`);
    }
    lengths[b] = Math.min(s.length, maxLen);
  }
  let T = 0;
  for (let b = 0; b < B; b++) T = Math.max(T, lengths[b]);
  const ids = new Int32Array(T * B).fill(padId); // [T, B] or [B, T]
  const mask = new Float32Array(T * B); // same layout
  for (let b = 0; b < B; b++) {
    const s = seqs[b];
    for (let t = 0; t < lengths[b]; t++) {
      const v = s[t];
      if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) {
        throw new UnfoldError("E_VOCAB", `padBatch: sequence ${b} has ${v} at step ${t}; ids must be 32-bit integers`);
      }
      const k = timeMajor ? t * B + b : b * T + t;
      ids[k] = v;
      mask[k] = 1;
    }
  }
  return { ids, mask, lengths, T, B, timeMajor };
}

/**
 * The index of the last real step of each sequence, `lengths[b] - 1`: the
 * step whose hidden state a many-to-one model (e.g. sentiment analysis)
 * reads.
 *
 * @param lengths [B], each >= 1
 * @returns [B]
 */
export function lastStepIndex(lengths: ArrayLike<number>): Int32Array {
  const out = new Int32Array(lengths.length); // [B]
  for (let b = 0; b < lengths.length; b++) {
    const L = lengths[b];
    if (!Number.isInteger(L) || L < 1) throw new UnfoldError("E_OPTION", `lastStepIndex: lengths[${b}] is ${L}; every length must be an integer >= 1`);
    out[b] = L - 1;
  }
  return out;
}

/**
 * Row index of each sequence's last real step in a time-major output
 * flattened to `[T*B, H]`: `(lengths[b] - 1) * B + b`, where B =
 * `lengths.length`. Gather these rows to get the many-to-one `[B, H]`.
 *
 * @param lengths [B], each >= 1
 * @returns [B]
 */
export function lastStepRows(lengths: ArrayLike<number>): Int32Array {
  const B = lengths.length;
  const last = lastStepIndex(lengths);
  for (let b = 0; b < B; b++) last[b] = last[b] * B + b;
  return last;
}

/** Options of {@link bucketBatches}. */
export interface BucketOptions {
  /** Shuffles the order of sequences within a bucket and of the batches. Without it the batches come out in ascending length, deterministically. */
  rng?: Rng;
  /**
   * Width of a length bucket: lengths `[k*w, (k+1)*w)` share bucket k, and a
   * batch never mixes buckets, so its lengths differ by less than w. Each
   * bucket may end in one smaller batch. Without it: sequences sorted by
   * length are cut into consecutive batches (smallest spread, at most one
   * smaller batch, the longest one).
   */
  bucketWidth?: number;
  /** Drop batches smaller than `batchSize` (their sequences are then left out). Default false. */
  dropLast?: boolean;
}

/**
 * Group sequence indices into batches of similar length, so padding wastes
 * little work.
 *
 * Order of operations: (1) shuffle all indices with `rng`, (2) stable sort by
 * length (so equal lengths are in random order), (3) cut into batches — by
 * bucket with `bucketWidth`, else consecutively, (4) shuffle the batch order
 * with `rng`. Deterministic for a given seed; every index in `[0, n)` appears
 * exactly once (unless `dropLast` drops small batches).
 *
 * @param lengths [n] length of each sequence
 * @returns batches of indices into `lengths`
 */
export function bucketBatches(lengths: ArrayLike<number>, batchSize: number, opts: BucketOptions = {}): number[][] {
  checkPosInt("bucketBatches", "batchSize", batchSize);
  const { rng, bucketWidth, dropLast = false } = opts;
  if (bucketWidth !== undefined) checkPosInt("bucketBatches", "bucketWidth", bucketWidth);
  const n = lengths.length;
  for (let i = 0; i < n; i++) {
    const L = lengths[i];
    if (!Number.isInteger(L) || L < 0) throw new UnfoldError("E_OPTION", `bucketBatches: lengths[${i}] is ${L}; lengths must be integers >= 0`);
  }
  const order = Array.from({ length: n }, (_, i) => i);
  if (rng) rng.shuffle(order);
  order.sort((a, b) => lengths[a] - lengths[b]); // stable (ES2019)

  const batches: number[][] = [];
  const cut = (group: number[]) => {
    for (let s = 0; s < group.length; s += batchSize) {
      const batch = group.slice(s, s + batchSize);
      if (batch.length < batchSize && dropLast) continue;
      batches.push(batch);
    }
  };
  if (bucketWidth === undefined) {
    cut(order);
  } else {
    let start = 0;
    for (let i = 1; i <= n; i++) {
      if (i === n || Math.floor(lengths[order[i]] / bucketWidth) !== Math.floor(lengths[order[start]] / bucketWidth)) {
        cut(order.slice(start, i));
        start = i;
      }
    }
  }
  if (rng) rng.shuffle(batches);
  return batches;
}

/** Options of {@link shuffledBatches}. */
export interface ShuffleOptions {
  /** Drop the last batch if it is smaller than `batchSize`. Default false. */
  dropLast?: boolean;
}

/**
 * A random permutation of `[0, n)` cut into batches of `batchSize` (the last
 * may be smaller). Deterministic for a given seed.
 *
 * @returns ceil(n / batchSize) batches (floor with dropLast)
 */
export function shuffledBatches(n: number, batchSize: number, rng: Rng, opts: ShuffleOptions = {}): number[][] {
  checkNonNegInt("shuffledBatches", "n", n);
  checkPosInt("shuffledBatches", "batchSize", batchSize);
  const order = rng.shuffle(Array.from({ length: n }, (_, i) => i));
  const batches: number[][] = [];
  for (let s = 0; s < n; s += batchSize) {
    if (s + batchSize > n && opts.dropLast) break;
    batches.push(order.slice(s, s + batchSize));
  }
  return batches;
}

/**
 * Split `[0, n)` at random into training and validation indices, each list
 * in ascending order. The validation set has `round(n * valFraction)`
 * indices, at least 1 if `valFraction > 0`, and at most n - 1 (training is
 * never empty).
 *
 * @param valFraction in [0, 1)
 */
export function trainValSplit(n: number, valFraction: number, rng: Rng): {
  /** Training indices, ascending. */
  train: number[];
  /** Validation indices, ascending. */
  val: number[];
} {
  checkNonNegInt("trainValSplit", "n", n);
  if (!(valFraction >= 0 && valFraction < 1)) throw new UnfoldError("E_OPTION", `trainValSplit: valFraction must be in [0, 1), got ${valFraction}`);
  if (n === 0) return { train: [], val: [] };
  let nVal = Math.round(n * valFraction);
  if (valFraction > 0) nVal = Math.max(nVal, 1);
  nVal = Math.min(nVal, n - 1);
  const order = rng.shuffle(Array.from({ length: n }, (_, i) => i));
  const asc = (a: number, b: number) => a - b;
  return { train: order.slice(nVal).sort(asc), val: order.slice(0, nVal).sort(asc) };
}

function checkInt32(fn: string, name: string, v: unknown): void {
  if (typeof v !== "number" || !Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) {
    throw new UnfoldError("E_OPTION", `${fn}: ${name} must be a 32-bit integer, got ${v}`);
  }
}

function checkPosInt(fn: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new UnfoldError("E_OPTION", `${fn}: ${name} must be an integer >= 1, got ${v}`);
}

function checkNonNegInt(fn: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0) throw new UnfoldError("E_OPTION", `${fn}: ${name} must be an integer >= 0, got ${v}`);
}
