import type { Summary, SuiteReport } from '@benchfarm/protocol';
import type { SqlExecutor } from './sql';

/** Stores what a scenario measured beyond the summary: one row per result that has it. */
export const INSERT_RESULT_REPORT = `INSERT INTO result_reports (result_id, scenario, report_json) VALUES (@resultId, @scenario, @reportJson)`;

/** The row of a result's report, or undefined when the summary carries none (an older agent). */
export function resultReportRow(resultId: string, summary: Summary): { resultId: string; scenario: string; reportJson: string } | undefined {
  if (!summary.report) return undefined;
  return { resultId, scenario: summary.report.scenario, reportJson: JSON.stringify(summary.report) };
}

/** One job's stored report, as GET /sweeps/:id/suite-reports lists it. */
export interface StoredSuiteReport {
  jobId: string;
  resultId: string;
  variant: string;
  agentId: string;
  agentName: string;
  scenario: string;
  report: SuiteReport;
}

/** Every stored report of a sweep's results, in job order (read through `db`: the database or an open transaction). */
export async function suiteReportsOfSweep(db: SqlExecutor, sweepId: string): Promise<StoredSuiteReport[]> {
  const rows = await db.all<{ job_id: string; result_id: string; variant: string; agent_id: string; agent_name: string; scenario: string; report_json: string }>(
    `SELECT j.id AS job_id, r.id AS result_id, j.variant, j.agent_id, j.agent_name, rr.scenario, rr.report_json
       FROM jobs j JOIN results r ON r.job_id = j.id JOIN result_reports rr ON rr.result_id = r.id
      WHERE j.sweep_id = ? ORDER BY j.position`,
    [sweepId],
  );
  return rows.map((row) => ({
    jobId: row.job_id,
    resultId: row.result_id,
    variant: row.variant,
    agentId: row.agent_id,
    agentName: row.agent_name,
    scenario: row.scenario,
    report: JSON.parse(row.report_json) as SuiteReport,
  }));
}
