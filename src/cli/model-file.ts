/**
 * Loading a character-level language model made by `unfold train` (or any
 * saved char-level Sequential LM with its vocabulary), with one-line errors.
 */
import { Sequential, type Vocab } from "../index.js";
import { loadModelFile } from "../node.js";
import { CliError, exitCodeFor, oneLine } from "./common.js";
import type { LossCurve } from "./report.js";

/** The settings `unfold train` keeps in a model file's meta. */
export interface CliSettings {
  model: "lstm" | "gru" | "rnn";
  hidden: number;
  layers: number;
  embedding: number;
  dropout: number;
  seq: number;
  batch: number;
  lr: number;
  seed: number;
  valFraction: number;
  /** Characters of held-out text validated at each checkpoint (Infinity: all); absent in older files (all). */
  valChars?: number;
  /** Learning-rate schedule, warm-up steps (-1: automatic) and floor (fraction of --lr). */
  schedule?: "cosine" | "constant";
  warmup?: number;
  lrFloor?: number;
  /** Stop after this many validations without improvement (0: never). */
  earlyStop?: number;
  /** Step checkpoints kept besides the latest. */
  keepLast?: number;
  /** --checkpoint-every: steps or seconds. */
  checkpointEvery?: { steps?: number; seconds?: number };
}

/** The meta block of a model file written by `unfold train`. */
export interface CliMeta {
  tool: "unfold";
  version: string;
  cli: CliSettings;
  corpus: { name: string; path: string; chars: number };
  /** Unigram baseline loss (nats/char) and what it was measured on. */
  baseline?: { loss: number; on: "validation" | "training" };
  curve?: LossCurve;
  /** The long-run state (learning-rate plan, best validation, kept checkpoints), so `--resume` continues exactly. */
  run?: LongRunState;
}

/**
 * The learning-rate plan of a run: linear warm-up over `warmup` updates, then
 * cosine from --lr down to `floor` x --lr at the end of the run, whose length
 * is `steps` updates (--steps, --epochs) or `seconds` of wall-clock time
 * (--time). `constant` keeps --lr.
 */
export interface LrPlan {
  schedule: "cosine" | "constant";
  /** Update count (history.steps) when the plan started. */
  startStep: number;
  warmup: number;
  floor: number;
  steps?: number;
  seconds?: number;
  /** Time plans: seconds of the plan spent before the current process (by runs that were resumed). */
  doneSeconds?: number;
}

/** The long-run state kept in the model file (meta.run). */
export interface LongRunState {
  plan: LrPlan;
  /** The best validation so far (its checkpoint is <name>.best.unfold). */
  best?: { step: number; loss: number };
  /** Validations since the best one. */
  sinceBest: number;
  /** Step checkpoints kept (paths as written), oldest first. */
  kept: string[];
  /** Seconds spent training and validating over the whole run, resumes included. */
  trainSeconds: number;
  valSeconds: number;
}

export interface LoadedLm {
  model: Sequential;
  vocab: Vocab;
  /** Present if the file was written by `unfold train`. */
  meta?: CliMeta;
}

/** Load `path` and check it is a character-level token language model with a vocabulary. */
export async function loadLm(path: string): Promise<LoadedLm> {
  let loaded;
  try {
    loaded = await loadModelFile(path);
  } catch (err) {
    const msg = oneLine(err).replace(/ \(file: [^)]*\)$/, "");
    throw new CliError(msg.startsWith("no such model file") ? msg : `cannot load model ${path}: ${msg}`, exitCodeFor(err));
  }
  const { model, vocab, meta } = loaded;
  const fail = (why: string): never => {
    model.dispose();
    throw new CliError(`${path} is not a character-level language model (${why}); make one with \`unfold train\``);
  };
  if (!(model instanceof Sequential)) return fail("it is an encoder-decoder model");
  if (model.spec.input.type !== "tokens" || model.spec.mode !== "many-to-many" || model.spec.output.loss !== "xent") return fail("it does not read and predict tokens");
  if (!vocab) return fail("it has no vocabulary");
  if (vocab.level !== "char") return fail(`its vocabulary is ${vocab.level}-level`);
  if (vocab.size !== model.spec.output.size) return fail(`its vocabulary has ${vocab.size} tokens but the model predicts ${model.spec.output.size}`);
  const m = meta as Partial<CliMeta> | undefined;
  return { model, vocab, meta: m && m.tool === "unfold" && m.cli ? (m as CliMeta) : undefined };
}

/** "LSTM, 2 layers x 256 hidden, embedding 64" for a model. */
export function describeModel(model: Sequential): string {
  const r = model.spec.recurrent[0];
  const name = r.cell === "lstm" ? "LSTM" : r.cell === "gru" ? "GRU" : r.cell === "rnn_relu" ? "SimpleRNN (relu)" : "SimpleRNN";
  const L = r.numLayers ?? 1;
  const emb = model.spec.input.type === "tokens" ? `, embedding ${model.spec.input.embeddingDim}` : "";
  const drop = r.dropout ? `, dropout ${r.dropout}` : "";
  return `${name}, ${L} layer${L === 1 ? "" : "s"} x ${r.hiddenSize} hidden${emb}${drop}`;
}

/** The architecture flags of a saved model, as `unfold train` names them. */
export function archOf(model: Sequential): Pick<CliSettings, "model" | "hidden" | "layers" | "embedding" | "dropout"> {
  const r = model.spec.recurrent[0];
  return {
    model: r.cell === "rnn_relu" ? "rnn" : r.cell,
    hidden: r.hiddenSize,
    layers: r.numLayers ?? 1,
    embedding: model.spec.input.type === "tokens" ? model.spec.input.embeddingDim : 0,
    dropout: r.dropout ?? 0,
  };
}
