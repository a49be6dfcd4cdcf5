// Batch-1 training: the recurrent products of an LSTM at B = 1 (the char-rnn
// workload, one stream, truncated BPTT), and the whole time loop of a layer
// in one call.
//
// At B = 1, h_{t-1} W_hh^T is a matrix-vector product ([1, H] x [H, 4H]), and
// so is the backward dG_t W_hh ([1, 4H] x [4H, H]). gemm_packed_f32x4_4x8's
// 1-row tiles (gemm.ts) run these at ~18 GFLOP/s on Zen 5 (1x128x512: 7-8 µs):
// V8's TurboFan hoists all loads of a loop body, so the 1x32 tile's eight
// accumulators, eight loads and the broadcast need 17 xmm registers of the 15
// it allocates, and it spills every step. Here six accumulators (24 columns)
// fit: ~35 GFLOP/s (3.5-4.5 µs). The forward reads W_hh^T packed in 24-column
// panels (b1_pack_t); the backward reads W_hh [4H, H] in place (no packing).
//
// Bits: every output y[j] is formed exactly as the GEMM tiles form it:
// y = beta*y (beta 0 or 1: exact; 0 never reads y), then y = madd4(x[k], W[k][j], y)
// for k = 0, 1, ..., K-1 in order (madd4: fma.ts, fused in the relaxed build).
// Only which outputs run side by side differs, so the results are
// bit-identical to the batched path, to the threads' split path, and to the
// scalar references the tests hold them to.
//
// Legend: N = outputs, K = inputs (the sum), H = hidden size, T = steps.
import "./fma";
import { lstm_step_bwd, lstm_step_fwd } from "./cells";

/**
 * Pack W [N, K] (row-major, leading dim ldw: the nn.Linear / W_hh layout, for
 * y = W x) into 24-column panels dst [ceil(N/24)][K][24]: dst[p][k][i] =
 * W[24p + i][k], zero past N. The layout gemv_b1 reads with kStride = 96,
 * panelStride = 96*K bytes. N a multiple of 4.
 */
export function b1_pack_t(W: usize, ldw: i32, N: i32, K: i32, dst: usize): void {
  const P = (N + 23) / 24;
  const ld4 = <usize>ldw << 2;
  const kb = <usize>PW << 2; // bytes of one panel row
  for (let p = 0; p < P; p++) {
    const d = dst + <usize>p * <usize>K * kb;
    const j0 = p * PW;
    const nc = min(PW, N - j0);
    // 4 rows of W at a time, each 4 x 4 block transposed with shuffles.
    let i = 0;
    for (; i + 4 <= nc; i += 4) {
      const r0 = W + <usize>(j0 + i) * ld4;
      const r1 = r0 + ld4, r2 = r1 + ld4, r3 = r2 + ld4;
      let k = 0;
      for (; k + 4 <= K; k += 4) {
        const o = <usize>k << 2;
        const a = v128.load(r0 + o), b = v128.load(r1 + o), c = v128.load(r2 + o), e = v128.load(r3 + o);
        const ab0 = v128.shuffle<f32>(a, b, 0, 4, 1, 5); // a0 b0 a1 b1
        const ab1 = v128.shuffle<f32>(a, b, 2, 6, 3, 7); // a2 b2 a3 b3
        const ce0 = v128.shuffle<f32>(c, e, 0, 4, 1, 5);
        const ce1 = v128.shuffle<f32>(c, e, 2, 6, 3, 7);
        const q = d + <usize>k * kb + (<usize>i << 2);
        v128.store(q, v128.shuffle<f32>(ab0, ce0, 0, 1, 4, 5));
        v128.store(q + kb, v128.shuffle<f32>(ab0, ce0, 2, 3, 6, 7));
        v128.store(q + 2 * kb, v128.shuffle<f32>(ab1, ce1, 0, 1, 4, 5));
        v128.store(q + 3 * kb, v128.shuffle<f32>(ab1, ce1, 2, 3, 6, 7));
      }
      for (; k < K; k++) {
        const q = d + <usize>k * kb + (<usize>i << 2);
        const o = <usize>k << 2;
        store<f32>(q, load<f32>(r0 + o));
        store<f32>(q, load<f32>(r1 + o), 4);
        store<f32>(q, load<f32>(r2 + o), 8);
        store<f32>(q, load<f32>(r3 + o), 12);
      }
    }
    for (; i < PW; i += 4) {
      for (let k = 0; k < K; k++) v128.store(d + <usize>k * kb + (<usize>i << 2), f32x4.splat(0));
    }
  }
}

/** Columns of one gemv_b1 panel: six f32x4 accumulators. TurboFan hoists a loop
 * body's loads, so six accumulators + six loads + the broadcast fit x64's 15
 * usable xmm registers; eight (32 columns) spill on every step. */
const PW: i32 = 24;

// @ts-ignore: decorator
@inline function acc0(y: usize, beta: bool, o: usize): v128 {
  return beta ? v128.load(y + o) : f32x4.splat(0);
}

/**
 * 24 outputs y[0..24): y = (beta ? y : 0), then for k = 0..K-1 in order
 * y += x[k] * w[k*kStride + 0..24).
 */
// @ts-ignore: decorator
@inline function chunk24(K: i32, x: usize, w: usize, kStride: usize, y: usize, beta: bool): void {
  let a0 = acc0(y, beta, 0), a1 = acc0(y, beta, 16), a2 = acc0(y, beta, 32);
  let a3 = acc0(y, beta, 48), a4 = acc0(y, beta, 64), a5 = acc0(y, beta, 80);
  let px = x, pw = w;
  const xe = x + (<usize>K << 2);
  while (px < xe) {
    const s = v128.load32_splat(px);
    a0 = madd4(s, v128.load(pw), a0);
    a1 = madd4(s, v128.load(pw, 16), a1);
    a2 = madd4(s, v128.load(pw, 32), a2);
    a3 = madd4(s, v128.load(pw, 48), a3);
    a4 = madd4(s, v128.load(pw, 64), a4);
    a5 = madd4(s, v128.load(pw, 80), a5);
    px += 4;
    pw += kStride;
  }
  v128.store(y, a0); v128.store(y, a1, 16); v128.store(y, a2, 32);
  v128.store(y, a3, 48); v128.store(y, a4, 64); v128.store(y, a5, 80);
}

/** 8 outputs, as chunk24. */
// @ts-ignore: decorator
@inline function chunk8(K: i32, x: usize, w: usize, kStride: usize, y: usize, beta: bool): void {
  let a0 = acc0(y, beta, 0), a1 = acc0(y, beta, 16);
  let px = x, pw = w;
  const xe = x + (<usize>K << 2);
  while (px < xe) {
    const s = v128.load32_splat(px);
    a0 = madd4(s, v128.load(pw), a0);
    a1 = madd4(s, v128.load(pw, 16), a1);
    px += 4;
    pw += kStride;
  }
  v128.store(y, a0); v128.store(y, a1, 16);
}

/** 4 outputs, as chunk24. */
// @ts-ignore: decorator
@inline function chunk4(K: i32, x: usize, w: usize, kStride: usize, y: usize, beta: bool): void {
  let a0 = acc0(y, beta, 0);
  let px = x, pw = w;
  const xe = x + (<usize>K << 2);
  while (px < xe) {
    a0 = madd4(v128.load32_splat(px), v128.load(pw), a0);
    px += 4;
    pw += kStride;
  }
  v128.store(y, a0);
}

// @ts-ignore: decorator
@inline function gemv_b1_body(N: i32, K: i32, x: usize, W: usize, ks: usize, ps: usize, y: usize, beta: bool): void {
  let w = W, yj = y;
  let j = 0;
  for (; j + PW <= N; j += PW) {
    chunk24(K, x, w, ks, yj, beta);
    w += ps;
    yj += <usize>PW << 2;
  }
  // The last, narrower panel: 8 and 4 columns at a time.
  for (; j + 8 <= N; j += 8) {
    chunk8(K, x, w, ks, yj, beta);
    w += 32;
    yj += 32;
  }
  if (j < N) chunk4(K, x, w, ks, yj, beta);
}

/**
 * y [N] = beta*y + x [K] . W at batch 1: y[j] = sum_k x[k] W(k, j), W(k, j) at
 * byte W + k*kStride + (j/24)*panelStride + 4*(j%24). Two layouts: 24-column
 * panels from b1_pack_t (kStride 96, panelStride 96*K), or a row-major
 * [K, N] matrix read in place (kStride 4*ld, panelStride 96). beta 0 or 1;
 * 0 never reads y. N a multiple of 4. Each y[j] sums its k in order (see the
 * file comment): bit-identical to gemm_packed_f32x4_4x8.
 */
export function gemv_b1(N: i32, K: i32, x: usize, W: usize, kStride: i32, panelStride: i32, y: usize, beta: f32): void {
  if (beta != 0) gemv_b1_body(N, K, x, W, <usize>kStride, <usize>panelStride, y, true);
  else gemv_b1_body(N, K, x, W, <usize>kStride, <usize>panelStride, y, false);
}

/**
 * The forward time loop of one LSTM layer-direction at B = 1, t = 0..T-1:
 *   G_t [4H] += h_{t-1} W_hh^T   (gemv_b1 on Wp = b1_pack_t(W_hh))
 *   lstm_step_fwd(G_t, ...)      (cells.ts: biases, gates, c_t, h_t, tanh c_t)
 * hs [T+1, H]: slot 0 holds h_{-1} on entry, slot t+1 gets h_t; cs the same
 * for c; G [T, 4H] holds x W_ih^T on entry and the activated gates on exit;
 * tc [T, H] gets tanh(c_t). H a multiple of 8. The same calls, in the same
 * order, as Recurrent.unitForward's loop at B = 1.
 */
export function lstm_fwd_b1(T: i32, H: i32, hs: usize, cs: usize, G: usize, tc: usize, Wp: usize, bIh: usize, bHh: usize, gact: i32): void {
  const hb = <usize>H << 2;
  const gb = hb << 2;
  const N = H << 2;
  for (let t = 0; t < T; t++) {
    const Gt = G + <usize>t * gb;
    const hPrev = hs + <usize>t * hb;
    gemv_b1(N, H, hPrev, Wp, 96, H * 96, Gt, 1);
    const cPrev = cs + <usize>t * hb;
    lstm_step_fwd(Gt, bIh, bHh, cPrev, cPrev + hb, hPrev + hb, tc + <usize>t * hb, 1, H, gact);
  }
}

/**
 * The backward time loop of one LSTM layer-direction at B = 1, t = T-1..0:
 *   lstm_step_bwd(G_t, c_{t-1}, tanh c_t, dh_t, dc, dG_t)    (cells.ts)
 *   dL/dh_{t-1} (+)= dG_t W_hh     (gemv_b1 on W_hh [4H, H] in place)
 * into dHs[t-1] (which holds that step's output gradient: adds) or, at t = 0,
 * into dh0 (overwrites). G [T, 4H] activated gates, cs [T+1, H] (slot t =
 * c_{t-1}), tc [T, H], dHs [T, H]; dc [H] holds dL/dc_{T-1} on entry and
 * dL/dc_{-1} on exit; writes dG [T, 4H]. dh0 = 0: not wanted (its product
 * is left out). H a multiple of 8. The same calls,
 * in the same order, as Recurrent.unitBackward's loop at B = 1.
 */
export function lstm_bwd_b1(T: i32, H: i32, G: usize, cs: usize, tc: usize, dHs: usize, dc: usize, dG: usize, W: usize, dh0: usize, gact: i32): void {
  const hb = <usize>H << 2;
  const gb = hb << 2;
  for (let t = T - 1; t >= 0; t--) {
    const dGt = dG + <usize>t * gb;
    const dh = dHs + <usize>t * hb;
    lstm_step_bwd(G + <usize>t * gb, cs + <usize>t * hb, tc + <usize>t * hb, dh, dc, dGt, 1, H, gact);
    if (t > 0) gemv_b1(H, H << 2, dGt, W, <i32>hb, 96, dh - hb, 1);
    else if (dh0 != 0) gemv_b1(H, H << 2, dGt, W, <i32>hb, 96, dh0, 0);
  }
}
