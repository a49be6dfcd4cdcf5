/**
 * Optimizers, learning-rate schedules and gradient clipping over flat
 * regions of WASM memory. A model's parameters and gradients live in arenas
 * with identical layouts, so every update is one kernel call per arena: no
 * per-tensor work and no copies.
 */
import type { Ptr } from "../runtime/abi.js";
import { Arena } from "../runtime/arena.js";
import * as threads from "../runtime/threads.js";
import { heap, kernels } from "../runtime/wasm.js";
import { UnfoldError } from "../errors.js";
import * as v from "../validate.js";

/** One flat block of parameters and the gradient block of the same layout. */
export interface ParamRegion {
  /** The parameters. */
  params: Arena;
  /** Their gradients, same layout. */
  grads: Arena;
  /**
   * Sizes in floats of the layers joined in this block, in order (they sum
   * to its size). Saved optimizer state keeps one buffer per layer and slot,
   * so files are the same whether a model has one block or one per layer.
   */
  parts?: readonly number[];
}

/** Which optimizer, with PyTorch's defaults for what is omitted. */
export type OptimizerSpec =
  | {
      /** Stochastic gradient descent. */
      type: "sgd";
      /** Learning rate. */
      lr: number;
      /** Momentum factor (default 0). */
      momentum?: number;
      /** Nesterov momentum (default false). */
      nesterov?: boolean;
      /** L2 penalty added to the gradient (default 0). */
      weightDecay?: number;
    }
  | {
      /** Adagrad. */
      type: "adagrad";
      /** Learning rate. */
      lr: number;
      /** Added to the denominator (default 1e-10). */
      eps?: number;
      /** L2 penalty added to the gradient (default 0). */
      weightDecay?: number;
    }
  | {
      /** RMSprop. */
      type: "rmsprop";
      /** Learning rate. */
      lr: number;
      /** Smoothing constant of the squared-gradient average (default 0.99). */
      alpha?: number;
      /** Added to the denominator (default 1e-8). */
      eps?: number;
      /** L2 penalty added to the gradient (default 0). */
      weightDecay?: number;
    }
  | {
      /** Adam, or AdamW (decoupled weight decay). */
      type: "adam" | "adamw";
      /** Learning rate. */
      lr: number;
      /** Decay of the first-moment average (default 0.9). */
      beta1?: number;
      /** Decay of the second-moment average (default 0.999). */
      beta2?: number;
      /** Added to the denominator (default 1e-8). */
      eps?: number;
      /** adam: L2 penalty added to the gradient; adamw: decoupled decay of the weights (default 0 for adam, 0.01 for adamw). */
      weightDecay?: number;
    };

/** A learning-rate schedule: the factor applied to the base lr at a step. */
export type ScheduleSpec =
  | {
      /** Factor 1 throughout. */
      type: "constant";
    }
  | {
      /** Multiply by gamma every stepSize updates. */
      type: "step";
      /** Updates per stage. */
      stepSize: number;
      /** Factor per stage (default 0.1). */
      gamma?: number;
    }
  | {
      /** Cosine from 1 down to minFactor over totalSteps updates. */
      type: "cosine";
      /** Updates of the whole decay. */
      totalSteps: number;
      /** The final factor (default 0). */
      minFactor?: number;
    }
  | {
      /** Up linearly to 1 over warmupSteps updates (1/warmupSteps at the first), then the `then` schedule (default constant). */
      type: "linear-warmup";
      /** Updates of the warm-up. */
      warmupSteps: number;
      /** The schedule after the warm-up, counted from its end. */
      then?: ScheduleSpec;
    }
  /** Any factor of the update number, e.g. a schedule over a run's wall-clock budget (`unfold train --time`). */
  | {
      /** A function of the update number. */
      type: "custom";
      /** The factor at update `step` (0-based). */
      factor: (step: number) => number;
    };

/** The learning-rate factor of `schedule` at update number `step` (0-based). */
export function scheduleFactor(schedule: ScheduleSpec | undefined, step: number): number {
  if (!schedule) return 1;
  checkSchedule("schedule", schedule);
  v.checkNumber("step", step, { min: 0 }); // time-based plans ask at fractional steps
  switch (schedule.type) {
    case "constant":
      return 1;
    case "step":
      return Math.pow(schedule.gamma ?? 0.1, Math.floor(step / schedule.stepSize));
    case "cosine": {
      const m = schedule.minFactor ?? 0;
      const p = Math.min(step / schedule.totalSteps, 1);
      return m + (1 - m) * 0.5 * (1 + Math.cos(Math.PI * p));
    }
    case "linear-warmup":
      if (step < schedule.warmupSteps) return (step + 1) / schedule.warmupSteps;
      return scheduleFactor(schedule.then, step - schedule.warmupSteps);
    case "custom":
      return schedule.factor(step);
  }
}

/** Everything needed to resume an optimizer exactly. */
export interface OptimizerState {
  /** The optimizer's definition. */
  spec: OptimizerSpec;
  /** Number of updates taken. */
  step: number;
  /** Moment buffers, in region order (adam: m then v per region). */
  buffers: Float32Array[];
}

/** Applies updates to a model's parameter regions. */
export class Optimizer {
  /** The optimizer's definition, defaults not filled in. */
  readonly spec: OptimizerSpec;
  /** Number of updates taken (Adam's t). */
  step = 0;
  private readonly regions: ParamRegion[];
  /** Per region: the optimizer's moment buffers (same layout as the params). */
  private readonly moments: Arena[];
  private readonly slots: number;

  constructor(spec: OptimizerSpec, regions: ParamRegion[]) {
    validateSpec(spec);
    v.checkArray("regions", regions, "the model's parameter regions (model.regions())");
    this.spec = spec;
    this.regions = regions;
    this.slots = spec.type === "adam" || spec.type === "adamw" ? 2 : spec.type === "sgd" && !(spec.momentum ?? 0) ? 0 : 1;
    this.moments = regions.map((r) => {
      const a = new Arena();
      for (let s = 0; s < this.slots; s++) a.tensor(`m${s}`, [r.params.bytes / 4]);
      return a.commit();
    });
  }

  /**
   * Apply one update with learning rate `lr` (the schedule's result).
   * Returns whether the update left any parameter NaN or infinite when the
   * optimizer's kernel checks that as it writes them (Adam and AdamW: no
   * second pass over the weights), else `undefined` (then check with
   * `countNonFiniteParams`, exported from this module).
   */
  apply(lr: number): boolean | undefined {
    v.checkNumber("lr", lr, { min: 0 });
    this.step++;
    const k = kernels();
    const s = this.spec;
    const wd = s.weightDecay ?? 0;
    let bad: boolean | undefined;
    this.regions.forEach((r, i) => {
      const p = r.params.ptr;
      const g = r.grads.ptr;
      const n = r.params.bytes / 4;
      const m = this.moments[i];
      switch (s.type) {
        case "sgd":
          if (this.slots === 0) k.sgd_step(p, g, n, lr, wd);
          else k.momentum_step(p, g, m.get("m0").ptr, n, lr, s.momentum!, wd, s.nesterov ? 1 : 0);
          break;
        case "adagrad":
          k.adagrad_step(p, g, m.get("m0").ptr, n, lr, s.eps ?? 1e-10, wd);
          break;
        case "rmsprop":
          k.rmsprop_step(p, g, m.get("m0").ptr, n, lr, s.alpha ?? 0.99, s.eps ?? 1e-8, wd);
          break;
        case "adam":
        case "adamw": {
          const b1 = s.beta1 ?? 0.9;
          const b2 = s.beta2 ?? 0.999;
          const decoupled = s.type === "adamw";
          const flagged = threads.adamStep(p, g, m.get("m0").ptr, m.get("m1").ptr, n, lr, b1, b2, s.eps ?? 1e-8, s.weightDecay ?? (decoupled ? 0.01 : 0), decoupled ? 1 : 0, 1 - b1 ** this.step, 1 - b2 ** this.step);
          bad = !!bad || flagged !== 0;
          break;
        }
      }
    });
    return bad;
  }

  /**
   * The saved buffers, in order: per region, per layer part, per slot (adam:
   * m then v) — each a slice (byte offset `ptr`, `n` floats) of a moment block.
   */
  private buffers(): { ptr: Ptr; n: number }[] {
    const out: { ptr: Ptr; n: number }[] = [];
    this.regions.forEach((r, i) => {
      let off = 0;
      for (const n of r.parts ?? [r.params.bytes / 4]) {
        for (let s = 0; s < this.slots; s++) out.push({ ptr: this.moments[i].get(`m${s}`).ptr + 4 * off, n });
        off += n;
      }
    });
    return out;
  }

  /** A copy of the optimizer's state, for saving. */
  state(): OptimizerState {
    return { spec: this.spec, step: this.step, buffers: this.buffers().map((b) => heap().f32(b.ptr, b.n).slice()) };
  }

  /** Restore a state from {@link state}; checks that it fits these regions. */
  loadState(st: OptimizerState): void {
    const bs = this.buffers();
    v.checkObject("optimizer state", st, "{ spec, step, buffers }");
    v.checkObject("optimizer state.spec", st.spec);
    v.checkInt("optimizer state.step", st.step, 0);
    v.checkArray("optimizer state.buffers", st.buffers);
    if (st.buffers.length !== bs.length || st.spec.type !== this.spec.type) {
      throw new UnfoldError("E_FORMAT", `optimizer state does not match (${st.spec.type} with ${st.buffers.length} buffers vs ${this.spec.type} with ${bs.length})`);
    }
    bs.forEach((b, i) => {
      v.checkArrayLike(`optimizer state.buffers[${i}]`, st.buffers[i]);
      if (st.buffers[i].length !== b.n) throw new UnfoldError("E_SHAPE", `optimizer buffer ${i} has ${st.buffers[i].length} values, expected ${b.n}`);
      v.checkFinite(`optimizer state.buffers[${i}]`, st.buffers[i]);
    });
    bs.forEach((b, i) => heap().f32(b.ptr, b.n).set(st.buffers[i]));
    this.step = st.step;
  }

  /** Free the moment buffers; the optimizer is unusable afterwards. */
  dispose(): void {
    for (const m of this.moments) m.dispose();
  }
}

function validateSpec(s: OptimizerSpec): void {
  checkOptimizerSpec(s);
}

/** An optimizer spec: known type, positive finite lr, each hyper-parameter in its range. */
export function checkOptimizerSpec(s: OptimizerSpec): void {
  v.checkObject("optimizer", s, "{ type, lr, ... }");
  v.checkOneOf("optimizer.type", s.type, ["sgd", "adagrad", "rmsprop", "adam", "adamw"] as const);
  v.checkNumber("optimizer.lr", s.lr, { min: 0, minOpen: true });
  v.checkNumber("optimizer.weightDecay", s.weightDecay, { min: 0, optional: true });
  const o = s as { momentum?: number; nesterov?: boolean; eps?: number; alpha?: number; beta1?: number; beta2?: number };
  v.checkNumber("optimizer.momentum", o.momentum, { min: 0, max: 1, maxOpen: true, optional: true });
  v.checkBool("optimizer.nesterov", o.nesterov);
  v.checkNumber("optimizer.eps", o.eps, { min: 0, minOpen: true, optional: true });
  v.checkNumber("optimizer.alpha", o.alpha, { min: 0, max: 1, optional: true });
  v.checkNumber("optimizer.beta1", o.beta1, { min: 0, max: 1, maxOpen: true, optional: true });
  v.checkNumber("optimizer.beta2", o.beta2, { min: 0, max: 1, maxOpen: true, optional: true });
  if (s.type === "sgd" && s.nesterov && !(s.momentum! > 0)) throw new UnfoldError("E_OPTION", "Nesterov momentum needs momentum > 0", { name: "optimizer.momentum", expected: "> 0 with nesterov", received: s.momentum });
}

/** A learning-rate schedule spec (recursively for linear-warmup's `then`). */
export function checkSchedule(name: string, s: ScheduleSpec): void {
  v.checkObject(name, s, "{ type, ... }");
  v.checkOneOf(`${name}.type`, s.type, ["constant", "step", "cosine", "linear-warmup", "custom"] as const);
  if (s.type === "custom" && typeof (s as { factor?: unknown }).factor !== "function") {
    throw new UnfoldError("E_OPTION", `${name}.factor must be a function (step) => learning-rate factor`, { name: `${name}.factor`, expected: "a function", received: (s as { factor?: unknown }).factor });
  }
  if (s.type === "step") {
    v.checkInt(`${name}.stepSize`, s.stepSize, 1);
    v.checkNumber(`${name}.gamma`, s.gamma, { min: 0, minOpen: true, optional: true });
  } else if (s.type === "cosine") {
    v.checkInt(`${name}.totalSteps`, s.totalSteps, 1);
    v.checkNumber(`${name}.minFactor`, s.minFactor, { min: 0, max: 1, optional: true });
  } else if (s.type === "linear-warmup") {
    v.checkInt(`${name}.warmupSteps`, s.warmupSteps, 1);
    if (s.then !== undefined) checkSchedule(`${name}.then`, s.then);
  }
}

/** Global L2 norm of all gradients, sqrt(Σ g²) over every region. */
export function gradNorm(regions: ParamRegion[]): number {
  const k = kernels();
  let s = 0;
  for (const r of regions) s += k.sum_squares(r.grads.ptr, r.grads.bytes / 4);
  return Math.sqrt(s);
}

/** Scale all gradients by `factor`. */
export function scaleGrads(regions: ParamRegion[], factor: number): void {
  const k = kernels();
  for (const r of regions) k.scale_f32(r.grads.ptr, r.grads.bytes / 4, factor);
}

/** Clip every gradient to [-c, c]. */
export function clipGradValues(regions: ParamRegion[], c: number): void {
  const k = kernels();
  for (const r of regions) k.clip_f32(r.grads.ptr, r.grads.bytes / 4, c);
}

/** Zero all gradients. */
export function zeroGrads(regions: ParamRegion[]): void {
  const k = kernels();
  for (const r of regions) k.fill_f32(r.grads.ptr, r.grads.bytes / 4, 0);
}

/** Number of non-finite parameter values (a diverged model has some). */
export function countNonFiniteParams(regions: ParamRegion[]): number {
  const k = kernels();
  let n = 0;
  for (const r of regions) n += k.count_nonfinite(r.params.ptr, r.params.bytes / 4);
  return n;
}

/** Copy all parameters out (a snapshot to roll back to). */
export function snapshotParams(regions: ParamRegion[]): Float32Array[] {
  return regions.map((r) => heap().f32(r.params.ptr, r.params.bytes / 4).slice());
}

/** Restore parameters from {@link snapshotParams}. */
export function restoreParams(regions: ParamRegion[], snap: Float32Array[]): void {
  regions.forEach((r, i) => heap().f32(r.params.ptr, r.params.bytes / 4).set(snap[i]));
}

export type { Ptr };
