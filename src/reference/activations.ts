/**
 * Scalar float64 twins of the activation kernels in `assembly/activations.ts`:
 * the oracle the SIMD kernels are tested against. Same arguments as the
 * kernels, with arrays in place of pointers; results are computed in float64
 * and rounded only when stored into a Float32Array.
 */

/** A writable array of numbers (Float32Array, Float64Array or number[]). */
export interface NumArray {
  [i: number]: number;
  readonly length: number;
}

/** The logistic function 1 / (1 + e^-x), without overflow for any x. */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x); // x < 0 or NaN (NaN propagates)
  return e / (1 + e);
}

/**
 * Keras's and tfjs-layers' hard sigmoid, clip(0.2 x + 0.5, 0, 1): the `gact = 1`
 * gate activation of the LSTM and GRU kernels. NaN stays NaN.
 */
export function hardSigmoid(x: number): number {
  return Math.min(Math.max(0.5 + 0.2 * x, 0), 1);
}

/** A gate activation by the kernels' code: 0 = sigmoid, 1 = hard sigmoid. */
export function gateAct(x: number, gact: number): number {
  return gact === 0 ? sigmoid(x) : hardSigmoid(x);
}

/** The gate activation's derivative from its output y: y (1 - y), or 0.2 where 0 < y < 1 (else 0). */
export function gateActGrad(y: number, gact: number): number {
  return gact === 0 ? y * (1 - y) : y > 0 && y < 1 ? 0.2 : 0;
}

/** max(x, 0) like Math.max: -0 gives +0 and NaN gives NaN. */
export function relu(x: number): number {
  return Math.max(x, 0);
}

/** dst[i] = exp(src[i]) for i < n; dst may be src. Twin of `exp_f32x4`. */
export function exp_ref(dst: NumArray, src: ArrayLike<number>, n: number): void {
  for (let i = 0; i < n; i++) dst[i] = Math.exp(src[i]);
}

/** dst[i] = 1 / (1 + exp(-src[i])); dst may be src. Twin of `sigmoid_f32x4`. */
export function sigmoid_ref(dst: NumArray, src: ArrayLike<number>, n: number): void {
  for (let i = 0; i < n; i++) dst[i] = sigmoid(src[i]);
}

/** dst[i] = tanh(src[i]); dst may be src. Twin of `tanh_f32x4`. */
export function tanh_ref(dst: NumArray, src: ArrayLike<number>, n: number): void {
  for (let i = 0; i < n; i++) dst[i] = Math.tanh(src[i]);
}

/** dst[i] = max(src[i], 0); dst may be src. Twin of `relu_f32x4`. */
export function relu_ref(dst: NumArray, src: ArrayLike<number>, n: number): void {
  for (let i = 0; i < n; i++) dst[i] = relu(src[i]);
}
