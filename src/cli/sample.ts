/** `unfold sample`: generate text from a trained character-level model. */
import { CliError, initKernels } from "./common.js";
import { firstUnknownChar, unknownCharMessage } from "./corpus.js";
import { loadLm } from "./model-file.js";

export interface SampleFlags {
  prime?: string;
  length: number;
  temperature: number;
  topK?: number;
  topP?: number;
  seed?: number;
}

export async function sample(path: string, f: SampleFlags): Promise<number> {
  await initKernels();
  const { model, vocab } = await loadLm(path);
  try {
    let prime = f.prime;
    if (prime === undefined) prime = ["The ", "The", "T"].find((p) => [...p].every((c) => vocab.has(c))) ?? vocab.token(vocab.padId === 0 ? Math.min(1, vocab.size - 1) : 0);
    if (prime.length === 0) throw new CliError("--prime is empty; give at least one character (or leave --prime out)");
    const u = firstUnknownChar(prime, (c) => vocab.has(c));
    if (u && vocab.unkId === undefined) {
      throw new CliError(`${unknownCharMessage("--prime", u).replace(/ \(line 1\)/, "")}; the model knows ${vocab.size} characters (see \`unfold info ${path}\`)`);
    }
    if (f.topK !== undefined && f.topK > vocab.size) f.topK = vocab.size;
    const ids = vocab.encode(prime); // unknown characters map to <unk> if the vocabulary has one
    const seed = f.seed ?? Math.floor(Math.random() * 2 ** 31);
    const out = model.generate(ids, { length: f.length, temperature: f.temperature, topK: f.topK, topP: f.topP, seed });
    process.stdout.write(`${prime}${vocab.decode(out)}\n`);
    return 0;
  } finally {
    model.dispose();
  }
}
