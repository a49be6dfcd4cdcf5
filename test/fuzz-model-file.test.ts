// Hostile model files: 2,000 seeded mutations of files the library wrote
// (truncations, bit flips, huge dimensions, malformed JSON, a header that
// claims more than the file holds, ...). loadModel must load a working model
// or throw a clean UnfoldError: no other exception, no hang, no WASM memory
// beyond what the file's size justifies, no half-loaded model left allocated.
// tools/fuzz-model-file.mjs runs 100,000.
import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain ES module without types
import { fuzzModelFile } from "../tools/fuzz-model-file.mjs";

describe("model files under attack", () => {
  it("2,000 mutations: each loads a working model or throws an UnfoldError, nothing leaks", async () => {
    const s = await fuzzModelFile({ mutations: 2000, seed: 2026 });
    expect(s.loaded + s.rejected).toBe(2000);
    // The mutations reach every stage of the reader, not just the checksum.
    for (const reason of ["E_FORMAT/CHECKSUM", "E_FORMAT/TRUNCATED", "E_FORMAT/BAD_HEADER", "E_FORMAT/BAD_TENSOR", "E_FORMAT/NON_FINITE", "E_FORMAT"]) {
      expect(s.byReason[reason], reason).toBeGreaterThan(0);
    }
    expect(s.loaded).toBeGreaterThan(0);
    expect(s.memGrowth).toBeLessThanOrEqual(s.memCap);
  }, 300_000);
});

describe("int8 files with bad row scales", () => {
  it("a missing, NaN, infinite, zero or negative scale, a scale too few, int8 without a quantization record: each refused by name", async () => {
    const lib = await import("../src/index.node.js");
    await lib.init({ simd: "plain" });
    const { Sequential, quantize, saveModel, loadModel, decodeModel, encodeModel, UnfoldError } = lib;
    const m = new Sequential({ input: { type: "tokens", vocabSize: 7, embeddingDim: 3 }, recurrent: [{ cell: "gru", hiddenSize: 5 }], output: { size: 7, loss: "xent" }, mode: "many-to-many", seed: 1 });
    const q = quantize(m, { bits: 8, allowUntrained: true });
    const good = saveModel(q);
    const file = decodeModel(good);
    const redo = (f: (t: typeof file.tensors, h: Record<string, unknown>) => void) => {
      const c = structuredClone(file);
      f(c.tensors, c.header);
      return encodeModel(c);
    };
    const scale = (t: typeof file.tensors, name: string) => t.find((x) => x.name === `qscale/${name}`)!;
    const refused = (bytes: Uint8Array, re: RegExp) => {
      let err: unknown;
      try {
        loadModel(bytes).model.dispose();
      } catch (e) {
        err = e;
      }
      expect(err, String(re)).toBeInstanceOf(UnfoldError);
      expect((err as InstanceType<typeof UnfoldError>).code).toBe("E_FORMAT");
      expect((err as Error).message).toMatch(re);
    };
    const live0 = (await import("../src/runtime/wasm.js")).heap().liveBytes;
    refused(redo((t) => t.splice(t.indexOf(scale(t, "rnn0.weight_hh_l0")), 1)), /'rnn0\.weight_hh_l0' have no row scales/);
    refused(redo((t) => ((scale(t, "head.weight").data as Float32Array)[2] = 0)), /row scale 2 of 'head\.weight' is 0/);
    refused(redo((t) => ((scale(t, "head.weight").data as Float32Array)[0] = -1)), /row scale 0 of 'head\.weight' is -1/);
    // NaN / Infinity cannot even be written (encodeModel refuses non-finite f32); patch the bytes and repair the checksum.
    for (const bad of [NaN, Infinity]) {
      const bytes = good.slice();
      const want = (scale(file.tensors, "rnn0.weight_ih_l0").data as Float32Array)[1];
      const f32 = new Float32Array(1);
      f32[0] = want;
      const pat = new Uint8Array(f32.buffer);
      let at = -1;
      for (let i = 0; i + 4 <= bytes.length && at < 0; i++) if (pat.every((b, k) => bytes[i + k] === b)) at = i;
      f32[0] = bad;
      bytes.set(new Uint8Array(f32.buffer), at);
      new DataView(bytes.buffer).setUint32(bytes.length - 4, lib.crc32(bytes.subarray(8, bytes.length - 4)), true);
      let err: unknown;
      try {
        loadModel(bytes);
      } catch (e) {
        err = e;
      }
      expect((err as InstanceType<typeof UnfoldError>).code).toBe("E_FORMAT"); // NON_FINITE in the reader
    }
    refused(redo((t) => {
      const s = scale(t, "head.weight");
      s.data = (s.data as Float32Array).slice(1);
      s.shape = [s.data.length];
    }), /'head\.weight' needs 7 row scales/);
    refused(redo((_t, h) => delete h.quantized), /int8 tensor 'param\/rnn0\.weight_ih_l0' but no quantization record/);
    refused(redo((_t, h) => (h.quantized = { bits: 4, scale: "row" })), /is quantized as/);
    refused(redo((t) => t.push({ name: "qscale/nothing", shape: [1], data: Float32Array.of(1) })), /row scales qscale\/nothing for no int8 weights/);
    expect((await import("../src/runtime/wasm.js")).heap().liveBytes).toBe(live0); // nothing half-loaded left behind
    const back = loadModel(good).model;
    expect(lib.isQuantized(back)).toBe(true);
    for (const x of [back, q, m]) x.dispose();
  });
});
