/**
 * `unfold import model.json|model.onnx [--out model.unfold]`: bring a model
 * trained elsewhere into unfold-rnn's model file.
 *  - model.json: the TensorFlow.js layers format (`model.save()`,
 *    tensorflowjs_converter); its weight files (weightsManifest paths, next
 *    to model.json) are read in order;
 *  - model.onnx: an ONNX graph of a recurrent model (torch.onnx.export, tf2onnx).
 * Prints what was recognised; the saved model trains and samples like any
 * other (token models need a vocabulary for `unfold sample`, which an import
 * does not have).
 */
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fromTfjs, type TfjsModelJson } from "../io/tfjs.js";
import { fromONNX } from "../onnx/import.js";
import { saveModelFile } from "../node.js";
import { CliError, initKernels, int } from "./common.js";
import { describeModel } from "./model-file.js";

export interface ImportFlags {
  out?: string;
}

export async function importModel(path: string, flags: ImportFlags): Promise<number> {
  await initKernels();
  let file: Buffer;
  try {
    file = readFileSync(path);
  } catch (e) {
    throw new CliError(`cannot read ${path}: ${(e as Error).message}`);
  }
  const out = flags.out ?? path.replace(/(\.json|\.onnx)?$/i, ".unfold");
  let model;
  let description: unknown;
  if (/\.onnx$/i.test(path)) {
    ({ model, description } = fromONNX(new Uint8Array(file)));
  } else {
    let json: TfjsModelJson;
    try {
      json = JSON.parse(file.toString("utf8")) as TfjsModelJson;
    } catch {
      throw new CliError(`${path} is neither an .onnx file nor JSON (a tfjs model.json)`);
    }
    const paths = (json.weightsManifest ?? []).flatMap((g) => g.paths ?? []);
    const parts: Buffer[] = [];
    for (const p of paths) {
      try {
        parts.push(readFileSync(join(dirname(path), p)));
      } catch (e) {
        throw new CliError(`cannot read the weights file ${p} that ${path} lists: ${(e as Error).message}`);
      }
    }
    ({ model, description } = fromTfjs(json, new Uint8Array(Buffer.concat(parts))));
  }
  try {
    await saveModelFile(out, model, { meta: { imported: { from: path, description } } });
    process.stdout.write(`imported ${path}: ${describeModel(model)}, ${int(model.parameterCount)} parameters\n`);
    process.stdout.write(`${JSON.stringify(description, null, 1)}\n`);
    process.stdout.write(`saved ${out}\n`);
  } finally {
    model.dispose();
  }
  return 0;
}
