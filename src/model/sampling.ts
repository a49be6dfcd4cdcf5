/**
 * Choosing the next token from a model's output scores (logits): greedy,
 * temperature, top-k and top-p (nucleus) sampling, all from a seeded RNG.
 */
import type { Rng } from "../util/rng.js";

/** How to pick the next token. */
export interface SamplingOptions {
  /** 0 = greedy (argmax). Default 1. Lower is more conservative. */
  temperature?: number;
  /** Keep only the k most likely tokens. Default: all. */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p. Default 1. */
  topP?: number;
}

/** Index of the largest value (the first one on ties). */
export function argmax(x: ArrayLike<number>, offset = 0, n = x.length - offset): number {
  let best = 0;
  let bv = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = x[offset + i];
    if (v > bv) {
      bv = v;
      best = i;
    }
  }
  return best;
}

/** Softmax of logits / temperature, in float64. */
export function softmax(logits: ArrayLike<number>, temperature = 1): Float64Array {
  const n = logits.length;
  const p = new Float64Array(n);
  let m = -Infinity;
  for (let i = 0; i < n; i++) m = Math.max(m, logits[i]);
  let s = 0;
  for (let i = 0; i < n; i++) {
    p[i] = Math.exp((logits[i] - m) / temperature);
    s += p[i];
  }
  for (let i = 0; i < n; i++) p[i] /= s;
  return p;
}

/** Log-softmax in float64 (for beam search scores). */
export function logSoftmax(logits: ArrayLike<number>): Float64Array {
  const n = logits.length;
  let m = -Infinity;
  for (let i = 0; i < n; i++) m = Math.max(m, logits[i]);
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.exp(logits[i] - m);
  const lse = m + Math.log(s);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = logits[i] - lse;
  return out;
}

/**
 * Pick a token index from `logits` ([V] scores of one step).
 * @throws RangeError for a negative temperature, topK < 1 or topP outside (0, 1].
 */
export function sampleToken(logits: ArrayLike<number>, rng: Rng, opts: SamplingOptions = {}): number {
  const temperature = opts.temperature ?? 1;
  if (!(temperature >= 0)) throw new RangeError(`unfold-rnn: temperature must be >= 0, got ${temperature}`);
  if (temperature === 0) return argmax(logits);
  const V = logits.length;
  const topK = opts.topK ?? V;
  const topP = opts.topP ?? 1;
  if (!Number.isInteger(topK) || topK < 1) throw new RangeError(`unfold-rnn: topK must be a positive integer, got ${topK}`);
  if (!(topP > 0 && topP <= 1)) throw new RangeError(`unfold-rnn: topP must be in (0, 1], got ${topP}`);
  const p = softmax(logits, temperature);
  let idx = Array.from({ length: V }, (_, i) => i);
  if (topK < V || topP < 1) {
    idx.sort((a, b) => p[b] - p[a] || a - b);
    idx = idx.slice(0, Math.min(topK, V));
    if (topP < 1) {
      let cum = 0;
      let cut = idx.length;
      for (let i = 0; i < idx.length; i++) {
        cum += p[idx[i]];
        if (cum >= topP) {
          cut = i + 1;
          break;
        }
      }
      idx = idx.slice(0, cut);
    }
  }
  let total = 0;
  for (const i of idx) total += p[i];
  let r = rng.next() * total;
  for (const i of idx) {
    r -= p[i];
    if (r < 0) return i;
  }
  return idx[idx.length - 1];
}
