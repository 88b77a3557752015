import { Injectable } from '@nestjs/common';
import type { JobContext } from '../storage/records';
import type { UploadAccumulator } from './upload-accumulator';

/** What is kept of an upload whose stream broke. */
export interface ParkedUpload {
  accumulator: UploadAccumulator;
  job: JobContext;
}

/** Most broken uploads kept at once; the oldest is dropped first (its agent then sends it all again). */
export const MAX_PARKED_UPLOADS = 256;
/** How long a broken upload is kept for its agent to resume. */
export const PARKED_UPLOAD_TTL_MS = 10 * 60_000;

/**
 * Broken result uploads, kept in memory by upload id so that the agent resumes after the
 * last event the coordinator received instead of sending everything again. Bounded in
 * count and age; lost on a coordinator restart, where the resume point is 0.
 */
@Injectable()
export class UploadParking {
  private readonly parked = new Map<string, ParkedUpload & { parkedAtMs: number }>();

  /** Keeps a broken upload. */
  park(uploadId: string, upload: ParkedUpload, nowMs = Date.now()): void {
    this.evict(nowMs);
    this.parked.delete(uploadId);
    this.parked.set(uploadId, { ...upload, parkedAtMs: nowMs });
    while (this.parked.size > MAX_PARKED_UPLOADS) {
      const oldest = this.parked.keys().next().value;
      if (oldest === undefined) break;
      this.parked.delete(oldest);
    }
  }

  /** Removes and returns a parked upload, or undefined when none is held. */
  take(uploadId: string, nowMs = Date.now()): ParkedUpload | undefined {
    this.evict(nowMs);
    const upload = this.parked.get(uploadId);
    this.parked.delete(uploadId);
    return upload;
  }

  /** Number of events held for the upload (0 when none). */
  heldEvents(uploadId: string, nowMs = Date.now()): number {
    this.evict(nowMs);
    return this.parked.get(uploadId)?.accumulator.eventCount ?? 0;
  }

  private evict(nowMs: number): void {
    for (const [id, upload] of this.parked) if (nowMs - upload.parkedAtMs > PARKED_UPLOAD_TTL_MS) this.parked.delete(id);
  }
}
