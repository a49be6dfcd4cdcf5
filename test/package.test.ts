// The package as every kind of JavaScript project meets it, from the packed
// tarball installed into an empty project (offline from the npm cache):
// - TypeScript, skipLibCheck false, three ways: nodenext + lib es2022 +
//   @types/node (no DOM); bundler + lib dom (no @types/node); node16. The
//   README's examples type-check (and, under nodenext, compile and run), and
//   deliberate misuses are type errors (`// @ts-expect-error`, which is itself
//   an error where the line compiles, so any-typed declarations fail here).
// - CommonJS (require(esm), Node >= 20.19): every entry point, a small forward
//   each, equal to the same program as an ES module.
// - publint and @arethetypeswrong/cli on the tarball: no problems for the
//   resolutions the package claims (node16 from ESM, bundler).
// CI budget: ~40 s (one pack + install, four tsc runs at once, a few small Node processes).
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "./runtimes/harness.js";

const NM = join(ROOT, "node_modules");
const TSC = join(NM, "typescript", "bin", "tsc");
// The @types/node this repository is checked with (in the npm cache, so the install stays offline).
const TYPES_NODE = (JSON.parse(readFileSync(join(NM, "@types", "node", "package.json"), "utf8")) as { version: string }).version;

/** Run a command; resolves with { code, out } (stdout + stderr), never rejects on a non-zero exit. */
function run(cmd: string, args: string[], cwd: string, timeout = 120_000): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, timeout, maxBuffer: 32 << 20, env: { ...process.env, NO_COLOR: "1" } }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr });
    });
  });
}
async function ok(cmd: string, args: string[], cwd: string): Promise<string> {
  const r = await run(cmd, args, cwd);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} (exit ${r.code}):\n${r.out}`);
  return r.out;
}

/** The first ```js block of README.md or docs/*.md that contains `marker` (snippets may move between them). */
function snippet(marker: string): string {
  const files = ["README.md", ...readdirSync(join(ROOT, "docs")).filter((f) => f.endsWith(".md")).map((f) => join("docs", f))];
  for (const f of files) {
    for (const block of readFileSync(join(ROOT, f), "utf8").split("```js\n").slice(1).map((b) => b.split("```")[0])) {
      if (block.includes(marker)) return block;
    }
  }
  throw new Error(`no js block in README.md or docs/ contains ${JSON.stringify(marker)}`);
}

const TSCONFIG = (o: Record<string, unknown>) => JSON.stringify({ compilerOptions: { strict: true, skipLibCheck: false, target: "es2022", ...o }, include: ["*.ts"] }, null, 2);

/** Misuses that must not compile. Each @ts-expect-error is an error itself if its line compiles (TS2578). */
const MISUSES = `import { init, LSTM, Sequential, Vocab } from "unfold-rnn";
import { saveModelFile } from "unfold-rnn/node";
import { toONNX } from "unfold-rnn/onnx";
import wasmUrl from "unfold-rnn/unfold.wasm";

export async function misuses(model: Sequential, vocab: Vocab): Promise<number> {
  // @ts-expect-error a wrong option name: thread for threads
  await init({ thread: 2 });
  // @ts-expect-error a wrong option value
  await init({ simd: "fast" });
  // @ts-expect-error a wrong argument type: a number is not a module source
  await init(42);
  // @ts-expect-error a wrong argument type: inputSize is a number
  new LSTM({ inputSize: "4", hiddenSize: 8 });
  // @ts-expect-error a wrong option name: epoch for epochs
  model.fit({ stream: vocab.encode("ab") }, { epoch: 2 });
  // @ts-expect-error decode takes ids, not text
  vocab.decode("abc");
  // @ts-expect-error a wrong option name: softMax for softmax
  toONNX(model, { softMax: true });
  // @ts-expect-error the path comes first
  await saveModelFile(model, "model.unfold");
  // @ts-expect-error a .wasm subpath is the file's URL, a string
  const n: number = wasmUrl;
  return n;
}
`;

let tmp = "";
let proj = "";
beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), "unfold-package-"));
  proj = join(tmp, "proj");
  mkdirSync(proj);
  // The build is fresh (pretest), so skip prepack's rebuild.
  const packed = JSON.parse(await ok("npm", ["pack", "--ignore-scripts", "--pack-destination", tmp, "--json"], ROOT)) as { filename: string }[];
  writeFileSync(join(tmp, "tarball"), join(tmp, packed[0].filename));
  writeFileSync(join(proj, "package.json"), JSON.stringify({ name: "app", version: "1.0.0", private: true }));
  await ok("npm", ["install", join(tmp, packed[0].filename), `@types/node@${TYPES_NODE}`, "--prefer-offline", "--no-audit", "--no-fund"], proj);

  // nodenext, lib es2022 + @types/node, no DOM: the README's examples, compiled and run.
  const nodenext = join(proj, "nodenext");
  mkdirSync(nodenext);
  writeFileSync(join(nodenext, "package.json"), JSON.stringify({ type: "module" }));
  writeFileSync(join(nodenext, "tsconfig.json"), TSCONFIG({ module: "nodenext", moduleResolution: "nodenext", lib: ["es2022"], types: ["node"], outDir: "out" }));
  writeFileSync(join(nodenext, "readme.ts"), `${snippet("Vocab.fromChars(text)")}
${snippet('from "unfold-rnn/onnx"')}
import { loadModelFile, saveModelFile } from "unfold-rnn/node";
import { simdBuild, inspect, type Sequential as Model, type Vocab as V } from "unfold-rnn";
await saveModelFile("model.unfold", model, { vocab });
const back = await loadModelFile("model.unfold");
console.log(JSON.stringify({ build: simdBuild(), loadedKind: back.model.constructor.name, vocab: back.vocab?.size }));

/** Snippets that need another model or runtime: type-checked, not run. */
export async function typeOnly(model: Model, vocab: V): Promise<void> {
  {
${snippet("model.session(")}
  }
  {
${snippet("inspect(model,")}
  }
  {
${snippet('init({ simd: "plain" })')}
  }
  await init(await fetch("https://example.invalid/unfold.wasm")); // undici's Response is a WasmResponse
  await init(fetch("https://example.invalid/unfold.wasm"));
  await init(new Uint8Array(8));
  await init(new URL("file:///unfold.wasm"), { threads: 2 });
}
`);
  writeFileSync(join(nodenext, "misuse.ts"), MISUSES);

  // bundler + lib dom, no @types/node: the browser recipes, type-checked.
  const bundler = join(proj, "bundler");
  mkdirSync(bundler);
  writeFileSync(join(bundler, "tsconfig.json"), TSCONFIG({ module: "esnext", moduleResolution: "bundler", lib: ["es2022", "dom"], types: [], noEmit: true }));
  writeFileSync(join(bundler, "app.ts"), `import { init, LSTM, type WasmMemory, type WasmModule } from "unfold-rnn";
import * as inline from "unfold-rnn/inline";
import { toONNX } from "unfold-rnn/onnx";
import wasmUrl from "unfold-rnn/unfold.wasm";
import mtUrl from "unfold-rnn/unfold-mt.wasm";
await init(new URL(wasmUrl, import.meta.url));            // the esbuild recipe
await init(new URL(mtUrl, import.meta.url), { threads: 2 });
await inline.init();
// The DOM's own WebAssembly and fetch objects are what the package's declarations describe.
const module: WasmModule = await WebAssembly.compile(new Uint8Array(8));
await init(module);
await init(fetch(wasmUrl));
const memory: WasmMemory = new WebAssembly.Memory({ initial: 1 });
const lstm = new LSTM({ inputSize: 4, hiddenSize: 8, seed: 1 });
const { output, hN }: { output: Float32Array; hN: Float32Array } = lstm.forward(new Float32Array(5 * 2 * 4), { batchSize: 2 });
console.log(output.length, hN.length, memory.buffer.byteLength, typeof toONNX);
`);
  writeFileSync(join(bundler, "misuse.ts"), MISUSES);

  // node16, lib es2022 + @types/node.
  const node16 = join(proj, "node16");
  mkdirSync(node16);
  writeFileSync(join(node16, "package.json"), JSON.stringify({ type: "module" }));
  writeFileSync(join(node16, "tsconfig.json"), TSCONFIG({ module: "node16", moduleResolution: "node16", lib: ["es2022"], types: ["node"], noEmit: true }));
  writeFileSync(join(node16, "app.ts"), `${snippet("Vocab.fromChars(text)")}
import { saveModelFile } from "unfold-rnn/node";
import { toONNX } from "unfold-rnn/onnx";
import wasmUrl from "unfold-rnn/unfold.wasm";
await saveModelFile("m.unfold", model, { vocab });
const onnx: Uint8Array = toONNX(model);
console.log(onnx.length, wasmUrl.length);
`);
  writeFileSync(join(node16, "misuse.ts"), MISUSES);
}, 180_000);

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe("TypeScript projects, skipLibCheck false, from the tarball", () => {
  it.concurrent.each(["nodenext", "bundler", "node16"])("%s: the README's examples type-check and every misuse is an error", async (dir) => {
    const r = await run(process.execPath, [TSC, "-p", "."], join(proj, dir));
    expect(r.out.trim(), `tsc in ${dir}`).toBe("");
    expect(r.code).toBe(0);
  });

  it.concurrent("the misuses are errors only because of their @ts-expect-error lines (without them, one error each)", async () => {
    const dir = join(proj, "nodenext-bare");
    mkdirSync(dir);
    writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }));
    writeFileSync(join(dir, "tsconfig.json"), TSCONFIG({ module: "nodenext", moduleResolution: "nodenext", lib: ["es2022"], types: ["node"], noEmit: true }));
    writeFileSync(join(dir, "misuse.ts"), MISUSES.split("\n").filter((l) => !l.includes("@ts-expect-error")).join("\n"));
    const r = await run(process.execPath, [TSC, "-p", "."], dir);
    const lines = r.out.split("\n").filter((l) => /error TS\d+/.test(l));
    expect(lines.every((l) => l.startsWith("misuse.ts(")), r.out).toBe(true);
    expect(new Set(lines.map((l) => l.match(/^misuse\.ts\((\d+),/)![1])).size, r.out).toBe(MISUSES.split("@ts-expect-error").length - 1);
  });

  it("nodenext: the compiled README example runs (ten lines, ONNX export, model file)", async () => {
    const out = await ok(process.execPath, ["out/readme.js"], join(proj, "nodenext"));
    const [text, json] = out.trim().split("\n");
    expect(text).toMatch(/^(world|rnn|lstm)[,.] hello/);
    expect(JSON.parse(json)).toEqual({ build: expect.stringMatching(/^(plain|relaxed)$/), loadedKind: "Sequential", vocab: expect.any(Number) });
    expect(readFileSync(join(proj, "nodenext", "model.onnx")).length).toBeGreaterThan(1000);
  }, 60_000);
});

/** One small program per entry point: an LSTM forward and a model through each entry, hashed. */
const PROGRAM = (req: (e: string) => string) => `const { init, LSTM, Sequential, saveModel } = ${req("unfold-rnn")};
const inline = ${req("unfold-rnn/inline")};
const { saveModelFileSync, loadModelFile } = ${req("unfold-rnn/node")};
const { toONNX } = ${req("unfold-rnn/onnx")};
const { join } = ${req("node:path")};
const { tmpdir } = ${req("node:os")};

/** FNV-1a over the bytes of a typed array: equal hashes, equal bits. */
function fnv1a(a) {
  const b = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193) >>> 0;
  return h.toString(16).padStart(8, "0");
}
const x = new Float32Array(5 * 2 * 4).map((_, i) => ((i * 37) % 17) / 8 - 1); // [T=5, B=2, I=4]

async function main() {
  const which = process.argv[2];
  if (which === "inline") {
    await inline.init();
    const { output } = new inline.LSTM({ inputSize: 4, hiddenSize: 8, seed: 1234 }).forward(x, { batchSize: 2 });
    return { inline: fnv1a(output) };
  }
  await init({ simd: "plain" });
  const { output } = new LSTM({ inputSize: 4, hiddenSize: 8, seed: 1234 }).forward(x, { batchSize: 2 });
  const model = new Sequential({ input: { type: "features", size: 4 }, recurrent: [{ cell: "gru", hiddenSize: 6 }], output: { size: 3, loss: "mse" }, mode: "many-to-one", seed: 7 });
  const seq = [Array.from(x.subarray(0, 20))];
  const file = join(tmpdir(), "unfold-cjs-" + process.pid + "-" + which + ".unfold");
  saveModelFileSync(file, model);
  const loaded = (await loadModelFile(file)).model;
  return {
    lstm: fnv1a(output),
    predict: fnv1a(model.predict(seq)[0]),
    loadedPredict: fnv1a(loaded.predict(seq)[0]),
    onnx: fnv1a(toONNX(model)),
    bytes: fnv1a(saveModel(model)),
  };
}
main().then((r) => console.log(JSON.stringify(r)), (e) => { console.error(e); process.exit(1); });
`;

describe("CommonJS (require(esm), Node >= 20.19), from the tarball", () => {
  it("require() of ., ./node, ./onnx and ./inline runs the same forward as import", async () => {
    const dir = join(proj, "cjs");
    mkdirSync(dir);
    writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "commonjs" }));
    writeFileSync(join(dir, "app.cjs"), PROGRAM((e) => `require(${JSON.stringify(e)})`));
    writeFileSync(join(dir, "app.mjs"), PROGRAM((e) => `await import(${JSON.stringify(e)})`));
    const outs = await Promise.all(
      ["app.cjs main", "app.mjs main", "app.cjs inline", "app.mjs inline"].map(async (a) => {
        const [file, which] = a.split(" ");
        const out = await ok(process.execPath, [file, which], dir);
        expect(out, `${a}: no warnings`).not.toMatch(/Warning/);
        return JSON.parse(out.trim().split("\n").pop()!) as Record<string, string>;
      }),
    );
    const [cjs, esm, cjsInline, esmInline] = outs;
    expect(Object.keys(cjs).sort()).toEqual(["bytes", "loadedPredict", "lstm", "onnx", "predict"]);
    for (const v of Object.values(cjs)) expect(v).toMatch(/^[0-9a-f]{8}$/);
    expect(cjs).toEqual(esm);
    expect(cjs.loadedPredict).toBe(cjs.predict);
    expect(cjsInline).toEqual(esmInline);
    expect(cjsInline.inline).toBe(cjs.lstm);
  }, 60_000);
});

describe("publint and @arethetypeswrong/cli on the tarball", () => {
  it("publint: no errors, warnings or suggestions", async () => {
    const out = await ok(process.execPath, [join(NM, "publint", "src", "cli.js"), readFileSync(join(tmp, "tarball"), "utf8")], ROOT);
    expect(out).toMatch(/All good!/);
  }, 60_000);

  it("attw: nothing for node16 from ESM and bundler; only the findings expected of an ES-module package", async () => {
    const r = await run(process.execPath, [join(NM, "@arethetypeswrong", "cli", "dist", "index.js"), readFileSync(join(tmp, "tarball"), "utf8"), "--format", "json"], ROOT);
    const { analysis } = JSON.parse(r.out) as { analysis: { problems: { kind: string; entrypoint: string; resolutionKind: string }[]; entrypoints: Record<string, unknown> } };
    const entries = Object.keys(analysis.entrypoints);
    expect(entries).toEqual(expect.arrayContaining([".", "./node", "./onnx", "./inline", "./unfold.wasm"]));
    const claimed = analysis.problems.filter((p) => p.resolutionKind === "node16-esm" || p.resolutionKind === "bundler");
    expect(claimed).toEqual([]);
    // Expected, and why:
    // - node16-cjs CJSResolvesToESM on every entry: the package is ES modules only. TypeScript's node16 mode
    //   models require() of ESM as an error; Node >= 20.19 runs it (require(esm), tested above).
    // - node10 NoResolution on the subpaths: node10 resolution predates `exports`, so it finds only "." (main/types).
    const unexpected = analysis.problems.filter(
      (p) => !(p.resolutionKind === "node16-cjs" && p.kind === "CJSResolvesToESM") && !(p.resolutionKind === "node10" && p.kind === "NoResolution" && p.entrypoint !== "."),
    );
    expect(unexpected).toEqual([]);
  }, 60_000);
});

it("the installed package has the .wasm files its subpaths point at", () => {
  for (const f of ["unfold.wasm", "unfold-mt.wasm", "unfold-relaxed.wasm", "unfold-relaxed-mt.wasm"]) {
    expect(existsSync(join(proj, "node_modules", "unfold-rnn", "build", f)), f).toBe(true);
  }
});
