/**
 * "unfold-rnn/inline" under the `node` export condition: inline.ts with the
 * Node side of loading installed (worker_threads for `init({ threads })`).
 * @packageDocumentation
 */
import "./runtime/use-node.js";

export * from "./inline.js";
