// Time-series forecasting: windows(), Scaler and model.forecast(), checked
// against hand-computed values and against the batched predict() path (an
// independent route through the model: GEMM layers instead of the session's
// batch-1 kernels), on the Mauna Loa CO2 series of examples/data/co2.csv.
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { UnfoldError } from "../src/errors.js";
import { Scaler, windows } from "../src/data/timeseries.js";
import { Sequential } from "../src/model/sequential.js";
import { loadModel, saveModel } from "../src/model/save.js";
import { loadKernels } from "./helpers.js";

beforeAll(async () => {
  await loadKernels();
});

const co2 = readFileSync(new URL("../examples/data/co2.csv", import.meta.url), "utf8").trim().split("\n").slice(1).map((l) => Number(l.split(",")[2]));

function code(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    expect(e, String(e)).toBeInstanceOf(UnfoldError);
    return (e as UnfoldError).code;
  }
  throw new Error("expected an UnfoldError");
}

describe("windows()", () => {
  it("many-to-one: lookback steps in, the next horizon steps out, with stride", () => {
    const s = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
    const w = windows(s, { lookback: 3, horizon: 2, stride: 2 });
    expect(w.inputs.map((x) => Array.from(x))).toEqual([[0, 1, 2], [2, 3, 4], [4, 5, 6]]);
    expect(w.targets.map((x) => Array.from(x))).toEqual([[3, 4], [5, 6], [7, 8]]);
  });

  it("many-to-many: the target of step t is step t + horizon", () => {
    const w = windows([10, 11, 12, 13, 14], { lookback: 3, horizon: 1, mode: "many-to-many" });
    expect(w.inputs.map((x) => Array.from(x))).toEqual([[10, 11, 12], [11, 12, 13]]);
    expect(w.targets.map((x) => Array.from(x))).toEqual([[11, 12, 13], [12, 13, 14]]);
  });

  it("multivariate with target features, and several series (windows never cross between them)", () => {
    // two features per step: (t, 100 + t)
    const a = Float32Array.from({ length: 10 }, (_, i) => (i % 2 ? 100 + (i >> 1) : i >> 1)); // 5 steps
    const b = Float32Array.from({ length: 8 }, (_, i) => (i % 2 ? 200 + (i >> 1) : 50 + (i >> 1))); // 4 steps
    const w = windows([a, b], { lookback: 2, horizon: 1, features: 2, targetFeatures: [1] });
    expect(w.inputs.length).toBe(3 + 2);
    expect(Array.from(w.inputs[0])).toEqual([0, 100, 1, 101]);
    expect(Array.from(w.targets[0])).toEqual([102]);
    expect(Array.from(w.inputs[3])).toEqual([50, 200, 51, 201]);
    expect(Array.from(w.targets[4])).toEqual([203]);
  });

  it("bad input names the argument", () => {
    expect(code(() => windows([1, 2, 3], { lookback: 3 }))).toBe("E_SHAPE"); // lookback + horizon > T
    expect(code(() => windows([1, 2, 3], { lookback: 1, horizon: 3 }))).toBe("E_SHAPE");
    expect(code(() => windows([1, NaN, 3, 4], { lookback: 1 }))).toBe("E_NAN");
    expect(code(() => windows([1, 2, 3, 4], { lookback: 0 }))).toBe("E_OPTION");
    expect(code(() => windows([1, 2, 3, 4], { lookback: 1.5 }))).toBe("E_OPTION");
    expect(code(() => windows([1, 2, 3, 4], { lookback: 1, stride: 0 }))).toBe("E_OPTION");
    expect(code(() => windows([1, 2, 3, 4], { lookback: 1, mode: "one-to-many" as "many-to-one" }))).toBe("E_OPTION");
    expect(code(() => windows([1, 2, 3], { lookback: 1, features: 2 }))).toBe("E_SHAPE");
    expect(code(() => windows([1, 2, 3, 4], { lookback: 1, features: 2, targetFeatures: [2] }))).toBe("E_OPTION");
    expect(code(() => windows(null as unknown as number[], { lookback: 1 }))).toBe("E_OPTION");
    try {
      windows([1, 2, 3], { lookback: 5 });
    } catch (e) {
      expect((e as UnfoldError).param).toBe("lookback");
      expect((e as Error).message).toMatch(/lookback 5/);
    }
  });
});

describe("Scaler", () => {
  it("standard and min-max per feature, fitted on training data only, inverse exact", () => {
    const train = [1, 10, 2, 20, 3, 30, 4, 40]; // F = 2
    const st = Scaler.fit(train, { features: 2 });
    const z = st.transform(train);
    // feature 0: mean 2.5, std sqrt(1.25); feature 1: mean 25, std sqrt(125)
    expect(z[0]).toBeCloseTo((1 - 2.5) / Math.sqrt(1.25), 6);
    expect(z[7]).toBeCloseTo((40 - 25) / Math.sqrt(125), 6);
    const held = [5, 50];
    expect(Array.from(st.transform(held))).toEqual([Math.fround((5 - 2.5) / Math.sqrt(1.25)), Math.fround((50 - 25) / Math.sqrt(125))]);
    expect(Array.from(st.inverse(st.transform(held)))).toEqual(held);
    const mm = Scaler.fit(train, { method: "minmax", features: 2 });
    expect(Array.from(mm.transform([1, 40, 2.5, 25]))).toEqual([0, 1, 0.5, 0.5]);
    expect(Array.from(mm.inverse([0, 1], [1, 0]))).toEqual([10, 4]); // feature subset, in the given order
    const back = Scaler.fromJSON(JSON.parse(JSON.stringify(mm.toJSON())));
    expect(Array.from(back.transform([3, 30]))).toEqual(Array.from(mm.transform([3, 30])));
  });

  it("constant features scale by 1; bad input is refused", () => {
    const s = Scaler.fit([7, 7, 7]);
    expect(Array.from(s.transform([8]))).toEqual([1]);
    expect(code(() => Scaler.fit([]))).toBe("E_SHAPE");
    expect(code(() => Scaler.fit([1, Infinity]))).toBe("E_NAN");
    expect(code(() => Scaler.fit([1, 2], { method: "robust" as "standard" }))).toBe("E_OPTION");
    expect(code(() => s.transform([NaN]))).toBe("E_NAN");
    expect(code(() => Scaler.fromJSON({ method: "standard", offset: [0], scale: [0] }))).toBe("E_FORMAT");
  });
});

describe("model.forecast()", () => {
  const L = 24;
  const diff = co2.slice(1).map((v, i) => v - co2[i]);
  const train = diff.slice(0, -24);

  function trained(spec: { outputs: number; mode: "many-to-one" | "many-to-many" }): Sequential {
    const m = new Sequential({ input: { type: "features", size: 1 }, recurrent: [{ cell: "lstm", hiddenSize: 16 }], output: { size: spec.outputs, loss: "mse" }, mode: spec.mode, seed: 2 });
    m.scaler = Scaler.fit(train);
    const data = windows(m.scaler.transform(train), { lookback: L, horizon: spec.outputs, mode: spec.mode === "many-to-one" ? "many-to-one" : "many-to-many" });
    m.fit(data, { epochs: 5, batchSize: 32, optimizer: { type: "adam", lr: 0.01 } });
    return m;
  }

  it("autoregressive with a lookback equals sliding windows through predict(), fed its own predictions", () => {
    const m = trained({ outputs: 1, mode: "many-to-one" });
    const got = m.forecast(train, 12, { lookback: L });
    // The same roll, by hand, through the batched path.
    const sc = m.scaler!;
    const win = Array.from(sc.transform(train.slice(-L)));
    const want: number[] = [];
    for (let h = 0; h < 12; h++) {
      const y = m.predict([Float32Array.from(win)])[0][0];
      want.push(y);
      win.shift();
      win.push(Math.fround(y));
    }
    const wantRaw = sc.inverse(want);
    for (let h = 0; h < 12; h++) expect(Math.abs(got[h] - wantRaw[h]), `step ${h}`).toBeLessThan(1e-4 * (1 + Math.abs(wantRaw[h])));
    // The learned seasonal pattern is there: the forecast changes sign over a year, like the real changes.
    expect(Math.max(...got)).toBeGreaterThan(0.5);
    expect(Math.min(...got)).toBeLessThan(-0.5);
    // Saved and loaded, the scaler comes along and the forecast is the same.
    const { model: back } = loadModel(saveModel(m));
    expect(Array.from((back as Sequential).forecast(train, 12, { lookback: L }))).toEqual(Array.from(got));
    back.dispose();
    m.dispose();
  });

  it("stateful roll (no lookback) equals predict() of the growing sequence", () => {
    const m = trained({ outputs: 1, mode: "many-to-many" });
    const hist = train.slice(-40);
    const got = m.forecast(hist, 5);
    const seq = Array.from(m.scaler!.transform(hist));
    for (let h = 0; h < 5; h++) {
      const out = m.predict([Float32Array.from(seq)])[0];
      const y = out[out.length - 1];
      expect(Math.abs(got[h] - m.scaler!.inverse([y])[0])).toBeLessThan(1e-4);
      seq.push(Math.fround(y));
    }
    m.dispose();
  });

  it("direct multi-output head: h steps at once equal predict()'s output", () => {
    const m = trained({ outputs: 6, mode: "many-to-one" });
    const got = m.forecast(train, 4, { lookback: L });
    const y = m.predict([m.scaler!.transform(train.slice(-L))])[0];
    const want = m.scaler!.inverse(Array.from(y).slice(0, 4));
    for (let h = 0; h < 4; h++) expect(Math.abs(got[h] - want[h])).toBeLessThan(1e-4);
    expect(code(() => m.forecast(train, 7, { lookback: L }))).toBe("E_OPTION"); // more than the head's 6 steps
    m.dispose();
  });

  it("bad input: no scaler, NaN history, short history, bad horizon, a tokens model", () => {
    const m = trained({ outputs: 1, mode: "many-to-one" });
    expect(code(() => m.forecast([...train.slice(0, 30), NaN], 3))).toBe("E_NAN");
    expect(code(() => m.forecast(train.slice(0, 10), 3, { lookback: L }))).toBe("E_SHAPE");
    expect(code(() => m.forecast(train, 0))).toBe("E_OPTION");
    expect(code(() => m.forecast(train, 2, { lookback: 0 }))).toBe("E_OPTION");
    const sc = m.scaler;
    m.scaler = null;
    expect(code(() => m.forecast(train, 3))).toBe("E_STATE");
    m.scaler = sc;
    m.dispose();
    const lm = new Sequential({ input: { type: "tokens", vocabSize: 5, embeddingDim: 3 }, recurrent: [{ cell: "gru", hiddenSize: 4 }], output: { size: 5, loss: "xent" }, mode: "many-to-many" });
    expect(code(() => lm.forecast([1, 2], 1))).toBe("E_UNSUPPORTED");
    lm.dispose();
  });
});
