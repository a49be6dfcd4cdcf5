#!/usr/bin/env node
// The README's picture of the demo: serve it, train the default model in
// headless Chromium (Debian's /usr/bin/chromium, or CHROMIUM_PATH) for a
// while, pause, sample, unfold the first 80 characters of the sample, and
// write docs/demo.png (down to the unfolded view).
//
//   npm run build && node examples/browser/screenshot.mjs [seconds=90] [hidden=32]
// (H = 32 keeps the PNG small, about 150 KB: every unit row is four pixels high.)
import { statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { startDemoServer } from "./serve.mjs";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const seconds = Number(process.argv[2] ?? 90);
const hidden = process.argv[3] ?? "32";
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
  await page.waitForTimeout(seconds * 1000);
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
  console.log(`trained ${s.steps} updates, validation ${s.val.toFixed(3)} nats/char; sample: ${JSON.stringify(s.sample)}`);
  // Everything down to the unfolded view (the vanishing-gradient panel is left out).
  const bottom = await page.evaluate(() => document.getElementById("unfold-panel").getBoundingClientRect().bottom + scrollY + 12);
  const file = join(ROOT, "docs", "demo.png");
  await page.screenshot({ path: file, fullPage: true, clip: { x: 0, y: 0, width: 1180, height: Math.ceil(bottom) } });
  console.log(`wrote ${file}: ${statSync(file).size} bytes`);
} finally {
  await browser.close();
  await server.close();
}
