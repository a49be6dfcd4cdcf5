/**
 * Scalar float64 twins of the fused step kernels in `assembly/cells.ts`: one
 * time step of SimpleRNN, LSTM and GRU, forward and backward, with the same
 * arguments as the kernels (arrays in place of pointers, each tensor starting
 * at index 0) and the same caches. The oracle for the kernel tests, and the
 * baseline of `bench/kernels-gates.js`.
 *
 * Dimension letters: B = batch, H = hidden size. Tensors are row-major;
 * a [B, kH] tensor holds k gate blocks of H columns per row, in PyTorch's gate
 * order (LSTM i, f, g, o; GRU r, z, n). Backward functions overwrite their
 * outputs (they do not add). gact is the gate activation (LSTM i, f, o; GRU
 * r, z): 0 = sigmoid, 1 = hard sigmoid clip(0.2x + 0.5, 0, 1).
 */
import { gateAct, gateActGrad, type NumArray } from "./activations.js";

/**
 * SimpleRNN forward: h = act(G + b_ih + b_hh).
 * @param G   [B, H] x W_ih^T + h_prev W_hh^T
 * @param bIh [H]
 * @param bHh [H]
 * @param h   [B, H] out (may be G); the cache backward reads
 * @param act 0 = tanh, 1 = relu
 */
export function rnn_step_fwd_ref(G: ArrayLike<number>, bIh: ArrayLike<number>, bHh: ArrayLike<number>, h: NumArray, B: number, H: number, act: number): void {
  for (let b = 0; b < B; b++) {
    for (let j = 0; j < H; j++) {
      const a = G[b * H + j] + bIh[j] + bHh[j];
      h[b * H + j] = act === 0 ? Math.tanh(a) : Math.max(a, 0);
    }
  }
}

/**
 * SimpleRNN backward: dG = dh * act'(a), from the output h:
 * tanh' = 1 - h^2, relu' = [h > 0].
 * @param h  [B, H] forward output
 * @param dh [B, H] dL/dh
 * @param dG [B, H] out: dL/d(pre-activation) (may be dh)
 */
export function rnn_step_bwd_ref(h: ArrayLike<number>, dh: ArrayLike<number>, dG: NumArray, B: number, H: number, act: number): void {
  for (let i = 0; i < B * H; i++) {
    const y = h[i];
    dG[i] = act === 0 ? dh[i] * (1 - y * y) : y > 0 ? dh[i] : 0;
  }
}

/**
 * LSTM forward, gates i, f, g, o:
 * i, f, o = sigmoid(G + b_ih + b_hh), g = tanh(G + b_ih + b_hh),
 * c = f c_prev + i g, tc = tanh(c), h = o tc.
 * @param G     [B, 4H] in: x W_ih^T + h_prev W_hh^T; out: activated gates (cache)
 * @param bIh   [4H]
 * @param bHh   [4H]
 * @param cPrev [B, H]
 * @param c     [B, H] out
 * @param h     [B, H] out
 * @param tc    [B, H] out: tanh(c) (cache)
 */
export function lstm_step_fwd_ref(
  G: NumArray, bIh: ArrayLike<number>, bHh: ArrayLike<number>, cPrev: ArrayLike<number>,
  c: NumArray, h: NumArray, tc: NumArray, B: number, H: number, gact = 0,
): void {
  for (let b = 0; b < B; b++) {
    const g0 = b * 4 * H;
    for (let j = 0; j < H; j++) {
      const ig = gateAct(G[g0 + j] + bIh[j] + bHh[j], gact);
      const fg = gateAct(G[g0 + H + j] + bIh[H + j] + bHh[H + j], gact);
      const gg = Math.tanh(G[g0 + 2 * H + j] + bIh[2 * H + j] + bHh[2 * H + j]);
      const og = gateAct(G[g0 + 3 * H + j] + bIh[3 * H + j] + bHh[3 * H + j], gact);
      const cv = fg * cPrev[b * H + j] + ig * gg;
      const t = Math.tanh(cv);
      G[g0 + j] = ig;
      G[g0 + H + j] = fg;
      G[g0 + 2 * H + j] = gg;
      G[g0 + 3 * H + j] = og;
      c[b * H + j] = cv;
      tc[b * H + j] = t;
      h[b * H + j] = og * t;
    }
  }
}

/**
 * LSTM backward. With dc_t = dc + dh o (1 - tc^2):
 * dG_i = dc_t g i(1-i), dG_f = dc_t c_prev f(1-f), dG_g = dc_t i (1-g^2),
 * dG_o = dh tc o(1-o), and dc becomes dc_t f = dL/dc_{t-1}.
 * @param G     [B, 4H] activated gates from forward
 * @param cPrev [B, H]
 * @param tc    [B, H] tanh(c_t) from forward
 * @param dh    [B, H] dL/dh_t
 * @param dc    [B, H] in: dL/dc_t from step t+1; out: dL/dc_{t-1}
 * @param dG    [B, 4H] out: gradients of the pre-activation gates (may be G)
 */
export function lstm_step_bwd_ref(
  G: ArrayLike<number>, cPrev: ArrayLike<number>, tc: ArrayLike<number>, dh: ArrayLike<number>,
  dc: NumArray, dG: NumArray, B: number, H: number, gact = 0,
): void {
  for (let b = 0; b < B; b++) {
    const g0 = b * 4 * H;
    for (let j = 0; j < H; j++) {
      const k = b * H + j;
      const ig = G[g0 + j], fg = G[g0 + H + j], gg = G[g0 + 2 * H + j], og = G[g0 + 3 * H + j];
      const t = tc[k];
      const dct = dc[k] + dh[k] * og * (1 - t * t);
      dG[g0 + j] = dct * gg * gateActGrad(ig, gact);
      dG[g0 + H + j] = dct * cPrev[k] * gateActGrad(fg, gact);
      dG[g0 + 2 * H + j] = dct * ig * (1 - gg * gg);
      dG[g0 + 3 * H + j] = dh[k] * t * gateActGrad(og, gact);
      dc[k] = dct * fg;
    }
  }
}

/**
 * GRU forward, gates r, z, n:
 * r = sigmoid(Gi_r + b_ir + Gh_r + b_hr), z = sigmoid(Gi_z + b_iz + Gh_z + b_hz),
 * hn = Gh_n + b_hn, n = tanh(Gi_n + b_in + r hn), h = (1 - z) n + z h_prev.
 * @param Gi    [B, 3H] x W_ih^T (no bias)
 * @param Gh    [B, 3H] h_prev W_hh^T (no bias)
 * @param bIh   [3H]
 * @param bHh   [3H]
 * @param hPrev [B, H]
 * @param h     [B, H] out
 * @param cache [B, 4H] out: r, z, n, hn
 */
export function gru_step_fwd_ref(
  Gi: ArrayLike<number>, Gh: ArrayLike<number>, bIh: ArrayLike<number>, bHh: ArrayLike<number>,
  hPrev: ArrayLike<number>, h: NumArray, cache: NumArray, B: number, H: number, gact = 0,
): void {
  for (let b = 0; b < B; b++) {
    const g0 = b * 3 * H;
    const c0 = b * 4 * H;
    for (let j = 0; j < H; j++) {
      const r = gateAct(Gi[g0 + j] + bIh[j] + Gh[g0 + j] + bHh[j], gact);
      const z = gateAct(Gi[g0 + H + j] + bIh[H + j] + Gh[g0 + H + j] + bHh[H + j], gact);
      const hn = Gh[g0 + 2 * H + j] + bHh[2 * H + j];
      const n = Math.tanh(Gi[g0 + 2 * H + j] + bIh[2 * H + j] + r * hn);
      h[b * H + j] = (1 - z) * n + z * hPrev[b * H + j];
      cache[c0 + j] = r;
      cache[c0 + H + j] = z;
      cache[c0 + 2 * H + j] = n;
      cache[c0 + 3 * H + j] = hn;
    }
  }
}

/**
 * GRU backward. dn_pre = dh (1-z)(1-n^2), dz_pre = dh (h_prev - n) z(1-z),
 * dr_pre = dn_pre hn r(1-r); dGi = [dr_pre, dz_pre, dn_pre],
 * dGh = [dr_pre, dz_pre, dn_pre r], dhPrev = dh z (direct path only).
 * @param cache  [B, 4H] r, z, n, hn from forward
 * @param hPrev  [B, H]
 * @param dh     [B, H] dL/dh_t
 * @param dGi    [B, 3H] out
 * @param dGh    [B, 3H] out
 * @param dhPrev [B, H] out (may be dh)
 */
export function gru_step_bwd_ref(
  cache: ArrayLike<number>, hPrev: ArrayLike<number>, dh: ArrayLike<number>,
  dGi: NumArray, dGh: NumArray, dhPrev: NumArray, B: number, H: number, gact = 0,
): void {
  for (let b = 0; b < B; b++) {
    const g0 = b * 3 * H;
    const c0 = b * 4 * H;
    for (let j = 0; j < H; j++) {
      const k = b * H + j;
      const r = cache[c0 + j], z = cache[c0 + H + j], n = cache[c0 + 2 * H + j], hn = cache[c0 + 3 * H + j];
      const d = dh[k];
      const dnp = d * (1 - z) * (1 - n * n);
      const dzp = d * (hPrev[k] - n) * gateActGrad(z, gact);
      const drp = dnp * hn * gateActGrad(r, gact);
      dGi[g0 + j] = drp;
      dGi[g0 + H + j] = dzp;
      dGi[g0 + 2 * H + j] = dnp;
      dGh[g0 + j] = drp;
      dGh[g0 + H + j] = dzp;
      dGh[g0 + 2 * H + j] = dnp * r;
      dhPrev[k] = d * z;
    }
  }
}

/**
 * One step of the reset-before GRU (Keras reset_after = false, ONNX
 * linear_before_reset = 0), recurrent products included, as gru_rb_step_fwd:
 * r, z = gact(x W_i^T + b_i + h_prev W_h^T + b_h), u = r h_prev,
 * n = tanh(Gi_n + b_in + u W_hn^T + b_hn), h = (1 - z) n + z h_prev.
 * @param hPrev [B, H]
 * @param wHh   [3H, H] (not packed)
 * @param Gi    [B, 3H] x W_ih^T (no bias)
 * @param h     [B, H] out
 * @param cache [B, 4H] out: r, z, n, u
 */
export function gru_rb_step_fwd_ref(
  hPrev: ArrayLike<number>, wHh: ArrayLike<number>, Gi: ArrayLike<number>, bIh: ArrayLike<number>, bHh: ArrayLike<number>,
  h: NumArray, cache: NumArray, B: number, H: number, gact = 0,
): void {
  for (let b = 0; b < B; b++) {
    const g0 = b * 3 * H;
    const c0 = b * 4 * H;
    const u = new Float64Array(H);
    const z = new Float64Array(H);
    for (let j = 0; j < H; j++) {
      let ar = 0, az = 0;
      for (let k = 0; k < H; k++) {
        ar += hPrev[b * H + k] * wHh[j * H + k];
        az += hPrev[b * H + k] * wHh[(H + j) * H + k];
      }
      const r = gateAct(Gi[g0 + j] + bIh[j] + ar + bHh[j], gact);
      z[j] = gateAct(Gi[g0 + H + j] + bIh[H + j] + az + bHh[H + j], gact);
      u[j] = r * hPrev[b * H + j];
      cache[c0 + j] = r;
      cache[c0 + H + j] = z[j];
      cache[c0 + 3 * H + j] = u[j];
    }
    for (let j = 0; j < H; j++) {
      let an = 0;
      for (let k = 0; k < H; k++) an += u[k] * wHh[(2 * H + j) * H + k];
      const n = Math.tanh(Gi[g0 + 2 * H + j] + bIh[2 * H + j] + an + bHh[2 * H + j]);
      cache[c0 + 2 * H + j] = n;
      h[b * H + j] = (1 - z[j]) * n + z[j] * hPrev[b * H + j];
    }
  }
}

/**
 * Backward of gru_rb_step_fwd_ref, as gru_rb_step_bwd: dn_pre = dh (1-z)(1-n^2),
 * dz_pre = dh (h_prev - n) gact'(z), du = dn_pre W_hn, dr_pre = du h_prev gact'(r);
 * dGi = dGh = [dr_pre, dz_pre, dn_pre];
 * dhPrev = dh z + du r + [dr_pre, dz_pre] W_hrz (the whole dL/dh_{t-1} of the step).
 * @param cache  [B, 4H] r, z, n, u from forward
 * @param wHh    [3H, H]
 */
export function gru_rb_step_bwd_ref(
  cache: ArrayLike<number>, hPrev: ArrayLike<number>, dh: ArrayLike<number>, wHh: ArrayLike<number>,
  dGi: NumArray, dGh: NumArray, dhPrev: NumArray, B: number, H: number, gact = 0,
): void {
  for (let b = 0; b < B; b++) {
    const g0 = b * 3 * H;
    const c0 = b * 4 * H;
    const dnp = new Float64Array(H);
    for (let j = 0; j < H; j++) {
      const z = cache[c0 + H + j], n = cache[c0 + 2 * H + j], d = dh[b * H + j];
      dnp[j] = d * (1 - z) * (1 - n * n);
      const dzp = d * (hPrev[b * H + j] - n) * gateActGrad(z, gact);
      dGi[g0 + H + j] = dGh[g0 + H + j] = dzp;
      dGi[g0 + 2 * H + j] = dGh[g0 + 2 * H + j] = dnp[j];
    }
    for (let k = 0; k < H; k++) {
      let du = 0;
      for (let j = 0; j < H; j++) du += dnp[j] * wHh[(2 * H + j) * H + k];
      const r = cache[c0 + k], z = cache[c0 + H + k];
      const drp = du * hPrev[b * H + k] * gateActGrad(r, gact);
      dGi[g0 + k] = dGh[g0 + k] = drp;
      dhPrev[b * H + k] = dh[b * H + k] * z + du * r;
    }
    for (let k = 0; k < H; k++) {
      let s = 0;
      for (let j = 0; j < 2 * H; j++) s += dGh[g0 + j] * wHh[j * H + k];
      dhPrev[b * H + k] += s;
    }
  }
}
