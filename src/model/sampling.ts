/**
 * Choosing the next token from a model's output scores (logits): greedy,
 * temperature, top-k and top-p (nucleus) sampling, all from a seeded RNG.
 */
import { Rng } from "../util/rng.js";
import { UnfoldError } from "../errors.js";
import * as v from "../validate.js";

/** How to pick the next token. */
export interface SamplingOptions {
  /** 0 = greedy (argmax). Default 1. Lower is more conservative. */
  temperature?: number;
  /** Keep only the k most likely tokens. Default: all. */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p. Default 1. */
  topP?: number;
}

/** Check sampling options: temperature >= 0, topK an integer >= 1, topP in (0, 1]. */
export function checkSamplingOptions(name: string, o: SamplingOptions): void {
  v.checkObject(name, o);
  v.checkNumber(`${name}.temperature`, o.temperature, { min: 0, optional: true });
  v.checkOptionalInt(`${name}.topK`, o.topK, 1);
  v.checkNumber(`${name}.topP`, o.topP, { min: 0, minOpen: true, max: 1, optional: true });
}

/** Index of the largest value (the first one on ties). */
export function argmax(x: ArrayLike<number>, offset = 0, n = x.length - offset): number {
  v.checkArrayLike("argmax: x", x);
  v.checkInt("argmax: offset", offset, 0, x.length);
  v.checkInt("argmax: n", n, 0, x.length - offset);
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
  v.checkArrayLike("softmax: logits", logits);
  v.checkNumber("softmax: temperature", temperature, { min: 0, minOpen: true });
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
 * @throws UnfoldError (E_OPTION) for a negative temperature, topK < 1 or topP outside (0, 1].
 */
export function sampleToken(logits: ArrayLike<number>, rng: Rng, opts: SamplingOptions = {}): number {
  v.checkArrayLike("sampleToken: logits", logits);
  if (logits.length === 0) throw new UnfoldError("E_SHAPE", "sampleToken: logits is empty", { name: "logits", expected: "at least one score", received: 0 });
  if (!(rng instanceof Rng)) throw new UnfoldError("E_OPTION", "sampleToken: rng must be an Rng (new Rng(seed))", { name: "rng", expected: "an Rng", received: rng });
  checkSamplingOptions("sampleToken: options", opts);
  const temperature = opts.temperature ?? 1;
  if (temperature === 0) return argmax(logits);
  const V = logits.length;
  const topK = opts.topK ?? V;
  const topP = opts.topP ?? 1;
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
