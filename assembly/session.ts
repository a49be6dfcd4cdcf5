// Batch-1 steps for streaming inference (src/model/session.ts): one token
// through one layer of the unfolded network per call, the way a type-ahead
// box or a live captioner runs a model, one step at a time.
//
// At B = 1 the recurrent product h W_hh^T is a matrix-vector product: every
// weight is read once per step and used once, so the step is bound by memory
// bandwidth, not by arithmetic. gemv_f32x4 walks four weight rows at a time
// (four independent f32x4 accumulators) so the loads stream. madd4 (fma.ts)
// is mul + add in the plain build and a fused multiply-add in the relaxed one.
//
// Legend: I = input size, H = hidden size, G = gates (RNN 1, LSTM 4, GRU 3),
// N, K = rows and columns of a weight matrix. All tensors row-major f32.
import "./fma";
import { gru_rb_n, gru_rb_rz, gru_step_fwd, lstm_step_fwd, rnn_step_fwd } from "./cells";

// @ts-ignore: decorator
@inline function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3);
}

/**
 * y [N] = beta*y + W x, W [N, K] row-major (leading dim K), x [K].
 * beta 0 never reads y. Columns in f32x4 steps, the last K % 4 as scalars.
 */
export function gemv_f32x4(N: i32, K: i32, W: usize, x: usize, y: usize, beta: f32): void {
  const K4 = K & ~3;
  const rowBytes = <usize>K << 2;
  let j = 0;
  for (; j + 4 <= N; j += 4) {
    const w0 = W + <usize>j * rowBytes;
    const w1 = w0 + rowBytes;
    const w2 = w1 + rowBytes;
    const w3 = w2 + rowBytes;
    let a0 = f32x4.splat(0);
    let a1 = f32x4.splat(0);
    let a2 = f32x4.splat(0);
    let a3 = f32x4.splat(0);
    for (let k = 0; k < K4; k += 4) {
      const o = <usize>k << 2;
      const xv = v128.load(x + o);
      a0 = madd4(v128.load(w0 + o), xv, a0);
      a1 = madd4(v128.load(w1 + o), xv, a1);
      a2 = madd4(v128.load(w2 + o), xv, a2);
      a3 = madd4(v128.load(w3 + o), xv, a3);
    }
    let s0 = hsum(a0);
    let s1 = hsum(a1);
    let s2 = hsum(a2);
    let s3 = hsum(a3);
    for (let k = K4; k < K; k++) {
      const o = <usize>k << 2;
      const xv = load<f32>(x + o);
      s0 += load<f32>(w0 + o) * xv;
      s1 += load<f32>(w1 + o) * xv;
      s2 += load<f32>(w2 + o) * xv;
      s3 += load<f32>(w3 + o) * xv;
    }
    const yp = y + (<usize>j << 2);
    if (beta != 0) {
      s0 += beta * load<f32>(yp);
      s1 += beta * load<f32>(yp, 4);
      s2 += beta * load<f32>(yp, 8);
      s3 += beta * load<f32>(yp, 12);
    }
    store<f32>(yp, s0);
    store<f32>(yp, s1, 4);
    store<f32>(yp, s2, 8);
    store<f32>(yp, s3, 12);
  }
  for (; j < N; j++) {
    const w0 = W + <usize>j * rowBytes;
    let a0 = f32x4.splat(0);
    for (let k = 0; k < K4; k += 4) {
      const o = <usize>k << 2;
      a0 = madd4(v128.load(w0 + o), v128.load(x + o), a0);
    }
    let s0 = hsum(a0);
    for (let k = K4; k < K; k++) s0 += load<f32>(w0 + (<usize>k << 2)) * load<f32>(x + (<usize>k << 2));
    const yp = y + (<usize>j << 2);
    if (beta != 0) s0 += beta * load<f32>(yp);
    store<f32>(yp, s0);
  }
}

/**
 * One step of one recurrent layer at batch 1, in place on the state:
 *   gates = x W_ih^T + h W_hh^T (+ biases inside the cell kernel), then the
 *   fused cell of cells.ts (the same code the batched layers run).
 * kind    0 = rnn tanh, 1 = rnn relu, 2 = lstm, 3 = gru
 * flags   bit 0: hard-sigmoid gates (LSTM, GRU); bit 1: GRU with the reset gate
 *         before W_hn (Keras reset_after = false; cells.ts gru_rb_*)
 * x       [I]       the step's input (an embedding row, features, or the layer below's h)
 * h       [H]       in: h_{t-1}; out: h_t
 * c       [H]       LSTM in: c_{t-1}; out: c_t (unused otherwise)
 * wIh     [G*H, I], wHh [G*H, H], bIh [G*H], bHh [G*H]
 * scratch RNN [H]; LSTM [5H] (gates, tanh c); GRU [10H] (x W_ih^T, h W_hh^T, cache r z n hn)
 * GRU writes h_t to scratch's cache first and copies, since its cell reads h_{t-1} per column.
 */
export function cell_step_b1(kind: i32, x: usize, I: i32, h: usize, c: usize, wIh: usize, wHh: usize, bIh: usize, bHh: usize, scratch: usize, H: i32, flags: i32): void {
  const gact = flags & 1;
  const hb = <usize>H << 2;
  if (kind <= 1) {
    gemv_f32x4(H, I, wIh, x, scratch, 0);
    gemv_f32x4(H, H, wHh, h, scratch, 1);
    rnn_step_fwd(scratch, bIh, bHh, h, 1, H, kind);
  } else if (kind == 2) {
    const G = scratch; // [4H]
    gemv_f32x4(4 * H, I, wIh, x, G, 0);
    gemv_f32x4(4 * H, H, wHh, h, G, 1);
    // c may equal cPrev: the cell reads each column vector before writing it.
    lstm_step_fwd(G, bIh, bHh, c, c, h, G + 4 * hb, 1, H, gact);
  } else {
    const Gi = scratch; // [3H]
    const Gh = Gi + 3 * hb; // [3H]
    const cache = Gh + 3 * hb; // [4H]
    gemv_f32x4(3 * H, I, wIh, x, Gi, 0);
    if (flags & 2) {
      // r, z from h; then n's recurrent product from u = r * h (the cache's 4th block).
      gemv_f32x4(2 * H, H, wHh, h, Gh, 0);
      gru_rb_rz(Gi, Gh, bIh, bHh, h, cache, 1, H, gact);
      gemv_f32x4(H, H, wHh + 2 * hb * H, cache + 3 * hb, Gh + 2 * hb, 0);
      gru_rb_n(Gi, Gh, bIh, bHh, h, h, cache, 1, H);
      return;
    }
    gemv_f32x4(3 * H, H, wHh, h, Gh, 0);
    gru_step_fwd(Gi, Gh, bIh, bHh, h, Gi, cache, 1, H, gact); // h_t into Gi (free once read)
    memory.copy(h, Gi, hb);
  }
}

/**
 * The output layer at batch 1: y [N] = W x + b, W [N, K] (torch.nn.Linear's
 * layout), x [K], b [N].
 */
export function dense_b1(x: usize, K: i32, W: usize, b: usize, y: usize, N: i32): void {
  memory.copy(y, b, <usize>N << 2);
  gemv_f32x4(N, K, W, x, y, 1);
}
