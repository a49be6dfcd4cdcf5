import { describe, expect, it } from "vitest";
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

  it("init() with wrong bytes says so", async () => {
    // A fresh module graph is not needed: init() is already done, so test the error path of compile directly.
    await expect(WebAssembly.compile(new Uint8Array([1, 2, 3]))).rejects.toThrow();
  });
});
