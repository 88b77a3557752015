import { CALIBRATED_VARIANTS, SWEEP_DEFAULTS, type sweepRequestSchema } from './sweep-request';
import { CONFIG_SEARCH_DEFAULTS } from './config-search-request';

/** A JSON Schema object (OpenAPI 3.0 dialect). */
export type JsonSchema = Record<string, unknown>;

/** A field of POST /sweeps, as the server's schema names it. */
export type SweepField = keyof typeof sweepRequestSchema.shape;

/** What the document says about one request field beyond what its zod schema gives (type, bounds, default, enum). */
export interface FieldDoc {
  readonly description: string;
  /** A value the server accepts for this field (the contract tests send it). */
  readonly example: unknown;
  /** The field's text form (multipart, or a string in JSON), documented as an alternative to the structured one. */
  readonly text?: string;
  /** Only for a field whose zod schema JSON Schema cannot express (a custom check): the schema to document instead. */
  readonly schema?: JsonSchema;
}

const calibrated = CALIBRATED_VARIANTS.join(' or ');

/**
 * The field docs of POST /sweeps: the OpenAPI document's descriptions, and examples the
 * contract tests send (to the coordinator, and through the CLI's sweep file). Typed by the
 * schema's own keys: a field added to sweep-request.ts (or scenario-request.ts) without a doc
 * here fails the build.
 */
export const SWEEP_FIELD_DOCS: { readonly [K in SweepField]: FieldDoc } = {
  name: { description: "The sweep's name; default: the model's file name.", example: 'yolox-nano nightly' },
  modelPath: { description: "Path of the ONNX model on the coordinator's machine (JSON requests; a multipart request uploads it as `model`). Errors about the model name this field.", example: '/models/yolox_nano.onnx' },
  variants: {
    description: `Variants to derive and measure, as a comma-separated list or an array. Unknown names are refused with 400 unknown_variant listing the known ones. Default: ${SWEEP_DEFAULTS.variants.join(',')}.`,
    example: 'fp32,ort-basic',
  },
  targets: {
    description:
      'Agents to run on: "all" (every live agent), agent ids or "label:key=value" (the union is used), narrowed by capability filters "arch=", "os=", "provider=", "sensor=", "runtime=" that must all hold (e.g. "arch=arm64,provider=cuda"); comma-separated or an array. Default: all.',
    example: 'all',
  },
  shapes: {
    description:
      'Concrete shapes of the model inputs by name (an object, or the text "name:1x3x224x224" with several separated by "," or ";"). Inputs left out keep their fixed dims; a dynamic batch dim defaults to 1; other dynamic dims must be given (else 400 invalid_shapes). Elements per input are bounded (BENCHFARM_MAX_INPUT_ELEMENTS).',
    example: { images: [1, 3, 416, 416] },
    text: 'images:1x3x416x416',
  },
  calibrationDir: {
    description: `Folder of JPEG images on the coordinator's machine that calibrates ${calibrated} variants (needs calibrationPreprocess or preprocess), for lab set-ups; from another machine use a dataset. Refused (400, this field) when no variant of the sweep calibrates. Without calibration images (calibrationDir, dataset, calibrationDataset) or calibrationRandom an int8-static variant is refused (400 invalid_argument).`,
    example: '/data/calibration',
  },
  calibrationPreprocess: {
    description: `How calibration images become the input tensor: a preset (yolox, yolo, imagenet), or { resize: letterbox|stretch, padValue, channelOrder: RGB|BGR, layout: NCHW|NHWC, scale, mean: [3], std: [3] } (an object, or its JSON text). Refused (400, this field) when no variant calibrates (${calibrated}).`,
    example: 'yolox',
  },
  preprocess: {
    description:
      "How the dataset images become the model input when the dataset was stored without a config (given, it overrides the dataset's): a preset (yolox, yolo, imagenet) or a config object as calibrationPreprocess; also serves calibrationDir. Images that do not fit the model input are refused (400, naming the dataset field).",
    example: 'yolox',
  },
  dataset: {
    description:
      "A stored dataset (POST /v1/datasets; id, unique id prefix of 8+ hex digits, or name) split deterministically: images sorted by name, one per digest, every 3rd from the 2nd held out for evaluation, the rest calibrate int8-static (at most 100, evenly spaced). The split is recorded in every variant's recipe (calibration.dataset, calibration.images, evaluation.dataset, evaluation.images, evaluation.task, split). Each device's all-variants job then evaluates every variant on the evaluation images after its interleaved rounds (even for one variant). Not with calibrationDataset/evaluationDataset, calibrationDir, calibrationRandom, compare none or runtime. Unknown: 404 dataset_not_found.",
    example: 'coco-val-50',
  },
  calibrationDataset: { description: 'A stored dataset whose images (at most 100, evenly spaced by name) calibrate int8-static; instead of dataset.', example: 'lab-calibration' },
  evaluationDataset: {
    description: 'A stored dataset whose images evaluate every variant on every device; instead of dataset. Refused (400, field evaluationDataset) when it shares an image digest with calibrationDataset or calibrationDir.',
    example: 'lab-holdout',
  },
  task: {
    description:
      'What the evaluation measures; needs dataset or evaluationDataset. Default from the model outputs: a YOLO-family output (YOLOX/YOLOv5 [1, N, 5+C], YOLOv8 [1, 4+C, N]) is detection (mAP@0.5 agreement with fp32; mAP@0.5 and @0.5:0.95 with labels), a [1, C] output classification (top-1 agreement; top-1/top-5 with labels), anything else fidelity only. Refused (400, field task) when the outputs do not fit the task; labels with more categories than the model outputs classes are refused naming the dataset field.',
    example: 'detection',
  },
  evaluationImages: { description: 'Evaluation images at most; a bigger evaluation split is cut evenly spaced by name and the cut recorded in the split.', example: 100 },
  ownVariants: {
    description:
      "Bring-your-own variants made elsewhere (QAT, distillation, a lighter architecture): name -> ONNX file on the coordinator's machine (an object, or the text \"name=/path.onnx,other=/path2.onnx\"). Same inputs as the base model; measured in the same sweep (recipe pass bring-your-own). Each file: a regular file under the model size limit.",
    example: { qat: '/models/det-qat.onnx' },
    text: 'qat=/models/det-qat.onnx',
  },
  calibrationRandom: {
    description: `Calibrate ${calibrated} on this many seeded random inputs instead of images; labelled RANDOM in the recipe (ranges will not match real inputs). Refused (400, this field) when no variant calibrates.`,
    example: 16,
  },
  threads: { description: 'onnxruntime intra-op threads; 0 = onnxruntime default.', example: 4 },
  warmupMinQueries: { description: 'Warm-up queries at least (not measured).', example: 10 },
  warmupMinDurationMs: { description: 'Warm-up duration at least, in ms.', example: 500 },
  minQueries: { description: 'Measured queries at least (a p99 needs 662; the server scenario requires them).', example: 662 },
  minDurationMs: {
    description: `Measured duration at least, in ms; must not exceed maxDurationMs. Default: ${SWEEP_DEFAULTS.minDurationMs}, or maxDurationMs when that is smaller.`,
    example: 1000,
  },
  maxDurationMs: { description: 'A run stops at this duration even if the minimums are not reached, in ms.', example: 30_000 },
  seed: { description: 'Seed of the generated input data.', example: 42 },
  runtime: {
    description:
      'Run every variant with an external tool instead of onnxruntime-node: "tool[:precision[:device]]" or { tool, precision, device } (trtexec or benchmark_app; precision fp32 (default), fp16, int8; device e.g. GPU, DLA0; trtexec takes only DLA0/DLA1). Single-stream only, no interleaved comparison job. Planned only on agents that list the tool in capabilities.externalRuntimes; none: 422 no_matching_agent (field runtime). benchmark_model is refused (it runs .tflite, variants are ONNX).',
    example: 'trtexec:fp16',
    // runtime-request.ts checks the text and object forms in one custom step, which zod cannot express as JSON Schema.
    schema: {
      anyOf: [
        { type: 'string', pattern: '^[A-Za-z_]+(:[A-Za-z0-9]+(:[A-Za-z0-9_.:-]+)?)?$', example: 'benchmark_app:fp32:GPU' },
        {
          type: 'object',
          required: ['tool'],
          additionalProperties: false,
          properties: { tool: { type: 'string', enum: ['trtexec', 'benchmark_app'] }, precision: { type: 'string', enum: ['fp32', 'fp16', 'int8'], default: 'fp32' }, device: { type: 'string', pattern: '^[A-Za-z0-9_.:-]{1,32}$' } },
        },
      ],
    },
  },
  scenario: {
    description:
      'What each variant job measures (after MLPerf LoadGen): single_stream (one query at a time, latency percentiles), offline (throughput at batchSizes and/or concurrency levels), server (Poisson arrivals at targetQps, p99 against latencyBoundMs), cold_start (session creation, first inference and peak memory of a fresh process).',
    example: 'offline',
  },
  batchSizes: { description: 'offline only: batch sizes to measure (a list or "1,8,32"); a model whose batch dim is fixed allows only that size (400, this field).', example: [1, 8], text: '1,8' },
  concurrency: { description: 'offline only: queries in flight to measure (a list or "1,2,4").', example: [1, 2], text: '1,2' },
  targetQps: { description: 'server: the Poisson arrival rate in queries per second (required there). maxDurationMs must allow the 662 queries a p99 needs at this rate.', example: 50 },
  latencyBoundMs: { description: 'server: the p99 latency bound in ms the run is judged against (required there).', example: 20 },
  searchPeakQps: { description: 'server only: search the highest rate whose p99 meets latencyBoundMs, starting at targetQps.', example: true },
  searchSteps: { description: 'server: rates measured at most by the peak search.', example: 6 },
  compare: {
    description:
      'interleaved: with two or more variants (or an evaluation), each device also runs one job carrying every variant in rounds (A B C A B C in one process), reported as latency ratios to the reference with bootstrap CIs; none: variant jobs only.',
    example: 'none',
  },
  rounds: { description: 'Interleaved comparison: rounds.', example: 10 },
  roundMinQueries: { description: 'Interleaved comparison: queries per variant per round.', example: 20 },
  profile: { description: "Per-operator onnxruntime profile of each variant (in the comparison job's report).", example: true },
  profileTop: { description: 'Operators listed per variant in the profile.', example: 10 },
  stabilityTolerancePct: { description: 'A run is stable when its last 3 measurement windows agree within this percentage.', example: 10 },
  dimensions: {
    description:
      'Runtime settings to search per device: an object of axis -> values, or the text "threads=1,2;level=basic,all" (axes split by ";", values by ","; provider options by "+"). Axes: provider (execution providers with options, e.g. cpu, cuda:device_id=1, tensorrt:fp16,workspace_mb=2048, openvino:device_type=GPU), intra_op_threads (whole numbers, default, or auto = 1..physical cores of each device), graph_optimization_level (disabled, basic, extended, all), inter_op_threads, execution_mode (sequential, parallel), batch_size and concurrency (offline only); short names threads, level, inter, mode, batch, ep. Values a device cannot run (a provider it does not report, more threads than its cores) are skipped for that device with the reason. Each device with a point to measure gets one configuration-search job carrying every variant; the best configuration per variant is confirmed against onnxruntime\'s defaults in interleaved rounds (ratio with CI). An axis is refused naming dimensions.<axis>. Not with runtime.',
    example: { threads: [1, 2], level: ['basic', 'all'] },
    text: 'threads=1,2;level=basic,all',
  },
  search: {
    description: `How the dimensions are searched: grid (every point; refused with 400 naming budgetMinutes when its estimate on the slowest device exceeds the budget) or quick (coordinate descent after Model Analyzer's quick search: far fewer points, stops starting points at the budget). Needs dimensions. Default: ${CONFIG_SEARCH_DEFAULTS.search}.`,
    example: 'quick',
  },
  budgetMinutes: {
    description: `Time budget of the search on each device, in minutes (> 0). A grid whose estimate (per point: session allowance + pointWarmupMs + pointDurationMs, times points x variants, plus the confirmation rounds) exceeds it on the slowest device is refused before anything is queued. Needs dimensions. Default: ${CONFIG_SEARCH_DEFAULTS.budgetMinutes}.`,
    example: 10,
  },
  pointWarmupMs: { description: `Unmeasured runs before each point's window, in ms. Needs dimensions. Default: ${CONFIG_SEARCH_DEFAULTS.pointWarmupMs}.`, example: 200 },
  pointDurationMs: { description: `Each point's measured window, in ms (with at least pointMinQueries queries). Needs dimensions. Default: ${CONFIG_SEARCH_DEFAULTS.pointDurationMs}.`, example: 1000 },
  pointMinQueries: { description: `Queries each point measures at least. Needs dimensions. Default: ${CONFIG_SEARCH_DEFAULTS.pointMinQueries}.`, example: 20 },
  confirmRounds: { description: `Interleaved rounds (best, defaults, best, ...) that confirm each variant's best configuration against onnxruntime's defaults. Needs dimensions. Default: ${CONFIG_SEARCH_DEFAULTS.confirmRounds}.`, example: 6 },
};

