// Typed errors with nothing changed: a table of bad calls across the public
// API. Each must throw an UnfoldError with the expected code, and a checksum
// of every object's state — weights, optimizer state, carried state, RNG,
// training history — must be the same after the call as before it.
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  argmax, bucketBatches, crc32, Dense, decodeModel, decodeSafetensors, Embedding, encodeModel, encodeSafetensors, entryToFloat32, GRU, init, loadModel, loadSafetensors, LSTM, modelFromSafetensors, Optimizer, padBatch, Rng, sampleToken, saveModel, saveSafetensors,
  scheduleFactor, Seq2Seq, Sequential, SimpleRNN, softmax, TokenStream, trainValSplit, UnfoldError, type UnfoldErrorCode, Vocab, fromTfjs,
} from "../src/index.js";
import { fromONNX } from "../src/onnx/index.js";
import { loadModelFile, saveModelFile, writeFileAtomic } from "../src/node.js";
import type { Recurrent } from "../src/layers/recurrent.js";
import { kernels } from "../src/runtime/wasm.js";

type Case = [name: string, code: UnfoldErrorCode, call: () => unknown];

let lm: Sequential; // tokens LM, 2 LSTM layers with dropout, trained a few steps (optimizer, carried state, RNG all live)
let feat: Sequential; // features -> GRU -> many-to-one mse
let bi: Sequential; // bidirectional many-to-one classifier
let s2s: Seq2Seq;
let s2v: Seq2Seq;
let lstm: LSTM;
let gru: GRU;
let rnn: SimpleRNN;
let biLstm: LSTM;
let dense: Dense;
let emb: Embedding;
let vocab: Vocab;
let tmp: string;

const V = 6; // lm vocabulary
const stream = Int32Array.from({ length: 60 }, (_, i) => (i * 7 + (i >> 2)) % V);

/** FNV-1a over the bytes of everything that makes up the objects' state. */
function checksum(): string {
  let h = 0x811c9dc5;
  const bytes = (b: Uint8Array) => {
    for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193);
  };
  const f32 = (a: ArrayLike<number>) => {
    const f = Float32Array.from(a);
    bytes(new Uint8Array(f.buffer));
  };
  const text = (s: string) => bytes(new TextEncoder().encode(s));
  const layerState = (r: Recurrent) => {
    for (const [n, t] of Object.entries(r.stateDict())) (text(n), f32(t));
    text(JSON.stringify(r.rngState));
    const c = r.carriedState();
    if (c) (text(String(c.B)), f32(c.h), f32(c.c));
  };
  for (const m of [lm, feat, bi, s2s, s2v]) {
    for (const [n, t] of Object.entries(m.stateDict())) (text(n), f32(t));
    const st = m.trainState;
    text(JSON.stringify({ h: st.history, e: st.epoch, p: st.streamPosition }));
    if (st.optimizer) {
      const o = st.optimizer.state();
      text(JSON.stringify(o.spec) + o.step);
      o.buffers.forEach(f32);
    }
    st.carried?.forEach((c) => c && (text(String(c.B)), f32(c.h), f32(c.c)));
    const rec = m instanceof Seq2Seq ? [...(m.encoder ? [m.encoder] : []), ...m.decoder.recurrent] : m.recurrent;
    rec.forEach(layerState);
  }
  [lstm, gru, rnn, biLstm].forEach(layerState);
  for (const l of [dense, emb]) for (const [n, t] of Object.entries(l.stateDict())) (text(n), f32(t));
  text(JSON.stringify(vocab));
  return (h >>> 0).toString(16);
}

beforeAll(async () => {
  await init();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "unfold-errors-"));
  lm = new Sequential({
    input: { type: "tokens", vocabSize: V, embeddingDim: 4 },
    recurrent: [{ cell: "lstm", hiddenSize: 5, numLayers: 2, dropout: 0.2 }],
    output: { size: V, loss: "xent" },
    mode: "many-to-many",
    seed: 3,
  });
  // Stop inside an epoch: optimizer moments, a carried state and advanced dropout RNGs to protect.
  lm.fit({ stream }, { steps: 3, batchSize: 2, tbptt: { k1: 4 }, optimizer: { type: "adam", lr: 0.01 } });
  expect(lm.trainState.carried?.some((c) => c !== null)).toBe(true);
  // A live carried state inside the layers too.
  lm.forwardPtr({ T: 2, B: 1, ids: Int32Array.of(1, 2) });
  lm.carryState();
  feat = new Sequential({ input: { type: "features", size: 2 }, recurrent: [{ cell: "gru", hiddenSize: 3 }], output: { size: 2, loss: "mse" }, mode: "many-to-one", seed: 1 });
  feat.fit({ inputs: [[1, 2, 3, 4], [0.5, 0.5]], targets: [[1, 0], [0, 1]] }, { epochs: 1, batchSize: 2, optimizer: { type: "sgd", lr: 0.1, momentum: 0.9 } });
  bi = new Sequential({ input: { type: "tokens", vocabSize: 4, embeddingDim: 3 }, recurrent: [{ cell: "gru", hiddenSize: 3, bidirectional: true }], output: { size: 2, loss: "xent" }, mode: "many-to-one" });
  s2s = new Seq2Seq({ source: { type: "tokens", vocabSize: 5, embeddingDim: 3 }, target: { vocabSize: 6, embeddingDim: 3, bosId: 0, eosId: 1 }, recurrent: { cell: "lstm", hiddenSize: 4 }, seed: 2 });
  s2s.fit({ sources: [[1, 2], [3]], targets: [[2, 3], [4]] }, { epochs: 1, batchSize: 2, optimizer: { type: "rmsprop", lr: 0.01 } });
  s2v = new Seq2Seq({ source: { type: "vector", size: 3 }, target: { vocabSize: 5, embeddingDim: 2, bosId: 0, eosId: 1 }, recurrent: { cell: "gru", hiddenSize: 3 } });
  lstm = new LSTM({ inputSize: 3, hiddenSize: 4, seed: 5 });
  lstm.forward(Float32Array.from({ length: 12 }, (_, i) => Math.sin(i)), { batchSize: 2 });
  gru = new GRU({ inputSize: 3, hiddenSize: 4 });
  gru.forward(new Float32Array(6), { batchSize: 1 });
  rnn = new SimpleRNN({ inputSize: 2, hiddenSize: 3 });
  biLstm = new LSTM({ inputSize: 2, hiddenSize: 2, bidirectional: true });
  biLstm.forward(new Float32Array(4));
  dense = new Dense({ inFeatures: 3, outFeatures: 2 });
  dense.forward([1, 2, 3]);
  emb = new Embedding({ numEmbeddings: 4, embeddingDim: 2 });
  emb.forward([0, 3]);
  vocab = Vocab.fromChars("hello world");
});

/** A model's safetensors with every name behind `prefix` (a wrapper's state dict). */
const prefixed = (m: Sequential | Seq2Seq, prefix: string) =>
  encodeSafetensors([...decodeSafetensors(saveSafetensors(m)).tensors].map(([k, e]) => [prefix + k, { shape: e.shape, data: entryToFloat32(k, e) }]), decodeSafetensors(saveSafetensors(m)).metadata);
const nan = (n: number, at = 0) => Float32Array.from({ length: n }, (_, i) => (i === at ? NaN : 0.1));
const lmSpec = { input: { type: "tokens", vocabSize: V, embeddingDim: 4 }, recurrent: [{ cell: "lstm", hiddenSize: 5 }], output: { size: V, loss: "xent" }, mode: "many-to-many" } as const;
const spec = (patch: Record<string, unknown>) => ({ ...lmSpec, ...patch }) as never;
const rec = (patch: Record<string, unknown>) => spec({ recurrent: [{ cell: "lstm", hiddenSize: 5, ...patch }] });
const s2sSpec = (target: Record<string, unknown>, recurrent: Record<string, unknown> = { cell: "gru", hiddenSize: 3 }) =>
  ({ source: { type: "tokens", vocabSize: 5, embeddingDim: 2 }, target: { vocabSize: 6, embeddingDim: 2, bosId: 0, eosId: 1, ...target }, recurrent }) as never;
const fitLm = (opts: Record<string, unknown>) => () => lm.fit({ stream }, { steps: 1, batchSize: 2, ...opts } as never);

const cases: Case[] = [
  // ---- model definitions ----
  ["Sequential(null)", "E_OPTION", () => new Sequential(null as never)],
  ["Sequential input type unknown", "E_OPTION", () => new Sequential(spec({ input: { type: "image", size: 3 } }))],
  ["Sequential vocabSize 0", "E_OPTION", () => new Sequential(spec({ input: { type: "tokens", vocabSize: 0, embeddingDim: 4 } }))],
  ["Sequential embeddingDim 1.5", "E_OPTION", () => new Sequential(spec({ input: { type: "tokens", vocabSize: 4, embeddingDim: 1.5 } }))],
  ["Sequential features size 0", "E_OPTION", () => new Sequential(spec({ input: { type: "features", size: 0 } }))],
  ["Sequential no recurrent layers", "E_OPTION", () => new Sequential(spec({ recurrent: [] }))],
  ["Sequential unknown cell", "E_OPTION", () => new Sequential(rec({ cell: "transformer" }))],
  ["Sequential hiddenSize -1", "E_OPTION", () => new Sequential(rec({ hiddenSize: -1 }))],
  ["Sequential numLayers 0", "E_OPTION", () => new Sequential(rec({ numLayers: 0 }))],
  ["Sequential gateActivation unknown", "E_OPTION", () => new Sequential(rec({ gateActivation: "relu" as never }))],
  ["Sequential hard_sigmoid on an rnn cell", "E_OPTION", () => new Sequential(rec({ cell: "rnn", gateActivation: "hard_sigmoid" }))],
  ["Sequential resetAfter on an lstm cell", "E_OPTION", () => new Sequential(rec({ cell: "lstm", resetAfter: false }))],
  ["Sequential resetAfter not a boolean", "E_OPTION", () => new Sequential(rec({ cell: "gru", resetAfter: 0 as never }))],
  ["GRU resetAfter 'no'", "E_OPTION", () => new GRU({ inputSize: 2, hiddenSize: 3, resetAfter: "no" as never })],
  ["SimpleRNN gateActivation hard_sigmoid", "E_OPTION", () => new SimpleRNN({ inputSize: 2, hiddenSize: 3, gateActivation: "hard_sigmoid" })],
  ["fromTfjs not JSON", "E_FORMAT", () => fromTfjs("{", new Uint8Array(0))],
  ["fromTfjs no topology", "E_FORMAT", () => fromTfjs({} as never, new Uint8Array(0))],
  ["fromTfjs weights missing from the binary", "E_FORMAT", () => fromTfjs({ modelTopology: { class_name: "Sequential", config: { layers: [] } }, weightSpecs: [{ name: "x/kernel", shape: [4, 4] }] }, new Uint8Array(8))],
  ["fromTfjs a functional model", "E_UNSUPPORTED", () => fromTfjs({ modelTopology: { class_name: "Model", config: {} }, weightSpecs: [] }, new Uint8Array(0))],
  ["fromONNX not bytes", "E_OPTION", () => fromONNX("model.onnx" as never)],
  ["fromONNX JSON bytes", "E_FORMAT", () => fromONNX(new TextEncoder().encode("{\"a\": 1}"))],
  ["fromONNX empty", "E_FORMAT", () => fromONNX(new Uint8Array(0))],
  ["fromONNX options.loss unknown", "E_OPTION", () => fromONNX(new Uint8Array(0), { loss: "ctc" as never })],
  ["Sequential dropout 1", "E_OPTION", () => new Sequential(rec({ dropout: 1 }))],
  ["Sequential dropout NaN", "E_OPTION", () => new Sequential(rec({ dropout: NaN }))],
  ["Sequential bidirectional 'yes'", "E_OPTION", () => new Sequential(rec({ bidirectional: "yes" }))],
  ["Sequential forgetBias NaN", "E_OPTION", () => new Sequential(rec({ forgetBias: NaN }))],
  ["Sequential forgetBias on a GRU", "E_OPTION", () => new Sequential(rec({ cell: "gru", forgetBias: 1 }))],
  ["Sequential output size 0", "E_OPTION", () => new Sequential(spec({ output: { size: 0, loss: "xent" } }))],
  ["Sequential unknown loss", "E_OPTION", () => new Sequential(spec({ output: { size: 3, loss: "hinge" } }))],
  ["Sequential unknown mode", "E_OPTION", () => new Sequential(spec({ mode: "one-to-one" }))],
  ["Sequential unknown readout", "E_OPTION", () => new Sequential(spec({ mode: "many-to-one", readout: "first-step" }))],
  ["Sequential readout on a many-to-many model", "E_OPTION", () => new Sequential(spec({ readout: "final-states" }))],
  ["Sequential seed 'x'", "E_OPTION", () => new Sequential(spec({ seed: "x" }))],
  ["Seq2Seq begin token = end token", "E_OPTION", () => new Seq2Seq(s2sSpec({ bosId: 2, eosId: 2 }))],
  ["Seq2Seq bosId outside the vocabulary", "E_OPTION", () => new Seq2Seq(s2sSpec({ bosId: 6 }))],
  ["Seq2Seq target vocabSize 1", "E_OPTION", () => new Seq2Seq(s2sSpec({ vocabSize: 1, bosId: 0, eosId: 0 }))],
  ["Seq2Seq bidirectional", "E_UNSUPPORTED", () => new Seq2Seq(s2sSpec({}, { cell: "gru", hiddenSize: 3, bidirectional: true }))],
  ["Seq2Seq unknown cell", "E_OPTION", () => new Seq2Seq(s2sSpec({}, { cell: "rnn_sigmoid", hiddenSize: 3 }))],

  // ---- layers ----
  ["LSTM inputSize 0", "E_OPTION", () => new LSTM({ inputSize: 0, hiddenSize: 3 })],
  ["LSTM hiddenSize 2.5", "E_OPTION", () => new LSTM({ inputSize: 2, hiddenSize: 2.5 })],
  ["LSTM unknown initialiser", "E_OPTION", () => new LSTM({ inputSize: 2, hiddenSize: 3, init: "he" as never })],
  ["LSTM dropout -0.1", "E_OPTION", () => new LSTM({ inputSize: 2, hiddenSize: 3, dropout: -0.1 })],
  ["LSTM(undefined)", "E_OPTION", () => new LSTM(undefined as never)],
  ["SimpleRNN nonlinearity sigmoid", "E_OPTION", () => new SimpleRNN({ inputSize: 2, hiddenSize: 3, nonlinearity: "sigmoid" as never })],
  ["GRU batchFirst 1", "E_OPTION", () => new GRU({ inputSize: 2, hiddenSize: 3, batchFirst: 1 as never })],
  ["Dense inFeatures 0", "E_OPTION", () => new Dense({ inFeatures: 0, outFeatures: 2 })],
  ["Dense bias 'no'", "E_OPTION", () => new Dense({ inFeatures: 2, outFeatures: 2, bias: "no" as never })],
  ["Embedding(null)", "E_OPTION", () => new Embedding(null as never)],
  ["Embedding numEmbeddings 0", "E_OPTION", () => new Embedding({ numEmbeddings: 0, embeddingDim: 2 })],
  ["LSTM.forward x a string", "E_OPTION", () => lstm.forward("abc" as never)],
  ["LSTM.forward wrong length", "E_SHAPE", () => lstm.forward(new Float32Array(7), { batchSize: 2 })],
  ["LSTM.forward NaN input", "E_NAN", () => lstm.forward(nan(6, 4), { batchSize: 2 })],
  ["LSTM.forward Infinity input", "E_NAN", () => lstm.forward(Float32Array.of(1, 2, Infinity))],
  ["LSTM.forward Float64Array input beyond the float32 range", "E_NAN", () => lstm.forward(Float64Array.of(1, 2, 1e39))],
  ["LSTM.forward number[] NaN input", "E_NAN", () => lstm.forward([1, NaN, 3])],
  ["LSTM.forward h0 wrong length", "E_SHAPE", () => lstm.forward(new Float32Array(6), { batchSize: 2, h0: new Float32Array(3) })],
  ["LSTM.forward h0 with Infinity", "E_NAN", () => lstm.forward(new Float32Array(6), { batchSize: 2, h0: Float32Array.from({ length: 8 }, (_, i) => (i === 5 ? -Infinity : 0)) })],
  ["LSTM.forward c0 with NaN", "E_NAN", () => lstm.forward(new Float32Array(6), { batchSize: 2, c0: nan(8, 7) })],
  ["GRU.forward c0", "E_OPTION", () => gru.forward(new Float32Array(3), { c0: new Float32Array(4) })],
  ["LSTM.forward batchSize 0", "E_OPTION", () => lstm.forward(new Float32Array(6), { batchSize: 0 })],
  ["LSTM.forward batchSize 1.5", "E_OPTION", () => lstm.forward(new Float32Array(6), { batchSize: 1.5 })],
  ["LSTM.forward lastStepOnly 'yes'", "E_OPTION", () => lstm.forward(new Float32Array(6), { lastStepOnly: "yes" as never })],
  ["LSTM.forward lengths with a 0", "E_OPTION", () => lstm.forward(new Float32Array(12), { batchSize: 2, lengths: [0, 2] })],
  ["LSTM.forward lengths longer than T", "E_OPTION", () => lstm.forward(new Float32Array(12), { batchSize: 2, lengths: [3, 2] })],
  ["LSTM.forward lengths 1.5", "E_OPTION", () => lstm.forward(new Float32Array(12), { batchSize: 2, lengths: [1.5, 2] })],
  ["LSTM.forward lengths NaN", "E_OPTION", () => lstm.forward(new Float32Array(12), { batchSize: 2, lengths: [NaN, 2] })],
  ["LSTM.forward lengths of the wrong count", "E_SHAPE", () => lstm.forward(new Float32Array(12), { batchSize: 2, lengths: [2] })],
  ["LSTM.forward lengths a string", "E_OPTION", () => lstm.forward(new Float32Array(12), { batchSize: 2, lengths: "22" as never })],
  ["bidirectional forward lengths longer than T", "E_OPTION", () => biLstm.forward(new Float32Array(4), { lengths: [3] })],
  ["bidirectional forwardPtr lengths with a 0", "E_OPTION", () => biLstm.forwardPtr(0, 2, 1, { lengths: [0] })],
  ["LSTM.finalStatePtr lengths longer than T", "E_OPTION", () => lstm.finalStatePtr([3, 1])],
  ["bidirectional finalStatePtr lengths the forward did not have", "E_STATE", () => biLstm.finalStatePtr([1])],
  ["bidirectional backwardPtr lengths the forward did not have", "E_STATE", () => biLstm.backwardPtr(null, null, null, false, [1])],
  ["LSTM.backward NaN upstream gradient", "E_NAN", () => lstm.backward({ dOutput: nan(8, 2) })],
  ["LSTM.backward Infinity in dhN", "E_NAN", () => lstm.backward({ dhN: Float32Array.from({ length: 8 }, (_, i) => (i === 1 ? Infinity : 0)) })],
  ["LSTM.backward NaN in dcN", "E_NAN", () => lstm.backward({ dcN: nan(8) })],
  ["LSTM.backward dOutput wrong length", "E_SHAPE", () => lstm.backward({ dOutput: new Float32Array(3) })],
  ["LSTM.backward dhN wrong length", "E_SHAPE", () => lstm.backward({ dhN: new Float32Array(2) })],
  ["GRU.backward dcN", "E_OPTION", () => gru.backward({ dcN: new Float32Array(4) })],
  ["SimpleRNN.backward before forward", "E_STATE", () => rnn.backward()],
  ["LSTM.backward recordGradNorms 'x'", "E_OPTION", () => lstm.backward({ recordGradNorms: "x" as never })],
  ["SimpleRNN.gradNorms before backward", "E_STATE", () => rnn.gradNorms()],
  ["LSTM.loadStateDict(null)", "E_OPTION", () => lstm.loadStateDict(null as never)],
  ["LSTM.loadStateDict missing key", "E_FORMAT", () => lstm.loadStateDict({ weight_ih_l0: new Float32Array(48) })],
  ["LSTM.loadStateDict extra key", "E_FORMAT", () => lstm.loadStateDict({ ...lstm.stateDict(), extra: new Float32Array(1) })],
  ["LSTM.loadStateDict wrong shape", "E_SHAPE", () => lstm.loadStateDict({ ...lstm.stateDict(), bias_ih_l0: new Float32Array(3) })],
  ["LSTM.loadStateDict NaN weight", "E_NAN", () => lstm.loadStateDict({ ...lstm.stateDict(), bias_hh_l0: nan(16, 9) })],
  ["LSTM.loadStateDict a string value", "E_OPTION", () => lstm.loadStateDict({ ...lstm.stateDict(), bias_hh_l0: "zeros" as never })],
  ["Sequential.loadStateDict(null)", "E_OPTION", () => lm.loadStateDict(null as never)],
  ["Sequential.loadStateDict NaN weight", "E_NAN", () => lm.loadStateDict({ ...lm.stateDict(), "head.bias": nan(V) })],
  ["Seq2Seq.loadStateDict missing keys", "E_FORMAT", () => s2s.loadStateDict({})],
  ["LSTM.carryState past the end", "E_OPTION", () => lstm.carryState(99)],
  ["bidirectional carryState", "E_UNSUPPORTED", () => biLstm.carryState()],
  ["restoreCarriedState wrong length", "E_SHAPE", () => lstm.restoreCarriedState({ B: 1, h: new Float32Array(3), c: new Float32Array(3) })],
  ["restoreCarriedState NaN", "E_NAN", () => lstm.restoreCarriedState({ B: 1, h: nan(4), c: new Float32Array(4) })],
  ["restoreCarriedState B 0", "E_OPTION", () => lstm.restoreCarriedState({ B: 0, h: new Float32Array(0), c: new Float32Array(0) })],
  ["rngState = [1, 2]", "E_OPTION", () => (lstm.rngState = [1, 2])],
  ["setForgetBias(NaN)", "E_OPTION", () => lstm.setForgetBias(NaN)],
  ["Dense.forward wrong length", "E_SHAPE", () => dense.forward([1, 2])],
  ["Dense.forward NaN", "E_NAN", () => dense.forward([1, NaN, 3])],
  ["Dense.backward NaN", "E_NAN", () => dense.backward([NaN, 1])],
  ["Dense.backward wrong length", "E_SHAPE", () => dense.backward([1, 2, 3])],
  ["Dense.backward before forward", "E_STATE", () => new Dense({ inFeatures: 2, outFeatures: 2 }).backward([1, 2])],
  ["Embedding.forward id past the table", "E_VOCAB", () => emb.forward([0, 4])],
  ["Embedding.forward negative id", "E_VOCAB", () => emb.forward([-1])],
  ["Embedding.forward id 1.5", "E_VOCAB", () => emb.forward([1.5])],
  ["Embedding.forwardIds id past the table", "E_VOCAB", () => emb.forwardIds([2, 4])],
  ["Embedding.backward NaN", "E_NAN", () => emb.backward(nan(4))],
  ["Embedding.backward before forward", "E_STATE", () => new Embedding({ numEmbeddings: 3, embeddingDim: 2 }).backward([])],

  // ---- Sequential.fit: data ----
  ["fit(null)", "E_OPTION", () => lm.fit(null as never)],
  ["fit stream id outside the vocabulary", "E_VOCAB", () => lm.fit({ stream: [1, 2, 99, 3] })],
  ["fit stream negative id", "E_VOCAB", () => lm.fit({ stream: [1, -1, 2, 3] })],
  ["fit stream id 2.5", "E_VOCAB", () => lm.fit({ stream: [1, 2.5, 2, 3] })],
  ["fit stream of 1 token", "E_SHAPE", () => lm.fit({ stream: [1] })],
  ["fit stream shorter than 2 * batchSize", "E_OPTION", () => lm.fit({ stream: [1, 2, 3] }, { batchSize: 2 })],
  ["fit stream a string", "E_OPTION", () => lm.fit({ stream: "hello" as never })],
  ["fit no sequences", "E_SHAPE", () => lm.fit({ inputs: [], targets: [] })],
  ["fit input id outside the vocabulary", "E_VOCAB", () => lm.fit({ inputs: [[1, 9]], targets: [[1, 2]] })],
  ["fit negative input id", "E_VOCAB", () => lm.fit({ inputs: [[1, -2]], targets: [[1, 2]] })],
  ["fit target class outside the output", "E_VOCAB", () => lm.fit({ inputs: [[1, 2]], targets: [[1, 7]] })],
  ["fit target wrong length", "E_SHAPE", () => lm.fit({ inputs: [[1, 2]], targets: [[1]] })],
  ["fit more inputs than targets", "E_SHAPE", () => lm.fit({ inputs: [[1, 2], [3]], targets: [[1, 2]] })],
  ["fit features NaN", "E_NAN", () => feat.fit({ inputs: [[1, NaN]], targets: [[1, 0]] })],
  ["fit features not a multiple of F", "E_SHAPE", () => feat.fit({ inputs: [[1, 2, 3]], targets: [[1, 0]] })],
  ["fit mse target Infinity", "E_NAN", () => feat.fit({ inputs: [[1, 2]], targets: [[Infinity, 0]] })],
  ["fit stream on a features model", "E_UNSUPPORTED", () => feat.fit({ stream: [0, 1, 0, 1] })],
  ["fit stream on a bidirectional model", "E_UNSUPPORTED", () => bi.fit({ stream: [0, 1, 0, 1] })],
  ["Sequential.forwardPtr batch lengths with a 0", "E_OPTION", () => bi.forwardPtr({ T: 2, B: 2, ids: Int32Array.of(1, 2, 3, -1), lengths: Int32Array.of(2, 0) })],
  ["Sequential.checkBatch lengths longer than T", "E_OPTION", () => bi.checkBatch({ T: 2, B: 2, ids: Int32Array.of(1, 2, 3, -1), lengths: Int32Array.of(2, 3) }, false)],
  ["Sequential.checkBatch lengths 1.5", "E_OPTION", () => bi.checkBatch({ T: 2, B: 2, ids: Int32Array.of(1, 2, 3, -1), lengths: Float32Array.of(2, 1.5) as never }, false)],
  ["Sequential.checkBatch lengths of the wrong count", "E_SHAPE", () => bi.checkBatch({ T: 2, B: 2, ids: Int32Array.of(1, 2, 3, -1), lengths: Int32Array.of(2) }, false)],
  // ---- Sequential.fit: options ----
  ["fit epochs 0", "E_OPTION", fitLm({ epochs: 0 })],
  ["fit steps 1.5", "E_OPTION", fitLm({ steps: 1.5 })],
  ["fit batchSize 0", "E_OPTION", fitLm({ batchSize: 0 })],
  ["fit unknown optimizer", "E_OPTION", fitLm({ optimizer: { type: "lbfgs", lr: 0.1 } })],
  ["fit lr 0", "E_OPTION", fitLm({ optimizer: { type: "adam", lr: 0 } })],
  ["fit lr NaN", "E_OPTION", fitLm({ optimizer: { type: "sgd", lr: NaN } })],
  ["fit beta1 1", "E_OPTION", fitLm({ optimizer: { type: "adam", lr: 0.1, beta1: 1 } })],
  ["fit momentum -1", "E_OPTION", fitLm({ optimizer: { type: "sgd", lr: 0.1, momentum: -1 } })],
  ["fit Nesterov without momentum", "E_OPTION", fitLm({ optimizer: { type: "sgd", lr: 0.1, nesterov: true } })],
  ["fit eps 0", "E_OPTION", fitLm({ optimizer: { type: "rmsprop", lr: 0.1, eps: 0 } })],
  ["fit weightDecay -1", "E_OPTION", fitLm({ optimizer: { type: "adamw", lr: 0.1, weightDecay: -1 } })],
  ["fit unknown schedule", "E_OPTION", fitLm({ schedule: { type: "exponential" } })],
  ["fit step schedule stepSize 0", "E_OPTION", fitLm({ schedule: { type: "step", stepSize: 0 } })],
  ["fit cosine totalSteps 0", "E_OPTION", fitLm({ schedule: { type: "cosine", totalSteps: 0 } })],
  ["fit warmup then unknown", "E_OPTION", fitLm({ schedule: { type: "linear-warmup", warmupSteps: 2, then: { type: "x" } } })],
  ["fit clipNorm -1", "E_OPTION", fitLm({ clipNorm: -1 })],
  ["fit clipValue 0", "E_OPTION", fitLm({ clipValue: 0 })],
  ["fit tbptt k1 0", "E_OPTION", fitLm({ tbptt: { k1: 0 } })],
  ["fit tbptt k2 < k1", "E_OPTION", fitLm({ tbptt: { k1: 4, k2: 2 } })],
  ["fit tbptt carry 'no'", "E_OPTION", fitLm({ tbptt: { k1: 4, carry: "no" } })],
  ["fit earlyStopping patience 0", "E_OPTION", fitLm({ earlyStopping: { patience: 0 } })],
  ["fit onStep not a function", "E_OPTION", fitLm({ onStep: "log" })],
  ["fit shuffle 'yes'", "E_OPTION", fitLm({ shuffle: "yes" })],
  ["fit seed 'x'", "E_OPTION", fitLm({ seed: "x" })],
  ["fit validation fraction 1.5", "E_OPTION", fitLm({ validation: { fraction: 1.5 } })],
  ["fit validation stream with a bad id", "E_VOCAB", fitLm({ validation: { stream: [1, 2, 42] } })],
  ["fit validation of another kind", "E_OPTION", fitLm({ validation: { inputs: [[1]], targets: [[1]] } })],
  ["fit options null", "E_OPTION", () => lm.fit({ stream }, null as never)],
  // ---- evaluate, predict, generate ----
  ["evaluate id outside the vocabulary", "E_VOCAB", () => lm.evaluate({ stream: [1, 2, 6] })],
  ["evaluate batchSize 0", "E_OPTION", () => lm.evaluate({ stream }, { batchSize: 0 })],
  ["predict id outside the vocabulary", "E_VOCAB", () => lm.predict([[1, 2, 6]])],
  ["predict negative id", "E_VOCAB", () => bi.predict([[1, -3]])],
  ["predict batchSize 0", "E_OPTION", () => lm.predict([[1, 2]], 0)],
  ["predict inputs not an array", "E_OPTION", () => lm.predict("abc" as never)],
  ["predict features NaN", "E_NAN", () => feat.predict([[1, NaN]])],
  ["generate empty prime", "E_SHAPE", () => lm.generate([], { length: 3 })],
  ["generate prime id outside the vocabulary", "E_VOCAB", () => lm.generate([1, 99], { length: 3 })],
  ["generate negative prime id", "E_VOCAB", () => lm.generate([-1], { length: 3 })],
  ["generate length -1", "E_OPTION", () => lm.generate([1], { length: -1 })],
  ["generate temperature -1", "E_OPTION", () => lm.generate([1], { length: 3, temperature: -1 })],
  ["generate topK 0", "E_OPTION", () => lm.generate([1], { length: 3, topK: 0 })],
  ["generate topP 0", "E_OPTION", () => lm.generate([1], { length: 3, topP: 0 })],
  ["generate topP 2", "E_OPTION", () => lm.generate([1], { length: 3, topP: 2 })],
  ["generate stopAt outside the output", "E_OPTION", () => lm.generate([1], { length: 3, stopAt: 99 })],
  ["generate options null", "E_OPTION", () => lm.generate([1], null as never)],
  ["generate on a many-to-one model", "E_UNSUPPORTED", () => bi.generate([1], { length: 2 })],
  ["lossAndGrad before forward", "E_STATE", () => new Sequential(lmSpec as never).lossAndGrad({ T: 1, B: 1 })],
  ["checkBatch ids outside the vocabulary", "E_VOCAB", () => lm.checkBatch({ T: 1, B: 2, ids: Int32Array.of(1, 6) }, false)],
  ["forwardPtr keep with another batch size", "E_STATE", () => lm.forwardPtr({ T: 1, B: 3, ids: Int32Array.of(1, 2, 3) }, { state: "keep" })],

  // ---- Seq2Seq ----
  ["Seq2Seq.fit source id outside the vocabulary", "E_VOCAB", () => s2s.fit({ sources: [[1, 5]], targets: [[2]] })],
  ["Seq2Seq.fit target id outside the vocabulary", "E_VOCAB", () => s2s.fit({ sources: [[1]], targets: [[6]] })],
  ["Seq2Seq.fit empty source", "E_SHAPE", () => s2s.fit({ sources: [[]], targets: [[2]] })],
  ["Seq2Seq.fit sources and targets differ in number", "E_SHAPE", () => s2s.fit({ sources: [[1], [2]], targets: [[2]] })],
  ["Seq2Seq.fit scheduledSampling 2", "E_OPTION", () => s2s.fit({ sources: [[1]], targets: [[2]] }, { scheduledSampling: 2 })],
  ["Seq2Seq.fit lr -1", "E_OPTION", () => s2s.fit({ sources: [[1]], targets: [[2]] }, { optimizer: { type: "adam", lr: -1 } })],
  ["Seq2Seq.fit vector of the wrong size", "E_SHAPE", () => s2v.fit({ sources: [[1, 2]], targets: [[2]] })],
  ["Seq2Seq.fit vector with NaN", "E_NAN", () => s2v.fit({ sources: [[1, NaN, 2]], targets: [[2]] })],
  ["Seq2Seq.evaluate batchSize 0", "E_OPTION", () => s2s.evaluate({ sources: [[1]], targets: [[2]] }, 0)],
  ["Seq2Seq.generate beam width 0", "E_OPTION", () => s2s.generate([[1, 2]], { beamWidth: 0 })],
  ["Seq2Seq.generate maxLength -1", "E_OPTION", () => s2s.generate([[1, 2]], { maxLength: -1 })],
  ["Seq2Seq.generate lengthPenalty -1", "E_OPTION", () => s2s.generate([[1, 2]], { beamWidth: 2, lengthPenalty: -1 })],
  ["Seq2Seq beam search source id outside the vocabulary", "E_VOCAB", () => s2s.generate([[1, 7]], { beamWidth: 3 })],
  ["Seq2Seq greedy source negative id", "E_VOCAB", () => s2s.generate([[-1, 2]])],
  ["Seq2Seq.generate temperature NaN", "E_OPTION", () => s2s.generate([[1]], { temperature: NaN })],
  ["Seq2Seq.generate vector with Infinity", "E_NAN", () => s2v.generate([[1, 2, Infinity]])],

  // ---- saving and loading ----
  ["saveModel(null)", "E_OPTION", () => saveModel(null as never)],
  ["saveModel of a plain object", "E_OPTION", () => saveModel({ trainState: {} } as never)],
  ["saveModel of a Vocab", "E_OPTION", () => saveModel(vocab as never)],
  ["saveModel vocab not a Vocab", "E_OPTION", () => saveModel(lm, { vocab: { tokens: ["a"] } as never })],
  ["saveModel meta an array", "E_OPTION", () => saveModel(lm, { meta: [1, 2] as never })],
  ["saveModel includeOptimizer 'yes'", "E_OPTION", () => saveModel(lm, { includeOptimizer: "yes" as never })],
  ["loadModel of garbage", "E_FORMAT", () => loadModel(new TextEncoder().encode("not a model at all"))],
  ["loadModel of a truncated file", "E_FORMAT", () => loadModel(saveModel(lm).subarray(0, 100))],
  ["loadModel(null)", "E_FORMAT", () => loadModel(null as never)],
  ["decodeModel of one flipped bit", "E_FORMAT", () => { const b = saveModel(lm); b[b.length >> 1] ^= 4; decodeModel(b); }],
  ["encodeModel NaN tensor", "E_FORMAT", () => encodeModel({ header: {}, tensors: [{ name: "w", shape: [1], data: Float32Array.of(NaN) }] })],
  ["loadModelFile of a missing file", "E_IO", () => loadModelFile(path.join(tmp, "missing.unfold"))],
  ["saveModelFile into a missing directory", "E_IO", () => saveModelFile(path.join(tmp, "no", "such", "m.unfold"), lm)],
  ["saveModelFile path ''", "E_OPTION", () => saveModelFile("", lm)],
  ["writeFileAtomic of a string", "E_OPTION", () => writeFileAtomic(path.join(tmp, "x.bin"), "bytes" as never)],
  ["encodeModel(null)", "E_FORMAT", () => encodeModel(null as never)],
  ["crc32 of a string", "E_OPTION", () => crc32("abc" as never)],
  ["loadSafetensors of names with a prefix not asked for (DDP's 'module.')", "E_FORMAT", () => loadSafetensors(lm, prefixed(lm, "module."))],
  ["loadSafetensors stripPrefix of the wrong wrapper", "E_FORMAT", () => loadSafetensors(lm, prefixed(lm, "module."), { stripPrefix: "model." })],
  ["loadSafetensors stripPrefix not a string", "E_OPTION", () => loadSafetensors(lm, saveSafetensors(lm), { stripPrefix: 1 as never })],
  ["loadSafetensors unknown option", "E_OPTION", () => loadSafetensors(lm, saveSafetensors(lm), { prefix: "module." } as never)],
  ["modelFromSafetensors of 'module.' names without stripPrefix", "E_FORMAT", () => modelFromSafetensors(prefixed(s2s, "module."))],
  ["modelFromSafetensors stripPrefix null", "E_OPTION", () => modelFromSafetensors(saveSafetensors(s2s), { stripPrefix: null as never })],

  // ---- sampling, optimizers, RNG, runtime ----
  ["sampleToken topK 0", "E_OPTION", () => sampleToken([1, 2], new Rng(1), { topK: 0 })],
  ["sampleToken without an Rng", "E_OPTION", () => sampleToken([1, 2], {} as never)],
  ["sampleToken empty logits", "E_SHAPE", () => sampleToken([], new Rng(1))],
  ["softmax temperature 0", "E_OPTION", () => softmax([1, 2], 0)],
  ["Optimizer unknown type", "E_OPTION", () => new Optimizer({ type: "lion", lr: 0.1 } as never, lm.regions())],
  ["Optimizer.loadState mismatched", "E_FORMAT", () => new Optimizer({ type: "adam", lr: 0.1 }, lm.regions()).loadState({ spec: { type: "adam", lr: 0.1 }, step: 1, buffers: [] })],
  ["Optimizer.apply lr NaN", "E_OPTION", () => lm.trainState.optimizer!.apply(NaN)],
  ["argmax offset past the end", "E_OPTION", () => argmax([1, 2], 5)],
  ["scheduleFactor stepSize 0", "E_OPTION", () => scheduleFactor({ type: "step", stepSize: 0 }, 1)],
  ["scheduleFactor step -1", "E_OPTION", () => scheduleFactor({ type: "constant" }, -1)],
  ["Rng(NaN)", "E_OPTION", () => new Rng(NaN)],
  ["Rng.setState([1])", "E_OPTION", () => new Rng(1).setState([1])],
  ["init({ threads: 0 })", "E_OPTION", () => init({ threads: 0 })],
  ["init(42)", "E_OPTION", () => init(42 as never)],

  // ---- data ----
  ["Vocab.encode unknown character", "E_VOCAB", () => vocab.encode("hello!")],
  ["Vocab.decode id outside the vocabulary", "E_VOCAB", () => vocab.decode([0, 99])],
  ["Vocab.token(-1)", "E_VOCAB", () => vocab.token(-1)],
  ["Vocab.encode onUnknown 'skip'", "E_OPTION", () => vocab.encode("he", { onUnknown: "skip" as never })],
  ["Vocab.fromJSON of garbage", "E_FORMAT", () => Vocab.fromJSON({ format: "nope" })],
  ["Vocab.fromChars minCount 0", "E_OPTION", () => Vocab.fromChars("abc", { minCount: 0 } as never)],
  ["padBatch of no sequences", "E_SHAPE", () => padBatch([], { padId: 0 })],
  ["padBatch maxLen 0", "E_OPTION", () => padBatch([[1]], { padId: 0, maxLen: 0 })],
  ["padBatch id 1.5", "E_VOCAB", () => padBatch([[1.5]], { padId: 0 })],
  ["TokenStream B 0", "E_OPTION", () => new TokenStream([1, 2, 3], 0)],
  ["TokenStream too short", "E_OPTION", () => new TokenStream([1, 2, 3], 2)],
  ["trainValSplit fraction 1.5", "E_OPTION", () => trainValSplit(10, 1.5, new Rng(1))],
  ["bucketBatches batchSize 0", "E_OPTION", () => bucketBatches([1, 2], 0)],
];

describe("typed errors: every bad call throws UnfoldError with its code and changes nothing", () => {
  it(`the table has at least 100 bad calls (${cases.length})`, () => {
    expect(cases.length).toBeGreaterThanOrEqual(100);
    expect(new Set(cases.map((c) => c[0])).size).toBe(cases.length);
  });

  it.each(cases)("%s -> %s", async (_name, code, call) => {
    const before = checksum();
    let caught: unknown;
    try {
      await call();
    } catch (err) {
      caught = err;
    }
    expect(caught, "no error was thrown").toBeInstanceOf(UnfoldError);
    const e = caught as UnfoldError;
    expect(e.code, e.message).toBe(code);
    expect(e.message).toMatch(/^unfold-rnn: \S/);
    expect(e.message, "one line").not.toContain("\n");
    expect(checksum(), "state changed").toBe(before);
  });

  it("the checksum sees a change (so the table cannot pass vacuously)", () => {
    const before = checksum();
    const sd = lm.stateDict();
    const w = sd["head.bias"];
    w[0] += 1;
    lm.loadStateDict(sd);
    expect(checksum()).not.toBe(before);
    w[0] -= 1;
    lm.loadStateDict(sd);
    expect(checksum()).toBe(before);
    lstm.rngState = lstm.rngState.map((x, i) => (i === 0 ? x + 1 : x));
    expect(checksum()).not.toBe(before);
  });

  it("errors carry the offending name, what was expected and what was received", () => {
    try {
      s2s.generate([[1]], { beamWidth: 0 });
    } catch (err) {
      const e = err as UnfoldError;
      expect(e.param).toBe("generate: options.beamWidth");
      expect(e.expected).toBe("an integer >= 1");
      expect(e.received).toBe("0");
      return;
    }
    throw new Error("no error");
  });

  it("an Adam update that makes weights non-finite (finite gradients, absurd lr) is caught by the fused check", () => {
    const m = new Sequential({ input: { type: "features", size: 1 }, recurrent: [{ cell: "lstm", hiddenSize: 4 }], output: { size: 1, loss: "mse" }, mode: "many-to-one", seed: 2 });
    const n = m.regions().reduce((s, r) => s + r.params.bytes / 4, 0);
    // lr / (1 - beta1) = 3e39 overflows f32: every weight with a nonzero first moment becomes +-inf or NaN.
    expect(() => m.fit({ inputs: [[0.5, -0.25]], targets: [[1]] }, { epochs: 1, optimizer: { type: "adam", lr: 3e38 } })).toThrow(
      new RegExp(`update 1 made \\d+ weight\\(s\\) non-finite`),
    );
    let bad = 0;
    for (const r of m.regions()) bad += kernels().count_nonfinite(r.params.ptr, r.params.bytes / 4);
    expect(bad).toBeGreaterThan(0);
    expect(bad).toBeLessThanOrEqual(n);
    m.dispose();
  });

  it("TrainingDivergedError and ModelFileError are UnfoldErrors with their codes", () => {
    const m = new Sequential({ input: { type: "features", size: 1 }, recurrent: [{ cell: "rnn", hiddenSize: 2 }], output: { size: 1, loss: "mse" }, mode: "many-to-one" });
    let err: unknown;
    try {
      m.fit({ inputs: [[1e30]], targets: [[1e30]] }, { epochs: 1, clipNorm: null, optimizer: { type: "sgd", lr: 1e30 } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UnfoldError);
    expect((err as UnfoldError).name).toBe("TrainingDivergedError");
    expect((err as UnfoldError).code).toBe("E_NAN");
    try {
      decodeModel(new Uint8Array(3));
    } catch (e) {
      expect((e as UnfoldError).name).toBe("ModelFileError");
      expect((e as UnfoldError).code).toBe("E_FORMAT");
      expect((e as { reason: string }).reason).toBe("BAD_MAGIC");
    }
  });
});

describe("the unfold command: one line per error, an exit status per code, and files with NaN in their history", () => {
  const main = path.join(import.meta.dirname, "..", "dist", "cli", "main.js");
  const cli = (...args: string[]) =>
    new Promise<{ code: number; out: string; err: string }>((res) => {
      execFile(process.execPath, [main, ...args], { cwd: tmp }, (e, out, err) => res({ code: e ? Number((e as { code?: unknown }).code ?? 1) : 0, out, err }));
    });
  const oneLine = (r: { err: string }) => {
    const lines = r.err.split("\n").filter((l) => l.length > 0);
    expect(lines, r.err).toHaveLength(1);
    expect(lines[0]).toMatch(/^unfold: /);
    expect(r.err).not.toMatch(/\n\s+at /);
  };

  it("maps codes to exit statuses and shows non-finite history numbers as '-'", async () => {
    // A valid char LM whose history holds NaN and Infinity (a diverged epoch's loss).
    const text = "abc abd abe ".repeat(10);
    const v = Vocab.fromChars(text);
    const m = new Sequential({ input: { type: "tokens", vocabSize: v.size, embeddingDim: 3 }, recurrent: [{ cell: "gru", hiddenSize: 4 }], output: { size: v.size, loss: "xent" }, mode: "many-to-many" });
    m.fit({ stream: v.encode(text) }, { steps: 2, batchSize: 2, tbptt: { k1: 4 } });
    m.trainState.history.epochs.push({ epoch: 2, step: 2, loss: NaN, valLoss: Infinity, seconds: 1 });
    fs.writeFileSync(path.join(tmp, "nan.unfold"), saveModel(m, { vocab: v }));
    m.dispose();
    expect(loadModel(fs.readFileSync(path.join(tmp, "nan.unfold"))).model.trainState.history.epochs.at(-1)?.loss).toBeNaN();
    fs.writeFileSync(path.join(tmp, "garbage.unfold"), "not a model");
    const [info, sample, missing, garbage, flag] = await Promise.all([
      cli("info", "nan.unfold"),
      cli("sample", "nan.unfold", "--prime", "ab", "--length", "5", "--seed", "1"),
      cli("info", "missing.unfold"),
      cli("sample", "garbage.unfold"),
      cli("train", "--hidden", "0"),
    ]);
    expect(info.code, info.err).toBe(0);
    expect(info.out).toMatch(/epoch 2: to step 2, mean loss -, val -, 1 s/);
    expect(sample.code, sample.err).toBe(0);
    expect(sample.out.trim()).toMatch(/^ab.{5}$/);
    expect(missing.code).toBe(8); // E_IO
    oneLine(missing);
    expect(missing.err).toMatch(/no such model file: missing\.unfold/);
    expect(garbage.code).toBe(5); // E_FORMAT
    oneLine(garbage);
    expect(garbage.err).toMatch(/not an unfold-rnn model file/);
    expect(flag.code).toBe(1); // a bad flag
    oneLine(flag);
  }, 120_000);
});
