import type { ConfigAxis, RunConfig } from '@benchfarm/protocol';
import { describe, expect, it } from 'vitest';
import { baselineConfig, configLabel, estimateSearch, expandSpace } from './config-space';
import { BUDGET_SPENT, bestOf, isBetter, meetsBound, plannedPoints, quickStart, runSearch, type PointFigures, type PointOutcome, type SearchPlan } from './config-search.strategy';

interface Recorded extends PointFigures {
  p50CiMs: { low: number; high: number };
}

// RECORDED figures, not made up: the YOLOX-nano detector (examples/yolox-nano, fp32) on this
// 2-core AMD EPYC development VM, load average about 5.5 from other work, one window of 1.5 s per
// point after 0.3 s of warm-up, every point in one suite process:
//   npx tsx scripts/bench-config-search.ts --dims "threads=1,2,4;level=basic,extended,all;mode=sequential,parallel" \
//     --strategies grid --variants fp32 --warmup-ms 300 --window-ms 1500 --rounds 6 --points --no-narrow
// (4 threads oversubscribe the 2 cores: that is why they are slow). Columns: intra-op threads,
// graph level, execution mode, p50 ms, p50 95% bootstrap CI low and high, queries per second.
const RECORDED_3x3x2: readonly [string, string, string, number, number, number, number][] = [
  ['1', 'basic', 'sequential', 17.329, 16.823, 20.835, 48.5],
  ['1', 'basic', 'parallel', 35.024, 33.348, 38.526, 28.0],
  ['1', 'extended', 'sequential', 28.541, 26.196, 31.658, 33.3],
  ['1', 'extended', 'parallel', 28.042, 26.743, 31.543, 34.0],
  ['1', 'all', 'sequential', 17.315, 15.979, 18.315, 54.6],
  ['1', 'all', 'parallel', 14.248, 14.046, 14.56, 67.0],
  ['2', 'basic', 'sequential', 61.93, 57.396, 69.649, 15.7],
  ['2', 'basic', 'parallel', 55.402, 48.639, 63.104, 18.5],
  ['2', 'extended', 'sequential', 40.539, 37.622, 43.908, 23.3],
  ['2', 'extended', 'parallel', 36.5, 34.106, 42.575, 26.7],
  ['2', 'all', 'sequential', 18.803, 17.084, 21.381, 48.2],
  ['2', 'all', 'parallel', 16.958, 16.381, 18.382, 52.3],
  ['4', 'basic', 'sequential', 87.263, 80.987, 95.388, 11.0],
  ['4', 'basic', 'parallel', 97.289, 78.75, 111.273, 10.0],
  ['4', 'extended', 'sequential', 76.139, 73.39, 85.63, 13.2],
  ['4', 'extended', 'parallel', 46.908, 43.62, 57.02, 18.0],
  ['4', 'all', 'sequential', 72.613, 53.407, 99.824, 11.5],
  ['4', 'all', 'parallel', 57.746, 36.961, 75.182, 10.6],
];

const AXES_3x3x2: ConfigAxis[] = [
  { name: 'intra_op_threads', values: ['1', '2', '4'] },
  { name: 'graph_optimization_level', values: ['basic', 'extended', 'all'] },
  { name: 'execution_mode', values: ['sequential', 'parallel'] },
];

/** The recorded figures by the label config-space gives each point. */
function recordedByLabel(): Map<string, Recorded> {
  const byLabel = new Map<string, Recorded>();
  for (const [threads, level, mode, p50Ms, low, high, qps] of RECORDED_3x3x2) {
    const label = `cpu t${threads}${mode === 'parallel' ? ' parallel' : ''} ${level}`;
    byLabel.set(label, { p50Ms, maxMs: high * 2, samplesPerSecond: qps, p50CiMs: { low, high } });
  }
  return byLabel;
}

/** A measuring callback over recorded figures that logs every configuration it is asked for. */
function recordedMeasure(byLabel: Map<string, Recorded>, fail: ReadonlyMap<string, string> = new Map()) {
  const asked: string[] = [];
  const measure = async (config: RunConfig): Promise<PointOutcome<Recorded>> => {
    asked.push(config.id);
    const label = configLabel(config);
    const reason = fail.get(label);
    if (reason !== undefined) return { measured: false, reason };
    const figures = byLabel.get(label);
    if (!figures) throw new Error(`no recorded figures for ${label}`);
    return { measured: true, figures };
  };
  return { asked, measure };
}

const latency = { objective: 'p50_latency', latencyBoundMs: 0 } as const;
const plan = (strategy: 'grid' | 'quick', extra: Partial<SearchPlan> = {}): SearchPlan => ({ strategy, axes: AXES_3x3x2, baseline: baselineConfig(), objective: latency, ...extra });

describe('configuration search strategies on recorded figures (3 threads x 3 levels x 2 modes)', () => {
  it('the quick search measures fewer points than the grid and picks a configuration within the grid winner’s p50 CI', async () => {
    const byLabel = recordedByLabel();
    expect(byLabel.size).toBe(18);
    const grid = recordedMeasure(byLabel);
    const gridOutcome = await runSearch(plan('grid'), { measure: grid.measure, budgetSpent: () => false });
    const quick = recordedMeasure(byLabel);
    const quickOutcome = await runSearch(plan('quick'), { measure: quick.measure, budgetSpent: () => false });

    expect(gridOutcome.spacePoints).toBe(18);
    expect(grid.asked).toHaveLength(18);
    expect(quick.asked.length).toBeLessThan(grid.asked.length);
    // Never re-measured: every configuration asked for once.
    expect(new Set(quick.asked).size).toBe(quick.asked.length);
    expect(quick.asked.length).toBeLessThanOrEqual(plannedPoints('quick', AXES_3x3x2));

    const winner = gridOutcome.best;
    const picked = quickOutcome.best;
    if (!winner || !picked) throw new Error('both searches must find a best point');
    // The grid's winner is the lowest recorded p50.
    expect(winner.outcome.figures.p50Ms).toBe(Math.min(...RECORDED_3x3x2.map((r) => r[3])));
    const ci = winner.outcome.figures.p50CiMs;
    expect(picked.outcome.figures.p50Ms).toBeGreaterThanOrEqual(ci.low);
    expect(picked.outcome.figures.p50Ms).toBeLessThanOrEqual(ci.high);
    // Coordinate descent's path on these figures: from the baseline's values (threads not on the axis: the first, 1),
    // threads stay 1, the level stays all, parallel wins; the second walk moves nowhere.
    expect(configLabel(quickOutcome.visits[0]?.config ?? baselineConfig())).toBe('cpu t1 all');
    expect(quickOutcome.visits.map((v) => configLabel(v.config))).toEqual([
      'cpu t1 all',
      'cpu t2 all',
      'cpu t4 all',
      'cpu t1 basic',
      'cpu t1 extended',
      'cpu t1 parallel all',
      'cpu t2 parallel all',
      'cpu t4 parallel all',
      'cpu t1 parallel basic',
      'cpu t1 parallel extended',
    ]);
  });

  it('stops starting points once the budget is spent and lists the rest as skipped "budget spent", unmeasured', async () => {
    const byLabel = recordedByLabel();
    const grid = recordedMeasure(byLabel);
    const outcome = await runSearch(plan('grid'), { measure: grid.measure, budgetSpent: () => grid.asked.length >= 5 });
    expect(grid.asked).toHaveLength(5);
    expect(outcome.budgetExhausted).toBe(true);
    expect(outcome.visits).toHaveLength(18);
    const skipped = outcome.visits.filter((v) => !v.outcome.measured);
    expect(skipped).toHaveLength(13);
    expect(skipped.every((v) => !v.outcome.measured && v.outcome.reason === BUDGET_SPENT)).toBe(true);
    expect(skipped.some((v) => grid.asked.includes(v.config.id))).toBe(false);
    // The best is the best of what was measured.
    expect(configLabel(outcome.best?.config ?? baselineConfig())).toBe('cpu t1 all');

    const quick = recordedMeasure(byLabel);
    const quickOutcome = await runSearch(plan('quick'), { measure: quick.measure, budgetSpent: () => quick.asked.length >= 2 });
    expect(quick.asked).toHaveLength(2);
    expect(quickOutcome.budgetExhausted).toBe(true);
    // The walk stops at the axis where the time ran out: its other value is listed, nothing after it.
    expect(quickOutcome.visits.map((v) => [configLabel(v.config), v.outcome.measured ? 'measured' : v.outcome.reason])).toEqual([
      ['cpu t1 all', 'measured'],
      ['cpu t2 all', 'measured'],
      ['cpu t4 all', BUDGET_SPENT],
    ]);
  });

  it('never measures points it is told to skip, nor a point that failed to open a second time', async () => {
    const byLabel = recordedByLabel();
    const skip = new Map(
      expandSpace(AXES_3x3x2)
        .points.filter((p) => p.intraOpThreads === 4)
        .map((p) => [p.id, '4 threads exceed this device’s 2 logical cores'] as const),
    );
    const fail = new Map([['cpu t2 all', 'onnxruntime could not open a session with cpu t2 all: out of memory (recorded message)']]);
    for (const strategy of ['grid', 'quick'] as const) {
      const m = recordedMeasure(byLabel, fail);
      const outcome = await runSearch(plan(strategy, { skip }), { measure: m.measure, budgetSpent: () => false });
      expect(m.asked.some((id) => skip.has(id))).toBe(false);
      expect(new Set(m.asked).size).toBe(m.asked.length);
      const failed = outcome.visits.filter((v) => configLabel(v.config) === 'cpu t2 all');
      expect(failed).toHaveLength(1);
      expect(failed[0]?.outcome).toEqual({ measured: false, reason: fail.get('cpu t2 all') });
      for (const v of outcome.visits.filter((x) => skip.has(x.config.id))) expect(v.outcome).toEqual({ measured: false, reason: '4 threads exceed this device’s 2 logical cores' });
      expect(outcome.budgetExhausted).toBe(false);
      expect(configLabel(outcome.best?.config ?? baselineConfig())).toBe('cpu t1 parallel all');
    }
  });
});

describe('objective comparison', () => {
  const point = (p50Ms: number, samplesPerSecond: number, maxMs: number, p99Ms?: number): PointFigures => ({ p50Ms, samplesPerSecond, maxMs, ...(p99Ms !== undefined && { p99Ms }) });
  it.each([
    ['lower p50 wins for latency', point(10, 50, 20), point(11, 90, 12), latency, true],
    ['an equal p50 is not better (the first found stays)', point(10, 50, 20), point(10, 40, 20), latency, false],
    ['more samples/s wins for throughput without a bound', point(30, 100, 60), point(10, 90, 12), { objective: 'throughput', latencyBoundMs: 0 }, true],
    ['within the bound beats a faster point outside it', point(10, 50, 20, 18), point(9, 900, 90, 80), { objective: 'throughput', latencyBoundMs: 25 }, true],
    ['both within: more samples/s', point(20, 120, 30, 24), point(10, 100, 20, 18), { objective: 'throughput', latencyBoundMs: 25 }, true],
    ['both outside: the lower tail (closer to qualifying)', point(20, 10, 40, 30), point(10, 100, 90, 80), { objective: 'throughput', latencyBoundMs: 25 }, true],
  ] as const)('%s', (_name, a, b, spec, expected) => {
    expect(isBetter(a, b, spec)).toBe(expected);
  });

  it('judges the bound on p99 when known, else on the slowest query (an upper bound of p99)', () => {
    expect(meetsBound(point(5, 1, 40, 9), 10)).toBe(true);
    expect(meetsBound(point(5, 1, 9), 10)).toBe(true);
    expect(meetsBound(point(5, 1, 40), 10)).toBe(false);
    expect(meetsBound(point(5, 1, 400), 0)).toBe(true);
  });

  it('has no throughput best when no point stays within the bound', () => {
    const config = baselineConfig();
    const visits = [{ config, order: 1, outcome: { measured: true as const, figures: point(5, 100, 40) } }];
    expect(bestOf(visits, { objective: 'throughput', latencyBoundMs: 10 })).toBeUndefined();
    expect(bestOf(visits, { objective: 'throughput', latencyBoundMs: 0 })?.config.id).toBe(config.id);
  });
});

describe('quick search start and plan', () => {
  it("starts from the baseline's values where the axes list them, else each axis's first value", () => {
    const base = baselineConfig();
    expect(quickStart(AXES_3x3x2, base)).toEqual({ intra_op_threads: '1', graph_optimization_level: 'all', execution_mode: 'sequential' });
    expect(quickStart([{ name: 'intra_op_threads', values: ['2', 'default'] }, { name: 'provider', values: ['cuda', 'cpu'] }], base)).toEqual({ intra_op_threads: 'default', provider: 'cpu' });
  });

  it('starts at the closest point when the start is not a point (inter-op threads need parallel mode)', async () => {
    const axes: ConfigAxis[] = [
      { name: 'inter_op_threads', values: ['2'] },
      { name: 'execution_mode', values: ['sequential', 'parallel'] },
    ];
    const asked: string[] = [];
    const outcome = await runSearch(
      { strategy: 'quick', axes, baseline: baselineConfig(), objective: latency },
      {
        measure: async (config) => {
          asked.push(configLabel(config));
          return { measured: true, figures: { p50Ms: 1, maxMs: 2, samplesPerSecond: 1 } };
        },
        budgetSpent: () => false,
      },
    );
    expect(asked).toEqual(['cpu t=default parallel i2 all']);
    expect(outcome.spacePoints).toBe(1);
  });

  it('plans at most the grid for quick, as estimateSearch counts it', () => {
    for (const strategy of ['grid', 'quick'] as const) {
      expect(plannedPoints(strategy, AXES_3x3x2)).toBe(estimateSearch({ strategy, axes: AXES_3x3x2, variants: 1, pointWarmupMs: 0, pointDurationMs: 1, confirmRounds: 1 }).measurements);
    }
    expect(plannedPoints('quick', AXES_3x3x2)).toBeLessThan(plannedPoints('grid', AXES_3x3x2));
  });
});
