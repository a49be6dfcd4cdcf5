// PyTorch parity on padded batches (issue 15): the fixtures in
// test/fixtures/torch-ragged/ were made by tools/torch_ragged_fixtures.py with
// pack_padded_sequence(x, lengths, enforce_sorted=False), computed in float64
// from float32 weights and inputs; the padding holds random values. CI reads
// them and does not need PyTorch.
//
// Tolerance 1e-5, as max |ours - torch| / max |torch| per tensor: our float32
// arithmetic against the float64 answer measures ~1e-6 (printed per file).
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { GRU, LSTM, type Recurrent } from "../src/layers/recurrent.js";
import { Seq2Seq } from "../src/model/seq2seq.js";
import { type Batch, Sequential } from "../src/model/sequential.js";
import { heap } from "../src/runtime/wasm.js";
import { loadKernels, scaledErr } from "./helpers.js";

const TOL = 1e-5;
const dir = new URL("./fixtures/torch-ragged/", import.meta.url);
const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".json")).sort() : [];
const read = (f: string) => JSON.parse(readFileSync(new URL(f, dir), "utf8"));

beforeAll(async () => {
  await loadKernels();
});

function report(file: string, errs: Record<string, number>): void {
  const worst = Object.entries(errs).reduce((w, e) => (e[1] > w[1] ? e : w));
  console.log(`${file}: worst scaled error ${worst[1].toExponential(2)} (${worst[0]})`);
  for (const [n, e] of Object.entries(errs)) expect(e, `${file}: ${n}`).toBeLessThan(TOL);
}

describe("PyTorch parity on padded batches (pack_padded_sequence)", () => {
  it("has fixtures: stacked bidirectional LSTM and GRU layers, Sequential tokens/features x many-to-one/many-to-many, attention Seq2Seq with a bidirectional encoder", () => {
    const layers = files.filter((f) => f.startsWith("layer_")).map((f) => read(f).config);
    expect(layers.filter((c) => c.bidirectional && c.numLayers === 2).map((c) => c.kind).sort()).toEqual(["gru", "lstm"]);
    const models = files.filter((f) => f.startsWith("model_")).map((f) => read(f).spec);
    for (const input of ["tokens", "features"]) for (const mode of ["many-to-one", "many-to-many"]) {
      expect(models.some((s) => s.input.type === input && s.mode === mode && s.recurrent[0].bidirectional), `${input} ${mode}`).toBe(true);
    }
    expect(new Set(models.map((s) => s.recurrent[0].cell))).toEqual(new Set(["lstm", "gru"]));
    // readout "final-states" (torch.cat((h_n[-2], h_n[-1]), 1)): 1 and 2 bidirectional layers
    expect(models.filter((s) => s.readout === "final-states").map((s) => s.recurrent[0].numLayers).sort()).toEqual([1, 2]);
    const s2s = files.filter((f) => f.startsWith("seq2seq_")).map((f) => read(f).spec);
    expect(s2s.some((s) => s.attention && s.recurrent.bidirectional)).toBe(true);
  });

  for (const file of files.filter((f) => f.startsWith("layer_"))) {
    it(`${file}: output, hN, cN, dInput, dh0, dc0 and every weight gradient`, () => {
      const f = read(file);
      const c = f.config;
      const opts = { inputSize: c.inputSize, hiddenSize: c.hiddenSize, numLayers: c.numLayers, bidirectional: c.bidirectional };
      const m: Recurrent = c.kind === "lstm" ? new LSTM(opts) : new GRU(opts);
      m.loadStateDict(f.state_dict);
      const y = m.forward(f.x, { batchSize: c.B, h0: f.h0, c0: f.c0, lengths: f.lengths });
      const errs: Record<string, number> = { output: scaledErr(y.output, f.output), hN: scaledErr(y.hN, f.hN) };
      if (f.cN) errs.cN = scaledErr(y.cN!, f.cN);
      const g = m.backward({ dOutput: f.dOutput, dhN: f.dhN, dcN: f.dcN });
      errs.dInput = scaledErr(g.dInput, f.dInput);
      errs.dh0 = scaledErr(g.dh0, f.dh0);
      if (f.dc0) errs.dc0 = scaledErr(g.dc0!, f.dc0);
      const grads = m.gradStateDict();
      expect(Object.keys(grads).sort()).toEqual(Object.keys(f.grads).sort());
      for (const name of Object.keys(f.grads)) errs[name] = scaledErr(grads[name], f.grads[name]);
      report(file, errs);
      m.dispose();
    });
  }

  for (const file of files.filter((f) => f.startsWith("model_"))) {
    it(`${file}: the head's output, the loss and every gradient by name`, () => {
      const f = read(file);
      const m = new Sequential(f.spec);
      expect([...m.parameters().keys()].sort()).toEqual(Object.keys(f.state_dict).sort());
      m.loadStateDict(f.state_dict);
      const fb = f.batch;
      const b: Batch = { T: fb.T, B: fb.B, lengths: Int32Array.from(fb.lengths) };
      if (fb.ids) b.ids = Int32Array.from(fb.ids);
      if (fb.features) b.features = Float32Array.from(fb.features);
      b.targets = f.spec.output.loss === "xent" ? Int32Array.from(fb.targets) : Float32Array.from(fb.targets);
      if (fb.mask) b.mask = Float32Array.from(fb.mask);
      m.checkBatch(b, true);
      const { out, rows } = m.forwardPtr(b, { training: true });
      const errs: Record<string, number> = { output: scaledErr(heap().f32(out, rows * f.spec.output.size).slice(), f.output) };
      const { loss } = m.lossAndGrad(b);
      errs.loss = Math.abs(loss - f.loss) / Math.abs(f.loss);
      m.backwardPtr();
      const grads = m.gradients();
      expect([...grads.keys()].sort()).toEqual(Object.keys(f.grads).sort());
      for (const [n, t] of grads) errs[n] = scaledErr(t.toArray(), f.grads[n]);
      report(file, errs);
      if (f.spec.readout === "final-states") {
        // The check can fail: the default readout (reverse half at step L_b - 1) is far from PyTorch's h_n.
        const other = new Sequential({ ...f.spec, readout: undefined });
        other.loadStateDict(f.state_dict);
        const o = other.forwardPtr(b);
        const e = scaledErr(heap().f32(o.out, o.rows * f.spec.output.size).slice(), f.output);
        console.log(`${file}: with readout "last-step" instead, output error ${e.toExponential(2)}`);
        expect(e).toBeGreaterThan(1e-2);
        other.dispose();
      }
      // The public path pads with its own values: predict() gives the same outputs.
      const O = f.spec.output.size;
      const F = f.spec.input.type === "features" ? f.spec.input.size : 1;
      const inputs = fb.lengths.map((L: number, j: number) => {
        const s: number[] = [];
        for (let t = 0; t < L; t++) for (let i = 0; i < F; i++) s.push(fb.ids ? fb.ids[t * fb.B + j] : fb.features[(t * fb.B + j) * F + i]);
        return s;
      });
      const xent = f.spec.output.loss === "xent";
      m.predict(inputs, fb.B).forEach((got, j) => {
        const L = f.spec.mode === "many-to-one" ? 1 : fb.lengths[j];
        const row = (t: number) => (f.spec.mode === "many-to-one" ? j : t * fb.B + j);
        const logits = Array.from({ length: L * O }, (_, i) => f.output[row(Math.floor(i / O)) * O + (i % O)]);
        expect(scaledErr(got, xent ? softmaxRows(logits, O) : logits), `predict ${j}`).toBeLessThan(TOL);
      });
      m.dispose();
    });
  }

  for (const file of files.filter((f) => f.startsWith("seq2seq_"))) {
    it(`${file}: loss, every gradient by name, attention weights (ragged sources and targets)`, () => {
      const f = read(file);
      const m = new Seq2Seq(f.spec);
      expect([...m.parameters().keys()].sort()).toEqual(Object.keys(f.state_dict).sort());
      m.loadStateDict(f.state_dict);
      let loss = NaN;
      // One full-batch step with a negligible learning rate: the gradients stay in the grad arenas.
      m.fit({ sources: f.sources, targets: f.targets }, {
        epochs: 1, batchSize: f.sources.length, shuffle: false, clipNorm: null, optimizer: { type: "sgd", lr: 1e-30 },
        onStep: (st) => { loss = st.loss; },
      });
      const errs: Record<string, number> = { loss: Math.abs(loss - f.loss) / f.loss };
      const grads = m.gradients();
      expect([...grads.keys()].sort()).toEqual(Object.keys(f.grads).sort());
      for (const [n, t] of grads) errs[n] = scaledErr(t.toArray(), f.grads[n]);
      f.sources.forEach((s: number[], b: number) => {
        errs[`alpha[${b}]`] = scaledErr(m.attentionWeights(s, f.targets[b]).flat(), f.alpha[b]);
      });
      report(file, errs);
      m.dispose();
    });
  }
});

function softmaxRows(x: ArrayLike<number>, O: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < x.length / O; r++) {
    const row = Array.from({ length: O }, (_, i) => x[r * O + i]);
    const mx = Math.max(...row);
    const e = row.map((v) => Math.exp(v - mx));
    const s = e.reduce((a, b) => a + b, 0);
    out.push(...e.map((v) => v / s));
  }
  return out;
}
