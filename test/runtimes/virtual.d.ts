// Imports that the esbuild plugin in test/runtimes/harness.ts provides to the
// runtime entry scripts (see there).

/** build/unfold.wasm inlined by esbuild's binary loader. */
declare module "virtual:unfold-wasm-bytes" {
  const bytes: Uint8Array;
  export default bytes;
}

/** workerd: the `wasm` module binding, a precompiled WebAssembly.Module. */
declare module "virtual:unfold-wasm-module" {
  const module: WebAssembly.Module;
  export default module;
}

/** workerd: the `data` module binding of the same file, an ArrayBuffer. */
declare module "virtual:unfold-wasm-data" {
  const bytes: ArrayBuffer;
  export default bytes;
}
