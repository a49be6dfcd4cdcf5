// The output end of a network: bias add and bias gradient over rows, row-wise
// softmax, softmax cross-entropy (value and gradient in one pass) and MSE.
//
// Dimension letters: M = rows (T*B time steps times batch), N = columns
// (classes / vocabulary, or features), n = element count. Pointers are byte
// offsets, f32 tensors row-major with leading dimension N. Every loop is
// f32x4 with a scalar tail, so any N and any 4-byte-aligned pointer work.
//
// Softmax is made stable by subtracting each row's running maximum (so every
// exponent is <= 0); exp is a private SIMD polynomial (below), and the sum of
// exponentials, the log-sum-exp and the losses are accumulated in f64.

// Cephes expf constants, loaded with v128.load32_splat before the loops
// (a v128.const inside a loop is rebuilt by V8 on every iteration).
import { add_row_f32 } from "./rows";

const EXP_K = memory.data<f32>([
  1.44269504088896341, // 0  log2(e)
  0.693359375,         // 4  ln2 high part (exact, few bits: n*C1 is exact)
  -2.12194440e-4,      // 8  ln2 low part: ln2 = C1 + C2
  1.9875691500e-4,     // 12 p0 .. p5: exp(r) ~ 1 + r + r^2 * P(r), |r| <= ln2/2
  1.3981999507e-3,     // 16
  8.3334519073e-3,     // 20
  4.1665795894e-2,     // 24
  1.6666665459e-1,     // 28
  5.0000001201e-1,     // 32
  1.0,                 // 36
  -87.33654475,        // 40 ln(2^-126): below it the result is flushed to 0
  12583039.0,          // 44 1.5 * 2^23 + 127: rounds to an integer, and biases it
], 16);

// @ts-ignore: decorator
@inline function kload(off: usize): v128 {
  return v128.load32_splat(EXP_K + off);
}

/**
 * exp of 4 lanes for x <= 0 (the softmax range), relative error ~2 ulp:
 * x = n ln2 + r with n = round(x log2 e), exp(x) = 2^n * (1 + r + r^2 P(r)).
 * x < ln(2^-126) (including -inf) gives 0 (true results there are
 * subnormal, < 1.2e-38); NaN stays NaN. The constants are arguments so
 * the caller keeps them in registers across its loop.
 *
 * Rounding trick: j = x log2e + (1.5*2^23 + 127) lies in [2^23, 2^24) where
 * the f32 spacing is 1, so the addition itself rounds to the nearest integer;
 * j - magic is n as a float, and the low bits of j hold n + 127, which shifted
 * left by 23 are the bits of 2^n. (No nearest/trunc_sat: V8 expands the
 * saturating conversion into many instructions.) Lanes below lo are garbage
 * before the final mask and are not clamped.
 */
// @ts-ignore: decorator
@inline function exp_le0(
  x: v128, log2e: v128, c1: v128, c2: v128,
  p0: v128, p1: v128, p2: v128, p3: v128, p4: v128, p5: v128, one: v128, lo: v128, magic: v128,
): v128 {
  const under = f32x4.lt(x, lo); // false for NaN, which then stays NaN
  const j = f32x4.add(f32x4.mul(x, log2e), magic);
  const fn = f32x4.sub(j, magic);
  const r = f32x4.sub(f32x4.sub(x, f32x4.mul(fn, c1)), f32x4.mul(fn, c2));
  let y = f32x4.add(f32x4.mul(p0, r), p1);
  y = f32x4.add(f32x4.mul(y, r), p2);
  y = f32x4.add(f32x4.mul(y, r), p3);
  y = f32x4.add(f32x4.mul(y, r), p4);
  y = f32x4.add(f32x4.mul(y, r), p5);
  y = f32x4.add(f32x4.add(f32x4.mul(y, f32x4.mul(r, r)), r), one);
  // 2^n built in the exponent field; n in [-126, 0] here, so n + 127 in [1, 127].
  const pow2n = i32x4.shl(j, 23);
  return v128.andnot(f32x4.mul(y, pow2n), under);
}

/** max of x [N] (N >= 1), started from x[0]: no sentinel. NaN may be dropped
 * here, but then exp(NaN - max) makes the row sum, and so the row, NaN. */
// @ts-ignore: decorator
@inline function row_max(x: usize, N: i32): f32 {
  let m = load<f32>(x);
  let vm = f32x4.splat(m);
  let j = 0;
  for (; j + 4 <= N; j += 4) vm = f32x4.pmax(vm, v128.load(x + (<usize>j << 2)));
  vm = f32x4.pmax(vm, i32x4.shuffle(vm, vm, 2, 3, 0, 1));
  vm = f32x4.pmax(vm, i32x4.shuffle(vm, vm, 1, 0, 3, 2));
  m = f32x4.extract_lane(vm, 0);
  for (; j < N; j++) {
    const v = load<f32>(x + (<usize>j << 2));
    if (m < v) m = v;
  }
  return m;
}

/** dst [N] = exp(src [N] - mx); returns sum_j dst[j] in f64. dst may equal src. */
function exp_shift_sum(dst: usize, src: usize, N: i32, mx: f32): f64 {
  const log2e = kload(0), c1 = kload(4), c2 = kload(8);
  const p0 = kload(12), p1 = kload(16), p2 = kload(20), p3 = kload(24), p4 = kload(28), p5 = kload(32);
  const one = kload(36), lo = kload(40), magic = kload(44);
  const vmx = f32x4.splat(mx);
  let s0 = f64x2.splat(0);
  let s1 = f64x2.splat(0);
  let j = 0;
  for (; j + 4 <= N; j += 4) {
    const o = <usize>j << 2;
    const e = exp_le0(f32x4.sub(v128.load(src + o), vmx), log2e, c1, c2, p0, p1, p2, p3, p4, p5, one, lo, magic);
    v128.store(dst + o, e);
    s0 = f64x2.add(s0, f64x2.promote_low_f32x4(e));
    s1 = f64x2.add(s1, f64x2.promote_low_f32x4(i32x4.shuffle(e, e, 2, 3, 2, 3)));
  }
  const sv = f64x2.add(s0, s1);
  let s = f64x2.extract_lane(sv, 0) + f64x2.extract_lane(sv, 1);
  for (; j < N; j++) {
    const o = <usize>j << 2;
    const x = f32x4.splat(load<f32>(src + o) - mx);
    const e = f32x4.extract_lane(exp_le0(x, log2e, c1, c2, p0, p1, p2, p3, p4, p5, one, lo, magic), 0);
    store<f32>(dst + o, e);
    s += <f64>e;
  }
  return s;
}

/** x [N] *= a. */
// @ts-ignore: decorator
@inline function scale_row(x: usize, N: i32, a: f32): void {
  const va = f32x4.splat(a);
  let j = 0;
  for (; j + 4 <= N; j += 4) {
    const o = <usize>j << 2;
    v128.store(x + o, f32x4.mul(v128.load(x + o), va));
  }
  for (; j < N; j++) {
    const o = <usize>j << 2;
    store<f32>(x + o, load<f32>(x + o) * a);
  }
}

/** C [M, N] += bias [N], broadcast over the M rows. */
export function bias_add_rows(C: usize, M: i32, N: i32, bias: usize): void {
  const rowBytes = <usize>N << 2;
  for (let i = 0; i < M; i++) {
    add_row_f32(C + <usize>i * rowBytes, bias, N);
  }
}

/** Widest row sum_rows accumulates in dst row by row (64 KiB: in L1 or L2). */
const SUM_ROWS_ACC_MAX: i32 = 16384;

/** dst[j] = beta*dst[j] + acc for 4 lanes; beta = 0 never reads dst. */
// @ts-ignore: decorator
@inline function put_sum(d: usize, acc: v128, beta: f32, vbeta: v128): void {
  v128.store(d, beta == 0 ? acc : f32x4.add(f32x4.mul(vbeta, v128.load(d)), acc));
}

/**
 * Bias gradient: dst [N] = beta*dst + sum_i src[i, :] over src [M, N].
 * beta = 0 never reads dst (it may hold garbage); beta = 1 accumulates.
 * Wide rows (N >= 256) are added row by row into dst; narrower ones go in
 * column blocks of 16 (four f32x4 accumulators) down all rows.
 */
export function sum_rows(dst: usize, src: usize, M: i32, N: i32, beta: f32): void {
  sum_rows_ld(dst, src, M, N, N, beta);
}

/**
 * sum_rows over N columns of rows lds floats apart (lds >= N): the columns
 * of a wider matrix, for a split by columns (src/runtime/threads.ts). Each
 * column's sum is the same ((0 + r0) + r1) + ... as in the whole call.
 */
export function sum_rows_ld(dst: usize, src: usize, M: i32, N: i32, lds: i32, beta: f32): void {
  const rowBytes = <usize>lds << 2;
  const vbeta = f32x4.splat(beta);
  let j = 0;
  if (beta == 0 && M > 1 && N >= 256 && N <= SUM_ROWS_ACC_MAX) {
    // Rows outer, dst as the accumulator (it stays in L1): src is read in
    // order, one row after another. The column blocks below walk down the
    // rows at a stride of N floats instead; at the LSTM bias gradient
    // ([T*B, 4H] = [2048, 1024]) that is one 4 KiB page per row per block,
    // TLB and cache-set bound: 2 ms against 0.3 here. Each column's sum is
    // the same ((0 + r0) + r1) + ..., so the bits are those of the blocks.
    // (Narrow rows, N < 256, keep the blocks: their stride spans few pages.)
    const N4 = N & ~3;
    const z = f32x4.splat(0);
    for (let c = 0; c < N4; c += 4) v128.store(dst + (<usize>c << 2), f32x4.add(z, v128.load(src + (<usize>c << 2))));
    let p = src + rowBytes;
    for (let i = 1; i < M; i++) {
      let c = 0;
      for (; c + 16 <= N4; c += 16) {
        const d = dst + (<usize>c << 2), q = p + (<usize>c << 2);
        v128.store(d, f32x4.add(v128.load(d), v128.load(q)));
        v128.store(d, f32x4.add(v128.load(d, 16), v128.load(q, 16)), 16);
        v128.store(d, f32x4.add(v128.load(d, 32), v128.load(q, 32)), 32);
        v128.store(d, f32x4.add(v128.load(d, 48), v128.load(q, 48)), 48);
      }
      for (; c < N4; c += 4) {
        const d = dst + (<usize>c << 2);
        v128.store(d, f32x4.add(v128.load(d), v128.load(p + (<usize>c << 2))));
      }
      p += rowBytes;
    }
    j = N4; // the last N mod 4 columns: the scalar loop below
  }
  for (; j + 16 <= N; j += 16) {
    const o = <usize>j << 2;
    let a0 = f32x4.splat(0), a1 = a0, a2 = a0, a3 = a0;
    let p = src + o;
    for (let i = 0; i < M; i++) {
      a0 = f32x4.add(a0, v128.load(p, 0));
      a1 = f32x4.add(a1, v128.load(p, 16));
      a2 = f32x4.add(a2, v128.load(p, 32));
      a3 = f32x4.add(a3, v128.load(p, 48));
      p += rowBytes;
    }
    put_sum(dst + o, a0, beta, vbeta);
    put_sum(dst + o + 16, a1, beta, vbeta);
    put_sum(dst + o + 32, a2, beta, vbeta);
    put_sum(dst + o + 48, a3, beta, vbeta);
  }
  for (; j + 4 <= N; j += 4) {
    const o = <usize>j << 2;
    let a = f32x4.splat(0);
    let p = src + o;
    for (let i = 0; i < M; i++) {
      a = f32x4.add(a, v128.load(p));
      p += rowBytes;
    }
    put_sum(dst + o, a, beta, vbeta);
  }
  for (; j < N; j++) {
    const o = <usize>j << 2;
    let a: f32 = 0;
    let p = src + o;
    for (let i = 0; i < M; i++) {
      a += load<f32>(p);
      p += rowBytes;
    }
    store<f32>(dst + o, beta == 0 ? a : beta * load<f32>(dst + o) + a);
  }
}

/**
 * Row-wise softmax: dst[i, j] = exp(src[i, j] - m_i) / sum_k exp(src[i, k] - m_i)
 * with m_i the row maximum, over src [M, N]. dst may equal src. Rows with
 * -inf entries give exact zeros there; a row that is all -inf, or holds +inf
 * or NaN, gives NaN (as torch.softmax does).
 */
export function softmax_rows(dst: usize, src: usize, M: i32, N: i32): void {
  if (N <= 0) return;
  const rowBytes = <usize>N << 2;
  for (let i = 0; i < M; i++) {
    const s = src + <usize>i * rowBytes;
    const d = dst + <usize>i * rowBytes;
    const sum = exp_shift_sum(d, s, N, row_max(s, N));
    scale_row(d, N, <f32>(1.0 / sum));
  }
}

/**
 * Softmax cross-entropy over logits [M, N] and class ids targets i32 [M].
 * For each row with t = targets[i] >= 0 (a negative target is padding and
 * is ignored), with m the row maximum:
 *   loss_i = log sum_j exp(x_j - m) + m - x_t        (log-sum-exp, in f64)
 *   dlogits[i, j] = scale * (softmax(x)_j - [j == t])
 * Ignored rows get dlogits = 0. Returns sum_i loss_i over valid rows (f64,
 * unscaled: divide by the count of valid rows for the mean). dlogits may
 * equal logits. Targets must be < N (checked in TypeScript).
 */
export function softmax_xent(logits: usize, targets: usize, M: i32, N: i32, dlogits: usize, scale: f32): f64 {
  if (N <= 0) return 0;
  const rowBytes = <usize>N << 2;
  let total: f64 = 0;
  for (let i = 0; i < M; i++) {
    const x = logits + <usize>i * rowBytes;
    const d = dlogits + <usize>i * rowBytes;
    const t = load<i32>(targets + (<usize>i << 2));
    if (t < 0) {
      // padding row: no loss, zero gradient
      const z = f32x4.splat(0);
      let j = 0;
      for (; j + 4 <= N; j += 4) v128.store(d + (<usize>j << 2), z);
      for (; j < N; j++) store<f32>(d + (<usize>j << 2), 0);
      continue;
    }
    const to = <usize>t << 2;
    const xt = load<f32>(x + to); // read before d (maybe == x) is overwritten
    const m = row_max(x, N);
    const sum = exp_shift_sum(d, x, N, m);
    total += (<f64>m - <f64>xt) + Math.log(sum);
    scale_row(d, N, <f32>(<f64>scale / sum));
    store<f32>(d + to, load<f32>(d + to) - scale);
  }
  return total;
}

/**
 * Squared error: returns sum_i (pred[i] - target[i])^2 over n (f64; the
 * difference and square are formed in f64 from the f32 inputs) and writes
 * dpred[i] = scale * 2 * (pred[i] - target[i]) (f32). dpred may equal pred
 * or target. For the mean, pass scale = 1/n and divide the sum by n.
 */
export function mse(pred: usize, target: usize, n: i32, dpred: usize, scale: f32): f64 {
  const vk = f32x4.splat(<f32>2 * scale);
  let s0 = f64x2.splat(0);
  let s1 = f64x2.splat(0);
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const o = <usize>i << 2;
    const p = v128.load(pred + o);
    const t = v128.load(target + o);
    const dlo = f64x2.sub(f64x2.promote_low_f32x4(p), f64x2.promote_low_f32x4(t));
    const dhi = f64x2.sub(
      f64x2.promote_low_f32x4(i32x4.shuffle(p, p, 2, 3, 2, 3)),
      f64x2.promote_low_f32x4(i32x4.shuffle(t, t, 2, 3, 2, 3)),
    );
    s0 = f64x2.add(s0, f64x2.mul(dlo, dlo));
    s1 = f64x2.add(s1, f64x2.mul(dhi, dhi));
    v128.store(dpred + o, f32x4.mul(vk, f32x4.sub(p, t)));
  }
  const sv = f64x2.add(s0, s1);
  let s = f64x2.extract_lane(sv, 0) + f64x2.extract_lane(sv, 1);
  const k = <f32>2 * scale;
  for (; i < n; i++) {
    const o = <usize>i << 2;
    const p = load<f32>(pred + o);
    const t = load<f32>(target + o);
    const dd = <f64>p - <f64>t;
    s += dd * dd;
    store<f32>(dpred + o, k * (p - t));
  }
  return s;
}
