// runExternalJob without the tool on PATH (a real empty directory), and with a FIXTURE
// benchmark_app (a shell script replaying the recorded OpenVINO 2024.0 report): aggregates only.
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BenchJob, ErrorCode, type ResultEvent } from '@benchfarm/protocol';
import { runExternalJob } from './external-runtime';

type EventBody = NonNullable<ResultEvent['event']>;
const dir = mkdtempSync(join(tmpdir(), 'bf-ext-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const job = BenchJob.fromPartial({ jobId: 'j', sweepId: 's', agentId: 'a', batch: 1, variant: { sha256: 'ab', variant: 'fp32' }, inputs: [{ name: 'x', shape: [1, 3] }] });
const model = join(dir, 'm.onnx');
writeFileSync(model, 'not really onnx');

async function collect(env: NodeJS.ProcessEnv, tool: string): Promise<EventBody[]> {
  const events: EventBody[] = [];
  const aborted = await runExternalJob({ job, request: { tool, precision: 'fp32', device: '', durationSeconds: 1, timeoutMs: 30_000 }, modelPath: model, send: async (e) => void events.push(e), signal: new AbortController().signal, agentVersion: 't', env });
  expect(aborted).toBe(false);
  return events;
}

describe('external runtime job on the agent', () => {
  it('a tool missing from PATH fails the job for good with an error naming the tool', async () => {
    const events = await collect({ PATH: dir }, 'trtexec');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ $case: 'error', value: { code: ErrorCode.ERROR_CODE_EXTERNAL_RUNTIME, retryable: false } });
    expect(events[0]!.$case === 'error' && events[0]!.value.message).toMatch(/^trtexec is not installed on this agent: not found on PATH/);
  });

  it('a tool with aggregates only: no samples, the summary says why, the runtime is recorded', async () => {
    const bin = mkdtempSync(join(dir, 'bin-'));
    copyFileSync(new URL('../../../libs/sensors/src/fixtures/benchmark_app-2024.0.txt', import.meta.url), join(bin, 'report.txt'));
    writeFileSync(join(bin, 'benchmark_app'), `#!/bin/sh\n# FIXTURE: recorded benchmark_app output, not OpenVINO\nexec /bin/cat "${join(bin, 'report.txt')}"\n`);
    chmodSync(join(bin, 'benchmark_app'), 0o755);
    const events = await collect({ PATH: bin }, 'benchmark_app');
    expect(events.map((e) => e.$case)).toEqual(['started', 'summary']);
    const summary = events[1]!.$case === 'summary' ? events[1]!.value : undefined;
    expect(summary).toMatchObject({ count: 733, meanMs: 13.57, stopReason: 'external_runtime', externalRuntime: { runtime: 'openvino-benchmark_app', precision: 'fp32' } });
    expect(summary!.unmeasured).toContainEqual({ field: 'latency_samples', reason: 'benchmark_app reports aggregates only' });
  });
});
