// The one compile-time switch between the two SIMD builds.
//
// The plain build (`--enable simd`, build/unfold.wasm) computes c + a*b as
// f32x4.mul then f32x4.add: two roundings, bit-reproducible everywhere, and
// bit-identical to the scalar references. The relaxed build (`--enable simd,
// relaxed-simd`, build/unfold-relaxed.wasm) uses f32x4.relaxed_madd, which an
// engine may compute fused (one rounding: x64 `vfmadd` where the CPU has FMA3,
// arm64 `fmla`) or unfused: results differ from the plain build by rounding
// only, and may differ between machines. ASC_FEATURE_RELAXED_SIMD is a
// compile-time constant, so each build holds only its own branch.
//
// @global: visible to gemm.ts, activations.ts and cells.ts after
// `import "./fma"`; not exported (a v128 signature cannot cross into JS).

/** c + a*b per lane (fused in the relaxed build). */
// @ts-ignore: decorator
@global @inline function madd4(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, c);
  return f32x4.add(c, f32x4.mul(a, b));
}

/** c - a*b per lane (fused in the relaxed build). */
// @ts-ignore: decorator
@global @inline function nmadd4(a: v128, b: v128, c: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_nmadd(a, b, c);
  return f32x4.sub(c, f32x4.mul(a, b));
}

/** True in the relaxed-SIMD build (exported so JS can tell the builds apart). */
export function simd_relaxed(): i32 {
  return ASC_FEATURE_RELAXED_SIMD ? 1 : 0;
}
