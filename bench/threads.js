// Threads: the same cases on 1 thread and on 2 (init({ threads: 2 }): the
// shared-memory build, one worker), in one process; ratio = 1-thread time /
// n-thread time (means; "best" = the fastest benchmark.js sample, the least
// disturbed on a machine shared with other work). W1 (DESIGN.md): LSTM B=32 T=64 I=64 H=256, forward and
// forward + backward; the recurrent step's GEMM 32x1024x256 (MxNxK) on B
// packed once (gemm_packed, as inside the time loop) and with packing
// (gemm_nt, as the input projection).
// FLOPs: GEMM 2·M·N·K; W1 forward 2·B·T·4H·(I+H), backward twice that.
import { dispose, init } from "../dist/runtime/wasm.js";
import { gemmNT, gemmPacked, threadCount } from "../dist/runtime/threads.js";
import { heap, kernels } from "../dist/runtime/wasm.js";
import { LSTM } from "../dist/layers/recurrent.js";
import { Rng } from "../dist/util/rng.js";
import { time } from "./format.js";

async function measure(threads, quick) {
  await init({ threads });
  if (threadCount() !== threads) throw new Error(`asked for ${threads} threads, got ${threadCount()}`);
  // Short samples (minTime) so that the best one is meaningful on a busy machine.
  const opt = { maxTime: quick ? 0.5 : 2, minSamples: quick ? 3 : 8, minTime: 0.002 };
  const rng = new Rng(1);
  const out = {};

  // GEMM 32x1024x256.
  const M = 32, N = 1024, K = 256;
  const h = heap(), k = kernels();
  const A = h.alloc(M * K * 4), Bt = h.alloc(N * K * 4), C = h.alloc(M * N * 4), S = h.alloc(N * K * 4);
  rng.fillUniform(h.f32(A, M * K), -1, 1);
  rng.fillUniform(h.f32(Bt, N * K), -1, 1);
  k.gemm_pack_b_nt(Bt, K, K, N, S);
  out.packed = await time(`gemm_packed ${threads}t`, () => gemmPacked(M, N, K, A, K, 1, S, C, N, 0), opt);
  out.nt = await time(`gemm_nt ${threads}t`, () => gemmNT(M, N, K, A, K, Bt, K, C, N, 0, S), opt);
  for (const p of [A, Bt, C, S]) h.free(p);

  // W1.
  const B = 32, T = 64, I = 64, H = 256;
  const x = rng.fillUniform(new Float32Array(T * B * I), -1, 1);
  const dOut = rng.fillUniform(new Float32Array(T * B * H), -1, 1);
  const m = new LSTM({ inputSize: I, hiddenSize: H, seed: 1 });
  out.fwd = await time(`W1 fwd ${threads}t`, () => m.forward(x, { batchSize: B }), opt);
  out.fb = await time(`W1 fwd+bwd ${threads}t`, () => {
    m.forward(x, { batchSize: B });
    m.backward({ dOutput: dOut });
  }, opt);
  out.check = m.forward(x, { batchSize: B }).output;
  m.dispose();
  dispose();
  return out;
}

export async function run({ quick = false, threads = 2 } = {}) {
  const one = await measure(1, quick);
  const many = await measure(threads, quick);
  const same = one.check.length === many.check.length && one.check.every((v, i) => Object.is(v, many.check[i]));
  if (!same) throw new Error("threads: W1 forward output differs from 1 thread");
  const B = 32, T = 64, I = 64, H = 256;
  const flopW1 = 2 * B * T * 4 * H * (I + H);
  const flopG = 2 * 32 * 1024 * 256;
  const rows = [];
  const add = (cse, key, flop) => {
    for (const [n, r] of [[1, one[key]], [threads, many[key]]]) {
      rows.push({
        case: cse,
        impl: `${n} thread${n > 1 ? "s" : ""}`,
        rate: r.mean * 1e3,
        unit: `ms (${(flop / r.mean / 1e9).toFixed(1)} GFLOP/s); best ${(r.min * 1e3).toPrecision(3)} ms`,
        ratio: one[key].mean / r.mean,
        baseline: `1 thread; best-sample ratio ${(one[key].min / r.min).toFixed(2)}x`,
      });
    }
  };
  add("GEMM 32x1024x256 packed", "packed", flopG);
  add("GEMM 32x1024x256 nt (packs B)", "nt", flopG);
  add("W1 LSTM forward", "fwd", flopW1);
  add("W1 LSTM fwd+bwd", "fb", 3 * flopW1);
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { printTable } = await import("./format.js");
  const arg = process.argv.find((a) => a.startsWith("--threads="));
  printTable(await run({ quick: process.argv.includes("--quick"), threads: arg ? Number(arg.slice(10)) : 2 }));
  console.log("W1 forward output: bit-identical to 1 thread");
}
