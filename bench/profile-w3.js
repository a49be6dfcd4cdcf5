// Where W3's time goes: one batch-1 truncated-BPTT update of the char LSTM
// (corpus/sotu.txt, Embedding 65 -> LSTM H=128 -> Dense V, seq 25, Adam,
// clip 5), split into its parts, in CPU time (process.cpuUsage), which
// waiting for a core does not inflate; then the kernels of one update timed
// alone at the same shapes, so that what is left is JS overhead.
//   node bench/profile-w3.js [path to a built checkout, default: this one] [--kernels]
import { pathToFileURL } from "node:url";
import { readFileSync } from "node:fs";
import { resolve, join } from "node:path";

const args = process.argv.slice(2);
const dir = resolve(args.find((a) => !a.startsWith("--")) ?? new URL("..", import.meta.url).pathname);
const root = pathToFileURL(dir).href;
await import(`${root}/dist/runtime/use-node.js`);
const { init, kernels } = await import(`${root}/dist/runtime/wasm.js`);
const { Sequential } = await import(`${root}/dist/model/sequential.js`);
const { Vocab } = await import(`${root}/dist/data/vocab.js`);
const { TokenStream } = await import(`${root}/dist/data/stream.js`);
const { Optimizer, gradNorm, scaleGrads, countNonFiniteParams } = await import(`${root}/dist/train/optimizers.js`);
await init();
const text = readFileSync(join(dir, "corpus", "sotu.txt"), "utf8");
const vocab = Vocab.fromChars(text);
const ids = vocab.encode(text.slice(0, 400_000));
const E = 65, H = 128, S = 25, N = 400;
const m = new Sequential({ input: { type: "tokens", vocabSize: vocab.size, embeddingDim: E }, recurrent: [{ cell: "lstm", hiddenSize: H }], output: { size: vocab.size, loss: "xent" }, mode: "many-to-many", seed: 1 });
const regions = m.regions();
const opt = new Optimizer({ type: "adam", lr: 2e-3 }, regions);
const ts = new TokenStream(ids, 1);
const cpu = () => { const u = process.cpuUsage(); return u.user + u.system; }; // µs
const parts = {};
const names = ["window", "checkBatch", "forward", "loss", "backward", "grad norm", "clip", "adam", "NaN check", "carry"];
for (const n of names) parts[n] = 0;
let pos = 0;
const step = (acc) => {
  let t = cpu(), u;
  const tick = (n) => { u = cpu(); if (acc) parts[n] += u - t; t = u; };
  if (pos + S + 1 >= ts.L) pos = 0;
  const w = ts.window(pos, S); pos += S;
  const batch = { T: w.T, B: 1, ids: w.x, targets: w.y };
  tick("window");
  m.checkBatch(batch, true); tick("checkBatch");
  m.forwardPtr(batch, { training: true, state: "keep" }); tick("forward");
  m.lossAndGrad(batch); tick("loss");
  m.backwardPtr(); tick("backward");
  const norm = gradNorm(regions); tick("grad norm");
  if (norm > 5) scaleGrads(regions, 5 / norm);
  tick("clip");
  // As applyUpdate does: Adam flags a non-finite weight itself (older builds return nothing: count them).
  const flagged = opt.apply(2e-3); tick("adam");
  if (flagged !== false) countNonFiniteParams(regions);
  tick("NaN check");
  m.carryState(S); tick("carry");
};
for (let i = 0; i < 100; i++) step(false);
const t0 = cpu();
for (let i = 0; i < N; i++) step(true);
const total = (cpu() - t0) / N;
console.log(`W3 update (${dir}), CPU µs per update of ${S} chars, mean of ${N} (params ${m.parameterCount}):`);
for (const n of names) console.log(`  ${n.padEnd(12)} ${(parts[n] / N).toFixed(1).padStart(7)}  (${(parts[n] / N / S).toFixed(2)} µs/char)`);
console.log(`  ${"total".padEnd(12)} ${total.toFixed(1).padStart(7)}  (${(total / S).toFixed(2)} µs/char)`);

if (args.includes("--kernels")) {
  // The kernels one update calls, alone, at its shapes (buffers from a scratch block).
  const k = kernels();
  const { Arena } = await import(`${root}/dist/runtime/arena.js`);
  const a = new Arena();
  const G = 4 * H, V = vocab.size, P = m.parameterCount;
  const t = (n, sh, dt) => a.tensor(n, sh, dt);
  const T = { x: t("x", [S, E]), wih: t("wih", [G, E]), whh: t("whh", [G, H]), gates: t("gates", [S, G]), packed: t("packed", [G * H + G * H]), scratch: t("scratch", [G * Math.max(S, G)]),
    hs: t("hs", [S + 1, H]), cs: t("cs", [S + 1, H]), tc: t("tc", [S, H]), b: t("b", [G]), dG: t("dG", [S, G]), dHs: t("dHs", [S, H]), dc: t("dc", [H]), gw: t("gw", [G, H]), gwi: t("gwi", [G, E]),
    logits: t("logits", [S, V]), wo: t("wo", [V, H]), tg: t("tg", [S], "i32"), dx: t("dx", [S, H]), p: t("p", [P]), g: t("g", [P]), m1: t("m1", [P]), m2: t("m2", [P]) };
  a.commit();
  for (const x of Object.values(T)) if (x.dtype !== "i32") x.f32().fill(0.01); else x.i32().fill(0);
  const kt = {
    "input proj gemm_nt [25x65]x[65x512]": () => k.gemm_nt(S, G, E, T.x.ptr, E, T.wih.ptr, E, T.gates.ptr, G, 0, T.scratch.ptr),
    "pack W_hh nt": () => k.gemm_pack_b_nt(T.whh.ptr, H, H, G, T.packed.ptr),
    "25 x fwd GEMV packed 1x128x512": () => { for (let s = 0; s < S; s++) k.gemm_packed_f32x4_4x8(1, G, H, T.hs.ptr, H, 1, T.packed.ptr, T.gates.ptr, G, 1); },
    "25 x lstm_step_fwd": () => { for (let s = 0; s < S; s++) k.lstm_step_fwd(T.gates.ptr, T.b.ptr, T.b.ptr, T.cs.ptr, T.cs.ptr + H * 4, T.hs.ptr + H * 4, T.tc.ptr, 1, H, 0); },
    "head gemm_nt [25x128]x[128x65]": () => k.gemm_nt(S, V, H, T.hs.ptr, H, T.wo.ptr, H, T.logits.ptr, V, 0, T.scratch.ptr),
    "softmax_xent 25x65": () => k.softmax_xent(T.logits.ptr, T.tg.ptr, S, V, T.logits.ptr, 1 / S),
    "head dW gemm_tn 65x128 K25": () => k.gemm_tn(V, H, S, T.logits.ptr, V, T.hs.ptr, H, T.wo.ptr, H, 0, T.scratch.ptr),
    "head dX gemm_nn 25x128 K65": () => k.gemm_nn(S, H, V, T.logits.ptr, V, T.wo.ptr, H, T.dx.ptr, H, 0, T.scratch.ptr),
    "pack W_hh nn": () => k.gemm_pack_b_nn(T.whh.ptr, H, G, H, T.packed.ptr),
    "25 x lstm_step_bwd": () => { for (let s = 0; s < S; s++) k.lstm_step_bwd(T.gates.ptr, T.cs.ptr, T.tc.ptr, T.dHs.ptr, T.dc.ptr, T.dG.ptr, 1, H, 0); },
    "25 x bwd GEMV packed 1x512x128": () => { for (let s = 0; s < S; s++) k.gemm_packed_f32x4_4x8(1, H, G, T.dG.ptr, G, 1, T.packed.ptr, T.dHs.ptr, H, 1); },
    "dW_ih gemm_tn 512x65 K25": () => k.gemm_tn(G, E, S, T.dG.ptr, G, T.x.ptr, E, T.gwi.ptr, E, 0, T.scratch.ptr),
    "dW_hh gemm_tn 512x128 K25": () => k.gemm_tn(G, H, S, T.dG.ptr, G, T.hs.ptr, H, T.gw.ptr, H, 0, T.scratch.ptr),
    "2 x sum_rows 25x512": () => { k.sum_rows(T.b.ptr, T.dG.ptr, S, G, 0); k.sum_rows(T.b.ptr, T.dG.ptr, S, G, 0); },
    "dX gemm_nn 25x65 K512": () => k.gemm_nn(S, E, G, T.dG.ptr, G, T.wih.ptr, E, T.x.ptr, E, 0, T.scratch.ptr),
    "sum_squares P": () => k.sum_squares(T.g.ptr, P),
    "scale_f32 P": () => k.scale_f32(T.g.ptr, P, 1),
    "adam_step P": () => k.adam_step(T.p.ptr, T.g.ptr, T.m1.ptr, T.m2.ptr, P, 1e-9, 0.9, 0.999, 1e-8, 0, 0, 0.5, 0.5),
    "count_nonfinite P": () => k.count_nonfinite(T.p.ptr, P),
  };
  const R = 2000;
  let sum = 0;
  console.log(`kernels alone, CPU µs per update (mean of ${R}):`);
  for (const [n, f] of Object.entries(kt)) {
    for (let i = 0; i < 50; i++) f();
    const c0 = cpu();
    for (let i = 0; i < R; i++) f();
    const us = (cpu() - c0) / R;
    sum += us;
    console.log(`  ${n.padEnd(36)} ${us.toFixed(1).padStart(7)}`);
  }
  console.log(`  ${"sum".padEnd(36)} ${sum.toFixed(1).padStart(7)}  (${(sum / S).toFixed(2)} µs/char)`);
}
