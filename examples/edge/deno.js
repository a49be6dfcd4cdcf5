// Deno entry: deno run --allow-read --allow-net examples/edge/deno.js model.unfold [port]
// Serves the edge service with Deno.serve on 127.0.0.1 (port 0: any free port)
// and prints {"listening":"http://127.0.0.1:PORT"} once it listens.
import service from "./service.js";

const [modelPath = "model.unfold", port = "8787"] = Deno.args;
const env = { MODEL: await Deno.readFile(modelPath) };
Deno.serve(
  { hostname: "127.0.0.1", port: Number(port), onListen: ({ hostname, port }) => console.log(JSON.stringify({ listening: `http://${hostname}:${port}` })) },
  (request) => service.fetch(request, env),
);
