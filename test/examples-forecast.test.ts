// examples/forecast.mjs (time-series forecasting on Mauna Loa CO2) as a user
// runs it, `node examples/forecast.mjs --budget ci`: it must exit 0 and beat
// the seasonal-naive forecast by its asserted margin. Then the benchmark of
// issue 18 on its CI subset (examples/forecast-benchmark.mjs --budget ci: the
// seasonal-naive bars and the ensemble's mean-MASE bars against R's ets and
// auto.arima), and forecast.mjs --series (the recipe on one series, plotted).
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("..", import.meta.url));
const built = existsSync(`${root}dist/index.js`) && existsSync(`${root}build/unfold.wasm`);

function run(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd: root, timeout: 90_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, out: stdout + stderr });
    });
  });
}

function result(out: string, tag: string): Record<string, string> {
  const line = out.split("\n").find((l) => l.startsWith(`RESULT ${tag} `));
  expect(line, out).toBeDefined();
  return Object.fromEntries(line!.split(" ").slice(2).map((w) => w.split("=")));
}

describe.skipIf(!built)("examples/forecast.mjs (--budget ci)", () => {
  it("forecasts 24 held-out months of CO2 at least 30% better (MAE) than seasonal naive", async () => {
    const r = await new Promise<{ code: number; out: string }>((resolve) => {
      execFile(process.execPath, ["examples/forecast.mjs", "--budget", "ci"], { cwd: root, timeout: 90_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, out: stdout + stderr });
      });
    });
    expect(r.code, r.out).toBe(0);
    const line = r.out.split("\n").find((l) => l.startsWith("RESULT forecast "));
    expect(line, r.out).toBeDefined();
    const f = Object.fromEntries(line!.split(" ").slice(2).map((w) => w.replace(">=", "=").split("=")));
    expect(f.budget).toBe("ci");
    const mae = parseFloat(f.mae), naive = parseFloat(f.naive_mae);
    expect(mae).toBeLessThan(naive * (1 - parseFloat(f.required) / 100));
    expect(existsSync(`${root}examples/out/forecast.svg`)).toBe(true);
    expect(r.out.trimEnd().endsWith("PASS")).toBe(true);
  });

  it("the benchmark's CI subset: the recipe beats seasonal naive on >= 80% of the series, never worse than 1.5x; mean MASE <= ets and <= auto.arima x 1.05", async () => {
    const r = await run(["examples/forecast-benchmark.mjs", "--budget", "ci"]);
    expect(r.code, r.out).toBe(0);
    const f = result(r.out, "forecast-benchmark");
    const n = Number(f.series), beats = Number(f.beats_snaive);
    expect(n).toBeGreaterThanOrEqual(8);
    expect(beats).toBeGreaterThanOrEqual(0.8 * n);
    expect(Number(f.worst_ratio)).toBeLessThanOrEqual(1.5);
    expect(Number(f.mean_mase)).toBeLessThanOrEqual(Number(f.ets_mase));
    expect(Number(f.mean_mase)).toBeLessThanOrEqual(1.05 * Number(f.arima_mase));
    // the global model ran on the same series and gave finite forecasts
    expect(Number.isFinite(Number(f.global_mase))).toBe(true);
    expect(Number(f.cover80)).toBeGreaterThan(0.5);
    expect(r.out.trimEnd().endsWith("PASS")).toBe(true);
  });

  it("--series NAME: the recipe on one benchmark series, an SVG of history, holdout, forecast and interval", async () => {
    const r = await run(["examples/forecast.mjs", "--series", "UKgas", "--budget", "ci"]);
    expect(r.code, r.out).toBe(0);
    const f = result(r.out, "forecast-series");
    expect(f.name).toBe("UKgas");
    expect(Number(f.mase)).toBeLessThan(Number(f.snaive_mase));
    const svg = readFileSync(`${root}examples/out/forecast-UKgas.svg`, "utf8");
    for (const label of ["history", "held out (truth)", "seasonal naive", "forecast", "80% interval"]) expect(svg).toContain(label);
    expect((await run(["examples/forecast.mjs", "--series", "nope"])).code).toBe(2);
  });
});
