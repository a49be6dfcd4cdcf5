// Streaming attention decoders (src/model/attention-session.ts): a Seq2Seq
// with attention, run one token at a time by `seq2seq.session(source)`, must
// write what the batched decoder (`generate`) writes, greedy and sampled with
// a seed, and its per-step attention weights must be `attentionWeights()`'s
// rows (the batched attention block: GEMMs over the whole target).
//
// Tolerance on the weights: the session's matrix-vector products add the same
// f32 products as the batched GEMMs in another order, so values agree to a
// few ulps per step, growing slowly through the recurrence (see
// test/session.test.ts); 2e-5 absolute on weights in [0, 1] after up to 12
// steps leaves a wide margin while a wrong score, mask or state is off by
// orders of magnitude more.
//
// CI budget: ~10 s (12 small models trained for a few epochs).
import { beforeAll, describe, expect, it } from "vitest";
import { UnfoldError } from "../src/errors.js";
import { AttentionSession } from "../src/model/attention-session.js";
import { Seq2Seq, type Seq2SeqSpec } from "../src/model/seq2seq.js";
import { argmax } from "../src/model/sampling.js";
import { init } from "../src/runtime/wasm.js";
import { Rng } from "../src/util/rng.js";

beforeAll(async () => {
  await init();
});

const TOL = 2e-5;
const BOS = 0;
const EOS = 1;

/** A reversal task with sources of 2..7 tokens (ragged), trained a little so decoding is not trivial. */
function trained(spec: Seq2SeqSpec): { m: Seq2Seq; sources: number[][] } {
  const m = new Seq2Seq(spec);
  const rng = new Rng(31);
  const V = spec.target.vocabSize;
  const data = { sources: [] as number[][], targets: [] as number[][] };
  for (let i = 0; i < 60; i++) {
    const L = 2 + Math.floor(rng.next() * 6);
    const t = Array.from({ length: L }, () => 2 + Math.floor(rng.next() * (V - 2)));
    data.targets.push(t);
    data.sources.push(t.slice().reverse());
  }
  m.fit(data, { epochs: 4, batchSize: 12, optimizer: { type: "adam", lr: 0.02 } });
  return { m, sources: [data.sources[0], [3, 4], data.sources[7], [5, 6, 7, 2, 3, 4, 5]] };
}

function spec(score: "dot" | "general" | "additive", cell: "lstm" | "gru" | "rnn", bidirectional: boolean, inputFeeding: boolean, numLayers = 1): Seq2SeqSpec {
  return {
    source: { type: "tokens", vocabSize: 9, embeddingDim: 5 },
    target: { vocabSize: 9, embeddingDim: 4, bosId: BOS, eosId: EOS },
    recurrent: { cell, hiddenSize: 8, numLayers, bidirectional },
    attention: score,
    inputFeeding,
    seed: 3,
  };
}

const CASES: [string, Seq2SeqSpec][] = [
  ["dot, LSTM, unidirectional", spec("dot", "lstm", false, false)],
  ["dot, GRU, 2 layers, input feeding", spec("dot", "gru", false, true, 2)],
  ["general, LSTM, bidirectional encoder", spec("general", "lstm", true, false)],
  ["general, GRU, unidirectional, input feeding", spec("general", "gru", false, true)],
  ["additive, GRU, bidirectional 2-layer encoder", spec("additive", "gru", true, false, 2)],
  ["additive, LSTM, bidirectional, input feeding", spec("additive", "lstm", true, true)],
  ["additive, SimpleRNN, unidirectional", spec("additive", "rnn", false, false)],
];

describe("seq2seq.session(source) with attention vs the batched decoder", () => {
  for (const [name, sp] of CASES) {
    it(`${name}: greedy tokens = generate(), weights = attentionWeights() rows; sampled tokens = generate({ seed })`, () => {
      const { m, sources } = trained(sp);
      try {
        const maxLength = 12;
        const want = m.generate(sources, { maxLength });
        expect(want.some((w) => w.length >= 2)).toBe(true); // decoding is not trivially empty
        let maxErr = 0;
        sources.forEach((src, i) => {
          const s = m.session(src);
          expect(s).toBeInstanceOf(AttentionSession);
          const a = s as AttentionSession;
          expect(a.sourceLength).toBe(src.length);
          let p = a.feed([BOS]);
          const got: number[] = [];
          const rows: Float32Array[] = [a.attentionWeights()];
          for (let t = 0; t < maxLength; t++) {
            const id = argmax(p);
            if (id === EOS) break;
            got.push(id);
            if (got.length === maxLength) break;
            p = a.step(id);
            rows.push(a.attentionWeights());
          }
          expect(got, `source ${i}`).toEqual(want[i]);
          // attentionWeights(source) without a target: the greedy steps, the end token's step last.
          const ref = m.attentionWeights(src, undefined, { maxLength });
          expect(rows.length).toBe(ref.length);
          rows.forEach((r, t) => {
            expect(r.length).toBe(src.length);
            let sum = 0;
            r.forEach((w, j) => {
              maxErr = Math.max(maxErr, Math.abs(w - ref[t][j]));
              sum += w;
            });
            expect(Math.abs(sum - 1)).toBeLessThan(1e-5);
          });
          s.dispose();
        });
        console.log(`[attention-session] ${name}: max |weight - batched weight| ${maxErr.toExponential(2)}`);
        expect(maxErr).toBeLessThan(TOL);

        // Sampling with a seed: the session draws from the same RNG stream as generate() for one source.
        for (const seed of [1, 7]) {
          const src = sources[2];
          const o = { temperature: 0.9, topK: 6 };
          const [ref] = m.generate([src], { maxLength, seed, ...o });
          const s = m.session(src, { seed });
          s.feed([BOS]);
          const got: number[] = [];
          while (got.length < maxLength) {
            const id = s.sample(o);
            if (id === EOS) break;
            got.push(id);
          }
          expect(got, `seed ${seed}`).toEqual(ref);
          s.dispose();
        }
      } finally {
        m.dispose();
      }
    });
  }

  it("fork() and reset() are independent; the model is untouched by a session", () => {
    const { m, sources } = trained(spec("general", "lstm", true, true));
    try {
      const before = m.generate(sources, { maxLength: 10 });
      const s = m.session(sources[0]) as AttentionSession;
      s.feed([BOS, 4, 5]);
      const st = s.state();
      const f = s.fork();
      const pf = f.step(6).slice();
      const wf = f.attentionWeights();
      expect(s.state()).toEqual(st); // stepping the fork did not move the original
      const ps = s.step(6).slice();
      expect(Array.from(ps)).toEqual(Array.from(pf));
      expect(Array.from(s.attentionWeights())).toEqual(Array.from(wf));
      s.reset();
      expect(s.length).toBe(0);
      const p0 = s.feed([BOS, 4, 5]).slice();
      expect(s.state()).toEqual(st);
      expect(p0.length).toBe(9);
      f.dispose();
      s.dispose();
      expect(m.generate(sources, { maxLength: 10 })).toEqual(before);
    } finally {
      m.dispose();
    }
  });
});

describe("attention session: bad input gets a clear error and changes nothing", () => {
  const code = (f: () => unknown): string => {
    try {
      f();
    } catch (e) {
      expect(e).toBeInstanceOf(UnfoldError);
      return (e as UnfoldError).code;
    }
    throw new Error("expected an UnfoldError");
  };

  it("ids, shapes, order of calls, dispose, sources", () => {
    const m = new Seq2Seq(spec("additive", "lstm", true, true));
    try {
      const s = m.session([2, 3, 4]) as AttentionSession;
      expect(code(() => s.sample())).toBe("E_STATE"); // nothing fed yet
      expect(code(() => s.attentionWeights())).toBe("E_STATE");
      s.feed([BOS, 2]);
      const st = s.state();
      const w = s.attentionWeights();
      expect(code(() => s.feed([2, 9]))).toBe("E_VOCAB");
      expect(code(() => s.feed([2, -1]))).toBe("E_VOCAB");
      expect(code(() => s.feed([1.5]))).toBe("E_VOCAB");
      expect(code(() => s.step(12))).toBe("E_VOCAB");
      expect(code(() => s.feed([]))).toBe("E_SHAPE");
      expect(code(() => s.feed(null as unknown as number[]))).toBe("E_OPTION");
      expect(code(() => s.step([1, 2] as unknown as number))).toBe("E_OPTION");
      expect(code(() => s.sample({ temperature: -1 }))).toBe("E_OPTION");
      expect(code(() => s.sample({ topP: 0 }))).toBe("E_OPTION");
      expect(s.state()).toEqual(st); // nothing changed by the failed calls
      expect(s.attentionWeights()).toEqual(w);
      expect(s.length).toBe(2);
      s.dispose();
      expect(code(() => s.step(2))).toBe("E_STATE");
      expect(code(() => s.fork())).toBe("E_STATE");
      expect(code(() => s.attentionWeights())).toBe("E_STATE");
      // Sources: empty, outside the source vocabulary, not an array; options.
      expect(code(() => m.session([]))).toBe("E_SHAPE");
      expect(code(() => m.session([2, 99]))).toBe("E_VOCAB");
      expect(code(() => m.session(5 as unknown as number[]))).toBe("E_SHAPE");
      expect(code(() => m.session([2, 3], { seed: 0.5 }))).toBe("E_OPTION");
    } finally {
      m.dispose();
    }
  });
});
