import { Inject, Injectable } from '@nestjs/common';
import { DomainError, DomainErrorCode } from '../common/domain-error';
import { suiteReportsOfSweep, type StoredSuiteReport } from '../storage/result-reports';
import { SQL_DATABASE } from '../storage/storage.tokens';
import type { SweepSettings } from '../storage/records';
import type { SqlDatabase } from '../storage/sql';

/** A sweep's suite reports: what each job's scenario measured beyond its summary. */
export interface SuiteReportsView {
  sweepId: string;
  /** The interleaved comparison jobs of the sweep (one per device), whether done yet or not. */
  comparisonJobs: { jobId: string; agentId: string; variants: string[] }[];
  reports: StoredSuiteReport[];
}

/** Serves the stored suite reports. */
@Injectable()
export class SuiteReportsService {
  constructor(@Inject(SQL_DATABASE) private readonly db: SqlDatabase) {}

  /** Thrown ({@link DomainError} `sweep_not_found`) for an unknown sweep. */
  async forSweep(sweepId: string): Promise<SuiteReportsView> {
    // One transaction: the comparison jobs and the reports are of the same moment.
    const view = await this.db.transaction(async (tx) => {
      const sweep = await tx.get<{ settings_json: string }>('SELECT settings_json FROM sweeps WHERE id = ?', [sweepId]);
      if (!sweep) return undefined;
      const settings = JSON.parse(sweep.settings_json) as SweepSettings;
      return { sweepId, comparisonJobs: settings.comparisonJobs ?? [], reports: await suiteReportsOfSweep(tx, sweepId) };
    });
    if (!view) throw new DomainError(DomainErrorCode.SweepNotFound, `no sweep with id ${sweepId}`, { field: 'id' });
    return view;
  }
}
