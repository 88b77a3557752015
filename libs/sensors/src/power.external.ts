import { PowerDomain } from '@benchfarm/protocol';
import { SensorFormatError, messageOf } from './errors';
import { PROCESS_SENSOR_RATE_HZ, FILE_SENSOR_RATE_HZ, polledOutcome, sensorInfo, unavailable, type ProbeOutcome, type SensorContext } from './power.types';

/** How to reach an external (wall) power meter. */
export type ExternalMeterConfig =
  | { readonly kind: 'command'; readonly command: string; readonly args: readonly string[] }
  | { readonly kind: 'log'; readonly path: string; readonly maxAgeMs: number; readonly nowUnixMs: () => number };

/** Parses a meter command's output: one number of watts, optionally followed by `W`. */
export function parseMeterWatts(text: string): number {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?(?:[eE][+-]?\d+)?)\s*W?\s*$/.exec(text);
  if (!m) throw new SensorFormatError('external meter output', `expected watts such as "12.5" or "12.5 W", got ${JSON.stringify(text.slice(0, 80))}`);
  return Number(m[1]);
}

/** The last `unix_ms,watts` line of a meter log (a PTDaemon-style or USB-meter logger writes one per reading). */
export function parseMeterLogTail(text: string): { atUnixMs: number; powerWatts: number } | undefined {
  const lines = text.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#'));
  const last = lines[lines.length - 1];
  if (last === undefined) return undefined;
  const m = /^\s*(\d+)\s*,\s*([0-9]+(?:\.[0-9]+)?)\s*$/.exec(last);
  if (!m) throw new SensorFormatError('external meter log line', `expected "unix_ms,watts", got ${JSON.stringify(last.slice(0, 80))}`);
  return { atUnixMs: Number(m[1]), powerWatts: Number(m[2]) };
}

/**
 * A wall meter read through a pluggable command (run once per read, so 1 Hz) or the tail
 * of a log another program writes (10 Hz; a line older than maxAgeMs fails the read, so a
 * dead logger is never taken for a steady draw).
 */
export async function probeExternalMeter(ctx: SensorContext, config: ExternalMeterConfig | undefined, logReader: { read(path: string): string | undefined }): Promise<ProbeOutcome> {
  const id = 'external-meter';
  if (!config) return unavailable(id, 'no external meter configured (BENCHFARM_POWER_METER_COMMAND or BENCHFARM_POWER_METER_LOG)', PowerDomain.POWER_DOMAIN_WALL);
  const meter =
    config.kind === 'command'
      ? {
          readWatts: async (): Promise<number> => parseMeterWatts((await ctx.commands.run(config.command, config.args, { timeoutMs: 900 })).stdout),
          failure: (err: unknown) => `meter command ${config.command} failed: ${messageOf(err)}`,
          from: config.command,
          sampleRateHz: PROCESS_SENSOR_RATE_HZ,
        }
      : { readWatts: () => readFreshLogWatts(config, logReader), failure: messageOf, from: config.path, sampleRateHz: FILE_SENSOR_RATE_HZ };
  try {
    await meter.readWatts();
  } catch (err) {
    return unavailable(id, meter.failure(err), PowerDomain.POWER_DOMAIN_WALL);
  }
  const info = sensorInfo({ id, kind: 'power', available: true, domain: PowerDomain.POWER_DOMAIN_WALL, covers: `wall power from ${meter.from}`, sampleRateHz: meter.sampleRateHz });
  return polledOutcome(info, ctx.nowMs, async () => {
    const powerWatts = await meter.readWatts();
    return { powerWatts, channels: [{ name: 'wall', powerWatts }] };
  });
}

/** The watts of a meter log's last line; throws when the log is empty or the line is older than maxAgeMs. */
function readFreshLogWatts(config: Extract<ExternalMeterConfig, { kind: 'log' }>, logReader: { read(path: string): string | undefined }): number {
  const tail = parseMeterLogTail(logReader.read(config.path) ?? '');
  if (!tail) throw new SensorFormatError(config.path, 'the meter log is empty');
  const ageMs = config.nowUnixMs() - tail.atUnixMs;
  if (ageMs > config.maxAgeMs) throw new SensorFormatError(config.path, `the last reading is ${Math.round(ageMs)} ms old (limit ${config.maxAgeMs} ms): is the logger running?`);
  return tail.powerWatts;
}
