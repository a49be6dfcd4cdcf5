// A/B two (or more) builds of the kernels in one process, alternated round by
// round, for the VM's modes (one vCPU 20-40% slower than the other for
// minutes): a before/after from two separate runs means little here.
//   node bench/ab.js <case> <a.wasm> [<b.wasm> ...] [--rounds N]
//   case: lstm-step | gru-step   fused step kernel at B=32 H=256, ns per [B, H] element (best of 30x50 calls)
//         w1                     LSTM.forward / forward+backward at W1 (B=32 T=64 I=64 H=256), ms (median of 15)
//         gemm                   W1's GEMMs: packed 32x1024x256 and 64x1024x256 (the recurrent step), nt 2048x1024x64
//                                (the input projection), GFLOP/s (best of 15 batches)
//         tn                     the backward's weight-gradient GEMMs: tn 1024x256x2048 (dW_hh) and 1024x64x2048 (dW_ih), GFLOP/s
//         bwd-step               the LSTM backward step's dG_t W_hh at B=32 H=256 whole, in 4- and 8-row pieces (a split by
//                                rows) and 8-, 16- and 32-column pieces (by units), GFLOP/s (best of 15 batches)
//         gemv-q8                int8 gemv 2048x512 (an LSTM 512's W_hh): one 1 MB matrix (in L2) and four in turn (4 MB, out of
//                                L2), every byte written (untouched WASM pages all map to one zero page), µs per 1 MB
// Each build is a single-threaded .wasm (npm run asbuild:release writes build/unfold.wasm;
// asc assembly/index.ts --target release -o other.wasm builds another checkout's).
import { readFileSync } from "node:fs";
import { dispose, heap, init, kernels } from "../dist/runtime/wasm.js";
import { LSTM } from "../dist/layers/recurrent.js";
import { Rng } from "../dist/util/rng.js";
import { wasmArrays } from "./format.js";

const args = process.argv.slice(2);
const ri = args.indexOf("--rounds");
const rounds = ri >= 0 ? Number(args.splice(ri, 2)[1]) : 5;
const [which, ...files] = args;
if (!["lstm-step", "gru-step", "w1", "gemm", "tn", "bwd-step", "gemv-q8"].includes(which) || files.length === 0) {
  console.error("usage: node bench/ab.js lstm-step|gru-step|w1|gemm|tn|bwd-step|gemv-q8 a.wasm [b.wasm ...] [--rounds N]");
  process.exit(2);
}
const B = 32, H = 256, BH = B * H, T = 64, I = 64;
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

function stepCase(k, put, rng) {
  const u = (n, lo = -1, hi = 1) => rng.fillUniform(new Float32Array(n), lo, hi);
  let call;
  if (which === "lstm-step") {
    const a = [put(u(4 * BH, -3, 3)), put(u(4 * H)), put(u(4 * H)), put(u(BH)), put(new Float32Array(BH)), put(new Float32Array(BH)), put(new Float32Array(BH))];
    call = () => k.lstm_step_fwd(...a, B, H, 0);
  } else {
    const a = [put(u(3 * BH, -2, 2)), put(u(3 * BH, -2, 2)), put(u(3 * H)), put(u(3 * H)), put(u(BH)), put(new Float32Array(BH)), put(new Float32Array(4 * BH))];
    call = () => k.gru_step_fwd(...a, B, H, 0);
  }
  for (let i = 0; i < 200; i++) call();
  let best = Infinity;
  for (let s = 0; s < 30; s++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 50; i++) call();
    best = Math.min(best, (ms(t0) * 1e6) / 50 / BH);
  }
  return [best];
}

function w1Case(rng) {
  const x = rng.fillUniform(new Float32Array(T * B * I), -1, 1);
  const dOut = rng.fillUniform(new Float32Array(T * B * H), -1, 1);
  const m = new LSTM({ inputSize: I, hiddenSize: H, seed: 1 });
  for (let i = 0; i < 5; i++) { m.forward(x, { batchSize: B }); m.backward({ dOutput: dOut }); }
  const f = [], fb = [];
  for (let s = 0; s < 15; s++) {
    const t0 = process.hrtime.bigint();
    m.forward(x, { batchSize: B });
    f.push(ms(t0));
    m.backward({ dOutput: dOut });
    fb.push(ms(t0));
  }
  m.dispose();
  return [median(f), median(fb)];
}

/** Best ms of `reps` calls of fn, over `batches` batches after a warm-up. */
function bestMs(fn, reps, batches = 10) {
  for (let i = 0; i < 5; i++) fn();
  let best = Infinity;
  for (let s = 0; s < batches; s++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < reps; i++) fn();
    best = Math.min(best, ms(t0) / reps);
  }
  return best;
}

function tnCase(k, put, rng) {
  const u = (n) => put(rng.fillUniform(new Float32Array(n), -1, 1));
  const dG = u(2048 * 1024), X = u(2048 * 256), C = u(1024 * 256), S = u(256 * 2048 + 8192);
  return [
    (2 * 1024 * 256 * 2048) / bestMs(() => k.gemm_tn(1024, 256, 2048, dG, 1024, X, 256, C, 256, 0, S), 3) / 1e6,
    (2 * 1024 * 64 * 2048) / bestMs(() => k.gemm_tn(1024, 64, 2048, dG, 1024, X, 64, C, 64, 0, S), 10) / 1e6,
  ];
}

/** dL/dh_{t-1} = dG_t W_hh (B=32, 4H=1024, H=256), whole and in the pieces of a split by rows or by units. */
function bwdStepCase(k, put, rng) {
  const u = (n) => put(rng.fillUniform(new Float32Array(n), -1, 1));
  const K = 4 * H;
  const dG = u(B * K), W = u(K * H), Wp = u(K * H), C = u(B * H);
  k.gemm_pack_b_nn(W, H, K, H, Wp);
  const rows = (m) => () => { for (let b0 = 0; b0 < B; b0 += m) k.gemm_packed_f32x4_4x8(m, H, K, dG + b0 * K * 4, K, 1, Wp, C + b0 * H * 4, H, 1); };
  const cols = (n) => () => { for (let j = 0; j < H; j += n) k.gemm_packed_f32x4_4x8(B, n, K, dG, K, 1, Wp + (j >> 3) * K * 32, C + j * 4, H, 1); };
  const fns = [() => k.gemm_packed_f32x4_4x8(B, H, K, dG, K, 1, Wp, C, H, 1), rows(4), rows(8), cols(8), cols(16), cols(32)];
  return fns.map((fn) => (2 * B * K * H) / bestMs(fn, 100, 15) / 1e6);
}

function gemvQ8Case(k, hp) {
  const N = 2048, K = 512;
  const mats = Array.from({ length: 4 }, (_, m) => {
    const p = hp.alloc(N * K);
    const a = new Int8Array(hp.f32(p, 1).buffer, p, N * K);
    for (let i = 0; i < a.length; i++) a[i] = ((i * 7919 + m) % 255) - 127;
    return p;
  });
  const sw = hp.alloc(N * 4), ws = hp.alloc(N * 4), xq = hp.alloc(2 * K + 64), y = hp.alloc(N * 4), x = hp.alloc(K * 4);
  hp.f32(sw, N).fill(0.01);
  hp.f32(ws, N).fill(0);
  const xv = hp.f32(x, K);
  for (let i = 0; i < K; i++) xv[i] = Math.sin(i);
  const sx = k.quantize_act_q8(x, K, xq);
  const one = bestMs(() => k.gemv_q8(N, K, mats[0], sw, ws, xq, sx, y, 0), 50);
  const four = bestMs(() => { for (const w of mats) k.gemv_q8(N, K, w, sw, ws, xq, sx, y, 0); }, 20) / 4;
  for (const p of [...mats, sw, ws, xq, y, x]) hp.free(p);
  return [one * 1e3, four * 1e3];
}

function gemmCase(k, put, rng) {
  const u = (n) => rng.fillUniform(new Float32Array(n), -1, 1);
  const pA = put(u(2048 * 256)), pW = put(u(1024 * 256)), pS = put(new Float32Array(1024 * 256)), pC = put(u(2048 * 1024)), pP = put(new Float32Array(1024 * 256));
  k.gemm_pack_b_nt(pW, 256, 256, 1024, pP);
  const cases = [
    [2 * 32 * 1024 * 256, () => k.gemm_packed_f32x4_4x8(32, 1024, 256, pA, 256, 1, pP, pC, 1024, 1), 30],
    [2 * 64 * 1024 * 256, () => k.gemm_packed_f32x4_4x8(64, 1024, 256, pA, 256, 1, pP, pC, 1024, 1), 15],
    [2 * 2048 * 1024 * 64, () => k.gemm_nt(2048, 1024, 64, pA, 64, pW, 64, pC, 1024, 0, pS), 3],
  ];
  return cases.map(([flops, fn, reps]) => flops / bestMs(fn, reps, 15) / 1e6);
}

const res = new Map(files.map((f) => [f, []]));
for (let r = 0; r < rounds; r++) {
  for (const f of files) {
    await init(new Uint8Array(readFileSync(f)));
    const { put } = wasmArrays(heap());
    res.get(f).push(
      which === "w1" ? w1Case(new Rng(1))
      : which === "gemm" ? gemmCase(kernels(), put, new Rng(3))
      : which === "tn" ? tnCase(kernels(), put, new Rng(4))
      : which === "bwd-step" ? bwdStepCase(kernels(), put, new Rng(6))
      : which === "gemv-q8" ? gemvQ8Case(kernels(), heap())
      : stepCase(kernels(), put, new Rng(5)),
    );
    dispose();
  }
}
const unit = which === "w1" ? ["ms forward", "ms forward+backward"]
  : which === "gemm" ? ["GFLOP/s packed 32x1024x256", "GFLOP/s packed 64x1024x256", "GFLOP/s nt 2048x1024x64"]
  : which === "tn" ? ["GFLOP/s tn 1024x256x2048", "GFLOP/s tn 1024x64x2048"]
  : which === "bwd-step" ? ["GFLOP/s whole", "GFLOP/s 8 x 4 rows", "GFLOP/s 4 x 8 rows", "GFLOP/s 32 x 8 columns", "GFLOP/s 16 x 16 columns", "GFLOP/s 8 x 32 columns"]
  : which === "gemv-q8" ? ["µs per 1 MB, in L2", "µs per 1 MB, 4 MB in turn"]
  : ["ns per element"];
for (const f of files) {
  const rs = res.get(f);
  const cols = unit.map((u, j) => `${u}: ${rs.map((x) => x[j].toFixed(2)).join(" ")} (median ${median(rs.map((x) => x[j])).toFixed(2)})`);
  console.log(`${f}\n  ${cols.join("\n  ")}`);
}
