// The language-model examples (examples/charlm-sotu.mjs, names.mjs,
// tbptt-vanishing.mjs) run as a user would run them — `node examples/x.mjs`,
// importing the built package by its name — with `--budget ci`. Each asserts
// its own minimum quality and exits non-zero below it, so a regression in
// training quality (not only a crash) fails here.
import { execFile } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

function runExample(file: string, args: string[] = ["--budget", "ci"]): Promise<Run> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [join("examples", file), ...args], { cwd: root, timeout: 60_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : null) : 0;
      resolve({ code, stdout, stderr, seconds: (performance.now() - t0) / 1000 });
    });
  });
}

/** The exit code must be 0; on failure show what the example printed. */
function expectPass(r: Run): void {
  expect(r.code, `exit code ${r.code}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`).toBe(0);
}

/** A number printed after `key=` on the RESULT line. */
function field(out: string, key: string): number {
  const m = new RegExp(`^RESULT .*\\b${key}=(-?[0-9.e+-]+)`, "m").exec(out);
  if (!m) throw new Error(`no ${key}= on the RESULT line of:\n${out}`);
  return Number(m[1]);
}

beforeAll(() => {
  // The examples import "unfold-rnn", which resolves to dist/ and build/unfold.wasm (`npm test` builds them first).
  for (const f of ["dist/index.js", "build/unfold.wasm"]) {
    if (!existsSync(join(root, f))) throw new Error(`${f} is missing: run \`npm run build\` before the example tests`);
  }
});

describe("language-model examples (--budget ci)", () => {
  it("charlm-sotu.mjs: LSTM char LM on State of the Union addresses beats the unigram baseline by >= 10%", async () => {
    const r = await runExample("charlm-sotu.mjs");
    console.log(`charlm-sotu --budget ci: ${r.seconds.toFixed(1)} s`);
    expectPass(r);
    const out = r.stdout;
    expect(out).toMatch(/^data: \d+ State of the Union addresses/m);
    expect(out).toMatch(/^unigram baseline: entropy of the training text [0-9.]+ nats\/char, cross-entropy on validation [0-9.]+/m);
    expect(out).toMatch(/^train loss [0-9.]+ nats\/char \(perplexity [0-9.]+\)/m);
    expect(out).toMatch(/^val loss [0-9.]+ nats\/char = [0-9.]+ bits\/char, perplexity [0-9.]+/m);
    expect(out).toMatch(/^sample 1 \(temperature 0\.8, top-k 10\):\n {2}The state of our Union .{50,}/m);
    expect(out).toMatch(/^RESULT charlm-sotu budget=ci .* PASS$/m);
    expect(field(out, "val_loss")).toBeLessThan(0.9 * field(out, "unigram"));
  });

  it("names.mjs: new first names, held-out loss below the unigram baseline, >= 50% novel and plausible", async () => {
    const r = await runExample("names.mjs");
    console.log(`names --budget ci: ${r.seconds.toFixed(1)} s`);
    expectPass(r);
    const out = r.stdout;
    expect(out).toMatch(/^data: \d+ female \+ \d+ male first names/m);
    expect(out).toMatch(/^unigram baseline: [0-9.]+ nats\/char on the held-out names/m);
    expect(out).toMatch(/^train loss [0-9.]+ nats\/char, held-out loss [0-9.]+ nats\/char/m);
    expect(out).toMatch(/^sampled \d+ names \(temperature 0\.8\): .*novel \(not in the training set\) [0-9.]+%/m);
    expect(out).toMatch(/^new names: [A-Z][a-z]+(, [A-Z][a-z]+){5,}/m);
    expect(out).toMatch(/^RESULT names budget=ci .* PASS$/m);
    expect(field(out, "val_loss")).toBeLessThan(field(out, "unigram"));
    expect(field(out, "novel_plausible")).toBeGreaterThanOrEqual(50);
  });

  it("tbptt-vanishing.mjs: the RNN's gradient vanishes, the LSTM's does not; carrying the state beats resetting it", async () => {
    const svg = join(root, "examples", "out", "vanishing.svg");
    const before = existsSync(svg) ? statSync(svg).mtimeMs : 0;
    const r = await runExample("tbptt-vanishing.mjs");
    console.log(`tbptt-vanishing --budget ci: ${r.seconds.toFixed(1)} s`);
    expectPass(r);
    const out = r.stdout;
    expect(out).toMatch(/^\(a\) vanishing gradients/m);
    expect(out).toMatch(/^ {4}t {3}SimpleRNN \(tanh\)\s+GRU\s+LSTM \(forget bias 1\)/m);
    expect(out).toMatch(/^ {4}0 +[0-9.]+e-\d+ /m);
    expect(out).toMatch(/^plot written to .*vanishing\.svg$/m);
    expect(out).toMatch(/^\(b\) truncated BPTT/m);
    for (const v of ["reset", "carry", "carry k2=10", "full BPTT"]) expect(out).toMatch(new RegExp(`^ {4}${v} +\\d+ +\\d+ +(carry|reset) +\\d+ +\\d+ +[0-9.]+[kM]? +[0-9.]+ +[0-9.]+`, "m"));
    expect(out).toMatch(/^RESULT tbptt-vanishing budget=ci .* PASS$/m);
    expect(field(out, "orders")).toBeGreaterThanOrEqual(6);
    expect(field(out, "carry")).toBeLessThan(field(out, "reset") - 0.1);
    // The hand-built SVG: written by this run, one polyline per cell, log axis labels.
    expect(statSync(svg).mtimeMs).toBeGreaterThan(before);
    const text = readFileSync(svg, "utf8");
    expect(text.startsWith("<svg xmlns=\"http://www.w3.org/2000/svg\"")).toBe(true);
    expect(text.match(/<polyline /g)).toHaveLength(3);
    expect(text).toContain("SimpleRNN (tanh)");
    expect(text).toContain("LSTM (forget bias 1)");
  });

  it("a bad --budget is refused with exit code 2", async () => {
    const r = await runExample("names.mjs", ["--budget", "huge"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--budget must be ci or full/);
  });
});
