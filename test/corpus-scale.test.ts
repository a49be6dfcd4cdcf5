// The lean corpus path (issue 12): character vocabulary and ids built in
// streaming passes over a string or its UTF-8 bytes, ids in the narrowest
// typed array, TokenStream and fit reading them in place — checked against
// plain reference implementations (Array.from over code points, TextDecoder),
// and `unfold train` on a 16 MB corpus measured for bytes per character.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Vocab } from "../src/data/vocab.js";
import { CharCounts, firstInvalidUtf8 } from "../src/data/chars.js";
import { TokenStream } from "../src/data/stream.js";
import { Sequential } from "../src/model/sequential.js";
import { loadCorpus } from "../src/cli/corpus.js";
import { UnfoldError } from "../src/errors.js";
import { Rng } from "../src/util/rng.js";
import { loadKernels } from "./helpers.js";

const ROOT = resolve(__dirname, "..");
const MAIN = join(ROOT, "dist", "cli", "main.js");
const SOTU = readFileSync(join(ROOT, "corpus", "sotu.txt"));
let dir: string;

beforeAll(async () => {
  await loadKernels();
  dir = mkdtempSync(join(tmpdir(), "unfold-scale-test-"));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The reference char vocabulary: tokens by descending count, ties by code point, from Array.from (one string per character). */
function referenceTokens(text: string): string[] {
  const counts = new Map<string, number>();
  for (const ch of Array.from(text)) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].codePointAt(0)! - b[0].codePointAt(0)!).map(([t]) => t);
}

const MIXED = "Grüße, 世界! naïve café — emoji 😀👍🏽 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢\nline two\ttab ".repeat(7) + "the end 😀";

describe("streaming char vocabulary and encode", () => {
  it("fromChars and encode over a string or its UTF-8 bytes match Array.from over code points", () => {
    const ref = referenceTokens(MIXED);
    const bytes = new TextEncoder().encode(MIXED);
    const fromText = Vocab.fromChars(MIXED);
    const fromBytes = Vocab.fromChars(bytes);
    expect(fromText.tokens).toEqual(ref);
    expect(fromBytes.tokens).toEqual(ref);
    const want = Array.from(MIXED).map((ch) => ref.indexOf(ch));
    expect(Array.from(fromText.encode(MIXED))).toEqual(want);
    expect(Array.from(fromText.encode(bytes))).toEqual(want);
    const compact = fromText.encode(MIXED, { compact: true });
    expect(compact).toBeInstanceOf(Uint8Array);
    expect(Array.from(compact)).toEqual(want);
    expect(fromText.decode(compact)).toBe(MIXED);
    // bos / eos around the lean path
    const v = Vocab.fromChars(MIXED, { specials: { bos: true, eos: true } });
    const e = v.encode("Grüße", { bos: true, eos: true, compact: true });
    expect(Array.from(e)).toEqual([v.bosId, ...Array.from("Grüße").map((c) => v.id(c)), v.eosId]);
  });

  it("a lone surrogate is one character, as Array.from splits it", () => {
    const text = "a\ud800b\udc00c😀";
    expect(Vocab.fromChars(text).tokens).toEqual(referenceTokens(text));
    const v = Vocab.fromChars(text);
    expect(Array.from(v.encode(text))).toEqual(Array.from(text).map((c) => v.id(c)));
  });

  it("ids come in the narrowest array: Uint8 up to 256 tokens, Uint16 up to 65,536, Int32 beyond", () => {
    const chars = (from: number, count: number) => Array.from({ length: count }, (_, i) => String.fromCodePoint(from + i)).join("");
    const t256 = chars(0x100, 256);
    const t257 = chars(0x100, 257);
    const big = chars(0x4e00, 20000) + chars(0x20000, 50000); // 70,000 distinct, most of them astral
    expect(Vocab.fromChars(t256).encode(t256, { compact: true })).toBeInstanceOf(Uint8Array);
    const v257 = Vocab.fromChars(t257);
    const e257 = v257.encode(t257, { compact: true });
    expect(e257).toBeInstanceOf(Uint16Array);
    expect(Array.from(e257)).toEqual(Array.from(t257).map((c) => v257.id(c)));
    const vBig = Vocab.fromChars(big);
    expect(vBig.size).toBe(70000);
    const eBig = vBig.encode(big, { compact: true });
    expect(eBig).toBeInstanceOf(Int32Array);
    expect(eBig[69999]).toBe(vBig.id(String.fromCodePoint(0x20000 + 49999)));
    const eBytes = vBig.encode(new TextEncoder().encode(big), { compact: true });
    expect(Buffer.from(eBytes.buffer).equals(Buffer.from(eBig.buffer))).toBe(true); // (a deep toEqual of 70,000 ids is slow)
  });

  it("UTF-8 validation agrees with TextDecoder (fatal) on random and crafted bytes", () => {
    const rng = new Rng(5);
    const pieces = [[0x41], [0xc3, 0xa9], [0xe2, 0x82, 0xac], [0xf0, 0x9f, 0x98, 0x80], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0x80], [0xff], [0xf5, 0x80, 0x80, 0x80], [0xe0, 0x9f, 0xbf]];
    const dec = new TextDecoder("utf-8", { fatal: true });
    for (let trial = 0; trial < 200; trial++) {
      const parts: number[] = [];
      const k = 1 + rng.int(6);
      for (let j = 0; j < k; j++) parts.push(...pieces[trial % 3 === 0 ? rng.int(pieces.length) : rng.int(4)]);
      const b = Uint8Array.from(parts);
      let valid = true;
      let text = "";
      try {
        text = dec.decode(b);
      } catch {
        valid = false;
      }
      expect(firstInvalidUtf8(b) === -1, `bytes ${parts.map((x) => x.toString(16))}`).toBe(valid);
      const counts = new CharCounts();
      if (valid) {
        counts.addUtf8(b);
        expect(counts.total).toBe(Array.from(text).length);
        if (trial % 10 === 0) expect(Vocab.fromChars(b).tokens).toEqual(referenceTokens(text));
      } else {
        expect(() => counts.addUtf8(b)).toThrow(UnfoldError);
      }
    }
    try {
      Vocab.fromChars(Uint8Array.from([0x61, 0x62, 0xed, 0xa0, 0x80]));
      expect.unreachable();
    } catch (e) {
      expect((e as UnfoldError).code).toBe("E_FORMAT");
      expect((e as Error).message).toMatch(/not valid UTF-8 .*offset 2/);
    }
  });
});

describe("the stream reads narrow ids in place", () => {
  it("TokenStream windows and fit({ stream }) are identical for Uint8Array, Uint16Array and Int32Array ids", () => {
    const text = SOTU.subarray(0, 6000).toString("utf8");
    const vocab = Vocab.fromChars(text);
    const ids32 = vocab.encode(text);
    const ids8 = vocab.encode(text, { compact: true });
    expect(ids8).toBeInstanceOf(Uint8Array);
    const ids16 = Uint16Array.from(ids32);
    const s8 = new TokenStream(ids8, 4);
    const s32 = new TokenStream(ids32, 4);
    expect(s8.window(37, 16)).toEqual(s32.window(37, 16));
    const weights = (stream: ArrayLike<number>) => {
      const m = new Sequential({ input: { type: "tokens", vocabSize: vocab.size, embeddingDim: 8 }, recurrent: [{ cell: "lstm", hiddenSize: 16 }], output: { size: vocab.size, loss: "xent" }, mode: "many-to-many", seed: 3 });
      m.fit({ stream }, { steps: 5, batchSize: 4, tbptt: { k1: 16 }, optimizer: { type: "adam", lr: 0.01 }, validation: { fraction: 0.1 } });
      const sd = m.stateDict();
      m.dispose();
      return sd;
    };
    const w32 = weights(ids32);
    expect(weights(ids8)).toEqual(w32);
    expect(weights(ids16)).toEqual(w32);
  });
});

/** Run the CLI with its peak RSS (getrusage ru_maxrss, the kernel's VmHWM) written at exit. */
function runMeasured(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; peakBytes: number }> {
  const hook = join(dir, "peak-rss.mjs");
  writeFileSync(hook, `import { writeFileSync } from "node:fs";\nprocess.on("exit", () => writeFileSync(process.env.UNFOLD_PEAK_FILE, String(process.resourceUsage().maxRSS * 1024)));\n`);
  const peakFile = join(dir, `peak-${Math.random().toString(36).slice(2)}.txt`);
  return new Promise((res) => {
    const child = spawn(process.execPath, ["--import", hook, MAIN, ...args], { cwd: dir, env: { ...process.env, UNFOLD_PEAK_FILE: peakFile } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("exit", (code) => res({ code, stdout, stderr, peakBytes: Number(readFileSync(peakFile, "utf8")) }));
  });
}

describe("unfold train on a 16 MB corpus: memory proportional to the text", () => {
  it("holds 1 byte per character of ids, and peak RSS grows by under 4 bytes per character", async () => {
    // Whole copies of the bundled corpus, 16 MB; and a 100 kB one for the fixed cost.
    const copies = Math.ceil((16 << 20) / SOTU.length);
    const big = join(dir, "big.txt");
    writeFileSync(big, Buffer.concat(Array.from({ length: copies }, () => SOTU)));
    const small = join(dir, "small.txt");
    writeFileSync(small, SOTU.subarray(0, SOTU.lastIndexOf(0x0a, 100_000) + 1));

    // In process: the loaded corpus is one Uint8Array of exactly n bytes.
    const c = loadCorpus(big);
    const n = c.ids.length;
    expect(c.ids).toBeInstanceOf(Uint8Array);
    expect(c.ids.buffer.byteLength).toBe(n);
    expect(n).toBe(Array.from(SOTU.toString("utf8")).length * copies);
    expect(c.vocab.tokens).toEqual(Vocab.fromChars(SOTU).tokens); // same text, same counts ranking

    const flags = ["--hidden", "16", "--layers", "1", "--embedding", "8", "--seq", "16", "--batch", "8", "--steps", "2", "--threads", "1",
      "--checkpoint-every", "0", "--sample-every", "0", "--val-chars", "4k", "--log-every", "0"];
    const base = await runMeasured(["train", small, ...flags, "--out", "small.unfold"]);
    expect(base.stderr).toBe("");
    const run = await runMeasured(["train", big, ...flags, "--out", "big.unfold"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(new RegExp(`${n.toLocaleString("en-US")} characters, vocabulary \\d+ \\(1 byte per character`));
    const growth = run.peakBytes - base.peakBytes;
    const perChar = growth / n;
    // The file's bytes and the ids are both in memory while encoding: ~2 bytes per character (it was ~31).
    console.log(`peak RSS ${(base.peakBytes / 2 ** 20).toFixed(0)} MB (100 kB corpus) -> ${(run.peakBytes / 2 ** 20).toFixed(0)} MB (${(n / 2 ** 20).toFixed(1)}M characters): ${perChar.toFixed(2)} bytes per character`);
    expect(perChar).toBeLessThan(4);
  });

  it("more than 65,536 distinct characters is refused with a clear message", async () => {
    const chars = Array.from({ length: 70000 }, (_, i) => String.fromCodePoint(i < 20000 ? 0x4e00 + i : 0x20000 + i)).join("");
    const f = join(dir, "many.txt");
    writeFileSync(f, chars);
    const r = await runMeasured(["train", f, "--steps", "1", "--threads", "1"]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^unfold: the corpus .*many\.txt has 70,000 distinct characters; unfold train supports at most 65,536 \(character ids are stored in 16 bits\)/);
  });
});
