/**
 * Node-only helpers: model files on disk, written atomically (a crash never
 * leaves a half-written model). Import from "unfold-rnn/node".
 * @packageDocumentation
 */
import { readFileBytes, writeFileAtomic, writeFileAtomicSync } from "./io/node.js";
import { loadSafetensors, saveSafetensors, type SafetensorsLoadOptions, type SafetensorsModel, type SafetensorsSaveOptions } from "./io/safetensors.js";
import { type AnyModel, type LoadedModel, loadModel, saveModel, type SaveOptions } from "./model/save.js";

/** Save a model (with vocabulary and optimizer state) to `path`, atomically. */
export async function saveModelFile(path: string, model: AnyModel, opts: SaveOptions = {}): Promise<void> {
  await writeFileAtomic(path, saveModel(model, opts));
}

/** {@link saveModelFile}, synchronous (for exit and signal handlers). */
export function saveModelFileSync(path: string, model: AnyModel, opts: SaveOptions = {}): void {
  writeFileAtomicSync(path, saveModel(model, opts));
}

/** Load a model saved with {@link saveModelFile}; throws with the reason for a missing, corrupt or foreign file. */
export async function loadModelFile(path: string): Promise<LoadedModel> {
  const bytes = await readFileBytes(path);
  try {
    return loadModel(bytes);
  } catch (err) {
    throw new Error(`${(err as Error).message} (file: ${path})`, { cause: err });
  }
}

/** Save a model's weights as a safetensors file (PyTorch names, spec in the metadata), atomically. */
export async function saveSafetensorsFile(path: string, model: SafetensorsModel, opts: SafetensorsSaveOptions = {}): Promise<void> {
  await writeFileAtomic(path, saveSafetensors(model, opts));
}

/** Load a safetensors file into a model; checks every tensor first and changes nothing on failure. */
export async function loadSafetensorsFile(path: string, model: SafetensorsModel, opts: SafetensorsLoadOptions = {}): Promise<void> {
  loadSafetensors(model, await readFileBytes(path), opts);
}

export { readFileBytes, writeFileAtomic, writeFileAtomicSync };
