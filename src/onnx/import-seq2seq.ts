/**
 * ONNX import of an encoder/decoder pair: `fromONNXSeq2Seq({ encoder, decoder })`
 * turns the two graphs toONNX(Seq2Seq) writes back into a {@link Seq2Seq}.
 * Apart from fromONNX so that importing a Sequential does not bundle Seq2Seq.
 */
import { UnfoldError } from "../errors.js";
import { Seq2Seq, type Seq2SeqSpec } from "../model/seq2seq.js";
import { type ONNXImportDescription, readModel, recognise } from "./import.js";

/** Options of {@link fromONNXSeq2Seq}. */
export interface FromONNXPairOptions {
  /** The target's begin and end token ids; default: from the files' `unfold.spec` metadata (toONNX writes it). */
  bosId?: number;
  /** The target's end token id; default: from the files' `unfold.spec` metadata, as `bosId`. */
  eosId?: number;
  /** Seed of the model's dropout and sampling streams. Default 0. */
  seed?: number;
}

/** The result of {@link fromONNXSeq2Seq}. */
export interface ONNXSeq2SeqImport {
  /** The imported model. */
  model: Seq2Seq;
  /** What was recognised in each graph. */
  description: {
    /** The encoder graph's description. */
    encoder: ONNXImportDescription;
    /** The decoder-step graph's description. */
    decoder: ONNXImportDescription;
  };
}

/**
 * An encoder graph (token source -> the final states [L, B, H] of its layers)
 * and a decoder-step graph (tokens, h0 [, c0] -> logits, hN [, cN]), as
 * toONNX(Seq2Seq) writes them: one Seq2Seq. Token sources without attention.
 * @throws UnfoldError as fromONNX for each graph, E_UNSUPPORTED when the two
 *   stacks differ, E_OPTION when bosId / eosId are neither given nor in the files' metadata
 */
export function fromONNXSeq2Seq(pair: { encoder: Uint8Array; decoder: Uint8Array }, opts: FromONNXPairOptions = {}): ONNXSeq2SeqImport {
  if (!pair || typeof pair !== "object") throw new UnfoldError("E_OPTION", "fromONNXSeq2Seq takes { encoder, decoder }: the bytes of the two graphs", { name: "pair", received: pair });
  const em = readModel(pair.encoder, "encoder");
  const dm = readModel(pair.decoder, "decoder");
  const enc = recognise(em, {}, true);
  const dec = recognise(dm, { loss: "xent" });
  if (enc.spec.input.type !== "tokens") throw new UnfoldError("E_UNSUPPORTED", "fromONNX: the encoder reads features; a Seq2Seq pair needs a token source (a vector source's bridge is not read)", { name: "encoder" });
  if (dec.spec.input.type !== "tokens" || dec.spec.mode !== "many-to-many") throw new UnfoldError("E_UNSUPPORTED", "fromONNX: the decoder must read tokens and give logits per step", { name: "decoder" });
  if (enc.spec.recurrent.length !== 1 || dec.spec.recurrent.length !== 1 || JSON.stringify(enc.spec.recurrent[0]) !== JSON.stringify(dec.spec.recurrent[0])) {
    throw new UnfoldError("E_UNSUPPORTED", `fromONNX: the encoder (${JSON.stringify(enc.spec.recurrent)}) and the decoder (${JSON.stringify(dec.spec.recurrent)}) must have the same recurrent stack`, { name: "decoder" });
  }
  if (dec.description.initialStates.length === 0) throw new UnfoldError("E_UNSUPPORTED", "fromONNX: the decoder graph takes no initial state, so the encoder's cannot reach it", { name: "decoder" });
  let meta: { target?: { bosId?: number; eosId?: number } } = {};
  try {
    meta = JSON.parse(dm.props.get("unfold.spec") ?? em.props.get("unfold.spec") ?? "{}");
  } catch {
    meta = {};
  }
  const bosId = opts.bosId ?? meta.target?.bosId;
  const eosId = opts.eosId ?? meta.target?.eosId;
  const V = dec.spec.input.vocabSize;
  for (const [name, id] of [["bosId", bosId], ["eosId", eosId]] as const) {
    if (!Number.isInteger(id) || (id as number) < 0 || (id as number) >= V) throw new UnfoldError("E_OPTION", `fromONNX: options.${name} must be a token id of the target vocabulary [0, ${V}) (the files carry no unfold.spec metadata)`, { name: `options.${name}`, received: id });
  }
  if (dec.spec.output.size !== V) throw new UnfoldError("E_SHAPE", `fromONNX: the decoder's head has ${dec.spec.output.size} outputs for a ${V}-token target vocabulary`, { name: "decoder" });
  const spec: Seq2SeqSpec = {
    source: { type: "tokens", vocabSize: enc.spec.input.vocabSize, embeddingDim: enc.spec.input.embeddingDim },
    target: { vocabSize: V, embeddingDim: dec.spec.input.embeddingDim, bosId: bosId as number, eosId: eosId as number },
    recurrent: enc.spec.recurrent[0],
    seed: opts.seed ?? 0,
  };
  const state: Record<string, Float32Array> = { "encoder.embedding.weight": enc.state["embedding.weight"] };
  for (const [k, v] of Object.entries(enc.state)) if (k.startsWith("rnn0.")) state[`encoder.rnn.${k.slice(5)}`] = v;
  for (const [k, v] of Object.entries(dec.state)) state[`decoder.${k}`] = v;
  const model = new Seq2Seq(spec);
  try {
    model.loadStateDict(state);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { model, description: { encoder: enc.description, decoder: dec.description } };
}

