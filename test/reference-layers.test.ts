// The float64 reference layers (src/reference/layers.ts) are the oracle for the
// WASM layers, so they are checked twice, independently:
//  1. central finite differences of the reference itself, for every parameter
//     tensor, the input, h0 and c0 (every kind, 1-2 layers, uni/bidirectional);
//  2. PyTorch 1.13's nn.RNN / nn.LSTM / nn.GRU in float64: forward outputs and
//     every gradient, from the committed fixtures in test/fixtures/torch/
//     (regenerate with `/usr/bin/python3 tools/torch_fixtures.py`).
// No WASM is needed here.
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  type CellKind, type RefConfig,
  directionCount, refBackward, refForward, refGradNormsPerStep, refParamShapes,
} from "../src/reference/layers.js";
import { Rng } from "../src/util/rng.js";

const KINDS: CellKind[] = ["rnn_tanh", "rnn_relu", "lstm", "gru"];

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function uniform(rng: Rng, n: number, lo = -1, hi = 1): Float64Array {
  return rng.fillUniform(new Float64Array(n), lo, hi) as Float64Array;
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Largest |a - b| / max(|a|, |b|, floor) and where; the floor keeps near-zero entries meaningful. */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>, floor: number): { err: number; at: number } {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let err = 0;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    const e = Math.abs(a[i] - b[i]) / Math.max(Math.abs(a[i]), Math.abs(b[i]), floor);
    if (!(e <= err)) {
      err = e;
      at = i;
    }
  }
  return { err, at };
}

// ---------------------------------------------------------------------------
// 1. Finite differences.
//
// L = sum(dOutput ⊙ output) + sum(dhN ⊙ hN) (+ sum(dcN ⊙ cN)) with random
// dOutput, dhN, dcN: a random linear functional of every output, so every path
// (output at each step, final states, both directions, every layer) carries
// gradient. Central differences with eps = 1e-5 have truncation error
// ~eps²·L''' ≈ 1e-10 and rounding error ~1e-16·|L|/eps ≈ 1e-11, so a relative
// error (floor 1e-3 on the denominator) below 1e-6 leaves a wide margin.

interface FdCase {
  cfg: RefConfig;
  T: number;
  B: number;
}

const FD_EPS = 1e-5;
const FD_FLOOR = 1e-3;
const FD_TOL = 1e-6;

const fdCases: FdCase[] = [];
for (const kind of KINDS) {
  for (const bidirectional of [false, true]) {
    for (const numLayers of [1, 2]) {
      for (const [T, B, H] of [[4, 2, 5], [1, 1, 2], [4, 1, 1]]) {
        fdCases.push({ cfg: { kind, inputSize: 3, hiddenSize: H, numLayers, bidirectional }, T, B });
      }
    }
  }
}

// The Keras / tfjs-layers variants: hard-sigmoid gates, the reset-before GRU.
for (const [kind, gateActivation, resetAfter] of [
  ["lstm", "hard_sigmoid", undefined], ["gru", "hard_sigmoid", undefined], ["gru", "sigmoid", false], ["gru", "hard_sigmoid", false],
] as const) {
  for (const [numLayers, bidirectional, T, B, H] of [[1, false, 4, 2, 5], [2, true, 3, 2, 3], [1, false, 1, 1, 1]] as const) {
    fdCases.push({ cfg: { kind, inputSize: 3, hiddenSize: H, numLayers, bidirectional, gateActivation, resetAfter }, T, B });
  }
}

function caseName(c: FdCase): string {
  const { kind, numLayers, bidirectional, hiddenSize, gateActivation, resetAfter } = c.cfg;
  const variant = `${gateActivation === "hard_sigmoid" ? " hard_sigmoid" : ""}${resetAfter === false ? " resetAfter=false" : ""}`;
  return `${kind}${variant} L=${numLayers} ${bidirectional ? "bidir" : "uni"} T=${c.T} B=${c.B} H=${hiddenSize}`;
}

let fdWorst = { err: 0, where: "", abs: 0 };

describe("reference layers: finite differences", () => {
  fdCases.forEach((c, caseIndex) => {
    it(caseName(c), () => {
      const { cfg, T, B } = c;
      const { inputSize: I, hiddenSize: H, numLayers: L } = cfg;
      const D = directionCount(cfg);
      const lstm = cfg.kind === "lstm";
      const rng = new Rng(7000 + caseIndex);
      const shapes = refParamShapes(cfg);
      const params: Record<string, Float64Array> = {};
      for (const [name, shape] of Object.entries(shapes)) params[name] = uniform(rng, size(shape), -0.8, 0.8);
      const x = uniform(rng, T * B * I);
      const h0 = uniform(rng, L * D * B * H);
      const c0 = lstm ? uniform(rng, L * D * B * H) : undefined;
      const dOutput = uniform(rng, T * B * D * H);
      const dhN = uniform(rng, L * D * B * H);
      const dcN = lstm ? uniform(rng, L * D * B * H) : undefined;

      const loss = (): number => {
        const r = refForward(cfg, params, x, B, h0, c0);
        return dot(dOutput, r.output) + dot(dhN, r.hN) + (lstm ? dot(dcN!, r.cN!) : 0);
      };
      const fwd = refForward(cfg, params, x, B, h0, c0);
      expect(fwd.output.length).toBe(T * B * D * H);
      expect(fwd.hN.length).toBe(L * D * B * H);
      const bwd = refBackward(cfg, params, fwd.cache, dOutput, dhN, dcN);

      // Every tensor we differentiate with respect to, with its analytic gradient.
      const targets: [string, Float64Array, Float64Array][] = Object.keys(shapes).map((n) => [n, params[n], bwd.grads[n]]);
      targets.push(["x", x, bwd.dInput], ["h0", h0, bwd.dh0]);
      if (lstm) targets.push(["c0", c0!, bwd.dc0!]);
      expect(Object.keys(bwd.grads).sort()).toEqual(Object.keys(shapes).sort());

      for (const [name, value, analytic] of targets) {
        expect(analytic.length, name).toBe(value.length);
        const numeric = new Float64Array(value.length);
        for (let i = 0; i < value.length; i++) {
          const v = value[i];
          value[i] = v + FD_EPS;
          const lp = loss();
          value[i] = v - FD_EPS;
          const lm = loss();
          value[i] = v;
          numeric[i] = (lp - lm) / (2 * FD_EPS);
        }
        const { err, at } = relErr(analytic, numeric, FD_FLOOR);
        if (err > fdWorst.err) fdWorst = { ...fdWorst, err, where: `${caseName(c)} ${name}[${at}]` };
        for (let i = 0; i < value.length; i++) fdWorst.abs = Math.max(fdWorst.abs, Math.abs(analytic[i] - numeric[i]));
        expect(err, `${name}[${at}]: analytic ${analytic[at]} numeric ${numeric[at]}`).toBeLessThan(FD_TOL);
      }
    });
  });

  it("reports the largest finite-difference error", () => {
    console.log(
      `reference FD: max relative error ${fdWorst.err.toExponential(2)} at ${fdWorst.where}; ` +
        `max absolute error ${fdWorst.abs.toExponential(2)}`,
    );
    expect(fdWorst.err).toBeLessThan(FD_TOL);
  });
});

// ---------------------------------------------------------------------------
// 2. PyTorch fixtures.
//
// Both sides are float64 and compute the same formulas, but in a different
// order (PyTorch adds the two biases and sums the GEMMs in its own order;
// OpenBLAS blocks its dot products). Each operation then differs by ~1 ulp
// (1.1e-16 relative), and BPTT over T <= 5 steps and 2 layers accumulates a few
// hundred such roundings, sometimes through cancellation. We measure ~2e-13
// (worst: a near-zero GRU weight gradient) and allow 1e-9 relative (floor 1e-9
// on the denominator, for entries that are near zero): far above rounding
// noise, far below any real mistake (a wrong gate order or a missing term
// shows up at 1e-2 or worse).

const PT_TOL = 1e-9;
const PT_FLOOR = 1e-9;

interface TorchFixture {
  config: RefConfig & { T: number; B: number };
  shapes: Record<string, number[]>;
  state_dict: Record<string, number[]>;
  x: number[];
  h0: number[];
  c0?: number[];
  dOutput: number[];
  dhN: number[];
  dcN?: number[];
  output: number[];
  hN: number[];
  cN?: number[];
  grads: Record<string, number[]>;
  dInput: number[];
  dh0: number[];
  dc0?: number[];
}

const fixtureDir = fileURLToPath(new URL("./fixtures/torch/", import.meta.url));
const fixtureFiles = readdirSync(fixtureDir).filter((f) => f.endsWith(".json")).sort();

let ptWorst = { err: 0, where: "" };

describe("reference layers: PyTorch 1.13 fixtures", () => {
  it("has fixtures", () => {
    expect(fixtureFiles.length).toBeGreaterThanOrEqual(7);
  });

  for (const file of fixtureFiles) {
    it(file, () => {
      const f = JSON.parse(readFileSync(fixtureDir + file, "utf8")) as TorchFixture;
      const { T, B, ...rest } = f.config;
      const cfg: RefConfig = {
        kind: rest.kind, inputSize: rest.inputSize, hiddenSize: rest.hiddenSize,
        numLayers: rest.numLayers, bidirectional: rest.bidirectional,
      };
      const lstm = cfg.kind === "lstm";
      // Our parameter names and shapes are PyTorch's, in its order.
      expect(refParamShapes(cfg)).toEqual(f.shapes);
      expect(Object.keys(refParamShapes(cfg))).toEqual(Object.keys(f.shapes));
      expect(f.x.length).toBe(T * B * cfg.inputSize);

      const fwd = refForward(cfg, f.state_dict, f.x, B, f.h0, f.c0);
      const bwd = refBackward(cfg, f.state_dict, fwd.cache, f.dOutput, f.dhN, f.dcN);

      const pairs: [string, ArrayLike<number>, number[]][] = [
        ["output", fwd.output, f.output],
        ["hN", fwd.hN, f.hN],
        ["dInput", bwd.dInput, f.dInput],
        ["dh0", bwd.dh0, f.dh0],
      ];
      if (lstm) pairs.push(["cN", fwd.cN!, f.cN!], ["dc0", bwd.dc0!, f.dc0!]);
      for (const name of Object.keys(f.grads)) pairs.push([`grad ${name}`, bwd.grads[name], f.grads[name]]);
      expect(pairs.length).toBe((lstm ? 6 : 4) + 4 * cfg.numLayers * directionCount(cfg));

      for (const [name, ours, theirs] of pairs) {
        expect(ours, name).toBeDefined();
        const { err, at } = relErr(ours, theirs, PT_FLOOR);
        if (err > ptWorst.err) ptWorst = { err, where: `${file} ${name}[${at}]` };
        expect(err, `${file} ${name}[${at}]: ours ${ours[at]} torch ${theirs[at]}`).toBeLessThan(PT_TOL);
      }
    });
  }

  it("reports the largest error against PyTorch", () => {
    console.log(`reference vs PyTorch: max relative error ${ptWorst.err.toExponential(2)} at ${ptWorst.where}`);
    expect(ptWorst.err).toBeLessThan(PT_TOL);
  });
});

// ---------------------------------------------------------------------------
// 3. API details and the vanishing-gradient helper.

describe("reference layers: API", () => {
  const cfg: RefConfig = { kind: "lstm", inputSize: 3, hiddenSize: 2, numLayers: 2, bidirectional: true };

  function randomParams(c: RefConfig, rng: Rng, scale = 0.8): Record<string, Float64Array> {
    const params: Record<string, Float64Array> = {};
    for (const [name, shape] of Object.entries(refParamShapes(c))) params[name] = uniform(rng, size(shape), -scale, scale);
    return params;
  }

  it("has PyTorch's parameter names and shapes", () => {
    expect(refParamShapes(cfg)).toEqual({
      weight_ih_l0: [8, 3], weight_hh_l0: [8, 2], bias_ih_l0: [8], bias_hh_l0: [8],
      weight_ih_l0_reverse: [8, 3], weight_hh_l0_reverse: [8, 2], bias_ih_l0_reverse: [8], bias_hh_l0_reverse: [8],
      weight_ih_l1: [8, 4], weight_hh_l1: [8, 2], bias_ih_l1: [8], bias_hh_l1: [8],
      weight_ih_l1_reverse: [8, 4], weight_hh_l1_reverse: [8, 2], bias_ih_l1_reverse: [8], bias_hh_l1_reverse: [8],
    });
    expect(refParamShapes({ kind: "gru", inputSize: 3, hiddenSize: 2, numLayers: 1, bidirectional: false }).weight_hh_l0).toEqual([6, 2]);
    expect(refParamShapes({ kind: "rnn_relu", inputSize: 3, hiddenSize: 2, numLayers: 1, bidirectional: false }).weight_ih_l0).toEqual([2, 3]);
  });

  it("omitted initial states and upstream gradients are zeros", () => {
    const rng = new Rng(1);
    const params = randomParams(cfg, rng);
    const x = uniform(rng, 3 * 2 * 3);
    const zeros = new Float64Array(2 * 2 * 2 * 2);
    const a = refForward(cfg, params, x, 2);
    const b = refForward(cfg, params, x, 2, zeros, zeros);
    expect(a.output).toEqual(b.output);
    expect(a.cN).toEqual(b.cN);
    const dOut = uniform(rng, a.output.length);
    const ga = refBackward(cfg, params, a.cache, dOut);
    const gb = refBackward(cfg, params, b.cache, dOut, zeros, zeros);
    expect(ga.dh0).toEqual(gb.dh0);
    expect(ga.dc0).toEqual(gb.dc0);
    expect(ga.grads).toEqual(gb.grads);
  });

  it("rejects missing or mis-sized parameters and states", () => {
    const rng = new Rng(2);
    const params = randomParams(cfg, rng);
    const x = uniform(rng, 2 * 3);
    const { weight_hh_l1: _dropped, ...missing } = params;
    expect(() => refForward(cfg, missing, x, 1)).toThrow(/missing parameter 'weight_hh_l1'/);
    expect(() => refForward(cfg, { ...params, bias_ih_l0: new Float64Array(7) }, x, 1)).toThrow(/'bias_ih_l0' has 7 values/);
    expect(() => refForward(cfg, params, x, 4)).toThrow(/multiple of B\*I/);
    expect(() => refForward(cfg, params, x, 1, new Float64Array(3))).toThrow(/h0 has 3 values/);
  });

  it("refGradNormsPerStep gives ||dL/dh_t||, checked by restarting the unfolding at h_t", () => {
    for (const kind of KINDS) {
      const c: RefConfig = { kind, inputSize: 3, hiddenSize: 4, numLayers: 1, bidirectional: false };
      const rng = new Rng(3);
      const params = randomParams(c, rng);
      const T = 6, B = 2, H = 4, I = 3;
      const x = uniform(rng, T * B * I);
      const h0 = uniform(rng, B * H);
      const c0 = uniform(rng, B * H);
      const dhT = uniform(rng, B * H);
      const norms = refGradNormsPerStep(c, params, x, B, dhT, h0, c0);
      expect(norms.length).toBe(T);
      expect(norms[T - 1]).toBeCloseTo(Math.sqrt(dot(dhT, dhT)), 14);
      // dL/dh_t is dL/dh0 of the same model started from (h_t, c_t) on x[t+1..T-1].
      const full = refForward(c, params, x, B, h0, c0);
      let cState = c0;
      for (let t = 0; t < T - 1; t++) {
        const ht = full.output.slice(t * B * H, (t + 1) * B * H);
        if (kind === "lstm") cState = refForward(c, params, x.slice(0, (t + 1) * B * I), B, h0, c0).cN!;
        const rest = refForward(c, params, x.slice((t + 1) * B * I), B, ht, cState);
        const g = refBackward(c, params, rest.cache, new Float64Array(rest.output.length), dhT);
        expect(norms[t]).toBeCloseTo(Math.sqrt(dot(g.dh0, g.dh0)), 12);
      }
    }
  });

  it("shows the vanishing gradient of a tanh RNN with small recurrent weights", () => {
    const c: RefConfig = { kind: "rnn_tanh", inputSize: 3, hiddenSize: 8, numLayers: 1, bidirectional: false };
    const rng = new Rng(4);
    const params = randomParams(c, rng, 0.3);
    const T = 30;
    const norms = refGradNormsPerStep(c, params, uniform(rng, T * 3), 1);
    for (let t = 1; t < T; t++) expect(norms[t - 1]).toBeLessThan(norms[t]);
    expect(norms[0] / norms[T - 1]).toBeLessThan(1e-6);
  });
});
