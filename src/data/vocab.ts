/**
 * Vocab: the two-way map token <-> id that turns text into the integer
 * sequences an Embedding layer reads, and a model's output ids back into text.
 *
 * Legend: n = tokens in one text, V = vocabulary size (`vocab.size`).
 *
 * Ids are deterministic: the reserved (special) tokens first, always in the
 * order pad, unk, bos, eos (only those asked for), then the tokens of the
 * training text by descending count, ties broken by Unicode code point order.
 * So the same texts and options give the same ids in every runtime, and a
 * vocab with `pad` has `padId === 0`.
 */
import { UnfoldError } from "../errors.js";
import { charTokens, wordTokens } from "./tokenize.js";
import {
  CharCounts, CharIndex, type CharMiss, codePointLength, encodeStringInto, encodeUtf8Into, newIdArray, type TokenIds, utf8CodePointLength,
} from "./chars.js";

/** How a vocab splits a string: by code point, by word, or not at all (pre-tokenized input only). */
export type VocabLevel = "char" | "word" | "token";

/** The reserved tokens, in id order. */
export const SPECIAL_KINDS = ["pad", "unk", "bos", "eos"] as const;
/** One of the reserved token kinds. */
export type SpecialKind = (typeof SPECIAL_KINDS)[number];

/** The conventional strings used when a special is given as `true`. */
export const DEFAULT_SPECIALS: Readonly<Record<SpecialKind, string>> = {
  pad: "<pad>",
  unk: "<unk>",
  bos: "<bos>",
  eos: "<eos>",
};

/**
 * Reserved tokens to include. Each is a string (the token itself), `true`
 * (the conventional `<pad>`, `<unk>`, `<bos>`, `<eos>`), or `false` /
 * absent (none). Default: no specials.
 *
 * - pad: fills the end of short sequences in a batch ({@link padBatch}); skipped by `decode`.
 * - unk: stands for any token not in the vocab (`encode(..., { onUnknown: "unk" })`).
 * - bos / eos: begin / end of sequence markers (`encode(..., { bos: true, eos: true })`).
 *
 * If a special string also occurs in the training text, its occurrences get
 * the special's id (it is not added twice).
 */
export interface VocabSpecials {
  /** The padding token: `true` for the default string "<pad>", or the string to use. */
  pad?: string | boolean;
  /** The unknown token: `true` for "<unk>", or the string to use. */
  unk?: string | boolean;
  /** The begin-of-sequence marker: `true` for "<bos>", or the string to use. */
  bos?: string | boolean;
  /** The end-of-sequence marker: `true` for "<eos>", or the string to use. */
  eos?: string | boolean;
}

/** Options of {@link Vocab.fromChars} and {@link Vocab.fromTokens}. */
export interface VocabOptions {
  /** Reserved tokens; see {@link VocabSpecials}. Default none. */
  specials?: VocabSpecials;
  /** Keep only tokens seen at least this many times. Default 1 (all). */
  minCount?: number;
  /** Largest vocab size, specials included; the rarest tokens are dropped. Default unlimited. */
  maxSize?: number;
}

/** Options of {@link Vocab.fromWords}. */
export interface WordVocabOptions extends VocabOptions {
  /** Lower-case text before splitting it into words (at build and at encode time). Default false. */
  lowercase?: boolean;
}

/** Options of {@link Vocab.encode}. */
export interface EncodeOptions {
  /**
   * What to do with a token the vocab does not have: `"error"` throws an
   * Error naming the token and its position; `"unk"` maps it to the unk id
   * (the vocab must have an unk token). Default: `"unk"` if the vocab has an
   * unk token, else `"error"`.
   */
  onUnknown?: "error" | "unk";
  /** Prepend the bos id (the vocab must have a bos token). Default false. */
  bos?: boolean;
  /** Append the eos id (the vocab must have an eos token). Default false. */
  eos?: boolean;
  /**
   * Return the ids in the narrowest typed array for this vocab:
   * `Uint8Array` up to 256 tokens, `Uint16Array` up to 65,536, else
   * `Int32Array` — 1 or 2 bytes per character instead of 4 on a long corpus.
   * Default false (an Int32Array).
   */
  compact?: boolean;
}

/** Options of {@link Vocab.decode} and {@link Vocab.decodeTokens}. */
export interface DecodeOptions {
  /** Drop pad ids. Default true. */
  skipPad?: boolean;
  /** Drop every special id (pad, unk, bos, eos). Default false. */
  skipSpecials?: boolean;
}

/** The serialized form of a {@link Vocab} (`vocab.toJSON()`), plain JSON. */
export interface VocabJSON {
  /** Marks the object as a vocabulary. */
  format: "unfold-rnn/vocab";
  /** Version of this layout. */
  version: 1;
  /** What a token is: a character or a word. */
  level: VocabLevel;
  /** Word level only: text is lower-cased before splitting. */
  lowercase: boolean;
  /** Every token, by id: `tokens[id]`. [V] */
  tokens: string[];
  /** The special tokens present, by kind. */
  specials: Partial<Record<SpecialKind, string>>;
}

const FORMAT = "unfold-rnn/vocab";
const LEVELS: readonly VocabLevel[] = ["char", "word", "token"];

/**
 * A token <-> id mapping built from training text. Build it with
 * {@link Vocab.fromChars}, {@link Vocab.fromWords} or {@link Vocab.fromTokens};
 * save it with `JSON.stringify(vocab)` and load it with {@link Vocab.fromJSON}.
 *
 * @example
 * const vocab = Vocab.fromChars(text);              // char-rnn: ids 0..V-1 are the characters
 * const ids = vocab.encode("hello");                 // Int32Array [5]
 * vocab.decode(ids);                                 // "hello"
 *
 * const words = Vocab.fromWords(reviews, { lowercase: true, minCount: 2, specials: { pad: true, unk: true } });
 * words.encode("An unseen word");                    // unknown words -> words.unkId
 */
export class Vocab {
  /** How a string is split by `encode`. */
  readonly level: VocabLevel;
  /** Word level: lower-case before splitting. */
  readonly lowercase: boolean;
  private readonly itos: readonly string[];
  private readonly stoi: Map<string, number>;
  private readonly specialTok: Partial<Record<SpecialKind, string>>;
  private readonly specialIds: Partial<Record<SpecialKind, number>>;
  private readonly isSpecial: Uint8Array; // [V] 1 where the id is a special
  private charIdx?: CharIndex; // char level: code point -> id, built on first encode

  private constructor(level: VocabLevel, lowercase: boolean, tokens: string[], specials: Partial<Record<SpecialKind, string>>) {
    this.level = level;
    this.lowercase = lowercase;
    this.itos = Object.freeze(tokens.slice());
    this.stoi = new Map(tokens.map((t, i) => [t, i]));
    this.specialTok = { ...specials };
    this.specialIds = {};
    this.isSpecial = new Uint8Array(tokens.length);
    for (const kind of SPECIAL_KINDS) {
      const tok = specials[kind];
      if (tok === undefined) continue;
      const id = this.stoi.get(tok)!;
      this.specialIds[kind] = id;
      this.isSpecial[id] = 1;
    }
  }

  /**
   * A character-level vocab: every Unicode code point of `texts` is a token
   * (see {@link charTokens}). Counts in one pass over the text with no
   * per-character objects, so it suits a corpus of hundreds of megabytes.
   * @param texts one text or several: JS strings, or UTF-8 bytes (`Uint8Array`,
   *   e.g. a file read with `readFileSync`) — the way past V8's ~512M-character string limit
   */
  static fromChars(texts: string | Uint8Array | Iterable<string | Uint8Array>, opts: VocabOptions = {}): Vocab {
    // Streaming counts over the code points: memory is fixed, whatever the length of the text.
    const counts = new CharCounts();
    const list = texts instanceof Uint8Array ? [texts] : asTexts("Vocab.fromChars", texts as string | Iterable<string>);
    for (const text of list as Iterable<string | Uint8Array>) {
      if (typeof text === "string") counts.addString(text);
      else if (text instanceof Uint8Array) counts.addUtf8(text);
      else throw new UnfoldError("E_OPTION", `Vocab.fromChars: expected strings or UTF-8 bytes (Uint8Array), got ${describe(text)}`, { name: "text", expected: "a string or a Uint8Array", received: text });
    }
    return Vocab.fromCharCounts(counts, opts);
  }

  /**
   * A character-level vocab from code point counts made by a streaming pass
   * of your own ({@link CharCounts}: `addString` / `addUtf8` over chunks of a
   * file), so a corpus is counted once, never held as a string.
   */
  static fromCharCounts(counts: CharCounts, opts: VocabOptions = {}): Vocab {
    if (!(counts instanceof CharCounts)) throw new UnfoldError("E_OPTION", `Vocab.fromCharCounts: expected a CharCounts, got ${describe(counts)}`, { name: "counts", expected: "a CharCounts", received: counts });
    return Vocab.build("Vocab.fromChars", "char", false, new Map(counts.entries()), opts);
  }

  /**
   * A word-level vocab: words, numbers and punctuation of `texts` are tokens
   * (see {@link wordTokens}).
   * @param texts one text or several
   */
  static fromWords(texts: string | Iterable<string>, opts: WordVocabOptions = {}): Vocab {
    const lowercase = opts.lowercase ?? false;
    const counts = new Map<string, number>();
    for (const text of asTexts("Vocab.fromWords", texts)) countInto(counts, wordTokens(text, { lowercase }));
    return Vocab.build("Vocab.fromWords", "word", lowercase, counts, opts);
  }

  /**
   * A vocab over already tokenized sequences (your own tokenizer). Its
   * `encode` takes token arrays only, and `decode` joins tokens with a space.
   * @param sequences token sequences, e.g. `[["the", "cat"], ["a", "dog"]]`
   */
  static fromTokens(sequences: Iterable<Iterable<string>>, opts: VocabOptions = {}): Vocab {
    const counts = new Map<string, number>();
    let i = 0;
    for (const seq of sequences) {
      if (typeof seq === "string") {
        throw new UnfoldError("E_OPTION", `Vocab.fromTokens: sequence ${i} is a string, expected an array of tokens; use Vocab.fromChars or Vocab.fromWords to split text`);
      }
      for (const tok of seq) {
        if (typeof tok !== "string" || tok.length === 0) {
          throw new UnfoldError("E_OPTION", `Vocab.fromTokens: sequence ${i} has a token that is not a non-empty string: ${describe(tok)}`);
        }
        counts.set(tok, (counts.get(tok) ?? 0) + 1);
      }
      i++;
    }
    return Vocab.build("Vocab.fromTokens", "token", false, counts, opts);
  }

  /**
   * Load a vocab saved with `toJSON()` (or `JSON.stringify(vocab)`),
   * checking it: a corrupt or foreign object throws an Error saying what is
   * wrong.
   * @param json the object, or its JSON text
   */
  static fromJSON(json: unknown): Vocab {
    const bad = (why: string): never => {
      throw new UnfoldError("E_FORMAT", `Vocab.fromJSON: not a valid vocab: ${why}`);
    };
    let obj: unknown = json;
    if (typeof json === "string") {
      try {
        obj = JSON.parse(json);
      } catch (e) {
        bad(`the text is not JSON (${(e as Error).message})`);
      }
    }
    if (typeof obj !== "object" || obj === null || Array.isArray(obj)) bad(`expected an object, got ${describe(obj)}`);
    const o = obj as Record<string, unknown>;
    if (o.format !== FORMAT) bad(`"format" is ${describe(o.format)}, expected "${FORMAT}"`);
    if (o.version !== 1) bad(`"version" is ${describe(o.version)}; this library reads version 1`);
    if (!LEVELS.includes(o.level as VocabLevel)) bad(`"level" is ${describe(o.level)}, expected one of ${LEVELS.map((l) => `"${l}"`).join(", ")}`);
    const level = o.level as VocabLevel;
    if (o.lowercase !== undefined && typeof o.lowercase !== "boolean") bad(`"lowercase" is ${describe(o.lowercase)}, expected a boolean`);
    const lowercase = o.lowercase === true;
    if (!Array.isArray(o.tokens)) bad(`"tokens" is ${describe(o.tokens)}, expected an array of strings`);
    const tokens = o.tokens as unknown[];
    if (tokens.length === 0) bad(`"tokens" is empty`);
    const seen = new Map<string, number>();
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i];
      if (typeof t !== "string" || t.length === 0) bad(`tokens[${i}] is ${describe(t)}, expected a non-empty string`);
      const prev = seen.get(t as string);
      if (prev !== undefined) bad(`tokens[${i}] = ${JSON.stringify(t)} repeats tokens[${prev}]`);
      seen.set(t as string, i);
    }
    const sp = o.specials ?? {};
    if (typeof sp !== "object" || sp === null || Array.isArray(sp)) bad(`"specials" is ${describe(sp)}, expected an object`);
    const specials: Partial<Record<SpecialKind, string>> = {};
    for (const [kind, tok] of Object.entries(sp as Record<string, unknown>)) {
      if (!(SPECIAL_KINDS as readonly string[]).includes(kind)) bad(`"specials" has unknown kind "${kind}" (expected ${SPECIAL_KINDS.join(", ")})`);
      if (typeof tok !== "string" || !seen.has(tok)) bad(`specials.${kind} is ${describe(tok)}, which is not one of the tokens`);
      if (Object.values(specials).includes(tok as string)) bad(`specials.${kind} = ${JSON.stringify(tok)} is also another special`);
      specials[kind as SpecialKind] = tok as string;
    }
    if (level === "char") {
      const specialSet = new Set(Object.values(specials));
      for (let i = 0; i < tokens.length; i++) {
        const t = tokens[i] as string;
        if (!specialSet.has(t) && codePointCount(t) !== 1) bad(`level "char" but tokens[${i}] = ${JSON.stringify(t)} is not one code point`);
      }
    }
    return new Vocab(level, lowercase, tokens as string[], specials);
  }

  /** Number of tokens, specials included: V, the Embedding's `numEmbeddings` and the output layer's width. */
  get size(): number {
    return this.itos.length;
  }
  /** Every token by id (`tokens[id]`), specials first. [V] */
  get tokens(): readonly string[] {
    return this.itos;
  }
  /** Id of the pad token, or undefined if the vocab has none. */
  get padId(): number | undefined {
    return this.specialIds.pad;
  }
  /** Id of the unk token, or undefined if the vocab has none. */
  get unkId(): number | undefined {
    return this.specialIds.unk;
  }
  /** Id of the bos (begin of sequence) token, or undefined if the vocab has none. */
  get bosId(): number | undefined {
    return this.specialIds.bos;
  }
  /** Id of the eos (end of sequence) token, or undefined if the vocab has none. */
  get eosId(): number | undefined {
    return this.specialIds.eos;
  }
  /** The special tokens present, by kind. */
  get specials(): Readonly<Partial<Record<SpecialKind, string>>> {
    return { ...this.specialTok };
  }

  /** Whether `token` is in the vocab. */
  has(token: string): boolean {
    return this.stoi.has(token);
  }

  /** The id of `token`, or undefined if it is not in the vocab. */
  id(token: string): number | undefined {
    return this.stoi.get(token);
  }

  /** The token of `id`; throws a RangeError unless 0 <= id < size is an integer. */
  token(id: number): string {
    if (!Number.isInteger(id) || id < 0 || id >= this.itos.length) {
      throw new UnfoldError("E_VOCAB", `Vocab.token: id ${id} is out of range; ids are integers in [0, ${this.itos.length})`);
    }
    return this.itos[id];
  }

  /** Split `text` the way this vocab does (char or word level). */
  tokenize(text: string): string[] {
    if (this.level === "char") return charTokens(text);
    if (this.level === "word") return wordTokens(text, { lowercase: this.lowercase });
    throw new UnfoldError("E_OPTION", `Vocab: this vocab was built from pre-tokenized sequences (level "token"); pass an array of tokens, not a string`);
  }

  /**
   * Text (split like the vocab was built) or a token array -> ids.
   * Token arrays are looked up as given (no lower-casing). Text may also be
   * UTF-8 bytes (`Uint8Array`). A char-level vocab encodes text in one pass
   * over its code points, with no per-character objects; with
   * `{ compact: true }` the ids come in the narrowest typed array (1 byte per
   * character for up to 256 tokens), ready for `fit({ stream })`.
   *
   * @returns ids [n] (+1 with bos, +1 with eos): an Int32Array, or with
   *   `compact` a Uint8Array / Uint16Array / Int32Array by vocab size
   * @throws Error on an unknown token with `onUnknown: "error"` (naming the
   *   token, its index and the fix), or when `onUnknown: "unk"`, `bos` or
   *   `eos` is asked of a vocab without that special.
   */
  encode(input: string | Uint8Array | readonly string[], opts: EncodeOptions & { compact: true }): TokenIds;
  encode(input: string | Uint8Array | readonly string[], opts?: EncodeOptions & { compact?: false }): Int32Array;
  encode(input: string | Uint8Array | readonly string[], opts?: EncodeOptions): TokenIds;
  encode(input: string | Uint8Array | readonly string[], opts: EncodeOptions = {}): TokenIds {
    const unkId = this.specialIds.unk;
    const onUnknown = opts.onUnknown ?? (unkId === undefined ? "error" : "unk");
    if (onUnknown !== "error" && onUnknown !== "unk") {
      throw new UnfoldError("E_OPTION", `Vocab.encode: onUnknown is ${describe(onUnknown)}, expected "error" or "unk"`);
    }
    if (onUnknown === "unk" && unkId === undefined) {
      throw new UnfoldError("E_VOCAB", `Vocab.encode: onUnknown "unk" needs an unk token, and this vocab has none; build the vocab with specials: { unk: true } (or a string of your choice), or use onUnknown "error"`);
    }
    const bos = opts.bos ? this.requireSpecial("bos") : -1;
    const eos = opts.eos ? this.requireSpecial("eos") : -1;
    const compact = opts.compact === true;
    if (this.level === "char" && (typeof input === "string" || input instanceof Uint8Array)) {
      return this.encodeChars(input, onUnknown === "unk" ? unkId! : -1, bos, eos, compact);
    }
    if (input instanceof Uint8Array && this.level === "word") input = new TextDecoder("utf-8", { fatal: true }).decode(input);
    const tokens = typeof input === "string" ? this.tokenize(input) : input;
    if (!Array.isArray(tokens)) throw new UnfoldError("E_OPTION", `Vocab.encode: expected a string or an array of tokens, got ${describe(input)}`);
    const extra = (bos >= 0 ? 1 : 0) + (eos >= 0 ? 1 : 0);
    const out = compact ? newIdArray(this.size, tokens.length + extra) : new Int32Array(tokens.length + extra); // [n (+bos) (+eos)]
    let k = 0;
    if (bos >= 0) out[k++] = bos;
    for (let i = 0; i < tokens.length; i++) {
      const id = this.stoi.get(tokens[i]);
      if (id !== undefined) {
        out[k++] = id;
      } else if (onUnknown === "unk") {
        out[k++] = unkId!;
      } else {
        throw new UnfoldError("E_VOCAB", this.unknownMessage(tokens[i], i, tokens.length, typeof input === "string"));
      }
    }
    if (eos >= 0) out[k++] = eos;
    return out;
  }

  /**
   * The char-level lookup table (code point -> id), built on first use.
   * @internal for the CLI's streaming corpus reader
   */
  charIndex(): CharIndex {
    if (this.level !== "char") throw new UnfoldError("E_STATE", `Vocab.charIndex: this vocab is ${this.level}-level, not char-level`, { name: "vocab" });
    return (this.charIdx ??= new CharIndex(this.itos));
  }

  /** Char level: one pass to count the code points, one to look them up in a flat table. */
  private encodeChars(text: string | Uint8Array, unk: number, bos: number, eos: number, compact: boolean): TokenIds {
    const n = typeof text === "string" ? codePointLength(text) : utf8CodePointLength(text);
    const first = bos >= 0 ? 1 : 0;
    const len = n + first + (eos >= 0 ? 1 : 0);
    const out = compact ? newIdArray(this.size, len) : new Int32Array(len); // [n (+bos) (+eos)]
    if (bos >= 0) out[0] = bos;
    const idx = this.charIndex();
    const miss: CharMiss | null = typeof text === "string" ? encodeStringInto(text, idx, unk, out, first) : encodeUtf8Into(text, idx, unk, out, first);
    if (miss) throw new UnfoldError("E_VOCAB", this.unknownMessage(miss.ch, miss.index, n, true), { name: "text", received: miss.ch });
    if (eos >= 0) out[len - 1] = eos;
    return out;
  }

  /** Ids -> tokens [n'] (pad dropped by default). Throws a RangeError on an id outside [0, size). */
  decodeTokens(ids: ArrayLike<number>, opts: DecodeOptions = {}): string[] {
    const skipPad = opts.skipPad ?? true;
    const skipSpecials = opts.skipSpecials ?? false;
    const pad = this.specialIds.pad;
    const out: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      const tok = this.token(id);
      if (skipSpecials && this.isSpecial[id]) continue;
      if (skipPad && id === pad) continue;
      out.push(tok);
    }
    return out;
  }

  /**
   * Ids -> text: char-level tokens are joined with nothing, word and token
   * level with a space (so word-level decode is not an exact inverse:
   * `"Hi, you"` comes back as `"Hi , you"`).
   */
  decode(ids: ArrayLike<number>, opts: DecodeOptions = {}): string {
    return this.decodeTokens(ids, opts).join(this.level === "char" ? "" : " ");
  }

  /** The plain-JSON form; `JSON.stringify(vocab)` uses it. Load with {@link Vocab.fromJSON}. */
  toJSON(): VocabJSON {
    return {
      format: FORMAT,
      version: 1,
      level: this.level,
      lowercase: this.lowercase,
      tokens: this.itos.slice(),
      specials: { ...this.specialTok },
    };
  }

  private requireSpecial(kind: "bos" | "eos"): number {
    const id = this.specialIds[kind];
    if (id === undefined) {
      throw new UnfoldError("E_VOCAB", `Vocab.encode: ${kind}: true needs a ${kind} token, and this vocab has none; build the vocab with specials: { ${kind}: true }`);
    }
    return id;
  }

  private unknownMessage(tok: string, i: number, n: number, fromText: boolean): string {
    const cp = codePointCount(tok) === 1 ? ` (U+${tok.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")})` : "";
    const builder = this.level === "char" ? "Vocab.fromChars" : this.level === "word" ? "Vocab.fromWords" : "Vocab.fromTokens";
    const what = fromText ? `${this.level}-level token ${i} of ${n} in the text` : `index ${i} of ${n} in the token array`;
    const unkFix = this.specialIds.unk === undefined
      ? `build the vocab with specials: { unk: true } and encode with { onUnknown: "unk" } to map unseen tokens to <unk>`
      : `encode with { onUnknown: "unk" } to map it to ${JSON.stringify(this.specialTok.unk)}`;
    return `Vocab.encode: unknown token ${JSON.stringify(tok)}${cp} at ${what}. ` +
      `Fix: build the vocab from text that contains it (${builder}([...trainingTexts, thisText])), or ${unkFix}.`;
  }

  private static build(fn: string, level: VocabLevel, lowercase: boolean, counts: Map<string, number>, opts: VocabOptions): Vocab {
    const specials = resolveSpecials(fn, opts.specials);
    const specialToks = SPECIAL_KINDS.map((k) => specials[k]).filter((t): t is string => t !== undefined);
    const minCount = opts.minCount ?? 1;
    if (!Number.isInteger(minCount) || minCount < 1) throw new UnfoldError("E_OPTION", `${fn}: minCount must be an integer >= 1, got ${minCount}`);
    const maxSize = opts.maxSize ?? Infinity;
    if (maxSize !== Infinity && (!Number.isInteger(maxSize) || maxSize < specialToks.length)) {
      throw new UnfoldError("E_OPTION", `${fn}: maxSize must be an integer >= the number of specials (${specialToks.length}), got ${maxSize}`);
    }
    const specialSet = new Set(specialToks);
    const ranked = [...counts.entries()]
      .filter(([tok, c]) => c >= minCount && !specialSet.has(tok))
      .sort((a, b) => b[1] - a[1] || compareCodePoints(a[0], b[0]))
      .map(([tok]) => tok);
    const tokens = specialToks.concat(ranked.slice(0, maxSize - specialToks.length));
    if (tokens.length === 0) {
      throw new UnfoldError("E_OPTION", `${fn}: the vocabulary is empty: the texts have no tokens${minCount > 1 ? ` seen ${minCount} or more times (minCount)` : ""} and no specials were asked for`);
    }
    return new Vocab(level, lowercase, tokens, specials);
  }
}

/**
 * Compare two strings by Unicode code point (not UTF-16 code unit: an emoji
 * U+1F600 sorts after U+FFFD here, before it with `<`).
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; ) {
    const ca = a.codePointAt(i)!;
    const cb = b.codePointAt(i)!;
    if (ca !== cb) return ca - cb;
    i += ca > 0xffff ? 2 : 1;
  }
  return a.length - b.length;
}

function resolveSpecials(fn: string, sp: VocabSpecials | undefined): Partial<Record<SpecialKind, string>> {
  const out: Partial<Record<SpecialKind, string>> = {};
  if (sp === undefined) return out;
  if (typeof sp !== "object" || sp === null) throw new UnfoldError("E_OPTION", `${fn}: specials must be an object like { pad: true, unk: "<unk>" }, got ${describe(sp)}`);
  for (const key of Object.keys(sp)) {
    if (!(SPECIAL_KINDS as readonly string[]).includes(key)) {
      throw new UnfoldError("E_OPTION", `${fn}: unknown special "${key}"; the specials are ${SPECIAL_KINDS.join(", ")}`);
    }
  }
  const used = new Map<string, SpecialKind>();
  for (const kind of SPECIAL_KINDS) {
    const v = sp[kind];
    if (v === undefined || v === false) continue;
    const tok = v === true ? DEFAULT_SPECIALS[kind] : v;
    if (typeof tok !== "string" || tok.length === 0) {
      throw new UnfoldError("E_OPTION", `${fn}: specials.${kind} must be a non-empty string, true or false, got ${describe(v)}`);
    }
    const other = used.get(tok);
    if (other) throw new UnfoldError("E_OPTION", `${fn}: specials.${kind} and specials.${other} are both ${JSON.stringify(tok)}; each special needs its own token`);
    used.set(tok, kind);
    out[kind] = tok;
  }
  return out;
}

function asTexts(fn: string, texts: string | Iterable<string>): Iterable<string> {
  if (typeof texts === "string") return [texts];
  if (texts == null || typeof (texts as Iterable<string>)[Symbol.iterator] !== "function") {
    throw new UnfoldError("E_OPTION", `${fn}: expected a string or an iterable of strings, got ${describe(texts)}`);
  }
  return texts;
}

function countInto(counts: Map<string, number>, tokens: string[]): void {
  for (const t of tokens) counts.set(t, (counts.get(t) ?? 0) + 1);
}

function codePointCount(s: string): number {
  let n = 0;
  for (const _ of s) n++;
  return n;
}

/** A short description of a value for error messages. */
function describe(v: unknown): string {
  if (v === undefined) return "undefined";
  if (typeof v === "string") return JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v);
  if (Array.isArray(v)) return `an array of length ${v.length}`;
  if (typeof v === "object" && v !== null) return "an object";
  return String(v);
}
