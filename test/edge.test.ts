// The edge inference service (examples/edge/): one worker module serving
// GET /generate?prime=&length=&temperature=&seed= from a saved model, run by
// workerd, Deno (Deno.serve) and Bun (Bun.serve) on 127.0.0.1. Every answer,
// good or bad, must equal Node's (the same module called in a Node process):
// the same text for the same seed, HTTP 400 with a JSON error for bad
// parameters, 414 with a JSON error for a path and query over the service's
// 12 K-character guard (below Bun's own ~16 KiB limit, past which Bun answers
// 431 with an empty body itself), never a 500 or a hang.
//
// The model is a small char LSTM trained here (Node, a few seconds), saved
// with saveModel. A runtime whose binary cannot be found is skipped with the
// reason in the test name.
import { execFile } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { saveModel, Sequential, Vocab } from "../src/index.js";
import { loadKernels } from "./helpers.js";
import { type Binary, deadline, findBun, findDeno, findWorkerd, killAll, ROOT, start, startWorkerd, WASM } from "./runtimes/harness.js";

const EDGE = join(ROOT, "examples", "edge");
const TEXT = "the quick brown fox jumps over the lazy dog. the cat sat on the mat and the dog ate the log. ".repeat(8);

/** The queries, good and bad; every runtime must answer each exactly as Node does. */
const GOOD = [
  "prime=the%20&length=60&temperature=0.8&seed=1",
  "prime=t&length=40&temperature=0&seed=0", // greedy
  "prime=a%20cat&length=25&temperature=1.5&seed=4294967295",
];
const BAD: [string, string][] = [
  ["prime=the&temperature=1&seed=1", "length"], // missing
  ["prime=the&length=NaN&temperature=1&seed=1", "length"],
  ["prime=the&length=0&temperature=1&seed=1", "length"],
  ["prime=the&length=100000&temperature=1&seed=1", "length"],
  ["prime=the&length=1e3&temperature=1&seed=1", "length"],
  ["prime=the&length=10&seed=1", "temperature"],
  ["prime=the&length=10&temperature=NaN&seed=1", "temperature"],
  ["prime=the&length=10&temperature=-1&seed=1", "temperature"],
  ["prime=the&length=10&temperature=11&seed=1", "temperature"],
  ["prime=the&length=10&temperature=1", "seed"],
  ["prime=the&length=10&temperature=1&seed=-1", "seed"],
  ["prime=the&length=10&temperature=1&seed=1.5", "seed"],
  ["prime=the&length=10&temperature=1&seed=4294967296", "seed"],
  ["length=10&temperature=1&seed=1", "prime"],
  ["prime=The%20QUICK%7E&length=10&temperature=1&seed=1", "prime"], // T, Q, U, I, C, K, ~ never seen
  ["prime=the&length=10&temperature=1&seed=1&lenght=5", "lenght"],
  ["prime=the&prime=a&length=10&temperature=1&seed=1", "prime"],
  // The longest prime (1000 characters, 9 encoded characters each: ~9.1 K) passes the URL guard; "—" is unknown.
  [`prime=${"%E2%80%94".repeat(1000)}&length=10&temperature=1&seed=1`, "prime"],
];
/** Over the service's URL guard (12 K characters) and under Bun's own limit (~16 KiB): the service's 414, in every runtime. */
const LONG = `prime=${"a".repeat(13_000)}&length=10&temperature=1&seed=1`;
/** Over Bun's own request-line limit: Bun answers 431 with an empty body before the service runs (documented). */
const HUGE = `/generate?prime=${"a".repeat(20_000)}&length=10&temperature=1&seed=1`;
const PATHS = [...GOOD, ...BAD.map(([q]) => q), LONG].map((q) => `/generate?${q}`);

interface Answer {
  status: number;
  body: unknown;
}

let tmp = "";
let node: Answer[];

/** Run a command to completion (stdout), rejecting with stderr on failure. */
function sh(cmd: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd, timeout: 60_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
  });
}

beforeAll(async () => {
  await loadKernels();
  tmp = mkdtempSync(join(tmpdir(), "unfold-edge-"));
  // The example as a user has it: its files, and unfold-rnn installed (a link to this checkout).
  mkdirSync(join(tmp, "node_modules"));
  symlinkSync(ROOT, join(tmp, "node_modules", "unfold-rnn"), "dir");
  writeFileSync(join(tmp, "package.json"), JSON.stringify({ name: "edge", private: true, type: "module", dependencies: { "unfold-rnn": "*" } }));
  for (const f of ["service.js", "workerd.js", "deno.js", "bun.js", "workerd.capnp"]) copyFileSync(join(EDGE, f), join(tmp, f));

  // A small char LSTM, trained for a few seconds.
  const vocab = Vocab.fromChars(TEXT);
  const model = new Sequential({
    input: { type: "tokens", vocabSize: vocab.size, embeddingDim: 12 },
    recurrent: [{ cell: "lstm", hiddenSize: 32 }],
    output: { size: vocab.size, loss: "xent" },
    mode: "many-to-many",
    seed: 5,
  });
  const h = model.fit({ stream: vocab.encode(TEXT) }, { epochs: 1000, steps: 120, batchSize: 8, tbptt: { k1: 16 }, optimizer: { type: "adam", lr: 0.02 } });
  expect(h.epochs[h.epochs.length - 1].loss).toBeLessThan(h.epochs[0].loss);
  writeFileSync(join(tmp, "model.unfold"), saveModel(model, { vocab, includeOptimizer: false }));

  // Node: the same worker module, called directly in a Node process.
  const script = `import service from "./service.js";
import { readFileSync } from "node:fs";
const env = { MODEL: readFileSync("model.unfold") };
const out = [];
for (const p of ${JSON.stringify(PATHS)}) {
  const res = await service.fetch(new Request("http://localhost" + p), env);
  out.push({ status: res.status, body: await res.json() });
}
console.log(JSON.stringify(out));`;
  writeFileSync(join(tmp, "node-reference.mjs"), script);
  node = JSON.parse(await sh(process.execPath, ["node-reference.mjs"], tmp));
}, 120_000);

afterAll(() => {
  killAll();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** Every query against a running service, each with a deadline (a hang fails the test). */
async function ask(base: string): Promise<Answer[]> {
  const out: Answer[] = [];
  for (const p of PATHS) {
    const res = await fetch(base + p, { signal: AbortSignal.timeout(15_000) });
    const type = res.headers.get("content-type") ?? "";
    expect(type, p).toMatch(/^application\/json/);
    out.push({ status: res.status, body: await res.json() });
  }
  return out;
}

/** A query over every guard: what the runtime itself answers (status, content type, body text). */
async function askHuge(base: string): Promise<{ status: number; type: string; body: string }> {
  const res = await fetch(base + HUGE, { signal: AbortSignal.timeout(15_000) });
  return { status: res.status, type: res.headers.get("content-type") ?? "", body: await res.text() };
}

/** Start a launcher that prints {"listening": url} on stdout; resolves with the url. */
async function listening(bin: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const child = start(bin, args, { cwd: tmp, env });
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  return deadline(
    new Promise<string>((resolve, reject) => {
      let buf = "";
      child.stdout!.setEncoding("utf8").on("data", (d: string) => {
        buf += d;
        const m = /\{"listening":"([^"]+)"\}/.exec(buf);
        if (m) resolve(m[1]);
      });
      child.on("close", (code) => reject(new Error(`${bin} exited (${code}): ${stderr}`)));
    }),
    20_000,
    `${bin} start`,
  ).catch((err) => {
    throw new Error(`${(err as Error).message}; stderr: ${stderr}`);
  });
}

describe("Node (the reference)", () => {
  it("generates text for good queries, and answers every bad one with a 400 naming the parameter", () => {
    console.log(`[edge] ${PATHS[0]} -> ${JSON.stringify(node[0].body)}\n[edge] ${PATHS[GOOD.length + 1]} -> ${node[GOOD.length + 1].status} ${JSON.stringify(node[GOOD.length + 1].body)}`);
    for (let i = 0; i < GOOD.length; i++) {
      const a = node[i] as { status: number; body: { text: string; length: number } };
      expect(a.status, GOOD[i]).toBe(200);
      expect(a.body.text.length, GOOD[i]).toBe(a.body.length);
    }
    // Different seeds and temperatures give different text; the greedy one is the likeliest continuation.
    expect(new Set(node.slice(0, GOOD.length).map((a) => (a.body as { text: string }).text)).size).toBe(GOOD.length);
    BAD.forEach(([q, param], i) => {
      const a = node[GOOD.length + i] as { status: number; body: { error: string; param: string } };
      expect(a.status, q).toBe(400);
      expect(a.body.param, q).toBe(param);
      expect(a.body.error, q).toMatch(new RegExp(param));
    });
    expect((node[GOOD.length + 14].body as { error: string }).error).toContain('"T", "Q", "U", "I", "C", "K", "~"');
    expect(PATHS[GOOD.length + BAD.length - 1].length).toBeGreaterThan(9000);
    expect(node[GOOD.length + BAD.length]).toEqual({ status: 414, body: { error: expect.stringMatching(/limit is 12288/), param: null } });
  });
});

function runtimeIt(name: string, bin: Binary | null, hint: string, fn: (bin: Binary) => Promise<void>): void {
  if (!bin) {
    console.warn(`[edge] skipping "${name}": binary not found (${hint})`);
    it.skip(`${name} [skipped: binary not found (${hint})]`, () => {});
    return;
  }
  it(name, () => fn(bin), 90_000);
}

const deno = findDeno();
const bun = findBun();
const workerd = findWorkerd();

runtimeIt(`${workerd?.version ?? "workerd"}: the bundled worker (wasm module import, model as a data binding) answers as Node`, workerd, "npm install workerd", async (bin) => {
  const out = join(tmp, "out");
  // The bundle a wrangler deploy would make: workerd/worker/browser conditions, unfold.wasm left to the config.
  await build({
    entryPoints: [join(tmp, "workerd.js")],
    outfile: join(out, "worker.js"),
    bundle: true,
    format: "esm",
    platform: "neutral",
    conditions: ["workerd", "worker", "browser"],
    external: ["./unfold.wasm"],
    logLevel: "silent",
  });
  copyFileSync(WASM, join(out, "unfold.wasm"));
  copyFileSync(join(tmp, "model.unfold"), join(out, "model.unfold"));
  // The example's config, on a free port.
  const config = readFileSync(join(tmp, "workerd.capnp"), "utf8").replace('"127.0.0.1:8787"', '"127.0.0.1:0"');
  writeFileSync(join(tmp, "test.capnp"), config);
  const url = await startWorkerd(bin.path, tmp, "test.capnp");
  expect(await ask(url)).toEqual(node);
  const huge = await askHuge(url);
  console.log(`[edge] workerd, a ${HUGE.length}-character path and query: ${huge.status} ${huge.type} ${huge.body.slice(0, 80)}`);
  expect(huge.status).toBe(414); // workerd passes it to the service, whose guard answers

});

runtimeIt(`${deno?.version ?? "Deno"}: Deno.serve answers as Node`, deno, "npm install deno", async (bin) => {
  const url = await listening(bin.path, ["run", "--quiet", "--no-prompt", "--allow-read", "--allow-net=127.0.0.1", "deno.js", "model.unfold", "0"], {
    DENO_NO_UPDATE_CHECK: "1",
    DENO_DIR: join(tmp, "deno-dir"),
    NO_COLOR: "1",
  });
  expect(await ask(url)).toEqual(node);
  const huge = await askHuge(url);
  console.log(`[edge] Deno, a ${HUGE.length}-character path and query: ${huge.status} ${huge.type} ${huge.body.slice(0, 80)}`);
  expect(huge.status).toBe(414); // Deno passes it to the service, whose guard answers
});

runtimeIt(`${bun?.version ?? "Bun"}: Bun.serve answers as Node`, bun, "npm install bun", async (bin) => {
  const url = await listening(bin.path, ["bun.js", "model.unfold", "0"], { DO_NOT_TRACK: "1", NO_COLOR: "1" });
  expect(await ask(url)).toEqual(node);
  // Past Bun's own limit the service never runs: Bun's 431 and an empty body (the limit the edge README states).
  const huge = await askHuge(url);
  console.log(`[edge] Bun, a ${HUGE.length}-character path and query: ${huge.status} ${JSON.stringify(huge.type)} ${JSON.stringify(huge.body.slice(0, 80))}`);
  expect({ status: huge.status, body: huge.body }).toEqual({ status: 431, body: "" });
});
