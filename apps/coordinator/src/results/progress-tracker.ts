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
    // The view picks the fields it shows (progressView); a copy keeps the caller's object its own.
    this.latest.set(jobId, { ...progress });
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
