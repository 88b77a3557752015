/**
 * @benchfarm/metrics: benchfarm's Prometheus metrics, and only them. The farm-wide series and
 * helpers live in farm.ts, each family (insight, power, fidelity, accuracy) in its own file
 * that builds on farm.ts; this entry only re-exports, so no file imports the index back.
 * The statistics behind the figures (medians, Mann-Whitney, fidelity) are @benchfarm/numerics'.
 */
export * from './farm';
export * from './insight';
export { createPowerMetrics, recordPowerResult, POWER_DOMAINS, IDLE_MODES, type PowerMetrics, type PowerResultInput, type PowerDomainLabel } from './power';
export { FIDELITY_INPUTS, createFidelityMetrics, recordFidelity, removeFidelity, type FidelityInputsLabel, type FidelityMetrics, type OutputFidelityInput } from './fidelity';
export { ACCURACY_METRIC_NAMES, createAccuracyMetrics, recordAccuracy, removeAccuracy, type AccuracyInput, type AccuracyMetricLabel, type AccuracyMetrics } from './accuracy';
