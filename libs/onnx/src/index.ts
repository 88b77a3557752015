// @benchfarm/onnx: read, check and analyse ONNX models, fix their input shapes, load them in
// onnxruntime (optionally in a child process), and derive variants. The single public entry.
export * from './errors';
export { onnx, OnnxElemType, toNumber, cloneModel, type ModelProto, type GraphProto, type NodeProto, type TensorProto, type ValueInfoProto } from './model-io/proto';
export { readModel, writeModel, readModelFile, assertSafeExternalData, externalDataRefs, modelTensors, isDefaultDomain, type LoadedModel } from './model-io/model-io';
export { sha256Hex, writeFileAtomic } from './model-io/files';
export { inspectModel, toTensorDataType, declaredDims, elementCount, tensorBytes, type Dim, type ModelInfo, type TensorInfo } from './model-io/analyse';
export { fixInputShapes, defaultShapes, type InputShapes, type FixedShapes, type DefaultShapeOptions } from './model-io/shapes';
export { prepareModel, prepareOwnVariant, OwnVariantError, type PreparedModelFile, type PreparedOutput, type PrepareOptions, type OwnVariantFile, type OwnVariantProblem } from './prepare-model';
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
} from './runtime/ort';
export {
  VARIANT_PASSES,
  deriveVariant,
  parseVariantList,
  opHistogramDelta,
  type VariantName,
  type DeriveOptions,
} from './passes/variants';
export { prepareDefaultModel, defaultModelSourcePath, paddleOcrModelPath, DEFAULT_MODEL_PACKAGE, DEFAULT_MODEL_SOURCE_SHA256, DEFAULT_MODEL_SIZE_PX, DefaultModelSourceError, type DefaultModel } from './model-io/default-model';
export { type FloatTensor, type Feeds, type RunOptions, runModel, captureActivations, inferShapesByRunning, zeroFeeds, interleavedLatencyMs } from './runtime/activations';
export { analyseModel, nodeCosts, type ModelAnalysis, type NodeCost } from './model-io/model-analysis';
export { upgradeOpset } from './model-io/opset';
export { roundHalfEven, computeScaleZp, quantizeValue, quantizeWeightsPerChannel, quantizeBias, percentileRange, entropyRange, accumulateHistogram, HISTOGRAM_BINS, quantRange, type QuantType, type ScaleZp, type TensorStats } from './passes/quant-math';
export { quantizeStatic, headNodes, planQdq, qdqTensors, calibrateTensors, qdqParams, buildQdq, DEFAULT_STATIC_OPTIONS, type QdqPlan, type QdqCandidate, type QdqTensors, type StaticQuantOptions, type CalibrationMethod, type StaticQuantResult } from './passes/quantize-static';
export { quantizeAuto, quantizationSensitivity, parseAutoParams, holdOutEveryThird, taskOfOutputs, DEFAULT_AUTO_OPTIONS, type AutoQuantOptions, type AutoParams, type AutoQuantResult } from './passes/quantize-auto';
export { DEFAULT_AUTO_FLOORS, type AutoFloor, type AutoFloorMetric, type AutoQuantReport, type AutoSearchStep, type LayerSensitivity } from './passes/quantize-auto.types';
export { profileNodeTimes, layerTimes, nodeTimesFromProfile, attributeNodes, OrtProfileError, type NodeTime, type LayerTimes, type ProfileOptions } from './runtime/ort-profile';
export { countQdq, qdqIslands, type QdqCounts, type QdqIslands } from './passes/qdq-islands';
export { quantizeDynamic } from './passes/quantize-dynamic';
export { convertToFloat16, clipToFloat16Range, FP16_BLOCK_LIST, FP16_MAX, FP16_MIN_POSITIVE, type Fp16Options } from './passes/fp16';
export { pruneMagnitude, pruneChannels, zeroShare, type MagnitudeOptions } from './passes/prune';
export { foldBatchNorm } from './passes/fold-bn';
export {
  PREPROCESS_PRESETS,
  CalibrationDataError,
  parsePreprocessConfig,
  decodeJpeg,
  imageToTensor,
  listImages,
  loadImageFeeds,
  splitCalibrationEvaluation,
  type PreprocessConfig,
  type RgbImage,
} from './model-io/preprocess';
export { COMPRESSION_PASSES, loadCalibration, parseStaticOptions, parseRatio } from './passes/compression-passes';
export { resolveVariantPass } from './passes/variants';
export type { CalibrationData, CalibrationSource, ComputedPass, DerivedVariant, FilePass, FilePassContext, ModelPass, PassContext, VariantPass, VariantRecipe, VariantRegistry } from './passes/variants.types';
export {
  compareOutputs,
  compareDetections,
  decodeYolo,
  guessYoloLayout,
  meanAveragePrecision,
  nms,
  iou,
  DETECTION_THRESHOLDS,
  type OutputFidelity,
  type DetectionFidelity,
  type YoloLayout,
  type YoloDecodeOptions,
  type MapResult,
  parseCocoLabels,
  cocoGroundTruth,
  labelledMap,
  LabelsError,
  cocoImageClasses,
  type CocoLabels,
} from './evaluation/fidelity';
export {
  EVALUATION_CI_LEVEL,
  MAX_DETECTIONS_PER_IMAGE,
  MatchedDetections,
  matchImage,
  topK,
  topDetections,
  percentileBootstrapInterval,
  type MatchedImage,
  type Detection,
  type WeightedMap,
} from './evaluation/evaluation-math';
export {
  EVALUATION_TASKS,
  DEFAULT_EVALUATION_RESAMPLES,
  COCO_IOU_THRESHOLDS,
  EvaluationAccumulator,
  EvaluationOutputError,
  outputsFidelity,
  summarizeFidelity,
  type EvaluationTask,
  type EvaluationSetup,
  type ImageTruth,
  type RunOutput,
  type RunOutputs,
  type FidelitySummaryOptions,
} from './evaluation/evaluation';
export { loadImagesAhead, type LoadedImage, type LoadAheadOptions } from './evaluation/evaluation-images';
export { floatsOf, floatTensor, float32ToFloat16Bits, float16BitsToFloat32, TensorDataError } from './model-io/tensor-data';
