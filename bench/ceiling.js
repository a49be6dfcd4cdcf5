// This machine's WASM SIMD ceiling, single core, warm: 12 independent f32x4
// multiply-add chains (assembly/peak.ts), as f32x4.mul + f32x4.add in the
// plain build and as f32x4.relaxed_madd in the relaxed build (where the
// runtime has relaxed SIMD). Every GFLOP/s figure of the bench is printed as
// a % of the plain ceiling (format.js), so figures from machines with
// different cores compare.
import { readFileSync } from "node:fs";

const ITERS = 200_000; // 19.2 Mflop per call, ~0.4 ms: short calls, so the best of many is one the scheduler left alone

async function instance(file) {
  const bytes = readFileSync(new URL(`../build/${file}`, import.meta.url));
  try {
    const { instance } = await WebAssembly.instantiate(bytes, { env: { abort() {}, seed: () => 1 } });
    return instance.exports;
  } catch {
    return null; // this runtime lacks relaxed SIMD (Node 20 without --experimental-wasm-relaxed-simd)
  }
}

/** Best GFLOP/s of the chains over `rounds` calls after a warm-up. */
function peak(k, rounds) {
  for (let i = 0; i < 20; i++) k.simd_peak_f32x4(ITERS / 10, 0.999999, 1e-7);
  let best = Infinity;
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    const s = k.simd_peak_f32x4(ITERS, 0.999999, 1e-7);
    const t = Number(process.hrtime.bigint() - t0) * 1e-9;
    if (!Number.isFinite(s)) throw new Error("the ceiling's chains overflowed");
    best = Math.min(best, t);
  }
  return (96 * ITERS) / best / 1e9;
}

/** { plain, relaxed } GFLOP/s (relaxed null where the runtime cannot run that build). */
export async function measureCeiling({ quick = false } = {}) {
  const plain = await instance("unfold.wasm");
  const relaxed = await instance("unfold-relaxed.wasm");
  const rounds = quick ? 100 : 400;
  return { plain: peak(plain, rounds), relaxed: relaxed ? peak(relaxed, rounds) : null };
}

/** The ceiling as bench rows. */
export async function run({ quick = false } = {}) {
  const c = await measureCeiling({ quick });
  const rows = [{ case: "WASM SIMD ceiling: 12 f32x4 chains, 1 core", impl: "f32x4.mul + f32x4.add (plain build)", rate: c.plain, unit: "GFLOP/s", ratio: 1, baseline: "plain" }];
  if (c.relaxed !== null) rows.push({ case: "WASM SIMD ceiling: 12 f32x4 chains, 1 core", impl: "f32x4.relaxed_madd (relaxed build)", rate: c.relaxed, unit: "GFLOP/s", ratio: c.relaxed / c.plain, baseline: "plain" });
  else rows.push({ case: "WASM SIMD ceiling: 12 f32x4 chains, 1 core", impl: "f32x4.relaxed_madd: not in this runtime", rate: NaN, unit: "", baseline: "" });
  return rows;
}
