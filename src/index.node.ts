/**
 * "unfold-rnn" under the `node` export condition (Node, Deno, Bun): the same
 * API as index.ts, with the Node side of loading installed, so that `init()`
 * reads `unfold.wasm` from disk and threads use worker_threads.
 * @packageDocumentation
 */
import "./runtime/use-node.js";

export * from "./index.js";
