// Cloudflare workerd: the worker imports unfold.wasm through a `wasm` module
// binding (a precompiled WebAssembly.Module: workerd forbids compiling from
// bytes at run time) and passes it to init().
import * as lib from "../../src/index.js";
import wasmModule from "virtual:unfold-wasm-module";
import wasmBytes from "virtual:unfold-wasm-data";
import { compute, initError, train } from "./compute.js";

export default {
  async fetch(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname;
    try {
      if (path === "/bytes") return Response.json({ error: await initError(lib, wasmBytes) });
      if (path === "/train") return Response.json(await train(lib, wasmModule, navigator.userAgent));
      if (path === "/run") return Response.json(await compute(lib, wasmModule, navigator.userAgent));
      return new Response("not found", { status: 404 });
    } catch (err) {
      return Response.json({ thrown: String((err as Error)?.stack ?? err) }, { status: 500 });
    }
  },
};
