#!/usr/bin/env node
/**
 * The `unfold` command: train, sample from and inspect character-level
 * language models, and benchmark the kernels.
 *
 *   unfold train [corpus.txt] [--model lstm|gru|rnn] [--hidden 256] ... [--steps N | --epochs N | --time 2m]
 *   unfold sample model.unfold [--prime "ROMEO:"] [--length 500] [--temperature 0.8]
 *   unfold eval model.unfold [corpus]
 *   unfold info model.unfold
 *   unfold import model.json|model.onnx [--out model.unfold]
 *   unfold quantize model.unfold [--to int8|f16] [--out model.int8.unfold]
 *   unfold bench [--quick]
 *
 * Errors a user can fix print one line on stderr and exit with a status per
 * error code (see CliError, EXIT_CODES and docs/ERRORS.md); anything else is
 * a bug and shows its stack.
 */
import { Command, Option } from "commander";
import { bench } from "./bench.js";
import { isUnfoldError } from "../errors.js";
import {
  charCount, CliError, exitCodeFor, oneLine, defaultCorpusPath, defaultThreads, duration, fraction, nonNegativeInt, nonNegativeNumber, packageVersion, positiveInt, positiveNumber, probability,
  stepsOrDuration,
} from "./common.js";
import { evaluate, type EvalFlags } from "./eval.js";
import { importModel, type ImportFlags } from "./import.js";
import { info } from "./info.js";
import { quantize, type QuantizeFlags } from "./quantize.js";
import { sample } from "./sample.js";
import { train, type TrainFlags } from "./train.js";

/**
 * Run a command's body; a CliError or an UnfoldError becomes one line on
 * stderr (no stack) and its exit code (EXIT_CODES; 1 for a CliError).
 */
async function run(body: () => Promise<number>): Promise<void> {
  try {
    process.exitCode = await body();
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`unfold: ${oneLine(err)}\n`);
      process.exitCode = err.exitCode;
      return;
    }
    if (isUnfoldError(err)) {
      process.stderr.write(`unfold: ${oneLine(err)} [${err.code}]\n`);
      process.exitCode = exitCodeFor(err);
      return;
    }
    throw err;
  }
}

export function program(): Command {
  const p = new Command("unfold")
    .description("Character-level language models with recurrent networks (LSTM, GRU, RNN) — train, sample, inspect.")
    .version(packageVersion(), "-v, --version")
    // One line per error: commander puts "(Did you mean ...?)" on a line of its own.
    .configureOutput({ outputError: (s, write) => write(`unfold: ${s.replace(/^error: /, "").trimEnd().replace(/\s*\n\s*/g, " ")}\n`) })
    .showSuggestionAfterError(true);

  p.command("train")
    .description("train a character-level language model on a text file")
    .argument("[corpus]", "UTF-8 text to learn from (default: the bundled State of the Union addresses 1981-2021, corpus/sotu.txt)")
    .addOption(new Option("--model <cell>", "recurrent cell").choices(["lstm", "gru", "rnn"]).default("lstm"))
    .option("--hidden <n>", "hidden size", positiveInt, 256)
    .option("--layers <n>", "stacked recurrent layers", positiveInt, 2)
    .option("--embedding <n>", "character embedding size", positiveInt, 64)
    .option("--seq <n>", "steps per truncated-BPTT window (k1)", positiveInt, 64)
    .option("--batch <n>", "parallel streams per update", positiveInt, 32)
    .option("--steps <n>", "train this many updates (this many more with --resume)", positiveInt)
    .option("--epochs <n>", "train this many passes over the corpus (default 1 if no --steps/--time)", positiveInt)
    .option("--time <duration>", "train for this long, e.g. 90s, 2m, 1h", duration)
    .option("--lr <rate>", "Adam learning rate", positiveNumber, 0.002)
    .option("--dropout <p>", "dropout between stacked layers", fraction, 0)
    .option("--seed <n>", "random seed (initial weights)", nonNegativeInt, 1)
    .option("--out <file>", "where to save the model (default model.unfold, or the --resume file)")
    .option("--sample-every <n>", "print a sample every n steps (0: never)", nonNegativeInt, 200)
    .addOption(new Option("--checkpoint-every <n|time>", "validate and save every n steps, or every so long (e.g. 10m); 0: only at the end").argParser(stepsOrDuration).default({ steps: 200 }, "200"))
    .option("--keep-last <k>", "also keep the last k checkpoints as <out>.step<N>.unfold (the best is always kept as <out>.best.unfold)", nonNegativeInt, 0)
    .option("--resume <file>", "continue training a saved model (its optimizer, stream position, state and learning-rate schedule); with no --steps/--epochs/--time, finish the saved run")
    .option("--val-fraction <f>", "hold out this last fraction of the corpus for validation", fraction, 0.05)
    .addOption(new Option("--val-chars <n>", "validate on this many held-out characters (a fixed, seeded subset; 'all' for all of it)").argParser(charCount).default(256_000, "256k"))
    .addOption(new Option("--schedule <kind>", "learning-rate schedule: constant, or cosine (linear warm-up, then cosine down to --lr-floor x --lr at the end of --steps / --epochs / --time)").choices(["constant", "cosine"]).default("constant"))
    .addOption(new Option("--warmup <steps>", "warm-up steps of the cosine schedule (default: 5% of the run, at most 100; none when resuming)").argParser(nonNegativeInt).default(-1, "auto"))
    .option("--lr-floor <f>", "the cosine schedule ends at this fraction of --lr", fraction, 0.1)
    .option("--early-stop <n>", "stop when validation has not improved for n checkpoints (0: never)", nonNegativeInt, 0)
    .addOption(new Option("--threads <n>", "threads for the kernels (results are identical for any count)").argParser(positiveInt).default(defaultThreads(), `the cores available, at most 4: ${defaultThreads()}; 1 where a step is too small to split, batch x hidden^2 < 65536`))
    .addOption(new Option("--log-every <seconds>", "seconds between progress lines when stdout is not a terminal").argParser(nonNegativeNumber).default(5))
    .addOption(new Option("--weights <type>", "how checkpoints store the weights: f32, or f16 (half the bytes; rounded weights and no optimizer state, so a --resume starts a new optimizer)").choices(["f32", "f16"]).default("f32"))
    .action(async (corpus: string | undefined, flags: TrainFlags, cmd: Command) => {
      const explicit = new Set(Object.keys(flags).filter((k) => cmd.getOptionValueSource(k) === "cli"));
      await run(() => train(corpus, flags, explicit));
    });

  p.command("sample")
    .description("generate text from a trained model")
    .argument("<model>", "model file from `unfold train`")
    .option("--prime <text>", "text to start from (default \"The \")")
    .option("--length <n>", "characters to generate", nonNegativeInt, 500)
    .option("--temperature <t>", "sampling temperature (0: always the most likely)", nonNegativeNumber, 0.8)
    .option("--top-k <k>", "sample only among the k most likely characters", positiveInt)
    .option("--top-p <p>", "sample only among the most likely characters whose probability reaches p", probability)
    .option("--seed <n>", "random seed of the sampler (default: random)", nonNegativeInt)
    .action(async (model: string, flags) => run(() => sample(model, flags)));

  p.command("eval")
    .description("evaluate a model on all of its held-out text (or another corpus), with a progress bar")
    .argument("<model>", "model file from `unfold train`")
    .argument("[corpus]", "text to evaluate on (default: the model's training corpus; its held-out end, --val-fraction)")
    .addOption(new Option("--val-chars <n>", "only this many held-out characters: the fixed subset `unfold train` validates on").argParser(charCount).default(Infinity, "all"))
    .option("--all-text", "evaluate on all of the corpus, not only its held-out end")
    .option("--batch <n>", "parallel streams (speed only; the loss barely depends on it)", positiveInt)
    .addOption(new Option("--threads <n>", "threads for the kernels").argParser(positiveInt).default(defaultThreads(), `${defaultThreads()}`))
    .addOption(new Option("--log-every <seconds>", "seconds between progress lines when stdout is not a terminal").argParser(nonNegativeNumber).default(5))
    .action(async (model: string, corpus: string | undefined, flags: EvalFlags) => run(() => evaluate(model, corpus, flags)));

  p.command("import")
    .description("import a TensorFlow.js / Keras model.json (with its weight files) or an ONNX recurrent model into a model file")
    .argument("<model>", "model.json (tfjs layers format) or model.onnx")
    .option("--out <file>", "where to save (default: the input's name with .unfold)")
    .action(async (model: string, flags: ImportFlags) => run(() => importModel(model, flags)));

  p.command("info")
    .description("show a model's architecture, vocabulary and training history")
    .argument("<model>", "model file")
    .action(async (model: string) => run(() => info(model)));

  p.command("quantize")
    .description("convert a trained model for inference: int8 weights (about 4x smaller, faster sampling) or f16 weights (2x smaller)")
    .argument("<model>", "model file from `unfold train`")
    .addOption(new Option("--to <type>", "int8: quantized inference model; f16: half-precision weights, the same f32 model once loaded").choices(["int8", "f16"]).default("int8"))
    .option("--out <file>", "where to write it (default: <model>.int8.unfold or <model>.f16.unfold)")
    .action(async (model: string, flags: QuantizeFlags) => run(() => quantize(model, flags)));

  p.command("bench")
    .description("benchmark the kernels (the full suite in a source checkout, else a built-in one)")
    .option("--quick", "shorter runs")
    .option("--builtin", "run the small built-in benchmark even in a source checkout")
    .option("--threads <n>", "threads for the built-in benchmark", positiveInt, 1)
    .action(async (flags) => run(() => bench(flags)));

  p.addHelpText("after", `\nExamples:\n  unfold train --time 2m                  # the default corpus (${defaultCorpusPath()})\n  unfold train shakespeare.txt --hidden 512 --epochs 5 --out shakespeare.unfold\n  unfold sample shakespeare.unfold --prime "ROMEO:" --length 300\n  unfold train --resume shakespeare.unfold --epochs 2\n  unfold train wiki.txt --time 8h --schedule cosine --checkpoint-every 10m --keep-last 3 --early-stop 5\n  unfold eval shakespeare.unfold          # all of the held-out text\n  unfold quantize shakespeare.unfold      # -> shakespeare.int8.unfold, ~4x smaller`);
  return p;
}

// `unfold sample m.unfold | head`: a closed pipe is not an error.
for (const s of [process.stdout, process.stderr]) {
  s.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw err;
  });
}

await program().parseAsync(process.argv);
