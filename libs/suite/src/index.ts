// @benchfarm/suite: the benchmark suite (single-stream) and the process that runs it.
// Agents use runSuiteInChild; the pieces below it are exported for tests and tools.
// Nothing exported here may load onnxruntime-node: the agent imports this entry and must not
// carry onnxruntime's native library in its own memory (only the suite's child process does).
export { runSuiteInChild, childEntryPath, idleChildRssBytes, runBareLoopInChild } from './run-in-child';
export { REFERENCE_MODEL_ID, REFERENCE_TOLERANCE, referenceModel, compareToReference } from './reference-model';
export type { ReferenceModel, ReferenceComparison } from './reference-model';
export * as protobufWriter from './protobuf-writer';
export type { RunSuiteInChildOptions, BareLoopResult } from './run-in-child';
export { SAMPLES_CHUNK_MAX } from './messages';
export type {
  SuiteRunMessage,
  SuitePhase,
  SuiteStartedEvent,
  SuiteProgressEvent,
  SearchProgressFields,
  SuiteSamplesEvent,
  SuiteSummaryEvent,
  SuiteErrorEvent,
  SuiteMarkEvent,
  SuiteChildEvent,
  SuiteChildExit,
  BareLoopResultMessage,
  IdleRssMessage,
} from './messages';
export {
  CONFIG_AXES,
  AXIS_ALIASES,
  EXECUTION_MODES,
  GRAPH_LEVELS,
  MAX_AXIS_VALUES,
  MAX_SPACE_POINTS,
  BASELINE_SETTINGS,
  SESSION_ALLOWANCE_MS,
  MAX_QUICK_PASSES,
  ConfigSpaceError,
  parseProviderSpec,
  providerSpecText,
  configId,
  withId,
  baselineConfig,
  configLabel,
  parseDimensionsText,
  checkDimensions,
  narrowForDevice,
  settingsOf as configSettingsOf,
  pointSkipReason,
  expandSpace,
  estimateSearch,
} from './config-space';
export type { ConfigAxisName, ProviderSpec, DimensionsRequest, DeviceFacts, NarrowedSpace, ExpandedSpace, SearchEstimateInput, SearchEstimate } from './config-space';
export {
  SEARCH_STRATEGIES,
  SEARCH_OBJECTIVES,
  BUDGET_SPENT,
  meetsBound,
  isBetter,
  bestOf,
  isMeasured,
  plannedPoints,
  runSearch,
  quickStart,
} from './config-search.strategy';
export type {
  SearchStrategy,
  SearchObjective,
  PointFigures,
  PointOutcome,
  PointVisit,
  MeasuredVisit,
  ObjectiveSpec,
  SearchPlan,
  SearchHooks,
  SearchOutcome,
} from './config-search.strategy';
export { sessionOptionsForConfig } from './config-search.session-options';
export type { ConfigSessionOptions } from './config-search.session-options';
export { parseSuiteJob, resolveScenarioOptions, SCENARIO_DEFAULTS, CONFIG_SEARCH_DEFAULTS } from './job';
export type { SuiteJob, SuiteEvaluation, SuiteConfigSearch, GraphOptimizationLevel, ComparedModel, ResolvedScenarioOptions } from './job';
export { runOfflineLevel } from './offline';
export type { OfflineLevelOptions, OfflineLevelRun } from './offline';
export { poissonArrivalsMs, judgeServerRun, serverQueryCount, runServer, searchPeakQps } from './server';
export type { ServerRunOutcome, ServerRunOptions, PeakQpsSearch } from './server';
export { runInterleaved, buildComparison } from './interleaved';
export type { ComparedVariant, InterleaveOptions, InterleavedRun } from './interleaved';
export { hostFacts, realHostProbe } from './host';
export type { HostProbe, TextReader, DirLister } from './host';
export { rebatchModel } from './batch-model';
export type { RebatchedModel } from './batch-model';
export { runSingleStream, estimateCapacity } from './single-stream';
export type { InferenceRunner, SingleStreamOptions, SingleStreamResult, StopReason } from './single-stream';
export { REPORTED_QUANTILES, summarizeLatencies } from './stats';
export type { LatencyStats } from './stats';
export { elementCount, formatInputShapes, halfBitsOfGridValue } from './tensor-spec';
export { buildSummary, roundMs, roundLatenciesInPlace } from './summary';
export type { SummaryInputs } from './summary';
export { machineFacts, cpuModel, parseCpuinfoModel, parseProcStatusBytes, readOwnProcStatusBytes, readProcStatusBytes } from './machine';
export type { MachineFacts, ProcStatusKey } from './machine';
export {
  SuiteError,
  ModelLoadError,
  InferenceRunError,
  InvalidSuiteJobError,
  InvalidTensorSpecError,
  UnsupportedTensorDataTypeError,
  PeakRssUnavailableError,
  SuiteChildError,
  ProfileParseError,
} from './errors';
