/**
 * Installs the Node side of loading (platform-node.ts: files from disk,
 * worker_threads). Imported by the `node` entry points (index.node.ts,
 * inline.node.ts) and the CLI; never by anything a browser bundle reaches.
 * @internal
 */
import * as node from "./platform-node.js";
import { usePlatform } from "./platform.js";

usePlatform(node);
