// Optimizer updates over the flat parameter / gradient arrays (params and
// grads share one layout, so each optimizer is one loop), plus the two
// reductions the trainer needs for gradient clipping and divergence checks.
//
// All formulas follow torch.optim (defaults: no dampening, no lr_decay, no
// centering, no amsgrad) so numbers can be checked against PyTorch:
//   d = g + wd*p                      (L2 weight decay, "coupled")
//   SGD       p -= lr*d
//   Momentum  v = mu*v + d;  p -= lr*(nesterov ? d + mu*v : v)
//   Adagrad   s += d^2;      p -= lr * d/(sqrt(s) + eps)
//   RMSprop   s = alpha*s + (1-alpha)*d^2;  p -= lr * d/(sqrt(s) + eps)
//   Adam      m = lerp(m, d, 1-b1); v = b2*v + (1-b2)*d^2;
//             p -= (lr/bc1) * m/(sqrt(v)/sqrt(bc2) + eps)
//   AdamW     p *= 1 - lr*wd first, then Adam with d = g.
// Moments (v, s, m) start at zero; torch's "buffer = d on the first momentum
// step" is the same as mu*0 + d.
//
// n = element count. Each kernel body is written once as an @inline function
// of v128 lanes and used twice: on 4 lanes in the main loop and on lane 0 in
// the scalar tail, so every element gets bit-identical arithmetic whatever
// its position. Scalars are splatted once, before the loops.
//
// Hyperparameters arrive as f64 (JS numbers) and every derived constant
// (1 - beta2, lr/bc1, 1 - lr*wd, sqrt(bc2)) is formed in f64 and rounded to
// f32 once, as torch does with its Python-float hyperparameters. Rounding
// beta2 = 0.999 to f32 first and then taking 1 - beta2 would put a 1.3e-5
// relative error into every second-moment update.

// Vector constants come from this static table: a v128.const written inside a
// loop is rebuilt by V8 on every iteration (see DESIGN.md), a load is not
// constant-folded into the loop by Binaryen. [0] f32 1.0 x4, [16] i32 0x7f800000 x4.
const K = memory.data<i32>([
  0x3f800000, 0x3f800000, 0x3f800000, 0x3f800000,
  0x7f800000, 0x7f800000, 0x7f800000, 0x7f800000,
], 16);

// @ts-ignore: decorator
@inline function ld(p: usize, full: bool): v128 {
  return full ? v128.load(p) : v128.load32_splat(p);
}

// @ts-ignore: decorator
@inline function st(p: usize, x: v128, full: bool): void {
  if (full) v128.store(p, x);
  else v128.store32_lane(p, x, 0);
}

// ---- SGD ----------------------------------------------------------------------

// @ts-ignore: decorator
@inline function sgd_at(o: usize, p: usize, g: usize, vlr: v128, vwd: v128, full: bool): void {
  const pp = ld(p + o, full);
  const d = f32x4.add(ld(g + o, full), f32x4.mul(vwd, pp));
  st(p + o, f32x4.sub(pp, f32x4.mul(vlr, d)), full);
}

/** p [n] -= lr * (g + wd*p). */
export function sgd_step(p: usize, g: usize, n: i32, lr: f64, wd: f64): void {
  const vlr = f32x4.splat(<f32>lr);
  const vwd = f32x4.splat(<f32>wd);
  let i = 0;
  for (; i + 4 <= n; i += 4) sgd_at(<usize>i << 2, p, g, vlr, vwd, true);
  for (; i < n; i++) sgd_at(<usize>i << 2, p, g, vlr, vwd, false);
}

// ---- SGD with momentum ------------------------------------------------------

// @ts-ignore: decorator
@inline function momentum_at(
  o: usize, p: usize, g: usize, v: usize,
  vlr: v128, vmu: v128, vwd: v128, nesterov: bool, full: bool,
): void {
  const pp = ld(p + o, full);
  const d = f32x4.add(ld(g + o, full), f32x4.mul(vwd, pp));
  const vv = f32x4.add(f32x4.mul(vmu, ld(v + o, full)), d);
  st(v + o, vv, full);
  const step = nesterov ? f32x4.add(d, f32x4.mul(vmu, vv)) : vv;
  st(p + o, f32x4.sub(pp, f32x4.mul(vlr, step)), full);
}

/**
 * PyTorch SGD with momentum (dampening 0), v [n] the momentum buffer:
 * d = g + wd*p; v = mu*v + d; p -= lr * (nesterov ? d + mu*v : v).
 */
export function momentum_step(p: usize, g: usize, v: usize, n: i32, lr: f64, mu: f64, wd: f64, nesterov: i32): void {
  const vlr = f32x4.splat(<f32>lr);
  const vmu = f32x4.splat(<f32>mu);
  const vwd = f32x4.splat(<f32>wd);
  let i = 0;
  // The branch is outside the loops: each loop is specialised by inlining.
  if (nesterov != 0) {
    for (; i + 4 <= n; i += 4) momentum_at(<usize>i << 2, p, g, v, vlr, vmu, vwd, true, true);
    for (; i < n; i++) momentum_at(<usize>i << 2, p, g, v, vlr, vmu, vwd, true, false);
  } else {
    for (; i + 4 <= n; i += 4) momentum_at(<usize>i << 2, p, g, v, vlr, vmu, vwd, false, true);
    for (; i < n; i++) momentum_at(<usize>i << 2, p, g, v, vlr, vmu, vwd, false, false);
  }
}

// ---- Adagrad / RMSprop ----------------------------------------------------------

// s = a*s + b*d^2 covers both: Adagrad (a, b) = (1, 1), RMSprop (alpha, 1-alpha).
// Multiplying by exactly 1 is exact, so Adagrad's s += d^2 loses nothing.
// @ts-ignore: decorator
@inline function adaptive_at(
  o: usize, p: usize, g: usize, s: usize,
  vlr: v128, va: v128, vb: v128, veps: v128, vwd: v128, full: bool,
): void {
  const pp = ld(p + o, full);
  const d = f32x4.add(ld(g + o, full), f32x4.mul(vwd, pp));
  const ss = f32x4.add(f32x4.mul(va, ld(s + o, full)), f32x4.mul(vb, f32x4.mul(d, d)));
  st(s + o, ss, full);
  const denom = f32x4.add(f32x4.sqrt(ss), veps);
  st(p + o, f32x4.sub(pp, f32x4.mul(vlr, f32x4.div(d, denom))), full);
}

/** Adagrad, s [n] the sum of squares: d = g + wd*p; s += d^2; p -= lr * d / (sqrt(s) + eps). */
export function adagrad_step(p: usize, g: usize, s: usize, n: i32, lr: f64, eps: f64, wd: f64): void {
  const vlr = f32x4.splat(<f32>lr);
  const one = v128.load(K, 0);
  const veps = f32x4.splat(<f32>eps);
  const vwd = f32x4.splat(<f32>wd);
  let i = 0;
  for (; i + 4 <= n; i += 4) adaptive_at(<usize>i << 2, p, g, s, vlr, one, one, veps, vwd, true);
  for (; i < n; i++) adaptive_at(<usize>i << 2, p, g, s, vlr, one, one, veps, vwd, false);
}

/**
 * RMSprop (not centered, no momentum), s [n] the running mean square:
 * d = g + wd*p; s = alpha*s + (1-alpha)*d^2; p -= lr * d / (sqrt(s) + eps).
 */
export function rmsprop_step(p: usize, g: usize, s: usize, n: i32, lr: f64, alpha: f64, eps: f64, wd: f64): void {
  const vlr = f32x4.splat(<f32>lr);
  const va = f32x4.splat(<f32>alpha);
  const vb = f32x4.splat(<f32>(1 - alpha));
  const veps = f32x4.splat(<f32>eps);
  const vwd = f32x4.splat(<f32>wd);
  let i = 0;
  for (; i + 4 <= n; i += 4) adaptive_at(<usize>i << 2, p, g, s, vlr, va, vb, veps, vwd, true);
  for (; i < n; i++) adaptive_at(<usize>i << 2, p, g, s, vlr, va, vb, veps, vwd, false);
}

// ---- Adam / AdamW ----------------------------------------------------------------

// @ts-ignore: decorator
@inline function adam_at(
  o: usize, p: usize, g: usize, m: usize, v: usize,
  vpf: v128, vgw: v128, vw1: v128, vb2: v128, vw2: v128, vrs2: v128, veps: v128, vss: v128, full: bool,
): v128 {
  const pp = f32x4.mul(ld(p + o, full), vpf); // AdamW decay (vpf = 1 for Adam: exact)
  const d = f32x4.add(ld(g + o, full), f32x4.mul(vgw, pp)); // Adam L2 term (vgw = 0 for AdamW)
  const m0 = ld(m + o, full);
  const mm = f32x4.add(m0, f32x4.mul(vw1, f32x4.sub(d, m0))); // torch: exp_avg.lerp_(grad, 1-beta1)
  const vv = f32x4.add(f32x4.mul(vb2, ld(v + o, full)), f32x4.mul(vw2, f32x4.mul(d, d)));
  st(m + o, mm, full);
  st(v + o, vv, full);
  const denom = f32x4.add(f32x4.div(f32x4.sqrt(vv), vrs2), veps);
  const np = f32x4.sub(pp, f32x4.mul(vss, f32x4.div(mm, denom)));
  st(p + o, np, full);
  return np;
}

/**
 * torch.optim.Adam (decoupled = 0) / AdamW (decoupled = 1), m, v [n] the
 * first and second moments, bc1 = 1 - beta1^t, bc2 = 1 - beta2^t (t = step
 * number from 1):
 *   AdamW only: p *= 1 - lr*wd;   Adam only: d = g + wd*p (else d = g)
 *   m = m + (1-beta1)*(d - m);  v = beta2*v + (1-beta2)*d^2
 *   p -= (lr/bc1) * m / (sqrt(v)/sqrt(bc2) + eps)
 * Returns 1 if any new p is NaN or +-inf (training diverged), else 0.
 */
export function adam_step(
  p: usize, g: usize, m: usize, v: usize, n: i32,
  lr: f64, beta1: f64, beta2: f64, eps: f64, wd: f64, decoupled: i32, bc1: f64, bc2: f64,
): i32 {
  const dec = decoupled != 0;
  const vpf = f32x4.splat(dec ? <f32>(1 - lr * wd) : <f32>1);
  const vgw = f32x4.splat(dec ? <f32>0 : <f32>wd);
  const vw1 = f32x4.splat(<f32>(1 - beta1));
  const vb2 = f32x4.splat(<f32>beta2);
  const vw2 = f32x4.splat(<f32>(1 - beta2));
  const vrs2 = f32x4.splat(<f32>Math.sqrt(bc2));
  const veps = f32x4.splat(<f32>eps);
  const vss = f32x4.splat(<f32>(lr / bc1));
  // The divergence check rides along, instead of a second pass over all
  // parameters (count_nonfinite, ~1 us per character of W3): x - x is +0 for
  // every finite x and NaN for NaN and +-inf, so OR-ing those bits together
  // flags a non-finite weight in two instructions per vector, which the
  // sqrt- and div-bound loop hides (measured: adam_step's time unchanged;
  // counting each lane instead cost as much as the second pass).
  let bad = i32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const np = adam_at(<usize>i << 2, p, g, m, v, vpf, vgw, vw1, vb2, vw2, vrs2, veps, vss, true);
    bad = v128.or(bad, f32x4.sub(np, np));
  }
  for (; i < n; i++) {
    const np = adam_at(<usize>i << 2, p, g, m, v, vpf, vgw, vw1, vb2, vw2, vrs2, veps, vss, false);
    bad = v128.or(bad, f32x4.sub(np, np));
  }
  return v128.any_true(bad) ? 1 : 0;
}

// ---- reductions --------------------------------------------------------------------

/**
 * sum_i g[i]^2 over g [n], in f64: each f32 square is exact in f64 (24+24 bit
 * mantissas), so the only error is the f64 summation (two f64x2 accumulators).
 * Used for the global gradient norm sqrt(sum over tensors).
 */
export function sum_squares(g: usize, n: i32): f64 {
  let a0 = f64x2.splat(0);
  let a1 = f64x2.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const x = v128.load(g + (<usize>i << 2));
    const lo = f64x2.promote_low_f32x4(x);
    const hi = f64x2.promote_low_f32x4(i32x4.shuffle(x, x, 2, 3, 2, 3));
    a0 = f64x2.add(a0, f64x2.mul(lo, lo));
    a1 = f64x2.add(a1, f64x2.mul(hi, hi));
  }
  const a = f64x2.add(a0, a1);
  let s = f64x2.extract_lane(a, 0) + f64x2.extract_lane(a, 1);
  for (; i < n; i++) {
    const x = <f64>load<f32>(g + (<usize>i << 2));
    s += x * x;
  }
  return s;
}

/**
 * Number of NaN or +-inf in x [n]: an f32 is not finite exactly when its
 * exponent bits are all ones, (bits & 0x7f800000) == 0x7f800000. Each lane of
 * i32x4.eq is -1 on a hit, so subtracting it counts.
 */
export function count_nonfinite(x: usize, n: i32): i32 {
  const EXP: i32 = 0x7f800000;
  const vexp = v128.load(K, 16);
  let c = i32x4.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const b = v128.and(v128.load(x + (<usize>i << 2)), vexp);
    c = i32x4.sub(c, i32x4.eq(b, vexp));
  }
  let k = i32x4.extract_lane(c, 0) + i32x4.extract_lane(c, 1) + i32x4.extract_lane(c, 2) + i32x4.extract_lane(c, 3);
  for (; i < n; i++) {
    if ((load<i32>(x + (<usize>i << 2)) & EXP) == EXP) k++;
  }
  return k;
}
