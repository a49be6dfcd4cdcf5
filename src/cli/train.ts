/**
 * `unfold train`: a character-level language model (lecture p.15) on a text
 * corpus — char vocabulary, Embedding -> recurrent stack -> Dense over the
 * vocabulary, trained on the corpus as B parallel streams with truncated BPTT
 * (k1 = --seq), the hidden state carried from one window to the next.
 *
 * The run is cut into segments at the sample / checkpoint steps: each segment
 * is one `fitAsync` call, which stops mid-epoch with the stream position and
 * carried state in `model.trainState` — exactly what a checkpoint saves — so
 * sampling and validation between segments never disturb training, and a
 * resumed run continues as if it had not stopped.
 */
import { existsSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { Sequential, TrainingDivergedError, Vocab, type EpochInfo } from "../index.js";
import { saveModelFile, saveModelFileSync } from "../node.js";
import { CliError, defaultCorpusPath, exitCodeFor, hms, initKernels, int, packageVersion, since } from "./common.js";
import { firstUnknownChar, pickPrime, readCorpus, unigramLoss, unknownCharMessage } from "./corpus.js";
import { archOf, type CliMeta, type CliSettings, describeModel, loadLm } from "./model-file.js";
import { createProgress, type Progress } from "./progress.js";
import { CurveRecorder, lossCurveSvg, newCurve } from "./report.js";

/** The flags of `unfold train` as commander parses them. */
export interface TrainFlags extends CliSettings {
  steps?: number;
  epochs?: number;
  /** Seconds. */
  time?: number;
  out?: string;
  sampleEvery: number;
  checkpointEvery: number;
  resume?: string;
  /** Plain progress lines every this many seconds when stdout is not a terminal. */
  logEvery: number;
  /** Threads for the kernels. */
  threads: number;
}

/** Flags that fix the architecture: a resumed model keeps its own. */
const ARCH_FLAGS = ["model", "hidden", "layers", "embedding", "dropout"] as const;

/** Characters in a progress sample. */
const SAMPLE_LENGTH = 200;
/** Validation needs at least this many held-out characters. */
const MIN_VAL_CHARS = 16;

/**
 * Run `unfold train`. `explicit` holds the flags the user typed (the others
 * are defaults, which a resumed run takes from the model file instead).
 * @returns the exit code (0, or 130 after Ctrl-C)
 */
export async function train(corpusArg: string | undefined, flags: TrainFlags, explicit: Set<string>): Promise<number> {
  const threads = await initKernels(flags.threads);
  const out = (s = "") => process.stdout.write(`${s}\n`);

  // ---- the model (new or resumed) and its settings ----
  let model: Sequential;
  let vocab: Vocab | undefined;
  let meta: CliMeta | undefined;
  const settings: CliSettings = {
    model: flags.model, hidden: flags.hidden, layers: flags.layers, embedding: flags.embedding, dropout: flags.dropout,
    seq: flags.seq, batch: flags.batch, lr: flags.lr, seed: flags.seed, valFraction: flags.valFraction,
  };
  if (flags.resume) {
    const lm = await loadLm(flags.resume);
    model = lm.model;
    vocab = lm.vocab;
    meta = lm.meta;
    const arch = archOf(model);
    for (const k of ARCH_FLAGS) {
      if (explicit.has(k) && flags[k] !== arch[k]) {
        throw new CliError(`--${k} ${flags[k]} conflicts with the model being resumed (${flags.resume} has ${k} ${arch[k]}); drop --${k} to continue it, or train a new model without --resume`);
      }
    }
    Object.assign(settings, arch);
    for (const k of ["seq", "batch", "lr", "seed", "valFraction"] as const) {
      if (!explicit.has(k) && meta?.cli[k] !== undefined) (settings as unknown as Record<string, number>)[k] = meta.cli[k];
    }
    const carried = model.trainState.carried?.find((c) => c !== null);
    // A model saved by the library (no CLI settings): continue with its own optimizer and batch.
    const opt = model.trainState.optimizer?.spec;
    if (!meta && !explicit.has("lr") && opt?.type === "adam" && opt.lr !== undefined) settings.lr = opt.lr;
    if (!explicit.has("batch") && carried && model.trainState.streamPosition > 0) settings.batch = carried.B;
    if (carried && model.trainState.streamPosition > 0 && carried.B !== settings.batch) {
      throw new CliError(`--batch ${settings.batch} conflicts with the model being resumed: it stopped mid-epoch with ${carried.B} parallel streams; drop --batch (or use --batch ${carried.B})`);
    }
  }

  // ---- the corpus ----
  let corpusPath: string;
  if (corpusArg !== undefined) corpusPath = corpusArg;
  else if (meta?.corpus.path && existsSync(meta.corpus.path)) corpusPath = meta.corpus.path;
  else {
    corpusPath = defaultCorpusPath();
    if (!existsSync(corpusPath)) throw new CliError(`no corpus given and the default corpus is missing (${corpusPath}); run \`unfold train your-text.txt\``);
  }
  const text = readCorpus(corpusPath);
  if (vocab) {
    const v = vocab;
    const u = firstUnknownChar(text, (ch) => v.has(ch));
    if (u && v.unkId === undefined) {
      throw new CliError(`${unknownCharMessage(`the corpus ${corpusPath}`, u)} of ${flags.resume}${meta ? ` (trained on ${meta.corpus.name})` : ""}; resume only on text with the same characters, or train a new model`);
    }
  } else {
    vocab = Vocab.fromChars(text);
  }
  const ids = vocab.encode(text); // [n]
  const n = ids.length;
  if (n < 8) throw new CliError(`the corpus ${corpusPath} has only ${n} characters; a language model needs more text`);
  let cut = settings.valFraction > 0 ? Math.floor(n * (1 - settings.valFraction)) : n;
  if (n - cut < MIN_VAL_CHARS) cut = n;
  const trainIds = ids.subarray(0, cut);
  const valIds = cut < n ? ids.subarray(cut) : null;
  const seq = settings.seq;

  // B parallel streams, each long enough for at least one full window.
  let B = settings.batch;
  const maxB = Math.max(1, Math.min(Math.floor(trainIds.length / (seq + 1)), Math.floor(trainIds.length / 2)));
  if (B > maxB) {
    if (flags.resume && model!.trainState.streamPosition > 0) {
      throw new CliError(`the corpus ${corpusPath} is too short for ${B} parallel streams of --seq ${seq}; resume on the corpus it was trained on`);
    }
    out(`note: the corpus is short; --batch ${B} lowered to ${maxB} (each of the parallel streams needs more than --seq ${seq} characters)`);
    B = maxB;
  }
  settings.batch = B;

  if (!flags.resume) {
    model = new Sequential({
      input: { type: "tokens", vocabSize: vocab.size, embeddingDim: settings.embedding },
      recurrent: [{ cell: settings.model, hiddenSize: settings.hidden, numLayers: settings.layers, dropout: settings.dropout }],
      output: { size: vocab.size, loss: "xent" },
      mode: "many-to-many",
      seed: settings.seed,
    });
  }
  model = model!;
  const st = model.trainState;

  // ---- where it goes ----
  const outPath = flags.out ?? flags.resume ?? "model.unfold";
  const outDir = dirname(resolve(outPath));
  if (!existsSync(outDir) || !statSync(outDir).isDirectory()) throw new CliError(`cannot write ${outPath}: directory ${outDir} does not exist`);
  if (existsSync(outPath) && statSync(outPath).isDirectory()) throw new CliError(`cannot write ${outPath}: it is a directory`);
  const svgPath = `${outPath}.svg`;

  // ---- the baseline: predict each character by its frequency ----
  const baselineLoss = valIds ? unigramLoss(trainIds, valIds, vocab.size) : unigramLoss(trainIds, trainIds, vocab.size);
  const curve = meta?.curve ?? newCurve();
  const recorder = new CurveRecorder(curve);
  const corpusName = corpusArg === undefined && corpusPath === defaultCorpusPath() ? `${basename(corpusPath)} (default corpus)` : basename(corpusPath);
  const newMeta: CliMeta = {
    tool: "unfold",
    version: packageVersion(),
    cli: { ...settings },
    corpus: { name: corpusName, path: resolve(corpusPath), chars: n },
    baseline: { loss: baselineLoss, on: valIds ? "validation" : "training" },
    curve,
  };

  // ---- how long ----
  const L = Math.floor(trainIds.length / B); // steps per stream
  const windowsPerEpoch = Math.ceil((L - 1) / seq);
  const startStep = st.history.steps;
  const pos = st.streamPosition < L - 1 ? st.streamPosition : 0;
  let target = Infinity;
  if (flags.steps !== undefined) target = startStep + flags.steps;
  if (flags.epochs !== undefined) {
    const rest = pos > 0 ? Math.ceil((L - 1 - pos) / seq) : windowsPerEpoch;
    target = Math.min(target, startStep + rest + (flags.epochs - 1) * windowsPerEpoch);
  }
  if (flags.time === undefined && !Number.isFinite(target)) target = startStep + windowsPerEpoch; // default: one epoch
  const timeLimit = flags.time ?? Infinity;

  out(`corpus     ${corpusName}: ${int(n)} characters, vocabulary ${vocab.size}; training on ${int(trainIds.length)}, validating on ${valIds ? int(valIds.length) : "none"}`);
  out(`model      ${describeModel(model)}; ${int(model.parameterCount)} parameters`);
  out(`training   ${B} parallel stream${B === 1 ? "" : "s"} x ${seq} steps (truncated BPTT), Adam lr ${settings.lr}; ${windowsPerEpoch} steps per epoch; ${planText(flags, target - startStep)}${threads > 1 ? `; ${threads} threads` : ""}`);
  if (flags.resume) out(`resuming   ${flags.resume} at step ${startStep}, epoch ${(st.epoch + (pos > 0 ? pos / (L - 1) : 0)).toFixed(2)}`);
  out(`baseline   unigram (character frequencies): loss ${baselineLoss.toFixed(3)} nats/char, perplexity ${Math.exp(baselineLoss).toFixed(2)}`);
  out(`saving to  ${outPath} (report ${svgPath})`);
  out();

  // ---- Ctrl-C: stop after the current step, then write a final checkpoint ----
  let interrupted = false;
  let progress: Progress | null = null;
  const onSigint = () => {
    if (interrupted) {
      process.stderr.write(`\nunfold: interrupted again; exiting without a final checkpoint (the last one in ${outPath} is intact)\n`);
      process.exit(130);
    }
    interrupted = true;
    progress?.log("stopping after this step (Ctrl-C again to quit at once)…");
  };
  process.on("SIGINT", onSigint);

  const t0 = performance.now();
  let trainSeconds = 0;
  let charsTrained = 0;
  let smoothLoss = NaN;
  let lastVal: number | undefined = curve.val.at(-1)?.[1] ?? undefined; // an old file may hold null
  const stepsToDo = target - startStep;
  const prog = createProgress(process.stdout, flags.logEvery);
  progress = prog;
  const state = () => {
    const done = st.history.steps - startStep;
    const fSteps = Number.isFinite(stepsToDo) ? done / stepsToDo : 0;
    const fTime = Number.isFinite(timeLimit) ? since(t0) / timeLimit : 0;
    const perStep = done > 0 ? since(t0) / done : NaN;
    const eta = Math.min(Number.isFinite(stepsToDo) ? (stepsToDo - done) * perStep : Infinity, Number.isFinite(timeLimit) ? timeLimit - since(t0) : Infinity);
    const epoch = st.epoch + st.streamPosition / Math.max(1, L - 1);
    return { step: st.history.steps, total: Number.isFinite(target) ? target : undefined, fraction: Math.max(fSteps, fTime), epoch, loss: smoothLoss, val: lastVal, cps: charsTrained / Math.max(trainSeconds, 1e-9), eta };
  };

  const saveMeta = () => ({ vocab, meta: newMeta as unknown as Record<string, unknown> });
  const writeReport = () => {
    try {
      writeFileSync(svgPath, lossCurveSvg(curve, { title: `${describeModel(model)} on ${corpusName}`, baseline: baselineLoss }));
    } catch (err) {
      prog.log(`warning: could not write the report ${svgPath}: ${(err as Error).message}`);
    }
  };
  const validate = () => {
    if (!valIds) return;
    const step = st.history.steps;
    if (curve.val.at(-1)?.[0] === step) return;
    const ev = model.evaluate({ stream: valIds }, { batchSize: B, k1: seq });
    lastVal = ev.loss;
    curve.val.push([step, Math.round(ev.loss * 1e4) / 1e4]);
  };
  let saved = flags.resume !== undefined && resolve(flags.resume) === resolve(outPath);
  const checkpoint = async (why: string) => {
    validate();
    await saveModelFile(outPath, model, saveMeta());
    saved = true;
    writeReport();
    const v = lastVal !== undefined && curve.val.at(-1)?.[0] === st.history.steps ? `, val loss ${lastVal.toFixed(3)} (ppl ${Math.exp(lastVal).toFixed(2)}, baseline ${baselineLoss.toFixed(3)})` : "";
    prog.log(`${why}: step ${st.history.steps}${v} -> ${outPath}`);
  };
  const sample = (step: number) => {
    const prime = pickPrime(text.slice(0, cut), fract(step * 0.6180339887 + settings.seed * 0.1234));
    const g = model.generate(vocab!.encode(prime), { length: SAMPLE_LENGTH, temperature: 0.8, seed: step });
    prog.log(`--- sample at step ${step} (temperature 0.8) ---\n${prime}${vocab!.decode(g)}\n---`);
  };

  const sampleEvery = flags.sampleEvery;
  const ckEvery = flags.checkpointEvery;
  let stopReason = "done";
  try {
    while (st.history.steps < target) {
      const cur = st.history.steps;
      const next = (every: number) => (every > 0 ? (Math.floor(cur / every) + 1) * every : Infinity);
      const segEnd = Math.min(target, next(sampleEvery), next(ckEvery));
      const ts = performance.now();
      await model.fitAsync({ stream: trainIds }, {
        steps: Number.isFinite(segEnd) ? segEnd - cur : 2 ** 31, // a --time run without checkpoints: one segment
        batchSize: B,
        tbptt: { k1: seq },
        optimizer: { type: "adam", lr: settings.lr },
        seed: settings.seed,
        onStep: (s) => {
          recorder.push(s.loss);
          smoothLoss = Number.isFinite(smoothLoss) ? 0.95 * smoothLoss + 0.05 * s.loss : s.loss;
          charsTrained += B * seq;
          prog.update({ ...state(), cps: charsTrained / Math.max(trainSeconds + since(ts), 1e-9) });
          if (interrupted) return false;
          if (since(t0) >= timeLimit) return false;
        },
      });
      trainSeconds += since(ts);
      mergePartialEpochs(st.history.epochs);
      const now = st.history.steps;
      if (interrupted) {
        stopReason = "interrupted";
        break;
      }
      if (now > cur && sampleEvery > 0 && now % sampleEvery === 0) sample(now);
      if (now > cur && ckEvery > 0 && now % ckEvery === 0 && now < target && since(t0) < timeLimit) await checkpoint("checkpoint");
      prog.update(state());
      if (since(t0) >= timeLimit) {
        stopReason = "time";
        break;
      }
    }
  } catch (err) {
    prog.stop();
    process.off("SIGINT", onSigint);
    if (err instanceof TrainingDivergedError) {
      const good = saved ? ` The last checkpoint in ${outPath} is intact.` : "";
      throw new CliError(`training diverged at step ${st.history.steps + 1}: ${err.message.replace(/^unfold-rnn: /, "")}${good} Try a lower --lr.`, exitCodeFor(err));
    }
    throw err;
  }

  if (stopReason === "interrupted") {
    // Ctrl-C: save at once (no validation pass) and exit 130.
    saveModelFileSync(outPath, model, saveMeta());
    writeReport();
    prog.stop();
    process.off("SIGINT", onSigint);
    out(`interrupted at step ${st.history.steps}: checkpoint written to ${outPath}; continue with \`unfold train --resume ${outPath}\``);
    model.dispose();
    return 130;
  }
  await checkpoint("final checkpoint");
  prog.update(state());
  prog.stop();
  process.off("SIGINT", onSigint);
  if (interrupted) {
    out(`interrupted while saving; the final checkpoint is complete in ${outPath}`);
    model.dispose();
    return 130;
  }

  // ---- summary ----
  const done = st.history.steps - startStep;
  out();
  out(`trained ${done} steps in ${hms(since(t0))} (${int(charsTrained / Math.max(trainSeconds, 1e-9))} chars/s)${stopReason === "time" ? ", stopped at the time limit" : ""}`);
  const lastTrain = tailMean(curve.train, 20);
  out(`loss       train ${Number.isFinite(lastTrain) ? lastTrain.toFixed(3) : "-"}${lastVal !== undefined ? `, validation ${lastVal.toFixed(3)} (perplexity ${Math.exp(lastVal).toFixed(2)})` : ""}; unigram baseline ${baselineLoss.toFixed(3)} (perplexity ${Math.exp(baselineLoss).toFixed(2)})`);
  const prime = pickPrime(text.slice(0, cut), fract(settings.seed * 0.377 + 0.5), 16);
  const g = model.generate(vocab.encode(prime), { length: 400, temperature: 0.8, seed: settings.seed });
  out(`\nsample (temperature 0.8):\n${prime}${vocab.decode(g)}\n`);
  out(`model saved to ${outPath}; loss curve in ${svgPath}`);
  out(`next: unfold sample ${outPath} --prime "${prime.trim().replace(/"/g, '\\"')}"   |   unfold train --resume ${outPath} --steps ${Math.max(100, done)}`);
  model.dispose();
  return 0;
}

function planText(f: TrainFlags, steps: number): string {
  const parts: string[] = [];
  if (f.steps !== undefined) parts.push(`${f.steps} steps`);
  if (f.epochs !== undefined) parts.push(`${f.epochs} epoch${f.epochs === 1 ? "" : "s"} (${steps} steps)`);
  if (f.time !== undefined) parts.push(`${hms(f.time)}`);
  if (parts.length === 0) parts.push(`1 epoch (${steps} steps; set --steps, --epochs or --time)`);
  return `run: ${parts.join(" or ")}${parts.length > 1 ? ", whichever comes first" : ""}`;
}

const fract = (x: number) => x - Math.floor(x);

function tailMean(a: number[], k: number): number {
  const t = a.slice(-k);
  return t.length ? t.reduce((s, x) => s + x, 0) / t.length : NaN;
}

/**
 * fit() records an epoch it stopped inside as a partial entry (epoch k - 0.5).
 * A run cut into segments makes one such entry per segment; fold each run of
 * entries of the same epoch into one (loss weighted by updates), so the saved
 * history has one entry per epoch.
 */
export function mergePartialEpochs(e: EpochInfo[]): void {
  while (e.length >= 2) {
    const a = e[e.length - 2];
    const b = e[e.length - 1];
    if (Number.isInteger(a.epoch) || Math.ceil(a.epoch) !== Math.ceil(b.epoch)) return;
    const before = e.length >= 3 ? e[e.length - 3].step : 0;
    const na = Math.max(1, a.step - before);
    const nb = Math.max(1, b.step - a.step);
    const merged: EpochInfo = { ...b, loss: (a.loss * na + b.loss * nb) / (na + nb), seconds: a.seconds + b.seconds };
    e.splice(e.length - 2, 2, merged);
  }
}
