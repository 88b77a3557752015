import { describe, expect, it } from 'vitest';
import { REFERENCE_MODEL_ID, referenceModel } from '@benchfarm/suite';
import { AgentConfigError } from './config';
import { healthCheckSettingsFromEnv, retryDelayMs, runHealthCheck } from './health-check';

describe('healthCheckSettingsFromEnv', () => {
  it('defaults: 60 s timeout, retries from 5 s doubling to 5 min', () => {
    expect(healthCheckSettingsFromEnv({})).toEqual({ timeoutMs: 60_000, retryMinMs: 5_000, retryMaxMs: 300_000 });
  });

  it('refuses every bad key at once, naming each', () => {
    let error: unknown;
    try {
      healthCheckSettingsFromEnv({ BENCHFARM_HEALTH_TIMEOUT_MS: 'soon', BENCHFARM_HEALTH_RETRY_MS: '-1' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(AgentConfigError);
    expect((error as AgentConfigError).issues).toEqual([
      expect.stringMatching(/^BENCHFARM_HEALTH_TIMEOUT_MS: "soon" must be a whole number/),
      expect.stringMatching(/^BENCHFARM_HEALTH_RETRY_MS: "-1" must be/),
    ]);
  });

  it('refuses a maximum below the minimum', () => {
    expect(() => healthCheckSettingsFromEnv({ BENCHFARM_HEALTH_RETRY_MS: '10000', BENCHFARM_HEALTH_RETRY_MAX_MS: '5000' })).toThrow(/BENCHFARM_HEALTH_RETRY_MAX_MS: 5000 is below/);
  });
});

describe('retryDelayMs', () => {
  it.each([
    [1, 5_000],
    [2, 10_000],
    [3, 20_000],
    [7, 300_000],
    [40, 300_000],
  ])('after %i failure(s): %i ms', (failures, ms) => expect(retryDelayMs(failures, { retryMinMs: 5_000, retryMaxMs: 300_000 })).toBe(ms));
});

describe('runHealthCheck (real onnxruntime in a fresh process)', () => {
  it('passes on a working device and reports the outputs, the model and the timings', async () => {
    const report = await runHealthCheck({ attempt: 1, trigger: 'joined', timeoutMs: 60_000 });
    expect(report).toMatchObject({ passed: true, error: '', referenceModelId: REFERENCE_MODEL_ID, referenceModelSha256: referenceModel().sha256, attempt: 1, trigger: 'joined', executionProvider: 'cpu' });
    expect(report!.outputs).toHaveLength(8);
    expect(report!.durationMs).toBeGreaterThan(report!.inferenceMs);
    expect(report!.inferenceMs).toBeGreaterThan(0);
  });

  it('fails, naming why, when the process cannot start (an invalid NODE_OPTIONS makes node exit at once)', async () => {
    const report = await runHealthCheck({ attempt: 2, trigger: 'after-failure: x', timeoutMs: 60_000, env: { ...process.env, NODE_OPTIONS: '--no-such-node-flag' } });
    expect(report).toMatchObject({ passed: false, outputs: [], attempt: 2 });
    expect(report!.error).toMatch(/^health check process exited with code \d+ without an answer; its stderr ended with: .*no-such-node-flag/);
  });

  it('fails when it does not answer in time, and kills the process', async () => {
    const report = await runHealthCheck({ attempt: 1, trigger: 'joined', timeoutMs: 50 });
    expect(report).toMatchObject({ passed: false, error: expect.stringMatching(/^health check process timed out after 50 ms/) });
  });

  it('resolves undefined (no verdict) when aborted by shutdown', async () => {
    const abort = new AbortController();
    const pending = runHealthCheck({ attempt: 1, trigger: 'joined', timeoutMs: 60_000, signal: abort.signal });
    abort.abort();
    expect(await pending).toBeUndefined();
  });
});
