// Fused elementwise step kernels of the recurrent cells: one time step of the
// unfolded network, forward and backward, for SimpleRNN, LSTM and GRU.
//
// Legend: B = batch, H = hidden size. Every tensor is row-major f32; a [B, kH]
// tensor holds k gate blocks of H columns per row (PyTorch gate order:
// LSTM i, f, g, o; GRU r, z, n). The GEMMs (x W_ih^T, h_prev W_hh^T) are done
// by the caller; these kernels are the bias add, the nonlinearities and the
// cell update in one pass over [B, H] (f32x4 across columns, the last H % 4
// columns of each row as one masked vector so they get the very same math).
//
// Pointers need no alignment. Reads of one vector of columns happen before
// its writes, so the in-place uses named in src/runtime/abi.ts are safe
// (rnn: h == G, dG == dh; lstm_bwd: dG == G; gru_bwd: dhPrev == dh).
//
// sigmoid4, tanh4, relu4, load_f32xk, store_f32xk: @global helpers in
// activations.ts.
//
// gact, the gate activation of the LSTM and GRU kernels (i, f, o; r, z):
// 0 = the logistic sigmoid, 1 = Keras's / tfjs-layers' hard sigmoid
// clip(0.2 x + 0.5, 0, 1). Each kernel branches on it once, outside its loops,
// so every loop holds one activation only.
import "./activations";
import { gemm_packed_f32x4_4x8 } from "./gemm";

// @ts-ignore: decorator
@inline function gate4(x: v128, act: i32): v128 {
  if (act == 0) return sigmoid4(x);
  // tfjs-layers' hardSigmoid: clipByValue(0.5 + 0.2 * x, 0, 1), in f32 (no fused multiply-add,
  // so both builds match it). min / max (not pmin / pmax) keep NaN a NaN.
  return f32x4.min(f32x4.max(f32x4.add(f32x4.splat(0.5), f32x4.mul(f32x4.splat(0.2), x)), f32x4.splat(0)), f32x4.splat(1));
}

// The gate activation's derivative from its output y: sigmoid y (1 - y);
// hard sigmoid 0.2 inside the linear piece (0 < y < 1), 0 where it is clipped.
// @ts-ignore: decorator
@inline function dgate4(y: v128, act: i32): v128 {
  if (act == 0) return f32x4.mul(y, f32x4.sub(f32x4.splat(1), y));
  return v128.and(f32x4.splat(0.2), v128.and(f32x4.gt(y, f32x4.splat(0)), f32x4.lt(y, f32x4.splat(1))));
}

// ---- SimpleRNN -------------------------------------------------------------

// @ts-ignore: decorator
@inline function rnn_fwd4(g: usize, bi: usize, bh: usize, h: usize, k: i32, act: i32): void {
  const a = f32x4.add(f32x4.add(load_f32xk(g, k), load_f32xk(bi, k)), load_f32xk(bh, k));
  store_f32xk(h, act == 0 ? tanh4(a) : relu4(a), k);
}

/**
 * SimpleRNN forward, h = act(G + b_ih + b_hh).
 * G    [B, H]  x W_ih^T + h_prev W_hh^T
 * bIh  [H], bHh [H]
 * h    [B, H]  out (may equal G); it is also the cache backward reads
 * act  0 = tanh, 1 = relu
 */
export function rnn_step_fwd(G: usize, bIh: usize, bHh: usize, h: usize, B: i32, H: i32, act: i32): void {
  rnn_step_fwd_cols(G, bIh, bHh, h, B, H, act, 0, H);
}

/**
 * rnn_step_fwd on hidden units j0 <= j < j1 only (j0 a multiple of 4, j1 <= H),
 * every gate block of those units: one thread's share of a step split by
 * columns (src/runtime/threads.ts). Same math per element as the whole step.
 */
export function rnn_step_fwd_cols(G: usize, bIh: usize, bHh: usize, h: usize, B: i32, H: i32, act: i32, j0: i32, j1: i32): void {
  for (let b = 0; b < B; b++) {
    const row = <usize>(b * H) << 2;
    const g = G + row;
    const hr = h + row;
    let j = j0;
    if (act == 0) {
      for (; j + 4 <= j1; j += 4) {
        const o = <usize>j << 2;
        rnn_fwd4(g + o, bIh + o, bHh + o, hr + o, 4, 0);
      }
      if (j < j1) {
        const o = <usize>j << 2;
        rnn_fwd4(g + o, bIh + o, bHh + o, hr + o, j1 - j, 0);
      }
    } else {
      for (; j + 4 <= j1; j += 4) {
        const o = <usize>j << 2;
        rnn_fwd4(g + o, bIh + o, bHh + o, hr + o, 4, 1);
      }
      if (j < j1) {
        const o = <usize>j << 2;
        rnn_fwd4(g + o, bIh + o, bHh + o, hr + o, j1 - j, 1);
      }
    }
  }
}

// Backward of h = act(a), from the output h (cheaper than from a):
//   tanh: dL/da = dh * (1 - h^2)
//   relu: dL/da = dh * [h > 0]   (masked, so a NaN dh where h <= 0 gives 0,
//                                 like PyTorch's threshold_backward)
// @ts-ignore: decorator
@inline function rnn_bwd4(h: usize, dh: usize, dg: usize, k: i32, act: i32): void {
  const hv = load_f32xk(h, k);
  const d = load_f32xk(dh, k);
  let r: v128;
  if (act == 0) r = f32x4.mul(d, f32x4.sub(f32x4.splat(1), f32x4.mul(hv, hv)));
  else r = v128.and(d, f32x4.gt(hv, f32x4.splat(0)));
  store_f32xk(dg, r, k);
}

/**
 * SimpleRNN backward: dG = dh * act'(a), act' taken from h.
 * h   [B, H]  forward output
 * dh  [B, H]  dL/dh_t (from above and from step t+1)
 * dG  [B, H]  out: dL/d(pre-activation) (may equal dh)
 */
export function rnn_step_bwd(h: usize, dh: usize, dG: usize, B: i32, H: i32, act: i32): void {
  // Rows are independent and contiguous: treat [B, H] as one flat vector.
  const n = B * H;
  const n4 = n & ~3;
  let i = 0;
  if (act == 0) {
    for (; i < n4; i += 4) {
      const o = <usize>i << 2;
      rnn_bwd4(h + o, dh + o, dG + o, 4, 0);
    }
    if (i < n) {
      const o = <usize>i << 2;
      rnn_bwd4(h + o, dh + o, dG + o, n - i, 0);
    }
  } else {
    for (; i < n4; i += 4) {
      const o = <usize>i << 2;
      rnn_bwd4(h + o, dh + o, dG + o, 4, 1);
    }
    if (i < n) {
      const o = <usize>i << 2;
      rnn_bwd4(h + o, dh + o, dG + o, n - i, 1);
    }
  }
}

// ---- LSTM ------------------------------------------------------------------

// The forward step runs in two passes over each row, so that neither pass
// holds a long chain of dependent operations per vector:
//   pass 1 (lstm_gate4): each gate block on its own, z = G + b_ih + b_hh, then
//     gact(z) (i, f, o) or tanh(z) (g), written back into G;
//   pass 2 (lstm_state4): c = f * c_prev + i * g, tc = tanh(c), h = o * tc.
// One pass doing both per vector (five activations, and tanh(c) after three
// of them) is ~250 instructions with a ~200-cycle dependency chain: the CPU's
// reorder window holds under two such iterations, so the loop ran at the
// chain's latency, not at its throughput. Split per row (a row's 4H gates stay
// in L1 between the passes) the same math measured 1.29x faster at B = 32,
// H = 256 (10.4 -> 8.1 ns per [B, H] element, node bench/ab.js lstm-step).
// Same operations on each value as the one-pass form: the results are
// identical.

// One vector of one gate block: g, bi, bh point at the same columns of G,
// b_ih and b_hh. tanhGate: the g gate (tanh) rather than gact.
// @ts-ignore: decorator
@inline function lstm_gate4(g: usize, bi: usize, bh: usize, k: i32, tanhGate: bool, act: i32): void {
  const z = f32x4.add(load_f32xk(g, k), f32x4.add(load_f32xk(bi, k), load_f32xk(bh, k)));
  store_f32xk(g, tanhGate ? tanh4(z) : gate4(z, act), k);
}

// One vector of columns of the cell state, from the activated gates: g points
// at the i-gate columns, f, g, o are hb, 2 hb, 3 hb bytes further (hb = H * 4).
// @ts-ignore: decorator
@inline function lstm_state4(g: usize, cp: usize, c: usize, h: usize, tc: usize, hb: usize, k: i32): void {
  const cv = madd4(load_f32xk(g + hb, k), load_f32xk(cp, k), f32x4.mul(load_f32xk(g, k), load_f32xk(g + 2 * hb, k)));
  const t = tanh4(cv);
  store_f32xk(c, cv, k);
  store_f32xk(tc, t, k);
  store_f32xk(h, f32x4.mul(load_f32xk(g + 3 * hb, k), t), k);
}

// Pass 1 over one gate block's columns j0 <= j < j1 of one row.
// @ts-ignore: decorator
@inline function lstm_gate_cols(g: usize, bi: usize, bh: usize, j0: i32, j1: i32, tanhGate: bool, act: i32): void {
  let j = j0;
  for (; j + 4 <= j1; j += 4) {
    const o = <usize>j << 2;
    lstm_gate4(g + o, bi + o, bh + o, 4, tanhGate, act);
  }
  if (j < j1) {
    const o = <usize>j << 2;
    lstm_gate4(g + o, bi + o, bh + o, j1 - j, tanhGate, act);
  }
}

// @ts-ignore: decorator
@inline function lstm_fwd_rows(G: usize, bIh: usize, bHh: usize, cPrev: usize, c: usize, h: usize, tc: usize, B: i32, H: i32, j0: i32, j1: i32, act: i32): void {
  const hb = <usize>H << 2;
  for (let b = 0; b < B; b++) {
    const row = <usize>(b * H) << 2;
    const g = G + (row << 2);
    const cp = cPrev + row;
    const cr = c + row;
    const hr = h + row;
    const tr = tc + row;
    // pass 1: the gates i, f, g, o
    lstm_gate_cols(g, bIh, bHh, j0, j1, false, act);
    lstm_gate_cols(g + hb, bIh + hb, bHh + hb, j0, j1, false, act);
    lstm_gate_cols(g + 2 * hb, bIh + 2 * hb, bHh + 2 * hb, j0, j1, true, act);
    lstm_gate_cols(g + 3 * hb, bIh + 3 * hb, bHh + 3 * hb, j0, j1, false, act);
    // pass 2: c, tanh(c), h
    let j = j0;
    for (; j + 4 <= j1; j += 4) {
      const o = <usize>j << 2;
      lstm_state4(g + o, cp + o, cr + o, hr + o, tr + o, hb, 4);
    }
    if (j < j1) {
      const o = <usize>j << 2;
      lstm_state4(g + o, cp + o, cr + o, hr + o, tr + o, hb, j1 - j);
    }
  }
}

/**
 * LSTM forward, gates i, f, g, o:
 *   i, f, o = gact(G_* + b_ih_* + b_hh_*), g = tanh(G_g + b_ih_g + b_hh_g)
 *   c = f * c_prev + i * g,  tc = tanh(c),  h = o * tc
 * G     [B, 4H]  in: x W_ih^T + h_prev W_hh^T; out: activated gates i, f, g, o (cache)
 * bIh   [4H], bHh [4H]
 * cPrev [B, H]
 * c     [B, H]  out (cache: the next step's cPrev)
 * h     [B, H]  out
 * tc    [B, H]  out: tanh(c) (cache)
 * gact  0 = sigmoid, 1 = hard sigmoid (see the top of this file)
 */
export function lstm_step_fwd(G: usize, bIh: usize, bHh: usize, cPrev: usize, c: usize, h: usize, tc: usize, B: i32, H: i32, gact: i32): void {
  lstm_step_fwd_cols(G, bIh, bHh, cPrev, c, h, tc, B, H, 0, H, gact);
}

/**
 * lstm_step_fwd on hidden units j0 <= j < j1 only (j0 a multiple of 4, j1 <= H),
 * every gate block of those units: one thread's share of a step split by
 * columns (src/runtime/threads.ts). Same math per element as the whole step.
 */
export function lstm_step_fwd_cols(G: usize, bIh: usize, bHh: usize, cPrev: usize, c: usize, h: usize, tc: usize, B: i32, H: i32, j0: i32, j1: i32, gact: i32): void {
  if (gact == 0) lstm_fwd_rows(G, bIh, bHh, cPrev, c, h, tc, B, H, j0, j1, 0);
  else lstm_fwd_rows(G, bIh, bHh, cPrev, c, h, tc, B, H, j0, j1, 1);
}

// LSTM backward for one vector of columns. With the activated gates i, f, g, o,
// tc = tanh(c), dc = dL/dc_t from step t+1 and gact' taken from the gate (dgate4):
//   dc_t   = dc + dh * o * (1 - tc^2)          (total gradient at c_t)
//   dG_i   = dc_t * g      * gact'(i)
//   dG_f   = dc_t * c_prev * gact'(f)
//   dG_g   = dc_t * i      * (1 - g^2)
//   dG_o   = dh * tc       * gact'(o)
//   dc_prev = dc_t * f                         (written back into dc)
// @ts-ignore: decorator
@inline function lstm_bwd4(g: usize, cp: usize, tc: usize, dh: usize, dc: usize, dg: usize, hb: usize, k: i32, act: i32): void {
  const one = f32x4.splat(1);
  const gi = load_f32xk(g, k);
  const gf = load_f32xk(g + hb, k);
  const gg = load_f32xk(g + 2 * hb, k);
  const go = load_f32xk(g + 3 * hb, k);
  const t = load_f32xk(tc, k);
  const d = load_f32xk(dh, k);
  const cpv = load_f32xk(cp, k);
  const dct = f32x4.add(load_f32xk(dc, k), f32x4.mul(f32x4.mul(d, go), f32x4.sub(one, f32x4.mul(t, t))));
  store_f32xk(dg, f32x4.mul(f32x4.mul(dct, gg), dgate4(gi, act)), k);
  store_f32xk(dg + hb, f32x4.mul(f32x4.mul(dct, cpv), dgate4(gf, act)), k);
  store_f32xk(dg + 2 * hb, f32x4.mul(f32x4.mul(dct, gi), f32x4.sub(one, f32x4.mul(gg, gg))), k);
  store_f32xk(dg + 3 * hb, f32x4.mul(f32x4.mul(d, t), dgate4(go, act)), k);
  store_f32xk(dc, f32x4.mul(dct, gf), k);
}

// @ts-ignore: decorator
@inline function lstm_bwd_rows(G: usize, cPrev: usize, tc: usize, dh: usize, dc: usize, dG: usize, B: i32, H: i32, j0: i32, j1: i32, act: i32): void {
  const hb = <usize>H << 2;
  for (let b = 0; b < B; b++) {
    const row = <usize>(b * H) << 2;
    const g = G + (row << 2);
    const dg = dG + (row << 2);
    const cp = cPrev + row;
    const tr = tc + row;
    const dhr = dh + row;
    const dcr = dc + row;
    let j = j0;
    for (; j + 4 <= j1; j += 4) {
      const o = <usize>j << 2;
      lstm_bwd4(g + o, cp + o, tr + o, dhr + o, dcr + o, dg + o, hb, 4, act);
    }
    if (j < j1) {
      const o = <usize>j << 2;
      lstm_bwd4(g + o, cp + o, tr + o, dhr + o, dcr + o, dg + o, hb, j1 - j, act);
    }
  }
}

/**
 * LSTM backward (see the math above lstm_bwd4).
 * G     [B, 4H]  activated gates i, f, g, o from forward
 * cPrev [B, H], tc [B, H] = tanh(c_t) from forward
 * dh    [B, H]  dL/dh_t
 * dc    [B, H]  in: dL/dc_t from step t+1 (zeros at the last step); out: dL/dc_{t-1}
 * dG    [B, 4H] out: dL/d(pre-activation gates) (may equal G)
 * gact  as in forward
 */
export function lstm_step_bwd(G: usize, cPrev: usize, tc: usize, dh: usize, dc: usize, dG: usize, B: i32, H: i32, gact: i32): void {
  lstm_step_bwd_cols(G, cPrev, tc, dh, dc, dG, B, H, 0, H, gact);
}

/**
 * lstm_step_bwd on hidden units j0 <= j < j1 only (j0 a multiple of 4, j1 <= H),
 * every gate block of those units: a chunk of a backward step split by units
 * (assembly/steal.ts). Same math per element as the whole step.
 */
export function lstm_step_bwd_cols(G: usize, cPrev: usize, tc: usize, dh: usize, dc: usize, dG: usize, B: i32, H: i32, j0: i32, j1: i32, gact: i32): void {
  if (gact == 0) lstm_bwd_rows(G, cPrev, tc, dh, dc, dG, B, H, j0, j1, 0);
  else lstm_bwd_rows(G, cPrev, tc, dh, dc, dG, B, H, j0, j1, 1);
}

// ---- GRU -------------------------------------------------------------------

// Two passes per row, as in the LSTM forward (see there): the gates r and z
// (gru_gate4, into the cache), then n and h (gru_state4), so that no loop
// holds the chain sigmoid -> tanh of one vector.

// One vector of the r or z gate: gi, gh, bi, bh at the same columns of Gi, Gh,
// b_ih, b_hh; the activated gate goes to the cache.
// @ts-ignore: decorator
@inline function gru_gate4(gi: usize, gh: usize, bi: usize, bh: usize, cache: usize, k: i32, act: i32): void {
  store_f32xk(cache, gate4(f32x4.add(
    f32x4.add(load_f32xk(gi, k), load_f32xk(bi, k)),
    f32x4.add(load_f32xk(gh, k), load_f32xk(bh, k))), act), k);
}

// hn, n and h for one vector of columns (gi, gh, bi, bh at the r columns; the
// cache holds r and z).
// @ts-ignore: decorator
@inline function gru_state4(gi: usize, gh: usize, bi: usize, bh: usize, hp: usize, h: usize, cache: usize, hb: usize, k: i32): void {
  const r = load_f32xk(cache, k);
  const z = load_f32xk(cache + hb, k);
  const hn = f32x4.add(load_f32xk(gh + 2 * hb, k), load_f32xk(bh + 2 * hb, k));
  const n = tanh4(f32x4.add(f32x4.add(load_f32xk(gi + 2 * hb, k), load_f32xk(bi + 2 * hb, k)), f32x4.mul(r, hn)));
  const hpv = load_f32xk(hp, k);
  // h = (1 - z) n + z h_prev = n + z (h_prev - n)
  store_f32xk(h, f32x4.add(n, f32x4.mul(z, f32x4.sub(hpv, n))), k);
  store_f32xk(cache + 2 * hb, n, k);
  store_f32xk(cache + 3 * hb, hn, k);
}

// @ts-ignore: decorator
@inline function gru_gate_cols(gi: usize, gh: usize, bi: usize, bh: usize, cache: usize, j0: i32, j1: i32, act: i32): void {
  let j = j0;
  for (; j + 4 <= j1; j += 4) {
    const o = <usize>j << 2;
    gru_gate4(gi + o, gh + o, bi + o, bh + o, cache + o, 4, act);
  }
  if (j < j1) {
    const o = <usize>j << 2;
    gru_gate4(gi + o, gh + o, bi + o, bh + o, cache + o, j1 - j, act);
  }
}

// @ts-ignore: decorator
@inline function gru_fwd_rows(Gi: usize, Gh: usize, bIh: usize, bHh: usize, hPrev: usize, h: usize, cache: usize, B: i32, H: i32, j0: i32, j1: i32, act: i32): void {
  const hb = <usize>H << 2;
  for (let b = 0; b < B; b++) {
    const row = <usize>(b * H) << 2;
    const gi = Gi + row * 3;
    const gh = Gh + row * 3;
    const hp = hPrev + row;
    const hr = h + row;
    const cr = cache + (row << 2);
    // pass 1: r, z
    gru_gate_cols(gi, gh, bIh, bHh, cr, j0, j1, act);
    gru_gate_cols(gi + hb, gh + hb, bIh + hb, bHh + hb, cr + hb, j0, j1, act);
    // pass 2: hn, n, h
    let j = j0;
    for (; j + 4 <= j1; j += 4) {
      const o = <usize>j << 2;
      gru_state4(gi + o, gh + o, bIh + o, bHh + o, hp + o, hr + o, cr + o, hb, 4);
    }
    if (j < j1) {
      const o = <usize>j << 2;
      gru_state4(gi + o, gh + o, bIh + o, bHh + o, hp + o, hr + o, cr + o, hb, j1 - j);
    }
  }
}

/**
 * GRU forward, gates r, z, n (PyTorch; Keras reset_after = true):
 *   r = gact(Gi_r + b_ir + Gh_r + b_hr),  z = gact(Gi_z + b_iz + Gh_z + b_hz)
 *   hn = Gh_n + b_hn,  n = tanh(Gi_n + b_in + r * hn),  h = (1 - z) n + z h_prev
 * Gi    [B, 3H]  x W_ih^T (no bias)
 * Gh    [B, 3H]  h_prev W_hh^T (no bias)
 * bIh   [3H], bHh [3H]
 * hPrev [B, H]
 * h     [B, H]  out
 * cache [B, 4H] out: r, z, n, hn
 * gact  0 = sigmoid, 1 = hard sigmoid
 */
export function gru_step_fwd(Gi: usize, Gh: usize, bIh: usize, bHh: usize, hPrev: usize, h: usize, cache: usize, B: i32, H: i32, gact: i32): void {
  gru_step_fwd_cols(Gi, Gh, bIh, bHh, hPrev, h, cache, B, H, 0, H, gact);
}

/**
 * gru_step_fwd on hidden units j0 <= j < j1 only (j0 a multiple of 4, j1 <= H),
 * every gate block of those units: one thread's share of a step split by
 * columns (src/runtime/threads.ts). Same math per element as the whole step.
 */
export function gru_step_fwd_cols(Gi: usize, Gh: usize, bIh: usize, bHh: usize, hPrev: usize, h: usize, cache: usize, B: i32, H: i32, j0: i32, j1: i32, gact: i32): void {
  if (gact == 0) gru_fwd_rows(Gi, Gh, bIh, bHh, hPrev, h, cache, B, H, j0, j1, 0);
  else gru_fwd_rows(Gi, Gh, bIh, bHh, hPrev, h, cache, B, H, j0, j1, 1);
}

// GRU backward for one vector of columns. With the cache r, z, n, hn:
//   dn      = dh (1 - z)             dn_pre = dn (1 - n^2)
//   dz      = dh (h_prev - n)        dz_pre = dz gact'(z)
//   dr      = dn_pre hn              dr_pre = dr gact'(r)
//   dGi = [dr_pre, dz_pre, dn_pre]
//   dGh = [dr_pre, dz_pre, dn_pre r]      (n's pre-activation holds r * (Gh_n + b_hn))
//   dhPrev = dh z                         (the direct path only)
// @ts-ignore: decorator
@inline function gru_bwd4(cache: usize, hp: usize, dh: usize, dgi: usize, dgh: usize, dhp: usize, hb: usize, k: i32, act: i32): void {
  const one = f32x4.splat(1);
  const r = load_f32xk(cache, k);
  const z = load_f32xk(cache + hb, k);
  const n = load_f32xk(cache + 2 * hb, k);
  const hn = load_f32xk(cache + 3 * hb, k);
  const hpv = load_f32xk(hp, k);
  const d = load_f32xk(dh, k);
  const dnp = f32x4.mul(f32x4.mul(d, f32x4.sub(one, z)), f32x4.sub(one, f32x4.mul(n, n)));
  const dzp = f32x4.mul(f32x4.mul(d, f32x4.sub(hpv, n)), dgate4(z, act));
  const drp = f32x4.mul(f32x4.mul(dnp, hn), dgate4(r, act));
  store_f32xk(dgi, drp, k);
  store_f32xk(dgi + hb, dzp, k);
  store_f32xk(dgi + 2 * hb, dnp, k);
  store_f32xk(dgh, drp, k);
  store_f32xk(dgh + hb, dzp, k);
  store_f32xk(dgh + 2 * hb, f32x4.mul(dnp, r), k);
  store_f32xk(dhp, f32x4.mul(d, z), k);
}

// @ts-ignore: decorator
@inline function gru_bwd_rows(cache: usize, hPrev: usize, dh: usize, dGi: usize, dGh: usize, dhPrev: usize, B: i32, H: i32, act: i32): void {
  const hb = <usize>H << 2;
  const H4 = H & ~3;
  const rem = H - H4;
  for (let b = 0; b < B; b++) {
    const row = <usize>(b * H) << 2;
    const cr = cache + (row << 2);
    const hp = hPrev + row;
    const dhr = dh + row;
    const dgi = dGi + row * 3;
    const dgh = dGh + row * 3;
    const dhp = dhPrev + row;
    let j = 0;
    for (; j < H4; j += 4) {
      const o = <usize>j << 2;
      gru_bwd4(cr + o, hp + o, dhr + o, dgi + o, dgh + o, dhp + o, hb, 4, act);
    }
    if (rem) {
      const o = <usize>j << 2;
      gru_bwd4(cr + o, hp + o, dhr + o, dgi + o, dgh + o, dhp + o, hb, rem, act);
    }
  }
}

/**
 * GRU backward (see the math above gru_bwd4).
 * cache  [B, 4H] r, z, n, hn from forward
 * hPrev  [B, H]
 * dh     [B, H]  dL/dh_t
 * dGi    [B, 3H] out: dL/d(x W_ih^T + b_ih) per gate
 * dGh    [B, 3H] out: dL/d(h_prev W_hh^T + b_hh) per gate
 * dhPrev [B, H]  out: dh * z, the direct path (the caller adds dGh W_hh); may equal dh
 * gact   as in forward
 */
export function gru_step_bwd(cache: usize, hPrev: usize, dh: usize, dGi: usize, dGh: usize, dhPrev: usize, B: i32, H: i32, gact: i32): void {
  if (gact == 0) gru_bwd_rows(cache, hPrev, dh, dGi, dGh, dhPrev, B, H, 0);
  else gru_bwd_rows(cache, hPrev, dh, dGi, dGh, dhPrev, B, H, 1);
}

// ---- GRU, reset gate before the recurrent matrix (Keras reset_after = false) --
//
//   r = gact(x W_ir^T + b_ir + h W_hr^T + b_hr),  z likewise,
//   u = r * h_prev,  n = tanh(x W_in^T + b_in + u W_hn^T + b_hn),
//   h = (1 - z) n + z h_prev                (ONNX GRU linear_before_reset = 0)
//
// n's recurrent product needs r first, so the step's recurrent GEMM is two:
// [B, H] x [H, 2H] for r, z, then [B, H] x [H, H] for n: the same flops as the
// one [B, H] x [H, 3H] of the reset-after cell. Both GEMMs and both
// elementwise passes are inside one call per step (gru_rb_step_fwd), so the
// JS side still makes one WASM call per step. Not split across threads.
// The cache [B, 4H] holds r, z, n, u (u in place of the reset-after hn: the
// weight gradient needs dW_hn = dn_pre^T U).

// r, z and u = r * h_prev for one vector of columns.
// @ts-ignore: decorator
@inline function gru_rb_rz4(gi: usize, gh: usize, bi: usize, bh: usize, hp: usize, cache: usize, hb: usize, k: i32, act: i32): void {
  const r = gate4(f32x4.add(
    f32x4.add(load_f32xk(gi, k), load_f32xk(bi, k)),
    f32x4.add(load_f32xk(gh, k), load_f32xk(bh, k))), act);
  const z = gate4(f32x4.add(
    f32x4.add(load_f32xk(gi + hb, k), load_f32xk(bi + hb, k)),
    f32x4.add(load_f32xk(gh + hb, k), load_f32xk(bh + hb, k))), act);
  store_f32xk(cache, r, k);
  store_f32xk(cache + hb, z, k);
  store_f32xk(cache + 3 * hb, f32x4.mul(r, load_f32xk(hp, k)), k);
}

// n and h for one vector of columns (gi, gh at the r columns; Gh's n block holds u W_hn^T).
// @ts-ignore: decorator
@inline function gru_rb_n4(gi: usize, gh: usize, bi: usize, bh: usize, hp: usize, h: usize, cache: usize, hb: usize, k: i32): void {
  const z = load_f32xk(cache + hb, k);
  const n = tanh4(f32x4.add(
    f32x4.add(load_f32xk(gi + 2 * hb, k), load_f32xk(bi + 2 * hb, k)),
    f32x4.add(load_f32xk(gh + 2 * hb, k), load_f32xk(bh + 2 * hb, k))));
  const hpv = load_f32xk(hp, k);
  store_f32xk(h, f32x4.add(n, f32x4.mul(z, f32x4.sub(hpv, n))), k);
  store_f32xk(cache + 2 * hb, n, k);
}

// @ts-ignore: decorator
@inline function gru_rb_fwd_rows(Gi: usize, Gh: usize, bIh: usize, bHh: usize, hPrev: usize, h: usize, cache: usize, B: i32, H: i32, pass: i32, act: i32): void {
  const hb = <usize>H << 2;
  const H4 = H & ~3;
  const rem = H - H4;
  for (let b = 0; b < B; b++) {
    const row = <usize>(b * H) << 2;
    const gi = Gi + row * 3;
    const gh = Gh + row * 3;
    const hp = hPrev + row;
    const hr = h + row;
    const cr = cache + (row << 2);
    let j = 0;
    if (pass == 0) {
      for (; j < H4; j += 4) {
        const o = <usize>j << 2;
        gru_rb_rz4(gi + o, gh + o, bIh + o, bHh + o, hp + o, cr + o, hb, 4, act);
      }
      if (rem) {
        const o = <usize>j << 2;
        gru_rb_rz4(gi + o, gh + o, bIh + o, bHh + o, hp + o, cr + o, hb, rem, act);
      }
    } else {
      for (; j < H4; j += 4) {
        const o = <usize>j << 2;
        gru_rb_n4(gi + o, gh + o, bIh + o, bHh + o, hp + o, hr + o, cr + o, hb, 4);
      }
      if (rem) {
        const o = <usize>j << 2;
        gru_rb_n4(gi + o, gh + o, bIh + o, bHh + o, hp + o, hr + o, cr + o, hb, rem);
      }
    }
  }
}

/**
 * One whole step of the reset-before GRU (math above), GEMMs included.
 * hPrev [B, H]
 * WpRZ  W_hh rows r, z ([2H, H]) packed by gemm_pack_b_nt(W_hh, H, H, 2H, WpRZ)
 * WpN   W_hh rows n ([H, H]) packed by gemm_pack_b_nt(W_hh + 2H*H*4, H, H, H, WpN)
 * Gi    [B, 3H] x W_ih^T (no bias)
 * Gh    [B, 3H] out: h_prev W_hr^T, h_prev W_hz^T, u W_hn^T (no bias); scratch
 * bIh   [3H], bHh [3H]
 * h     [B, H] out (may equal hPrev)
 * cache [B, 4H] out: r, z, n, u
 * gact  0 = sigmoid, 1 = hard sigmoid
 */
export function gru_rb_step_fwd(hPrev: usize, WpRZ: usize, WpN: usize, Gi: usize, Gh: usize, bIh: usize, bHh: usize, h: usize, cache: usize, B: i32, H: i32, gact: i32): void {
  const hb = <usize>H << 2;
  gemm_packed_f32x4_4x8(B, 2 * H, H, hPrev, H, 1, WpRZ, Gh, 3 * H, 0);
  gru_rb_rz(Gi, Gh, bIh, bHh, hPrev, cache, B, H, gact);
  // u [B, H] is column block 3 of the cache (row stride 4H).
  gemm_packed_f32x4_4x8(B, H, H, cache + 3 * hb, 4 * H, 1, WpN, Gh + 2 * hb, 3 * H, 0);
  gru_rb_n(Gi, Gh, bIh, bHh, hPrev, h, cache, B, H);
}

/**
 * The first elementwise pass of gru_rb_step_fwd: cache r, z and u = r * h_prev
 * from Gi [B, 3H] and Gh [B, 3H] (its r, z blocks: h_prev W_hr^T, h_prev W_hz^T).
 */
export function gru_rb_rz(Gi: usize, Gh: usize, bIh: usize, bHh: usize, hPrev: usize, cache: usize, B: i32, H: i32, gact: i32): void {
  if (gact == 0) gru_rb_fwd_rows(Gi, Gh, bIh, bHh, hPrev, 0, cache, B, H, 0, 0);
  else gru_rb_fwd_rows(Gi, Gh, bIh, bHh, hPrev, 0, cache, B, H, 0, 1);
}

/**
 * The second elementwise pass of gru_rb_step_fwd: n and h [B, H] from Gh's
 * n block (u W_hn^T) and the cache's z. Each column vector of h_prev is read
 * before h's is written, so h may equal hPrev.
 */
export function gru_rb_n(Gi: usize, Gh: usize, bIh: usize, bHh: usize, hPrev: usize, h: usize, cache: usize, B: i32, H: i32): void {
  gru_rb_fwd_rows(Gi, Gh, bIh, bHh, hPrev, h, cache, B, H, 1, 0);
}

// Backward, first pass, one vector of columns:
//   dn_pre = dh (1 - z)(1 - n^2),  dz_pre = dh (h_prev - n) gact'(z)
// @ts-ignore: decorator
@inline function gru_rb_bwd_nz4(cache: usize, hp: usize, dh: usize, dgi: usize, dgh: usize, hb: usize, k: i32, act: i32): void {
  const one = f32x4.splat(1);
  const z = load_f32xk(cache + hb, k);
  const n = load_f32xk(cache + 2 * hb, k);
  const d = load_f32xk(dh, k);
  const dnp = f32x4.mul(f32x4.mul(d, f32x4.sub(one, z)), f32x4.sub(one, f32x4.mul(n, n)));
  const dzp = f32x4.mul(f32x4.mul(d, f32x4.sub(load_f32xk(hp, k), n)), dgate4(z, act));
  store_f32xk(dgi + hb, dzp, k);
  store_f32xk(dgi + 2 * hb, dnp, k);
  store_f32xk(dgh + hb, dzp, k);
  store_f32xk(dgh + 2 * hb, dnp, k);
}

// Second pass, with du = dn_pre W_hn (in dhp on entry):
//   dr_pre = du h_prev gact'(r),  dhPrev = dh z + du r (the caller's GEMM adds [dr, dz] W_hrz)
// @ts-ignore: decorator
@inline function gru_rb_bwd_r4(cache: usize, hp: usize, dh: usize, dgi: usize, dgh: usize, dhp: usize, hb: usize, k: i32, act: i32): void {
  const r = load_f32xk(cache, k);
  const z = load_f32xk(cache + hb, k);
  const du = load_f32xk(dhp, k);
  const drp = f32x4.mul(f32x4.mul(du, load_f32xk(hp, k)), dgate4(r, act));
  store_f32xk(dgi, drp, k);
  store_f32xk(dgh, drp, k);
  store_f32xk(dhp, f32x4.add(f32x4.mul(load_f32xk(dh, k), z), f32x4.mul(du, r)), k);
}

// @ts-ignore: decorator
@inline function gru_rb_bwd_rows(cache: usize, hPrev: usize, dh: usize, dGi: usize, dGh: usize, dhPrev: usize, B: i32, H: i32, pass: i32, act: i32): void {
  const hb = <usize>H << 2;
  const H4 = H & ~3;
  const rem = H - H4;
  for (let b = 0; b < B; b++) {
    const row = <usize>(b * H) << 2;
    const cr = cache + (row << 2);
    const hp = hPrev + row;
    const dhr = dh + row;
    const dgi = dGi + row * 3;
    const dgh = dGh + row * 3;
    const dhp = dhPrev + row;
    let j = 0;
    if (pass == 0) {
      for (; j < H4; j += 4) {
        const o = <usize>j << 2;
        gru_rb_bwd_nz4(cr + o, hp + o, dhr + o, dgi + o, dgh + o, hb, 4, act);
      }
      if (rem) {
        const o = <usize>j << 2;
        gru_rb_bwd_nz4(cr + o, hp + o, dhr + o, dgi + o, dgh + o, hb, rem, act);
      }
    } else {
      for (; j < H4; j += 4) {
        const o = <usize>j << 2;
        gru_rb_bwd_r4(cr + o, hp + o, dhr + o, dgi + o, dgh + o, dhp + o, hb, 4, act);
      }
      if (rem) {
        const o = <usize>j << 2;
        gru_rb_bwd_r4(cr + o, hp + o, dhr + o, dgi + o, dgh + o, dhp + o, hb, rem, act);
      }
    }
  }
}

/**
 * Backward of one reset-before GRU step, GEMMs included.
 * cache  [B, 4H] r, z, n, u from forward
 * hPrev  [B, H]
 * dh     [B, H]  dL/dh_t
 * dGi    [B, 3H] out: dL/d(x W_ih^T + b_ih) per gate
 * dGh    [B, 3H] out: dL/d(h_prev W_hr^T + b_hr), (.. z), dL/d(u W_hn^T + b_hn)
 *                (so dW_hh's r, z rows are dGh^T H_prev and its n rows dGh_n^T U)
 * dhPrev [B, H]  out: the whole dL/dh_{t-1} from this step (must not overlap dh)
 * WpRZN  W_hh rows r, z ([2H, H]) packed by gemm_pack_b_nn(W_hh, H, 2H, H, WpRZN)
 * WpNN   W_hh rows n ([H, H]) packed by gemm_pack_b_nn(W_hh + 2H*H*4, H, H, H, WpNN)
 */
export function gru_rb_step_bwd(cache: usize, hPrev: usize, dh: usize, dGi: usize, dGh: usize, dhPrev: usize, WpRZN: usize, WpNN: usize, B: i32, H: i32, gact: i32): void {
  const hb = <usize>H << 2;
  if (gact == 0) gru_rb_bwd_rows(cache, hPrev, dh, dGi, dGh, dhPrev, B, H, 0, 0);
  else gru_rb_bwd_rows(cache, hPrev, dh, dGi, dGh, dhPrev, B, H, 0, 1);
  // du [B, H] = dn_pre W_hn, into dhPrev.
  gemm_packed_f32x4_4x8(B, H, H, dGh + 2 * hb, 3 * H, 1, WpNN, dhPrev, H, 0);
  if (gact == 0) gru_rb_bwd_rows(cache, hPrev, dh, dGi, dGh, dhPrev, B, H, 1, 0);
  else gru_rb_bwd_rows(cache, hPrev, dh, dGi, dGh, dhPrev, B, H, 1, 1);
  // dhPrev += [dr_pre, dz_pre] W_hrz
  gemm_packed_f32x4_4x8(B, H, 2 * H, dGh, 3 * H, 1, WpRZN, dhPrev, H, 1);
}
