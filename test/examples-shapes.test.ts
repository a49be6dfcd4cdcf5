// The lecture's input/output shapes on real data (examples/*.mjs): each
// example runs as a user would run it, `node examples/x.mjs --budget ci`,
// in a child process, and must exit 0 and print its summary. The examples
// import the package by its own name ("unfold-rnn" -> dist/), so they need
// `npm run build` first (the pretest script does it).
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("..", import.meta.url));
const built = existsSync(`${root}dist/index.js`) && existsSync(`${root}build/unfold.wasm`);

function run(script: string, extra: string[] = []): Promise<{ code: number; stdout: string; stderr: string; seconds: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [`examples/${script}`, ...extra, "--budget", "ci"], { cwd: root, timeout: 60_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
      resolve({ code, stdout, stderr, seconds: (performance.now() - t0) / 1000 });
    });
  });
}

/** The RESULT line's key=value fields ("required>=92%" is key "required", value "92%"). */
function result(stdout: string, name: string): Record<string, string> {
  const line = stdout.split("\n").find((l) => l.startsWith(`RESULT ${name} `));
  expect(line, `no RESULT line in:\n${stdout}`).toBeDefined();
  const fields: Record<string, string> = {};
  for (const w of line!.split(" ")) {
    const i = w.indexOf("=");
    if (i > 0) fields[w.slice(0, i).replace(/[<>]$/, "")] = w.slice(i + 1);
  }
  return fields;
}

const pct = (s: string) => parseFloat(s.replace(/[%<>=]/g, ""));

describe.skipIf(!built)("examples: the lecture's shapes on real data (--budget ci)", () => {
  it("spam.mjs: many-to-one spam/ham beats the majority baseline", async () => {
    const r = await run("spam.mjs");
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^spam \(many-to-one\), budget ci:/m);
    const f = result(r.stdout, "spam");
    expect(f.budget).toBe("ci");
    expect(pct(f.accuracy)).toBeGreaterThanOrEqual(pct(f.required));
    expect(pct(f.accuracy)).toBeGreaterThan(pct(f.baseline));
    expect(r.stdout.trimEnd().endsWith("PASS")).toBe(true);
  });

  it("mnist-caption.mjs: one-to-many image -> digit name", async () => {
    const r = await run("mnist-caption.mjs");
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^mnist-caption \(one-to-many\), budget ci:/m);
    const f = result(r.stdout, "mnist-caption");
    expect(f.budget).toBe("ci");
    expect(pct(f.exact_greedy)).toBeGreaterThanOrEqual(pct(f.required));
    expect(r.stdout).toMatch(/7->"seven"/);
    expect(r.stdout.trimEnd().endsWith("PASS")).toBe(true);
  });

  it("cmudict.mjs: encoder-decoder spelling -> phonemes beats the baseline PER", async () => {
    const r = await run("cmudict.mjs");
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^baseline \(letter -> most frequent phoneme by position\): PER/m);
    const f = result(r.stdout, "cmudict");
    expect(f.budget).toBe("ci");
    expect(pct(f.per_greedy)).toBeLessThan(pct(f.baseline_per));
    expect(pct(f.per_beam4)).toBeLessThan(pct(f.baseline_per));
    expect(pct(f.per_greedy)).toBeLessThanOrEqual(pct(f.required));
    expect(r.stdout.trimEnd().endsWith("PASS")).toBe(true);
  });

  it("cmudict.mjs --attention: attention (bidirectional encoder) gets PER <= 30% and writes the alignment heatmap", async () => {
    const r = await run("cmudict.mjs", ["--attention"]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const f = result(r.stdout, "cmudict-attention");
    expect(f.budget).toBe("ci");
    expect(pct(f.per_greedy)).toBeLessThanOrEqual(30);
    expect(pct(f.per_greedy)).toBeLessThan(pct(f.baseline_per));
    expect(pct(f.per_beam4)).toBeLessThan(pct(f.baseline_per));
    expect(r.stdout).toMatch(/attention heatmaps of .* written to .*cmudict-attention\.svg/);
    const svg = readFileSync(`${root}examples/out/cmudict-attention.svg`, "utf8");
    expect(svg.startsWith("<svg")).toBe(true);
    expect(svg).toContain("&lt;/s&gt;"); // the end token, escaped: the file is well-formed XML
    expect((svg.match(/<rect [^>]*><title>/g) ?? []).length).toBeGreaterThan(40); // one cell per (phoneme, letter)
    expect(r.stdout.trimEnd().endsWith("PASS")).toBe(true);
  });
});
