/**
 * The Node side of loading (also what Deno and Bun get: they match the
 * `node` export condition): read `file:` URLs from disk, start
 * `worker_threads`. The only module on the way to the kernels that imports a
 * Node built-in; installed by use-node.ts (see platform.ts).
 * @internal
 */
import { readFile } from "node:fs/promises";
import { Worker } from "node:worker_threads";

/** Which loader this is (shown in error messages). */
export const PLATFORM = "node";

/**
 * Read a `file:` URL. Rejects with the system error (its `code`, e.g.
 * ENOENT), which the caller turns into an UnfoldError naming the URL.
 */
export const readFileURL: ((url: URL) => Promise<Uint8Array>) | null = async (url) => new Uint8Array(await readFile(url));

/** A worker thread running the worker loop of worker.ts (`template`, whose message port is `PORT`), as CommonJS source. */
export function spawnWorker(template: string): { worker: unknown; cleanup(): void } {
  const source = template.replace("PORT", 'require("node:worker_threads").parentPort');
  const execArgv = typeof process === "object" && Array.isArray(process.execArgv) ? workerExecArgv(process.execArgv) : undefined;
  return { worker: new Worker(source, { eval: true, execArgv }), cleanup() {} };
}

/**
 * The parent's Node options for the worker, less those that say how to read
 * its source: `node --input-type=module -e ...` (or
 * `--experimental-default-type=module`) would have the worker's CommonJS
 * source parsed as a module, where `require` is not defined.
 */
export function workerExecArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--input-type" || a === "--experimental-default-type") i++; // the value follows
    else if (!a.startsWith("--input-type=") && !a.startsWith("--experimental-default-type=")) out.push(a);
  }
  return out;
}
