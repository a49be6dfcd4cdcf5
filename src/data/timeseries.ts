/**
 * Time series for forecasting: cutting series into training windows (many-
 * to-one or many-to-many, lecture p.11-13) and scaling them with statistics
 * of the training data only.
 *
 * A series is time-major and flat: T steps of F features, [T, F] row-major
 * (F = 1: just the values). Several series are an array of such arrays.
 * Legend: T = steps of a series, F = features per step, Ft = target features,
 * L = lookback (input steps per window), h = horizon.
 */
import { UnfoldError } from "../errors.js";

/** Options of {@link windows}. */
export interface WindowOptions {
  /** L: input steps per window (an integer >= 1). */
  lookback: number;
  /** h: steps ahead to predict. many-to-one: the next h steps; many-to-many: the target of step t is step t + h. Default 1. */
  horizon?: number;
  /** Steps between the starts of consecutive windows. Default 1. */
  stride?: number;
  /** F: features per step of the flat series. Default 1. */
  features?: number;
  /** Features to predict (indices into F). Default: all. */
  targetFeatures?: number[];
  /** 'many-to-one' (default): one target per window, the next h steps [h*Ft]; 'many-to-many': a target per step, [L*Ft]. */
  mode?: "many-to-one" | "many-to-many";
}

/** Training windows, ready for `model.fit({ inputs, targets })` with an mse head. */
export interface Windows {
  /** Per window: L steps of F features, flat [L*F]. */
  inputs: Float32Array[];
  /** Per window: many-to-one [h*Ft]; many-to-many [L*Ft]. */
  targets: Float32Array[];
}

/**
 * Cut one or several series into overlapping windows of `lookback` input
 * steps and their targets.
 * @param series one flat series [T*F], or an array of them (several series; windows never cross from one to the next)
 * @throws UnfoldError E_OPTION for bad options (naming the option), E_SHAPE when a series is not a whole number
 *   of steps or is too short for lookback + horizon, E_NAN for a non-finite value.
 */
export function windows(series: ArrayLike<number> | ArrayLike<number>[], opts: WindowOptions): Windows {
  if (!opts || typeof opts !== "object") throw new UnfoldError("E_OPTION", "windows(series, options) needs options such as { lookback: 24, horizon: 1 }", { name: "options", expected: "an object", received: opts });
  const F = opts.features ?? 1;
  intAtLeast(F, 1, "features");
  const L = opts.lookback;
  intAtLeast(L, 1, "lookback");
  const h = opts.horizon ?? 1;
  intAtLeast(h, 1, "horizon");
  const stride = opts.stride ?? 1;
  intAtLeast(stride, 1, "stride");
  const mode = opts.mode ?? "many-to-one";
  if (mode !== "many-to-one" && mode !== "many-to-many") throw new UnfoldError("E_OPTION", `mode must be 'many-to-one' or 'many-to-many', got ${String(mode)}`, { name: "mode", expected: "'many-to-one' or 'many-to-many'", received: mode });
  const tf = targetIndices(opts.targetFeatures, F);
  const list = asSeriesList(series, F);
  const out: Windows = { inputs: [], targets: [] };
  list.forEach((s, si) => {
    const T = s.length / F;
    const name = list.length > 1 ? `series[${si}]` : "series";
    if (L + h > T) {
      throw new UnfoldError("E_SHAPE", `${name} has ${T} steps, too few for lookback ${L} + horizon ${h}; lower lookback or horizon`, { name: L > T ? "lookback" : "horizon", expected: `lookback + horizon <= ${T}`, received: L + h });
    }
    for (let start = 0; start + L + h <= T; start += stride) {
      out.inputs.push(Float32Array.from({ length: L * F }, (_, i) => s[start * F + i]));
      const steps = mode === "many-to-one" ? h : L;
      const first = mode === "many-to-one" ? start + L : start + h; // step of the first target
      const y = new Float32Array(steps * tf.length);
      for (let t = 0; t < steps; t++) for (let j = 0; j < tf.length; j++) y[t * tf.length + j] = s[(first + t) * F + tf[j]];
      out.targets.push(y);
    }
  });
  return out;
}

/** A fitted scaler, as saved in a model file. */
export interface ScalerJSON {
  /** "standard": `(x - mean) / std`; "minmax": `(x - min) / (max - min)`. */
  method: "standard" | "minmax";
  /** standard: mean per feature; minmax: minimum per feature. */
  offset: number[];
  /** standard: standard deviation per feature; minmax: max - min (1 where constant). */
  scale: number[];
}

/**
 * Per-feature scaling of a series: standardise (`(x - mean) / std`) or
 * min-max (`(x - min) / (max - min)`, into [0, 1]). Fit it on the training
 * part only, so nothing of the held-out data leaks into training; attach it
 * to the model (`model.scaler = scaler`) and it is saved with the model and
 * used by `model.forecast`.
 */
export class Scaler {
  /** "standard": `(x - mean) / std`; "minmax": `(x - min) / (max - min)`. */
  readonly method: "standard" | "minmax";
  /** F: features per step. */
  readonly features: number;
  private readonly offset: Float64Array;
  private readonly scale: Float64Array;

  private constructor(j: ScalerJSON) {
    this.method = j.method;
    this.features = j.offset.length;
    this.offset = Float64Array.from(j.offset);
    this.scale = Float64Array.from(j.scale);
  }

  /**
   * Fit on training data.
   * @param series one flat series [T*F] or several
   * @param opts method (default 'standard') and F (default 1)
   */
  static fit(series: ArrayLike<number> | ArrayLike<number>[], opts: { method?: "standard" | "minmax"; features?: number } = {}): Scaler {
    const method = opts.method ?? "standard";
    if (method !== "standard" && method !== "minmax") throw new UnfoldError("E_OPTION", `Scaler method must be 'standard' or 'minmax', got ${String(method)}`, { name: "method", expected: "'standard' or 'minmax'", received: method });
    const F = opts.features ?? 1;
    intAtLeast(F, 1, "features");
    const list = asSeriesList(series, F);
    const n = list.reduce((a, s) => a + s.length / F, 0);
    if (n === 0) throw new UnfoldError("E_SHAPE", "Scaler.fit needs at least one step of data", { name: "series", expected: "a non-empty series", received: 0 });
    const offset: number[] = [], scale: number[] = [];
    for (let f = 0; f < F; f++) {
      let sum = 0, lo = Infinity, hi = -Infinity;
      for (const s of list) for (let i = f; i < s.length; i += F) {
        sum += s[i];
        lo = Math.min(lo, s[i]);
        hi = Math.max(hi, s[i]);
      }
      if (method === "minmax") {
        offset.push(lo);
        scale.push(hi > lo ? hi - lo : 1);
      } else {
        const mean = sum / n;
        let ss = 0;
        for (const s of list) for (let i = f; i < s.length; i += F) ss += (s[i] - mean) ** 2;
        const std = Math.sqrt(ss / n);
        offset.push(mean);
        scale.push(std > 0 ? std : 1);
      }
    }
    return new Scaler({ method, offset, scale });
  }

  /** Rebuild from {@link toJSON}. */
  static fromJSON(j: ScalerJSON): Scaler {
    const ok = j && (j.method === "standard" || j.method === "minmax") && Array.isArray(j.offset) && Array.isArray(j.scale) &&
      j.offset.length >= 1 && j.offset.length === j.scale.length &&
      j.offset.every((v) => Number.isFinite(v)) && j.scale.every((v) => Number.isFinite(v) && v > 0);
    if (!ok) throw new UnfoldError("E_FORMAT", "the saved scaler is invalid (method, offset and scale per feature, scale > 0)", { name: "scaler" });
    return new Scaler({ method: j.method, offset: [...j.offset], scale: [...j.scale] });
  }

  /** The fitted offsets and scales, for saving (see {@link Scaler.fromJSON}). */
  toJSON(): ScalerJSON {
    return { method: this.method, offset: Array.from(this.offset), scale: Array.from(this.scale) };
  }

  /**
   * Scale a flat series [T*F'] whose features are `featureIndices` of the
   * fitted ones (default all F).
   */
  transform(x: ArrayLike<number>, featureIndices?: number[]): Float32Array {
    return this.affine(x, featureIndices, "x", false);
  }

  /** Undo {@link transform}. */
  inverse(y: ArrayLike<number>, featureIndices?: number[]): Float32Array {
    return this.affine(y, featureIndices, "y", true);
  }

  /** (x - offset) / scale per feature, or its inverse x * scale + offset. */
  private affine(x: ArrayLike<number>, featureIndices: number[] | undefined, name: string, inverse: boolean): Float32Array {
    const idx = targetIndices(featureIndices, this.features);
    checkSeries(x, idx.length, name);
    const y = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) {
      const f = idx[i % idx.length];
      y[i] = inverse ? x[i] * this.scale[f] + this.offset[f] : (x[i] - this.offset[f]) / this.scale[f];
    }
    return y;
  }
}

// ---- checks ---------------------------------------------------------------------

function intAtLeast(v: unknown, min: number, name: string): void {
  if (typeof v !== "number" || !Number.isInteger(v) || v < min) {
    throw new UnfoldError("E_OPTION", `${name} must be an integer >= ${min}, got ${String(v)}`, { name, expected: `an integer >= ${min}`, received: v });
  }
}

function targetIndices(t: number[] | undefined, F: number): number[] {
  if (t === undefined) return Array.from({ length: F }, (_, i) => i);
  if (!Array.isArray(t) || t.length === 0 || t.some((i) => !Number.isInteger(i) || i < 0 || i >= F) || new Set(t).size !== t.length) {
    throw new UnfoldError("E_OPTION", `targetFeatures must be distinct feature indices in [0, ${F}), got ${JSON.stringify(t)}`, { name: "targetFeatures", expected: `distinct integers in [0, ${F})`, received: t });
  }
  return t;
}

function checkSeries(s: ArrayLike<number>, F: number, name: string): void {
  if (!s || typeof s !== "object" || typeof s.length !== "number") throw new UnfoldError("E_OPTION", `${name} must be an array of numbers`, { name, expected: "an array of numbers", received: s });
  if (s.length % F !== 0) throw new UnfoldError("E_SHAPE", `${name} has ${s.length} values, not a whole number of steps of ${F} features`, { name, expected: `a multiple of ${F}`, received: s.length });
  for (let i = 0; i < s.length; i++) {
    if (typeof s[i] !== "number" || !Number.isFinite(s[i])) throw new UnfoldError("E_NAN", `${name}[${i}] is ${s[i]}; fill or drop missing values first`, { name: `${name}[${i}]`, expected: "a finite number", received: s[i] });
  }
}

function asSeriesList(series: ArrayLike<number> | ArrayLike<number>[], F: number): ArrayLike<number>[] {
  if (!series || typeof series !== "object" || typeof series.length !== "number") {
    throw new UnfoldError("E_OPTION", "series must be an array of numbers (one series) or an array of such arrays (several)", { name: "series", expected: "an array", received: series });
  }
  const several = series.length > 0 && typeof (series as ArrayLike<unknown>)[0] === "object";
  const list = several ? Array.from(series as ArrayLike<number>[]) : [series as ArrayLike<number>];
  list.forEach((s, i) => checkSeries(s, F, several ? `series[${i}]` : "series"));
  return list;
}
