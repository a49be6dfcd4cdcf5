/**
 * Weight layout conversions shared by the exchange code (ONNX export and
 * import, the tfjs / Keras importer): transposes and gate-block reorders.
 */

/** [rows, cols] -> [cols, rows], row-major. */
export function transpose(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = w[r * cols + c];
  return out;
}

/**
 * The gate blocks of `w` ([G*H, cols], or a bias [G*H] with cols = 1) in
 * another gate order: output block j is input block `order[j]`.
 */
export function regroupGates(w: Float32Array, H: number, cols: number, order: readonly number[]): Float32Array {
  const out = new Float32Array(order.length * H * cols);
  const block = H * cols;
  order.forEach((src, dst) => out.set(w.subarray(src * block, (src + 1) * block), dst * block));
  return out;
}
