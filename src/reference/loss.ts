/**
 * Scalar float64 twins of the kernels in `assembly/loss.ts`: the oracle the
 * WASM kernels are tested against. Arrays stand in for pointers; outputs are
 * written in place like the kernels do (pass a Float64Array to keep float64).
 *
 * Dimension letters: M = rows, N = columns (classes), n = element count.
 * @module
 */

/** A writable array of numbers (Float32Array, Float64Array or number[]). */
export type Vec = { [i: number]: number; readonly length: number };

/** C [M, N] += bias [N] broadcast over rows. */
export function bias_add_rows(C: Vec, M: number, N: number, bias: ArrayLike<number>): void {
  for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) C[i * N + j] += bias[j];
}

/** dst [N] = beta*dst + sum over rows of src [M, N]; beta = 0 never reads dst. */
export function sum_rows(dst: Vec, src: ArrayLike<number>, M: number, N: number, beta: number): void {
  for (let j = 0; j < N; j++) {
    let s = 0;
    for (let i = 0; i < M; i++) s += src[i * N + j];
    dst[j] = beta === 0 ? s : beta * dst[j] + s;
  }
}

/** dst [M, N] = row-wise softmax of src, stabilised by the row maximum. dst may equal src. */
export function softmax_rows(dst: Vec, src: ArrayLike<number>, M: number, N: number): void {
  for (let i = 0; i < M; i++) {
    const o = i * N;
    let m = src[o];
    for (let j = 1; j < N; j++) m = Math.max(m, src[o + j]);
    let s = 0;
    for (let j = 0; j < N; j++) {
      const e = Math.exp(src[o + j] - m);
      dst[o + j] = e;
      s += e;
    }
    for (let j = 0; j < N; j++) dst[o + j] /= s;
  }
}

/**
 * Softmax cross-entropy. For each row i with t = targets[i] >= 0:
 * loss_i = log(sum_j exp(x_j - m)) + m - x_t (m = row max) and
 * dlogits[i, :] = scale * (softmax(x) - onehot(t)); rows with t < 0 are
 * ignored (zero gradient, no loss).
 * @returns the summed (unscaled) loss over valid rows.
 */
export function softmax_xent(
  logits: ArrayLike<number>, targets: ArrayLike<number>, M: number, N: number, dlogits: Vec, scale: number,
): number {
  let total = 0;
  for (let i = 0; i < M; i++) {
    const o = i * N;
    const t = targets[i];
    if (t < 0) {
      for (let j = 0; j < N; j++) dlogits[o + j] = 0;
      continue;
    }
    const xt = logits[o + t];
    let m = logits[o];
    for (let j = 1; j < N; j++) m = Math.max(m, logits[o + j]);
    let s = 0;
    for (let j = 0; j < N; j++) s += Math.exp(logits[o + j] - m);
    total += m - xt + Math.log(s);
    for (let j = 0; j < N; j++) dlogits[o + j] = (scale * Math.exp(logits[o + j] - m)) / s;
    dlogits[o + t] -= scale;
  }
  return total;
}

/** Returns sum_i (pred[i] - target[i])^2; writes dpred = scale * 2 * (pred - target). */
export function mse(pred: ArrayLike<number>, target: ArrayLike<number>, n: number, dpred: Vec, scale: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) {
    const d = pred[i] - target[i];
    s += d * d;
    dpred[i] = scale * 2 * d;
  }
  return s;
}
