/**
 * Loading `unfold.wasm` in every runtime: Node reads the file that ships
 * beside the JavaScript; a browser fetches it by URL; an edge runtime that
 * forbids compiling from bytes passes a precompiled `WebAssembly.Module`.
 */
import { KERNEL_NAMES, type Kernels } from "./abi.js";
import { Heap } from "./heap.js";

/** Anything {@link init} can load the kernels from. */
export type WasmSource =
  | WebAssembly.Module
  | ArrayBuffer
  | ArrayBufferView
  | URL
  | string
  | Response
  | PromiseLike<Response>;

interface Runtime {
  kernels: Kernels;
  heap: Heap;
}

let runtime: Runtime | null = null;
let loading: Promise<void> | null = null;

/**
 * A minimal module that uses one SIMD instruction (`i8x16.popcnt` on an
 * `i8x16.splat`); a runtime without fixed-width SIMD fails to validate it.
 */
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);

/** True when this JavaScript runtime can run WebAssembly with 128-bit SIMD. */
export function hasWasmSimd(): boolean {
  if (typeof WebAssembly !== "object" || typeof WebAssembly.validate !== "function") return false;
  try {
    return WebAssembly.validate(SIMD_PROBE);
  } catch {
    return false;
  }
}

/**
 * Load and instantiate the kernels. Call once before using any layer or model;
 * later calls return at once (concurrent calls share one load).
 *
 * @param source Where the module comes from. Omitted: in Node, the
 *   `build/unfold.wasm` file of this package; elsewhere, fetched from the URL
 *   of that file relative to this module. A `WebAssembly.Module` (edge
 *   runtimes that forbid compiling bytes), the bytes, a URL/path string or a
 *   `fetch` Response are accepted too.
 * @throws Error naming what is missing when the runtime has no WebAssembly
 *   SIMD, the file cannot be read, or the bytes are not this module.
 */
export function init(source?: WasmSource): Promise<void> {
  if (runtime) return Promise.resolve();
  if (!loading) {
    loading = load(source).then(
      (r) => {
        runtime = r;
      },
      (err) => {
        loading = null; // a failed init may be retried, e.g. with another source
        throw err;
      },
    );
  }
  return loading;
}

/** True once {@link init} has finished. */
export function isInitialized(): boolean {
  return runtime !== null;
}

/** The loaded kernels; throws a clear error before {@link init}. */
export function kernels(): Kernels {
  if (!runtime) throw new Error("unfold-rnn: the WebAssembly kernels are not loaded. Call `await init()` once before using layers or models.");
  return runtime.kernels;
}

/** The heap allocator over the module's memory; throws before {@link init}. */
export function heap(): Heap {
  if (!runtime) throw new Error("unfold-rnn: the WebAssembly kernels are not loaded. Call `await init()` once before using layers or models.");
  return runtime.heap;
}

async function load(source?: WasmSource): Promise<Runtime> {
  if (!hasWasmSimd()) {
    throw new Error(
      "unfold-rnn: this JavaScript runtime does not support WebAssembly SIMD (the fixed-width 128-bit 'simd128' feature). " +
        "Use Node >= 16.4, Deno, Bun, Chrome/Edge >= 91, Firefox >= 89 or Safari >= 16.4.",
    );
  }
  const module = await toModule(source);
  let instance: WebAssembly.Instance;
  try {
    instance = await WebAssembly.instantiate(module, { env: { abort: onAbort } });
  } catch (err) {
    throw new Error(`unfold-rnn: could not instantiate the WebAssembly module: ${(err as Error).message}`);
  }
  const exp = instance.exports as Record<string, unknown>;
  const missing = KERNEL_NAMES.filter((n) => typeof exp[n] !== "function");
  if (!(exp.memory instanceof WebAssembly.Memory) || missing.length > 0) {
    throw new Error(
      `unfold-rnn: the WebAssembly module is not this version's unfold.wasm (missing exports: ${
        missing.join(", ") || "memory"
      }). Rebuild with \`npm run build\` or pass the matching file to init().`,
    );
  }
  const k = exp as unknown as Kernels;
  const r = { kernels: k, heap: new Heap(k) };
  warmUp(r);
  return r;
}

function onAbort(msg: number, file: number, line: number, col: number): never {
  throw new Error(`unfold-rnn: kernel assertion failed at ${line}:${col} (debug build)`);
}

async function toModule(source?: WasmSource): Promise<WebAssembly.Module> {
  if (source instanceof WebAssembly.Module) return source;
  let bytes: BufferSource;
  if (source === undefined) {
    const url = new URL("../../build/unfold.wasm", import.meta.url);
    bytes = await readBytes(url);
  } else if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) {
    bytes = source as BufferSource;
  } else if (typeof source === "string" || source instanceof URL) {
    bytes = await readBytes(source);
  } else {
    const res = await source;
    if (!res.ok) throw new Error(`unfold-rnn: could not fetch the WebAssembly module: HTTP ${res.status} ${res.statusText} (${res.url})`);
    bytes = await res.arrayBuffer();
  }
  try {
    return await WebAssembly.compile(bytes);
  } catch (err) {
    if (/disallowed|not allowed|CompileError: .*code generation/i.test(String((err as Error).message))) {
      throw new Error(
        `unfold-rnn: this runtime forbids compiling WebAssembly from bytes (${(err as Error).message}). ` +
          "Import unfold.wasm as a WebAssembly.Module (e.g. a wasm module binding in workerd / Cloudflare Workers) and pass it to init().",
      );
    }
    throw new Error(
      `unfold-rnn: the bytes given to init() are not a valid WebAssembly module (${(err as Error).message}). ` +
        "Pass the contents of unfold-rnn/unfold.wasm.",
    );
  }
}

async function readBytes(where: string | URL): Promise<BufferSource> {
  const url = typeof where === "string" ? toURL(where) : where;
  const isNode = typeof process === "object" && !!process.versions?.node;
  if (url.protocol === "file:" && isNode) {
    const { readFile } = await import("node:fs/promises");
    try {
      return (await readFile(url)) as unknown as BufferSource;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new Error(
        `unfold-rnn: cannot read the WebAssembly module at ${url.pathname} (${e.code ?? e.message}). ` +
          "Run `npm run build` in a source checkout, or pass the module to init().",
      );
    }
  }
  let res: Response;
  try {
    res = await fetch(url);
  } catch (err) {
    throw new Error(`unfold-rnn: could not fetch the WebAssembly module from ${url} (${(err as Error).message}). Pass it to init() instead.`);
  }
  if (!res.ok) throw new Error(`unfold-rnn: could not fetch the WebAssembly module from ${url}: HTTP ${res.status}`);
  return res.arrayBuffer();
}

function toURL(s: string): URL {
  try {
    return new URL(s);
  } catch {
    // A plain path: relative to the working directory in Node, to the page elsewhere.
    const isNode = typeof process === "object" && !!process.versions?.node;
    if (isNode) return new URL(s, `file://${process.cwd()}/`);
    return new URL(s, globalThis.location?.href);
  }
}

/** Run the hot kernels a few times so that V8 tiers them up before user code times them. */
function warmUp(r: Runtime): void {
  const k = r.kernels;
  const n = 32 * 64;
  const a = r.heap.alloc(4 * n * 4);
  const b = a + n * 4;
  const c = b + n * 4;
  const s = c + n * 4;
  new Float32Array(k.memory.buffer, a, 4 * n).fill(0.5);
  for (let i = 0; i < 20; i++) {
    k.gemm_nt(32, 64, 64, a, 64, b, 64, c, 64, 0, s);
    k.gemm_nn(32, 64, 64, a, 64, b, 64, c, 64, 1, s);
    k.gemm_tn(32, 64, 32, a, 32, b, 64, c, 64, 1, s);
    k.lstm_step_fwd(a, b, b, c, c, c, c, 4, 64);
    k.sigmoid_f32x4(c, a, n);
    k.tanh_f32x4(c, a, n);
  }
  r.heap.free(a);
}
