// f32 GEMM: C [M,N] = beta*C + op(A) [M,K] * op(B) [K,N].
//
// Dimension letters: M = rows of C (the batch B, or T*B for a whole chunk),
// N = columns of C (output features, e.g. 4H), K = the inner dimension
// (input features). Pointers are byte offsets; ld* are leading dimensions in
// elements; every matrix is row-major.
//
// Tiling. B is first packed into 8-wide column panels Bp [ceil(N/8)][K][8]
// (zero-padded past column N), so the micro-kernel reads one panel as a
// contiguous stream of two f32x4 per k. The micro-kernel keeps a 4x8 tile of
// C in 8 f32x4 accumulators (4 rows x 2 vectors) and, for every k, broadcasts
// one A element per row (`v128.load32_splat`) and does 8 mul + 8 add:
//
//        Bp panel [K][8]          k ->  b0 = cols 0..3, b1 = cols 4..7
//   A rows i..i+3 (4 broadcasts)   acc[r][0] += a[r,k]*b0, acc[r][1] += a[r,k]*b1
//
// 8 accumulators + 2 B vectors + 1 broadcast + 1 product fit the 16 XMM
// registers V8 uses on x64; 8x8, 4x16 and 6x8 tiles spill and were slower
// (DESIGN.md). Every `acc += a*b` is madd4 (assembly/fma.ts): mul then add,
// separately rounded, in the plain build; f32x4.relaxed_madd (fused where
// the engine and CPU have FMA) in the relaxed build. ~40-48 GFLOP/s at the
// recurrent shapes (bench/RESULTS.md, "Kernels II").
//
// Loops, outer to inner: 8-wide column panels (a panel, K*32 bytes, stays in
// L1 while every 4-row tile of A streams past it), 4-row tiles, k. Measured
// on Zen 3: row-outer order, and blocking rows so the A block stays in L2,
// made no difference at the shapes of bench/kernels-gemm.js (the hardware
// prefetchers keep up), so the loops stay simple. Rows left over (M mod 4 =
// 1..3) take 1x8 / 2x16 (+2x8) / 3x8 tiles across all panels; columns left
// over use the zero-padded last panel and store only the valid columns.
// When A is strided along k (A stored [K, M]: gemm_packed_f32x4_4x8 with
// aCs != 1, and gemm_tn below K = 32), k runs in blocks of 256 around all
// that, which doubled gemm_tn at the weight-gradient shapes (M=1024 N=64
// K=2048: 15 -> 30 GFLOP/s). From K = 32 on, gemm_tn packs A^T as well, into
// 4-row panels [M/4][kc][4] per k block, and reaches 39-43 GFLOP/s there
// (see gemm_tn). M, N <= 0 touch nothing; K <= 0 gives C = beta*C.
//
// Summation order. Every path (every tile shape, and gemm_nn_ref) computes
//   c = beta*C (or 0 when beta == 0); for k = 0..K-1: c = c + a[i,k]*b[k,j]
// with each mul and add rounded to f32, so a row's result does not depend on
// M, on which tile it falls in, or on the variant: the SIMD kernels of the
// plain build are bit-identical to the scalar gemm_nn_ref. The relaxed build
// keeps the order, with c = fma(a, b, c) where the engine fuses: one rounding
// per k (test/relaxed.test.ts holds it to a fused scalar twin, bit for bit).
// beta == 0 never reads C.

import "./fma";

// ---- packing ------------------------------------------------------------------

/** Pack B [K, N] (row-major, leading dim ldb) into dst [ceil(N/8)][K][8], zero-padded. */
export function gemm_pack_b_nn(B: usize, ldb: i32, K: i32, N: i32, dst: usize): void {
  if (K <= 0 || N <= 0) return;
  assert(ldb >= N);
  const ldb4 = <usize>ldb << 2;
  const full = N >> 3; // panels with 8 valid columns
  let d = dst;
  for (let p = 0; p < full; p++) {
    let s = B + (<usize>p << 5); // B[0, 8p]
    for (let k = 0; k < K; k++) {
      v128.store(d, v128.load(s));
      v128.store(d, v128.load(s, 16), 16);
      s += ldb4;
      d += 32;
    }
  }
  const nr = N & 7; // valid columns of the last, partial panel
  if (nr == 0) return;
  const zero = f32x4.splat(0);
  let s = B + (<usize>full << 5);
  for (let k = 0; k < K; k++) {
    v128.store(d, zero);
    v128.store(d, zero, 16);
    for (let j = 0; j < nr; j++) store<f32>(d + (<usize>j << 2), load<f32>(s + (<usize>j << 2)));
    s += ldb4;
    d += 32;
  }
}

/**
 * Pack op(B) = B^T, B stored [N, K] (leading dim ldb), into dst
 * [ceil(N/8)][K][8], zero-padded. This is the `x W^T` case: W [out, in].
 * Eight rows of B become one panel; 4x4 blocks are transposed in registers.
 */
export function gemm_pack_b_nt(B: usize, ldb: i32, K: i32, N: i32, dst: usize): void {
  if (K <= 0 || N <= 0) return;
  assert(ldb >= K);
  const ldb4 = <usize>ldb << 2;
  const full = N >> 3;
  const K4 = K & ~3;
  let d = dst;
  for (let p = 0; p < full; p++) {
    const r0 = B + (<usize>(p << 3)) * ldb4; // B[8p, 0]
    const r1 = r0 + ldb4, r2 = r1 + ldb4, r3 = r2 + ldb4;
    const r4 = r3 + ldb4, r5 = r4 + ldb4, r6 = r5 + ldb4, r7 = r6 + ldb4;
    let k = 0;
    for (; k < K4; k += 4) {
      const o = <usize>k << 2;
      // rows n = 8p..8p+3, k..k+3 -> columns 0..3 of panel rows k..k+3
      const a0 = v128.load(r0 + o), a1 = v128.load(r1 + o), a2 = v128.load(r2 + o), a3 = v128.load(r3 + o);
      const t0 = f32x4.shuffle(a0, a1, 0, 4, 1, 5), t1 = f32x4.shuffle(a2, a3, 0, 4, 1, 5);
      const t2 = f32x4.shuffle(a0, a1, 2, 6, 3, 7), t3 = f32x4.shuffle(a2, a3, 2, 6, 3, 7);
      v128.store(d, f32x4.shuffle(t0, t1, 0, 1, 4, 5));
      v128.store(d, f32x4.shuffle(t0, t1, 2, 3, 6, 7), 32);
      v128.store(d, f32x4.shuffle(t2, t3, 0, 1, 4, 5), 64);
      v128.store(d, f32x4.shuffle(t2, t3, 2, 3, 6, 7), 96);
      // rows n = 8p+4..8p+7 -> columns 4..7
      const b0 = v128.load(r4 + o), b1 = v128.load(r5 + o), b2 = v128.load(r6 + o), b3 = v128.load(r7 + o);
      const u0 = f32x4.shuffle(b0, b1, 0, 4, 1, 5), u1 = f32x4.shuffle(b2, b3, 0, 4, 1, 5);
      const u2 = f32x4.shuffle(b0, b1, 2, 6, 3, 7), u3 = f32x4.shuffle(b2, b3, 2, 6, 3, 7);
      v128.store(d, f32x4.shuffle(u0, u1, 0, 1, 4, 5), 16);
      v128.store(d, f32x4.shuffle(u0, u1, 2, 3, 6, 7), 48);
      v128.store(d, f32x4.shuffle(u2, u3, 0, 1, 4, 5), 80);
      v128.store(d, f32x4.shuffle(u2, u3, 2, 3, 6, 7), 112);
      d += 128;
    }
    for (; k < K; k++) {
      const o = <usize>k << 2;
      store<f32>(d, load<f32>(r0 + o));
      store<f32>(d, load<f32>(r1 + o), 4);
      store<f32>(d, load<f32>(r2 + o), 8);
      store<f32>(d, load<f32>(r3 + o), 12);
      store<f32>(d, load<f32>(r4 + o), 16);
      store<f32>(d, load<f32>(r5 + o), 20);
      store<f32>(d, load<f32>(r6 + o), 24);
      store<f32>(d, load<f32>(r7 + o), 28);
      d += 32;
    }
  }
  const nr = N & 7;
  if (nr == 0) return;
  const zero = f32x4.splat(0);
  const rows = B + (<usize>(full << 3)) * ldb4;
  for (let k = 0; k < K; k++) {
    v128.store(d, zero);
    v128.store(d, zero, 16);
    let s = rows + (<usize>k << 2);
    for (let j = 0; j < nr; j++) {
      store<f32>(d + (<usize>j << 2), load<f32>(s));
      s += ldb4;
    }
    d += 32;
  }
}

// ---- partial rows of C (N mod 8 != 0) -------------------------------------------

/** Lanes 0..n-1 of the f32x4 at p (n clamped to 0..4), zeros elsewhere. */
@inline function loadLanes(p: usize, n: i32): v128 {
  return n >= 4 ? v128.load(p) : loadPartial(p, n);
}

function loadPartial(p: usize, n: i32): v128 {
  let v = f32x4.splat(0);
  if (n > 0) v = f32x4.replace_lane(v, 0, load<f32>(p));
  if (n > 1) v = f32x4.replace_lane(v, 1, load<f32>(p, 4));
  if (n > 2) v = f32x4.replace_lane(v, 2, load<f32>(p, 8));
  return v;
}

/** Store lanes 0..n-1 of v at p (n clamped to 0..4). */
@inline function storeLanes(p: usize, v: v128, n: i32): void {
  if (n >= 4) v128.store(p, v);
  else storePartial(p, v, n);
}

function storePartial(p: usize, v: v128, n: i32): void {
  if (n > 0) v128.store32_lane(p, v, 0);
  if (n > 1) v128.store32_lane(p, v, 1, 4);
  if (n > 2) v128.store32_lane(p, v, 2, 8);
}

/** beta * C[row, 0..7] (the first nc columns; 0 elsewhere), columns 0..3. */
@inline function betaLo(c: usize, nc: i32, vb: v128): v128 {
  return f32x4.mul(vb, nc == 8 ? v128.load(c) : loadLanes(c, nc));
}

/** beta * C[row, 4..7] (valid columns only). */
@inline function betaHi(c: usize, nc: i32, vb: v128): v128 {
  return f32x4.mul(vb, nc == 8 ? v128.load(c, 16) : loadLanes(c + 16, nc - 4));
}

/** Store a row of the tile: columns 0..nc-1 of (lo, hi) to C at c. */
@inline function storeRow(c: usize, lo: v128, hi: v128, nc: i32): void {
  if (nc == 8) {
    v128.store(c, lo);
    v128.store(c, hi, 16);
  } else {
    storeLanes(c, lo, nc);
    storeLanes(c + 16, hi, nc - 4);
  }
}

// ---- micro-kernels ------------------------------------------------------------
// a: A[i, 0]; b: panel [K][8]; c: C[i, j]; nc: valid columns of the panel (1..8).
// aRs4 / aCs4: byte strides of A between rows / along k; ldc4: of C between rows.
// The k loops run on the panel pointer (pb < pe) with one A pointer per row:
// ~5% faster than a k counter and computed row addresses. Unrolling k by 2 or
// 4 measured ~30% slower (more live v128 values than XMM registers), and
// `f32x4.splat(load<f32>(p))` ~15% slower than `v128.load32_splat(p)`.

/** 4x8 tile: C[i..i+3, j..j+7] = beta*C + A[i..i+3, :] * panel. */
@inline function tile4x8(K: i32, a: usize, aRs4: usize, aCs4: usize, b: usize, c: usize, ldc4: usize, nc: i32, beta: f32): void {
  const c1 = c + ldc4, c2 = c1 + ldc4, c3 = c2 + ldc4;
  let x00: v128, x01: v128, x10: v128, x11: v128, x20: v128, x21: v128, x30: v128, x31: v128;
  if (beta == 0) {
    x00 = f32x4.splat(0); x01 = x00; x10 = x00; x11 = x00;
    x20 = x00; x21 = x00; x30 = x00; x31 = x00;
  } else {
    const vb = f32x4.splat(beta);
    x00 = betaLo(c, nc, vb); x01 = betaHi(c, nc, vb);
    x10 = betaLo(c1, nc, vb); x11 = betaHi(c1, nc, vb);
    x20 = betaLo(c2, nc, vb); x21 = betaHi(c2, nc, vb);
    x30 = betaLo(c3, nc, vb); x31 = betaHi(c3, nc, vb);
  }
  let a0 = a, a1 = a + aRs4, a2 = a1 + aRs4, a3 = a2 + aRs4, pb = b;
  const pe = b + (<usize>K << 5);
  while (pb < pe) {
    const b0 = v128.load(pb), b1 = v128.load(pb, 16);
    let s = v128.load32_splat(a0);
    x00 = madd4(s, b0, x00);
    x01 = madd4(s, b1, x01);
    s = v128.load32_splat(a1);
    x10 = madd4(s, b0, x10);
    x11 = madd4(s, b1, x11);
    s = v128.load32_splat(a2);
    x20 = madd4(s, b0, x20);
    x21 = madd4(s, b1, x21);
    s = v128.load32_splat(a3);
    x30 = madd4(s, b0, x30);
    x31 = madd4(s, b1, x31);
    a0 += aCs4; a1 += aCs4; a2 += aCs4; a3 += aCs4;
    pb += 32;
  }
  storeRow(c, x00, x01, nc);
  storeRow(c1, x10, x11, nc);
  storeRow(c2, x20, x21, nc);
  storeRow(c3, x30, x31, nc);
}

/**
 * 6x8 tile: 12 accumulators. With a fused multiply-add (the relaxed build)
 * 12 independent chains keep both FMA pipes busy through the FMA's latency,
 * where the 4x8 tile's 8 are just enough; the plain build needs a register
 * for each product as well, and 12 accumulators would spill.
 */
@inline function tile6x8(K: i32, a: usize, aRs4: usize, aCs4: usize, b: usize, c: usize, ldc4: usize, nc: i32, beta: f32): void {
  const c1 = c + ldc4, c2 = c1 + ldc4, c3 = c2 + ldc4, c4 = c3 + ldc4, c5 = c4 + ldc4;
  let x00: v128, x01: v128, x10: v128, x11: v128, x20: v128, x21: v128, x30: v128, x31: v128, x40: v128, x41: v128, x50: v128, x51: v128;
  if (beta == 0) {
    x00 = f32x4.splat(0); x01 = x00; x10 = x00; x11 = x00; x20 = x00; x21 = x00;
    x30 = x00; x31 = x00; x40 = x00; x41 = x00; x50 = x00; x51 = x00;
  } else {
    const vb = f32x4.splat(beta);
    x00 = betaLo(c, nc, vb); x01 = betaHi(c, nc, vb);
    x10 = betaLo(c1, nc, vb); x11 = betaHi(c1, nc, vb);
    x20 = betaLo(c2, nc, vb); x21 = betaHi(c2, nc, vb);
    x30 = betaLo(c3, nc, vb); x31 = betaHi(c3, nc, vb);
    x40 = betaLo(c4, nc, vb); x41 = betaHi(c4, nc, vb);
    x50 = betaLo(c5, nc, vb); x51 = betaHi(c5, nc, vb);
  }
  let a0 = a, pb = b;
  const pe = b + (<usize>K << 5);
  const r2 = aRs4 + aRs4, r3 = r2 + aRs4, r4 = r3 + aRs4, r5 = r4 + aRs4;
  while (pb < pe) {
    const b0 = v128.load(pb), b1 = v128.load(pb, 16);
    let s = v128.load32_splat(a0);
    x00 = madd4(s, b0, x00);
    x01 = madd4(s, b1, x01);
    s = v128.load32_splat(a0 + aRs4);
    x10 = madd4(s, b0, x10);
    x11 = madd4(s, b1, x11);
    s = v128.load32_splat(a0 + r2);
    x20 = madd4(s, b0, x20);
    x21 = madd4(s, b1, x21);
    s = v128.load32_splat(a0 + r3);
    x30 = madd4(s, b0, x30);
    x31 = madd4(s, b1, x31);
    s = v128.load32_splat(a0 + r4);
    x40 = madd4(s, b0, x40);
    x41 = madd4(s, b1, x41);
    s = v128.load32_splat(a0 + r5);
    x50 = madd4(s, b0, x50);
    x51 = madd4(s, b1, x51);
    a0 += aCs4;
    pb += 32;
  }
  storeRow(c, x00, x01, nc);
  storeRow(c1, x10, x11, nc);
  storeRow(c2, x20, x21, nc);
  storeRow(c3, x30, x31, nc);
  storeRow(c4, x40, x41, nc);
  storeRow(c5, x50, x51, nc);
}

/** 3x8 tile (M mod 4 == 3): 6 accumulators. */
function tile3x8(K: i32, a: usize, aRs4: usize, aCs4: usize, b: usize, c: usize, ldc4: usize, nc: i32, beta: f32): void {
  const c1 = c + ldc4, c2 = c1 + ldc4;
  let x00: v128, x01: v128, x10: v128, x11: v128, x20: v128, x21: v128;
  if (beta == 0) {
    x00 = f32x4.splat(0); x01 = x00; x10 = x00; x11 = x00; x20 = x00; x21 = x00;
  } else {
    const vb = f32x4.splat(beta);
    x00 = betaLo(c, nc, vb); x01 = betaHi(c, nc, vb);
    x10 = betaLo(c1, nc, vb); x11 = betaHi(c1, nc, vb);
    x20 = betaLo(c2, nc, vb); x21 = betaHi(c2, nc, vb);
  }
  let a0 = a, a1 = a + aRs4, a2 = a1 + aRs4, pb = b;
  const pe = b + (<usize>K << 5);
  while (pb < pe) {
    const b0 = v128.load(pb), b1 = v128.load(pb, 16);
    let s = v128.load32_splat(a0);
    x00 = madd4(s, b0, x00);
    x01 = madd4(s, b1, x01);
    s = v128.load32_splat(a1);
    x10 = madd4(s, b0, x10);
    x11 = madd4(s, b1, x11);
    s = v128.load32_splat(a2);
    x20 = madd4(s, b0, x20);
    x21 = madd4(s, b1, x21);
    a0 += aCs4; a1 += aCs4; a2 += aCs4;
    pb += 32;
  }
  storeRow(c, x00, x01, nc);
  storeRow(c1, x10, x11, nc);
  storeRow(c2, x20, x21, nc);
}

/**
 * 2x16 tile over two full panels b and b + panel (8 accumulators: a 2x8 tile
 * would have only 4 independent add chains and wait on add latency).
 */
function tile2x16(K: i32, a: usize, aRs4: usize, aCs4: usize, b: usize, panel: usize, c: usize, ldc4: usize, beta: f32): void {
  const c1 = c + ldc4;
  let x00: v128, x01: v128, x02: v128, x03: v128, x10: v128, x11: v128, x12: v128, x13: v128;
  if (beta == 0) {
    x00 = f32x4.splat(0); x01 = x00; x02 = x00; x03 = x00;
    x10 = x00; x11 = x00; x12 = x00; x13 = x00;
  } else {
    const vb = f32x4.splat(beta);
    x00 = f32x4.mul(vb, v128.load(c)); x01 = f32x4.mul(vb, v128.load(c, 16));
    x02 = f32x4.mul(vb, v128.load(c, 32)); x03 = f32x4.mul(vb, v128.load(c, 48));
    x10 = f32x4.mul(vb, v128.load(c1)); x11 = f32x4.mul(vb, v128.load(c1, 16));
    x12 = f32x4.mul(vb, v128.load(c1, 32)); x13 = f32x4.mul(vb, v128.load(c1, 48));
  }
  let a0 = a, a1 = a + aRs4, pb = b, qb = b + panel;
  const pe = b + (<usize>K << 5);
  while (pb < pe) {
    const b0 = v128.load(pb), b1 = v128.load(pb, 16), b2 = v128.load(qb), b3 = v128.load(qb, 16);
    let s = v128.load32_splat(a0);
    x00 = madd4(s, b0, x00);
    x01 = madd4(s, b1, x01);
    x02 = madd4(s, b2, x02);
    x03 = madd4(s, b3, x03);
    s = v128.load32_splat(a1);
    x10 = madd4(s, b0, x10);
    x11 = madd4(s, b1, x11);
    x12 = madd4(s, b2, x12);
    x13 = madd4(s, b3, x13);
    a0 += aCs4; a1 += aCs4;
    pb += 32; qb += 32;
  }
  v128.store(c, x00); v128.store(c, x01, 16); v128.store(c, x02, 32); v128.store(c, x03, 48);
  v128.store(c1, x10); v128.store(c1, x11, 16); v128.store(c1, x12, 32); v128.store(c1, x13, 48);
}

/** 2x8 tile: the last panel of a 2-row remainder. */
function tile2x8(K: i32, a: usize, aRs4: usize, aCs4: usize, b: usize, c: usize, ldc4: usize, nc: i32, beta: f32): void {
  const c1 = c + ldc4;
  let x00: v128, x01: v128, x10: v128, x11: v128;
  if (beta == 0) {
    x00 = f32x4.splat(0); x01 = x00; x10 = x00; x11 = x00;
  } else {
    const vb = f32x4.splat(beta);
    x00 = betaLo(c, nc, vb); x01 = betaHi(c, nc, vb);
    x10 = betaLo(c1, nc, vb); x11 = betaHi(c1, nc, vb);
  }
  let a0 = a, a1 = a + aRs4, pb = b;
  const pe = b + (<usize>K << 5);
  while (pb < pe) {
    const b0 = v128.load(pb), b1 = v128.load(pb, 16);
    let s = v128.load32_splat(a0);
    x00 = madd4(s, b0, x00);
    x01 = madd4(s, b1, x01);
    s = v128.load32_splat(a1);
    x10 = madd4(s, b0, x10);
    x11 = madd4(s, b1, x11);
    a0 += aCs4; a1 += aCs4;
    pb += 32;
  }
  storeRow(c, x00, x01, nc);
  storeRow(c1, x10, x11, nc);
}

/**
 * 1x8 tile: the last 8..31 columns of a single row (M mod 4 == 1); full
 * groups of four panels take tile1x32. Only 2 add chains.
 */
function tile1x8(K: i32, a: usize, aCs4: usize, b: usize, c: usize, nc: i32, beta: f32): void {
  let x0: v128, x1: v128;
  if (beta == 0) {
    x0 = f32x4.splat(0); x1 = x0;
  } else {
    const vb = f32x4.splat(beta);
    x0 = betaLo(c, nc, vb); x1 = betaHi(c, nc, vb);
  }
  let pa = a, pb = b;
  const pe = b + (<usize>K << 5);
  while (pb < pe) {
    const s = v128.load32_splat(pa);
    x0 = madd4(s, v128.load(pb), x0);
    x1 = madd4(s, v128.load(pb, 16), x1);
    pa += aCs4;
    pb += 32;
  }
  storeRow(c, x0, x1, nc);
}

/**
 * 1x32 tile over four full panels b, b + panel, ... (M = 1: generation and
 * streaming at batch 1, the GEMV). Eight independent accumulator chains hide
 * the add (or FMA, 4 cycles) latency that bounds tile1x8's two chains; the
 * loop is then bound by streaming the panels (one float per 2 flops): at
 * 1x1024x256 (W_hh of H = 256 in L2/L3) 19 -> 24 GFLOP/s plain, 13 -> 28
 * relaxed; at H = 1024 (16 MB, from memory) ~13 either way.
 */
function tile1x32(K: i32, a: usize, aCs4: usize, b: usize, panel: usize, c: usize, beta: f32): void {
  let x0: v128, x1: v128, x2: v128, x3: v128, x4: v128, x5: v128, x6: v128, x7: v128;
  if (beta == 0) {
    x0 = f32x4.splat(0); x1 = x0; x2 = x0; x3 = x0; x4 = x0; x5 = x0; x6 = x0; x7 = x0;
  } else {
    const vb = f32x4.splat(beta);
    x0 = f32x4.mul(vb, v128.load(c)); x1 = f32x4.mul(vb, v128.load(c, 16));
    x2 = f32x4.mul(vb, v128.load(c, 32)); x3 = f32x4.mul(vb, v128.load(c, 48));
    x4 = f32x4.mul(vb, v128.load(c, 64)); x5 = f32x4.mul(vb, v128.load(c, 80));
    x6 = f32x4.mul(vb, v128.load(c, 96)); x7 = f32x4.mul(vb, v128.load(c, 112));
  }
  let pa = a, p0 = b, p1 = b + panel, p2 = p1 + panel, p3 = p2 + panel;
  const pe = b + (<usize>K << 5);
  while (p0 < pe) {
    const s = v128.load32_splat(pa);
    x0 = madd4(s, v128.load(p0), x0);
    x1 = madd4(s, v128.load(p0, 16), x1);
    x2 = madd4(s, v128.load(p1), x2);
    x3 = madd4(s, v128.load(p1, 16), x3);
    x4 = madd4(s, v128.load(p2), x4);
    x5 = madd4(s, v128.load(p2, 16), x5);
    x6 = madd4(s, v128.load(p3), x6);
    x7 = madd4(s, v128.load(p3, 16), x7);
    pa += aCs4;
    p0 += 32; p1 += 32; p2 += 32; p3 += 32;
  }
  v128.store(c, x0); v128.store(c, x1, 16); v128.store(c, x2, 32); v128.store(c, x3, 48);
  v128.store(c, x4, 64); v128.store(c, x5, 80); v128.store(c, x6, 96); v128.store(c, x7, 112);
}

/**
 * The r = M mod 4 (1..3) rows left below the 4-row tiles, across all N
 * columns: a = A[i, 0], c = C[i, 0].
 */
function remainderRows(r: i32, N: i32, K: i32, a: usize, aRs4: usize, aCs4: usize, Bp: usize, panel: usize, c: usize, ldc4: usize, beta: f32): void {
  let j = 0;
  if (r == 1) {
    for (; j + 32 <= N; j += 32) tile1x32(K, a, aCs4, Bp + <usize>(j >> 3) * panel, panel, c + (<usize>j << 2), beta);
    for (; j < N; j += 8) tile1x8(K, a, aCs4, Bp + <usize>(j >> 3) * panel, c + (<usize>j << 2), min(N - j, 8), beta);
  } else if (r == 2) {
    for (; j + 16 <= N; j += 16) tile2x16(K, a, aRs4, aCs4, Bp + <usize>(j >> 3) * panel, panel, c + (<usize>j << 2), ldc4, beta);
    for (; j < N; j += 8) tile2x8(K, a, aRs4, aCs4, Bp + <usize>(j >> 3) * panel, c + (<usize>j << 2), ldc4, min(N - j, 8), beta);
  } else if (r == 3) {
    for (; j < N; j += 8) tile3x8(K, a, aRs4, aCs4, Bp + <usize>(j >> 3) * panel, c + (<usize>j << 2), ldc4, min(N - j, 8), beta);
  }
}

// ---- GEMM entry points --------------------------------------------------------

/**
 * C [M, N] = beta*C + A * Bp. A element (i, k) is at A + 4*(i*aRs + k*aCs)
 * (aRs = lda, aCs = 1 for A [M, K]; aRs = 1, aCs = lda for A stored [K, M]).
 * Bp [ceil(N/8)][K][8] from gemm_pack_b_nn / gemm_pack_b_nt. beta == 0 never
 * reads C.
 */
export function gemm_packed_f32x4_4x8(
  M: i32, N: i32, K: i32,
  A: usize, aRs: i32, aCs: i32,
  Bp: usize, C: usize, ldc: i32, beta: f32,
): void {
  if (M <= 0 || N <= 0) return;
  if (K < 0) K = 0;
  assert(ldc >= N && aRs >= 0 && aCs >= 0);
  const aRs4 = <usize>aRs << 2, aCs4 = <usize>aCs << 2, ldc4 = <usize>ldc << 2;
  const panel = <usize>K << 5; // bytes of one packed panel [K][8]
  // Strided A (A stored [K, M], gemm_tn): every k is another row of A, often
  // another 4 KiB page. Blocks of KC steps keep a block's rows in L1 and its
  // pages in the TLB while the row tiles sweep it. Later blocks add to C
  // (beta = 1, exact), so the k order, and the result, are unchanged.
  const kc = aCs == 1 ? K : KC_STRIDED;
  let k0 = 0;
  do {
    const kb = min(kc, K - k0);
    packedBlock(M, N, kb, A + <usize>k0 * aCs4, aRs4, aCs4, Bp + (<usize>k0 << 5), panel, C, ldc4, k0 == 0 ? beta : 1);
    k0 += kb;
  } while (k0 < K);
}

/** k steps per block when A is strided along k; see gemm_packed_f32x4_4x8. */
const KC_STRIDED: i32 = 256;

/** C = beta*C + A[:, k0:k0+K] * Bp[:, k0:k0+K, :]; a, b already offset to k0; panel: bytes between panels. */
function packedBlock(M: i32, N: i32, K: i32, A: usize, aRs4: usize, aCs4: usize, Bp: usize, panel: usize, C: usize, ldc4: usize, beta: f32): void {
  if (ASC_FEATURE_RELAXED_SIMD && M >= 6) {
    // 6-row tiles, then one 4-row tile where 4 or 5 rows are left, then the remainder tiles.
    const M6 = M - M % 6;
    const M4 = M - M6 >= 4 ? M6 + 4 : M6;
    for (let j = 0; j < N; j += 8) {
      const nc = min(N - j, 8);
      const b = Bp + <usize>(j >> 3) * panel;
      const cj = C + (<usize>j << 2);
      for (let i = 0; i < M6; i += 6) {
        tile6x8(K, A + <usize>i * aRs4, aRs4, aCs4, b, cj + <usize>i * ldc4, ldc4, nc, beta);
      }
      if (M4 > M6) tile4x8(K, A + <usize>M6 * aRs4, aRs4, aCs4, b, cj + <usize>M6 * ldc4, ldc4, nc, beta);
    }
    if (M4 < M) remainderRows(M - M4, N, K, A + <usize>M4 * aRs4, aRs4, aCs4, Bp, panel, C + <usize>M4 * ldc4, ldc4, beta);
    return;
  }
  const M4 = M & ~3;
  for (let j = 0; j < N; j += 8) {
    const nc = min(N - j, 8);
    const b = Bp + <usize>(j >> 3) * panel;
    const cj = C + (<usize>j << 2);
    for (let i = 0; i < M4; i += 4) {
      tile4x8(K, A + <usize>i * aRs4, aRs4, aCs4, b, cj + <usize>i * ldc4, ldc4, nc, beta);
    }
  }
  if (M4 < M) remainderRows(M - M4, N, K, A + <usize>M4 * aRs4, aRs4, aCs4, Bp, panel, C + <usize>M4 * ldc4, ldc4, beta);
}

/** C [M,N] = beta*C + A [M,K] * B [K,N]. scratch: ceil(N/8)*8*K floats. */
export function gemm_nn(M: i32, N: i32, K: i32, A: usize, lda: i32, B: usize, ldb: i32, C: usize, ldc: i32, beta: f32, scratch: usize): void {
  if (M <= 0 || N <= 0) return;
  gemm_pack_b_nn(B, ldb, K, N, scratch);
  gemm_packed_f32x4_4x8(M, N, K, A, lda, 1, scratch, C, ldc, beta);
}

/** C [M,N] = beta*C + A [M,K] * B^T, B stored [N,K] (`x W^T`). scratch: ceil(N/8)*8*K floats. */
export function gemm_nt(M: i32, N: i32, K: i32, A: usize, lda: i32, B: usize, ldb: i32, C: usize, ldc: i32, beta: f32, scratch: usize): void {
  if (M <= 0 || N <= 0) return;
  gemm_pack_b_nt(B, ldb, K, N, scratch);
  gemm_packed_f32x4_4x8(M, N, K, A, lda, 1, scratch, C, ldc, beta);
}

/**
 * C [M,N] = beta*C + A^T * B, A stored [K,M], B stored [K,N] (`dG^T X`, the
 * weight gradients). scratch: ceil(N/8)*8*K floats.
 *
 * Read in place, A^T is strided along k (lda floats per step; 4 KiB at the
 * LSTM shape lda = 4H = 1024, so a 4-row tile's k steps all fall in one
 * cache set), so from K >= TN_MIN_K on, A is packed as well: k runs in
 * blocks of kc = min(TN_KC, K/2) steps; each block packs its B panels
 * [ceil(N/8)][kc][8] into the first half of the scratch and, row block by
 * row block (mc = min(8*ceil(N/8), TN_MC) rows), A^T into 4-row panels
 * [mc/4][kc][4] (contiguous per k) in the second half, which tile4x8p reads
 * with four broadcasts at constant offsets. 2*kc <= K keeps both within the
 * scratch of the unpacked path, so callers and the threaded column split
 * (every part packs into its own slice) see no change. Measured on Zen 3:
 * 1024x256x2048 30 -> 43 GFLOP/s, 1024x64x2048 30 -> 39. Rows left below
 * the 4-row tiles (M mod 4) take the remainder tiles on A in place. Later
 * blocks add to C (beta = 1, exact): the k order, and the bits, are those of
 * every other path. The relaxed build copies A^T's block k-major instead
 * ([kc][mc + TN_PAD], TN_MC_RELAXED rows) and runs packedBlock's 6x8 tiles
 * on it: on Intel (FMA on two pipes) 1024x256x2048 45 -> 49 GFLOP/s and
 * 1024x64x2048 41.5 -> 48 (bench/RESULTS.md, session 9).
 */
export function gemm_tn(M: i32, N: i32, K: i32, A: usize, lda: i32, B: usize, ldb: i32, C: usize, ldc: i32, beta: f32, scratch: usize): void {
  if (M <= 0 || N <= 0) return;
  if (K < TN_MIN_K) {
    gemm_pack_b_nn(B, ldb, K, N, scratch);
    gemm_packed_f32x4_4x8(M, N, K, A, 1, lda, scratch, C, ldc, beta);
    return;
  }
  assert(lda >= M && ldb >= N && ldc >= N);
  const P = (N + 7) >> 3;
  const kc = min(TN_KC, K >> 1);
  const mc = min(P << 3, ASC_FEATURE_RELAXED_SIMD ? TN_MC_RELAXED : TN_MC);
  const Ap = scratch + ((<usize>P * kc) << 5);
  // Both halves within ceil(N/8)*8*K floats.
  assert(mc % 4 == 0 && mc <= P << 3 && 2 * kc <= K);
  tnBlocked(M, N, K, A, <usize>lda << 2, B, ldb, C, <usize>ldc << 2, beta, scratch, Ap, kc, mc);
}

/** Least K for which gemm_tn packs A (below it: A read in place; equal speed at K = 32, 1.2x at 64). */
const TN_MIN_K: i32 = 32;
/** k steps per block of gemm_tn: a B panel block (8 KiB) stays in L1 while the 4-row tiles sweep it. */
const TN_KC: i32 = 256;
/** Most rows of A^T packed per block of gemm_tn (128 x 256 floats = 128 KiB, in L2); 8..1024 measured alike. */
const TN_MC: i32 = 128;

/**
 * Pack rows i..i+mb-1 of A^T, k = 0..kb-1 (A at element (k0, i0) of the
 * [K, M] storage, byte stride lda4 per k; mb a multiple of 4) into
 * dst [mb/4][kb][4]: dst[p][k][r] = A[k, 4p + r]. Four k steps at a time,
 * so every panel gets whole 64-byte lines.
 */
function packATBlock(A: usize, lda4: usize, mb: i32, kb: i32, dst: usize): void {
  const pstride = <usize>kb << 4; // bytes of one panel [kb][4]
  const mb4 = <usize>mb << 2;
  let k = 0;
  for (; k + 4 <= kb; k += 4) {
    const r0 = A + <usize>k * lda4, r1 = r0 + lda4, r2 = r1 + lda4, r3 = r2 + lda4;
    let d = dst + (<usize>k << 4);
    for (let o: usize = 0; o < mb4; o += 16) {
      v128.store(d, v128.load(r0 + o));
      v128.store(d, v128.load(r1 + o), 16);
      v128.store(d, v128.load(r2 + o), 32);
      v128.store(d, v128.load(r3 + o), 48);
      d += pstride;
    }
  }
  for (; k < kb; k++) {
    const r0 = A + <usize>k * lda4;
    let d = dst + (<usize>k << 4);
    for (let o: usize = 0; o < mb4; o += 16) {
      v128.store(d, v128.load(r0 + o));
      d += pstride;
    }
  }
}

/** Padding (floats) of the relaxed build's k-major A^T block in gemm_tn. */
const TN_PAD: i32 = 4;
/** Rows of A^T per block in the relaxed build's gemm_tn (a multiple of 4). */
const TN_MC_RELAXED: i32 = 36;

/** dst[k][0..mb) = A[k][0..mb) for k < kb (byte strides lda4, ldp4; mb a multiple of 4). */
function copyRows(A: usize, lda4: usize, mb: i32, kb: i32, dst: usize, ldp4: usize): void {
  const mb4 = <usize>mb << 2;
  for (let k = 0; k < kb; k++) {
    const r = A + <usize>k * lda4;
    const d = dst + <usize>k * ldp4;
    for (let o: usize = 0; o < mb4; o += 16) v128.store(d + o, v128.load(r + o));
  }
}

/** 4x8 tile as tile4x8, with A packed [K][4]: a = the tile's panel, one 16-byte step per k. */
@inline function tile4x8p(K: i32, a: usize, b: usize, c: usize, ldc4: usize, nc: i32, beta: f32): void {
  const c1 = c + ldc4, c2 = c1 + ldc4, c3 = c2 + ldc4;
  let x00: v128, x01: v128, x10: v128, x11: v128, x20: v128, x21: v128, x30: v128, x31: v128;
  if (beta == 0) {
    x00 = f32x4.splat(0); x01 = x00; x10 = x00; x11 = x00;
    x20 = x00; x21 = x00; x30 = x00; x31 = x00;
  } else {
    const vb = f32x4.splat(beta);
    x00 = betaLo(c, nc, vb); x01 = betaHi(c, nc, vb);
    x10 = betaLo(c1, nc, vb); x11 = betaHi(c1, nc, vb);
    x20 = betaLo(c2, nc, vb); x21 = betaHi(c2, nc, vb);
    x30 = betaLo(c3, nc, vb); x31 = betaHi(c3, nc, vb);
  }
  let pa = a, pb = b;
  const pe = b + (<usize>K << 5);
  while (pb < pe) {
    const b0 = v128.load(pb), b1 = v128.load(pb, 16);
    let s = v128.load32_splat(pa);
    x00 = madd4(s, b0, x00);
    x01 = madd4(s, b1, x01);
    s = v128.load32_splat(pa, 4);
    x10 = madd4(s, b0, x10);
    x11 = madd4(s, b1, x11);
    s = v128.load32_splat(pa, 8);
    x20 = madd4(s, b0, x20);
    x21 = madd4(s, b1, x21);
    s = v128.load32_splat(pa, 12);
    x30 = madd4(s, b0, x30);
    x31 = madd4(s, b1, x31);
    pa += 16;
    pb += 32;
  }
  storeRow(c, x00, x01, nc);
  storeRow(c1, x10, x11, nc);
  storeRow(c2, x20, x21, nc);
  storeRow(c3, x30, x31, nc);
}

/**
 * The packed-A path of gemm_tn: Bk, Ap = the two halves of the scratch
 * (B panels of one k block, A^T panels of one row block); KC, MC = block sizes.
 * Loops, outer to inner: k blocks, row blocks, 8-wide panels, 4-row tiles.
 */
function tnBlocked(M: i32, N: i32, K: i32, A: usize, lda4: usize, B: usize, ldb: i32, C: usize, ldc4: usize, beta: f32, Bk: usize, Ap: usize, KC: i32, MC: i32): void {
  const M4 = M & ~3;
  const ldb4 = <usize>ldb << 2;
  let k0 = 0;
  do {
    const kb = min(KC, K - k0);
    const bk = k0 == 0 ? beta : 1;
    const Ak = A + <usize>k0 * lda4;
    gemm_pack_b_nn(B + <usize>k0 * ldb4, ldb, kb, N, Bk);
    const panel = <usize>kb << 5; // bytes of one B panel [kb][8]
    const tstride = <usize>kb << 4; // bytes of one A^T panel [kb][4]
    for (let i0 = 0; i0 < M4; i0 += MC) {
      const mb = min(MC, M4 - i0);
      const Ci = C + <usize>i0 * ldc4;
      if (ASC_FEATURE_RELAXED_SIMD) {
        // The relaxed build's 6x8 tiles (packedBlock) need a constant row stride: A^T's rows
        // i0..i0+mb-1 copied k-major, [kb][ldp] (row i of A^T = column i, 4 bytes apart), ldp =
        // mb + TN_PAD where the scratch has room (a stride of 512 bytes would put every k step in
        // one of 8 L1 sets).
        const ldp = mb + TN_PAD <= ((N + 7) & ~7) ? mb + TN_PAD : mb; // the scratch half holds kc * 8*ceil(N/8) floats
        copyRows(Ak + (<usize>i0 << 2), lda4, mb, kb, Ap, <usize>ldp << 2);
        packedBlock(mb, N, kb, Ap, 4, <usize>ldp << 2, Bk, panel, Ci, ldc4, bk);
        continue;
      }
      packATBlock(Ak + (<usize>i0 << 2), lda4, mb, kb, Ap);
      for (let j = 0; j < N; j += 8) {
        const nc = min(N - j, 8);
        const b = Bk + <usize>(j >> 3) * panel;
        const cj = Ci + (<usize>j << 2);
        let a = Ap;
        for (let i = 0; i < mb; i += 4) {
          tile4x8p(kb, a, b, cj + <usize>i * ldc4, ldc4, nc, bk);
          a += tstride;
        }
      }
    }
    if (M4 < M) remainderRows(M - M4, N, kb, Ak + (<usize>M4 << 2), 4, lda4, Bk, panel, C + <usize>M4 * ldc4, ldc4, bk);
    k0 += kb;
  } while (k0 < K);
}

/**
 * Scalar (no SIMD) C [M,N] = beta*C + A [M,K] * B [K,N], i-k-j order: the
 * in-WASM baseline for benchmarks. Same summation order as the SIMD kernels.
 */
export function gemm_nn_ref(M: i32, N: i32, K: i32, A: usize, lda: i32, B: usize, ldb: i32, C: usize, ldc: i32, beta: f32): void {
  const lda4 = <usize>lda << 2, ldb4 = <usize>ldb << 2, ldc4 = <usize>ldc << 2;
  for (let i = 0; i < M; i++) {
    const c = C + <usize>i * ldc4;
    const a = A + <usize>i * lda4;
    if (beta == 0) {
      for (let j = 0; j < N; j++) store<f32>(c + (<usize>j << 2), 0);
    } else {
      for (let j = 0; j < N; j++) store<f32>(c + (<usize>j << 2), beta * load<f32>(c + (<usize>j << 2)));
    }
    for (let k = 0; k < K; k++) {
      const aik = load<f32>(a + (<usize>k << 2));
      const b = B + <usize>k * ldb4;
      for (let j = 0; j < N; j++) {
        const o = <usize>j << 2;
        store<f32>(c + o, load<f32>(c + o) + aik * load<f32>(b + o));
      }
    }
  }
}
