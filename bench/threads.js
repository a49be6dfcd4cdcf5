// Threads: the same cases on 1 thread and on 2 (init({ threads: 2 }): the
// shared-memory build, one worker), in one process; ratio = 1-thread time /
// n-thread time (means; "best" = the fastest benchmark.js sample, the least
// disturbed on a machine shared with other work). W1 (DESIGN.md): LSTM B=32 T=64 I=64 H=256, forward and
// forward + backward; the recurrent step's GEMM 32x1024x256 (MxNxK) on B
// packed once (gemm_packed, as inside the time loop) and with packing
// (gemm_nt, as the input projection).
// FLOPs: GEMM 2·M·N·K; W1 forward 2·B·T·4H·(I+H), backward twice that.
//
// "one core busy" (issue 16): W1 forward and fwd+bwd again while a child
// process spins on one core, 1 and 2 threads alternated in rounds (init /
// dispose each time), medians; ratio = 1-thread / 2-thread time, and the
// pool's counters (parts run by the worker, the gate's back-offs and the
// dispatches it ran on one thread). `--busy-only` runs just these.
// `--no-steal`: the recurrent steps' static split instead of work stealing (for an A/B).
import "../dist/runtime/use-node.js"; // run directly too: Node reads the .wasm files
import { spawn } from "node:child_process";
import os from "node:os";
import { dispose, init } from "../dist/runtime/wasm.js";
import { gemmNT, gemmPacked, jobCount, setStealing, threadCount } from "../dist/runtime/threads.js";
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

/** Median ms per call of W1 forward (or fwd+bwd) on `threads`, and the pool's counters over the calls. */
async function w1(threads, fb, reps) {
  await init({ threads });
  const B = 32, T = 64, I = 64, H = 256;
  const rng = new Rng(1);
  const x = rng.fillUniform(new Float32Array(T * B * I), -1, 1);
  const dOut = rng.fillUniform(new Float32Array(T * B * H), -1, 1);
  const m = new LSTM({ inputSize: I, hiddenSize: H, seed: 1 });
  const f = () => {
    m.forward(x, { batchSize: B });
    if (fb) m.backward({ dOutput: dOut });
  };
  for (let i = 0; i < 3; i++) f();
  const j0 = jobCount();
  const ts = [];
  for (let i = 0; i < reps; i++) {
    const t = performance.now();
    f();
    ts.push(performance.now() - t);
  }
  const j = jobCount();
  const check = m.forward(x, { batchSize: B }).output;
  m.dispose();
  dispose();
  ts.sort((a, b) => a - b);
  return { ms: ts[ts.length >> 1], check, byWorkers: j.ranByWorkers - j0.ranByWorkers, posted: j.posted - j0.posted, backoffs: j.backoffs - j0.backoffs, solo: j.soloJobs - j0.soloJobs };
}

/** W1 on 1 and `threads` threads, alternated, while a child process keeps one core busy. */
export async function runBusy({ quick = false, threads = 2 } = {}) {
  const child = spawn(process.execPath, ["-e", "for(;;){}"], { stdio: "ignore" });
  const rows = [];
  try {
    await new Promise((r) => setTimeout(r, 300));
    for (const fb of [false, true]) {
      const r = { 1: [], n: [] };
      for (let k = 0; k < (quick ? 2 : 5); k++) {
        r[1].push(await w1(1, fb, fb ? 6 : 16));
        r.n.push(await w1(threads, fb, fb ? 6 : 16));
      }
      for (const o of r.n) if (!o.check.every((v, i) => Object.is(v, r[1][0].check[i]))) throw new Error("threads: W1 output differs from 1 thread (busy core)");
      const med = (a) => a.map((o) => o.ms).sort((p, q) => p - q)[a.length >> 1];
      const sum = (key) => r.n.reduce((s, o) => s + o[key], 0);
      const one = med(r[1]), many = med(r.n);
      const cse = `W1 LSTM ${fb ? "fwd+bwd" : "forward"}, one core busy`;
      const load = os.loadavg()[0].toFixed(2);
      rows.push({ case: cse, impl: "1 thread", rate: one, unit: `ms (median of ${r[1].length} rounds; load ${load})`, ratio: 1, baseline: "1 thread" });
      rows.push({
        case: cse,
        impl: `${threads} threads`,
        rate: many,
        unit: `ms; worker ran ${sum("byWorkers")}/${sum("posted")} parts, gate: ${sum("backoffs")} back-offs, ${sum("solo")} jobs on one thread`,
        ratio: one / many,
        baseline: `1 thread; per round ${r[1].map((o, i) => (o.ms / r.n[i].ms).toFixed(2)).join(" ")}`,
      });
    }
  } finally {
    child.kill();
  }
  return rows;
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
  rows.push(...(await runBusy({ quick, threads })));
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { printTable } = await import("./format.js");
  const arg = process.argv.find((a) => a.startsWith("--threads="));
  const o = { quick: process.argv.includes("--quick"), threads: arg ? Number(arg.slice(10)) : 2 };
  if (process.argv.includes("--no-steal")) setStealing(false);
  printTable(await (process.argv.includes("--busy-only") ? runBusy(o) : run(o)));
  console.log("W1 forward output: bit-identical to 1 thread");
}
