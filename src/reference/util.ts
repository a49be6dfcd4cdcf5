/**
 * Scalar twins of the memory kernels in `assembly/util.ts`. Arrays stand in
 * for pointers; outputs are written in place like the kernels do.
 * @module
 */
import type { Vec } from "./loss.js";

/** x[i] *= s. */
export function scale_f32(x: Vec, n: number, s: number): void {
  for (let i = 0; i < n; i++) x[i] *= s;
}

/** x[i] = min(max(x[i], -c), c); NaN stays NaN. */
export function clip_f32(x: Vec, n: number, c: number): void {
  for (let i = 0; i < n; i++) {
    const v = x[i];
    x[i] = v < -c ? -c : v > c ? c : v;
  }
}

/** dst[i] += a * src[i]. */
export function axpy_f32(dst: Vec, src: ArrayLike<number>, n: number, a: number): void {
  for (let i = 0; i < n; i++) dst[i] += a * src[i];
}

/** dst[i] = v. */
export function fill_f32(dst: Vec, n: number, v: number): void {
  for (let i = 0; i < n; i++) dst[i] = v;
}

/** src [P, Q, F] -> dst [Q, P, F]: dst[q, p, :] = src[p, q, :]. */
export function swap01_f32(dst: Vec, src: ArrayLike<number>, P: number, Q: number, F: number): void {
  for (let p = 0; p < P; p++)
    for (let q = 0; q < Q; q++)
      for (let f = 0; f < F; f++) dst[(q * P + p) * F + f] = src[(p * Q + q) * F + f];
}

/** Embedding lookup: out[i, :] = table[ids[i], :] over D columns; a negative id gives a zero row. */
export function gather_rows(out: Vec, table: ArrayLike<number>, ids: ArrayLike<number>, n: number, D: number): void {
  for (let i = 0; i < n; i++)
    for (let j = 0; j < D; j++) out[i * D + j] = ids[i] < 0 ? 0 : table[ids[i] * D + j];
}

/** Embedding backward (adds): dtable[ids[i], :] += dout[i, :]; negative ids skipped. */
export function scatter_add_rows(dtable: Vec, dout: ArrayLike<number>, ids: ArrayLike<number>, n: number, D: number): void {
  for (let i = 0; i < n; i++) {
    if (ids[i] < 0) continue;
    for (let j = 0; j < D; j++) dtable[ids[i] * D + j] += dout[i * D + j];
  }
}
