/**
 * The types of the package's `.wasm` subpaths (`unfold-rnn/unfold.wasm`,
 * `unfold-rnn/unfold-mt.wasm`, `unfold-rnn/unfold-relaxed.wasm`,
 * `unfold-rnn/unfold-relaxed-mt.wasm`), for the bundler recipe that imports
 * the file's URL: esbuild's `--loader:.wasm=file` (and Vite's `?url`, webpack's
 * `asset/resource`) turn the import into the emitted file's path, which
 * `init(new URL(wasmUrl, import.meta.url))` then fetches.
 *
 * ```ts
 * import wasmUrl from "unfold-rnn/unfold.wasm";
 * await init(new URL(wasmUrl, import.meta.url));
 * ```
 */
declare const wasmUrl: string;
export default wasmUrl;
