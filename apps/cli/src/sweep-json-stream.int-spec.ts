// `benchfarm sweep --wait --json` against the embedded default run as real processes
// (nats-server, coordinator, agent): every line of stdout is one JSON event, the job's states
// arrive in order, and the last line is `done` with the final sweep.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '@benchfarm/messaging';
import { paddleOcrModelPath } from '@benchfarm/onnx';
import { CoordinatorClient } from './client';
import type { SweepEvent } from './format';
import { repoRoot, startEmbeddedFarm, type EmbeddedFarm } from './processes';
import { QUICK_SWEEP, waitForAgent } from './testing/farm.fixture';

const run = promisify(execFile);

describe('sweep --wait --json on a real farm', () => {
  let dir: string;
  let farm: EmbeddedFarm;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bf-json-stream-'));
    farm = await startEmbeddedFarm({ dir, natsPort: await freePort(), httpPort: 0, grpcPort: 0, agent: true });
    await waitForAgent(new CoordinatorClient(farm.httpUrl), farm.agentId);
  }, 120_000);

  afterAll(async () => {
    await farm?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('streams one JSON event per line and ends with done carrying the final sweep', async () => {
    const q = QUICK_SWEEP;
    const args = ['--coordinator', farm.httpUrl, 'sweep', paddleOcrModelPath('cls'), '--variants', 'fp32', '--shapes', q.shapes, '--compare', q.compare, '--warmup-queries', '2', '--warmup-ms', '50', '--min-queries', '200', '--min-ms', '1500', '--json'];
    const { stdout } = await run(join(repoRoot, 'bin/benchfarm'), args, { timeout: 150_000 });
    const lines = stdout.trimEnd().split('\n');
    const events = lines.map((l) => JSON.parse(l) as SweepEvent);
    // POST /sweeps answers in deriving; the variant's derivation, then the move to running with its job.
    expect(events[0]).toMatchObject({ event: 'sweep', state: 'deriving', jobs: 0 });
    expect(events.filter((e) => e.event === 'derive').at(-1)).toMatchObject({ variant: 'fp32', state: 'done' });
    expect(events.find((e) => e.event === 'sweep' && e.state === 'running')).toMatchObject({ from: 'deriving', jobs: 1 });
    const jobStates = events.filter((e) => e.event === 'job').map((e) => (e as Extract<SweepEvent, { event: 'job' }>).state);
    expect(jobStates[0]).toMatch(/^(queued|running)$/);
    expect(jobStates.at(-1)).toBe('done');
    // Progress events, when the poll caught the job measuring, carry its phase and counts.
    for (const p of events.filter((e): e is Extract<SweepEvent, { event: 'progress' }> => e.event === 'progress')) {
      expect(['session', 'warmup', 'measure', 'evaluation']).toContain(p.phase);
      expect(p.queriesDone).toBeGreaterThanOrEqual(0);
    }
    const done = events.at(-1) as Extract<SweepEvent, { event: 'done' }>;
    expect(done.event).toBe('done');
    expect(done.state).toBe('completed');
    expect(done.sweep.jobs[0]?.result?.count).toBeGreaterThanOrEqual(200);
    expect(events.filter((e) => e.event === 'done')).toHaveLength(1);
    // Timestamps in order: the stream is a log of changes.
    const at = events.map((e) => Date.parse(e.at));
    expect(at.every((t, i) => i === 0 || t >= (at[i - 1] as number))).toBe(true);
  }, 180_000);
});
