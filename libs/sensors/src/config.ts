import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import { SensorConfigError } from './errors';
import { fileSysfsReader, processCommandRunner } from './io';
import type { ExternalMeterConfig } from './power.external';
import type { SensorContext } from './power.types';

/** The agent's sensor settings, validated once at start-up. */
export interface SensorsConfig {
  /** Root the kernel files are read under: "/" on a device, a fixture tree in tests. */
  readonly sysfsRoot: string;
  /** False turns sampling off (the capabilities still list the sensors). */
  readonly sampling: boolean;
  /** Idle baseline recorded before each run, ms (0: none). */
  readonly idleBaselineMs: number;
  /** Power sampling rate; undefined: the source's own (10 Hz files, 1 Hz processes). */
  readonly powerRateHz: number | undefined;
  readonly externalMeter: ExternalMeterConfig | undefined;
  /** Where tegrastats writes when it has to be used. */
  readonly tegrastatsLogPath: string;
}

const schema = z.object({
  BENCHFARM_SYSFS_ROOT: z.string().min(1).default('/'),
  BENCHFARM_SENSORS: z.enum(['on', 'off']).default('on'),
  BENCHFARM_IDLE_BASELINE_MS: z.coerce.number().int().min(0).max(60_000).default(2_000),
  BENCHFARM_POWER_RATE_HZ: z.coerce.number().positive().max(100).optional(),
  BENCHFARM_POWER_METER_COMMAND: z.string().min(1).optional(),
  BENCHFARM_POWER_METER_LOG: z.string().min(1).optional(),
  BENCHFARM_POWER_METER_MAX_AGE_MS: z.coerce.number().int().min(100).max(60_000).default(2_000),
  BENCHFARM_TEGRASTATS_LOG: z.string().min(1).default('/tmp/benchfarm-tegrastats.log'),
});

/**
 * Reads the sensor settings from BENCHFARM_* variables; every bad key is reported at once.
 * BENCHFARM_POWER_METER_COMMAND is split on spaces (no shell): the first word is the program.
 */
export function sensorsConfigFromEnv(env: NodeJS.ProcessEnv = process.env): SensorsConfig {
  const parsed = schema.safeParse(env);
  if (!parsed.success) throw new SensorConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  const e = parsed.data;
  if (e.BENCHFARM_POWER_METER_COMMAND && e.BENCHFARM_POWER_METER_LOG) {
    throw new SensorConfigError(['BENCHFARM_POWER_METER_COMMAND and BENCHFARM_POWER_METER_LOG: set one meter, not both']);
  }
  let externalMeter: ExternalMeterConfig | undefined;
  if (e.BENCHFARM_POWER_METER_COMMAND) {
    const [command, ...args] = e.BENCHFARM_POWER_METER_COMMAND.split(/\s+/).filter(Boolean);
    externalMeter = { kind: 'command', command: command!, args };
  } else if (e.BENCHFARM_POWER_METER_LOG) {
    externalMeter = { kind: 'log', path: e.BENCHFARM_POWER_METER_LOG, maxAgeMs: e.BENCHFARM_POWER_METER_MAX_AGE_MS, nowUnixMs: () => Date.now() };
  }
  return {
    sysfsRoot: e.BENCHFARM_SYSFS_ROOT,
    sampling: e.BENCHFARM_SENSORS === 'on',
    idleBaselineMs: e.BENCHFARM_IDLE_BASELINE_MS,
    powerRateHz: e.BENCHFARM_POWER_RATE_HZ,
    externalMeter,
    tegrastatsLogPath: e.BENCHFARM_TEGRASTATS_LOG,
  };
}

/** The real context: files under the configured root, real processes, the monotonic clock. */
export function createSensorContext(config: Pick<SensorsConfig, 'sysfsRoot'>, env: NodeJS.ProcessEnv = process.env): SensorContext {
  return { sysfs: fileSysfsReader(config.sysfsRoot), commands: processCommandRunner(env), nowMs: () => performance.now() };
}
