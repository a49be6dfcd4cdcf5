/**
 * Weight initialisers, all driven by the seeded {@link Rng} so that the same
 * seed gives the same weights in every runtime.
 */
import { Rng } from "../util/rng.js";

/** How a layer's weights are initialised. */
export type InitScheme = "pytorch" | "xavier" | "orthogonal";

/** Fill with U(-a, a). */
export function uniformInit(out: Float32Array, rng: Rng, a: number): void {
  for (let i = 0; i < out.length; i++) out[i] = rng.uniform(-a, a);
}

/** Xavier/Glorot uniform for a [fanOut, fanIn] matrix: U(-a, a), a = sqrt(6 / (fanIn + fanOut)). */
export function xavierInit(out: Float32Array, rng: Rng, fanOut: number, fanIn: number): void {
  uniformInit(out, rng, Math.sqrt(6 / (fanIn + fanOut)));
}

/**
 * An orthogonal [rows, cols] matrix (orthonormal rows if rows <= cols, else
 * orthonormal columns), from Gram-Schmidt on a Gaussian matrix in float64.
 * Written into `out` at `offset`.
 */
export function orthogonalInit(out: Float32Array, rng: Rng, rows: number, cols: number, offset = 0): void {
  // Orthonormalise the vectors along the smaller dimension.
  const n = Math.min(rows, cols); // number of vectors
  const len = Math.max(rows, cols); // their length
  const v = new Float64Array(n * len);
  for (let i = 0; i < v.length; i++) v[i] = rng.normal();
  for (let i = 0; i < n; i++) {
    const vi = v.subarray(i * len, (i + 1) * len);
    // Two passes of modified Gram-Schmidt for numerical orthogonality.
    for (let pass = 0; pass < 2; pass++) {
      for (let j = 0; j < i; j++) {
        const vj = v.subarray(j * len, (j + 1) * len);
        let dot = 0;
        for (let k = 0; k < len; k++) dot += vi[k] * vj[k];
        for (let k = 0; k < len; k++) vi[k] -= dot * vj[k];
      }
    }
    let norm = 0;
    for (let k = 0; k < len; k++) norm += vi[k] * vi[k];
    norm = Math.sqrt(norm) || 1;
    for (let k = 0; k < len; k++) vi[k] /= norm;
  }
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      out[offset + r * cols + c] = rows <= cols ? v[r * len + c] : v[c * len + r];
    }
  }
}
