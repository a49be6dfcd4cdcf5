// Streaming inference (issue 11): per-token latency of a session at batch 1,
// 1-layer LSTM H = 256, vocabulary 100 (embedding 64), one thread — a token
// fed and the next one drawn (`s.sample()`) — against the batched path that
// model.generate() uses (forward of T = 1, B = 1 on the GEMM kernels, state
// carried), measured alternately in the same process.
import { init } from "../dist/runtime/wasm.js";
import { Sequential } from "../dist/model/sequential.js";
import { sampleToken } from "../dist/model/sampling.js";
import { heap } from "../dist/runtime/wasm.js";
import { Rng } from "../dist/util/rng.js";
import { time } from "./format.js";

export async function run({ quick = false } = {}) {
  await init(process.env.UNFOLD_WASM || undefined);
  const V = 100, H = 256;
  const model = new Sequential({
    input: { type: "tokens", vocabSize: V, embeddingDim: 64 },
    recurrent: [{ cell: "lstm", hiddenSize: H }],
    output: { size: V, loss: "xent" },
    mode: "many-to-many",
    seed: 1,
  });
  const opt = { maxTime: quick ? 0.5 : 2, minSamples: quick ? 3 : 8 };
  const N = 200; // tokens per timed call
  const s = model.session({ seed: 1 });
  s.feed([1, 2, 3]);
  const sessionCase = () => {
    for (let i = 0; i < N; i++) s.sample({ temperature: 1 });
  };
  const rng = new Rng(1);
  let id = 3;
  model.forwardPtr({ T: 1, B: 1, ids: Int32Array.of(id) });
  const batchedCase = () => {
    for (let i = 0; i < N; i++) {
      model.carryState();
      const { out } = model.forwardPtr({ T: 1, B: 1, ids: Int32Array.of(id) }, { state: "keep" });
      id = sampleToken(heap().f32(out, V).slice(), rng, { temperature: 1 });
    }
  };
  const results = { session: [], batched: [] };
  for (let round = 0; round < (quick ? 1 : 3); round++) {
    results.session.push((await time("session", sessionCase, opt)).mean / N);
    results.batched.push((await time("batched", batchedCase, opt)).mean / N);
  }
  // CPU time per token as well: on a loaded machine wall time counts the
  // time other processes held the core; process.cpuUsage counts only ours.
  const cpu = (fn) => {
    let bestT = Infinity;
    for (let r = 0; r < 5; r++) {
      const c0 = process.cpuUsage();
      for (let i = 0; i < 10; i++) fn();
      const c = process.cpuUsage(c0);
      bestT = Math.min(bestT, (c.user + c.system) * 1e-6 / (10 * N));
    }
    return bestT;
  };
  const cpuSession = [], cpuBatched = [];
  for (let round = 0; round < 3; round++) {
    cpuSession.push(cpu(sessionCase));
    cpuBatched.push(cpu(batchedCase));
  }
  const best = (a) => Math.min(...a);
  const us = (x) => x * 1e6;
  s.dispose();
  model.dispose();
  return [
    { case: "token latency, LSTM H=256 V=100, B=1", impl: "generate path (T=1 forward)", rate: us(best(results.batched)), unit: "µs/token", ratio: 1, baseline: "generate path" },
    { case: "token latency, LSTM H=256 V=100, B=1", impl: "session.sample()", rate: us(best(results.session)), unit: "µs/token", ratio: best(results.batched) / best(results.session), baseline: "generate path" },
    { case: "token CPU time, LSTM H=256 V=100, B=1", impl: "generate path (T=1 forward)", rate: us(best(cpuBatched)), unit: "µs CPU/token", ratio: 1, baseline: "generate path" },
    { case: "token CPU time, LSTM H=256 V=100, B=1", impl: "session.sample()", rate: us(best(cpuSession)), unit: "µs CPU/token", ratio: best(cpuBatched) / best(cpuSession), baseline: "generate path" },
  ];
}
