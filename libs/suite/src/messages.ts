import type { ErrorCode, Summary } from '@benchfarm/protocol';
import type { SuiteJob } from './job';

/** The one message a suite process receives: the job to run. It exits after answering it. */
export interface SuiteRunMessage {
  type: 'run';
  job: SuiteJob;
}

/** Phases a suite process reports progress in, in order. */
export type SuitePhase = 'session' | 'warmup' | 'measure' | 'evaluation';

/** First event: the process is up and has onnxruntime loaded. */
export interface SuiteStartedEvent {
  type: 'started';
  onnxruntimeVersion: string;
  pid: number;
}

/** About once a second while a phase lasts, and once as each phase begins. */
export interface SuiteProgressEvent {
  type: 'progress';
  phase: SuitePhase;
  /** Queries done in this phase (0 in the session phase; images done in the evaluation phase). */
  queriesDone: number;
  /** Milliseconds since this phase began. */
  elapsedMs: number;
  /** A configuration search: the point being measured ("<variant> <config label>"). */
  point?: string;
  /** A configuration search: points visited so far (measured or skipped), over all variants. */
  pointsDone?: number;
  /** A configuration search: points it expects to visit (a quick search's worst case until it ends). */
  pointsTotal?: number;
  /** A configuration search: queries per second of the current window; 0 outside a window. */
  queriesPerSecond?: number;
}

/** The configuration-search fields of a progress event. */
export type SearchProgressFields = Required<Pick<SuiteProgressEvent, 'point' | 'pointsDone' | 'pointsTotal' | 'queriesPerSecond'>>;

/** Raw measured latencies, in query order; chunks arrive in order before the summary. */
export interface SuiteSamplesEvent {
  type: 'samples';
  /** Index of this chunk's first sample. */
  offset: number;
  /** At most SAMPLES_CHUNK_MAX latencies, in milliseconds rounded to the microsecond. */
  latencyMs: number[];
}

/** Last event of a successful run. */
export interface SuiteSummaryEvent {
  type: 'summary';
  summary: Summary;
}

/** Last event of a failed run; also synthesised by the parent when the process dies without one. */
export interface SuiteErrorEvent {
  type: 'error';
  code: ErrorCode;
  message: string;
  retryable: boolean;
}

/**
 * The measured phase's BEGIN and END marks, for the agent's power sampler: `measure-begin`
 * right before the first measured query, `measure-end` right after the last one.
 */
export interface SuiteMarkEvent {
  type: 'mark';
  mark: 'measure-begin' | 'measure-end';
}

/** Everything a suite process sends, plus the parent's synthetic crash error. */
export type SuiteChildEvent = SuiteStartedEvent | SuiteProgressEvent | SuiteSamplesEvent | SuiteSummaryEvent | SuiteErrorEvent | SuiteMarkEvent;

/** Most samples in one `samples` event: ~150 KB of JSON, far under gRPC's 4 MB default. */
export const SAMPLES_CHUNK_MAX = 8192;

/** How a suite process ended, as `runSuiteInChild` resolves it. */
export interface SuiteChildExit {
  /** The process's exit code, or null when a signal ended it (or it never started). */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** A summary event arrived: the result is complete whatever the exit status. */
  sawSummary: boolean;
  /** An error event was forwarded, from the process or synthesised by the parent. */
  sawError: boolean;
  /** The caller's AbortSignal ended the run; no synthetic crash error is emitted then. */
  aborted: boolean;
  /** The last few KB the process wrote to stderr (onnxruntime logs, crash reports). */
  stderrTail: string;
}

/** What the harness-overhead bench's bare-loop process reports. */
export interface BareLoopResultMessage {
  type: 'bare-result';
  onnxruntimeVersion: string;
  queries: number;
  durationMs: number;
}

/** What the idle-RSS process reports: its VmHWM, or null without /proc. */
export interface IdleRssMessage {
  type: 'idle-rss';
  peakRssBytes: number | null;
}
