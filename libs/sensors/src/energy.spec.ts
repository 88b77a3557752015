// Pure energy and thermal arithmetic, with hand-made readings (FIXTURES, not measurements).
import { describe, expect, it } from 'vitest';
import { PowerDomain } from '@benchfarm/protocol';
import { averagePower, summarizePower } from './energy';
import { sensorInfo, type PowerReading } from './power.types';
import { parseGetThrottled, parseNvpmodelQuery, summarizeThermal, type ThermalSnapshot } from './thermal';

const instant = (pairs: Array<[number, number]>): PowerReading[] => pairs.map(([atMs, powerWatts]) => ({ atMs, powerWatts, channels: [{ name: 'VDD_IN', powerWatts }] }));
const counter = (pairs: Array<[number, number]>): PowerReading[] => pairs.map(([atMs, energyJoules]) => ({ atMs, energyJoules, channels: [{ name: 'package-0', energyJoules }] }));
const sensor = sensorInfo({ id: 'ina3221-hwmon', kind: 'power', available: true, domain: PowerDomain.POWER_DOMAIN_MODULE });

describe('averagePower', () => {
  it('integrates instant power with the trapezoid rule', () => {
    // 0-1 s at 4->6 W (5 W avg), 1-3 s at 6 W: 5 + 12 = 17 J over 3 s.
    expect(averagePower(instant([[0, 4], [1000, 6], [3000, 6]]))!.powerWatts).toBeCloseTo(17 / 3, 9);
  });
  it('divides counter deltas by time', () => {
    expect(averagePower(counter([[0, 100], [500, 103], [2000, 110]]))!.powerWatts).toBeCloseTo(5, 9);
  });
  it('has no average without readings, or with a single counter reading', () => {
    expect(averagePower([])).toBeUndefined();
    expect(averagePower(counter([[0, 1]]))).toBeUndefined();
    expect(averagePower(instant([[0, 7]]))!.powerWatts).toBe(7);
  });
});

describe('summarizePower', () => {
  it('energy per inference with and without idle subtracted', () => {
    const s = summarizePower({ sensor, window: instant([[0, 10], [1000, 10], [2000, 10]]), windowMs: 2000, idle: instant([[0, 4], [500, 4]]), idleWindowMs: 500, inferences: 100 });
    expect(s.averagePowerWatts).toBe(10);
    expect(s.energyJoules).toBe(20);
    expect(s.energyPerInferenceJoules).toBe(0.2);
    expect(s.idlePowerWatts).toBe(4);
    expect(s.energyPerInferenceAboveIdleJoules).toBeCloseTo(0.12, 9);
    expect(s.channels).toEqual([{ name: 'VDD_IN', averagePowerWatts: 10 }]);
    expect(s.unmeasured).toEqual([]);
  });
  it('without an idle baseline the above-idle figure is absent with a reason, never 0', () => {
    const s = summarizePower({ sensor, window: instant([[0, 10], [1000, 10]]), windowMs: 1000, idle: [], idleWindowMs: 0, inferences: 10 });
    expect(s.energyPerInferenceAboveIdleJoules).toBeUndefined();
    expect(s.idlePowerWatts).toBeUndefined();
    expect(s.unmeasured.map((u) => u.field)).toEqual(['idle_power_watts', 'energy_per_inference_above_idle_joules']);
  });
  it('no reading in the window: no power at all, with the reason', () => {
    const s = summarizePower({ sensor, window: [], windowMs: 1000, idle: [], idleWindowMs: 0, inferences: 10 });
    expect(s.averagePowerWatts).toBeUndefined();
    expect(s.energyJoules).toBeUndefined();
    expect(s.unmeasured[0]!.field).toBe('average_power_watts');
  });
});

const snap = (over: Partial<ThermalSnapshot>): ThermalSnapshot => ({ atMs: 0, zones: [], cpuFreqMhz: [], cpuMaxFreqMhz: [], governors: [], gpuClockMhz: [], ...over });

describe('summarizeThermal', () => {
  it('not throttled when temperatures stay under the trip and clocks hold', () => {
    const zone = { zone: 'thermal_zone0', type: 'x86_pkg_temp', tripCelsius: 95 };
    const t = summarizeThermal([snap({ zones: [{ ...zone, celsius: 50 }], cpuFreqMhz: [3000], cpuMaxFreqMhz: [3500], governors: ['performance'] }), snap({ zones: [{ ...zone, celsius: 60 }], cpuFreqMhz: [2900], cpuMaxFreqMhz: [3500], governors: ['performance'] })]);
    expect(t.throttled).toBe(false);
    expect(t.zones[0]).toMatchObject({ startCelsius: 50, maxCelsius: 60, tripCelsius: 95 });
    expect(t.cpuFreqMeanMhz).toBe(2950);
  });
  it('marks a run that reached the trip point, was capped, lost its clock or counted throttle events', () => {
    const zone = { zone: 'thermal_zone0', type: 'cpu-thermal', tripCelsius: 80 };
    const t = summarizeThermal([
      snap({ zones: [{ ...zone, celsius: 70 }], cpuFreqMhz: [2400], cpuMaxFreqMhz: [2400], governors: ['performance'], throttleEvents: 3 }),
      snap({ zones: [{ ...zone, celsius: 81 }], cpuFreqMhz: [1500], cpuMaxFreqMhz: [1800], governors: ['performance'], throttleEvents: 9 }),
    ]);
    expect(t.throttled).toBe(true);
    expect(t.throttleReasons.join('\n')).toMatch(/trip point/);
    expect(t.throttleReasons.join('\n')).toMatch(/scaling_max_freq lowered from 2400 to 1800/);
    expect(t.throttleReasons.join('\n')).toMatch(/fell to 1500 MHz/);
    expect(t.throttleReasons.join('\n')).toMatch(/6 thermal throttle events/);
  });
  it('says what it could not see (a VM without zones or cpufreq)', () => {
    const t = summarizeThermal([snap({}), snap({})]);
    expect(t.unmeasured.map((u) => u.field)).toEqual(['zones', 'cpu_freq_mean_mhz']);
    expect(t.cpuFreqMeanMhz).toBeUndefined();
  });
  it('reads nvpmodel and get_throttled (recorded outputs)', () => {
    expect(parseNvpmodelQuery('NV Power Mode: MAXN\n0\n')).toBe('MAXN');
    expect(parseNvpmodelQuery('NV Power Mode: 15W\n2\n')).toBe('15W');
    expect(parseGetThrottled('throttled=0x0\n')).toEqual([]);
    expect(parseGetThrottled('throttled=0x50005\n')).toHaveLength(2);
    expect(summarizeThermal([snap({})], { toolThrottleReasons: parseGetThrottled('throttled=0x4') }).throttled).toBe(true);
  });
});
