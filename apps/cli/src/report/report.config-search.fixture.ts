// FABRICATED sweep views with a runtime-settings search, in the shape GET /sweeps/:id returns,
// for the report's and the progress display's tests. Figures are chosen to exercise each rule
// (a confirmed gain, a tie, defaults best, an unconfirmed pick, a point over the latency bound, a
// provider that failed to open, the budget spent); none was measured. Config ids are real
// (libs/suite configId of the settings).
import type { ConfigBest, ConfigPoint, ConfigSearchResult, RunConfig } from '@benchfarm/protocol';
import { BASELINE_SETTINGS, withId } from '@benchfarm/suite';
import type { ConfigSearchView, JobView, SweepView } from '../client';
import { EVAL, ci, detected, sweep } from './report.fixture';

/** A configuration: onnxruntime's defaults with these settings changed. */
export const cfg = (changes: Partial<Omit<RunConfig, 'id'>>): RunConfig => withId({ ...BASELINE_SETTINGS, ...changes });

/** The configurations of the fixture, by a short name. */
export const C = {
  defaults: cfg({}),
  t1basic: cfg({ intraOpThreads: 1, graphOptimizationLevel: 'basic' }),
  t1all: cfg({ intraOpThreads: 1 }),
  t2basic: cfg({ intraOpThreads: 2, graphOptimizationLevel: 'basic' }),
  t2all: cfg({ intraOpThreads: 2 }),
  trt1: cfg({ executionProvider: 'tensorrt', providerOptions: { fp16: '1' }, intraOpThreads: 1 }),
  trt2: cfg({ executionProvider: 'tensorrt', providerOptions: { fp16: '1' }, intraOpThreads: 2 }),
};

/** The message onnxruntime-node gives when TensorRT's library is missing (as recorded on a machine without it). */
export const TRT_OPEN_ERROR = 'provider failed to open: TensorRT EP could not be created: libnvinfer.so.10: cannot open shared object file: No such file or directory';

let order = 0;
/** A measured point: p50 ms, p99 ms (absent: too few queries), optional p50 CI. */
export function point(variant: string, config: RunConfig, p50: number, p99: number | undefined, p50Ci?: [number, number], batch = 1): ConfigPoint {
  order += 1;
  const qps = 1000 / p50;
  return {
    variant,
    configId: config.id,
    measured: true,
    skipReason: '',
    order,
    queries: Math.round(qps * 2),
    p50Ms: p50,
    ...(p99 !== undefined ? { p99Ms: p99 } : {}),
    meanMs: p50 * 1.05,
    queriesPerSecond: qps,
    samplesPerSecond: qps * batch,
    sessionCreationMs: 40,
    durationMs: 2000,
    ...(p50Ci ? { p50CiMs: { low: p50Ci[0], high: p50Ci[1], level: 0.95 } } : {}),
    meetsBound: p99 !== undefined && p99 <= 15,
  };
}

/** A point not measured, with the reason (zeros in its figures, as the wire carries them). */
export function skippedPoint(variant: string, config: RunConfig, reason: string): ConfigPoint {
  return { variant, configId: config.id, measured: false, skipReason: reason, order: 0, queries: 0, p50Ms: 0, meanMs: 0, queriesPerSecond: 0, samplesPerSecond: 0, sessionCreationMs: 0, durationMs: 0, meetsBound: false };
}

/** A confirmation of `best` against the defaults. */
export function best(variant: string, config: RunConfig, ratio: number, ratioCi: [number, number] | undefined, verdict: string, rounds = 10): ConfigBest {
  return {
    variant,
    configId: config.id,
    baselineConfigId: C.defaults.id,
    ratioToBaseline: ratio,
    ...(ratioCi ? { ratioCi: { low: ratioCi[0], high: ratioCi[1], level: 0.95 } } : {}),
    rounds,
    roundQueries: 20,
    bestMedianMs: rounds > 0 ? 10 * ratio : 0,
    baselineMedianMs: rounds > 0 ? 10 : 0,
    verdict,
    note: '',
  };
}

/**
 * x86-1 (agent-x86): threads {1,2} x level {basic, all}, bound p99 <= 15 ms. fp32's best (t1 basic)
 * is confirmed faster (CI [0.80, 0.88]); int8-static's best by p50 (t1 basic) has p99 16 ms, over
 * the bound, and is tied with the defaults (CI [0.95, 1.04]); under the bound the best overall is
 * int8-static t1 all, whose p50 CI overlaps t2 basic's.
 */
export function x86Result(): ConfigSearchResult {
  order = 0;
  const points = [
    point('fp32', C.t1basic, 8.0, 12, [7.8, 8.2]),
    point('fp32', C.t1all, 8.4, 12.5, [8.2, 8.6]),
    point('fp32', C.t2basic, 9.0, 13, [8.8, 9.2]),
    point('fp32', C.t2all, 9.2, undefined, [9.0, 9.4]),
    point('int8-static', C.t1basic, 6.5, 16, [6.3, 6.7]),
    point('int8-static', C.t1all, 6.8, 11, [6.6, 7.0]),
    point('int8-static', C.t2basic, 7.0, 11.5, [6.9, 7.2]),
    point('int8-static', C.t2all, 7.6, 12, [7.4, 7.8]),
  ];
  return {
    strategy: 'grid',
    objective: 'p50_latency',
    spacePoints: 4,
    pointsMeasured: 8,
    budgetMs: 1_800_000,
    spentMs: 61_500,
    budgetExhausted: false,
    configs: [C.defaults, C.t1basic, C.t1all, C.t2basic, C.t2all],
    points,
    best: [best('fp32', C.t1basic, 0.84, [0.8, 0.88], 'faster'), best('int8-static', C.t1basic, 0.99, [0.95, 1.04], 'tied')],
    skipped: [],
    latencyBoundMs: 15,
  };
}

/**
 * jetson-1 (agent-jetson): provider {cpu, tensorrt:fp16} x threads {default, 2}; TensorRT failed to
 * open for fp32 and the budget ran out before int8-static's TensorRT points; cuda was left out by
 * the coordinator. fp32's best is the defaults; int8-static's best had one confirmation round (no
 * CI) though the agent wrote "faster". No accuracy was measured on this device.
 */
export function jetsonResult(): ConfigSearchResult {
  order = 0;
  const points = [
    point('fp32', C.defaults, 11.0, 14),
    point('fp32', C.t2all, 11.5, 14.5),
    skippedPoint('fp32', C.trt1, TRT_OPEN_ERROR),
    skippedPoint('fp32', C.trt2, TRT_OPEN_ERROR),
    point('int8-static', C.defaults, 9.0, 12),
    point('int8-static', C.t2all, 8.5, 13),
    skippedPoint('int8-static', C.trt1, 'budget spent'),
    skippedPoint('int8-static', C.trt2, 'budget spent'),
  ];
  return {
    strategy: 'grid',
    objective: 'p50_latency',
    spacePoints: 4,
    pointsMeasured: 4,
    budgetMs: 1_800_000,
    spentMs: 1_812_000,
    budgetExhausted: true,
    configs: [C.defaults, C.t2all, C.trt1, C.trt2],
    points,
    best: [best('fp32', C.defaults, 1, undefined, 'baseline', 0), best('int8-static', C.t2all, 0.93, undefined, 'faster', 1)],
    skipped: [],
    latencyBoundMs: 15,
  };
}

/** The configuration search of {@link configSearchSweep}. */
export function configSearchView(): ConfigSearchView {
  return {
    strategy: 'grid',
    objective: 'p50_latency',
    budgetMs: 1_800_000,
    latencyBoundMs: 15,
    axes: [
      { name: 'provider', values: ['cpu', 'tensorrt:fp16', 'cuda'] },
      { name: 'intra_op_threads', values: ['1', '2'] },
      { name: 'graph_optimization_level', values: ['basic', 'all'] },
    ],
    devices: [
      {
        agentId: 'agent-x86',
        agentName: 'x86-1',
        jobId: 'search-x86',
        state: 'done',
        skipped: [
          { axis: 'provider', value: 'tensorrt:fp16', reason: 'not among the execution providers this agent reports (cpu)', label: '' },
          { axis: 'provider', value: 'cuda', reason: 'not among the execution providers this agent reports (cpu)', label: '' },
        ],
        notes: [],
        estimatedMs: 70_000,
        result: x86Result(),
      },
      {
        agentId: 'agent-jetson',
        agentName: 'jetson-1',
        jobId: 'search-jetson',
        state: 'done',
        skipped: [{ axis: 'provider', value: 'cuda', reason: 'not among the execution providers this agent reports (cpu, tensorrt)', label: '' }],
        notes: ['intra_op_threads: "default" is onnxruntime\'s own choice on this device'],
        estimatedMs: 1_700_000,
        result: jetsonResult(),
      },
    ],
  };
}

function searchJob(id: string, agentId: string, state: JobView['state'] = 'done'): JobView {
  return { id, variant: 'fp32', agentId, state, attempts: 1 };
}

/**
 * A completed sweep of fp32 and int8-static with a configuration search on two devices and an
 * interleaved comparison with accuracy on real images on x86-1 only (int8-static's map50
 * agreement 0.97, above the default floor 0.95).
 */
export function configSearchSweep(): SweepView {
  const base = sweep([searchJob('search-x86', 'agent-x86'), searchJob('search-jetson', 'agent-jetson')]);
  return {
    ...base,
    variants: [
      { name: 'fp32', sha256: 'b'.repeat(64), sizeBytes: 3_600_000, recipe: {} },
      { name: 'int8-static', sha256: 'c'.repeat(64), sizeBytes: 1_100_000, recipe: {} },
    ],
    agents: ['agent-x86', 'agent-jetson'],
    comparisons: [
      {
        jobId: 'cmp-x86',
        agentId: 'agent-x86',
        device: 'x86-1',
        state: 'done',
        provider: 'cpu',
        referenceVariant: 'fp32',
        rounds: 5,
        order: 'interleaved',
        evaluation: EVAL,
        variants: [detected('fp32', 1, undefined, 1, ci(1, 1)), detected('int8-static', 0.62, ci(0.58, 0.66), 0.97, ci(0.93, 1), 0.984)],
        unmeasured: [],
      },
    ],
    configSearch: configSearchView(),
  };
}

/**
 * The same sweep while it runs: the search on x86-1 measuring its fourth point, the Jetson's
 * search just begun (a warm-up that has reported no count yet), the interleaved comparison on
 * x86-1 queued, and the coordinator's estimate of the time left.
 */
export function runningSearchSweep(): SweepView {
  const s = configSearchSweep();
  const cs = s.configSearch;
  if (cs) for (const d of cs.devices) {
    delete d.result;
    d.state = 'running';
  }
  return {
    ...s,
    state: 'running',
    etaMs: 754_000,
    comparisons: [{ jobId: 'cmp-x86', agentId: 'agent-x86', device: 'x86-1', state: 'queued', variants: [], unmeasured: [] }],
    jobs: [
      { ...searchJob('search-x86', 'agent-x86', 'running'), progress: { phase: 'measure', queriesDone: 420, elapsedMs: 1500, point: 'fp32 cpu t2 basic', pointsDone: 3, pointsTotal: 8, queriesPerSecond: 280.4 } },
      { ...searchJob('search-jetson', 'agent-jetson', 'running'), progress: { phase: 'warmup', queriesDone: 0, elapsedMs: 0 } },
      { id: 'cmp-x86', variant: 'fp32', agentId: 'agent-x86', state: 'queued', attempts: 0 },
    ],
  };
}
