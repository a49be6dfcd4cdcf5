// Work stealing for the recurrent steps split across threads
// (src/runtime/threads.ts, unitSteal and rowSteal).
//
// Backward steps are cut by batch rows instead (rows per chunk a multiple of
// 4): a chunk is the cell's backward on its rows and their part of
// dL/dh_{t-1} = dG W_hh, which needs no other rows.
//
// A step's hidden units are cut into chunks of whole 8-wide panels. Part w
// (thread w; 0 = the main thread) owns a contiguous range of chunks, runs
// them from the front, then takes chunks from the back of the other parts'
// ranges. So a thread that runs slower (a vCPU with less of its core, a
// worker that started late or lost its core for a while) gets fewer chunks,
// step by step, instead of holding up the whole step. A chunk is the gate
// GEMMs of its units (h_{t-1} W_hh^T, every gate block) and the cell on
// those units: its results do not depend on which thread runs it or when,
// so any split gives the bits of one thread.
//
// The queue q (written by the main thread before it posts the step, 64-byte
// lines so that the parts' claims do not share a cache line):
//   q + 0:  i32 n, the number of parts
//   q + 4:  i32 units per chunk (a multiple of 8)
//   q + 64 * (1 + w): part w's range of chunks, lo | hi << 16 (lo >= hi: empty)
// A claim is a compare-exchange of one word: lo + 1 from the front (the
// owner), hi - 1 from the back (a thief). Each kernel returns the number of
// chunks it ran (the main thread's share, for the gate in threads.ts).

import { gemm_packed_f32x4_4x8 } from "./gemm";
import { axpy_f32 } from "./util";
import { gru_step_bwd, gru_step_fwd_cols, lstm_step_bwd, lstm_step_bwd_cols, lstm_step_fwd_cols, rnn_step_bwd, rnn_step_fwd_cols } from "./cells";

/** Bytes between two parts' range words. */
const LINE: usize = 64;

/**
 * Take a chunk from the range word at qw: the first (front, the owner) or
 * the last (a thief). Returns it, or -1 when the range is empty.
 */
// @ts-ignore: decorator
@inline function claim(qw: usize, front: bool): i32 {
  let got = -2;
  while (got == -2) {
    let v: i32;
    if (ASC_FEATURE_THREADS) v = atomic.load<i32>(qw);
    else v = load<i32>(qw);
    const lo = v & 0xffff, hi = v >>> 16;
    const nv = front ? v + 1 : v - 0x10000;
    if (lo >= hi) got = -1;
    else if (ASC_FEATURE_THREADS) {
      if (atomic.cmpxchg<i32>(qw, v, nv) == v) got = front ? lo : hi - 1;
    } else {
      store<i32>(qw, nv);
      got = front ? lo : hi - 1;
    }
  }
  return got;
}

/**
 * The next chunk for part `me` of the `n` parts: from the front of its own
 * range, else from the back of another part's (the next one first). -1: none
 * is left anywhere.
 */
// @ts-ignore: decorator
@inline function nextChunk(q: usize, n: i32, me: i32): i32 {
  let c = -1;
  for (let v = 0; v < n && c < 0; v++) {
    const w = me + v < n ? me + v : me + v - n;
    c = claim(q + LINE * <usize>(1 + w), v == 0);
  }
  return c;
}

/**
 * Gate GEMMs of units [u0, u1) for G gate blocks: C[:, g*H + u0 .. g*H + u1)
 * = beta*C + hPrev [B, H] * Wp (packed [G*H / 8][H][8]).
 */
// @ts-ignore: decorator
@inline function gateGemms(nG: i32, B: i32, H: i32, hPrev: usize, Wp: usize, C: usize, beta: f32, u0: i32, u1: i32): void {
  const ldc = nG * H;
  for (let g = 0; g < nG; g++) {
    const col = g * H + u0;
    gemm_packed_f32x4_4x8(B, u1 - u0, H, hPrev, H, 1, Wp + <usize>(col >> 3) * <usize>H * 32, C + (<usize>col << 2), ldc, beta);
  }
}

/**
 * Run chunks for part `me` until none is left anywhere; `kind` 0 = LSTM,
 * 1 = GRU (reset after), 2 = SimpleRNN. Returns the chunks run.
 */
// @ts-ignore: decorator
@inline function run(kind: i32, q: usize, me: i32, B: i32, H: i32, hPrev: usize, Wp: usize, a0: usize, a1: usize, a2: usize, a3: usize, a4: usize, a5: usize, a6: usize, act: i32): i32 {
  const n = load<i32>(q);
  const cu = load<i32>(q, 4);
  let done = 0;
  for (let c = nextChunk(q, n, me); c >= 0; c = nextChunk(q, n, me)) {
    const u0 = c * cu;
    const u1 = min(u0 + cu, H);
    if (kind == 0) {
      // a0 G, a1 bIh, a2 bHh, a3 cPrev, a4 c, a5 h, a6 tc
      gateGemms(4, B, H, hPrev, Wp, a0, 1, u0, u1);
      lstm_step_fwd_cols(a0, a1, a2, a3, a4, a5, a6, B, H, u0, u1, act);
    } else if (kind == 1) {
      // a0 Gi, a1 Gh, a2 bIh, a3 bHh, a4 h, a5 cache
      gateGemms(3, B, H, hPrev, Wp, a1, 0, u0, u1);
      gru_step_fwd_cols(a0, a1, a2, a3, hPrev, a4, a5, B, H, u0, u1, act);
    } else {
      // a0 G, a1 bIh, a2 bHh, a3 h
      gateGemms(1, B, H, hPrev, Wp, a0, 1, u0, u1);
      rnn_step_fwd_cols(a0, a1, a2, a3, B, H, act, u0, u1);
    }
    done++;
  }
  return done;
}

/**
 * LSTM step forward, part `actPart >> 8` of a stolen split: G [B,4H] +=
 * h_{t-1} W_hh^T on each chunk's units, then lstm_step_fwd_cols on them.
 * Arguments as lstm_step_fwd plus hPrev, Wp (packed W_hh^T), the queue q;
 * actPart = gact | part << 8. Returns the chunks this call ran.
 */
export function lstm_step_fwd_steal(hPrev: usize, Wp: usize, G: usize, bIh: usize, bHh: usize, cPrev: usize, c: usize, h: usize, tc: usize, B: i32, H: i32, q: usize, actPart: i32): i32 {
  return run(0, q, actPart >> 8, B, H, hPrev, Wp, G, bIh, bHh, cPrev, c, h, tc, actPart & 255);
}

/** GRU (reset after) step forward, stolen split: Gh [B,3H] = h_{t-1} W_hh^T per chunk, then gru_step_fwd_cols. */
export function gru_step_fwd_steal(hPrev: usize, Wp: usize, Gi: usize, Gh: usize, bIh: usize, bHh: usize, h: usize, cache: usize, B: i32, H: i32, q: usize, actPart: i32): i32 {
  return run(1, q, actPart >> 8, B, H, hPrev, Wp, Gi, Gh, bIh, bHh, h, cache, 0, actPart & 255);
}

/** SimpleRNN step forward, stolen split: G [B,H] += h_{t-1} W_hh^T per chunk, then rnn_step_fwd_cols. */
export function rnn_step_fwd_steal(hPrev: usize, Wp: usize, G: usize, bIh: usize, bHh: usize, h: usize, B: i32, H: i32, q: usize, actPart: i32): i32 {
  return run(2, q, actPart >> 8, B, H, hPrev, Wp, G, bIh, bHh, h, 0, 0, 0, actPart & 255);
}

/**
 * Backward chunks for part `me` (rows per chunk = the queue's units); `kind`
 * 0 = LSTM, 1 = GRU (reset after), 2 = SimpleRNN. Returns the chunks run.
 */
// @ts-ignore: decorator
@inline function runRows(kind: i32, q: usize, me: i32, B: i32, H: i32, Wp: usize, dPrev: usize, beta: f32, a0: usize, a1: usize, a2: usize, a3: usize, a4: usize, a5: usize, act: i32): i32 {
  const n = load<i32>(q);
  const cu = load<i32>(q, 4);
  const r = <usize>H << 2; // bytes of one row of [B, H]
  let done = 0;
  for (let c = nextChunk(q, n, me); c >= 0; c = nextChunk(q, n, me)) {
    const b0 = c * cu;
    const m = min(b0 + cu, B) - b0;
    const o = <usize>b0 * r;
    if (kind == 0) {
      // a0 G [B,4H], a1 cPrev, a2 tc, a3 dh, a4 dc, a5 dG [B,4H]
      lstm_step_bwd(a0 + 4 * o, a1 + o, a2 + o, a3 + o, a4 + o, a5 + 4 * o, m, H, act);
      gemm_packed_f32x4_4x8(m, H, 4 * H, a5 + 4 * o, 4 * H, 1, Wp, dPrev + o, H, beta);
    } else if (kind == 1) {
      // a0 cache [B,4H], a1 hPrev, a2 dh, a3 dGi [B,3H], a4 dGh [B,3H]; dPrev = dhPrev
      gru_step_bwd(a0 + 4 * o, a1 + o, a2 + o, a3 + 3 * o, a4 + 3 * o, dPrev + o, m, H, act);
      gemm_packed_f32x4_4x8(m, H, 3 * H, a4 + 3 * o, 3 * H, 1, Wp, dPrev + o, H, 1);
    } else {
      // a0 h, a1 dh, a2 dG
      rnn_step_bwd(a0 + o, a1 + o, a2 + o, m, H, act);
      gemm_packed_f32x4_4x8(m, H, H, a2 + o, H, 1, Wp, dPrev + o, H, beta);
    }
    done++;
  }
  return done;
}

/**
 * LSTM step backward, part `actPart >> 8` of a stolen split by rows:
 * lstm_step_bwd on each chunk's rows (dc updated in place), then
 * dPrev = beta*dPrev + dG W_hh on them (Wp packed). Returns the chunks run.
 */
export function lstm_step_bwd_steal(G: usize, cPrev: usize, tc: usize, dh: usize, dc: usize, dG: usize, Wp: usize, dPrev: usize, B: i32, H: i32, beta: f32, q: usize, actPart: i32): i32 {
  return runRows(0, q, actPart >> 8, B, H, Wp, dPrev, beta, G, cPrev, tc, dh, dc, dG, actPart & 255);
}

/** GRU (reset after) step backward, stolen split by rows: gru_step_bwd, then dhPrev += dGh W_hh on each chunk's rows. */
export function gru_step_bwd_steal(cache: usize, hPrev: usize, dh: usize, dGi: usize, dGh: usize, dhPrev: usize, Wp: usize, B: i32, H: i32, q: usize, actPart: i32): i32 {
  return runRows(1, q, actPart >> 8, B, H, Wp, dhPrev, 1, cache, hPrev, dh, dGi, dGh, 0, actPart & 255);
}

/** SimpleRNN step backward, stolen split by rows: rnn_step_bwd, then dPrev = beta*dPrev + dG W_hh on each chunk's rows. */
export function rnn_step_bwd_steal(h: usize, dh: usize, dG: usize, Wp: usize, dPrev: usize, B: i32, H: i32, beta: f32, q: usize, actPart: i32): i32 {
  return runRows(2, q, actPart >> 8, B, H, Wp, dPrev, beta, h, dh, dG, 0, 0, 0, actPart & 255);
}

/**
 * LSTM backward split by hidden units, part `actPart >> 8` of a stolen split.
 * A chunk of units [u0, u1) runs
 *   dPrev[:, u0:u1] = beta*dPrev[:, u0:u1] + dG_t W_hh[:, u0:u1]
 * (its columns of dL/dh_{t-1}; Wp = W_hh packed as the right operand,
 * [H/8][4H][8]), then, where Gn != 0, the cell backward of the step
 * processed next (lstm_step_bwd_cols on the same units, dh = dPrev, dc
 * updated in place, writing dGn): that cell needs no other columns of
 * dL/dh_{t-1}, so a step is one job and its chunks are 8-wide panels, as in
 * the forward. Returns the chunks this call ran.
 */
export function lstm_step_bwd_units_steal(dGt: usize, Wp: usize, dPrev: usize, beta: f32, Gn: usize, cPn: usize, tcn: usize, dc: usize, dGn: usize, B: i32, H: i32, q: usize, actPart: i32): i32 {
  const n = load<i32>(q);
  const cu = load<i32>(q, 4);
  const me = actPart >> 8;
  const act = actPart & 255;
  const K = 4 * H;
  let done = 0;
  for (let c = nextChunk(q, n, me); c >= 0; c = nextChunk(q, n, me)) {
    const u0 = c * cu;
    const u1 = min(u0 + cu, H);
    gemm_packed_f32x4_4x8(B, u1 - u0, K, dGt, K, 1, Wp + <usize>(u0 >> 3) * <usize>K * 32, dPrev + (<usize>u0 << 2), H, beta);
    if (Gn != 0) lstm_step_bwd_cols(Gn, cPn, tcn, dPrev, dc, dGn, B, H, u0, u1, act);
    done++;
  }
  return done;
}

/**
 * A layer-direction's forward over all T steps, split by batch rows ("rows
 * over time"): a chunk of rows [b0, b1) runs every step of its sequences
 * alone, its input projection x_t W_ih^T, its h_{t-1} W_hh^T and the cell,
 * because no row of a step needs another row. So the threads meet once per
 * layer-direction, not once per step. Each row's dot products are those of
 * the per-step loop (src/layers/recurrent.ts unitForward: the same GEMM
 * kernel, the same k order, the same cell), so any split gives the bits of
 * one thread.
 *
 * The job's arguments are in the queue header, i32 words from q + 8:
 *   T, B, I, H, X [T,B,I], WpIh (W_ih^T packed), Wp (W_hh^T packed),
 *   G [T,B,nG*H] (GRU: Gi), bIh, bHh [nG*H], hs [T+1,B,H], then
 *   LSTM: cs [T+1,B,H], tc [T,B,H];  GRU: Gh [B,3H] (one step's, by rows),
 *   cache [T,B,4H];  SimpleRNN: nothing
 * (hs and cs by slot: going forward slot t holds h_{t-1}, slot t+1 h_t;
 * reverse, slot t+1 holds h_{t+1}, slot t h_t). Rows per chunk: the queue's
 * units. actPart = act | part << 8 | reverse << 16 | zeroInit << 17 |
 * kind << 18 (0 LSTM, 1 GRU reset after, 2 SimpleRNN; act is gact, or the
 * SimpleRNN's 0 = tanh, 1 = relu). zeroInit: h of the first step is zero, so
 * that step is the projection and the cell alone. Returns the chunks run.
 */
export function fwd_rows_steal(q: usize, actPart: i32): i32 {
  const n = load<i32>(q);
  const cu = load<i32>(q, 4);
  const T = load<i32>(q, 8), B = load<i32>(q, 12), I = load<i32>(q, 16), H = load<i32>(q, 20);
  const X = <usize>load<u32>(q, 24), WpIh = <usize>load<u32>(q, 28), Wp = <usize>load<u32>(q, 32);
  const G = <usize>load<u32>(q, 36), bIh = <usize>load<u32>(q, 40), bHh = <usize>load<u32>(q, 44);
  const hs = <usize>load<u32>(q, 48), a0 = <usize>load<u32>(q, 52), a1 = <usize>load<u32>(q, 56);
  const me = (actPart >> 8) & 255;
  const act = actPart & 255;
  const rev = (actPart & (1 << 16)) != 0;
  const zeroInit = (actPart & (1 << 17)) != 0;
  const kind = (actPart >> 18) & 3;
  const GH = (kind == 0 ? 4 : kind == 1 ? 3 : 1) * H;
  const h4 = <usize>H << 2; // bytes of one row of [*, H]
  let done = 0;
  for (let c = nextChunk(q, n, me); c >= 0; c = nextChunk(q, n, me)) {
    const b0 = c * cu;
    const m = min(b0 + cu, B) - b0;
    for (let s = 0; s < T; s++) {
      const t = rev ? T - 1 - s : s;
      const prev = rev ? t + 1 : t; // slot of h_{t-1} (in processing order)
      const cur = rev ? t : t + 1; // slot of h_t
      const r = <usize>(t * B + b0); // row of [T, B, *]
      const rp = <usize>(prev * B + b0) * h4;
      const rc = <usize>(cur * B + b0) * h4;
      const Gt = G + r * <usize>GH * 4;
      const first = s == 0 && zeroInit; // h_{t-1} = 0: no h_{t-1} W_hh^T
      // Gt [m, GH] = x_t W_ih^T on these rows
      gemm_packed_f32x4_4x8(m, GH, I, X + r * <usize>I * 4, I, 1, WpIh, Gt, GH, 0);
      if (kind == 0) {
        if (!first) gemm_packed_f32x4_4x8(m, GH, H, hs + rp, H, 1, Wp, Gt, GH, 1);
        lstm_step_fwd_cols(Gt, bIh, bHh, a0 + rp, a0 + rc, hs + rc, a1 + r * h4, m, H, 0, H, act);
      } else if (kind == 1) {
        const Gh = a0 + <usize>b0 * <usize>GH * 4; // [m, 3H] = h_{t-1} W_hh^T
        if (first) memory.fill(Gh, 0, <usize>m * <usize>GH * 4);
        else gemm_packed_f32x4_4x8(m, GH, H, hs + rp, H, 1, Wp, Gh, GH, 0);
        gru_step_fwd_cols(Gt, Gh, bIh, bHh, hs + rp, hs + rc, a1 + r * h4 * 4, m, H, 0, H, act);
      } else {
        if (!first) gemm_packed_f32x4_4x8(m, GH, H, hs + rp, H, 1, Wp, Gt, GH, 1);
        rnn_step_fwd_cols(Gt, bIh, bHh, hs + rc, m, H, act, 0, H);
      }
    }
    done++;
  }
  return done;
}

/**
 * A layer-direction's backward (BPTT) over all T steps, split by batch rows
 * as fwd_rows_steal splits the forward: a chunk of rows walks every step
 * back in time, the cell's backward on its rows, then their
 * dL/dh_{t-1} (+)= dG_t W_hh, which needs no other rows. Each row's values
 * are those of the per-step loop (the same kernels, the same k order).
 *
 * Arguments in the queue header, i32 words from q + 8: T, B, H, then p0..p7:
 *   LSTM: G (activated gates) [T,B,4H], cs [T+1,B,H], tc [T,B,H], dHs [T,B,H],
 *         dc [B,H], dG [T,B,4H], Wp, dh0 [B,H]
 *   GRU:  cache [T,B,4H], hs [T+1,B,H], dHs, dGi [T,B,3H], dGh [T,B,3H],
 *         dhp [B,H] (one step's dL/dh_{t-1}, by rows), Wp, dh0
 *   SimpleRNN: hs, dHs, dG [T,B,H], Wp, -, -, -, dh0
 * (Wp: W_hh packed as the right operand; dHs holds each step's output
 * gradient, and the recurrent one is added into it; slots as in the
 * forward). actPart = act | part << 8 | reverse << 16 | dh0 wanted << 17 |
 * kind << 18. Returns the chunks this call ran.
 */
export function bwd_rows_steal(q: usize, actPart: i32): i32 {
  const n = load<i32>(q);
  const cu = load<i32>(q, 4);
  const T = load<i32>(q, 8), B = load<i32>(q, 12), H = load<i32>(q, 16);
  const p0 = <usize>load<u32>(q, 20), p1 = <usize>load<u32>(q, 24), p2 = <usize>load<u32>(q, 28), p3 = <usize>load<u32>(q, 32);
  const p4 = <usize>load<u32>(q, 36), p5 = <usize>load<u32>(q, 40), p6 = <usize>load<u32>(q, 44), p7 = <usize>load<u32>(q, 48);
  const me = (actPart >> 8) & 255;
  const act = actPart & 255;
  const rev = (actPart & (1 << 16)) != 0;
  const wantDh0 = (actPart & (1 << 17)) != 0;
  const kind = (actPart >> 18) & 3;
  const GH = (kind == 0 ? 4 : kind == 1 ? 3 : 1) * H;
  const h4 = <usize>H << 2;
  let done = 0;
  for (let c = nextChunk(q, n, me); c >= 0; c = nextChunk(q, n, me)) {
    const b0 = c * cu;
    const m = min(b0 + cu, B) - b0;
    const ob = <usize>b0 * h4; // this chunk's rows in a [B, H] tensor
    for (let s = 0; s < T; s++) {
      const t = rev ? s : T - 1 - s; // back in time (forward time for the reverse direction)
      const first = s == T - 1; // the step processed first in forward: dL/dh_{t-1} is dh0
      const r = <usize>(t * B + b0); // row of [T, B, *]
      const prevSlot = <usize>((rev ? t + 1 : t) * B + b0); // h_{t-1} (in processing order)
      const curSlot = <usize>((rev ? t : t + 1) * B + b0); // h_t
      const dHs = kind == 0 ? p3 : kind == 1 ? p2 : p1;
      const dh = dHs + r * h4; // dL/dh_t, complete: its step t+1 added the recurrent part
      // dL/dh_{t-1}: the previous step's slot of dHs (which holds its output gradient), or dh0.
      // Without dh0 wanted, the first step is the cell alone (its dG is needed for the weights).
      const dPrev = first ? p7 + ob : dHs + <usize>((rev ? t + 1 : t - 1) * B + b0) * h4;
      if (kind == 0) {
        // p0 G, p1 cs, p2 tc, p4 dc, p5 dG, p6 Wp
        const dGt = p5 + r * <usize>GH * 4;
        lstm_step_bwd(p0 + r * <usize>GH * 4, p1 + prevSlot * h4, p2 + r * h4, dh, p4 + ob, dGt, m, H, act);
        if (!first || wantDh0) gemm_packed_f32x4_4x8(m, H, GH, dGt, GH, 1, p6, dPrev, H, first ? 0 : 1);
      } else if (kind == 1) {
        // p0 cache, p1 hs, p3 dGi, p4 dGh, p5 dhp, p6 Wp
        const dhp = p5 + ob;
        gru_step_bwd(p0 + r * h4 * 4, p1 + prevSlot * h4, dh, p3 + r * <usize>GH * 4, p4 + r * <usize>GH * 4, dhp, m, H, act);
        if (!first || wantDh0) {
          gemm_packed_f32x4_4x8(m, H, GH, p4 + r * <usize>GH * 4, GH, 1, p6, dhp, H, 1);
          if (first) memory.copy(dPrev, dhp, <usize>m * h4);
          else axpy_f32(dPrev, dhp, m * H, 1);
        }
      } else {
        // p0 hs, p2 dG, p3 Wp
        const dGt = p2 + r * h4;
        rnn_step_bwd(p0 + curSlot * h4, dh, dGt, m, H, act);
        if (!first || wantDh0) gemm_packed_f32x4_4x8(m, H, H, dGt, H, 1, p3, dPrev, H, first ? 0 : 1);
      }
    }
    done++;
  }
  return done;
}
