import type { PowerChannel, PowerSummary, SensorInfo, Unmeasured } from '@benchfarm/protocol';
import type { PowerReading } from './power.types';

/** Average power of a series of readings, and how much time it spans. */
export interface AveragePower {
  powerWatts: number;
  spanMs: number;
  samples: number;
}

type Pick1 = (r: PowerReading) => { powerWatts?: number | undefined; energyJoules?: number | undefined } | undefined;

/**
 * Average power of readings in time order. Energy counters: (E_last - E_first) / (t_last -
 * t_first), exact whatever the rate. Instant power: the trapezoid integral over the span
 * divided by it; a single reading is its own average. Undefined when nothing was read or a
 * counter has fewer than two readings.
 */
export function averagePower(readings: readonly PowerReading[], pick: Pick1 = (r) => r): AveragePower | undefined {
  const points = readings.map((r) => ({ atMs: r.atMs, v: pick(r) })).filter((p) => p.v !== undefined && (p.v.energyJoules !== undefined || p.v.powerWatts !== undefined));
  if (points.length === 0) return undefined;
  const first = points[0]!;
  const last = points[points.length - 1]!;
  const spanMs = last.atMs - first.atMs;
  if (first.v!.energyJoules !== undefined) {
    if (points.length < 2 || spanMs <= 0) return undefined;
    return { powerWatts: ((last.v!.energyJoules! - first.v!.energyJoules!) / spanMs) * 1000, spanMs, samples: points.length };
  }
  if (points.length === 1 || spanMs <= 0) return { powerWatts: first.v!.powerWatts!, spanMs: 0, samples: points.length };
  let integral = 0;
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1]!;
    const b = points[i]!;
    integral += ((a.v!.powerWatts! + b.v!.powerWatts!) / 2) * (b.atMs - a.atMs);
  }
  return { powerWatts: integral / spanMs, spanMs, samples: points.length };
}

/** What {@link summarizePower} needs. */
export interface PowerSummaryInput {
  sensor: SensorInfo;
  /** Readings from the BEGIN mark to the END mark, both marks' own readings included. */
  window: readonly PowerReading[];
  /** Length of the measured phase as the marks give it. */
  windowMs: number;
  /** Readings of the idle baseline taken before the run; empty when none was taken. */
  idle: readonly PowerReading[];
  idleWindowMs: number;
  /** Inferences in the measured phase (queries x batch). */
  inferences: number;
}

const round = (v: number, digits = 6): number => Number(v.toPrecision(digits));

/**
 * Average power and energy per inference of the measured phase, with and without the idle
 * baseline subtracted. A figure that cannot be computed is absent and listed in
 * `unmeasured` with the reason; nothing is ever reported as 0 W for lack of a reading.
 */
export function summarizePower(input: PowerSummaryInput): PowerSummary {
  const unmeasured: Unmeasured[] = [];
  const run = averagePower(input.window);
  const idle = averagePower(input.idle);
  const summary: PowerSummary = {
    sensor: input.sensor,
    windowMs: round(input.windowMs),
    idleWindowMs: round(input.idleWindowMs),
    sampleCount: input.window.length,
    channels: [],
    unmeasured,
  };
  if (!run) {
    unmeasured.push({ field: 'average_power_watts', reason: `too few readings of ${input.sensor.id} in the measured window (${input.window.length})` });
    return summary;
  }
  summary.averagePowerWatts = round(run.powerWatts);
  const energyJoules = run.powerWatts * (input.windowMs / 1000);
  summary.energyJoules = round(energyJoules);
  if (input.inferences > 0) summary.energyPerInferenceJoules = round(energyJoules / input.inferences);
  else unmeasured.push({ field: 'energy_per_inference_joules', reason: 'no inference in the measured window' });
  if (idle) {
    summary.idlePowerWatts = round(idle.powerWatts);
    if (input.inferences > 0) summary.energyPerInferenceAboveIdleJoules = round(((run.powerWatts - idle.powerWatts) * (input.windowMs / 1000)) / input.inferences);
  } else {
    const why = input.idle.length === 0 ? 'no idle baseline was recorded' : `too few idle readings (${input.idle.length})`;
    unmeasured.push({ field: 'idle_power_watts', reason: why }, { field: 'energy_per_inference_above_idle_joules', reason: why });
  }
  const names = [...new Set(input.window.flatMap((r) => r.channels.map((c) => c.name)))];
  summary.channels = names.flatMap((name): PowerChannel[] => {
    const avg = averagePower(input.window, (r) => r.channels.find((c) => c.name === name));
    return avg ? [{ name, averagePowerWatts: round(avg.powerWatts) }] : [];
  });
  return summary;
}
