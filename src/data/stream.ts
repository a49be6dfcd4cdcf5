/**
 * The char-rnn data layout for language models trained with truncated BPTT.
 *
 * Legend: n = tokens in the corpus, B = parallel streams (batch size),
 * L = floor(n / B) tokens per stream, T = steps in one window (<= seqLen).
 *
 * The corpus is cut into B contiguous streams, stream b = ids[b*L, (b+1)*L)
 * (the last n - B*L tokens are dropped). Each stream is read left to right in
 * windows of seqLen steps; window k of every stream starts where window k-1
 * stopped, so the hidden state a model carries from one window to the next
 * (column b of its [B, H] state) really is the state of stream b at that
 * point — what makes truncated BPTT (lecture p.20) meaningful. Targets are
 * the next token (teacher forcing, p.15): y[t, b] = x[t+1, b], and the last
 * y of a window is the first x of the next.
 *
 * At scale: the stream reads the ids where they are — a Uint8Array,
 * Uint16Array or Int32Array corpus is viewed, not copied (a 100 MB corpus of
 * byte ids stays 100 MB); only each small [T, B] window is made as Int32.
 */
import { isTokenIds, type TokenIds } from "./chars.js";
import { UnfoldError } from "../errors.js";

/** One truncated-BPTT window. */
export interface StreamWindow {
  /** Inputs, time-major [T, B]: x[t*B + b] = stream b at step start + t. */
  x: Int32Array;
  /** Targets, time-major [T, B]: the next token, y[t*B + b] = stream b at step start + t + 1. */
  y: Int32Array;
  /** Steps in this window: seqLen, or fewer for the last window of a pass. */
  T: number;
  /** Streams (batch size). */
  B: number;
  /** Step within each stream where this window starts; 0 means a new pass (reset the hidden state). */
  start: number;
}

/**
 * B parallel streams over a token corpus, read in consecutive windows.
 *
 * @example
 * const stream = new TokenStream(vocab.encode(text), 32);
 * for (let epoch = 0; epoch < 10; epoch++) {
 *   for (const { x, y, T, start } of stream.windows(64)) {
 *     if (start === 0) model.resetState();
 *     // forward x [T, 32], loss against y [T, 32], backward, step; keep the state
 *   }
 * }
 * // checkpoint: save stream.position; on resume, stream.seek(saved)
 */
export class TokenStream {
  /** Number of parallel streams (the batch size). */
  readonly B: number;
  /** Tokens per stream: floor(n / B). */
  readonly L: number;
  /** Tokens left over at the end of the corpus and not used: n - B*L. */
  readonly dropped: number;
  private readonly data: TokenIds; // [B, L]: stream b is data[b*L, (b+1)*L)
  private pos = 0;

  /**
   * @param ids the corpus, n token ids: a Uint8Array, Uint16Array or
   *   Int32Array is used in place (not copied; do not modify it while
   *   reading), anything else is checked and copied to an Int32Array
   * @param B number of parallel streams, >= 1
   * @throws Error if n < 2B: every stream needs at least 2 tokens (one input and its target)
   */
  constructor(ids: ArrayLike<number>, B: number) {
    if (!Number.isInteger(B) || B < 1) throw new UnfoldError("E_OPTION", `TokenStream: B (batch size) must be an integer >= 1, got ${B}`);
    if (ids == null || typeof ids.length !== "number") throw new UnfoldError("E_OPTION", "TokenStream: ids must be an array of token ids (e.g. an Int32Array from vocab.encode)");
    const n = ids.length;
    const L = Math.floor(n / B);
    if (L < 2) {
      throw new UnfoldError("E_OPTION", `TokenStream: ${n} tokens cannot make ${B} parallel streams of at least 2 tokens each (needs >= ${2 * B}); use a smaller batch size or more text`);
    }
    this.B = B;
    this.L = L;
    this.dropped = n - B * L;
    if (isTokenIds(ids)) {
      this.data = ids.subarray(0, B * L);
    } else {
      const data = new Int32Array(B * L);
      for (let i = 0; i < B * L; i++) {
        const v = ids[i];
        if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw new UnfoldError("E_VOCAB", `TokenStream: ids[${i}] is ${v}; ids must be 32-bit integers`);
        data[i] = v;
      }
      this.data = data;
    }
  }

  /**
   * The step (within every stream) where the next window of `windows()`
   * starts, in [0, L - 1). It returns to 0 after the last window of a pass.
   * Save it to resume training at the same place with {@link seek}.
   */
  get position(): number {
    return this.pos;
  }

  /**
   * Move the read position to `step` (in [0, L - 1)). To resume at window k
   * of length seqLen, seek to k * seqLen — or to a saved `position`.
   */
  seek(step: number): void {
    if (!Number.isInteger(step) || step < 0 || step >= this.L - 1) {
      throw new UnfoldError("E_OPTION", `TokenStream.seek: step must be an integer in [0, ${this.L - 1}), got ${step}`);
    }
    this.pos = step;
  }

  /** Back to the start: `seek(0)`. */
  reset(): void {
    this.pos = 0;
  }

  /** Windows in one full pass: ceil((L - 1) / seqLen) (the last token of a stream is only a target). */
  numWindows(seqLen: number): number {
    checkSeqLen("numWindows", seqLen);
    return Math.ceil((this.L - 1) / seqLen);
  }

  /** Stream b: its L token ids (a view of the corpus array; do not modify). [L] */
  stream(b: number): TokenIds {
    if (!Number.isInteger(b) || b < 0 || b >= this.B) throw new UnfoldError("E_OPTION", `TokenStream.stream: b must be an integer in [0, ${this.B}), got ${b}`);
    return this.data.subarray(b * this.L, (b + 1) * this.L);
  }

  /**
   * The window starting at step `start`, T = min(seqLen, L - 1 - start)
   * steps. Random access; does not move `position`.
   */
  window(start: number, seqLen: number): StreamWindow {
    checkSeqLen("window", seqLen);
    const { B, L, data } = this;
    if (!Number.isInteger(start) || start < 0 || start >= L - 1) {
      throw new UnfoldError("E_OPTION", `TokenStream.window: start must be an integer in [0, ${L - 1}), got ${start}`);
    }
    const T = Math.min(seqLen, L - 1 - start);
    const x = new Int32Array(T * B); // [T, B]
    const y = new Int32Array(T * B); // [T, B]
    for (let b = 0; b < B; b++) {
      const base = b * L + start;
      for (let t = 0; t < T; t++) {
        x[t * B + b] = data[base + t];
        y[t * B + b] = data[base + t + 1];
      }
    }
    return { x, y, T, B, start };
  }

  /**
   * The windows of one pass, from `position` to the end of the streams, each
   * of seqLen steps except possibly the last (shorter, included). `position`
   * advances as each window is handed out, and returns to 0 after the last,
   * so breaking out of the loop and calling `windows` again continues where
   * it stopped. Fresh x and y arrays per window.
   */
  *windows(seqLen: number): Generator<StreamWindow, void, undefined> {
    checkSeqLen("windows", seqLen);
    const end = this.L - 1;
    let start = this.pos;
    while (start < end) {
      const w = this.window(start, seqLen);
      start += w.T;
      this.pos = start === end ? 0 : start;
      yield w;
    }
  }
}

function checkSeqLen(fn: string, seqLen: number): void {
  if (!Number.isInteger(seqLen) || seqLen < 1) throw new UnfoldError("E_OPTION", `TokenStream.${fn}: seqLen must be an integer >= 1, got ${seqLen}`);
}
