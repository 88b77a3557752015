// @benchfarm/onnx: read, check and analyse ONNX models, fix their input shapes, load them in
// onnxruntime (optionally in a child process), and derive variants. The single public entry.
export * from './errors';
export { onnx, OnnxElemType, toNumber, cloneModel, type ModelProto, type GraphProto, type NodeProto, type TensorProto, type ValueInfoProto } from './proto';
export { readModel, writeModel, readModelFile, assertSafeExternalData, externalDataRefs, modelTensors, isDefaultDomain, type LoadedModel } from './model-io';
export { sha256Hex, writeFileAtomic } from './files';
export { inspectModel, toTensorDataType, declaredDims, elementCount, tensorBytes, type Dim, type ModelInfo, type TensorInfo } from './analyse';
export { fixInputShapes, defaultShapes, type InputShapes, type FixedShapes, type DefaultShapeOptions } from './shapes';
export {
  ORT_VERSION,
  checkLoadsInOrt,
  checkLoadsInOrtIsolated,
  optimizeWithOrt,
  runOrtTaskIsolated,
  type OrtLoadResult,
  type OrtOptimizationLevel,
  type OrtTask,
  type OrtTaskResult,
  type IsolationOptions,
} from './ort';
export {
  VARIANT_PASSES,
  deriveVariant,
  parseVariantList,
  opHistogramDelta,
  type VariantName,
  type VariantPass,
  type ModelPass,
  type FilePass,
  type FilePassContext,
  type VariantRecipe,
  type VariantRegistry,
  type DerivedVariant,
  type DeriveOptions,
} from './variants';
export { prepareDefaultModel, defaultModelSourcePath, paddleOcrModelPath, DEFAULT_MODEL_PACKAGE, DEFAULT_MODEL_SOURCE_SHA256, DEFAULT_MODEL_SIZE_PX, DefaultModelSourceError, type DefaultModel } from './default-model';
