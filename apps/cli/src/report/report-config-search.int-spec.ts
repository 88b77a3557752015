// The runtime-settings report of a real search: the embedded farm as real processes
// (nats-server, coordinator, agent running onnxruntime-node on PaddleOCR's classifier), a grid
// over threads {1,2} x graph level {basic, all} plus a provider this machine cannot create; the
// report built from the coordinator's view in every format.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '@benchfarm/messaging';
import { paddleOcrModelPath } from '@benchfarm/onnx';
import { CoordinatorClient } from '../client';
import { renderReport, tradeOffText } from '../report-command';
import { startEmbeddedFarm, type EmbeddedFarm } from '../processes';
import { setTimeout as sleep } from 'node:timers/promises';
import { progressLines, sweepEvents, type SweepEvent } from '../format';
import { createDerived, QUICK_SWEEP, waitForAgent } from '../testing/farm.fixture';
import { buildReport, reportHtml } from './index';

describe('report of a real runtime-settings search', () => {
  let dir: string;
  let farm: EmbeddedFarm;
  let client: CoordinatorClient;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bf-config-report-'));
    farm = await startEmbeddedFarm({ dir, natsPort: await freePort(), httpPort: 0, grpcPort: 0, agent: true });
    client = new CoordinatorClient(farm.httpUrl);
    await waitForAgent(client, farm.agentId);
  }, 120_000);

  afterAll(async () => {
    await farm?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports four measured points, a best confirmed against the defaults, and the provider it could not create as skipped', async () => {
    const created = await createDerived(client, paddleOcrModelPath('cls'), {
      ...QUICK_SWEEP,
      variants: 'fp32',
      dimensions: 'provider=cpu,cuda;threads=1,2;level=basic,all',
      search: 'grid',
      pointWarmupMs: 100,
      pointDurationMs: 300,
      pointMinQueries: 10,
      confirmRounds: 4,
    });
    // Watched as `sweep --wait` watches it: every view through the progress display and the event stream.
    const events: SweepEvent[] = [];
    const lines: string[] = [];
    let previous: typeof created | undefined;
    let sweep = created;
    const deadline = Date.now() + 240_000;
    for (;;) {
      events.push(...sweepEvents(previous, sweep, new Date().toISOString()));
      lines.push(...progressLines(sweep));
      if (sweep.state !== 'running' || Date.now() > deadline) break;
      previous = sweep;
      await sleep(150);
      sweep = await client.getSweep(created.id);
    }
    expect(sweep.state, JSON.stringify(sweep.jobs.map((j) => [j.state, j.error]))).toBe('completed');
    // The search's progress as the agent reported it: the point, points done of the total, queries/s.
    const searchProgress = events.filter((e): e is Extract<SweepEvent, { event: 'progress' }> => e.event === 'progress' && e.kind === 'config search');
    expect(searchProgress.length, JSON.stringify(events.map((e) => e.event))).toBeGreaterThan(0);
    const withPoint = searchProgress.filter((e) => e.point !== undefined);
    expect(withPoint.length).toBeGreaterThan(0);
    for (const e of withPoint) {
      // A point's label, or the confirmation of the best against the defaults.
      expect(e.point).toMatch(/^fp32 (cpu t[12] (basic|all)|confirming cpu t[12] (basic|all) vs defaults)$/);
      expect(e.pointsTotal).toBeGreaterThanOrEqual(4);
      expect(e.pointsDone).toBeLessThanOrEqual(e.pointsTotal as number);
    }
    const searchLines = lines.filter((l) => l.includes('config search'));
    expect(searchLines.some((l) => /config search +\S+ +running +fp32 (confirming )?cpu t[12] (basic|all)( vs defaults)?: \w+ /.test(l)), searchLines.join('\n')).toBe(true);
    expect(events.filter((e) => e.event === 'sweep')[0]).toMatchObject({ state: 'running' });
    expect(events.at(-1)).toMatchObject({ event: 'done', state: 'completed' });
    const report = buildReport(sweep);
    const device = report.configSearch?.devices[0];
    expect(report.configSearch?.devices).toHaveLength(1);
    if (!device) throw new Error('no device in the search report');
    expect(device.missing).toBeUndefined();
    const measured = device.points.filter((p) => p.measured);
    expect(measured.map((p) => p.label).sort()).toEqual(['cpu t1 all', 'cpu t1 basic', 'cpu t2 all', 'cpu t2 basic']);
    for (const p of measured) {
      expect(p.p50Ms).toBeGreaterThan(0);
      expect(p.queries).toBeGreaterThanOrEqual(10);
    }
    // cuda is not creatable here: listed with a reason (by the coordinator from the agent's providers, or by onnxruntime).
    const cuda = device.skipped.filter((s) => s.value === 'cuda' || s.label?.startsWith('cuda'));
    expect(cuda.length, JSON.stringify(device.skipped)).toBeGreaterThan(0);
    for (const s of cuda) expect(s.reason.length).toBeGreaterThan(0);
    const fp32 = device.variants.find((v) => v.variant === 'fp32');
    expect(fp32?.label).toMatch(/^cpu t[12] (basic|all)$/);
    expect(['faster', 'slower', 'tied', 'baseline', 'unconfirmed']).toContain(fp32?.verdict);
    if (fp32?.verdict !== 'baseline') expect(fp32?.ratioCi, 'a CI after 4 rounds').toBeDefined();
    if (fp32?.verdict === 'faster') expect(fp32.ratioCi?.high).toBeLessThan(1);
    expect(device.best.variant).toBe('fp32');

    const text = tradeOffText(report);
    expect(text).toContain('Runtime settings search: grid');
    expect(text).toContain(`best overall on ${device.device}`);
    const csv = renderReport(sweep, { format: 'config-csv', sloPercentile: 90 }).trimEnd().split('\n');
    expect(csv).toHaveLength(device.points.length + 1);
    expect(reportHtml(report)).toContain(`data-chart="config:${device.device}"`);
    const json = JSON.parse(renderReport(sweep, { format: 'json', sloPercentile: 90 })) as typeof report;
    expect(json.configSearch?.devices[0]?.points).toHaveLength(device.points.length);
  }, 300_000);
});
