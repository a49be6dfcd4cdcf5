/**
 * A minimal protocol-buffers writer: just what an ONNX model needs.
 *
 * A message is a list of fields; each field is a key `(number << 3) | wire`
 * followed by its value:
 *   wire 0 (varint): integers, enums, bools — 7 bits per byte, low first,
 *                    the high bit set on every byte but the last; a negative
 *                    int64 is its 64-bit two's complement (10 bytes);
 *   wire 2 (length-delimited): strings, bytes and nested messages — a varint
 *                    length, then the bytes;
 *   wire 5 (32-bit): float, little-endian.
 * Repeated scalars are written one field per value (proto2's unpacked form,
 * which every parser accepts). Fields are written in the order they are
 * added; parsers do not care about order.
 *
 * ~80 lines instead of a protobufjs runtime plus a generated ONNX schema in
 * the bundle; test/onnx.test.ts decodes our output with protobufjs and the
 * ONNX schema to check it.
 */

/** Builds one message's bytes. Nested messages are finished writers' bytes. */
export class ProtoWriter {
  private chunks: Uint8Array[] = [];
  private length = 0;

  private push(b: Uint8Array): void {
    this.chunks.push(b);
    this.length += b.length;
  }

  private varintBytes(v: number | bigint): Uint8Array {
    let x = typeof v === "bigint" ? BigInt.asUintN(64, v) : v;
    if (typeof x === "number") {
      if (!Number.isSafeInteger(x)) throw new RangeError(`protobuf: ${x} is not a safe integer`);
      if (x < 0) x = BigInt.asUintN(64, BigInt(x));
    }
    const out: number[] = [];
    if (typeof x === "number") {
      while (x > 0x7f) {
        out.push((x % 128) | 0x80);
        x = Math.floor(x / 128);
      }
      out.push(x);
    } else {
      while (x > 0x7fn) {
        out.push(Number(x & 0x7fn) | 0x80);
        x >>= 7n;
      }
      out.push(Number(x));
    }
    return Uint8Array.from(out);
  }

  private key(field: number, wire: 0 | 2 | 5): void {
    this.push(this.varintBytes(field * 8 + wire));
  }

  /** An integer field (int32, int64, enum, bool) as a varint. */
  int(field: number, v: number | bigint): this {
    this.key(field, 0);
    this.push(this.varintBytes(v));
    return this;
  }

  /** A float field (32-bit, little-endian). */
  float(field: number, v: number): this {
    this.key(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.push(b);
    return this;
  }

  /** A bytes field (or a nested message's bytes). */
  bytes(field: number, b: Uint8Array): this {
    this.key(field, 2);
    this.push(this.varintBytes(b.length));
    this.push(b);
    return this;
  }

  /** A UTF-8 string field. */
  string(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  /** A nested message field. */
  message(field: number, m: ProtoWriter): this {
    return this.bytes(field, m.finish());
  }

  /** The message's bytes. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let p = 0;
    for (const c of this.chunks) {
      out.set(c, p);
      p += c.length;
    }
    return out;
  }
}
