// SIMD activations: exp, sigmoid, tanh, relu on f32x4, plus the v128 helpers
// the fused cell kernels (cells.ts) reuse.
//
// Legend: n = element count; a "vector" is one f32x4 (4 lanes).
//
// Accuracy, against float64 Math.exp / Math.tanh / 1/(1+exp(-x)), measured by
// test/activations.test.ts on dense sweeps and on random bit patterns (every
// exponent); the contract is 1e-6 relative:
//   exp      relative error <= 7.9e-8 (< 1 ulp) wherever the result is a
//            normal float; denormal results (x in [-103.97, -87.34]) within
//            0.75 denormal ulp (2^-149): the final scaling rounds only once.
//            exp(x >= 88.7229) = +inf, exp(+inf) = +inf, exp(x <= -103.98) =
//            exp(-inf) = +0, NaN -> NaN.
//   sigmoid  relative error <= 1.7e-7 for normal results; denormal results
//            (x in [-103.97, -87.34]) within 0.75 denormal ulp;
//            sigmoid(+inf) = 1, sigmoid(-inf) = 0, NaN -> NaN.
//   tanh     relative error <= 1.7e-7 over the whole float range, including
//            tiny and denormal |x| (tanh(x) = x there, exactly); odd exactly;
//            tanh(+-0) = +-0, tanh(+-inf) = +-1, NaN -> NaN.
//   relu     exact; relu(-0) = +0 and relu(NaN) = NaN, like Math.max(x, 0).
//
// How:
//   exp(x): Cephes range reduction x = n ln2 + r, |r| <= ln2/2, with ln2 split
//   hi/lo (hi has 9 significant bits so n*hi is exact), the Cephes degree-5
//   polynomial p with e^r ~ 1 + r + r^2 p(r), evaluated by Estrin's scheme
//   ((p0 r + p1) r^2 + (p2 r + p3)) r^2 + (p4 r + p5): three independent
//   pairs, then two steps, instead of Horner's five dependent ones (the fused
//   cell kernels are bound by this chain's latency; Estrin measured 1.08x
//   faster there, and the errors below did not grow), then 2^n applied in two steps
//   2^(n>>1) * 2^(n - (n>>1)) so that neither factor leaves the normal range:
//   overflow to +inf and gradual underflow into denormals come out of the final
//   multiplication, rounded once. n is found with the round-by-adding-1.5*2^23
//   trick (no float->int conversion instruction).
//   sigmoid(x) = (x < 0 ? e : 1) / (1 + e) with e = exp(-|x|) in (0, 1]: no
//   overflow, no cancellation, denormal results for very negative x.
//   tanh(x) = sign(x) * -m / (2 + m), m = expm1(-2|x|) from the same reduction
//   (see tanh4): no cancellation anywhere, so no separate small-|x| branch is
//   needed. (2 sigmoid(2x) - 1 would lose all relative precision near 0.)
//   An earlier version used an odd minimax polynomial below |x| = 0.625 and
//   (1 - e)/(1 + e) above, blended per lane: as accurate (1.5e-7) but it
//   computed both branches; the expm1 form is ~35% faster.

// Constants live in one static table and are read with v128.load32_splat
// (one broadcast load each, no v128.const): V8 rebuilds every v128.const
// inside a loop with several instructions, a broadcast load is one. (Hoisting
// them into locals before the loop measured ~12% faster for a bare exp loop,
// where they all fit in registers; in the fused cell kernels, which need more
// constants than there are xmm registers, they would be spilled and reloaded
// anyway, and the table keeps the helpers plain one-argument functions.)
//
// The v128 helpers below are @global (visible to cells.ts after
// `import "./activations"`) and not exported: a v128 signature cannot cross
// into JavaScript, and the ABI lists only the array kernels.

import "./fma"; // madd4, nmadd4: fused multiply-add in the relaxed build

// ---- constant table (f32 unless marked i32) --------------------------------
const K_EXP_HI: i32 = 0; //      89: exp(89) > FLT_MAX, so the result overflows to +inf
const K_EXP_LO: i32 = 1; //    -104: exp(-104) < 2^-150, rounds to +0
const K_LOG2E: i32 = 2;
const K_SHIFT: i32 = 3; //  1.5 * 2^23: adding it rounds to an integer kept in the low mantissa bits
const K_LN2_HI: i32 = 4; // 0.693359375 (9 bits: n * hi is exact for |n| <= 2^15)
const K_LN2_LO: i32 = 5; // ln2 - hi
const K_EXP_P0: i32 = 6; // Cephes expf coefficients, highest degree first
const K_EXP_P1: i32 = 7;
const K_EXP_P2: i32 = 8;
const K_EXP_P3: i32 = 9;
const K_EXP_P4: i32 = 10;
const K_EXP_P5: i32 = 11;
const K_ONE: i32 = 12;
const K_BIAS: i32 = 13; // i32 127, the exponent bias
const K_SIGN: i32 = 14; // i32 0x80000000
const K_ABS: i32 = 15; //  i32 0x7fffffff
const K_TANH_LO: i32 = 16; // -40: tanh(20) = 1 in f32; keeps 2^n normal in tanh4
const K_SHIFT_B: i32 = 17; // 1.5 * 2^23 + 127: t = K_SHIFT_B + n has n + 127 in its low bits

const TAB: usize = memory.data<f32>([
  89.0,
  -104.0,
  1.44269504088896341,
  12582912.0,
  0.693359375,
  -2.12194440e-4,
  1.9875691500e-4,
  1.3981999507e-3,
  8.3334519073e-3,
  4.1665795894e-2,
  1.6666665459e-1,
  5.0000001201e-1,
  1.0,
  0.0, // K_BIAS, K_SIGN, K_ABS: unused here, read from ITAB
  0.0,
  0.0,
  -40.0,
  12583039.0,
], 16);

// Integer constants (bit patterns), same indices as in TAB.
const ITAB: usize = memory.data<i32>([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 127, -2147483648, 0x7fffffff], 16);

/** Broadcast table constant k to all four lanes (one load). */
// @ts-ignore: decorator
@inline function kc(k: i32): v128 {
  return v128.load32_splat((k == K_BIAS || k == K_SIGN || k == K_ABS ? ITAB : TAB) + (<usize>k << 2));
}

/**
 * e^r - 1 ~ r + r^2 p(r) for the reduced argument |r| <= ln2/2: the Cephes
 * degree-5 p by Estrin's scheme (see the top of this file). Shared by exp and
 * tanh.
 */
// @ts-ignore: decorator
@inline function expm1_reduced4(r: v128): v128 {
  const r2 = f32x4.mul(r, r);
  const pa = madd4(kc(K_EXP_P0), r, kc(K_EXP_P1));
  const pb = madd4(kc(K_EXP_P2), r, kc(K_EXP_P3));
  const pc = madd4(kc(K_EXP_P4), r, kc(K_EXP_P5));
  return madd4(madd4(madd4(pa, r2, pb), r2, pc), r2, r);
}

/** exp(x) for x already clamped to [-104, 89] (or NaN). */
// @ts-ignore: decorator
@inline function exp4_clamped(x: v128): v128 {
  const shift = kc(K_SHIFT);
  // t = shift + n with n = round(x log2 e); n itself as float and as int.
  const t = madd4(x, kc(K_LOG2E), shift);
  const n = f32x4.sub(t, shift);
  const ni = i32x4.sub(t, shift); // integer difference of the bit patterns = n
  // r = x - n ln2, in two steps (hi part exact).
  let r = nmadd4(n, kc(K_LN2_HI), x);
  r = nmadd4(n, kc(K_LN2_LO), r);
  // e^r ~ 1 + r + r^2 p(r)
  const one = kc(K_ONE);
  const pe = f32x4.add(expm1_reduced4(r), one);
  // 2^n = 2^n1 * 2^n2, n1 = n >> 1, n2 = n - n1, both in [-75, 64].
  const bias = kc(K_BIAS);
  const n1 = i32x4.shr_s(ni, 1);
  const n2 = i32x4.sub(ni, n1);
  const s1 = i32x4.shl(i32x4.add(n1, bias), 23);
  const s2 = i32x4.shl(i32x4.add(n2, bias), 23);
  return f32x4.mul(f32x4.mul(pe, s1), s2);
}

/** exp of each lane. NaN propagates (pmin/pmax keep a NaN first operand). */
// @ts-ignore: decorator
@global @inline function exp4(x: v128): v128 {
  return exp4_clamped(f32x4.pmax(f32x4.pmin(x, kc(K_EXP_HI)), kc(K_EXP_LO)));
}

/** exp of each lane for lanes known to be <= 0 (or NaN): skips the upper clamp. */
// @ts-ignore: decorator
@inline function expneg4(x: v128): v128 {
  return exp4_clamped(f32x4.pmax(x, kc(K_EXP_LO)));
}

/** 1 / (1 + exp(-x)) of each lane. */
// @ts-ignore: decorator
@global @inline function sigmoid4(x: v128): v128 {
  const e = expneg4(v128.or(x, kc(K_SIGN))); // exp(-|x|) in [0, 1]
  const neg = i32x4.shr_s(x, 31); // all ones where the sign bit is set
  const one = kc(K_ONE);
  return f32x4.div(v128.bitselect(e, one, neg), f32x4.add(one, e));
}

/** tanh of each lane. */
// @ts-ignore: decorator
@global @inline function tanh4(x: v128): v128 {
  // tanh(|x|) = -m / (2 + m) with m = expm1(-2|x|) in [-1, 0]. m comes from
  // the exp reduction without the cancellation of exp(y) - 1:
  //   y = n ln2 + r, e^r - 1 = q = r + r^2 p(r), expm1(y) = (2^n - 1) + 2^n q,
  // where 2^n - 1 is exact and, for n = 0 (|x| < 0.17), m = q exactly as
  // accurate as the polynomial; for n <= -1, |2^n - 1| >= 0.5 dominates and
  // nothing cancels. So tiny (and denormal) x give tanh(x) = x with no loss.
  // y is clamped at -40 (tanh(20) = 1 in f32), so 2^n, n >= -58, is normal
  // and one shift builds it.
  const ax = v128.and(x, kc(K_ABS));
  const sign = v128.xor(x, ax);
  const y = f32x4.pmax(v128.or(f32x4.add(ax, ax), kc(K_SIGN)), kc(K_TANH_LO)); // -2|x|, NaN kept
  const shift = kc(K_SHIFT_B);
  // t = shift + n, with shift = 1.5 * 2^23 + 127: its low bits are n + 127,
  // so t << 23 is the f32 2^n.
  const t = madd4(y, kc(K_LOG2E), shift);
  const n = f32x4.sub(t, shift);
  let r = nmadd4(n, kc(K_LN2_HI), y);
  r = nmadd4(n, kc(K_LN2_LO), r);
  const q = expm1_reduced4(r);
  const s = i32x4.shl(t, 23);
  const one = kc(K_ONE);
  const m = madd4(s, q, f32x4.sub(s, one));
  // 0 - m (not -m): m = +0 must give +0 before the sign of x is put back.
  const th = f32x4.div(f32x4.sub(f32x4.splat(0), m), f32x4.add(f32x4.add(one, one), m));
  return v128.or(th, sign);
}

/** max(x, 0) of each lane; -0 -> +0 and NaN -> NaN like Math.max. */
// @ts-ignore: decorator
@global @inline function relu4(x: v128): v128 {
  // pmax keeps a NaN first operand; adding +0 turns -0 into +0.
  const z = f32x4.splat(0);
  return f32x4.add(f32x4.pmax(x, z), z);
}

/** Load k in 1..4 floats from p into the low lanes (the rest are 0). */
// @ts-ignore: decorator
@global @inline function load_f32xk(p: usize, k: i32): v128 {
  if (k >= 4) return v128.load(p);
  let v = v128.load32_zero(p);
  if (k > 1) v = f32x4.replace_lane(v, 1, load<f32>(p, 4));
  if (k > 2) v = f32x4.replace_lane(v, 2, load<f32>(p, 8));
  return v;
}

/** Store the low k in 1..4 lanes of v to p. */
// @ts-ignore: decorator
@global @inline function store_f32xk(p: usize, v: v128, k: i32): void {
  if (k >= 4) {
    v128.store(p, v);
    return;
  }
  store<f32>(p, f32x4.extract_lane(v, 0));
  if (k > 1) store<f32>(p, f32x4.extract_lane(v, 1), 4);
  if (k > 2) store<f32>(p, f32x4.extract_lane(v, 2), 8);
}

// ---- array kernels: dst [n] = f(src [n]); dst may equal src; any alignment ----

/** dst[i] = exp(src[i]). */
export function exp_f32x4(dst: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(dst + o, exp4(v128.load(src + o)));
  }
  if (i < n) {
    const o = <usize>i << 2;
    store_f32xk(dst + o, exp4(load_f32xk(src + o, n - i)), n - i);
  }
}

/** dst[i] = 1 / (1 + exp(-src[i])). */
export function sigmoid_f32x4(dst: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(dst + o, sigmoid4(v128.load(src + o)));
  }
  if (i < n) {
    const o = <usize>i << 2;
    store_f32xk(dst + o, sigmoid4(load_f32xk(src + o, n - i)), n - i);
  }
}

/** dst[i] = tanh(src[i]). */
export function tanh_f32x4(dst: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(dst + o, tanh4(v128.load(src + o)));
  }
  if (i < n) {
    const o = <usize>i << 2;
    store_f32xk(dst + o, tanh4(load_f32xk(src + o, n - i)), n - i);
  }
}

/** dst[i] = max(src[i], 0). */
export function relu_f32x4(dst: usize, src: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(dst + o, relu4(v128.load(src + o)));
  }
  if (i < n) {
    const o = <usize>i << 2;
    store_f32xk(dst + o, relu4(load_f32xk(src + o, n - i)), n - i);
  }
}
