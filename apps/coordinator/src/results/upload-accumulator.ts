import type { Progress, ResultEvent, RunError, Started, Summary, UploadHeader } from '@benchfarm/protocol';
import { DomainError, DomainErrorCode } from '../common/domain-error';

/** Most raw samples one upload may carry (8 bytes each in memory and in the database). */
export const MAX_SAMPLES_PER_UPLOAD = 5_000_000;

/** A complete upload: its header and either a summary with every sample, or an error. */
export type CompletedUpload =
  | { kind: 'summary'; header: UploadHeader; summary: Summary; latencyMs: Float64Array }
  | { kind: 'error'; header: UploadHeader; error: RunError };

/** What an accepted event asks the ingest to do while the stream is still open. */
export type LiveEvent = { kind: 'first'; header: UploadHeader } | { kind: 'started'; started: Started } | { kind: 'progress'; progress: Progress };

function invalid(problem: string): DomainError {
  return new DomainError(DomainErrorCode.InvalidUpload, problem);
}

function sameHeader(a: UploadHeader, b: UploadHeader): boolean {
  return a.jobId === b.jobId && a.sweepId === b.sweepId && a.agentId === b.agentId && a.attempt === b.attempt && a.uploadId === b.uploadId;
}

/**
 * Checks the events of one result upload as they arrive, and keeps what is needed to commit
 * it at the end: every event carries the same header; `started` (optional) comes first;
 * sample chunks are contiguous from offset 0; nothing follows the terminal `summary` or
 * `error`; the summary's count is the number of samples. Pure: no I/O. Thrown:
 * {@link DomainError} `invalid_upload` naming the problem.
 */
export class UploadAccumulator {
  private header: UploadHeader | undefined;
  private events = 0;
  private chunks: number[][] = [];
  private sampleCount = 0;
  private terminal: { kind: 'summary'; summary: Summary } | { kind: 'error'; error: RunError } | undefined;

  constructor(private readonly maxSamples = MAX_SAMPLES_PER_UPLOAD) {}

  /** The header of the upload, once the first event arrived. */
  get uploadHeader(): UploadHeader | undefined {
    return this.header;
  }

  /** How many events were accepted so far (where a resumed stream continues). */
  get eventCount(): number {
    return this.events;
  }

  /** Whether the upload's summary or error arrived. */
  get complete(): boolean {
    return this.terminal !== undefined;
  }

  /** Checks and keeps one event. */
  add(message: ResultEvent): LiveEvent[] {
    const index = this.events++;
    const header = message.header;
    if (!header) throw invalid(`event ${index} has no header`);
    const live: LiveEvent[] = [];
    if (this.header === undefined) {
      if (header.jobId === '') throw invalid('header.job_id is empty');
      if (header.agentId === '') throw invalid('header.agent_id is empty');
      if (header.uploadId === '') throw invalid('header.upload_id is empty');
      if (header.attempt < 1) throw invalid(`header.attempt is ${header.attempt}; attempts count from 1`);
      this.header = { ...header };
      live.push({ kind: 'first', header: this.header });
    } else if (!sameHeader(this.header, header)) {
      throw invalid(`event ${index} has a header different from the first event's (job ${header.jobId} attempt ${header.attempt} upload ${header.uploadId} vs job ${this.header.jobId} attempt ${this.header.attempt} upload ${this.header.uploadId})`);
    }
    const event = message.event;
    if (!event) throw invalid(`event ${index} carries no event`);
    if (this.terminal) throw invalid(`event ${index} (${event.$case}) follows the upload's ${this.terminal.kind}`);
    switch (event.$case) {
      case 'started':
        if (index !== 0) throw invalid(`started is event ${index}; it must be the first`);
        live.push({ kind: 'started', started: event.value });
        break;
      case 'progress':
        live.push({ kind: 'progress', progress: event.value });
        break;
      case 'samples': {
        const { offset, latencyMs } = event.value;
        if (offset !== this.sampleCount) throw invalid(`samples chunk at offset ${offset} is not contiguous: ${this.sampleCount} samples received so far`);
        if (this.sampleCount + latencyMs.length > this.maxSamples) throw invalid(`more than ${this.maxSamples} samples in one upload`);
        const bad = latencyMs.findIndex((v) => !Number.isFinite(v) || v < 0);
        if (bad >= 0) throw invalid(`sample ${offset + bad} is ${latencyMs[bad]}; latencies are finite and >= 0`);
        this.chunks.push(latencyMs);
        this.sampleCount += latencyMs.length;
        break;
      }
      case 'summary':
        this.terminal = { kind: 'summary', summary: event.value };
        break;
      case 'error':
        this.terminal = { kind: 'error', error: event.value };
        break;
    }
    return live;
  }

  /** Checks the upload is complete and returns it. */
  finish(): CompletedUpload {
    if (!this.header) throw invalid('the upload has no events');
    if (!this.terminal) throw invalid('the upload ended without a summary or an error');
    if (this.terminal.kind === 'error') return { kind: 'error', header: this.header, error: this.terminal.error };
    const { summary } = this.terminal;
    if (summary.count === 0) throw invalid('summary.count is 0; a result needs at least one sample');
    if (summary.count !== this.sampleCount && !externalAggregatesOnly(summary, this.sampleCount)) throw invalid(`summary.count is ${summary.count} but ${this.sampleCount} samples were received`);
    for (const p of summary.percentiles) {
      if (!(p.quantile > 0 && p.quantile < 1)) throw invalid(`summary percentile quantile ${p.quantile} is not in (0, 1)`);
    }
    const latencyMs = new Float64Array(this.sampleCount);
    let at = 0;
    for (const chunk of this.chunks) {
      latencyMs.set(chunk, at);
      at += chunk.length;
    }
    return { kind: 'summary', header: this.header, summary, latencyMs };
  }
}

/** The Unmeasured field an external-runtime result names when it carries no raw samples. */
export const LATENCY_SAMPLES_FIELD = 'latency_samples';

/**
 * An external tool that reports only aggregates: the result carries no raw samples,
 * names the runtime, and says why in an `latency_samples` Unmeasured entry.
 */
function externalAggregatesOnly(summary: Summary, sampleCount: number): boolean {
  return sampleCount === 0 && summary.externalRuntime !== undefined && summary.unmeasured.some((u) => u.field === LATENCY_SAMPLES_FIELD && u.reason.trim() !== '');
}
