/**
 * A small seeded random number generator (xoshiro128**), identical in every
 * JavaScript runtime: the same seed gives the same weights, dropout masks,
 * shuffles and samples in Node, browsers and edge runtimes.
 */
import { UnfoldError } from "../errors.js";

/** The generator (xoshiro128**, seeded by splitmix32); {@link Rng.getState} and {@link Rng.setState} save and restore it exactly. */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spare: number | null = null;

  /** @param seed any integer; equal seeds give equal streams. */
  constructor(seed = 0) {
    if (typeof seed !== "number" || !Number.isFinite(seed)) throw new UnfoldError("E_OPTION", `Rng seed must be a finite number, got ${String(seed)}`, { name: "seed", expected: "a finite number", received: seed });
    // splitmix32 expands the seed into the 128-bit state.
    let x = seed >>> 0;
    const next = () => {
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
  }

  /** The generator's state, to save and {@link setState} later. */
  getState(): number[] {
    return [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0, this.spare ?? NaN];
  }

  /** Restore a state from {@link getState}. */
  setState(st: number[]): void {
    if (!Array.isArray(st) || st.length !== 5 || st.some((v) => typeof v !== "number")) {
      throw new UnfoldError("E_OPTION", "invalid RNG state: expected the 5 numbers getState() returned", { name: "state", expected: "5 numbers", received: st });
    }
    [this.s0, this.s1, this.s2, this.s3] = st.map((v) => v | 0);
    this.spare = Number.isNaN(st[4]) ? null : st[4];
  }

  /** A uniform 32-bit unsigned integer. */
  nextU32(): number {
    const r = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return r;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  /** An integer uniform in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Fill `out` with uniform values in [lo, hi). */
  fillUniform(out: Float32Array | Float64Array, lo: number, hi: number): typeof out {
    for (let i = 0; i < out.length; i++) out[i] = this.uniform(lo, hi);
    return out;
  }

  /** Shuffle `a` in place (Fisher-Yates). */
  shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
