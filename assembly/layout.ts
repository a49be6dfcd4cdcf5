// Layout kernels: strided copies and elementwise products used by the layers
// (bidirectional outputs interleave the two directions along features;
// dropout multiplies by a mask).

/** dst [rows, cols] (leading dim ldd) = src [rows, cols] (leading dim lds). */
export function copy2d_f32(dst: usize, ldd: i32, src: usize, lds: i32, rows: i32, cols: i32): void {
  for (let r = 0; r < rows; r++) {
    const d = dst + ((<usize>r * <usize>ldd) << 2);
    const s = src + ((<usize>r * <usize>lds) << 2);
    if (d != s) memory.copy(d, s, <usize>cols << 2);
  }
}

/** dst [rows, cols] (ld ldd) += src [rows, cols] (ld lds). */
export function add2d_f32(dst: usize, ldd: i32, src: usize, lds: i32, rows: i32, cols: i32): void {
  for (let r = 0; r < rows; r++) {
    const d = dst + ((<usize>r * <usize>ldd) << 2);
    const s = src + ((<usize>r * <usize>lds) << 2);
    let j = 0;
    for (; j + 4 <= cols; j += 4) {
      const o = <usize>j << 2;
      v128.store(d + o, f32x4.add(v128.load(d + o), v128.load(s + o)));
    }
    for (; j < cols; j++) {
      const o = <usize>j << 2;
      store<f32>(d + o, load<f32>(d + o) + load<f32>(s + o));
    }
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
