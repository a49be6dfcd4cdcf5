/**
 * Attention (src/layers/attention.ts, math in src/reference/attention.ts) as
 * standard ONNX operators, for the decoder-step graph of an attention
 * Seq2Seq. With h = q[t, b] the decoder's hidden state and e_s = enc[s, b]:
 *
 *   score_s  dot:      h · e_s                      MatMul(q_b, e_b^T)
 *            general:  h · (W_a e_s)                MatMul(q_b, (e_b W_a^T)^T)
 *            additive: v · tanh(W_q h + W_k e_s)    Add of Unsqueezed projections, Tanh, MatMul(·, v^T)
 *   mask     s < lengths[b]                         Less(Range(0, S), lengths) ; Where(mask, score, -inf)
 *   α        softmax over s                         Softmax(axis -1): exact zeros where masked
 *   c        Σ_s α_s e_s                            MatMul(α_b, e_b)
 *   h~       tanh(W_c [c; h])                       Concat, MatMul, Tanh
 *
 * Batched MatMul needs the batch first, so the block works on [B, T, ·]
 * (Transposes in and out); everything else is time-major like the engine.
 *
 * Legend: T = target steps, S = source steps, B = batch, H = decoder hidden
 * size, DE = encoder output size (D*H), A = additive attention size (= H).
 */
import type { Tensor } from "../runtime/arena.js";
import { DT, GraphBuilder } from "./graph.js";
import { transpose } from "../util/layout.js";

/** [rows, cols] -> [cols, rows], for MatMul(x, W^T). */
function transposed(w: Tensor): Float32Array {
  return transpose(w.toArray(), w.shape[0], w.shape[1]);
}

/**
 * h~ [T, B, H] and the weights α [T, B, S] for decoder states q [T, B, H],
 * encoder outputs enc [S, B, DE] and source lengths [B] (int32).
 * `p` reads the attention's parameters by their names (`combine.weight`, ...).
 */
export function attentionBlock(
  g: GraphBuilder, q: string, enc: string, lengths: string,
  score: "dot" | "general" | "additive", p: (name: string) => Tensor,
): { ht: string; alpha: string } {
  const bt = { perm: { ints: [1, 0, 2] } };
  const qb = g.op("Transpose", [q], bt, "att.q_BTH"); // [B, T, H]
  const eb = g.op("Transpose", [enc], bt, "att.enc_BSD"); // [B, S, DE]
  const W = (name: string) => {
    const t = p(name);
    return g.floats(`attention.${name}_T`, [t.shape[1], t.shape[0]], transposed(t));
  };
  const swapLast = { perm: { ints: [0, 2, 1] } };
  let scores: string; // [B, T, S]
  if (score === "dot") {
    scores = g.op("MatMul", [qb, g.op("Transpose", [eb], swapLast)]);
  } else if (score === "general") {
    const keys = g.op("MatMul", [eb, W("score.weight")], {}, "att.keys"); // e_b W_a^T [B, S, H]
    scores = g.op("MatMul", [qb, g.op("Transpose", [keys], swapLast)]);
  } else {
    const qp = g.op("MatMul", [qb, W("query.weight")], {}, "att.query"); // [B, T, A]
    const kp = g.op("MatMul", [eb, W("key.weight")], {}, "att.key"); // [B, S, A]
    const sum = g.op("Add", [g.op("Unsqueeze", [qp, g.int64s("axis2", [2])]), g.op("Unsqueeze", [kp, g.int64s("axis1", [1])])]); // [B, T, S, A]
    const v = p("energy.weight"); // [1, A]: as [A, 1] the same numbers
    const e = g.op("MatMul", [g.op("Tanh", [sum]), g.floats("attention.energy.weight_T", [v.shape[1], 1], v.toArray())]); // [B, T, S, 1]
    scores = g.op("Squeeze", [e, g.int64s("axis3", [3])]);
  }
  // Mask: source step s of example b is real when s < lengths[b].
  const S = g.op("Gather", [g.op("Shape", [enc]), g.int64s("zero", [0], [])], { axis: 0 }, "att.S");
  const steps = g.op("Range", [g.int64s("zero", [0], []), S, g.int64s("one", [1], [])], {}, "att.steps"); // [S]
  const len = g.op("Unsqueeze", [g.op("Cast", [lengths], { to: DT.INT64 }), g.int64s("axes12", [1, 2])]); // [B, 1, 1]
  const real = g.op("Less", [steps, len], {}, "att.mask"); // [B, 1, S]
  const masked = g.op("Where", [real, scores, g.floats("minus_inf", [], Float32Array.of(-Infinity))]);
  const alpha = g.op("Softmax", [masked], { axis: -1 }, "att.alpha"); // [B, T, S]
  const ctx = g.op("MatMul", [alpha, eb], {}, "att.context"); // [B, T, DE]
  const cat = g.op("Concat", [ctx, qb], { axis: 2 }); // [c; h]
  const ht = g.op("Tanh", [g.op("MatMul", [cat, W("combine.weight")])], {}, "att.h_tilde"); // [B, T, H]
  return { ht: g.op("Transpose", [ht], bt, "h_tilde"), alpha: g.op("Transpose", [alpha], bt, "alpha_TBS") };
}
