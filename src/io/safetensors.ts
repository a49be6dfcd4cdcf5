/**
 * safetensors: the weight file PyTorch and Hugging Face users exchange.
 *
 * The format (https://github.com/huggingface/safetensors):
 *
 *   [ N: u64 little-endian ][ N bytes of JSON header ][ tensor bytes ]
 *
 * The header maps each tensor name to `{ dtype, shape, data_offsets: [begin, end] }`
 * (offsets relative to the start of the tensor bytes), plus an optional
 * `__metadata__` map of strings. Tensors are raw little-endian, row-major,
 * and together cover the tensor bytes exactly: no holes, no overlaps.
 *
 * Names are the PyTorch state-dict names our models already use
 * (`embedding.weight`, `rnn0.weight_ih_l0`, `head.bias`, ...), so
 * `model.load_state_dict(load_file(path))` works on the matching torch module
 * (see `tools/to_torch.py`). The model's spec travels in the metadata
 * (`unfold.spec`), so a file alone rebuilds the model.
 *
 * Runtime-neutral: bytes in, bytes out. File helpers are in "unfold-rnn/node".
 */
import { UnfoldError } from "../errors.js";
import { Sequential, type SequentialSpec } from "../model/sequential.js";
import { Seq2Seq, type Seq2SeqSpec } from "../model/seq2seq.js";
import type { Tensor } from "../runtime/arena.js";

/** A safetensors element type name, e.g. `"F32"`. */
export type SafetensorsDtype = "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" | "I16" | "U16" | "F16" | "BF16" | "I32" | "U32" | "F32" | "F64" | "I64" | "U64";

/** Element types of the safetensors format, with their size in bytes. */
const DTYPE_BYTES: Readonly<Record<SafetensorsDtype, number>> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8,
};

/** One tensor of a safetensors file, as stored. */
export interface SafetensorsEntry {
  /** Element type, as the safetensors header names it ("F32", "F16", ...). */
  dtype: SafetensorsDtype;
  /** Dimensions, outermost first (row-major). */
  shape: number[];
  /** The raw little-endian bytes (a view into the file). */
  bytes: Uint8Array;
}

/** A decoded safetensors file. */
export interface SafetensorsFile {
  /** Tensors in file order (by data offset). */
  tensors: Map<string, SafetensorsEntry>;
  /** The `__metadata__` strings (empty if none). */
  metadata: Record<string, string>;
}

/** Every JavaScript engine in use is little-endian; checked anyway, with a DataView path otherwise. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Headers larger than this are refused (the reference implementation's limit). */
const MAX_HEADER = 100_000_000;

function formatError(message: string, name?: string, received?: unknown): UnfoldError {
  return new UnfoldError("E_FORMAT", `safetensors: ${message}`, { name, received });
}

/**
 * Encode float32 tensors (row-major) and optional metadata as safetensors bytes.
 * Tensors are written in the given order; the header is padded with spaces
 * to a multiple of 8 bytes so every tensor starts 8-byte aligned.
 */
export function encodeSafetensors(
  tensors: Iterable<[string, { shape: readonly number[]; data: Float32Array }]>,
  metadata: Record<string, string> = {},
): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") throw new UnfoldError("E_OPTION", `safetensors metadata values must be strings; '${k}' is not`, { name: `metadata.${k}`, expected: "a string", received: v });
    }
    header.__metadata__ = metadata;
  }
  const list: [string, Float32Array][] = [];
  let offset = 0;
  for (const [name, t] of tensors) {
    if (name === "__metadata__" || name in header) throw new UnfoldError("E_OPTION", `safetensors: tensor name '${name}' is reserved or repeated`, { name });
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (size !== t.data.length) throw new UnfoldError("E_SHAPE", `safetensors: '${name}' has shape [${t.shape.join(", ")}] but ${t.data.length} values`, { name, expected: `${size} values`, received: t.data.length });
    header[name] = { dtype: "F32", shape: [...t.shape], data_offsets: [offset, offset + size * 4] };
    offset += size * 4;
    list.push([name, t.data]);
  }
  let json = JSON.stringify(header);
  const enc = new TextEncoder();
  let hb = enc.encode(json);
  const pad = (8 - ((8 + hb.length) % 8)) % 8;
  if (pad) hb = enc.encode((json += " ".repeat(pad)));
  const out = new Uint8Array(8 + hb.length + offset);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(hb.length), true);
  out.set(hb, 8);
  let p = 8 + hb.length;
  for (const [, data] of list) {
    if (LITTLE_ENDIAN) out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), p);
    else for (let i = 0; i < data.length; i++) dv.setFloat32(p + i * 4, data[i], true);
    p += data.length * 4;
  }
  return out;
}

/**
 * Decode safetensors bytes. Checks the whole container: header length within
 * the file, valid JSON, known dtypes, shapes of non-negative integers,
 * `data_offsets` that match the shape and dtype, lie inside the file, and
 * cover the tensor bytes exactly once. Throws UnfoldError E_FORMAT naming the
 * offending tensor.
 */
export function decodeSafetensors(bytes: Uint8Array): SafetensorsFile {
  if (!(bytes instanceof Uint8Array)) throw new UnfoldError("E_OPTION", "decodeSafetensors needs the file's bytes as a Uint8Array", { name: "bytes", expected: "a Uint8Array", received: bytes });
  if (bytes.length < 8) throw formatError(`the file is ${bytes.length} bytes, shorter than the 8-byte header length`, undefined, bytes.length);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = dv.getBigUint64(0, true);
  if (n > BigInt(bytes.length - 8)) throw formatError(`the header claims ${n} bytes but the file holds only ${bytes.length - 8} after the length (truncated or not a safetensors file)`, undefined, String(n));
  if (n > BigInt(MAX_HEADER)) throw formatError(`the header claims ${n} bytes, more than the ${MAX_HEADER}-byte limit`);
  const hlen = Number(n);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(8, 8 + hlen)));
  } catch (err) {
    throw new UnfoldError("E_FORMAT", `safetensors: the header is not valid UTF-8 JSON (${(err as Error).message})`, { cause: err });
  }
  if (!header || typeof header !== "object" || Array.isArray(header)) throw formatError("the header is not a JSON object");
  const dataStart = 8 + hlen;
  const dataLen = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: [string, SafetensorsEntry, number, number][] = [];
  for (const [name, v] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (!v || typeof v !== "object" || Array.isArray(v)) throw formatError("__metadata__ must be an object of strings", "__metadata__");
      for (const [k, s] of Object.entries(v as Record<string, unknown>)) {
        if (typeof s !== "string") throw formatError(`__metadata__.${k} must be a string`, `__metadata__.${k}`, s);
        metadata[k] = s;
      }
      continue;
    }
    const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (!e || typeof e !== "object") throw formatError(`tensor '${name}' has no {dtype, shape, data_offsets} entry`, name);
    if (typeof e.dtype !== "string" || !(e.dtype in DTYPE_BYTES)) {
      throw formatError(`tensor '${name}' has unknown dtype ${JSON.stringify(e.dtype)} (known: ${Object.keys(DTYPE_BYTES).join(", ")})`, name, e.dtype);
    }
    const dtype = e.dtype as SafetensorsDtype;
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw formatError(`tensor '${name}' has an invalid shape ${JSON.stringify(e.shape)}`, name, e.shape);
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0) || offs[1] < offs[0]) {
      throw formatError(`tensor '${name}' has invalid data_offsets ${JSON.stringify(offs)}`, name, offs);
    }
    const [begin, end] = offs as [number, number];
    const shape = e.shape as number[];
    const want = shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype];
    if (end - begin !== want) throw formatError(`tensor '${name}' (${dtype} [${shape.join(", ")}]) needs ${want} bytes but its data_offsets span ${end - begin}`, name, offs);
    if (end > dataLen) throw formatError(`tensor '${name}' ends at byte ${end} of the data, past its end (${dataLen} bytes): the file is truncated or the offsets are wrong`, name, offs);
    entries.push([name, { dtype, shape, bytes: bytes.subarray(dataStart + begin, dataStart + end) }, begin, end]);
  }
  // The tensors must tile the data exactly: sorted by offset, each starts where the previous ended.
  entries.sort((a, b) => a[2] - b[2] || a[3] - b[3]);
  let at = 0;
  for (const [name, , begin, end] of entries) {
    if (begin < at) throw formatError(`tensor '${name}' overlaps the previous tensor (it starts at ${begin}, before ${at})`, name, [begin, end]);
    if (begin > at) throw formatError(`there is a hole in the data before tensor '${name}' (bytes ${at}..${begin} belong to no tensor)`, name, [begin, end]);
    at = end;
  }
  if (at !== dataLen) throw formatError(`the tensors cover ${at} bytes but the data holds ${dataLen} (trailing bytes)`, undefined, dataLen);
  return { tensors: new Map(entries.map(([name, e]) => [name, e])), metadata };
}

/** A float16 bit pattern as a number. */
function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/**
 * A stored tensor's values as float32. F32 is copied, F64 rounded, F16 and
 * BF16 widened exactly; any other dtype (integers, bool, 8-bit floats) is
 * refused with E_FORMAT naming the tensor.
 */
export function entryToFloat32(name: string, e: SafetensorsEntry): Float32Array {
  const n = e.bytes.length / DTYPE_BYTES[e.dtype];
  const dv = new DataView(e.bytes.buffer, e.bytes.byteOffset, e.bytes.byteLength);
  const out = new Float32Array(n);
  switch (e.dtype) {
    case "F32":
      if (LITTLE_ENDIAN) new Uint8Array(out.buffer).set(e.bytes); // a copy (the entry may be unaligned)
      else for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
      break;
    case "F64":
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(i * 8, true);
      break;
    case "F16":
      for (let i = 0; i < n; i++) out[i] = halfToFloat(dv.getUint16(i * 2, true));
      break;
    case "BF16": {
      // bfloat16 is the top half of a float32.
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < n; i++) u[i] = dv.getUint16(i * 2, true) << 16;
      break;
    }
    default:
      throw formatError(`tensor '${name}' has dtype ${e.dtype}; weights must be F32, F64, F16 or BF16`, name, e.dtype);
  }
  return out;
}

/** A model whose weights go to and from safetensors. */
export type SafetensorsModel = Sequential | Seq2Seq;

/** Options of {@link saveSafetensors}. */
export interface SafetensorsSaveOptions {
  /** Extra `__metadata__` strings (for example a description or the vocabulary). */
  metadata?: Record<string, string>;
}

/**
 * The model's weights as safetensors bytes, under its PyTorch state-dict
 * names. The metadata holds `format: "pt"`, `unfold.kind` ("Sequential" or
 * "Seq2Seq") and `unfold.spec` (the model's JSON spec), which
 * {@link modelFromSafetensors} and `tools/to_torch.py` read.
 */
export function saveSafetensors(model: SafetensorsModel, opts: SafetensorsSaveOptions = {}): Uint8Array {
  const kind = modelKind(model);
  const meta: Record<string, string> = { format: "pt", "unfold.kind": kind, "unfold.spec": JSON.stringify(model.toJSON()), ...(opts.metadata ?? {}) };
  const tensors: [string, { shape: readonly number[]; data: Float32Array }][] = [];
  for (const [name, t] of model.parameters()) tensors.push([name, { shape: t.shape, data: t.toArray() }]);
  return encodeSafetensors(tensors, meta);
}

/** Options of {@link loadSafetensors}. */
export interface SafetensorsLoadOptions {
  /**
   * Remove this prefix from every tensor name first, e.g. `"module."` for a
   * state dict saved from a DistributedDataParallel wrapper. Default none.
   */
  stripPrefix?: string;
}

/**
 * Load safetensors weights into a model. Everything is checked before
 * anything is written: every expected tensor is present, there are no extra
 * ones, each has the model's shape, a float dtype and finite values. On
 * failure it throws UnfoldError E_FORMAT naming the tensor, and the model is
 * untouched.
 */
export function loadSafetensors(model: SafetensorsModel, bytes: Uint8Array, opts: SafetensorsLoadOptions = {}): void {
  modelKind(model);
  const prefix = checkLoadOptions(opts, "loadSafetensors: options");
  const file = decodeSafetensors(bytes);
  const params: Map<string, Tensor> = model.parameters();
  const stored = new Map<string, [string, SafetensorsEntry]>();
  for (const [name, e] of file.tensors) {
    const key = prefix && name.startsWith(prefix) ? name.slice(prefix.length) : name;
    stored.set(key, [name, e]);
  }
  const expected = [...params.keys()];
  for (const key of stored.keys()) {
    if (!params.has(key)) {
      // A wrapper's prefix (DistributedDataParallel saves 'module.rnn0...'): say which one to strip.
      const p = matchingPrefix([...file.tensors.keys()], params);
      const hint = p === null ? "" : `; every name matches after removing the prefix "${p}": pass { stripPrefix: "${p}" }`;
      throw new UnfoldError("E_FORMAT", `safetensors: unexpected tensor '${stored.get(key)![0]}': this model has no such parameter (it expects ${expected.join(", ")})${hint}`, { name: stored.get(key)![0], expected: hint ? `stripPrefix: "${p}"` : expected.join(", ") });
    }
  }
  const values = new Map<Tensor, Float32Array>();
  for (const [key, t] of params) {
    const s = stored.get(key);
    if (!s) throw new UnfoldError("E_FORMAT", `safetensors: tensor '${prefix}${key}' is missing (shape [${t.shape.join(", ")}])`, { name: key, expected: `[${t.shape.join(", ")}]` });
    const [name, e] = s;
    if (e.shape.length !== t.shape.length || e.shape.some((d, i) => d !== t.shape[i])) {
      throw new UnfoldError("E_FORMAT", `safetensors: tensor '${name}' has shape [${e.shape.join(", ")}], the model needs [${t.shape.join(", ")}]`, { name, expected: `[${t.shape.join(", ")}]`, received: `[${e.shape.join(", ")}]` });
    }
    const v = entryToFloat32(name, e);
    for (let i = 0; i < v.length; i++) {
      if (!Number.isFinite(v[i])) throw new UnfoldError("E_FORMAT", `safetensors: tensor '${name}' has a non-finite value (${v[i]}) at index ${i}`, { name, received: v[i] });
    }
    values.set(t, v);
  }
  for (const [t, v] of values) t.f32().set(v);
}

/** The stripPrefix option, checked: "" when absent. */
function checkLoadOptions(opts: unknown, name: string, known: string[] = ["stripPrefix"]): string {
  if (opts === null || typeof opts !== "object") throw new UnfoldError("E_OPTION", `${name} must be an object such as { stripPrefix: "module." }`, { name, expected: "an object", received: opts });
  for (const k of Object.keys(opts)) {
    if (!known.includes(k)) throw new UnfoldError("E_OPTION", `${name}: unknown option '${k}' (${known.join(", ")})`, { name: `${name}.${k}`, received: (opts as Record<string, unknown>)[k] });
  }
  const p = (opts as { stripPrefix?: unknown }).stripPrefix;
  if (p !== undefined && typeof p !== "string") throw new UnfoldError("E_OPTION", `${name}.stripPrefix must be a string such as "module."`, { name: `${name}.stripPrefix`, expected: "a string", received: p });
  return p ?? "";
}

/**
 * The prefix (ending in ".") that, removed from every stored name, makes the
 * names the model's parameters, or null. Wrappers nest ('module.',
 * 'module.model.'), so every dotted head of the first name is tried.
 */
function matchingPrefix(names: string[], params: Map<string, unknown>): string | null {
  if (names.length === 0) return null;
  for (let i = names[0].indexOf("."); i > 0; i = names[0].indexOf(".", i + 1)) {
    const p = names[0].slice(0, i + 1);
    if (names.every((n) => n.startsWith(p) && params.has(n.slice(p.length)))) return p;
  }
  return null;
}

/** Options of {@link modelFromSafetensors}. */
export interface ModelFromSafetensorsOptions extends SafetensorsLoadOptions {
  /** The model's spec, for a file without `unfold.spec` metadata: a Sequential spec, or `{ kind: "Seq2Seq", spec }`. */
  spec?:
    | SequentialSpec
    | {
        /** Marks a Seq2Seq spec. */
        kind: "Seq2Seq";
        /** The Seq2Seq spec. */
        spec: Seq2SeqSpec;
      };
}

/**
 * Build the model a safetensors file describes (from its `unfold.spec`
 * metadata, written by {@link saveSafetensors} or `tools/to_torch.py`) and
 * load its weights. A file without that metadata needs the spec: pass
 * `{ spec }` (a Sequential spec, or `{ kind: "Seq2Seq", spec }`; the spec
 * alone as the second argument works too). `{ stripPrefix: "module." }`
 * reads a state dict saved from a DistributedDataParallel wrapper; without
 * it such a file is refused with E_FORMAT naming the prefix that would match.
 */
export function modelFromSafetensors(bytes: Uint8Array, opts?: ModelFromSafetensorsOptions | SequentialSpec | { kind: "Seq2Seq"; spec: Seq2SeqSpec }): SafetensorsModel {
  // A spec as the second argument (the older form) or an options object.
  const isSpec = !!opts && typeof opts === "object" && ("input" in opts || "kind" in opts);
  const o: ModelFromSafetensorsOptions = opts === undefined ? {} : isSpec ? { spec: opts as ModelFromSafetensorsOptions["spec"] } : (opts as ModelFromSafetensorsOptions);
  const stripPrefix = checkLoadOptions(o, "modelFromSafetensors: options", ["stripPrefix", "spec"]);
  const spec = o.spec;
  let kind: string;
  let s: unknown;
  if (spec) {
    if ((spec as { kind?: string }).kind === "Seq2Seq") {
      kind = "Seq2Seq";
      s = (spec as { spec: Seq2SeqSpec }).spec;
    } else {
      kind = "Sequential";
      s = spec;
    }
  } else {
    const meta = decodeSafetensors(bytes).metadata;
    if (!meta["unfold.spec"]) {
      throw new UnfoldError("E_FORMAT", "safetensors: the file has no 'unfold.spec' metadata saying which model it holds; pass the model's spec as the second argument", { name: "__metadata__.unfold.spec" });
    }
    kind = meta["unfold.kind"] ?? "Sequential";
    try {
      s = JSON.parse(meta["unfold.spec"]);
    } catch (err) {
      throw new UnfoldError("E_FORMAT", "safetensors: the 'unfold.spec' metadata is not valid JSON", { name: "__metadata__.unfold.spec", cause: err });
    }
  }
  if (kind !== "Sequential" && kind !== "Seq2Seq") throw new UnfoldError("E_FORMAT", `safetensors: unknown model kind '${kind}' (Sequential or Seq2Seq)`, { name: "__metadata__.unfold.kind", received: kind });
  const model = kind === "Seq2Seq" ? new Seq2Seq(s as Seq2SeqSpec) : new Sequential(s as SequentialSpec);
  try {
    loadSafetensors(model, bytes, { stripPrefix });
  } catch (err) {
    model.dispose();
    throw err;
  }
  return model;
}

/**
 * Which model this is, by shape rather than `instanceof`, so that a bundle
 * saving a Sequential does not pull in the Seq2Seq code.
 */
function modelKind(model: unknown): "Sequential" | "Seq2Seq" {
  const m = model as { parameters?: unknown; toJSON?: unknown; spec?: { source?: unknown; input?: unknown } } | null;
  if (m && typeof m.parameters === "function" && typeof m.toJSON === "function" && m.spec) {
    if (m.spec.input) return "Sequential";
    if (m.spec.source) return "Seq2Seq";
  }
  throw new UnfoldError("E_OPTION", "safetensors: the model must be a Sequential or a Seq2Seq", { name: "model", expected: "a Sequential or Seq2Seq", received: model });
}
