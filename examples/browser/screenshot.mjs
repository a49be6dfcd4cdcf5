#!/usr/bin/env node
// The README's picture of the demo, and the two-minute check of its defaults:
// serve it, train the default model (LSTM 1 x 128, learning rate 0.01, the
// default text) in headless Chromium (Debian's /usr/bin/chromium, or
// CHROMIUM_PATH) for two minutes, pause, sample, unfold the first 80
// characters of the sample, and write docs/demo.png (down to the unfolded view).
// It prints the validation loss at one and two minutes and the share of the
// sampled words that occur in the text, and exits 1 unless the validation
// curve still falls in the second minute and most sampled words are real.
// (Not in npm test: two minutes is too much of the suite's budget.)
//
//   npm run build && node examples/browser/screenshot.mjs [seconds=120] [hidden=128]
import { statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { startDemoServer } from "./serve.mjs";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const seconds = Number(process.argv[2] ?? 120);
const hidden = process.argv[3] ?? "128";
const server = await startDemoServer();
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage({ viewport: { width: 1180, height: 1000 } });
  await page.goto(server.demoUrl);
  await page.waitForFunction(() => window.__demo.ready || window.__demo.error, undefined, { timeout: 60_000 });
  await page.selectOption("#hidden", hidden);
  await page.click("#train");
  const t0 = Date.now();
  await page.waitForTimeout((seconds * 1000) / 2);
  const half = await page.evaluate(() => ({ steps: window.__demo.losses.at(-1)[0], vals: window.__demo.vals.map((p) => p[1]) }));
  await page.waitForTimeout(Math.max(0, seconds * 1000 - (Date.now() - t0)));
  await page.click("#pause");
  await page.waitForFunction(() => document.getElementById("pause").textContent === "Resume" && !document.getElementById("pause").disabled);
  await page.fill("#seed", "3");
  await page.click("#sample");
  await page.waitForFunction(() => window.__demo.manualSample !== undefined);
  // The unfolded view of the first 80 characters of that sample (fewer columns: a smaller PNG).
  const s = await page.evaluate(() => ({ steps: window.__demo.losses.at(-1)[0], val: window.__demo.vals.at(-1)[1], sample: window.__demo.manualSample }));
  await page.fill("#unfold-text", [...s.sample].slice(0, 80).join(""));
  await page.click("#unfold");
  await page.waitForFunction((n) => window.__demo.trace?.steps === n, [...s.sample].slice(0, 80).length);
  await page.waitForTimeout(500);
  const vals = await page.evaluate(() => window.__demo.vals.map((p) => p[1]));
  const text = await page.inputValue("#text");
  const known = new Set(text.toLowerCase().match(/[a-z]+/g));
  const words = (s.sample.toLowerCase().match(/[a-z]+/g) ?? []).slice(1, -1); // the prime's word and a cut-off last word out
  const real = words.filter((w) => known.has(w)).length / words.length;
  const bestHalf = Math.min(...half.vals);
  const best = Math.min(...vals);
  console.log(
    `trained ${s.steps} updates in ${seconds} s (${half.steps} at ${seconds / 2} s); validation ${vals[0].toFixed(3)} -> ${bestHalf.toFixed(3)} (best at ${seconds / 2} s) -> ${s.val.toFixed(3)} (last; best ${best.toFixed(3)}) nats/char; ` +
      `${(100 * real).toFixed(0)}% of ${words.length} sampled words occur in the text; sample: ${JSON.stringify(s.sample)}`,
  );
  if (!(best < bestHalf && s.val < bestHalf + 0.02)) {
    console.error("the validation curve did not fall in the second half");
    process.exitCode = 1;
  }
  if (!(real > 0.6)) {
    console.error("the sample is not mostly real words");
    process.exitCode = 1;
  }
  // Everything down to the unfolded view (the vanishing-gradient panel is left out).
  const bottom = await page.evaluate(() => document.getElementById("unfold-panel").getBoundingClientRect().bottom + scrollY + 12);
  const file = join(ROOT, "docs", "demo.png");
  await page.screenshot({ path: file, fullPage: true, clip: { x: 0, y: 0, width: 1180, height: Math.ceil(bottom) } });
  console.log(`wrote ${file}: ${statSync(file).size} bytes`);
} finally {
  await browser.close();
  await server.close();
}
