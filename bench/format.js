// Shared by the benchmark suites: run benchmark.js cases and print a table.
import Benchmark from "benchmark";
// Node: read unfold.wasm (or UNFOLD_WASM=path) from disk, so that every suite also runs on its own (`node bench/<suite>.js`).
import "../dist/runtime/use-node.js";

/**
 * Time `fn` with benchmark.js; returns seconds per call (mean; min: the
 * fastest sample, the least disturbed on a loaded machine) and the relative
 * margin of error.
 */
export function time(name, fn, { maxTime = 1, minSamples = 5, minTime } = {}) {
  return new Promise((resolve, reject) => {
    // minTime: seconds per sample (benchmark.js default ~0.05); short samples make `min` meaningful on a busy machine.
    const opts = { maxTime, minSamples, initCount: 1, ...(minTime ? { minTime } : {}) };
    // Deferred (async) cases: pass { defer: true, fn(deferred) }.
    const b = typeof fn === "function" ? new Benchmark(name, fn, opts) : new Benchmark(name, { ...opts, ...fn });
    b.on("complete", () => (b.error ? reject(b.error) : resolve({ mean: b.stats.mean, rme: b.stats.rme, samples: b.stats.sample.length, min: Math.min(...b.stats.sample) })));
    b.on("error", () => reject(b.error));
    b.run({ async: typeof fn !== "function" });
  });
}

/**
 * This machine's WASM SIMD ceiling (bench/ceiling.js), GFLOP/s: set by
 * run.js before the suites; printTable then shows every GFLOP/s figure as a
 * % of the plain one (and of the relaxed FMA one where the runtime has it).
 */
export const ceiling = { plain: null, relaxed: null };

/** `unit` with each GFLOP/s figure followed by its % of the ceiling. */
function withCeiling(rate, unit) {
  if (!ceiling.plain || typeof unit !== "string") return unit;
  const pct = (g) => `${((100 * g) / ceiling.plain).toFixed(0)}%${ceiling.relaxed ? ` / ${((100 * g) / ceiling.relaxed).toFixed(0)}%` : ""} of ceiling`;
  if (unit.startsWith("GFLOP/s")) return `${unit} (${pct(rate)})`;
  return unit.replace(/([\d.]+) GFLOP\/s/g, (m, g) => `${m}, ${pct(Number(g))}`);
}

/** Print rows { case, impl, rate, unit, ratio, baseline } as an aligned Markdown table. */
export function printTable(rows, out = console.log) {
  const head = ["case", "implementation", "rate", "ratio", "vs"];
  const body = rows.map((r) => [
    r.case,
    r.impl,
    Number.isNaN(r.rate) ? r.unit : `${fmt(r.rate)} ${withCeiling(r.rate, r.unit)}`,
    r.ratio === undefined ? "" : `${r.ratio.toFixed(r.ratio >= 10 ? 1 : 2)}x`,
    r.baseline ?? "",
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) => `| ${cells.map((c, i) => c.padEnd(w[i])).join(" | ")} |`;
  out(line(head));
  out(`| ${w.map((n) => "-".repeat(n)).join(" | ")} |`);
  for (const b of body) out(line(b));
}

function fmt(x) {
  if (x >= 100) return x.toFixed(0);
  if (x >= 10) return x.toFixed(1);
  return x.toPrecision(3);
}

/**
 * Arrays copied into WASM memory for a benchmark: `put(data)` returns the
 * byte offset of a fresh copy; `release()` frees them all.
 */
export function wasmArrays(hp) {
  const blocks = [];
  return {
    put(data) {
      const p = hp.alloc(data.length * 4);
      blocks.push(p);
      hp.f32(p, data.length).set(data);
      return p;
    },
    release() {
      for (const p of blocks.splice(0)) hp.free(p);
    },
  };
}
