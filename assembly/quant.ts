// Int8 inference kernels (src/model/quantize.ts): the batch-1 streaming step
// of session.ts with weights stored as int8, one f32 scale per output row.
//
// At batch 1 every weight is read once per token and used once, so the f32
// step is bound by the bytes it reads (13 MB per token for an LSTM 2x512,
// more than L2 holds). Int8 weights read a quarter of the bytes. Widening
// them to f32 and multiplying there would make the step bound by arithmetic
// instead (16 weights cost 1 load + 6 widenings + 4 mul + 4 add), so the
// activations are quantized too, per vector and on the fly (dynamic
// quantization, as ONNX Runtime's and llama.cpp's Q8_0 dot products): x and
// h become int8 values held in i16 lanes, and 8 weights x 1 row cost one
// `v128.load8x8_s` (load and sign-extend), one `i32x4.dot_i16x8_s` and one
// `i32x4.add`. Sums are exact in i32 (|sum| <= K * 127 * 127 < 2^31 for
// K < 133,000); one f32 multiply per row applies both scales.
//
// Only integer arithmetic and plain f32 ops: the plain and relaxed builds
// give bit-identical results, equal to src/reference/quant.ts bit for bit.
//
// Legend: N, K = weight rows and columns, I = input size, H = hidden size,
// G = gates (RNN 1, LSTM 4, GRU 3). K8 = K rounded up to a multiple of 8.
import "./fma";
import { gru_step_fwd, lstm_step_fwd, rnn_step_fwd } from "./cells";

// @ts-ignore: decorator
@inline function hsum_i32(v: v128): i32 {
  return i32x4.extract_lane(v, 0) + i32x4.extract_lane(v, 1) + i32x4.extract_lane(v, 2) + i32x4.extract_lane(v, 3);
}

/**
 * Quantize an activation vector: xq [K8] i16 lanes = nearest-even(x / s),
 * s = max|x| / 127, lanes K..K8 zero. Returns s (then x ~ xq * s); 0 when s
 * is 0 (x all zeros, or below 127 * 2^-149: xq all 0). A division, not a
 * multiply by 127 / max|x|, so that subnormal inputs do not overflow the
 * reciprocal. NaN or infinite x give a NaN or infinite s, so the products
 * that use it are NaN: a non-finite state is never hidden.
 * x [K] f32, xq [K8] i16 (16-byte alignment not needed).
 */
export function quantize_act_q8(x: usize, K: i32, xq: usize): f32 {
  const K4 = K & ~3;
  let mv = f32x4.splat(0);
  for (let k = 0; k < K4; k += 4) mv = f32x4.max(mv, f32x4.abs(v128.load(x + (<usize>k << 2))));
  let m = max(max(f32x4.extract_lane(mv, 0), f32x4.extract_lane(mv, 1)), max(f32x4.extract_lane(mv, 2), f32x4.extract_lane(mv, 3)));
  for (let k = K4; k < K; k++) m = max(m, abs(load<f32>(x + (<usize>k << 2))));
  const K8 = (K + 7) & ~7;
  const s: f32 = m / <f32>127;
  if (s == 0) {
    memory.fill(xq, 0, <usize>K8 << 1);
    return 0;
  }
  const sv = f32x4.splat(s);
  const K8d = K & ~7;
  let k = 0;
  for (; k < K8d; k += 8) {
    const p = x + (<usize>k << 2);
    const a = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.div(v128.load(p), sv)));
    const b = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.div(v128.load(p, 16), sv)));
    v128.store(xq + (<usize>k << 1), i16x8.narrow_i32x4_s(a, b));
  }
  for (; k < K; k++) store<i16>(xq + (<usize>k << 1), <i16><i32>nearest<f32>(load<f32>(x + (<usize>k << 2)) / s));
  for (; k < K8; k++) store<i16>(xq + (<usize>k << 1), 0);
  return s;
}

/**
 * y [N] = beta*y + (sw[j] * sx) * sum_k W[j, k] * xq[k].
 * W [N, K] int8 row-major (leading dim K, any alignment), sw [N] f32 row
 * scales, xq [K8] i16 from quantize_act_q8 with its scale sx. beta 0 never
 * reads y. Four rows at a time (four i32x4 accumulators), 8 columns per step,
 * the last K % 8 columns as scalars.
 */
export function gemv_q8(N: i32, K: i32, W: usize, sw: usize, xq: usize, sx: f32, y: usize, beta: f32): void {
  const K8 = K & ~7;
  const rb = <usize>K;
  let j = 0;
  for (; j + 4 <= N; j += 4) {
    const w0 = W + <usize>j * rb;
    const w1 = w0 + rb;
    const w2 = w1 + rb;
    const w3 = w2 + rb;
    let a0 = i32x4.splat(0);
    let a1 = i32x4.splat(0);
    let a2 = i32x4.splat(0);
    let a3 = i32x4.splat(0);
    for (let k = 0; k < K8; k += 8) {
      const xv = v128.load(xq + (<usize>k << 1));
      const o = <usize>k;
      a0 = i32x4.add(a0, i32x4.dot_i16x8_s(v128.load8x8_s(w0 + o), xv));
      a1 = i32x4.add(a1, i32x4.dot_i16x8_s(v128.load8x8_s(w1 + o), xv));
      a2 = i32x4.add(a2, i32x4.dot_i16x8_s(v128.load8x8_s(w2 + o), xv));
      a3 = i32x4.add(a3, i32x4.dot_i16x8_s(v128.load8x8_s(w3 + o), xv));
    }
    let s0 = hsum_i32(a0);
    let s1 = hsum_i32(a1);
    let s2 = hsum_i32(a2);
    let s3 = hsum_i32(a3);
    for (let k = K8; k < K; k++) {
      const xv = <i32>load<i16>(xq + (<usize>k << 1));
      const o = <usize>k;
      s0 += <i32>load<i8>(w0 + o) * xv;
      s1 += <i32>load<i8>(w1 + o) * xv;
      s2 += <i32>load<i8>(w2 + o) * xv;
      s3 += <i32>load<i8>(w3 + o) * xv;
    }
    const yp = y + (<usize>j << 2);
    const sp = sw + (<usize>j << 2);
    let r0 = <f32>s0 * (load<f32>(sp) * sx);
    let r1 = <f32>s1 * (load<f32>(sp, 4) * sx);
    let r2 = <f32>s2 * (load<f32>(sp, 8) * sx);
    let r3 = <f32>s3 * (load<f32>(sp, 12) * sx);
    if (beta != 0) {
      r0 += beta * load<f32>(yp);
      r1 += beta * load<f32>(yp, 4);
      r2 += beta * load<f32>(yp, 8);
      r3 += beta * load<f32>(yp, 12);
    }
    store<f32>(yp, r0);
    store<f32>(yp, r1, 4);
    store<f32>(yp, r2, 8);
    store<f32>(yp, r3, 12);
  }
  for (; j < N; j++) {
    const w0 = W + <usize>j * rb;
    let a0 = i32x4.splat(0);
    for (let k = 0; k < K8; k += 8) a0 = i32x4.add(a0, i32x4.dot_i16x8_s(v128.load8x8_s(w0 + <usize>k), v128.load(xq + (<usize>k << 1))));
    let s0 = hsum_i32(a0);
    for (let k = K8; k < K; k++) s0 += <i32>load<i8>(w0 + <usize>k) * <i32>load<i16>(xq + (<usize>k << 1));
    const yp = y + (<usize>j << 2);
    let r0 = <f32>s0 * (load<f32>(sw + (<usize>j << 2)) * sx);
    if (beta != 0) r0 += beta * load<f32>(yp);
    store<f32>(yp, r0);
  }
}

/**
 * cell_step_b1 of session.ts with int8 weights: one step of one recurrent
 * layer at batch 1, in place on the state.
 *   gates = x W_ih^T + h W_hh^T (x and h quantized per vector), then the
 *   fused f32 cell of cells.ts (biases added there, as in the f32 step).
 * kind    0 = rnn tanh, 1 = rnn relu, 2 = lstm, 3 = gru
 * x [I] f32, h [H] f32 (in h_{t-1}, out h_t), c [H] f32 (LSTM)
 * wIh [G*H, I] int8 + sIh [G*H] f32, wHh [G*H, H] int8 + sHh [G*H] f32, bIh, bHh [G*H] f32
 * scratch f32 as cell_step_b1 (RNN H, LSTM 5H, GRU 10H floats)
 * qs      i16 [ceil8(I) + ceil8(H)] (the quantized x, then h)
 */
export function cell_step_b1_q8(kind: i32, x: usize, I: i32, h: usize, c: usize, wIh: usize, sIh: usize, wHh: usize, sHh: usize, bIh: usize, bHh: usize, scratch: usize, qs: usize, H: i32): void {
  const hb = <usize>H << 2;
  const xq = qs;
  const hq = qs + (<usize>((I + 7) & ~7) << 1);
  const sx = quantize_act_q8(x, I, xq);
  const sh = quantize_act_q8(h, H, hq);
  if (kind <= 1) {
    gemv_q8(H, I, wIh, sIh, xq, sx, scratch, 0);
    gemv_q8(H, H, wHh, sHh, hq, sh, scratch, 1);
    rnn_step_fwd(scratch, bIh, bHh, h, 1, H, kind);
  } else if (kind == 2) {
    const G = scratch; // [4H]
    gemv_q8(4 * H, I, wIh, sIh, xq, sx, G, 0);
    gemv_q8(4 * H, H, wHh, sHh, hq, sh, G, 1);
    lstm_step_fwd(G, bIh, bHh, c, c, h, G + 4 * hb, 1, H);
  } else {
    const Gi = scratch; // [3H]
    const Gh = Gi + 3 * hb; // [3H]
    const cache = Gh + 3 * hb; // [4H]
    gemv_q8(3 * H, I, wIh, sIh, xq, sx, Gi, 0);
    gemv_q8(3 * H, H, wHh, sHh, hq, sh, Gh, 0);
    gru_step_fwd(Gi, Gh, bIh, bHh, h, Gi, cache, 1, H);
    memory.copy(h, Gi, hb);
  }
}

/**
 * The output layer at batch 1 with int8 weights: y [N] = W x + b.
 * x [K] f32, W [N, K] int8 + sw [N] f32, b [N] f32, qs i16 [ceil8(K)].
 */
export function dense_b1_q8(x: usize, K: i32, W: usize, sw: usize, b: usize, y: usize, N: i32, qs: usize): void {
  const sx = quantize_act_q8(x, K, qs);
  memory.copy(y, b, <usize>N << 2);
  gemv_q8(N, K, W, sw, qs, sx, y, 1);
}
