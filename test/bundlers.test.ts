// Zero-config bundling, as a user meets it: `npm pack` of this package is
// installed into an empty project; a tiny app (`import { init, LSTM } from
// "unfold-rnn"`) is bundled by esbuild, Vite 7 and webpack 5 with no config
// beyond the entry (esbuild: one documented flag, or the inline entry); each
// bundle is served on 127.0.0.1 and run in headless Chromium, and must print
// the same LSTM output bytes (FNV-1a hash) as Node running the same app.
// Also: a wrong or unreachable wasm URL gets an error that names the URL.
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { init, UnfoldError } from "../src/index.js";
import { deadline, findChromium, ROOT, serve } from "./runtimes/harness.js";

const NM = join(ROOT, "node_modules");
const chromiumBin = findChromium();

/** Run a command; resolves with its output, rejects with stderr on a non-zero exit. */
function sh(cmd: string, args: string[], cwd: string, timeout = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, timeout, maxBuffer: 16 << 20, env: { ...process.env, NO_COLOR: "1" } }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(" ")}: ${err.message}\n${stderr}`));
      else resolve(stdout + stderr);
    });
  });
}

/**
 * The app: an LSTM with a fixed seed on fixed inputs (exact arithmetic only),
 * its output's bytes hashed. `importLine` and `initCall` are the only parts a
 * bundler recipe changes.
 */
function app(importLine: string, initCall: string): string {
  return `${importLine}

/** FNV-1a over the bytes of a Float32Array: equal hashes, equal bits. */
function fnv1a(a) {
  const b = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193) >>> 0;
  return h.toString(16).padStart(8, "0");
}

async function run() {
  await ${initCall};
  const lstm = new LSTM({ inputSize: 4, hiddenSize: 8, seed: 1234 });
  const x = new Float32Array(5 * 2 * 4).map((_, i) => ((i * 37) % 17) / 8 - 1); // [T=5, B=2, I=4]
  const { output } = lstm.forward(x, { batchSize: 2 }); // [5, 2, 8]
  return { hash: fnv1a(output), n: output.length };
}

globalThis.__unfold = run().catch((e) => ({ error: String((e && e.message) || e) }));
`;
}

const APPS: Record<string, string> = {
  // No source: init() finds the file itself. simd: "plain" because Chromium would
  // pick the relaxed-SIMD build (FMA), whose bytes differ from Node 20's plain
  // build by rounding (that build is checked in test/relaxed.test.ts).
  "app.js": app('import { init, LSTM } from "unfold-rnn";', 'init({ simd: "plain" })'),
  "app-inline.js": app('import { init, LSTM } from "unfold-rnn/inline";', "init()"),
  // esbuild does not rewrite new URL(…, import.meta.url): import the file's URL with --loader:.wasm=file.
  "app-esbuild.js": app('import { init, LSTM } from "unfold-rnn";\nimport wasmUrl from "unfold-rnn/unfold.wasm";', "init(new URL(wasmUrl, import.meta.url))"),
};
const HTML = (script: string) => `<!doctype html><meta charset="utf-8"><title>app</title><script type="module" src="${script}"></script>\n`;

/** Bundles by name: the output directory, with an index.html. */
const outputs: Record<string, { dir: string }> = {};
let tmp = "";
let proj = "";
let nodeResult: { hash: string; n: number };
let nodeInline: unknown;
const buildLogs: Record<string, string> = {};

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "unfold-bundlers-"));
  proj = join(tmp, "proj");
  mkdirSync(proj);
  // The build is fresh (pretest), so skip prepack's rebuild.
  const packed = JSON.parse(await sh("npm", ["pack", "--ignore-scripts", "--pack-destination", tmp, "--json"], ROOT)) as { filename: string }[];
  writeFileSync(join(proj, "package.json"), JSON.stringify({ name: "app", version: "1.0.0", private: true, type: "module" }));
  await sh("npm", ["install", join(tmp, packed[0].filename), "--prefer-offline", "--no-audit", "--no-fund"], proj);
  for (const [f, src] of Object.entries(APPS)) writeFileSync(join(proj, f), src);
  writeFileSync(join(proj, "index.html"), HTML("./app.js"));

  // Node runs the same app from the installed package (the `node` condition: the file is read from disk).
  const inNode = async (file: string) =>
    JSON.parse((await sh(process.execPath, ["--input-type=module", "-e", `await import("./${file}"); console.log(JSON.stringify(await globalThis.__unfold))`], proj)).trim().split("\n").pop()!);
  [nodeResult, nodeInline] = await Promise.all([inNode("app.js"), inNode("app-inline.js")]);

  // The bundlers, each in its own process, all at once; the tools come from this checkout's node_modules.
  const esbuild = join(NM, ".bin", "esbuild");
  const out = (name: string) => join(tmp, `out-${name}`);
  const viteScript = `import { build } from ${JSON.stringify(join(NM, "vite", "dist", "node", "index.js"))};
await build({ root: ${JSON.stringify(proj)}, configFile: false, logLevel: "warn" }); // vite build: writes dist/`;
  const webpackScript = `import webpack from ${JSON.stringify(join(NM, "webpack", "lib", "index.js"))};
// The entry is the only setting; context and output path only place it in the temp dirs. mode: webpack's default.
webpack({ context: ${JSON.stringify(proj)}, entry: "./app.js", mode: "production", output: { path: ${JSON.stringify(out("webpack"))} } }, (err, stats) => {
  if (err || stats.hasErrors() || stats.hasWarnings()) { console.error(err ?? stats.toString({ all: false, errors: true, warnings: true })); process.exit(1); }
});`;
  writeFileSync(join(tmp, "vite-build.mjs"), viteScript);
  writeFileSync(join(tmp, "webpack-build.mjs"), webpackScript);
  const esb = (name: string, entry: string, flags: string[] = []) =>
    sh(esbuild, [entry, "--bundle", "--format=esm", "--platform=browser", `--outdir=${out(name)}`, "--log-level=warning", ...flags], proj);
  const logs = await Promise.all([
    sh(process.execPath, [join(tmp, "vite-build.mjs")], proj),
    sh(process.execPath, [join(tmp, "webpack-build.mjs")], proj),
    esb("esbuild", "app-esbuild.js", ["--loader:.wasm=file"]),
    esb("esbuild-inline", "app-inline.js"),
    esb("esbuild-plain", "app.js"),
  ]);
  ["vite", "webpack", "esbuild", "esbuild-inline", "esbuild-plain"].forEach((n, i) => (buildLogs[n] = logs[i]));
  writeFileSync(join(out("webpack"), "index.html"), HTML("./main.js"));
  writeFileSync(join(out("esbuild"), "index.html"), HTML("./app-esbuild.js"));
  writeFileSync(join(out("esbuild-inline"), "index.html"), HTML("./app-inline.js"));
  writeFileSync(join(out("esbuild-plain"), "index.html"), HTML("./app.js"));
  for (const n of ["vite", "webpack", "esbuild", "esbuild-inline", "esbuild-plain"]) outputs[n] = { dir: n === "vite" ? join(proj, "dist") : out(n) };
}, 180_000);

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** Every JS file of an output directory, recursively. */
function jsFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((f) => f.endsWith(".js"))
    .map((f) => join(dir, f));
}

describe("the packed package in an empty project", () => {
  it("Node runs the app (the installed package, node condition), with unfold-rnn and with unfold-rnn/inline", () => {
    expect(nodeResult).toEqual({ hash: expect.stringMatching(/^[0-9a-f]{8}$/), n: 80 });
    expect(nodeInline).toEqual(nodeResult);
  });

  it("no bundle imports a Node built-in, and no bundler warns", () => {
    for (const name of Object.keys(outputs)) {
      for (const f of jsFiles(outputs[name].dir)) {
        expect(readFileSync(f, "utf8"), `${name}: ${f}`).not.toMatch(/(\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*)["']node:/);
      }
      expect(buildLogs[name].trim(), `${name} build output`).toBe("");
    }
  });

  it("Vite and webpack emit unfold.wasm as an asset from the new URL(…, import.meta.url) literal", () => {
    const wasmIn = (dir: string) => readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".wasm"));
    const size = readFileSync(join(ROOT, "build", "unfold.wasm")).length;
    for (const name of ["vite", "webpack", "esbuild"]) {
      const sizes = wasmIn(outputs[name].dir).map((f) => readFileSync(join(outputs[name].dir, f)).length);
      expect(sizes, name).toContain(size);
    }
    expect(wasmIn(outputs["esbuild-inline"].dir), "the inline entry needs no asset").toEqual([]);
  });
});

describe.skipIf(!chromiumBin)(`headless Chromium${chromiumBin ? "" : " [skipped: no chromium binary (apt-get install chromium, or set CHROMIUM_PATH)]"}`, () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: chromiumBin!.path,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
      timeout: 30_000,
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close().catch(() => {});
  });

  /** Serve an output directory on 127.0.0.1:0, open its index.html, return what the app left in __unfold. */
  async function runInChromium(name: string): Promise<{ result: { hash?: string; n?: number; error?: string }; requests: string[]; url: string }> {
    const dir = outputs[name].dir;
    const server = await serve({ "/": join(dir, "index.html") }, { "/": dir });
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    try {
      await page.goto(server.url + "/", { timeout: 15_000 });
      const result = await deadline(page.evaluate(() => (globalThis as unknown as { __unfold: Promise<unknown> }).__unfold), 20_000, name);
      expect(errors, `${name}: page errors`).toEqual([]);
      return { result: result as { hash?: string; n?: number; error?: string }, requests: [...server.requests], url: server.url };
    } finally {
      await page.close();
      await server.close();
    }
  }

  const cases: [string, string][] = [
    ["vite", "Vite 7 (vite build, no config): init() with no argument"],
    ["webpack", "webpack 5 (entry only): init() with no argument"],
    ["esbuild", "esbuild --bundle --loader:.wasm=file: init(new URL(wasmUrl, import.meta.url))"],
    ["esbuild-inline", "esbuild --bundle, no flags, unfold-rnn/inline: init() with no argument"],
  ];
  for (const [name, how] of cases) {
    it(`${how} prints Node's LSTM output bytes`, async () => {
      const { result, requests } = await runInChromium(name);
      expect(result).toEqual(nodeResult);
      if (name !== "esbuild-inline") expect(requests.some((r) => r.endsWith(".wasm")), `${name} fetched a .wasm asset`).toBe(true);
    });
  }

  it("esbuild without the flag: init() fails with an error naming the URL it tried", async () => {
    const { result, url } = await runInChromium("esbuild-plain");
    expect(result.error).toContain(`could not fetch the WebAssembly module from the default URL of unfold.wasm, ${url}/build/unfold.wasm: HTTP 404`);
  });
});

describe("a wrong or unreachable wasm URL names the URL", () => {
  let server: Server;
  let base = "";
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === "/page.wasm") res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>SPA fallback</title>");
      else res.writeHead(404).end("not found");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  async function failure(source: Parameters<typeof init>[0]): Promise<UnfoldError> {
    const err = await init(source).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(UnfoldError);
    return err as UnfoldError;
  }

  it("HTTP 404", async () => {
    const e = await failure(`${base}/missing.wasm`);
    expect(e.code).toBe("E_IO");
    expect(e.message).toContain(`could not fetch the WebAssembly module from ${base}/missing.wasm: HTTP 404`);
  });

  it("nothing listening", async () => {
    const e = await failure(new URL("http://127.0.0.1:9/unfold.wasm"));
    expect(e.code).toBe("E_IO");
    expect(e.message).toMatch(/could not fetch the WebAssembly module from http:\/\/127\.0\.0\.1:9\/unfold\.wasm \(/);
  });

  it("a page served in its place (a dev server's fallback)", async () => {
    const e = await failure(fetch(`${base}/page.wasm`));
    expect(e.code).toBe("E_FORMAT");
    expect(e.message).toContain(`${base}/page.wasm is not a valid WebAssembly module`);
    expect(e.message).toContain('it starts with "<!doctype html><"');
  });

  it("Node importing the web side (dist/index.js by path) is told to import the package by name", async () => {
    const out = await sh(process.execPath, ["--input-type=module", "-e", `import(${JSON.stringify(join(ROOT, "dist", "index.js"))}).then((m) => m.init()).catch((e) => console.log(e.code, e.message))`], ROOT);
    // unfold-relaxed.wasm where relaxed SIMD validates (Node >= 22), else unfold.wasm.
    expect(out).toMatch(/^E_IO .*default URL of (unfold|unfold-relaxed)\.wasm, .*build\/\1\.wasm .*import the package by its name, "unfold-rnn"/);
  });

  it("a missing file", async () => {
    const e = await failure("file:///nonexistent/dir/unfold.wasm");
    expect(e.code).toBe("E_IO");
    expect(e.message).toContain("cannot read the WebAssembly module at /nonexistent/dir/unfold.wasm (ENOENT)");
  });
});
