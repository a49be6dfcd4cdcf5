/**
 * The sequence-data layer: tokenizers, vocabularies, padding / masks /
 * bucketing, and the truncated-BPTT token stream. Pure TypeScript, no WASM.
 * @module
 */
export { charTokens, wordTokens, type WordTokenOptions } from "./tokenize.js";
export {
  Vocab,
  compareCodePoints,
  SPECIAL_KINDS,
  DEFAULT_SPECIALS,
  type SpecialKind,
  type VocabLevel,
  type VocabSpecials,
  type VocabOptions,
  type WordVocabOptions,
  type EncodeOptions,
  type DecodeOptions,
  // "unfold-rnn" exports Seq2Seq's DecodeOptions under that name; Vocab.decode's options are this.
  type DecodeOptions as VocabDecodeOptions,
  type VocabJSON,
} from "./vocab.js";
export {
  padBatch,
  lastStepIndex,
  lastStepRows,
  bucketBatches,
  shuffledBatches,
  trainValSplit,
  type PadBatchOptions,
  type PaddedBatch,
  type BucketOptions,
  type ShuffleOptions,
} from "./batch.js";
export { TokenStream, type StreamWindow } from "./stream.js";
export { type TokenIds, idBytes, CharCounts } from "./chars.js";
export { windows, Scaler, type WindowOptions, type Windows, type ScalerJSON } from "./timeseries.js";
