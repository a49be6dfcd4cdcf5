# workerd config for the edge service. Bundle first (workerd does not read
# node_modules):
#   npx esbuild examples/edge/workerd.js --bundle --format=esm --conditions=workerd,worker,browser \
#     --external:./unfold.wasm --outfile=examples/edge/out/worker.js
#   cp node_modules/unfold-rnn/build/unfold.wasm model.unfold examples/edge/out/   # or build/unfold.wasm in this repo
#   npx workerd serve examples/edge/workerd.capnp
# then: curl 'http://127.0.0.1:8787/generate?prime=The%20&length=100&temperature=0.8&seed=1'
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [ (name = "edge", worker = .worker) ],
  sockets = [ (name = "http", address = "127.0.0.1:8787", http = (), service = "edge") ],
);

const worker :Workerd.Worker = (
  modules = [
    (name = "worker.js", esModule = embed "out/worker.js"),
    (name = "unfold.wasm", wasm = embed "out/unfold.wasm"),
  ],
  bindings = [ (name = "MODEL", data = embed "out/model.unfold") ],
  compatibilityDate = "2025-06-01",
);
