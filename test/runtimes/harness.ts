// Machinery of test/runtimes.test.ts: find the runtime binaries, bundle the
// entry scripts with esbuild, run child processes with a deadline, serve files
// on 127.0.0.1, write a workerd config.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { build, type Plugin } from "esbuild";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url)).replace(/[\\/]$/, "");
export const WASM = join(ROOT, "build", "unfold.wasm");
const NM = join(ROOT, "node_modules");

// ---- finding the binaries -----------------------------------------------------------

export interface Binary {
  path: string;
  version: string;
}

/** The first candidate that exists and answers `versionArgs` within 15 s. */
function firstWorking(candidates: string[], versionArgs: string[]): Binary | null {
  for (const path of candidates) {
    if (!existsSync(path)) continue;
    const r = spawnSync(path, versionArgs, { encoding: "utf8", timeout: 15_000, killSignal: "SIGKILL" });
    if (r.status === 0 && r.stdout.trim()) return { path, version: r.stdout.trim().split("\n")[0] };
  }
  return null;
}

/** Platform packages under node_modules/@scope whose name starts with `prefix`. */
function platformDirs(scope: string, prefix: string): string[] {
  const dir = join(NM, scope);
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => n.startsWith(prefix))
    .map((n) => join(dir, n));
}

/**
 * The npm packages deno, bun and workerd ship their binaries in per-platform
 * optional dependencies (@deno/linux-x64-glibc, @oven/bun-linux-x64,
 * @cloudflare/workerd-linux-64). Their postinstall scripts link the binary into
 * the main package; npm may not run those scripts (allowScripts, --ignore-scripts),
 * so look in both places and keep the first one that runs.
 */
export function findDeno(): Binary | null {
  return firstWorking([join(NM, "deno", "deno"), ...platformDirs("@deno", "").map((d) => join(d, "deno"))], ["--version"]);
}

export function findBun(): Binary | null {
  const c = [...platformDirs("@oven", "bun-").map((d) => join(d, "bin", "bun")), join(NM, "bun", "bin", "bun.exe")];
  const b = firstWorking(c, ["--version"]);
  return b && { ...b, version: `bun ${b.version}` };
}

export function findWorkerd(): Binary | null {
  const c = [...platformDirs("@cloudflare", "workerd-").map((d) => join(d, "bin", "workerd")), join(NM, "workerd", "bin", "workerd")];
  return firstWorking(c, ["--version"]);
}

/** Debian's chromium (apt-get install chromium), or CHROMIUM_PATH. Never a downloaded browser. */
export function findChromium(): Binary | null {
  const c = [process.env.CHROMIUM_PATH, "/usr/bin/chromium", "/usr/bin/chromium-browser"].filter((p): p is string => !!p);
  return firstWorking(c, ["--version"]);
}

// ---- bundling -------------------------------------------------------------------------

export interface BundleOptions {
  entry: string;
  outfile: string;
  /**
   * 'src': the library bundled from src/. Otherwise an import specifier that
   * replaces `../../src/index.js` and stays external: the unbundled dist/index.js
   * as a user's runtime loads it (a URL path in a browser, a file: URL elsewhere).
   */
  lib: "src" | string;
}

/** esbuild, format esm, target es2022 (its binary loader needs that on Node 20). */
export async function bundle(o: BundleOptions): Promise<void> {
  const plugin: Plugin = {
    name: "unfold-runtime-tests",
    setup(b) {
      b.onResolve({ filter: /^virtual:unfold-wasm-bytes$/ }, () => ({ path: WASM, namespace: "wasm-bytes" }));
      b.onLoad({ filter: /.*/, namespace: "wasm-bytes" }, async (a) => ({ contents: await readFile(a.path), loader: "binary" }));
      b.onResolve({ filter: /^virtual:unfold-wasm-module$/ }, () => ({ path: "./unfold.wasm", external: true }));
      b.onResolve({ filter: /^virtual:unfold-wasm-data$/ }, () => ({ path: "./unfold.bin", external: true }));
      if (o.lib !== "src") {
        const spec = o.lib;
        b.onResolve({ filter: /\/src\/index\.js$/ }, () => ({ path: spec, external: true }));
      }
    },
  };
  await build({
    entryPoints: [o.entry],
    outfile: o.outfile,
    bundle: true,
    format: "esm",
    target: "es2022",
    platform: "neutral", // no Node built-in may be reachable: esbuild fails on any
    logLevel: "silent",
    plugins: [plugin],
  });
}

// ---- child processes ------------------------------------------------------------------

const children = new Set<ChildProcess>();

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Run a command to completion, SIGKILLed after `timeoutMs`. */
export function run(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs: number }): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ["ignore", "pipe", "pipe"] });
    children.add(child);
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, opts.timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      children.delete(child);
      reject(err);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

/** Start a long-running process (a server); {@link killAll} ends it. */
export function start(cmd: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv; extraFds?: number }): ChildProcess {
  const stdio: ("ignore" | "pipe")[] = ["ignore", "pipe", "pipe"];
  for (let i = 0; i < (opts.extraFds ?? 0); i++) stdio.push("pipe");
  const child = spawn(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio });
  children.add(child);
  child.on("close", () => children.delete(child));
  return child;
}

/** SIGKILL every child still running (afterAll). */
export function killAll(): void {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  children.clear();
}

/** Reject after `ms` with a message naming `what`. */
export function deadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

// ---- a static file server on 127.0.0.1 --------------------------------------------------

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".svg": "image/svg+xml",
  ".wasm": "application/wasm",
  ".map": "application/json",
};

export interface StaticServer {
  url: string;
  /** Paths requested so far. */
  requests: string[];
  close(): Promise<void>;
}

/**
 * Serve `routes` (URL path -> file) and every file under `trees` (URL prefix ->
 * directory), on 127.0.0.1 at a free port.
 */
export async function serve(routes: Record<string, string>, trees: Record<string, string>): Promise<StaticServer> {
  const requests: string[] = [];
  const server: Server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? "/", "http://x").pathname);
    requests.push(path);
    let file: string | undefined = routes[path];
    if (!file) {
      for (const [prefix, dir] of Object.entries(trees)) {
        if (!path.startsWith(prefix)) continue;
        const f = normalize(join(dir, path.slice(prefix.length)));
        if (f.startsWith(dir + sep)) file = f;
      }
    }
    try {
      if (!file) throw new Error("no route");
      const body = await readFile(file);
      res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream", "cache-control": "no-store" });
      res.end(body);
    } catch {
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found");
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

// ---- workerd ------------------------------------------------------------------------------

/**
 * Start `workerd serve <config>` in `dir`; its socket "http" must listen on
 * 127.0.0.1:0. workerd picks the port and reports it as JSON lines on the
 * control fd (fd 3); resolves with the base URL. {@link killAll} stops it.
 */
export async function startWorkerd(bin: string, dir: string, config: string): Promise<string> {
  const child = start(bin, ["serve", config, "--control-fd=3"], { cwd: dir, extraFds: 1 });
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const port = await deadline(
    new Promise<number>((resolve, reject) => {
      let buf = "";
      const control = child.stdio[3] as NodeJS.ReadableStream;
      control.setEncoding("utf8");
      control.on("data", (d: string) => {
        buf += d;
        for (const line of buf.split("\n")) {
          try {
            const msg = JSON.parse(line);
            if (msg.event === "listen" && msg.socket === "http") resolve(msg.port);
          } catch {
            // a partial line
          }
        }
      });
      child.on("close", (code) => reject(new Error(`workerd exited (${code}): ${stderr}`)));
    }),
    20_000,
    "workerd start",
  ).catch((err) => {
    throw new Error(`${(err as Error).message}; stderr: ${stderr}`);
  });
  return `http://127.0.0.1:${port}`;
}

/**
 * A workerd config: one worker whose modules are the bundle, unfold.wasm as a
 * `wasm` module (imported as a WebAssembly.Module) and the same file as a `data`
 * module (an ArrayBuffer), listening on 127.0.0.1 at a port workerd picks and
 * reports on its control fd.
 */
export function workerdConfig(): string {
  return `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [ (name = "main", worker = .worker) ],
  sockets = [ (name = "http", address = "127.0.0.1:0", http = (), service = "main") ],
);

const worker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "worker.js"),
    (name = "unfold.wasm", wasm = embed "unfold.wasm"),
    (name = "unfold.bin", data = embed "unfold.wasm"),
  ],
  compatibilityDate = "2025-06-01",
);
`;
}
