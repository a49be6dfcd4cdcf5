/**
 * The runtime-specific parts of loading, as one swappable object: reading a
 * `file:` URL and starting a worker. The default is the web side
 * (platform-web.ts: fetch, Web Workers), which imports nothing, so the code a
 * browser or worker bundle pulls in names no Node built-in. Node, Deno and
 * Bun get the package's `node` export condition (dist/index.node.js), which
 * imports use-node.ts: it installs platform-node.ts (node:fs, worker_threads)
 * before any init(). No run-time test of the environment anywhere.
 * @internal
 */
import * as web from "./platform-web.js";

/** What wasm.ts and threads.ts need from the runtime. */
export interface Platform {
  /** "node" or "web", for messages and for the no-workers check. */
  readonly PLATFORM: string;
  /** Read a `file:` URL from disk; null where `file:` URLs are fetched like any other. Rejects with the system error. */
  readonly readFileURL: ((url: URL) => Promise<Uint8Array>) | null;
  /** Start a worker running worker.ts's loop (`template`, whose message port is `PORT`); `cleanup()` once it has started. */
  spawnWorker(template: string): { worker: unknown; cleanup(): void };
}

let current: Platform = web;

/** The platform in use. */
export function platform(): Platform {
  return current;
}

/** Install a platform (use-node.ts does, for the `node` condition). */
export function usePlatform(p: Platform): void {
  current = p;
}
