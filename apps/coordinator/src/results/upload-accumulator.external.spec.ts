// External-runtime results that carry aggregates only: accepted without raw samples
// only when they name the runtime and say why the samples are absent.
import { describe, expect, it } from 'vitest';
import { Summary, type ResultEvent } from '@benchfarm/protocol';
import { LATENCY_SAMPLES_FIELD, UploadAccumulator } from './upload-accumulator';

const header = { jobId: 'job-1', sweepId: 'sweep-1', agentId: 'a', attempt: 1, uploadId: 'u-1', leaseToken: '', resumeFromEvent: 0 };
const summaryEvent = (summary: Summary): ResultEvent => ({ header, event: { $case: 'summary', value: summary } });
const external = { runtime: 'openvino-benchmark_app', version: '2024.0.0', precision: 'fp32', device: 'CPU', command: 'benchmark_app -m m.onnx' };

describe('upload of an external-runtime result without raw samples', () => {
  it('is accepted with an Unmeasured latency_samples entry', () => {
    const acc = new UploadAccumulator();
    acc.add(summaryEvent(Summary.fromPartial({ count: 733, meanMs: 13.57, externalRuntime: external, unmeasured: [{ field: LATENCY_SAMPLES_FIELD, reason: 'benchmark_app reports aggregates only' }] })));
    const done = acc.finish();
    expect(done.kind).toBe('summary');
    expect(done.kind === 'summary' && done.latencyMs.length).toBe(0);
  });

  it('is refused without the reason, and an onnxruntime result still needs every sample', () => {
    const noReason = new UploadAccumulator();
    noReason.add(summaryEvent(Summary.fromPartial({ count: 733, externalRuntime: external })));
    expect(() => noReason.finish()).toThrow(/summary.count is 733 but 0 samples were received/);
    const suite = new UploadAccumulator();
    suite.add(summaryEvent(Summary.fromPartial({ count: 10, unmeasured: [{ field: LATENCY_SAMPLES_FIELD, reason: 'x' }] })));
    expect(() => suite.finish()).toThrow(/summary.count is 10 but 0 samples/);
  });
});
