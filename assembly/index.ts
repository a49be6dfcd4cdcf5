// The ABI: the one list of exports the TypeScript side may call.
// Its TypeScript twin is src/runtime/abi.ts; keep the two in step.
// Every kernel works on byte offsets into this module's memory and trusts its
// caller: shapes are checked in TypeScript.

export * from "./gemm";
export * from "./activations";
export * from "./cells";
export * from "./loss";
export * from "./optim";
export * from "./util";
export * from "./layout";
export * from "./session";
export * from "./quant";
export * from "./peak";
export { simd_relaxed } from "./fma";
export * from "./attention";
export * from "./small";

/** First byte after the static data; the TypeScript heap starts here. */
export function heap_base(): usize {
  return __heap_base;
}
export * from "./steal";
