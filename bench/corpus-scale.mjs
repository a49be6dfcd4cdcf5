// The main job at scale: `unfold train` on 10 MB, 100 MB and 1 GB corpora.
//
// Each corpus is the bundled corpus/sotu.txt repeated to the size, written to
// a temp dir. Each run is the issue's command, `unfold train big.txt --hidden
// 128 --steps 50` (2 layers, batch 32, seq 64; threads: the default), in a
// child process under /usr/bin/time -v, and we record:
//   - peak RSS (time's "Maximum resident set size", the kernel's VmHWM) and
//     RSS bytes per character of corpus;
//   - time to first step: from spawning the process to its first progress
//     line ("step 1 | ...", printed after the first update);
//   - training chars/s (training alone, from the summary line) and its ratio
//     to the 10 MB run (the baseline: throughput should not depend on size);
//   - validation time (the fixed --val-chars subset, 256k by default).
// benchmark.js does not fit multi-minute child processes; each size runs once.
//
//   node bench/corpus-scale.mjs                      # 10, 100, 1000 MB
//   node bench/corpus-scale.mjs --sizes 10,100 --steps 50
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const MAIN = join(ROOT, "dist", "cli", "main.js");
const { values: args } = parseArgs({
  options: {
    sizes: { type: "string", default: "10,100,1000" },
    steps: { type: "string", default: "50" },
    hidden: { type: "string", default: "128" },
    keep: { type: "boolean", default: false },
  },
});
if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first`);
if (!existsSync("/usr/bin/time")) throw new Error("/usr/bin/time is missing (apt-get install time): it measures the peak RSS");

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

/** Run the CLI under /usr/bin/time -v; resolve with its output, peak RSS and time to first step. */
function trainRun(corpus) {
  const out = join(dir, "m.unfold");
  const cli = ["train", corpus, "--hidden", args.hidden, "--steps", args.steps, "--sample-every", "0", "--checkpoint-every", "0", "--log-every", "0", "--out", out];
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn("/usr/bin/time", ["-v", process.execPath, MAIN, ...cli], { cwd: dir });
    let stdout = "";
    let stderr = "";
    let firstStep = NaN;
    child.stdout.on("data", (d) => {
      stdout += d;
      if (Number.isNaN(firstStep) && /^step 1\b/m.test(stdout)) firstStep = (performance.now() - t0) / 1000;
    });
    child.stderr.on("data", (d) => (stderr += d));
    child.on("exit", (code) => {
      const wall = (performance.now() - t0) / 1000;
      const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
      if (code !== 0 || !rss) return reject(new Error(`unfold train exited ${code}:\n${stdout.slice(-2000)}\n${stderr.slice(-2000)}`));
      resolve({ stdout, peakKb: Number(rss[1]), firstStep, wall });
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
    const cps = Number(/of training \(([\d,]+) chars\/s\)/.exec(r.stdout)[1].replace(/,/g, ""));
    const val = /validated (\d+) times? in (\S+) \(([\d,]+) characters each\)/.exec(r.stdout);
    const width = Number(/\((\d) bytes? per character/.exec(r.stdout)[1]);
    const read = Number(/read in ([\d.]+)s/.exec(r.stdout)[1]);
    rows.push({ mb, chars, width, peakMb: r.peakKb / 1024, bytesPerChar: (r.peakKb * 1024) / chars, read, firstStep: r.firstStep, cps, val: val ? `${val[2]} (${val[1]} x ${val[3]} chars)` : "-", wall: r.wall });
    rmSync(path, { force: true });
  }
} finally {
  if (!args.keep) rmSync(dir, { recursive: true, force: true });
}

const base = rows[0]?.cps;
console.log(`\nunfold train <corpus> --hidden ${args.hidden} --steps ${args.steps} (node ${process.version}, ${rows.length ? "" : "no runs"})\n`);
console.log("| corpus | characters | id bytes | peak RSS | RSS bytes / char | corpus read + encoded | time to first step | training chars/s (ratio to first row) | validation | wall |");
console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
for (const r of rows) {
  console.log(`| ${r.mb >= 1000 ? `${r.mb / 1000} GB` : `${r.mb} MB`} | ${r.chars.toLocaleString("en-US")} | ${r.width} | ${r.peakMb.toFixed(0)} MB | ${r.bytesPerChar.toFixed(2)} | ${r.read.toFixed(1)} s | ${r.firstStep.toFixed(1)} s | ${r.cps.toLocaleString("en-US")} (${(r.cps / base).toFixed(2)}x) | ${r.val} | ${r.wall.toFixed(0)} s |`);
}
