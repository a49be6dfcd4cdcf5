// The demo (examples/browser/, `npm run demo`) in headless Chromium, served by
// its own server script started the way `npm run demo` starts it:
//  - the server prints its URL, sends COOP/COEP, serves only what a page needs;
//  - the Web Worker's training lowers the validation loss on the default text
//    (below 85% of the unigram baseline);
//  - the main thread stays smooth while the worker trains: the longest gap
//    between two animation frames is under 100 ms;
//  - the unfolded view's heatmap has one row per unit and kind (LSTM: h, c,
//    i, f, g, o) and one column per character; hovering a cell shows that
//    cell's value; choosing a row colours the text by that unit;
//  - the vanishing-gradient panel: SimpleRNN's gradient vanishes, LSTM's less;
//  - the .unfold model downloaded from the page and loaded back gives the same
//    sample for the same seed.
// Skipped only when Chromium is missing (under CI=true a missing Chromium fails).
// UNFOLD_SCREENSHOT=1 writes docs/demo.png (the README's picture).
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { findChromium, ROOT } from "./runtimes/harness.js";

const bin = findChromium();
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
let server: ChildProcess | null = null;
let browser: Browser | null = null;

afterAll(async () => {
  await browser?.close().catch(() => {});
  if (server && server.exitCode === null) server.kill("SIGTERM");
});

/** Start `node examples/browser/serve.mjs` on a free port and read the URL it prints. */
function startServer(): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, "examples", "browser", "serve.mjs")], { env: { ...process.env, PORT: "0" }, stdio: ["ignore", "pipe", "pipe"] });
    server = child;
    let out = "";
    const timer = setTimeout(() => reject(new Error(`serve.mjs printed no URL within 15 s: ${out}`)), 15_000);
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      out += d;
      const m = /unfold-rnn demo: (http:\/\/127\.0\.0\.1:\d+\/examples\/browser\/)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.on("exit", (code) => reject(new Error(`serve.mjs exited with ${code}: ${out}`)));
  });
}

type Demo = {
  ready: boolean; error: string | null; unigram: number; vals: [number, number][]; losses: [number, number][];
  samples: { text: string }[]; loaded: number; manualSample?: string;
  frames: { maxGap: number; count: number; long?: unknown[] };
  vanishing: { rnn0: number; lstm0: number };
  trace: { steps: number; chars: string[]; layers: { name: string; hiddenSize: number; kinds: string[]; values: Record<string, Float32Array> }[] } | null;
};
const demo = (page: Page) => page.evaluate(() => {
  const d = (window as unknown as { __demo: Demo }).__demo;
  return { ready: d.ready, error: d.error, unigram: d.unigram, vals: d.vals, samples: d.samples.length, steps: d.losses.at(-1)?.[0] ?? 0, frames: { ...d.frames, long: undefined }, vanishing: d.vanishing, loaded: d.loaded };
});

/** The longest task on a renderer main thread in a Chromium trace (category "toplevel"): CPU and wall ms. */
function longestMainThreadTask(trace: Buffer): { cpu: number; wall: number; tasks: number } {
  const events = (JSON.parse(trace.toString("utf8")) as { traceEvents: { name: string; ph: string; pid: number; tid: number; dur?: number; tdur?: number; args?: { name?: string } }[] }).traceEvents;
  const main = new Set(events.filter((e) => e.name === "thread_name" && e.args?.name === "CrRendererMain").map((e) => `${e.pid}:${e.tid}`));
  let cpu = 0;
  let wall = 0;
  let tasks = 0;
  for (const e of events) {
    if (e.ph !== "X" || e.dur === undefined || !main.has(`${e.pid}:${e.tid}`)) continue;
    tasks++;
    cpu = Math.max(cpu, (e.tdur ?? e.dur) / 1000);
    wall = Math.max(wall, e.dur / 1000);
  }
  return { cpu, wall, tasks };
}

describe("the demo page (examples/browser/)", () => {
  const need = bin || process.env.CI === "true";
  it.skipIf(!need)("trains in a worker, stays smooth, unfolds the network, round-trips the model file", async () => {
    expect(bin, "Chromium not found: apt-get install -y chromium").toBeTruthy();
    const url = await startServer();
    const origin = new URL(url).origin;

    // The server: isolation headers, only the page's folders.
    const index = await fetch(url);
    expect(index.status).toBe(200);
    expect(index.headers.get("cross-origin-opener-policy")).toBe("same-origin");
    expect(index.headers.get("cross-origin-embedder-policy")).toBe("require-corp");
    expect((await fetch(`${origin}/build/unfold.wasm`)).headers.get("content-type")).toBe("application/wasm");
    for (const p of ["/package.json", "/node_modules/vitest/package.json", "/dist/../package.json", "/examples/%2e%2e/package.json"]) {
      expect((await fetch(origin + p)).status, p).toBe(404);
    }

    const br = (browser = await chromium.launch({ executablePath: bin!.path, args: ARGS, timeout: 30_000 }));
    const ctx = await br.newContext({ viewport: { width: 1180, height: 1100 }, acceptDownloads: true });
    const page = await ctx.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(e.message));
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    await page.goto(url);
    await page.waitForFunction(() => {
      const d = (window as unknown as { __demo: Demo }).__demo;
      return d.ready || d.error;
    }, undefined, { timeout: 30_000 });
    expect((await demo(page)).error).toBeNull();
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
    expect(await page.inputValue("#text")).toBe(readFileSync(join(ROOT, "examples", "browser", "default-text.txt"), "utf8"));

    // The vanishing-gradient panel (computed in the worker): two curves, SimpleRNN's far below LSTM's at t = 0.
    const v = (await demo(page)).vanishing;
    expect(v.rnn0).toBeLessThan(v.lstm0 * 1e-6);
    expect(await page.locator("#vanish path.series").count()).toBe(2);

    // Train the default model (LSTM, H = 128) on the default text.
    await page.click("#train");
    // The main thread's own work while training, from Chromium's trace: the
    // longest task on the page's main thread, in thread CPU time (immune to
    // other processes on a busy machine) and wall time. The page draws only,
    // so no task may hold the main thread near a frame's worth of time.
    await page.waitForFunction(() => (window as unknown as { __demo: Demo }).__demo.samples.length >= 1, undefined, { timeout: 60_000 });
    await br.startTracing(page, { categories: ["toplevel"] });
    await page.waitForTimeout(4_000);
    const main = longestMainThreadTask(await br.stopTracing());
    // Frame gaps are wall-clock, and on a machine shared with other jobs any
    // page can be descheduled for a while. So the gaps are read in windows of
    // 4 s, each holding every kind of main-thread work the demo does (progress
    // messages, plot redraws, validation points, a sample with its heatmap);
    // a page that stalls itself stalls in every window. One window with every
    // gap under 100 ms (and at least 100 frames) shows the page stays smooth.
    const windows: { maxGap: number; frames: number; samples: number }[] = [];
    let smooth = false;
    let learnt = false;
    const t0 = Date.now();
    while (Date.now() - t0 < 90_000 && !(smooth && learnt)) {
      const before = await demo(page);
      await page.evaluate(() => {
        const f = (window as unknown as { __demo: Demo }).__demo.frames;
        f.maxGap = 0;
        f.count = 0;
      });
      await page.waitForTimeout(4_000);
      const after = await demo(page);
      expect(after.error).toBeNull();
      const w = { maxGap: after.frames.maxGap, frames: after.frames.count, samples: after.samples - before.samples };
      windows.push(w);
      if (w.samples >= 1 && w.frames >= 100 && w.maxGap < 100) smooth = true;
      const vals = after.vals.map((p) => p[1]);
      learnt = vals.length >= 3 && vals.at(-1)! < 0.85 * after.unigram;
    }
    const st = await demo(page);
    const vals = st.vals.map((p) => p[1]);
    console.log(
      `demo: ${st.steps} updates in ${((Date.now() - t0) / 1000).toFixed(0)} s; validation loss ${vals[0].toFixed(3)} -> ${vals.at(-1)!.toFixed(3)} nats/char (unigram ${st.unigram.toFixed(3)}); ` +
        `frame-gap windows (max ms / frames / samples): ${windows.map((w) => `${w.maxGap.toFixed(0)}/${w.frames}/${w.samples}`).join(", ")}; ` +
        `longest main-thread task ${main.cpu.toFixed(1)} ms CPU (${main.wall.toFixed(0)} ms wall) of ${main.tasks} tasks`,
    );
    expect(vals[0]).toBeGreaterThan(st.unigram); // the untrained model knows less than letter frequencies
    expect(vals.at(-1)!).toBeLessThan(0.85 * st.unigram);
    expect(vals.at(-1)!).toBeLessThan(vals[0] - 1);
    expect(main.tasks).toBeGreaterThan(20);
    expect(main.cpu, "a main-thread task used 50 ms of CPU or more while training").toBeLessThan(50);
    expect(await page.locator("#loss path.series").count()).toBe(2); // training and validation curves
    expect((await page.textContent("#sample-text"))!.length).toBeGreaterThan(100);

    // Pause: the view stops changing, then check the unfolded view against the worker's numbers.
    await page.click("#pause");
    await page.waitForFunction(() => {
      const b = document.getElementById("pause") as HTMLButtonElement;
      return b.textContent === "Resume" && !b.disabled; // the worker has stopped: nothing more arrives
    });
    const shape = await page.evaluate(() => {
      const c = document.getElementById("heatmap") as HTMLCanvasElement;
      const t = (window as unknown as { __demo: Demo }).__demo.trace!;
      const d = c.dataset;
      return { rows: d.rows, cols: d.cols, cellW: d.cellW, cellH: d.cellH, width: c.width, height: c.height, steps: t.steps, chars: t.chars.length, layers: t.layers.map((l) => l.name), kinds: t.layers[0].kinds, H: t.layers[0].hiddenSize };
    });
    expect(shape.layers).toEqual(["rnn0.l0"]);
    expect(shape.kinds).toEqual(["h", "c", "i", "f", "g", "o"]);
    expect(shape.H).toBe(128);
    expect(+shape.rows!).toBe(128 * 6); // units x kinds
    expect(+shape.cols!).toBe(shape.chars); // one column per character of the sample
    expect(shape.steps).toBe(shape.chars);
    // The canvas holds one pixel per (unit, character), scaled up by CSS.
    expect(shape.width).toBe(shape.chars);
    expect(shape.height).toBe(6 * 128);
    const [cw, ch] = [+shape.cellW!, +shape.cellH!];

    // Hover three cells: the tooltip shows exactly the worker's value there.
    const canvas = page.locator("#heatmap");
    await canvas.scrollIntoViewIfNeeded();
    const box = (await canvas.boundingBox())!;
    expect(box.width).toBeCloseTo(shape.chars * cw, 0);
    expect(box.height).toBeCloseTo(6 * 128 * ch, 0);
    // A whole-pixel point inside cell (row, t): rows may be 1 CSS px tall and the
    // canvas may sit at a fractional offset, so a "centre" could round into the
    // neighbouring row; ceil(start + (size - 1) / 2) is always inside [start, start + size).
    const at = (row: number, t: number) => ({ x: Math.ceil(box.x + t * cw + (cw - 1) / 2), y: Math.ceil(box.y + row * ch + (ch - 1) / 2) });
    for (const [kind, k, unit, t] of [["f", 3, 5, 10], ["c", 1, 77, shape.chars - 1], ["h", 0, 0, 0]] as [string, number, number, number][]) {
      const p = at(k * 128 + unit, t);
      await page.mouse.move(p.x, p.y);
      const tip = await page.evaluate(() => {
        const e = document.getElementById("tooltip")!;
        return { hidden: e.hidden, text: e.textContent, value: Number(e.dataset.value) };
      });
      const want = await page.evaluate(([kind, unit, t]) => (window as unknown as { __demo: Demo }).__demo.trace!.layers[0].values[kind as string][(t as number) * 128 + (unit as number)], [kind, unit, t]);
      expect(tip.hidden).toBe(false);
      expect(tip.text).toContain(`${kind}[${unit}] at step ${t}`);
      expect(tip.value).toBe(want);
    }
    // Click the row of c[77]: the text is coloured by that unit, one span per character.
    const c77 = at(1 * 128 + 77, 5);
    await page.mouse.click(c77.x, c77.y);
    const unit = await page.evaluate(() => {
      const e = document.getElementById("unit-text")!;
      const t = (window as unknown as { __demo: Demo }).__demo.trace!;
      const spans = Array.from(e.querySelectorAll("span"));
      return {
        kind: e.dataset.kind, unit: e.dataset.unit, n: spans.length,
        same: spans.every((s, i) => Number(s.dataset.v) === t.layers[0].values.c[i * 128 + 77]),
        colours: new Set(spans.map((s) => s.style.background)).size,
      };
    });
    expect(unit).toMatchObject({ kind: "c", unit: "77", n: shape.chars, same: true });
    expect(unit.colours).toBeGreaterThan(5);

    if (process.env.UNFOLD_SCREENSHOT === "1") {
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.screenshot({ path: join(ROOT, "docs", "demo.png"), clip: { x: 0, y: 0, width: 1180, height: 1560 } });
    }

    // The model file: sample with a seed, download, load the file back, sample again with the same seed.
    await page.fill("#seed", "11");
    const sample = async () => {
      await page.evaluate(() => delete (window as unknown as { __demo: Demo }).__demo.manualSample);
      await page.click("#sample");
      await page.waitForFunction(() => (window as unknown as { __demo: Demo }).__demo.manualSample !== undefined);
      return page.evaluate(() => (window as unknown as { __demo: Demo }).__demo.manualSample!);
    };
    const a = await sample();
    const [download] = await Promise.all([page.waitForEvent("download"), page.click("#download")]);
    expect(download.suggestedFilename()).toBe("unfold-demo.unfold");
    const file = await download.path();
    const bytes = readFileSync(file);
    expect(bytes.subarray(0, 8).toString("latin1")).toBe("UNFOLDRN"); // docs/FORMAT.md
    expect(bytes.length).toBeGreaterThan(95_000 * 4); // the weights (and Adam's moments)
    // Train on a little, so that only loading the file can bring the sample back.
    await page.click("#pause");
    await page.waitForFunction((s) => (window as unknown as { __demo: Demo }).__demo.losses.at(-1)![0] > s + 5, (await demo(page)).steps);
    await page.click("#pause");
    await page.waitForFunction(() => {
      const b = document.getElementById("pause") as HTMLButtonElement;
      return b.textContent === "Resume" && !b.disabled; // the worker has stopped: nothing more arrives
    });
    const moved = await sample();
    await page.setInputFiles("#model-file", file);
    await page.waitForFunction(() => (window as unknown as { __demo: Demo }).__demo.loaded === 1 || (window as unknown as { __demo: Demo }).__demo.error);
    expect((await demo(page)).error).toBeNull();
    const b = await sample();
    console.log(`demo: sample with seed 11: ${JSON.stringify(a.slice(0, 60))}…; after 5+ more updates: ${JSON.stringify(moved.slice(0, 60))}…`);
    expect(a.length).toBeGreaterThan(100);
    expect(moved).not.toBe(a);
    expect(b).toBe(a);

    // The temperature slider reaches the worker's sampler.
    await page.$eval("#temperature", (e: HTMLInputElement) => {
      e.value = "0.1";
      e.dispatchEvent(new Event("input"));
    });
    expect(await page.textContent("#temperature-value")).toBe("0.10");
    const cold = await sample();
    expect(await page.evaluate(() => (window as unknown as { __demo: { samples: { temperature: number }[] } }).__demo.samples.at(-1)!.temperature)).toBe(0.1);
    expect(cold).not.toBe(a);

    // A file that is not a model: a clear error, and the model stays.
    await page.setInputFiles("#model-file", { name: "broken.unfold", mimeType: "application/octet-stream", buffer: Buffer.from("UNFOLDRN but not really a model file") });
    await page.waitForFunction(() => (window as unknown as { __demo: Demo }).__demo.error !== null);
    expect((await demo(page)).error).toMatch(/corrupt|truncated|model/i);
    await page.evaluate(() => ((window as unknown as { __demo: Demo }).__demo.error = null));
    expect(await sample()).toBe(cold);

    // Your own text, dropped on the page: a new model learns its alphabet.
    await page.evaluate(() => {
      const dt = new DataTransfer();
      dt.items.add(new File(["abcab cabca bcabc ".repeat(300)], "mine.txt", { type: "text/plain" }));
      document.dispatchEvent(new DragEvent("drop", { dataTransfer: dt, bubbles: true, cancelable: true }));
    });
    await page.waitForFunction(() => (document.getElementById("text") as HTMLTextAreaElement).value.startsWith("abcab cabca"));
    expect(await page.textContent("#text-info")).toBe("5,400 characters, 4 distinct");
    // ... with another cell: a 2-layer GRU, whose unfolded view has h, r, z, n per layer.
    await page.selectOption("#cell", "gru");
    await page.selectOption("#hidden", "32");
    await page.selectOption("#layers", "2");
    await page.click("#train");
    await page.waitForFunction(() => (window as unknown as { __demo: { info: { vocabSize: number } | null } }).__demo.info?.vocabSize === 4);
    await page.waitForFunction(() => (window as unknown as { __demo: Demo }).__demo.trace?.layers.length === 2, undefined, { timeout: 60_000 });
    await page.selectOption("#layer", "1");
    const gru = await page.evaluate(() => {
      const c = document.getElementById("heatmap") as HTMLCanvasElement;
      const t = (window as unknown as { __demo: Demo }).__demo.trace!;
      return { layer: c.dataset.layer, kinds: c.dataset.kinds, width: c.width, height: c.height, chars: t.chars.length, text: t.chars.join("") };
    });
    expect(gru).toMatchObject({ layer: "rnn0.l1", kinds: "h,r,z,n", height: 4 * 32, width: gru.chars });
    expect(gru.text).toMatch(/^[abc ]+$/);
    await page.click("#pause");
    expect(errors).toEqual([]);
    // Last, so that a machine too busy for smooth frames still has every other check run.
    expect(smooth, `no 4-s window of training kept every animation frame gap under 100 ms (longest main-thread task: ${main.cpu.toFixed(1)} ms CPU, ${main.wall.toFixed(0)} ms wall: the rest is waiting for a CPU)`).toBe(true);
  }, 240_000);
});
