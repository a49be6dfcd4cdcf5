/**
 * Scalar twins of the GEMM kernels in `assembly/gemm.ts`: the oracle the SIMD
 * kernels are tested against. Same arguments as the kernels, with arrays in
 * place of pointers. Sums are accumulated in float64 and rounded only when
 * stored into a Float32Array.
 *
 * Dimension letters: M = rows of C, N = columns of C, K = the inner
 * dimension. Matrices are row-major; `ld*` are leading dimensions (elements
 * between rows as stored).
 */

/** A writable array of numbers (Float32Array, Float64Array or number[]). */
export interface NumArray {
  [i: number]: number;
  readonly length: number;
}

/**
 * C [M, N] = beta*C + op(A) [M, K] * op(B) [K, N].
 *
 * op(A) = A [M, K] (leading dim lda) or, when `transA`, A^T with A stored
 * [K, M]; op(B) = B [K, N] (leading dim ldb) or, when `transB`, B^T with B
 * stored [N, K]. beta = 0 never reads C (C may hold NaN). The sum starts
 * from beta*C and adds the products in k order, like the kernels, but in
 * float64. Twin of `gemm_nn` (F, F), `gemm_nt` (F, T), `gemm_tn` (T, F) and
 * `gemm_nn_ref`.
 */
export function gemmRef(
  transA: boolean, transB: boolean,
  M: number, N: number, K: number,
  A: ArrayLike<number>, lda: number,
  B: ArrayLike<number>, ldb: number,
  C: NumArray, ldc: number, beta: number,
): void {
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = beta === 0 ? 0 : beta * C[i * ldc + j];
      for (let k = 0; k < K; k++) {
        const a = transA ? A[k * lda + i] : A[i * lda + k];
        const b = transB ? B[j * ldb + k] : B[k * ldb + j];
        s += a * b;
      }
      C[i * ldc + j] = s;
    }
  }
}

/**
 * The scale of the rounding error of {@link gemmRef} in float32: returns
 * S [M, N] (dense, leading dim N) with S[i,j] = |beta*C[i,j]| + sum_k
 * |op(A)[i,k]| |op(B)[k,j]| (the |beta*C| term is 0 when beta = 0). Any
 * order of float32 summation of the K + 1 terms is within
 * gamma_(K+1) * S[i,j] ~ (K+1) * 2^-24 * S[i,j] of the exact value
 * (Higham, "Accuracy and Stability of Numerical Algorithms", 3.1). Read
 * C before it is overwritten.
 */
export function gemmErrorScale(
  transA: boolean, transB: boolean,
  M: number, N: number, K: number,
  A: ArrayLike<number>, lda: number,
  B: ArrayLike<number>, ldb: number,
  C: ArrayLike<number>, ldc: number, beta: number,
): Float64Array {
  const S = new Float64Array(Math.max(0, M * N));
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = beta === 0 ? 0 : Math.abs(beta * C[i * ldc + j]);
      for (let k = 0; k < K; k++) {
        const a = transA ? A[k * lda + i] : A[i * lda + k];
        const b = transB ? B[j * ldb + k] : B[k * ldb + j];
        s += Math.abs(a * b);
      }
      S[i * N + j] = s;
    }
  }
  return S;
}

/**
 * Twin of `gemm_pack_b_nn` (`transB` false: B [K, N]) and `gemm_pack_b_nt`
 * (`transB` true: B stored [N, K]): writes op(B) [K, N] into 8-wide column
 * panels dst [ceil(N/8)][K][8], zero past column N.
 */
export function packBRef(transB: boolean, B: ArrayLike<number>, ldb: number, K: number, N: number, dst: NumArray): void {
  const panels = Math.ceil(N / 8);
  for (let p = 0; p < panels; p++) {
    for (let k = 0; k < K; k++) {
      for (let c = 0; c < 8; c++) {
        const j = p * 8 + c;
        dst[(p * K + k) * 8 + c] = j < N ? (transB ? B[j * ldb + k] : B[k * ldb + j]) : 0;
      }
    }
  }
}
