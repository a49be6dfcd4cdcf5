// `npm run bench`: every suite, one table each. Run after `npm run build`.
//   node bench/run.js [--quick] [suite ...]     suites: kernels, layers, training, threads, session, attention-session, attention, onnx, validation
import "../dist/runtime/use-node.js"; // Node: read unfold.wasm from disk, worker_threads (what the package's `node` condition does)
import { printTable } from "./format.js";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const wanted = args.filter((a) => !a.startsWith("--"));
const suites = {
  kernels: () => import("./kernels.js"),
  layers: () => import("./layers.js"),
  training: () => import("./training.js"),
  threads: () => import("./threads.js"),
  session: () => import("./session.js"),
  "attention-session": () => import("./attention-session.js"),
  attention: () => import("./attention.js"),
  onnx: () => import("./onnx.js"),
  validation: () => import("./validation.js"),
};

console.log(`unfold-rnn benchmarks — node ${process.version}, ${new Date().toISOString()}${quick ? " (quick)" : ""}`);
for (const [name, load] of Object.entries(suites)) {
  if (wanted.length && !wanted.includes(name)) continue;
  const mod = await load();
  console.log(`\n## ${name}\n`);
  const rows = await mod.run({ quick });
  printTable(rows);
}
