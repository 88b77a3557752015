import { describe, expect, it } from 'vitest';
import type { ResultEvent, UploadHeader } from '@benchfarm/protocol';
import { DomainError, DomainErrorCode } from '../common/domain-error';
import { syntheticUpload } from '../testing/grpc-upload';
import { UploadAccumulator } from './upload-accumulator';

const header: UploadHeader = { jobId: 'job_1', sweepId: 'sweep_1', agentId: 'a1', attempt: 1, uploadId: 'u1', leaseToken: '', resumeFromEvent: 0 };
const samples = [3, 1, 2, 5, 4];

function run(events: ResultEvent[], maxSamples?: number) {
  const acc = new UploadAccumulator(maxSamples);
  for (const event of events) acc.add(event);
  return acc.finish();
}

function problem(events: ResultEvent[], maxSamples?: number): string {
  try {
    run(events, maxSamples);
  } catch (err) {
    expect(err).toBeInstanceOf(DomainError);
    expect((err as DomainError).code).toBe(DomainErrorCode.InvalidUpload);
    return (err as Error).message;
  }
  throw new Error('expected the upload to be refused');
}

describe('UploadAccumulator', () => {
  it('assembles contiguous chunks into the samples, in order', () => {
    const done = run(syntheticUpload(header, samples, { chunk: 2 }));
    expect(done.kind).toBe('summary');
    if (done.kind === 'summary') expect([...done.latencyMs]).toEqual(samples);
  });

  it('accepts an upload that is only an error', () => {
    const done = run([{ header, event: { $case: 'error', value: { code: 1, message: 'no model', retryable: false } } }]);
    expect(done).toMatchObject({ kind: 'error', error: { message: 'no model' } });
  });

  const base = () => syntheticUpload(header, samples, { chunk: 2 });
  it.each<[string, () => ResultEvent[], RegExp, number?]>([
    ['no events', () => [], /no events/],
    ['no terminal event', () => base().slice(0, -1), /without a summary or an error/],
    ['a missing header', () => base().map((e, i) => (i === 2 ? { ...e, header: undefined } : e)), /event 2 has no header/],
    ['a changed header', () => base().map((e, i) => (i === 3 ? { ...e, header: { ...header, attempt: 2 } } : e)), /event 3 has a header different/],
    ['attempt 0', () => base().map((e) => ({ ...e, header: { ...header, attempt: 0 } })), /attempts count from 1/],
    ['started twice', () => [base()[0]!, ...base()], /started is event 1/],
    ['a gap in samples', () => base().filter((_, i) => i !== 3), /offset 4 is not contiguous: 2 samples/],
    ['an event after the summary', () => [...base(), base()[1]!], /follows the upload's summary/],
    ['a count mismatch', () => base().filter((_, i) => i !== 4), /summary.count is 5 but 4 samples/],
    ['a negative latency', () => base().map((e) => (e.event?.$case === 'samples' && e.event.value.offset === 0 ? { ...e, event: { $case: 'samples' as const, value: { offset: 0, latencyMs: [1, -1] } } } : e)), /sample 1 is -1/],
    ['too many samples', () => base(), /more than 4 samples/, 4],
  ])('refuses %s', (_name, events, message, maxSamples) => {
    expect(problem(events(), maxSamples)).toMatch(message);
  });
});
