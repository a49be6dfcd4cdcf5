// The API reference (`npm run docs`, TypeDoc -> docs/api/) is complete: TypeDoc's
// validation with warnings as errors finds no exported symbol or member without
// a doc comment, no broken {@link}, and no exported API that names a type the
// reference leaves out. A small fixture with one of each fault shows that the
// same configuration fails on them. CI budget: ~20 s (two TypeDoc runs, no output written).
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT } from "./runtimes/harness.js";

const TYPEDOC = join(ROOT, "node_modules", "typedoc", "bin", "typedoc");

function typedoc(args: string[], cwd: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [TYPEDOC, ...args], { cwd, timeout: 120_000, maxBuffer: 16 << 20, env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" } }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: (stdout + stderr).replace(/\x1b\[[0-9;]*m/g, "") });
    });
  });
}

const config = JSON.parse(readFileSync(join(ROOT, "typedoc.json"), "utf8")) as Record<string, unknown>;
let tmp = "";
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe("API reference (TypeDoc)", () => {
  it("typedoc.json validates documentation and links, with warnings as errors", () => {
    expect(config.treatWarningsAsErrors).toBe(true);
    expect(config.treatValidationWarningsAsErrors).toBe(true);
    expect(config.validation).toMatchObject({ notExported: true, invalidLink: true, notDocumented: true });
    expect(config.requiredToBeDocumented).toEqual(expect.arrayContaining(["Class", "Interface", "Function", "Variable", "TypeAlias", "Method", "Property", "Accessor"]));
    expect(config.entryPoints).toEqual(["src/index.ts", "src/node.ts", "src/onnx/index.ts", "src/inline.ts"]);
    expect(config.out).toBe("docs/api");
  });

  it.concurrent("every entry point: no undocumented export, no broken {@link}, no missing referenced type", async () => {
    const r = await typedoc(["--emit", "none"], ROOT);
    expect(r.out.split("\n").filter((l) => /\[(warning|error)\]/.test(l)), r.out).toEqual([]);
    expect(r.code).toBe(0);
  }, 120_000);

  it.concurrent("the same configuration fails on an undocumented export and on a broken link", async () => {
    tmp = mkdtempSync(join(tmpdir(), "unfold-typedoc-"));
    writeFileSync(join(tmp, "index.ts"), `/** Documented, but its link is broken: {@link NoSuchThing}. */
export function linked(): number {
  return 1;
}
export function undocumented(): number {
  return 2;
}
`);
    writeFileSync(join(tmp, "tsconfig.json"), JSON.stringify({ compilerOptions: { strict: true, target: "es2022", module: "nodenext" }, files: ["index.ts"] }));
    writeFileSync(join(tmp, "typedoc.json"), JSON.stringify({ ...config, $schema: undefined, entryPoints: ["index.ts"], tsconfig: "tsconfig.json", out: join(tmp, "api") }));
    const r = await typedoc(["--emit", "none", "--options", "typedoc.json"], tmp);
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/undocumented.*does not have any documentation/);
    expect(r.out).toMatch(/linked.*NoSuchThing|NoSuchThing.*linked/);
  }, 120_000);
});
