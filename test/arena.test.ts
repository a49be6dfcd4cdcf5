// One parameter block, one gradient block and one moment block per model
// (llm.c's single allocation): Arena.join keeps contents and layouts, a
// Sequential's regions() is one block covering every parameter, and one
// clipped Adam update over it matches a per-tensor float64 reference.
import { beforeAll, describe, expect, it } from "vitest";
import { Sequential, type SequentialSpec } from "../src/model/sequential.js";
import { adam_step } from "../src/reference/optim.js";
import { Arena } from "../src/runtime/arena.js";
import { heap } from "../src/runtime/wasm.js";
import { Optimizer } from "../src/train/optimizers.js";
import { applyUpdate } from "../src/train/trainer.js";
import { loadKernels, Rng } from "./helpers.js";

beforeAll(async () => {
  await loadKernels();
});

describe("Arena.join", () => {
  it("moves committed arenas into one block, keeping contents, names and layout", () => {
    const live0 = heap().liveBytes;
    const a = new Arena();
    const a1 = a.tensor("w", [3, 5]); // 60 bytes -> 64 with padding
    const a2 = a.tensor("b", [3]);
    a.commit();
    const b = new Arena();
    const b1 = b.tensor("w", [7]);
    b.commit();
    a1.set(Array.from({ length: 15 }, (_, i) => i + 1));
    a2.set([-1, -2, -3]);
    b1.set([9, 8, 7, 6, 5, 4, 3]);
    const whole = Arena.join([a, b]);
    expect(whole.bytes).toBe(a.bytes + b.bytes);
    expect(a.ptr).toBe(whole.ptr);
    expect(b.ptr).toBe(whole.ptr + a.bytes);
    expect(Array.from(a1.f32())).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
    expect(Array.from(a2.f32())).toEqual([-1, -2, -3]);
    expect(Array.from(b1.f32())).toEqual([9, 8, 7, 6, 5, 4, 3]);
    expect(a1.ptr - a.ptr).toBe(0);
    expect(a2.ptr - a.ptr).toBe(64);
    // The parts' own blocks were freed: only the joined block is live.
    expect(heap().liveBytes - live0).toBe(whole.bytes);
    // A part cannot be joined twice; an uncommitted arena cannot be joined.
    expect(() => Arena.join([a])).toThrow(/already part of a joined block/);
    expect(() => Arena.join([new Arena()])).toThrow(/not committed/);
    // Disposing a part only detaches it; disposing the block frees everything.
    a.dispose();
    expect(() => a1.ptr).toThrow(/not committed/);
    expect(Array.from(b1.f32())).toEqual([9, 8, 7, 6, 5, 4, 3]);
    whole.dispose();
    expect(() => b1.ptr).toThrow(/not committed/);
    expect(heap().liveBytes).toBe(live0);
  });
});

describe("one block per model", () => {
  const spec: SequentialSpec = {
    input: { type: "tokens", vocabSize: 11, embeddingDim: 5 },
    recurrent: [{ cell: "lstm", hiddenSize: 7 }, { cell: "gru", hiddenSize: 6, bidirectional: true }],
    output: { size: 11, loss: "xent" },
    mode: "many-to-many",
    seed: 3,
  };

  it("regions() is one parameter block and one gradient block of the same layout, covering every tensor", () => {
    const m = new Sequential(spec);
    const regions = m.regions();
    expect(regions.length).toBe(1);
    const [{ params, grads, parts }] = regions;
    expect(grads.bytes).toBe(params.bytes);
    expect(parts!.reduce((s, n) => s + n, 0)).toBe(params.bytes / 4);
    expect(parts!.length).toBe(4); // embedding, two recurrent layers, head
    const gs = m.gradients();
    let covered = 0;
    for (const [name, p] of m.parameters()) {
      expect(p.ptr).toBeGreaterThanOrEqual(params.ptr);
      expect(p.ptr + p.bytes).toBeLessThanOrEqual(params.ptr + params.bytes);
      expect(gs.get(name)!.ptr - grads.ptr, name).toBe(p.ptr - params.ptr);
      covered += p.size;
    }
    expect(covered).toBe(m.parameterCount);
    // Padding between tensors is at most 3 floats each (16-byte alignment).
    expect(params.bytes / 4 - covered).toBeLessThan(4 * m.parameters().size);
    m.dispose();
  });

  it("one clipped Adam update over the block matches a per-tensor float64 reference", () => {
    const m = new Sequential(spec);
    const rng = new Rng(9);
    const names = [...m.parameters().keys()];
    const p0 = new Map(names.map((n) => [n, Float64Array.from(m.parameters().get(n)!.f32())]));
    const g = new Map(names.map((n) => [n, rng.fillUniform(new Float32Array(m.parameters().get(n)!.size), -3, 3)]));
    for (const n of names) m.gradients().get(n)!.set(g.get(n)!);
    // The reference norm is over the named tensors only: a non-zero alignment pad in the block would show up here.
    const opt = new Optimizer({ type: "adam", lr: 0.01 }, m.regions());
    const clip = 5;
    const norm = applyUpdate(m.regions(), opt, { clipNorm: clip, lr: 0.01 });
    let ss = 0;
    for (const v of g.values()) for (const x of v) ss += x * x;
    const refNorm = Math.sqrt(ss);
    expect(norm).toBeCloseTo(refNorm, 2);
    expect(Math.abs(norm - refNorm) / refNorm).toBeLessThan(1e-5);
    const f = clip / refNorm;
    let worst = 0;
    for (const n of names) {
      const p = p0.get(n)!;
      const gg = Array.from(g.get(n)!, (x) => x * f);
      const mm = new Float64Array(p.length);
      const vv = new Float64Array(p.length);
      adam_step(p, gg, mm, vv, p.length, 0.01, 0.9, 0.999, 1e-8, 0, 0, 1 - 0.9, 1 - 0.999);
      const got = m.parameters().get(n)!.f32();
      for (let i = 0; i < p.length; i++) worst = Math.max(worst, Math.abs(got[i] - p[i]));
    }
    // The first Adam step moves every weight by ~lr; f32 rounding of weights ~0.5 is ~3e-8.
    expect(worst).toBeLessThan(2e-6);
    // The saved state keeps one buffer per layer and moment (m, v): the file format of per-layer blocks.
    const st = opt.state();
    const parts = m.regions()[0].parts!;
    expect(st.buffers.map((b) => b.length)).toEqual(parts.flatMap((n) => [n, n]));
    const opt2 = new Optimizer({ type: "adam", lr: 0.01 }, m.regions());
    opt2.loadState(st);
    expect(opt2.state().buffers).toEqual(st.buffers);
    opt.dispose();
    opt2.dispose();
    m.dispose();
  });
});
