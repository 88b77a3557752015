// The suite process frozen for real (SIGSTOP, as a hung onnxruntime call or a stopped process
// looks from outside): the stall bound kills it and reports CHILD_CRASHED.
import { ErrorCode, Scenario, TensorDataType } from '@benchfarm/protocol';
import { describe, expect, it } from 'vitest';
import { runSuiteInChild, type SuiteChildEvent, type SuiteJob } from './index';

// Lazy, as everywhere in this project: the suite's entry must not load onnxruntime.
const { paddleOcrModelPath } = await import('@benchfarm/onnx');

const job: SuiteJob = {
  modelPath: paddleOcrModelPath('cls'),
  inputs: [{ name: 'x', dataType: TensorDataType.TENSOR_DATA_TYPE_FLOAT32, shape: [1, 3, 48, 192] }],
  executionProvider: 'cpu',
  intraOpThreads: 1,
  interOpThreads: 1,
  suite: { scenario: Scenario.SCENARIO_SINGLE_STREAM, warmupMinQueries: 5, warmupMinDurationMs: 100, minQueries: 100_000, minDurationMs: 0, maxDurationMs: 60_000, seed: 7 },
  manifest: { variantSha256: 'f'.repeat(64), agentVersion: '0.0.0-test', batch: 1 },
};

describe('runSuiteInChild stall bound', () => {
  it('kills a suite process that stops sending events (frozen with SIGSTOP) and reports CHILD_CRASHED naming the bound', async () => {
    const events: SuiteChildEvent[] = [];
    let frozenAt = 0;
    const exit = await runSuiteInChild(job, {
      // The bound also covers the child's start-up (tsx, onnxruntime): 1.6-2.3 s on 2 loaded cores.
      stallTimeoutMs: 5_000,
      onEvent: (event) => {
        events.push(event);
        if (event.type === 'started' && frozenAt === 0) {
          frozenAt = Date.now();
          process.kill(event.pid, 'SIGSTOP');
        }
      },
    });
    const endedAfterMs = Date.now() - frozenAt;
    expect(frozenAt).toBeGreaterThan(0);
    expect(exit).toMatchObject({ signal: 'SIGKILL', sawSummary: false, aborted: false });
    const last = events.at(-1);
    expect(last).toMatchObject({ type: 'error', code: ErrorCode.ERROR_CODE_CHILD_CRASHED });
    expect(last?.type === 'error' && last.message).toMatch(/^suite process died: no event for 5000 ms \(hung or frozen\): killed/);
    // Killed by the bound, not by the job's own 60 s limit.
    expect(endedAfterMs).toBeGreaterThanOrEqual(4_900);
    expect(endedAfterMs).toBeLessThan(30_000);
  });

  it('leaves a run that keeps reporting alone', async () => {
    const events: SuiteChildEvent[] = [];
    const exit = await runSuiteInChild({ ...job, suite: { ...job.suite, minQueries: 50, maxDurationMs: 20_000 } }, { stallTimeoutMs: 15_000, onEvent: (e) => events.push(e) });
    expect(exit.sawSummary).toBe(true);
    expect(events.some((e) => e.type === 'error')).toBe(false);
  });
});
