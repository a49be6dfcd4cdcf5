// Accuracy of int8 (and f16) char LMs against their f32 originals on held-out
// text: nats/char through the batched path (`evaluate`, which runs the int8
// model on its widened weights) and through sessions (the int8 kernels, with
// int8 activations), char by char.
//
//   node bench/quantize-accuracy.mjs model.unfold [more.unfold ...] [--chars 20000]
//
// Each model.unfold must have model.int8.unfold and model.f16.unfold beside it
// (`unfold quantize model.unfold`, `unfold quantize model.unfold --to f16`).
// The held-out text is the first --chars characters of the last 5% of the
// bundled corpus (what `unfold train` holds out by default).
import { readFileSync } from "node:fs";
import { init } from "../dist/index.node.js";
import { loadModelFile } from "../dist/node.js";

const args = process.argv.slice(2);
const ci = args.indexOf("--chars");
const chars = ci >= 0 ? Number(args[ci + 1]) : 20000;
const files = args.filter((a, i) => !a.startsWith("--") && (ci < 0 || i !== ci + 1));
await init();
const corpus = readFileSync(new URL("../corpus/sotu.txt", import.meta.url), "utf8");
const held = [...corpus.slice(Math.floor(corpus.length * 0.95))].slice(0, chars).join("");

function sessionNats(model, ids) {
  const s = model.session();
  let p = s.feed([ids[0]]);
  let nll = 0;
  for (let t = 1; t < ids.length; t++) {
    nll -= Math.log(Math.max(p[ids[t]], 1e-30));
    p = s.step(ids[t]);
  }
  s.dispose();
  return nll / (ids.length - 1);
}

const rows = [];
for (const f of files) {
  const base = f.replace(/\.unfold$/, "");
  const lm = await loadModelFile(f);
  const q = await loadModelFile(`${base}.int8.unfold`);
  const h = await loadModelFile(`${base}.f16.unfold`);
  const ids = lm.vocab.encode(held);
  const ev = (m) => m.evaluate({ stream: ids }, { batchSize: 1, k1: 256 }).loss;
  const r = { model: base.split("/").pop(), f32: ev(lm.model), int8: ev(q.model), f16: ev(h.model), f32Session: sessionNats(lm.model, ids), int8Session: sessionNats(q.model, ids) };
  rows.push(r);
  for (const m of [lm, q, h]) m.model.dispose();
}
const pct = (a, b) => `${(((a - b) / b) * 100).toFixed(2)}%`;
console.log(`held-out: ${held.length} chars of the last 5% of corpus/sotu.txt\n`);
console.log("| model | f32 nats/char | int8 (batched) | f16 (batched) | f32 session | int8 session |");
console.log("| --- | --- | --- | --- | --- | --- |");
for (const r of rows) {
  console.log(`| ${r.model} | ${r.f32.toFixed(4)} | ${r.int8.toFixed(4)} (${pct(r.int8, r.f32)}) | ${r.f16.toFixed(4)} (${pct(r.f16, r.f32)}) | ${r.f32Session.toFixed(4)} | ${r.int8Session.toFixed(4)} (${pct(r.int8Session, r.f32Session)}) |`);
}
