import { describe, expect, it } from 'vitest';
import { checkAgentSide, checkStore, countSeries, dispatchLatencies, distribution, formatFigures, ingestRate, uploadCounters, type FleetFigures } from './simulate-fleet.figures';
import { parseProcStatCpuTicks } from './simulate-fleet.farm';
import { SimulateFleetError, onnxishBlob, resolveFleetOptions } from './simulate-fleet';
import type { SimulatedJobRecord } from '@benchfarm/fleet';

const record = (over: Partial<SimulatedJobRecord>): SimulatedJobRecord => ({
  agentId: 'a',
  jobId: 'j',
  sweepId: 's',
  variant: 'fp32',
  deliveryCount: 1,
  publishedAtMs: 1_000,
  freeAtMs: 0,
  receivedAtMs: 1_010,
  settledAtMs: 1_100,
  outcome: 'committed',
  ...over,
});

describe('fleet figures (pure)', () => {
  it.each([
    [[], undefined],
    [[5], { n: 1, p50Ms: 5, p99Ms: 5, maxMs: 5 }],
    // LoadGen's percentile, sorted[floor(n q)]: the upper middle of an even count.
    [[4, 1, 3, 2], { n: 4, p50Ms: 3, p99Ms: 4, maxMs: 4 }],
    [Array.from({ length: 100 }, (_, i) => i + 1), { n: 100, p50Ms: 51, p99Ms: 100, maxMs: 100 }],
  ])('distribution of %j (LoadGen percentiles)', (values, expected) => {
    expect(distribution(values)).toEqual(expected);
  });

  it('ingest rate: results after the first per second of the window, and the busiest second', () => {
    expect(ingestRate([])).toBeUndefined();
    expect(ingestRate([5])).toEqual({ results: 1, windowMs: 0, peakPerSecond: 1 });
    // 11 commits 100 ms apart: 10 more in 1 s = 10/s; any 1 s window holds 10 (1000 ms apart is outside).
    const times = Array.from({ length: 11 }, (_, i) => 10_000 + i * 100);
    expect(ingestRate(times.reverse())).toEqual({ results: 11, windowMs: 1_000, perSecond: 10, peakPerSecond: 10 });
  });

  it('store check counts done, open, results, distinct ids, lost and retried jobs', () => {
    const at = '2026-01-01T00:00:00.000Z';
    const check = checkStore([
      { id: 'j1', state: 'done', attempts: 1, result: { id: 'r1', committedAt: at, count: 5 } },
      { id: 'j2', state: 'done', attempts: 2, result: { id: 'r1', committedAt: at, count: 5 } },
      { id: 'j3', state: 'done', attempts: 1 },
      { id: 'j4', state: 'running', attempts: 1 },
      { id: 'j5', state: 'failed', attempts: 3 },
    ]);
    expect(check).toEqual({ jobs: 5, done: 3, failed: 1, open: 1, results: 2, distinctResults: 1, lost: 1, retried: 2 });
  });

  it('agent-side check: once, more than once, duplicates, missing; other sweeps ignored', () => {
    const records = [
      record({ jobId: 'j1' }),
      record({ jobId: 'j2' }),
      record({ jobId: 'j2' }),
      record({ jobId: 'j3', outcome: 'duplicate' }),
      record({ jobId: 'j4', sweepId: 'other' }),
    ];
    expect(checkAgentSide(records, 's', ['j1', 'j2', 'j3', 'j4'])).toEqual({ committedOnce: 1, committedMoreThanOnce: 1, duplicateUploads: 1, notCommitted: 2, outcomes: { committed: 3, duplicate: 1 } });
  });

  it('dispatch: first job per agent from its publish; every job from when it could be taken', () => {
    const records = [
      record({ agentId: 'a', jobId: 'a1', publishedAtMs: 1_000, freeAtMs: 0, leaseAtMs: 1_020 }),
      record({ agentId: 'a', jobId: 'a2', publishedAtMs: 1_001, freeAtMs: 2_000, leaseAtMs: 2_005 }),
      record({ agentId: 'b', jobId: 'b1', publishedAtMs: 1_002, freeAtMs: 500, leaseAtMs: 1_042 }),
      record({ agentId: 'c', jobId: 'c1', publishedAtMs: 1_003 }),
    ];
    const d = dispatchLatencies(records, 's');
    // Two agents, 20 and 40 ms: the p50 of an even count is the upper middle (LoadGen).
    expect(d.firstJobPerAgent).toEqual({ n: 2, p50Ms: 40, p99Ms: 40, maxMs: 40 });
    expect(d.everyJob).toEqual({ n: 3, p50Ms: 20, p99Ms: 40, maxMs: 40 });
    expect(dispatchLatencies(records, 'none')).toEqual({});
  });

  it('counts series and the upload counters of an exposition', () => {
    const text = ['# HELP benchfarm_results_total x', '# TYPE benchfarm_results_total counter', 'benchfarm_results_total{outcome="committed"} 40', 'benchfarm_results_total{outcome="duplicate"} 0', 'up 1', ''].join('\n');
    expect(countSeries(text)).toEqual({ series: 3, bytes: Buffer.byteLength(text) });
    expect(uploadCounters(text)).toEqual({ committed: 40, duplicate: 0 });
  });

  it('reads utime + stime from /proc/<pid>/stat, also with spaces and parentheses in the command name', () => {
    const fields = (comm: string): string => `1234 (${comm}) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 11 0 100 1000 200`;
    expect(parseProcStatCpuTicks(fields('node'))).toBe(325);
    expect(parseProcStatCpuTicks(fields('a (b) c'))).toBe(325);
  });

  it('formats absent figures with their reason', () => {
    const figures: FleetFigures = {
      command: 'x',
      machine: { cpus: 2, cpuModel: 'cpu', memoryBytes: 1024 ** 3, node: 'v20' },
      settings: { agents: 1, processes: 1, variants: [], jobMs: 1, queriesPerJob: 1, natsConnections: 'agent', grpcChannels: 'agent', modelCache: 'process', idleWindowMs: 1 },
      farm: { startedHere: false, httpUrl: 'h', natsUrl: 'n', grpcAddress: 'g', store: 'not known here' },
      registration: { agents: 1, started: 1, failed: 0, startRetries: 0, coordinatorAllIdleMs: 5 },
      idle: { windowMs: 1, coordinator: { absent: 'not started here' }, natsServer: { absent: 'n' }, workers: { absent: 'w' } },
      metricsIdle: { scrapeMs: [1], series: 2, bytes: 3 },
      sweep: { absent: '--variants 0: no sweep' },
      metricsLoaded: { absent: 'no sweep ran' },
      modelFetch: { absent: '--fetch-agents 0' },
      workerWarnings: {},
      workerErrors: [],
    };
    const text = formatFigures(figures);
    expect(text).toContain('coordinator: absent: not started here');
    expect(text).toContain('absent: --variants 0: no sweep');
    expect(text).toContain('absent: --fetch-agents 0');
  });
});

describe('simulate-fleet settings', () => {
  it('defaults what is not given', () => {
    const options = resolveFleetOptions({ agents: '10' });
    expect(options).toMatchObject({ agents: 10, variants: 0, processes: 1, jobMs: 200, queries: 100, fetchAgents: 10, fetchMb: 50, natsConnections: 'agent', grpcChannels: 'agent', modelCache: 'process' });
  });

  it('names every bad flag at once', () => {
    let err: unknown;
    try {
      resolveFleetOptions({ agents: '2', processes: '3', variants: '9', natsUrl: 'http://x', jobMs: '-1', natsConnections: 'host' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SimulateFleetError);
    const message = (err as Error).message;
    for (const flag of ['--processes 3 is more than --agents 2', '--variants must be an integer from 0 to 5', '--nats must be a URL', '--job-ms', '--nats-connections must be agent or process', 'give --nats, --grpc and --coordinator together']) expect(message).toContain(flag);
  });

  it('takes variant names, and refuses a count that disagrees with them', () => {
    expect(resolveFleetOptions({ agents: 4, variantNames: ['fp32', ' prune-l1 '] })).toMatchObject({ variants: 2, variantNames: ['fp32', 'prune-l1'] });
    expect(() => resolveFleetOptions({ agents: 4, variants: 1, variantNames: ['fp32', 'fp16'] })).toThrow(/disagree/);
    expect(() => resolveFleetOptions({})).toThrow(/--agents is required/);
  });

  it('makes an ONNX-ish blob of about the size asked, different on every call', () => {
    const a = onnxishBlob(100_000);
    const b = onnxishBlob(100_000);
    expect(Math.abs(a.length - 100_000)).toBeLessThan(200);
    expect(a.subarray(0, 2)).toEqual(Buffer.from([0x08, 0x08]));
    expect(a.equals(b)).toBe(false);
  });
});
