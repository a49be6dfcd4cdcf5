/**
 * unfold-rnn: recurrent neural networks for JavaScript runtimes.
 * @packageDocumentation
 */
export { init, isInitialized, hasWasmSimd, type WasmSource } from "./runtime/wasm.js";
export { Arena, Tensor } from "./runtime/arena.js";
export { Rng } from "./util/rng.js";
