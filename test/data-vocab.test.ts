// src/data tokenize.ts + vocab.ts: exact ids on small texts, Unicode (emoji,
// Korean, code-point order), unknown-token errors, JSON round trip and
// corrupt-vocab errors, and a real text.
import { describe, expect, it } from "vitest";
import { Vocab, charTokens, compareCodePoints, wordTokens } from "../src/data/index.js";
import { UnfoldError } from "../src/errors.js";

// Public domain: the Preamble of the Constitution of the United States (1787).
const PREAMBLE =
  "We the People of the United States, in Order to form a more perfect Union, establish Justice, " +
  "insure domestic Tranquility, provide for the common defence, promote the general Welfare, and " +
  "secure the Blessings of Liberty to ourselves and our Posterity, do ordain and establish this " +
  "Constitution for the United States of America.";

const ids = (a: Int32Array) => Array.from(a);

describe("charTokens", () => {
  it("splits by code point: surrogate pairs stay whole, Korean syllables are one each", () => {
    expect(charTokens("a😀b")).toEqual(["a", "😀", "b"]);
    expect("a😀b".length).toBe(4); // 4 UTF-16 units, 3 code points
    expect(charTokens("안녕하세요")).toEqual(["안", "녕", "하", "세", "요"]);
    expect(charTokens("")).toEqual([]);
    expect(charTokens("𝄞x")).toEqual(["𝄞", "x"]);
  });
  it("rejects a non-string", () => {
    expect(() => charTokens(42 as unknown as string)).toThrow(/expected a string, got number/);
  });
});

describe("wordTokens", () => {
  it("separates words, numbers and punctuation", () => {
    expect(wordTokens("Hello, world! It's 3.14.")).toEqual(["Hello", ",", "world", "!", "It's", "3.14", "."]);
    expect(wordTokens("  well-known\t1,000 cats\n")).toEqual(["well", "-", "known", "1,000", "cats"]);
    expect(wordTokens("")).toEqual([]);
    expect(wordTokens("   ")).toEqual([]);
  });
  it("lowercases on request", () => {
    expect(wordTokens("The CAT sat.", { lowercase: true })).toEqual(["the", "cat", "sat", "."]);
  });
  it("handles Korean words, accents and emoji", () => {
    expect(wordTokens("안녕하세요, 세계! café 😀")).toEqual(["안녕하세요", ",", "세계", "!", "café", "😀"]);
    // emoji sequences stay whole: variation selector, skin tone, ZWJ family
    expect(wordTokens("I ❤️ it 👍🏽👨‍👩‍👧!")).toEqual(["I", "❤️", "it", "👍🏽", "👨‍👩‍👧", "!"]);
    // a decomposed accent stays with its letter
    expect(wordTokens("cafe\u0301 ok")).toEqual(["cafe\u0301", "ok"]);
  });
});

describe("Vocab.fromChars", () => {
  it("orders by descending count, ties by code point", () => {
    const v = Vocab.fromChars("hello");
    // counts: l 2; e, h, o 1 each -> l, then e < h < o
    expect(v.tokens).toEqual(["l", "e", "h", "o"]);
    expect(v.size).toBe(4);
    expect(ids(v.encode("hello"))).toEqual([2, 1, 0, 0, 3]);
    expect(v.decode(v.encode("hello"))).toBe("hello");
    expect(v.id("l")).toBe(0);
    expect(v.id("z")).toBeUndefined();
    expect(v.token(3)).toBe("o");
    expect(v.padId).toBeUndefined();
    expect(v.unkId).toBeUndefined();
    expect(v.bosId).toBeUndefined();
    expect(v.eosId).toBeUndefined();
    expect(v.level).toBe("char");
  });

  it("puts specials first in the fixed order pad, unk, bos, eos", () => {
    const v = Vocab.fromChars(["hello"], { specials: { eos: true, unk: "?", pad: true, bos: "<s>" } });
    expect(v.tokens).toEqual(["<pad>", "?", "<s>", "<eos>", "l", "e", "h", "o"]);
    expect([v.padId, v.unkId, v.bosId, v.eosId]).toEqual([0, 1, 2, 3]);
    const v2 = Vocab.fromChars("hello", { specials: { unk: true, eos: true, pad: false } });
    expect(v2.tokens.slice(0, 2)).toEqual(["<unk>", "<eos>"]);
    expect([v2.padId, v2.unkId, v2.bosId, v2.eosId]).toEqual([undefined, 0, undefined, 1]);
  });

  it("counts over several texts and is deterministic", () => {
    const a = Vocab.fromChars(["abc", "cba", "c"]);
    expect(a.tokens).toEqual(["c", "a", "b"]);
    const b = Vocab.fromChars(new Set(["c", "cba", "abc"]));
    expect(b.tokens).toEqual(a.tokens);
  });

  it("ties break by code point, not by UTF-16 unit", () => {
    // U+FFFD < U+1F600 as code points; as UTF-16 strings "😀" (0xD83D...) < "\uFFFD".
    expect("😀" < "\uFFFD").toBe(true);
    const v = Vocab.fromChars("😀\uFFFD");
    expect(v.tokens).toEqual(["\uFFFD", "😀"]);
    expect(compareCodePoints("😀", "\uFFFD")).toBeGreaterThan(0);
    expect(compareCodePoints("ab", "abc")).toBeLessThan(0);
    expect(compareCodePoints("x😀", "x😀")).toBe(0);
  });

  it("encodes emoji and Korean as one id per code point and decodes back", () => {
    const text = "한국어 😀👍 한글!";
    const v = Vocab.fromChars(text);
    const e = v.encode(text);
    expect(e.length).toBe(Array.from(text).length);
    expect(v.decode(e)).toBe(text);
    expect(v.tokens).toContain("😀");
    expect(v.tokens[0]).toBe(" "); // most frequent (2), and " " (U+20) < "한" (2)
    expect(v.tokens[1]).toBe("한");
    expect(ids(v.encode("😀"))).toEqual([v.id("😀")]);
  });

  it("minCount and maxSize drop the rarest tokens; maxSize counts the specials", () => {
    const v = Vocab.fromChars("aaabbc", { minCount: 2 });
    expect(v.tokens).toEqual(["a", "b"]);
    const w = Vocab.fromChars("aaabbc", { maxSize: 3, specials: { unk: true } });
    expect(w.tokens).toEqual(["<unk>", "a", "b"]);
    expect(ids(w.encode("abc"))).toEqual([1, 2, 0]); // unk is the default with an unk token
    expect(() => Vocab.fromChars("abc", { maxSize: 1, specials: { pad: true, unk: true } })).toThrow(/maxSize must be an integer >= the number of specials \(2\)/);
    expect(() => Vocab.fromChars("abc", { minCount: 0 })).toThrow(/minCount/);
  });

  it("rejects bad specials and empty vocabularies", () => {
    expect(() => Vocab.fromChars("ab", { specials: { pad: "x", unk: "x" } })).toThrow(/specials.unk and specials.pad are both "x"/);
    expect(() => Vocab.fromChars("ab", { specials: { mask: true } as never })).toThrow(/unknown special "mask"/);
    expect(() => Vocab.fromChars("ab", { specials: { pad: "" } })).toThrow(/non-empty string/);
    expect(() => Vocab.fromChars("")).toThrow(/vocabulary is empty/);
    expect(() => Vocab.fromChars("ab", { minCount: 5 })).toThrow(/seen 5 or more times/);
    expect(Vocab.fromChars("", { specials: { pad: true } }).size).toBe(1);
  });

  it("a special that occurs in the text is not added twice", () => {
    const v = Vocab.fromChars("a_b_", { specials: { pad: "_" } });
    expect(v.tokens).toEqual(["_", "a", "b"]);
    expect(ids(v.encode("a_"))).toEqual([1, 0]);
  });
});

describe("Vocab.encode errors", () => {
  const v = Vocab.fromChars("hello world");

  it("names the unknown token (escaped), its position and the fix", () => {
    let msg = "";
    try {
      v.encode("hello\nwörld");
    } catch (e) {
      msg = (e as Error).message;
    }
    expect(msg).toContain('unknown token "\\n" (U+000A)');
    expect(msg).toContain("char-level token 5 of 11");
    expect(msg).toContain("Vocab.fromChars([...trainingTexts, thisText])");
    expect(msg).toContain("specials: { unk: true }");
    expect(msg).toContain('onUnknown: "unk"');
  });

  it("escapes emoji and quotes readably", () => {
    expect(() => v.encode('he"l')).toThrow(/unknown token "\\"" \(U\+0022\) at char-level token 2 of 4/);
    expect(() => v.encode("😀")).toThrow(/unknown token "😀" \(U\+1F600\)/);
  });

  it("positions count token-array indices too", () => {
    const w = Vocab.fromWords("the cat sat");
    expect(() => w.encode(["the", "dog"])).toThrow(/unknown token "dog" at index 1 of 2 in the token array/);
    expect(() => w.encode("the dog sat")).toThrow(/unknown token "dog" at word-level token 1 of 3 in the text.*Vocab\.fromWords/);
  });

  it("onUnknown 'unk' without an unk token is a clear error, even if nothing is unknown", () => {
    expect(() => v.encode("hello", { onUnknown: "unk" })).toThrow(/onUnknown "unk" needs an unk token, and this vocab has none; build the vocab with specials: \{ unk: true \}/);
  });

  it("maps unknowns to unk, and 'error' still throws when asked", () => {
    const u = Vocab.fromChars("hello", { specials: { unk: true } });
    expect(ids(u.encode("help"))).toEqual([u.id("h"), u.id("e"), u.id("l"), 0]);
    expect(() => u.encode("help", { onUnknown: "error" })).toThrow(/unknown token "p".*encode with \{ onUnknown: "unk" \} to map it to "<unk>"/);
    expect(u.decode(u.encode("help"))).toBe("hel<unk>");
  });

  it("adds bos / eos on request, errors without them", () => {
    const u = Vocab.fromChars("ab", { specials: { pad: true, bos: true, eos: true } });
    expect(ids(u.encode("ba", { bos: true, eos: true }))).toEqual([1, 4, 3, 2]);
    expect(u.decode([1, 4, 3, 2, 0, 0])).toBe("<bos>ba<eos>");
    expect(u.decode([1, 4, 3, 2, 0], { skipSpecials: true })).toBe("ba");
    expect(u.decode([3, 0], { skipPad: false })).toBe("a<pad>");
    expect(() => v.encode("he", { bos: true })).toThrow(/bos: true needs a bos token/);
    expect(() => v.encode("he", { eos: true })).toThrow(/eos: true needs a eos token/);
  });

  it("decode / token reject ids out of range", () => {
    expect(() => v.decode([0, 99])).toThrow(/id 99 is out of range; ids are integers in \[0, 8\)/);
    expect(() => v.token(-1)).toThrow(UnfoldError);
    expect(() => v.token(1.5)).toThrow(UnfoldError);
  });
});

describe("Vocab.fromWords / fromTokens", () => {
  it("exact ids on a small text, lowercase", () => {
    const v = Vocab.fromWords(["The cat sat.", "the cat ran!"], { lowercase: true, specials: { pad: true, unk: true } });
    // counts: cat 2, the 2; ! 1, . 1, ran 1, sat 1 -> ties in code point order
    expect(v.tokens).toEqual(["<pad>", "<unk>", "cat", "the", "!", ".", "ran", "sat"]);
    expect(ids(v.encode("THE cat flew."))).toEqual([3, 2, 1, 5]);
    expect(v.decode([3, 2, 7, 5, 0, 0])).toBe("the cat sat .");
    expect(v.lowercase).toBe(true);
  });

  it("fromTokens takes token arrays only", () => {
    const v = Vocab.fromTokens([["▁the", "▁cat"], ["▁the"]]);
    expect(v.tokens).toEqual(["▁the", "▁cat"]);
    expect(ids(v.encode(["▁cat", "▁the"]))).toEqual([1, 0]);
    expect(() => v.encode("the cat")).toThrow(/pre-tokenized.*pass an array of tokens/);
    expect(() => Vocab.fromTokens(["abc" as unknown as string[]])).toThrow(/sequence 0 is a string/);
  });
});

describe("Vocab JSON", () => {
  it("round trips every level and the specials", () => {
    const vs = [
      Vocab.fromChars("héllo 😀 안녕", { specials: { pad: true, unk: true, bos: true, eos: true } }),
      Vocab.fromWords(PREAMBLE, { lowercase: true, specials: { unk: true }, minCount: 2 }),
      Vocab.fromTokens([["a", "b"], ["b"]], { specials: { pad: "[PAD]" } }),
    ];
    for (const v of vs) {
      const text = JSON.stringify(v);
      const w = Vocab.fromJSON(text);
      expect(w.toJSON()).toEqual(v.toJSON());
      expect(Vocab.fromJSON(JSON.parse(text)).tokens).toEqual(v.tokens);
      expect([w.padId, w.unkId, w.bosId, w.eosId]).toEqual([v.padId, v.unkId, v.bosId, v.eosId]);
      expect(w.level).toBe(v.level);
      expect(w.lowercase).toBe(v.lowercase);
    }
    const w = Vocab.fromJSON(JSON.stringify(vs[1]));
    expect(ids(w.encode("We the People"))).toEqual(ids(vs[1].encode("We the People")));
  });

  it("rejects a corrupt vocab with a message saying what is wrong", () => {
    const good = Vocab.fromChars("abc", { specials: { unk: true } }).toJSON();
    const bad = (patch: Record<string, unknown>) => ({ ...good, ...patch });
    expect(() => Vocab.fromJSON("{not json")).toThrow(/not a valid vocab: the text is not JSON/);
    expect(() => Vocab.fromJSON(null)).toThrow(/expected an object, got null/);
    expect(() => Vocab.fromJSON([1, 2])).toThrow(/expected an object, got an array/);
    expect(() => Vocab.fromJSON(bad({ format: "other" }))).toThrow(/"format" is "other", expected "unfold-rnn\/vocab"/);
    expect(() => Vocab.fromJSON(bad({ version: 2 }))).toThrow(/"version" is 2; this library reads version 1/);
    expect(() => Vocab.fromJSON(bad({ level: "byte" }))).toThrow(/"level" is "byte"/);
    expect(() => Vocab.fromJSON(bad({ tokens: "abc" }))).toThrow(/"tokens" is "abc", expected an array of strings/);
    expect(() => Vocab.fromJSON(bad({ tokens: [] }))).toThrow(/"tokens" is empty/);
    expect(() => Vocab.fromJSON(bad({ tokens: ["<unk>", "a", 3] }))).toThrow(/tokens\[2\] is 3, expected a non-empty string/);
    expect(() => Vocab.fromJSON(bad({ tokens: ["<unk>", "a", "b", "a"] }))).toThrow(/tokens\[3\] = "a" repeats tokens\[1\]/);
    expect(() => Vocab.fromJSON(bad({ tokens: ["<unk>", "ab"] }))).toThrow(/level "char" but tokens\[1\] = "ab" is not one code point/);
    expect(() => Vocab.fromJSON(bad({ specials: { unk: "<oov>" } }))).toThrow(/specials.unk is "<oov>", which is not one of the tokens/);
    expect(() => Vocab.fromJSON(bad({ specials: { mask: "a" } }))).toThrow(/unknown kind "mask"/);
    expect(() => Vocab.fromJSON(bad({ specials: { unk: "<unk>", pad: "<unk>" } }))).toThrow(/is also another special/);
    expect(() => Vocab.fromJSON(bad({ lowercase: "yes" }))).toThrow(/"lowercase" is "yes"/);
  });
});

describe("real text: the US Constitution preamble", () => {
  it("char level: round trip, frequencies and exact head of the vocab", () => {
    const v = Vocab.fromChars(PREAMBLE);
    const e = v.encode(PREAMBLE);
    expect(e.length).toBe(PREAMBLE.length);
    expect(v.decode(e)).toBe(PREAMBLE);
    // Most frequent characters, counted independently.
    const counts = new Map<string, number>();
    for (const c of PREAMBLE) counts.set(c, (counts.get(c) ?? 0) + 1);
    const expected = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([c]) => c);
    expect(v.tokens).toEqual(expected);
    expect(v.tokens[0]).toBe(" ");
    expect(v.tokens[1]).toBe("e");
    // every id is used at least once and ids are dense
    expect(new Set(e).size).toBe(v.size);
  });

  it("word level: counts and unknowns", () => {
    const v = Vocab.fromWords(PREAMBLE, { lowercase: true, specials: { pad: true, unk: true } });
    // 7 commas, 6 "the", 3 "and" and "of", then 2 each of establish, for, states, to, united.
    expect(v.tokens.slice(0, 11)).toEqual(["<pad>", "<unk>", ",", "the", "and", "of", "establish", "for", "states", "to", "united"]);
    expect(v.tokens.slice(0, 7)).toEqual(["<pad>", "<unk>", ",", "the", "and", "of", "establish"]);
    const toks = wordTokens(PREAMBLE, { lowercase: true });
    expect(toks.length).toBe(52 + 7 + 1); // 52 space-separated words, 7 commas, 1 period
    expect(v.decodeTokens(v.encode(PREAMBLE))).toEqual(toks);
    expect(ids(v.encode("We the Robots"))).toEqual([v.id("we"), v.id("the"), 1]);
  });
});
