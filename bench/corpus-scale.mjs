// The main job at scale: `unfold train` on 10 MB, 100 MB and 1 GB corpora.
//
// Each corpus is the bundled corpus/sotu.txt repeated to the size, written to
// a temp dir. Each run is the issue's command, `unfold train big.txt --hidden
// 128 --steps 50` (2 layers, batch 32, seq 64; threads: the default), in a
// child process, and we record:
//   - peak RSS (getrusage's ru_maxrss, the kernel's VmHWM, written by the
//     child at exit through a --import hook) and RSS bytes per character;
//   - time to first step: from spawning the process to its first progress
//     line ("step 1 | ...", printed after the first update), as wall time
//     and as the CPU time the process had used by then (/proc/<pid>/stat) —
//     on a shared machine the wall time also counts waiting for a core;
//   - training chars/s (training alone, from the summary line) and its ratio
//     to the 10 MB run (the baseline: throughput should not depend on size);
//   - validation time (the fixed --val-chars subset, 256k by default).
// benchmark.js does not fit multi-minute child processes; each size runs once.
//
//   node bench/corpus-scale.mjs                      # 10, 100, 1000 MB
//   node bench/corpus-scale.mjs --sizes 10,100 --steps 50
//   node bench/corpus-scale.mjs --main /tmp/old/dist/cli/main.js --sizes 10,100 --extra=--val-fraction=0
//       # another build of the CLI (e.g. before issue 12: git archive <commit> | tar -x, npm run build), extra flags
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import os, { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values: args } = parseArgs({
  options: {
    main: { type: "string", default: join(ROOT, "dist", "cli", "main.js") },
    extra: { type: "string", default: "" },
    sizes: { type: "string", default: "10,100,1000" },
    steps: { type: "string", default: "50" },
    hidden: { type: "string", default: "128" },
    keep: { type: "boolean", default: false },
  },
});
const MAIN = args.main;
if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first`);
if (!existsSync("/proc/self/stat")) throw new Error("this benchmark reads /proc (Linux)");

const MB = 1 << 20;
const sizes = args.sizes.split(",").map(Number);
const dir = mkdtempSync(join(tmpdir(), "unfold-scale-"));
const seed = readFileSync(join(ROOT, "corpus", "sotu.txt"));

/** corpus/sotu.txt repeated to `mb` MB (whole copies, then a prefix cut at a line end), streamed to disk. */
function makeCorpus(mb) {
  const path = join(dir, `sotu-${mb}mb.txt`);
  const want = mb * MB;
  const fd = openSync(path, "w");
  let size = 0;
  while (size + seed.length <= want) size += writeSync(fd, seed);
  const rest = seed.subarray(0, seed.lastIndexOf(0x0a, want - size) + 1);
  size += writeSync(fd, rest);
  closeSync(fd);
  return { path, size };
}

/** CPU seconds (user + system, all threads) used so far by process `pid`. */
function cpuSeconds(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = f.slice(f.lastIndexOf(")") + 2).split(" "); // after "pid (comm) "
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

const hook = join(dir, "peak-rss.mjs");
writeFileSync(hook, `import { writeFileSync } from "node:fs";\nprocess.on("exit", () => writeFileSync(process.env.UNFOLD_PEAK_FILE, String(process.resourceUsage().maxRSS)));\n`);

/** Run the CLI; resolve with its output, peak RSS (kB) and time to first step (wall and CPU). */
function trainRun(corpus) {
  const out = join(dir, "m.unfold");
  const peakFile = join(dir, "peak.txt");
  const cli = ["train", corpus, "--hidden", args.hidden, "--steps", args.steps, "--sample-every", "0", "--checkpoint-every", "0", "--log-every", "0", "--out", out, ...args.extra.split(/[ =]/).filter(Boolean)];
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const load0 = loadavg()[0];
    const child = spawn(process.execPath, ["--import", hook, MAIN, ...cli], { cwd: dir, env: { ...process.env, UNFOLD_PEAK_FILE: peakFile } });
    let stdout = "";
    let stderr = "";
    let firstStep = NaN;
    let firstStepCpu = NaN;
    child.stdout.on("data", (d) => {
      stdout += d;
      if (Number.isNaN(firstStep) && /^step 1\b/m.test(stdout)) {
        firstStep = (performance.now() - t0) / 1000;
        firstStepCpu = cpuSeconds(child.pid);
      }
    });
    child.stderr.on("data", (d) => (stderr += d));
    child.on("exit", (code) => {
      const wall = (performance.now() - t0) / 1000;
      if (code !== 0 || !existsSync(peakFile)) return reject(new Error(`unfold train exited ${code}:\n${stdout.slice(-2000)}\n${stderr.slice(-2000)}`));
      resolve({ stdout, peakKb: Number(readFileSync(peakFile, "utf8")), firstStep, firstStepCpu, wall, load: (load0 + loadavg()[0]) / 2 });
    });
  });
}

const rows = [];
try {
  for (const mb of sizes) {
    const t = performance.now();
    const { path, size } = makeCorpus(mb);
    process.stderr.write(`${mb} MB corpus written (${size} bytes, ${((performance.now() - t) / 1000).toFixed(1)} s); training…\n`);
    const r = await trainRun(path);
    const chars = Number(/(\d[\d,]*) characters, vocabulary/.exec(r.stdout)[1].replace(/,/g, ""));
    // (an older CLI lacks some of these: "-")
    const cps = Number((/of training \(([\d,]+) chars\/s\)/.exec(r.stdout) ?? /\(([\d,]+) chars\/s\)/.exec(r.stdout))[1].replace(/,/g, ""));
    const val = /validated (\d+) times? in (\S+) \(([\d,]+) characters each\)/.exec(r.stdout);
    const width = Number(/\((\d) bytes? per character/.exec(r.stdout)?.[1] ?? NaN);
    const read = Number(/read in ([\d.]+)s/.exec(r.stdout)?.[1] ?? NaN);
    rows.push({ mb, chars, width, peakMb: r.peakKb / 1024, bytesPerChar: (r.peakKb * 1024) / chars, read, firstStep: r.firstStep, firstStepCpu: r.firstStepCpu, load: r.load, cps, val: val ? `${val[2]} (${val[1]} x ${val[3]} chars)` : "-", wall: r.wall });
    rmSync(path, { force: true });
  }
} finally {
  if (!args.keep) rmSync(dir, { recursive: true, force: true });
}

const base = rows[0]?.cps;
console.log(`\n${MAIN} train <corpus> --hidden ${args.hidden} --steps ${args.steps} ${args.extra} (node ${process.version}; ${os.cpus().length} cores)\n`);
console.log("| corpus | characters | id bytes | peak RSS | RSS bytes / char | corpus read + encoded (wall) | time to first step: wall (CPU) | training chars/s (ratio to first row) | validation | wall | load average |");
console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
for (const r of rows) {
  console.log(`| ${r.mb >= 1000 ? `${r.mb / 1000} GB` : `${r.mb} MB`} | ${r.chars.toLocaleString("en-US")} | ${r.width} | ${r.peakMb.toFixed(0)} MB | ${r.bytesPerChar.toFixed(2)} | ${r.read.toFixed(1)} s | ${r.firstStep.toFixed(1)} s (${r.firstStepCpu.toFixed(1)} s) | ${r.cps.toLocaleString("en-US")} (${(r.cps / base).toFixed(2)}x) | ${r.val} | ${r.wall.toFixed(0)} s | ${r.load.toFixed(1)} |`);
}
