// The lecture's vanishing gradient (p.20, p.35), measured: with the loss on
// the last step only, ‖∂L/∂h_t‖ shrinks going back in time. A plain RNN loses
// it exponentially; an LSTM whose forget gate starts open (bias 1) keeps the
// cell-state path alive far longer.
import { beforeAll, describe, expect, it } from "vitest";
import { LSTM, SimpleRNN } from "../src/layers/recurrent.js";
import { refGradNormsPerStep } from "../src/reference/layers.js";
import { loadKernels, randArray, Rng } from "./helpers.js";

beforeAll(async () => {
  await loadKernels();
});

describe("vanishing gradients", () => {
  const T = 100, B = 4, I = 8, H = 32;
  const x = randArray(new Rng(1), T * B * I);
  const dhT = new Float32Array(B * H).fill(1);

  function norms(m: SimpleRNN | LSTM): Float64Array {
    m.forward(x, { batchSize: B });
    m.backward({ dhN: dhT, recordGradNorms: true });
    return m.gradNorms();
  }

  it("gradNorms matches the float64 reference", () => {
    const m = new SimpleRNN({ inputSize: I, hiddenSize: H, seed: 2 });
    const got = norms(m);
    const ref = refGradNormsPerStep({ kind: "rnn_tanh", inputSize: I, hiddenSize: H, numLayers: 1, bidirectional: false }, m.stateDict(), x, B, dhT);
    for (let t = 0; t < T; t++) expect(Math.abs(got[t] - ref[t]) / ref[t]).toBeLessThan(1e-3);
  });

  it("at T=100 the SimpleRNN's gradient at t=0 is orders of magnitude below the LSTM's", () => {
    const rnn = norms(new SimpleRNN({ inputSize: I, hiddenSize: H, seed: 3 }));
    const lstm = norms(new LSTM({ inputSize: I, hiddenSize: H, seed: 3, forgetBias: 1 }));
    // Normalise by the norm at the last step, where both start from the same dL/dh_T.
    const rnnRatio = rnn[0] / rnn[T - 1];
    const lstmRatio = lstm[0] / lstm[T - 1];
    console.log(`‖∂L/∂h_0‖ / ‖∂L/∂h_T-1‖: SimpleRNN ${rnnRatio.toExponential(2)}, LSTM(forget bias 1) ${lstmRatio.toExponential(2)}`);
    expect(rnnRatio).toBeLessThan(1e-6 * lstmRatio);
    // And the decay is monotone for the RNN over long spans.
    expect(rnn[0]).toBeLessThan(rnn[50]);
    expect(rnn[50]).toBeLessThan(rnn[T - 1]);
  });
});
