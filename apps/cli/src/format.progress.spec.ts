// The live progress display and the `sweep --wait --json` event stream, from FABRICATED sweep
// views (report/report.config-search.fixture.ts): pure functions of successive views.
import { describe, expect, it } from 'vitest';
import type { SweepView } from './client';
import { progressHeader, progressLineKeys, progressLines, sweepEvents, sweepReport, trackProgress, type SweepEvent } from './format';
import { configSearchSweep, runningSearchSweep } from './report/report.config-search.fixture';
import { job, sweep } from './report/report.fixture';

const AT = '2025-01-01T00:00:00.000Z';

/** A copy of `s` with one job changed. */
function withJob(s: SweepView, id: string, change: Partial<SweepView['jobs'][number]>): SweepView {
  return { ...s, jobs: s.jobs.map((j) => (j.id === id ? { ...j, ...change } : j)) };
}

describe('progressLines', () => {
  it('shows per device the point being measured, queries, queries/s, points done, and the time left in the header', () => {
    const lines = progressLines(runningSearchSweep());
    expect(lines[0]).toBe('sweep sweep-1 running: 0/3 jobs done, about 12 min 34 s left (estimate)');
    expect(lines[1]).toMatch(/^ {2}config search +x86-1 +running +fp32 cpu t2 basic: measure 420 queries in 1\.5 s, 280\.4 queries\/s; 3\/8 points done$/);
    // A phase that has just begun reports 0 queries at 0 ms: that is its start, not a measurement.
    expect(lines[2]).toMatch(/^ {2}config search +jetson-1 +running +warmup started$/);
    expect(lines[2]).not.toContain('0 queries');
    // Devices by the name their agent registered with.
    expect(lines[3]).toMatch(/^ {2}interleaved +x86-1 +queued$/);
  });

  it('says how long a job has gone without a new report, and that one never reported is starting', () => {
    const s = withJob(runningSearchSweep(), 'cmp-x86', { state: 'running' });
    const seen0 = trackProgress(new Map(), s, 1_000);
    const seen1 = trackProgress(seen0, s, 13_000);
    const lines = progressLines(s, { seen: seen1, nowMs: 13_000 });
    expect(lines[2]).toContain('warmup started, last report 12 s ago');
    expect(lines[3]).toMatch(/interleaved +x86-1 +running +starting: no progress reported yet \(12 s\)$/);
    // A change of count restarts the clock.
    const moved = withJob(s, 'search-jetson', { progress: { phase: 'warmup', queriesDone: 30, elapsedMs: 400 } });
    const seen2 = trackProgress(seen1, moved, 14_000);
    expect(progressLines(moved, { seen: seen2, nowMs: 14_000 })[2]).toMatch(/warmup 30 queries in 0\.4 s$/);
  });

  it('has a true header without an estimate, and when the sweep has ended', () => {
    const noEta = { ...runningSearchSweep() };
    delete noEta.etaMs;
    expect(progressHeader(noEta)).toBe('sweep sweep-1 running: 0/3 jobs done, time left not estimated yet');
    const failed = { ...sweep([job('fp32', 'pi', 5, 1), { ...job('int8', 'pi', 5, 1), state: 'failed' as const, error: 'boom' }]), state: 'failed' as const };
    expect(progressHeader(failed)).toBe('sweep sweep-1 failed: 1/2 jobs done, 1 failed');
    expect(progressLines(failed)[2]).toMatch(/int8 +pi +failed +boom$/);
  });

  it('keys a line on state, phase and point, not on counts (what a log prints again)', () => {
    const s = runningSearchSweep();
    const more = withJob(s, 'search-x86', { progress: { phase: 'measure', queriesDone: 900, elapsedMs: 3200, point: 'fp32 cpu t2 basic', pointsDone: 3, pointsTotal: 8, queriesPerSecond: 281 } });
    const next = withJob(s, 'search-x86', { progress: { phase: 'warmup', queriesDone: 0, elapsedMs: 0, point: 'fp32 cpu t2 all', pointsDone: 4, pointsTotal: 8 } });
    expect(progressLineKeys(more)).toEqual(progressLineKeys(s));
    expect(progressLineKeys(next)[1]).not.toBe(progressLineKeys(s)[1]);
    expect(progressLineKeys(next).length).toBe(progressLines(next).length);
  });
});

describe('sweepReport of a search-only sweep', () => {
  it('says there is no variant table rather than printing an empty one', () => {
    const text = sweepReport(configSearchSweep());
    expect(text).toContain("no variant measured under the sweep's own settings: a runtime-settings search (below)");
    expect(text).not.toMatch(/variant\s+device\s+state/);
  });
});

describe('sweepEvents (sweep --wait --json)', () => {
  it('starts with the sweep, every job and every progress', () => {
    const events = sweepEvents(undefined, runningSearchSweep(), AT);
    expect(events.map((e) => e.event)).toEqual(['sweep', 'job', 'job', 'job', 'progress', 'progress']);
    expect(events[0]).toEqual({ event: 'sweep', at: AT, sweepId: 'sweep-1', state: 'running', jobs: 3, etaMs: 754_000 });
    expect(events[1]).toMatchObject({ event: 'job', jobId: 'search-x86', kind: 'config search', state: 'running' });
    expect(events[1]).not.toHaveProperty('from');
    expect(events[3]).toMatchObject({ event: 'job', jobId: 'cmp-x86', kind: 'interleaved', state: 'queued' });
    expect(events[4]).toEqual({ event: 'progress', at: AT, sweepId: 'sweep-1', jobId: 'search-x86', kind: 'config search', variant: 'fp32', agentId: 'agent-x86', etaMs: 754_000, phase: 'measure', queriesDone: 420, elapsedMs: 1500, point: 'fp32 cpu t2 basic', pointsDone: 3, pointsTotal: 8, queriesPerSecond: 280.4 });
  });

  it('repeats nothing unchanged, and gives each change its own line', () => {
    const a = runningSearchSweep();
    expect(sweepEvents(a, runningSearchSweep(), AT)).toEqual([]);
    const b = withJob(withJob(a, 'search-jetson', { progress: { phase: 'warmup', queriesDone: 25, elapsedMs: 500 } }), 'cmp-x86', { state: 'running' });
    const events = sweepEvents(a, b, AT);
    expect(events.map((e) => [e.event, 'jobId' in e ? e.jobId : ''])).toEqual([
      ['job', 'cmp-x86'],
      ['progress', 'search-jetson'],
    ]);
    expect(events[0]).toMatchObject({ state: 'running', from: 'queued' });
    // Each event is one line of JSON.
    for (const e of events) expect(JSON.stringify(e)).not.toContain('\n');
  });

  it('ends with the state change and done, carrying the final view once', () => {
    const running = runningSearchSweep();
    const final: SweepView = { ...configSearchSweep(), jobs: running.jobs.map((j) => ({ ...j, state: j.id === 'search-jetson' ? ('failed' as const) : ('done' as const), ...(j.id === 'search-jetson' ? { error: 'agent lost' } : {}), attempts: 1 })), state: 'failed', error: '1 job failed' };
    for (const j of final.jobs) delete j.progress;
    const events = sweepEvents(running, final, AT);
    expect(events.map((e) => e.event)).toEqual(['sweep', 'job', 'job', 'job', 'done']);
    expect(events[0]).toMatchObject({ state: 'failed', from: 'running' });
    expect(events[2]).toMatchObject({ jobId: 'search-jetson', state: 'failed', from: 'running', error: 'agent lost' });
    const done = events[4] as Extract<SweepEvent, { event: 'done' }>;
    expect(done).toMatchObject({ state: 'failed', error: '1 job failed' });
    expect(done.sweep).toBe(final);
    expect(sweepEvents(final, final, AT)).toEqual([]);
  });
});

describe('the derivation step (POST /sweeps answers in deriving)', () => {
  const deriving = (states: Array<['pending' | 'deriving' | 'done' | 'failed', string?]>): SweepView => ({
    ...runningSearchSweep(),
    state: 'deriving',
    jobs: [],
    variants: [],
    derivation: states.map(([state, error], i) => ({ variant: ['fp32', 'int8-static'][i] ?? `v${i}`, state, ...(error ? { error } : {}), ...(state === 'done' ? { durationMs: 2_500 } : {}) })),
  });

  it('shows each variant being derived under a deriving header, and no job yet', () => {
    const lines = progressLines(deriving([['done'], ['deriving']]));
    expect(lines[0]).toBe('sweep sweep-1 deriving: 1/2 variants derived');
    expect(lines[1]).toMatch(/^ {2}derive fp32 +done +3 s$/);
    expect(lines[2]).toMatch(/^ {2}derive int8-static +deriving$/);
    expect(lines).toHaveLength(3);
    expect(progressLineKeys(deriving([['done'], ['deriving']]))).toHaveLength(3);
  });

  it('streams a derive event per change of a variant, and done only once the sweep is neither deriving nor running', () => {
    const first = deriving([['deriving'], ['pending']]);
    expect(sweepEvents(undefined, first, AT).map((e) => e.event)).toEqual(['sweep', 'derive']);
    const failed: SweepView = { ...deriving([['done'], ['failed', 'variant int8-static: broken']]), state: 'failed', error: 'variant int8-static: broken' };
    const events = sweepEvents(first, failed, AT);
    expect(events.filter((e) => e.event === 'derive')).toEqual([
      { event: 'derive', at: AT, sweepId: 'sweep-1', variant: 'fp32', state: 'done', from: 'deriving', durationMs: 2_500 },
      { event: 'derive', at: AT, sweepId: 'sweep-1', variant: 'int8-static', state: 'failed', from: 'pending', error: 'variant int8-static: broken' },
    ]);
    expect(events.at(-1)).toMatchObject({ event: 'done', state: 'failed', error: 'variant int8-static: broken' });
    expect(sweepEvents(undefined, first, AT).some((e) => e.event === 'done')).toBe(false);
  });
});
