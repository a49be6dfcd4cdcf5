// fitAsync yields to the event loop without sleeping, and only every ~8 ms of
// work: timers and I/O run during a long training run, the number of yields
// is bounded by the work time (not by the number of steps), and the result is
// the same as fit().
import { readFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { Sequential, type SequentialSpec } from "../src/model/sequential.js";
import { YIELD_EVERY_MS } from "../src/train/trainer.js";
import { loadKernels, Rng } from "./helpers.js";

beforeAll(async () => {
  await loadKernels();
});

const V = 24;
const spec: SequentialSpec = {
  input: { type: "tokens", vocabSize: V, embeddingDim: 8 },
  recurrent: [{ cell: "lstm", hiddenSize: 24 }],
  output: { size: V, loss: "xent" },
  mode: "many-to-many",
  seed: 5,
};
const rng = new Rng(11);
const stream = Array.from({ length: 6001 }, (_, i) => (i % 7 === 0 ? rng.int(V) : (i * 5) % V));
// Batch 1, windows of 6 characters: ~1000 small steps of well under a millisecond each.
const opts = { epochs: 1, batchSize: 1, tbptt: { k1: 6 }, optimizer: { type: "adam" as const, lr: 3e-3 } };

describe("fitAsync", () => {
  it("trains exactly like fit", async () => {
    const a = new Sequential(spec);
    const b = new Sequential(spec);
    const ha = a.fit({ stream: stream.slice(0, 1201) }, opts);
    const hb = await b.fitAsync({ stream: stream.slice(0, 1201) }, opts);
    expect(hb.steps).toBe(ha.steps);
    expect(hb.epochs.map((e) => e.loss)).toEqual(ha.epochs.map((e) => e.loss));
    const sa = a.stateDict();
    const sb = b.stateDict();
    for (const k of Object.keys(sa)) expect(sb[k], k).toEqual(sa[k]);
    a.dispose();
    b.dispose();
  });

  it("lets timers and I/O run, yielding once per ~8 ms of work, never per step", async () => {
    const model = new Sequential(spec);
    const server = createServer((_req, res) => res.end("pong"));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    let step = 0;
    let ticks = 0;
    let ticksDuringTraining = 0;
    let fileAtStep = -1;
    let httpAtStep = -1;
    const timer = setInterval(() => {
      ticks++;
      if (step > 0) ticksDuringTraining++;
    }, 1);
    // Count every macrotask scheduled (ours go through setImmediate in Node; a sleeping yield would be a setTimeout).
    const immediates = vi.spyOn(globalThis, "setImmediate");
    const timeouts = vi.spyOn(globalThis, "setTimeout");
    try {
      const io = [
        readFile(new URL(import.meta.url)).then(() => (fileAtStep = step)),
        fetch(url).then((r) => r.text()).then((t) => {
          expect(t).toBe("pong");
          httpAtStep = step;
        }),
      ];
      const t0 = performance.now();
      // 5 epochs (~5000 steps, ~0.3-0.7 s here): the local HTTP round trip takes a dozen event-loop turns,
      // and one epoch on a fast core (60 ms, 6 yields) could end before it does.
      const h = await model.fitAsync({ stream }, { ...opts, epochs: 5, onStep: (s) => void (step = s.step) });
      const ms = performance.now() - t0;
      const yields = immediates.mock.calls.length + timeouts.mock.calls.length;
      await Promise.all(io);
      console.log(`fitAsync: ${h.steps} steps in ${ms.toFixed(0)} ms, ${yields} setImmediate + setTimeout calls, ${ticksDuringTraining} timer ticks during training; file read at step ${fileAtStep}, HTTP reply at step ${httpAtStep}`);
      expect(h.steps).toBeGreaterThan(900);
      // Bounded by the work time (plus a few setImmediate calls of Node's own HTTP/fetch code), not by the step count.
      expect(yields).toBeLessThanOrEqual(ms / YIELD_EVERY_MS + 12);
      expect(yields).toBeLessThan(h.steps / 4);
      // ... and they did yield: the interval fired and both I/O callbacks ran while training was still going.
      expect(ticksDuringTraining).toBeGreaterThanOrEqual(2);
      expect(fileAtStep).toBeGreaterThan(0);
      expect(fileAtStep).toBeLessThan(h.steps);
      expect(httpAtStep).toBeGreaterThan(0);
      expect(httpAtStep).toBeLessThan(h.steps);
    } finally {
      immediates.mockRestore();
      timeouts.mockRestore();
      clearInterval(timer);
      await new Promise((r) => server.close(r));
      model.dispose();
    }
    expect(ticks).toBeGreaterThanOrEqual(ticksDuringTraining);
  });
});
