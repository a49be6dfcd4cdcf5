// Threads: init({ threads: n }) must give results bit-identical to one
// thread. Every case runs the same workload on a fresh runtime with 1 thread
// (the default module) and on one with 2 (or 3) threads (the shared-memory
// module and workers), then compares the bytes. The split threshold is set
// to 0, so even these small sizes take every split path (column panels, rows,
// the recurrent steps split by hidden units or by rows; B = 1 and 3; N not a
// multiple of 8 or 16).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { chromium } from "playwright-core";
import { afterAll, describe, expect, it, vi } from "vitest";
import { findChromium } from "./runtimes/harness.js";
import { Rng } from "../src/util/rng.js";

const MT = fileURLToPath(new URL("../build/unfold-mt.wasm", import.meta.url));
const ST = fileURLToPath(new URL("../build/unfold.wasm", import.meta.url));

type Lib = {
  rt: typeof import("../src/runtime/wasm.js");
  th: typeof import("../src/runtime/threads.js");
  rec: typeof import("../src/layers/recurrent.js");
  dense: typeof import("../src/layers/dense.js");
  seq: typeof import("../src/model/sequential.js");
};

/** A fresh copy of the library (its own module instance and memory), initialised with `threads`. */
async function fresh(threads: number): Promise<Lib> {
  vi.resetModules();
  const lib: Lib = {
    rt: await import("../src/runtime/wasm.js"),
    th: await import("../src/runtime/threads.js"),
    rec: await import("../src/layers/recurrent.js"),
    dense: await import("../src/layers/dense.js"),
    seq: await import("../src/model/sequential.js"),
  };
  await lib.rt.init({ threads });
  lib.th.setMinFlopsPerThread(0);
  return lib;
}

const opened: Lib[] = [];
let one: Lib, two: Lib, three: Lib;
async function libs(): Promise<[Lib, Lib, Lib]> {
  if (!one) {
    if (!existsSync(MT)) throw new Error(`${MT} is missing: build it with \`npx asc assembly/index.ts --target release-mt\` (npm run asbuild:mt)`);
    one = await fresh(1);
    two = await fresh(2);
    three = await fresh(3);
    opened.push(one, two, three);
  }
  return [one, two, three];
}
afterAll(() => {
  for (const l of opened) l.rt.dispose();
});

/** Named arrays must be equal bit for bit (NaN payloads and -0 included). */
function expectSameBits(a: Record<string, ArrayLike<number>>, b: Record<string, ArrayLike<number>>, what: string): void {
  expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
  for (const name of Object.keys(a)) {
    const x = new Uint32Array(Float32Array.from(a[name]).buffer);
    const y = new Uint32Array(Float32Array.from(b[name]).buffer);
    expect(y.length, `${what}: ${name}`).toBe(x.length);
    let bad = -1;
    for (let i = 0; i < x.length && bad < 0; i++) if (x[i] !== y[i]) bad = i;
    expect(bad, `${what}: ${name} differs first at ${bad}`).toBe(-1);
  }
}

type Cell = "lstm" | "gru" | "rnn_tanh" | "rnn_relu";

/** Forward + backward of a recurrent layer; everything it returns and every gradient. */
function recurrentRun(lib: Lib, cell: Cell, o: { T: number; B: number; I: number; H: number; L?: number; bi?: boolean; batchFirst?: boolean; ragged?: boolean }): Record<string, ArrayLike<number>> {
  const { T, B, I, H } = o;
  const opts = { inputSize: I, hiddenSize: H, numLayers: o.L ?? 1, bidirectional: o.bi ?? false, batchFirst: o.batchFirst ?? false, seed: 7 };
  const m =
    cell === "lstm" ? new lib.rec.LSTM(opts) : cell === "gru" ? new lib.rec.GRU(opts) : new lib.rec.SimpleRNN({ ...opts, nonlinearity: cell === "rnn_relu" ? "relu" : "tanh" });
  const rng = new Rng(3);
  const x = rng.fillUniform(new Float32Array(T * B * I), -1, 1);
  const D = o.bi ? 2 : 1;
  // Ragged: every length 1..T (sequence b has length 1 + (b mod T)), so steps end early in both directions.
  const lengths = o.ragged ? Array.from({ length: B }, (_, b) => 1 + (b % T)) : undefined;
  const f = m.forward(x, { batchSize: B, lengths });
  const dOutput = rng.fillUniform(new Float32Array(T * B * D * H), -1, 1);
  const dhN = rng.fillUniform(new Float32Array((o.L ?? 1) * D * B * H), -1, 1);
  const dcN = cell === "lstm" ? rng.fillUniform(new Float32Array((o.L ?? 1) * D * B * H), -1, 1) : undefined;
  const b = m.backward({ dOutput, dhN, dcN });
  const out: Record<string, ArrayLike<number>> = { output: f.output, hN: f.hN, dInput: b.dInput, dh0: b.dh0 };
  if (f.cN) out.cN = f.cN;
  if (b.dc0) out.dc0 = b.dc0;
  for (const [name, g] of Object.entries(m.gradStateDict())) out[`grad.${name}`] = g;
  m.dispose();
  return out;
}

describe("threads: bit-identical to one thread", () => {
  const shapes = [
    { name: "B=32 (forward by rows over time, or steps split by hidden units, 5 panels; backward by rows)", T: 6, B: 32, I: 24, H: 40, three: true },
    { name: "B=10 (rows over time: chunks of 4, 4 and 2 rows)", T: 5, B: 10, I: 5, H: 16, three: true },
    { name: "B=8 H=368 (the LSTM's weights over 2 MiB: step by step; the others' by rows)", T: 2, B: 8, I: 4, H: 368 },
    { name: "B=3 (column-split GEMMs, odd rows)", T: 5, B: 3, I: 7, H: 37, three: true },
    { name: "B=1", T: 7, B: 1, I: 5, H: 20 },
    { name: "B=1 H=24 (forward steps split by hidden units at batch 1; 1x32 GEMV tile on 1 thread)", T: 5, B: 1, I: 5, H: 24, three: true },
    { name: "B=16 H=20 (H mod 8 != 0: forward steps split by rows)", T: 4, B: 16, I: 6, H: 20, three: true },
    { name: "B=13, 2 layers, bidirectional, batch-first", T: 4, B: 13, I: 9, H: 12, L: 2, bi: true, batchFirst: true },
    { name: "B=32 H=40, ragged lengths 1..T, bidirectional (LSTM: the reverse direction's early-ending rows take the row split)", T: 5, B: 32, I: 6, H: 40, bi: true, ragged: true, three: true },
  ];
  for (const cell of ["lstm", "gru", "rnn_tanh", "rnn_relu"] as Cell[]) {
    for (const s of shapes) {
      // Rows over time (the default) and step by step: each gives the bits of one thread.
      for (const rowsOn of [true, false]) {
        it(`${cell} forward + backward, ${s.name}${rowsOn ? "" : ", rows over time off"}`, async () => {
          const [a, b, c] = await libs();
          const ref = recurrentRun(a, cell, s);
          const was = b.th.setRowForwards(rowsOn);
          c.th.setRowForwards(rowsOn);
          try {
            const { posted: jobs, unitSplits, bwdUnitSplits, rowForwards, rowBackwards } = b.th.jobCount();
            expectSameBits(ref, recurrentRun(b, cell, s), "2 threads");
            const units = (s.L ?? 1) * (s.bi ? 2 : 1); // layer-directions
            // Rows over time: every layer-direction of 8+ rows, but the reverse direction with lengths.
            // (Not where the packed weights read at every step pass 2 MiB: W_ih and W_hh forward, W_hh backward.)
            const G = cell === "lstm" ? 4 : cell === "gru" ? 3 : 1;
            const byRows = rowsOn && s.B >= 8 && 4 * G * s.H * (s.I + s.H) <= 2 << 20;
            const rowUnits = byRows ? (s.ragged ? s.L ?? 1 : units) : 0;
            expect(b.th.jobCount().rowForwards - rowForwards, "layer-directions forward by rows over time").toBe(rowUnits);
            expect(b.th.jobCount().posted - jobs, "parts posted to the worker").toBeGreaterThanOrEqual(s.T + rowUnits);
            // Other forward steps split by hidden units exactly when H is a multiple of 8 (and has 2+ panels);
            // so are the LSTM's backward steps (the others' split by rows).
            const steps = s.T * (s.L ?? 1) * (s.bi ? 2 : 1);
            const byUnits = s.H % 8 === 0 && s.H >= 16;
            // (Each layer-direction's first step starts from h = 0: the cell alone, not split.)
            expect(b.th.jobCount().unitSplits - unitSplits, "forward steps split by hidden units").toBe(byUnits ? (units - rowUnits) * (s.T - 1) : 0);
            // Backward by rows over time likewise, and not where dL/dcN enters at each sequence's own last step
            // (the LSTM's forward direction, ragged).
            const bwdRows = rowsOn && s.B >= 8 && 4 * G * s.H * s.H <= 2 << 20;
            const rowBwd = bwdRows ? (s.ragged ? (cell === "lstm" ? 0 : s.L ?? 1) : units) : 0;
            expect(b.th.jobCount().rowBackwards - rowBackwards, "layer-directions backward by rows over time").toBe(rowBwd);
            const bwdSteps = (s.ragged ? s.T * (s.L ?? 1) : steps) - rowBwd * s.T; // ragged: the reverse direction's steps by rows
            expect(b.th.jobCount().bwdUnitSplits - bwdUnitSplits, "backward steps split by hidden units").toBe(byUnits && cell === "lstm" ? bwdSteps : 0);
            if (s.three) expectSameBits(ref, recurrentRun(c, cell, s), "3 threads");
          } finally {
            b.th.setRowForwards(was);
            c.th.setRowForwards(was);
          }
        });
      }
    }
  }

  it("work stealing: with a worker that sleeps after claiming its part, the main thread runs the worker's chunks of every recurrent step (same bits); the static split (stealing off) gives the same bits", async () => {
    const [a, b] = await libs();
    const s = { T: 3, B: 32, I: 9, H: 40 };
    b.th.setRowForwards(false); // the steps first
    try {
      for (const cell of ["lstm", "gru", "rnn_tanh"] as Cell[]) {
        const ref = recurrentRun(a, cell, s);
        b.th.setThreadGate({ enabled: false, slowWorkersMs: 2 });
        const c0 = b.th.jobCount();
        expectSameBits(ref, recurrentRun(b, cell, s), `${cell}, slow worker`);
        const c1 = b.th.jobCount();
        // 2 forward steps split (5 chunks of one panel each; the first, from h = 0, is the cell alone) and 3
        // backward steps (LSTM: by units, as the forward; the others: 8 chunks of 4 rows): the worker's ranges
        // are 2 or 3 chunks of a step by units and 4 of one by rows; it wakes after the main thread is done.
        expect(c1.chunksTaken - c0.chunksTaken, `${cell}: chunks the main thread took from the worker`).toBeGreaterThanOrEqual(2 * 2 + 3 * (cell === "lstm" ? 2 : 4));
        // Forward and backward by rows over time (4 chunks of 8 rows, every step): the worker's two are taken in each.
        b.th.setRowForwards(true);
        const r0 = b.th.jobCount();
        expectSameBits(ref, recurrentRun(b, cell, s), `${cell}, slow worker, rows over time`);
        const r1 = b.th.jobCount();
        expect([r1.rowForwards - r0.rowForwards, r1.rowBackwards - r0.rowBackwards]).toEqual([1, 1]);
        expect(r1.chunksTaken - r0.chunksTaken, `${cell}: chunks taken, rows over time`).toBeGreaterThanOrEqual(2 + 2);
        b.th.setRowForwards(false);
        b.th.setThreadGate({ slowWorkersMs: 0 });
        b.th.setStealing(false);
        const c2 = b.th.jobCount();
        expectSameBits(ref, recurrentRun(b, cell, s), `${cell}, static split`);
        expect(b.th.jobCount().chunksTaken + b.th.jobCount().chunksGiven, "no stolen splits with stealing off").toBe(c2.chunksTaken + c2.chunksGiven);
        b.th.setStealing(true);
      }
    } finally {
      b.th.setStealing(true);
      b.th.setRowForwards(true);
      b.th.setThreadGate({ enabled: true, slowWorkersMs: 0, reset: true });
    }
  });

  it("Dense forward + backward (O = 13, 5 and 40 columns: partial panels, rows split when a panel is all there is)", async () => {
    const libsAll = await libs();
    for (const [N, I, O] of [[50, 7, 13], [33, 9, 5], [6, 16, 40], [1, 3, 17]]) {
      const run = (lib: Lib) => {
        const d = new lib.dense.Dense({ inFeatures: I, outFeatures: O, seed: 2 });
        const rng = new Rng(N);
        const y = d.forward(rng.fillUniform(new Float32Array(N * I), -1, 1));
        const dx = d.backward(rng.fillUniform(new Float32Array(N * O), -1, 1));
        const r: Record<string, ArrayLike<number>> = { y, dx, ...d.gradStateDict() };
        d.dispose();
        return r;
      };
      const ref = run(libsAll[0]);
      expectSameBits(ref, run(libsAll[1]), `Dense ${N}x${I}->${O}, 2 threads`);
      expectSameBits(ref, run(libsAll[2]), `Dense ${N}x${I}->${O}, 3 threads`);
    }
  });

  it("the GEMM dispatchers equal the kernels at tile edges (M 1..9, N 1..41, K 0..5, beta 0 and 1)", async () => {
    const [, lib] = await libs();
    const k = lib.rt.kernels();
    const h = lib.rt.heap();
    const rng = new Rng(9);
    const cap = 64 * 64;
    const [A, Bm, C1, C2, S] = [0, 1, 2, 3, 4].map(() => h.alloc(cap * 4));
    let cases = 0;
    for (const M of [1, 2, 3, 4, 5, 8, 9]) {
      for (const N of [1, 7, 8, 9, 16, 17, 24, 41]) {
        for (const K of [0, 1, 5]) {
          for (const beta of [0, 1]) {
            for (const name of ["gemm_nn", "gemm_nt", "gemm_tn"] as const) {
              rng.fillUniform(h.f32(A, cap), -1, 1);
              rng.fillUniform(h.f32(Bm, cap), -1, 1);
              rng.fillUniform(h.f32(C1, cap), -1, 1);
              h.f32(C2, cap).set(h.f32(C1, cap));
              const lda = name === "gemm_tn" ? M + 1 : K + 1; // leading dims past the used width
              const ldb = name === "gemm_nt" ? K + 2 : N + 2;
              const ldc = N + 3;
              k[name](M, N, K, A, lda, Bm, ldb, C1, ldc, beta, S);
              const th = name === "gemm_nn" ? lib.th.gemmNN : name === "gemm_nt" ? lib.th.gemmNT : lib.th.gemmTN;
              th(M, N, K, A, lda, Bm, ldb, C2, ldc, beta, S);
              expectSameBits({ C: h.f32(C1, cap) }, { C: h.f32(C2, cap) }, `${name} M=${M} N=${N} K=${K} beta=${beta}`);
              cases++;
            }
          }
        }
      }
    }
    for (const p of [A, Bm, C1, C2, S]) h.free(p);
    expect(cases).toBe(7 * 8 * 3 * 2 * 3);
  });

  it("a few Sequential training steps (embedding, 2-layer LSTM with dropout, GRU, Adam) end in the same weights", async () => {
    const libsAll = await libs();
    const train = (lib: Lib) => {
      const m = new lib.seq.Sequential({
        input: { type: "tokens", vocabSize: 11, embeddingDim: 8 },
        recurrent: [{ cell: "lstm", hiddenSize: 24, numLayers: 2, dropout: 0.2 }, { cell: "gru", hiddenSize: 16 }],
        output: { size: 11, loss: "xent" },
        mode: "many-to-many",
        seed: 5,
      });
      const rng = new Rng(4);
      const ids = Int32Array.from({ length: 400 }, () => rng.int(11));
      const hist = m.fit({ stream: ids }, { epochs: 2, batchSize: 8, tbptt: { k1: 10 }, shuffle: false, optimizer: { type: "adam", lr: 0.01 } });
      const r: Record<string, ArrayLike<number>> = { ...m.stateDict(), loss: Float64Array.from(hist.epochs, (e) => e.loss) };
      m.dispose();
      return r;
    };
    const ref = train(libsAll[0]);
    expectSameBits(ref, train(libsAll[1]), "2 threads");
  });

  it("Adam split by element ranges: the same bits, and a non-finite new weight is flagged in the main thread's part and in the worker's", async () => {
    const [a, b, c] = await libs();
    const n = 1000;
    const run = (lib: Lib, badAt: number) => {
      const h = lib.rt.heap();
      const rng = new Rng(9);
      const u = (lo: number) => rng.fillUniform(new Float32Array(n), lo, 1);
      const arrays = [u(-1), u(-1), u(-1), u(0)]; // p, g, m, v (v >= 0)
      if (badAt >= 0) arrays[1][badAt] = NaN;
      const ptrs = arrays.map((x) => {
        const q = h.alloc(4 * n);
        h.f32(q, n).set(x);
        return q;
      });
      const flag = lib.th.adamStep(ptrs[0], ptrs[1], ptrs[2], ptrs[3], n, 1e-3, 0.9, 0.999, 1e-8, 0.01, 0, 0.1, 0.001);
      const out = { p: h.f32(ptrs[0], n).slice(), m: h.f32(ptrs[2], n).slice(), v: h.f32(ptrs[3], n).slice(), flag: [flag] };
      for (const q of ptrs) h.free(q);
      return out;
    };
    const { posted } = b.th.jobCount();
    expectSameBits(run(a, -1), run(b, -1), "2 threads");
    expect(b.th.jobCount().posted - posted, "parts posted to the worker").toBeGreaterThan(0);
    expectSameBits(run(a, -1), run(c, -1), "3 threads");
    for (const badAt of [3, n - 3]) {
      const want = run(a, badAt);
      expect(want.flag[0], `1 thread, NaN gradient at ${badAt}`).toBe(1);
      expectSameBits(want, run(b, badAt), `2 threads, NaN gradient at ${badAt}`);
    }
  });
});

describe("threads: runtime", () => {

  it("batch 1: a step too small to split takes the batch-1 LSTM path on 2 threads too (same bits); a big one is split", async () => {
    const [a, b] = await libs();
    const def = 1 << 18; // threads.ts's default least flops per thread
    try {
      for (const l of [a, b]) l.th.setMinFlopsPerThread(def);
      const usesB1 = (lib: Lib, H: number) => {
        const m = new lib.rec.LSTM({ inputSize: 5, hiddenSize: H, seed: 1 });
        const r = (m as unknown as { b1Path(B: number, rev: boolean, lens: null): boolean }).b1Path(1, false, null);
        m.dispose();
        return r;
      };
      // One recurrent product at H = 128 is 2*4H*H = 131k flops, below 2 x 2^18: never split.
      expect(usesB1(b, 128), "H = 128 on 2 threads").toBe(true);
      // H = 512: 2.1M flops, split across the threads by the per-step loop instead.
      expect(usesB1(b, 512), "H = 512 on 2 threads").toBe(false);
      expect(usesB1(a, 512), "H = 512 on 1 thread").toBe(true);
      const s = { T: 9, B: 1, I: 5, H: 128 };
      const { unitSplits } = b.th.jobCount();
      expectSameBits(recurrentRun(a, "lstm", s), recurrentRun(b, "lstm", s), "B=1 H=128, 2 threads");
      expect(b.th.jobCount().unitSplits - unitSplits, "no step split").toBe(0);
    } finally {
      for (const l of [a, b]) l.th.setMinFlopsPerThread(0);
    }
  });
  it("reports the thread count; a different count needs dispose() first", async () => {
    const [a, b] = await libs();
    expect(a.th.threadCount()).toBe(1);
    expect(b.th.threadCount()).toBe(2);
    expect((await libs())[2].th.threadCount()).toBe(3);
    // The cases above posted parts; the worker ran some (the main thread runs those it has not claimed yet).
    expect(b.th.jobCount().ranByWorkers).toBeGreaterThan(0);
    await expect(b.rt.init({ threads: 3 })).rejects.toThrow(/already ran with 2 threads; call dispose\(\) before init\(\{ threads: 3 \}\)/);
    await b.rt.init(); // no options: fine
    await b.rt.init(undefined, { threads: 2 }); // the same count: fine
  });

  it("after the shared memory grows, workers compute on the new pages", async () => {
    const [, b] = await libs();
    const k = b.rt.kernels();
    const h = b.rt.heap();
    const before = k.memory.buffer.byteLength;
    // One block larger than the whole memory so far (so larger than any free hole left by earlier
    // tests): the memory grows for it, and the five 1 MiB operands are placed past the old end.
    const size = before + (16 << 20);
    const p = h.alloc(size);
    const blocks = [p];
    expect(k.memory.buffer.byteLength).toBeGreaterThan(before);
    const q0 = Math.max(p, before);
    expect(q0 + (5 << 20)).toBeLessThanOrEqual(p + size);
    const [A, W, C1, C2, S] = [0, 1, 2, 3, 4].map((i) => q0 + i * (1 << 20));
    const M = 512, N = 256, K = 64;
    new Rng(2).fillUniform(h.f32(A, M * K), -1, 1);
    new Rng(3).fillUniform(h.f32(W, N * K), -1, 1);
    k.gemm_nt(M, N, K, A, K, W, K, C1, N, 0, S);
    const jobs = b.th.jobCount().posted;
    b.th.gemmNT(M, N, K, A, K, W, K, C2, N, 0, S);
    expect(b.th.jobCount().posted).toBeGreaterThan(jobs);
    expectSameBits({ C: h.f32(C1, M * N) }, { C: h.f32(C2, M * N) }, "gemm_nt on grown memory");
    for (const p of blocks) h.free(p);
  });

  it("a worker that stalls (simulated: it sleeps 4 ms on every part it claims) closes the gate: kernels run on the main thread alone, with the same bits; it reopens once the worker keeps up", async () => {
    const [a, b] = await libs();
    const lstm = (lib: Lib) => {
      const m = new lib.rec.LSTM({ inputSize: 16, hiddenSize: 128, seed: 5 });
      const x = new Rng(9).fillUniform(new Float32Array(64 * 8 * 16), -1, 1);
      const out = m.forward(x, { batchSize: 8 }).output.slice();
      m.dispose();
      return { out };
    };
    const ref = lstm(a);
    // The real threshold (not 0): B=8 H=128 steps (1 Mflop) split, and the gate and the workers' sleep count.
    // The gate judges jobs: here the 64 steps, one job each (rows over time would make the forward one job).
    b.th.setMinFlopsPerThread(1 << 18);
    b.th.setRowForwards(false);
    try {
      b.th.setThreadGate({ reset: true, slowWorkersMs: 4 });
      const c0 = b.th.jobCount();
      // At least 4 runs, and on until the gate has judged split jobs: on a loaded machine (the whole
      // suite on 2 cores) the sleeping worker may not be woken for a while (a 3 ms pause between jobs
      // resets the wake rule), and then nothing is split and there is nothing to judge yet.
      const t0 = performance.now();
      let runs = 0;
      do expectSameBits(ref, lstm(b), `slow worker, run ${runs++}`);
      // Likewise until the main thread has waited on a part the worker claimed (else it ran them all).
      while ((runs < 4 || b.th.jobCount().backoffs === c0.backoffs || b.th.jobCount().stalls === c0.stalls) && performance.now() - t0 < 15_000);
      const c1 = b.th.jobCount();
      const seen = Object.entries(c1).map(([key, v]) => `${key} +${+(v - c0[key as keyof typeof c0]).toFixed(1)}`).join(", ");
      expect(c1.backoffs - c0.backoffs, `back-offs in ${runs} runs (${seen})`).toBeGreaterThanOrEqual(1);
      expect(c1.soloJobs - c0.soloJobs, "dispatches run on one thread while the gate was closed").toBeGreaterThan(0);
      expect(c1.stalls - c0.stalls, "waits that outlasted the poll").toBeGreaterThan(0);
      // 4 runs of 64 steps at >= 4 ms per worker part would take over 1 s; the gate keeps it near one thread's time.
      b.th.setThreadGate({ slowWorkersMs: 0, reset: true });
      const c2 = b.th.jobCount();
      // At least 4 runs, and on until the worker has run a part: on a loaded machine the asleep worker
      // may not get a core for a while, the main thread then steals every chunk of its range, and the
      // gate (judging those jobs a loss) backs off again for a while before its next probe.
      const t1 = performance.now();
      runs = 0;
      do expectSameBits(ref, lstm(b), `worker keeps up, run ${runs++}`);
      while ((runs < 4 || b.th.jobCount().ranByWorkers === c2.ranByWorkers) && performance.now() - t1 < 15_000);
      expect(b.th.jobCount().ranByWorkers - c2.ranByWorkers, `parts the worker ran in ${runs} runs after the gate reopened`).toBeGreaterThan(0);
      // With the gate off, every job worth splitting is split, the slow worker waited for.
      b.th.setThreadGate({ enabled: false, slowWorkersMs: 1 });
      const c3 = b.th.jobCount();
      expectSameBits(ref, lstm(b), "gate off, slow worker");
      const c4 = b.th.jobCount();
      expect(c4.soloJobs - c3.soloJobs).toBe(0);
      expect(c4.unitSplits - c3.unitSplits, "every step split (but the first, from h = 0: the cell alone)").toBe(63);
    } finally {
      b.th.setThreadGate({ enabled: true, slowWorkersMs: 0, reset: true });
      b.th.setMinFlopsPerThread(0);
      b.th.setRowForwards(true);
    }
  }, 45_000);

  it("unfold train runs a batch too small to split on one thread unless --threads says otherwise", async () => {
    const { trainThreads, defaultThreads } = await import("../src/cli/common.js");
    expect(trainThreads(1, 128)).toBe(1);
    expect(trainThreads(2, 128)).toBe(1);
    expect(trainThreads(1, 256)).toBe(defaultThreads());
    expect(trainThreads(32, 128)).toBe(defaultThreads());
  });

  it("rejects a bad thread count and the single-threaded module", async () => {
    vi.resetModules();
    const rt = (await import("../src/runtime/wasm.js")) as typeof import("../src/runtime/wasm.js");
    await expect(rt.init({ threads: 0 })).rejects.toThrow(/integer from 1 to 64, got 0/);
    await expect(rt.init({ threads: 1.5 })).rejects.toThrow(/integer from 1 to 64, got 1.5/);
    await expect(rt.init(readFileSync(ST), { threads: 2 })).rejects.toThrow(/needs the shared-memory build unfold-mt\.wasm/);
    await rt.init(readFileSync(MT), { threads: 2 }); // retry after a failure, with the right bytes
    expect(rt.isInitialized()).toBe(true);
    rt.dispose();
    expect(rt.isInitialized()).toBe(false);
  });

  it("without SharedArrayBuffer (edge runtimes, pages that are not cross-origin isolated) falls back to 1 thread and says why", async () => {
    vi.resetModules();
    const rt = (await import("../src/runtime/wasm.js")) as typeof import("../src/runtime/wasm.js");
    const th = (await import("../src/runtime/threads.js")) as typeof import("../src/runtime/threads.js");
    const { LSTM } = (await import("../src/layers/recurrent.js")) as typeof import("../src/layers/recurrent.js");
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    vi.stubGlobal("SharedArrayBuffer", undefined);
    let warned: unknown[][];
    try {
      await rt.init({ threads: 2 });
    } finally {
      vi.unstubAllGlobals();
      warned = warn.mock.calls.slice();
      warn.mockRestore();
    }
    expect(warned).toEqual([[expect.stringMatching(/init\(\{ threads: 2 \}\) runs on 1 thread: this runtime has no SharedArrayBuffer\/Atomics/)]]);
    expect(th.threadCount()).toBe(1);
    const m = new LSTM({ inputSize: 3, hiddenSize: 4 });
    expect(m.forward(new Float32Array(6), { batchSize: 2 }).output.length).toBe(8);
    rt.dispose();
  });

  it("where a worker cannot be created (Node compatibility without worker_threads) falls back to 1 thread and says why", async () => {
    vi.resetModules();
    vi.doMock("node:worker_threads", () => ({
      Worker: class {
        constructor() {
          throw new Error("worker_threads is not implemented");
        }
      },
    }));
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    try {
      const rt = (await import("../src/runtime/wasm.js")) as typeof import("../src/runtime/wasm.js");
      const th = (await import("../src/runtime/threads.js")) as typeof import("../src/runtime/threads.js");
      await rt.init({ threads: 2 });
      expect(warn.mock.calls).toEqual([[expect.stringMatching(/runs on 1 thread: cannot create a worker here \(worker_threads is not implemented\)/)]]);
      expect(th.threadCount()).toBe(1);
      const { Dense } = (await import("../src/layers/dense.js")) as typeof import("../src/layers/dense.js");
      expect(new Dense({ inFeatures: 2, outFeatures: 3 }).forward([1, 2]).length).toBe(3);
      rt.dispose();
    } finally {
      warn.mockRestore();
      vi.doUnmock("node:worker_threads");
    }
  });

  it("a Node process with running workers exits by itself (workers are unref'd)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "unfold-threads-"));
    try {
      const entry = join(dir, "entry.ts");
      const src = (p: string) => JSON.stringify(fileURLToPath(new URL(`../src/${p}`, import.meta.url)));
      writeFileSync(
        entry,
        `import ${src("runtime/use-node.ts")}; // what the package's node condition does: worker_threads, files
         import { init } from ${src("runtime/wasm.ts")};
         import { threadCount } from ${src("runtime/threads.ts")};
         import { LSTM } from ${src("layers/recurrent.ts")};
         await init(${JSON.stringify(MT)}, { threads: 2 });
         const m = new LSTM({ inputSize: 8, hiddenSize: 64 });
         const y = m.forward(new Float32Array(4 * 16 * 8).fill(0.5), { batchSize: 16 });
         console.log("ok", threadCount(), y.output.length);`,
      );
      const out = join(dir, "entry.mjs");
      await build({ entryPoints: [entry], outfile: out, bundle: true, format: "esm", platform: "node", target: "node20", logLevel: "silent" });
      const t0 = Date.now();
      const r = spawnSync(process.execPath, [out], { encoding: "utf8", timeout: 20_000 });
      expect(r.error, "the process did not exit within 20 s").toBeUndefined();
      expect(r.stderr).toBe("");
      expect(r.stdout.trim()).toBe(`ok 2 ${4 * 16 * 64}`);
      expect(r.status).toBe(0);
      expect(Date.now() - t0).toBeLessThan(20_000);
      // Code run by `node --input-type=module -e` (and --experimental-default-type=module): the workers'
      // CommonJS source must not inherit the option that makes Node parse it as a module.
      for (const flags of [["--input-type=module"], ["--input-type", "module"]]) {
        const e = spawnSync(process.execPath, [...flags, "-e", readFileSync(out, "utf8")], { encoding: "utf8", timeout: 20_000 });
        expect(e.stderr, flags.join(" ")).toBe("");
        expect(e.stdout.trim(), flags.join(" ")).toBe(`ok 2 ${4 * 16 * 64}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("workerExecArgv drops only the options that say how to read source", async () => {
    const { workerExecArgv } = await import("../src/runtime/platform-node.js");
    expect(workerExecArgv(["--input-type=module", "--max-old-space-size=4096", "--input-type", "module", "--experimental-default-type=module", "--experimental-default-type", "module", "--enable-source-maps"]))
      .toEqual(["--max-old-space-size=4096", "--enable-source-maps"]);
  });
});

describe("threads: in a browser (Web Workers)", () => {
  const bin = findChromium();
  // Same workload on 1 and 2 threads in the page; a page that is not cross-origin isolated falls back.
  const page = `
    import { init, dispose } from ${JSON.stringify(fileURLToPath(new URL("../src/runtime/wasm.ts", import.meta.url)))};
    import { threadCount } from ${JSON.stringify(fileURLToPath(new URL("../src/runtime/threads.ts", import.meta.url)))};
    import { LSTM } from ${JSON.stringify(fileURLToPath(new URL("../src/layers/recurrent.ts", import.meta.url)))};
    async function run(threads) {
      await init(new URL(threads > 1 ? "/unfold-mt.wasm" : "/unfold.wasm", location.href), { threads });
      const m = new LSTM({ inputSize: 16, hiddenSize: 64, seed: 3 });
      const f = m.forward(new Float32Array(6 * 32 * 16).map((_, i) => Math.sin(i)), { batchSize: 32 });
      m.backward({ dOutput: new Float32Array(6 * 32 * 64).fill(0.1) });
      const r = { n: threadCount(), bits: Array.from(new Uint32Array(Float32Array.from([...f.output, ...m.gradStateDict().weight_hh_l0]).buffer)) };
      m.dispose();
      dispose();
      return r;
    }
    const warnings = [];
    console.warn = (m) => warnings.push(m);
    Promise.all([]).then(async () => {
      const a = await run(1), b = await run(2);
      window.result = { coi: crossOriginIsolated, threads: [a.n, b.n], same: a.bits.length > 0 && a.bits.every((v, i) => v === b.bits[i]), warnings };
    }).catch((e) => (window.result = { error: String(e && e.stack || e) }));`;

  it.skipIf(!bin)("Chromium: 2 threads on a cross-origin isolated page match 1 thread bit for bit; without isolation it warns and runs on 1", async () => {
    const dir = mkdtempSync(join(tmpdir(), "unfold-threads-web-"));
    const entry = join(dir, "page.js");
    writeFileSync(entry, page);
    await build({ entryPoints: [entry], outfile: join(dir, "app.js"), bundle: true, format: "esm", platform: "neutral", target: "es2022", external: ["node:*"], logLevel: "silent" });
    const files: Record<string, [string, Buffer | string]> = {
      "/": ["text/html", "<script type=module src=/app.js></script>"],
      "/app.js": ["text/javascript", readFileSync(join(dir, "app.js"))],
      "/unfold.wasm": ["application/wasm", readFileSync(ST)],
      "/unfold-mt.wasm": ["application/wasm", readFileSync(MT)],
    };
    let isolate = true;
    const server = createServer((req, res) => {
      const f = files[req.url ?? ""];
      if (!f) return void res.writeHead(404).end();
      const h: Record<string, string> = { "content-type": f[0] };
      if (isolate) Object.assign(h, { "cross-origin-opener-policy": "same-origin", "cross-origin-embedder-policy": "require-corp" });
      res.writeHead(200, h).end(f[1]);
    }).listen(0);
    const browser = await chromium.launch({ executablePath: bin!.path, args: ["--headless", "--no-sandbox", "--disable-gpu"], timeout: 30_000 });
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
      const result = async () => {
        const p = await browser.newPage();
        await p.goto(url);
        await p.waitForFunction(() => (window as unknown as { result?: unknown }).result, null, { timeout: 30_000 });
        const r = await p.evaluate(() => (window as unknown as { result: unknown }).result);
        await p.close();
        return r;
      };
      expect(await result()).toEqual({ coi: true, threads: [1, 2], same: true, warnings: [] });
      isolate = false;
      expect(await result()).toEqual({
        coi: false,
        threads: [1, 1],
        same: true,
        warnings: [expect.stringMatching(/init\(\{ threads: 2 \}\) runs on 1 thread: SharedArrayBuffer needs a cross-origin isolated page/)],
      });
    } finally {
      await browser.close();
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
