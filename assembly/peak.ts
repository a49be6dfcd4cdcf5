// The machine's WASM SIMD ceiling, for the benchmarks (bench/ceiling.js):
// 12 independent f32x4 multiply-add chains, a = a*m + c, with no loads or
// stores, so each iteration is 12 x 8 flops of pure arithmetic. Twelve chains
// cover the latency of a multiply followed by an add (or of one FMA) on two
// or more pipes. In the plain build madd4 is f32x4.mul + f32x4.add, in the
// relaxed build f32x4.relaxed_madd (fma.ts): the two ceilings.
import "./fma";

/**
 * Run n iterations of the 12 chains; returns the lane sum (so nothing is
 * optimised away). Flops: 96 * n (the relaxed build counts an FMA as 2).
 * m and c keep the values bounded and normal (a -> c / (1 - m)).
 */
export function simd_peak_f32x4(n: i32, m: f32, c: f32): f32 {
  const mv = f32x4.splat(m);
  const cv = f32x4.splat(c);
  let a0 = f32x4.splat(0.1);
  let a1 = f32x4.splat(0.2);
  let a2 = f32x4.splat(0.3);
  let a3 = f32x4.splat(0.4);
  let a4 = f32x4.splat(0.5);
  let a5 = f32x4.splat(0.6);
  let a6 = f32x4.splat(0.7);
  let a7 = f32x4.splat(0.8);
  let a8 = f32x4.splat(0.9);
  let a9 = f32x4.splat(1.0);
  let a10 = f32x4.splat(1.1);
  let a11 = f32x4.splat(1.2);
  for (let i = 0; i < n; i++) {
    a0 = madd4(a0, mv, cv);
    a1 = madd4(a1, mv, cv);
    a2 = madd4(a2, mv, cv);
    a3 = madd4(a3, mv, cv);
    a4 = madd4(a4, mv, cv);
    a5 = madd4(a5, mv, cv);
    a6 = madd4(a6, mv, cv);
    a7 = madd4(a7, mv, cv);
    a8 = madd4(a8, mv, cv);
    a9 = madd4(a9, mv, cv);
    a10 = madd4(a10, mv, cv);
    a11 = madd4(a11, mv, cv);
  }
  const s = f32x4.add(f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3)), f32x4.add(f32x4.add(f32x4.add(a4, a5), f32x4.add(a6, a7)), f32x4.add(f32x4.add(a8, a9), f32x4.add(a10, a11))));
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3);
}
