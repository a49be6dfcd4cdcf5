/**
 * The single-file model format (`.unfold`): one JSON header describing the
 * model and a table of named f32 tensors, followed by the tensors' raw
 * little-endian bytes and a CRC-32 of everything after the magic.
 *
 * Runtime-neutral: no Node imports, only `TextEncoder`/`TextDecoder`,
 * `DataView` and typed arrays, so it works in Node, browsers and edge
 * runtimes. The byte-by-byte layout is documented in `docs/FORMAT.md`.
 *
 * ```
 * offset        size  field
 * 0             8     magic "UNFOLDRN"
 * 8             4     u32 LE format version (3 with f16 / int8 tensors, else 2; 1 is read too)
 * 12            4     u32 LE header byte length H
 * 16            H     UTF-8 JSON header {"model": {...}, "tensors": [...]}
 * 16+H          P     zero padding, P = (4 - (16+H) % 4) % 4
 * D = 16+H+P    N     data section: the values of all tensors, table order (f32 LE;
 *                     from version 3 a tensor may be f16 LE or int8, zero-padded to 4 bytes)
 * D+N           4     u32 LE CRC-32 (IEEE) of bytes [8, D+N)
 * ```
 */
import { UnfoldError } from "../errors.js";

/**
 * How a tensor's values are stored: `f32` (IEEE binary32, every version),
 * `f16` (IEEE binary16, from version 3) or `i8` (two's-complement int8, from
 * version 3; what the values mean, e.g. per-row scales, is the caller's).
 */
export type TensorDType = "f32" | "f16" | "i8";

/** Bytes per value of each dtype. */
const DTYPE_BYTES: Record<TensorDType, number> = { f32: 4, f16: 2, i8: 1 };

/** A named tensor as stored in a model file. `shape` `[]` is a scalar. */
export interface ModelTensor {
  /** Unique, non-empty name, e.g. `"lstm.0.weight_ih"`. */
  name: string;
  /** Dimensions; `data.length` equals their product (1 for `[]`). */
  shape: number[];
  /**
   * The values, row-major (last dimension fastest): a Float32Array (f32), a
   * Uint16Array of binary16 bit patterns (f16) or an Int8Array (i8).
   */
  data: Float32Array | Uint16Array | Int8Array;
  /** Storage type; must agree with `data` (default f32). */
  dtype?: TensorDType;
}

/** What {@link encodeModel} writes and {@link decodeModel} returns. */
export interface ModelFile {
  /** The caller's JSON-serialisable description of the model (architecture, vocab, ...). */
  header: Record<string, unknown>;
  /** The parameters, in file order. */
  tensors: ModelTensor[];
  /**
   * The oldest format version that may be written (2 or 3; default 2). Ask
   * for 3 when the header describes something a version-2 reader would load
   * without an error but compute differently (a model option it does not
   * know): such readers refuse version 3 and say to upgrade. Tensors with a
   * `dtype` always give version 3.
   */
  minVersion?: number;
}

/** One entry of the header's tensor table. */
export interface TensorEntry {
  /** The tensor's name (a PyTorch state-dict key). */
  name: string;
  /** Dimensions, outermost first (row-major). */
  shape: number[];
  /** Byte offset of the first value from the start of the data section (multiple of 4). */
  offset: number;
  /** Number of values (product of `shape`); the tensor occupies `align4(bytes(dtype) * length)` bytes. */
  length: number;
  /** Version 3: `"f16"` or `"i8"`; absent for f32. */
  dtype?: TensorDType;
}

/** Why a model file could not be encoded or decoded; `code` is stable for programs. */
export type ModelFileErrorCode =
  | "BAD_MAGIC"
  | "UNSUPPORTED_VERSION"
  | "TRUNCATED"
  | "CHECKSUM"
  | "BAD_HEADER"
  | "BAD_TENSOR"
  | "NON_FINITE"
  | "BAD_INPUT";

/**
 * Thrown by {@link encodeModel} and {@link decodeModel}; the message says what
 * is wrong and what to do. An {@link UnfoldError} with code `E_FORMAT`; the
 * detailed reason (`BAD_MAGIC`, `CHECKSUM`, ...) is in `reason`.
 */
export class ModelFileError extends UnfoldError {
  /** Machine-readable detailed reason. */
  readonly reason: ModelFileErrorCode;
  /** @param reason machine-readable detailed reason @param message what is wrong and what to do */
  /** A model-file error (code E_FORMAT) with the reason it was rejected. */
  constructor(reason: ModelFileErrorCode, message: string) {
    super("E_FORMAT", message, { expected: "a valid unfold-rnn model file", received: reason });
    this.name = "ModelFileError";
    this.reason = reason;
  }
}

/** The 8 bytes every model file starts with: ASCII "UNFOLDRN". */
export const MAGIC: Uint8Array = new Uint8Array([0x55, 0x4e, 0x46, 0x4f, 0x4c, 0x44, 0x52, 0x4e]);

/**
 * The newest format version this library writes and reads. Version 3 adds
 * f16 and int8 tensors (a `dtype` in the tensor table; quantized and
 * half-precision models). Version 2 (attention in Seq2Seq) has the byte
 * layout of version 1; only the header's model definition may say more
 * (`spec.attention`, a bidirectional encoder). Version 1 and 2 files still load.
 */
export const FORMAT_VERSION = 3;
/**
 * Version 3 adds f16 and int8 tensors (`dtype` in the tensor table). A file
 * whose tensors are all f32 is still written as version 2, byte for byte as
 * before, so older readers load it.
 */
const F32_VERSION = 2;
/** The oldest format version this library reads. */
export const MIN_FORMAT_VERSION = 1;

const PREAMBLE = 16; // magic (8) + version (4) + header length (4)
const CRC_BYTES = 4;

// ---------------------------------------------------------------------------
// CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320): the one in zlib,
// gzip, PNG. Byte-at-a-time table; ~1 GB/s is plenty for files written once.

const CRC_TABLE: Uint32Array = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/**
 * CRC-32 (IEEE, as zlib's `crc32`) of `bytes`.
 *
 * @param bytes the data.
 * @param seed the CRC of the bytes before these, to checksum data in pieces:
 *   `crc32(b, crc32(a))` equals `crc32(a ++ b)`. Default 0 (no prior data).
 * @returns the CRC as an unsigned 32-bit integer; `crc32("123456789")` is `0xCBF43926`.
 */
export function crc32(bytes: Uint8Array, seed = 0): number {
  if (!(bytes instanceof Uint8Array)) throw new UnfoldError("E_OPTION", "crc32: bytes must be a Uint8Array", { name: "bytes", expected: "a Uint8Array", received: bytes });
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new UnfoldError("E_OPTION", `crc32: seed must be a CRC (an integer in [0, 2^32)), got ${seed}`, { name: "seed", received: seed });
  let c = ~seed;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

// ---------------------------------------------------------------------------
// f32 <-> little-endian bytes. On little-endian hosts (all mainstream ones) a
// byte copy; elsewhere DataView, which is explicit about byte order.

/** @internal Test hook: force the DataView (big-endian host) path by setting `hostLittleEndian` false. */
export const _byteOrder = {
  hostLittleEndian: new Uint8Array(new Uint32Array([1]).buffer)[0] === 1,
};

function writeF32LE(dst: Uint8Array, at: number, src: Float32Array): void {
  if (_byteOrder.hostLittleEndian) {
    dst.set(new Uint8Array(src.buffer, src.byteOffset, src.byteLength), at);
    return;
  }
  const view = new DataView(dst.buffer, dst.byteOffset + at, src.length * 4);
  for (let i = 0; i < src.length; i++) view.setFloat32(i * 4, src[i], true);
}

function writeU16LE(dst: Uint8Array, at: number, src: Uint16Array): void {
  if (_byteOrder.hostLittleEndian) {
    dst.set(new Uint8Array(src.buffer, src.byteOffset, src.byteLength), at);
    return;
  }
  const view = new DataView(dst.buffer, dst.byteOffset + at, src.length * 2);
  for (let i = 0; i < src.length; i++) view.setUint16(i * 2, src[i], true);
}

function readU16LE(src: Uint8Array, at: number, length: number): Uint16Array {
  const out = new Uint16Array(length);
  if (_byteOrder.hostLittleEndian) {
    new Uint8Array(out.buffer).set(src.subarray(at, at + length * 2));
    return out;
  }
  const view = new DataView(src.buffer, src.byteOffset + at, length * 2);
  for (let i = 0; i < length; i++) out[i] = view.getUint16(i * 2, true);
  return out;
}

function readF32LE(src: Uint8Array, at: number, length: number): Float32Array {
  const out = new Float32Array(length); // fresh buffer: copied out, 4-byte aligned
  if (_byteOrder.hostLittleEndian) {
    new Uint8Array(out.buffer).set(src.subarray(at, at + length * 4));
    return out;
  }
  const view = new DataView(src.buffer, src.byteOffset + at, length * 4);
  for (let i = 0; i < length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

// ---------------------------------------------------------------------------

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function isFloat32Array(x: unknown): x is Float32Array {
  return x instanceof Float32Array || Object.prototype.toString.call(x) === "[object Float32Array]";
}

/** Product of a shape, or -1 when a dimension is not a non-negative safe integer or the product overflows. */
function shapeSize(shape: unknown): number {
  if (!Array.isArray(shape)) return -1;
  let n = 1;
  for (const d of shape) {
    if (typeof d !== "number" || !Number.isSafeInteger(d) || d < 0) return -1;
    n *= d;
  }
  return Number.isSafeInteger(n) ? n : -1;
}

/** Index of the first NaN or ±Infinity in `data`, or -1 (int8 is always finite). */
function firstNonFinite(data: Float32Array | Uint16Array | Int8Array): number {
  if (data instanceof Int8Array) return -1;
  if (data instanceof Uint16Array) {
    for (let i = 0; i < data.length; i++) if ((data[i] & 0x7c00) === 0x7c00) return i; // exponent all ones
    return -1;
  }
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v - v !== 0) return i; // NaN - NaN and Inf - Inf are NaN
  }
  return -1;
}

/**
 * Serialise a model to the single-file format (see `docs/FORMAT.md`).
 *
 * The caller's `header` is stored under the JSON key `"model"` beside the
 * tensor table, so none of its fields can collide with the format's own.
 * It must survive `JSON.stringify` (plain objects, arrays, strings, numbers,
 * booleans, null); values JSON drops (`undefined`, functions) are dropped.
 * NaN and ±Infinity are kept (as `{"$nonfinite": "NaN"}` markers that
 * {@link decodeModel} turns back into numbers).
 *
 * @param file.header JSON-serialisable description of the model.
 * @param file.tensors the parameters, written in this order.
 * @returns the complete file as bytes.
 * @throws ModelFileError (`BAD_INPUT`) for a header that is not a plain
 *   object or cannot be serialised, a tensor with an empty or duplicate name,
 *   a shape that is not a list of non-negative integers, data that is not a
 *   Float32Array or whose length is not the product of the shape;
 *   (`NON_FINITE`) for a NaN or ±Infinity value, naming the tensor.
 */
export function encodeModel(file: ModelFile): Uint8Array {
  if (!isPlainObject(file)) throw new ModelFileError("BAD_INPUT", "encodeModel: expected { header, tensors }");
  const { header, tensors } = file;
  if (!isPlainObject(header)) {
    throw new ModelFileError("BAD_INPUT", "encodeModel: header must be a plain object (e.g. { arch: 'lstm', ... })");
  }
  if (!Array.isArray(tensors)) {
    throw new ModelFileError("BAD_INPUT", "encodeModel: tensors must be an array of { name, shape, data }");
  }
  const table: TensorEntry[] = [];
  const seen = new Set<string>();
  let offset = 0;
  for (const [i, t] of tensors.entries()) {
    const name = t?.name;
    if (typeof name !== "string" || name.length === 0) {
      throw new ModelFileError("BAD_INPUT", `encodeModel: tensor #${i} needs a non-empty string name`);
    }
    if (seen.has(name)) {
      throw new ModelFileError("BAD_INPUT", `encodeModel: tensor name "${name}" is used twice; names must be unique`);
    }
    seen.add(name);
    const size = shapeSize(t.shape);
    if (size < 0) {
      throw new ModelFileError(
        "BAD_INPUT",
        `encodeModel: tensor "${name}" has shape ${JSON.stringify(t.shape)}; a shape is a list of non-negative integers ([] for a scalar)`,
      );
    }
    const dtype = t.dtype ?? "f32";
    if (dtype !== "f32" && dtype !== "f16" && dtype !== "i8") {
      throw new ModelFileError("BAD_INPUT", `encodeModel: tensor "${name}" has dtype ${JSON.stringify(t.dtype)}; use "f32", "f16" or "i8"`);
    }
    const typeOk = dtype === "f32" ? isFloat32Array(t.data) : dtype === "f16" ? t.data instanceof Uint16Array : t.data instanceof Int8Array;
    if (!typeOk) {
      const want = { f32: "a Float32Array", f16: "a Uint16Array of binary16 bits", i8: "an Int8Array" }[dtype];
      throw new ModelFileError("BAD_INPUT", `encodeModel: tensor "${name}" data must be ${want} (dtype ${dtype})`);
    }
    if (t.data.length !== size) {
      throw new ModelFileError(
        "BAD_INPUT",
        `encodeModel: tensor "${name}" has ${t.data.length} values but shape [${t.shape.join(", ")}] needs ${size}`,
      );
    }
    const bad = firstNonFinite(t.data);
    if (bad >= 0) {
      throw new ModelFileError(
        "NON_FINITE",
        `encodeModel: tensor "${name}" has a non-finite value (${t.data[bad]}) at index ${bad}; ` +
          "the model has diverged or is uninitialised — fix training (lower the learning rate, clip gradients) before saving",
      );
    }
    table.push(dtype === "f32" ? { name, shape: t.shape.slice(), offset, length: size } : { name, shape: t.shape.slice(), offset, length: size, dtype });
    offset += align4(size * DTYPE_BYTES[dtype]);
  }
  const minVersion = file.minVersion ?? F32_VERSION;
  if (!Number.isInteger(minVersion) || minVersion < F32_VERSION || minVersion > FORMAT_VERSION) {
    throw new ModelFileError("BAD_INPUT", `encodeModel: minVersion must be an integer from ${F32_VERSION} to ${FORMAT_VERSION}, got ${String(minVersion)}`);
  }
  const version = Math.max(minVersion, table.some((e) => e.dtype !== undefined) ? FORMAT_VERSION : F32_VERSION);
  const dataBytes = offset;

  let json: string | undefined;
  try {
    json = JSON.stringify({ model: header, tensors: table }, keepNonFinite);
  } catch (e) {
    throw new ModelFileError(
      "BAD_INPUT",
      `encodeModel: header cannot be serialised as JSON (${(e as Error).message}); keep it to plain data`,
    );
  }
  const headerBytes = new TextEncoder().encode(json);
  if (headerBytes.length > 0xffffffff) {
    throw new ModelFileError("BAD_INPUT", "encodeModel: header is larger than 4 GiB");
  }
  const dataStart = align4(PREAMBLE + headerBytes.length);
  const total = dataStart + dataBytes + CRC_BYTES;

  const out = new Uint8Array(total); // zero-filled: the padding is zeros
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  view.setUint32(8, version, true);
  view.setUint32(12, headerBytes.length, true);
  out.set(headerBytes, PREAMBLE);
  for (let i = 0; i < tensors.length; i++) {
    const at = dataStart + table[i].offset;
    const d = tensors[i].data;
    if (d instanceof Int8Array) out.set(new Uint8Array(d.buffer, d.byteOffset, d.length), at);
    else if (d instanceof Uint16Array) writeU16LE(out, at, d);
    else writeF32LE(out, at, d as Float32Array);
  }
  view.setUint32(total - CRC_BYTES, crc32(out.subarray(8, total - CRC_BYTES)), true);
  return out;
}

/**
 * JSON has no NaN or Infinity (`JSON.stringify` writes `null`), but a training
 * history may hold them (a diverged epoch's loss). The header keeps each as
 * the marker object `{"$nonfinite": "NaN" | "Infinity" | "-Infinity"}`, which
 * {@link restoreNonFinite} turns back into the number when reading.
 */
function keepNonFinite(_key: string, value: unknown): unknown {
  return typeof value === "number" && !Number.isFinite(value) ? { $nonfinite: String(value) } : value;
}

function restoreNonFinite(_key: string, value: unknown): unknown {
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const keys = Object.keys(value);
    const v = (value as { $nonfinite?: unknown }).$nonfinite;
    if (keys.length === 1 && (v === "NaN" || v === "Infinity" || v === "-Infinity")) return Number(v);
  }
  return value;
}

/** Round up to a multiple of 4. Plain arithmetic, not `& ~3`: lengths can exceed 2^31. */
function align4(n: number): number {
  return n + ((4 - (n % 4)) % 4);
}

/**
 * Parse and fully validate a model file made by {@link encodeModel}.
 *
 * Checks, in this order, each failing with a {@link ModelFileError} whose
 * message says what is wrong and what to do: the magic (`BAD_MAGIC`), the
 * version (`UNSUPPORTED_VERSION`), that the header and checksum fit in the
 * file (`TRUNCATED`), the CRC-32 (`CHECKSUM`), the JSON header
 * (`BAD_HEADER`), the tensor table — ranges, overlaps, gaps, shapes, lengths,
 * names (`BAD_TENSOR`) — and that every weight is finite (`NON_FINITE`).
 * Nothing is returned unless every check passes.
 *
 * @param bytes the whole file. Not modified and not retained.
 * @returns the caller's header (as stored under `"model"`) and the tensors in
 *   file order, each with its own freshly allocated (hence aligned) array: a
 *   Float32Array, or for version 3 tensors with a `dtype` a Uint16Array of
 *   binary16 bits (`"f16"`) or an Int8Array (`"i8"`).
 */
export function decodeModel(bytes: Uint8Array | ArrayBuffer): ModelFile {
  const buf = toBytes(bytes);
  const n = buf.length;

  // 1. Magic: is this our format at all? (An empty file or a prefix of the
  //    magic is most likely a write that never finished: say truncated.)
  if (n < MAGIC.length && buf.every((b, i) => b === MAGIC[i])) {
    throw new ModelFileError(
      "TRUNCATED",
      `corrupt or truncated unfold-rnn model file: ${n === 0 ? "the file is empty" : `only ${n} bytes long`}; re-save or re-download it`,
    );
  }
  if (n < MAGIC.length || MAGIC.some((b, i) => buf[i] !== b)) {
    throw new ModelFileError(
      "BAD_MAGIC",
      `not an unfold-rnn model file: it does not start with "UNFOLDRN"` +
        "; check the path, or that the file was saved by unfold-rnn",
    );
  }
  if (n < PREAMBLE + CRC_BYTES) {
    throw new ModelFileError(
      "TRUNCATED",
      `corrupt or truncated unfold-rnn model file: ${n} bytes is shorter than the smallest possible file (${PREAMBLE + CRC_BYTES}); re-save or re-download it`,
    );
  }
  const view = new DataView(buf.buffer, buf.byteOffset, n);

  // 2. Version: a newer file may have a different layout, so stop before reading more.
  const version = view.getUint32(8, true);
  if (version < MIN_FORMAT_VERSION || version > FORMAT_VERSION) {
    throw new ModelFileError(
      "UNSUPPORTED_VERSION",
      version > FORMAT_VERSION
        ? `unsupported unfold-rnn model file version ${version}: this library reads versions ${MIN_FORMAT_VERSION} to ${FORMAT_VERSION}; upgrade unfold-rnn to load it`
        : `unsupported unfold-rnn model file version ${version}: this library reads versions ${MIN_FORMAT_VERSION} to ${FORMAT_VERSION}; the file is corrupt`,
    );
  }

  // 3. Does the header (and the checksum after it) fit?
  const headerLen = view.getUint32(12, true);
  const dataStart = align4(PREAMBLE + headerLen);
  if (dataStart + CRC_BYTES > n) {
    throw new ModelFileError(
      "TRUNCATED",
      `corrupt or truncated unfold-rnn model file: the header says it is ${headerLen} bytes but the file has only ${n} bytes; re-save or re-download it`,
    );
  }

  // 4. Checksum over [version, end of data).
  const crcAt = n - CRC_BYTES;
  const stored = view.getUint32(crcAt, true);
  const actual = crc32(buf.subarray(8, crcAt));
  if (stored !== actual) {
    throw new ModelFileError(
      "CHECKSUM",
      `corrupt or truncated: checksum mismatch (file says 0x${hex32(stored)}, contents give 0x${hex32(actual)}); ` +
        "the file was damaged or only partly written — re-save or re-download it",
    );
  }

  // 5. The JSON header. The checksum passed, so a failure here means a writer bug, not disk damage.
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(buf.subarray(PREAMBLE, PREAMBLE + headerLen)), restoreNonFinite);
  } catch (e) {
    throw badHeader(`the header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (!isPlainObject(parsed)) throw badHeader("the header is not a JSON object");
  const model = parsed.model;
  if (!isPlainObject(model)) throw badHeader('the header has no "model" object');
  const rawTable = parsed.tensors;
  if (!Array.isArray(rawTable)) throw badHeader('the header has no "tensors" list');
  for (let i = PREAMBLE + headerLen; i < dataStart; i++) {
    if (buf[i] !== 0) throw badHeader(`padding byte at offset ${i} is not zero`);
  }

  // 6. The tensor table: every entry well-formed and inside the data section,
  //    no two overlapping, no bytes unaccounted for.
  const dataBytes = crcAt - dataStart;
  const table = validateTable(rawTable, dataBytes, version);

  // 7. Copy out and check the values.
  const tensors: ModelTensor[] = [];
  for (const e of table) {
    const at = dataStart + e.offset;
    const dtype = e.dtype ?? "f32";
    const used = e.length * DTYPE_BYTES[dtype];
    for (let i = at + used; i < at + align4(used); i++) {
      if (buf[i] !== 0) throw badTensor(`tensor "${e.name}" has a non-zero padding byte at data offset ${i - dataStart}`);
    }
    const data = dtype === "f32" ? readF32LE(buf, at, e.length) : dtype === "f16" ? readU16LE(buf, at, e.length) : new Int8Array(buf.buffer.slice(buf.byteOffset + at, buf.byteOffset + at + e.length));
    const bad = firstNonFinite(data);
    if (bad >= 0) {
      throw new ModelFileError(
        "NON_FINITE",
        `tensor "${e.name}" has a non-finite weight (${dtype === "f16" ? ((data[bad] & 0x3ff) !== 0 ? "NaN" : data[bad] & 0x8000 ? "-Infinity" : "Infinity") : data[bad]}) at index ${bad}; ` +
          "the model was saved after training diverged — retrain or load an earlier checkpoint",
      );
    }
    tensors.push(dtype === "f32" ? { name: e.name, shape: e.shape, data } : { name: e.name, shape: e.shape, data, dtype });
  }
  return { header: model, tensors };
}

function validateTable(rawTable: unknown[], dataBytes: number, version: number): TensorEntry[] {
  const table: TensorEntry[] = [];
  const names = new Set<string>();
  for (const [i, raw] of rawTable.entries()) {
    if (!isPlainObject(raw)) throw badTensor(`tensor table entry #${i} is not an object`);
    const { name, shape, offset, length, dtype } = raw;
    if (typeof name !== "string" || name.length === 0) throw badTensor(`tensor table entry #${i} has no name`);
    const what = `tensor "${name}"`;
    if (names.has(name)) throw badTensor(`${what} appears twice in the tensor table`);
    names.add(name);
    const size = shapeSize(shape);
    if (size < 0) {
      throw badTensor(`${what} has shape ${JSON.stringify(shape)}; dimensions must be non-negative integers`);
    }
    if (typeof length !== "number" || !Number.isSafeInteger(length) || length < 0) {
      throw badTensor(`${what} has length ${JSON.stringify(length)}; it must be a non-negative integer`);
    }
    if (length !== size) {
      throw badTensor(`${what} has length ${length} but its shape ${JSON.stringify(shape)} needs ${size} values`);
    }
    if (typeof offset !== "number" || !Number.isSafeInteger(offset) || offset < 0 || offset % 4 !== 0) {
      throw badTensor(`${what} has offset ${JSON.stringify(offset)}; it must be a non-negative multiple of 4`);
    }
    if (dtype !== undefined && (version < 3 || (dtype !== "f16" && dtype !== "i8"))) {
      throw badTensor(
        version < 3
          ? `${what} has a dtype (${JSON.stringify(dtype)}), which version ${version} files do not have`
          : `${what} has dtype ${JSON.stringify(dtype)}; a version 3 file has "f16", "i8" or none (f32)`,
      );
    }
    const bytes = align4(length * DTYPE_BYTES[(dtype as TensorDType | undefined) ?? "f32"]);
    if (offset + bytes > dataBytes) {
      throw badTensor(
        `${what} spans bytes [${offset}, ${offset + bytes}) but the data section has only ${dataBytes} bytes (out of range)`,
      );
    }
    const entry: TensorEntry = { name, shape: (shape as number[]).slice(), offset, length };
    if (dtype !== undefined) entry.dtype = dtype as TensorDType;
    table.push(entry);
  }
  // Overlaps and gaps: sort the non-empty extents by offset and walk them.
  const extents = table.filter((e) => e.length > 0).sort((a, b) => a.offset - b.offset);
  let end = 0;
  let prev: TensorEntry | null = null;
  for (const e of extents) {
    if (e.offset < end) {
      throw badTensor(`tensor "${e.name}" overlaps tensor "${prev!.name}" in the data section`);
    }
    if (e.offset > end) throw badTensor(`data section bytes [${end}, ${e.offset}) belong to no tensor`);
    end = e.offset + align4(e.length * DTYPE_BYTES[e.dtype ?? "f32"]);
    prev = e;
  }
  if (end !== dataBytes) throw badTensor(`data section bytes [${end}, ${dataBytes}) belong to no tensor`);
  return table;
}

function badHeader(what: string): ModelFileError {
  return new ModelFileError(
    "BAD_HEADER",
    `invalid unfold-rnn model file: ${what}; the checksum is intact, so the writer made a bad file — re-save it with this library`,
  );
}

function badTensor(what: string): ModelFileError {
  return new ModelFileError(
    "BAD_TENSOR",
    `invalid unfold-rnn model file: ${what}; the checksum is intact, so the writer made a bad file — re-save it with this library`,
  );
}

function hex32(x: number): string {
  return x.toString(16).toUpperCase().padStart(8, "0");
}

function toBytes(bytes: Uint8Array | ArrayBuffer): Uint8Array {
  if (bytes instanceof Uint8Array) return bytes;
  if (bytes instanceof ArrayBuffer || Object.prototype.toString.call(bytes) === "[object ArrayBuffer]") {
    return new Uint8Array(bytes);
  }
  if (ArrayBuffer.isView(bytes)) {
    const v = bytes as ArrayBufferView;
    return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  }
  throw new ModelFileError("BAD_INPUT", "decodeModel: expected a Uint8Array or ArrayBuffer with the file's bytes");
}
