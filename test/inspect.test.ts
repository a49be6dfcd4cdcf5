// inspect(): the unfolded view's numbers — h, c and the gates of every layer at
// every step — read from the WASM layers' caches, checked against the float64
// reference layers (src/reference/layers.ts) run on the same weights, and the
// head's softmax against a plain recomputation. Stacked and bidirectional
// blocks, token and feature inputs, every cell.
import { beforeAll, describe, expect, it } from "vitest";
import { inspect, INSPECT_KINDS } from "../src/model/inspect.js";
import { Sequential, type SequentialSpec } from "../src/model/sequential.js";
import { type CellKind, refForward, type RefForwardResult } from "../src/reference/layers.js";
import { UnfoldError } from "../src/errors.js";
import { loadKernels, Rng } from "./helpers.js";

beforeAll(async () => {
  await loadKernels();
});

const CELL: Record<string, CellKind> = { lstm: "lstm", gru: "gru", rnn: "rnn_tanh", rnn_relu: "rnn_relu" };

/** The float64 reference of the whole recurrent stack on `x` [T, 1, F]: one refForward per block. */
function referenceStack(model: Sequential, x: Float64Array): RefForwardResult[] {
  const sd = model.stateDict();
  const res: RefForwardResult[] = [];
  let input: ArrayLike<number> = x;
  model.recurrent.forEach((r, k) => {
    const params: Record<string, Float32Array> = {};
    for (const [n, v] of Object.entries(sd)) if (n.startsWith(`rnn${k}.`)) params[n.slice(`rnn${k}.`.length)] = v;
    const cfg = { kind: CELL[model.spec.recurrent[k].cell], inputSize: r.inputSize, hiddenSize: r.hiddenSize, numLayers: r.numLayers, bidirectional: r.bidirectional };
    const out = refForward(cfg, params, input, 1);
    res.push(out);
    input = out.output;
  });
  return res;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const CASES: { title: string; spec: SequentialSpec }[] = [
  { title: "char LSTM, 2 stacked layers", spec: { input: { type: "tokens", vocabSize: 11, embeddingDim: 6 }, recurrent: [{ cell: "lstm", hiddenSize: 9, numLayers: 2, forgetBias: 1 }], output: { size: 11, loss: "xent" }, mode: "many-to-many", seed: 3 } },
  { title: "GRU then SimpleRNN blocks", spec: { input: { type: "tokens", vocabSize: 7, embeddingDim: 5 }, recurrent: [{ cell: "gru", hiddenSize: 6 }, { cell: "rnn", hiddenSize: 5 }], output: { size: 7, loss: "xent" }, mode: "many-to-many", seed: 4 } },
  { title: "bidirectional LSTM on features, many-to-one", spec: { input: { type: "features", size: 3 }, recurrent: [{ cell: "lstm", hiddenSize: 4, bidirectional: true }], output: { size: 2, loss: "xent" }, mode: "many-to-one", seed: 5 } },
  { title: "relu RNN, bidirectional GRU", spec: { input: { type: "tokens", vocabSize: 5, embeddingDim: 4 }, recurrent: [{ cell: "rnn_relu", hiddenSize: 5 }, { cell: "gru", hiddenSize: 3, bidirectional: true }], output: { size: 5, loss: "xent" }, mode: "many-to-many", seed: 6 } },
];

describe("inspect: h, c and the gates per step, against the float64 reference", () => {
  for (const { title, spec } of CASES) {
    it(title, () => {
      const model = new Sequential(spec);
      const rng = new Rng(spec.seed! + 100);
      const T = 13;
      let input: number[];
      let x: Float64Array; // [T, 1, F]: what the first recurrent block reads
      if (spec.input.type === "tokens") {
        const V = spec.input.vocabSize;
        const E = spec.input.embeddingDim;
        input = Array.from({ length: T }, () => Math.floor(rng.next() * V));
        const emb = model.stateDict()["embedding.weight"]; // [V, E]
        x = new Float64Array(T * E);
        input.forEach((id, t) => x.set(emb.subarray(id * E, (id + 1) * E), t * E));
      } else {
        input = Array.from(rng.fillUniform(new Float32Array(T * spec.input.size), -1, 1));
        x = Float64Array.from(input);
      }
      const got = inspect(model, input);
      const ref = referenceStack(model, x);
      expect(got.steps).toBe(T);
      let worst = 0;
      let li = 0;
      model.recurrent.forEach((r, k) => {
        const H = r.hiddenSize;
        const D = r.numDirections;
        const steps = ref[k].cache.steps;
        for (let l = 0; l < r.numLayers; l++) {
          for (let d = 0; d < D; d++) {
            const L = got.layers[li++];
            expect(L.name).toBe(`rnn${k}.l${l}${d ? "_reverse" : ""}`);
            expect(L.kinds).toEqual(INSPECT_KINDS[r.kind]);
            for (const kind of L.kinds) expect(L.values[kind].length, kind).toBe(T * H);
            const st = steps[l][d]; // indexed by time t
            const want: Record<string, Float64Array> = {};
            for (const kind of L.kinds) want[kind] = new Float64Array(T * H);
            for (let t = 0; t < T; t++) {
              want.h.set(st[t].h, t * H);
              L.kinds.slice(r.kind === "lstm" ? 2 : 1).forEach((g, gi) => want[g].set(st[t].gates.subarray(gi * H, (gi + 1) * H), t * H));
              if (r.kind === "lstm") {
                // c_t is the c_{t-1} of the step processed next, or the final state.
                const next = d === 0 ? t + 1 : t - 1;
                const ui = l * D + d;
                const c = next >= 0 && next < T ? st[next].cPrev! : ref[k].cN!.subarray(ui * H, (ui + 1) * H);
                want.c.set(c, t * H);
              }
            }
            for (const kind of L.kinds) {
              const e = maxAbsDiff(L.values[kind], want[kind]);
              worst = Math.max(worst, e);
              expect(e, `${L.name} ${kind}`).toBeLessThan(2e-5);
            }
            if (r.kind === "lstm") {
              // The cell as the lecture writes it (p.38), from the returned values alone.
              const v = L.values;
              for (let t = 0; t < T; t++) {
                const tp = d === 0 ? t - 1 : t + 1;
                for (let j = 0; j < H; j++) {
                  const e = t * H + j;
                  const cPrev = tp >= 0 && tp < T ? v.c[tp * H + j] : 0;
                  expect(v.c[e]).toBeCloseTo(v.f[e] * cPrev + v.i[e] * v.g[e], 5);
                  expect(v.h[e]).toBeCloseTo(v.o[e] * Math.tanh(v.c[e]), 5);
                }
              }
            }
          }
        }
      });
      expect(li).toBe(got.layers.length);
      // The head's softmax: next-token probabilities from the reference's top output.
      if (spec.mode === "many-to-many") {
        const sd = model.stateDict();
        const W = sd["head.weight"];
        const b = sd["head.bias"];
        const top = ref[ref.length - 1].output; // [T, 1, Dout]
        const O = spec.output.size;
        const Din = model.hiddenOut;
        expect(got.probs!.length).toBe(T * O);
        for (let t = 0; t < T; t++) {
          const z = Array.from({ length: O }, (_, o) => {
            let s = b[o];
            for (let i = 0; i < Din; i++) s += W[o * Din + i] * top[t * Din + i];
            return s;
          });
          const m = Math.max(...z);
          const e = z.map((v) => Math.exp(v - m));
          const sum = e.reduce((a, c) => a + c, 0);
          for (let o = 0; o < O; o++) expect(Math.abs(got.probs![t * O + o] - e[o] / sum)).toBeLessThan(2e-5);
        }
      } else expect(got.probs).toBeUndefined();
      console.log(`inspect ${title}: ${got.layers.length} layer-directions, largest |wasm - float64| = ${worst.toExponential(1)}`);
      model.dispose();
    });
  }

  it("leaves the weights alone and gives the same values twice", () => {
    const model = new Sequential(CASES[0].spec);
    const before = model.stateDict();
    const a = inspect(model, [1, 2, 3, 4]);
    const b = inspect(model, [1, 2, 3, 4]);
    expect(b.layers[1].values.c).toEqual(a.layers[1].values.c);
    const after = model.stateDict();
    for (const n of Object.keys(before)) expect(after[n]).toEqual(before[n]);
    model.dispose();
  });

  it("bad input gets an UnfoldError naming what is wrong", () => {
    const model = new Sequential(CASES[0].spec);
    const feat = new Sequential(CASES[2].spec);
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(UnfoldError);
        return `${(e as UnfoldError).code}: ${(e as Error).message}`;
      }
      return "no error";
    };
    expect(code(() => inspect(model, []))).toMatch(/^E_SHAPE: .*non-empty/);
    expect(code(() => inspect(model, [1, 11, 2]))).toMatch(/^E_VOCAB: .*token id 11 at step 1/);
    expect(code(() => inspect(model, [1, 0.5]))).toMatch(/^E_VOCAB/);
    expect(code(() => inspect(feat, [1, 2, 3, 4]))).toMatch(/^E_SHAPE: .*3 values per step/);
    expect(code(() => inspect(feat, [1, NaN, 3]))).toMatch(/^E_NAN: .*input value 1/);
    expect(code(() => inspect({} as Sequential, [1]))).toMatch(/^E_OPTION/);
    model.dispose();
    feat.dispose();
  });
});
