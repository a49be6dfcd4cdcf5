// optim.ts kernels: each update vs its float64 reference (src/reference/optim.ts)
// over several steps, at every size around the f32x4 tile and at every
// alignment; a few steps checked against values worked out by hand from
// torch.optim's update rules; the two reductions (sum_squares,
// count_nonfinite) with special values.
//
// Tolerances. Parameters p are O(1) and each step does a handful of f32
// roundings, so after 5 steps p is within a few 2^-24 of the f64 trajectory:
// we allow 1e-6 absolute (maxRelErr floor 1; measured <= 2e-7). The moments
// (v, s, m) carry ~5 roundings per step plus the drift of p feeding back
// through wd*p: we allow 2e-6 relative (measured <= 3e-7), with the relative
// error's floor at the size of the terms the moment sums: 1 for the momentum
// buffer (a sum of O(1) gradients that can cancel to ~0), 0.1 for Adam's m
// (terms (1-beta1)*g), and 1e-6 for the squared moments s, v, which are sums
// of positive terms and cannot cancel. Hyperparameters are passed as plain
// f64 numbers to both sides: the kernel rounds each derived constant to f32
// once, like torch. sum_squares is exact per term in f64 (an f32 square fits
// in 48 bits), so it differs from the reference only by summation order:
// 1e-12 relative.
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Kernels } from "../src/runtime/abi.js";
import * as ref from "../src/reference/optim.js";
import { Mem, Rng, loadKernels, maxRelErr, randArray } from "./helpers.js";

const NS = [0, 1, 3, 4, 5, 7, 8, 9, 17, 33, 257];
const STEPS = 5;
const P_TOL = 1e-6;
const STATE_TOL = 2e-6;

let k: Kernels;
const mem = new Mem();
beforeAll(async () => {
  k = await loadKernels();
});
afterEach(() => mem.release());

/**
 * Run `steps` updates on the kernel (f32, in WASM memory) and on the
 * reference (f64 arrays) from the same start, with fresh gradients each step,
 * and compare p and the optimizer state.
 */
function compare(
  n: number, mis: number, floors: number[], seed: number,
  kernel: (p: number, g: number, st: number[], n: number, t: number) => void,
  reference: (p: Float64Array, g: Float32Array, st: Float64Array[], n: number, t: number) => void,
): void {
  const rng = new Rng(seed);
  const nState = floors.length;
  const p0 = randArray(rng, n, -2, 2);
  const pp = mem.put(p0, mis);
  const pg = mem.alloc(n, (mis + 1) % 4);
  const pst = Array.from({ length: nState }, (_, i) => mem.alloc(n, (mis + 2 + i) % 4, 0));
  const rp = Float64Array.from(p0);
  const rst = Array.from({ length: nState }, () => new Float64Array(n));
  for (let t = 1; t <= STEPS; t++) {
    const g = randArray(rng, n);
    new Float32Array(k.memory.buffer, pg, n).set(g);
    kernel(pp, pg, pst, n, t);
    reference(rp, g, rst, n, t);
  }
  expect(maxRelErr(mem.get(pp, n), rp, 1).err).toBeLessThanOrEqual(P_TOL);
  for (let i = 0; i < nState; i++) {
    expect(maxRelErr(mem.get(pst[i], n), rst[i], floors[i]).err).toBeLessThanOrEqual(STATE_TOL);
  }
}

describe("optimizers vs reference, 5 steps", () => {
  it.each(NS)("sgd_step n=%i", (n) => {
    for (let mis = 0; mis < 4; mis++) {
      const lr = 0.05, wd = 0.01;
      compare(n, mis, [], n + mis,
        (p, g, _s, n) => k.sgd_step(p, g, n, lr, wd),
        (p, g, _s, n) => ref.sgd_step(p, g, n, lr, wd));
    }
  });

  it.each(NS)("momentum_step n=%i (plain and Nesterov)", (n) => {
    for (let mis = 0; mis < 4; mis++) {
      for (const nesterov of [0, 1]) {
        const lr = 0.05, mu = 0.9, wd = 0.01;
        compare(n, mis, [1], 10 * n + mis + nesterov,
          (p, g, [v], n) => k.momentum_step(p, g, v, n, lr, mu, wd, nesterov),
          (p, g, [v], n) => ref.momentum_step(p, g, v, n, lr, mu, wd, nesterov));
      }
    }
  });

  it.each(NS)("adagrad_step n=%i", (n) => {
    for (let mis = 0; mis < 4; mis++) {
      const lr = 0.05, eps = 1e-10, wd = 0.01;
      compare(n, mis, [1e-6], 20 * n + mis,
        (p, g, [s], n) => k.adagrad_step(p, g, s, n, lr, eps, wd),
        (p, g, [s], n) => ref.adagrad_step(p, g, s, n, lr, eps, wd));
    }
  });

  it.each(NS)("rmsprop_step n=%i", (n) => {
    for (let mis = 0; mis < 4; mis++) {
      const lr = 0.01, alpha = 0.99, eps = 1e-8, wd = 0.01;
      compare(n, mis, [1e-6], 30 * n + mis,
        (p, g, [s], n) => k.rmsprop_step(p, g, s, n, lr, alpha, eps, wd),
        (p, g, [s], n) => ref.rmsprop_step(p, g, s, n, lr, alpha, eps, wd));
    }
  });

  it.each(NS)("adam_step n=%i (Adam and AdamW)", (n) => {
    for (let mis = 0; mis < 4; mis++) {
      for (const decoupled of [0, 1]) {
        const lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.05;
        const bc = (t: number) => [1 - b1 ** t, 1 - b2 ** t];
        compare(n, mis, [0.1, 1e-6], 40 * n + mis + decoupled,
          (p, g, [m, v], n, t) => k.adam_step(p, g, m, v, n, lr, b1, b2, eps, wd, decoupled, bc(t)[0], bc(t)[1]),
          (p, g, [m, v], n, t) => ref.adam_step(p, g, m, v, n, lr, b1, b2, eps, wd, decoupled, bc(t)[0], bc(t)[1]));
      }
    }
  });
});

/**
 * Hand-worked PyTorch-semantics examples. One parameter p = 1 (and a second
 * p = -2 where it helps), gradient g = 0.5 on every step unless said. The
 * expected numbers are written out from torch.optim's formulas, not from the
 * reference module. Tolerance 1e-6 relative: a few f32 roundings.
 */
describe("optimizers: hand-computed torch.optim values", () => {
  const run = (n: number, p0: number[], gs: number[][], step: (p: number, g: number, t: number) => void): number[] => {
    const pp = mem.put(p0, 1);
    const pg = mem.alloc(n, 2);
    for (let t = 1; t <= gs.length; t++) {
      new Float32Array(k.memory.buffer, pg, n).set(gs[t - 1]);
      step(pp, pg, t);
    }
    return Array.from(mem.get(pp, n));
  };
  const close = (got: number[], want: number[]) => {
    expect(maxRelErr(got, want).err, `${got} vs ${want}`).toBeLessThanOrEqual(1e-6);
  };

  it("SGD, lr 0.1, weight decay 0.01", () => {
    // p1 = 1 - 0.1*(0.5 + 0.01*1) = 0.949;  p2 = -2 - 0.1*(0.25 + 0.01*(-2)) = -2.023
    close(run(2, [1, -2], [[0.5, 0.25]], (p, g) => k.sgd_step(p, g, 2, 0.1, 0.01)), [0.949, -2.023]);
  });

  it("momentum 0.9, lr 0.1, two steps: plain and Nesterov", () => {
    const v = mem.alloc(1, 0, 0);
    // plain: v = 0.5, p = 1 - 0.05 = 0.95; v = 0.9*0.5 + 0.5 = 0.95, p = 0.95 - 0.095 = 0.855
    close(run(1, [1], [[0.5], [0.5]], (p, g) => k.momentum_step(p, g, v, 1, 0.1, 0.9, 0, 0)), [0.855]);
    const w = mem.alloc(1, 0, 0);
    // Nesterov: v = 0.5, step = 0.5 + 0.9*0.5 = 0.95, p = 0.905;
    //           v = 0.95, step = 0.5 + 0.9*0.95 = 1.355, p = 0.905 - 0.1355 = 0.7695
    close(run(1, [1], [[0.5], [0.5]], (p, g) => k.momentum_step(p, g, w, 1, 0.1, 0.9, 0, 1)), [0.7695]);
  });

  it("Adagrad, lr 0.1, two steps", () => {
    const s = mem.alloc(1, 0, 0);
    // s = 0.25, p = 1 - 0.1*0.5/0.5 = 0.9;  s = 0.5, p = 0.9 - 0.05/sqrt(0.5)
    close(run(1, [1], [[0.5], [0.5]], (p, g) => k.adagrad_step(p, g, s, 1, 0.1, 1e-10, 0)),
      [0.9 - 0.05 / Math.sqrt(0.5)]);
  });

  it("RMSprop, lr 0.01, alpha 0.99, two steps (first step moves 10*lr)", () => {
    const s = mem.alloc(1, 0, 0);
    // s = 0.01*0.25 = 0.0025, p = 1 - 0.01*0.5/0.05 = 0.9
    // s = 0.99*0.0025 + 0.0025 = 0.004975, p = 0.9 - 0.005/sqrt(0.004975)
    close(run(1, [1], [[0.5], [0.5]], (p, g) => k.rmsprop_step(p, g, s, 1, 0.01, 0.99, 1e-8, 0)),
      [0.9 - 0.005 / Math.sqrt(0.004975)]);
  });

  it("Adam, lr 0.1, betas (0.9, 0.999): first step moves lr, second worked out", () => {
    const m = mem.alloc(1, 0, 0);
    const v = mem.alloc(1, 0, 0);
    // t=1, g=0.5: m = 0.05, v = 0.00025, bc1 = 0.1, bc2 = 0.001:
    //   p = 1 - (0.1/0.1) * 0.05 / (sqrt(0.00025)/sqrt(0.001) + 1e-8) = 1 - 0.05/(0.5 + 1e-8)
    // t=2, g=0.25: m = 0.045 + 0.025 = 0.07, v = 0.999*0.00025 + 0.001*0.0625 = 0.00031225,
    //   bc1 = 0.19, bc2 = 1 - 0.999^2 = 0.001999:
    //   p -= (0.1/0.19) * 0.07 / (sqrt(0.00031225)/sqrt(0.001999) + 1e-8)
    const p1 = 1 - 0.05 / (0.5 + 1e-8);
    const p2 = p1 - ((0.1 / 0.19) * 0.07) / (Math.sqrt(0.00031225) / Math.sqrt(0.001999) + 1e-8);
    close(run(1, [1], [[0.5], [0.25]], (p, g, t) =>
      k.adam_step(p, g, m, v, 1, 0.1, 0.9, 0.999, 1e-8, 0, 0, 1 - 0.9 ** t, 1 - 0.999 ** t)), [p2]);
  });

  it("Adam's L2 weight decay vs AdamW's decoupled decay (wd 0.01, lr 0.1, one step)", () => {
    // Adam: d = 0.5 + 0.01*1 = 0.51; m_hat = d, v_hat = d^2, so p = 1 - 0.1*0.51/(0.51 + 1e-8)
    const m = mem.alloc(1, 0, 0), v = mem.alloc(1, 0, 0);
    close(run(1, [1], [[0.5]], (p, g) => k.adam_step(p, g, m, v, 1, 0.1, 0.9, 0.999, 1e-8, 0.01, 0, 0.1, 0.001)),
      [1 - 0.051 / (0.51 + 1e-8)]);
    // AdamW: p = 1*(1 - 0.1*0.01) = 0.999, then p -= 0.1*0.5/(0.5 + 1e-8)
    const m2 = mem.alloc(1, 0, 0), v2 = mem.alloc(1, 0, 0);
    close(run(1, [1], [[0.5]], (p, g) => k.adam_step(p, g, m2, v2, 1, 0.1, 0.9, 0.999, 1e-8, 0.01, 1, 0.1, 0.001)),
      [0.999 - 0.05 / (0.5 + 1e-8)]);
  });
});

describe("sum_squares", () => {
  it.each(NS)("n=%i matches the f64 sum of squares", (n) => {
    const rng = new Rng(50 + n);
    for (let mis = 0; mis < 4; mis++) {
      const g = randArray(rng, n, -3, 3);
      const got = k.sum_squares(mem.put(g, mis), n);
      const want = ref.sum_squares(g, n);
      expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-12 * want);
    }
  });

  it("is exact in f64 where f32 accumulation would not be", () => {
    // 1 + 2^-12 squared needs 25 bits of mantissa: an f32 accumulator rounds it.
    const x = 1 + 2 ** -12;
    const g = new Float32Array(9).fill(x);
    expect(k.sum_squares(mem.put(g, 1), 9)).toBe(9 * x * x);
  });
});

describe("adam_step flags a non-finite weight it writes (the fused divergence check)", () => {
  it.each(NS)("n=%i: the flag is set exactly when count_nonfinite of the new weights is not 0, as in the reference", (n) => {
    const rng = new Rng(70 + n);
    let flagged = 0, clean = 0;
    for (let mis = 0; mis < 4; mis++) {
      for (const decoupled of [0, 1]) {
        // Finite weights and moments; gradients finite, or with one NaN / +-inf (a diverged
        // backward) at a random place, the tail included; and a huge learning rate that overflows
        // finite weights to inf.
        for (const poison of n > 0 ? [false, true] : [false]) {
          const p0 = randArray(rng, n), g = randArray(rng, n);
          if (poison) g[rng.int(n)] = [NaN, Infinity, -Infinity][rng.int(3)];
          for (const lr of [0.01, 3e38]) {
            const pp = mem.put(p0, mis), gp = mem.put(g, mis);
            const m = mem.put(new Float32Array(n), mis), v = mem.put(new Float32Array(n), mis);
            const got = k.adam_step(pp, gp, m, v, n, lr, 0.9, 0.999, 1e-8, 0.01, decoupled, 0.1, 0.001);
            const rp = Float64Array.from(p0), rm = new Float64Array(n), rv = new Float64Array(n);
            const want = ref.adam_step(rp, g, rm, rv, n, lr, 0.9, 0.999, 1e-8, 0.01, decoupled, 0.1, 0.001);
            expect(got, `n=${n} mis=${mis} lr=${lr}`).toBe(k.count_nonfinite(pp, n) > 0 ? 1 : 0);
            // The f32 kernel and the f64 reference agree where NaN/inf came from the gradients.
            if (lr === 0.01) expect(got, `n=${n} mis=${mis}: reference`).toBe(want);
            if (lr === 0.01) expect(got).toBe(poison ? 1 : 0);
            if (got) flagged++;
            else clean++;
          }
        }
      }
    }
    if (n > 0) expect(flagged).toBeGreaterThan(0);
    expect(clean).toBeGreaterThan(0);
  });
});

describe("count_nonfinite", () => {
  it.each(NS)("n=%i counts NaN and +-inf only", (n) => {
    const rng = new Rng(60 + n);
    for (let mis = 0; mis < 4; mis++) {
      const x = randArray(rng, n);
      const specials = [NaN, Infinity, -Infinity, 3.4e38, -3.4e38, 1e-45, -0, 0];
      for (let i = 0; i < n; i++) if (rng.next() < 0.3) x[i] = specials[rng.int(specials.length)];
      expect(k.count_nonfinite(mem.put(x, mis), n)).toBe(ref.count_nonfinite(x, n));
    }
  });

  it("counts every kind of NaN bit pattern", () => {
    const b = new Int32Array([0x7fc00000, 0xffc00000 | 0, 0x7f800001, 0x7fffffff, 0x7f800000, 0xff800000 | 0, 0x7f7fffff]);
    const x = new Float32Array(b.buffer);
    const p = mem.alloc(7, 1);
    new Int32Array(k.memory.buffer, p, 7).set(b);
    expect(k.count_nonfinite(p, 7)).toBe(6); // all but FLT_MAX
    expect(x.length).toBe(7);
  });
});
