// src/io/node.ts: atomic, durable file writes and friendly reads. The
// destination is always either the old complete file or the new complete
// file; failures leave no temp files behind and name the path.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { buildSync } from "esbuild";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { decodeModel, encodeModel } from "../src/io/index.js";
import { _testHooks, readFileBytes, writeFileAtomic, writeFileAtomicSync } from "../src/io/node.js";

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "unfold-io-"));
});
afterEach(() => {
  delete _testHooks.beforeRename;
  fs.rmSync(dir, { recursive: true, force: true });
});

const model = (v: number) =>
  encodeModel({ header: { version: v }, tensors: [{ name: "w", shape: [3], data: Float32Array.of(v, v + 1, v + 2) }] });

/** Both variants behind one async signature. */
const writers = [
  ["writeFileAtomic", (p: string, b: Uint8Array) => writeFileAtomic(p, b)],
  ["writeFileAtomicSync", async (p: string, b: Uint8Array) => writeFileAtomicSync(p, b)],
] as const;

describe.each(writers)("%s", (_name, write) => {
  it("writes a new file and leaves no temp files", async () => {
    const p = path.join(dir, "m.unfold");
    await write(p, model(1));
    expect(fs.readdirSync(dir)).toEqual(["m.unfold"]);
    expect(decodeModel(fs.readFileSync(p)).header).toEqual({ version: 1 });
  });

  it("overwrites an existing file completely (longer and shorter)", async () => {
    const p = path.join(dir, "m.unfold");
    fs.writeFileSync(p, new Uint8Array(10_000).fill(0xaa));
    await write(p, model(2));
    expect(new Uint8Array(fs.readFileSync(p))).toEqual(model(2));
    const big = new Uint8Array(3 << 20).map((_, i) => i * 31);
    await write(p, big);
    expect(Buffer.compare(fs.readFileSync(p), big)).toBe(0); // toEqual on 3 MB is slow
    await write(p, model(3));
    expect(new Uint8Array(fs.readFileSync(p))).toEqual(model(3));
    expect(fs.readdirSync(dir)).toEqual(["m.unfold"]);
  });

  it("writes an empty file", async () => {
    const p = path.join(dir, "empty");
    await write(p, new Uint8Array(0));
    expect(fs.statSync(p).size).toBe(0);
  });

  it.skipIf(process.platform === "win32")("keeps the permission bits of the file it replaces", async () => {
    const p = path.join(dir, "m.unfold");
    fs.writeFileSync(p, "old");
    fs.chmodSync(p, 0o640);
    await write(p, model(1));
    expect(fs.statSync(p).mode & 0o777).toBe(0o640);
  });

  it("fails clearly when the directory does not exist, and creates nothing", async () => {
    const p = path.join(dir, "no", "such", "m.unfold");
    const err = await write(p, model(1)).then(
      () => null,
      (e: NodeJS.ErrnoException) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toContain(`cannot write model file ${p}`);
    expect(err!.message).toContain(`directory ${path.dirname(p)} does not exist`);
    expect(err!.code).toBe("E_IO");
    expect((err as unknown as { errno: string }).errno).toBe("ENOENT");
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it("refuses to replace a directory, leaving it and no temp file", async () => {
    const p = path.join(dir, "m.unfold");
    fs.mkdirSync(p);
    fs.writeFileSync(path.join(p, "inside"), "x");
    await expect(write(p, model(1))).rejects.toThrow(`cannot write model file ${p}: ${p} is a directory`);
    expect(fs.readdirSync(dir)).toEqual(["m.unfold"]);
    expect(fs.readdirSync(p)).toEqual(["inside"]);
  });

  it("a crash after the temp file is written and before the rename leaves the old file intact and readable", async () => {
    const p = path.join(dir, "m.unfold");
    await write(p, model(1));
    let tmpSeen = "";
    _testHooks.beforeRename = (tmp) => {
      tmpSeen = tmp;
      // The temp file is complete and in the same directory (so the rename is atomic).
      expect(path.dirname(tmp)).toBe(dir);
      expect(path.basename(tmp)).toMatch(new RegExp(`^\\.m\\.unfold\\.${process.pid}\\.[0-9a-f]{12}\\.tmp$`));
      expect(new Uint8Array(fs.readFileSync(tmp))).toEqual(model(2));
      throw new Error("simulated crash");
    };
    await expect(write(p, model(2))).rejects.toThrow(`cannot write model file ${p}: simulated crash`);
    expect(tmpSeen).not.toBe("");
    expect(fs.existsSync(tmpSeen)).toBe(false);
    expect(fs.readdirSync(dir)).toEqual(["m.unfold"]);
    const back = decodeModel(fs.readFileSync(p));
    expect(back.header).toEqual({ version: 1 });
    expect(Array.from(back.tensors[0].data)).toEqual([1, 2, 3]);
  });

  it("a crash before the first save leaves no destination at all", async () => {
    const p = path.join(dir, "m.unfold");
    _testHooks.beforeRename = () => {
      throw new Error("simulated crash");
    };
    await expect(write(p, model(1))).rejects.toThrow(/simulated crash/);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it("the error keeps the original as cause", async () => {
    _testHooks.beforeRename = () => {
      throw new Error("boom");
    };
    const err = await write(path.join(dir, "x"), model(1)).catch((e: Error) => e);
    expect((err as Error).cause).toBeInstanceOf(Error);
    expect(((err as Error).cause as Error).message).toBe("boom");
  });
});

describe("concurrent writers", () => {
  it("many overlapping async writes to one path end with one complete file and no temps", async () => {
    const p = path.join(dir, "m.unfold");
    await Promise.all(Array.from({ length: 12 }, (_, i) => writeFileAtomic(p, model(i))));
    expect(fs.readdirSync(dir)).toEqual(["m.unfold"]);
    const v = decodeModel(fs.readFileSync(p)).header.version as number;
    expect(new Uint8Array(fs.readFileSync(p))).toEqual(model(v));
  });
});

describe("readFileBytes", () => {
  it("reads what writeFileAtomic wrote", async () => {
    const p = path.join(dir, "m.unfold");
    await writeFileAtomic(p, model(5));
    const bytes = await readFileBytes(p);
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect(decodeModel(bytes).header).toEqual({ version: 5 });
  });

  it("says 'no such model file' for a missing file", async () => {
    const p = path.join(dir, "missing.unfold");
    await expect(readFileBytes(p)).rejects.toThrow(`no such model file: ${p}`);
    const err = await readFileBytes(p).catch((e: NodeJS.ErrnoException) => e);
    expect((err as NodeJS.ErrnoException).code).toBe("E_IO");
    expect((err as unknown as { errno: string }).errno).toBe("ENOENT");
  });

  it("says when the path is a directory", async () => {
    await expect(readFileBytes(dir)).rejects.toThrow(`${dir} is a directory, not a model file`);
  });
});

describe("a real crash (SIGKILL) in the middle of a save", () => {
  it.skipIf(process.platform === "win32")("leaves the old file intact and readable; only a stale temp file remains", () => {
    // Bundle node.ts + format.ts into a plain .mjs that a child Node can run,
    // then kill the child (no cleanup handlers run) right before the rename.
    const script = path.join(dir, "child.mjs");
    buildSync({
      stdin: {
        contents: `
          import { writeFileAtomicSync, _testHooks } from "./src/io/node.ts";
          import { encodeModel } from "./src/io/format.ts";
          const [dest, when] = process.argv.slice(2);
          const bytes = encodeModel({ header: { version: 2 }, tensors: [{ name: "w", shape: [1 << 20], data: new Float32Array(1 << 20).fill(2) }] });
          if (when === "before-rename") _testHooks.beforeRename = () => process.kill(process.pid, "SIGKILL");
          writeFileAtomicSync(dest, bytes);
          process.kill(process.pid, "SIGKILL");`,
        resolveDir: fileURLToPath(new URL("..", import.meta.url)),
        loader: "ts",
      },
      bundle: true,
      platform: "node",
      format: "esm",
      outfile: script,
      logLevel: "silent",
    });
    const p = path.join(dir, "m.unfold");
    fs.writeFileSync(p, model(1));
    const run = (when: string) => spawnSync(process.execPath, [script, p, when], { encoding: "utf8" });

    const killed = run("before-rename");
    expect(killed.signal).toBe("SIGKILL");
    expect(decodeModel(fs.readFileSync(p)).header).toEqual({ version: 1 });
    const stale = fs.readdirSync(dir).filter((f) => f.endsWith(".tmp"));
    expect(stale).toHaveLength(1);
    expect(stale[0]).toMatch(/^\.m\.unfold\.\d+\.[0-9a-f]{12}\.tmp$/);

    // Killed right after the rename: the new file is complete.
    expect(run("after-rename").signal).toBe("SIGKILL");
    const back = decodeModel(fs.readFileSync(p));
    expect(back.header).toEqual({ version: 2 });
    expect(back.tensors[0].data.length).toBe(1 << 20);
  });
});
