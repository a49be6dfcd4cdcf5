// Attention kernels for the encoder-decoder (src/layers/attention.ts): the
// softmax over source steps masked by each source's length, with its
// backward, and the additive (Bahdanau) score v . tanh(q + k) of every
// (target step, source step) pair, with its backward. Everything else in
// attention (scores of dot / general, the context, the combination
// tanh(W_c [context; h])) is GEMMs from gemm.ts.
//
// Legend: T = target steps, S = source steps, B = batch, A = attention size.
// Scores and weights are [T, B, S]: row r = t*B + b holds step t of example b
// over all source steps; lengths i32 [B] (1 <= lengths[b] <= S).

import "./activations";
import { softmax_rows } from "./loss";

/**
 * Masked softmax, rows of x [R, S] with R = T*B: row r reads the first
 * len = lengths[r % B] entries, writes their softmax to p (p may equal x)
 * and exact zeros from len on (padding of a shorter source gets no weight).
 */
export function masked_softmax_fwd(p: usize, x: usize, R: i32, S: i32, lengths: usize, B: i32): void {
  const rowBytes = <usize>S << 2;
  for (let r = 0; r < R; r++) {
    const len = load<i32>(lengths + (<usize>(r % B) << 2));
    const d = p + <usize>r * rowBytes;
    softmax_rows(d, x + <usize>r * rowBytes, 1, len);
    for (let s = len; s < S; s++) store<f32>(d + (<usize>s << 2), 0);
  }
}

/**
 * Backward of {@link masked_softmax_fwd}: dx[r, s] = p[r, s] (dp[r, s] - Σ_j p[r, j] dp[r, j]).
 * Masked entries have p = 0 and so get dx = 0. dx may equal dp.
 */
export function masked_softmax_bwd(dx: usize, p: usize, dp: usize, R: i32, S: i32): void {
  const rowBytes = <usize>S << 2;
  for (let r = 0; r < R; r++) {
    const pr = p + <usize>r * rowBytes;
    const gr = dp + <usize>r * rowBytes;
    const dr = dx + <usize>r * rowBytes;
    let acc = f32x4.splat(0);
    let s = 0;
    for (; s + 4 <= S; s += 4) {
      const o = <usize>s << 2;
      acc = f32x4.add(acc, f32x4.mul(v128.load(pr + o), v128.load(gr + o)));
    }
    let dot = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3);
    for (; s < S; s++) dot += load<f32>(pr + (<usize>s << 2)) * load<f32>(gr + (<usize>s << 2));
    const vd = f32x4.splat(dot);
    s = 0;
    for (; s + 4 <= S; s += 4) {
      const o = <usize>s << 2;
      v128.store(dr + o, f32x4.mul(v128.load(pr + o), f32x4.sub(v128.load(gr + o), vd)));
    }
    for (; s < S; s++) {
      const o = <usize>s << 2;
      store<f32>(dr + o, load<f32>(pr + o) * (load<f32>(gr + o) - dot));
    }
  }
}

/**
 * Additive scores: scores[t, b, s] = Σ_a v[a] tanh(q[t, b, a] + k[s, b, a]),
 * with q [T, B, A] (the projected decoder states), k [S, B, A] (the projected
 * encoder outputs), v [A]. Keeps th [T, B, S, A] = the tanh values for backward.
 */
export function additive_scores_fwd(scores: usize, th: usize, q: usize, k: usize, v: usize, T: i32, S: i32, B: i32, A: i32): void {
  const rowA = <usize>A << 2;
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) {
      const qr = q + (<usize>(t * B + b)) * rowA;
      const sr = scores + (<usize>(t * B + b) * S << 2);
      for (let s = 0; s < S; s++) {
        const kr = k + (<usize>(s * B + b)) * rowA;
        const hr = th + (<usize>((t * B + b) * S + s)) * rowA;
        let acc = f32x4.splat(0);
        let a = 0;
        for (; a + 4 <= A; a += 4) {
          const o = <usize>a << 2;
          const h = tanh4(f32x4.add(v128.load(qr + o), v128.load(kr + o)));
          v128.store(hr + o, h);
          acc = f32x4.add(acc, f32x4.mul(h, v128.load(v + o)));
        }
        let sum = f32x4.extract_lane(acc, 0) + f32x4.extract_lane(acc, 1) + f32x4.extract_lane(acc, 2) + f32x4.extract_lane(acc, 3);
        for (; a < A; a++) {
          const o = <usize>a << 2;
          const h = f32x4.extract_lane(tanh4(f32x4.splat(load<f32>(qr + o) + load<f32>(kr + o))), 0);
          store<f32>(hr + o, h);
          sum += h * load<f32>(v + o);
        }
        store<f32>(sr + (<usize>s << 2), sum);
      }
    }
  }
}

/**
 * Backward of {@link additive_scores_fwd} from dscores [T, B, S]: with
 * e = dscores[t, b, s] and u = e v ⊙ (1 - th²) (the gradient of q + k),
 * writes dq [T, B, A] = Σ_s u, dk [S, B, A] = Σ_t u and dv [A] = Σ e th
 * (all three overwritten).
 */
export function additive_scores_bwd(dq: usize, dk: usize, dv: usize, dscores: usize, th: usize, v: usize, T: i32, S: i32, B: i32, A: i32): void {
  const rowA = <usize>A << 2;
  memory.fill(dq, 0, <usize>(T * B) * rowA);
  memory.fill(dk, 0, <usize>(S * B) * rowA);
  memory.fill(dv, 0, rowA);
  const one = f32x4.splat(1);
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) {
      const qr = dq + (<usize>(t * B + b)) * rowA;
      const er = dscores + (<usize>(t * B + b) * S << 2);
      for (let s = 0; s < S; s++) {
        const e = load<f32>(er + (<usize>s << 2));
        if (e == 0) continue; // masked source steps (and exact zeros) add nothing
        const ve = f32x4.splat(e);
        const kr = dk + (<usize>(s * B + b)) * rowA;
        const hr = th + (<usize>((t * B + b) * S + s)) * rowA;
        let a = 0;
        for (; a + 4 <= A; a += 4) {
          const o = <usize>a << 2;
          const h = v128.load(hr + o);
          const eh = f32x4.mul(ve, h);
          v128.store(dv + o, f32x4.add(v128.load(dv + o), eh));
          const u = f32x4.mul(f32x4.mul(ve, v128.load(v + o)), f32x4.sub(one, f32x4.mul(h, h)));
          v128.store(qr + o, f32x4.add(v128.load(qr + o), u));
          v128.store(kr + o, f32x4.add(v128.load(kr + o), u));
        }
        for (; a < A; a++) {
          const o = <usize>a << 2;
          const h = load<f32>(hr + o);
          store<f32>(dv + o, load<f32>(dv + o) + e * h);
          const u = e * load<f32>(v + o) * (1 - h * h);
          store<f32>(qr + o, load<f32>(qr + o) + u);
          store<f32>(kr + o, load<f32>(kr + o) + u);
        }
      }
    }
  }
}
