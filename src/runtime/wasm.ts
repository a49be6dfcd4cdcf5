/**
 * Loading `unfold.wasm` in every runtime: Node reads the file that ships
 * beside the JavaScript; a browser fetches it by URL (a bundler emits the
 * file as an asset, see BUILD_URLS); an edge runtime that forbids compiling from
 * bytes passes a precompiled `WebAssembly.Module`. The only Node-specific
 * part (reading a file) is in platform-node.ts, installed only through the
 * package's `node` export condition (platform.ts).
 */
import { show, UnfoldError } from "../errors.js";
import { KERNEL_NAMES, type Kernels } from "./abi.js";
import { Heap } from "./heap.js";
import { bindThreads, gemmNN, gemmNT, gemmTN, lstmStepFwd, NoWorkersError, ThreadPool, threadsUnavailable } from "./threads.js";
import { CTL } from "./worker.js";
// Reading files (Node, Deno, Bun) or not (browsers, workers): see platform.ts.
import { platform } from "./platform.js";
import type { WasmModule, WasmResponse } from "./wasm-types.js";

export type { WasmMemory, WasmModule, WasmResponse } from "./wasm-types.js";

/** Anything {@link init} can load the kernels from. */
export type WasmSource =
  | WasmModule
  | ArrayBuffer
  | ArrayBufferView
  | URL
  | string
  | WasmResponse
  | PromiseLike<WasmResponse>;

/** Options of {@link init}. */
export interface InitOptions {
  /**
   * Threads for the big kernels (the GEMMs and the recurrent steps). Default
   * 1: today's single module, no workers, runs everywhere. n > 1 loads the
   * shared-memory build `unfold-mt.wasm` and starts n-1 workers (Node's
   * worker_threads, or Web Workers on a cross-origin isolated page); results
   * are bit-identical to 1 thread. Where workers or SharedArrayBuffer are
   * missing (edge runtimes, a page without COOP/COEP) it warns and runs on 1
   * thread.
   */
  threads?: number;
  /**
   * Which SIMD build to load when init() picks the file itself. "relaxed":
   * the relaxed-SIMD build (`unfold-relaxed.wasm`, fused multiply-add in the
   * GEMMs and the gate polynomials; results differ from "plain" by rounding,
   * and may differ between CPUs). "plain": the bit-reproducible build
   * (`unfold.wasm`), bit-identical in every runtime and to the scalar
   * references. Default: "relaxed" where the runtime validates relaxed SIMD
   * (Node >= 22, Chrome/Edge >= 114, Deno), else "plain" (Node 20 without
   * `--experimental-wasm-relaxed-simd`, Safari, Firefox). Ignored when a
   * module or bytes are passed to init().
   */
  simd?: SimdBuild;
}

/** The two SIMD builds: "plain" (SIMD128, bit-reproducible) and "relaxed" (adds relaxed SIMD: FMA). */
export type SimdBuild = "relaxed" | "plain";

interface Runtime {
  kernels: Kernels;
  heap: Heap;
  pool: ThreadPool | null;
  /** init({ threads }) asked for workers but this runtime has none. */
  fellBack: boolean;
  /** The SIMD build the loaded module was compiled as. */
  simd: SimdBuild;
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
 * A minimal module that uses one relaxed-SIMD instruction
 * (`f32x4.relaxed_madd` on three `i32x4.splat`s); a runtime without relaxed
 * SIMD fails to validate it.
 */
const RELAXED_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 19, 1, 17, 0, 65, 0, 253, 17, 65, 0, 253, 17, 65, 0, 253,
  17, 253, 133, 2, 11,
]);

/** True when this runtime can run the relaxed-SIMD build (`WebAssembly.validate` accepts a relaxed-SIMD probe). */
export function hasRelaxedSimd(): boolean {
  if (!hasWasmSimd()) return false;
  try {
    return WebAssembly.validate(RELAXED_PROBE);
  } catch {
    return false;
  }
}

/** The SIMD build {@link init} loaded ("relaxed" or "plain"); throws before init. */
export function simdBuild(): SimdBuild {
  if (!runtime) throw new UnfoldError("E_STATE", "the WebAssembly kernels are not loaded. Call `await init()` once before asking which SIMD build runs.");
  return runtime.simd;
}

/**
 * Load and instantiate the kernels. Call once before using any layer or model;
 * later calls return at once (concurrent calls share one load).
 *
 * @param source Where the module comes from. Omitted: in Node, the
 *   `build/unfold.wasm` file of this package (`unfold-relaxed.wasm` where
 *   relaxed SIMD validates, see {@link InitOptions.simd}); elsewhere, fetched
 *   from the URL of that file relative to this module. A `WebAssembly.Module` (edge
 *   runtimes that forbid compiling bytes), the bytes, a URL/path string or a
 *   `fetch` Response are accepted too. With `threads` > 1 it must be the
 *   shared-memory build `unfold-mt.wasm` (the default file then).
 * @param options `{ threads, simd }`, see {@link InitOptions}; may also be
 *   passed alone: `init({ threads: 2 })`, `init({ simd: "plain" })`.
 * @throws Error naming what is missing when the runtime has no WebAssembly
 *   SIMD, the file cannot be read, or the bytes are not this module; when
 *   init() already ran with another thread count or SIMD build (call
 *   {@link dispose} first); UnfoldError E_OPTION for a bad `simd`, E_RUNTIME
 *   for `simd: "relaxed"` where relaxed SIMD is missing.
 */
export function init(source?: WasmSource | InitOptions, options: InitOptions = {}): Promise<void> {
  if (isInitOptions(source)) {
    options = source;
    source = undefined;
  }
  if (!isWasmSource(source) || !isInitOptions(options)) {
    const [name, got] = isWasmSource(source) ? ["options", options] : ["source", source];
    return Promise.reject(new UnfoldError("E_OPTION", `init(): ${name} must be ${name === "source" ? "a WebAssembly.Module, bytes, a URL or path, or a fetch Response" : "an object { threads }"}, got ${show(got)}`, { name, received: got }));
  }
  const threads = options.threads ?? 1;
  const simd = options.simd;
  if (simd !== undefined && simd !== "relaxed" && simd !== "plain") {
    return Promise.reject(new UnfoldError("E_OPTION", `init({ simd }) must be "relaxed" or "plain", got ${JSON.stringify(simd)}`, { name: "options.simd", expected: '"relaxed" or "plain"', received: simd }));
  }
  if (!Number.isInteger(threads) || threads < 1 || threads > 64) {
    return Promise.reject(new UnfoldError("E_OPTION", `init({ threads }) must be an integer from 1 to 64, got ${threads}`, { name: "threads", expected: "an integer in [1, 64]", received: threads }));
  }
  if (runtime) {
    const have = runtime.pool ? runtime.pool.threads : 1;
    if (options.threads !== undefined && threads !== have && !(have === 1 && runtime.fellBack)) {
      return Promise.reject(new UnfoldError("E_STATE", `unfold-rnn: init() already ran with ${have} thread${have > 1 ? "s" : ""}; call dispose() before init({ threads: ${threads} })`));
    }
    if (simd !== undefined && simd !== runtime.simd) {
      return Promise.reject(new UnfoldError("E_STATE", `init() already loaded the ${runtime.simd} SIMD build; call dispose() before init({ simd: "${simd}" })`, { name: "options.simd", expected: `"${runtime.simd}"`, received: simd }));
    }
    return Promise.resolve();
  }
  if (!loading) {
    loading = load(source as WasmSource | undefined, threads, simd).then(
      (r) => {
        runtime = r;
        bindThreads(r.kernels, r.pool);
      },
      (err) => {
        loading = null; // a failed init may be retried, e.g. with another source
        throw err;
      },
    );
  }
  return loading;
}

/**
 * Stop the worker threads and forget the loaded module, so that {@link init}
 * can run again (e.g. with another thread count). Layers and models made
 * before are unusable afterwards. Not needed for a Node process to exit:
 * workers never keep it alive.
 */
export function dispose(): void {
  runtime?.pool?.terminate();
  runtime = null;
  loading = null;
  bindThreads(null, null);
}

/** Something {@link init} can load from (or nothing: the default file). */
function isWasmSource(x: unknown): boolean {
  return x === undefined || (typeof WebAssembly === "object" && x instanceof WebAssembly.Module) || x instanceof ArrayBuffer || ArrayBuffer.isView(x) || typeof x === "string" || x instanceof URL ||
    (typeof x === "object" && x !== null && (typeof (x as { then?: unknown }).then === "function" || typeof (x as { arrayBuffer?: unknown }).arrayBuffer === "function"));
}

/** True for a plain `{ threads }` object (not a Module, bytes, URL, string or Response). @internal */
export function isInitOptions(x: unknown): x is InitOptions {
  return typeof x === "object" && x !== null && Object.getPrototypeOf(x) === Object.prototype && typeof (x as { then?: unknown }).then !== "function";
}

/** True once {@link init} has finished. */
export function isInitialized(): boolean {
  return runtime !== null;
}

/** The loaded kernels; throws a clear error before {@link init}. */
export function kernels(): Kernels {
  if (!runtime) throw new UnfoldError("E_STATE", "unfold-rnn: the WebAssembly kernels are not loaded. Call `await init()` once before using layers or models.");
  return runtime.kernels;
}

/** The heap allocator over the module's memory; throws before {@link init}. */
export function heap(): Heap {
  if (!runtime) throw new UnfoldError("E_STATE", "unfold-rnn: the WebAssembly kernels are not loaded. Call `await init()` once before using layers or models.");
  return runtime.heap;
}

async function load(source: WasmSource | undefined, threads: number, simd: SimdBuild | undefined): Promise<Runtime> {
  if (!hasWasmSimd()) {
    throw new UnfoldError("E_RUNTIME", 
      "unfold-rnn: this JavaScript runtime does not support WebAssembly SIMD (the fixed-width 128-bit 'simd128' feature). " +
        "Use Node >= 16.4, Deno, Bun, Chrome/Edge >= 91, Firefox >= 89 or Safari >= 16.4.",
    );
  }
  let fellBack = false;
  if (threads > 1) {
    const why = threadsUnavailable();
    if (why) {
      console.warn(`unfold-rnn: init({ threads: ${threads} }) runs on 1 thread: ${why}.`);
      threads = 1;
      fellBack = true;
    }
  }
  if (simd === "relaxed" && !hasRelaxedSimd()) {
    throw new UnfoldError(
      "E_RUNTIME",
      'init({ simd: "relaxed" }): this JavaScript runtime does not support WebAssembly relaxed SIMD. ' +
        'Use init({ simd: "plain" }) (or no simd option), Node >= 22 (Node 20: --experimental-wasm-relaxed-simd), or Chrome/Edge >= 114.',
      { name: "options.simd", expected: "a runtime with relaxed SIMD", received: simd },
    );
  }
  const build: SimdBuild = simd ?? (hasRelaxedSimd() ? "relaxed" : "plain");
  const module = await toModule(source, BUILDS[build][threads > 1 ? "mt" : "st"]);
  // The shared-memory build imports its memory; the default build owns it.
  const importsMemory = WebAssembly.Module.imports(module).some((i) => i.kind === "memory");
  if (threads > 1 && !importsMemory) {
    throw new UnfoldError("E_RUNTIME", 
      `unfold-rnn: init({ threads: ${threads} }) needs the shared-memory build ${MT_FILE} (npm run asbuild:mt); the module given to init() is the single-threaded one.`,
    );
  }
  let memory: WebAssembly.Memory | undefined;
  if (importsMemory) {
    try {
      memory = sharedMemory();
    } catch (err) {
      throw new UnfoldError("E_RUNTIME", `unfold-rnn: ${MT_FILE} needs shared WebAssembly memory, which this runtime refused (${(err as Error).message}). Use ${ST_FILE} here.`);
    }
  }
  let instance: WebAssembly.Instance;
  try {
    instance = await WebAssembly.instantiate(module, { env: { abort: onAbort, ...(memory ? { memory } : {}) } });
  } catch (err) {
    throw new UnfoldError("E_RUNTIME", `unfold-rnn: could not instantiate the WebAssembly module: ${(err as Error).message}`);
  }
  const exp = (memory ? { ...instance.exports, memory } : instance.exports) as Record<string, unknown>;
  const missing = KERNEL_NAMES.filter((n) => typeof exp[n] !== "function");
  if (!(exp.memory instanceof WebAssembly.Memory) || missing.length > 0) {
    throw new UnfoldError("E_RUNTIME", 
      `unfold-rnn: the WebAssembly module is not this version's unfold.wasm (missing exports: ${
        missing.join(", ") || "memory"
      }). Rebuild with \`npm run build\` or pass the matching file to init().`,
    );
  }
  const k = exp as unknown as Kernels;
  const heap = new Heap(k, memory ? MT_MAX_PAGES * PAGE : undefined);
  let pool: ThreadPool | null = null;
  if (threads > 1) {
    // The control blocks: one 64-byte-aligned block per worker, never freed.
    // The workers' control blocks, then the work-stealing queue (threads.ts, unitSteal): one 64-byte line per thread and a header.
    const ctl = (heap.alloc((threads - 1) * CTL.BYTES + 64 * (threads + 1) + 64) + 63) & ~63;
    try {
      pool = await ThreadPool.start(k, module, memory!, ctl, threads - 1);
    } catch (err) {
      if (!(err instanceof NoWorkersError)) throw err;
      // E.g. an edge runtime with Node compatibility but no worker_threads: the module runs fine on one thread.
      console.warn(`unfold-rnn: init({ threads: ${threads} }) runs on 1 thread: ${err.message}.`);
      fellBack = true;
    }
  }
  const r: Runtime = { kernels: k, heap, pool, fellBack, simd: typeof k.simd_relaxed === "function" && k.simd_relaxed() === 1 ? "relaxed" : "plain" };
  bindThreads(k, pool);
  try {
    warmUp(r);
  } catch (err) {
    pool?.terminate();
    throw err;
  } finally {
    bindThreads(null, null);
  }
  return r;
}

const ST_FILE = "unfold.wasm";
const MT_FILE = "unfold-mt.wasm";
/** The four builds: {plain, relaxed} SIMD x {st: one thread, mt: shared memory for threads}. */
const BUILDS = {
  plain: { st: ST_FILE, mt: MT_FILE },
  relaxed: { st: "unfold-relaxed.wasm", mt: "unfold-relaxed-mt.wasm" },
} as const;
const PAGE = 65536;
/** Pages of the shared memory: its initial size (as asconfig.json's initialMemory) and maximum (4 GiB, as the default build). */
const MT_INITIAL_PAGES = 16;
const MT_MAX_PAGES = 65536;

/** The shared memory of the threads build; its maximum is reserved up front. */
function sharedMemory(): WebAssembly.Memory {
  return new WebAssembly.Memory({ initial: MT_INITIAL_PAGES, maximum: MT_MAX_PAGES, shared: true });
}

function onAbort(_msg: number, _file: number, line: number, col: number): never {
  throw new UnfoldError("E_RUNTIME", `unfold-rnn: kernel assertion failed at ${line}:${col} (debug build)`);
}

/**
 * Where init() finds each build when it is given no source: one static
 * `new URL("<literal>", import.meta.url)` per file, the pattern Vite and
 * webpack 5 recognise, emit as an asset and rewrite; unbundled, the file in
 * this package's build/ folder. Functions, so that nothing is resolved before
 * init() needs it (a bundled edge worker may have no usable import.meta.url).
 * Adding a build is one line here.
 */
const BUILD_URLS: Record<string, () => URL> = {
  [ST_FILE]: () => new URL("../../build/unfold.wasm", import.meta.url),
  [MT_FILE]: () => new URL("../../build/unfold-mt.wasm", import.meta.url),
  [BUILDS.relaxed.st]: () => new URL("../../build/unfold-relaxed.wasm", import.meta.url),
  [BUILDS.relaxed.mt]: () => new URL("../../build/unfold-relaxed-mt.wasm", import.meta.url),
};

async function toModule(source: WasmSource | undefined, file: string): Promise<WebAssembly.Module> {
  if (source instanceof WebAssembly.Module) return source;
  let bytes: BufferSource;
  let from: string; // where the bytes came from, for error messages
  if (source === undefined) {
    const url = BUILD_URLS[file]();
    from = `the default URL of ${file}, ${shownURL(url)}`;
    bytes = await readBytes(url, from, true);
  } else if (source instanceof ArrayBuffer || ArrayBuffer.isView(source)) {
    bytes = source as BufferSource;
    from = "the bytes given to init()";
  } else if (typeof source === "string" || source instanceof URL) {
    const url = typeof source === "string" ? toURL(source) : source;
    from = shownURL(url);
    bytes = await readBytes(url, from, false);
  } else {
    const res = (await source) as WasmResponse; // a WasmModule was returned above (its brand is only a type)
    from = res.url ? shownURL(new URL(res.url)) : "the Response given to init()";
    if (!res.ok) {
      throw new UnfoldError("E_IO", `could not fetch the WebAssembly module from ${from}: HTTP ${res.status} ${res.statusText}. Check the URL, or pass the module's bytes to init().`, {
        name: "source",
        received: res.url || undefined,
      });
    }
    bytes = await res.arrayBuffer();
  }
  try {
    return await WebAssembly.compile(bytes);
  } catch (err) {
    if (/disallowed|not allowed|CompileError: .*code generation/i.test(String((err as Error).message))) {
      throw new UnfoldError(
        "E_RUNTIME",
        `this runtime forbids compiling WebAssembly from bytes (${(err as Error).message}). ` +
          "Import unfold.wasm as a WebAssembly.Module (e.g. a wasm module binding in workerd / Cloudflare Workers) and pass it to init().",
        { cause: err },
      );
    }
    const head = new Uint8Array(ArrayBuffer.isView(bytes) ? bytes.buffer : bytes, ArrayBuffer.isView(bytes) ? bytes.byteOffset : 0, Math.min(bytes.byteLength, 16));
    const looksLikeText = head.length > 0 && head[0] !== 0 && head.every((b) => b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127));
    throw new UnfoldError(
      "E_FORMAT",
      `${from} is not a valid WebAssembly module (${(err as Error).message})` +
        (looksLikeText ? `; it starts with ${JSON.stringify(String.fromCharCode(...head))}, text such as a page served in its place (a wrong URL?)` : "") +
        ". Pass the contents or the URL of unfold-rnn/unfold.wasm.",
      { name: "source", cause: err },
    );
  }
}

/** A URL as error messages show it: a file path for `file:` URLs, else the whole URL. */
function shownURL(url: URL): string {
  return url.protocol === "file:" ? decodeURIComponent(url.pathname) : url.href;
}

/**
 * The bytes at `url`: `file:` URLs from disk where the platform has a file
 * system (Node, Deno, Bun: platform-node.ts), everything else by `fetch`.
 * Every failure names the URL.
 */
async function readBytes(url: URL, from: string, isDefault: boolean): Promise<BufferSource> {
  const fix = isDefault
    ? "Run `npm run build` in a source checkout, serve the package's build/ folder beside its dist/, or pass the module (bytes, URL or WebAssembly.Module) to init()"
    : "Check the URL, or pass the module's bytes or a WebAssembly.Module to init()";
  const { readFileURL } = platform();
  if (url.protocol === "file:" && readFileURL) {
    try {
      return (await readFileURL(url)) as BufferSource;
    } catch (err) {
      const e = err as { code?: string; message: string };
      throw new UnfoldError("E_IO", `cannot read the WebAssembly module at ${from} (${e.code ?? e.message}). ${fix}.`, {
        name: "source",
        received: url.href,
        cause: err,
      });
    }
  }
  let res: Response;
  try {
    res = await fetch(url);
  } catch (err) {
    const why =
      url.protocol === "file:" && typeof process === "object" && !!process.versions?.node
        ? "Node cannot fetch file: URLs, and this is the web side of unfold-rnn (dist/index.js), which reads no files: import the package by its name, \"unfold-rnn\" (its node export condition reads the file), or pass the module's bytes to init()"
        : fix;
    throw new UnfoldError("E_IO", `could not fetch the WebAssembly module from ${from} (${(err as Error).message}). ${why}.`, {
      name: "source",
      received: url.href,
      cause: err,
    });
  }
  if (!res.ok) {
    throw new UnfoldError("E_IO", `could not fetch the WebAssembly module from ${from}: HTTP ${res.status} ${res.statusText}. ${fix}.`, {
      name: "source",
      received: url.href,
    });
  }
  return res.arrayBuffer();
}

/** A URL or path string as a URL: a plain path is relative to the working directory in Node, to the page elsewhere. */
function toURL(s: string): URL {
  try {
    return new URL(s);
  } catch {
    const isNode = typeof process === "object" && !!process.versions?.node;
    const base = isNode ? `file://${process.cwd()}/` : globalThis.location?.href;
    try {
      return new URL(s, base);
    } catch {
      throw new UnfoldError("E_OPTION", `init(${JSON.stringify(s)}): not a URL, and there is no page or working directory to resolve it against. Pass an absolute URL, the bytes, or a WebAssembly.Module.`, {
        name: "source",
        received: s,
      });
    }
  }
}

/** Run the hot kernels a few times so that V8 tiers them up before user code times them (and the workers' loops, when there are workers). */
function warmUp(r: Runtime): void {
  const k = r.kernels;
  const n = 32 * 64; // A, C: [32, 64]; B: [64, 64]
  const scratch = 64 * 64; // packed B: ceil(64/8)*8 * 64 floats
  const a = r.heap.alloc((n + 64 * 64 + n + scratch) * 4);
  const b = a + n * 4;
  const c = b + 64 * 64 * 4;
  const s = c + n * 4;
  new Float32Array(k.memory.buffer, a, n + 64 * 64 + n).fill(0.5);
  for (let i = 0; i < 20; i++) {
    k.gemm_nt(32, 64, 64, a, 64, b, 64, c, 64, 0, s);
    k.gemm_nn(32, 64, 64, a, 64, b, 64, c, 64, 1, s);
    k.gemm_tn(32, 64, 32, a, 32, b, 64, c, 64, 1, s); // A^T: a as [32, 32]; B [32, 64]
    k.lstm_step_fwd(a, b, b, c, c, c, c, 4, 64, 0); // G: a as [4, 256]
    k.sigmoid_f32x4(c, a, n);
    k.tanh_f32x4(c, a, n);
  }
  r.heap.free(a);
  if (r.pool) {
    // The split paths, big enough to be split: A [64,64], B [256,64], C [64,256], scratch [256*64].
    const m = 16384;
    const p = r.heap.alloc(4 * m * 4);
    const q = p + m * 4, o = q + m * 4, w = o + m * 4;
    new Float32Array(k.memory.buffer, p, 4 * m).fill(0.25);
    for (let i = 0; i < 20; i++) {
      gemmNT(64, 256, 64, p, 64, q, 64, o, 256, 0, w);
      gemmNN(64, 256, 64, p, 64, q, 256, o, 256, 1, w);
      gemmTN(64, 256, 64, p, 64, q, 256, o, 256, 1, w);
      lstmStepFwd(16, 64, p, w, o, q, q, p + 4096, p + 8192, p + 12288, p + 16384);
    }
    r.heap.free(p);
  }
}
