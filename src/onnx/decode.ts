/**
 * ONNX ModelProto bytes -> plain objects: the graph's nodes, initializers,
 * inputs and outputs, with the field numbers of onnx/onnx.proto (the ones
 * graph.ts writes). Only what fromONNX reads is kept; unknown fields are
 * skipped. Tensors are decoded to Float32Array / number[] only after their
 * element count has been checked against the bytes that hold them.
 */
import { ProtoError, ProtoReader } from "./protobuf.js";

/** ONNX TensorProto.DataType values fromONNX reads. */
export const ONNX_TYPES: Record<number, string> = { 1: "float", 6: "int32", 7: "int64", 9: "bool", 10: "float16", 11: "double" };

/** A decoded tensor: float data as Float32Array, integers as number[]. */
export interface OnnxTensor {
  name: string;
  dims: number[];
  dataType: number;
  /** float (1) and double (11) tensors. */
  floats?: Float32Array;
  /** int32 (6), int64 (7), bool (9) tensors. */
  ints?: number[];
}

/** An attribute: one of its value fields. */
export interface OnnxAttr {
  name: string;
  f?: number;
  i?: number;
  s?: string;
  t?: OnnxTensor;
  floats: number[];
  ints: number[];
  strings: string[];
}

export interface OnnxNode {
  name: string;
  op: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attrs: Map<string, OnnxAttr>;
}

export interface OnnxValueInfo {
  name: string;
  elemType: number;
  /** Each dimension: a size, a symbolic name, or null (unknown). */
  shape: (number | string | null)[] | null;
}

export interface OnnxModel {
  irVersion: number;
  opset: number;
  producer: string;
  nodes: OnnxNode[];
  initializers: Map<string, OnnxTensor>;
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  props: Map<string, string>;
}

/** Decode a ModelProto. Throws ProtoError (with the part being read) on malformed bytes. */
export function decodeModel(bytes: Uint8Array): OnnxModel {
  const r = new ProtoReader(bytes);
  const m: OnnxModel = { irVersion: 0, opset: 0, producer: "", nodes: [], initializers: new Map(), inputs: [], outputs: [], props: new Map() };
  let graph: ProtoReader | null = null;
  for (let f = r.next(); f; f = r.next()) {
    if (f.field === 1 && f.wire === 0) m.irVersion = r.varint();
    else if (f.field === 2 && f.wire === 2) m.producer = r.string();
    else if (f.field === 7 && f.wire === 2) graph = r.message();
    else if (f.field === 8 && f.wire === 2) {
      // OperatorSetIdProto { domain 1, version 2 }: the default domain's opset.
      const o = r.message();
      let domain = "";
      let version = 0;
      for (let g = o.next(); g; g = o.next()) {
        if (g.field === 1 && g.wire === 2) domain = o.string();
        else if (g.field === 2 && g.wire === 0) version = o.varint();
        else o.skip(g.wire);
      }
      if (domain === "" || domain === "ai.onnx") m.opset = version;
    } else if (f.field === 14 && f.wire === 2) {
      const o = r.message();
      let k = "";
      let v = "";
      for (let g = o.next(); g; g = o.next()) {
        if (g.field === 1 && g.wire === 2) k = o.string();
        else if (g.field === 2 && g.wire === 2) v = o.string();
        else o.skip(g.wire);
      }
      m.props.set(k, v);
    } else r.skip(f.wire);
  }
  if (!graph) throw new ProtoError("no graph (ModelProto field 7)");
  for (let f = graph.next(); f; f = graph.next()) {
    if (f.field === 1 && f.wire === 2) m.nodes.push(decodeNode(graph.message()));
    else if (f.field === 5 && f.wire === 2) {
      const t = decodeTensor(graph.message());
      m.initializers.set(t.name, t);
    } else if (f.field === 11 && f.wire === 2) m.inputs.push(decodeValueInfo(graph.message()));
    else if (f.field === 12 && f.wire === 2) m.outputs.push(decodeValueInfo(graph.message()));
    else graph.skip(f.wire);
  }
  return m;
}

function decodeNode(r: ProtoReader): OnnxNode {
  const n: OnnxNode = { name: "", op: "", domain: "", inputs: [], outputs: [], attrs: new Map() };
  for (let f = r.next(); f; f = r.next()) {
    if (f.field === 1 && f.wire === 2) n.inputs.push(r.string());
    else if (f.field === 2 && f.wire === 2) n.outputs.push(r.string());
    else if (f.field === 3 && f.wire === 2) n.name = r.string();
    else if (f.field === 4 && f.wire === 2) n.op = r.string();
    else if (f.field === 7 && f.wire === 2) n.domain = r.string();
    else if (f.field === 5 && f.wire === 2) {
      const a = decodeAttr(r.message());
      n.attrs.set(a.name, a);
    } else r.skip(f.wire);
  }
  return n;
}

// AttributeProto: name 1, f 2, i 3, s 4, t 5, floats 7, ints 8, strings 9.
function decodeAttr(r: ProtoReader): OnnxAttr {
  const a: OnnxAttr = { name: "", floats: [], ints: [], strings: [] };
  for (let f = r.next(); f; f = r.next()) {
    if (f.field === 1 && f.wire === 2) a.name = r.string();
    else if (f.field === 2 && f.wire === 5) a.f = r.float();
    else if (f.field === 3 && f.wire === 0) a.i = r.varint();
    else if (f.field === 4 && f.wire === 2) a.s = r.string();
    else if (f.field === 5 && f.wire === 2) a.t = decodeTensor(r.message());
    else if (f.field === 7) r.floats(f.wire, a.floats);
    else if (f.field === 8) r.varints(f.wire, a.ints);
    else if (f.field === 9 && f.wire === 2) a.strings.push(r.string());
    else r.skip(f.wire);
  }
  return a;
}

// TensorProto: dims 1, data_type 2, float_data 4, int32_data 5, int64_data 7, name 8, raw_data 9,
// double_data 10, data_location 14 (1 = EXTERNAL).
function decodeTensor(r: ProtoReader): OnnxTensor {
  const dims: number[] = [];
  let dataType = 0;
  let name = "";
  let raw: Uint8Array | null = null;
  const floatData: number[] = [];
  const intData: number[] = [];
  let external = false;
  for (let f = r.next(); f; f = r.next()) {
    if (f.field === 1) r.varints(f.wire, dims);
    else if (f.field === 2 && f.wire === 0) dataType = r.varint();
    else if (f.field === 4) r.floats(f.wire, floatData);
    else if (f.field === 5 || f.field === 7) r.varints(f.wire, intData);
    else if (f.field === 8 && f.wire === 2) name = r.string();
    else if (f.field === 9 && f.wire === 2) raw = r.bytes();
    else if (f.field === 10) {
      if (f.wire !== 2) throw new ProtoError(`tensor '${name}': double_data not packed`);
      const b = r.bytes();
      if (b.length % 8) throw new ProtoError(`tensor '${name}': double_data not a multiple of 8 bytes`);
      const dv = new DataView(b.buffer, b.byteOffset, b.length);
      for (let i = 0; i < b.length; i += 8) floatData.push(dv.getFloat64(i, true));
    } else if (f.field === 14 && f.wire === 0) external = r.varint() === 1;
    else r.skip(f.wire);
  }
  if (external) throw new ProtoError(`tensor '${name}' keeps its data in an external file; save the model with its weights inside`);
  let count = 1;
  for (const d of dims) {
    if (!(d >= 0) || !Number.isSafeInteger(d)) throw new ProtoError(`tensor '${name}' has dimension ${d}`);
    count *= d;
  }
  if (!Number.isSafeInteger(count)) throw new ProtoError(`tensor '${name}' has ${count} elements`);
  const t: OnnxTensor = { name, dims, dataType };
  const size = dataType === 1 || dataType === 6 ? 4 : dataType === 7 || dataType === 11 ? 8 : dataType === 9 ? 1 : 0;
  if (size === 0) return t; // a type fromONNX does not read: no data (refused where it is used)
  const have = raw ? raw.length / size : dataType === 1 || dataType === 11 ? floatData.length : intData.length;
  // The element count must match the bytes present before anything of that size is allocated.
  if (have !== count) throw new ProtoError(`tensor '${name}' has shape [${dims.join(", ")}] (${count} values) but holds ${have}`);
  if (dataType === 1 || dataType === 11) {
    if (raw) {
      const dv = new DataView(raw.buffer, raw.byteOffset, raw.length);
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = size === 4 ? dv.getFloat32(i * 4, true) : dv.getFloat64(i * 8, true);
      t.floats = out;
    } else t.floats = Float32Array.from(floatData);
  } else if (raw) {
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.length);
    const out: number[] = new Array(count);
    for (let i = 0; i < count; i++) out[i] = size === 4 ? dv.getInt32(i * 4, true) : size === 1 ? raw[i] : Number(dv.getBigInt64(i * 8, true));
    t.ints = out;
  } else t.ints = intData;
  return t;
}

// ValueInfoProto { name 1, type 2: TypeProto { tensor_type 1: { elem_type 1, shape 2: { dim 1: { dim_value 1 | dim_param 2 } } } } }
function decodeValueInfo(r: ProtoReader): OnnxValueInfo {
  const v: OnnxValueInfo = { name: "", elemType: 0, shape: null };
  for (let f = r.next(); f; f = r.next()) {
    if (f.field === 1 && f.wire === 2) v.name = r.string();
    else if (f.field === 2 && f.wire === 2) {
      const tp = r.message();
      for (let g = tp.next(); g; g = tp.next()) {
        if (g.field === 1 && g.wire === 2) {
          const tt = tp.message();
          for (let h = tt.next(); h; h = tt.next()) {
            if (h.field === 1 && h.wire === 0) v.elemType = tt.varint();
            else if (h.field === 2 && h.wire === 2) {
              const sh = tt.message();
              v.shape = [];
              for (let d = sh.next(); d; d = sh.next()) {
                if (d.field === 1 && d.wire === 2) {
                  const dm = sh.message();
                  let dim: number | string | null = null;
                  for (let e = dm.next(); e; e = dm.next()) {
                    if (e.field === 1 && e.wire === 0) dim = dm.varint();
                    else if (e.field === 2 && e.wire === 2) dim = dm.string();
                    else dm.skip(e.wire);
                  }
                  v.shape.push(dim);
                } else sh.skip(d.wire);
              }
            } else tt.skip(h.wire);
          }
        } else tp.skip(g.wire);
      }
    } else r.skip(f.wire);
  }
  return v;
}
