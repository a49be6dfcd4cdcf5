// Forecasting benchmark and the default recipe (issue 18):
//  - the JS metrics (src/data/metrics.ts) against R's numbers on the same splits
//    (tools/baselines-series.R, whose MAE and MASE are checked there against
//    forecast::accuracy()): seasonal naive computed here from the CSVs must be R's
//    snaive/naive forecast value for value, and MAE / MASE / sMAPE / coverage of all
//    four R methods' forecasts must be R's numbers;
//  - planSeries (log test, differencing), the Forecaster's bad-input errors, a
//    constant series, and the Forecaster's members against the landed
//    forecast() (an independent route: batch-1 session kernels);
//  - a small learning check (AirPassengers, 2 seeds) against seasonal naive.
// The benchmark bars on the CI subset run in test/examples-forecast.test.ts.
import { beforeAll, describe, expect, it } from "vitest";
import { UnfoldError } from "../src/errors.js";
import { coverage, mae, mase, naiveScale, seasonalNaive, smape } from "../src/data/metrics.js";
import { Forecaster, GlobalForecaster, planSeries } from "../src/model/forecaster.js";
// @ts-expect-error plain ESM helper of the examples, no types
import { readBaselineForecasts, readBaselines, readSeries } from "../examples/lib/series.mjs";
import { loadKernels } from "./helpers.js";

interface Series { name: string; period: number; holdout: number; values: number[]; kind: string; source: string; licence: string }
const series: Series[] = readSeries();
const base: Map<string, Record<string, { mae: number; mase: number; smape: number; cover80: number }>> = readBaselines();
const fcs: Map<string, { mean: number[]; lo80: number[]; hi80: number[] }> = readBaselineForecasts();
const byName = (n: string): Series => series.find((s) => s.name === n)!;
const split = (s: Series) => ({ train: s.values.slice(0, -s.holdout), test: s.values.slice(-s.holdout) });

function error(f: () => unknown): UnfoldError {
  try {
    f();
  } catch (e) {
    expect(e, String(e)).toBeInstanceOf(UnfoldError);
    return e as UnfoldError;
  }
  throw new Error("expected an UnfoldError");
}

beforeAll(async () => {
  await loadKernels();
});

describe("the benchmark data", () => {
  it("has >= 15 series, monthly, quarterly and annual, seasonal and not, each with a source and a licence", () => {
    expect(series.length).toBeGreaterThanOrEqual(15);
    expect(new Set(series.map((s) => s.kind))).toEqual(new Set(["monthly", "quarterly", "annual/other"]));
    expect(series.filter((s) => s.period > 1).length).toBeGreaterThanOrEqual(5);
    expect(series.filter((s) => s.period === 1).length).toBeGreaterThanOrEqual(5);
    for (const s of series) {
      expect(s.source.length, s.name).toBeGreaterThan(10);
      expect(s.licence.length, s.name).toBeGreaterThan(10);
      expect(s.values.every(Number.isFinite), s.name).toBe(true);
      // the fixed holdout: 2 seasons, or 10% of a non-seasonal series
      expect(s.holdout, s.name).toBe(s.period > 1 ? 2 * s.period : Math.round(0.1 * s.values.length));
      expect(Object.keys(base.get(s.name)!).sort(), s.name).toEqual(["auto.arima", "ets", "snaive", "thetaf"]);
    }
  });
});

describe("metrics vs R (tools/baselines-series.R)", () => {
  it("seasonal naive here is R's snaive/naive forecast, and its MAE, MASE, sMAPE are R's", () => {
    for (const s of series) {
      const { train, test } = split(s);
      const f = seasonalNaive(train, s.holdout, s.period);
      const r = fcs.get(`${s.name}/snaive`)!;
      for (let i = 0; i < f.length; i++) expect(Math.abs(f[i] - r.mean[i]), `${s.name}[${i}]`).toBeLessThanOrEqual(1e-9 * Math.max(1, Math.abs(r.mean[i])));
      const b = base.get(s.name)!.snaive;
      expect(mae(test, f)).toBeCloseTo(b.mae, 6);
      expect(Math.abs(mase(test, f, train, s.period) / b.mase - 1), s.name).toBeLessThan(1e-8);
      expect(Math.abs(smape(test, f) - b.smape), s.name).toBeLessThan(1e-7);
    }
  });

  it("MAE, MASE, sMAPE and 80% coverage of R's ets, auto.arima and thetaf forecasts are R's numbers", () => {
    let checked = 0;
    for (const s of series) {
      const { train, test } = split(s);
      for (const meth of ["ets", "auto.arima", "thetaf"]) {
        const r = fcs.get(`${s.name}/${meth}`)!, b = base.get(s.name)![meth];
        expect(Math.abs(mae(test, r.mean) / b.mae - 1), `${s.name} ${meth}`).toBeLessThan(1e-8);
        expect(Math.abs(mase(test, r.mean, train, s.period) / b.mase - 1), `${s.name} ${meth}`).toBeLessThan(1e-8);
        expect(Math.abs(smape(test, r.mean) - b.smape), `${s.name} ${meth}`).toBeLessThan(1e-6);
        expect(coverage(test, r.lo80, r.hi80)).toBeCloseTo(b.cover80, 5);
        checked++;
      }
    }
    expect(checked).toBe(3 * series.length);
  });

  it("by hand: MASE's scale is the in-sample seasonal naive MAE; sMAPE counts 0/0 as 0; bad input is an UnfoldError", () => {
    expect(naiveScale([1, 2, 4, 8], 2)).toBe((3 + 6) / 2);
    expect(mase([10], [7], [1, 2, 4, 8], 2)).toBe(3 / 4.5);
    expect(smape([0, 1], [0, 3])).toBe((0 + 100) / 2);
    expect(coverage([1, 2, 3], [0, 2.5, 3], [1, 3, 3])).toBeCloseTo(2 / 3, 12);
    expect(Array.from(seasonalNaive([1, 2, 3, 4, 5], 5, 2))).toEqual([4, 5, 4, 5, 4]);
    expect(error(() => mae([1, 2], [1])).code).toBe("E_SHAPE");
    expect(error(() => mae([1, NaN], [1, 2])).param).toBe("actual[1]");
    expect(error(() => mase([1], [1], [3, 3, 3], 1)).code).toBe("E_OPTION");
    expect(error(() => naiveScale([1, 2], 2)).code).toBe("E_SHAPE");
    expect(error(() => seasonalNaive([1, 2], 1, 0)).param).toBe("period");
  });
});

describe("planSeries: the preprocessing chosen from the data", () => {
  it("logs AirPassengers (spread grows with the level) but not nottem (a stable level) or Nile (no trend in spread)", () => {
    const ap = planSeries(split(byName("AirPassengers")).train, 12, 24);
    expect(ap.log).toBe(true);
    expect(ap.levelSlope!).toBeGreaterThanOrEqual(0.5);
    expect(ap.levelCorrelation!).toBeGreaterThanOrEqual(0.5);
    expect(ap.seasonalDifference).toBe(true);
    expect(planSeries(split(byName("nottem")).train, 12, 24).log).toBe(false);
    expect(planSeries(split(byName("Nile")).train, 1, 10).log).toBe(false);
    // a series with a value <= 0 is never logged
    expect(planSeries([0, ...split(byName("AirPassengers")).train], 12, 24).log).toBe(false);
  });

  it("differences a trend or a random walk (WWWusage, BJsales: VR >= 0.5) but not a mean-reverting series (Nile, discoveries, sunspots)", () => {
    for (const [n, h] of [["WWWusage", 10], ["BJsales", 15]] as const) expect(planSeries(split(byName(n)).train, 1, h).varianceRatio).toBeGreaterThan(1);
    expect(planSeries(split(byName("sunspot.month")).train, 1, 318).difference).toBe(false);
    expect(planSeries(split(byName("WWWusage")).train, 1, 10).difference).toBe(true);
    expect(planSeries(split(byName("BJsales")).train, 1, 15).difference).toBe(true);
    expect(planSeries(split(byName("Nile")).train, 1, 10).difference).toBe(false);
    expect(planSeries(split(byName("discoveries")).train, 1, 10).difference).toBe(false);
    expect(planSeries(split(byName("Nile")).train, 1, 10, { difference: true }).difference).toBe(true);
  });
});

describe("Forecaster", () => {
  it("bad input: NaN, too short, period not below the length, bad options -> UnfoldError naming the series and the value", () => {
    const x = split(byName("AirPassengers")).train.slice();
    x[37] = NaN;
    let e = error(() => Forecaster.fit(x, { period: 12, horizon: 24, name: "AirPassengers" }));
    expect([e.code, e.param, e.received]).toEqual(["E_NAN", "AirPassengers[37]", "NaN"]);
    e = error(() => Forecaster.fit(split(byName("AirPassengers")).train.slice(0, 30), { period: 12, horizon: 24, name: "short" }));
    expect(e.code).toBe("E_SHAPE");
    expect(e.param).toBe("short");
    expect(e.received).toBe("30");
    expect(e.message).toMatch(/short has 30 values, too few for lookback/);
    e = error(() => Forecaster.fit([1, 2, 3, 4, 5], { period: 12, horizon: 2, name: "tiny" }));
    expect([e.code, e.param, e.received]).toEqual(["E_SHAPE", "tiny.period", "12"]);
    expect(error(() => Forecaster.fit([1, 2, 3], { period: 0, horizon: 2 })).param).toBe("series.period");
    expect(error(() => Forecaster.fit([1, 2, 3], { period: 1, horizon: 2, seeds: [] })).param).toBe("seeds");
    expect(error(() => Forecaster.fit([1, 2, 3], { period: 1, horizon: 2, level: 1 })).param).toBe("level");
    expect(error(() => Forecaster.fit([1, 2, 3], { period: 1, horizon: 2, difference: "yes" as never })).param).toBe("difference");
    e = error(() => Forecaster.fit([3, 2, 0, 4, 5, 6], { period: 1, horizon: 2, log: true, name: "s" }));
    expect([e.code, e.param, e.received]).toEqual(["E_OPTION", "s[2]", "0"]);
  });

  it("a constant series gets that constant, with a zero-width interval, not NaN", () => {
    const f = Forecaster.fit(new Array(60).fill(4.5), { period: 12, horizon: 7 });
    expect(f.plan.constant).toBe(true);
    const r = f.forecast();
    for (const a of [r.mean, r.lower, r.upper, ...r.members]) expect(Array.from(a)).toEqual(new Array(7).fill(4.5));
    f.dispose();
  });

  it("each member's forecast is the landed forecast() of its model on u, undone (log, differences)", () => {
    const { train } = split(byName("AirPassengers"));
    const f = Forecaster.fit(train, { period: 12, horizon: 24, seeds: [3], maxEpochs: 6, patience: 3, paths: 20 });
    expect(f.plan.log).toBe(true);
    const r = f.forecast();
    const viaForecast = f.invert(f.models[0].forecast(f.u, 24, { lookback: f.lookback }));
    for (let i = 0; i < 24; i++) expect(Math.abs(r.members[0][i] / viaForecast[i] - 1), `step ${i}`).toBeLessThan(1e-4);
    // the interval brackets the point forecast and widens with the horizon
    for (let i = 0; i < 24; i++) expect(r.lower[i] <= r.mean[i] + 1e-9 && r.mean[i] <= r.upper[i] + 1e-9, `step ${i}`).toBe(true);
    expect(r.upper[23] - r.lower[23]).toBeGreaterThan(r.upper[0] - r.lower[0]);
    f.dispose();
    expect(error(() => f.forecast()).code).toBe("E_STATE");
  });

  it("learns: AirPassengers, 2 seeds, beats seasonal naive on the 24 held-out months", () => {
    const s = byName("AirPassengers");
    const { train, test } = split(s);
    const f = Forecaster.fit(train, { period: 12, horizon: 24, seeds: [1, 2] });
    const r = f.forecast();
    const ours = mase(test, r.mean, train, 12), naive = base.get(s.name)!.snaive.mase;
    expect(ours, `MASE ${ours} vs seasonal naive ${naive}`).toBeLessThan(naive);
    expect(f.epochs.length).toBe(2);
    expect(f.epochs.every((e) => e >= 1 && e <= 150)).toBe(true);
    f.dispose();
  });
});

describe("GlobalForecaster", () => {
  it("one model across series with per-series plans; names checked; constant members are constants", () => {
    const pick = ["Nile", "lynx"].map((n) => ({ name: n, values: split(byName(n)).train, period: 1 }));
    const g = GlobalForecaster.fit([...pick, { name: "flat", values: new Array(50).fill(2), period: 1 }], { horizon: 10, seeds: [1], maxEpochs: 5, patience: 2, paths: 20 });
    expect(g.plans.get("Nile")!.log).toBe(false);
    expect(g.plans.get("lynx")!.log).toBe(true);
    expect(Array.from(g.forecast("flat", 3).mean)).toEqual([2, 2, 2]);
    const r = g.forecast("lynx", 11);
    expect(r.mean.every(Number.isFinite)).toBe(true);
    expect(error(() => g.forecast("nope", 3)).param).toBe("name");
    g.dispose();
    expect(error(() => GlobalForecaster.fit([pick[0], pick[0]], { horizon: 10 })).code).toBe("E_OPTION");
  });
});
