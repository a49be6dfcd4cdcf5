// What the argument checks cost, as a fraction of the call they guard (both
// timed in this process). The checks run once per public call, before any
// state changes (docs/ERRORS.md); the cases are where they weigh most:
//  - LSTM.forward on one step of one sequence (H=128, I=65): the checks of x
//    (array, length, every value finite) and the options vs the whole call;
//  - generate on a char-LSTM (H=128, V=65): the prime and option checks vs
//    generating 100 tokens;
//  - fit on a token stream: checking every id of a 1M-token corpus (done once
//    per fit call) vs one truncated-BPTT update of the CLI's default model
//    (2 x LSTM 256, batch 32, 64 steps).
//   node bench/run.js validation
import { init, LSTM, Sequential } from "../dist/index.js";
import * as v from "../dist/validate.js";
import { time } from "./format.js";

export async function run({ quick = false } = {}) {
  await init();
  const maxTime = quick ? 0.3 : 1;
  const rows = [];
  const ratio = (name, check, call, unit) => {
    rows.push({ case: name, impl: "checks", rate: check.mean * 1e6, unit, ratio: check.mean / call.mean, baseline: "the call" });
    rows.push({ case: name, impl: "the call", rate: call.mean * 1e6, unit });
  };

  // 1. LSTM.forward, B=1, T=1.
  const lstm = new LSTM({ inputSize: 65, hiddenSize: 128 });
  const x = Float32Array.from({ length: 65 }, (_, i) => Math.sin(i));
  const fwd = await time("forward", () => lstm.forward(x), { maxTime });
  const fwdChecks = await time("forward checks", () => {
    v.checkArrayLike("x", x);
    v.checkObject("options", {});
    v.checkInt("batchSize", 1, 1);
    v.checkFinite("x", x);
  }, { maxTime });
  ratio("LSTM.forward B=1 T=1 H=128", fwdChecks, fwd, "µs/call");

  // 2. generate 100 tokens.
  const lm = new Sequential({ input: { type: "tokens", vocabSize: 65, embeddingDim: 32 }, recurrent: [{ cell: "lstm", hiddenSize: 128 }], output: { size: 65, loss: "xent" }, mode: "many-to-many" });
  const prime = Int32Array.from({ length: 16 }, (_, i) => i);
  const opts = { length: 100, temperature: 0.8, topK: 10, seed: 1 };
  const gen = await time("generate", () => lm.generate(prime, opts), { maxTime });
  const genChecks = await time("generate checks", () => {
    v.checkArrayLike("prime", prime);
    v.checkIds("prime", prime, 65);
    v.checkObject("options", opts);
    v.checkInt("length", opts.length, 0);
    v.checkNumber("temperature", opts.temperature, { min: 0, optional: true });
    v.checkOptionalInt("topK", opts.topK, 1);
  }, { maxTime });
  ratio("generate 100 tokens, H=128", genChecks, gen, "µs/call");

  // 3. fit on a stream: the id check of the whole corpus vs one update.
  const n = 1 << 20;
  const stream = Int32Array.from({ length: n }, (_, i) => (i * 7919) % 65);
  const big = new Sequential({ input: { type: "tokens", vocabSize: 65, embeddingDim: 64 }, recurrent: [{ cell: "lstm", hiddenSize: 256, numLayers: 2 }], output: { size: 65, loss: "xent" }, mode: "many-to-many" });
  const part = stream.subarray(0, 32 * 65 * 4);
  const step = await time("one update", () => big.fit({ stream: part }, { steps: 1, batchSize: 32, tbptt: { k1: 64 } }), { maxTime: quick ? 1 : 3, minSamples: 3 });
  const idCheck = await time("id check", () => v.checkIds("stream", stream, 65), { maxTime });
  ratio("fit: check 1M stream ids vs 1 update (2x LSTM 256, B=32, T=64)", idCheck, step, "µs");
  return rows;
}
