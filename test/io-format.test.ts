// src/io/format.ts: the single-file model format. Round trips, the byte
// layout of docs/FORMAT.md checked byte by byte, and one specific error for
// every kind of damage: bad magic, newer version, truncation, any flipped
// byte (checksum), invalid header / tensor table, non-finite weights.
import * as fs from "node:fs";
import * as zlib from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import {
  FORMAT_VERSION,
  MAGIC,
  ModelFileError,
  crc32,
  decodeModel,
  encodeModel,
  type ModelFile,
  type ModelFileErrorCode,
} from "../src/io/index.js";
import { _byteOrder } from "../src/io/format.js";

const ascii = (s: string) => new TextEncoder().encode(s);

/** A small model with every awkward shape: matrix, vector, scalar [], empty [0], empty [3, 0]. */
function sample(): ModelFile {
  return {
    header: { arch: "lstm", hidden: 4, vocab: ["a", "é", "字", "🙂"], note: "ünïcödé ✓ \u0000 \"quoted\"", tensors: "mine" },
    tensors: [
      { name: "lstm.weight_ih", shape: [2, 3], data: Float32Array.from([1, -2, 3.5, -0, 1e-40, 3.4028234663852886e38]) },
      { name: "lstm.bias", shape: [5], data: Float32Array.from([0.1, 0.2, 0.3, 0.4, 0.5]) },
      { name: "scale", shape: [], data: Float32Array.from([42]) },
      { name: "empty", shape: [0], data: new Float32Array(0) },
      { name: "empty2d", shape: [3, 0], data: new Float32Array(0) },
      { name: "héad.字", shape: [1, 1, 2], data: Float32Array.from([-7, 7]) },
    ],
  };
}

/** Decode and expect a ModelFileError with `code` whose message matches `msg`. */
function expectError(bytes: Uint8Array | ArrayBuffer, code: ModelFileErrorCode, msg?: RegExp | string): ModelFileError {
  let caught: unknown;
  try {
    decodeModel(bytes);
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${code}`).toBeInstanceOf(ModelFileError);
  const err = caught as ModelFileError;
  expect(err.code, err.message).toBe("E_FORMAT");
  expect(err.reason, err.message).toBe(code);
  if (msg) expect(err.message).toMatch(msg);
  return err;
}

/** Layout facts of an encoded file, read independently of the decoder. */
function layout(bytes: Uint8Array) {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = v.getUint32(12, true);
  const dataStart = Math.ceil((16 + headerLen) / 4) * 4;
  const crcAt = bytes.length - 4;
  return { v, headerLen, dataStart, crcAt };
}

/**
 * Assemble a file by hand from a header object/string and raw data bytes,
 * with a correct checksum: for testing what the decoder does when the
 * checksum is intact but the contents are wrong.
 */
function craft(header: unknown, data: Uint8Array = new Uint8Array(0), opts: { version?: number; pad?: number } = {}) {
  const h = typeof header === "string" ? ascii(header) : ascii(JSON.stringify(header));
  const dataStart = Math.ceil((16 + h.length) / 4) * 4;
  const out = new Uint8Array(dataStart + data.length + 4);
  const v = new DataView(out.buffer);
  out.set(MAGIC, 0);
  v.setUint32(8, opts.version ?? 1, true);
  v.setUint32(12, h.length, true);
  out.set(h, 16);
  if (opts.pad !== undefined) out.fill(opts.pad, 16 + h.length, dataStart);
  out.set(data, dataStart);
  v.setUint32(out.length - 4, zlib.crc32(out.subarray(8, out.length - 4)), true);
  return out;
}

function f32le(values: number[]): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const v = new DataView(out.buffer);
  values.forEach((x, i) => v.setFloat32(i * 4, x, true));
  return out;
}

afterEach(() => {
  _byteOrder.hostLittleEndian = true;
});

describe("crc32", () => {
  it("matches the standard check values", () => {
    expect(crc32(new Uint8Array(0))).toBe(0);
    expect(crc32(ascii("123456789"))).toBe(0xcbf43926);
    expect(crc32(ascii("a"))).toBe(0xe8b7be43);
    expect(crc32(ascii("The quick brown fox jumps over the lazy dog"))).toBe(0x414fa339);
    expect(crc32(new Uint8Array(32))).toBe(0x190a55ad); // 32 zero bytes
    expect(crc32(new Uint8Array(32).fill(0xff))).toBe(0xff6cab0b);
  });

  it("chains through seed like zlib: crc32(b, crc32(a)) == crc32(a ++ b)", () => {
    const all = ascii("123456789");
    for (let cut = 0; cut <= all.length; cut++) {
      expect(crc32(all.subarray(cut), crc32(all.subarray(0, cut)))).toBe(0xcbf43926);
    }
  });

  it("agrees with node:zlib on random data of many lengths", () => {
    let x = 12345;
    for (const n of [1, 2, 3, 4, 7, 255, 256, 1000, 65537]) {
      const b = new Uint8Array(n);
      for (let i = 0; i < n; i++) b[i] = (x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 24;
      expect(crc32(b)).toBe(zlib.crc32(b));
      expect(crc32(b, 0xdeadbeef)).toBe(zlib.crc32(b, 0xdeadbeef));
    }
  });
});

describe("encodeModel / decodeModel round trip", () => {
  it("returns the same header and tensors, bit for bit (incl. -0, subnormals, f32 max, [] and [0])", () => {
    const m = sample();
    const back = decodeModel(encodeModel(m));
    expect(back.header).toEqual(m.header);
    expect(back.tensors.map((t) => t.name)).toEqual(m.tensors.map((t) => t.name));
    for (const [i, t] of back.tensors.entries()) {
      expect(t.shape).toEqual(m.tensors[i].shape);
      expect(t.data).toBeInstanceOf(Float32Array);
      expect(new Uint32Array(t.data.buffer, t.data.byteOffset, t.data.length)).toEqual(
        new Uint32Array(m.tensors[i].data.buffer, m.tensors[i].data.byteOffset, m.tensors[i].data.length),
      );
    }
    expect(Object.is(back.tensors[0].data[3], -0)).toBe(true);
    expect(back.tensors[2].shape).toEqual([]);
    expect(back.tensors[2].data[0]).toBe(42);
  });

  it("handles no tensors and an empty header", () => {
    const back = decodeModel(encodeModel({ header: {}, tensors: [] }));
    expect(back).toEqual({ header: {}, tensors: [] });
  });

  it("keeps the caller's fields under `model`, so a field named `tensors` cannot collide", () => {
    const bytes = encodeModel(sample());
    const { headerLen } = layout(bytes);
    const json = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + headerLen)));
    expect(Object.keys(json).sort()).toEqual(["model", "tensors"]);
    expect(json.model.tensors).toBe("mine");
    expect(decodeModel(bytes).header.tensors).toBe("mine");
  });

  it("accepts an ArrayBuffer and a Uint8Array at an odd byte offset; data is copied out and 4-byte aligned", () => {
    const bytes = encodeModel(sample());
    const big = new Uint8Array(bytes.length + 3);
    big.set(bytes, 3);
    const odd = big.subarray(3);
    for (const input of [bytes.slice().buffer, odd]) {
      const back = decodeModel(input);
      for (const t of back.tensors) {
        expect(t.data.byteOffset % 4).toBe(0);
        expect(t.data.buffer).not.toBe(input instanceof Uint8Array ? input.buffer : input);
      }
      expect(back.tensors[1].data[4]).toBeCloseTo(0.5, 7);
    }
    // Later changes to the input do not reach the decoded tensors.
    const back = decodeModel(odd);
    odd.fill(0);
    expect(back.tensors[5].data[0]).toBe(-7);
  });

  it("encodes tensors given as views into a larger buffer at any offset", () => {
    const backing = new Float32Array([9, 9, 1, 2, 3, 9]);
    const bytes = encodeModel({ header: {}, tensors: [{ name: "w", shape: [3], data: backing.subarray(2, 5) }] });
    expect(Array.from(decodeModel(bytes).tensors[0].data)).toEqual([1, 2, 3]);
  });

  it("writes identical bytes on the DataView (big-endian host) path and reads them back", () => {
    const le = encodeModel(sample());
    _byteOrder.hostLittleEndian = false;
    const be = encodeModel(sample());
    expect(be).toEqual(le);
    const back = decodeModel(le);
    expect(back.tensors[0].data).toEqual(sample().tensors[0].data);
    expect(back.tensors[5].data).toEqual(sample().tensors[5].data);
  });

  it("does not modify the caller's tensors or shapes", () => {
    const m = sample();
    const bytes = encodeModel(m);
    m.tensors[0].shape.push(99);
    expect(decodeModel(bytes).tensors[0].shape).toEqual([2, 3]);
  });
});

describe("byte layout (docs/FORMAT.md)", () => {
  const bytes = encodeModel(sample());
  const { v, headerLen, dataStart, crcAt } = layout(bytes);

  it("starts with the magic UNFOLDRN, then u32 LE version 2 (all tensors f32), then u32 LE header length", () => {
    expect(new TextDecoder().decode(bytes.subarray(0, 8))).toBe("UNFOLDRN");
    expect(Array.from(bytes.subarray(0, 8))).toEqual(Array.from(MAGIC));
    expect(Array.from(bytes.subarray(8, 12))).toEqual([2, 0, 0, 0]);
    expect(FORMAT_VERSION).toBe(3); // written only for files with f16 / int8 tensors
    const json = new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(16, 16 + headerLen));
    expect(() => JSON.parse(json)).not.toThrow();
    expect(json.startsWith("{") && json.endsWith("}")).toBe(true);
  });

  it("has a tensor table with byte offsets from the data section start and lengths in values", () => {
    const json = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + headerLen)));
    expect(json.tensors).toEqual([
      { name: "lstm.weight_ih", shape: [2, 3], offset: 0, length: 6 },
      { name: "lstm.bias", shape: [5], offset: 24, length: 5 },
      { name: "scale", shape: [], offset: 44, length: 1 },
      { name: "empty", shape: [0], offset: 48, length: 0 },
      { name: "empty2d", shape: [3, 0], offset: 48, length: 0 },
      { name: "héad.字", shape: [1, 1, 2], offset: 48, length: 2 },
    ]);
    expect(crcAt - dataStart).toBe(56); // 14 values
  });

  it("zero-pads the header so the data section starts at a multiple of 4, for every header length mod 4", () => {
    const pads = new Set<number>();
    for (let extra = 0; extra < 8; extra++) {
      const b = encodeModel({ header: { s: "x".repeat(extra) }, tensors: [{ name: "w", shape: [1], data: Float32Array.of(1.5) }] });
      const l = layout(b);
      expect(l.dataStart % 4).toBe(0);
      expect(l.dataStart - (16 + l.headerLen)).toBeLessThan(4);
      pads.add(l.dataStart - (16 + l.headerLen));
      for (let i = 16 + l.headerLen; i < l.dataStart; i++) expect(b[i]).toBe(0);
      expect(l.v.getFloat32(l.dataStart, true)).toBe(1.5);
      expect(b.length).toBe(l.dataStart + 4 + 4);
    }
    expect([...pads].sort()).toEqual([0, 1, 2, 3]);
  });

  it("stores the values as little-endian f32 in table order", () => {
    const all = sample().tensors.flatMap((t) => Array.from(t.data));
    for (let i = 0; i < all.length; i++) expect(v.getFloat32(dataStart + 4 * i, true)).toBe(all[i]);
    expect(Array.from(bytes.subarray(dataStart, dataStart + 4))).toEqual([0x00, 0x00, 0x80, 0x3f]); // 1.0f
  });

  it("ends with the u32 LE CRC-32 of bytes [8, end of data)", () => {
    expect(v.getUint32(crcAt, true)).toBe(zlib.crc32(bytes.subarray(8, crcAt)));
    expect(v.getUint32(crcAt, true)).toBe(crc32(bytes.subarray(8, crcAt)));
  });
});

describe("decodeModel rejects damage, each with its own error", () => {
  const good = encodeModel(sample());
  const { headerLen, dataStart, crcAt } = layout(good);

  it("any single flipped byte after the version/length fields is a checksum error (header, padding, data, crc)", () => {
    const regions = { header: [16, 16 + headerLen], data: [dataStart, crcAt], crc: [crcAt, good.length] };
    for (const [region, [from, to]] of Object.entries(regions)) {
      for (let i = from; i < to; i++) {
        for (const mask of [0x01, 0x80, 0xff]) {
          const bad = good.slice();
          bad[i] ^= mask;
          const err = expectError(bad, "CHECKSUM", /^unfold-rnn: corrupt or truncated: checksum/);
          expect(err.message, `${region} byte ${i}`).toMatch(/re-save or re-download/);
        }
      }
    }
  });

  it("every single flipped bit anywhere in the file is rejected", () => {
    for (let i = 0; i < good.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const bad = good.slice();
        bad[i] ^= 1 << bit;
        expect(() => decodeModel(bad), `byte ${i} bit ${bit}`).toThrow(ModelFileError);
      }
    }
  });

  it("wrong magic: not an unfold-rnn model file", () => {
    const bad = good.slice();
    bad[0] = 0x50; // "PNFOLDRN"
    expectError(bad, "BAD_MAGIC", /^unfold-rnn: not an unfold-rnn model file/);
    expectError(ascii('{"model": {}}'), "BAD_MAGIC", /not an unfold-rnn model file/);
    expectError(ascii("PK\u0003\u0004"), "BAD_MAGIC", /not an unfold-rnn model file/);
    expectError(new Uint8Array(100), "BAD_MAGIC", /check the path/);
  });

  it("a newer version says which version the file has and which this library reads", () => {
    const v4 = good.slice();
    new DataView(v4.buffer).setUint32(8, 4, true);
    const err = expectError(v4, "UNSUPPORTED_VERSION", /version 4/);
    expect(err.message).toMatch(/reads versions 1 to 3/);
    expect(err.message).toMatch(/upgrade unfold-rnn/);
    // A v4 file with a checksum that is valid for its bytes is still refused on version, not checksum.
    expectError(craft({ model: {}, tensors: [] }, undefined, { version: 4 }), "UNSUPPORTED_VERSION", /version 4/);
    // Version 1 (same layout) is still read.
    expect(decodeModel(craft({ model: {}, tensors: [] }, undefined, { version: 1 })).tensors).toEqual([]);
    const v0 = good.slice();
    new DataView(v0.buffer).setUint32(8, 0, true);
    expectError(v0, "UNSUPPORTED_VERSION", /version 0.*reads versions 1 to 3/);
  });

  it("truncation at any point is reported (truncated or checksum), never decoded", () => {
    const cases: [number, ModelFileErrorCode, RegExp][] = [
      [0, "TRUNCATED", /file is empty/],
      [3, "TRUNCATED", /only 3 bytes/],
      [8, "TRUNCATED", /shorter than the smallest/],
      [12, "TRUNCATED", /shorter than the smallest/],
      [16, "TRUNCATED", /shorter than the smallest/],
      [20, "TRUNCATED", /header says it is \d+ bytes but the file has only 20/],
      [16 + (headerLen >> 1), "TRUNCATED", /header says/],
      [dataStart, "TRUNCATED", /header says/], // CRC would not fit after the header
      [dataStart + 4, "CHECKSUM", /^unfold-rnn: corrupt or truncated: checksum/],
      [dataStart + 13, "CHECKSUM", /^unfold-rnn: corrupt or truncated: checksum/],
      [crcAt, "CHECKSUM", /^unfold-rnn: corrupt or truncated: checksum/],
      [good.length - 1, "CHECKSUM", /^unfold-rnn: corrupt or truncated: checksum/],
    ];
    for (const [n, code, msg] of cases) expectError(good.subarray(0, n), code, msg);
    for (let n = 0; n < good.length; n++) expect(() => decodeModel(good.subarray(0, n)), `cut at ${n}`).toThrow(ModelFileError);
  });

  it("a header length beyond the end of the file is truncated", () => {
    const bad = good.slice();
    new DataView(bad.buffer).setUint32(12, 0xfffffff0, true);
    expectError(bad, "TRUNCATED", /header says it is 4294967280 bytes/);
    for (const len of [0x7ffffffd, 0x80000000, 0xffffffff, good.length]) {
      new DataView(bad.buffer).setUint32(12, len, true);
      expectError(bad, "TRUNCATED", new RegExp(`header says it is ${len} bytes`));
    }
  });

  it("trailing junk after the file breaks the checksum", () => {
    const longer = new Uint8Array(good.length + 4);
    longer.set(good);
    expectError(longer, "CHECKSUM");
  });
});

describe("decodeModel validates header and tensor table even when the checksum is intact", () => {
  const entry = (over: Record<string, unknown> = {}) => ({ name: "w", shape: [2], offset: 0, length: 2, ...over });
  const two = f32le([1, 2]);

  it("accepts a well-formed hand-made file", () => {
    expect(decodeModel(craft({ model: { a: 1 }, tensors: [entry()] }, two)).tensors[0].data).toEqual(Float32Array.of(1, 2));
  });

  it.each([
    ["not JSON", "{model: 1", /not valid UTF-8 JSON/],
    ["invalid UTF-8", new Uint8Array([0x7b, 0xff, 0x7d]), /not valid UTF-8 JSON/],
    ["not an object", "[1, 2]", /not a JSON object/],
    ["no model", '{"tensors": []}', /no "model" object/],
    ["model not object", '{"model": 3, "tensors": []}', /no "model" object/],
    ["no tensors", '{"model": {}}', /no "tensors" list/],
  ])("bad header: %s", (_what, header, msg) => {
    const h = header instanceof Uint8Array ? new TextDecoder().decode(header) : header;
    const file = header instanceof Uint8Array ? craftRaw(header) : craft(h);
    const err = expectError(file, "BAD_HEADER", msg);
    expect(err.message).toMatch(/^unfold-rnn: invalid unfold-rnn model file/);
  });

  it("non-zero padding is rejected", () => {
    // header "{...}" length chosen so that padding exists
    let h = JSON.stringify({ model: {}, tensors: [] });
    while ((16 + h.length) % 4 === 0) h += " ";
    expectError(craft(h, undefined, { pad: 7 }), "BAD_HEADER", /padding byte/);
  });

  it.each([
    ["entry not an object", [3], two, /entry #0 is not an object/],
    ["missing name", [entry({ name: "" })], two, /entry #0 has no name/],
    ["duplicate name", [entry({ shape: [1], length: 1 }), entry({ shape: [1], length: 1, offset: 4 })], two, /"w" appears twice/],
    ["non-integer shape", [entry({ shape: [1.5] })], two, /"w" has shape \[1.5\]/],
    ["negative shape", [entry({ shape: [-2] })], two, /"w" has shape \[-2\]/],
    ["string shape", [entry({ shape: ["2"] })], two, /"w" has shape/],
    ["shape not a list", [entry({ shape: 2 })], two, /"w" has shape 2/],
    ["length != product(shape)", [entry({ shape: [3] })], f32le([1, 2, 3]), /"w" has length 2 but its shape \[3\] needs 3/],
    ["non-integer length", [entry({ length: 2.5 })], two, /"w" has length 2.5/],
    ["unaligned offset", [entry({ offset: 2 })], f32le([1, 2, 3]), /"w" has offset 2/],
    ["negative offset", [entry({ offset: -4 })], two, /"w" has offset -4/],
    ["out of range", [entry({ offset: 4 })], two, /"w" spans bytes \[4, 12\).*only 8 bytes \(out of range\)/],
    [
      "overlapping",
      [entry({ name: "a" }), entry({ name: "b", offset: 4 })],
      f32le([1, 2, 3]),
      /"b" overlaps tensor "a"/,
    ],
    ["gap between tensors", [entry({ shape: [1], length: 1, offset: 4 })], two, /bytes \[0, 4\) belong to no tensor/],
    ["unused bytes at the end", [entry()], f32le([1, 2, 3]), /bytes \[8, 12\) belong to no tensor/],
  ])("bad tensor table: %s", (_what, table, data, msg) => {
    const err = expectError(craft({ model: {}, tensors: table }, data), "BAD_TENSOR", msg);
    expect(err.message).toMatch(/re-save it/);
  });

  it("a NaN or infinite weight is an error naming the tensor, with nothing returned", () => {
    const table = [entry({ name: "ok" }), entry({ name: "lstm.weight_hh", offset: 8 })];
    for (const bad of [NaN, Infinity, -Infinity]) {
      const err = expectError(craft({ model: {}, tensors: table }, f32le([1, 2, 3, bad])), "NON_FINITE", /"lstm.weight_hh"/);
      expect(err.message).toMatch(/at index 1/);
      expect(err.message).toMatch(/retrain or load an earlier checkpoint/);
    }
  });

  it("rejects input that is not bytes", () => {
    expect(() => decodeModel("UNFOLDRN" as unknown as Uint8Array)).toThrow(/expected a Uint8Array or ArrayBuffer/);
  });
});

/** Like craft(), but with raw header bytes. */
function craftRaw(h: Uint8Array): Uint8Array {
  const dataStart = Math.ceil((16 + h.length) / 4) * 4;
  const out = new Uint8Array(dataStart + 4);
  const v = new DataView(out.buffer);
  out.set(MAGIC, 0);
  v.setUint32(8, 1, true);
  v.setUint32(12, h.length, true);
  out.set(h, 16);
  v.setUint32(out.length - 4, zlib.crc32(out.subarray(8, out.length - 4)), true);
  return out;
}

describe("encodeModel refuses what it cannot write faithfully", () => {
  const t = (over: Record<string, unknown>) => ({ name: "w", shape: [2], data: Float32Array.of(1, 2), ...over });
  const enc = (tensors: unknown[], header: unknown = {}) => () =>
    encodeModel({ header, tensors } as unknown as ModelFile);

  it("NaN and ±Infinity, naming the tensor and index", () => {
    for (const bad of [NaN, Infinity, -Infinity]) {
      const f = enc([t({ name: "ok" }), t({ name: "gru.bias_hh", data: Float32Array.of(0, bad) })]);
      expect(f).toThrow(ModelFileError);
      expect(f).toThrow(/tensor "gru.bias_hh" has a non-finite value .* at index 1/);
    }
  });

  it("bad names, shapes, data and headers", () => {
    expect(enc([t({ name: "" })])).toThrow(/tensor #0 needs a non-empty string name/);
    expect(enc([t({}), t({})])).toThrow(/"w" is used twice/);
    expect(enc([t({ shape: [2.5] })])).toThrow(/"w" has shape \[2.5\]/);
    expect(enc([t({ shape: [-1] })])).toThrow(/non-negative integers/);
    expect(enc([t({ shape: [3] })])).toThrow(/"w" has 2 values but shape \[3\] needs 3/);
    expect(enc([t({ data: [1, 2] })])).toThrow(/"w" data must be a Float32Array/);
    expect(enc([t({ data: Float64Array.of(1, 2) })])).toThrow(/must be a Float32Array/);
    expect(enc([], null)).toThrow(/header must be a plain object/);
    expect(enc([], [1])).toThrow(/header must be a plain object/);
    expect(enc([], { n: 1n })).toThrow(/header cannot be serialised as JSON/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(enc([], cyclic)).toThrow(/header cannot be serialised as JSON/);
    expect(() => encodeModel({ header: {}, tensors: null } as unknown as ModelFile)).toThrow(/tensors must be an array/);
  });
});

describe("runtime neutrality", () => {
  it("format.ts, f16.ts and index.ts import nothing from Node (browser and edge bundles stay clean)", () => {
    for (const f of ["format.ts", "index.ts", "f16.ts"]) {
      const src = fs.readFileSync(new URL(`../src/io/${f}`, import.meta.url), "utf8");
      expect(src, f).not.toMatch(/from\s+["'](node:|fs|path|crypto|buffer)/);
      expect(src, f).not.toMatch(/\bBuffer\b|\bprocess\b|require\(/);
      expect(src, f).not.toMatch(/from\s+["']\.\/node(\.js)?["']/);
    }
  });
});

describe("version 3: f16 and int8 tensors", () => {
  const tensors: ModelFile["tensors"] = [
    { name: "w8", shape: [2, 3], data: Int8Array.of(-128, -1, 0, 1, 127, 5), dtype: "i8" },
    { name: "s", shape: [2], data: Float32Array.of(0.5, 2) },
    { name: "h", shape: [3], data: Uint16Array.of(0x3c00, 0xc000, 0x0001), dtype: "f16" },
    { name: "e", shape: [0], data: new Int8Array(0), dtype: "i8" },
  ];
  const bytes = encodeModel({ header: { k: 1 }, tensors });
  const { headerLen, dataStart, crcAt } = layout(bytes);
  const json = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + headerLen)));

  it("is written as version 3, each tensor's bytes padded with zeros to a multiple of 4, the dtype in the table", () => {
    expect(Array.from(bytes.subarray(8, 12))).toEqual([3, 0, 0, 0]);
    expect(json.tensors).toEqual([
      { name: "w8", shape: [2, 3], offset: 0, length: 6, dtype: "i8" },
      { name: "s", shape: [2], offset: 8, length: 2 },
      { name: "h", shape: [3], offset: 16, length: 3, dtype: "f16" },
      { name: "e", shape: [0], offset: 24, length: 0, dtype: "i8" },
    ]);
    expect(crcAt - dataStart).toBe(24);
    expect(Array.from(bytes.subarray(dataStart, dataStart + 8))).toEqual([0x80, 0xff, 0, 1, 0x7f, 5, 0, 0]);
    expect(Array.from(bytes.subarray(dataStart + 16, dataStart + 24))).toEqual([0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00, 0, 0]);
  });

  it("reads back every dtype as its own array type, bit for bit", () => {
    const back = decodeModel(bytes);
    expect(back.tensors.map((t) => [t.name, t.dtype ?? "f32", t.data.constructor.name])).toEqual([["w8", "i8", "Int8Array"], ["s", "f32", "Float32Array"], ["h", "f16", "Uint16Array"], ["e", "i8", "Int8Array"]]);
    back.tensors.forEach((t, i) => expect(Array.from(t.data)).toEqual(Array.from(tensors[i].data)));
  });

  it("refuses a dtype in a version 1-2 file, an unknown dtype, non-zero padding, f16 Inf/NaN, mismatched arrays", () => {
    const enc = (t: unknown[]) => () => encodeModel({ header: {}, tensors: t } as ModelFile);
    const h = (tweak: (t: Record<string, unknown>[]) => void, version = 3, data = bytes.slice(dataStart, crcAt)) => {
      const j = structuredClone(json);
      tweak(j.tensors);
      return craft(j, data, { version });
    };
    expectError(h(() => {}, 2), "BAD_TENSOR", /"w8" has a dtype \("i8"\), which version 2 files do not have/);
    expectError(h((t) => (t[0].dtype = "i4")), "BAD_TENSOR", /"w8" has dtype "i4"/);
    expectError(h((t) => (t[1].dtype = "f32")), "BAD_TENSOR", /"s" has dtype "f32"/);
    const d = bytes.slice(dataStart, crcAt);
    d[7] = 1; // padding after w8's 6 bytes
    expectError(h(() => {}, 3, d), "BAD_TENSOR", /"w8" has a non-zero padding byte/);
    const inf = bytes.slice(dataStart, crcAt);
    inf.set([0x00, 0x7c], 16); // +Infinity in f16
    expectError(h(() => {}, 3, inf), "NON_FINITE", /tensor "h" has a non-finite weight \(Infinity\) at index 0/);
    inf.set([0x01, 0xfe], 18);
    inf.set([0x00, 0x3c], 16);
    expectError(h(() => {}, 3, inf), "NON_FINITE", /tensor "h" has a non-finite weight \(NaN\) at index 1/);
    expectError(h((t) => (t[1].offset = 12)), "BAD_TENSOR", /overlaps|belong to no tensor/);
    expect(enc([{ name: "x", shape: [2], data: Float32Array.of(1, 2), dtype: "i8" }])).toThrow(/"x" data must be an Int8Array \(dtype i8\)/);
    expect(enc([{ name: "x", shape: [2], data: Int8Array.of(1, 2) }])).toThrow(/"x" data must be a Float32Array/);
    expect(enc([{ name: "x", shape: [2], data: Int8Array.of(1, 2), dtype: "u8" as "i8" }])).toThrow(/dtype "u8"/);
    expect(enc([{ name: "x", shape: [1], data: Uint16Array.of(0x7c00), dtype: "f16" }])).toThrow(/non-finite/);
  });
});

describe("f16 conversion (src/io/f16.ts)", () => {
  // An independent scalar binary16 decoder: sign * 2^(e - 15) * (1 + m/1024), subnormals 2^-14 * m/1024.
  const decode = (h: number): number => {
    const sign = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    if (e === 0x1f) return m ? NaN : sign * Infinity;
    if (e === 0) return sign * 2 ** -14 * (m / 1024);
    return sign * 2 ** (e - 15) * (1 + m / 1024);
  };

  it("widening is exact: every one of the 65,536 bit patterns equals the scalar decoder's value", async () => {
    const { f16BitsToF32 } = await import("../src/io/f16.js");
    const wrong: string[] = [];
    for (let h = 0; h < 65536; h++) {
      const a = f16BitsToF32(h);
      const b = decode(h);
      if (Number.isNaN(b) ? !Number.isNaN(a) : !Object.is(a, b)) wrong.push(`0x${h.toString(16)}: ${a} != ${b}`);
    }
    expect(wrong).toEqual([]);
  });

  it("narrowing rounds to the nearest f16, ties to even; every f16 value survives the round trip", async () => {
    const { f16BitsToF32, f32ToF16Bits } = await import("../src/io/f16.js");
    const wrong: number[] = [];
    for (let h = 0; h < 65536; h++) {
      if (((h >> 10) & 0x1f) === 0x1f && h & 0x3ff) continue; // NaN
      if (f32ToF16Bits(f16BitsToF32(h)) !== h) wrong.push(h);
    }
    expect(wrong).toEqual([]);
    // Random f32 values: the result is a nearest f16 (no other f16 closer), ties to the even pattern.
    let seed = 5;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (let i = 0; i < 20000; i++) {
      const x = Math.fround((rnd() - 0.5) * 2 ** (Math.floor(rnd() * 44) - 28));
      const h = f32ToF16Bits(x);
      const v = decode(h);
      const up = decode((h & 0x7fff) === 0x7bff ? h : h + 1);
      const down = decode((h & 0x7fff) === 0 ? h ^ 0x8000 : h - 1);
      if (!(Math.abs(v - x) <= Math.abs(up - x) && Math.abs(v - x) <= Math.abs(down - x))) wrong.push(x);
    }
    expect(wrong).toEqual([]);
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie between 1 and 1+2^-10: to even (1)
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie: to even (1 + 2^-9)
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // past the largest finite half (65504) by half an ulp: Infinity
    expect(f32ToF16Bits(65519)).toBe(0x7bff);
    expect(f32ToF16Bits(2 ** -25)).toBe(0); // a tie with the smallest subnormal: to even (0)
    expect(f32ToF16Bits(2 ** -25 * 1.0001)).toBe(1);
    expect(f32ToF16Bits(-0)).toBe(0x8000);
  });
});
