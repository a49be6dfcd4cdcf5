/**
 * Forecast accuracy, with the definitions of the forecasting literature (the
 * same as tools/baselines-series.R, whose numbers test/forecast-benchmark.test.ts
 * checks these functions against):
 *
 *  - MAE   = mean |y_t - f_t| over the h test steps;
 *  - MASE  = MAE / (1/(n-m) sum_{t=m+1..n} |x_t - x_{t-m}|): scaled by the
 *    in-sample MAE of the seasonal naive forecast on the training data x_1..x_n
 *    (Hyndman & Koehler 2006; m = 1: of the naive forecast). This is what R's
 *    `forecast::accuracy()` reports. Below 1: better than seasonal naive was in sample;
 *  - sMAPE = mean 200 |y_t - f_t| / (|y_t| + |f_t|), in percent (as in M4; a
 *    step with y_t = f_t = 0 counts 0);
 *  - coverage: the share of test steps inside an interval [lower_t, upper_t].
 *
 * Legend: h = test steps, n = training steps, m = seasonal period.
 * @module
 */
import { UnfoldError } from "../errors.js";

/** Mean absolute error of `forecast` [h] against `actual` [h]. */
export function mae(actual: ArrayLike<number>, forecast: ArrayLike<number>): number {
  pair(actual, forecast);
  let s = 0;
  for (let i = 0; i < actual.length; i++) s += Math.abs(actual[i] - forecast[i]);
  return s / actual.length;
}

/**
 * The in-sample MAE of the seasonal naive forecast on `training` [n] with
 * period m: the denominator of MASE.
 * @throws UnfoldError E_SHAPE when n <= m, E_NAN for a non-finite value
 */
export function naiveScale(training: ArrayLike<number>, period: number): number {
  checkPeriod(period);
  finite(training, "training");
  if (training.length <= period) throw new UnfoldError("E_SHAPE", `MASE needs more than period = ${period} training values, got ${training.length}`, { name: "training", expected: `> ${period} values`, received: training.length });
  let s = 0;
  for (let t = period; t < training.length; t++) s += Math.abs(training[t] - training[t - period]);
  return s / (training.length - period);
}

/**
 * Mean absolute scaled error: MAE over the in-sample MAE of the seasonal
 * naive forecast (period m; m = 1: naive) on `training`.
 * @throws UnfoldError E_OPTION when the training data are constant at lag m (the scale is 0 and MASE undefined)
 */
export function mase(actual: ArrayLike<number>, forecast: ArrayLike<number>, training: ArrayLike<number>, period: number): number {
  const e = mae(actual, forecast);
  const scale = naiveScale(training, period);
  if (!(scale > 0)) throw new UnfoldError("E_OPTION", `MASE is undefined: the training data do not change at lag ${period} (in-sample seasonal naive MAE 0)`, { name: "training", expected: "training data that vary at lag m", received: 0 });
  return e / scale;
}

/** Symmetric mean absolute percentage error, in percent (0..200). */
export function smape(actual: ArrayLike<number>, forecast: ArrayLike<number>): number {
  pair(actual, forecast);
  let s = 0;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i]) + Math.abs(forecast[i]);
    if (d > 0) s += (200 * Math.abs(actual[i] - forecast[i])) / d;
  }
  return s / actual.length;
}

/** Share of `actual` [h] inside [lower, upper] (each [h]), ends included. */
export function coverage(actual: ArrayLike<number>, lower: ArrayLike<number>, upper: ArrayLike<number>): number {
  pair(actual, lower, "lower");
  pair(actual, upper, "upper");
  let k = 0;
  for (let i = 0; i < actual.length; i++) if (actual[i] >= lower[i] && actual[i] <= upper[i]) k++;
  return k / actual.length;
}

/**
 * The seasonal naive forecast: each of the next h steps repeats the same
 * step of the last observed season, f_{n+i} = x_{n+i-m*ceil(i/m)} (m = 1: the
 * naive forecast, the last value).
 * @returns [h]
 */
export function seasonalNaive(training: ArrayLike<number>, horizon: number, period: number): Float64Array {
  checkPeriod(period);
  finite(training, "training");
  if (!Number.isInteger(horizon) || horizon < 1) throw new UnfoldError("E_OPTION", `horizon must be an integer >= 1, got ${String(horizon)}`, { name: "horizon", expected: "an integer >= 1", received: horizon });
  const n = training.length;
  if (n < period) throw new UnfoldError("E_SHAPE", `seasonal naive needs one whole season (${period} values), got ${n}`, { name: "training", expected: `>= ${period} values`, received: n });
  return Float64Array.from({ length: horizon }, (_, i) => training[n - period + (i % period)]);
}

function checkPeriod(m: unknown): void {
  if (typeof m !== "number" || !Number.isInteger(m) || m < 1) throw new UnfoldError("E_OPTION", `period must be an integer >= 1, got ${String(m)}`, { name: "period", expected: "an integer >= 1", received: m });
}

function finite(x: ArrayLike<number>, name: string): void {
  if (!x || typeof x !== "object" || typeof x.length !== "number") throw new UnfoldError("E_OPTION", `${name} must be an array of numbers`, { name, expected: "an array of numbers", received: x });
  for (let i = 0; i < x.length; i++) {
    if (typeof x[i] !== "number" || !Number.isFinite(x[i])) throw new UnfoldError("E_NAN", `${name}[${i}] is ${x[i]}`, { name: `${name}[${i}]`, expected: "a finite number", received: x[i] });
  }
}

function pair(actual: ArrayLike<number>, other: ArrayLike<number>, name = "forecast"): void {
  finite(actual, "actual");
  finite(other, name);
  if (actual.length === 0) throw new UnfoldError("E_SHAPE", "no test values (actual is empty)", { name: "actual", expected: ">= 1 value", received: 0 });
  if (other.length !== actual.length) throw new UnfoldError("E_SHAPE", `${name} has ${other.length} values, actual ${actual.length}`, { name, expected: `${actual.length} values`, received: other.length });
}
