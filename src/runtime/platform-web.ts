/**
 * The web side of loading, for browsers, Web Workers and edge runtimes: the
 * default of platform.ts (Node, Deno and Bun get platform-node.ts through the
 * package's `node` export condition). It imports nothing: every
 * URL, `file:` included, is fetched (Deno and Bun can fetch `file:` URLs, a
 * browser cannot and says so), and workers are Web Workers.
 * @internal
 */

/** Which loader this is (shown in error messages). */
export const PLATFORM = "web";

/** No file system here: `file:` URLs go through `fetch` like any other. */
export const readFileURL: ((url: URL) => Promise<Uint8Array>) | null = null;

/**
 * A module Web Worker running the worker loop of worker.ts (`template`, whose
 * message port is `PORT`: here the worker's global scope), from a Blob URL
 * that `cleanup()` revokes once the worker has started.
 */
export function spawnWorker(template: string): { worker: unknown; cleanup(): void } {
  const url = URL.createObjectURL(new Blob([template.replace("PORT", "self")], { type: "text/javascript" }));
  return { worker: new Worker(url, { type: "module" }), cleanup: () => URL.revokeObjectURL(url) };
}
