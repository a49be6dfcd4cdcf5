// "Small enough for an edge worker": an LSTM inference bundle (esbuild,
// minified, what a Worker would ship) plus the WASM module, gzipped.
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import { describe, expect, it } from "vitest";

const root = new URL("../", import.meta.url);

describe("bundle size", () => {
  it("an LSTM inference bundle plus unfold.wasm stays under 64 KB gzipped", async () => {
    const r = await build({
      stdin: {
        contents: 'import { init, LSTM } from "./src/index.ts"; export async function run(m) { await init(m); return new LSTM({ inputSize: 4, hiddenSize: 8 }).forward(new Float32Array(8)).hN; }',
        resolveDir: root.pathname,
        loader: "ts",
      },
      bundle: true,
      minify: true,
      format: "esm",
      platform: "neutral", // a Node built-in anywhere in the graph would fail the build
      target: "es2022",
      write: false,
    });
    const js = gzipSync(r.outputFiles[0].contents).length;
    const wasm = gzipSync(readFileSync(new URL("build/unfold.wasm", root))).length;
    console.log(`LSTM inference bundle: JS ${(js / 1024).toFixed(1)} KB + WASM ${(wasm / 1024).toFixed(1)} KB gzipped`);
    expect(js + wasm).toBeLessThan(64 * 1024);
  });

  it("the same with unfold-rnn/inline (the module inlined as base64: one file) stays under 64 KB gzipped", async () => {
    const r = await build({
      stdin: {
        contents: 'import { init, LSTM } from "./src/inline.ts"; export async function run() { await init(); return new LSTM({ inputSize: 4, hiddenSize: 8 }).forward(new Float32Array(8)).hN; }',
        resolveDir: root.pathname,
        loader: "ts",
      },
      bundle: true,
      minify: true,
      format: "esm",
      platform: "neutral",
      target: "es2022",
      write: false,
    });
    const raw = r.outputFiles[0].contents.length;
    const gz = gzipSync(r.outputFiles[0].contents).length;
    console.log(`LSTM inference bundle with unfold-rnn/inline: ${(raw / 1024).toFixed(1)} KB, ${(gz / 1024).toFixed(1)} KB gzipped`);
    expect(gz).toBeLessThan(64 * 1024);
  });

  it("fromONNX: what the ONNX importer adds to a Sequential inference bundle, measured (and under 16 KB gzipped)", async () => {
    const size = async (contents: string) => {
      const r = await build({ stdin: { contents, resolveDir: root.pathname, loader: "ts" }, bundle: true, minify: true, format: "esm", platform: "neutral", target: "es2022", write: false });
      return { raw: r.outputFiles[0].contents.length, gz: gzipSync(r.outputFiles[0].contents).length };
    };
    const base = await size('import { init, Sequential } from "./src/index.ts"; export { init, Sequential };');
    const withImport = await size('import { init, Sequential } from "./src/index.ts"; import { fromONNX } from "./src/onnx/index.ts"; export { init, Sequential, fromONNX };');
    const alone = await size('import { fromONNX } from "./src/onnx/import.ts"; export { fromONNX };');
    const addRaw = withImport.raw - base.raw, addGz = withImport.gz - base.gz;
    console.log(`fromONNX: +${(addRaw / 1024).toFixed(1)} KB minified, +${(addGz / 1024).toFixed(1)} KB gzipped over init + Sequential (${(base.gz / 1024).toFixed(1)} KB gzipped); with its model code ${(alone.gz / 1024).toFixed(1)} KB gzipped; the WASM module is shared`);
    expect(addGz).toBeLessThan(16 * 1024);
  });
});
