// Runs that last hours (issue 12), run as a user runs them: the built CLI in
// a child process on a small corpus with a tiny model. Checkpoints by steps
// and by time, the last k kept plus the best, the learning-rate plan (warm-up
// then cosine) resumed from the middle to the very same weights, early stop,
// the fixed validation subset, `unfold eval`, a corpus that changes under a
// run, and a checkpoint write that fails (the kernel's file size limit).
import { execFile, spawn } from "node:child_process";
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Sequential } from "../src/model/sequential.js";
import { loadModelFile } from "../src/node.js";
import { charCount, stepsOrDuration } from "../src/cli/common.js";
import { heldOutCut, loadCorpus, validationSubset } from "../src/cli/corpus.js";
import { planFactor } from "../src/cli/train.js";
import type { CliMeta } from "../src/cli/model-file.js";
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

function run(args: string[], shell?: string): Promise<Result> {
  const [file, argv] = shell ? ["bash", ["-c", `${shell}; exec "$0" "$@"`, process.execPath, MAIN, ...args]] : [process.execPath, [MAIN, ...args]];
  return new Promise((res) => {
    execFile(file, argv, { cwd: dir, maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === "number" ? ((err as { code?: unknown }).code as number) : 1) : 0;
      res({ code, stdout, stderr });
    });
  });
}

const SMALL = ["--hidden", "24", "--layers", "1", "--embedding", "8", "--seq", "16", "--batch", "4", "--log-every", "0", "--sample-every", "0", "--threads", "1"];

async function load(name: string) {
  const { model, meta } = await loadModelFile(join(dir, name));
  return { model: model as Sequential, meta: meta as unknown as CliMeta };
}

beforeAll(async () => {
  await loadKernels();
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first (npm test does)`);
  dir = mkdtempSync(join(tmpdir(), "unfold-longrun-"));
  corpus = join(dir, "text.txt");
  writeFileSync(corpus, readFileSync(join(ROOT, "corpus", "sotu.txt"), "utf8").slice(0, 40_000));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("long-run options: parsing and the schedule", () => {
  it("--checkpoint-every takes steps or a duration; --val-chars takes k / M / all", () => {
    expect(stepsOrDuration("200")).toEqual({ steps: 200 });
    expect(stepsOrDuration("10m")).toEqual({ seconds: 600 });
    expect(stepsOrDuration("90s")).toEqual({ seconds: 90 });
    expect(stepsOrDuration("1.5h")).toEqual({ seconds: 5400 });
    expect(stepsOrDuration("0")).toEqual({ steps: 0 });
    for (const bad of ["10x", "-5", "m", ""]) expect(() => stepsOrDuration(bad)).toThrow(/number of steps .* or a duration/);
    expect(charCount("256k")).toBe(256000);
    expect(charCount("2M")).toBe(2_000_000);
    expect(charCount("all")).toBe(Infinity);
    expect(() => charCount("lots")).toThrow(/256k/);
  });

  it("warm-up is linear, then cosine reaches the floor at the end of the plan (steps or time)", () => {
    const plan = { schedule: "cosine" as const, startStep: 100, warmup: 10, floor: 0.1, steps: 110 };
    for (let j = 0; j < 10; j++) expect(planFactor(plan, 100 + j, 0)).toBeCloseTo((j + 1) / 10, 12);
    // after warm-up: 0.1 + 0.9 * (1 + cos(pi * p)) / 2, p = (j - 10) / 100
    for (const j of [10, 35, 60, 85, 110, 150]) {
      const p = Math.min(1, (j - 10) / 100);
      expect(planFactor(plan, 100 + j, 0)).toBeCloseTo(0.1 + 0.45 * (1 + Math.cos(Math.PI * p)), 12);
    }
    const timed = { schedule: "cosine" as const, startStep: 0, warmup: 0, floor: 0.2, seconds: 60 };
    expect(planFactor(timed, 5, 0)).toBeCloseTo(1, 12);
    expect(planFactor(timed, 5, 30)).toBeCloseTo(0.6, 12);
    expect(planFactor(timed, 5, 90)).toBeCloseTo(0.2, 12);
    // a time plan's warm-up ends after `warmup` updates or 5% of the time, whichever comes first
    expect(planFactor({ ...timed, warmup: 50 }, 0, 1.5)).toBeCloseTo(0.5, 12); // 2.5% of 60 s
    expect(planFactor({ ...timed, warmup: 50 }, 9, 0.1)).toBeCloseTo(10 / 50, 12);
    expect(planFactor({ ...timed, warmup: 50 }, 3, 30)).toBeCloseTo(0.6, 12);
    expect(planFactor({ ...plan, schedule: "constant" }, 105, 0)).toBe(1);
  });
});

describe("unfold train: runs that last hours", () => {
  it("keeps the last k checkpoints and the best; validates on a fixed subset; resumes mid-schedule to the same weights; unfold eval", async () => {
    const a = await run(["train", corpus, ...SMALL, "--steps", "30", "--schedule", "cosine", "--warmup", "5", "--checkpoint-every", "10", "--keep-last", "2", "--val-fraction", "0.2", "--val-chars", "2048", "--out", "a.unfold"]);
    expect(a.stderr).toBe("");
    expect(a.code).toBe(0);
    expect(a.stdout).toMatch(/schedule\s+linear warm-up over 5 steps, then cosine from lr 0\.002 to 0\.0002 \(x0\.1\) at step 30/);
    expect(a.stdout).toMatch(/trained 30 steps in \S+ of training \([\d,]+ chars\/s\)/);
    expect(a.stdout).toMatch(/validated 3 times in \S+ \(2,048 characters each\)/);
    // keep-last 2: steps 20 and 30 kept, 10 removed
    expect(existsSync(join(dir, "a.step10.unfold"))).toBe(false);
    expect(existsSync(join(dir, "a.step20.unfold"))).toBe(true);
    expect(existsSync(join(dir, "a.step30.unfold"))).toBe(true);
    const final = await load("a.unfold");
    const run0 = final.meta.run!;
    expect(run0.kept).toEqual(["a.step20.unfold", "a.step30.unfold"]);
    // the best: the lowest validation loss on the curve (ties within 1e-4 keep the earlier)
    const vals = final.meta.curve!.val;
    expect(vals.map((v) => v[0])).toEqual([10, 20, 30]);
    let best = vals[0];
    for (const v of vals) if (v[1] < best[1] - 1e-4) best = v;
    expect(run0.best!.step).toBe(best[0]);
    const bestFile = await load("a.best.unfold");
    expect(bestFile.model.trainState.history.steps).toBe(best[0]);

    // The fixed validation subset: each checkpoint's recorded loss is its loss on validationSubset(held-out, 2000, seed).
    const { ids } = loadCorpus(corpus);
    const held = ids.subarray(heldOutCut(ids.length, 0.2));
    const subset = validationSubset(held, 2048, 1);
    expect(subset.ids.length).toBe(2048);
    expect(validationSubset(held, 2048, 2).ids).not.toEqual(subset.ids);
    for (const [name, step] of [["a.step20.unfold", 20], ["a.step30.unfold", 30]] as const) {
      const { model } = await load(name);
      const ev = model.evaluate({ stream: subset.ids }, { batchSize: subset.spans, k1: 16 });
      expect(Math.abs(ev.loss - vals.find((v) => v[0] === step)![1])).toBeLessThan(1e-4 + 1e-6);
      model.dispose();
    }
    const full = final.model.evaluate({ stream: held }, { batchSize: validationSubset(held, Infinity, 1).spans, k1: 16 });
    expect(Math.abs(full.loss - vals[2][1])).toBeGreaterThan(1e-4); // the subset is not all of the held-out text

    // unfold eval: all of the held-out text by default; --val-chars gives the checkpoints' subset.
    const ev = await run(["eval", "a.unfold", "--threads", "1", "--log-every", "0"]);
    expect(ev.stderr).toBe("");
    expect(ev.stdout).toMatch(/held-out last 20%: 8,000 characters/);
    expect(Number(/loss\s+(\d\.\d+) nats\/char/.exec(ev.stdout)![1])).toBeCloseTo(full.loss, 4);
    expect(ev.stdout).toMatch(/\d[\d.]*k?\/\d[\d.]*k? chars \| loss/); // the progress line
    const evSub = await run(["eval", "a.unfold", "--val-chars", "2048", "--threads", "1"]);
    expect(Number(/loss\s+(\d\.\d+) nats\/char/.exec(evSub.stdout)![1])).toBeCloseTo(vals[2][1], 3);

    // Resume from the middle of the schedule (step 20 of 30): the very same weights as the uninterrupted run.
    const b = await run(["train", "--resume", "a.step20.unfold", "--out", "b.unfold", "--threads", "1", "--log-every", "0"]);
    expect(b.stderr).toBe("");
    expect(b.stdout).toMatch(/continuing the saved run to step 30/);
    const resumed = await load("b.unfold");
    expect(resumed.model.trainState.history.steps).toBe(30);
    expect(resumed.model.stateDict()).toEqual(final.model.stateDict());
    expect(resumed.meta.run!.plan).toEqual(run0.plan);
    // ... and the schedule mattered: a constant learning rate ends elsewhere.
    const c = await run(["train", corpus, ...SMALL, "--steps", "30", "--schedule", "constant", "--checkpoint-every", "0", "--val-fraction", "0.2", "--val-chars", "2048", "--out", "c.unfold"]);
    expect(c.code).toBe(0);
    const constant = await load("c.unfold");
    expect(constant.model.stateDict()).not.toEqual(final.model.stateDict());
    for (const m of [final, bestFile, resumed, constant]) m.model.dispose();
  });

  it("early stop after N validations without improvement", async () => {
    // A learning rate so small that validation cannot improve by 1e-4: best at the first validation, then 2 without improvement.
    const r = await run(["train", corpus, ...SMALL, "--lr", "1e-9", "--schedule", "constant", "--steps", "100", "--checkpoint-every", "2", "--early-stop", "2", "--val-chars", "1000", "--out", "es.unfold"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/trained 6 steps .*stopped early: validation did not improve for 2 checkpoints/);
    const { model, meta } = await load("es.unfold");
    expect(model.trainState.history.steps).toBe(6);
    expect(meta.run!.best!.step).toBe(2);
    expect(meta.run!.sinceBest).toBe(2);
    model.dispose();
  });

  it("--checkpoint-every with a duration checkpoints by the clock", async () => {
    const r = await run(["train", corpus, ...SMALL, "--time", "4s", "--checkpoint-every", "300ms", "--keep-last", "2", "--val-chars", "1000", "--out", "t.unfold"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/saving to\s+t\.unfold every 0\.3s, keeping the last 2/);
    const steps = [...r.stdout.matchAll(/^checkpoint: step (\d+)/gm)].map((m) => Number(m[1]));
    expect(steps.length).toBeGreaterThanOrEqual(2);
    const { model, meta } = await load("t.unfold");
    const kept = meta.run!.kept;
    expect(kept.length).toBe(2);
    for (const k of kept) expect(existsSync(join(dir, k))).toBe(true);
    expect(kept[1]).toBe(`t.step${model.trainState.history.steps}.unfold`);
    model.dispose();
  });
});

describe("long runs meet a changing world", () => {
  it("a corpus that changes while training stops the run with a clear message; the checkpoint is saved", async () => {
    const f = join(dir, "growing.txt");
    writeFileSync(f, readFileSync(corpus));
    const child = spawn(process.execPath, [MAIN, "train", f, ...SMALL, "--time", "60s", "--checkpoint-every", "5", "--val-chars", "500", "--out", "g.unfold"], { cwd: dir });
    let stdout = "";
    let stderr = "";
    let appended = false;
    child.stderr.on("data", (d) => (stderr += d));
    child.stdout.on("data", (d) => {
      stdout += d;
      if (!appended && /^step \d+/m.test(stdout)) {
        appended = true;
        appendFileSync(f, "More text arrives while the run goes on.\n");
      }
    });
    const code = await new Promise<number | null>((res) => child.on("exit", (c) => res(c)));
    expect(code).toBe(1);
    expect(stderr.trim().split("\n")).toHaveLength(1);
    expect(stderr).toMatch(/^unfold: the corpus .*growing\.txt grew while training \([\d,]+ -> [\d,]+ bytes\); stopped at step (\d+); the checkpoint in g\.unfold is saved/);
    const step = Number(/stopped at step (\d+)/.exec(stderr)![1]);
    const { model } = await load("g.unfold");
    expect(model.trainState.history.steps).toBe(step);
    model.dispose();
  });

  it("a checkpoint that cannot be written leaves the previous one intact and says so", async () => {
    // A real write failure: the kernel's file size limit (ulimit -f, RLIMIT_FSIZE; Node ignores SIGXFSZ, so the
    // write fails with EFBIG as a full disk fails with ENOSPC). The second checkpoint carries 600 more loss-curve
    // entries (> 2 kB) than the first, so it no longer fits under a limit just above the first one's size.
    const first = await run(["train", corpus, ...SMALL, "--steps", "6", "--checkpoint-every", "3", "--val-chars", "500", "--out", "full.unfold"]);
    expect(first.code).toBe(0);
    const before = readFileSync(join(dir, "full.unfold"));
    const limitKb = Math.floor(statSync(join(dir, "full.unfold")).size / 1024) + 1;
    const r = await run(["train", corpus, "--resume", "full.unfold", "--steps", "600", "--checkpoint-every", "0", "--threads", "1", "--log-every", "0"], `ulimit -f ${limitKb}`);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^unfold: could not write the checkpoint of step 606 to full\.unfold: file too large .*; the previous checkpoint in full\.unfold \(step 6\) is intact\. Free some space, then continue with `unfold train --resume full\.unfold`/);
    expect(readFileSync(join(dir, "full.unfold")).equals(before)).toBe(true);
    const { model } = await load("full.unfold");
    expect(model.trainState.history.steps).toBe(6);
    model.dispose();
  });
});
