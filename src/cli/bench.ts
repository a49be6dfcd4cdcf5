/**
 * `unfold bench`: in a source checkout, the full benchmark suite
 * (bench/run.js, peers included); otherwise — or with --builtin — a small
 * built-in benchmark that needs nothing but this package: the W1 LSTM
 * (B=32, T=64, I=64, H=256) forward and forward+backward on random data,
 * and a char-LM training step, reported in ms and GFLOP/s.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { LSTM, Rng, Sequential } from "../index.js";
import { initKernels, packageRoot } from "./common.js";

export interface BenchFlags {
  quick?: boolean;
  builtin?: boolean;
  threads: number;
}

export async function bench(f: BenchFlags): Promise<number> {
  const suite = join(packageRoot(), "bench", "run.js");
  if (!f.builtin && f.threads === 1) {
    if (existsSync(suite)) {
      process.stdout.write(`running the benchmark suite ${suite} (use --builtin for the small built-in one, --threads n to run it on n threads)\n`);
      const r = spawnSync(process.execPath, ["--expose-gc", suite, ...(f.quick ? ["--quick"] : [])], { stdio: "inherit", cwd: packageRoot() });
      return r.status ?? 1;
    }
    process.stdout.write("the full benchmark suite (bench/run.js) is only in a source checkout of unfold-rnn; running the built-in benchmark\n");
  }
  await builtin(!!f.quick, f.threads);
  return 0;
}

/** Mean seconds per call of `fn` after a warm-up (the first calls run in V8's baseline tier). */
function time(fn: () => void, maxSeconds: number, minRuns = 3): { mean: number; runs: number } {
  for (let i = 0; i < 2; i++) fn();
  const t0 = performance.now();
  let runs = 0;
  while (runs < minRuns || performance.now() - t0 < maxSeconds * 1000) {
    fn();
    runs++;
  }
  return { mean: (performance.now() - t0) / 1000 / runs, runs };
}

async function builtin(quick: boolean, threadsWanted: number): Promise<void> {
  const threads = await initKernels(threadsWanted);
  const maxT = quick ? 0.5 : 2;
  const B = 32, T = 64, I = 64, H = 256;
  const flopF = 2 * B * T * 4 * H * (I + H); // the gate GEMMs: [T*B, I+H] x [I+H, 4H]
  const rng = new Rng(1);
  const x = rng.fillUniform(new Float32Array(T * B * I), -1, 1); // [T, B, I]
  const dOut = rng.fillUniform(new Float32Array(T * B * H), -1, 1); // [T, B, H]
  const lstm = new LSTM({ inputSize: I, hiddenSize: H, seed: 1 });
  const rows: [string, string, string][] = [];
  const fwd = time(() => lstm.forward(x, { batchSize: B }), maxT);
  rows.push(["W1 LSTM forward (B32 T64 I64 H256)", `${(fwd.mean * 1e3).toFixed(1)} ms`, `${(flopF / fwd.mean / 1e9).toFixed(1)} GFLOP/s`]);
  const fb = time(() => {
    lstm.forward(x, { batchSize: B });
    lstm.backward({ dOutput: dOut });
  }, maxT);
  rows.push(["W1 LSTM forward + backward", `${(fb.mean * 1e3).toFixed(1)} ms`, `${((3 * flopF) / fb.mean / 1e9).toFixed(1)} GFLOP/s`]);
  lstm.dispose();

  // One training update of the default char LM shape (1 layer): what `unfold train` runs.
  const V = 96, E = 64;
  const ids = new Int32Array(B * T * 4 + 1).map(() => Math.floor(rng.next() * V));
  const lm = new Sequential({ input: { type: "tokens", vocabSize: V, embeddingDim: E }, recurrent: [{ cell: "lstm", hiddenSize: H }], output: { size: V, loss: "xent" }, mode: "many-to-many", seed: 1 });
  const step = time(() => lm.fit({ stream: ids }, { steps: 1, batchSize: B, tbptt: { k1: T } }), maxT, 2);
  rows.push([`char-LM training step (LSTM H${H}, V${V}, B${B} x T${T})`, `${(step.mean * 1e3).toFixed(1)} ms`, `${Math.round((B * T) / step.mean).toLocaleString("en-US")} chars/s`]);
  lm.dispose();

  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  process.stdout.write(`unfold-rnn built-in benchmark — node ${process.version}, ${threads} thread${threads > 1 ? "s" : ""}${quick ? " (quick)" : ""}\n\n`);
  for (const r of rows) process.stdout.write(`${r[0].padEnd(w0)}  ${r[1].padStart(w1)}  ${r[2]}\n`);
}
