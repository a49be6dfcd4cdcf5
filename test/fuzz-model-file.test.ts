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
