/**
 * unfold-rnn: recurrent neural networks for JavaScript runtimes.
 * @packageDocumentation
 */
export { UnfoldError, type UnfoldErrorCode, type UnfoldErrorDetails } from "./errors.js";
export { init, dispose, isInitialized, hasWasmSimd, type WasmSource, type InitOptions, type WasmModule, type WasmMemory, type WasmResponse } from "./runtime/wasm.js";
export { hasRelaxedSimd, simdBuild, type SimdBuild } from "./runtime/wasm.js";
export { threadCount } from "./runtime/threads.js";
export { Arena, Tensor, type DType } from "./runtime/arena.js";
export { Rng } from "./util/rng.js";
export { SimpleRNN, LSTM, GRU, Recurrent, type CellKind, type GateActivation, type RecurrentOptions, type ForwardOptions, type ForwardResult, type BackwardInput, type BackwardResult } from "./layers/recurrent.js";
export { Dense, Embedding, type DenseOptions, type EmbeddingOptions } from "./layers/dense.js";
export type { StateDict, NestedArray } from "./layers/params.js";
export type { InitScheme } from "./layers/init.js";
export { Sequential, type SequentialSpec, type RecurrentSpec, type InputSpec, type Batch } from "./model/sequential.js";
export type { TrainData, StreamData, SequenceData, FitOptions, Evaluation, GenerateOptions } from "./model/fit.js";
export { sampleToken, argmax, softmax, type SamplingOptions } from "./model/sampling.js";
export { Optimizer, scheduleFactor, type OptimizerSpec, type ScheduleSpec, type OptimizerState, type ParamRegion } from "./train/optimizers.js";
export { TrainingDivergedError, type TrainOptions, type StepInfo, type EpochInfo, type TrainHistory } from "./train/trainer.js";
export * from "./data/index.js";
export * from "./io/index.js";
export { Seq2Seq, type Seq2SeqSpec, type Seq2SeqData, type Seq2SeqFitOptions, type DecodeOptions } from "./model/seq2seq.js";
export { Attention, type AttentionOptions, type ScoreKind } from "./layers/attention.js";
export { saveModel, loadModel, type SaveOptions, type LoadedModel, type AnyModel } from "./model/save.js";
export { InferenceSession, type SessionOptions } from "./model/session.js";
export { AttentionSession } from "./model/attention-session.js";
export { quantize, dequantize, isQuantized, QuantizedSequential, QuantizedSeq2Seq, type QuantizeOptions, type QuantizedModel, type QuantizedMatrix } from "./model/quantize.js";
export { forecast, type ForecastOptions } from "./model/forecast.js";
export { Forecaster, GlobalForecaster, planSeries, type ForecasterOptions, type ForecastResult, type NamedSeries, type SeriesPlan } from "./model/forecaster.js";
export { mae, mase, smape, coverage, naiveScale, seasonalNaive } from "./data/metrics.js";
// Exchange with PyTorch: safetensors weights (issue 8).
export { encodeSafetensors, decodeSafetensors, entryToFloat32, saveSafetensors, loadSafetensors, modelFromSafetensors, type SafetensorsDtype, type SafetensorsEntry, type SafetensorsFile, type SafetensorsModel, type SafetensorsSaveOptions, type SafetensorsLoadOptions, type ModelFromSafetensorsOptions } from "./io/safetensors.js";
export { inspect, INSPECT_KINDS, type Inspection, type LayerInspection } from "./model/inspect.js";
export { fromTfjs, type TfjsModelJson, type TfjsWeightSpec, type TfjsImportDescription } from "./io/tfjs.js";
