// The `unfold` command, run as a user runs it: the built CLI
// (node dist/cli/main.js, built by `npm test`'s pretest) in a child process
// on a tiny corpus. Then the installed-package path: `npm pack`, install the
// tarball into an empty project, and run `npx unfold` there.
import { execFile, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Sequential } from "../src/model/sequential.js";
import { loadModelFile } from "../src/node.js";
import { loadKernels } from "./helpers.js";

const ROOT = resolve(__dirname, "..");
const MAIN = join(ROOT, "dist", "cli", "main.js");
let dir: string;
let corpus: string;

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run `node dist/cli/main.js ...args` (or another command) in `cwd`. */
function run(args: string[], opts: { cwd?: string; cmd?: string[] } = {}): Promise<Result> {
  const [file, ...pre] = opts.cmd ?? [process.execPath, MAIN];
  return new Promise((res) => {
    execFile(file, [...pre, ...args], { cwd: opts.cwd ?? dir, maxBuffer: 1 << 24, env: { ...process.env, NO_COLOR: "1" } }, (err, stdout, stderr) => {
      // err.code is the exit status (a number) when the process ran and failed.
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? ((err as { code?: unknown }).code as number) : 1) : 0;
      res({ code, stdout, stderr });
    });
  });
}

/** A small model trains in well under a second on the tiny corpus. */
const SMALL = ["--hidden", "24", "--layers", "1", "--embedding", "8", "--seq", "16", "--batch", "4", "--log-every", "0"];

beforeAll(async () => {
  await loadKernels();
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first (npm test does)`);
  dir = mkdtempSync(join(tmpdir(), "unfold-cli-"));
  corpus = join(dir, "tiny.txt");
  writeFileSync(corpus, readFileSync(join(ROOT, "corpus", "sotu.txt"), "utf8").slice(0, 6000));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A user-facing error: exactly one line on stderr, starting "unfold: ", and a non-zero exit. */
function expectOneLineError(r: Result, pattern: RegExp): void {
  expect(r.code).not.toBe(0);
  const lines = r.stderr.split("\n").filter((l) => l.length > 0);
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^unfold: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
}

describe("unfold train / info / sample", () => {
  it("trains on a corpus: model file and loss-curve report written", async () => {
    const r = await run(["train", corpus, ...SMALL, "--steps", "12", "--sample-every", "6", "--checkpoint-every", "6", "--out", "m.unfold"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/unigram \(character frequencies\): loss \d\.\d+ nats\/char/);
    expect(r.stdout).toMatch(/--- sample at step 6/);
    expect(r.stdout).toMatch(/checkpoint: step 6, val loss \d/);
    expect(r.stdout).toMatch(/model saved to m\.unfold/);
    const svg = readFileSync(join(dir, "m.unfold.svg"), "utf8");
    expect(svg).toMatch(/^<svg /);
    expect(svg).toContain("step (parameter update)");
    expect(svg).toContain("loss (cross-entropy, nats per character)");
    expect(svg).toContain("unigram baseline");
    expect(svg.match(/<circle /g)!.length).toBeGreaterThanOrEqual(3); // validation at steps 6 and 12 (+ legend)
    const { model, vocab, meta } = await loadModelFile(join(dir, "m.unfold"));
    expect(model.trainState.history.steps).toBe(12);
    expect(vocab!.level).toBe("char");
    expect((meta as { cli: { hidden: number } }).cli.hidden).toBe(24);
    expect((meta as { curve: { train: number[] } }).curve.train).toHaveLength(12);
    model.dispose();
  });

  it("info describes the model, its vocabulary and its training", async () => {
    const r = await run(["info", "m.unfold"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/model\s+LSTM, 1 layer x 24 hidden, embedding 8/);
    expect(r.stdout).toMatch(/parameters\s+[\d,]+/);
    expect(r.stdout).toMatch(/vocabulary\s+\d+ characters, most frequent first: ␣ e/);
    expect(r.stdout).toMatch(/training\s+12 steps/);
    expect(r.stdout).toMatch(/last loss\s+train \d\.\d+.*validation \d\.\d+ \(ppl [\d.]+\) at step 12; unigram baseline/);
  });

  it("sample continues a prime; the same seed gives the same text", async () => {
    const a = await run(["sample", "m.unfold", "--prime", "The ", "--length", "80", "--seed", "7", "--top-k", "10"]);
    const b = await run(["sample", "m.unfold", "--prime", "The ", "--length", "80", "--seed", "7", "--top-k", "10"]);
    expect(a.code).toBe(0);
    expect(a.stdout.startsWith("The ")).toBe(true);
    expect([...a.stdout].length).toBe(4 + 80 + 1);
    expect(b.stdout).toBe(a.stdout);
    const greedy = await run(["sample", "m.unfold", "--length", "20", "--temperature", "0", "--top-p", "0.9"]);
    expect(greedy.code).toBe(0);
  });

  it("quantize writes an int8 (and an f16) file that info, sample, eval and loadModel read; --resume of int8 is refused", async () => {
    const r = await run(["quantize", "m.unfold"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^m\.int8\.unfold: LSTM, 1 layer x 24 hidden, embedding 8, int8 weights \(one scale per row\), [\d.]+ kB: [\d.]+x smaller than its f32 weights/);
    const h = await run(["quantize", "m.unfold", "--to", "f16", "--out", "half.unfold"]);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(/^half\.unfold: .* f16 weights/);
    const info = await run(["info", "m.int8.unfold"]);
    expect(info.code).toBe(0);
    expect(info.stdout).toMatch(/weights\s+int8, one f32 scale per output row/);
    expect(info.stdout).toMatch(/training\s+12 steps/);
    const a = await run(["sample", "m.int8.unfold", "--prime", "The ", "--length", "60", "--seed", "3"]);
    const b = await run(["sample", "m.int8.unfold", "--prime", "The ", "--length", "60", "--seed", "3"]);
    expect(a.code).toBe(0);
    expect([...a.stdout].length).toBe(4 + 60 + 1);
    expect(b.stdout).toBe(a.stdout);
    const e8 = await run(["eval", "m.int8.unfold", corpus, "--log-every", "0"]);
    const e32 = await run(["eval", "m.unfold", corpus, "--log-every", "0"]);
    expect(e8.code).toBe(0);
    const loss = (out: string) => Number(/(\d+\.\d+) nats\/char/.exec(out)?.[1]);
    expect(Math.abs(loss(e8.stdout) - loss(e32.stdout)) / loss(e32.stdout)).toBeLessThan(0.01);
    const { model } = await loadModelFile(join(dir, "m.int8.unfold"));
    const { isQuantized } = await import("../src/model/quantize.js");
    expect(isQuantized(model)).toBe(true);
    model.dispose();
    const half = await loadModelFile(join(dir, "half.unfold"));
    expect(half.model).toBeInstanceOf(Sequential);
    half.model.dispose();
    expectOneLineError(await run(["train", "--resume", "m.int8.unfold", "--steps", "2"]), /quantized \(int8\) model .*dequantize/);
    expectOneLineError(await run(["quantize", "m.int8.unfold"]), /already an int8 model/);
    // train --weights f16: checkpoints with f16 weights (and no optimizer state), half the f32 weights' bytes.
    const t16 = await run(["train", corpus, ...SMALL, "--steps", "3", "--sample-every", "0", "--weights", "f16", "--out", "t16.unfold"]);
    expect(t16.code).toBe(0);
    const { decodeModel } = await import("../src/io/format.js");
    const file = decodeModel(readFileSync(join(dir, "t16.unfold")));
    const params = file.tensors.filter((t) => t.name.startsWith("param/"));
    expect(params.length).toBeGreaterThan(0);
    expect(params.every((t) => t.dtype === "f16")).toBe(true);
    expect(file.tensors.some((t) => t.name.startsWith("optim/"))).toBe(false);
    expect((await run(["sample", "t16.unfold", "--length", "10", "--seed", "1"])).code).toBe(0);
  });

  it("resume continues the step count, and is exactly the uninterrupted run", async () => {
    const straight = await run(["train", corpus, ...SMALL, "--steps", "10", "--sample-every", "0", "--out", "straight.unfold"]);
    expect(straight.code).toBe(0);
    const first = await run(["train", corpus, ...SMALL, "--steps", "6", "--sample-every", "4", "--out", "cut.unfold"]);
    expect(first.code).toBe(0);
    // Architecture and training flags come from the model file.
    const rest = await run(["train", corpus, "--resume", "cut.unfold", "--steps", "4", "--log-every", "0"]);
    expect(rest.stderr).toBe("");
    expect(rest.code).toBe(0);
    expect(rest.stdout).toMatch(/resuming\s+cut\.unfold at step 6/);
    const a = await loadModelFile(join(dir, "straight.unfold"));
    const b = await loadModelFile(join(dir, "cut.unfold"));
    expect(b.model.trainState.history.steps).toBe(10);
    expect(b.model.trainState.streamPosition).toBe(a.model.trainState.streamPosition);
    expect((b.model as Sequential).stateDict()).toEqual((a.model as Sequential).stateDict());
    // One history entry per epoch, not one per segment.
    expect(b.model.trainState.history.epochs.length).toBe(a.model.trainState.history.epochs.length);
    const info = await run(["info", "cut.unfold"]);
    expect(info.stdout).toMatch(/training\s+10 steps/);
    a.model.dispose();
    b.model.dispose();
  });

  it("--threads 2 trains bit-identically to one thread (or falls back to one thread with a note)", async () => {
    const one = await run(["train", corpus, ...SMALL, "--hidden", "64", "--steps", "4", "--sample-every", "0", "--out", "th1.unfold"]);
    const two = await run(["train", corpus, ...SMALL, "--hidden", "64", "--steps", "4", "--sample-every", "0", "--threads", "2", "--out", "th2.unfold"]);
    expect(one.code).toBe(0);
    expect(two.code, two.stderr).toBe(0);
    expect(two.stderr).toMatch(/^(|unfold: note: running on 1 thread .*\n)$/);
    const a = await loadModelFile(join(dir, "th1.unfold"));
    const b = await loadModelFile(join(dir, "th2.unfold"));
    expect((b.model as Sequential).stateDict()).toEqual((a.model as Sequential).stateDict());
    a.model.dispose();
    b.model.dispose();
  });

  it("--epochs and --time stop training; with no corpus the bundled one is used", async () => {
    const ep = await run(["train", corpus, ...SMALL, "--epochs", "1", "--sample-every", "0", "--out", "ep.unfold"]);
    expect(ep.code).toBe(0);
    const steps = Number(/(\d+) steps per epoch/.exec(ep.stdout)![1]);
    expect(ep.stdout).toContain(`trained ${steps} steps`);
    const t = await run(["train", corpus, ...SMALL, "--time", "1s", "--sample-every", "0", "--out", "t.unfold"]);
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/stopped at the time limit/);
    const def = await run(["train", "--steps", "1", "--hidden", "8", "--layers", "1", "--embedding", "4", "--seq", "8", "--batch", "4", "--sample-every", "0", "--val-fraction", "0.01", "--out", "def.unfold"]);
    expect(def.stderr).toBe("");
    expect(def.stdout).toMatch(/sotu\.txt \(default corpus\): 1,5\d\d,\d{3} characters/);
  });

  it("SIGINT stops after the current step and writes a valid checkpoint (exit 130)", async () => {
    const child = spawn(process.execPath, [MAIN, "train", corpus, "--hidden", "64", "--layers", "1", "--seq", "32", "--batch", "8", "--time", "60s", "--log-every", "0", "--sample-every", "0", "--checkpoint-every", "0", "--out", "int.unfold"], { cwd: dir });
    let stdout = "";
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const started = new Promise<void>((res) => {
      child.stdout.on("data", (d) => {
        stdout += d;
        if (/step \d+ \|/.test(stdout)) res();
      });
    });
    await started;
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    child.kill("SIGINT");
    const code = await new Promise<number | null>((res) => child.on("exit", (c) => res(c)));
    expect(stderr).toBe("");
    expect(code).toBe(130);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(stdout).toMatch(/interrupted at step (\d+): checkpoint written to int\.unfold/);
    const n = Number(/interrupted at step (\d+)/.exec(stdout)![1]);
    expect(n).toBeGreaterThan(0);
    const { model } = await loadModelFile(join(dir, "int.unfold"));
    expect(model.trainState.history.steps).toBe(n);
    model.dispose();
    const resumed = await run(["train", corpus, "--resume", "int.unfold", "--steps", "2", "--log-every", "0", "--sample-every", "0"]);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toContain(`resuming   int.unfold at step ${n}`);
  });
});

describe("unfold: errors a user can hit are one clear line", () => {
  it("missing, empty, binary and non-UTF-8 corpus", async () => {
    expectOneLineError(await run(["train", "nope.txt", "--steps", "1"]), /no such corpus file: nope\.txt/);
    writeFileSync(join(dir, "empty.txt"), "");
    expectOneLineError(await run(["train", "empty.txt", "--steps", "1"]), /empty/);
    writeFileSync(join(dir, "bin.dat"), Buffer.from([0x55, 0x4e, 0x00, 0x01, 0x02, 0x41]));
    expectOneLineError(await run(["train", "bin.dat", "--steps", "1"]), /binary file \(a NUL byte at offset 2\)/);
    writeFileSync(join(dir, "latin1.txt"), Buffer.from("caf\xe9 au lait", "latin1"));
    expectOneLineError(await run(["train", "latin1.txt", "--steps", "1"]), /not valid UTF-8 text \(first bad byte at offset 3\)/);
  });

  it("missing and corrupt model files", async () => {
    expectOneLineError(await run(["info", "nope.unfold"]), /no such model file: nope\.unfold/);
    expectOneLineError(await run(["sample", "nope.unfold"]), /no such model file/);
    const bytes = readFileSync(join(dir, "m.unfold"));
    writeFileSync(join(dir, "truncated.unfold"), bytes.subarray(0, bytes.length >> 1));
    expectOneLineError(await run(["info", "truncated.unfold"]), /cannot load model truncated\.unfold: /);
    writeFileSync(join(dir, "text.unfold"), "just some text, not a model\n");
    expectOneLineError(await run(["sample", "text.unfold"]), /cannot load model text\.unfold: /);
  });

  it("unknown options, commands and bad values", async () => {
    expectOneLineError(await run(["train", corpus, "--hiden", "8"]), /unknown option '--hiden'/);
    expectOneLineError(await run(["trian"]), /unknown command 'trian'/);
    expectOneLineError(await run(["train", corpus, "--hidden", "-3"]), /--hidden/);
    expectOneLineError(await run(["train", corpus, "--time", "soon"]), /duration/);
    expectOneLineError(await run(["train", corpus, "--model", "transformer"]), /lstm, gru, rnn/);
    expectOneLineError(await run(["sample", "m.unfold", "--top-p", "1.5"]), /--top-p/);
  });

  it("a prime with a character outside the vocabulary names the character", async () => {
    expectOneLineError(await run(["sample", "m.unfold", "--prime", "The ~"]), /--prime has the character "~" \(U\+007E\) that is not in the model's vocabulary/);
  });

  it("--resume on another vocabulary, or with conflicting architecture flags, is refused", async () => {
    writeFileSync(join(dir, "other.txt"), "Ein ganz anderer Text: Grüße aus Köln! ".repeat(20));
    expectOneLineError(await run(["train", "other.txt", "--resume", "m.unfold", "--steps", "1"]), /"ü" \(U\+00FC\).*not in the model's vocabulary of m\.unfold/);
    expectOneLineError(await run(["train", corpus, "--resume", "m.unfold", "--hidden", "32", "--steps", "1"]), /--hidden 32 conflicts with the model being resumed \(m\.unfold has hidden 24\)/);
    expectOneLineError(await run(["train", corpus, "--resume", "m.unfold", "--model", "gru", "--steps", "1"]), /--model gru conflicts/);
  });
});

describe("the installed package (npm pack, npm install, npx unfold)", () => {
  it("npx unfold info / sample / train / bench work from an installed tarball", async () => {
    const pack = join(dir, "pack");
    const proj = join(dir, "proj");
    mkdirSync(pack);
    mkdirSync(proj);
    // The build is fresh (pretest), so skip prepack's rebuild.
    const p = await run(["pack", "--ignore-scripts", "--pack-destination", pack, "--json"], { cmd: ["npm"], cwd: ROOT });
    expect(p.code, p.stderr).toBe(0);
    const tgz = join(pack, (JSON.parse(p.stdout) as { filename: string }[])[0].filename);
    const files = (JSON.parse(p.stdout) as { files: { path: string }[] }[])[0].files.map((f) => f.path);
    expect(files).toEqual(expect.arrayContaining(["dist/cli/main.js", "corpus/sotu.txt", "corpus/README.md", "build/unfold.wasm"]));
    writeFileSync(join(proj, "package.json"), JSON.stringify({ name: "proj", version: "1.0.0", private: true }));
    const inst = await run(["install", tgz, "--prefer-offline", "--no-audit", "--no-fund"], { cmd: ["npm"], cwd: proj });
    expect(inst.code, inst.stderr).toBe(0);
    copyFileSync(join(dir, "m.unfold"), join(proj, "m.unfold"));
    const npx = ["npx", "--no-install", "unfold"];
    const info = await run(["info", "m.unfold"], { cmd: npx, cwd: proj });
    expect(info.stderr).toBe("");
    expect(info.stdout).toMatch(/LSTM, 1 layer x 24 hidden/);
    const sample = await run(["sample", "m.unfold", "--length", "30", "--seed", "1"], { cmd: npx, cwd: proj });
    expect(sample.code).toBe(0);
    expect(sample.stdout.length).toBeGreaterThan(30);
    copyFileSync(corpus, join(proj, "tiny.txt"));
    const tr = await run(["train", "tiny.txt", ...SMALL, "--steps", "2", "--out", "p.unfold"], { cmd: npx, cwd: proj });
    expect(tr.stderr).toBe("");
    expect(tr.code).toBe(0);
    expect(existsSync(join(proj, "p.unfold"))).toBe(true);
    expect(existsSync(join(proj, "p.unfold.svg"))).toBe(true);
    // The bundled corpus resolves inside the installed package.
    const def = await run(["train", "--steps", "1", "--hidden", "8", "--layers", "1", "--embedding", "4", "--seq", "8", "--batch", "4", "--sample-every", "0", "--val-fraction", "0.01", "--out", "d.unfold"], { cmd: npx, cwd: proj });
    expect(def.stderr).toBe("");
    expect(def.stdout).toContain("(default corpus)");
    const bench = await run(["bench", "--quick"], { cmd: npx, cwd: proj });
    expect(bench.code).toBe(0);
    expect(bench.stdout).toMatch(/only in a source checkout/);
    expect(bench.stdout).toMatch(/W1 LSTM forward .* ms\s+[\d.]+ GFLOP\/s/);
  });
});
