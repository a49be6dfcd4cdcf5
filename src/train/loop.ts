/**
 * The training loop — one for every model. Like min-char-rnn's, it needs to
 * know nothing of a model but a small interface, {@link Trainable}: make the
 * batches of an epoch, run forward / loss / backward on one (gradients left
 * in the model's gradient block), carry the hidden state on, and the
 * parameter blocks the optimizer updates. `Sequential` (model/fit.ts) and
 * `Seq2Seq` (model/seq2seq.ts) implement it; the loop does the rest: the
 * optimizer, the update (trainer.ts's trainStep: non-finite guard, clipping,
 * schedule), epochs and steps, validation, early stopping, the history, and
 * stopping and resuming inside an epoch.
 *
 * This file imports nothing from model/, so no model module depends on
 * another through training.
 */
import type { Optimizer, ParamRegion } from "./optimizers.js";
import {
  EarlyStopper, ensureOptimizer, type EpochInfo, type ResolvedOptions, runYielding, type TrainHistory, type TrainOptions, trainStep,
} from "./trainer.js";
import { Rng } from "../util/rng.js";

/** What a model keeps between fit() calls, and saves for resuming. */
export interface TrainState {
  optimizer: Optimizer | null;
  history: TrainHistory;
  /** Stream data: the window position inside the current epoch, to resume there. */
  streamPosition: number;
  /** Completed epochs. */
  epoch: number;
  /** Stream data stopped mid-epoch: each recurrent layer's carried state, to resume with. */
  carried?: ({ B: number; h: Float32Array; c: Float32Array } | null)[];
}

export function newTrainState(): TrainState {
  return { optimizer: null, history: { epochs: [], steps: 0 }, streamPosition: 0, epoch: 0 };
}

/**
 * A model as the training loop sees it. `D` is its training data, `O` its
 * fit options, `S` one step's batch (whatever the model makes).
 */
export interface Trainable<D, O extends TrainOptions, S> {
  /** Optimizer, history, epoch count (and stream position), kept across fit() calls. */
  readonly trainState: TrainState;
  /** The parameter blocks (and their gradient blocks, same layout) the optimizer updates. */
  regions(): ParamRegion[];
  /** Check the data and every option completely — nothing may change before — and resolve the options. */
  checkFit(data: D, opts: O): ResolvedOptions;
  /** Hold out validation data (`opts.validation`: given data or a fraction of `data`, drawn with `rng`). */
  splitValidation(data: D, opts: O, rng: Rng): { train: D; val: D | null };
  /** The batches of one epoch, in order (shuffled or bucketed with `rng`). Made lazily, one per step. */
  batches(train: D, o: ResolvedOptions, rng: Rng): Iterable<S>;
  /** Forward, loss and backward on one batch, leaving the gradients in place: the mean loss and how many targets it averages. */
  lossAndBackward(batch: S, rng: Rng): { loss: number; count: number };
  /** After the update of `batch` (truncated BPTT: carry the hidden state to the next window). */
  afterStep?(batch: S): void;
  /**
   * Training stopped inside an epoch (steps, onStep, a diverged loss is an
   * error): keep what resuming needs; true if the epoch is not complete (it
   * is recorded as half an epoch and not counted).
   */
  stoppedInside(train: D): boolean;
  /** Mean loss on held-out data (after every epoch). */
  validationLoss(val: D, o: ResolvedOptions): number;
  /** Training is over: forget any carried state. */
  resetState(): void;
}

/** Train `model` on `data`; returns the model's history (all fit() calls). */
export function fit<D, O extends TrainOptions, S>(model: Trainable<D, O, S>, data: D, opts: O): TrainHistory {
  const run = trainLoop(model, data, opts);
  for (let r = run.next(); !r.done; r = run.next());
  return model.trainState.history;
}

/**
 * {@link fit} that yields to the event loop (without sleeping) whenever about
 * 8 ms of training has passed since the last yield, so timers, I/O and a
 * page's input and rendering keep running.
 */
export async function fitAsync<D, O extends TrainOptions, S>(model: Trainable<D, O, S>, data: D, opts: O): Promise<TrainHistory> {
  await runYielding(trainLoop(model, data, opts));
  return model.trainState.history;
}

/** The loop; yields after every update. */
function* trainLoop<D, O extends TrainOptions, S>(model: Trainable<D, O, S>, data: D, opts: O): Generator<void, void, void> {
  // Everything is checked before anything changes (optimizer, weights, state).
  const o = model.checkFit(data, opts);
  const st = model.trainState;
  const regions = model.regions();
  const opt = ensureOptimizer(st, o.optimizer, regions);
  const rng = new Rng(o.seed + 7919 * st.epoch);
  const { train, val } = model.splitValidation(data, opts, rng);
  const stepsAtStart = st.history.steps;
  const early = new EarlyStopper(o.earlyStopping, regions);

  for (let e = 0; e < o.epochs && st.history.steps - stepsAtStart < o.steps; e++) {
    const t0 = performance.now();
    let lossSum = 0;
    let countSum = 0;
    let stop = false;
    for (const batch of model.batches(train, o, rng)) {
      const r = trainStep(() => model.lossAndBackward(batch, rng), regions, opt, o, st.history, st.epoch + 1);
      lossSum += r.loss * r.count;
      countSum += r.count;
      if (r.stop || st.history.steps - stepsAtStart >= o.steps) stop = true;
      model.afterStep?.(batch);
      yield;
      if (stop) break;
    }
    const seconds = () => (performance.now() - t0) / 1000;
    if (stop && model.stoppedInside(train)) {
      // Stopped inside an epoch: it is not complete (half an epoch in the history; resuming continues it).
      if (countSum > 0) st.history.epochs.push({ epoch: st.epoch + 0.5, step: st.history.steps, loss: lossSum / countSum, seconds: seconds() });
      break;
    }
    st.epoch++;
    const info: EpochInfo = { epoch: st.epoch, step: st.history.steps, loss: countSum ? lossSum / countSum : NaN, seconds: seconds() };
    if (val) info.valLoss = model.validationLoss(val, o);
    st.history.epochs.push(info);
    if (o.onEpoch?.(info) === false || stop || early.update(info.valLoss)) break;
  }
  early.restoreBest();
  model.resetState();
}
