// The Keras cell variants against the PyTorch cells, same shapes, alternating in one
// process (W1 shape: T=64 B=32 I=64 H=256; forward, then backward of a random dOutput):
// GRU resetAfter false (two recurrent GEMMs per step inside one call) and
// hard-sigmoid gates. Median of 10 rounds after 2 warm-up rounds.
//   node bench/cell-variants.js   (after npm run build)
import { init, GRU, LSTM } from "../dist/index.node.js";
await init();
const T = 64, B = 32, I = 64, H = 256;
const x = Float32Array.from({ length: T * B * I }, (_, i) => Math.sin(i));
const dOut = Float32Array.from({ length: T * B * H }, (_, i) => Math.cos(i) * 0.01);
const mk = (o) => new GRU({ inputSize: I, hiddenSize: H, seed: 1, ...o });
const models = { "GRU resetAfter=true": mk({}), "GRU resetAfter=false": mk({ resetAfter: false }), "GRU hard_sigmoid": mk({ gateActivation: "hard_sigmoid" }),
  "LSTM sigmoid": new LSTM({ inputSize: I, hiddenSize: H, seed: 1 }), "LSTM hard_sigmoid": new LSTM({ inputSize: I, hiddenSize: H, seed: 1, gateActivation: "hard_sigmoid" }) };
const times = Object.fromEntries(Object.keys(models).map((k) => [k, { f: [], b: [] }]));
for (let rep = 0; rep < 12; rep++) {
  for (const [k, m] of Object.entries(models)) {
    const t0 = performance.now();
    m.forward(x, { batchSize: B });
    const t1 = performance.now();
    m.backward({ dOutput: dOut });
    const t2 = performance.now();
    if (rep >= 2) { times[k].f.push(t1 - t0); times[k].b.push(t2 - t1); }
  }
}
const med = (a) => a.sort((p, q) => p - q)[a.length >> 1];
const base = { f: med(times["GRU resetAfter=true"].f), b: med(times["GRU resetAfter=true"].b) };
const lb = { f: med(times["LSTM sigmoid"].f), b: med(times["LSTM sigmoid"].b) };
for (const [k, t] of Object.entries(times)) {
  const ref = k.startsWith("LSTM") ? lb : base;
  console.log(`${k.padEnd(22)} forward ${med(t.f).toFixed(1)} ms (x${(med(t.f) / ref.f).toFixed(2)})  backward ${med(t.b).toFixed(1)} ms (x${(med(t.b) / ref.b).toFixed(2)})`);
}
