// src/data/batch.ts: padBatch layouts and masks, lastStepIndex / lastStepRows,
// bucketBatches (coverage, length spread, determinism), shuffledBatches,
// trainValSplit.
import { describe, expect, it } from "vitest";
import { Vocab, bucketBatches, lastStepIndex, lastStepRows, padBatch, shuffledBatches, trainValSplit } from "../src/data/index.js";
import { Rng } from "../src/util/rng.js";

const arr = (a: ArrayLike<number>) => Array.from(a);

describe("padBatch", () => {
  const seqs = [[1, 2, 3], [4], [5, 6]];

  it("time-major [T, B]: step t is row t", () => {
    const p = padBatch(seqs, { padId: 0 });
    expect([p.T, p.B, p.timeMajor]).toEqual([3, 3, true]);
    expect(arr(p.ids)).toEqual([
      1, 4, 5, // t = 0
      2, 0, 6, // t = 1
      3, 0, 0, // t = 2
    ]);
    expect(arr(p.mask)).toEqual([1, 1, 1, 1, 0, 1, 1, 0, 0]);
    expect(arr(p.lengths)).toEqual([3, 1, 2]);
    expect(p.ids).toBeInstanceOf(Int32Array);
    expect(p.mask).toBeInstanceOf(Float32Array);
  });

  it("batch-first [B, T]: sequence b is row b", () => {
    const p = padBatch(seqs, { padId: -1, timeMajor: false });
    expect(arr(p.ids)).toEqual([
      1, 2, 3, // b = 0
      4, -1, -1, // b = 1
      5, 6, -1, // b = 2
    ]);
    expect(arr(p.mask)).toEqual([1, 1, 1, 1, 0, 0, 1, 1, 0]);
  });

  it("the two layouts are transposes of each other (random sizes)", () => {
    const rng = new Rng(7);
    const batch = Array.from({ length: 9 }, () => Array.from({ length: 1 + rng.int(12) }, () => rng.int(100)));
    const tm = padBatch(batch, { padId: 99 });
    const bf = padBatch(batch, { padId: 99, timeMajor: false });
    for (let t = 0; t < tm.T; t++)
      for (let b = 0; b < tm.B; b++) {
        expect(tm.ids[t * tm.B + b]).toBe(bf.ids[b * bf.T + t]);
        expect(tm.mask[t * tm.B + b]).toBe(bf.mask[b * bf.T + t]);
        expect(tm.mask[t * tm.B + b]).toBe(t < batch[b].length ? 1 : 0);
      }
  });

  it("accepts typed arrays (e.g. vocab.encode output) and a single sequence", () => {
    const v = Vocab.fromChars("abc", { specials: { pad: true } });
    const p = padBatch([v.encode("ab"), v.encode("cab")], { padId: v.padId! });
    expect(arr(p.ids)).toEqual([v.id("a"), v.id("c"), v.id("b"), v.id("a"), 0, v.id("b")]);
    const one = padBatch([new Int32Array([7, 8])], { padId: 0 });
    expect([one.T, one.B, arr(one.ids)]).toEqual([2, 1, [7, 8]]);
  });

  it("maxLen: error by default, truncate keeps the first maxLen ids", () => {
    expect(() => padBatch(seqs, { padId: 0, maxLen: 2 })).toThrow(/sequence 0 has length 3, longer than maxLen 2.*truncate: true/);
    const p = padBatch(seqs, { padId: 0, maxLen: 2, truncate: true });
    expect([p.T, arr(p.ids), arr(p.lengths)]).toEqual([2, [1, 4, 5, 2, 0, 6], [2, 1, 2]]);
    expect(padBatch(seqs, { padId: 0, maxLen: 3 }).T).toBe(3); // exactly maxLen is fine
  });

  it("clear errors for empty input and bad ids", () => {
    expect(() => padBatch([], { padId: 0 })).toThrow(/no sequences/);
    expect(() => padBatch([[1], []], { padId: 0 })).toThrow(/sequence 1 is empty/);
    expect(() => padBatch([[1, 2.5]], { padId: 0 })).toThrow(/sequence 0 has 2.5 at step 1; ids must be 32-bit integers/);
    expect(() => padBatch([[1]], { padId: undefined as unknown as number })).toThrow(/padId is undefined.*specials: \{ pad: true \}/);
    expect(() => padBatch([[1]], { padId: 0, maxLen: 0 })).toThrow(/maxLen must be an integer >= 1/);
  });
});

describe("lastStepIndex / lastStepRows", () => {
  it("index of the last real step, and its row in a time-major [T*B, H] output", () => {
    const p = padBatch([[1, 2, 3], [4], [5, 6]], { padId: 0 });
    expect(arr(lastStepIndex(p.lengths))).toEqual([2, 0, 1]);
    const rows = lastStepRows(p.lengths);
    expect(arr(rows)).toEqual([2 * 3 + 0, 0 * 3 + 1, 1 * 3 + 2]);
    // the id at that row is the last id of each sequence
    expect(arr(rows).map((r) => p.ids[r])).toEqual([3, 4, 6]);
    expect(arr(rows).map((r) => p.mask[r])).toEqual([1, 1, 1]);
    expect(() => lastStepIndex([2, 0])).toThrow(/lengths\[1\] is 0/);
  });
});

describe("bucketBatches", () => {
  const rng = new Rng(123);
  const lengths = Array.from({ length: 103 }, () => 1 + rng.int(50));
  const spread = (batch: number[]) => Math.max(...batch.map((i) => lengths[i])) - Math.min(...batch.map((i) => lengths[i]));
  const flat = (bs: number[][]) => bs.flat().sort((a, b) => a - b);
  const all = Array.from({ length: 103 }, (_, i) => i);

  it("covers every index exactly once, full batches but possibly one", () => {
    const bs = bucketBatches(lengths, 8, { rng: new Rng(1) });
    expect(flat(bs)).toEqual(all);
    expect(bs.length).toBe(Math.ceil(103 / 8));
    expect(bs.filter((b) => b.length !== 8).map((b) => b.length)).toEqual([103 % 8]);
  });

  it("sorted cutting: batches hold consecutive lengths (spread no more than the sorted neighbours)", () => {
    const bs = bucketBatches(lengths, 8, { rng: new Rng(1) });
    const sorted = lengths.slice().sort((a, b) => a - b);
    // batch ranges are disjoint intervals of the sorted lengths
    const ranges = bs.map((b) => [Math.min(...b.map((i) => lengths[i])), Math.max(...b.map((i) => lengths[i]))]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    for (let k = 1; k < ranges.length; k++) expect(ranges[k][0]).toBeGreaterThanOrEqual(ranges[k - 1][1]);
    const totalSpread = bs.reduce((s, b) => s + spread(b), 0);
    expect(totalSpread).toBeLessThanOrEqual(sorted[102] - sorted[0]);
  });

  it("bucketWidth bounds the spread of every batch below the width", () => {
    for (const w of [1, 3, 10]) {
      const bs = bucketBatches(lengths, 6, { rng: new Rng(w), bucketWidth: w });
      expect(flat(bs)).toEqual(all);
      for (const b of bs) {
        expect(spread(b)).toBeLessThan(w);
        expect(b.length).toBeLessThanOrEqual(6);
      }
    }
  });

  it("same seed same batches; different seed different order", () => {
    const a = bucketBatches(lengths, 8, { rng: new Rng(5), bucketWidth: 5 });
    const b = bucketBatches(lengths, 8, { rng: new Rng(5), bucketWidth: 5 });
    const c = bucketBatches(lengths, 8, { rng: new Rng(6), bucketWidth: 5 });
    expect(a).toEqual(b);
    expect(c).not.toEqual(a);
    expect(flat(c)).toEqual(flat(a));
  });

  it("without rng: deterministic, ascending length, equal lengths by index", () => {
    const bs = bucketBatches([3, 1, 2, 1, 3], 2);
    expect(bs).toEqual([[1, 3], [2, 0], [4]]);
  });

  it("dropLast drops the small batches", () => {
    const bs = bucketBatches(lengths, 8, { rng: new Rng(1), dropLast: true });
    expect(bs.length).toBe(Math.floor(103 / 8));
    expect(bs.every((b) => b.length === 8)).toBe(true);
    expect(new Set(bs.flat()).size).toBe(8 * Math.floor(103 / 8));
    const bw = bucketBatches(lengths, 8, { rng: new Rng(1), dropLast: true, bucketWidth: 10 });
    expect(bw.every((b) => b.length === 8 && spread(b) < 10)).toBe(true);
  });

  it("rejects bad arguments", () => {
    expect(() => bucketBatches([1, 2], 0)).toThrow(/batchSize must be an integer >= 1/);
    expect(() => bucketBatches([1, -2], 2)).toThrow(/lengths\[1\] is -2/);
    expect(() => bucketBatches([1, 2], 2, { bucketWidth: 0 })).toThrow(/bucketWidth/);
    expect(bucketBatches([], 4)).toEqual([]);
  });
});

describe("shuffledBatches", () => {
  it("a seeded permutation in batches", () => {
    const a = shuffledBatches(10, 4, new Rng(3));
    expect(a.map((b) => b.length)).toEqual([4, 4, 2]);
    expect(a.flat().sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(shuffledBatches(10, 4, new Rng(3))).toEqual(a);
    expect(shuffledBatches(10, 4, new Rng(4))).not.toEqual(a);
    expect(shuffledBatches(10, 4, new Rng(3), { dropLast: true }).map((b) => b.length)).toEqual([4, 4]);
    expect(shuffledBatches(8, 4, new Rng(3), { dropLast: true }).length).toBe(2);
    expect(shuffledBatches(0, 4, new Rng(3))).toEqual([]);
  });
});

describe("trainValSplit", () => {
  it("disjoint, complete, sorted, seeded", () => {
    const s = trainValSplit(100, 0.2, new Rng(9));
    expect(s.val.length).toBe(20);
    expect(s.train.length).toBe(80);
    expect([...s.train, ...s.val].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(s.train).toEqual(s.train.slice().sort((a, b) => a - b));
    expect(trainValSplit(100, 0.2, new Rng(9))).toEqual(s);
    expect(trainValSplit(100, 0.2, new Rng(10)).val).not.toEqual(s.val);
  });
  it("edges: at least one val if asked, never an empty train set", () => {
    expect(trainValSplit(3, 0.01, new Rng(0)).val.length).toBe(1);
    expect(trainValSplit(2, 0.9, new Rng(0)).train.length).toBe(1);
    expect(trainValSplit(5, 0, new Rng(0))).toEqual({ train: [0, 1, 2, 3, 4], val: [] });
    expect(trainValSplit(1, 0.5, new Rng(0))).toEqual({ train: [0], val: [] });
    expect(() => trainValSplit(5, 1, new Rng(0))).toThrow(/valFraction must be in \[0, 1\)/);
    expect(() => trainValSplit(-1, 0.1, new Rng(0))).toThrow(/n must be an integer >= 0/);
  });
});
