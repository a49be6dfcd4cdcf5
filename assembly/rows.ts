// Row helpers shared by kernels in several files. Not part of the ABI:
// assembly/index.ts does not re-export this file.

/** d [n] += s [n] (f32x4 body, scalar tail; any alignment). */
// @ts-ignore: decorator
@inline export function add_row_f32(d: usize, s: usize, n: i32): void {
  let j = 0;
  for (; j + 4 <= n; j += 4) {
    const o = <usize>j << 2;
    v128.store(d + o, f32x4.add(v128.load(d + o), v128.load(s + o)));
  }
  for (; j < n; j++) {
    const o = <usize>j << 2;
    store<f32>(d + o, load<f32>(d + o) + load<f32>(s + o));
  }
}
