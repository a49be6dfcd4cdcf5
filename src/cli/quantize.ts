/**
 * `unfold quantize`: convert a trained model file for inference. `--to int8`
 * (default) writes the int8 model of `quantize(model, { bits: 8 })` (about
 * 4x smaller, faster sessions); `--to f16` writes the same f32 model with
 * half-precision weights (2x smaller, still trainable once loaded). The
 * output loads wherever the input did (`sample`, `eval`, `info`, `loadModel`).
 */
import { statSync } from "node:fs";
import { quantize as quantizeModel, isQuantized, saveModel, type Sequential } from "../index.js";
import { writeFileAtomic } from "../node.js";
import { bytes, CliError, initKernels } from "./common.js";
import { describeModel, loadLm } from "./model-file.js";

export interface QuantizeFlags {
  to: "int8" | "f16";
  out?: string;
}

/** `model.unfold` -> `model.int8.unfold` (or `.f16.unfold`). */
export function quantizedPath(path: string, to: string): string {
  return path.endsWith(".unfold") ? `${path.slice(0, -".unfold".length)}.${to}.unfold` : `${path}.${to}.unfold`;
}

export async function quantize(path: string, f: QuantizeFlags): Promise<number> {
  await initKernels();
  const { model, vocab, meta } = await loadLm(path);
  let q: Sequential | null = null;
  try {
    if (isQuantized(model)) throw new CliError(`${path} is already an int8 model`);
    const out = f.out ?? quantizedPath(path, f.to);
    if (out === path) throw new CliError(`--out ${out} is the input file; write the converted model elsewhere`);
    let data: Uint8Array;
    const opts = { vocab, meta: meta as unknown as Record<string, unknown> | undefined };
    if (f.to === "int8") {
      q = quantizeModel(model, { bits: 8 });
      data = saveModel(q, opts);
    } else data = saveModel(model, { ...opts, weights: "f16", includeOptimizer: false });
    await writeFileAtomic(out, data);
    const before = statSync(path).size;
    const f32 = saveModel(model, { ...opts, includeOptimizer: false }).length; // the same model, f32 weights only
    const what = f.to === "int8" ? "int8 weights (one scale per row)" : "f16 weights";
    const vsFile = before !== f32 ? `; ${path} is ${bytes(before)} with its optimizer state` : "";
    process.stdout.write(`${out}: ${describeModel(model)}, ${what}, ${bytes(data.length)}: ${(f32 / data.length).toFixed(2)}x smaller than its f32 weights (${bytes(f32)})${vsFile}\n`);
    return 0;
  } finally {
    q?.dispose();
    model.dispose();
  }
}
