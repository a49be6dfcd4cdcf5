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
  return softmaxInto(logits, temperature, new Float64Array(logits.length));
}

/** p [n] = softmax(logits / temperature) in float64, into caller-owned p (no checks). @internal */
export function softmaxInto(logits: ArrayLike<number>, temperature: number, p: Float64Array): Float64Array {
  const n = logits.length;
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
 * @throws UnfoldError E_OPTION for a negative or infinite temperature, topK < 1 or topP outside (0, 1].
 */
export function sampleToken(logits: ArrayLike<number>, rng: Rng, opts: SamplingOptions = {}): number {
  v.checkArrayLike("sampleToken: logits", logits);
  if (logits.length === 0) throw new UnfoldError("E_SHAPE", "sampleToken: logits is empty", { name: "logits", expected: "at least one score", received: 0 });
  if (!(rng instanceof Rng)) throw new UnfoldError("E_OPTION", "sampleToken: rng must be an Rng (new Rng(seed))", { name: "rng", expected: "an Rng", received: rng });
  checkSamplingOptions("sampleToken: options", opts);
  const V = logits.length;
  return sampleInto(logits, rng, opts, new Float64Array(V), new Int32Array(V));
}

/**
 * {@link sampleToken} with caller-owned scratch (p and order of length V), so
 * a streaming session draws without allocating. Same draws for the same RNG.
 * @internal
 */
export function sampleInto(logits: ArrayLike<number>, rng: Rng, opts: SamplingOptions, p: Float64Array, order: Int32Array): number {
  const temperature = opts.temperature ?? 1;
  const V = logits.length;
  const topK = opts.topK ?? V;
  const topP = opts.topP ?? 1;
  if (typeof temperature !== "number" || !(temperature >= 0) || temperature === Infinity) {
    throw new UnfoldError("E_OPTION", `temperature must be a finite number >= 0 (0 = greedy), got ${temperature}`, { name: "temperature", expected: "a finite number >= 0", received: temperature });
  }
  if (!Number.isInteger(topK) || topK < 1) throw new UnfoldError("E_OPTION", `topK must be a positive integer, got ${topK}`, { name: "topK", expected: "an integer >= 1", received: topK });
  if (typeof topP !== "number" || !(topP > 0 && topP <= 1)) throw new UnfoldError("E_OPTION", `topP must be in (0, 1], got ${topP}`, { name: "topP", expected: "a number in (0, 1]", received: topP });
  if (temperature === 0) return argmax(logits);
  softmaxInto(logits, temperature, p);
  for (let i = 0; i < V; i++) order[i] = i;
  let n = V; // candidates order[0..n)
  if (topK < V || topP < 1) {
    order.sort((a, b) => p[b] - p[a] || a - b);
    n = Math.min(topK, V);
    if (topP < 1) {
      let cum = 0;
      for (let i = 0; i < n; i++) {
        cum += p[order[i]];
        if (cum >= topP) {
          n = i + 1;
          break;
        }
      }
    }
  }
  let total = 0;
  for (let i = 0; i < n; i++) total += p[order[i]];
  let r = rng.next() * total;
  for (let i = 0; i < n; i++) {
    r -= p[order[i]];
    if (r < 0) return order[i];
  }
  return order[n - 1];
}
