/**
 * Tokenizers: text -> string[] of tokens, the step before a {@link Vocab}
 * turns tokens into ids.
 *
 * - {@link charTokens}: one token per Unicode code point (the char-rnn of the
 *   lecture, p.15: "h", "e", "l", "l" in, "e", "l", "l", "o" out).
 * - {@link wordTokens}: words, numbers and punctuation as separate tokens.
 */
import { UnfoldError } from "../errors.js";

/**
 * Split `text` into Unicode code points. A surrogate pair (emoji, rare CJK)
 * stays one token; a combining sequence (e + U+0301) or an emoji ZWJ sequence
 * is several code points and so several tokens. Korean precomposed syllables
 * (U+AC00-U+D7A3) are one code point each.
 *
 * @returns tokens [n], n = number of code points
 */
export function charTokens(text: string): string[] {
  checkText("charTokens", text);
  return Array.from(text);
}

/** Options of {@link wordTokens}. */
export interface WordTokenOptions {
  /** Lower-case the text first (`String.prototype.toLowerCase`, locale-independent). Default false. */
  lowercase?: boolean;
}

// One token per match, tried in order:
//  1. a word: a letter, then letters / marks / digits / "_", with inner
//     apostrophes kept ("don't", "l'homme" stay whole);
//  2. a number: digits, with inner "." or "," groups ("3.14", "1,000");
//  3. an emoji, with its modifiers / variation selectors and any
//     zero-width-joiner sequence ("❤️", "👍🏽", "👨‍👩‍👧" stay whole);
//  4. any other single non-space code point (punctuation, symbols), with
//     the combining marks that follow it.
const WORD_RE =
  /\p{L}[\p{L}\p{M}\p{N}_]*(?:['\u2019][\p{L}\p{M}\p{N}_]+)*|\p{N}+(?:[.,]\p{N}+)*|\p{Extended_Pictographic}[\p{M}\p{Emoji_Modifier}]*(?:\u200d\p{Extended_Pictographic}[\p{M}\p{Emoji_Modifier}]*)*|[^\s\p{L}\p{N}]\p{M}*/gu;

/**
 * Split `text` into words, numbers and punctuation; whitespace separates and
 * is dropped. `"Hello, world! It's 3.14."` gives
 * `["Hello", ",", "world", "!", "It's", "3.14", "."]`. Hyphens split words
 * ("well-known" is "well", "-", "known"). A word starting with a digit splits
 * into the number and the rest ("3rd" is "3", "rd"). An emoji sequence
 * ("👍🏽", "👨‍👩‍👧") is one token.
 *
 * @returns tokens [n]
 */
export function wordTokens(text: string, opts: WordTokenOptions = {}): string[] {
  checkText("wordTokens", text);
  const s = opts.lowercase ? text.toLowerCase() : text;
  return s.match(WORD_RE) ?? [];
}

function checkText(fn: string, text: unknown): void {
  if (typeof text !== "string") {
    throw new UnfoldError("E_OPTION", `${fn}: expected a string, got ${text === null ? "null" : typeof text}`);
  }
}
