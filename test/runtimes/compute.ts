// The workload every runtime test runs: init() the kernels from a given source,
// then an LSTM and a GRU with fixed seeds, forward and backward on fixed inputs.
// The library comes in as a parameter so that the same code runs against src/
// (bundled by esbuild) or dist/ (loaded unbundled, as a user would).
//
// Inputs are built with exact arithmetic only (no Math.sin etc., whose last bit
// may differ between V8 and JavaScriptCore), so every runtime sees the same bits.
import type * as Lib from "../../src/index.js";

export type Library = Pick<typeof Lib, "init" | "hasWasmSimd" | "LSTM" | "GRU">;
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
  return { runtime, simd: lib.hasWasmSimd(), lstm: runLayer(lstm, true), gru: runLayer(gru, false) };
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
