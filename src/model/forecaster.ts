/**
 * A default forecasting recipe on top of {@link Sequential}, `windows`,
 * `Scaler` and `forecast` (issue 18): preprocessing chosen from the data and
 * the declared period, epochs chosen by early stopping on the last training
 * season, an ensemble of seeds, and prediction intervals by simulation.
 *
 * The recipe, for a training series x_1..x_n with period m:
 *  1. log: z = ln x when every x > 0 and the spread grows with the level:
 *     over consecutive blocks (one season, or 8 steps when m = 1), the
 *     least-squares slope of ln(spread) on ln(mean) is >= 0.5 (Guerrero's
 *     lambda = 1 - slope <= 0.5, nearer the log than no transform) and their
 *     correlation >= 0.5. Spread: the block's standard deviation (m > 1) or its
 *     mean absolute change (m = 1). Otherwise z = x.
 *  2. seasonal differencing w_t = z_t - z_{t-m} when m > 1, else w = z;
 *  3. first differencing u_t = w_t - w_{t-1} when the variance ratio
 *     VR(k) = var(w_t - w_{t-k}) / (k var(w_t - w_{t-1})) at k = h (at most a
 *     quarter of w) is >= 0.5: changes accumulate over the horizon as in a
 *     random walk (VR = 1) or a trend (VR > 1) instead of cancelling out as in
 *     a mean-reverting series (VR -> 0; Lo & MacKinlay 1988). Else u = w;
 *  4. a standard Scaler fitted on the training values of u only;
 *  5. per seed, an LSTM (many-to-one, L steps -> the next) trained one epoch at
 *     a time on all but the last v training steps (v = m, or the horizon when
 *     m = 1); after each epoch it forecasts those v steps autoregressively, and
 *     the epoch count with the smallest MAE (patience: 20 epochs) is the one
 *     used to train it again on all the training data;
 *  6. the forecast is the mean of the members' forecasts (undoing 4..1); the
 *     interval holds the quantiles of simulated paths: each member rolls
 *     forward with its own one-step residuals (in-sample, scaled u),
 *     resampled and added at every step (the bootstrap of R's nnetar).
 *
 * A constant training series gets that constant as forecast (and a zero-width
 * interval), without a model.
 *
 * Legend: n = training steps, m = period, h = horizon, L = lookback,
 * v = validation steps, K = ensemble members, P = simulated paths.
 * @module
 */
import { UnfoldError } from "../errors.js";
import { Scaler, windows } from "../data/timeseries.js";
import { Rng } from "../util/rng.js";
import { Sequential } from "./sequential.js";

/** The preprocessing chosen for a series, and the statistics behind it. */
export interface SeriesPlan {
  /** The series is constant: it is forecast as that constant, without a model. */
  constant: boolean;
  /** z = ln x. */
  log: boolean;
  /** w_t = z_t - z_{t-m}. */
  seasonalDifference: boolean;
  /** u_t = w_t - w_{t-1}. */
  difference: boolean;
  /** Slope of ln(spread) on ln(level) over blocks, null when not computed (a value <= 0, too few blocks). */
  levelSlope: number | null;
  /** Their correlation, null when not computed. */
  levelCorrelation: number | null;
  /** VR(k) = var(w_t - w_{t-k}) / (k var(w_t - w_{t-1})), k = min(h, len(w)/4). */
  varianceRatio: number;
}

/** Options of {@link Forecaster.fit} and {@link GlobalForecaster.fit}. */
export interface ForecasterOptions {
  /** m: the seasonal period (12 monthly, 4 quarterly, 1 for no fixed season). */
  period: number;
  /** h: steps to forecast (the default of `forecast()`, and v when m = 1). */
  horizon: number;
  /** The series' name, used in error messages. Default "series". */
  name?: string;
  /** L: input steps per window. Default 2m (at least 12), lowered to half the steps available. */
  lookback?: number;
  /** LSTM hidden units. Default 16 (GlobalForecaster: 32). */
  hiddenSize?: number;
  /** Seeds of the ensemble members (K = seeds.length). Default [1, 2, 3]. */
  seeds?: number[];
  /** Most epochs of the early-stopping run. Default 150. */
  maxEpochs?: number;
  /** Epochs without a better validation MAE before it stops. Default 20. */
  patience?: number;
  /** v: the last training steps held out for early stopping. Default m (m > 1) or h (m = 1). */
  validation?: number;
  /** ln transform: 'auto' (default: the test above), or forced. */
  log?: "auto" | boolean;
  /** First differences: 'auto' (default) or forced. */
  difference?: "auto" | boolean;
  /** Adam learning rate. Default 0.005. */
  lr?: number;
  /** Windows per batch. Default 16. */
  batchSize?: number;
  /** Interval level in (0, 1). Default 0.8. */
  level?: number;
  /** P: simulated paths (split over the members). Default 200. */
  paths?: number;
}

/** A forecast with its interval, in the units of the data. */
export interface ForecastResult {
  /** The mean of the members' forecasts, [h]. */
  mean: Float64Array;
  /** The lower end of the interval (quantile (1 - level)/2 of the simulated paths), [h]. */
  lower: Float64Array;
  /** The upper end (quantile (1 + level)/2), [h]. */
  upper: Float64Array;
  /** K x [h]: each member's forecast. */
  members: Float64Array[];
  /** The interval's level in (0, 1). */
  level: number;
}

/** One series of a collection for {@link GlobalForecaster.fit}. */
export interface NamedSeries {
  /** The series' name (forecasts are asked for by it). */
  name: string;
  /** Its observations, oldest first. */
  values: ArrayLike<number>;
  /** m of this series. */
  period: number;
  /** h of this series: v when m = 1 (default: the options' horizon). */
  horizon?: number;
}

interface Resolved {
  L: number | undefined;
  H: number;
  seeds: number[];
  maxEpochs: number;
  patience: number;
  lr: number;
  batchSize: number;
  level: number;
  paths: number;
}

// ---- transforms ---------------------------------------------------------------------

/** x -> u (steps 1..4 of the recipe) for one history, and back for a future path. */
class SeriesTransform {
  /** [n]: z = ln x or x. */
  private readonly z: Float64Array;
  /** [n - m*s]: w. */
  private readonly w: Float64Array;
  /** [n - m*s - d]: u, before scaling. */
  readonly u: Float64Array;

  constructor(readonly plan: SeriesPlan, readonly m: number, x: ArrayLike<number>) {
    this.z = Float64Array.from(x, (v) => (plan.log ? Math.log(v) : v));
    this.w = plan.seasonalDifference ? lagDiff(this.z, m) : this.z;
    this.u = plan.difference ? lagDiff(this.w, 1) : this.w;
  }

  /** A future path of u [h] -> x [h]. */
  invert(uf: ArrayLike<number>): Float64Array {
    const h = uf.length, m = this.m, n = this.z.length;
    const wf = new Float64Array(h);
    let w = this.w[this.w.length - 1];
    for (let i = 0; i < h; i++) wf[i] = this.plan.difference ? (w += uf[i]) : uf[i];
    const zf = new Float64Array(h);
    for (let i = 0; i < h; i++) zf[i] = this.plan.seasonalDifference ? wf[i] + (i >= m ? zf[i - m] : this.z[n - m + i]) : wf[i];
    return this.plan.log ? zf.map(Math.exp) : zf;
  }
}

function lagDiff(x: Float64Array, lag: number): Float64Array {
  return Float64Array.from({ length: x.length - lag }, (_, i) => x[i + lag] - x[i]);
}

function variance(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i];
  const mu = s / x.length;
  let ss = 0;
  for (let i = 0; i < x.length; i++) ss += (x[i] - mu) ** 2;
  return ss / x.length;
}

/** Slope and correlation of ln(spread) on ln(level) over blocks (the log test); null when it does not apply. */
function levelSpread(x: ArrayLike<number>, m: number): { slope: number; corr: number } | null {
  const n = x.length;
  for (let i = 0; i < n; i++) if (!(x[i] > 0)) return null;
  const b = m > 1 ? m : 8;
  const k = Math.floor(n / b);
  if (k < 4) return null;
  const lx: number[] = [], ly: number[] = [];
  for (let j = 0; j < k; j++) {
    const start = n - (k - j) * b; // blocks end at the last value
    const blk = Array.from({ length: b }, (_, i) => x[start + i]);
    const mean = blk.reduce((a, v) => a + v, 0) / b;
    const spread = m > 1 ? Math.sqrt(variance(blk)) : blk.slice(1).reduce((a, v, i) => a + Math.abs(v - blk[i]), 0) / (b - 1);
    if (spread > 0) { lx.push(Math.log(mean)); ly.push(Math.log(spread)); }
  }
  if (lx.length < 4) return null;
  const mx = lx.reduce((a, v) => a + v, 0) / lx.length, my = ly.reduce((a, v) => a + v, 0) / ly.length;
  let sxy = 0, sxx = 0, syy = 0;
  lx.forEach((v, i) => { sxy += (v - mx) * (ly[i] - my); sxx += (v - mx) ** 2; syy += (ly[i] - my) ** 2; });
  if (!(sxx > 0) || !(syy > 0)) return null;
  return { slope: sxy / sxx, corr: sxy / Math.sqrt(sxx * syy) };
}

/**
 * The preprocessing the recipe chooses for a training series (steps 1-3 of
 * the module comment), from the data and the declared period only.
 * @param x training values [n], finite
 * @param period m
 * @param horizon h: the lag of the variance ratio (step 3)
 */
export function planSeries(x: ArrayLike<number>, period: number, horizon: number, opts: { log?: "auto" | boolean; difference?: "auto" | boolean } = {}): SeriesPlan {
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < x.length; i++) { lo = Math.min(lo, x[i]); hi = Math.max(hi, x[i]); }
  const constant = hi === lo;
  const ls = constant ? null : levelSpread(x, period);
  const log = constant ? false : opts.log === undefined || opts.log === "auto" ? ls !== null && ls.slope >= 0.5 && ls.corr >= 0.5 : opts.log && lo > 0;
  const seasonalDifference = period > 1;
  const z = Float64Array.from(x, (v) => (log ? Math.log(v) : v));
  const w = seasonalDifference ? lagDiff(z, period) : z;
  // Variance ratio (Lo & MacKinlay) at lag k = the horizon: ~1 for a random walk, > 1 with a trend, -> 0
  // for a mean-reverting series whose changes cancel over k steps.
  const k = Math.max(1, Math.min(horizon, Math.floor(w.length / 4)));
  const v1 = variance(lagDiff(w, 1));
  const varianceRatio = v1 > 0 ? variance(lagDiff(w, k)) / (k * v1) : 0;
  const difference = opts.difference === undefined || opts.difference === "auto" ? !constant && varianceRatio >= 0.5 : opts.difference;
  return { constant, log, seasonalDifference, difference, levelSlope: ls?.slope ?? null, levelCorrelation: ls?.corr ?? null, varianceRatio };
}

// ---- one series of a training run ------------------------------------------------

/** A series prepared for training: its plan, the early-stopping split and the full training data. */
class Unit {
  readonly plan: SeriesPlan;
  readonly v: number;
  /** The part before the validation steps, and the validation truth. */
  readonly head: Float64Array;
  readonly truth: Float64Array;
  readonly fitT: SeriesTransform;
  readonly fitScaler: Scaler;
  /** MAE scale of the validation error (in-sample seasonal naive MAE of the head; 1 if 0). */
  readonly valScale: number;
  readonly fullT: SeriesTransform;
  readonly fullScaler: Scaler;

  constructor(readonly name: string, readonly x: Float64Array, readonly m: number, horizon: number, opts: ForecasterOptions) {
    this.plan = planSeries(x, m, horizon, opts);
    this.v = opts.validation ?? (m > 1 ? m : horizon);
    this.head = x.subarray(0, x.length - this.v);
    this.truth = x.subarray(x.length - this.v);
    this.fitT = new SeriesTransform(this.plan, m, this.head);
    this.fitScaler = Scaler.fit(this.fitT.u);
    this.fullT = new SeriesTransform(this.plan, m, x);
    this.fullScaler = Scaler.fit(this.fullT.u);
    let s = 0;
    for (let t = m; t < this.head.length; t++) s += Math.abs(this.head[t] - this.head[t - m]);
    s /= this.head.length - m;
    this.valScale = s > 0 ? s : 1;
  }

  /** Steps of u available for windows before the validation part. */
  static headSteps(n: number, m: number, v: number, plan: SeriesPlan): number {
    return n - v - (plan.seasonalDifference ? m : 0) - (plan.difference ? 1 : 0);
  }
}

/** Checks of one series (before anything is trained). */
function checkSeries(name: string, values: ArrayLike<number>, period: unknown, horizon: unknown, opts: ForecasterOptions): Float64Array {
  if (!values || typeof values !== "object" || typeof values.length !== "number") throw new UnfoldError("E_OPTION", `${name} must be an array of numbers`, { name, expected: "an array of numbers", received: values });
  if (typeof period !== "number" || !Number.isInteger(period) || period < 1) throw new UnfoldError("E_OPTION", `${name}: period must be an integer >= 1, got ${String(period)}`, { name: `${name}.period`, expected: "an integer >= 1", received: period });
  if (typeof horizon !== "number" || !Number.isInteger(horizon) || horizon < 1) throw new UnfoldError("E_OPTION", `${name}: horizon must be an integer >= 1, got ${String(horizon)}`, { name: "horizon", expected: "an integer >= 1", received: horizon });
  const x = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== "number" || !Number.isFinite(v)) throw new UnfoldError("E_NAN", `${name}[${i}] is ${String(v)}; fill or drop missing values first`, { name: `${name}[${i}]`, expected: "a finite number", received: v });
    x[i] = v;
  }
  if (period >= x.length) throw new UnfoldError("E_SHAPE", `${name} has ${x.length} values, no more than its period ${period}`, { name: `${name}.period`, expected: `a period < ${x.length}`, received: period });
  if (opts.validation !== undefined && (!Number.isInteger(opts.validation) || opts.validation < 1)) throw new UnfoldError("E_OPTION", `validation must be an integer >= 1, got ${String(opts.validation)}`, { name: "validation", expected: "an integer >= 1", received: opts.validation });
  if (opts.log === true) {
    const i = x.findIndex((v) => !(v > 0));
    if (i >= 0) throw new UnfoldError("E_OPTION", `log: true needs positive values; ${name}[${i}] is ${x[i]}`, { name: `${name}[${i}]`, expected: "a value > 0 (or log: 'auto')", received: x[i] });
  }
  return x;
}

function resolve(opts: ForecasterOptions, defaultHidden: number): Resolved {
  if (!opts || typeof opts !== "object") throw new UnfoldError("E_OPTION", "Forecaster options must be an object such as { period: 12, horizon: 24 }", { name: "options", received: opts });
  const int = (k: keyof ForecasterOptions, min: number): void => {
    const v = opts[k];
    if (v !== undefined && (typeof v !== "number" || !Number.isInteger(v) || v < min)) throw new UnfoldError("E_OPTION", `${k} must be an integer >= ${min}, got ${String(v)}`, { name: k, expected: `an integer >= ${min}`, received: v });
  };
  int("lookback", 1); int("hiddenSize", 1); int("maxEpochs", 1); int("patience", 1); int("batchSize", 1); int("paths", 1);
  const seeds = opts.seeds ?? [1, 2, 3];
  if (!Array.isArray(seeds) || seeds.length === 0 || seeds.some((s) => !Number.isInteger(s))) throw new UnfoldError("E_OPTION", `seeds must be a non-empty array of integers, got ${JSON.stringify(seeds)}`, { name: "seeds", expected: "integers", received: seeds });
  const level = opts.level ?? 0.8;
  if (typeof level !== "number" || !(level > 0 && level < 1)) throw new UnfoldError("E_OPTION", `level must be in (0, 1), got ${String(level)}`, { name: "level", expected: "a number in (0, 1)", received: level });
  for (const k of ["log", "difference"] as const) {
    const v = opts[k];
    if (v !== undefined && v !== "auto" && typeof v !== "boolean") throw new UnfoldError("E_OPTION", `${k} must be 'auto', true or false, got ${String(v)}`, { name: k, expected: "'auto' | boolean", received: v });
  }
  const lr = opts.lr ?? 0.005;
  if (typeof lr !== "number" || !(lr > 0)) throw new UnfoldError("E_OPTION", `lr must be > 0, got ${String(lr)}`, { name: "lr", expected: "a number > 0", received: lr });
  return {
    L: opts.lookback, H: opts.hiddenSize ?? defaultHidden, seeds, maxEpochs: opts.maxEpochs ?? 150, patience: opts.patience ?? 20,
    lr, batchSize: opts.batchSize ?? 16, level, paths: opts.paths ?? 200,
  };
}

/** L for a series: the option, or 2m (>= 12) lowered to half the u steps of the head. */
function lookbackFor(name: string, n: number, m: number, v: number, plan: SeriesPlan, wanted: number | undefined): number {
  const avail = Unit.headSteps(n, m, v, plan);
  const L = wanted ?? Math.max(2, Math.min(Math.max(2 * m, 12), Math.floor(avail / 2)));
  const need = n - avail + L + 4; // lookback + 4 training windows + validation + differencing
  if (avail < L + 4) {
    throw new UnfoldError("E_SHAPE", `${name} has ${n} values, too few for lookback ${L} + 4 training windows + validation ${v}${plan.seasonalDifference ? ` + seasonal differencing ${m}` : ""}${plan.difference ? " + 1 difference" : ""} (${need}); give a longer series or a smaller lookback / validation`, { name, expected: `>= ${need} values`, received: n });
  }
  return L;
}

// ---- training -----------------------------------------------------------------------

function newModel(H: number, seed: number): Sequential {
  return new Sequential({
    input: { type: "features", size: 1 },
    recurrent: [{ cell: "lstm", hiddenSize: H }],
    output: { size: 1, loss: "mse" },
    mode: "many-to-one",
    seed,
  });
}

/**
 * Roll a model forward from each start window [L] (scaled u) for h steps,
 * feeding each output back (as `forecast()` does), plus `noise(j)` if given.
 * @returns per start: [h]
 */
function rollout(model: Sequential, starts: Float32Array[], h: number, noise?: (j: number) => number): Float32Array[] {
  const L = starts[0].length;
  const win = starts.map((s) => Float32Array.from(s));
  const out = starts.map(() => new Float32Array(h));
  for (let t = 0; t < h; t++) {
    const p = model.predict(win, 256);
    for (let j = 0; j < win.length; j++) {
      const y = p[j][0] + (noise ? noise(j) : 0);
      out[j][t] = y;
      win[j].copyWithin(0, 1);
      win[j][L - 1] = y;
    }
  }
  return out;
}

function lastWindow(u: Float32Array, L: number): Float32Array {
  return u.slice(u.length - L);
}

/** Mean over units of the validation MAE / scale of the model's forecasts of the last v training steps. */
function validationError(model: Sequential, units: Unit[], scaled: Float32Array[], L: number): number {
  let s = 0;
  // Units share the model; roll each forward for its own v steps (grouped by v).
  const byV = new Map<number, number[]>();
  units.forEach((u, i) => byV.set(u.v, [...(byV.get(u.v) ?? []), i]));
  for (const [v, idx] of byV) {
    const paths = rollout(model, idx.map((i) => lastWindow(scaled[i], L)), v);
    idx.forEach((i, j) => {
      const f = units[i].fitT.invert(units[i].fitScaler.inverse(paths[j]));
      let e = 0;
      for (let t = 0; t < v; t++) e += Math.abs(f[t] - units[i].truth[t]);
      s += e / v / units[i].valScale;
    });
  }
  return s / units.length;
}

interface Member {
  model: Sequential;
  epochs: number;
  /** One-step residuals of the final model on its training windows (scaled u), per unit. */
  residuals: Float32Array[];
}

/** Step 5 of the recipe for one seed: the early-stopping run on the heads; the best epoch count and its validation error. */
function earlyStop(units: Unit[], L: number, r: Resolved, seed: number): { epochs: number; error: number } {
  const headScaled = units.map((u) => u.fitScaler.transform(u.fitT.u));
  const headData = windows(headScaled, { lookback: L, horizon: 1 });
  const model = newModel(r.H, seed);
  let best = Infinity, bestEpoch = 1, since = 0;
  try {
    for (let e = 1; e <= r.maxEpochs; e++) {
      model.fit(headData, { seed, batchSize: r.batchSize, optimizer: { type: "adam", lr: r.lr }, epochs: 1 });
      const err = validationError(model, units, headScaled, L);
      if (err < best - 1e-9) { best = err; bestEpoch = e; since = 0; }
      else if (++since >= r.patience) break;
    }
  } finally {
    model.dispose();
  }
  return { epochs: bestEpoch, error: best };
}

/** The member for one seed: trained on all the training data for `epochs` epochs, with its one-step residuals. */
function refit(units: Unit[], L: number, r: Resolved, seed: number, epochs: number): Member {
  const fullScaled = units.map((u) => u.fullScaler.transform(u.fullT.u));
  const model = newModel(r.H, seed);
  try {
    model.fit(windows(fullScaled, { lookback: L, horizon: 1 }), { seed, batchSize: r.batchSize, optimizer: { type: "adam", lr: r.lr }, epochs });
    const residuals = units.map((_, i) => {
      const w = windows(fullScaled[i], { lookback: L, horizon: 1 });
      const p = model.predict(w.inputs, 256);
      return Float32Array.from(p, (y, j) => w.targets[j][0] - y[0]);
    });
    return { model, epochs, residuals };
  } catch (e) {
    model.dispose();
    throw e;
  }
}

/** Early stopping then refit, per seed (`runs`: the early-stopping results per seed, when already computed). */
function trainMembers(units: Unit[], L: number, r: Resolved, runs?: { epochs: number }[]): Member[] {
  const members: Member[] = [];
  try {
    r.seeds.forEach((seed, k) => {
      const { epochs } = runs ? runs[k] : earlyStop(units, L, r, seed);
      members.push(refit(units, L, r, seed, epochs));
    });
  } catch (e) {
    members.forEach((mb) => mb.model.dispose());
    throw e;
  }
  return members;
}

function quantile(sorted: Float64Array, q: number): number {
  const pos = q * (sorted.length - 1), lo = Math.floor(pos), hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

/** Step 6: members' point forecasts and the simulated interval for unit i. */
function ensembleForecast(members: Member[], unit: Unit, i: number, scaled: Float32Array, L: number, h: number, r: Resolved, seedBase: number): ForecastResult {
  const memberPaths: Float64Array[] = [];
  const sims: Float64Array[] = [];
  const per = Math.max(1, Math.ceil(r.paths / members.length));
  members.forEach((mb, k) => {
    const start = lastWindow(scaled, L);
    const point = rollout(mb.model, [start], h)[0];
    memberPaths.push(unit.fullT.invert(unit.fullScaler.inverse(point)));
    const res = mb.residuals[i];
    const rng = new Rng(seedBase + 7919 * k);
    const paths = rollout(mb.model, Array.from({ length: per }, () => start), h, () => res[rng.int(res.length)]);
    for (const p of paths) sims.push(unit.fullT.invert(unit.fullScaler.inverse(p)));
  });
  const mean = new Float64Array(h), lower = new Float64Array(h), upper = new Float64Array(h);
  const col = new Float64Array(sims.length);
  for (let t = 0; t < h; t++) {
    for (const p of memberPaths) mean[t] += p[t] / memberPaths.length;
    sims.forEach((p, j) => (col[j] = p[t]));
    col.sort();
    lower[t] = quantile(col, (1 - r.level) / 2);
    upper[t] = quantile(col, (1 + r.level) / 2);
  }
  return { mean, lower, upper, members: memberPaths, level: r.level };
}

function constantForecast(c: number, h: number, K: number, level: number): ForecastResult {
  const f = () => new Float64Array(h).fill(c);
  return { mean: f(), lower: f(), upper: f(), members: Array.from({ length: K }, f), level };
}

// ---- the public classes ---------------------------------------------------------------

/**
 * The default recipe for one series: preprocessing from the data and the
 * declared period, an ensemble of small LSTMs with early-stopped epochs, a
 * simulated interval (see the module comment for every rule).
 *
 * ```js
 * const f = Forecaster.fit(monthlySales, { period: 12, horizon: 24 });
 * const { mean, lower, upper } = f.forecast(); // the next 24 months, 80% interval
 * f.dispose();
 * ```
 */
export class Forecaster {
  /** The preprocessing chosen. */
  readonly plan: SeriesPlan;
  /** L. */
  readonly lookback: number;
  /** Epochs each member was trained for (chosen by early stopping). */
  readonly epochs: number[];
  /** The member models (features in, one step of scaled u out); `model.scaler` is the Scaler of u. */
  readonly models: Sequential[];
  private readonly unit: Unit | null;
  private readonly members: Member[];
  private readonly r: Resolved;
  private readonly x: Float64Array;
  private disposed = false;

  private constructor(x: Float64Array, plan: SeriesPlan, L: number, unit: Unit | null, members: Member[], r: Resolved, private readonly horizon: number) {
    this.x = x;
    this.plan = plan;
    this.lookback = L;
    this.unit = unit;
    this.members = members;
    this.r = r;
    this.epochs = members.map((m) => m.epochs);
    this.models = members.map((m) => m.model);
  }

  /**
   * Train on `series` (all of it is training data).
   * @param series training values [n], finite
   * @throws UnfoldError E_NAN naming the series and the index of a non-finite value; E_SHAPE when the
   *   period is not below n, or n is too short for lookback + validation + differencing; E_OPTION for bad options
   */
  static fit(series: ArrayLike<number>, opts: ForecasterOptions): Forecaster {
    const r = resolve(opts, 16);
    const name = opts.name ?? "series";
    const x = checkSeries(name, series, opts.period, opts.horizon, opts);
    const m = opts.period;
    const plan = planSeries(x, m, opts.horizon, opts);
    if (plan.constant) return new Forecaster(x, plan, 0, null, [], r, opts.horizon);
    const v = opts.validation ?? (m > 1 ? m : opts.horizon);
    const L = lookbackFor(name, x.length, m, v, plan, r.L);
    const unit = new Unit(name, x, m, opts.horizon, opts);
    const members = trainMembers([unit], L, r);
    for (const mb of members) mb.model.scaler = unit.fullScaler;
    return new Forecaster(x, plan, L, unit, members, r, opts.horizon);
  }

  /** u of the training series (after log and differencing, before scaling): what `models[k].forecast(u, h, { lookback })` reads. */
  get u(): Float64Array {
    return this.unit ? this.unit.fullT.u.slice() : new Float64Array(0);
  }

  /** A future path of u [h] back to the units of the data [h]. */
  invert(uFuture: ArrayLike<number>): Float64Array {
    return this.unit ? this.unit.fullT.invert(uFuture) : new Float64Array(uFuture.length).fill(this.x[0]);
  }

  /**
   * The next `horizon` steps after the training series, with the interval.
   * @param horizon default: the `horizon` of fit()
   */
  forecast(horizon: number = this.horizon): ForecastResult {
    if (this.disposed) throw new UnfoldError("E_STATE", "this Forecaster was disposed", { name: "forecaster" });
    if (!Number.isInteger(horizon) || horizon < 1) throw new UnfoldError("E_OPTION", `horizon must be an integer >= 1, got ${String(horizon)}`, { name: "horizon", expected: "an integer >= 1", received: horizon });
    if (!this.unit) return constantForecast(this.x[0], horizon, this.r.seeds.length, this.r.level);
    const scaled = this.unit.fullScaler.transform(this.unit.fullT.u);
    return ensembleForecast(this.members, this.unit, 0, scaled, this.lookback, horizon, this.r, 104729);
  }

  /** Free the members' WASM memory. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.members.forEach((m) => m.model.dispose());
  }
}

/**
 * One LSTM trained across a collection of series (a global model, as DeepAR
 * and N-BEATS): every series keeps its own plan (log, differencing) and its
 * own Scaler, their windows are pooled, and early stopping watches the mean
 * validation MASE over all series. Constant series are forecast as constants.
 */
export class GlobalForecaster {
  /** L (one for all series). */
  readonly lookback: number;
  /** Epochs each member was trained for (chosen by early stopping). */
  readonly epochs: number[];
  /** Per series name: its plan. */
  readonly plans: ReadonlyMap<string, SeriesPlan>;
  private readonly units: Map<string, { unit: Unit | null; index: number; x: Float64Array }>;
  private readonly members: Member[];
  private readonly r: Resolved;
  private disposed = false;

  private constructor(L: number, units: GlobalForecaster["units"], members: Member[], r: Resolved) {
    this.lookback = L;
    this.units = units;
    this.members = members;
    this.r = r;
    this.epochs = members.map((m) => m.epochs);
    this.plans = new Map([...units].map(([k, u]) => [k, u.unit?.plan ?? planSeries(u.x, 1, 1)]));
  }

  /**
   * Train one model on all `collection` (each entirely training data).
   * `opts.period` is ignored (each series has its own); a series' `horizon` (default `opts.horizon`) is its v when m = 1.
   * @throws UnfoldError as {@link Forecaster.fit}, naming the series; E_OPTION for duplicate names
   */
  static fit(collection: NamedSeries[], opts: Omit<ForecasterOptions, "period"> & { period?: number }): GlobalForecaster {
    const r = resolve(opts as ForecasterOptions, 32);
    if (!Array.isArray(collection) || collection.length === 0) throw new UnfoldError("E_OPTION", "collection must be a non-empty array of { name, values, period }", { name: "collection", received: collection });
    const names = new Set<string>();
    const prepared = collection.map((s, i) => {
      if (!s || typeof s !== "object" || typeof s.name !== "string") throw new UnfoldError("E_OPTION", `collection[${i}] must be { name, values, period }`, { name: `collection[${i}]`, received: s });
      if (names.has(s.name)) throw new UnfoldError("E_OPTION", `two series are named ${s.name}`, { name: `collection[${i}].name`, received: s.name });
      names.add(s.name);
      const h = s.horizon ?? opts.horizon;
      const x = checkSeries(s.name, s.values, s.period, h, opts as ForecasterOptions);
      const plan = planSeries(x, s.period, h, opts);
      const v = opts.validation ?? (s.period > 1 ? s.period : h);
      return { s, x, h, plan, v, L: plan.constant ? Infinity : lookbackFor(s.name, x.length, s.period, v, plan, r.L) };
    });
    const L = Math.min(...prepared.map((p) => p.L));
    if (!Number.isFinite(L)) throw new UnfoldError("E_OPTION", "every series of the collection is constant; there is nothing to train", { name: "collection" });
    const map: GlobalForecaster["units"] = new Map();
    const units: Unit[] = [];
    for (const p of prepared) {
      const unit = p.plan.constant ? null : new Unit(p.s.name, p.x, p.s.period, p.h, { ...(opts as ForecasterOptions), period: p.s.period, horizon: p.h });
      map.set(p.s.name, { unit, index: unit ? units.length : -1, x: p.x });
      if (unit) units.push(unit);
    }
    const members = trainMembers(units, L, r);
    return new GlobalForecaster(L, map, members, r);
  }

  /** The next `horizon` steps after the series called `name`. */
  forecast(name: string, horizon: number): ForecastResult {
    if (this.disposed) throw new UnfoldError("E_STATE", "this GlobalForecaster was disposed", { name: "forecaster" });
    const e = this.units.get(name);
    if (!e) throw new UnfoldError("E_OPTION", `no series named ${String(name)} in this collection`, { name: "name", received: name });
    if (!Number.isInteger(horizon) || horizon < 1) throw new UnfoldError("E_OPTION", `horizon must be an integer >= 1, got ${String(horizon)}`, { name: "horizon", expected: "an integer >= 1", received: horizon });
    if (!e.unit) return constantForecast(e.x[0], horizon, this.r.seeds.length, this.r.level);
    const scaled = e.unit.fullScaler.transform(e.unit.fullT.u);
    return ensembleForecast(this.members, e.unit, e.index, scaled, this.lookback, horizon, this.r, 104729 + e.index);
  }

  /** Free the members' WASM memory. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.members.forEach((m) => m.model.dispose());
  }
}
