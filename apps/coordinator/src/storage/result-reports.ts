import type { Summary, SuiteReport } from '@benchfarm/protocol';
import type { SqlExecutor } from './sql';

/** Stores what a scenario measured beyond the summary: one row per result that has it. */
export const INSERT_RESULT_REPORT = `INSERT INTO result_reports (result_id, scenario, report_json) VALUES (@resultId, @scenario, @reportJson)`;

/** The row of a result's report, or undefined when the summary carries none (an older agent). */
export function resultReportRow(resultId: string, summary: Summary): { resultId: string; scenario: string; reportJson: string } | undefined {
  if (!summary.report) return undefined;
  return { resultId, scenario: summary.report.scenario, reportJson: JSON.stringify(summary.report) };
}

/**
 * The stored reports of the results of the jobs `jobCondition` picks (SQL on job `j` of sweep `s`,
 * a constant such as one of `jobKindConditions`), oldest commit first, with the model,
 * device and provider they were measured with.
 */
export async function reportsOfJobs(db: SqlExecutor, jobCondition: string): Promise<Array<{ model: string; device: string; provider: string; report: SuiteReport }>> {
  const rows = await db.all<{ model_name: string; agent_name: string; provider: string; report_json: string }>(
    `SELECT s.model_name, j.agent_name, r.provider, rr.report_json
       FROM results r
       JOIN result_reports rr ON rr.result_id = r.id
       JOIN jobs j ON j.id = r.job_id
       JOIN sweeps s ON s.id = j.sweep_id
      WHERE ${jobCondition}
      ORDER BY r.committed_at_ms, r.commit_seq`,
  );
  return rows.map((r) => ({ model: r.model_name, device: r.agent_name, provider: r.provider, report: JSON.parse(r.report_json) as SuiteReport }));
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
