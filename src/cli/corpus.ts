/**
 * Reading a training corpus (checked: exists, not empty, text not binary,
 * valid UTF-8) and what the CLI derives from it: the train / validation cut,
 * the fixed validation subset and the unigram baseline a language model has
 * to beat.
 *
 * At scale: the file is read as bytes and turned into character ids in two
 * streaming passes (count, then encode) with no per-character JS objects and
 * no decoded string; the ids are 1 byte per character for up to 256 distinct
 * characters, 2 bytes up to 65,536. A 1 GB file needs its bytes and its ids
 * in memory at once (about 2 bytes per character), never a 1 GB JS string
 * (V8 cannot hold one).
 */
import { readFileSync, statSync } from "node:fs";
import { UnfoldError } from "../errors.js";
import { Vocab } from "../data/vocab.js";
import { CharCounts, encodeUtf8Into, firstInvalidUtf8, newIdArray, type TokenIds, utf8CodePointLength } from "../data/chars.js";
import { Rng } from "../util/rng.js";
import { CliError, int, showChar } from "./common.js";

/** The most distinct characters `unfold train` accepts: ids are stored 16-bit. */
export const MAX_CHARS = 0x10000;

/** A corpus file as character ids. */
export interface Corpus {
  /** The character of every position, as vocabulary ids. [n] */
  ids: TokenIds;
  vocab: Vocab;
  /** Size and modification time of the file when read (to notice it changing during a run). */
  file: FileStamp;
}

/** What identifies a file's contents cheaply: its size and modification time. */
export interface FileStamp {
  path: string;
  size: number;
  mtimeMs: number;
}

/** A stat of `path` as a {@link FileStamp}. */
export function stampOf(path: string): FileStamp {
  const st = statSync(path);
  return { path, size: st.size, mtimeMs: st.mtimeMs };
}

/**
 * Check that the corpus file is still the one the run read; throws a
 * {@link CliError} saying what changed (`context` names what was kept).
 */
export function checkUnchanged(f: FileStamp, context: string): void {
  let now: FileStamp;
  try {
    now = stampOf(f.path);
  } catch {
    throw new CliError(`the corpus ${f.path} disappeared while training; ${context}`);
  }
  if (now.size !== f.size) {
    throw new CliError(`the corpus ${f.path} ${now.size < f.size ? "shrank" : "grew"} while training (${int(f.size)} -> ${int(now.size)} bytes); ${context}`);
  }
  if (now.mtimeMs !== f.mtimeMs) throw new CliError(`the corpus ${f.path} was modified while training (same size, new modification time); ${context}`);
}

/**
 * Read `path` as UTF-8 text into character ids, or throw a one-line
 * {@link CliError} saying why it cannot be a corpus. A leading byte-order
 * mark is dropped; Windows line ends become "\n" (so the model does not learn
 * "\r").
 *
 * @param vocab a model's vocabulary (resuming): every character must be in it
 *   (or map to its unk token); without one, a new char vocabulary is built
 * @param whose for the unknown-character message: the model being resumed
 */
export function loadCorpus(path: string, vocab?: Vocab, whose = "the model"): Corpus {
  const { bytes: raw, file } = readBytes(path);
  let bytes = raw;
  if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
  bytes = normalizeNewlines(bytes);
  // Pass 1 (a new vocabulary): count the code points. Pass 2: look each one up.
  let v = vocab;
  let n = -1;
  try {
    if (!v) {
      const counts = new CharCounts();
      counts.addUtf8(bytes);
      n = counts.total;
      const distinct = counts.distinct;
      if (distinct > MAX_CHARS) {
        throw new CliError(`the corpus ${path} has ${int(distinct)} distinct characters; unfold train supports at most ${int(MAX_CHARS)} (character ids are stored in 16 bits). Is it text in one or a few scripts? Filter out the rare characters (e.g. keep those seen 10 times or more) and train again`);
      }
      v = Vocab.fromCharCounts(counts);
      if (v.tokens.every((t) => t.trim() === "")) throw new CliError(`the corpus ${path} has only whitespace`);
    }
  } catch (err) {
    throw corpusError(path, err);
  }
  if (n < 0) n = utf8CodePointLength(bytes);
  const ids = newIdArray(v.size, n); // [n]
  let miss;
  try {
    miss = encodeUtf8Into(bytes, v.charIndex(), v.unkId ?? -1, ids, 0);
  } catch (err) {
    throw corpusError(path, err);
  }
  if (miss) {
    const nl = v.id("\n");
    let line = 1;
    if (nl !== undefined) for (let i = 0; i < miss.index; i++) if (ids[i] === nl) line++;
    throw new CliError(`${unknownCharMessage(`the corpus ${path}`, { ch: miss.ch, index: miss.index, line })} of ${whose}; resume only on text with the same characters, or train a new model`);
  }
  return { ids, vocab: v, file };
}

/** The file's bytes (checked: a readable, non-empty file with no NUL byte, read whole). */
function readBytes(path: string): { bytes: Uint8Array; file: FileStamp } {
  let buf: Buffer;
  let file: FileStamp;
  try {
    if (statSync(path).isDirectory()) throw new CliError(`${path} is a directory, not a text file`);
    file = stampOf(path);
    buf = readFileSync(path);
  } catch (err) {
    if (err instanceof CliError) throw err;
    const e = err as NodeJS.ErrnoException;
    if (e.code === "ENOENT") throw new CliError(`no such corpus file: ${path}`);
    if (e.code === "EACCES" || e.code === "EPERM") throw new CliError(`cannot read corpus ${path}: permission denied`);
    if (e.code === "ERR_FS_FILE_TOO_LARGE") throw new CliError(`the corpus ${path} is too large to read at once (${e.message}); split it into files under 2 GB`);
    throw new CliError(`cannot read corpus ${path}: ${e.message}`);
  }
  if (buf.length !== file.size) throw new CliError(`the corpus ${path} changed while it was being read (${int(file.size)} bytes, then ${int(buf.length)}); try again when it is complete`);
  if (buf.length === 0) throw new CliError(`the corpus ${path} is empty; give a text file with some thousands of characters (or more)`);
  const nul = buf.indexOf(0);
  if (nul >= 0) throw new CliError(`${path} looks like a binary file (a NUL byte at offset ${nul}), not text; the corpus must be UTF-8 text`);
  return { bytes: buf, file };
}

/**
 * "\r\n" and a lone "\r" -> "\n", in place (the bytes only shrink; 0x0D is
 * never part of a multi-byte UTF-8 sequence). Returns the used prefix.
 */
function normalizeNewlines(b: Uint8Array): Uint8Array {
  let r = b.indexOf(0x0d);
  if (r < 0) return b;
  let w = r;
  const n = b.length;
  for (; r < n; r++) {
    const c = b[r];
    if (c === 0x0d) {
      b[w++] = 0x0a;
      if (r + 1 < n && b[r + 1] === 0x0a) r++;
    } else {
      b[w++] = c;
    }
  }
  return b.subarray(0, w);
}

/** A CliError for a failure while reading `path` (invalid UTF-8 gets the offset in the file). */
function corpusError(path: string, err: unknown): Error {
  if (err instanceof CliError) return err;
  if (err instanceof UnfoldError && err.code === "E_FORMAT") {
    let at = -1;
    try {
      at = firstInvalidUtf8(readFileSync(path));
    } catch {
      // reported without the offset
    }
    return new CliError(`${path} is not valid UTF-8 text${at >= 0 ? ` (first bad byte at offset ${at})` : ""}; convert it, e.g. iconv -f latin1 -t utf-8`);
  }
  return err as Error;
}

/** Validation needs at least this many held-out characters. */
const MIN_VAL_CHARS = 16;

/** Where the held-out text starts: the last `valFraction` of n characters (n if that is under 16 characters: no validation). */
export function heldOutCut(n: number, valFraction: number): number {
  const cut = valFraction > 0 ? Math.floor(n * (1 - valFraction)) : n;
  return n - cut < MIN_VAL_CHARS ? n : cut;
}

/**
 * The validation subset: `chars` characters of the held-out ids `val`, as S
 * spans (S = min(32, chars / 512), at least 1) of equal length, one at a
 * seeded random place in each of S equal strips of the held-out text —
 * spread over all of it, never overlapping. It depends only on (the held-out
 * text, `chars`, `seed`), so it is the same at every checkpoint and after
 * `--resume`, and points on the validation curve compare. The spans are
 * laid end to end: evaluated as a stream with S parallel streams, each
 * stream is exactly one span (its hidden state carried through the span).
 * With `chars` >= the held-out length it is the whole held-out text.
 *
 * @returns the ids [S * spanLength] and S (the batch size that reads them)
 */
export function validationSubset(val: TokenIds, chars: number, seed: number): { ids: TokenIds; spans: number } {
  const M = val.length;
  chars = Math.max(chars, 64); // a few windows at least
  if (chars >= M) return { ids: val, spans: Math.max(1, Math.min(32, Math.floor(M / 512))) };
  const S = Math.max(1, Math.min(32, Math.floor(chars / 512)));
  const len = Math.floor(chars / S);
  const strip = Math.floor(M / S);
  const rng = new Rng(seed * 1000003 + 17);
  const out = new (val.constructor as { new (n: number): TokenIds })(S * len);
  for (let s = 0; s < S; s++) {
    const at = s * strip + rng.int(strip - len + 1);
    out.set(val.subarray(at, at + len), s * len);
  }
  return { ids: out, spans: S };
}

/** A prime for a progress sample, from the ids: {@link pickPrime} on a few dozen characters decoded around a seeded place. */
export function primeFromIds(ids: TokenIds, vocab: Vocab, r: number, maxLen = 24): string {
  const span = maxLen * 4;
  if (ids.length <= span) return pickPrime(vocab.decode(ids), r, maxLen);
  const s = Math.floor(r * (ids.length - span));
  return pickPrime(vocab.decode(ids.subarray(s, s + span)), 0, maxLen);
}

/** The first character of `text` not in `has`, with its index, or null. */
export function firstUnknownChar(text: string, has: (ch: string) => boolean): { ch: string; index: number; line: number } | null {
  let index = 0;
  let line = 1;
  for (const ch of text) {
    if (!has(ch)) return { ch, index, line };
    if (ch === "\n") line++;
    index++;
  }
  return null;
}

/** Message for {@link firstUnknownChar}. */
export function unknownCharMessage(what: string, u: { ch: string; index: number; line: number }): string {
  return `${what} has the character ${showChar(u.ch)} (line ${u.line}) that is not in the model's vocabulary`;
}

/**
 * The unigram baseline: the mean loss (nats per character) of predicting
 * every character by its frequency in `train`, measured on `test`. Counts
 * get add-one smoothing so a character unseen in `train` costs a finite loss.
 * With `test === train` it is the corpus's character entropy.
 *
 * @param train ids of the training text; @param test ids to score; V = vocab size
 */
export function unigramLoss(train: ArrayLike<number>, test: ArrayLike<number>, V: number): number {
  const counts = new Float64Array(V).fill(1);
  for (let i = 0; i < train.length; i++) counts[train[i]]++;
  const total = train.length + V;
  let nll = 0;
  for (let i = 0; i < test.length; i++) nll -= Math.log(counts[test[i]] / total);
  return test.length ? nll / test.length : NaN;
}

/**
 * A prime for a progress sample: a few words from a random place in the
 * text (starting at a word), at most `maxLen` characters. Seeded by `r` in [0, 1).
 */
export function pickPrime(text: string, r: number, maxLen = 24): string {
  if (text.length <= maxLen) return text;
  let s = Math.floor(r * (text.length - maxLen * 2));
  const sp = text.slice(s, s + maxLen).search(/[\s]\S/);
  if (sp >= 0) s += sp + 1;
  let p = text.slice(s, s + maxLen);
  const lastSpace = p.lastIndexOf(" ");
  if (lastSpace > 4) p = p.slice(0, lastSpace + 1);
  return p;
}
