import { Injectable } from '@nestjs/common';
import type { Progress } from '@benchfarm/protocol';

/**
 * The latest progress of each running job, in memory only: it is live status for the sweep
 * view, worthless after a restart, and too frequent to write to the database.
 */
@Injectable()
export class ProgressTracker {
  private readonly latest = new Map<string, Progress>();

  /** Records the latest progress of a job, with a configuration search's point and counts when it sends them. */
  set(jobId: string, progress: Progress): void {
    this.latest.set(jobId, {
      phase: progress.phase,
      queriesDone: progress.queriesDone,
      elapsedMs: progress.elapsedMs,
      ...(progress.point === undefined ? {} : { point: progress.point }),
      ...(progress.pointsDone === undefined ? {} : { pointsDone: progress.pointsDone }),
      ...(progress.pointsTotal === undefined ? {} : { pointsTotal: progress.pointsTotal }),
      ...(progress.queriesPerSecond === undefined ? {} : { queriesPerSecond: progress.queriesPerSecond }),
    });
  }

  /** The latest progress of a job, if it is being uploaded now. */
  get(jobId: string): Progress | undefined {
    return this.latest.get(jobId);
  }

  /** Forgets a job's progress (its upload ended). */
  delete(jobId: string): void {
    this.latest.delete(jobId);
  }
}
