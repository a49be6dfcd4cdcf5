// workerd / Cloudflare Workers entry: workerd forbids compiling WebAssembly
// from bytes, so unfold.wasm comes in as a wasm module import (a compiled
// WebAssembly.Module, see workerd.capnp) and is handed to the service.
import wasm from "./unfold.wasm";
import service from "./service.js";

export default {
  fetch: (request, env) => service.fetch(request, { ...env, UNFOLD_WASM: wasm }),
};
