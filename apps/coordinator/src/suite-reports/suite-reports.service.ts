import { Inject, Injectable } from '@nestjs/common';
import { DomainError, DomainErrorCode } from '../common/domain-error';
import type { SqliteDatabase } from '../storage/database';
import { suiteReportsOfSweep, type StoredSuiteReport } from '../storage/result-reports';
import { SQLITE_DATABASE } from '../storage/storage.tokens';
import { SweepRepository } from '../storage/sweep.repository';

/** A sweep's suite reports: what each job's scenario measured beyond its summary. */
export interface SuiteReportsView {
  sweepId: string;
  /** The interleaved comparison jobs of the sweep (one per device), whether done yet or not. */
  comparisonJobs: { jobId: string; agentId: string; variants: string[] }[];
  reports: StoredSuiteReport[];
}

/** Serves the stored suite reports (issue 4). */
@Injectable()
export class SuiteReportsService {
  constructor(
    @Inject(SQLITE_DATABASE) private readonly db: SqliteDatabase,
    @Inject(SweepRepository) private readonly sweeps: SweepRepository,
  ) {}

  /** Thrown ({@link DomainError} `sweep_not_found`) for an unknown sweep. */
  forSweep(sweepId: string): SuiteReportsView {
    const sweep = this.sweeps.get(sweepId);
    if (!sweep) throw new DomainError(DomainErrorCode.SweepNotFound, `no sweep with id ${sweepId}`, { field: 'id' });
    return { sweepId, comparisonJobs: sweep.settings.comparisonJobs ?? [], reports: suiteReportsOfSweep(this.db, sweepId) };
  }
}
