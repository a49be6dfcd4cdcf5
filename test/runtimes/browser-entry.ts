// Browser page script. The page's ?mode= picks how init() gets the kernels;
// the result (or error) is left in globalThis.__unfold for the test to read.
import * as lib from "../../src/index.js";
import inlined from "virtual:unfold-wasm-bytes";
import { compute, initError, train } from "./compute.js";

const g = globalThis as unknown as { __unfold: Promise<unknown> };

g.__unfold = (async () => {
  const mode = new URLSearchParams(location.search).get("mode");
  const ua = navigator.userAgent;
  switch (mode) {
    case "url": // a URL: init() fetches it
      return compute(lib, new URL("/unfold.wasm", location.href), ua);
    case "response": // a fetch() Response (or its promise)
      return compute(lib, fetch("/unfold.wasm"), ua);
    case "inline": // bytes inlined into the bundle by esbuild's binary loader
      return compute(lib, inlined, ua);
    case "module": // a WebAssembly.Module compiled by the page
      return compute(lib, await WebAssembly.compileStreaming(fetch("/unfold.wasm")), ua);
    case "default": // init() with no source: the file next to the package's JS (the plain build: relaxed SIMD is checked in test/relaxed.test.ts)
      return compute(lib, { simd: "plain" }, ua);
    case "auto": // init() with no argument at all: relaxed SIMD where the browser validates it (Chromium), else plain
      return compute(lib, undefined, ua);
    case "train": // 50 training steps of a char LSTM: the weights' checksum
      return train(lib, inlined, ua);
    case "error": // init() that must fail (no SIMD): its message
      return { error: await initError(lib, inlined) };
    default:
      throw new Error(`unknown mode ${mode}`);
  }
})();
