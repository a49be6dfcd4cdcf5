#!/usr/bin/env node
// The README's picture of the demo: serve it, train the default model in
// headless Chromium (Debian's /usr/bin/chromium, or CHROMIUM_PATH) for a
// while, pause, choose a unit, and write docs/demo.png.
//
//   npm run build && node examples/browser/screenshot.mjs [seconds=90] [hidden=32]
// (H = 32 keeps the PNG small, about 150 KB: every unit row is four pixels high.)
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
  await page.waitForFunction(() => document.getElementById("pause").textContent === "Resume");
  await page.fill("#seed", "3");
  await page.click("#sample");
  await page.waitForTimeout(1500);
  const s = await page.evaluate(() => ({ steps: window.__demo.losses.at(-1)[0], val: window.__demo.vals.at(-1)[1], sample: window.__demo.samples.at(-1).text }));
  console.log(`trained ${s.steps} updates, validation ${s.val.toFixed(3)} nats/char; sample: ${JSON.stringify(s.sample)}`);
  const file = join(ROOT, "docs", "demo.png");
  await page.screenshot({ path: file, fullPage: true });
  console.log(`wrote ${file}`);
} finally {
  await browser.close();
  await server.close();
}
