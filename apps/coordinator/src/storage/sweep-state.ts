import type { JobState, SweepState } from './records';
import type { SqlExecutor } from './sql';

/**
 * The state a sweep has given its jobs' states: running while any job is queued or running;
 * then failed when every job failed, else completed. A sweep without jobs is failed.
 */
export function deriveSweepState(jobStates: readonly JobState[]): SweepState {
  return sweepStateOf({ anyJob: jobStates.length > 0, anyOpen: jobStates.some((s) => s === 'queued' || s === 'running'), anyNotFailed: jobStates.some((s) => s !== 'failed') });
}

/** {@link deriveSweepState} from the three facts it depends on (what the store's index probes answer). */
export function sweepStateOf(facts: { anyJob: boolean; anyOpen: boolean; anyNotFailed: boolean }): SweepState {
  if (!facts.anyJob) return 'failed';
  if (facts.anyOpen) return 'running';
  return facts.anyNotFailed ? 'completed' : 'failed';
}

/**
 * Settles a sweep's state from its jobs' (see {@link deriveSweepState}) inside the caller's
 * transaction; a sweep failed with its own error (publishing) stays failed. Two probes of the
 * `jobs (sweep_id, state)` index, not a read of every job: it runs at every result commit.
 */
export async function refreshSweepState(tx: SqlExecutor, sweepId: string, nowMs: number): Promise<void> {
  const row = await tx.get<{ open: number; unfailed: number; any_job: number }>(
    `SELECT CASE WHEN EXISTS (SELECT 1 FROM jobs WHERE sweep_id = @sweepId AND state IN ('queued', 'running')) THEN 1 ELSE 0 END AS open,
            CASE WHEN EXISTS (SELECT 1 FROM jobs WHERE sweep_id = @sweepId AND state IN ('queued', 'running', 'done')) THEN 1 ELSE 0 END AS unfailed,
            CASE WHEN EXISTS (SELECT 1 FROM jobs WHERE sweep_id = @sweepId) THEN 1 ELSE 0 END AS any_job`,
    { sweepId },
  );
  const state = sweepStateOf({ anyJob: row?.any_job === 1, anyOpen: row?.open === 1, anyNotFailed: row?.unfailed === 1 });
  await tx.run(`UPDATE sweeps SET state = @state, updated_at_ms = @nowMs WHERE id = @sweepId AND error IS NULL AND state <> @state`, { sweepId, state, nowMs });
}
