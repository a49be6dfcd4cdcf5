/**
 * The few WebAssembly and fetch types the public API names, declared here so
 * that the package's `.d.ts` files type-check without TypeScript's DOM lib
 * (a Node project with `lib: ["es2022"]` and `@types/node` has no
 * `WebAssembly` namespace). Each is the part of the runtime's object that
 * this package uses; the runtime's own `WebAssembly.Module`,
 * `WebAssembly.Memory` and `Response` are assignable to them.
 */

/** Brands {@link WasmModule}, so that a misspelt options object is not taken for a module. @internal */
declare const wasmModuleBrand: unique symbol;

/**
 * A compiled WebAssembly module: a `WebAssembly.Module`, as returned by
 * `WebAssembly.compile` or given by a wasm module import (workerd / Cloudflare
 * Workers). Opaque: {@link init} checks it with `instanceof WebAssembly.Module`
 * at run time. The brand exists only in the types.
 */
export interface WasmModule {
  /** Never present: makes object literals that are not modules a type error. */
  readonly [wasmModuleBrand]?: never;
}

/** A `WebAssembly.Memory`: the part the kernels' callers use. */
export interface WasmMemory {
  /** The memory's bytes (a new buffer after each grow; a SharedArrayBuffer for shared memory). */
  readonly buffer: ArrayBuffer;
  /** Grow by `delta` 64 KiB pages; returns the previous size in pages. */
  grow(delta: number): number;
}

/** A fetch `Response` (DOM, undici, Deno, Bun, workerd): what {@link init} reads from one. */
export interface WasmResponse {
  /** True for HTTP 200-299. */
  readonly ok: boolean;
  /** HTTP status code. */
  readonly status: number;
  /** HTTP status text. */
  readonly statusText: string;
  /** The final URL ("" when unknown), for error messages. */
  readonly url: string;
  /** The body's bytes. */
  arrayBuffer(): Promise<ArrayBuffer>;
}
