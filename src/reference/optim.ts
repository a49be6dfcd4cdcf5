/**
 * Scalar float64 twins of the optimizer kernels in `assembly/optim.ts`,
 * written from torch.optim's update rules (no dampening, lr_decay, centering
 * or amsgrad). Arrays stand in for pointers and are updated in place; moments
 * start at zero. `d = g + wd*p` is the coupled (L2) weight decay.
 * @module
 */
import type { Vec } from "./loss.js";

/** SGD: p -= lr * (g + wd*p). */
export function sgd_step(p: Vec, g: ArrayLike<number>, n: number, lr: number, wd: number): void {
  for (let i = 0; i < n; i++) p[i] -= lr * (g[i] + wd * p[i]);
}

/** SGD with momentum (torch, dampening 0): d = g + wd*p; v = mu*v + d; p -= lr * (nesterov ? d + mu*v : v). */
export function momentum_step(
  p: Vec, g: ArrayLike<number>, v: Vec, n: number, lr: number, mu: number, wd: number, nesterov: number,
): void {
  for (let i = 0; i < n; i++) {
    const d = g[i] + wd * p[i];
    v[i] = mu * v[i] + d;
    p[i] -= lr * (nesterov ? d + mu * v[i] : v[i]);
  }
}

/** Adagrad: d = g + wd*p; s += d^2; p -= lr * d / (sqrt(s) + eps). */
export function adagrad_step(p: Vec, g: ArrayLike<number>, s: Vec, n: number, lr: number, eps: number, wd: number): void {
  for (let i = 0; i < n; i++) {
    const d = g[i] + wd * p[i];
    s[i] += d * d;
    p[i] -= (lr * d) / (Math.sqrt(s[i]) + eps);
  }
}

/** RMSprop: d = g + wd*p; s = alpha*s + (1-alpha)*d^2; p -= lr * d / (sqrt(s) + eps). */
export function rmsprop_step(
  p: Vec, g: ArrayLike<number>, s: Vec, n: number, lr: number, alpha: number, eps: number, wd: number,
): void {
  for (let i = 0; i < n; i++) {
    const d = g[i] + wd * p[i];
    s[i] = alpha * s[i] + (1 - alpha) * d * d;
    p[i] -= (lr * d) / (Math.sqrt(s[i]) + eps);
  }
}

/**
 * torch.optim.Adam (decoupled = 0) or AdamW (decoupled = 1), with
 * bc1 = 1 - beta1^t and bc2 = 1 - beta2^t for step t (from 1):
 * AdamW: p *= 1 - lr*wd and d = g; Adam: d = g + wd*p; then
 * m = beta1*m + (1-beta1)*d; v = beta2*v + (1-beta2)*d^2;
 * p -= (lr/bc1) * m / (sqrt(v)/sqrt(bc2) + eps). Returns 1 if any new p is not finite, else 0.
 */
export function adam_step(
  p: Vec, g: ArrayLike<number>, m: Vec, v: Vec, n: number,
  lr: number, beta1: number, beta2: number, eps: number, wd: number, decoupled: number, bc1: number, bc2: number,
): number {
  let bad = 0;
  for (let i = 0; i < n; i++) {
    if (decoupled) p[i] *= 1 - lr * wd;
    const d = decoupled ? g[i] : g[i] + wd * p[i];
    m[i] = beta1 * m[i] + (1 - beta1) * d;
    v[i] = beta2 * v[i] + (1 - beta2) * d * d;
    p[i] -= ((lr / bc1) * m[i]) / (Math.sqrt(v[i]) / Math.sqrt(bc2) + eps);
    if (!Number.isFinite(p[i])) bad = 1;
  }
  return bad;
}

/** sum_i g[i]^2. */
export function sum_squares(g: ArrayLike<number>, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += g[i] * g[i];
  return s;
}

/** Number of NaN or +-Infinity values in x [n]. */
export function count_nonfinite(x: ArrayLike<number>, n: number): number {
  let c = 0;
  for (let i = 0; i < n; i++) if (!Number.isFinite(x[i])) c++;
  return c;
}
