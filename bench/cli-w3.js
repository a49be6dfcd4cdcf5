// W3 through the `unfold train` command against the library's fit() on the
// same model and corpus: is the CLI within 1.15x of the library?
//
// The CLI's own rate (its "chars/s") is wall time, which a loaded machine
// inflates at random. So this also counts CPU time, which waiting for a core
// does not inflate: the CLI is run for N and 5N steps and the difference of
// the two processes' CPU times is divided by the difference in characters
// (start-up, corpus loading, the final validation and save cancel out); the
// library's fit() is timed with process.cpuUsage() in this process.
//
// brain.js's recurrent.LSTM (hidden 128, one 25-character sequence per
// training step, batch 1) is timed in CPU time in this process too, so the
// run reports W3's ratio to it (issue 16: >= 30x). It gets the same model:
// its DataFormatter is built from the whole corpus, so its vocabulary is the
// corpus's characters (plus its own special index) and its input matrix is
// vocabulary x vocabulary, which is why our embedding defaults to the
// vocabulary size here. (Built from the first training call's two pieces,
// as brain.js does by default, it saw 23 characters and was a smaller,
// faster model than ours.) `--base <dir>` alternates
// the CLI of another built checkout with this one's (before / after).
//   node bench/cli-w3.js [--quick] [--layers 1] [--embedding 65] [--base <dir>] [--rounds n]
import "../dist/runtime/use-node.js"; // Node: read unfold.wasm from disk
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { init } from "../dist/runtime/wasm.js";
import { Sequential } from "../dist/model/sequential.js";
import { Vocab } from "../dist/data/vocab.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const args = process.argv.slice(2);
const argOf = (name, def) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : def);
const quick = args.includes("--quick");
const layers = argOf("--layers", 1), H = 128, S = 25;
const n1 = quick ? 200 : 400, n2 = 5 * n1;
const base = args.includes("--base") ? args[args.indexOf("--base") + 1] : null;
const rounds = argOf("--rounds", quick ? 1 : 3);

await init();
const text = readFileSync(join(root, "corpus", "sotu.txt"), "utf8");
const vocab = Vocab.fromChars(text);
const embedding = argOf("--embedding", vocab.size); // brain.js's input matrix is vocabulary x vocabulary
const ids = vocab.encode(text.slice(0, Math.floor(text.length * 0.95)));
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };

function library() {
  const m = new Sequential({ input: { type: "tokens", vocabSize: vocab.size, embeddingDim: embedding }, recurrent: [{ cell: "lstm", hiddenSize: H, numLayers: layers }], output: { size: vocab.size, loss: "xent" }, mode: "many-to-many", seed: 1 });
  const o = { batchSize: 1, tbptt: { k1: S }, optimizer: { type: "adam", lr: 0.002 } };
  m.fit({ stream: ids }, { ...o, steps: 50 }); // warm-up
  const c0 = cpu(), t0 = performance.now();
  m.fit({ stream: ids }, { ...o, steps: n2 - n1 });
  const r = { cpu: (cpu() - c0) / ((n2 - n1) * S), wall: (performance.now() - t0) / 1e3 / ((n2 - n1) * S) };
  m.dispose();
  return r;
}

let brainVocab = 0;
function brain() {
  const require = createRequire(import.meta.url);
  const b = require("brain.js");
  // The whole corpus's characters, as our model has (see the top of this file).
  const net = new b.recurrent.LSTM({ hiddenLayers: [H], dataFormatter: b.utilities.DataFormatter.fromString(text) });
  const pieces = [];
  for (let i = 0; pieces.length < 16; i += S) pieces.push(text.slice(i, i + S));
  net.train(pieces.slice(0, 2), { iterations: 1, log: false }); // warm-up
  brainVocab = net.options.inputSize;
  const c0 = cpu();
  net.train(pieces, { iterations: 1, log: false, errorThresh: 0 });
  return (cpu() - c0) / (pieces.length * S);
}

function cli(steps, dir = root) {
  const tmp = mkdtempSync(join(tmpdir(), "unfold-cli-w3-"));
  // GNU time prints the child's user and system CPU seconds.
  const res = spawnSync("/usr/bin/time", ["-f", "CPU %U %S", process.execPath, join(dir, "dist", "cli", "main.js"), "train", "--batch", "1", "--seq", String(S), "--hidden", String(H),
    "--layers", String(layers), "--embedding", String(embedding), "--steps", String(steps), "--sample-every", "0", "--checkpoint-every", "0", "--out", join(tmp, "m.unfold")], { cwd: dir, encoding: "utf8" });
  rmSync(tmp, { recursive: true, force: true });
  const c = /CPU ([\d.]+) ([\d.]+)/.exec(res.stderr);
  const w = /\(([\d,]+) chars\/s\)/.exec(res.stdout);
  if (!c || !w) throw new Error(`unfold train failed: ${(res.stderr || res.stdout).trim().split("\n").pop()}`);
  return { cpu: Number(c[1]) + Number(c[2]), wallPerChar: 1 / Number(w[1].replace(/,/g, "")) };
}

const rows = [];
for (let r = 0; r < rounds; r++) {
  const lib = library();
  const row = { libCpu: lib.cpu, libWall: lib.wall, brain: brain() };
  const a = cli(n1), b = cli(n2);
  Object.assign(row, { cliCpu: (b.cpu - a.cpu) / ((n2 - n1) * S), cliWall: b.wallPerChar });
  if (base) {
    const c = cli(n1, base), d = cli(n2, base);
    row.baseCpu = (d.cpu - c.cpu) / ((n2 - n1) * S);
  }
  rows.push(row);
}
const med = (k) => [...rows.map((x) => x[k])].sort((a, b) => a - b)[(rows.length - 1) >> 1];
const us = (x) => `${(x * 1e6).toFixed(1)} µs/char`;
console.log(`W3 model: LSTM H=${H}, ${layers} layer(s), embedding ${embedding}, vocabulary ${vocab.size} (corpus/sotu.txt), batch 1, seq ${S}; median of ${rows.length} alternated round(s)`);
console.log(`  CPU time:  library fit() ${us(med("libCpu"))}, unfold train ${us(med("cliCpu"))}: CLI / library = ${(med("cliCpu") / med("libCpu")).toFixed(3)} (target <= 1.15)`);
console.log(`  wall time: library fit() ${us(med("libWall"))}, unfold train ${us(med("cliWall"))} (its own chars/s): CLI / library = ${(med("cliWall") / med("libWall")).toFixed(3)}`);
console.log(`  brain.js recurrent.LSTM (CPU time, vocabulary ${brainVocab}, input ${brainVocab}, hidden ${H}): ${us(med("brain"))}: unfold train is ${(med("brain") / med("cliCpu")).toFixed(1)}x faster (issue 16: >= 30x)`);
if (base) console.log(`  --base ${base}: unfold train ${us(med("baseCpu"))} (CPU time); this checkout / base = ${(med("cliCpu") / med("baseCpu")).toFixed(3)}`);
console.log(`  per round: ${rows.map((x) => `[cli ${us(x.cliCpu)}${base ? `, base ${us(x.baseCpu)}` : ""}, brain ${us(x.brain)}]`).join(" ")}`);
