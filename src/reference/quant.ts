/**
 * Scalar twins of the int8 kernels in `assembly/quant.ts` (same arguments,
 * arrays in place of pointers). The integer sums are exact and every f32
 * rounding of the kernel is reproduced with `Math.fround`, so
 * `quantize_act_q8` and `gemv_q8` must match these bit for bit; the cell step
 * uses the float64 cells of `./cells.ts`, so it matches within the cells'
 * tolerance.
 *
 * Legend: N, K = weight rows and columns, K8 = K rounded up to a multiple of 8,
 * I = input size, H = hidden size, G = gates.
 */
import type { NumArray } from "./activations.js";
import { gru_step_fwd_ref, lstm_step_fwd_ref, rnn_step_fwd_ref } from "./cells.js";

const f = Math.fround;

/** Round half to even (WASM `nearest`). */
export function roundHalfEven(v: number): number {
  const r = Math.round(v); // half up
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * The activation quantizer (the plain build's layout): xq [K8] =
 * nearest-even(f32(x / s)) in [-63, 63], s = f32(max|x| / 63), zero tail.
 * Returns s; 0 when s is 0 (xq all 0). NaN lanes become 0 (WASM's saturating
 * truncation), and a NaN or infinite x gives a NaN or infinite s.
 */
export function quantize_act_q8_ref(x: ArrayLike<number>, K: number, xq: Int16Array): number {
  let m = 0;
  for (let k = 0; k < K; k++) {
    const a = Math.abs(f(x[k]));
    m = Number.isNaN(a) || Number.isNaN(m) ? NaN : Math.max(m, a);
  }
  const K8 = (K + 7) & ~7;
  xq.fill(0, 0, K8);
  const s = f(m / 63);
  if (s === 0) return 0;
  for (let k = 0; k < K; k++) {
    const q = roundHalfEven(f(f(x[k]) / s));
    xq[k] = Number.isNaN(q) ? 0 : Math.max(-32768, Math.min(32767, q));
  }
  return s;
}

/** y [N] = beta*y + f32(sum_k W[j,k] xq[k]) * f32(sw[j] * sx), rounded to f32 as the kernel does (both builds). */
export function gemv_q8_ref(N: number, K: number, W: Int8Array, sw: ArrayLike<number>, xq: Int16Array, sx: number, y: NumArray, beta: number): void {
  for (let j = 0; j < N; j++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += W[j * K + k] * xq[k]; // exact: |s| < 2^31
    let r = f(f(s) * f(f(sw[j]) * f(sx)));
    if (beta !== 0) r = f(r + f(f(beta) * f(y[j])));
    y[j] = r;
  }
}

/**
 * One step of one recurrent layer at batch 1 with int8 weights, in place on h (and c):
 * gates from {@link gemv_q8_ref} on the quantized x and h, then the float64 cell.
 * @param kind 0 rnn tanh, 1 rnn relu, 2 lstm, 3 gru
 */
export function cell_step_b1_q8_ref(
  kind: number, x: ArrayLike<number>, I: number, h: NumArray, c: NumArray,
  wIh: Int8Array, sIh: ArrayLike<number>, wHh: Int8Array, sHh: ArrayLike<number>, bIh: ArrayLike<number>, bHh: ArrayLike<number>, H: number, flags = 0,
): void {
  const gact = flags & 1;
  const G = kind <= 1 ? 1 : kind === 2 ? 4 : 3;
  const xq = new Int16Array((I + 7) & ~7);
  const hq = new Int16Array((H + 7) & ~7);
  const sx = quantize_act_q8_ref(x, I, xq);
  const sh = quantize_act_q8_ref(h, H, hq);
  const gi = new Float32Array(G * H);
  const gh = new Float32Array(G * H);
  gemv_q8_ref(G * H, I, wIh, sIh, xq, sx, gi, 0);
  gemv_q8_ref(G * H, H, wHh, sHh, hq, sh, gh, 0);
  if (kind <= 1) {
    const g = Float64Array.from(gi, (v, j) => v + gh[j]);
    rnn_step_fwd_ref(g, bIh, bHh, h, 1, H, kind);
  } else if (kind === 2) {
    const g = Float64Array.from(gi, (v, j) => v + gh[j]);
    lstm_step_fwd_ref(g, bIh, bHh, Float64Array.from(c), c, h, new Float64Array(H), 1, H, gact);
  } else {
    const out = new Float64Array(H);
    gru_step_fwd_ref(gi, gh, bIh, bHh, h, out, new Float64Array(4 * H), 1, H, gact);
    for (let j = 0; j < H; j++) h[j] = out[j];
  }
}

/** y [N] = W x + b with int8 W [N, K] and row scales sw [N]. */
export function dense_b1_q8_ref(x: ArrayLike<number>, K: number, W: Int8Array, sw: ArrayLike<number>, b: ArrayLike<number>, y: NumArray, N: number): void {
  const xq = new Int16Array((K + 7) & ~7);
  const sx = quantize_act_q8_ref(x, K, xq);
  for (let j = 0; j < N; j++) y[j] = b[j];
  gemv_q8_ref(N, K, W, sw, xq, sx, y, 1);
}
