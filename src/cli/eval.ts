/**
 * `unfold eval model.unfold [corpus]`: the full held-out evaluation that
 * `unfold train` leaves out of its checkpoints (they validate on a fixed
 * subset, --val-chars), on demand, with a progress bar.
 *
 * The held-out text is the one training used: the last --val-fraction of the
 * model's corpus (or of the corpus given), read as a stream of S parallel
 * streams in windows of --seq steps with the hidden state carried through —
 * the same computation as `model.evaluate({ stream })`, one window at a time
 * so the bar can move.
 */
import { existsSync } from "node:fs";
import { basename } from "node:path";
import { TokenStream } from "../data/stream.js";
import { streamWindows } from "../model/fit.js";
import { CliError, compact, hms, initKernels, int, since } from "./common.js";
import { heldOutCut, loadCorpus, unigramLoss, validationSubset } from "./corpus.js";
import { describeModel, loadLm } from "./model-file.js";
import { createProgress } from "./progress.js";

/** The flags of `unfold eval`. */
export interface EvalFlags {
  /** Characters of held-out text (Infinity: all of it). */
  valChars: number;
  /** Evaluate on the whole corpus, not only its held-out end. */
  allText?: boolean;
  /** Parallel streams (speed only). */
  batch?: number;
  threads: number;
  logEvery: number;
}

/** What the eval progress line shows. */
interface EvalState {
  fraction: number;
  chars: number;
  total: number;
  loss: number;
  cps: number;
  eta: number;
}

const describeEval = (s: EvalState) =>
  `${compact(s.chars)}/${compact(s.total)} chars | loss ${Number.isFinite(s.loss) ? s.loss.toFixed(3) : "-"} | ${compact(s.cps)} chars/s | ETA ${hms(s.eta)}`;

/**
 * Run `unfold eval`: print the mean loss (nats and bits per character,
 * perplexity) on the held-out text, against the unigram baseline.
 * @returns the exit code
 */
export async function evaluate(path: string, corpusArg: string | undefined, flags: EvalFlags): Promise<number> {
  const threads = await initKernels(flags.threads);
  const out = (s = "") => process.stdout.write(`${s}\n`);
  const { model, vocab, meta } = await loadLm(path);
  try {
    let corpusPath = corpusArg;
    if (corpusPath === undefined) {
      if (!meta?.corpus.path || !existsSync(meta.corpus.path)) {
        throw new CliError(`the corpus ${path} was trained on${meta?.corpus.path ? ` (${meta.corpus.path})` : ""} is not available; give one: unfold eval ${path} corpus.txt`);
      }
      corpusPath = meta.corpus.path;
    }
    const { ids } = loadCorpus(corpusPath, vocab, path);
    const n = ids.length;
    const valFraction = meta?.cli.valFraction ?? 0.05;
    const seq = meta?.cli.seq ?? 64;
    const seed = meta?.cli.seed ?? 1;
    let heldOut = ids;
    let what = `all ${int(n)} characters`;
    if (!flags.allText) {
      const cut = heldOutCut(n, valFraction); // the same cut as `unfold train`
      if (cut === n) throw new CliError(`${basename(corpusPath)} has no held-out text at --val-fraction ${valFraction}; evaluate on all of it with --all-text`);
      heldOut = ids.subarray(cut);
      what = `the held-out last ${+(valFraction * 100).toPrecision(3)}%: ${int(heldOut.length)} characters`;
    }
    const set = validationSubset(heldOut, flags.valChars, seed);
    if (set.ids.length < heldOut.length) what = `${int(set.ids.length)} of ${what} (the fixed subset \`unfold train\` validates on: ${set.spans} spans, seed ${seed})`;
    const B = set.ids.length < heldOut.length ? set.spans : Math.max(1, Math.min(flags.batch ?? set.spans, Math.floor(set.ids.length / 2)));
    if (set.ids.length < 2) throw new CliError(`${basename(corpusPath)} is too short to evaluate on`);
    out(`model      ${describeModel(model)}; trained ${int(model.trainState.history.steps)} steps`);
    out(`corpus     ${basename(corpusPath)}: ${what}`);
    out(`evaluating ${B} parallel stream${B === 1 ? "" : "s"} x ${seq} steps, hidden state carried; ${threads} thread${threads === 1 ? "" : "s"}`);

    const ts = new TokenStream(set.ids, B);
    const windows = ts.numWindows(seq);
    const totalChars = windows > 0 ? B * (ts.L - 1) : 0;
    const prog = createProgress<EvalState>(process.stdout, flags.logEvery, describeEval);
    const t0 = performance.now();
    let lossSum = 0;
    let count = 0;
    let done = 0;
    const state = (): EvalState => {
      const cps = count / Math.max(since(t0), 1e-9);
      return { fraction: done / windows, chars: count, total: totalChars, loss: lossSum / count, cps, eta: (totalChars - count) / cps };
    };
    try {
      for (const w of streamWindows(ts, seq, seq)) {
        model.checkBatch(w.batch, true);
        model.forwardPtr(w.batch, { state: w.first ? "zeros" : "keep" });
        const r = model.lossAndGrad(w.batch);
        lossSum += r.loss * r.count;
        count += r.count;
        model.carryState(w.carry);
        done++;
        if (done % 8 === 0 || done === windows) {
          prog.update(state());
          await new Promise((res) => setImmediate(res)); // let a terminal redraw
        }
      }
    } finally {
      prog.stop();
      model.resetState();
    }
    const seconds = since(t0);
    const loss = lossSum / count;
    const train = flags.allText ? ids : ids.subarray(0, ids.length - heldOut.length);
    const base = train.length > 0 ? unigramLoss(train, set.ids, vocab.size) : NaN;
    out();
    out(`loss       ${loss.toFixed(4)} nats/char (${(loss / Math.LN2).toFixed(3)} bits/char, perplexity ${Math.exp(loss).toFixed(2)}) on ${int(count)} characters${Number.isFinite(base) ? `; unigram baseline ${base.toFixed(3)}` : ""}`);
    out(`time       ${hms(seconds)} (${int(count / Math.max(seconds, 1e-9))} chars/s)`);
    return 0;
  } finally {
    model.dispose();
  }
}
