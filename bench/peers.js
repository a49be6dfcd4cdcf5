// Peer libraries for side-by-side runs in the same process.
import { createRequire } from "node:module";
import path from "node:path";

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
