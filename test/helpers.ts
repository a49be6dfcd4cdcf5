// Shared test helpers: put arrays into WASM memory, seeded data, error metrics.
import type { Kernels, Ptr } from "../src/runtime/abi.js";
import { heap, init, kernels } from "../src/runtime/wasm.js";
import { Rng } from "../src/util/rng.js";

export { Rng };

/** Load the kernels once per test file. */
export async function loadKernels(): Promise<Kernels> {
  // UNFOLD_WASM lets a developer test a module built elsewhere (e.g. from one kernel file).
  // Otherwise the plain SIMD build, the bit-reproducible one these tests hold to
  // their bit-exact twins, also where relaxed SIMD would be the default (Node >= 22);
  // the relaxed build has its own tolerances in test/relaxed.test.ts.
  await init(process.env.UNFOLD_WASM || { simd: "plain" });
  return kernels();
}

/**
 * Places test arrays in WASM memory. `misalign` (in floats, 0-3) shifts the
 * start off 16-byte alignment to test unaligned loads. Free with `release()`.
 */
export class Mem {
  private blocks: Ptr[] = [];

  /** Copy `data` into fresh memory; returns its byte offset. */
  put(data: ArrayLike<number>, misalign = 0): Ptr {
    const p = this.alloc(data.length, misalign);
    heap().f32(p, data.length).set(data);
    return p;
  }

  /** Copy integer `data` into fresh memory as i32. */
  putI32(data: ArrayLike<number>, misalign = 0): Ptr {
    const p = this.alloc(data.length, misalign);
    heap().i32(p, data.length).set(data);
    return p;
  }

  /** Fresh memory of n floats filled with `fill` (default NaN, to catch reads of unwritten output). */
  alloc(n: number, misalign = 0, fill = NaN): Ptr {
    const base = heap().alloc((n + misalign) * 4 + 16);
    this.blocks.push(base);
    const p = base + misalign * 4;
    heap().f32(p, n).fill(fill);
    return p;
  }

  /** A copy of n floats at p. */
  get(p: Ptr, n: number): Float32Array {
    return heap().f32(p, n).slice();
  }

  release(): void {
    for (const b of this.blocks) heap().free(b);
    this.blocks = [];
  }
}

/** Uniform random Float32Array in [lo, hi). */
export function randArray(rng: Rng, n: number, lo = -1, hi = 1): Float32Array {
  return rng.fillUniform(new Float32Array(n), lo, hi) as Float32Array;
}

/**
 * Largest |a - b| / max(|b|, floor) over all elements, and where it is.
 * The floor keeps relative error meaningful near zero.
 */
export function maxRelErr(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-6): { err: number; at: number } {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let err = 0;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (Number.isNaN(x) || Number.isNaN(y)) {
      if (Number.isNaN(x) && Number.isNaN(y)) continue;
      return { err: Infinity, at: i };
    }
    if (x === y) continue;
    const e = Math.abs(x - y) / Math.max(Math.abs(y), floor);
    if (!(e <= err)) {
      err = e;
      at = i;
    }
  }
  return { err, at };
}

/**
 * max |a - b| / max |b| over a tensor. float32 rounding errors scale with the
 * magnitudes that were summed, not with each result, so this is the fair
 * measure for whole tensors (a per-element relative error is dominated by
 * values that cancel to near zero).
 */
export function scaledErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  if (Number.isNaN(num)) return Infinity;
  return den === 0 ? num : num / den;
}
