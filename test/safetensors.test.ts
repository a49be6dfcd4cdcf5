// src/io/safetensors.ts: the safetensors container (checked against files
// written by an independent writer: tools/to_torch.py under PyTorch 1.13), and
// weights crossing between PyTorch and unfold-rnn in both directions
// (fixtures from tools/torch_safetensors.py and tools/safetensors_fixtures.mjs;
// CI needs no PyTorch). Outputs must agree within 1e-5 relative
// (|ours - torch| <= 1e-5 * max(1, |torch|)), both being float32.
//
// Bad files: each damage gets UnfoldError E_FORMAT naming the tensor, and the
// model keeps its weights.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UnfoldError } from "../src/errors.js";
import {
  decodeSafetensors, encodeSafetensors, entryToFloat32, loadSafetensors, modelFromSafetensors, saveSafetensors,
} from "../src/io/safetensors.js";
import { Sequential, type SequentialSpec } from "../src/model/sequential.js";
import { Seq2Seq } from "../src/model/seq2seq.js";
import { Vocab } from "../src/data/vocab.js";
import type { AttentionSession } from "../src/model/attention-session.js";
import { loadSafetensorsFile, saveSafetensorsFile } from "../src/node.js";
import { heap, init } from "../src/runtime/wasm.js";

const DIR = join(import.meta.dirname, "fixtures", "safetensors");
const TOL = 1e-5;
const read = (f: string) => new Uint8Array(readFileSync(join(DIR, f)));
const json = (f: string) => JSON.parse(readFileSync(join(DIR, f), "utf8"));

beforeAll(async () => {
  await init();
});

function relErr(ours: ArrayLike<number>, ref: ArrayLike<number>): number {
  expect(ours.length).toBe(ref.length);
  let m = 0;
  for (let i = 0; i < ref.length; i++) m = Math.max(m, Math.abs(ours[i] - ref[i]) / Math.max(1, Math.abs(ref[i])));
  return m;
}

/** Our head output for a fixture batch (time-major ids or features, lengths). */
function run(m: Sequential, x: { T: number; B: number; ids?: number[]; features?: number[]; lengths: number[] }): Float32Array {
  const { out, rows } = m.forwardPtr({
    T: x.T, B: x.B, lengths: Int32Array.from(x.lengths),
    ...(x.ids ? { ids: Int32Array.from(x.ids) } : { features: Float32Array.from(x.features!) }),
  });
  return heap().f32(out, rows * m.spec.output.size).slice();
}

/** Keep outputs at real steps only (many-to-many, time-major [T, B, O]). */
function real(y: ArrayLike<number>, x: { T: number; B: number; lengths: number[] }, O: number): number[] {
  const r: number[] = [];
  for (let t = 0; t < x.T; t++) for (let b = 0; b < x.B; b++) if (t < x.lengths[b]) for (let o = 0; o < O; o++) r.push(y[(t * x.B + b) * O + o]);
  return r;
}

/** A file from a header object and data bytes, written by hand (not by our encoder). */
function rawFile(header: object, data: Uint8Array, claim?: number): Uint8Array {
  const h = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(claim ?? h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

const f32bytes = (v: number[]) => new Uint8Array(Float32Array.from(v).buffer);

describe("the container", () => {
  it("encodes the documented layout byte for byte and decodes it back", () => {
    const bytes = encodeSafetensors([["b", { shape: [2], data: Float32Array.from([1.5, -2]) }], ["a", { shape: [1, 1], data: Float32Array.from([3]) }]], { note: "hi" });
    const dv = new DataView(bytes.buffer);
    const n = Number(dv.getBigUint64(0, true));
    expect((8 + n) % 8).toBe(0); // padded with spaces so tensors start 8-byte aligned
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    expect(header).toEqual({ __metadata__: { note: "hi" }, b: { dtype: "F32", shape: [2], data_offsets: [0, 8] }, a: { dtype: "F32", shape: [1, 1], data_offsets: [8, 12] } });
    expect([dv.getFloat32(8 + n, true), dv.getFloat32(12 + n, true), dv.getFloat32(16 + n, true)]).toEqual([1.5, -2, 3]);
    expect(bytes.length).toBe(8 + n + 12);
    const d = decodeSafetensors(bytes);
    expect(d.metadata).toEqual({ note: "hi" });
    expect([...d.tensors.keys()]).toEqual(["b", "a"]);
    expect(Array.from(entryToFloat32("a", d.tensors.get("a")!))).toEqual([3]);
  });

  it("reads files written by an independent writer (PyTorch, tools/to_torch.py) with the right names and shapes", () => {
    const d = decodeSafetensors(read("torch_gru_classifier.safetensors"));
    expect(d.metadata.format).toBe("pt");
    expect(Object.fromEntries([...d.tensors].map(([k, e]) => [k, e.shape]))).toEqual({
      "embedding.weight": [10, 6], "rnn0.weight_ih_l0": [36, 6], "rnn0.weight_hh_l0": [36, 12], "rnn0.bias_ih_l0": [36], "rnn0.bias_hh_l0": [36], "head.weight": [3, 12], "head.bias": [3],
    });
  });

  it("converts F64, F16 and BF16 to float32 exactly; refuses integer weights by name", () => {
    const f64 = new Uint8Array(Float64Array.from([0.1, -3]).buffer);
    const f16 = new Uint8Array(Uint16Array.from([0x3c00, 0xc000, 0x0001, 0x7bff]).buffer); // 1, -2, 2^-24 (subnormal), 65504
    const bf16 = new Uint8Array(Uint16Array.from([0x3f80, 0xc0a0]).buffer); // 1, -5
    const file = rawFile({ a: { dtype: "F64", shape: [2], data_offsets: [0, 16] }, b: { dtype: "F16", shape: [4], data_offsets: [16, 24] }, c: { dtype: "BF16", shape: [2], data_offsets: [24, 28] }, d: { dtype: "I64", shape: [1], data_offsets: [28, 36] } },
      Uint8Array.from([...f64, ...f16, ...bf16, ...new Uint8Array(8)]));
    const t = decodeSafetensors(file).tensors;
    expect(Array.from(entryToFloat32("a", t.get("a")!))).toEqual([Math.fround(0.1), -3]);
    expect(Array.from(entryToFloat32("b", t.get("b")!))).toEqual([1, -2, 2 ** -24, 65504]);
    expect(Array.from(entryToFloat32("c", t.get("c")!))).toEqual([1, -5]);
    expectFormatError(() => entryToFloat32("d", t.get("d")!), "d", /I64/);
  });

  it("rejects damaged containers with a message saying what is wrong", () => {
    const ok = { x: { dtype: "F32", shape: [2], data_offsets: [0, 8] } };
    const data = f32bytes([1, 2]);
    const cases: [string, Uint8Array, RegExp, string | undefined][] = [
      ["shorter than 8 bytes", new Uint8Array(5), /shorter than the 8-byte/, undefined],
      ["header longer than the file", rawFile(ok, data, 10_000), /claims 10000 bytes but the file holds only/, undefined],
      ["header not JSON", rawFile(ok, data).map((b, i) => (i === 9 ? 0x7b : b)), /not valid UTF-8 JSON/, undefined],
      ["unknown dtype", rawFile({ x: { dtype: "F31", shape: [2], data_offsets: [0, 8] } }, data), /unknown dtype "F31"/, "x"],
      ["offsets past the end", rawFile({ x: { dtype: "F32", shape: [4], data_offsets: [0, 16] } }, data), /past its end/, "x"],
      ["offsets not matching the shape", rawFile({ x: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, data), /needs 12 bytes/, "x"],
      ["overlapping tensors", rawFile({ x: { dtype: "F32", shape: [2], data_offsets: [0, 8] }, y: { dtype: "F32", shape: [1], data_offsets: [4, 8] } }, data), /overlaps/, "y"],
      ["a hole", rawFile({ x: { dtype: "F32", shape: [1], data_offsets: [4, 8] } }, data), /hole/, "x"],
      ["trailing bytes", rawFile({ x: { dtype: "F32", shape: [1], data_offsets: [0, 4] } }, data), /trailing/, undefined],
      ["negative shape", rawFile({ x: { dtype: "F32", shape: [-2], data_offsets: [0, 8] } }, data), /invalid shape/, "x"],
      ["metadata not strings", rawFile({ __metadata__: { a: 1 }, ...ok }, data), /must be a string/, "__metadata__.a"],
    ];
    for (const [what, bytes, msg, name] of cases) expectFormatError(() => decodeSafetensors(bytes), name, msg, what);
  });
});

function expectFormatError(fn: () => unknown, name: string | undefined, msg: RegExp, what = ""): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err, what).toBeInstanceOf(UnfoldError);
  expect((err as UnfoldError).code, what).toBe("E_FORMAT");
  expect((err as UnfoldError).message, what).toMatch(msg);
  if (name) {
    expect((err as UnfoldError).param, what).toBe(name);
    expect((err as UnfoldError).message, what).toContain(name.replace(/^__metadata__\./, ""));
  }
}

describe("PyTorch -> unfold-rnn: models trained in PyTorch 1.13 give PyTorch's outputs here", () => {
  for (const name of ["torch_char_lstm", "torch_gru_classifier"]) {
    it(name, () => {
      const m = modelFromSafetensors(read(`${name}.safetensors`)) as Sequential;
      try {
        const x = json(`${name}.json`);
        const ours = run(m, x);
        const O = m.spec.output.size;
        const err = m.spec.mode === "many-to-many" ? relErr(real(ours, x, O), real(x.output, x, O)) : relErr(ours, x.output);
        console.log(`[safetensors] ${name}: max rel. error vs PyTorch ${err.toExponential(2)}`);
        expect(err).toBeLessThan(TOL);
      } finally {
        m.dispose();
      }
    });
  }
});

describe("unfold-rnn -> PyTorch: models trained here, loaded by tools/to_torch.py into torch modules, gave our outputs", () => {
  for (const name of ["ours_char_lstm", "ours_bigru_classifier", "ours_rnn_relu_series"]) {
    it(name, () => {
      const file = read(`${name}.safetensors`);
      const m = modelFromSafetensors(file) as Sequential;
      try {
        // The exporter writes exactly the bytes PyTorch read (with the same extra metadata, e.g. the vocabulary).
        const { format, "unfold.kind": kind, "unfold.spec": spec, ...extra } = decodeSafetensors(file).metadata;
        expect([format, kind, JSON.parse(spec)]).toEqual(["pt", "Sequential", m.toJSON()]);
        expect(Buffer.from(saveSafetensors(m, { metadata: extra })).equals(Buffer.from(file))).toBe(true);
        const x = json(`${name}.input.json`);
        const torchOut = json(`${name}.torch.json`).output;
        const ours = run(m, x);
        const O = m.spec.output.size;
        const err = m.spec.mode === "many-to-many" ? relErr(real(ours, x, O), real(torchOut, x, O)) : relErr(ours, torchOut);
        console.log(`[safetensors] ${name}: max rel. error vs PyTorch ${err.toExponential(2)}`);
        expect(err).toBeLessThan(TOL);
      } finally {
        m.dispose();
      }
    });
  }
});

describe("unfold-rnn -> PyTorch, Seq2Seq: tools/to_torch.py's encoder-decoder module gives our teacher-forced decoder logits", () => {
  for (const name of ["ours_seq2seq_lstm", "ours_seq2seq_vector"]) {
    it(name, () => {
      const file = read(`${name}.safetensors`);
      const m = modelFromSafetensors(file) as Seq2Seq;
      try {
        expect(m).toBeInstanceOf(Seq2Seq);
        expect(Buffer.from(saveSafetensors(m)).equals(Buffer.from(file))).toBe(true);
        const x = json(`${name}.input.json`);
        // Seq2Seq.encode is private; it is what generate() and fit() run first.
        (m as unknown as { encode(s: number[][], training: boolean): void }).encode(x.sources, false);
        const { out, rows } = m.decoder.forwardPtr({ T: x.T, B: x.B, ids: Int32Array.from(x.tokens) }, { state: "keep" });
        const ours = heap().f32(out, rows * m.spec.target.vocabSize).slice();
        m.decoder.resetState();
        const err = relErr(ours, json(`${name}.torch.json`).output);
        console.log(`[safetensors] ${name}: max rel. error vs PyTorch ${err.toExponential(2)}`);
        expect(err).toBeLessThan(TOL);
      } finally {
        m.dispose();
      }
    });
  }
});

describe("and back: our char LSTM trained on in PyTorch, saved by tools/to_torch.py, gives PyTorch's outputs here", () => {
  it("continued_char_lstm", () => {
    const m = modelFromSafetensors(read("continued_char_lstm.safetensors")) as Sequential;
    const before = modelFromSafetensors(read("ours_char_lstm.safetensors")) as Sequential;
    try {
      // PyTorch really trained it: the weights moved.
      expect(m.stateDict()["rnn0.weight_hh_l1"]).not.toEqual(before.stateDict()["rnn0.weight_hh_l1"]);
      const x = json("continued_char_lstm.json");
      const O = m.spec.output.size;
      const err = relErr(real(run(m, x), x, O), real(x.output, x, O));
      console.log(`[safetensors] continued_char_lstm: max rel. error vs PyTorch ${err.toExponential(2)}`);
      expect(err).toBeLessThan(TOL);
    } finally {
      m.dispose();
      before.dispose();
    }
  });
});

describe("ragged batches: padded bidirectional models cross unfold-rnn -> PyTorch (pack_padded_sequence) -> unfold-rnn with their vocabulary", () => {
  // Fixtures: tools/ragged_exchange_fixtures.mjs (trained here, vocabulary in the metadata), then
  // tools/torch_ragged_exchange.py (PyTorch 1.13: packed outputs, training on, a DDP-saved file).
  // The batches are ragged (lengths 2..12, unsorted) and their padding holds random token ids.
  const outputsMatch = (m: Sequential, x: { T: number; B: number; ids: number[]; lengths: number[] }, want: number[], what: string) => {
    const ours = run(m, x);
    const O = m.spec.output.size;
    const err = m.spec.mode === "many-to-many" ? relErr(real(ours, x, O), real(want, x, O)) : relErr(ours, want);
    console.log(`[safetensors] ${what}: max rel. error vs PyTorch on a ragged batch ${err.toExponential(2)}`);
    expect(err).toBeLessThan(TOL);
  };

  for (const name of ["ours_ragged_bigru_words", "ours_ragged_bilstm_tagger"]) {
    it(`${name}: PyTorch's packed outputs are ours`, () => {
      const m = modelFromSafetensors(read(`${name}.safetensors`)) as Sequential;
      try {
        expect(m.spec.recurrent[m.spec.recurrent.length - 1].bidirectional).toBe(true);
        const x = json(`${name}.input.json`);
        expect(new Set(x.lengths).size).toBeGreaterThan(3); // ragged
        outputsMatch(m, x, json(`${name}.torch.json`).output, name);
      } finally {
        m.dispose();
      }
    });
  }

  it("an attention Seq2Seq (bidirectional encoder, general score, input feeding): to_torch.py's module gives our streaming decoder's probabilities and weights on ragged sources", () => {
    const m = modelFromSafetensors(read("ours_ragged_seq2seq_attention.safetensors")) as Seq2Seq;
    try {
      const x = json("ours_ragged_seq2seq_attention.input.json");
      const t = json("ours_ragged_seq2seq_attention.torch.json");
      const V = m.spec.target.vocabSize;
      let errP = 0;
      let errW = 0;
      for (let b = 0; b < x.B; b++) {
        const s = m.session(x.sources[b]) as AttentionSession;
        for (let step = 0; step < x.target_lengths[b]; step++) {
          const p = s.step(x.tokens[step * x.B + b]);
          const row = (t.output as number[]).slice((step * x.B + b) * V, (step * x.B + b + 1) * V);
          const mx = Math.max(...row);
          const e = row.map((v) => Math.exp(v - mx));
          const sum = e.reduce((a, c) => a + c, 0);
          errP = Math.max(errP, relErr(p, e.map((v) => v / sum)));
          const w = (t.weights as number[]).slice((b * x.T + step) * x.S, (b * x.T + step) * x.S + x.source_lengths[b]); // [B, T, S]
          errW = Math.max(errW, relErr(s.attentionWeights(), w));
        }
        s.dispose();
      }
      console.log(`[safetensors] ours_ragged_seq2seq_attention: max rel. error vs PyTorch, probabilities ${errP.toExponential(2)}, weights ${errW.toExponential(2)}`);
      expect(errP).toBeLessThan(TOL);
      expect(errW).toBeLessThan(TOL);
    } finally {
      m.dispose();
    }
  });

  it("trained on in PyTorch and saved by to_torch.save: every metadata key (the vocabulary) and the spec survive; PyTorch's outputs here", () => {
    const ours = read("ours_ragged_bigru_words.safetensors");
    const back = read("torch_continued_bigru_words.safetensors");
    const before = decodeSafetensors(ours).metadata;
    const after = decodeSafetensors(back).metadata;
    for (const [k, v] of Object.entries(before)) expect(after[k], k).toBe(v);
    expect(after.trained).toMatch(/torch/);
    const vocab = JSON.parse(after.vocab) as string[];
    const text = readFileSync(join(import.meta.dirname, "..", "corpus", "sotu.txt"), "utf8").slice(0, 20000);
    expect(vocab).toEqual(Vocab.fromChars(text).tokens); // the vocabulary the model was trained with, usable as is
    const m = modelFromSafetensors(back) as Sequential;
    const m0 = modelFromSafetensors(ours) as Sequential;
    try {
      expect(m.toJSON()).toEqual(m0.toJSON());
      expect(m.stateDict()["rnn0.weight_hh_l0_reverse"]).not.toEqual(m0.stateDict()["rnn0.weight_hh_l0_reverse"]); // PyTorch trained it
      const x = json("torch_continued_bigru_words.json");
      outputsMatch(m, x, x.output, "torch_continued_bigru_words");
    } finally {
      m.dispose();
      m0.dispose();
    }
  });

  it("a DistributedDataParallel state dict ('module.' names): refused naming the prefix, loaded with { stripPrefix }", () => {
    const file = read("torch_ddp_bilstm_tagger.safetensors");
    expect([...decodeSafetensors(file).tensors.keys()].every((k) => k.startsWith("module."))).toBe(true);
    expectFormatError(() => modelFromSafetensors(file), "module.embedding.weight", /prefix "module\.": pass \{ stripPrefix: "module\." \}/);
    expectFormatError(() => modelFromSafetensors(file, { stripPrefix: "model." }), "module.embedding.weight", /pass \{ stripPrefix: "module\." \}/); // the wrong prefix: told the right one
    const m = modelFromSafetensors(file, { stripPrefix: "module." }) as Sequential;
    const again = new Sequential(m.toJSON());
    try {
      const x = json("torch_ddp_bilstm_tagger.json");
      outputsMatch(m, x, x.output, "torch_ddp_bilstm_tagger");
      loadSafetensors(again, file, { stripPrefix: "module." });
      expect(again.stateDict()).toEqual(m.stateDict());
    } finally {
      m.dispose();
      again.dispose();
    }
  });

  it("options: stripPrefix must be a string, unknown options are named, the spec may ride in the options", () => {
    const file = read("ours_ragged_bilstm_tagger.safetensors");
    const opt = (f: () => unknown, name: string) => {
      let err: unknown;
      try {
        f();
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(UnfoldError);
      expect((err as UnfoldError).code).toBe("E_OPTION");
      expect((err as UnfoldError).param).toBe(name);
    };
    opt(() => modelFromSafetensors(file, { stripPrefix: 3 } as never), "modelFromSafetensors: options.stripPrefix");
    opt(() => modelFromSafetensors(file, { strip: "module." } as never), "modelFromSafetensors: options.strip");
    const m = modelFromSafetensors(file) as Sequential;
    try {
      opt(() => loadSafetensors(m, file, { stripPrefix: ["module."] } as never), "loadSafetensors: options.stripPrefix");
      opt(() => loadSafetensors(m, file, { spec: m.toJSON() } as never), "loadSafetensors: options.spec");
      const bare = encodeSafetensors([...decodeSafetensors(file).tensors].map(([k, e]) => [`module.${k}`, { shape: e.shape, data: entryToFloat32(k, e) }]));
      const b = modelFromSafetensors(bare, { spec: m.toJSON(), stripPrefix: "module." });
      expect(b.stateDict()).toEqual(m.stateDict());
      b.dispose();
    } finally {
      m.dispose();
    }
  });
});

describe("loading into a model", () => {
  const spec: SequentialSpec = { input: { type: "tokens", vocabSize: 6, embeddingDim: 3 }, recurrent: [{ cell: "lstm", hiddenSize: 4, bidirectional: true }], output: { size: 6, loss: "xent" }, mode: "many-to-many", seed: 1 };
  let a: Sequential;
  let b: Sequential;
  beforeAll(() => {
    a = new Sequential(spec);
    b = new Sequential({ ...spec, seed: 2 });
  });
  afterAll(() => {
    a.dispose();
    b.dispose();
  });

  it("round-trips every weight exactly, under PyTorch's names, with the spec in the metadata", () => {
    const bytes = saveSafetensors(a, { metadata: { note: "test" } });
    const d = decodeSafetensors(bytes);
    expect([...d.tensors.keys()]).toEqual([...a.parameters().keys()]);
    expect(d.tensors.has("rnn0.weight_hh_l0_reverse")).toBe(true);
    expect(JSON.parse(d.metadata["unfold.spec"])).toEqual(spec);
    expect(d.metadata.note).toBe("test");
    loadSafetensors(b, bytes);
    for (const [k, v] of Object.entries(a.stateDict())) expect(b.stateDict()[k]).toEqual(v);
  });

  it("missing, extra, mis-shaped, non-finite or integer tensors: E_FORMAT naming the tensor, the model untouched", () => {
    const before = b.stateDict();
    const good = [...decodeSafetensors(saveSafetensors(a)).tensors].map(([k, e]) => [k, { shape: e.shape, data: entryToFloat32(k, e) }] as [string, { shape: number[]; data: Float32Array }]);
    const without = (n: string) => good.filter(([k]) => k !== n);
    const replace = (n: string, t: { shape: number[]; data: Float32Array }) => good.map(([k, v]) => [k, k === n ? t : v] as [string, typeof v]);
    const cases: [string, Uint8Array, string, RegExp][] = [
      ["missing", encodeSafetensors(without("rnn0.bias_hh_l0_reverse")), "rnn0.bias_hh_l0_reverse", /missing/],
      ["extra", encodeSafetensors([...good, ["rnn1.weight_ih_l0", { shape: [1], data: new Float32Array(1) }]]), "rnn1.weight_ih_l0", /unexpected tensor/],
      ["mis-shaped", encodeSafetensors(replace("head.weight", { shape: [8, 6], data: new Float32Array(48) })), "head.weight", /shape \[8, 6\], the model needs \[6, 8\]/],
      ["non-finite", encodeSafetensors(replace("head.bias", { shape: [6], data: Float32Array.from([0, 0, NaN, 0, 0, 0]) })), "head.bias", /non-finite/],
      ["integer dtype", rawFile({ "embedding.weight": { dtype: "I32", shape: [6, 3], data_offsets: [0, 72] } }, new Uint8Array(72)), "embedding.weight", /dtype I32/],
    ];
    for (const [what, bytes, name, msg] of cases) {
      // the integer-dtype file also misses every other tensor; fill them in so the dtype is what fails
      const file = what === "integer dtype" ? withOthers(bytes, good, name) : bytes;
      expectFormatError(() => loadSafetensors(b, file), name, msg, what);
      const after = b.stateDict();
      for (const [k, v] of Object.entries(before)) expect(after[k], `${what}: ${k} changed`).toEqual(v);
    }
  });

  it("stripPrefix reads a DistributedDataParallel state dict ('module.' names)", () => {
    const d = decodeSafetensors(saveSafetensors(a));
    const prefixed = encodeSafetensors([...d.tensors].map(([k, e]) => [`module.${k}`, { shape: e.shape, data: entryToFloat32(k, e) }]));
    expectFormatError(() => loadSafetensors(b, prefixed), "module.embedding.weight", /unexpected tensor.*pass \{ stripPrefix: "module\." \}/);
    loadSafetensors(b, prefixed, { stripPrefix: "module." });
    expect(b.stateDict()["head.weight"]).toEqual(a.stateDict()["head.weight"]);
  });

  it("a Seq2Seq round-trips through modelFromSafetensors; a file without a spec asks for one", () => {
    const s = new Seq2Seq({ source: { type: "tokens", vocabSize: 7, embeddingDim: 3 }, target: { vocabSize: 6, embeddingDim: 3, bosId: 0, eosId: 1 }, recurrent: { cell: "gru", hiddenSize: 4 }, seed: 3 });
    const bytes = saveSafetensors(s);
    const back = modelFromSafetensors(bytes) as Seq2Seq;
    try {
      expect(back).toBeInstanceOf(Seq2Seq);
      expect(back.stateDict()).toEqual(s.stateDict());
      expect(back.generate([[2, 3, 4]], { maxLength: 5 })).toEqual(s.generate([[2, 3, 4]], { maxLength: 5 }));
      const bare = encodeSafetensors([...decodeSafetensors(bytes).tensors].map(([k, e]) => [k, { shape: e.shape, data: entryToFloat32(k, e) }]));
      expectFormatError(() => modelFromSafetensors(bare), "__metadata__.unfold.spec", /pass the model's spec/);
      const again = modelFromSafetensors(bare, { kind: "Seq2Seq", spec: s.toJSON() });
      expect(again.stateDict()).toEqual(s.stateDict());
      again.dispose();
    } finally {
      back.dispose();
      s.dispose();
    }
  });

  it("files on disk (unfold-rnn/node): saveSafetensorsFile / loadSafetensorsFile", async () => {
    const dir = mkdtempSync(join(tmpdir(), "unfold-st-"));
    try {
      await saveSafetensorsFile(join(dir, "m.safetensors"), a);
      const c = new Sequential({ ...spec, seed: 9 });
      await loadSafetensorsFile(join(dir, "m.safetensors"), c);
      expect(c.stateDict()).toEqual(a.stateDict());
      c.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** `file`'s tensors plus every tensor of `good` it lacks (so one bad tensor is the only fault). */
function withOthers(file: Uint8Array, good: [string, { shape: number[]; data: Float32Array }][], bad: string): Uint8Array {
  const d = decodeSafetensors(file);
  const e = d.tensors.get(bad)!;
  const rest = good.filter(([k]) => k !== bad);
  const restBytes = decodeSafetensors(encodeSafetensors(rest));
  // Rebuild by hand: the bad (integer) tensor first, then the float ones.
  const header: Record<string, object> = { [bad]: { dtype: e.dtype, shape: e.shape, data_offsets: [0, e.bytes.length] } };
  const parts: Uint8Array[] = [e.bytes];
  let off = e.bytes.length;
  for (const [k, t] of restBytes.tensors) {
    header[k] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + t.bytes.length] };
    parts.push(t.bytes);
    off += t.bytes.length;
  }
  const data = new Uint8Array(off);
  let p = 0;
  for (const x of parts) {
    data.set(x, p);
    p += x.length;
  }
  return rawFile(header, data);
}
