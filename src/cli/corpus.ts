/**
 * Reading a training corpus (checked: exists, not empty, text not binary,
 * valid UTF-8) and what the CLI derives from it: the train / validation cut
 * and the unigram baseline a language model has to beat.
 */
import { readFileSync, statSync } from "node:fs";
import { CliError, showChar } from "./common.js";

/**
 * Read `path` as UTF-8 text, or throw a one-line {@link CliError} saying why
 * it cannot be a corpus. A leading byte-order mark is dropped; Windows line
 * ends become "\n" (so the model does not learn "\r").
 */
export function readCorpus(path: string): string {
  let buf: Buffer;
  try {
    if (statSync(path).isDirectory()) throw new CliError(`${path} is a directory, not a text file`);
    buf = readFileSync(path);
  } catch (err) {
    if (err instanceof CliError) throw err;
    const e = err as NodeJS.ErrnoException;
    if (e.code === "ENOENT") throw new CliError(`no such corpus file: ${path}`);
    if (e.code === "EACCES" || e.code === "EPERM") throw new CliError(`cannot read corpus ${path}: permission denied`);
    throw new CliError(`cannot read corpus ${path}: ${e.message}`);
  }
  if (buf.length === 0) throw new CliError(`the corpus ${path} is empty; give a text file with some thousands of characters (or more)`);
  const nul = buf.indexOf(0);
  if (nul >= 0) throw new CliError(`${path} looks like a binary file (a NUL byte at offset ${nul}), not text; the corpus must be UTF-8 text`);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(buf);
  } catch {
    throw new CliError(`${path} is not valid UTF-8 text (first bad byte at offset ${firstBadUtf8(buf)}); convert it, e.g. iconv -f latin1 -t utf-8`);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  text = text.replace(/\r\n?/g, "\n");
  if (text.trim().length === 0) throw new CliError(`the corpus ${path} has only whitespace`);
  return text;
}

/** Offset of the first byte that breaks UTF-8 in `b` (for the error message). */
function firstBadUtf8(b: Uint8Array): number {
  for (let i = 0; i < b.length; ) {
    const c = b[i];
    const n = c < 0x80 ? 0 : c >= 0xc2 && c < 0xe0 ? 1 : c >= 0xe0 && c < 0xf0 ? 2 : c >= 0xf0 && c < 0xf5 ? 3 : -1;
    if (n < 0) return i;
    for (let k = 1; k <= n; k++) if (i + k >= b.length || (b[i + k] & 0xc0) !== 0x80) return i;
    i += n + 1;
  }
  return b.length;
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
