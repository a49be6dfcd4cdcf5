/**
 * IEEE 754 binary16 ("half", f16) <-> binary32 conversion for model files
 * stored with `weights: "f16"` (src/model/save.ts). Runtime-neutral.
 *
 * f32 -> f16 rounds to nearest, ties to even (as a hardware `vcvtps2ph` with
 * the default rounding); f16 -> f32 is exact (every binary16 value is a
 * binary32 value), so a model loaded from an f16 file holds exactly the
 * stored half values, widened.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The binary16 bit pattern nearest to `x` (ties to even); ±Infinity beyond 65504, NaN stays NaN. */
export function f32ToF16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const man = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (man ? 0x200 : 0); // Inf or NaN (quiet)
  const e = exp - 127 + 15; // rebiased exponent
  if (e >= 0x1f) return sign | 0x7c00; // overflow: Infinity
  if (e <= 0) {
    // Subnormal half (or zero): value = m * 2^-24, m = round(x * 2^24).
    if (e < -10) return sign; // below half the smallest subnormal: ±0
    const m = man | 0x800000; // implicit 1
    const shift = 14 - e; // 14..24
    let h = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1))) h++;
    return sign | h; // a carry into the exponent field gives the smallest normal: correct
  }
  let h = (e << 10) | (man >>> 13);
  const rem = man & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1))) h++; // may carry into the exponent (even to Infinity): correct
  return sign | h;
}

/** The binary32 value of a binary16 bit pattern (exact). */
export function f16BitsToF32(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  const man = h & 0x3ff;
  if (exp === 0x1f) u32[0] = sign | 0x7f800000 | (man << 13);
  else if (exp !== 0) u32[0] = sign | ((exp - 15 + 127) << 23) | (man << 13);
  else {
    if (man === 0) u32[0] = sign;
    else {
      // Subnormal: normalise the mantissa.
      let m = man;
      let e = -14;
      while ((m & 0x400) === 0) {
        m <<= 1;
        e--;
      }
      u32[0] = sign | ((e + 127) << 23) | ((m & 0x3ff) << 13);
    }
  }
  return f32[0];
}

/** f16 bit patterns of every value of `x`. */
export function toF16(x: Float32Array): Uint16Array {
  const out = new Uint16Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = f32ToF16Bits(x[i]);
  return out;
}

/** The f32 values of f16 bit patterns. */
export function fromF16(h: Uint16Array): Float32Array {
  const out = new Float32Array(h.length);
  for (let i = 0; i < h.length; i++) out[i] = f16BitsToF32(h[i]);
  return out;
}
