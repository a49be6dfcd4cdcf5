/**
 * `unfold train`: a character-level language model (lecture p.15) on a text
 * corpus — char vocabulary, Embedding -> recurrent stack -> Dense over the
 * vocabulary, trained on the corpus as B parallel streams with truncated BPTT
 * (k1 = --seq), the hidden state carried from one window to the next.
 *
 * The run is cut into segments at the sample / checkpoint steps (or times):
 * each segment is one `fitAsync` call, which stops mid-epoch with the stream
 * position and carried state in `model.trainState` — exactly what a
 * checkpoint saves — so sampling and validation between segments never
 * disturb training, and a resumed run continues as if it had not stopped.
 *
 * Runs that last hours: the corpus is held as 1- or 2-byte character ids
 * (corpus.ts); validation reads a fixed subset of the held-out text
 * (--val-chars); the learning rate follows a plan over the run (warm-up, then
 * cosine to a floor); checkpoints go every n steps or every so many minutes,
 * the last k are kept plus the best by validation loss, and training can stop
 * early when validation stops improving. All of that state is in the model
 * file (meta.run), so `--resume` continues exactly.
 */
import { existsSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import { saveModel, scheduleFactor, Sequential, TrainingDivergedError, type Vocab, type EpochInfo } from "../index.js";
import { writeFileAtomic, writeFileAtomicSync } from "../node.js";
import { CliError, defaultCorpusPath, exitCodeFor, hms, initKernels, int, trainThreads, packageVersion, since } from "./common.js";
import { checkUnchanged, heldOutCut, loadCorpus, primeFromIds, unigramLoss, validationSubset } from "./corpus.js";
import { archOf, type CliMeta, type CliSettings, describeModel, loadLm, type LongRunState, type LrPlan } from "./model-file.js";
import { createProgress, type Progress } from "./progress.js";
import { CurveRecorder, lossCurveSvg, newCurve } from "./report.js";

/** "every 200 steps" or "every 600 seconds" (--checkpoint-every). */
export interface Every {
  steps?: number;
  seconds?: number;
}

/** The flags of `unfold train` as commander parses them. */
export interface TrainFlags extends CliSettings {
  steps?: number;
  epochs?: number;
  /** Seconds. */
  time?: number;
  out?: string;
  sampleEvery: number;
  checkpointEvery: Every;
  resume?: string;
  /** Plain progress lines every this many seconds when stdout is not a terminal. */
  logEvery: number;
  /** Threads for the kernels. */
  threads: number;
  valChars: number;
  schedule: "cosine" | "constant";
  /** Warm-up updates; -1: automatic. */
  warmup: number;
  lrFloor: number;
  earlyStop: number;
  keepLast: number;
  /** How checkpoints store the weights: f32 (default, with the optimizer state) or f16 (half the bytes, no optimizer state). */
  weights?: "f32" | "f16";
}

/** Flags that fix the architecture: a resumed model keeps its own. */
const ARCH_FLAGS = ["model", "hidden", "layers", "embedding", "dropout"] as const;
/** Training flags a resumed run takes from the model file unless given again. */
const RUN_FLAGS = ["seq", "batch", "lr", "seed", "valFraction", "valChars", "schedule", "warmup", "lrFloor", "earlyStop", "keepLast", "checkpointEvery"] as const;

/** Characters in a progress sample. */
const SAMPLE_LENGTH = 200;
/** A validation loss counts as better than the best only if lower by this much (nats per character). */
export const MIN_IMPROVEMENT = 1e-4;

/**
 * The learning-rate factor (times --lr) of the update after `step` updates,
 * `elapsed` seconds into a time plan: linear warm-up, then cosine from 1 down
 * to `plan.floor` at the end of the plan (the library's `linear-warmup` and
 * `cosine` schedules), or 1 for a constant plan. A time plan's warm-up also
 * ends after 5% of its time.
 */
export function planFactor(plan: LrPlan, step: number, elapsed: number): number {
  if (plan.schedule === "constant") return 1;
  const j = step - plan.startStep; // updates into the plan, 0-based
  if (plan.steps !== undefined) {
    const w = plan.warmup;
    return scheduleFactor({ type: "linear-warmup", warmupSteps: w, then: { type: "cosine", totalSteps: Math.max(1, plan.steps - w), minFactor: plan.floor } }, j);
  }
  // A time plan: cosine over the fraction p of the time budget used (cosine with totalSteps 1 at step p in [0, 1]).
  // Warm-up ends after `warmup` updates or 5% of the time, whichever comes first (a slow machine makes few updates).
  const p = Math.min(1, Math.max(0, elapsed / plan.seconds!));
  const cosine = scheduleFactor({ type: "cosine", totalSteps: 1, minFactor: plan.floor }, p);
  const warm = plan.warmup > 0 ? Math.max((j + 1) / plan.warmup, p / 0.05) : 1;
  return Math.min(warm, cosine);
}

/**
 * Run `unfold train`. `explicit` holds the flags the user typed (the others
 * are defaults, which a resumed run takes from the model file instead).
 * @returns the exit code (0, or 130 after Ctrl-C)
 */
export async function train(corpusArg: string | undefined, flags: TrainFlags, explicit: Set<string>): Promise<number> {
  const threads = await initKernels(explicit.has("threads") ? flags.threads : trainThreads(flags.batch, flags.hidden));
  const out = (s = "") => process.stdout.write(`${s}\n`);

  // ---- the model (new or resumed) and its settings ----
  let model: Sequential;
  let vocab: Vocab | undefined;
  let meta: CliMeta | undefined;
  const settings: Required<CliSettings> = {
    model: flags.model, hidden: flags.hidden, layers: flags.layers, embedding: flags.embedding, dropout: flags.dropout,
    seq: flags.seq, batch: flags.batch, lr: flags.lr, seed: flags.seed, valFraction: flags.valFraction,
    valChars: flags.valChars, schedule: flags.schedule, warmup: flags.warmup, lrFloor: flags.lrFloor, earlyStop: flags.earlyStop, keepLast: flags.keepLast,
    checkpointEvery: flags.checkpointEvery,
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
    for (const k of RUN_FLAGS) {
      const v = meta?.cli[k];
      if (!explicit.has(k) && v !== undefined && v !== null) (settings as unknown as Record<string, unknown>)[k] = v;
    }
    // "all" is saved as null (JSON has no Infinity); older files validated on all of it.
    if (meta && (meta.cli.valChars === undefined || meta.cli.valChars === null) && !explicit.has("valChars")) settings.valChars = Infinity;
    const carried = model.trainState.carried?.find((c) => c !== null);
    // A model saved by the library (no CLI settings): continue with its own optimizer and batch.
    const opt = model.trainState.optimizer?.spec;
    if (!meta && !explicit.has("lr") && opt?.type === "adam" && opt.lr !== undefined) settings.lr = opt.lr;
    if (!explicit.has("batch") && carried && model.trainState.streamPosition > 0) settings.batch = carried.B;
    if (carried && model.trainState.streamPosition > 0 && carried.B !== settings.batch) {
      throw new CliError(`--batch ${settings.batch} conflicts with the model being resumed: it stopped mid-epoch with ${carried.B} parallel streams; drop --batch (or use --batch ${carried.B})`);
    }
  }

  // ---- the corpus, as character ids (1 or 2 bytes each) ----
  let corpusPath: string;
  if (corpusArg !== undefined) corpusPath = corpusArg;
  else if (meta?.corpus.path && existsSync(meta.corpus.path)) corpusPath = meta.corpus.path;
  else {
    corpusPath = defaultCorpusPath();
    if (!existsSync(corpusPath)) throw new CliError(`no corpus given and the default corpus is missing (${corpusPath}); run \`unfold train your-text.txt\``);
  }
  const tRead = performance.now();
  const corpus = loadCorpus(corpusPath, vocab, `${flags.resume}${meta ? ` (trained on ${meta.corpus.name})` : ""}`);
  const readSeconds = since(tRead);
  vocab = corpus.vocab;
  const ids = corpus.ids; // [n]
  const n = ids.length;
  if (n < 8) throw new CliError(`the corpus ${corpusPath} has only ${n} characters; a language model needs more text`);
  const cut = heldOutCut(n, settings.valFraction);
  const trainIds = ids.subarray(0, cut); // views: the corpus is held once
  const valIds = cut < n ? ids.subarray(cut) : null;
  const valSet = valIds ? validationSubset(valIds, settings.valChars, settings.seed) : null;
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
  const stem = outPath.endsWith(".unfold") ? outPath.slice(0, -".unfold".length) : outPath;
  const bestPath = `${stem}.best.unfold`;
  const stepPath = (step: number) => `${stem}.step${step}.unfold`;
  const isOurStepFile = (p: string) => p.startsWith(`${stem}.step`) && /^\d+\.unfold$/.test(p.slice(`${stem}.step`.length));

  // ---- how long, and the learning-rate plan over it ----
  const L = Math.floor(trainIds.length / B); // steps per stream
  const windowsPerEpoch = Math.ceil((L - 1) / seq);
  const startStep = st.history.steps;
  const pos = st.streamPosition < L - 1 ? st.streamPosition : 0;
  const prev = flags.resume ? meta?.run : undefined;
  const lengthGiven = flags.steps !== undefined || flags.epochs !== undefined || flags.time !== undefined;
  let target = Infinity;
  let timeLimit = Infinity;
  let plan: LrPlan;
  const unfinished = (p: LrPlan) => (p.steps !== undefined ? p.startStep + p.steps > startStep : (p.doneSeconds ?? 0) < p.seconds! - 0.5);
  const continuing = prev !== undefined && !lengthGiven && unfinished(prev.plan);
  if (continuing) {
    // --resume with no new length: finish the run the model file describes, on its schedule.
    plan = { ...prev.plan };
    if (plan.steps !== undefined) target = plan.startStep + plan.steps;
    else timeLimit = plan.seconds! - (plan.doneSeconds ?? 0);
  } else {
    if (flags.steps !== undefined) target = startStep + flags.steps;
    if (flags.epochs !== undefined) {
      const rest = pos > 0 ? Math.ceil((L - 1 - pos) / seq) : windowsPerEpoch;
      target = Math.min(target, startStep + rest + (flags.epochs - 1) * windowsPerEpoch);
    }
    if (flags.time === undefined && !Number.isFinite(target)) target = startStep + windowsPerEpoch; // default: one epoch
    timeLimit = flags.time ?? Infinity;
    const steps = Number.isFinite(target) ? target - startStep : undefined;
    // Warm-up: automatic for a new model; a resumed one has warm optimizer moments.
    const warmup = settings.warmup >= 0 ? settings.warmup : flags.resume ? 0 : steps !== undefined ? Math.round(Math.min(100, 0.05 * steps)) : 50;
    plan = { schedule: settings.schedule, startStep, warmup, floor: settings.lrFloor, ...(steps !== undefined ? { steps } : { seconds: timeLimit, doneSeconds: 0 }) };
  }
  const planDone0 = plan.doneSeconds ?? 0;
  const run: LongRunState = {
    plan,
    best: prev?.best,
    sinceBest: prev?.sinceBest ?? 0,
    kept: (prev?.kept ?? []).filter(isOurStepFile),
    trainSeconds: prev?.trainSeconds ?? 0,
    valSeconds: prev?.valSeconds ?? 0,
  };
  const prevTrainSeconds = run.trainSeconds;
  const prevValSeconds = run.valSeconds;

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
    run,
  };

  const idWidth = ids.BYTES_PER_ELEMENT;
  out(`corpus     ${corpusName}: ${int(n)} characters, vocabulary ${vocab.size} (${idWidth} byte${idWidth === 1 ? "" : "s"} per character; read in ${readSeconds.toFixed(1)}s); training on ${int(trainIds.length)}, validating on ${valIds ? int(valIds.length) : "none"}`);
  if (valSet && valIds) {
    const all = valSet.ids.length === valIds.length;
    out(`validation ${all ? "all" : `${int(valSet.ids.length)}`} of the ${int(valIds.length)} held-out characters at every checkpoint${all ? "" : ` (${valSet.spans} fixed spans, seed ${settings.seed}; all of it: unfold eval ${outPath})`}`);
  }
  out(`model      ${describeModel(model)}; ${int(model.parameterCount)} parameters`);
  out(`training   ${B} parallel stream${B === 1 ? "" : "s"} x ${seq} steps (truncated BPTT), Adam lr ${settings.lr}; ${windowsPerEpoch} steps per epoch; ${planText(flags, target - startStep, continuing ? target : undefined, timeLimit)}; ${threads} thread${threads === 1 ? "" : "s"}`);
  out(`schedule   ${scheduleText(plan, settings.lr)}`);
  if (flags.resume) out(`resuming   ${flags.resume} at step ${startStep}, epoch ${(st.epoch + (pos > 0 ? pos / (L - 1) : 0)).toFixed(2)}`);
  out(`baseline   unigram (character frequencies): loss ${baselineLoss.toFixed(3)} nats/char, perplexity ${Math.exp(baselineLoss).toFixed(2)}`);
  const every = settings.checkpointEvery;
  const ckText = every.seconds !== undefined ? `every ${secs(every.seconds)}` : every.steps ? `every ${every.steps} steps` : "at the end";
  out(`saving to  ${outPath} ${ckText}${settings.keepLast > 0 ? `, keeping the last ${settings.keepLast} as ${basename(stem)}.step<N>.unfold` : ""}${valSet ? `; best in ${bestPath}` : ""}${settings.earlyStop > 0 && valSet ? `; early stop after ${settings.earlyStop} validations without improvement` : ""} (report ${svgPath})`);
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
  let trainSeconds = 0; // this process: training alone
  let valSeconds = 0; // this process: validation alone
  let valPasses = 0;
  let segStart = t0; // start of the running training segment
  let charsTrained = 0;
  let smoothLoss = NaN;
  let lastVal: number | undefined = curve.val.at(-1)?.[1] ?? undefined; // an old file may hold null
  const stepsToDo = target - startStep;
  const prog = createProgress(process.stdout, flags.logEvery);
  progress = prog;
  const trainingNow = (inSegment: boolean) => trainSeconds + (inSegment ? since(segStart) : 0);
  const state = (inSegment = false) => {
    const done = st.history.steps - startStep;
    const fSteps = Number.isFinite(stepsToDo) ? done / stepsToDo : 0;
    const fTime = Number.isFinite(timeLimit) ? since(t0) / timeLimit : 0;
    const perStep = done > 0 ? since(t0) / done : NaN;
    const eta = Math.min(Number.isFinite(stepsToDo) ? (stepsToDo - done) * perStep : Infinity, Number.isFinite(timeLimit) ? timeLimit - since(t0) : Infinity);
    const epoch = st.epoch + st.streamPosition / Math.max(1, L - 1);
    const ts = trainingNow(inSegment);
    return {
      step: st.history.steps, total: Number.isFinite(target) ? target : undefined, fraction: Math.max(fSteps, fTime), epoch,
      loss: smoothLoss, val: lastVal, cps: charsTrained / Math.max(ts, 1e-9), eta, trainSeconds: ts, valSeconds,
    };
  };

  const metaNow = () => {
    run.trainSeconds = prevTrainSeconds + trainSeconds;
    run.valSeconds = prevValSeconds + valSeconds;
    if (plan.seconds !== undefined) plan.doneSeconds = planDone0 + since(t0);
    return { vocab, meta: newMeta as unknown as Record<string, unknown>, weights: flags.weights ?? "f32" };
  };
  const writeReport = () => {
    try {
      writeFileSync(svgPath, lossCurveSvg(curve, { title: `${describeModel(model)} on ${corpusName}`, baseline: baselineLoss }));
    } catch (err) {
      prog.log(`warning: could not write the report ${svgPath}: ${(err as Error).message}`);
    }
  };
  /** Validate on the fixed subset (once per step); true if it is the best so far. */
  const validate = (): boolean => {
    if (!valSet) return false;
    const step = st.history.steps;
    if (curve.val.at(-1)?.[0] === step) return false;
    const tv = performance.now();
    const ev = model.evaluate({ stream: valSet.ids }, { batchSize: valSet.spans, k1: seq });
    valSeconds += since(tv);
    valPasses++;
    lastVal = ev.loss;
    curve.val.push([step, Math.round(ev.loss * 1e4) / 1e4]);
    if (!run.best || ev.loss < run.best.loss - MIN_IMPROVEMENT) {
      run.best = { step, loss: ev.loss };
      run.sinceBest = 0;
      return true;
    }
    run.sinceBest++;
    return false;
  };
  let lastSavedStep = flags.resume !== undefined && resolve(flags.resume) === resolve(outPath) ? startStep : -1;
  const intact = () => (lastSavedStep >= 0 ? `the previous checkpoint in ${outPath} (step ${lastSavedStep}) is intact` : `nothing was saved to ${outPath} yet`);
  /** Write `bytes` to `path` atomically; a failure (disk full, file too large, permissions) stops the run with a message saying what is intact. */
  const writeOrStop = async (path: string, bytes: Uint8Array, step: number) => {
    try {
      await writeFileAtomic(path, bytes);
    } catch (err) {
      const e = err as NodeJS.ErrnoException & { errno?: unknown };
      const sys = typeof e.errno === "string" ? e.errno : e.code; // UnfoldError E_IO carries the system's code in errno
      const why = sys === "ENOSPC" ? "no space left on device" : sys === "EFBIG" ? "file too large (the system's file size limit, EFBIG)" : sys === "EDQUOT" ? "disk quota exceeded" : e.message.replace(/^(unfold-rnn: )?cannot write model file [^:]*: /, "");
      const saved = path === outPath ? intact() : `the checkpoint of step ${step} itself is saved in ${outPath}`;
      throw new CliError(`could not write the checkpoint of step ${step} to ${path}: ${why}; ${saved}. Free some space, then continue with \`unfold train --resume ${outPath}\``);
    }
  };
  const checkpoint = async (why: string) => {
    const improved = validate();
    const step = st.history.steps;
    const keep = settings.keepLast > 0;
    if (keep && run.kept.at(-1) !== stepPath(step)) run.kept.push(stepPath(step));
    const evict = keep ? run.kept.splice(0, Math.max(0, run.kept.length - settings.keepLast)) : [];
    const bytes = saveModel(model, metaNow());
    await writeOrStop(outPath, bytes, step);
    lastSavedStep = step;
    if (keep) await writeOrStop(stepPath(step), bytes, step);
    for (const p of evict) rmSync(p, { force: true });
    if (improved) await writeOrStop(bestPath, bytes, step);
    writeReport();
    const v = lastVal !== undefined && curve.val.at(-1)?.[0] === step ? `, val loss ${lastVal.toFixed(3)} (ppl ${Math.exp(lastVal).toFixed(2)}, baseline ${baselineLoss.toFixed(3)})${improved ? ", best so far" : ""}` : "";
    prog.log(`${why}: step ${step}${v} -> ${outPath}`);
    checkUnchanged(corpus.file, `stopped at step ${step}; the checkpoint in ${outPath} is saved (trained on the text as first read). Train on the new text with \`unfold train ${corpusPath} --resume ${outPath}\` once the file is complete`);
  };
  const sample = (step: number) => {
    const prime = primeFromIds(trainIds, vocab!, fract(step * 0.6180339887 + settings.seed * 0.1234));
    const g = model.generate(vocab!.encode(prime), { length: SAMPLE_LENGTH, temperature: 0.8, seed: step });
    prog.log(`--- sample at step ${step} (temperature 0.8) ---\n${prime}${vocab!.decode(g)}\n---`);
  };

  const sampleEvery = flags.sampleEvery;
  const ckSteps = every.steps ?? 0;
  const ckSeconds = every.seconds ?? Infinity;
  let lastCk = performance.now();
  let ckDue = false;
  let stopReason = "done";
  const schedule = { type: "custom" as const, factor: () => planFactor(plan, st.history.steps, planDone0 + since(t0)) };
  try {
    while (st.history.steps < target) {
      const cur = st.history.steps;
      const next = (k: number) => (k > 0 ? (Math.floor(cur / k) + 1) * k : Infinity);
      const segEnd = Math.min(target, next(sampleEvery), next(ckSteps));
      segStart = performance.now();
      await model.fitAsync({ stream: trainIds }, {
        steps: Number.isFinite(segEnd) ? segEnd - cur : 2 ** 31, // a --time run without step checkpoints: one segment
        batchSize: B,
        tbptt: { k1: seq },
        optimizer: { type: "adam", lr: settings.lr },
        schedule,
        seed: settings.seed,
        onStep: (s) => {
          recorder.push(s.loss);
          smoothLoss = Number.isFinite(smoothLoss) ? 0.95 * smoothLoss + 0.05 * s.loss : s.loss;
          charsTrained += B * seq;
          prog.update(state(true));
          if (interrupted) return false;
          if (since(t0) >= timeLimit) return false;
          if (since(lastCk) >= ckSeconds) {
            ckDue = true; // a time-based checkpoint
            return false;
          }
        },
      });
      trainSeconds += since(segStart);
      mergePartialEpochs(st.history.epochs);
      const now = st.history.steps;
      if (interrupted) {
        stopReason = "interrupted";
        break;
      }
      if (now > cur && sampleEvery > 0 && now % sampleEvery === 0) sample(now);
      if ((ckDue || (now > cur && ckSteps > 0 && now % ckSteps === 0)) && now < target && since(t0) < timeLimit) {
        await checkpoint("checkpoint");
        lastCk = performance.now();
        ckDue = false;
        if (settings.earlyStop > 0 && valSet && run.sinceBest >= settings.earlyStop) {
          stopReason = "early";
          break;
        }
      }
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
      const good = lastSavedStep >= 0 ? ` The last checkpoint in ${outPath} (step ${lastSavedStep}) is intact.` : "";
      throw new CliError(`training diverged at step ${st.history.steps + 1}: ${err.message.replace(/^unfold-rnn: /, "")}${good} Try a lower --lr.`, exitCodeFor(err));
    }
    throw err;
  }

  if (stopReason === "interrupted") {
    // Ctrl-C: save at once (no validation pass) and exit 130.
    try {
      writeFileAtomicSync(outPath, saveModel(model, metaNow()));
    } catch (err) {
      prog.stop();
      process.off("SIGINT", onSigint);
      throw new CliError(`interrupted at step ${st.history.steps}, but the checkpoint could not be written: ${(err as Error).message.replace(/^cannot write model file /, "")}; ${intact()}`);
    }
    writeReport();
    prog.stop();
    process.off("SIGINT", onSigint);
    out(`interrupted at step ${st.history.steps}: checkpoint written to ${outPath}; continue with \`unfold train --resume ${outPath}\``);
    model.dispose();
    return 130;
  }
  try {
    if (stopReason !== "early") await checkpoint("final checkpoint");
  } finally {
    prog.update(state());
    prog.stop();
    process.off("SIGINT", onSigint);
  }
  if (interrupted) {
    out(`interrupted while saving; the final checkpoint is complete in ${outPath}`);
    model.dispose();
    return 130;
  }

  // ---- summary: training and validation timed apart ----
  const done = st.history.steps - startStep;
  out();
  const stopped = stopReason === "time" ? ", stopped at the time limit" : stopReason === "early" ? `, stopped early: validation did not improve for ${settings.earlyStop} checkpoints` : "";
  out(`trained ${done} steps in ${secs(trainSeconds)} of training (${int(charsTrained / Math.max(trainSeconds, 1e-9))} chars/s)${stopped}`);
  if (valSet) out(`validated ${valPasses} time${valPasses === 1 ? "" : "s"} in ${secs(valSeconds)} (${int(valSet.ids.length)} characters each); total ${secs(since(t0))}`);
  const lastTrain = tailMean(curve.train, 20);
  out(`loss       train ${Number.isFinite(lastTrain) ? lastTrain.toFixed(3) : "-"}${lastVal !== undefined ? `, validation ${lastVal.toFixed(3)} (perplexity ${Math.exp(lastVal).toFixed(2)})` : ""}; unigram baseline ${baselineLoss.toFixed(3)} (perplexity ${Math.exp(baselineLoss).toFixed(2)})`);
  if (run.best && valSet) out(`best       validation ${run.best.loss.toFixed(3)} at step ${run.best.step}${existsSync(bestPath) ? ` (${bestPath})` : ""}`);
  const prime = primeFromIds(trainIds, vocab, fract(settings.seed * 0.377 + 0.5), 16);
  const g = model.generate(vocab.encode(prime), { length: 400, temperature: 0.8, seed: settings.seed });
  out(`\nsample (temperature 0.8):\n${prime}${vocab.decode(g)}\n`);
  out(`model saved to ${outPath}; loss curve in ${svgPath}`);
  out(`next: unfold sample ${outPath} --prime "${prime.trim().replace(/"/g, '\\"')}"   |   unfold eval ${outPath}   |   unfold train --resume ${outPath} --steps ${Math.max(100, done)}`);
  model.dispose();
  return 0;
}

/** Seconds for a summary: "0.35s", "4.2s" below 10 s, else like {@link hms}. */
function secs(s: number): string {
  return s < 10 ? `${+s.toPrecision(2)}s` : hms(s);
}

function scheduleText(p: LrPlan, lr: number): string {
  if (p.schedule === "constant") return `constant lr ${lr}`;
  const warm = p.warmup > 0 ? `linear warm-up over ${p.warmup} steps${p.steps === undefined ? " (at most 5% of the time)" : ""}, then ` : "";
  const end = p.steps !== undefined ? `step ${p.startStep + p.steps}` : `the end of the ${hms(p.seconds!)} budget`;
  return `${warm}cosine from lr ${lr} to ${+(lr * p.floor).toPrecision(3)} (x${p.floor}) at ${end}`;
}

function planText(f: TrainFlags, steps: number, continueTo: number | undefined, timeLimit: number): string {
  if (continueTo !== undefined) return `run: continuing the saved run to step ${continueTo}`;
  if (!Number.isFinite(steps) && Number.isFinite(timeLimit) && f.time === undefined) return `run: continuing the saved run for ${hms(timeLimit)}`;
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
