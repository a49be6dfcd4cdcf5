/**
 * Float64 reference of encoder-decoder attention (Luong et al. 2015; Bahdanau
 * et al. 2015): plain loops, forward and backward side by side. The oracle
 * for the WASM layer (src/layers/attention.ts), itself checked by finite
 * differences and, inside whole models, against PyTorch (test/attention.test.ts).
 *
 * Legend: T = target (decoder) steps, S = source (encoder) steps, B = batch,
 * H = decoder hidden size, DE = encoder output size (D*H), A = attention size.
 *
 * For every decoder step t of example b, with h = q[t, b] [H] the decoder's
 * hidden state and e_s = enc[s, b] [DE] the encoder outputs:
 *   score_s   dot:      h · e_s                          (needs DE = H)
 *             general:  h · (W_a e_s)                    W_a = score.weight [H, DE]
 *             additive: v · tanh(W_q h + W_k e_s)        W_q = query.weight [A, H],
 *                                                        W_k = key.weight [A, DE], v = energy.weight [1, A]
 *   α = softmax(score) over s < lengths[b]; α_s = 0 from lengths[b] on (padding)
 *   context   c = Σ_s α_s e_s                            [DE]
 *   h~ = tanh(W_c [c; h])                                W_c = combine.weight [H, DE + H]
 * h~ (the attentional hidden state) is what the output layer reads.
 */

export type ScoreKind = "dot" | "general" | "additive";

export interface RefAttentionConfig {
  score: ScoreKind;
  /** H: decoder hidden size. */
  hiddenSize: number;
  /** DE: size of one encoder output (D*H). */
  encoderSize: number;
  /** A: additive attention's hidden size. */
  attentionSize: number;
}

/** Parameter names and shapes of an attention block. */
export function attentionShapes(c: RefAttentionConfig): [string, number[]][] {
  const { hiddenSize: H, encoderSize: DE, attentionSize: A } = c;
  const s: [string, number[]][] = [];
  if (c.score === "general") s.push(["score.weight", [H, DE]]);
  if (c.score === "additive") s.push(["query.weight", [A, H]], ["key.weight", [A, DE]], ["energy.weight", [1, A]]);
  s.push(["combine.weight", [H, DE + H]]);
  return s;
}

export interface RefAttentionCache {
  c: RefAttentionConfig;
  T: number;
  S: number;
  B: number;
  p: Record<string, Float64Array>;
  q: Float64Array; // [T, B, H]
  enc: Float64Array; // [S, B, DE]
  lengths: number[];
  alpha: Float64Array; // [T, B, S]
  ctx: Float64Array; // [T, B, DE]
  out: Float64Array; // [T, B, H]   h~
  th: Float64Array; // additive: [T, B, S, A] tanh(W_q h + W_k e_s)
}

/** Forward; returns h~ [T, B, H], the weights α [T, B, S] and the cache. */
export function refAttentionForward(
  c: RefAttentionConfig, p: Record<string, Float64Array>, q: Float64Array, enc: Float64Array, lengths: number[], T: number, S: number, B: number,
): RefAttentionCache {
  const { hiddenSize: H, encoderSize: DE, attentionSize: A } = c;
  const alpha = new Float64Array(T * B * S);
  const ctx = new Float64Array(T * B * DE);
  const out = new Float64Array(T * B * H);
  const th = new Float64Array(c.score === "additive" ? T * B * S * A : 0);
  const Wc = p["combine.weight"];
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) {
      const r = t * B + b;
      const h = q.subarray(r * H, (r + 1) * H);
      const len = lengths[b];
      const sc = new Float64Array(len);
      for (let s = 0; s < len; s++) {
        const e = enc.subarray((s * B + b) * DE, (s * B + b + 1) * DE);
        let v = 0;
        if (c.score === "dot") for (let i = 0; i < H; i++) v += h[i] * e[i];
        else if (c.score === "general") {
          const W = p["score.weight"];
          for (let i = 0; i < H; i++) for (let j = 0; j < DE; j++) v += h[i] * W[i * DE + j] * e[j];
        } else {
          const Wq = p["query.weight"];
          const Wk = p["key.weight"];
          const ve = p["energy.weight"];
          for (let a = 0; a < A; a++) {
            let z = 0;
            for (let i = 0; i < H; i++) z += Wq[a * H + i] * h[i];
            for (let j = 0; j < DE; j++) z += Wk[a * DE + j] * e[j];
            const y = Math.tanh(z);
            th[(r * S + s) * A + a] = y;
            v += ve[a] * y;
          }
        }
        sc[s] = v;
      }
      let m = -Infinity;
      for (const v of sc) m = Math.max(m, v);
      let sum = 0;
      for (let s = 0; s < len; s++) sum += Math.exp(sc[s] - m);
      for (let s = 0; s < len; s++) alpha[r * S + s] = Math.exp(sc[s] - m) / sum;
      for (let s = 0; s < len; s++) {
        for (let j = 0; j < DE; j++) ctx[r * DE + j] += alpha[r * S + s] * enc[(s * B + b) * DE + j];
      }
      for (let o = 0; o < H; o++) {
        let z = 0;
        for (let j = 0; j < DE; j++) z += Wc[o * (DE + H) + j] * ctx[r * DE + j];
        for (let i = 0; i < H; i++) z += Wc[o * (DE + H) + DE + i] * h[i];
        out[r * H + o] = Math.tanh(z);
      }
    }
  }
  return { c, T, S, B, p, q, enc, lengths, alpha, ctx, out, th };
}

/** Backward from dOut = dL/dh~ [T, B, H]: dL/dq [T, B, H], dL/denc [S, B, DE] and every parameter gradient. */
export function refAttentionBackward(k: RefAttentionCache, dOut: Float64Array): { dq: Float64Array; dEnc: Float64Array; grads: Record<string, Float64Array> } {
  const { c, T, S, B, p, q, enc, lengths, alpha, ctx, out, th } = k;
  const { hiddenSize: H, encoderSize: DE, attentionSize: A } = c;
  const grads: Record<string, Float64Array> = {};
  for (const [n, shape] of attentionShapes(c)) grads[n] = new Float64Array(shape.reduce((x, y) => x * y, 1));
  const dq = new Float64Array(T * B * H);
  const dEnc = new Float64Array(S * B * DE);
  const Wc = p["combine.weight"];
  const gWc = grads["combine.weight"];
  for (let t = 0; t < T; t++) {
    for (let b = 0; b < B; b++) {
      const r = t * B + b;
      const h = q.subarray(r * H, (r + 1) * H);
      // h~ = tanh(z): dz = dh~ (1 - h~^2); dW_c += dz [c; h]^T; d[c; h] = W_c^T dz.
      const dctx = new Float64Array(DE);
      for (let o = 0; o < H; o++) {
        const y = out[r * H + o];
        const dz = dOut[r * H + o] * (1 - y * y);
        for (let j = 0; j < DE; j++) {
          gWc[o * (DE + H) + j] += dz * ctx[r * DE + j];
          dctx[j] += dz * Wc[o * (DE + H) + j];
        }
        for (let i = 0; i < H; i++) {
          gWc[o * (DE + H) + DE + i] += dz * h[i];
          dq[r * H + i] += dz * Wc[o * (DE + H) + DE + i];
        }
      }
      // c = Σ α_s e_s: dα_s = dc · e_s, de_s += α_s dc.
      const len = lengths[b];
      const dAlpha = new Float64Array(len);
      for (let s = 0; s < len; s++) {
        const eo = (s * B + b) * DE;
        for (let j = 0; j < DE; j++) {
          dAlpha[s] += dctx[j] * enc[eo + j];
          dEnc[eo + j] += alpha[r * S + s] * dctx[j];
        }
      }
      // softmax: dscore_s = α_s (dα_s - Σ_j α_j dα_j).
      let dot = 0;
      for (let s = 0; s < len; s++) dot += alpha[r * S + s] * dAlpha[s];
      for (let s = 0; s < len; s++) {
        const ds = alpha[r * S + s] * (dAlpha[s] - dot);
        const eo = (s * B + b) * DE;
        if (c.score === "dot") {
          for (let i = 0; i < H; i++) {
            dq[r * H + i] += ds * enc[eo + i];
            dEnc[eo + i] += ds * h[i];
          }
        } else if (c.score === "general") {
          const W = p["score.weight"];
          const gW = grads["score.weight"];
          for (let i = 0; i < H; i++) {
            for (let j = 0; j < DE; j++) {
              dq[r * H + i] += ds * W[i * DE + j] * enc[eo + j];
              dEnc[eo + j] += ds * h[i] * W[i * DE + j];
              gW[i * DE + j] += ds * h[i] * enc[eo + j];
            }
          }
        } else {
          const Wq = p["query.weight"];
          const Wk = p["key.weight"];
          const ve = p["energy.weight"];
          for (let a = 0; a < A; a++) {
            const y = th[(r * S + s) * A + a];
            grads["energy.weight"][a] += ds * y;
            const dz = ds * ve[a] * (1 - y * y);
            for (let i = 0; i < H; i++) {
              grads["query.weight"][a * H + i] += dz * h[i];
              dq[r * H + i] += dz * Wq[a * H + i];
            }
            for (let j = 0; j < DE; j++) {
              grads["key.weight"][a * DE + j] += dz * enc[eo + j];
              dEnc[eo + j] += dz * Wk[a * DE + j];
            }
          }
        }
      }
    }
  }
  return { dq, dEnc, grads };
}
