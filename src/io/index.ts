/**
 * Model files, runtime-neutral part: encode / decode the single-file format
 * (see `docs/FORMAT.md`). Node's crash-safe file writing lives in
 * `./node.js` and is imported separately, so browser and edge bundles never
 * pull in `node:fs`.
 */
export {
  FORMAT_VERSION,
  MAGIC,
  ModelFileError,
  crc32,
  decodeModel,
  encodeModel,
  type ModelFile,
  type ModelFileErrorCode,
  type ModelTensor,
  type TensorEntry,
  type TensorDType,
} from "./format.js";
export { f16BitsToF32, f32ToF16Bits } from "./f16.js";
