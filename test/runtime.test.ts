import { readFileSync } from "node:fs";
import { describe, expect, it, vi } from "vitest";
import { hasWasmSimd, init, isInitialized } from "../src/runtime/wasm.js";
import { Arena } from "../src/runtime/arena.js";
import { heap } from "../src/runtime/wasm.js";

describe("runtime", () => {
  it("detects SIMD and loads the module", async () => {
    expect(hasWasmSimd()).toBe(true);
    await init();
    expect(isInitialized()).toBe(true);
  });

  it("arena lays out named, 16-byte aligned regions and frees them", async () => {
    await init();
    const before = heap().liveBytes;
    const a = new Arena();
    const w = a.tensor("w", [3, 5]);
    const b = a.tensor("b", [7]);
    const ids = a.tensor("ids", [2], "i32");
    expect(() => w.ptr).toThrow(/not committed/);
    a.commit();
    expect(w.ptr % 16).toBe(0);
    expect(b.ptr % 16).toBe(0);
    expect(b.ptr).toBeGreaterThanOrEqual(w.ptr + 60);
    expect(Array.from(b.f32())).toEqual(new Array(7).fill(0));
    w.set(new Float32Array(15).fill(2));
    ids.set([4, -1]);
    expect(Array.from(ids.i32())).toEqual([4, -1]);
    expect(() => w.set([1, 2])).toThrow(/'w' expects 15 values \(shape \[3, 5\]\), got 2/);
    expect(() => a.tensor("late", [1])).toThrow(/already committed/);
    a.dispose();
    expect(heap().liveBytes).toBe(before);
    expect(() => w.f32()).toThrow(/not committed/);
  });

  it("a cache-line arena puts every tensor on a 64-byte line and frees all it took", async () => {
    await init();
    const before = heap().liveBytes;
    const pad = heap().alloc(16); // the heap aligns to 16: leave its top off a 64-byte line
    const a = new Arena(64);
    const t = [a.tensor("a", [3]), a.tensor("b", [17]), a.tensor("c", [16]), a.tensor("d", [1], "i32")];
    a.commit();
    for (const x of t) expect(x.ptr % 64, x.name).toBe(0);
    // Each tensor takes the fewest whole lines that hold it.
    expect(t.map((x) => x.ptr - t[0].ptr)).toEqual([0, 64, 192, 256]);
    expect(a.ptr % 64).toBe(0);
    expect(Array.from(t[1].f32())).toEqual(new Array(17).fill(0));
    a.dispose();
    // Joined with a 16-byte arena in front, a 64-byte part keeps its lines.
    const p16 = new Arena();
    p16.tensor("x", [5]);
    const p64 = new Arena(64);
    const y = p64.tensor("y", [3]);
    const z = p64.tensor("z", [3]);
    const whole = Arena.join([p16.commit(), p64.commit()]);
    expect([y.ptr % 64, z.ptr % 64, z.ptr - y.ptr]).toEqual([0, 0, 64]);
    whole.dispose();
    heap().free(pad);
    expect(heap().liveBytes).toBe(before);
    expect(() => new Arena(32 as 64)).toThrow(/16 or 64 bytes, got 32/);
  });

  it("views stay correct after the memory grows", async () => {
    await init();
    const a = new Arena();
    const t = a.tensor("t", [4]);
    a.commit();
    t.set([1, 2, 3, 4]);
    const big = new Arena();
    big.tensor("big", [16 * 1024 * 1024]); // 64 MiB forces growth
    big.commit();
    expect(Array.from(t.f32())).toEqual([1, 2, 3, 4]);
    big.dispose();
    a.dispose();
  });

  // A fresh copy of the runtime module per case, so init() really runs again.
  async function freshRuntime() {
    vi.resetModules();
    return (await import("../src/runtime/wasm.js")) as typeof import("../src/runtime/wasm.js");
  }

  it("init() with bytes that are not WebAssembly says so, and can be retried", async () => {
    const rt = await freshRuntime();
    await expect(rt.init(new Uint8Array([1, 2, 3]))).rejects.toThrow(/not a valid WebAssembly module.*unfold\.wasm/);
    expect(rt.isInitialized()).toBe(false);
    await rt.init(readFileSync(new URL("../build/unfold.wasm", import.meta.url)));
    expect(rt.isInitialized()).toBe(true);
  });

  it("init() with another module names the missing exports", async () => {
    const rt = await freshRuntime();
    // A valid module that exports nothing.
    await expect(rt.init(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]))).rejects.toThrow(/not this version's unfold\.wasm \(missing exports: heap_base, gemm_pack_b_nn/);
  });

  it("init() with a missing file says which file", async () => {
    const rt = await freshRuntime();
    await expect(rt.init("/nonexistent/unfold.wasm")).rejects.toThrow(/cannot read the WebAssembly module at \/nonexistent\/unfold\.wasm \(ENOENT\)/);
  });

  it("init() accepts a precompiled WebAssembly.Module (edge runtimes)", async () => {
    const rt = await freshRuntime();
    const mod = await WebAssembly.compile(readFileSync(new URL("../build/unfold.wasm", import.meta.url)));
    await rt.init(mod);
    expect(rt.isInitialized()).toBe(true);
  });

  it("a runtime without WASM SIMD gets an error naming the feature", async () => {
    const rt = await freshRuntime();
    const validate = WebAssembly.validate;
    WebAssembly.validate = () => false;
    try {
      expect(rt.hasWasmSimd()).toBe(false);
      await expect(rt.init()).rejects.toThrow(/does not support WebAssembly SIMD \(the fixed-width 128-bit 'simd128' feature\)/);
    } finally {
      WebAssembly.validate = validate;
    }
  });

  it("the SIMD probe is a real SIMD module: it fails validation once its SIMD opcode is removed", () => {
    // i8x16.popcnt (0xfd 0x62) replaced by a plain 'drop' makes a type error; a byte flip makes it invalid.
    const probe = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]);
    expect(WebAssembly.validate(probe)).toBe(true);
    const broken = probe.slice();
    broken[27] = 0xff;
    expect(WebAssembly.validate(broken)).toBe(false);
  });

  it("layers before init() get a clear error", async () => {
    const rt = await freshRuntime();
    expect(() => rt.kernels()).toThrow(/Call `await init\(\)` once before using layers or models/);
  });
});
