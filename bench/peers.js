// Peer libraries for side-by-side runs in the same process.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

/** W3 (../shared/DESIGN.md): char-LSTM, vocabulary 65, embedding 65, hidden 128, sequence 25, batch 1. */
export const W3 = { V: 65, E: 65, H: 128, S: 25, calls: 8 };

/** Real text: the default corpus of `unfold train` (State of the Union addresses). */
export function corpusText(limit = 200_000) {
  return readFileSync(new URL("../corpus/sotu.txt", import.meta.url), "utf8").slice(0, limit);
}

/** W3's text: the corpus with only its W3.V most frequent characters kept; and its ids. Every peer (and the CLI run) trains on it. */
export function w3Text() {
  const text = corpusText(40_000);
  const freq = new Map();
  for (const c of text) freq.set(c, (freq.get(c) ?? 0) + 1);
  const chars = [...freq].sort((a, b) => b[1] - a[1]).slice(0, W3.V).map(([c]) => c);
  const idx = new Map(chars.map((c, i) => [c, i]));
  const kept = [...text].filter((c) => idx.has(c));
  return { text: kept.join(""), ids: kept.map((c) => idx.get(c)) };
}

/** TensorFlow.js with its WASM backend (single-threaded in Node), or null if not installed. */
export async function loadTfjs(backend = "wasm") {
  try {
    const tf = await import("@tensorflow/tfjs-core");
    const tfl = await import("@tensorflow/tfjs-layers");
    await import("@tensorflow/tfjs-backend-cpu");
    if (backend === "wasm") {
      const { setWasmPaths } = await import("@tensorflow/tfjs-backend-wasm");
      const require = createRequire(import.meta.url);
      setWasmPaths(path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm")) + "/");
    }
    await tf.setBackend(backend);
    await tf.ready();
    return { tf, tfl };
  } catch (err) {
    console.warn(`(TensorFlow.js ${backend} backend not available: ${err.message})`);
    return null;
  }
}
