// Layout kernels: strided copies and elementwise products used by the layers
// (bidirectional outputs interleave the two directions along features;
// dropout multiplies by a mask).

/** dst [rows, cols] (leading dim ldd) = src [rows, cols] (leading dim lds). */
export function copy2d_f32(dst: usize, ldd: i32, src: usize, lds: i32, rows: i32, cols: i32): void {
  if (rows <= 0 || cols <= 0) return;
  if (ldd == cols && lds == cols) {
    // Contiguous rows: one copy (a memory.copy per row cost ~0.1 µs each: 0.2 ms for a
    // [T*B, I] = [2048, 64] input).
    if (dst != src) memory.copy(dst, src, (<usize>rows * <usize>cols) << 2);
    return;
  }
  for (let r = 0; r < rows; r++) {
    const d = dst + ((<usize>r * <usize>ldd) << 2);
    const s = src + ((<usize>r * <usize>lds) << 2);
    if (d != s) memory.copy(d, s, <usize>cols << 2);
  }
}

/** dst[i] = a[i] * b[i]; dst may equal a or b. */
export function mul_f32(dst: usize, a: usize, b: usize, n: i32): void {
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(dst + o, f32x4.mul(v128.load(a + o), v128.load(b + o)));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dst + o, load<f32>(a + o) * load<f32>(b + o));
  }
}

/**
 * Dropout mask: dst[i] = (u_i < p ? 0 : scale), u_i uniform in [0, 1) from
 * xoshiro128** whose 4 x u32 state lives at `state` and is advanced in place
 * (integer arithmetic only: the same seed gives the same mask in every runtime).
 */
export function dropout_mask(dst: usize, n: i32, p: f32, scale: f32, state: usize): void {
  let s0 = load<u32>(state), s1 = load<u32>(state, 4), s2 = load<u32>(state, 8), s3 = load<u32>(state, 12);
  for (let i = 0; i < n; i++) {
    const r = rotl<u32>(s1 * 5, 7) * 9;
    const t = s1 << 9;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = rotl<u32>(s3, 11);
    // 24 high bits -> a float in [0, 1) exactly.
    const u = <f32>(r >>> 8) * (1.0 / 16777216.0);
    store<f32>(dst + (<usize>i << 2), u < p ? 0 : scale);
  }
  store<u32>(state, s0);
  store<u32>(state, s1, 4);
  store<u32>(state, s2, 8);
  store<u32>(state, s3, 12);
}
