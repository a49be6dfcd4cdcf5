/**
 * Threads: the one place where kernels are split across workers.
 *
 * With `init({ threads: n })`, n > 1, the kernels run from the shared-memory
 * build (`unfold-mt.wasm`) on one `WebAssembly.Memory({ shared: true })`,
 * instantiated on the main thread and in n-1 workers. Each worker spins (then
 * sleeps in `Atomics.wait`) on its control block in that memory; the
 * dispatchers below post a job (kernel index + arguments, at most
 * {@link CTL.MAX_CALLS} calls) with `Atomics.store`, run their own share on
 * the main thread, then finish the job: a worker's part is claimed by a
 * compare-exchange, by the worker or, once its own share is done, by the
 * main thread, which then runs it itself (so a worker that is asleep or
 * descheduled on a busy machine never stalls it); a part the worker claimed
 * is waited for. No messages, no copies: a job costs a few atomics each way
 * (~1-2 µs while the worker polls).
 *
 * Splits are chosen so the result is bit-identical to one thread:
 *  - GEMM columns: 8-wide panels of C are independent, and a column's
 *    summation order (gemm.ts: c = beta*C, then k = 0..K-1) does not depend
 *    on the panel range. gemm_nt / nn / tn parts pack their own panels into
 *    their own slice of the scratch (gemm_tn also its blocks of packed A^T,
 *    within the same slice), so no barrier sits between pack and use.
 *  - GEMM rows (when N has too few panels): rows of C are independent too.
 *  - Recurrent forward steps: hidden units (columns). Part w takes units
 *    [u0, u1) (whole 8-wide panels): the columns u0..u1 of every gate block
 *    of h_{t-1} W_hh^T (one GEMM call per gate on its panels), then the cell
 *    on those units, which needs no other columns: one job per step, and
 *    each thread streams only its share of W_hh (half of it stays in a
 *    core's L2 at H = 256), at any batch size, B = 1 included. H not a
 *    multiple of 8 falls back to the row split below.
 *  - Recurrent backward steps (and forward when H mod 8 != 0): rows of the
 *    batch. A step's GEMM row b (h_{t-1}[b] W^T) and the cell kernel's row b
 *    need only row b, so one job per time step runs both.
 *  - Both recurrent splits steal work (unitSteal, rowSteal; assembly/steal.ts):
 *    the step is cut into chunks, each part runs its own range, then takes
 *    chunks from the back of the others', so a slower thread holds up no step.
 *
 * With one thread (the default) every dispatcher calls its kernel directly,
 * exactly as the layers did before.
 *
 * Dimension letters: M, N, K = GEMM sizes; B = batch; H = hidden size;
 * P = 8-wide column panels, ceil(N/8).
 */
import { UnfoldError } from "../errors.js";
import { KERNEL_NAMES, type Kernels, type Ptr } from "./abi.js";
import { CTL, WORKER_TEMPLATE, type WorkerInit } from "./worker.js";
// Node's worker_threads or Web Workers: see platform.ts.
import { platform } from "./platform.js";
import type { WasmMemory, WasmModule } from "./wasm-types.js";

/** Kernel index in the worker's table (abi.ts order). */
const F = Object.fromEntries(KERNEL_NAMES.map((n, i) => [n, i])) as Record<(typeof KERNEL_NAMES)[number], number>;

/**
 * Less work than this (flops) per extra thread is not split: a job costs a
 * few µs of synchronisation, ~40 GFLOP/s makes 2^18 flops ≈ 7 µs.
 */
let minFlopsPerThread = 1 << 18;
/**
 * Milliseconds a worker polls for the next job before it sleeps in
 * Atomics.wait: covers the gaps between a layer's kernels (µs) and between
 * calls, without burning a core for long when the library is idle. Waking a
 * sleeping thread measured ~0.5 ms on the 2-vCPU VM of DESIGN.md (an idle
 * vCPU is parked by the hypervisor), longer than a recurrent step's GEMM.
 */
const WORKER_SPIN_MS = 2;
/**
 * Longest the main thread polls for a worker's done flag before it blocks in
 * Atomics.wait (where it may: not on a browser's main thread). Parts are
 * balanced, so a worker is normally done within µs of the main thread;
 * blocking early (50 µs was tried) paid the ~0.5 ms wake-up on almost every
 * job: 2 threads ran a 32x1024x256 GEMM slower than 1. The poll is bounded
 * tighter by the job itself: {@link SPIN_OWN} times the main thread's own
 * part, at least {@link MIN_SPIN_MS}. A worker that is that late has lost
 * its core (another process runs on it); polling on would hold the one core
 * it could run on, so the main thread blocks and gives it that core.
 */
const MAIN_SPIN_MS = 5;
const MIN_SPIN_MS = 0.2;
const SPIN_OWN = 2;

/**
 * The gate: splitting pays only while the workers have cores. Each split job
 * is timed (post to last part done) against its one-thread estimate (the
 * main thread's own part, divided by its share of the work); over a window
 * of {@link GATE_WINDOW_MS} of estimated work, the split pays when the jobs
 * took less than {@link GATE_PAY} of the estimate. When two windows in a row
 * do not (one core busy with another process: the worker's parts wait for a
 * time slice; one bad window is often a single preemption), the
 * dispatchers run every kernel on the main thread alone for a back-off
 * period (the workers fall asleep and leave the core to the other process),
 * {@link BACKOFF_MIN_MS} doubling up to {@link BACKOFF_MAX_MS} while the probes
 * that follow keep failing (one bad window of a probe suffices); a probe that
 * pays resets it. The first
 * {@link PROBE_WARMUP_MS} of a probe are not judged: the sleeping workers
 * take ~0.5 ms to wake, and the main thread runs their parts meanwhile.
 * Results do not depend on it: a kernel gives the same bits on any split.
 */
const GATE_WINDOW_MS = 3;
const GATE_PAY = 0.85;
const BACKOFF_MIN_MS = 20;
const BACKOFF_MAX_MS = 1000;
const PROBE_WARMUP_MS = 1;

/**
 * Waking a sleeping worker costs the main thread ~0.2 ms inside
 * Atomics.notify on the 2-vCPU VM (measured: 1,412 notifies, 284 ms), and
 * the worker ~0.5 ms to start: more than a small job's whole time (a
 * batch-1 training step's GEMMs are ~0.1 ms, and 2 threads ran it at 0.6x
 * of 1). So while a worker sleeps, jobs run on the main thread alone, and
 * their flops are counted; once {@link WAKE_FLOPS} of them have come without
 * a pause of {@link WAKE_RESET_MS} (sustained work, as in a long forward
 * pass), the next job wakes the workers and splits.
 */
const WAKE_FLOPS = 1 << 24;
const WAKE_RESET_MS = 3;

type AnyWorker = {
  postMessage(m: unknown): void;
  terminate(): unknown;
  unref?: () => void;
};

/** The n-1 workers of `init({ threads: n })` and their control blocks. */
export class ThreadPool {
  private seq = 0;
  /** Parts posted to workers, and those of them the workers ran (not the main thread). */
  jobs = 0;
  ranByWorkers = 0;
  /** Recurrent forward steps split by hidden units (colSplit, unitSteal). */
  unitSplits = 0;
  /** LSTM backward steps split by hidden units ({@link lstmStepBwdUnits}). */
  bwdUnitSplits = 0;
  /** Layer-direction forwards split by rows over time ({@link forwardRows}). */
  rowForwards = 0;
  /** Layer-direction backwards split by rows over time ({@link backwardRows}). */
  rowBackwards = 0;
  /** Times the gate found that splitting did not pay and closed for a back-off period. */
  backoffs = 0;
  /** Dispatches that would have been split but ran on the main thread alone: the gate was closed. */
  soloJobs = 0;
  /** Waits for a worker's part that outlasted the poll, so the main thread blocked. */
  stalls = 0;
  /** Milliseconds the main thread spent waiting for workers' parts after its own. */
  waitMs = 0;
  /** Chunks of stolen splits the main thread ran from the workers' ranges, and chunks of its own range the workers ran. */
  chunksTaken = 0;
  chunksGiven = 0;
  /** Jobs run on the main thread alone because the workers slept and the work did not yet warrant waking them. */
  sleepSkips = 0;
  private wakeDebt = 0;
  private lastSkip = 0;
  /** Whether the gate judges split jobs (off: always split, as `setMinFlopsPerThread(0)` wants). */
  gate = true;
  /** performance.now() when the current job was posted. */
  private t0 = 0;
  /** The gate is closed until this performance.now() (0: open). */
  private soloUntil = 0;
  private backoff = BACKOFF_MIN_MS;
  /** Jobs before this performance.now() are not judged (a probe's warm-up). */
  private judgeFrom = 0;
  private winEst = 0;
  private winTook = 0;
  /** Bad windows in a row. */
  private strikes = 0;
  /** True from a back-off until a window pays. */
  private probing = false;
  private constructor(
    private readonly workers: AnyWorker[],
    /** All control blocks; cached because shared-memory views never detach. */
    private readonly i32: Int32Array,
    private readonly f64: Float64Array,
    private readonly canBlock: boolean,
    private readonly errors: string[],
    private readonly k: Kernels,
    /** Byte offset of the work-stealing queue (see assembly/steal.ts). */
    readonly queue: Ptr,
    private readonly q32: Int32Array,
  ) {}

  /**
   * Set the queue for a stolen split of `chunks` chunks of `unitsPerChunk`
   * units over `n` parts: part w owns chunks [cut(w), cut(w+1)). Written
   * before the job is posted (post's Atomics.store publishes it). @internal
   */
  setQueue(n: number, unitsPerChunk: number, chunks: number): void {
    const q = this.q32;
    q[0] = n;
    q[1] = unitsPerChunk;
    for (let w = 0; w < n; w++) q[16 * (1 + w)] = cut(w, n, chunks, 1) | (cut(w + 1, n, chunks, 1) << 16);
  }

  /**
   * Arguments of a job too many for a call (13 numbers), in the queue
   * header's free words (i32 from queue + 8; see lstm_fwd_rows_steal).
   * Written before the job is posted, like {@link setQueue}. @internal
   */
  setQueueArgs(words: number[]): void {
    if (words.length > 14) throw new Error(`setQueueArgs: ${words.length} words, the header has 14`);
    for (let i = 0; i < words.length; i++) this.q32[2 + i] = words[i];
  }

  /** Threads including the main one. */
  get threads(): number {
    return this.workers.length + 1;
  }

  /**
   * Start `workers` workers on the module and shared memory; the control
   * blocks are `workers * CTL.BYTES` bytes at `ctl` (64-byte aligned).
   */
  static async start(k: Kernels, module: WasmModule, memory: WasmMemory, ctl: Ptr, workers: number): Promise<ThreadPool> {
    const isNode = typeof process === "object" && !!process.versions?.node;
    const made: AnyWorker[] = [];
    const errors: string[] = [];
    const i32 = new Int32Array(memory.buffer, ctl, (workers * CTL.BYTES) / 4);
    const f64 = new Float64Array(memory.buffer, ctl, (workers * CTL.BYTES) / 8);
    i32.fill(0);
    // The stealing queue follows the control blocks: a header line, then one line per thread.
    const queue = ctl + workers * CTL.BYTES;
    const q32 = new Int32Array(memory.buffer, queue, (16 * (workers + 2)));
    q32.fill(0);
    const pool = new ThreadPool(made, i32, f64, isNode, errors, k, queue, q32);
    const cleanups: (() => void)[] = [];
    try {
      const ready: Promise<void>[] = [];
      for (let w = 0; w < workers; w++) {
        const worker = await spawn(cleanups);
        made.push(worker);
        ready.push(
          new Promise<void>((resolve, reject) => {
            const onMessage = (m: { ready?: boolean; error?: string }) => {
              if (m.ready) resolve();
              else if (m.error) {
                errors.push(m.error);
                reject(new Error(`unfold-rnn: worker ${w + 1}: ${m.error}`));
              }
            };
            const onError = (e: unknown) => reject(new Error(`unfold-rnn: worker ${w + 1} failed to start: ${(e as Error).message ?? e}`));
            listen(worker, onMessage, onError);
          }),
        );
        const msg: WorkerInit = { module, memory, ctl: ctl + w * CTL.BYTES, names: KERNEL_NAMES, layout: CTL, spinMs: WORKER_SPIN_MS };
        worker.postMessage(msg);
      }
      await Promise.all(ready);
    } catch (err) {
      pool.terminate();
      throw err;
    } finally {
      for (const c of cleanups) c();
    }
    // Workers must not keep a Node process alive.
    for (const w of made) w.unref?.();
    return pool;
  }

  /** Stop the workers (they leave their loop, then are terminated). */
  terminate(): void {
    for (let w = 0; w < this.workers.length; w++) {
      const b = (w * CTL.BYTES) / 4;
      Atomics.store(this.i32, b + CTL.SEQ, -1);
      Atomics.notify(this.i32, b + CTL.SEQ);
    }
    for (const w of this.workers) void w.terminate();
    this.workers.length = 0;
  }

  /**
   * Write call `c` of worker `w`'s next job: kernel `fn` with `args`.
   * @internal
   */
  setCall(w: number, c: number, fn: number, args: ArrayLike<number>): void {
    const o = (w * CTL.BYTES + CTL.CALLS_BYTE) / 8 + c * CTL.CALL_F64;
    const f = this.f64;
    f[o] = fn;
    for (let i = 0; i < args.length; i++) f[o + 1 + i] = args[i];
  }

  /** Post the calls written with {@link setCall} to worker `w`. @internal */
  post(w: number, ncalls: number): void {
    if (w === 0) this.t0 = performance.now();
    const b = (w * CTL.BYTES) / 4;
    const i32 = this.i32;
    i32[b + CTL.NCALLS] = ncalls;
    // The job number is the same for every worker of one dispatch.
    Atomics.store(i32, b + CTL.SEQ, this.seq + 1);
    if (Atomics.load(i32, b + CTL.SLEEP) !== 0) Atomics.notify(i32, b + CTL.SEQ);
  }

  /**
   * Whether a job worth splitting should be split now: false while the gate
   * is closed (then the caller runs it on the main thread alone). @internal
   */
  open(): boolean {
    if (this.soloUntil === 0 || !this.gate) return true;
    const now = performance.now();
    if (now < this.soloUntil) {
      this.soloJobs++;
      return false;
    }
    // A probe: split again; its first jobs only wake the workers.
    this.soloUntil = 0;
    this.judgeFrom = now + PROBE_WARMUP_MS;
    this.winEst = this.winTook = 0;
    return true;
  }

  /**
   * Whether a job of `flops` should be split given the workers' sleep: true
   * when none of them sleeps, or when enough work has come in a row that
   * waking them pays (see {@link WAKE_FLOPS}). @internal
   */
  awake(flops: number): boolean {
    let asleep = false;
    for (let w = 0; w < this.workers.length && !asleep; w++) asleep = Atomics.load(this.i32, (w * CTL.BYTES) / 4 + CTL.SLEEP) !== 0;
    if (!asleep) return true;
    const now = performance.now();
    if (now - this.lastSkip > WAKE_RESET_MS) this.wakeDebt = 0;
    this.lastSkip = now;
    this.wakeDebt += flops;
    if (this.wakeDebt >= WAKE_FLOPS) {
      this.wakeDebt = 0;
      return true;
    }
    this.sleepSkips++;
    return false;
  }

  /**
   * Finish the current job of workers 0..count-1: a part no worker has
   * claimed yet runs here; a claimed one is waited for. `share` is the main
   * thread's share of the job's work (for the gate's one-thread estimate).
   * @internal
   */
  wait(count: number, share = 1 / (count + 1)): void {
    const seq = ++this.seq;
    this.jobs += count;
    const i32 = this.i32;
    const tOwn = performance.now();
    const own = tOwn - this.t0;
    const spin = Math.min(MAIN_SPIN_MS, Math.max(MIN_SPIN_MS, SPIN_OWN * own));
    let failed = false;
    let waited = 0;
    for (let w = 0; w < count; w++) {
      const b = (w * CTL.BYTES) / 4;
      const claimed = Atomics.load(i32, b + CTL.CLAIM);
      if (claimed !== seq && Atomics.compareExchange(i32, b + CTL.CLAIM, claimed, seq) === claimed) {
        this.runHere(w, i32[b + CTL.NCALLS]);
        continue;
      }
      this.ranByWorkers++;
      if (Atomics.load(i32, b + CTL.DONE) === seq) continue;
      let polls = 0;
      const t0 = performance.now();
      let blocked = false;
      while (Atomics.load(i32, b + CTL.DONE) !== seq) {
        if ((++polls & 255) === 0 && this.canBlock && performance.now() - t0 > spin) {
          blocked = true;
          Atomics.store(i32, b + CTL.MAIN_SLEEP, 1);
          const done = Atomics.load(i32, b + CTL.DONE);
          if (done !== seq) Atomics.wait(i32, b + CTL.DONE, done, 50);
          Atomics.store(i32, b + CTL.MAIN_SLEEP, 0);
        }
      }
      if (blocked) this.stalls++;
      waited += performance.now() - t0;
      if (i32[b + CTL.ERR] !== 0) {
        i32[b + CTL.ERR] = 0;
        failed = true;
      }
    }
    this.waitMs += waited;
    if (this.gate) this.judge(own / share, performance.now() - this.t0);
    if (failed) throw new UnfoldError("E_RUNTIME", `unfold-rnn: a kernel failed in a worker thread${this.errors.length ? `: ${this.errors.pop()}` : ""}`);
  }

  /** The gate's verdict on a window of jobs: `est` ms on one thread, `took` ms split. */
  private judge(est: number, took: number): void {
    if (this.t0 < this.judgeFrom || !(est > 0)) return;
    this.winEst += est;
    this.winTook += took;
    // A window closes on its estimate, or early when its jobs took twice that long (a stalled worker).
    if (this.winEst < GATE_WINDOW_MS && this.winTook < 2 * GATE_WINDOW_MS) return;
    const pays = this.winTook < GATE_PAY * this.winEst;
    this.winEst = this.winTook = 0;
    if (pays) {
      this.backoff = BACKOFF_MIN_MS;
      this.strikes = 0;
      this.probing = false;
      return;
    }
    if (++this.strikes < (this.probing ? 1 : 2)) return;
    this.strikes = 0;
    this.probing = true;
    this.backoffs++;
    this.soloUntil = performance.now() + this.backoff;
    this.backoff = Math.min(BACKOFF_MAX_MS, 2 * this.backoff);
  }

  /** Test hook: every worker sleeps `ms` after claiming a part (0: not). @internal */
  simulateSlowWorkers(ms: number): void {
    for (let w = 0; w < this.workers.length; w++) {
      const b = (w * CTL.BYTES) / 4;
      Atomics.store(this.i32, b + CTL.DELAY, ms);
      Atomics.notify(this.i32, b + CTL.DELAY);
    }
  }

  /** Open the gate now and forget its history (tests). @internal */
  resetGate(): void {
    this.soloUntil = 0;
    this.judgeFrom = 0;
    this.backoff = BACKOFF_MIN_MS;
    this.winEst = this.winTook = 0;
    this.strikes = 0;
    this.probing = false;
  }

  /** Run worker w's posted calls on this thread (the same kernels and arguments: the same bits). */
  private runHere(w: number, ncalls: number): void {
    const f = this.f64;
    const k = this.k as unknown as Record<string, (...a: number[]) => void>;
    for (let c = 0; c < ncalls; c++) {
      const o = (w * CTL.BYTES + CTL.CALLS_BYTE) / 8 + c * CTL.CALL_F64;
      k[KERNEL_NAMES[f[o]]](f[o + 1], f[o + 2], f[o + 3], f[o + 4], f[o + 5], f[o + 6], f[o + 7], f[o + 8], f[o + 9], f[o + 10], f[o + 11], f[o + 12], f[o + 13]);
    }
  }
}

/** Thrown by {@link ThreadPool.start} when this runtime cannot create a worker at all. */
export class NoWorkersError extends Error {}

/** A worker running the loop (worker_threads in Node, Deno and Bun; a Web Worker elsewhere); its Blob URL, if any, is revoked once started. */
async function spawn(cleanups: (() => void)[]): Promise<AnyWorker> {
  try {
    const { worker, cleanup } = platform().spawnWorker(WORKER_TEMPLATE);
    cleanups.push(cleanup);
    return worker as AnyWorker;
  } catch (err) {
    throw new NoWorkersError(`cannot create a worker here (${(err as Error).message})`);
  }
}

function listen(w: AnyWorker, onMessage: (m: { ready?: boolean; error?: string }) => void, onError: (e: unknown) => void): void {
  const node = w as unknown as { on?: (ev: string, f: (x: unknown) => void) => void };
  if (typeof node.on === "function") {
    node.on("message", (m) => onMessage(m as { ready?: boolean; error?: string }));
    node.on("error", onError);
    node.on("exit", (code) => onError(new Error(`exited with code ${code}`)));
  } else {
    const web = w as unknown as Worker;
    web.addEventListener("message", (e) => onMessage(e.data));
    web.addEventListener("error", (e) => onError(new Error(e.message)));
  }
}

/**
 * Why `init({ threads })` cannot use workers here, or null when it can.
 * Needs SharedArrayBuffer (browsers: a cross-origin isolated page, COOP +
 * COEP headers), Atomics and workers (Node's worker_threads, or Web Workers).
 */
export function threadsUnavailable(): string | null {
  const g = globalThis as { SharedArrayBuffer?: unknown; Atomics?: unknown; Worker?: unknown; crossOriginIsolated?: boolean };
  if (typeof g.SharedArrayBuffer !== "function" || typeof g.Atomics !== "object") {
    return g.crossOriginIsolated === false
      ? "SharedArrayBuffer needs a cross-origin isolated page (serve it with 'Cross-Origin-Opener-Policy: same-origin' and 'Cross-Origin-Embedder-Policy: require-corp')"
      : "this runtime has no SharedArrayBuffer/Atomics";
  }
  if (g.crossOriginIsolated === false) {
    return "the page is not cross-origin isolated (serve it with 'Cross-Origin-Opener-Policy: same-origin' and 'Cross-Origin-Embedder-Policy: require-corp')";
  }
  if (platform().PLATFORM !== "node" && typeof g.Worker !== "function") return "this runtime has no workers (Web Workers or node:worker_threads)";
  return null;
}

// ---- the dispatchers ------------------------------------------------------------

let K: Kernels | null = null;
let pool: ThreadPool | null = null;

/** Bind the loaded kernels and the pool (null: one thread). Called by wasm.ts. @internal */
export function bindThreads(k: Kernels | null, p: ThreadPool | null): void {
  K = k;
  pool = p;
}

/** Threads the kernels run on: 1 unless `init({ threads })` started workers. */
export function threadCount(): number {
  return pool ? pool.threads : 1;
}

/**
 * Parts posted to workers since init, how many of them the workers ran (the
 * rest ran on the main thread), and how many recurrent forward steps were
 * split by hidden units. @internal
 */
export function jobCount(): JobCounts {
  if (!pool) return { posted: 0, ranByWorkers: 0, unitSplits: 0, bwdUnitSplits: 0, rowForwards: 0, rowBackwards: 0, backoffs: 0, soloJobs: 0, sleepSkips: 0, stalls: 0, waitMs: 0, chunksTaken: 0, chunksGiven: 0 };
  const p = pool;
  return { posted: p.jobs, ranByWorkers: p.ranByWorkers, unitSplits: p.unitSplits, bwdUnitSplits: p.bwdUnitSplits, rowForwards: p.rowForwards, rowBackwards: p.rowBackwards, backoffs: p.backoffs, soloJobs: p.soloJobs, sleepSkips: p.sleepSkips, stalls: p.stalls, waitMs: p.waitMs, chunksTaken: p.chunksTaken, chunksGiven: p.chunksGiven };
}

/**
 * The pool's counters (see {@link ThreadPool}): parts posted, run by workers,
 * steps split by units; the gate's back-offs, the dispatches it ran on one
 * thread, those run on one thread while the workers slept, the waits that blocked, and the milliseconds waited. @internal
 */
export interface JobCounts {
  posted: number;
  ranByWorkers: number;
  unitSplits: number;
  /** LSTM backward steps split by hidden units (lstmStepBwdUnits). */
  bwdUnitSplits: number;
  /** Layer-direction forwards split by rows over time (forwardRows). */
  rowForwards: number;
  /** Layer-direction backwards split by rows over time (backwardRows). */
  rowBackwards: number;
  backoffs: number;
  soloJobs: number;
  sleepSkips: number;
  stalls: number;
  waitMs: number;
  /** Chunks of stolen splits (unitSteal) the main thread took from the workers' ranges / the workers took from its range. */
  chunksTaken: number;
  chunksGiven: number;
}

/**
 * Test hooks of the gate: `slowWorkersMs` makes every worker sleep that long
 * after claiming a part (a worker that lost its core, made deterministic;
 * 0 = off); `reset` opens the gate and forgets its history; `enabled` false
 * splits regardless of how the splits pay. @internal
 */
export function setThreadGate(o: { slowWorkersMs?: number; reset?: boolean; enabled?: boolean }): void {
  if (!pool) return;
  if (o.slowWorkersMs !== undefined) pool.simulateSlowWorkers(o.slowWorkersMs);
  if (o.enabled !== undefined) pool.gate = o.enabled;
  if (o.reset) pool.resetGate();
}

function kern(): Kernels {
  if (!K) throw new UnfoldError("E_STATE", "unfold-rnn: the WebAssembly kernels are not loaded. Call `await init()` once before using layers or models.");
  return K;
}

/**
 * Set the least work (flops) per thread worth a split; 0 splits everything
 * that can be split (the tests use it to reach every path with small sizes).
 * @internal
 */
export function setMinFlopsPerThread(flops: number): void {
  minFlopsPerThread = flops;
}

/**
 * Whether a job of `flops` is big enough to be split across the pool's
 * threads (false without a pool). The gate and the workers' sleep are not
 * consulted: this is the static size rule of {@link partsFor}, so a caller
 * that picks a different kernel for work that would never split (the
 * batch-1 LSTM path) picks the same one on every call. @internal
 */
export function splitsAt(flops: number): boolean {
  if (!pool || !(flops > 0)) return false;
  return minFlopsPerThread <= 0 || Math.min(pool.threads, Math.floor(flops / minFlopsPerThread)) > 1;
}

/** Parts worth making for `flops` of work (1 = do not split). */
function partsFor(flops: number): number {
  if (!pool || !(flops > 0)) return 1;
  if (minFlopsPerThread <= 0) return pool.threads;
  const n = Math.max(1, Math.min(pool.threads, Math.floor(flops / minFlopsPerThread)));
  // The gate closed (splitting did not pay lately: a core is busy elsewhere): one thread for now.
  // The workers sleep and this job alone does not pay their wake-up: one thread.
  return n > 1 && (!pool.open() || (pool.gate && !pool.awake(flops))) ? 1 : n;
}

/** Start of part i of n over `total` units, rounded to a multiple of `q`. */
function cut(i: number, n: number, total: number, q: number): number {
  if (i >= n) return total;
  return Math.min(total, q * Math.round((i * total) / n / q));
}

/**
 * C [M, N] = beta*C + A * Bp (gemm_packed_f32x4_4x8): columns split by
 * panels, or rows when N has too few panels.
 */
export function gemmPacked(M: number, N: number, K_: number, A: Ptr, aRs: number, aCs: number, Bp: Ptr, C: Ptr, ldc: number, beta: number): void {
  const k = kern();
  const n = partsFor(2 * M * N * K_);
  if (n === 1 || M <= 0 || N <= 0) return k.gemm_packed_f32x4_4x8(M, N, K_, A, aRs, aCs, Bp, C, ldc, beta);
  const P = (N + 7) >> 3;
  const p = pool!;
  const panel = Math.max(K_, 0) * 32;
  let share: number;
  if (P >= 2 * n || M < 8 * n) {
    if (P < n) return k.gemm_packed_f32x4_4x8(M, N, K_, A, aRs, aCs, Bp, C, ldc, beta);
    // Whole 2x16 tiles (even panel counts), or 1x32 tiles (4 panels) for a single row.
    const q = M === 1 && P >= 8 * n ? 4 : P >= 4 * n ? 2 : 1;
    for (let w = 1; w < n; w++) {
      const p0 = cut(w, n, P, q), p1 = cut(w + 1, n, P, q);
      p.setCall(w - 1, 0, F.gemm_packed_f32x4_4x8, [M, Math.min(N, p1 * 8) - p0 * 8, K_, A, aRs, aCs, Bp + p0 * panel, C + p0 * 32, ldc, beta]);
      p.post(w - 1, 1);
    }
    const e = cut(1, n, P, q);
    k.gemm_packed_f32x4_4x8(M, Math.min(N, e * 8), K_, A, aRs, aCs, Bp, C, ldc, beta);
    share = e / P;
  } else {
    for (let w = 1; w < n; w++) {
      const m0 = cut(w, n, M, 4), m1 = cut(w + 1, n, M, 4);
      p.setCall(w - 1, 0, F.gemm_packed_f32x4_4x8, [m1 - m0, N, K_, A + m0 * aRs * 4, aRs, aCs, Bp, C + m0 * ldc * 4, ldc, beta]);
      p.post(w - 1, 1);
    }
    k.gemm_packed_f32x4_4x8(cut(1, n, M, 4), N, K_, A, aRs, aCs, Bp, C, ldc, beta);
    share = cut(1, n, M, 4) / M;
  }
  p.wait(n - 1, share);
}

/**
 * Run a memory-bound kernel split into contiguous ranges of `total` units
 * (multiples of `q`): `call(lo, hi)` gives the kernel and its arguments for
 * units [lo, hi). `work` sizes the split as flops do elsewhere; `mine` gets
 * the result of the main thread's part, units [0, end). Returns false
 * (nothing done) where it does not split.
 */
function rangeSplit(total: number, q: number, work: number, call: (lo: number, hi: number) => [fn: number, args: number[]], mine?: (result: number, end: number) => void): boolean {
  if (!pool) return false;
  const n = Math.min(partsFor(work), Math.floor(total / q));
  if (n < 2) return false;
  const p = pool;
  for (let w = 1; w < n; w++) {
    const [fn, args] = call(cut(w, n, total, q), cut(w + 1, n, total, q));
    p.setCall(w - 1, 0, fn, args);
    p.post(w - 1, 1);
  }
  const e = cut(1, n, total, q);
  const [fn, args] = call(0, e);
  const r = (kern() as unknown as Record<string, (...a: number[]) => number>)[KERNEL_NAMES[fn]](...args);
  p.wait(n - 1, e / total);
  mine?.(r, e);
  return true;
}

/**
 * Pack B for the packed GEMM (gemm_pack_b_nn, or gemm_pack_b_nt for B
 * stored [N, K]) into dst [ceil(N/8)][K][8], split by panels: each part
 * packs its own (the same bytes).
 */
export function packB(nt: boolean, B: Ptr, ldb: number, K_: number, N: number, dst: Ptr): void {
  const P = (N + 7) >> 3;
  const fn = nt ? F.gemm_pack_b_nt : F.gemm_pack_b_nn;
  const bStep = nt ? 8 * ldb * 4 : 32; // bytes from panel p to panel p + 1 in B
  if (K_ > 0 && rangeSplit(P, 1, K_ * N, (p0, p1) => [fn, [B + p0 * bStep, ldb, K_, Math.min(N, 8 * p1) - 8 * p0, dst + p0 * K_ * 32]])) return;
  if (nt) kern().gemm_pack_b_nt(B, ldb, K_, N, dst);
  else kern().gemm_pack_b_nn(B, ldb, K_, N, dst);
}

/** dst [N] = beta*dst + the column sums of src [M, N] (sum_rows), split by columns: the same bits. */
export function sumRows(dst: Ptr, src: Ptr, M: number, N: number, beta: number): void {
  if (M > 1 && rangeSplit(N, 16, M * N, (j0, j1) => [F.sum_rows_ld, [dst + j0 * 4, src + j0 * 4, M, j1 - j0, N, beta]])) return;
  kern().sum_rows(dst, src, M, N, beta);
}

/**
 * adam_step (see abi.ts) split by element ranges (the same bits: every
 * element's update is its own). Returns 1 if any new parameter is NaN or
 * infinite: the main thread's part says so itself, the workers' parts are
 * checked after them with count_nonfinite (a kernel's result does not come
 * back from a worker).
 */
export function adamStep(p: Ptr, g: Ptr, m: Ptr, v: Ptr, n: number, lr: number, b1: number, b2: number, eps: number, wd: number, decoupled: number, bc1: number, bc2: number): number {
  const k = kern();
  let flag = 0;
  let e = n; // the main thread's part: [0, e)
  const part = (lo: number, hi: number): [number, number[]] => [F.adam_step, [p + lo * 4, g + lo * 4, m + lo * 4, v + lo * 4, hi - lo, lr, b1, b2, eps, wd, decoupled, bc1, bc2]];
  if (!rangeSplit(n, 16, 8 * n, part, (r, end) => ((flag = r), (e = end)))) return k.adam_step(p, g, m, v, n, lr, b1, b2, eps, wd, decoupled, bc1, bc2);
  return flag !== 0 || k.count_nonfinite(p + e * 4, n - e) > 0 ? 1 : 0;
}

type GemmName = "gemm_nn" | "gemm_nt" | "gemm_tn";

/**
 * gemm_nn / gemm_nt / gemm_tn split by column panels: every part packs its
 * own panels of B into its own slice of `scratch` and multiplies them. With
 * fewer panels than threads, B is packed once here and the rows are split.
 */
function gemmSplit(name: GemmName, M: number, N: number, K_: number, A: Ptr, lda: number, B: Ptr, ldb: number, C: Ptr, ldc: number, beta: number, scratch: Ptr): void {
  const k = kern();
  const n = partsFor(2 * M * N * K_);
  if (n === 1 || M <= 0 || N <= 0 || K_ <= 0) return k[name](M, N, K_, A, lda, B, ldb, C, ldc, beta, scratch);
  const P = (N + 7) >> 3;
  if (P < n) {
    // Too few panels to share: pack once, split rows.
    if (name === "gemm_nt") k.gemm_pack_b_nt(B, ldb, K_, N, scratch);
    else k.gemm_pack_b_nn(B, ldb, K_, N, scratch);
    if (name === "gemm_tn") gemmPacked(M, N, K_, A, 1, lda, scratch, C, ldc, beta);
    else gemmPacked(M, N, K_, A, lda, 1, scratch, C, ldc, beta);
    return;
  }
  const p = pool!;
  const panel = K_ * 32;
  // Panel p0 starts at column 8*p0: of B [K, N] (nn, tn) or at row 8*p0 of B [N, K] (nt).
  const bStep = name === "gemm_nt" ? 8 * ldb * 4 : 32;
  const q = P >= 4 * n ? 2 : 1;
  for (let w = 1; w < n; w++) {
    const p0 = cut(w, n, P, q), p1 = cut(w + 1, n, P, q);
    p.setCall(w - 1, 0, F[name], [M, Math.min(N, p1 * 8) - p0 * 8, K_, A, lda, B + p0 * bStep, ldb, C + p0 * 32, ldc, beta, scratch + p0 * panel]);
    p.post(w - 1, 1);
  }
  k[name](M, Math.min(N, cut(1, n, P, q) * 8), K_, A, lda, B, ldb, C, ldc, beta, scratch);
  p.wait(n - 1, cut(1, n, P, q) / P);
}

/** C [M,N] = beta*C + A [M,K] * B [K,N]; scratch: ceil(N/8)*8*K floats (as gemm_nn). */
export function gemmNN(M: number, N: number, K_: number, A: Ptr, lda: number, B: Ptr, ldb: number, C: Ptr, ldc: number, beta: number, scratch: Ptr): void {
  gemmSplit("gemm_nn", M, N, K_, A, lda, B, ldb, C, ldc, beta, scratch);
}

/** C [M,N] = beta*C + A [M,K] * B^T, B stored [N,K]; scratch as gemm_nt. */
export function gemmNT(M: number, N: number, K_: number, A: Ptr, lda: number, B: Ptr, ldb: number, C: Ptr, ldc: number, beta: number, scratch: Ptr): void {
  gemmSplit("gemm_nt", M, N, K_, A, lda, B, ldb, C, ldc, beta, scratch);
}

/**
 * C [M,N] = beta*C + A^T * B, A stored [K,M], B [K,N]; scratch as gemm_tn
 * (ceil(N/8)*8*K floats). Split by column panels like the others: every part
 * packs all of A^T (gemm_tn's k and row blocks) into its own slice, so the
 * packing (~1 ms at 1024x2048) is repeated per part, in parallel.
 */
export function gemmTN(M: number, N: number, K_: number, A: Ptr, lda: number, B: Ptr, ldb: number, C: Ptr, ldc: number, beta: number, scratch: Ptr, scratchFloats = 0): void {
  if (tnRows(M, N, K_, A, lda, B, ldb, C, ldc, beta, scratch, scratchFloats)) return;
  gemmSplit("gemm_tn", M, N, K_, A, lda, B, ldb, C, ldc, beta, scratch);
}

/**
 * gemm_tn split by rows of C (columns of A): each part packs only its rows
 * of A^T, where the column split makes every part pack all of it (at the
 * LSTM's dW = dG^T X, A^T is [4H, T*B] = 8 MB; its packing, ~1 ms, was then
 * done twice). Every part packs all of B's panels instead, into its own
 * full-size slice of the scratch, so this needs n times gemm_tn's scratch
 * (`scratchFloats`, the scratch's size; 0 = unknown: not taken). Rows are
 * independent and each element's k order is the same: the same bits.
 * Taken when A^T is the larger operand (M >= N) and M has 8 rows per part.
 */
function tnRows(M: number, N: number, K_: number, A: Ptr, lda: number, B: Ptr, ldb: number, C: Ptr, ldc: number, beta: number, scratch: Ptr, scratchFloats: number): boolean {
  if (!pool || !(scratchFloats > 0) || M < N || K_ < 32 || N <= 0) return false;
  const per = Math.ceil(N / 8) * 8 * K_; // gemm_tn's scratch, floats
  const n = Math.min(partsFor(2 * M * N * K_), Math.floor(M / 8), Math.floor(scratchFloats / per));
  if (n < 2) return false;
  const p = pool;
  const k = kern();
  for (let w = 1; w < n; w++) {
    const m0 = cut(w, n, M, 4), m1 = cut(w + 1, n, M, 4);
    p.setCall(w - 1, 0, F.gemm_tn, [m1 - m0, N, K_, A + m0 * 4, lda, B, ldb, C + m0 * ldc * 4, ldc, beta, scratch + w * per * 4]);
    p.post(w - 1, 1);
  }
  const e = cut(1, n, M, 4);
  k.gemm_tn(e, N, K_, A, lda, B, ldb, C, ldc, beta, scratch);
  p.wait(n - 1, e / M);
  return true;
}

// ---- one recurrent time step: GEMM + fused cell, split by batch rows ---------------

/**
 * One call of a row-split job: kernel `fn`, its arguments for all B rows,
 * the bytes each argument moves per row (0: not a row pointer), and which
 * argument is the row count.
 */
type RowCall = [fn: number, args: number[], rowBytes: readonly number[], rowsArg: number];

/**
 * Run `calls` in order on rows [b0, b1) of the batch in every thread; each
 * part's rows depend only on the same rows. Returns false (nothing done)
 * when the batch is too small to split; then the caller runs them whole.
 */
function rowSplit(B: number, flops: number, calls: RowCall[]): boolean {
  const n = Math.min(partsFor(flops), B >> 2);
  if (n < 2) return false;
  const p = pool!;
  const k = kern() as unknown as Record<string, (...a: number[]) => void>;
  for (let w = 1; w < n; w++) {
    const b0 = cut(w, n, B, 4), b1 = cut(w + 1, n, B, 4);
    for (let c = 0; c < calls.length; c++) p.setCall(w - 1, c, calls[c][0], partArgs(calls[c], b0, b1));
    p.post(w - 1, calls.length);
  }
  const e = cut(1, n, B, 4);
  for (const call of calls) k[KERNEL_NAMES[call[0]]](...partArgs(call, 0, e));
  p.wait(n - 1, e / B);
  return true;
}

/**
 * Run a forward step split by hidden units: `calls(u0, u1)` gives the kernel
 * calls for units [u0, u1); part w gets whole 8-wide panels of H. Returns
 * false (nothing done) when H is not a multiple of 8 or the step is too
 * small to split; then the caller runs it another way.
 */
function colSplit(H: number, flops: number, calls: (u0: number, u1: number) => [fn: number, args: number[]][], backward = false): boolean {
  if (!pool || H % 8 !== 0) return false;
  const P = H >> 3;
  const n = Math.min(partsFor(flops), P);
  if (n < 2) return false;
  const p = pool;
  const k = kern() as unknown as Record<string, (...a: number[]) => void>;
  for (let w = 1; w < n; w++) {
    const cs = calls(8 * cut(w, n, P, 1), 8 * cut(w + 1, n, P, 1));
    for (let c = 0; c < cs.length; c++) p.setCall(w - 1, c, cs[c][0], cs[c][1]);
    p.post(w - 1, cs.length);
  }
  for (const [fn, args] of calls(0, 8 * cut(1, n, P, 1))) k[KERNEL_NAMES[fn]](...args);
  p.wait(n - 1, cut(1, n, P, 1) / P);
  if (backward) p.bwdUnitSplits++;
  else p.unitSplits++;
  return true;
}

/**
 * Chunks per thread of a stolen split (see {@link unitSteal}, 8 unless {@link setStealing} says otherwise): enough that a
 * thread running at 3/4 the speed of the other ends within ~1/16 of a
 * step of it, few enough that a chunk's calls stay cheap.
 */
let chunksPerPart = 8;
/** Whether forward steps split by units steal work (assembly/steal.ts); off: the static split of {@link colSplit}. */
let stealing = true;

/** Turn work stealing in the split recurrent steps on or off, and set the chunks per thread (benchmarks, tests). @internal */
export function setStealing(on: boolean, chunks = 8): void {
  stealing = on;
  chunksPerPart = chunks;
}

/**
 * A step split by hidden units with work stealing (forward, or `backward`:
 * the LSTM's, counted apart): the units are cut into chunks of whole 8-wide
 * panels, part w owns a contiguous range of them, and a part that runs out
 * takes chunks from the back of the others' ranges (assembly/steal.ts). `fn`
 * (a *_steal kernel) gets `args`, then the queue and `act | part << 8`.
 * Returns false (nothing done) where {@link colSplit} would, or when
 * stealing is off.
 */
function unitSteal(H: number, flops: number, fn: number, args: number[], act: number, backward = false): boolean {
  if (!pool || !stealing || H % 8 !== 0) return false;
  if (!stealJob(Math.min(partsFor(flops), H >> 3), H >> 3, 8, fn, args, act)) return false;
  if (backward) pool.bwdUnitSplits++;
  else pool.unitSplits++;
  return true;
}

/**
 * A backward step split by batch rows with work stealing, as {@link rowSplit}
 * splits it (chunks of whole 4-row groups). Returns false (nothing done)
 * where rowSplit would, or when stealing is off.
 */
function rowSteal(B: number, flops: number, fn: number, args: number[], act: number): boolean {
  if (!pool || !stealing) return false;
  return stealJob(Math.min(partsFor(flops), B >> 2), Math.ceil(B / 4), 4, fn, args, act);
}

/**
 * Post a stolen split over `n` parts of `total` groups of `quantum` units
 * (panels of 8 hidden units, or 4 batch rows), run the main thread's part
 * and wait for the rest (see {@link unitSteal}).
 */
function stealJob(n: number, total: number, quantum: number, fn: number, args: number[], act: number, perPart = chunksPerPart): boolean {
  if (n < 2) return false;
  const p = pool!;
  const per = Math.ceil(total / Math.min(total, perPart * n));
  const chunks = Math.ceil(total / per);
  p.setQueue(n, quantum * per, chunks);
  for (let w = 1; w < n; w++) {
    p.setCall(w - 1, 0, fn, [...args, p.queue, act | (w << 8)]);
    p.post(w - 1, 1);
  }
  const k = kern() as unknown as Record<string, (...a: number[]) => number>;
  const mine = k[KERNEL_NAMES[fn]](...args, p.queue, act);
  p.wait(n - 1, Math.max(mine, 1) / chunks);
  const own = cut(1, n, chunks, 1);
  if (mine > own) p.chunksTaken += mine - own;
  else p.chunksGiven += own - mine;
  return true;
}

/**
 * The gate GEMMs of units [u0, u1): for every gate block g < G,
 * C[:, g*H + u0 .. g*H + u1) = beta*C + A Wp, A = h_{t-1} [B, H], Wp packed [4H or 3H or H / 8][H][8].
 */
function gateGemms(G: number, B: number, H: number, A: Ptr, Wp: Ptr, C: Ptr, beta: number, u0: number, u1: number): [number, number[]][] {
  const out: [number, number[]][] = [];
  const ldc = G * H;
  for (let g = 0; g < G; g++) {
    const col = g * H + u0;
    out.push([F.gemm_packed_f32x4_4x8, [B, u1 - u0, H, A, H, 1, Wp + (col >> 3) * H * 32, C + col * 4, ldc, beta]]);
  }
  return out;
}

function partArgs([, args, rowBytes, rowsArg]: RowCall, b0: number, b1: number): number[] {
  const out = args.slice();
  for (let i = 0; i < rowBytes.length; i++) if (rowBytes[i] !== 0) out[i] += b0 * rowBytes[i];
  out[rowsArg] = b1 - b0;
  return out;
}

/**
 * LSTM step forward: G [B,4H] += h_{t-1} [B,H] W_hh^T (Wp packed), then
 * lstm_step_fwd (see abi.ts) writes c, h, tc and the activated gates.
 */
export function lstmStepFwd(B: number, H: number, hPrev: Ptr, Wp: Ptr, G: Ptr, bIh: Ptr, bHh: Ptr, cPrev: Ptr, c: Ptr, h: Ptr, tc: Ptr, gact = 0): void {
  const k = kern();
  const GH = 4 * H, r = 4 * H, g = 4 * GH;
  if (
    !pool ||
    (!unitSteal(H, 2 * B * GH * H, F.lstm_step_fwd_steal, [hPrev, Wp, G, bIh, bHh, cPrev, c, h, tc, B, H], gact) &&
    !colSplit(H, 2 * B * GH * H, (u0, u1) => [
      ...gateGemms(4, B, H, hPrev, Wp, G, 1, u0, u1),
      [F.lstm_step_fwd_cols, [G, bIh, bHh, cPrev, c, h, tc, B, H, u0, u1, gact]],
    ]) &&
      !rowSplit(B, 2 * B * GH * H, [
        [F.gemm_packed_f32x4_4x8, [B, GH, H, hPrev, H, 1, Wp, G, GH, 1], [0, 0, 0, r, 0, 0, 0, g, 0, 0], 0],
        [F.lstm_step_fwd, [G, bIh, bHh, cPrev, c, h, tc, B, H, gact], [g, 0, 0, r, r, r, r, 0, 0, 0], 7],
      ]))
  ) {
    gemmPacked(B, GH, H, hPrev, H, 1, Wp, G, GH, 1);
    k.lstm_step_fwd(G, bIh, bHh, cPrev, c, h, tc, B, H, gact);
  }
}

/** Chunks per thread of a forward split by rows over time (see {@link forwardRows}). */
const ROW_CHUNKS_PER_PART = 2;
/**
 * The most bytes of packed weights a chunk of rows may read at every step
 * (W_ih^T and W_hh^T forward, W_hh backward) for the split by rows over
 * time. Each thread reads all of them for its few rows, where the split by
 * hidden units reads its half for all rows: beyond a core's L2 the rows
 * pay in memory traffic. Measured on 2 threads (LSTM B = 32, 8-row chunks,
 * 2 MiB L2): 1.25 MiB (H = 256) and 1.97 MiB (H = 320) forward 4-8% faster
 * by rows; 2.75 MiB (H = 384) 5% slower, 4.7 MiB (H = 512) 7%, 17 MiB
 * (H = 1024) 11% (bench/RESULTS.md).
 */
const ROW_WEIGHT_BYTES = 2 << 20;
/** Whether forwards and backwards may be split by rows over time ({@link forwardRows}, {@link backwardRows}); off: step by step. */
let rowForwardsOn = true;

/** Turn the split by rows over time (forward and backward) on or off (benchmarks, tests); returns the previous setting. @internal */
export function setRowForwards(on: boolean): boolean {
  const was = rowForwardsOn;
  rowForwardsOn = on;
  return was;
}

/**
 * A whole layer-direction forward split by batch rows, "rows over time"
 * (assembly/steal.ts fwd_rows_steal): the rows are cut into chunks of whole
 * 4-row groups, claimed with work stealing, and each chunk runs every step
 * of its rows (input projection, h_{t-1} W_hh^T, cell), so the threads meet
 * once, not once per step. Two chunks per thread: fewer, larger chunks keep
 * more rows per GEMM (8 rows at W1 measured faster than 4), and two still
 * let a thread whose core is busy hand one to the other.
 *
 * `kind` 0 LSTM (a0 = cs [T+1,B,H], a1 = tc [T,B,H]), 1 GRU reset after
 * (a0 = Gh [B,3H], a1 = cache [T,B,4H]), 2 SimpleRNN (act 0 tanh, 1 relu);
 * WpIh and Wp are W_ih^T and W_hh^T packed; hs (and cs) by slot as in
 * unitForward (src/layers/recurrent.ts). The same bits as the per-step loop
 * on one thread. Returns false (nothing done) without a pool, with stealing
 * or this split off, for fewer than 8 rows, for weights over
 * {@link ROW_WEIGHT_BYTES}, or where the work is not split now.
 */
export function forwardRows(kind: 0 | 1 | 2, T: number, B: number, I: number, H: number, X: Ptr, WpIh: Ptr, Wp: Ptr, G: Ptr, bIh: Ptr, bHh: Ptr, hs: Ptr, a0: Ptr, a1: Ptr, act: number, reverse: boolean, zeroInit: boolean): boolean {
  if (!pool || !stealing || !rowForwardsOn || B < 8) return false;
  const GH = (kind === 0 ? 4 : kind === 1 ? 3 : 1) * H;
  if (4 * GH * (I + H) > ROW_WEIGHT_BYTES) return false;
  const flops = 2 * T * B * GH * (I + H);
  pool.setQueueArgs([T, B, I, H, X, WpIh, Wp, G, bIh, bHh, hs, a0, a1]);
  const bits = act | (reverse ? 1 << 16 : 0) | (zeroInit ? 1 << 17 : 0) | (kind << 18);
  if (!stealJob(Math.min(partsFor(flops), B >> 2), Math.ceil(B / 4), 4, F.fwd_rows_steal, [], bits, ROW_CHUNKS_PER_PART)) return false;
  pool.rowForwards++;
  return true;
}

/**
 * A whole layer-direction backward (BPTT) split by batch rows as
 * {@link forwardRows} splits the forward (assembly/steal.ts bwd_rows_steal):
 * each chunk of rows walks every step back in time, its cell backward and
 * its rows of dL/dh_{t-1} (+)= dG_t W_hh. `p` are the kernel's eight
 * tensors for `kind` (see bwd_rows_steal); `wantDh0`: false leaves out the
 * last dG W_hh (dL/dh0, read by nobody). The same bits as the per-step
 * loop. Returns false (nothing done) where {@link forwardRows} would.
 */
export function backwardRows(kind: 0 | 1 | 2, T: number, B: number, H: number, p: Ptr[], act: number, reverse: boolean, wantDh0: boolean): boolean {
  if (!pool || !stealing || !rowForwardsOn || B < 8) return false;
  const GH = (kind === 0 ? 4 : kind === 1 ? 3 : 1) * H;
  if (4 * GH * H > ROW_WEIGHT_BYTES) return false;
  const flops = 2 * T * B * GH * H;
  pool.setQueueArgs([T, B, H, ...p]);
  const bits = act | (reverse ? 1 << 16 : 0) | (wantDh0 ? 1 << 17 : 0) | (kind << 18);
  if (!stealJob(Math.min(partsFor(flops), B >> 2), Math.ceil(B / 4), 4, F.bwd_rows_steal, [], bits, ROW_CHUNKS_PER_PART)) return false;
  pool.rowBackwards++;
  return true;
}

/**
 * LSTM step backward: lstm_step_bwd writes dG [B,4H] (dc updated in place),
 * then dPrev [B,H] = beta*dPrev + dG W_hh (Wp packed).
 */
export function lstmStepBwd(B: number, H: number, G: Ptr, cPrev: Ptr, tc: Ptr, dh: Ptr, dc: Ptr, dG: Ptr, Wp: Ptr, dPrev: Ptr, beta: number, gact = 0): void {
  const k = kern();
  const GH = 4 * H, r = 4 * H, g = 4 * GH;
  if (
    !pool ||
    (!rowSteal(B, 2 * B * GH * H, F.lstm_step_bwd_steal, [G, cPrev, tc, dh, dc, dG, Wp, dPrev, B, H, beta], gact) &&
    !rowSplit(B, 2 * B * GH * H, [
      [F.lstm_step_bwd, [G, cPrev, tc, dh, dc, dG, B, H, gact], [g, r, r, r, r, g, 0, 0, 0], 6],
      [F.gemm_packed_f32x4_4x8, [B, H, GH, dG, GH, 1, Wp, dPrev, H, beta], [0, 0, 0, g, 0, 0, 0, r, 0, 0], 0],
    ]))
  ) {
    k.lstm_step_bwd(G, cPrev, tc, dh, dc, dG, B, H, gact);
    gemmPacked(B, H, GH, dG, GH, 1, Wp, dPrev, H, beta);
  }
}

/** The LSTM cell backward of one step (arguments of lstm_step_bwd but dh, which is the step's dPrev). */
export interface LstmCellBwd {
  G: Ptr;
  cPrev: Ptr;
  tc: Ptr;
  dc: Ptr;
  dG: Ptr;
}

/**
 * LSTM backward step t split by hidden units: dPrev [B,H] = beta*dPrev +
 * dG_t W_hh (Wp packed [H/8][4H][8]), then, if `next` is given, the cell
 * backward of the step processed next on dh = dPrev (dc updated in place).
 * A unit's cell needs only that unit's column of dPrev, so each chunk of
 * units runs both and the step is one job (chunks of 8-wide panels, stolen
 * as in the forward; H = 256 has 32 panels), where a split by rows has B/4
 * chunks of 4 rows (8 at B = 32), whose 4-row tiles ran 20% slower in the
 * relaxed build (bench/RESULTS.md, session 10). The same bits on any split.
 */
export function lstmStepBwdUnits(B: number, H: number, dGt: Ptr, Wp: Ptr, dPrev: Ptr, beta: number, next: LstmCellBwd | null, gact = 0): void {
  const k = kern();
  const GH = 4 * H, r = 4 * H, g = 4 * GH;
  const flops = 2 * B * GH * H;
  const n = next ?? { G: 0, cPrev: 0, tc: 0, dc: 0, dG: 0 };
  if (unitSteal(H, flops, F.lstm_step_bwd_units_steal, [dGt, Wp, dPrev, beta, n.G, n.cPrev, n.tc, n.dc, n.dG, B, H], gact, true)) return;
  const cellCols = (u0: number, u1: number): [number, number[]][] => (next ? [[F.lstm_step_bwd_cols, [n.G, n.cPrev, n.tc, dPrev, n.dc, n.dG, B, H, u0, u1, gact]]] : []);
  if (
    !pool ||
    (!colSplit(H, flops, (u0, u1) => [[F.gemm_packed_f32x4_4x8, [B, u1 - u0, GH, dGt, GH, 1, Wp + (u0 >> 3) * GH * 32, dPrev + u0 * 4, H, beta]], ...cellCols(u0, u1)], true) &&
      !rowSplit(B, flops, [
        [F.gemm_packed_f32x4_4x8, [B, H, GH, dGt, GH, 1, Wp, dPrev, H, beta], [0, 0, 0, g, 0, 0, 0, r, 0, 0], 0],
        ...(next ? [[F.lstm_step_bwd, [n.G, n.cPrev, n.tc, dPrev, n.dc, n.dG, B, H, gact], [g, r, r, r, r, g, 0, 0, 0], 6] as RowCall] : []),
      ]))
  ) {
    gemmPacked(B, H, GH, dGt, GH, 1, Wp, dPrev, H, beta);
    if (next) k.lstm_step_bwd(n.G, n.cPrev, n.tc, dPrev, n.dc, n.dG, B, H, gact);
  }
}

/**
 * GRU step forward: Gh [B,3H] = h_{t-1} W_hh^T (Wp packed), then
 * gru_step_fwd (see abi.ts) with Gi [B,3H] = x W_ih^T writes h and the cache [B,4H].
 */
export function gruStepFwd(B: number, H: number, hPrev: Ptr, Wp: Ptr, Gi: Ptr, Gh: Ptr, bIh: Ptr, bHh: Ptr, h: Ptr, cache: Ptr, gact = 0): void {
  const k = kern();
  const GH = 3 * H, r = 4 * H, g = 4 * GH;
  if (
    !pool ||
    (!unitSteal(H, 2 * B * GH * H, F.gru_step_fwd_steal, [hPrev, Wp, Gi, Gh, bIh, bHh, h, cache, B, H], gact) &&
    !colSplit(H, 2 * B * GH * H, (u0, u1) => [
      ...gateGemms(3, B, H, hPrev, Wp, Gh, 0, u0, u1),
      [F.gru_step_fwd_cols, [Gi, Gh, bIh, bHh, hPrev, h, cache, B, H, u0, u1, gact]],
    ]) &&
      !rowSplit(B, 2 * B * GH * H, [
        [F.gemm_packed_f32x4_4x8, [B, GH, H, hPrev, H, 1, Wp, Gh, GH, 0], [0, 0, 0, r, 0, 0, 0, g, 0, 0], 0],
        [F.gru_step_fwd, [Gi, Gh, bIh, bHh, hPrev, h, cache, B, H, gact], [g, g, 0, 0, r, r, 4 * r, 0, 0, 0], 7],
      ]))
  ) {
    gemmPacked(B, GH, H, hPrev, H, 1, Wp, Gh, GH, 0);
    k.gru_step_fwd(Gi, Gh, bIh, bHh, hPrev, h, cache, B, H, gact);
  }
}

/**
 * GRU step backward: gru_step_bwd writes dGi, dGh [B,3H] and dhPrev [B,H]
 * (the direct path), then dhPrev += dGh W_hh (Wp packed).
 */
export function gruStepBwd(B: number, H: number, cache: Ptr, hPrev: Ptr, dh: Ptr, dGi: Ptr, dGh: Ptr, dhPrev: Ptr, Wp: Ptr, gact = 0): void {
  const k = kern();
  const GH = 3 * H, r = 4 * H, g = 4 * GH;
  if (
    !pool ||
    (!rowSteal(B, 2 * B * GH * H, F.gru_step_bwd_steal, [cache, hPrev, dh, dGi, dGh, dhPrev, Wp, B, H], gact) &&
    !rowSplit(B, 2 * B * GH * H, [
      [F.gru_step_bwd, [cache, hPrev, dh, dGi, dGh, dhPrev, B, H, gact], [4 * r, r, r, g, g, r, 0, 0, 0], 6],
      [F.gemm_packed_f32x4_4x8, [B, H, GH, dGh, GH, 1, Wp, dhPrev, H, 1], [0, 0, 0, g, 0, 0, 0, r, 0, 0], 0],
    ]))
  ) {
    k.gru_step_bwd(cache, hPrev, dh, dGi, dGh, dhPrev, B, H, gact);
    gemmPacked(B, H, GH, dGh, GH, 1, Wp, dhPrev, H, 1);
  }
}

/** SimpleRNN step forward: G [B,H] += h_{t-1} W_hh^T (Wp packed), then rnn_step_fwd writes h. */
export function rnnStepFwd(B: number, H: number, hPrev: Ptr, Wp: Ptr, G: Ptr, bIh: Ptr, bHh: Ptr, h: Ptr, act: number): void {
  const k = kern();
  const r = 4 * H;
  if (
    !pool ||
    (!unitSteal(H, 2 * B * H * H, F.rnn_step_fwd_steal, [hPrev, Wp, G, bIh, bHh, h, B, H], act) &&
    !colSplit(H, 2 * B * H * H, (u0, u1) => [
      ...gateGemms(1, B, H, hPrev, Wp, G, 1, u0, u1),
      [F.rnn_step_fwd_cols, [G, bIh, bHh, h, B, H, act, u0, u1]],
    ]) &&
      !rowSplit(B, 2 * B * H * H, [
        [F.gemm_packed_f32x4_4x8, [B, H, H, hPrev, H, 1, Wp, G, H, 1], [0, 0, 0, r, 0, 0, 0, r, 0, 0], 0],
        [F.rnn_step_fwd, [G, bIh, bHh, h, B, H, act], [r, 0, 0, r, 0, 0, 0], 4],
      ]))
  ) {
    gemmPacked(B, H, H, hPrev, H, 1, Wp, G, H, 1);
    k.rnn_step_fwd(G, bIh, bHh, h, B, H, act);
  }
}

/** SimpleRNN step backward: rnn_step_bwd writes dG [B,H], then dPrev = beta*dPrev + dG W_hh. */
export function rnnStepBwd(B: number, H: number, h: Ptr, dh: Ptr, dG: Ptr, Wp: Ptr, dPrev: Ptr, beta: number, act: number): void {
  const k = kern();
  const r = 4 * H;
  if (
    !pool ||
    (!rowSteal(B, 2 * B * H * H, F.rnn_step_bwd_steal, [h, dh, dG, Wp, dPrev, B, H, beta], act) &&
    !rowSplit(B, 2 * B * H * H, [
      [F.rnn_step_bwd, [h, dh, dG, B, H, act], [r, r, r, 0, 0, 0], 3],
      [F.gemm_packed_f32x4_4x8, [B, H, H, dG, H, 1, Wp, dPrev, H, beta], [0, 0, 0, r, 0, 0, 0, r, 0, 0], 0],
    ]))
  ) {
    k.rnn_step_bwd(h, dh, dG, B, H, act);
    gemmPacked(B, H, H, dG, H, 1, Wp, dPrev, H, beta);
  }
}
