import { PowerSummary, ThermalSummary, ExternalRuntimeInfo, powerDomainToJSON, type PowerDomain, type Summary } from '@benchfarm/protocol';
import type { SqlExecutor } from './sql';

/** Inserts one result's power / thermal / external-runtime row (table result_sensors). */
export const INSERT_RESULT_SENSORS = `
  INSERT INTO result_sensors (result_id, power_sensor, power_domain, average_power_watts, idle_power_watts, energy_joules,
                              energy_per_inference_joules, energy_per_inference_above_idle_joules, throttled,
                              power_json, thermal_json, external_runtime_json)
  VALUES (@resultId, @powerSensor, @powerDomain, @averagePowerWatts, @idlePowerWatts, @energyJoules,
          @energyPerInferenceJoules, @energyPerInferenceAboveIdleJoules, @throttled,
          @powerJson, @thermalJson, @externalRuntimeJson)`;

/** `POWER_DOMAIN_CPU_PACKAGE` -> `cpu_package`. */
export function powerDomainName(domain: PowerDomain): string {
  return powerDomainToJSON(domain).replace(/^POWER_DOMAIN_/, '').toLowerCase();
}

/** The row of a result's sensors; an unmeasured figure is NULL, never 0. */
export function resultSensorsRow(resultId: string, summary: Summary): Record<string, string | number | null> {
  const p = summary.power;
  return {
    resultId,
    powerSensor: p?.sensor?.id ?? null,
    powerDomain: p?.sensor ? powerDomainName(p.sensor.domain) : null,
    averagePowerWatts: p?.averagePowerWatts ?? null,
    idlePowerWatts: p?.idlePowerWatts ?? null,
    energyJoules: p?.energyJoules ?? null,
    energyPerInferenceJoules: p?.energyPerInferenceJoules ?? null,
    energyPerInferenceAboveIdleJoules: p?.energyPerInferenceAboveIdleJoules ?? null,
    throttled: summary.thermal?.throttled ? 1 : 0,
    powerJson: p ? JSON.stringify(PowerSummary.toJSON(p)) : null,
    thermalJson: summary.thermal ? JSON.stringify(ThermalSummary.toJSON(summary.thermal)) : null,
    externalRuntimeJson: summary.externalRuntime ? JSON.stringify(ExternalRuntimeInfo.toJSON(summary.externalRuntime)) : null,
  };
}

/** A stored result's sensors as the REST edge and tests read them. */
export interface StoredResultSensors {
  powerSensor: string | null;
  powerDomain: string | null;
  averagePowerWatts: number | null;
  idlePowerWatts: number | null;
  energyJoules: number | null;
  energyPerInferenceJoules: number | null;
  energyPerInferenceAboveIdleJoules: number | null;
  throttled: boolean;
  power: unknown;
  thermal: unknown;
  externalRuntime: unknown;
}

/** Reads the sensors row of a job's result; undefined when the job has no result or the result has no row. */
export async function readResultSensors(db: SqlExecutor, jobId: string): Promise<StoredResultSensors | undefined> {
  const row = await db.get<Record<string, string | number | null>>('SELECT s.* FROM result_sensors s JOIN results r ON r.id = s.result_id WHERE r.job_id = ?', [jobId]);
  return row ? resultSensorsFromRow(row) : undefined;
}

/** Maps a `result_sensors` row (snake_case columns) to {@link StoredResultSensors}. */
export function resultSensorsFromRow(row: Record<string, string | number | null>): StoredResultSensors {
  const json = (v: string | number | null): unknown => (typeof v === 'string' ? (JSON.parse(v) as unknown) : null);
  const num = (v: string | number | null): number | null => (typeof v === 'number' ? v : null);
  return {
    powerSensor: (row.power_sensor as string | null) ?? null,
    powerDomain: (row.power_domain as string | null) ?? null,
    averagePowerWatts: num(row.average_power_watts ?? null),
    idlePowerWatts: num(row.idle_power_watts ?? null),
    energyJoules: num(row.energy_joules ?? null),
    energyPerInferenceJoules: num(row.energy_per_inference_joules ?? null),
    energyPerInferenceAboveIdleJoules: num(row.energy_per_inference_above_idle_joules ?? null),
    throttled: row.throttled === 1,
    power: json(row.power_json ?? null),
    thermal: json(row.thermal_json ?? null),
    externalRuntime: json(row.external_runtime_json ?? null),
  };
}
