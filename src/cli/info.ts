/** `unfold info`: what is in a model file. */
import { statSync } from "node:fs";
import { isQuantized } from "../index.js";
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
    if (isQuantized(model)) out("weights", "int8, one f32 scale per output row (embedding and biases f32); for inference: `unfold sample`, `unfold eval`");
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
    const run = meta?.run as Record<string, unknown> | undefined;
    if (run && typeof run === "object") {
      // Read defensively: info must describe any file that loads, whatever its meta holds.
      const p = (run.plan && typeof run.plan === "object" ? run.plan : {}) as Record<string, unknown>;
      const secs = (x: unknown) => (typeof x === "number" ? hms(x) : "-");
      const at = typeof p.steps === "number" ? `step ${num((typeof p.startStep === "number" ? p.startStep : 0) + p.steps, 0)}` : `${secs(p.seconds)} of time`;
      const sched = p.schedule === "cosine" ? `warm-up ${num(p.warmup, 0)} steps, cosine to x${num(p.floor)} at ${at}` : "constant lr";
      const b = (run.best && typeof run.best === "object" ? run.best : null) as Record<string, unknown> | null;
      const since = typeof run.sinceBest === "number" && run.sinceBest > 0 ? ` (${run.sinceBest} validation${run.sinceBest === 1 ? "" : "s"} since)` : "";
      const best = b ? `; best validation ${num(b.loss)} at step ${num(b.step, 0)}${since}` : "";
      const kept = Array.isArray(run.kept) ? run.kept.map(String) : [];
      out("long run", `${sched}${best}; ${secs(run.trainSeconds)} training + ${secs(run.valSeconds)} validation${kept.length ? `; kept ${kept.join(", ")}` : ""}`);
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
