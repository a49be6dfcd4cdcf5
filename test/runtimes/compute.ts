// The workload every runtime test runs: init() the kernels from a given source,
// then an LSTM and a GRU with fixed seeds, forward and backward on fixed inputs.
// The library comes in as a parameter so that the same code runs against src/
// (bundled by esbuild) or dist/ (loaded unbundled, as a user would).
//
// Inputs are built with exact arithmetic only (no Math.sin etc., whose last bit
// may differ between V8 and JavaScriptCore), so every runtime sees the same bits.
import type * as Lib from "../../src/index.js";

export type Library = Pick<typeof Lib, "init" | "hasWasmSimd" | "simdBuild" | "LSTM" | "GRU" | "Sequential" | "Vocab" | "threadCount">;
type Source = Parameters<typeof Lib.init>[0];

/**
 * Every float32 result as its uint32 bit patterns, so that JSON carries them
 * exactly (JSON would turn -0 into 0 and NaN into null). See {@link fromBits}.
 */
export interface LayerResult {
  output: number[];
  hN: number[];
  cN?: number[];
  dInput: number[];
  dh0: number[];
  dc0?: number[];
  grads: Record<string, number[]>;
}

export interface RuntimeResult {
  /** Which runtime produced it (user agent or version string). */
  runtime: string;
  simd: boolean;
  /** The SIMD build init() loaded: "plain" (bit-reproducible) or "relaxed" (FMA). */
  build: "plain" | "relaxed";
  lstm: LayerResult;
  gru: LayerResult;
}

/** n deterministic values in [-1, 1), different for each `salt`. */
export function fixedArray(n: number, salt: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = (((i + 1) * 7919 + salt * 104729) % 211) / 105.5 - 1;
  return a;
}

const T = 5;
const B = 3;
const I = 4;

/** The bit patterns of float32 values. */
export function bits(a: ArrayLike<number>): number[] {
  return Array.from(new Uint32Array(Float32Array.from(a).buffer));
}

/** The float32 values of bit patterns made by {@link bits}. */
export function fromBits(b: number[]): Float32Array {
  return new Float32Array(Uint32Array.from(b).buffer);
}

function arr(a: ArrayLike<number> | undefined): number[] | undefined {
  return a === undefined ? undefined : bits(a);
}

function runLayer(layer: InstanceType<Library["LSTM"]> | InstanceType<Library["GRU"]>, lstm: boolean): LayerResult {
  const L = layer.numLayers * (layer.bidirectional ? 2 : 1);
  const H = layer.hiddenSize;
  const outF = (layer.bidirectional ? 2 : 1) * H;
  const x = fixedArray(T * B * I, 1);
  const h0 = fixedArray(L * B * H, 2);
  const c0 = lstm ? fixedArray(L * B * H, 3) : undefined;
  const f = layer.forward(x, { batchSize: B, h0, c0 });
  const b = layer.backward({
    dOutput: fixedArray(T * B * outF, 4),
    dhN: fixedArray(L * B * H, 5),
    dcN: lstm ? fixedArray(L * B * H, 6) : undefined,
  });
  const grads: Record<string, number[]> = {};
  for (const [name, g] of Object.entries(layer.gradStateDict())) grads[name] = bits(g);
  return {
    output: bits(f.output),
    hN: bits(f.hN),
    cN: arr(f.cN),
    dInput: bits(b.dInput),
    dh0: bits(b.dh0),
    dc0: arr(b.dc0),
    grads,
  };
}

/** init(source), then run the LSTM and GRU workload. */
export async function compute(lib: Library, source: Source, runtime: string): Promise<RuntimeResult> {
  await lib.init(source);
  const lstm = new lib.LSTM({ inputSize: I, hiddenSize: 6, seed: 42 });
  const gru = new lib.GRU({ inputSize: I, hiddenSize: 5, numLayers: 2, bidirectional: true, seed: 7 });
  return { runtime, simd: lib.hasWasmSimd(), build: lib.simdBuild(), lstm: runLayer(lstm, true), gru: runLayer(gru, false) };
}

/** The error message of init(source), or null if it succeeded. */
export async function initError(lib: Library, source: Source): Promise<string | null> {
  try {
    await lib.init(source);
    return null;
  } catch (err) {
    return String((err as Error)?.message ?? err);
  }
}

/** What {@link train} returns: a checksum of every weight after training, and the losses on the way, as bits. */
export interface TrainResult {
  runtime: string;
  steps: number;
  /** FNV-1a over the bytes of every state-dict tensor, in name order. */
  checksum: string;
  /** The number of weights hashed. */
  weights: number;
  /** float32 bits of the mean training loss of each epoch. */
  losses: number[];
}

/** FNV-1a (32-bit) over the bytes of float32 tensors: equal hashes, equal bits (for all practical purposes). */
export function fnv1a(arrays: Float32Array[]): string {
  let h = 0x811c9dc5;
  for (const a of arrays) {
    const b = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193) >>> 0;
  }
  return h.toString(16).padStart(8, "0");
}

/**
 * Item 6 of issue 8, "training bit for bit everywhere": init(source), then 50
 * training steps of a small character-level LSTM language model (embedding,
 * LSTM, dense head, Adam, gradient clipping, truncated BPTT over a token
 * stream, shuffled windows) with fixed seeds; the weights' checksum must be
 * the same in every runtime.
 */
export async function train(lib: Library, source: Source, runtime: string): Promise<TrainResult> {
  await lib.init(source);
  const text = "the cat sat on the mat. the dog ate the log. a rat and a bat met the cat. ".repeat(6);
  const vocab = lib.Vocab.fromChars(text);
  const model = new lib.Sequential({
    input: { type: "tokens", vocabSize: vocab.size, embeddingDim: 8 },
    recurrent: [{ cell: "lstm", hiddenSize: 24 }],
    output: { size: vocab.size, loss: "xent" },
    mode: "many-to-many",
    seed: 11,
  });
  const h = model.fit(
    { stream: vocab.encode(text) },
    { epochs: 1000, steps: 50, batchSize: 4, tbptt: { k1: 12 }, optimizer: { type: "adam", lr: 0.01 }, clipNorm: 1 },
  );
  const sd = model.stateDict();
  const names = Object.keys(sd).sort();
  const tensors = names.map((n) => Float32Array.from(sd[n] as ArrayLike<number>));
  return {
    runtime,
    steps: h.steps,
    checksum: fnv1a(tensors),
    weights: tensors.reduce((n, t) => n + t.length, 0),
    losses: bits(h.epochs.map((e) => e.loss)),
  };
}

/** What {@link threaded} returns. */
export interface ThreadsResult {
  runtime: string;
  threads: number;
  /** Bits of an LSTM's output, big enough that its GEMMs are split across the threads. */
  output: number[];
}

/**
 * init(options) (e.g. `{ threads: 2 }`), then one LSTM forward whose
 * recurrent GEMMs (B=16, H=64: [16, 64] x [64, 256]) are big enough to be
 * split across threads; the bits must equal one thread's.
 */
export async function threaded(lib: Library, options: { threads: number; simd?: "plain" | "relaxed" }, runtime: string): Promise<ThreadsResult> {
  await lib.init(options);
  const lstm = new lib.LSTM({ inputSize: 8, hiddenSize: 64, seed: 3 });
  const { output } = lstm.forward(fixedArray(6 * 16 * 8, 9), { batchSize: 16 });
  return { runtime, threads: lib.threadCount(), output: bits(output) };
}
