/**
 * Saving and loading whole models in the single-file format of
 * docs/FORMAT.md: the definition, vocabulary and training state in the JSON
 * header; weights and optimizer moments as little-endian f32 tensors. Works
 * on bytes in every runtime; `unfold-rnn/node` adds files.
 */
import { decodeModel, encodeModel, type ModelTensor } from "../io/format.js";
import { Vocab, type VocabJSON } from "../data/vocab.js";
import { Scaler, type ScalerJSON } from "../data/timeseries.js";
import { Optimizer, type OptimizerSpec } from "../train/optimizers.js";
import type { TrainHistory } from "../train/trainer.js";
import type { Recurrent } from "../layers/recurrent.js";
import { Sequential, type SequentialSpec } from "./sequential.js";
import { Seq2Seq, type Seq2SeqSpec } from "./seq2seq.js";

/** A model that can be saved: {@link Sequential} or {@link Seq2Seq}. */
export type AnyModel = Sequential | Seq2Seq;

interface SavedHeader {
  library: "unfold-rnn";
  kind: "sequential" | "seq2seq";
  spec: SequentialSpec | Seq2SeqSpec;
  vocab?: VocabJSON;
  targetVocab?: VocabJSON;
  train?: {
    history: TrainHistory;
    epoch: number;
    streamPosition: number;
    optimizer?: { spec: OptimizerSpec; step: number; buffers: number };
    /** Per recurrent layer: batch size of the carried state (tensors state/<i>/h, /c), or null. */
    carried?: (number | null)[];
    /** Per recurrent layer: dropout RNG state. */
    rng?: number[][];
  };
  /** Anything the caller wants to keep (e.g. CLI settings). */
  meta?: Record<string, unknown>;
  /** Time series: the model's fitted scaler. */
  scaler?: ScalerJSON;
}

/** What {@link loadModel} returns. */
export interface LoadedModel<M extends AnyModel = AnyModel> {
  model: M;
  vocab?: Vocab;
  targetVocab?: Vocab;
  meta?: Record<string, unknown>;
}

/** Options of {@link saveModel}. */
export interface SaveOptions {
  vocab?: Vocab;
  /** Seq2Seq: the output vocabulary, if different from `vocab`. */
  targetVocab?: Vocab;
  /** Keep the optimizer's moments so training resumes exactly. Default true. */
  includeOptimizer?: boolean;
  meta?: Record<string, unknown>;
}

/** The recurrent layers of a model, in a fixed order. */
function recurrentLayers(model: AnyModel): Recurrent[] {
  if (model instanceof Seq2Seq) return [...(model.encoder ? [model.encoder] : []), ...model.decoder.recurrent];
  return model.recurrent;
}

/** Encode a model (and optionally its vocabulary and training state) as bytes. */
export function saveModel(model: AnyModel, opts: SaveOptions = {}): Uint8Array {
  const ts = model.trainState;
  const tensors: ModelTensor[] = [];
  for (const [name, t] of model.parameters()) tensors.push({ name: `param/${name}`, shape: [...t.shape], data: t.toArray() });
  const header: SavedHeader = {
    library: "unfold-rnn",
    kind: model instanceof Seq2Seq ? "seq2seq" : "sequential",
    spec: model.toJSON(),
    train: { history: ts.history, epoch: ts.epoch, streamPosition: ts.streamPosition },
  };
  if (ts.optimizer && (opts.includeOptimizer ?? true)) {
    const st = ts.optimizer.state();
    header.train!.optimizer = { spec: st.spec, step: st.step, buffers: st.buffers.length };
    st.buffers.forEach((b, i) => tensors.push({ name: `optim/${i}`, shape: [b.length], data: b }));
  }
  const rec = recurrentLayers(model);
  header.train!.rng = rec.map((r) => r.rngState);
  if (ts.carried) {
    header.train!.carried = ts.carried.map((c, i) => {
      if (!c) return null;
      tensors.push({ name: `state/${i}/h`, shape: [c.h.length], data: c.h }, { name: `state/${i}/c`, shape: [c.c.length], data: c.c });
      return c.B;
    });
  }
  if (opts.vocab) header.vocab = opts.vocab.toJSON();
  if (opts.targetVocab) header.targetVocab = opts.targetVocab.toJSON();
  if (opts.meta) header.meta = opts.meta;
  if (model instanceof Sequential && model.scaler) header.scaler = model.scaler.toJSON();
  return encodeModel({ header: header as unknown as Record<string, unknown>, tensors });
}

/**
 * Decode bytes from {@link saveModel}: rebuilds the model, loads weights,
 * vocabulary and optimizer state. Everything is checked before a model is
 * returned; a corrupt or mismatched file throws and yields nothing.
 */
export function loadModel(bytes: Uint8Array | ArrayBuffer): LoadedModel {
  const { header: raw, tensors } = decodeModel(bytes);
  const h = raw as unknown as SavedHeader;
  if (h.library !== "unfold-rnn" || (h.kind !== "sequential" && h.kind !== "seq2seq")) {
    throw new Error(`unfold-rnn: the file is a valid container but not a saved model (kind ${JSON.stringify(h.kind)})`);
  }
  const vocab = h.vocab ? Vocab.fromJSON(h.vocab) : undefined;
  const targetVocab = h.targetVocab ? Vocab.fromJSON(h.targetVocab) : undefined;
  let model: AnyModel;
  try {
    model = h.kind === "seq2seq" ? new Seq2Seq(h.spec as Seq2SeqSpec) : new Sequential(h.spec as SequentialSpec);
  } catch (err) {
    throw new Error(`unfold-rnn: the saved model definition is invalid: ${(err as Error).message}`);
  }
  try {
    const sd: Record<string, Float32Array> = {};
    const optim: Float32Array[] = [];
    const states = new Map<string, Float32Array>();
    for (const t of tensors) {
      if (t.name.startsWith("param/")) sd[t.name.slice(6)] = t.data;
      else if (t.name.startsWith("optim/")) optim[Number(t.name.slice(6))] = t.data;
      else if (t.name.startsWith("state/")) states.set(t.name, t.data);
      else throw new Error(`unexpected tensor '${t.name}'`);
    }
    model.loadStateDict(sd);
    if (h.scaler !== undefined) {
      if (!(model instanceof Sequential)) throw new Error("a scaler is saved with a model that is not Sequential");
      model.scaler = Scaler.fromJSON(h.scaler);
    }
    const tr = h.train;
    if (tr) {
      model.trainState.history = tr.history;
      model.trainState.epoch = tr.epoch;
      model.trainState.streamPosition = tr.streamPosition;
      const rec = recurrentLayers(model);
      tr.rng?.forEach((s, i) => {
        if (rec[i]) rec[i].rngState = s;
      });
      if (tr.carried) {
        model.trainState.carried = tr.carried.map((B, i) => {
          if (B === null) return null;
          const h = states.get(`state/${i}/h`);
          const c = states.get(`state/${i}/c`);
          if (!h || !c) throw new Error(`carried state of recurrent layer ${i} is missing`);
          return { B, h, c };
        });
      }
      if (tr.optimizer) {
        if (optim.length !== tr.optimizer.buffers) throw new Error(`optimizer state has ${optim.length} of ${tr.optimizer.buffers} buffers`);
        const opt = new Optimizer(tr.optimizer.spec, model.regions());
        opt.loadState({ spec: tr.optimizer.spec, step: tr.optimizer.step, buffers: optim });
        model.trainState.optimizer = opt;
      }
    }
  } catch (err) {
    model.dispose();
    throw new Error(`unfold-rnn: the saved model does not match its definition: ${(err as Error).message}`);
  }
  return { model, vocab, targetVocab, meta: h.meta };
}
