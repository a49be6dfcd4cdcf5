/**
 * Characters at scale: counting and encoding the code points of a long text
 * — a JS string or its UTF-8 bytes — in streaming passes over typed arrays,
 * with no per-character JS objects, and storing the ids in the narrowest
 * typed array the vocabulary allows.
 *
 * Legend: n = code points in the text, V = vocabulary size.
 *
 * A 100 MB corpus as ids costs n bytes (V <= 256) or 2n bytes (V <= 65,536)
 * instead of the ~31 bytes per character of an array of one-character strings
 * copied to an Int32Array. Lone surrogates in a JS string are one code point
 * each (as `Array.from(text)` splits them); UTF-8 input is validated as
 * strictly as `new TextDecoder("utf-8", { fatal: true })`.
 */
import { UnfoldError } from "../errors.js";

/** Token ids in the narrowest integer array: Uint8Array (V <= 256), Uint16Array (V <= 65,536), else Int32Array. */
export type TokenIds = Uint8Array | Uint16Array | Int32Array;

/** The id width a vocabulary of `V` tokens needs: 1, 2 or 4 bytes per id. */
export function idBytes(V: number): 1 | 2 | 4 {
  return V <= 0x100 ? 1 : V <= 0x10000 ? 2 : 4;
}

/** A zeroed id array of `n` ids for a vocabulary of `V` tokens, in the narrowest type. [n] */
export function newIdArray(V: number, n: number): TokenIds {
  const w = idBytes(V);
  return w === 1 ? new Uint8Array(n) : w === 2 ? new Uint16Array(n) : new Int32Array(n);
}

/** Whether `x` is one of the integer arrays {@link TokenIds} names. */
export function isTokenIds(x: unknown): x is TokenIds {
  return x instanceof Uint8Array || x instanceof Uint16Array || x instanceof Int32Array;
}

/**
 * Code point counts of one or more texts: the BMP in a flat table, the few
 * astral code points (emoji, rare CJK) in a map. Memory is fixed (512 kB),
 * whatever the length of the text.
 */
export class CharCounts {
  /** count of each BMP code point (lone surrogates included). [65536] */
  readonly bmp = new Float64Array(0x10000);
  /** count of each code point above U+FFFF. */
  readonly astral = new Map<number, number>();
  /** Code points counted. */
  total = 0;

  /** Count the code points of a JS string. */
  addString(s: string): void {
    const bmp = this.bmp;
    const n = s.length;
    let pairs = 0;
    for (let i = 0; i < n; i++) {
      const u = s.charCodeAt(i);
      if (u >= 0xd800 && u < 0xdc00 && i + 1 < n) {
        const v = s.charCodeAt(i + 1);
        if (v >= 0xdc00 && v < 0xe000) {
          const cp = 0x10000 + ((u - 0xd800) << 10) + (v - 0xdc00);
          this.astral.set(cp, (this.astral.get(cp) ?? 0) + 1);
          i++;
          pairs++;
          continue;
        }
      }
      bmp[u]++;
    }
    this.total += n - pairs;
  }

  /**
   * Count the code points of UTF-8 bytes (no byte-order-mark handling: strip
   * it first if it is not text).
   * @throws UnfoldError E_FORMAT naming the byte offset of the first invalid sequence
   */
  addUtf8(bytes: Uint8Array): void {
    // Integer counts in the hot loop, folded into the float64 totals every 2^30 bytes (no overflow).
    const local = new Uint32Array(0x10000);
    const n = bytes.length;
    let count = 0;
    let i = 0;
    while (i < n) {
      const end = Math.min(n, i + 0x40000000);
      while (i < end) {
        const b = bytes[i];
        if (b < 0x80) {
          local[b]++;
          i++;
        } else {
          const cp = decodeMultibyte(bytes, i);
          if (cp < 0) throw badUtf8(i);
          if (cp > 0xffff) {
            this.astral.set(cp, (this.astral.get(cp) ?? 0) + 1);
            i += 4;
          } else {
            local[cp]++;
            i += cp < 0x800 ? 2 : 3;
          }
        }
        count++;
      }
      for (let c = 0; c < 0x10000; c++) {
        if (local[c] !== 0) this.bmp[c] += local[c];
      }
      local.fill(0);
    }
    this.total += count;
  }

  /** Distinct code points seen. */
  get distinct(): number {
    let d = this.astral.size;
    for (let i = 0; i < 0x10000; i++) if (this.bmp[i] > 0) d++;
    return d;
  }

  /** [character, count] of every code point seen (unordered): at most V strings, never one per character of the text. */
  entries(): [string, number][] {
    const out: [string, number][] = [];
    for (let i = 0; i < 0x10000; i++) if (this.bmp[i] > 0) out.push([String.fromCharCode(i), this.bmp[i]]);
    for (const [cp, c] of this.astral) out.push([String.fromCodePoint(cp), c]);
    return out;
  }
}

/**
 * The id of every code point of a char-level vocabulary: a flat table for the
 * BMP (-1 = not in the vocabulary) and a map for astral code points.
 */
export class CharIndex {
  /** id of each BMP code point, -1 if absent. [65536] */
  readonly bmp = new Int32Array(0x10000).fill(-1);
  readonly astral = new Map<number, number>();

  /** @param tokens the vocabulary by id; tokens of more than one code point (specials such as "<unk>") are skipped */
  constructor(tokens: readonly string[]) {
    tokens.forEach((t, id) => {
      const cp = t.codePointAt(0)!;
      const len = cp > 0xffff ? 2 : 1;
      if (t.length !== len) return;
      if (cp > 0xffff) this.astral.set(cp, id);
      else if (this.bmp[cp] < 0) this.bmp[cp] = id;
    });
  }

  /** The id of code point `cp`, or -1. */
  id(cp: number): number {
    return cp <= 0xffff ? this.bmp[cp] : this.astral.get(cp) ?? -1;
  }
}

/** Code points in a JS string (a surrogate pair is one). */
export function codePointLength(s: string): number {
  const n = s.length;
  let pairs = 0;
  for (let i = 0; i + 1 < n; i++) {
    const u = s.charCodeAt(i);
    if (u >= 0xd800 && u < 0xdc00) {
      const v = s.charCodeAt(i + 1);
      if (v >= 0xdc00 && v < 0xe000) {
        pairs++;
        i++;
      }
    }
  }
  return n - pairs;
}

/** Code points in valid UTF-8 `bytes`: the bytes that do not continue a sequence. */
export function utf8CodePointLength(bytes: Uint8Array): number {
  let cont = 0;
  for (let i = 0; i < bytes.length; i++) if ((bytes[i] & 0xc0) === 0x80) cont++;
  return bytes.length - cont;
}

/**
 * What {@link encodeChars} does with a code point the index does not have:
 * map it to `unk` (>= 0), or (`unk` < 0) stop and report it.
 */
export interface CharMiss {
  /** Code point index in the text. */
  index: number;
  /** The character. */
  ch: string;
}

/**
 * Encode a JS string: ids of its code points into `out` from `offset`.
 * @returns null when done, or the first character the index does not have
 *   (with `unk < 0`); `out` is then partly written.
 */
export function encodeStringInto(s: string, index: CharIndex, unk: number, out: TokenIds, offset: number): CharMiss | null {
  const bmp = index.bmp;
  const n = s.length;
  let k = offset;
  for (let i = 0; i < n; i++) {
    const u = s.charCodeAt(i);
    let id: number;
    let cp = u;
    if (u >= 0xd800 && u < 0xdc00 && i + 1 < n && s.charCodeAt(i + 1) >= 0xdc00 && s.charCodeAt(i + 1) < 0xe000) {
      cp = 0x10000 + ((u - 0xd800) << 10) + (s.charCodeAt(i + 1) - 0xdc00);
      id = index.astral.get(cp) ?? -1;
      i++;
    } else {
      id = bmp[u];
    }
    if (id < 0) {
      if (unk < 0) return { index: k - offset, ch: String.fromCodePoint(cp) };
      id = unk;
    }
    out[k++] = id;
  }
  return null;
}

/**
 * Encode UTF-8 bytes: ids of their code points into `out` from `offset`.
 * @returns null when done, or the first character the index does not have (with `unk < 0`)
 * @throws UnfoldError E_FORMAT on invalid UTF-8 (naming the byte offset)
 */
export function encodeUtf8Into(bytes: Uint8Array, index: CharIndex, unk: number, out: TokenIds, offset: number): CharMiss | null {
  const bmp = index.bmp;
  const n = bytes.length;
  let k = offset;
  let i = 0;
  while (i < n) {
    const b = bytes[i];
    let cp: number;
    let id: number;
    if (b < 0x80) {
      cp = b;
      id = bmp[b];
      i++;
    } else {
      cp = decodeMultibyte(bytes, i);
      if (cp < 0) throw badUtf8(i);
      if (cp > 0xffff) {
        id = index.astral.get(cp) ?? -1;
        i += 4;
      } else {
        id = bmp[cp];
        i += cp < 0x800 ? 2 : 3;
      }
    }
    if (id < 0) {
      if (unk < 0) return { index: k - offset, ch: String.fromCodePoint(cp) };
      id = unk;
    }
    out[k++] = id;
  }
  return null;
}

/**
 * Decode the multi-byte UTF-8 sequence starting at `bytes[i]` (>= 0x80):
 * the code point, or -1 if it is not valid UTF-8 (a stray continuation byte,
 * an overlong form, an encoded surrogate, above U+10FFFF, or cut short).
 */
function decodeMultibyte(bytes: Uint8Array, i: number): number {
  const n = bytes.length;
  const b = bytes[i];
  if (b >= 0xc2 && b < 0xe0) {
    if (i + 1 >= n) return -1;
    const c1 = bytes[i + 1];
    if ((c1 & 0xc0) !== 0x80) return -1;
    return ((b & 0x1f) << 6) | (c1 & 0x3f);
  }
  if (b >= 0xe0 && b < 0xf0) {
    if (i + 2 >= n) return -1;
    const c1 = bytes[i + 1];
    const c2 = bytes[i + 2];
    if ((c1 & 0xc0) !== 0x80 || (c2 & 0xc0) !== 0x80) return -1;
    const cp = ((b & 0x0f) << 12) | ((c1 & 0x3f) << 6) | (c2 & 0x3f);
    if (cp < 0x800 || (cp >= 0xd800 && cp < 0xe000)) return -1; // overlong, or a surrogate
    return cp;
  }
  if (b >= 0xf0 && b < 0xf5) {
    if (i + 3 >= n) return -1;
    const c1 = bytes[i + 1];
    const c2 = bytes[i + 2];
    const c3 = bytes[i + 3];
    if ((c1 & 0xc0) !== 0x80 || (c2 & 0xc0) !== 0x80 || (c3 & 0xc0) !== 0x80) return -1;
    const cp = ((b & 0x07) << 18) | ((c1 & 0x3f) << 12) | ((c2 & 0x3f) << 6) | (c3 & 0x3f);
    if (cp < 0x10000 || cp > 0x10ffff) return -1;
    return cp;
  }
  return -1;
}

function badUtf8(offset: number): UnfoldError {
  return new UnfoldError("E_FORMAT", `the bytes are not valid UTF-8 text (first bad byte at offset ${offset}); convert the text to UTF-8 first (e.g. iconv -f latin1 -t utf-8)`, {
    name: "bytes", expected: "UTF-8 text", received: `an invalid sequence at byte ${offset}`,
  });
}

/** The byte offset of the first invalid UTF-8 sequence in `bytes`, or -1 if they are valid. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  const n = bytes.length;
  for (let i = 0; i < n; ) {
    const b = bytes[i];
    if (b < 0x80) {
      i++;
      continue;
    }
    const cp = decodeMultibyte(bytes, i);
    if (cp < 0) return i;
    i += cp > 0xffff ? 4 : cp < 0x800 ? 2 : 3;
  }
  return -1;
}
