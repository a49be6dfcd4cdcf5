/** `unfold info`: what is in a model file. */
import { statSync } from "node:fs";
import { bytes, hms, initKernels, int } from "./common.js";
import { describeModel, loadLm } from "./model-file.js";

/** A token as shown in the vocabulary preview: visible escapes for whitespace. */
function showToken(t: string): string {
  if (t === " ") return "␣";
  if (t === "\n") return "\\n";
  if (t === "\t") return "\\t";
  return t;
}

/** A number with `digits` decimals, or "-" for a missing or non-finite one (a diverged epoch's loss). */
function num(x: unknown, digits = 3): string {
  return typeof x === "number" && Number.isFinite(x) ? x.toFixed(digits) : "-";
}

/** exp(loss) (perplexity), or "-". */
function ppl(x: unknown): string {
  return typeof x === "number" && Number.isFinite(x) ? num(Math.exp(x), 2) : "-";
}

export async function info(path: string): Promise<number> {
  await initKernels();
  const { model, vocab, meta } = await loadLm(path);
  const out = (k: string, v: string) => process.stdout.write(`${k.padEnd(12)}${v}\n`);
  try {
    const st = model.trainState;
    process.stdout.write(`${path} (${bytes(statSync(path).size)})\n`);
    out("model", describeModel(model));
    out("parameters", int(model.parameterCount));
    const preview = vocab.tokens.slice(0, 60).map(showToken).join(" ");
    out("vocabulary", `${vocab.size} characters, most frequent first: ${preview}${vocab.size > 60 ? " …" : ""}`);
    if (meta) {
      if (meta.corpus) out("corpus", `${meta.corpus.name}, ${Number.isFinite(meta.corpus.chars) ? int(meta.corpus.chars) : "-"} characters`);
      const c = meta.cli;
      out("settings", `--model ${c.model} --hidden ${c.hidden} --layers ${c.layers} --embedding ${c.embedding} --dropout ${c.dropout} --seq ${c.seq} --batch ${c.batch} --lr ${c.lr} --seed ${c.seed} --val-fraction ${c.valFraction}`);
    }
    const h = st.history;
    const complete = h.epochs.filter((e) => Number.isInteger(e.epoch)).length;
    const opt = st.optimizer ? `; optimizer ${st.optimizer.spec.type} lr ${st.optimizer.spec.lr}, ${st.optimizer.step} updates` : "";
    out("training", `${int(h.steps)} steps, ${complete} complete epoch${complete === 1 ? "" : "s"}${st.streamPosition > 0 ? ` (stopped inside epoch ${st.epoch + 1}, resumable)` : ""}${opt}`);
    for (const e of h.epochs.slice(-5)) {
      const partial = Number.isInteger(e.epoch) ? "" : " (partial)";
      out("", `epoch ${Number.isFinite(e.epoch) ? Math.ceil(e.epoch) : "-"}${partial}: to step ${e.step ?? "-"}, mean loss ${num(e.loss)}${e.valLoss !== undefined ? `, val ${num(e.valLoss)}` : ""}, ${num(e.seconds, 0)} s`);
    }
    const run = meta?.run;
    if (run) {
      const p = run.plan;
      const sched = p.schedule === "constant" ? "constant lr" : `warm-up ${p.warmup} steps, cosine to x${p.floor} at ${p.steps !== undefined ? `step ${p.startStep + p.steps}` : `${hms(p.seconds!)} of time`}`;
      const best = run.best ? `; best validation ${run.best.loss.toFixed(3)} at step ${run.best.step}${run.sinceBest ? ` (${run.sinceBest} validation${run.sinceBest === 1 ? "" : "s"} since)` : ""}` : "";
      out("long run", `${sched}${best}; ${hms(run.trainSeconds)} training + ${hms(run.valSeconds)} validation${run.kept.length ? `; kept ${run.kept.join(", ")}` : ""}`);
    }
    const curve = meta?.curve;
    if (curve && Array.isArray(curve.train) && curve.train.length) {
      const tail = curve.train.slice(-Math.max(1, Math.ceil(20 / (curve.trainEvery || 1))));
      const tr = tail.reduce((s, x) => s + x, 0) / tail.length;
      const v = Array.isArray(curve.val) ? curve.val.at(-1) : undefined;
      const base = meta.baseline ? `; unigram baseline ${num(meta.baseline.loss)} (ppl ${ppl(meta.baseline.loss)})` : "";
      out("last loss", `train ${num(tr)} (mean of the last steps)${v ? `, validation ${num(v[1])} (ppl ${ppl(v[1])}) at step ${v[0]}` : ""}${base}`);
    }
    return 0;
  } finally {
    model.dispose();
  }
}
