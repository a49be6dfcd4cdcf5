/**
 * The worker side of the thread pool (src/runtime/threads.ts).
 *
 * A worker instantiates the shared-memory build (`unfold-mt.wasm`) on the
 * memory the main thread created, then loops forever on its control block in
 * that memory: wait for a new job number, run the job's kernel calls, publish
 * the job number as done. No messages are exchanged after start-up, so a job
 * costs an `Atomics.store` + (if the worker sleeps) `Atomics.notify` each way.
 *
 * The code runs as a string (`new Worker(src, { eval: true })` in Node, a
 * Blob URL elsewhere), so it ships inside the library bundle with no second
 * file for a bundler or a server to locate.
 */

/** Control block of one worker: Int32 slots, then the job's calls as f64. */
export const CTL = {
  /** Job number; the main thread bumps it to post a job, -1 = quit. */
  SEQ: 0,
  /** Last job number finished by the worker. */
  DONE: 1,
  /** 1 while the worker is (about to be) blocked in Atomics.wait on SEQ. */
  SLEEP: 2,
  /** 1 while the main thread is (about to be) blocked in Atomics.wait on DONE. */
  MAIN_SLEEP: 3,
  /** Number of kernel calls in the job. */
  NCALLS: 4,
  /** 0, or 1 when a call threw (the message is posted to the main thread). */
  ERR: 5,
  /**
   * Job number of the last claimed job. The worker and the main thread both
   * try to claim a posted job (compare-exchange); the main thread runs an
   * unclaimed part itself once its own part is done, so a worker that is
   * asleep or descheduled (a busy machine) never stalls it.
   */
  CLAIM: 6,
  /**
   * Test hook: milliseconds a worker sleeps after claiming a part, before it
   * runs it (a worker descheduled by a busy machine, made deterministic); 0
   * normally. Set with `simulateSlowWorker` (threads.ts).
   */
  DELAY: 7,
  /** Byte offset of the calls: per call, CALL_F64 f64s: [kernel index, args...]. */
  CALLS_BYTE: 32,
  /** f64 slots per call: kernel index + up to 13 arguments. */
  CALL_F64: 14,
  /** Calls per job (an LSTM step split by columns: four gate GEMMs and the cell). */
  MAX_CALLS: 5,
  /** Bytes per worker's block (a multiple of the 64-byte cache line): 32 + 5 * 14 * 8 = 592, rounded up. */
  BYTES: 640,
} as const;

import type { WasmMemory, WasmModule } from "./wasm-types.js";

/** Sent once to a new worker. */
export interface WorkerInit {
  module: WasmModule;
  memory: WasmMemory;
  /** Byte offset of this worker's control block. */
  ctl: number;
  /** Kernel names by index (abi.ts KERNEL_NAMES). */
  names: readonly string[];
  layout: typeof CTL;
  /** Milliseconds the worker polls SEQ before it blocks in Atomics.wait. */
  spinMs: number;
}

/**
 * The worker's whole program, as source text: a string survives bundlers,
 * minifiers and coverage instrumenters, which rewrite functions (esbuild
 * turns `require` into its own shim; istanbul inserts counters) and would
 * break a stringified function. `PORT` is replaced by the expression that
 * gives the message port: Node's `parentPort`, or the worker global scope.
 *
 * The loop: poll SEQ for a while (a layer's next job comes within µs), then
 * sleep in Atomics.wait; on a new job number claim it (unless the main
 * thread already did), run its calls (kernel index + arguments as f64), then
 * publish DONE and wake the main thread if it sleeps.
 */
export const WORKER_TEMPLATE = `"use strict";
const port = PORT;
const start = (msg) => {
  const L = msg.layout;
  let inst;
  try {
    inst = new WebAssembly.Instance(msg.module, {
      env: { memory: msg.memory, abort: () => { throw new Error("kernel assertion failed"); } },
    });
  } catch (err) {
    port.postMessage({ error: "could not instantiate the module in a worker: " + err.message });
    return;
  }
  const fns = msg.names.map((n) => inst.exports[n]);
  // Views over shared memory stay valid when it grows (they only miss the
  // new pages); the control block lies in pages that existed at start.
  const ctl = new Int32Array(msg.memory.buffer, msg.ctl, L.CALLS_BYTE / 4);
  const args = new Float64Array(msg.memory.buffer, msg.ctl + L.CALLS_BYTE, L.MAX_CALLS * L.CALL_F64);
  port.postMessage({ ready: true });
  let seq = 0;
  for (;;) {
    let next = Atomics.load(ctl, L.SEQ);
    if (next === seq) {
      let polls = 0;
      let t0 = performance.now();
      while ((next = Atomics.load(ctl, L.SEQ)) === seq) {
        if ((++polls & 255) === 0 && performance.now() - t0 > msg.spinMs) {
          Atomics.store(ctl, L.SLEEP, 1);
          Atomics.wait(ctl, L.SEQ, seq);
          Atomics.store(ctl, L.SLEEP, 0);
          t0 = performance.now();
        }
      }
    }
    if (next < 0) return; // quit
    seq = next;
    const claimed = Atomics.load(ctl, L.CLAIM);
    if (claimed === seq || Atomics.compareExchange(ctl, L.CLAIM, claimed, seq) !== claimed) continue; // the main thread took it
    const n = ctl[L.NCALLS];
    const delay = ctl[L.DELAY];
    if (delay > 0) Atomics.wait(ctl, L.DELAY, delay, delay);
    try {
      for (let c = 0; c < n; c++) {
        const o = c * L.CALL_F64;
        fns[args[o]](args[o + 1], args[o + 2], args[o + 3], args[o + 4], args[o + 5], args[o + 6], args[o + 7],
          args[o + 8], args[o + 9], args[o + 10], args[o + 11], args[o + 12], args[o + 13]);
      }
    } catch (err) {
      ctl[L.ERR] = 1;
      port.postMessage({ error: String(err && err.message || err) });
    }
    Atomics.store(ctl, L.DONE, seq);
    if (Atomics.load(ctl, L.MAIN_SLEEP) !== 0) Atomics.notify(ctl, L.DONE);
  }
};
if (typeof port.once === "function") port.once("message", start);
else port.onmessage = (e) => { port.onmessage = null; start(e.data); };
`;
