// `npm run bench`: every suite, one table each. Run after `npm run build`.
//   node bench/run.js [--quick] [suite ...]     suites: kernels, layers, training, threads, session, attention-session, attention, onnx, validation, ragged, quantize
import "../dist/runtime/use-node.js"; // Node: read unfold.wasm from disk, worker_threads (what the package's `node` condition does)
import { ceiling, printTable } from "./format.js";
import { run as runCeiling } from "./ceiling.js";

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
  ragged: () => import("./ragged.js"),
  quantize: () => import("./quantize.js"),
};

console.log(`unfold-rnn benchmarks — node ${process.version}, ${new Date().toISOString()}${quick ? " (quick)" : ""}`);
// First this machine's WASM SIMD ceiling: every GFLOP/s below is also shown as a % of it
// ("a% / b% of ceiling": of the plain mul+add ceiling / of the relaxed FMA one, where the runtime has it).
{
  const rows = await runCeiling({ quick });
  ceiling.plain = rows[0].rate;
  ceiling.relaxed = Number.isFinite(rows[1].rate) ? rows[1].rate : null;
  console.log("\n## ceiling\n");
  printTable(rows);
}
for (const [name, load] of Object.entries(suites)) {
  if (wanted.length && !wanted.includes(name)) continue;
  const mod = await load();
  console.log(`\n## ${name}\n`);
  const rows = await mod.run({ quick });
  printTable(rows);
}
