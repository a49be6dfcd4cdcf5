// src/data/stream.ts: the char-rnn layout for truncated BPTT. Consecutive
// windows continue each stream exactly; y is x shifted by one; seek resumes.
import { describe, expect, it } from "vitest";
import { TokenStream, Vocab, type StreamWindow } from "../src/data/index.js";
import { UnfoldError } from "../src/errors.js";

const arr = (a: ArrayLike<number>) => Array.from(a);
/** Column b of a time-major [T, B] array. */
const column = (a: Int32Array, B: number, b: number) => arr(a).filter((_, k) => k % B === b);

// Public domain: the Preamble of the Constitution of the United States (1787).
const PREAMBLE =
  "We the People of the United States, in Order to form a more perfect Union, establish Justice, " +
  "insure domestic Tranquility, provide for the common defence, promote the general Welfare, and " +
  "secure the Blessings of Liberty to ourselves and our Posterity, do ordain and establish this " +
  "Constitution for the United States of America.";

describe("TokenStream", () => {
  it("exact layout on 0..10, B = 3, seqLen 2", () => {
    const s = new TokenStream(Int32Array.from({ length: 11 }, (_, i) => i), 3);
    expect([s.B, s.L, s.dropped]).toEqual([3, 3, 2]);
    expect(arr(s.stream(1))).toEqual([3, 4, 5]);
    expect(s.numWindows(2)).toBe(1);
    const ws = [...s.windows(2)];
    expect(ws.length).toBe(1);
    expect(arr(ws[0].x)).toEqual([0, 3, 6, 1, 4, 7]); // [T=2, B=3]
    expect(arr(ws[0].y)).toEqual([1, 4, 7, 2, 5, 8]);
    expect([ws[0].T, ws[0].B, ws[0].start]).toEqual([2, 3, 0]);
  });

  it("includes a shorter last window", () => {
    const s = new TokenStream(Int32Array.from({ length: 20 }, (_, i) => i), 2); // L = 10, 9 input steps
    const ws = [...s.windows(4)];
    expect(ws.map((w) => w.T)).toEqual([4, 4, 1]);
    expect(ws.map((w) => w.start)).toEqual([0, 4, 8]);
    expect(s.numWindows(4)).toBe(3);
    expect(arr(ws[2].x)).toEqual([8, 18]);
    expect(arr(ws[2].y)).toEqual([9, 19]);
  });

  function checkStreams(ids: Int32Array, B: number, seqLen: number) {
    const s = new TokenStream(ids, B);
    const L = Math.floor(ids.length / B);
    const ws = [...s.windows(seqLen)];
    expect(ws.length).toBe(s.numWindows(seqLen));
    for (const w of ws) {
      expect(w.x.length).toBe(w.T * B);
      expect(w.T).toBeLessThanOrEqual(seqLen);
    }
    for (let b = 0; b < B; b++) {
      const xs = ws.flatMap((w) => column(w.x, B, b));
      const ys = ws.flatMap((w) => column(w.y, B, b));
      const stream = arr(ids.subarray(b * L, (b + 1) * L));
      // inputs cover the stream but its last token; targets are the stream shifted by one
      expect(xs).toEqual(stream.slice(0, L - 1));
      expect(ys).toEqual(stream.slice(1));
      expect(ys.slice(0, -1)).toEqual(xs.slice(1));
    }
    // the last target of window k is the first input of window k+1, per stream
    for (let k = 1; k < ws.length; k++) {
      const prev = ws[k - 1];
      expect(arr(prev.y.subarray((prev.T - 1) * B))).toEqual(arr(ws[k].x.subarray(0, B)));
    }
  }

  it("concatenated windows reproduce every stream (many sizes)", () => {
    const ids = Int32Array.from({ length: 97 }, (_, i) => (i * 7919) % 101);
    for (const B of [1, 2, 3, 5, 48]) for (const seqLen of [1, 2, 5, 7, 100]) checkStreams(ids, B, seqLen);
  });

  it("resume with seek gives identical windows", () => {
    const ids = Int32Array.from({ length: 203 }, (_, i) => i * 3);
    const full = [...new TokenStream(ids, 4).windows(8)];
    const s = new TokenStream(ids, 4);
    const first: StreamWindow[] = [];
    for (const w of s.windows(8)) {
      first.push(w);
      if (first.length === 3) break; // interrupted after 3 windows
    }
    const saved = s.position;
    expect(saved).toBe(24);
    // continue in the same object...
    const rest = [...s.windows(8)];
    expect([...first, ...rest]).toEqual(full);
    expect(s.position).toBe(0); // a finished pass returns to the start
    // ...or in a new one, via seek
    const t = new TokenStream(ids, 4);
    t.seek(saved);
    expect([...t.windows(8)]).toEqual(full.slice(3));
    // random access agrees too
    expect(t.window(16, 8)).toEqual(full[2]);
    expect(t.position).toBe(0);
  });

  it("position returns to 0 after the last window even when the loop breaks there", () => {
    const s = new TokenStream(Int32Array.from({ length: 30 }, (_, i) => i), 3); // L = 10
    let n = 0;
    for (const w of s.windows(5)) {
      n++;
      if (w.start === 5) break;
    }
    expect(n).toBe(2);
    expect(s.position).toBe(0);
    expect([...s.windows(5)].length).toBe(2); // a new pass
  });

  it("on real text: the char-rnn pairs (h -> e, e -> l, ...)", () => {
    const v = Vocab.fromChars(PREAMBLE);
    const s = new TokenStream(v.encode(PREAMBLE), 4);
    const L = s.L;
    for (const w of s.windows(25)) {
      for (let b = 0; b < 4; b++) {
        const xs = v.decode(column(w.x, 4, b));
        const ys = v.decode(column(w.y, 4, b));
        const expected = Array.from(PREAMBLE).slice(b * L + w.start, b * L + w.start + w.T + 1).join("");
        expect(xs).toBe(expected.slice(0, -1));
        expect(ys).toBe(expected.slice(1));
      }
    }
    expect(v.decode(column(s.window(0, 10).x, 4, 0))).toBe("We the Peo");
  });

  it("errors: too short a stream, bad sizes, bad seek", () => {
    expect(() => new TokenStream(new Int32Array(5), 3)).toThrow(/5 tokens cannot make 3 parallel streams of at least 2 tokens each \(needs >= 6\); use a smaller batch size or more text/);
    expect(() => new TokenStream(new Int32Array(1), 1)).toThrow(/needs >= 2/);
    expect(new TokenStream(new Int32Array(6), 3).numWindows(4)).toBe(1);
    expect(() => new TokenStream(new Int32Array(8), 0)).toThrow(/B \(batch size\) must be an integer >= 1/);
    expect(() => new TokenStream([1, 2, 3.5, 4], 1)).toThrow(/ids\[2\] is 3.5/);
    const s = new TokenStream(new Int32Array(10), 1);
    expect(() => s.seek(9)).toThrow(/step must be an integer in \[0, 9\)/);
    expect(() => s.seek(-1)).toThrow(UnfoldError);
    expect(() => s.numWindows(0)).toThrow(/seqLen must be an integer >= 1/);
    expect(() => s.windows(1.5).next()).toThrow(/seqLen/);
    expect(() => s.stream(1)).toThrow(/b must be an integer in \[0, 1\)/);
  });

  it("reads a typed corpus in place (no 32-bit copy) and copies a plain array", () => {
    for (const ids of [Int32Array.from([1, 2, 3, 4]), Uint16Array.from([1, 2, 3, 4]), Uint8Array.from([1, 2, 3, 4])]) {
      const s = new TokenStream(ids, 2);
      expect(s.stream(0).buffer).toBe(ids.buffer);
      ids[0] = 99;
      expect(arr(s.window(0, 1).x)).toEqual([99, 3]);
    }
    const plain = [1, 2, 3, 4];
    const s = new TokenStream(plain, 2);
    plain[0] = 99;
    expect(arr(s.window(0, 1).x)).toEqual([1, 3]);
  });
});
