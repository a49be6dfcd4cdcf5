/**
 * Crash-safe file writing and friendly file reading, for Node only.
 *
 * Imported from its own path (never from `src/io/index.ts`) so browser and
 * edge bundles do not pull in `node:fs`.
 *
 * Atomic write, the classic recipe: write a temp file in the destination's
 * directory, fsync it, rename it over the destination (atomic on POSIX and
 * on NTFS), fsync the directory so the rename itself is durable. A reader —
 * or the same program after a crash or power loss — sees either the old
 * complete file or the new complete file, never a mix or a prefix. If the
 * process dies between writing the temp file and the rename, a stale
 * `.<name>.<pid>.<random>.tmp` file may be left beside the destination; the
 * destination itself is untouched, and the next write to the same path
 * removes it ({@link cleanStaleTemps}).
 */
import * as fs from "node:fs";
import * as fsp from "node:fs/promises";
import { randomBytes } from "node:crypto";
import * as nodePath from "node:path";
import { UnfoldError } from "../errors.js";

/**
 * @internal Test hooks. `beforeRename(tmpPath)` runs after the temp file is
 * written and fsynced and before the rename; throwing from it simulates a
 * crash at the worst moment.
 */
export const _testHooks: { beforeRename?: (tmpPath: string) => void } = {};

/** Error codes from fsync on a directory that mean "not supported here", not "failed". */
const DIR_FSYNC_UNSUPPORTED = new Set(["EISDIR", "EPERM", "EACCES", "EINVAL", "EBADF", "ENOTSUP", "EOPNOTSUPP"]);

function tempPathFor(path: string): string {
  const dir = nodePath.dirname(path);
  const base = nodePath.basename(path);
  return nodePath.join(dir, `.${base}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
}

function checkWriteArgs(fn: string, path: unknown, bytes: unknown): void {
  if (typeof path !== "string" || path.length === 0) throw new UnfoldError("E_OPTION", `${fn}: path must be a non-empty string`, { name: "path", received: path });
  if (!(bytes instanceof Uint8Array)) throw new UnfoldError("E_OPTION", `${fn}: bytes must be a Uint8Array`, { name: "bytes", received: bytes });
}

/**
 * Remove temp files of `path` (our own `.<name>.<pid>.<hex>.tmp` pattern) left
 * by a writer that was killed between writing and renaming: those whose
 * process no longer runs. Best effort; called before every atomic write, so a
 * killed `unfold train` leaves no litter once it runs again.
 */
export function cleanStaleTemps(path: string): void {
  const dir = nodePath.dirname(path);
  const base = nodePath.basename(path);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(`.${base}.`) || !name.endsWith(".tmp")) continue;
    const m = /^\.(.*)\.(\d+)\.[0-9a-f]{12}\.tmp$/.exec(name);
    if (!m || m[1] !== base) continue;
    const pid = Number(m[2]);
    if (pid === process.pid || processRuns(pid)) continue;
    try {
      fs.rmSync(nodePath.join(dir, name), { force: true });
    } catch {
      /* best effort */
    }
  }
}

/** Whether a process with this id exists (signal 0 checks without sending). */
function processRuns(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The mode of an existing regular file at `path` (so overwriting keeps its permissions), else 0o666 (umask applies). */
function modeFor(stat: fs.Stats | undefined): number {
  return stat?.isFile() ? stat.mode & 0o7777 : 0o666;
}

function writeError(path: string, err: unknown): UnfoldError {
  const e = err as NodeJS.ErrnoException;
  let why = e?.message ?? String(err);
  if (e?.code === "ENOENT") why = `directory ${nodePath.dirname(path)} does not exist (create it first)`;
  else if (e?.code === "EISDIR") why = `${path} is a directory; choose a file name`;
  else if (e?.code === "EACCES" || e?.code === "EPERM") why = `permission denied (${e.message})`;
  else if (e?.code === "ENOSPC") why = "no space left on device";
  return new UnfoldError("E_IO", `cannot write model file ${path}: ${why}`, { name: "path", received: path, cause: err, errno: e?.code });
}

/**
 * Write `bytes` to `path` atomically and durably: afterwards `path` holds
 * exactly `bytes`; if this fails or the process dies, `path` still holds its
 * previous complete contents (or still does not exist). An existing file's
 * permission bits are kept.
 *
 * @param path destination file; its directory must exist.
 * @param bytes the complete new contents.
 * @throws UnfoldError (E_IO) `cannot write model file <path>: <why>` (with
 *   the underlying error as `cause` and its code as `errno`); the temp file has been removed.
 */
export async function writeFileAtomic(path: string, bytes: Uint8Array): Promise<void> {
  checkWriteArgs("writeFileAtomic", path, bytes);
  cleanStaleTemps(path);
  const tmp = tempPathFor(path);
  let renamed = false;
  try {
    const old = await fsp.stat(path).catch(() => undefined);
    if (old?.isDirectory()) throw Object.assign(new Error(`${path} is a directory`), { code: "EISDIR" });
    const fh = await fsp.open(tmp, "wx", modeFor(old));
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    _testHooks.beforeRename?.(tmp);
    await fsp.rename(tmp, path);
    renamed = true;
    await syncDir(nodePath.dirname(path));
  } catch (err) {
    if (!renamed) await fsp.rm(tmp, { force: true }).catch(() => {});
    throw writeError(path, err);
  }
}

/**
 * Synchronous {@link writeFileAtomic}, for places that cannot await — a
 * `SIGINT` (Ctrl-C) handler that saves a checkpoint before exiting.
 *
 * @param path destination file; its directory must exist.
 * @param bytes the complete new contents.
 * @throws UnfoldError (E_IO) `cannot write model file <path>: <why>`; the temp file has been removed.
 */
export function writeFileAtomicSync(path: string, bytes: Uint8Array): void {
  checkWriteArgs("writeFileAtomicSync", path, bytes);
  cleanStaleTemps(path);
  const tmp = tempPathFor(path);
  let renamed = false;
  try {
    let old: fs.Stats | undefined;
    try {
      old = fs.statSync(path);
    } catch {
      old = undefined;
    }
    if (old?.isDirectory()) throw Object.assign(new Error(`${path} is a directory`), { code: "EISDIR" });
    const fd = fs.openSync(tmp, "wx", modeFor(old));
    try {
      let done = 0;
      while (done < bytes.length) done += fs.writeSync(fd, bytes, done, bytes.length - done);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    _testHooks.beforeRename?.(tmp);
    fs.renameSync(tmp, path);
    renamed = true;
    syncDirSync(nodePath.dirname(path));
  } catch (err) {
    if (!renamed) {
      try {
        fs.rmSync(tmp, { force: true });
      } catch {
        /* best effort */
      }
    }
    throw writeError(path, err);
  }
}

/** fsync a directory so a rename in it survives power loss; a no-op where directories cannot be fsynced (Windows). */
async function syncDir(dir: string): Promise<void> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(dir, "r");
    await fh.sync();
  } catch (err) {
    if (!DIR_FSYNC_UNSUPPORTED.has((err as NodeJS.ErrnoException).code ?? "")) throw err;
  } finally {
    await fh?.close();
  }
}

function syncDirSync(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, "r");
    fs.fsyncSync(fd);
  } catch (err) {
    if (!DIR_FSYNC_UNSUPPORTED.has((err as NodeJS.ErrnoException).code ?? "")) throw err;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * Read a whole file as bytes (e.g. to pass to `decodeModel`).
 *
 * @param path the file.
 * @returns its contents. The result is a Node `Buffer`, which is a `Uint8Array`.
 * @throws UnfoldError (E_IO) `no such model file: <path>` when it does not exist;
 *   `<path> is a directory, not a model file`; otherwise
 *   `cannot read model file <path>: <why>`. The underlying error is `cause`,
 *   its code (`ENOENT`, ...) is `errno`.
 */
export async function readFileBytes(path: string): Promise<Uint8Array> {
  if (typeof path !== "string" || path.length === 0) throw new UnfoldError("E_OPTION", "readFileBytes: path must be a non-empty string", { name: "path", received: path });
  try {
    return await fsp.readFile(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const msg =
      e.code === "ENOENT"
        ? `no such model file: ${path}`
        : e.code === "EISDIR"
          ? `${path} is a directory, not a model file`
          : `cannot read model file ${path}: ${e.message}`;
    throw new UnfoldError("E_IO", msg, { name: "path", received: path, cause: err, errno: e.code });
  }
}
