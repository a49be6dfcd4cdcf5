// Bun entry: bun examples/edge/bun.js model.unfold [port]
// Serves the edge service with Bun.serve on 127.0.0.1 (port 0: any free port)
// and prints {"listening":"http://127.0.0.1:PORT"} once it listens.
import service from "./service.js";

const [modelPath = "model.unfold", port = "8787"] = Bun.argv.slice(2);
const env = { MODEL: new Uint8Array(await Bun.file(modelPath).arrayBuffer()) };
const server = Bun.serve({ hostname: "127.0.0.1", port: Number(port), fetch: (request) => service.fetch(request, env) });
console.log(JSON.stringify({ listening: `http://${server.hostname}:${server.port}` }));
