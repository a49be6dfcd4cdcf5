// Small memory kernels the layers and the trainer need between the big ones:
// scale, clip, axpy, fill, the [T,B,F] <-> [B,T,F] transpose, and the
// embedding gather / scatter-add.
//
// Conventions: pointers are byte offsets (usize), f32 tensors are row-major,
// n = element count, D = embedding width. Every loop is f32x4 with a scalar
// tail, so any n and any 4-byte-aligned pointer work (wasm v128 loads need no
// 16-byte alignment). Kernels trust their callers: shapes are checked in
// TypeScript.

import { add_row_f32 } from "./rows";

/** x [n]: x[i] = s * x[i]. */
export function scale_f32(x: usize, n: i32, s: f32): void {
  const vs = f32x4.splat(s);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const p = x + (<usize>i << 2);
    v128.store(p, f32x4.mul(v128.load(p), vs));
  }
  for (; i < n; i++) {
    const p = x + (<usize>i << 2);
    store<f32>(p, load<f32>(p) * s);
  }
}

/**
 * x [n]: x[i] = min(max(x[i], -c), c). NaN stays NaN (as torch.clamp):
 * pmax(x, -c) = x < -c ? -c : x and pmin(y, c) = c < y ? c : y both return
 * their first argument when it is NaN.
 */
export function clip_f32(x: usize, n: i32, c: f32): void {
  const hi = f32x4.splat(c);
  const lo = f32x4.splat(-c);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const p = x + (<usize>i << 2);
    v128.store(p, f32x4.pmin(f32x4.pmax(v128.load(p), lo), hi));
  }
  for (; i < n; i++) {
    const p = x + (<usize>i << 2);
    const v = load<f32>(p);
    // Same NaN behaviour as the SIMD body: comparisons with NaN are false.
    store<f32>(p, v < -c ? -c : c < v ? c : v);
  }
}

/** dst [n] += a * src [n]. dst may equal src (then dst = (1 + a) * dst). */
export function axpy_f32(dst: usize, src: usize, n: i32, a: f32): void {
  const va = f32x4.splat(a);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    v128.store(dst + o, f32x4.add(v128.load(dst + o), f32x4.mul(va, v128.load(src + o))));
  }
  for (; i < n; i++) {
    const o = <usize>i << 2;
    store<f32>(dst + o, load<f32>(dst + o) + a * load<f32>(src + o));
  }
}

/** dst [n] = v. */
export function fill_f32(dst: usize, n: i32, v: f32): void {
  const vv = f32x4.splat(v);
  let i = 0;
  for (; i + 4 <= n; i += 4) v128.store(dst + (<usize>i << 2), vv);
  for (; i < n; i++) store<f32>(dst + (<usize>i << 2), v);
}

/** Copy F floats from src to dst (non-overlapping), f32x4 with a scalar tail. */
// @ts-ignore: decorator
@inline function copy_row(dst: usize, src: usize, F: i32): void {
  let j = 0;
  for (; j + 4 <= F; j += 4) {
    const o = <usize>j << 2;
    v128.store(dst + o, v128.load(src + o));
  }
  for (; j < F; j++) {
    const o = <usize>j << 2;
    store<f32>(dst + o, load<f32>(src + o));
  }
}

/**
 * Swap the two leading axes: src [P, Q, F] -> dst [Q, P, F],
 * dst[q, p, :] = src[p, q, :]. With (P, Q) = (T, B) it turns a time-major
 * sequence into a batch-first one, and back with (P, Q) = (B, T).
 * dst and src must not overlap.
 */
export function swap01_f32(dst: usize, src: usize, P: i32, Q: i32, F: i32): void {
  const rowBytes = <usize>F << 2;
  // Walk src in order (sequential reads), writing rows of F floats with stride P*F.
  for (let p = 0; p < P; p++) {
    const s = src + <usize>p * <usize>Q * rowBytes;
    const d = dst + <usize>p * rowBytes;
    const dStride = <usize>P * rowBytes;
    for (let q = 0; q < Q; q++) {
      copy_row(d + <usize>q * dStride, s + <usize>q * rowBytes, F);
    }
  }
}

/**
 * Embedding lookup: out [n, D], out[i, :] = table[ids[i], :]; ids i32 [n].
 * A negative id (padding) gives a zero row, matching scatter_add_rows, which
 * skips it. Ids must be < the table's row count (checked in TypeScript).
 */
export function gather_rows(out: usize, table: usize, ids: usize, n: i32, D: i32): void {
  const rowBytes = <usize>D << 2;
  for (let i = 0; i < n; i++) {
    const id = load<i32>(ids + (<usize>i << 2));
    const o = out + <usize>i * rowBytes;
    if (id < 0) fill_f32(o, D, 0);
    else copy_row(o, table + <usize>id * rowBytes, D);
  }
}

/**
 * Embedding backward (adds): dtable[ids[i], :] += dout[i, :] for every i with
 * ids[i] >= 0; negative ids (padding) are skipped. Repeated ids accumulate.
 * dout [n, D], ids i32 [n].
 */
export function scatter_add_rows(dtable: usize, dout: usize, ids: usize, n: i32, D: i32): void {
  const rowBytes = <usize>D << 2;
  for (let i = 0; i < n; i++) {
    const id = load<i32>(ids + (<usize>i << 2));
    if (id < 0) continue;
    add_row_f32(dtable + <usize>id * rowBytes, dout + <usize>i * rowBytes, D);
  }
}
