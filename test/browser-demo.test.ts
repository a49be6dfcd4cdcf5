// The browser demo page (examples/browser/) in headless Chromium: it trains a
// char LSTM with fitAsync while the page keeps running timers, generates text,
// and plots the vanishing gradient. Skipped only when Chromium is missing
// (CI installs it; under CI=true a missing Chromium fails).
import { join } from "node:path";
import { chromium } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { findChromium, ROOT, serve, type StaticServer } from "./runtimes/harness.js";

const bin = findChromium();
const ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
let server: StaticServer | null = null;

afterAll(async () => {
  await server?.close();
});

describe("browser demo page", () => {
  const need = bin || process.env.CI === "true";
  it.skipIf(!need)("trains, samples and plots in a real browser", async () => {
    expect(bin, "Chromium not found: apt-get install -y chromium").toBeTruthy();
    server = await serve({ "/examples/browser/": join(ROOT, "examples", "browser", "index.html") }, { "/": ROOT });
    const browser = await chromium.launch({ executablePath: bin!.path, args: ARGS, timeout: 30_000 });
    try {
      const page = await browser.newPage({ viewport: { width: 900, height: 900 } });
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(`${server.url}/examples/browser/?autostart&epochs=25`);
      await page.waitForFunction(() => (window as unknown as { __demo?: unknown }).__demo !== undefined, undefined, { timeout: 90_000 });
      const r = await page.evaluate(() => (window as unknown as { __demo: Record<string, number | string> }).__demo);
      expect(errors).toEqual([]);
      expect(r.error).toBeUndefined();
      console.log(`browser demo: loss ${(r.firstLoss as number).toFixed(3)} -> ${(r.lastLoss as number).toFixed(3)} (unigram ${(r.unigram as number).toFixed(3)}), ${r.steps} steps, ${r.ticks} timer ticks; vanishing: rnn ${(r.rnn0 as number).toExponential(1)}, lstm ${(r.lstm0 as number).toExponential(1)}`);
      expect(r.lastLoss as number).toBeLessThan((r.unigram as number) * 0.5);
      expect(r.ticks as number).toBeGreaterThan(10); // the page kept running while training
      expect((r.sample as string).length).toBeGreaterThan(150);
      expect(r.rnn0 as number).toBeLessThan((r.lstm0 as number) * 1e-6);
      // Both plots were drawn.
      expect(await page.locator("#loss path").count()).toBe(1);
      expect(await page.locator("#vanish path").count()).toBe(2);
      await page.screenshot({ path: join(process.env.TMPDIR ?? "/tmp", "unfold-browser-demo.png"), fullPage: true });
    } finally {
      await browser.close();
    }
  }, 120_000);
});
