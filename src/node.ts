/**
 * Node-only helpers: model files on disk, written atomically (a crash never
 * leaves a half-written model). Import from "unfold-rnn/node".
 * @packageDocumentation
 */
import { isUnfoldError, UnfoldError } from "./errors.js";
import { readFileBytes, writeFileAtomic, writeFileAtomicSync } from "./io/node.js";
import { loadSafetensors, saveSafetensors, type SafetensorsLoadOptions, type SafetensorsModel, type SafetensorsSaveOptions } from "./io/safetensors.js";
import { type AnyModel, type LoadedModel, loadModel, saveModel, type SaveOptions } from "./model/save.js";

/** A non-empty path string (E_OPTION otherwise). */
function checkPath(fn: string, path: unknown): asserts path is string {
  if (typeof path !== "string" || path.length === 0) {
    throw new UnfoldError("E_OPTION", `${fn}: path must be a non-empty string, got ${typeof path === "string" ? '""' : typeof path}`, { name: "path", expected: "a file path", received: path });
  }
}

/** A failed read or write (a plain Error from io/node.ts) as an E_IO UnfoldError; the errno code stays on `cause`. */
function ioError(err: unknown): unknown {
  if (isUnfoldError(err)) return err;
  return new UnfoldError("E_IO", (err as Error).message, { cause: err });
}

/** Save a model (with vocabulary and optimizer state) to `path`, atomically. */
export async function saveModelFile(path: string, model: AnyModel, opts: SaveOptions = {}): Promise<void> {
  checkPath("saveModelFile", path);
  const bytes = saveModel(model, opts);
  try {
    await writeFileAtomic(path, bytes);
  } catch (err) {
    throw ioError(err);
  }
}

/** {@link saveModelFile}, synchronous (for exit and signal handlers). */
export function saveModelFileSync(path: string, model: AnyModel, opts: SaveOptions = {}): void {
  checkPath("saveModelFileSync", path);
  const bytes = saveModel(model, opts);
  try {
    writeFileAtomicSync(path, bytes);
  } catch (err) {
    throw ioError(err);
  }
}

/** Load a model saved with {@link saveModelFile}; throws an UnfoldError (E_IO, E_FORMAT) with the reason for a missing, corrupt or foreign file. */
export async function loadModelFile(path: string): Promise<LoadedModel> {
  checkPath("loadModelFile", path);
  let bytes: Uint8Array;
  try {
    bytes = await readFileBytes(path);
  } catch (err) {
    throw ioError(err);
  }
  try {
    return loadModel(bytes);
  } catch (err) {
    if (isUnfoldError(err)) {
      err.message = `${err.message} (file: ${path})`;
      throw err;
    }
    throw new UnfoldError("E_FORMAT", `${(err as Error).message} (file: ${path})`, { cause: err });
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
