// examples/forecast.mjs (time-series forecasting on Mauna Loa CO2) as a user
// runs it, `node examples/forecast.mjs --budget ci`: it must exit 0 and beat
// the seasonal-naive forecast by its asserted margin.
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("..", import.meta.url));
const built = existsSync(`${root}dist/index.js`) && existsSync(`${root}build/unfold.wasm`);

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
});
