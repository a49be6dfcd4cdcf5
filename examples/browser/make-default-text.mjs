// Writes examples/browser/default-text.txt, the demo's built-in text: whole
// State of the Union addresses from corpus/sotu.txt (public domain, see
// corpus/README.md), from Reagan's 1982 address on, until at least 500,000
// characters. A text this long keeps a 1 x 128 LSTM from learning it by heart
// in the demo's first minutes (on the two addresses it had before, 64K
// characters, the validation loss rose again after ~1,500 updates).
//   node examples/browser/make-default-text.mjs > examples/browser/default-text.txt
import { readFileSync } from "node:fs";

const MIN_CHARS = 500_000;
const sotu = readFileSync(new URL("../../corpus/sotu.txt", import.meta.url), "utf8");
const heads = [...sotu.matchAll(/^[^\n]+, State of the Union, (\d{4})$/gm)];
const first = heads.findIndex((m) => m[1] === "1982");
if (first < 0) throw new Error("corpus/sotu.txt has no 1982 address");
let end = first;
while (end < heads.length && heads[end].index - heads[first].index < MIN_CHARS) end++;
const stop = end < heads.length ? heads[end].index : sotu.length;
process.stdout.write(sotu.slice(heads[first].index, stop).replace(/\n+$/, "\n"));
