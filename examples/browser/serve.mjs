#!/usr/bin/env node
// `npm run demo`: serve the repository root on 127.0.0.1 and print the demo's
// URL. Cross-origin isolated (COOP/COEP headers), so the page could also use
// SharedArrayBuffer and `init({ threads })`. Only the folders a page needs are
// served (dist/, build/, examples/, docs/), read-only, never outside them.
//
//   node examples/browser/serve.mjs            # port 8080, or a free one if taken
//   PORT=0 node examples/browser/serve.mjs     # any free port
import { readFile, stat } from "node:fs/promises";
import { createServer } from "node:http";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url)).replace(/[\\/]$/, "");
const SERVED = ["dist", "build", "examples", "docs"];
const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".txt": "text/plain; charset=utf-8",
  ".md": "text/plain; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".wasm": "application/wasm",
};
const ISOLATION = {
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-embedder-policy": "require-corp",
  "cross-origin-resource-policy": "same-origin",
};

/** The file for a URL path, or null when it is outside the served folders. */
function resolvePath(urlPath) {
  const rel = normalize(decodeURIComponent(urlPath)).replace(/^[\\/]+/, "");
  const top = rel.split(/[\\/]/)[0];
  if (!SERVED.includes(top)) return null;
  const file = join(ROOT, rel);
  return file.startsWith(join(ROOT, top) + sep) || file === join(ROOT, top) ? file : null;
}

/**
 * Start the demo server.
 * @param {{ port?: number, host?: string }} [o] port 0 picks a free one
 * @returns {Promise<{ url: string, demoUrl: string, close(): Promise<void> }>}
 */
export async function startDemoServer({ port = 0, host = "127.0.0.1" } = {}) {
  const server = createServer(async (req, res) => {
    const send = (code, type, body, extra = {}) => {
      res.writeHead(code, { "content-type": type, "cache-control": "no-store", ...ISOLATION, ...extra });
      res.end(req.method === "HEAD" ? undefined : body);
    };
    if (req.method !== "GET" && req.method !== "HEAD") return send(405, "text/plain", "method not allowed", { allow: "GET, HEAD" });
    let path;
    try {
      path = new URL(req.url ?? "/", "http://x").pathname;
    } catch {
      return send(400, "text/plain", "bad request");
    }
    if (path === "/" || path === "/examples/browser") return send(302, "text/plain", "", { location: "/examples/browser/" });
    let file = null;
    try {
      file = resolvePath(path);
    } catch {
      return send(400, "text/plain", "bad request");
    }
    if (!file) return send(404, "text/plain", "not found");
    try {
      if ((await stat(file)).isDirectory()) file = join(file, "index.html");
      send(200, TYPES[extname(file)] ?? "application/octet-stream", await readFile(file));
    } catch {
      send(404, "text/plain", "not found");
    }
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const url = `http://${host}:${server.address().port}`;
  return {
    url,
    demoUrl: `${url}/examples/browser/`,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const wanted = process.env.PORT === undefined ? 8080 : Number(process.env.PORT);
  if (!Number.isInteger(wanted) || wanted < 0 || wanted > 65535) {
    console.error(`PORT must be an integer from 0 to 65535, got ${process.env.PORT}`);
    process.exit(2);
  }
  try {
    await stat(join(ROOT, "dist", "index.js"));
    await stat(join(ROOT, "build", "unfold.wasm"));
  } catch {
    console.error("dist/ or build/unfold.wasm is missing: run `npm run build` first (`npm run demo` does).");
    process.exit(1);
  }
  let s;
  try {
    s = await startDemoServer({ port: wanted });
  } catch (err) {
    if (err.code !== "EADDRINUSE" || process.env.PORT !== undefined) throw err;
    s = await startDemoServer({ port: 0 }); // 8080 is taken: any free port
  }
  console.log(`unfold-rnn demo: ${s.demoUrl}`);
  console.log("(Ctrl-C to stop)");
}
