/**
 * Scalar float64 twins of the batch-1 streaming kernels in
 * `assembly/session.ts` (same arguments, arrays in place of pointers): the
 * oracle for their tests.
 *
 * Legend: I = input size, H = hidden size, G = gates, N, K = weight rows and columns.
 */
import type { NumArray } from "./activations.js";
import { gru_rb_step_fwd_ref, gru_step_fwd_ref, lstm_step_fwd_ref, rnn_step_fwd_ref } from "./cells.js";

/** y [N] = beta*y + W x, W [N, K] row-major. */
export function gemv_ref(N: number, K: number, W: ArrayLike<number>, x: ArrayLike<number>, y: NumArray, beta: number): void {
  for (let j = 0; j < N; j++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += W[j * K + k] * x[k];
    y[j] = beta === 0 ? s : s + beta * y[j];
  }
}

/**
 * One step of one recurrent layer at batch 1, in place on h (and c):
 * gates = x W_ih^T + h W_hh^T, then the cell (biases added by the cell).
 * @param kind 0 rnn tanh, 1 rnn relu, 2 lstm, 3 gru
 * @param flags bit 0 hard-sigmoid gates, bit 1 GRU with the reset gate before W_hn
 */
export function cell_step_b1_ref(
  kind: number, x: ArrayLike<number>, I: number, h: NumArray, c: NumArray,
  wIh: ArrayLike<number>, wHh: ArrayLike<number>, bIh: ArrayLike<number>, bHh: ArrayLike<number>, H: number, flags = 0,
): void {
  const gact = flags & 1;
  const G = kind <= 1 ? 1 : kind === 2 ? 4 : 3;
  const gi = new Float64Array(G * H);
  const gh = new Float64Array(G * H);
  gemv_ref(G * H, I, wIh, x, gi, 0);
  gemv_ref(G * H, H, wHh, h, gh, 0);
  if (kind <= 1) {
    for (let j = 0; j < H; j++) gi[j] += gh[j];
    rnn_step_fwd_ref(gi, bIh, bHh, h, 1, H, kind);
  } else if (kind === 2) {
    for (let j = 0; j < 4 * H; j++) gi[j] += gh[j];
    lstm_step_fwd_ref(gi, bIh, bHh, Float64Array.from(c), c, h, new Float64Array(H), 1, H, gact);
  } else {
    const out = new Float64Array(H);
    if (flags & 2) gru_rb_step_fwd_ref(Float64Array.from(h as ArrayLike<number>), wHh, gi, bIh, bHh, out, new Float64Array(4 * H), 1, H, gact);
    else gru_step_fwd_ref(gi, gh, bIh, bHh, h, out, new Float64Array(4 * H), 1, H, gact);
    for (let j = 0; j < H; j++) h[j] = out[j];
  }
}

/** y [N] = W x + b, W [N, K]. */
export function dense_b1_ref(x: ArrayLike<number>, K: number, W: ArrayLike<number>, b: ArrayLike<number>, y: NumArray, N: number): void {
  gemv_ref(N, K, W, x, y, 0);
  for (let j = 0; j < N; j++) y[j] += b[j];
}
