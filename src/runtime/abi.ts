/**
 * The TS/WASM boundary: the one list of functions the TypeScript side may call
 * in `build/unfold.wasm` (exported by `assembly/index.ts`).
 *
 * Conventions (all kernels):
 * - A `Ptr` is a byte offset into the module's memory. f32 tensors are
 *   row-major; `ld*` arguments are leading dimensions in elements.
 * - Kernels trust their callers: shapes are checked on the TypeScript side.
 * - Gradients written by backward kernels overwrite unless the doc says "adds".
 *
 * Dimension letters: M, N, K = GEMM sizes; B = batch; H = hidden size;
 * n = element count.
 */
import type { WasmMemory } from "./wasm-types.js";

export type Ptr = number;

export interface Kernels {
  /** Exported linear memory of the module. */
  readonly memory: WasmMemory;
  /** First free byte after the module's static data (constant tables). */
  heap_base(): Ptr;
  /** 1 in the relaxed-SIMD builds (fused multiply-add), 0 in the plain ones (assembly/fma.ts). */
  simd_relaxed(): number;

  // ---- gemm.ts ------------------------------------------------------------
  /** Pack B [K, N] (row-major, leading dim ldb) into 8-wide column panels
   * dst [ceil(N/8)][K][8], zero-padded. */
  gemm_pack_b_nn(B: Ptr, ldb: number, K: number, N: number, dst: Ptr): void;
  /** Pack B^T where B is stored [N, K] (leading dim ldb) into panels
   * dst [ceil(N/8)][K][8], zero-padded. Used for `x W^T`. */
  gemm_pack_b_nt(B: Ptr, ldb: number, K: number, N: number, dst: Ptr): void;
  /** C [M, N] = beta*C + A * Bp with A element (i, k) at A + 4*(i*aRs + k*aCs)
   * and Bp packed by one of the pack functions. beta = 0 never reads C. */
  gemm_packed_f32x4_4x8(
    M: number, N: number, K: number,
    A: Ptr, aRs: number, aCs: number,
    Bp: Ptr, C: Ptr, ldc: number, beta: number,
  ): void;
  /** C [M,N] = beta*C + A [M,K] * B [K,N]. scratch: ceil(N/8)*8*K floats. */
  gemm_nn(M: number, N: number, K: number, A: Ptr, lda: number, B: Ptr, ldb: number, C: Ptr, ldc: number, beta: number, scratch: Ptr): void;
  /** C [M,N] = beta*C + A [M,K] * B^T, B stored [N,K]. scratch: ceil(N/8)*8*K floats. */
  gemm_nt(M: number, N: number, K: number, A: Ptr, lda: number, B: Ptr, ldb: number, C: Ptr, ldc: number, beta: number, scratch: Ptr): void;
  /** C [M,N] = beta*C + A^T * B, A stored [K,M], B stored [K,N]. scratch: ceil(N/8)*8*K floats
   * (from K = 32 on it holds B panels and packed A^T panels of one k block, each within half). */
  gemm_tn(M: number, N: number, K: number, A: Ptr, lda: number, B: Ptr, ldb: number, C: Ptr, ldc: number, beta: number, scratch: Ptr): void;
  /** Scalar (no SIMD) C = beta*C + A*B, the in-WASM baseline for benchmarks. */
  gemm_nn_ref(M: number, N: number, K: number, A: Ptr, lda: number, B: Ptr, ldb: number, C: Ptr, ldc: number, beta: number): void;

  // ---- activations.ts ------------------------------------------------------
  /** dst[i] = exp(src[i]); dst may equal src. */
  exp_f32x4(dst: Ptr, src: Ptr, n: number): void;
  /** dst[i] = 1 / (1 + exp(-src[i])). */
  sigmoid_f32x4(dst: Ptr, src: Ptr, n: number): void;
  /** dst[i] = tanh(src[i]). */
  tanh_f32x4(dst: Ptr, src: Ptr, n: number): void;
  /** dst[i] = max(src[i], 0). */
  relu_f32x4(dst: Ptr, src: Ptr, n: number): void;

  // ---- cells.ts: one time step of each cell, fused ---------------------------
  /** SimpleRNN forward. G [B,H] holds x W_ih^T + h_prev W_hh^T.
   * h [B,H] = act(G + b_ih + b_hh); act 0 = tanh, 1 = relu. h may equal G. */
  rnn_step_fwd(G: Ptr, bIh: Ptr, bHh: Ptr, h: Ptr, B: number, H: number, act: number): void;
  /** SimpleRNN backward. dG [B,H] = dh * act'(from h). dG may equal dh. */
  rnn_step_bwd(h: Ptr, dh: Ptr, dG: Ptr, B: number, H: number, act: number): void;
  // gact (LSTM, GRU): 0 = sigmoid gates, 1 = hard sigmoid clip(0.2x + 0.5, 0, 1) (Keras, tfjs-layers).
  /** LSTM forward, gates i,f,g,o. G [B,4H] holds x W_ih^T + h_prev W_hh^T and is
   * overwritten with the activated gates (the cache). Writes c [B,H],
   * h [B,H] and tc = tanh(c) [B,H]. */
  lstm_step_fwd(G: Ptr, bIh: Ptr, bHh: Ptr, cPrev: Ptr, c: Ptr, h: Ptr, tc: Ptr, B: number, H: number, gact: number): void;
  /** LSTM backward. Reads activated gates G [B,4H], cPrev, tc, dh [B,H];
   * dc [B,H] holds dL/dc_t on entry and dL/dc_{t-1} on exit; writes
   * pre-activation gradients dG [B,4H]. */
  lstm_step_bwd(G: Ptr, cPrev: Ptr, tc: Ptr, dh: Ptr, dc: Ptr, dG: Ptr, B: number, H: number, gact: number): void;
  /** GRU forward, gates r,z,n. Gi [B,3H] = x W_ih^T, Gh [B,3H] = h_prev W_hh^T
   * (no biases). Writes h [B,H] and cache [B,4H] = r, z, n, (h_prev W_hn^T + b_hn). */
  gru_step_fwd(Gi: Ptr, Gh: Ptr, bIh: Ptr, bHh: Ptr, hPrev: Ptr, h: Ptr, cache: Ptr, B: number, H: number, gact: number): void;
  /** The forward steps on hidden units j0 <= j < j1 only (j0 a multiple of 4), every gate block of
   * them: the column split of threads.ts. Arguments otherwise as rnn/lstm/gru_step_fwd. */
  rnn_step_fwd_cols(G: Ptr, bIh: Ptr, bHh: Ptr, h: Ptr, B: number, H: number, act: number, j0: number, j1: number): void;
  lstm_step_fwd_cols(G: Ptr, bIh: Ptr, bHh: Ptr, cPrev: Ptr, c: Ptr, h: Ptr, tc: Ptr, B: number, H: number, j0: number, j1: number, gact: number): void;
  gru_step_fwd_cols(Gi: Ptr, Gh: Ptr, bIh: Ptr, bHh: Ptr, hPrev: Ptr, h: Ptr, cache: Ptr, B: number, H: number, j0: number, j1: number, gact: number): void;
  /** GRU backward. Writes dGi [B,3H], dGh [B,3H] (pre-activation gradients of
   * the input and recurrent projections) and dhPrev [B,H] = dh*z (the direct
   * path; the caller adds dGh W_hh). */
  gru_step_bwd(cache: Ptr, hPrev: Ptr, dh: Ptr, dGi: Ptr, dGh: Ptr, dhPrev: Ptr, B: number, H: number, gact: number): void;
  /** GRU with the reset gate before W_hn (Keras reset_after = false, ONNX linear_before_reset = 0):
   * one whole step, both recurrent GEMMs inside. WpRZ / WpN: W_hh's r,z rows [2H,H] / n rows [H,H],
   * each packed by gemm_pack_b_nt. Gi [B,3H] = x W_ih^T; Gh [B,3H] scratch; writes h [B,H]
   * (may equal hPrev) and cache [B,4H] = r, z, n, u = r*h_prev. */
  gru_rb_step_fwd(hPrev: Ptr, WpRZ: Ptr, WpN: Ptr, Gi: Ptr, Gh: Ptr, bIh: Ptr, bHh: Ptr, h: Ptr, cache: Ptr, B: number, H: number, gact: number): void;
  /** Backward of gru_rb_step_fwd, GEMMs inside: writes dGi, dGh [B,3H] (dGh's n block is
   * dL/d(u W_hn^T + b_hn)) and the whole dL/dh_{t-1} into dhPrev [B,H] (not overlapping dh).
   * WpRZN / WpNN: the same rows packed by gemm_pack_b_nn. */
  gru_rb_step_bwd(cache: Ptr, hPrev: Ptr, dh: Ptr, dGi: Ptr, dGh: Ptr, dhPrev: Ptr, WpRZN: Ptr, WpNN: Ptr, B: number, H: number, gact: number): void;

  // ---- loss.ts ---------------------------------------------------------------
  /** C [M,N] += bias [N] broadcast over rows. */
  bias_add_rows(C: Ptr, M: number, N: number, bias: Ptr): void;
  /** dst [N] = beta*dst + sum over rows of src [M,N] (bias gradients); beta = 0 never reads dst. */
  sum_rows(dst: Ptr, src: Ptr, M: number, N: number, beta: number): void;
  /** sum_rows over N columns of src rows lds floats apart (a column range of a wider matrix). */
  sum_rows_ld(dst: Ptr, src: Ptr, M: number, N: number, lds: number, beta: number): void;
  /** dst [M,N] = row-wise softmax of src; dst may equal src. */
  softmax_rows(dst: Ptr, src: Ptr, M: number, N: number): void;
  /** Softmax cross-entropy. targets: i32 [M]; a target < 0 is ignored (padding).
   * Targets >= N are not checked here (the caller must). Returns the summed loss over valid rows; writes
   * dlogits [M,N] = scale * (softmax - onehot) (zero rows where ignored).
   * dlogits may equal logits. */
  softmax_xent(logits: Ptr, targets: Ptr, M: number, N: number, dlogits: Ptr, scale: number): number;
  /** Sum of squared errors over n; writes dpred = scale * 2 * (pred - target). */
  mse(pred: Ptr, target: Ptr, n: number, dpred: Ptr, scale: number): number;

  // ---- optim.ts ----------------------------------------------------------------
  // Hyperparameters are f64 in WASM: derived constants (1-beta, lr/bc1, sqrt(bc2))
  // are formed in f64 and rounded to f32 once, as torch does.
  /** p -= lr * (g + wd*p) */
  sgd_step(p: Ptr, g: Ptr, n: number, lr: number, wd: number): void;
  /** PyTorch SGD with momentum: d = g + wd*p; v = mu*v + d;
   * p -= lr * (nesterov ? d + mu*v : v). */
  momentum_step(p: Ptr, g: Ptr, v: Ptr, n: number, lr: number, mu: number, wd: number, nesterov: number): void;
  /** d = g + wd*p; s += d^2; p -= lr * d / (sqrt(s) + eps) */
  adagrad_step(p: Ptr, g: Ptr, s: Ptr, n: number, lr: number, eps: number, wd: number): void;
  /** d = g + wd*p; s = alpha*s + (1-alpha) d^2; p -= lr * d / (sqrt(s) + eps) */
  rmsprop_step(p: Ptr, g: Ptr, s: Ptr, n: number, lr: number, alpha: number, eps: number, wd: number): void;
  /** Adam (decoupled = 0, wd added to g) or AdamW (decoupled = 1, p *= 1 - lr*wd).
   * bc1 = 1 - beta1^t, bc2 = 1 - beta2^t. Matches torch.optim.Adam/AdamW.
   * Returns 1 if any new p is NaN or infinite, else 0 (the divergence check, fused). */
  adam_step(p: Ptr, g: Ptr, m: Ptr, v: Ptr, n: number, lr: number, beta1: number, beta2: number, eps: number, wd: number, decoupled: number, bc1: number, bc2: number): number;
  /** Sum of squares of g [n] (accumulated in f64). */
  sum_squares(g: Ptr, n: number): number;
  /** Number of NaN or infinite values in x [n]. */
  count_nonfinite(x: Ptr, n: number): number;

  // ---- util.ts -------------------------------------------------------------------
  /** x[i] *= s */
  scale_f32(x: Ptr, n: number, s: number): void;
  /** x[i] = min(max(x[i], -c), c) */
  clip_f32(x: Ptr, n: number, c: number): void;
  /** dst[i] += a * src[i] */
  axpy_f32(dst: Ptr, src: Ptr, n: number, a: number): void;
  /** dst[i] = v */
  fill_f32(dst: Ptr, n: number, v: number): void;
  /** dst [B,T,F] <-> src [T,B,F]: dst[b,t,:] = src[t,b,:]. Swaps the two
   * leading axes of a [P, Q, F] tensor into [Q, P, F]. */
  swap01_f32(dst: Ptr, src: Ptr, P: number, Q: number, F: number): void;
  /** Embedding lookup: out [n, D] = table[ids[i], :]; ids i32 [n]; a negative id gives a zero row. */
  gather_rows(out: Ptr, table: Ptr, ids: Ptr, n: number, D: number): void;
  /** Embedding backward: dtable[ids[i], :] += dout[i, :] (adds). Negative ids skipped. */
  scatter_add_rows(dtable: Ptr, dout: Ptr, ids: Ptr, n: number, D: number): void;

  // ---- layout.ts -------------------------------------------------------------------
  /** dst [rows, cols] (leading dim ldd) = src [rows, cols] (leading dim lds). */
  copy2d_f32(dst: Ptr, ldd: number, src: Ptr, lds: number, rows: number, cols: number): void;
  /** dst[i] = a[i] * b[i]. */
  mul_f32(dst: Ptr, a: Ptr, b: Ptr, n: number): void;
  /** Dropout mask dst[i] = (u < p ? 0 : scale), u from xoshiro128** with its 4 x u32 state at `state` (advanced). */
  dropout_mask(dst: Ptr, n: number, p: number, scale: number, state: Ptr): void;

  // ---- session.ts: batch-1 steps for streaming inference ----------------------------
  /** y [N] = beta*y + W x, W [N, K] row-major, x [K]. beta 0 never reads y. */
  gemv_f32x4(N: number, K: number, W: Ptr, x: Ptr, y: Ptr, beta: number): void;
  /** One step of one recurrent layer at B = 1, in place on h [H] (and c [H] for LSTM).
   * kind 0 rnn tanh, 1 rnn relu, 2 lstm, 3 gru; x [I]; wIh [G*H, I], wHh [G*H, H], biases [G*H];
   * scratch: RNN H, LSTM 5H, GRU 10H floats. flags: bit 0 hard-sigmoid gates, bit 1 GRU reset before W_hn. */
  cell_step_b1(kind: number, x: Ptr, I: number, h: Ptr, c: Ptr, wIh: Ptr, wHh: Ptr, bIh: Ptr, bHh: Ptr, scratch: Ptr, H: number, flags: number): void;
  /** y [N] = W x + b at B = 1; W [N, K] (nn.Linear layout). */
  dense_b1(x: Ptr, K: number, W: Ptr, b: Ptr, y: Ptr, N: number): void;

  // ---- quant.ts: int8 weights (one f32 scale per row), dynamically quantized activations ----
  /** q = nearest-even(x / s) in [-63, 63], s = max|x|/63 (returned; 0 for x all zero) into xq (2 * ceil8(K) bytes):
   * plain build i16 lanes q (zero tail), relaxed build u8 lanes q + 64. */
  quantize_act_q8(x: Ptr, K: number, xq: Ptr): number;
  /** y [N] = beta*y + (sw[j]*sx) * sum_k W[j,k] q[k]; W [N, K] int8, sw [N] f32, wsum [N] i32 = row sums of W over
   * its first K & ~15 columns (read by the relaxed build), xq from quantize_act_q8. */
  gemv_q8(N: number, K: number, W: Ptr, sw: Ptr, wsum: Ptr, xq: Ptr, sx: number, y: Ptr, beta: number): void;
  /** cell_step_b1 with int8 wIh / wHh, their row scales sIh / sHh and row sums uIh / uHh; qs: 2 * (ceil8(I) + ceil8(H)) bytes;
   * flags bit 0 hard-sigmoid gates (bit 1, the reset-before GRU, is not supported: the session steps it in f32). */
  cell_step_b1_q8(kind: number, x: Ptr, I: number, h: Ptr, c: Ptr, wIh: Ptr, sIh: Ptr, uIh: Ptr, wHh: Ptr, sHh: Ptr, uHh: Ptr, bIh: Ptr, bHh: Ptr, scratch: Ptr, qs: Ptr, H: number, flags: number): void;
  /** y [N] = W x + b with W [N, K] int8, row scales sw [N] and row sums wsum [N]; qs: 2 * ceil8(K) bytes. */
  dense_b1_q8(x: Ptr, K: number, W: Ptr, sw: Ptr, wsum: Ptr, b: Ptr, y: Ptr, N: number, qs: Ptr): void;

  // ---- peak.ts: the benchmarks' SIMD ceiling ----
  /** n iterations of 12 independent f32x4 chains a = a*m + c (96 flops each); returns their lane sum. */
  simd_peak_f32x4(n: number, m: number, c: number): number;

  // ---- attention.ts (scores / weights [T, B, S], row r = t*B + b; lengths i32 [B]) ----
  /** p [R, S] = softmax over the first lengths[r % B] entries of each row of x, zeros after; p may equal x. */
  masked_softmax_fwd(p: Ptr, x: Ptr, R: number, S: number, lengths: Ptr, B: number): void;
  /** dx [R, S] = p ⊙ (dp - Σ_j p dp) per row; dx may equal dp. */
  masked_softmax_bwd(dx: Ptr, p: Ptr, dp: Ptr, R: number, S: number): void;
  /** scores [T, B, S] = Σ_a v[a] tanh(q [T, B, A] + k [S, B, A]); keeps th [T, B, S, A]. */
  additive_scores_fwd(scores: Ptr, th: Ptr, q: Ptr, k: Ptr, v: Ptr, T: number, S: number, B: number, A: number): void;
  /** From dscores [T, B, S]: writes dq [T, B, A], dk [S, B, A], dv [A]. */
  additive_scores_bwd(dq: Ptr, dk: Ptr, dv: Ptr, dscores: Ptr, th: Ptr, v: Ptr, T: number, S: number, B: number, A: number): void;

  // ---- small.ts: batch-1 training (the recurrent products as GEMVs, the LSTM time loops) ----
  // Every output sums its k in order, as the GEMM tiles do: bit-identical to the batched path.
  /** Pack W [N, K] (leading dim ldw) into 32-column panels dst [ceil(N/32)][K][32], dst[p][k][i] = W[32p+i][k], zero past N. */
  b1_pack_t(W: Ptr, ldw: number, N: number, K: number, dst: Ptr): void;
  /** y [N] = beta*y + x [K] . W, W(k, j) at W + k*kStride + (j/32)*panelStride + 4*(j%32) bytes (b1_pack_t panels:
   * 128, 128*K; row-major [K, N] in place: 4*ld, 128, N a multiple of 32). beta 0 or 1 (0 never reads y); N a multiple of 4. */
  gemv_b1(N: number, K: number, x: Ptr, W: Ptr, kStride: number, panelStride: number, y: Ptr, beta: number): void;
  /** LSTM forward over T steps at B = 1: per step G_t += h_{t-1} W_hh^T (Wp from b1_pack_t(W_hh, H, 4H, H)), then lstm_step_fwd.
   * hs, cs [T+1, H] (slot 0: the initial state; slot t+1: step t), G [T, 4H] (x W_ih^T in, activated gates out), tc [T, H]. H a multiple of 8. */
  lstm_fwd_b1(T: number, H: number, hs: Ptr, cs: Ptr, G: Ptr, tc: Ptr, Wp: Ptr, bIh: Ptr, bHh: Ptr, gact: number): void;
  /** LSTM backward over T steps at B = 1 (t = T-1..0): lstm_step_bwd, then dL/dh_{t-1} = dG_t W_hh (W [4H, H] in place) added
   * into dHs[t-1], or written to dh0 at t = 0 (dh0 = 0: not wanted, left out). dc [H]: dL/dc_{T-1} in, dL/dc_{-1} out. H a multiple of 32. */
  lstm_bwd_b1(T: number, H: number, G: Ptr, cs: Ptr, tc: Ptr, dHs: Ptr, dc: Ptr, dG: Ptr, W: Ptr, dh0: Ptr, gact: number): void;

  // ---- steal.ts: forward steps split across threads with work stealing --------
  /** One thread's part of a forward step split by hidden units into chunks (threads.ts, unitSteal):
   * runs its own range of chunks (queue q) from the front, then the other parts' from the back; per chunk,
   * the gate GEMMs h_{t-1} W_hh^T (Wp packed) of its units and the cell on them, as the *_step_fwd_cols
   * split does. actPart = gact (or act) | part << 8. Returns the chunks it ran. */
  lstm_step_fwd_steal(hPrev: Ptr, Wp: Ptr, G: Ptr, bIh: Ptr, bHh: Ptr, cPrev: Ptr, c: Ptr, h: Ptr, tc: Ptr, B: number, H: number, q: Ptr, actPart: number): number;
  gru_step_fwd_steal(hPrev: Ptr, Wp: Ptr, Gi: Ptr, Gh: Ptr, bIh: Ptr, bHh: Ptr, h: Ptr, cache: Ptr, B: number, H: number, q: Ptr, actPart: number): number;
  rnn_step_fwd_steal(hPrev: Ptr, Wp: Ptr, G: Ptr, bIh: Ptr, bHh: Ptr, h: Ptr, B: number, H: number, q: Ptr, actPart: number): number;
  /** One thread's part of a whole layer-direction forward split by batch rows ("rows over time", threads.ts
   * forwardRows): per chunk of rows, every step's input projection, h_{t-1} W_hh^T and cell on those rows. The
   * arguments (T, B, I, H and the tensors) are in the queue header; actPart = act | part << 8 | reverse << 16 |
   * zeroInit << 17 | kind << 18 (0 LSTM, 1 GRU, 2 SimpleRNN). Returns the chunks it ran. */
  fwd_rows_steal(q: Ptr, actPart: number): number;
  /** The backward the same way (threads.ts backwardRows): per chunk of rows, every step's cell backward and
   * dL/dh_{t-1} (+)= dG_t W_hh on those rows, walking back in time. actPart = act | part << 8 | reverse << 16 |
   * dh0 wanted << 17 | kind << 18. Returns the chunks it ran. */
  bwd_rows_steal(q: Ptr, actPart: number): number;
  /** The backward steps split by batch rows the same way (rows per chunk a multiple of 4): per chunk, the cell's
   * backward on its rows, then their dL/dh_{t-1} = beta*dPrev + dG W_hh (Wp packed; GRU: dhPrev += dGh W_hh). */
  lstm_step_bwd_steal(G: Ptr, cPrev: Ptr, tc: Ptr, dh: Ptr, dc: Ptr, dG: Ptr, Wp: Ptr, dPrev: Ptr, B: number, H: number, beta: number, q: Ptr, actPart: number): number;
  gru_step_bwd_steal(cache: Ptr, hPrev: Ptr, dh: Ptr, dGi: Ptr, dGh: Ptr, dhPrev: Ptr, Wp: Ptr, B: number, H: number, q: Ptr, actPart: number): number;
  rnn_step_bwd_steal(h: Ptr, dh: Ptr, dG: Ptr, Wp: Ptr, dPrev: Ptr, B: number, H: number, beta: number, q: Ptr, actPart: number): number;
  /** lstm_step_bwd on hidden units j0 <= j < j1 only (j0 a multiple of 4), every gate block of them. */
  lstm_step_bwd_cols(G: Ptr, cPrev: Ptr, tc: Ptr, dh: Ptr, dc: Ptr, dG: Ptr, B: number, H: number, j0: number, j1: number, gact: number): void;
  /** An LSTM backward step split by hidden units (chunks of 8-wide panels, stolen as in the forward): per chunk,
   * its columns of dPrev = beta*dPrev + dG_t W_hh (Wp packed [H/8][4H][8]), then, where Gn != 0, the next step's
   * cell backward on the same units (lstm_step_bwd_cols with dh = dPrev, writing dGn). */
  lstm_step_bwd_units_steal(dGt: Ptr, Wp: Ptr, dPrev: Ptr, beta: number, Gn: Ptr, cPn: Ptr, tcn: Ptr, dc: Ptr, dGn: Ptr, B: number, H: number, q: Ptr, actPart: number): number;
}

/** Names of all functions in {@link Kernels}, checked at load time. */
export const KERNEL_NAMES = [
  "heap_base",
  "gemm_pack_b_nn", "gemm_pack_b_nt", "gemm_packed_f32x4_4x8",
  "gemm_nn", "gemm_nt", "gemm_tn", "gemm_nn_ref",
  "exp_f32x4", "sigmoid_f32x4", "tanh_f32x4", "relu_f32x4",
  "rnn_step_fwd", "rnn_step_bwd", "lstm_step_fwd", "lstm_step_bwd", "gru_step_fwd", "gru_step_bwd",
  "rnn_step_fwd_cols", "lstm_step_fwd_cols", "gru_step_fwd_cols", "gru_rb_step_fwd", "gru_rb_step_bwd",
  "bias_add_rows", "sum_rows", "softmax_rows", "softmax_xent", "mse",
  "sgd_step", "momentum_step", "adagrad_step", "rmsprop_step", "adam_step", "sum_squares", "count_nonfinite",
  "scale_f32", "clip_f32", "axpy_f32", "fill_f32", "swap01_f32", "gather_rows", "scatter_add_rows",
  "copy2d_f32", "mul_f32", "dropout_mask",
  "gemv_f32x4", "cell_step_b1", "dense_b1",
  "quantize_act_q8", "gemv_q8", "cell_step_b1_q8", "dense_b1_q8", "simd_peak_f32x4",
  "masked_softmax_fwd", "masked_softmax_bwd", "additive_scores_fwd", "additive_scores_bwd",
  "b1_pack_t", "gemv_b1", "lstm_fwd_b1", "lstm_bwd_b1",
  "lstm_step_fwd_steal", "gru_step_fwd_steal", "rnn_step_fwd_steal",
  "lstm_step_bwd_steal", "gru_step_bwd_steal", "rnn_step_bwd_steal",
  "lstm_step_bwd_cols", "lstm_step_bwd_units_steal", "sum_rows_ld", "fwd_rows_steal", "bwd_rows_steal",
] as const;
