// Int8 inference kernels (src/model/quantize.ts): the batch-1 streaming step
// of session.ts with weights stored as int8, one f32 scale per output row.
//
// At batch 1 every weight is read once per token and used once, so the f32
// step is bound by the bytes it reads (13 MB per token for an LSTM 2x512,
// more than L2 holds). Int8 weights read a quarter of the bytes. Widening
// them to f32 and multiplying there would make the step bound by arithmetic
// instead (16 weights cost 1 load + 6 widenings + 4 mul + 4 add), so the
// activations are quantized too, per vector and on the fly (dynamic
// quantization, as ONNX Runtime's and llama.cpp's Q8_0 dot products), to
// 7 bits: q = nearest-even(x / s) in [-63, 63], s = max|x| / 63.
// - Plain build: q in i16 lanes; 8 weights x 1 row cost one `v128.load8x8_s`
//   (load and sign-extend), one `i32x4.dot_i16x8_s` and one `i32x4.add`.
// - Relaxed build: q + 64 in u8 lanes (1..127, the "i7" operand); 16 weights
//   x 1 row cost one load and one `i32x4.relaxed_dot_i8x16_i7x16_add_s`
//   (x64 `pmaddubsw` + `pmaddwd`, or one `vpdpbusd`), and the 64 is taken
//   off once per row with the row's weight sum: sum w (q + 64) - 64 sum w.
//   With the i7 operand in range the instruction is exact on every engine,
//   so this is the same integer as the plain build's, about 2x faster.
// Sums are exact in i32 (|sum| <= K * 128 * 127 < 2^31 for K < 132,000);
// one f32 multiply per row applies both scales. So the plain and relaxed
// builds give bit-identical results, equal to src/reference/quant.ts.
//
// Legend: N, K = weight rows and columns, I = input size, H = hidden size,
// G = gates (RNN 1, LSTM 4, GRU 3). K8 = K rounded up to a multiple of 8.
import "./fma";
import { gru_step_fwd, lstm_step_fwd, rnn_step_fwd } from "./cells";

// @ts-ignore: decorator
@inline function hsum_i32(v: v128): i32 {
  return i32x4.extract_lane(v, 0) + i32x4.extract_lane(v, 1) + i32x4.extract_lane(v, 2) + i32x4.extract_lane(v, 3);
}

/** [sum a0, sum a1, sum a2, sum a3] of four i32x4 (exact: integer sums, so any order gives the scalar hsum's). */
// @ts-ignore: decorator
@inline function hsum4_i32(a0: v128, a1: v128, a2: v128, a3: v128): v128 {
  // [a0.0 + a0.2, a1.0 + a1.2, a0.1 + a0.3, a1.1 + a1.3], and the same of a2, a3
  const t0 = i32x4.add(i8x16.shuffle(a0, a1, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23), i8x16.shuffle(a0, a1, 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31));
  const t1 = i32x4.add(i8x16.shuffle(a2, a3, 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23), i8x16.shuffle(a2, a3, 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31));
  return i32x4.add(i8x16.shuffle(t0, t1, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23), i8x16.shuffle(t0, t1, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31));
}

/**
 * The columns k0 <= k < K left after the SIMD steps, for 4 rows (w0 and the
 * next three, rb bytes apart) as scalars: [sum_k w_r[k] q[k]] for r < 4. xq
 * holds q as i16 (plain) or q + 64 as u8 (relaxed).
 */
// @ts-ignore: decorator
@inline function tail4(w0: usize, rb: usize, xq: usize, k0: i32, K: i32, relaxed: bool): v128 {
  let e0 = 0, e1 = 0, e2 = 0, e3 = 0;
  for (let k = k0; k < K; k++) {
    const xv = relaxed ? <i32>load<u8>(xq + <usize>k) - 64 : <i32>load<i16>(xq + (<usize>k << 1));
    const o = <usize>k;
    e0 += <i32>load<i8>(w0 + o) * xv;
    e1 += <i32>load<i8>(w0 + rb + o) * xv;
    e2 += <i32>load<i8>(w0 + 2 * rb + o) * xv;
    e3 += <i32>load<i8>(w0 + 3 * rb + o) * xv;
  }
  return i32x4.replace_lane(i32x4.replace_lane(i32x4.replace_lane(i32x4.splat(e0), 1, e1), 2, e2), 3, e3);
}

/**
 * y[0..4) = f32(s) * (sw[0..4) * sx) (+ beta * y): the four rows' results,
 * each lane the scalar epilogue's operations in its order (no fused
 * multiply-add), so the bits of the one-row path.
 */
// @ts-ignore: decorator
@inline function scale4_store(s: v128, sp: usize, sx: f32, yp: usize, beta: f32): void {
  let r = f32x4.mul(f32x4.convert_i32x4_s(s), f32x4.mul(v128.load(sp), f32x4.splat(sx)));
  if (beta != 0) r = f32x4.add(r, f32x4.mul(f32x4.splat(beta), v128.load(yp)));
  v128.store(yp, r);
}

/**
 * Quantize an activation vector to q = nearest-even(x / s) in [-63, 63],
 * s = max|x| / 63. Plain build: xq [K8] i16 lanes = q, lanes K..K8 zero.
 * Relaxed build: xq [K16] u8 lanes = q + 64 (lanes K..K16: 64), which fits
 * in the plain layout's 2 * K8 bytes. Returns s (then x ~ q * s); 0 when s is
 * 0 (x all zeros, or below 63 * 2^-149: q all 0). A division, not a multiply
 * by 63 / max|x|, so that subnormal inputs do not overflow the reciprocal.
 * NaN or infinite x give a NaN or infinite s, so the products that use it
 * are NaN: a non-finite state is never hidden.
 * x [K] f32, xq (16-byte alignment not needed).
 */
export function quantize_act_q8(x: usize, K: i32, xq: usize): f32 {
  const K4 = K & ~3;
  let mv = f32x4.splat(0);
  for (let k = 0; k < K4; k += 4) mv = f32x4.max(mv, f32x4.abs(v128.load(x + (<usize>k << 2))));
  let m = max(max(f32x4.extract_lane(mv, 0), f32x4.extract_lane(mv, 1)), max(f32x4.extract_lane(mv, 2), f32x4.extract_lane(mv, 3)));
  for (let k = K4; k < K; k++) m = max(m, abs(load<f32>(x + (<usize>k << 2))));
  const K8 = (K + 7) & ~7;
  const s: f32 = m / <f32>63;
  if (ASC_FEATURE_RELAXED_SIMD) {
    const K16 = (K + 15) & ~15;
    if (s == 0) {
      memory.fill(xq, 64, <usize>K16);
      return 0;
    }
    const sv = f32x4.splat(s);
    const off = i16x8.splat(64);
    const K16d = K & ~15;
    let k = 0;
    for (; k < K16d; k += 16) {
      const p = x + (<usize>k << 2);
      const a = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.div(v128.load(p), sv)));
      const b = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.div(v128.load(p, 16), sv)));
      const c = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.div(v128.load(p, 32), sv)));
      const d = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.div(v128.load(p, 48), sv)));
      const lo = i16x8.add(i16x8.narrow_i32x4_s(a, b), off);
      const hi = i16x8.add(i16x8.narrow_i32x4_s(c, d), off);
      v128.store(xq + <usize>k, i8x16.narrow_i16x8_u(lo, hi));
    }
    for (; k < K; k++) store<u8>(xq + <usize>k, <u8>(<i32>nearest<f32>(load<f32>(x + (<usize>k << 2)) / s) + 64));
    for (; k < K16; k++) store<u8>(xq + <usize>k, 64);
    return s;
  }
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
 * Software prefetch for the plain build's gemv_q8 (WASM has no prefetch
 * instruction): while it runs a group of 4 rows it reads one byte of every
 * 64 of the group PREFETCH_GROUPS ahead, so those cache lines are on their
 * way while it computes. Without it, where the weights do not fit in L2 (an
 * LSTM 2x512's 3.3 MB), the plain kernel ran at 15 Gweights/s: below both its
 * in-L2 rate (23) and the bandwidth the f32 and relaxed kernels reach
 * (27 GB/s), because its slower arithmetic leaves fewer loads in flight.
 * The bytes read go to prefetchSink, so no engine can drop the loads.
 */
const PREFETCH_GROUPS = 4;
let prefetchSink: i32 = 0;

/**
 * y [N] = beta*y + (sw[j] * sx) * sum_k W[j, k] * q[k].
 * W [N, K] int8 row-major (leading dim K, any alignment), sw [N] f32 row
 * scales, wsum [N] i32 row sums of W over its first K & ~15 columns (read by
 * the relaxed build only), xq from quantize_act_q8 with its scale sx. beta 0
 * never reads y. Four rows at a time (four i32x4 accumulators), 8 (plain) or
 * 16 (relaxed) columns per step, the rest as scalars.
 */
export function gemv_q8(N: i32, K: i32, W: usize, sw: usize, wsum: usize, xq: usize, sx: f32, y: usize, beta: f32): void {
  if (ASC_FEATURE_RELAXED_SIMD) {
    gemv_q8_relaxed(N, K, W, sw, wsum, xq, sx, y, beta);
    return;
  }
  const K8 = K & ~7;
  const K16 = K & ~15;
  const rb = <usize>K;
  let touched = 0;
  let j = 0;
  for (; j + 4 <= N; j += 4) {
    const w0 = W + <usize>j * rb;
    const w1 = w0 + rb;
    const w2 = w1 + rb;
    const w3 = w2 + rb;
    // The rows of the group PREFETCH_GROUPS ahead (4K bytes), one byte per 64.
    const pf = j + 4 * PREFETCH_GROUPS + 4 <= N ? w0 + <usize>(4 * PREFETCH_GROUPS) * rb : w0;
    let a0 = i32x4.splat(0);
    let a1 = i32x4.splat(0);
    let a2 = i32x4.splat(0);
    let a3 = i32x4.splat(0);
    let k = 0;
    for (; k < K16; k += 16) {
      touched |= <i32>load<u8>(pf + (<usize>k << 2));
      const xv = v128.load(xq + (<usize>k << 1));
      const xw = v128.load(xq + (<usize>k << 1), 16);
      const o = <usize>k;
      a0 = i32x4.add(a0, i32x4.dot_i16x8_s(v128.load8x8_s(w0 + o), xv));
      a1 = i32x4.add(a1, i32x4.dot_i16x8_s(v128.load8x8_s(w1 + o), xv));
      a2 = i32x4.add(a2, i32x4.dot_i16x8_s(v128.load8x8_s(w2 + o), xv));
      a3 = i32x4.add(a3, i32x4.dot_i16x8_s(v128.load8x8_s(w3 + o), xv));
      a0 = i32x4.add(a0, i32x4.dot_i16x8_s(v128.load8x8_s(w0 + o, 8), xw));
      a1 = i32x4.add(a1, i32x4.dot_i16x8_s(v128.load8x8_s(w1 + o, 8), xw));
      a2 = i32x4.add(a2, i32x4.dot_i16x8_s(v128.load8x8_s(w2 + o, 8), xw));
      a3 = i32x4.add(a3, i32x4.dot_i16x8_s(v128.load8x8_s(w3 + o, 8), xw));
    }
    for (; k < K8; k += 8) {
      const xv = v128.load(xq + (<usize>k << 1));
      const o = <usize>k;
      a0 = i32x4.add(a0, i32x4.dot_i16x8_s(v128.load8x8_s(w0 + o), xv));
      a1 = i32x4.add(a1, i32x4.dot_i16x8_s(v128.load8x8_s(w1 + o), xv));
      a2 = i32x4.add(a2, i32x4.dot_i16x8_s(v128.load8x8_s(w2 + o), xv));
      a3 = i32x4.add(a3, i32x4.dot_i16x8_s(v128.load8x8_s(w3 + o), xv));
    }
    let s = hsum4_i32(a0, a1, a2, a3);
    if (K8 < K) s = i32x4.add(s, tail4(w0, rb, xq, K8, K, false));
    scale4_store(s, sw + (<usize>j << 2), sx, y + (<usize>j << 2), beta);
  }
  prefetchSink = touched;
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

/** gemv_q8 of the relaxed build: xq holds q + 64 as u8; 16 columns per relaxed dot. */
// @ts-ignore: decorator
@inline function gemv_q8_relaxed(N: i32, K: i32, W: usize, sw: usize, wsum: usize, xq: usize, sx: f32, y: usize, beta: f32): void {
  const K16 = K & ~15;
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
    for (let k = 0; k < K16; k += 16) {
      const xv = v128.load(xq + <usize>k);
      const o = <usize>k;
      a0 = i32x4.relaxed_dot_i8x16_i7x16_add_s(v128.load(w0 + o), xv, a0);
      a1 = i32x4.relaxed_dot_i8x16_i7x16_add_s(v128.load(w1 + o), xv, a1);
      a2 = i32x4.relaxed_dot_i8x16_i7x16_add_s(v128.load(w2 + o), xv, a2);
      a3 = i32x4.relaxed_dot_i8x16_i7x16_add_s(v128.load(w3 + o), xv, a3);
    }
    // sum w (q + 64) - 64 sum w, four rows at once (64 * wsum = wsum << 6, wrapping as the scalar product would).
    let s = i32x4.sub(hsum4_i32(a0, a1, a2, a3), i32x4.shl(v128.load(wsum + (<usize>j << 2)), 6));
    if (K16 < K) s = i32x4.add(s, tail4(w0, rb, xq, K16, K, true));
    scale4_store(s, sw + (<usize>j << 2), sx, y + (<usize>j << 2), beta);
  }
  for (; j < N; j++) {
    const w0 = W + <usize>j * rb;
    let a0 = i32x4.splat(0);
    for (let k = 0; k < K16; k += 16) a0 = i32x4.relaxed_dot_i8x16_i7x16_add_s(v128.load(w0 + <usize>k), v128.load(xq + <usize>k), a0);
    let s0 = hsum_i32(a0) - 64 * load<i32>(wsum + (<usize>j << 2));
    for (let k = K16; k < K; k++) s0 += <i32>load<i8>(w0 + <usize>k) * (<i32>load<u8>(xq + <usize>k) - 64);
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
 * wIh [G*H, I] int8 + sIh [G*H] f32 scales + uIh [G*H] i32 row sums (as gemv_q8's wsum),
 * wHh [G*H, H] int8 + sHh + uHh likewise, bIh, bHh [G*H] f32
 * scratch f32 as cell_step_b1 (RNN H, LSTM 5H, GRU 10H floats)
 * qs      i16 [ceil8(I) + ceil8(H)] (the quantized x, then h)
 * flags   bit 0: hard-sigmoid gates (cell_step_b1's flags). The reset-before GRU
 *         (bit 1) is not stepped here: the session runs such a layer on its
 *         widened f32 weights with cell_step_b1.
 */
export function cell_step_b1_q8(kind: i32, x: usize, I: i32, h: usize, c: usize, wIh: usize, sIh: usize, uIh: usize, wHh: usize, sHh: usize, uHh: usize, bIh: usize, bHh: usize, scratch: usize, qs: usize, H: i32, flags: i32): void {
  const gact = flags & 1;
  const hb = <usize>H << 2;
  const xq = qs;
  const hq = qs + (<usize>((I + 7) & ~7) << 1);
  const sx = quantize_act_q8(x, I, xq);
  const sh = quantize_act_q8(h, H, hq);
  if (kind <= 1) {
    gemv_q8(H, I, wIh, sIh, uIh, xq, sx, scratch, 0);
    gemv_q8(H, H, wHh, sHh, uHh, hq, sh, scratch, 1);
    rnn_step_fwd(scratch, bIh, bHh, h, 1, H, kind);
  } else if (kind == 2) {
    const G = scratch; // [4H]
    gemv_q8(4 * H, I, wIh, sIh, uIh, xq, sx, G, 0);
    gemv_q8(4 * H, H, wHh, sHh, uHh, hq, sh, G, 1);
    lstm_step_fwd(G, bIh, bHh, c, c, h, G + 4 * hb, 1, H, gact);
  } else {
    const Gi = scratch; // [3H]
    const Gh = Gi + 3 * hb; // [3H]
    const cache = Gh + 3 * hb; // [4H]
    gemv_q8(3 * H, I, wIh, sIh, uIh, xq, sx, Gi, 0);
    gemv_q8(3 * H, H, wHh, sHh, uHh, hq, sh, Gh, 0);
    gru_step_fwd(Gi, Gh, bIh, bHh, h, Gi, cache, 1, H, gact);
    memory.copy(h, Gi, hb);
  }
}

/**
 * The output layer at batch 1 with int8 weights: y [N] = W x + b.
 * x [K] f32, W [N, K] int8 + sw [N] f32 + wsum [N] i32 (gemv_q8), b [N] f32, qs i16 [ceil8(K)].
 */
export function dense_b1_q8(x: usize, K: i32, W: usize, sw: usize, wsum: usize, b: usize, y: usize, N: i32, qs: usize): void {
  const sx = quantize_act_q8(x, K, qs);
  memory.copy(y, b, <usize>N << 2);
  gemv_q8(N, K, W, sw, wsum, qs, sx, y, 1);
}
