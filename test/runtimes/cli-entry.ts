// Deno, Bun (and Node, mode auto): `<runtime> bundle.js MODE /path/to/unfold.wasm` prints the
// workload's result as JSON on stdout.
import * as lib from "../../src/index.js";
import { compute, threaded, train } from "./compute.js";

declare const Deno: { args: string[]; readFile(p: string): Promise<Uint8Array>; version: { deno: string; v8: string } } | undefined;
declare const Bun: { version: string; file(p: string): { arrayBuffer(): Promise<ArrayBuffer> } } | undefined;

const args = typeof Deno !== "undefined" ? Deno.args : process.argv.slice(2);
const [mode, wasmPath] = args;
const runtime =
  typeof Deno !== "undefined"
    ? `Deno ${Deno.version.deno} (V8 ${Deno.version.v8})`
    : typeof Bun !== "undefined"
      ? `Bun ${Bun.version} (JavaScriptCore)`
      : typeof process !== "undefined"
        ? `Node ${process.version}`
        : "unknown";

async function readBytes(path: string): Promise<Uint8Array> {
  if (typeof Deno !== "undefined") return Deno.readFile(path);
  if (typeof Bun !== "undefined") return new Uint8Array(await Bun.file(path).arrayBuffer());
  throw new Error("neither Deno nor Bun");
}

async function main(): Promise<unknown> {
  switch (mode) {
    case "bytes": // the runtime's own file API, bytes to init()
      return compute(lib, await readBytes(wasmPath), runtime);
    case "url": // a file: URL; init() reads it
      return compute(lib, new URL(`file://${wasmPath}`), runtime);
    case "default": // init() with no source: the file next to the package's JS (the plain build: relaxed SIMD is checked in test/relaxed.test.ts)
      return compute(lib, { simd: "plain" }, runtime);
    case "auto": // init() with no argument at all: relaxed SIMD where the runtime validates it, else plain
      return compute(lib, undefined, runtime);
    case "threads": // init({ threads: 2 }): worker_threads (the node condition's side)
      return threaded(lib, { threads: 2, simd: "plain" }, runtime);
    case "train": // 50 training steps of a char LSTM: the weights' checksum
      return train(lib, await readBytes(wasmPath), runtime);
    default:
      throw new Error(`unknown mode ${mode}`);
  }
}

console.log(JSON.stringify(await main()));
