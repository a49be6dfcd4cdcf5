// Supply chain: what `npm publish` would ship is exactly what package.json's
// `files` intends (no sources, tests, tools or stray files), everything the
// package points at (main, types, bin, exports) is in it, and nothing runs at
// install time — neither in this package nor in its runtime dependencies.
// `npm audit --omit=dev` runs when the registry answers its audit endpoint.
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const root = path.resolve(import.meta.dirname, "..");
const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as {
  files: string[]; main: string; types: string; bin: Record<string, string>; exports: Record<string, string | Record<string, string>>;
  scripts: Record<string, string>; dependencies: Record<string, string>;
};
const run = promisify(execFile);
const npm = process.platform === "win32" ? "npm.cmd" : "npm";
const INSTALL_SCRIPTS = ["preinstall", "install", "postinstall", "prepare", "preprepare", "postprepare"];

describe("supply chain", () => {
  it("npm pack ships only what `files` intends, and everything the package points at", async () => {
    // --ignore-scripts: `prepack` would rebuild (npm test built already) and print into the JSON.
    const { stdout } = await run(npm, ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: root, maxBuffer: 16 << 20 });
    const files = (JSON.parse(stdout) as { files: { path: string }[] }[])[0].files.map((f) => f.path.replace(/\\/g, "/"));
    const always = /^(package\.json|README(\.md)?|LICEN[CS]E(\.md|\.txt)?)$/i; // npm adds these whatever `files` says
    const intended = (f: string) => always.test(f) || pkg.files.some((e) => f === e || f.startsWith(`${e.replace(/\/$/, "")}/`));
    expect(files.filter((f) => !intended(f)), "files outside `files`").toEqual([]);
    // tools/to_torch.py ships on purpose: it rebuilds a saved model as a PyTorch module (README "Exchange").
    const shippedTools = new Set(["tools/to_torch.py"]);
    expect(files.filter((f) => !shippedTools.has(f) && (/^(src|test|tools|bench|examples|assembly|node_modules)\//.test(f) || /\.test\.|\.tsbuildinfo$|(^|\/)\.[^/]+$/.test(f))), "sources, tests or dotfiles").toEqual([]);
    for (const e of pkg.files) expect(files.some((f) => f === e || f.startsWith(`${e}/`)), `nothing packed for files entry ${e}`).toBe(true);
    const targets = [pkg.main, pkg.types, ...Object.values(pkg.bin), ...Object.values(pkg.exports).flatMap((v) => (typeof v === "string" ? [v] : Object.values(v)))];
    for (const t of targets) expect(files, `package.json points at ${t}`).toContain(t.replace(/^\.\//, ""));
  }, 120_000);

  it("no install scripts, here or in the runtime dependencies", () => {
    for (const s of INSTALL_SCRIPTS) expect(pkg.scripts[s], `package.json has a "${s}" script`).toBeUndefined();
    const lock = JSON.parse(fs.readFileSync(path.join(root, "package-lock.json"), "utf8")) as { packages: Record<string, { dev?: boolean; hasInstallScript?: boolean }> };
    const runtime = Object.entries(lock.packages).filter(([k, v]) => k !== "" && !v.dev);
    for (const dep of Object.keys(pkg.dependencies)) expect(runtime.map(([k]) => k)).toContain(`node_modules/${dep}`);
    expect(runtime.filter(([, v]) => v.hasInstallScript).map(([k]) => k)).toEqual([]);
    // The lock's flag, checked against the installed packages themselves (runtime dependencies and theirs).
    for (const [dir] of runtime) {
      const p = JSON.parse(fs.readFileSync(path.join(root, dir, "package.json"), "utf8")) as { scripts?: Record<string, string> };
      for (const s of INSTALL_SCRIPTS.filter((x) => !x.includes("prepare"))) expect(p.scripts?.[s], `${dir} has a "${s}" script`).toBeUndefined();
    }
  });

  it("npm audit --omit=dev reports no vulnerabilities (when the registry's audit endpoint answers)", async () => {
    let out = "";
    try {
      ({ stdout: out } = await run(npm, ["audit", "--omit=dev", "--json"], { cwd: root, timeout: 60_000, maxBuffer: 16 << 20 }));
    } catch (err) {
      out = (err as { stdout?: string }).stdout ?? ""; // npm audit exits 1 when it finds something, with the report on stdout
    }
    let report: { metadata?: { vulnerabilities?: Record<string, number> }; message?: string; error?: { summary?: string } } = {};
    try {
      report = JSON.parse(out);
    } catch {
      /* no JSON: no answer */
    }
    const v = report.metadata?.vulnerabilities;
    if (!v) {
      console.warn(`supply-chain: npm audit did not run: the registry's audit endpoint gave no report (${report.message ?? report.error?.summary ?? (out.trim().slice(0, 200) || "no output")})`);
      return;
    }
    expect(v.total ?? Object.values(v).reduce((a, b) => a + b, 0), JSON.stringify(v)).toBe(0);
  }, 120_000);
});
