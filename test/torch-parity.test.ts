// Tier 3: the WASM layers against PyTorch 1.13 itself. The fixtures in
// test/fixtures/torch/ were made by tools/torch_fixtures.py (float64 torch.nn
// modules); CI reads them and does not need PyTorch.
//
// Tolerance: our layers compute in float32, so a scaled error
// max|ours - torch| / max|torch| of a few 1e-7 per operation, compounding
// over T steps and layers, is expected; 1e-4 is the target and far
// below what a wrong gate order or a missing term produces (>= 1e-2).
import { readdirSync, readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { GRU, LSTM, type Recurrent, SimpleRNN } from "../src/layers/recurrent.js";
import { loadKernels, scaledErr } from "./helpers.js";

const dir = new URL("./fixtures/torch/", import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith(".json")).sort();

beforeAll(async () => {
  await loadKernels();
});


describe("PyTorch parity", () => {
  it("has fixtures for every cell kind", () => {
    expect(files.length).toBeGreaterThanOrEqual(7);
    const kinds = new Set(files.map((f) => JSON.parse(readFileSync(new URL(f, dir), "utf8")).config.kind));
    expect([...kinds].sort()).toEqual(["gru", "lstm", "rnn_relu", "rnn_tanh"]);
  });

  for (const file of files) {
    it(file, () => {
      const f = JSON.parse(readFileSync(new URL(file, dir), "utf8"));
      const c = f.config;
      const opts = { inputSize: c.inputSize, hiddenSize: c.hiddenSize, numLayers: c.numLayers, bidirectional: c.bidirectional };
      const m: Recurrent =
        c.kind === "lstm" ? new LSTM(opts) : c.kind === "gru" ? new GRU(opts) : new SimpleRNN({ ...opts, nonlinearity: c.kind === "rnn_relu" ? "relu" : "tanh" });
      m.loadStateDict(f.state_dict);
      const y = m.forward(f.x, { batchSize: c.B, h0: f.h0, c0: f.c0 });
      const errs: Record<string, number> = { output: scaledErr(y.output, f.output), hN: scaledErr(y.hN, f.hN) };
      if (f.cN) errs.cN = scaledErr(y.cN!, f.cN);
      const g = m.backward({ dOutput: f.dOutput, dhN: f.dhN, dcN: f.dcN });
      errs.dInput = scaledErr(g.dInput, f.dInput);
      errs.dh0 = scaledErr(g.dh0, f.dh0);
      if (f.dc0) errs.dc0 = scaledErr(g.dc0!, f.dc0);
      const grads = m.gradStateDict();
      for (const name of Object.keys(f.grads)) errs[name] = scaledErr(grads[name], f.grads[name]);
      const worst = Math.max(...Object.values(errs));
      console.log(`${file}: worst scaled error ${worst.toExponential(2)}`);
      for (const [name, e] of Object.entries(errs)) expect(e, name).toBeLessThan(1e-4);
      m.dispose();
    });
  }
});
