/**
 * Forecasting with a features model (lecture p.11-13: many-to-one, or an
 * output at every step): from a history of a series, the next `horizon`
 * steps, either
 *  - autoregressive: the model predicts one step of every feature (output
 *    size O = F); each prediction is fed back as the next input, or
 *  - direct: a many-to-one head predicts h steps at once (O = h * Ft).
 * Values go through the model's fitted {@link Scaler} on the way in and out.
 *
 * Legend: T = history steps, F = features per step, Ft = target features,
 * O = head outputs, L = lookback.
 */
import { UnfoldError } from "../errors.js";
import type { Scaler } from "../data/timeseries.js";
import type { SequentialModel as Sequential } from "./types.js";

/** Options of {@link forecast}. */
export interface ForecastOptions {
  /**
   * L: the window the model was trained on. Each step then runs on the last
   * L steps only, as in training (`windows({ lookback })`). Omitted: the
   * whole history is read once and the state rolls on.
   */
  lookback?: number;
  /** Direct models with a subset of target features: their indices (as given to `windows`). Default: all. */
  targetFeatures?: number[];
}

/**
 * The next `horizon` steps after `history`, in the units of the data.
 * @param history flat [T, F] raw values (T >= 1, or >= lookback)
 * @returns flat [horizon, Ft] (Ft = F for autoregressive models)
 * @throws UnfoldError E_STATE without a fitted scaler (`model.scaler`), E_NAN for a
 *   non-finite history value, E_SHAPE / E_OPTION for wrong lengths or options,
 *   E_UNSUPPORTED for a model that is not a features model with an mse head.
 */
export function forecast(model: Sequential, history: ArrayLike<number>, horizon: number, opts: ForecastOptions = {}): Float32Array {
  if (model.spec.input.type !== "features" || model.spec.output.loss !== "mse") {
    throw new UnfoldError("E_UNSUPPORTED", "forecast() needs a features model with an mse head (input: { type: 'features' }, output: { loss: 'mse' })", { name: "model" });
  }
  const scaler: Scaler | null = model.scaler;
  if (!scaler) {
    throw new UnfoldError("E_STATE", "forecast() needs the model's fitted scaler: fit one on the training data and attach it, model.scaler = Scaler.fit(trainingSeries)", { name: "model.scaler", expected: "a fitted Scaler", received: null });
  }
  const F = model.inputSize;
  if (scaler.features !== F) throw new UnfoldError("E_SHAPE", `the model reads ${F} features per step but its scaler was fitted on ${scaler.features}`, { name: "model.scaler", expected: String(F), received: scaler.features });
  if (typeof horizon !== "number" || !Number.isInteger(horizon) || horizon < 1) throw new UnfoldError("E_OPTION", `horizon must be an integer >= 1, got ${String(horizon)}`, { name: "horizon", expected: "an integer >= 1", received: horizon });
  if (!opts || typeof opts !== "object") throw new UnfoldError("E_OPTION", "forecast options must be an object", { name: "options", received: opts });
  const L = opts.lookback;
  if (L !== undefined && (typeof L !== "number" || !Number.isInteger(L) || L < 1)) throw new UnfoldError("E_OPTION", `lookback must be an integer >= 1, got ${String(L)}`, { name: "lookback", expected: "an integer >= 1", received: L });
  const scaled = scaler.transform(history); // checks the length and that every value is finite
  const T = scaled.length / F;
  if (T < (L ?? 1)) throw new UnfoldError("E_SHAPE", `history has ${T} steps; the model needs at least ${L ?? 1}`, { name: "history", expected: `>= ${L ?? 1} steps`, received: T });
  const O = model.spec.output.size;
  const s = model.session();
  try {
    if (O === F && opts.targetFeatures === undefined) {
      // Autoregressive: roll forward on the model's own predictions.
      const window = Float32Array.from(scaled.subarray(L === undefined ? 0 : (T - L) * F)); // [L or T, F]
      const out = new Float32Array(horizon * F);
      let y = s.feed(window);
      for (let t = 0; t < horizon; t++) {
        out.set(y, t * F);
        if (t === horizon - 1) break;
        if (L === undefined) y = s.step(out.subarray(t * F, t * F + F));
        else {
          window.copyWithin(0, F); // slide: drop the oldest step, append the prediction
          window.set(out.subarray(t * F, t * F + F), (L - 1) * F);
          s.reset();
          y = s.feed(window);
        }
      }
      return scaler.inverse(out);
    }
    // Direct: one many-to-one output holds h steps of Ft features.
    if (model.spec.mode !== "many-to-one") throw new UnfoldError("E_UNSUPPORTED", `a direct forecast needs a many-to-one model; this one has ${O} outputs for ${F} features per step (autoregressive needs O = F)`, { name: "model" });
    const Ft = opts.targetFeatures?.length ?? F;
    if (O % Ft !== 0) throw new UnfoldError("E_SHAPE", `the head has ${O} outputs, not a whole number of steps of ${Ft} target features`, { name: "targetFeatures", expected: `a divisor count of ${O}`, received: Ft });
    const h = O / Ft;
    if (horizon > h) throw new UnfoldError("E_OPTION", `this direct model predicts ${h} steps at once; horizon ${horizon} is more (train with windows({ horizon: ${horizon} }) or use an autoregressive model)`, { name: "horizon", expected: `<= ${h}`, received: horizon });
    const y = s.feed(L === undefined ? scaled : scaled.subarray((T - L) * F));
    return scaler.inverse(y.subarray(0, horizon * Ft), opts.targetFeatures);
  } finally {
    s.dispose();
  }
}
