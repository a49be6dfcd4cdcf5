/**
 * The Node side of loading (also what Deno and Bun pick: they match the
 * `node` condition): read `file:` URLs from disk, start `worker_threads`.
 *
 * Nothing else imports a Node built-in on the way to the kernels. wasm.ts and
 * threads.ts import this module as `#platform`, which package.json's
 * `imports` map resolves per condition: `node` -> this file, anything else
 * (`browser`, `worker`, `default`) -> platform-web.ts. So a browser or worker
 * bundle never sees `node:fs` or `node:worker_threads`, with no run-time test.
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
  return { worker: new Worker(source, { eval: true }), cleanup() {} };
}
