import type { AgentCapabilities, Summary } from '@benchfarm/protocol';
import {
  JobRecorder,
  availableSensorNames,
  choosePowerSource,
  collectInventory,
  createSensorContext,
  detectSensors,
  probeExecutionProviders,
  sensorsConfigFromEnv,
  type DetectedSensors,
  type SensorContext,
  type SensorsConfig,
} from '@benchfarm/sensors';
import type { SuiteChildEvent } from '@benchfarm/suite';
import type { AgentLog } from './agent-log';

/** Options of {@link DeviceReach.open}; the environment supplies what is not given. */
export interface DeviceReachOptions {
  env?: NodeJS.ProcessEnv;
  /** The sensor settings, compiled at start-up (agent-options.ts); absent: read from `env`. */
  sensors?: SensorsConfig;
  /** Probe execution providers by running a tiny model in a child process (default: BENCHFARM_PROBE_EPS != "off"). */
  probeProviders?: boolean;
}

/**
 * The agent's senses: which sensors this device has (found once at start-up), what the
 * device is, which execution providers really run here, and per job a recorder that
 * samples power and thermal between the suite's BEGIN and END marks.
 */
export class DeviceReach {
  private constructor(
    readonly config: SensorsConfig,
    private readonly ctx: SensorContext,
    readonly detected: DetectedSensors,
  ) {}

  /**
   * Detects the sensors, collects the inventory and probes the execution providers, and
   * writes them into `capabilities` (inventory, sensors, execution_providers).
   */
  static async open(capabilities: AgentCapabilities, log: AgentLog, options: DeviceReachOptions = {}): Promise<DeviceReach> {
    const env = options.env ?? process.env;
    const config = options.sensors ?? sensorsConfigFromEnv(env);
    const ctx = createSensorContext(config, env);
    const detected = await detectSensors(ctx, { externalMeter: config.externalMeter, tegrastatsLogPath: config.tegrastatsLogPath });
    const inventory = await collectInventory(ctx);
    inventory.sensors = detected.sensors;
    if (options.probeProviders ?? env.BENCHFARM_PROBE_EPS !== 'off') {
      const eps = await probeExecutionProviders({ env });
      inventory.listedExecutionProviders = eps.listed;
      inventory.executionProviderFailures = eps.failures;
      // Only what really ran a model here; cpu stays even if the probe itself could not run.
      capabilities.executionProviders = eps.working.length > 0 ? eps.working : capabilities.executionProviders;
    }
    capabilities.inventory = inventory;
    capabilities.sensors = availableSensorNames(detected.sensors);
    const power = detected.sensors.filter((s) => s.kind === 'power');
    log('info', 'device reach', {
      sysfsRoot: config.sysfsRoot,
      powerSensors: detected.powerSources.map((s) => `${s.info.id}: ${s.info.covers}`),
      noPower: detected.powerSources.length === 0 ? power.map((s) => `${s.id}: ${s.reason}`) : undefined,
      executionProviders: capabilities.executionProviders,
      board: inventory.boardModel || undefined,
    });
    return new DeviceReach(config, ctx, detected);
  }

  /** Starts one job's recording: records the idle baseline now, before the suite starts. */
  async startJob(executionProvider: string): Promise<JobSensing> {
    const source = this.config.sampling ? choosePowerSource(this.detected.powerSources, executionProvider) : undefined;
    const recorder = new JobRecorder(this.ctx, source, this.detected.thermal, {
      ...(this.config.powerRateHz !== undefined && { powerRateHz: this.config.powerRateHz }),
      sensors: this.detected.sensors,
    });
    if (this.config.sampling) await recorder.idleBaseline(this.config.idleBaselineMs);
    return new JobSensing(recorder, this.config.sampling);
  }

  /** Releases the power sources (stops tegrastats). */
  async close(): Promise<void> {
    await Promise.all(this.detected.powerSources.map((s) => s.close().catch(() => undefined)));
  }
}

/** One job's sensing, fed the suite's events. */
export class JobSensing {
  constructor(
    private readonly recorder: JobRecorder,
    private readonly sampling: boolean,
  ) {}

  /** Follows the suite's BEGIN / END marks. */
  onSuiteEvent(event: SuiteChildEvent): void {
    if (event.type !== 'mark') return;
    if (event.mark === 'measure-begin') this.recorder.markBegin();
    else this.recorder.markEnd();
  }

  /** Adds power and thermal to the summary (after the END mark's last reading). */
  async complete(summary: Summary, batch: number): Promise<void> {
    if (!this.sampling) {
      summary.unmeasured.push({ field: 'power', reason: 'sensor sampling is turned off on this agent (BENCHFARM_SENSORS=off)' });
      return;
    }
    const recorded = await this.recorder.finish(summary.count * Math.max(1, batch));
    if (recorded.power) summary.power = recorded.power;
    summary.thermal = recorded.thermal;
    summary.unmeasured.push(...recorded.unmeasured);
  }

  /** Stops sampling (a crashed or aborted suite never sends END). */
  stop(): void {
    this.recorder.stop();
  }
}
