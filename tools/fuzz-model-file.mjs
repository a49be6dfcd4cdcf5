#!/usr/bin/env node
// Seeded fuzzing of the model-file reader. Valid files written by the library
// (a CLI-trained char LM, also as int8 and f16 files, a Seq2Seq, a
// bidirectional features model) are
// mutated — truncations, bit flips (with and without a repaired checksum),
// huge / negative / fractional / wrong-typed numbers anywhere in the JSON
// header (dimensions, tensor shapes, offsets, lengths, training state),
// malformed JSON, deleted keys, a header length that claims more than the
// file holds, appended and random bytes — and given to loadModel. Each must
// either load a model that works (a file that is still valid) or throw an
// UnfoldError: no other exception, no hang, no WASM memory beyond what the
// file's size justifies, and nothing left allocated by a failed load (no
// half-loaded model).
//
//   node tools/fuzz-model-file.mjs [mutations=100000] [seed=1]
//
// test/fuzz-model-file.test.ts runs the same function with 2,000 mutations.
// Needs `npm run build`.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const dist = (p) => import(pathToFileURL(path.join(root, "dist", p)).href);

function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PREAMBLE = 16;

/** Split a file into its JSON header text and data section (the file is valid). */
function parts(bytes) {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const H = dv.getUint32(12, true);
  const dataStart = PREAMBLE + H + ((4 - ((PREAMBLE + H) % 4)) % 4);
  return { header: new TextDecoder().decode(bytes.subarray(PREAMBLE, PREAMBLE + H)), data: bytes.slice(dataStart, bytes.length - 4), version: dv.getUint32(8, true) };
}

/** Assemble a file with a correct header length, padding and checksum around any header text and data. */
function assemble(crc32, headerText, data, version = 1) {
  const hb = new TextEncoder().encode(headerText);
  const dataStart = PREAMBLE + hb.length + ((4 - ((PREAMBLE + hb.length) % 4)) % 4);
  const out = new Uint8Array(dataStart + data.length + 4);
  out.set([0x55, 0x4e, 0x46, 0x4f, 0x4c, 0x44, 0x52, 0x4e], 0);
  const dv = new DataView(out.buffer);
  dv.setUint32(8, version, true);
  dv.setUint32(12, hb.length, true);
  out.set(hb, PREAMBLE);
  out.set(data, dataStart);
  fixCrc(crc32, out);
  return out;
}

function fixCrc(crc32, b) {
  if (b.length < 12) return b;
  new DataView(b.buffer, b.byteOffset, b.length).setUint32(b.length - 4, crc32(b.subarray(8, b.length - 4)), true);
  return b;
}

const NASTY = [2 ** 31, 2 ** 32, 2 ** 40, 2 ** 53, 1e300, -1, 0, 1.5, -0.5, 1e6, 65536, 3, null, "x", "", [], {}, true, [1e9, 1e9], { $nonfinite: "NaN" }, { $nonfinite: "Infinity" }];

/** Every path to a value inside a JSON value: [[key, ...], value]. */
function paths(v, pre = [], out = []) {
  out.push([pre, v]);
  if (v && typeof v === "object") for (const k of Object.keys(v)) paths(v[k], [...pre, Array.isArray(v) ? Number(k) : k], out);
  return out;
}

function setAt(obj, p, val, del) {
  let o = obj;
  for (let i = 0; i < p.length - 1; i++) o = o[p[i]];
  const k = p[p.length - 1];
  if (del) Array.isArray(o) ? o.splice(k, 1) : delete o[k];
  else o[k] = val;
}

/** One mutation of `file`: returns [kind, bytes]. */
function mutate(r, crc32, file) {
  const pick = (a) => a[Math.floor(r() * a.length)];
  const int = (n) => Math.floor(r() * n);
  const b = file.slice();
  const kind = pick(["truncate", "flip", "flip+crc", "data+crc", "hlen", "hlen+crc", "json-text", "json-value", "json-value", "json-value", "json-delete", "tensor-table", "version", "append", "garbage"]);
  const { header, data, version } = parts(file);
  switch (kind) {
    case "truncate":
      return [kind, b.subarray(0, int(b.length))];
    case "flip":
    case "flip+crc": {
      for (let k = 1 + int(4); k > 0; k--) b[int(b.length)] ^= 1 << int(8);
      return [kind, kind === "flip" ? b : fixCrc(crc32, b)];
    }
    case "data+crc": {
      // Change weights, sometimes to NaN / Infinity bit patterns.
      const d = data.slice();
      for (let k = 1 + int(4); k > 0 && d.length >= 4; k--) {
        const at = int(d.length >> 2) * 4;
        if (r() < 0.5) d.set(pick([[0, 0, 0xc0, 0x7f], [0, 0, 0x80, 0x7f], [0, 0, 0x80, 0xff], [1, 2, 3, 4]]), at);
        else d[at + int(4)] ^= 1 << int(8);
      }
      return [kind, assemble(crc32, header, d, version)];
    }
    case "hlen":
    case "hlen+crc": {
      const dv = new DataView(b.buffer);
      dv.setUint32(12, pick([0xffffffff, 0x7fffffff, b.length, b.length - 15, dv.getUint32(12, true) + 1 + int(64), int(b.length)]) >>> 0, true);
      return [kind, kind === "hlen" ? b : fixCrc(crc32, b)];
    }
    case "json-text": {
      let t = header;
      for (let k = 1 + int(3); k > 0; k--) {
        const at = int(t.length);
        const op = int(3);
        if (op === 0) t = t.slice(0, at) + t.slice(at + 1 + int(8));
        else if (op === 1) t = t.slice(0, at) + pick(["{", "}", "[", "]", '"', ":", ",", "-", "9", "e", "\\", "\u00ff", "null", "1e999"]) + t.slice(at);
        else t = t.slice(0, at) + t.slice(int(t.length), int(t.length)) + t.slice(at);
      }
      return [kind, assemble(crc32, t, data, version)];
    }
    case "json-value":
    case "json-delete":
    case "tensor-table": {
      const h = JSON.parse(header);
      const all = paths(h).filter(([p]) => p.length > 0);
      const scoped = kind === "tensor-table" ? all.filter(([p]) => p[0] === "tensors" && p.length >= 3) : all;
      const [p] = pick(scoped.length ? scoped : all);
      setAt(h, p, structuredClone(pick(NASTY)), kind === "json-delete");
      return [kind, assemble(crc32, JSON.stringify(h), data, version)];
    }
    case "version":
      return [kind, assemble(crc32, header, data, pick([0, 2, 3, 0xffffffff]))];
    case "append": {
      const extra = Uint8Array.from({ length: 1 + int(64) }, () => int(256));
      const out = new Uint8Array(b.length + extra.length);
      out.set(b);
      out.set(extra, b.length);
      return [kind, r() < 0.5 ? out : fixCrc(crc32, out)];
    }
    default: {
      const n = int(200);
      const g = Uint8Array.from({ length: n }, () => int(256));
      if (n >= 8 && r() < 0.5) g.set([0x55, 0x4e, 0x46, 0x4f, 0x4c, 0x44, 0x52, 0x4e]);
      return [kind, r() < 0.5 ? g : fixCrc(crc32, g)];
    }
  }
}

/** The base files: written by `unfold train` and by saveModel. */
async function baseFiles(lib) {
  const { Sequential, Seq2Seq, Vocab, saveModel } = lib;
  const files = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "unfold-fuzz-"));
  try {
    fs.writeFileSync(path.join(dir, "c.txt"), "to be or not to be, that is the question. ".repeat(20));
    const r = spawnSync(process.execPath, [path.join(root, "dist", "cli", "main.js"), "train", "c.txt", "--hidden", "6", "--layers", "2", "--dropout", "0.1", "--embedding", "3", "--seq", "6", "--batch", "2", "--steps", "3", "--checkpoint-every", "0", "--sample-every", "0", "--out", "m.unfold"], { cwd: dir, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`unfold train failed: ${r.stderr}`);
    files.push({ name: "cli-lm", bytes: new Uint8Array(fs.readFileSync(path.join(dir, "m.unfold"))) });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  // The same LM as an int8 file (format version 3: int8 tensors, row scales) and with f16 weights.
  {
    const { quantize } = lib;
    const lm = lib.loadModel(files[0].bytes);
    const q = quantize(lm.model, { bits: 8 });
    files.push({ name: "cli-lm-int8", bytes: saveModel(q, { vocab: lm.vocab, meta: lm.meta }) });
    files.push({ name: "cli-lm-f16", bytes: saveModel(lm.model, { vocab: lm.vocab, meta: lm.meta, weights: "f16" }) });
    q.dispose();
    lm.model.trainState.optimizer?.dispose();
    lm.model.dispose();
  }
  const s2s = new Seq2Seq({ source: { type: "tokens", vocabSize: 5, embeddingDim: 3 }, target: { vocabSize: 6, embeddingDim: 2, bosId: 0, eosId: 1 }, recurrent: { cell: "lstm", hiddenSize: 4, numLayers: 2 }, seed: 1 });
  s2s.fit({ sources: [[1, 2], [3, 4, 1]], targets: [[2, 3], [4]] }, { epochs: 2, batchSize: 2 });
  const v = Vocab.fromChars("abcd");
  files.push({ name: "seq2seq", bytes: saveModel(s2s, { vocab: v, targetVocab: v, meta: { note: "fuzz" } }) });
  s2s.trainState.optimizer?.dispose();
  s2s.dispose();
  const bi = new Sequential({ input: { type: "features", size: 2 }, recurrent: [{ cell: "gru", hiddenSize: 3, bidirectional: true }], output: { size: 2, loss: "mse" }, mode: "many-to-one" });
  bi.fit({ inputs: [[1, 2, 3, 4], [0, 1, 1, 0]], targets: [[1, 0], [0, 1]] }, { epochs: 1, batchSize: 2, optimizer: { type: "sgd", lr: 0.1, momentum: 0.5 } });
  bi.trainState.history.epochs.push({ epoch: 2, step: 2, loss: NaN, seconds: 0 }); // a non-finite history entry
  files.push({ name: "features", bytes: saveModel(bi) });
  bi.trainState.optimizer?.dispose();
  bi.dispose();
  return files;
}

/** Use a loaded model the way a program would, then free it. */
function exercise(lib, loaded) {
  const { Sequential } = lib;
  const { model } = loaded;
  try {
    if (model instanceof Sequential) {
      if (model.embedding) {
        if (model.spec.mode === "many-to-many" && model.recurrent.every((r) => r.numDirections === 1)) model.generate([0], { length: 2, seed: 1 });
        else model.predict([[0, 0]]);
      } else model.predict([new Array(model.inputSize * 2).fill(0.5)]);
    } else if (model.spec.source.type === "tokens") model.generate([[0]], { maxLength: 2 });
    else model.generate([new Array(model.spec.source.size).fill(0.5)], { maxLength: 2 });
  } finally {
    model.trainState.optimizer?.dispose();
    model.dispose();
  }
}

/**
 * @param {{ mutations?: number, seed?: number, log?: (s: string) => void }} o
 */
export async function fuzzModelFile({ mutations = 2000, seed = 1, log = () => {} } = {}) {
  const lib = await dist("index.js");
  const { heap } = await dist("runtime/wasm.js");
  const { info } = await dist("cli/info.js");
  const { CliError } = await dist("cli/common.js");
  await lib.init();
  const { crc32, loadModel, UnfoldError } = lib;
  const bases = await baseFiles(lib);
  // Warm up: load and use each base once, so the heap's high-water mark covers a valid load.
  for (const f of bases) exercise(lib, loadModel(f.bytes));
  const mem = () => heap().f32(0, 0).buffer.byteLength;
  const live0 = heap().liveBytes;
  const maxFile = Math.max(...bases.map((f) => f.bytes.length));
  const memCap = mem() + 16 * maxFile + (1 << 20); // a mutated file is never bigger in what it may allocate
  const r = rng(seed);
  const stats = { mutations, loaded: 0, rejected: 0, byKind: {}, byReason: {}, slowestMs: 0, memGrowth: 0, memCap: memCap - mem() };
  for (let i = 0; i < mutations; i++) {
    const base = bases[Math.floor(r() * bases.length)];
    const [kind, bytes] = mutate(r, crc32, base.bytes);
    const t0 = performance.now();
    let outcome;
    try {
      const loaded = loadModel(bytes);
      outcome = "loaded";
      exercise(lib, loaded);
      // A file that loads must also be shown by `unfold info` (a char LM from the CLI).
      if (base.name.startsWith("cli-lm")) await infoOf(info, CliError, bytes);
    } catch (err) {
      if (!(err instanceof UnfoldError)) {
        throw new Error(`mutation ${i} (${kind} of ${base.name}, seed ${seed}): not an UnfoldError: ${err?.stack ?? err}`);
      }
      outcome = err.code + (err.reason ? `/${err.reason}` : "");
    }
    const ms = performance.now() - t0;
    stats.slowestMs = Math.max(stats.slowestMs, ms);
    if (ms > 10_000) throw new Error(`mutation ${i} (${kind} of ${base.name}) took ${ms.toFixed(0)} ms`);
    if (heap().liveBytes !== live0) throw new Error(`mutation ${i} (${kind} of ${base.name}, ${outcome}): ${heap().liveBytes - live0} bytes of WASM memory left allocated`);
    if (mem() > memCap) throw new Error(`mutation ${i} (${kind} of ${base.name}): WASM memory grew to ${mem()} bytes, over the cap ${memCap}`);
    if (outcome === "loaded") stats.loaded++;
    else stats.rejected++;
    stats.byKind[kind] = (stats.byKind[kind] ?? 0) + 1;
    stats.byReason[outcome] = (stats.byReason[outcome] ?? 0) + 1;
    if ((i + 1) % 10000 === 0) log(`${i + 1} mutations: ${stats.loaded} loaded, ${stats.rejected} rejected`);
  }
  stats.memGrowth = mem() - (memCap - 16 * maxFile - (1 << 20));
  return stats;
}

/** Run `unfold info` on bytes (through a temp file), stdout captured: a CliError (one line) is fine, anything else is a crash. */
async function infoOf(info, CliError, bytes) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "unfold-fuzz-info-"));
  const file = path.join(dir, "m.unfold");
  fs.writeFileSync(file, bytes);
  const write = process.stdout.write;
  process.stdout.write = () => true;
  try {
    await info(file);
  } catch (err) {
    if (!(err instanceof CliError)) throw new Error(`unfold info crashed on a file that loads: ${err?.stack ?? err}`);
  } finally {
    process.stdout.write = write;
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const n = Number(process.argv[2] ?? 100000);
  const seed = Number(process.argv[3] ?? 1);
  const t0 = Date.now();
  const s = await fuzzModelFile({ mutations: n, seed, log: (m) => console.log(m) });
  console.log(JSON.stringify(s, null, 1));
  console.log(`ok: ${n} mutations, ${s.loaded} loaded and worked, ${s.rejected} rejected with an UnfoldError; slowest ${s.slowestMs.toFixed(1)} ms; ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}
