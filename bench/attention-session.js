// Streaming attention decoders (issue 15): per-token latency of
// seq2seq.session(source) with attention ('general' score, 1-layer LSTM
// H = 256, target vocabulary 100, embedding 64, a source of S = 20 tokens),
// one thread — a token fed and the next one drawn (`s.sample()`) — against
// the batched path generate() uses (one decoder step of T = 1, B = 1 on the
// GEMM kernels and the attention block, state carried), alternately in the
// same process. Wall time and CPU time.
import { init } from "../dist/runtime/wasm.js";
import { Seq2Seq } from "../dist/model/seq2seq.js";
import { sampleToken } from "../dist/model/sampling.js";
import { Rng } from "../dist/util/rng.js";
import { time } from "./format.js";

export async function run({ quick = false } = {}) {
  await init(process.env.UNFOLD_WASM || undefined);
  const V = 100, H = 256, S = 20;
  const results = [];
  for (const score of ["general", "additive"]) {
    const m = new Seq2Seq({
      source: { type: "tokens", vocabSize: V, embeddingDim: 64 },
      target: { vocabSize: V, embeddingDim: 64, bosId: 0, eosId: 1 },
      recurrent: { cell: "lstm", hiddenSize: H },
      attention: score,
      seed: 1,
    });
    const source = Array.from({ length: S }, (_, i) => 2 + ((i * 7) % (V - 2)));
    const opt = { maxTime: quick ? 0.5 : 2, minSamples: quick ? 3 : 8 };
    const N = 100; // tokens per timed call
    const s = m.session(source, { seed: 1 });
    s.feed([0]);
    const sessionCase = () => {
      for (let i = 0; i < N; i++) s.sample({ temperature: 1 });
    };
    // generate()'s own step (Seq2Seq.decodeStep, private in TypeScript) from the encoder's state.
    m.encode([source], false);
    const rng = new Rng(1);
    let ids = Int32Array.of(0);
    const batchedCase = () => {
      for (let i = 0; i < N; i++) {
        const logits = m.decodeStep(ids, 1);
        ids = Int32Array.of(sampleToken(logits, rng, { temperature: 1 }));
      }
    };
    const wall = { session: [], batched: [] };
    for (let round = 0; round < (quick ? 1 : 3); round++) {
      wall.session.push((await time("session", sessionCase, opt)).mean / N);
      wall.batched.push((await time("batched", batchedCase, opt)).mean / N);
    }
    const cpu = (fn) => {
      let best = Infinity;
      for (let r = 0; r < 5; r++) {
        const c0 = process.cpuUsage();
        for (let i = 0; i < 5; i++) fn();
        const c = process.cpuUsage(c0);
        best = Math.min(best, (c.user + c.system) * 1e-6 / (5 * N));
      }
      return best;
    };
    const cpuS = [], cpuB = [];
    for (let round = 0; round < 3; round++) {
      cpuS.push(cpu(sessionCase));
      cpuB.push(cpu(batchedCase));
    }
    const best = (a) => Math.min(...a);
    const us = (x) => x * 1e6;
    const c = `${score} attention, LSTM H=256 V=100 S=20, B=1`;
    results.push(
      { case: `token latency, ${c}`, impl: "generate path (T=1 step)", rate: us(best(wall.batched)), unit: "µs/token", ratio: 1, baseline: "generate path" },
      { case: `token latency, ${c}`, impl: "session.sample()", rate: us(best(wall.session)), unit: "µs/token", ratio: best(wall.batched) / best(wall.session), baseline: "generate path" },
      { case: `token CPU time, ${c}`, impl: "generate path (T=1 step)", rate: us(best(cpuB)), unit: "µs CPU/token", ratio: 1, baseline: "generate path" },
      { case: `token CPU time, ${c}`, impl: "session.sample()", rate: us(best(cpuS)), unit: "µs CPU/token", ratio: best(cpuB) / best(cpuS), baseline: "generate path" },
    );
    s.dispose();
    m.dispose();
  }
  return results;
}
