#!/usr/bin/env node
// Kill `unfold train` with SIGKILL at random moments while it checkpoints
// (every step), and check after every kill that
//   - the model file loads (in this process, with loadModel),
//   - `unfold info` and `unfold sample` work on it (exit 0, output),
//   - at most one temp file is left (a killed write's), and the next write
//     removes it (none remain at the end),
//   - the next `--resume` continues from exactly the step the file holds.
//
//   node tools/kill-checkpoint.mjs [kills=500] [seed=1]
//
// test/kill-checkpoint.test.ts runs the same function with 20 kills.
// Needs `npm run build` (it runs dist/cli/main.js).
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const main = path.join(root, "dist", "cli", "main.js");

/** A seeded generator (mulberry32), so a failing run can be repeated. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Run the CLI; `killAfter(stdoutSoFar)` returns a delay in ms once it is time to arm the SIGKILL, or undefined. */
function run(args, cwd, killAfter) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [main, ...args], { cwd, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    let armed = false;
    child.stdout.on("data", (d) => {
      out += d;
      if (!armed && killAfter) {
        const ms = killAfter(out);
        if (ms !== undefined) {
          armed = true;
          setTimeout(() => child.kill("SIGKILL"), ms);
        }
      }
    });
    child.stderr.on("data", (d) => (err += d));
    child.on("error", reject);
    child.on("exit", (code, signal) => resolve({ code, signal, out, err, pid: child.pid }));
  });
}

/** Run `fn` (a CLI command's body) with its stdout captured; its exit code (1 for a thrown error) and output. */
async function captured(fn) {
  const write = process.stdout.write;
  let out = "";
  process.stdout.write = (s) => {
    out += s;
    return true;
  };
  try {
    return { code: await fn(), out, err: "" };
  } catch (e) {
    return { code: 1, out, err: e.message };
  } finally {
    process.stdout.write = write;
  }
}

const temps = (dir, name) => fs.readdirSync(dir).filter((f) => f.startsWith(`.${name}.`) && f.endsWith(".tmp"));

/**
 * @param {{ kills?: number, seed?: number, log?: (s: string) => void }} o
 * @returns {Promise<{ kills: number, killedInTraining: number, tempsLeftByKills: number, finalStep: number, dir: string }>}
 */
export async function killCheckpoints({ kills = 20, seed = 1, log = () => {} } = {}) {
  const { init, loadModel } = await import(pathToFileURL(path.join(root, "dist", "index.js")).href);
  const { info } = await import(pathToFileURL(path.join(root, "dist", "cli", "info.js")).href);
  const { sample } = await import(pathToFileURL(path.join(root, "dist", "cli", "sample.js")).href);
  await init();
  const rand = rng(seed);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "unfold-kill-"));
  const corpus = "the quick brown fox jumps over the lazy dog. a stitch in time saves nine. ".repeat(30);
  fs.writeFileSync(path.join(dir, "c.txt"), corpus);
  const name = "m.unfold";
  const file = path.join(dir, name);
  const small = ["--hidden", "8", "--layers", "1", "--embedding", "4", "--seq", "8", "--batch", "2", "--sample-every", "0", "--val-fraction", "0", "--log-every", "0"];
  const first = await run(["train", "c.txt", ...small, "--steps", "2", "--checkpoint-every", "1", "--out", name], dir);
  if (first.code !== 0) throw new Error(`the first training run failed (${first.code}): ${first.err}`);

  /** Load the file in this process; the step it holds. */
  const stepOf = () => {
    const { model } = loadModel(fs.readFileSync(file));
    const step = model.trainState.history.steps;
    model.dispose();
    return step;
  };
  let step = stepOf();
  let killedInTraining = 0;
  let tempsLeftByKills = 0;
  for (let k = 0; k < kills; k++) {
    // Most kills land among checkpoints (armed after the run's first one); some anywhere after start-up.
    const early = rand() < 0.25;
    const delay = Math.floor(rand() * (early ? 250 : 120));
    const armAt = early ? "saving to" : `-> ${name}`;
    const r = await run(["train", "c.txt", "--resume", name, "--steps", "100000", "--checkpoint-every", "1"], dir, (out) => (out.includes(armAt) ? delay : undefined));
    // The resumed run started from the step the file held.
    const m = /resuming +\S+ at step (\d+)/.exec(r.out);
    if (!m) throw new Error(`kill ${k}: the resumed run did not say where it resumed (exit ${r.code} ${r.signal}):\n${r.out}\n${r.err}`);
    if (Number(m[1]) !== step) throw new Error(`kill ${k}: resumed at step ${m[1]} but the file held step ${step}`);
    if (r.signal !== "SIGKILL") throw new Error(`kill ${k}: the run ended with ${r.code}/${r.signal} before it was killed:\n${r.err}`);
    if (new RegExp(`-> ${name}`).test(r.out)) killedInTraining++; // it had written at least one checkpoint
    // After the kill: the file loads, holds a step at least as far, and only the killed writer's temp may be left.
    const next = stepOf();
    if (next < step) throw new Error(`kill ${k}: the file went back from step ${step} to ${next}`);
    step = next;
    const left = temps(dir, name);
    // Every write first removes the temps of dead writers, so at most one is ever left: the killed
    // run's own, or (if it was killed before it wrote anything) the one an earlier kill left.
    const wrote = new RegExp(`-> ${name}`).test(r.out);
    if (left.length > 1 || (wrote && left.some((f) => !f.includes(`.${r.pid}.`)))) {
      throw new Error(`kill ${k}: stray temp files ${left.join(", ")} (killed pid ${r.pid}, which ${wrote ? "had written checkpoints" : "wrote none"})`);
    }
    tempsLeftByKills += left.length;
    // `unfold info` and `unfold sample`: their code in this process after every kill, the real commands after every 5th.
    const real = k % 5 === 4 || k === kills - 1;
    const [i, s] = real
      ? await Promise.all([run(["info", name], dir), run(["sample", name, "--length", "20", "--seed", "1"], dir)])
      : [await captured(() => info(file)), await captured(() => sample(file, { length: 20, temperature: 0.8, seed: 1 }))];
    if (i.code !== 0 || !i.out.includes("training")) throw new Error(`kill ${k}: unfold info failed (${i.code}): ${i.err}`);
    if (s.code !== 0 || s.out.trim().length === 0) throw new Error(`kill ${k}: unfold sample failed (${s.code}): ${s.err}`);
    log(`kill ${k + 1}/${kills}: ${early ? "after start-up" : "among checkpoints"} + ${delay} ms, file at step ${step}${left.length ? ", 1 temp left by the killed write" : ""}`);
  }
  // A clean resume: continues from the file's step, finishes, and leaves no temp file.
  const fin = await run(["train", "c.txt", "--resume", name, "--steps", "2", "--checkpoint-every", "1"], dir);
  if (fin.code !== 0) throw new Error(`the final resume failed (${fin.code}): ${fin.err}`);
  if (!new RegExp(`resuming +\\S+ at step ${step}\\b`).test(fin.out)) throw new Error(`the final resume did not start at step ${step}:\n${fin.out}`);
  const finalStep = stepOf();
  if (finalStep !== step + 2) throw new Error(`the final resume ended at step ${finalStep}, expected ${step + 2}`);
  const left = temps(dir, name);
  if (left.length) throw new Error(`stray temp files after a clean run: ${left.join(", ")}`);
  return { kills, killedInTraining, tempsLeftByKills, finalStep, dir };
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const kills = Number(process.argv[2] ?? 500);
  const seed = Number(process.argv[3] ?? 1);
  const t0 = Date.now();
  const r = await killCheckpoints({ kills, seed, log: (s) => console.log(s) });
  console.log(`ok: ${r.kills} SIGKILLs (${r.killedInTraining} after the run had written at least one checkpoint); after ${r.tempsLeftByKills} of them a killed write had left its temp file, always removed by the next write; final step ${r.finalStep}; ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  fs.rmSync(r.dir, { recursive: true, force: true });
}
