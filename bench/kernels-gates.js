// Activation and fused cell-step kernel benchmarks, in ns per element (lower is
// better); ratio = baseline time / our time, both measured in this process.
//   exp / sigmoid / tanh over n = 64K floats, vs a plain JS loop with Math.exp / Math.tanh
//   rnn / lstm / gru step kernels at B = 32, H = 256, in ns per [B, H] element,
//   vs the scalar TypeScript references (src/reference/cells.ts)
// Run: npx tsc -p tsconfig.build.json && node bench/kernels-gates.js [--quick]
//   (UNFOLD_WASM=path/to/unfold.wasm to time another build)
import { heap, init, kernels } from "../dist/runtime/wasm.js";
import * as ref from "../dist/reference/cells.js";
import { Rng } from "../dist/util/rng.js";
import { time, wasmArrays } from "./format.js";

export async function run({ quick = false } = {}) {
  await init(process.env.UNFOLD_WASM || undefined);
  const k = kernels();
  const hp = heap();
  const rng = new Rng(5);
  const opt = { maxTime: quick ? 0.25 : 1, minSamples: quick ? 3 : 5 };
  const rows = [];
  const { put, release } = wasmArrays(hp);
  const uniform = (n, lo = -1, hi = 1) => rng.fillUniform(new Float32Array(n), lo, hi);
  // Time both, then add a baseline row (ratio 1) and our row (ratio = baseline / ours).
  const pair = async (cse, perCall, baseName, baseFn, ourFn) => {
    for (let i = 0; i < 20; i++) ourFn(); // tier up beyond the baseline compiler
    const base = await time(`${cse} ${baseName}`, baseFn, opt);
    const ours = await time(`${cse} unfold-rnn`, ourFn, opt);
    const ns = (r) => (r.mean * 1e9) / perCall;
    rows.push({ case: cse, impl: baseName, rate: ns(base), unit: "ns/elem", ratio: 1, baseline: baseName });
    rows.push({ case: cse, impl: "unfold-rnn wasm", rate: ns(ours), unit: "ns/elem", ratio: base.mean / ours.mean, baseline: baseName });
  };

  // ---- activations over 64K elements ----------------------------------------
  const n = 65536;
  const x = uniform(n, -8, 8);
  const y = new Float32Array(n);
  const px = put(x);
  const py = put(y);
  const jsLoops = {
    exp: () => { for (let i = 0; i < n; i++) y[i] = Math.exp(x[i]); },
    sigmoid: () => { for (let i = 0; i < n; i++) y[i] = 1 / (1 + Math.exp(-x[i])); },
    tanh: () => { for (let i = 0; i < n; i++) y[i] = Math.tanh(x[i]); },
  };
  const wasm = { exp: k.exp_f32x4, sigmoid: k.sigmoid_f32x4, tanh: k.tanh_f32x4 };
  for (const name of ["exp", "sigmoid", "tanh"]) {
    const baseName = name === "tanh" ? "JS Math.tanh" : "JS Math.exp";
    await pair(`${name} n=64K`, n, baseName, jsLoops[name], () => wasm[name](py, px, n));
  }

  // ---- fused step kernels at B = 32, H = 256 ---------------------------------
  const B = 32;
  const H = 256;
  const BH = B * H;
  const baseName = "TS reference";
  {
    // LSTM forward. Both sides overwrite G with the gates on every call: the
    // values stay in range, and the SIMD code has no data-dependent branches.
    const G = uniform(4 * BH, -3, 3), bIh = uniform(4 * H), bHh = uniform(4 * H), cPrev = uniform(BH);
    const c = new Float32Array(BH), h = new Float32Array(BH), tc = new Float32Array(BH);
    const pG = put(G), pb1 = put(bIh), pb2 = put(bHh), pcp = put(cPrev), pc = put(c), ph = put(h), ptc = put(tc);
    await pair("lstm_step_fwd B=32 H=256", BH, baseName,
      () => ref.lstm_step_fwd_ref(G, bIh, bHh, cPrev, c, h, tc, B, H),
      () => k.lstm_step_fwd(pG, pb1, pb2, pcp, pc, ph, ptc, B, H));
    // LSTM backward from those caches (dc is rewritten in place each call; the
    // kernel is branch-free, so the values do not change its speed).
    const dh = uniform(BH), dc = uniform(BH), dG = new Float32Array(4 * BH);
    const pdh = put(dh), pdc = put(dc), pdG = put(dG);
    await pair("lstm_step_bwd B=32 H=256", BH, baseName,
      () => ref.lstm_step_bwd_ref(G, cPrev, tc, dh, dc, dG, B, H),
      () => k.lstm_step_bwd(pG, pcp, ptc, pdh, pdc, pdG, B, H));
  }
  {
    const Gi = uniform(3 * BH, -2, 2), Gh = uniform(3 * BH, -2, 2), bIh = uniform(3 * H), bHh = uniform(3 * H), hPrev = uniform(BH);
    const h = new Float32Array(BH), cache = new Float32Array(4 * BH);
    const pGi = put(Gi), pGh = put(Gh), pb1 = put(bIh), pb2 = put(bHh), php = put(hPrev), ph = put(h), pc = put(cache);
    await pair("gru_step_fwd B=32 H=256", BH, baseName,
      () => ref.gru_step_fwd_ref(Gi, Gh, bIh, bHh, hPrev, h, cache, B, H),
      () => k.gru_step_fwd(pGi, pGh, pb1, pb2, php, ph, pc, B, H));
  }
  {
    const G = uniform(BH, -3, 3), bIh = uniform(H), bHh = uniform(H), h = new Float32Array(BH);
    const pG = put(G), pb1 = put(bIh), pb2 = put(bHh), ph = put(h);
    await pair("rnn_step_fwd tanh B=32 H=256", BH, baseName,
      () => ref.rnn_step_fwd_ref(G, bIh, bHh, h, B, H, 0),
      () => k.rnn_step_fwd(pG, pb1, pb2, ph, B, H, 0));
  }

  release();
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { printTable } = await import("./format.js");
  printTable(await run({ quick: process.argv.includes("--quick") }));
}
