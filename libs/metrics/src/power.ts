/**
 * Power and thermal metrics of benchfarm results (device reach). Labels are the
 * bounded series labels plus small enums: the sensor's domain (module, board, gpu,
 * cpu_package, wall) and whether idle power is subtracted. A result without a power
 * sensor removes its series' power gauges: no sample means "not measured", never 0 W.
 */
import type { Gauge, Registry } from 'prom-client';
import { SERIES_LABEL_NAMES, boundedSeries, registeredGauge, type SeriesLabelName, type SeriesLabels } from './farm';

/** Values of the `domain` label. */
export const POWER_DOMAINS = ['module', 'board', 'gpu', 'cpu_package', 'wall', 'unspecified'] as const;
/** A power domain label value. */
export type PowerDomainLabel = (typeof POWER_DOMAINS)[number];
/** Values of the `idle` label of energy per inference. */
export const IDLE_MODES = ['included', 'subtracted'] as const;

/** Typed handles on the power metrics. */
export interface PowerMetrics {
  /** `benchfarm_power_watts{model,variant,device,provider,domain}`: average power over the latest result's measured phase. */
  readonly powerWatts: Gauge<SeriesLabelName | 'domain'>;
  /** `benchfarm_idle_power_watts{model,variant,device,provider,domain}`: the idle baseline before that run. */
  readonly idlePowerWatts: Gauge<SeriesLabelName | 'domain'>;
  /** `benchfarm_energy_per_inference_joules{model,variant,device,provider,domain,idle}`. */
  readonly energyPerInferenceJoules: Gauge<SeriesLabelName | 'domain' | 'idle'>;
  /** `benchfarm_result_throttled{model,variant,device,provider}`: 1 when the latest result was throttled. */
  readonly resultThrottled: Gauge<SeriesLabelName>;
}

/** Registers the power metrics on `registry` (or returns those already there). */
export function createPowerMetrics(registry: Registry): PowerMetrics {
  const withDomain = [...SERIES_LABEL_NAMES, 'domain'] as const;
  return {
    powerWatts: registeredGauge(registry, 'benchfarm_power_watts', 'Average power over the measured phase of the latest result of a series, in watts, from the sensor of the given domain. Absent when the device has no power sensor.', withDomain),
    idlePowerWatts: registeredGauge(registry, 'benchfarm_idle_power_watts', 'Idle power recorded before the latest result of a series, in watts.', withDomain),
    energyPerInferenceJoules: registeredGauge(registry, 'benchfarm_energy_per_inference_joules', 'Energy per inference of the latest result of a series, in joules; idle="subtracted" removes the idle baseline.', [...withDomain, 'idle'] as const),
    resultThrottled: registeredGauge(registry, 'benchfarm_result_throttled', '1 when the latest result of a series ran throttled (trip point, capped or dropped clocks, throttle events), else 0; absent when not known.', SERIES_LABEL_NAMES),
  };
}

/** What {@link recordPowerResult} needs from one committed result. */
export interface PowerResultInput {
  domain?: PowerDomainLabel | undefined;
  averagePowerWatts?: number | undefined;
  idlePowerWatts?: number | undefined;
  energyPerInferenceJoules?: number | undefined;
  energyPerInferenceAboveIdleJoules?: number | undefined;
  /** Undefined when the result carries no thermal summary. */
  throttled?: boolean | undefined;
}

/** Sets (or removes, when not measured) a series' power gauges from its latest result. */
export function recordPowerResult(metrics: PowerMetrics, series: SeriesLabels, input: PowerResultInput): void {
  const labels = boundedSeries(series);
  for (const domain of POWER_DOMAINS) {
    const mine = domain === input.domain;
    const set = (g: Gauge<SeriesLabelName | 'domain'>, v: number | undefined): void => {
      if (mine && v !== undefined && Number.isFinite(v)) g.set({ ...labels, domain }, v);
      else g.remove({ ...labels, domain });
    };
    set(metrics.powerWatts, input.averagePowerWatts);
    set(metrics.idlePowerWatts, input.idlePowerWatts);
    for (const idle of IDLE_MODES) {
      const v = idle === 'included' ? input.energyPerInferenceJoules : input.energyPerInferenceAboveIdleJoules;
      if (mine && v !== undefined && Number.isFinite(v)) metrics.energyPerInferenceJoules.set({ ...labels, domain, idle }, v);
      else metrics.energyPerInferenceJoules.remove({ ...labels, domain, idle });
    }
  }
  if (input.throttled === undefined) metrics.resultThrottled.remove(labels);
  else metrics.resultThrottled.set(labels, input.throttled ? 1 : 0);
}
