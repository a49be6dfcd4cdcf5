/**
 * ONNX graphs, built in TypeScript and encoded with {@link ProtoWriter}.
 *
 * A {@link GraphBuilder} collects nodes, initializers (the weights) and the
 * graph's typed inputs and outputs, and {@link GraphBuilder.toModel} writes a
 * ModelProto. Field numbers are those of onnx/onnx.proto (IR version 8).
 */
import { ProtoWriter } from "./protobuf.js";

/** ONNX TensorProto.DataType values we use. */
export const DT = { FLOAT: 1, INT32: 6, INT64: 7 } as const;
export type ElemType = (typeof DT)[keyof typeof DT];

/** A dimension: a fixed size or a symbolic name such as "T" or "B". */
export type Dim = number | string;

/** An attribute value: int, float, string, ints or floats (by JS type). */
export type AttrValue = number | string | { ints: number[] } | { floats: number[] } | { float: number } | { strings: string[] };

/** The IR version and default-domain opset we emit. */
export const IR_VERSION = 8;
/** The ONNX operator set the graphs are written for (the default domain, opset 17). */
export const OPSET = 17;

interface Init {
  name: string;
  type: ElemType;
  dims: number[];
  data: Float32Array | Int32Array | BigInt64Array;
}

interface Value {
  name: string;
  type: ElemType;
  shape: Dim[];
}

interface Node {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, AttrValue>;
}

/** Collects a graph; names of values must be unique within it. */
export class GraphBuilder {
  readonly nodes: Node[] = [];
  readonly inits: Init[] = [];
  readonly inputs: Value[] = [];
  readonly outputs: Value[] = [];
  private used = new Set<string>();
  private counter = 0;

  constructor(readonly name: string) {}

  /** A fresh value name with a readable stem. */
  fresh(stem: string): string {
    let n = stem;
    while (this.used.has(n)) n = `${stem}_${++this.counter}`;
    this.used.add(n);
    return n;
  }

  /** Declare a graph input. */
  input(name: string, type: ElemType, shape: Dim[]): string {
    if (this.used.has(name)) throw new Error(`onnx: value name '${name}' is used twice`);
    this.used.add(name);
    this.inputs.push({ name, type, shape });
    return name;
  }

  /** Declare a graph output: `value` is renamed to `name` through an Identity when they differ. */
  output(value: string, name: string, type: ElemType, shape: Dim[]): void {
    if (value !== name) {
      if (this.used.has(name)) throw new Error(`onnx: value name '${name}' is used twice`);
      this.used.add(name);
      this.nodes.push({ op: "Identity", inputs: [value], outputs: [name], attrs: {} });
    }
    this.outputs.push({ name, type, shape });
  }

  /** A float32 weight. */
  floats(stem: string, dims: number[], data: Float32Array): string {
    const name = this.fresh(stem);
    this.inits.push({ name, type: DT.FLOAT, dims, data });
    return name;
  }

  /** An int64 constant (shapes, axes, indices). */
  int64s(stem: string, values: number[], dims: number[] = [values.length]): string {
    const name = this.fresh(stem);
    this.inits.push({ name, type: DT.INT64, dims, data: BigInt64Array.from(values.map(BigInt)) });
    return name;
  }

  /**
   * Add a node; returns its output names. An empty string in `inputs` is an
   * omitted optional input (ONNX's convention).
   */
  node(op: string, inputs: string[], outputs: string[] | number, attrs: Record<string, AttrValue> = {}): string[] {
    const outs = typeof outputs === "number" ? Array.from({ length: outputs }, (_, i) => this.fresh(`${op.toLowerCase()}${outputs > 1 ? `_y${i}` : ""}`)) : outputs.map((o) => this.fresh(o));
    const ins = [...inputs];
    while (ins.length && ins[ins.length - 1] === "") ins.pop(); // trailing omitted inputs may be left out
    this.nodes.push({ op, inputs: ins, outputs: outs, attrs });
    return outs;
  }

  /** One-output node shorthand. */
  op(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}, stem?: string): string {
    return this.node(op, inputs, stem ? [stem] : 1, attrs)[0];
  }

  /** The ModelProto bytes. */
  toModel(meta: { producer: string; version: string; doc?: string; props?: Record<string, string> }): Uint8Array {
    const g = new ProtoWriter();
    this.nodes.forEach((n, i) => g.message(1, encodeNode(n, `${n.op}_${i}`)));
    g.string(2, this.name);
    for (const t of this.inits) g.message(5, encodeTensor(t));
    if (meta.doc) g.string(10, meta.doc);
    for (const v of this.inputs) g.message(11, encodeValueInfo(v));
    for (const v of this.outputs) g.message(12, encodeValueInfo(v));
    const m = new ProtoWriter().int(1, IR_VERSION).string(2, meta.producer).string(3, meta.version);
    m.message(7, g);
    m.message(8, new ProtoWriter().string(1, "").int(2, OPSET));
    for (const [k, v] of Object.entries(meta.props ?? {})) m.message(14, new ProtoWriter().string(1, k).string(2, v));
    return m.finish();
  }
}

function encodeNode(n: Node, name: string): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  w.string(3, name).string(4, n.op);
  for (const [k, v] of Object.entries(n.attrs)) w.message(5, encodeAttr(k, v));
  return w;
}

// AttributeProto: name 1, f 2, i 3, s 4, floats 7, ints 8, strings 9, type 20 (FLOAT 1, INT 2, STRING 3, FLOATS 6, INTS 7, STRINGS 8).
function encodeAttr(name: string, v: AttrValue): ProtoWriter {
  const w = new ProtoWriter().string(1, name);
  if (typeof v === "number") {
    if (!Number.isInteger(v)) throw new Error(`onnx: attribute ${name} must be an integer (use { float } for floats)`);
    return w.int(3, v).int(20, 2);
  }
  if (typeof v === "string") return w.string(4, v).int(20, 3);
  if ("float" in v) return w.float(2, v.float).int(20, 1);
  if ("strings" in v) {
    for (const x of v.strings) w.string(9, x);
    return w.int(20, 8);
  }
  if ("ints" in v) {
    for (const x of v.ints) w.int(8, x);
    return w.int(20, 7);
  }
  for (const x of v.floats) w.float(7, x);
  return w.int(20, 6);
}

// TensorProto: dims 1, data_type 2, name 8, raw_data 9 (little-endian).
function encodeTensor(t: Init): ProtoWriter {
  const w = new ProtoWriter();
  for (const d of t.dims) w.int(1, d);
  w.int(2, t.type).string(8, t.name);
  const bytesPer = t.data instanceof BigInt64Array ? 8 : 4;
  const raw = new Uint8Array(t.data.length * bytesPer);
  const dv = new DataView(raw.buffer);
  for (let i = 0; i < t.data.length; i++) {
    if (t.data instanceof BigInt64Array) dv.setBigInt64(i * 8, t.data[i], true);
    else if (t.data instanceof Int32Array) dv.setInt32(i * 4, t.data[i], true);
    else dv.setFloat32(i * 4, t.data[i], true);
  }
  return w.bytes(9, raw);
}

// ValueInfoProto { name 1, type 2: TypeProto { tensor_type 1: { elem_type 1, shape 2: { dim 1: { dim_value 1 | dim_param 2 } } } } }
function encodeValueInfo(v: Value): ProtoWriter {
  const shape = new ProtoWriter();
  for (const d of v.shape) shape.message(1, typeof d === "number" ? new ProtoWriter().int(1, d) : new ProtoWriter().string(2, d));
  const tensor = new ProtoWriter().int(1, v.type).message(2, shape);
  return new ProtoWriter().string(1, v.name).message(2, new ProtoWriter().message(1, tensor));
}
