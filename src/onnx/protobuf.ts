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

/**
 * A minimal protocol-buffers reader, the twin of {@link ProtoWriter}: walks
 * one message's fields (wire 0 varint, 1 64-bit, 2 length-delimited, 5 32-bit;
 * groups are refused). Every length is checked against the bytes that are
 * there, so a hostile file cannot make it read past its end or allocate more
 * than its own size; any malformation throws {@link ProtoError}.
 */
export class ProtoReader {
  private p: number;
  private readonly end: number;

  constructor(readonly buf: Uint8Array, start = 0, end = buf.length) {
    this.p = start;
    this.end = end;
  }

  /** Bytes left in this message. */
  get left(): number {
    return this.end - this.p;
  }

  /** The next field's number and wire type, or null at the end of the message. */
  next(): { field: number; wire: number } | null {
    if (this.p >= this.end) return null;
    const key = this.varint();
    const field = Math.floor(key / 8);
    const wire = key % 8;
    if (field < 1) throw new ProtoError(`field number 0 at byte ${this.p}`);
    if (wire !== 0 && wire !== 1 && wire !== 2 && wire !== 5) throw new ProtoError(`wire type ${wire} (field ${field}) at byte ${this.p}`);
    return { field, wire };
  }

  /** A varint as a number; values above 2^53 lose precision, negatives (10-byte two's complement) are exact down to -2^53. */
  varint(): number {
    let lo = 0;
    let shift = 0;
    let b: number;
    // The low 28 bits fast; the rest through BigInt.
    for (let i = 0; i < 4; i++) {
      if (this.p >= this.end) throw new ProtoError("truncated varint");
      b = this.buf[this.p++];
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) return lo >>> 0;
      shift += 7;
    }
    let v = BigInt(lo >>> 0);
    let sh = 28n;
    for (let i = 4; i < 10; i++) {
      if (this.p >= this.end) throw new ProtoError("truncated varint");
      b = this.buf[this.p++];
      v |= BigInt(b & 0x7f) << sh;
      if (b < 0x80) return Number(BigInt.asIntN(64, v));
      sh += 7n;
    }
    throw new ProtoError("varint longer than 10 bytes");
  }

  /** A length-delimited field's bytes (a view, not a copy). */
  bytes(): Uint8Array {
    const n = this.varint();
    if (n < 0 || n > this.end - this.p) throw new ProtoError(`a field of ${n} bytes with ${this.end - this.p} left`);
    const out = this.buf.subarray(this.p, this.p + n);
    this.p += n;
    return out;
  }

  /** A nested message's reader. */
  message(): ProtoReader {
    const b = this.bytes();
    return new ProtoReader(b);
  }

  /** A UTF-8 string field. */
  string(): string {
    return new TextDecoder("utf-8", { fatal: false }).decode(this.bytes());
  }

  /** A 32-bit float field. */
  float(): number {
    if (this.end - this.p < 4) throw new ProtoError("truncated float");
    const v = new DataView(this.buf.buffer, this.buf.byteOffset + this.p, 4).getFloat32(0, true);
    this.p += 4;
    return v;
  }

  /** Skip a field of wire type `wire`. */
  skip(wire: number): void {
    if (wire === 0) this.varint();
    else if (wire === 2) this.bytes();
    else {
      const n = wire === 1 ? 8 : 4;
      if (this.end - this.p < n) throw new ProtoError("truncated fixed-size field");
      this.p += n;
    }
  }

  /** A repeated varint field, packed (wire 2) or one value (wire 0): appended to `out`. */
  varints(wire: number, out: number[]): void {
    if (wire === 0) {
      out.push(this.varint());
      return;
    }
    if (wire !== 2) throw new ProtoError(`wire type ${wire} for a repeated integer`);
    const r = this.message();
    while (r.left > 0) out.push(r.varint());
  }

  /** A repeated float field, packed (wire 2) or one value (wire 5): appended to `out`. */
  floats(wire: number, out: number[]): void {
    if (wire === 5) {
      out.push(this.float());
      return;
    }
    if (wire !== 2) throw new ProtoError(`wire type ${wire} for a repeated float`);
    const b = this.bytes();
    if (b.length % 4) throw new ProtoError("packed floats not a multiple of 4 bytes");
    const dv = new DataView(b.buffer, b.byteOffset, b.length);
    for (let i = 0; i < b.length; i += 4) out.push(dv.getFloat32(i, true));
  }
}

/** A malformed protobuf message (the caller turns it into an UnfoldError naming the file part). */
export class ProtoError extends Error {}
