/**
 * The training loop: BPTT on whole sequences, truncated BPTT on long streams
 * (lecture p.19-20), gradient clipping, learning-rate schedules, callbacks,
 * early stopping, and a guard that stops — keeping the last good weights and
 * optimizer state — when the loss or the gradients stop being finite.
 *
 * min-char-rnn's loop, in this library's terms:
 *   forward a window (state carried from the last one) -> loss -> backward
 *   -> clip -> update -> carry the hidden state to the next window.
 */
import { UnfoldError } from "../errors.js";
import * as v from "../validate.js";
import {
  checkOptimizerSpec, checkSchedule, countNonFiniteParams, gradNorm, clipGradValues, Optimizer, type OptimizerSpec, type ParamRegion,
  restoreParams, scaleGrads, scheduleFactor, type ScheduleSpec, snapshotParams,
} from "./optimizers.js";

/** Settings of a training run. */
export interface TrainOptions {
  /** Passes over the data. Default 1 (unless `steps` is given). */
  epochs?: number;
  /** Stop after this many updates in all (overrides epochs as the limit). */
  steps?: number;
  /** Sequences per batch (streams, for a language model). Default 32. */
  batchSize?: number;
  /** Default { type: 'adam', lr: 1e-3 }. */
  optimizer?: OptimizerSpec;
  /** Learning-rate schedule over updates. Default constant. */
  schedule?: ScheduleSpec;
  /** Rescale gradients whose global L2 norm exceeds this. Default 5; null turns it off. */
  clipNorm?: number | null;
  /** Clip every gradient value to [-clipValue, clipValue]. Default off. */
  clipValue?: number;
  /**
   * Truncated BPTT for streams: k1 steps per update, gradients through
   * k2 >= k1 steps. Default k1 = k2 = 64. `carry: false` resets the hidden
   * state at every window instead of carrying it (for comparison).
   */
  tbptt?: {
    /** Steps per update (window length). */
    k1: number;
    /** Steps the gradient flows back (>= k1; default k1). */
    k2?: number;
    /** Carry the hidden state from window to window (default true). */
    carry?: boolean;
  };
  /** Seed of shuffling (and anything else random in training). Default: the model's seed. */
  seed?: number;
  /** Shuffle batches each epoch. Default true. */
  shuffle?: boolean;
  /** Stop when the validation loss has not improved by minDelta for `patience` epochs; restores the best weights. */
  earlyStopping?: {
    /** Epochs without improvement before stopping. */
    patience: number;
    /** Smallest decrease that counts as an improvement (default 0). */
    minDelta?: number;
  };
  /** Called after every update. Return false to stop. */
  onStep?: (s: StepInfo) => void | boolean;
  /** Called after every epoch. Return false to stop. */
  onEpoch?: (e: EpochInfo) => void | boolean;
}

/** Reported after each update. */
export interface StepInfo {
  /** Updates so far (1-based). */
  step: number;
  /** Epoch of this update (1-based). */
  epoch: number;
  /** Mean loss of this update's batch (per target). */
  loss: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** Learning rate used for this update (after the schedule). */
  lr: number;
  /** Tokens (target positions) per second in this update. */
  tokensPerSecond: number;
}

/** Reported after each epoch. */
export interface EpochInfo {
  /** The epoch (1-based). */
  epoch: number;
  /** Updates so far, at the end of the epoch. */
  step: number;
  /** Mean training loss over the epoch (weighted by targets). */
  loss: number;
  /** Validation loss, if validation data was given. */
  valLoss?: number;
  /** Wall-clock seconds the epoch took. */
  seconds: number;
}

/** The record of a run; also kept in saved models. */
export interface TrainHistory {
  /** One entry per finished epoch. */
  epochs: EpochInfo[];
  /** Updates so far. */
  steps: number;
}

/**
 * Thrown when training produces a non-finite loss, gradient or weight. A
 * non-finite loss or gradient is caught before the update, so the model keeps
 * its last good weights; an update that itself overflows the weights (a far
 * too high learning rate) is caught right after it, and the message says to
 * reload the last checkpoint. An {@link UnfoldError} with code `E_NAN`.
 */
export class TrainingDivergedError extends UnfoldError {
  constructor(msg: string) {
    super("E_NAN", msg, { name: "loss", expected: "a finite loss and gradients" });
    this.name = "TrainingDivergedError";
  }
}

/** Clip, check and apply one update; the gradients must already be computed. Returns the pre-clip norm. */
export function applyUpdate(regions: ParamRegion[], opt: Optimizer, o: { clipNorm: number | null; clipValue?: number; lr: number }): number {
  const norm = gradNorm(regions);
  if (!Number.isFinite(norm)) {
    throw new TrainingDivergedError(
      `unfold-rnn: gradients became ${norm} at update ${opt.step + 1}; the update was not applied, weights and optimizer state are the last good ones. ` +
        "Lower the learning rate, enable clipNorm, or check the data for extreme values.",
    );
  }
  if (o.clipNorm !== null && norm > o.clipNorm) scaleGrads(regions, o.clipNorm / norm);
  if (o.clipValue !== undefined) clipGradValues(regions, o.clipValue);
  // Adam's kernel flags a non-finite weight as it writes it (then they are counted, for the
  // message); the other optimizers' weights are counted after every update.
  const flagged = opt.apply(o.lr);
  const bad = flagged === false ? 0 : countNonFiniteParams(regions);
  if (bad > 0) {
    throw new TrainingDivergedError(
      `unfold-rnn: update ${opt.step} made ${bad} weight(s) non-finite (the learning rate ${o.lr} is far too high for these gradients). ` +
        "Reload the last checkpoint and lower the learning rate.",
    );
  }
  return norm;
}

/** Fill in the defaults of {@link TrainOptions}. */
export function resolveOptions(o: TrainOptions, seed: number) {
  checkTrainOptions(o);
  const batchSize = o.batchSize ?? 32;
  const k1 = o.tbptt?.k1 ?? 64;
  const k2 = o.tbptt?.k2 ?? k1;
  if (k2 < k1) throw new UnfoldError("E_OPTION", `tbptt needs integers k2 >= k1 >= 1, got k1=${k1}, k2=${k2}`, { name: "tbptt.k2", expected: `an integer >= k1 = ${k1}`, received: k2 });
  const clipNorm = o.clipNorm === undefined ? 5 : o.clipNorm;
  return {
    epochs: o.epochs ?? (o.steps ? Infinity : 1),
    steps: o.steps ?? Infinity,
    batchSize,
    optimizer: o.optimizer ?? ({ type: "adam", lr: 1e-3 } as OptimizerSpec),
    schedule: o.schedule,
    clipNorm,
    clipValue: o.clipValue,
    k1,
    k2,
    carry: o.tbptt?.carry ?? true,
    seed: o.seed ?? seed,
    shuffle: o.shuffle ?? true,
    earlyStopping: o.earlyStopping,
    onStep: o.onStep,
    onEpoch: o.onEpoch,
  };
}

export type ResolvedOptions = ReturnType<typeof resolveOptions>;

/** Every training option, checked before training starts (so a bad one changes nothing). */
export function checkTrainOptions(o: TrainOptions): void {
  v.checkObject("fit options", o);
  v.checkOptionalInt("epochs", o.epochs, 1);
  v.checkOptionalInt("steps", o.steps, 1);
  v.checkOptionalInt("batchSize", o.batchSize, 1);
  if (o.optimizer !== undefined) checkOptimizerSpec(o.optimizer);
  if (o.schedule !== undefined) checkSchedule("schedule", o.schedule);
  if (o.clipNorm !== null) v.checkNumber("clipNorm", o.clipNorm, { min: 0, minOpen: true, optional: true });
  v.checkNumber("clipValue", o.clipValue, { min: 0, minOpen: true, optional: true });
  if (o.tbptt !== undefined) {
    v.checkObject("tbptt", o.tbptt, "{ k1, k2?, carry? }");
    v.checkInt("tbptt.k1", o.tbptt.k1, 1);
    v.checkOptionalInt("tbptt.k2", o.tbptt.k2, 1);
    v.checkBool("tbptt.carry", o.tbptt.carry);
  }
  v.checkNumber("seed", o.seed, { optional: true });
  v.checkBool("shuffle", o.shuffle);
  if (o.earlyStopping !== undefined) {
    v.checkObject("earlyStopping", o.earlyStopping, "{ patience, minDelta? }");
    v.checkInt("earlyStopping.patience", o.earlyStopping.patience, 1);
    v.checkNumber("earlyStopping.minDelta", o.earlyStopping.minDelta, { min: 0, optional: true });
  }
  v.checkFunction("onStep", o.onStep);
  v.checkFunction("onEpoch", o.onEpoch);
}

/** The learning rate of the next update. */
export function currentLr(opt: Optimizer, r: ResolvedOptions): number {
  return r.optimizer.lr * scheduleFactor(r.schedule, opt.step);
}

/**
 * Yield to the event loop without sleeping, so timers, I/O and (in a page)
 * input and rendering run: `setImmediate` in Node and Bun (after the I/O poll
 * phase, no 1 ms timer clamp), else a `MessageChannel` message (a plain task:
 * timers queued before it run first), else `scheduler.yield()`. Chromium
 * runs `scheduler.yield()` continuations ahead of timers, so a training loop
 * yielding that way starved the page's `setInterval` (0 ticks in the browser
 * demo test): it is only the last resort. Never `setTimeout`, which browsers
 * and Node clamp to >= 1-4 ms: at batch 1 that is longer than a training step.
 */
export function nextTick(): Promise<void> {
  const g = globalThis as unknown as {
    setImmediate?: (cb: () => void) => unknown;
    scheduler?: { yield?: () => Promise<void> };
    MessageChannel?: typeof MessageChannel;
  };
  if (typeof g.setImmediate === "function") return new Promise((resolve) => g.setImmediate!(resolve));
  if (typeof g.MessageChannel === "function") {
    return new Promise((resolve) => {
      const ch = new g.MessageChannel!();
      ch.port1.onmessage = () => {
        ch.port1.close();
        resolve();
      };
      ch.port2.postMessage(null);
    });
  }
  if (typeof g.scheduler?.yield === "function") return g.scheduler.yield();
  return Promise.resolve(); // no macrotask primitive at all: continue (a microtask)
}

/** Work time between two yields of {@link runYielding}, in ms (about half a 60 Hz frame). */
export const YIELD_EVERY_MS = 8;

/**
 * Drive a training generator to the end, yielding to the event loop
 * ({@link nextTick}) only once at least `everyMs` of work has passed since
 * the last yield: a page stays responsive, and fast steps (batch 1) are not
 * slowed by a yield each. Returns the number of yields.
 */
export async function runYielding(run: Generator<void, void, void>, everyMs = YIELD_EVERY_MS): Promise<number> {
  let yields = 0;
  let last = performance.now();
  for (let r = run.next(); !r.done; r = run.next()) {
    if (performance.now() - last < everyMs) continue;
    await nextTick();
    yields++;
    last = performance.now();
  }
  return yields;
}

/** The optimizer of a run: reused across fit() calls while its settings are unchanged. */
export function ensureOptimizer(st: { optimizer: Optimizer | null }, spec: OptimizerSpec, regions: ParamRegion[]): Optimizer {
  if (!st.optimizer || JSON.stringify(st.optimizer.spec) !== JSON.stringify(spec)) {
    st.optimizer?.dispose();
    st.optimizer = new Optimizer(spec, regions);
  }
  return st.optimizer;
}

/**
 * One update, the same for every model: `lossAndBackward` runs forward, the
 * loss and backward (gradients left in the grad arenas) and returns the mean
 * loss and how many targets it averages; then the non-finite guard, clipping
 * and the optimizer step.
 */
export function trainStep(
  lossAndBackward: () => { loss: number; count: number },
  regions: ParamRegion[], opt: Optimizer, o: ResolvedOptions,
  history: TrainHistory, epoch: number,
): { loss: number; count: number; stop: boolean } {
  const t0 = performance.now();
  const { loss, count } = lossAndBackward();
  if (!Number.isFinite(loss)) {
    throw new TrainingDivergedError(`unfold-rnn: the loss became ${loss} at update ${opt.step + 1}; weights and optimizer state are the last good ones. Lower the learning rate or check the data.`);
  }
  const lr = currentLr(opt, o);
  const norm = applyUpdate(regions, opt, { clipNorm: o.clipNorm, clipValue: o.clipValue, lr });
  history.steps++;
  const r = o.onStep?.({ step: history.steps, epoch, loss, gradNorm: norm, lr, tokensPerSecond: count / ((performance.now() - t0) / 1000) });
  return { loss, count, stop: r === false };
}

/** Early stopping on the validation loss: keeps the best weights and restores them at the end. */
export class EarlyStopper {
  private best = Infinity;
  private bestWeights: Float32Array[] | null = null;
  private since = 0;

  constructor(private readonly cfg: { patience: number; minDelta?: number } | undefined, private readonly regions: ParamRegion[]) {}

  /** Record an epoch's validation loss; true when training should stop. */
  update(valLoss: number | undefined): boolean {
    if (!this.cfg || valLoss === undefined) return false;
    if (valLoss < this.best - (this.cfg.minDelta ?? 0)) {
      this.best = valLoss;
      this.bestWeights = snapshotParams(this.regions);
      this.since = 0;
      return false;
    }
    return ++this.since >= this.cfg.patience;
  }

  /** Put the best weights back (if early stopping was on). */
  restoreBest(): void {
    if (this.bestWeights) restoreParams(this.regions, this.bestWeights);
  }
}

/** Indices 0..n-1 in consecutive batches of `size` (no shuffling). */
export function sequentialBatches(n: number, size: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < n; i += size) out.push(Array.from({ length: Math.min(size, n - i) }, (_, j) => i + j));
  return out;
}
