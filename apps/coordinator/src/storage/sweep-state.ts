import type { JobState, SweepState } from './records';

/**
 * The state a sweep has given its jobs' states: running while any job is queued or running;
 * then failed when every job failed, else completed. A sweep without jobs is failed.
 */
export function deriveSweepState(jobStates: readonly JobState[]): SweepState {
  if (jobStates.length === 0) return 'failed';
  if (jobStates.some((s) => s === 'queued' || s === 'running')) return 'running';
  return jobStates.every((s) => s === 'failed') ? 'failed' : 'completed';
}
