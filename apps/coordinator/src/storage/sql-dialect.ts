import type { SqlDialect } from './sql';

/**
 * SQL fragments that differ between SQLite and PostgreSQL, in one place so each repository
 * states what it means once. Every fragment is a constant per dialect (no value is spliced in),
 * so statements stay cacheable and injection-free.
 */

/** A list in a sweep's settings JSON whose entries name jobs by `jobId`. */
export type SettingsJobList = 'comparisonJobs' | 'configSearch.devices';

/**
 * True when the settings JSON `settingsColumn` lists job `jobIdColumn` in `list` (an entry with
 * that `jobId`). PostgreSQL: jsonb containment, which is false (not an error) when the list is
 * missing or not an array.
 */
export function settingsListsJob(dialect: SqlDialect, list: SettingsJobList, settingsColumn = 's.settings_json', jobIdColumn = 'j.id'): string {
  if (dialect === 'sqlite') {
    return `EXISTS (SELECT 1 FROM json_each(${settingsColumn}, '$.${list}') e WHERE json_extract(e.value, '$.jobId') = ${jobIdColumn})`;
  }
  const entry = `jsonb_build_array(jsonb_build_object('jobId', ${jobIdColumn}))`;
  const path = list.split('.');
  const document = path.reduceRight((inner, key) => `jsonb_build_object('${key}', ${inner})`, entry);
  return `(${settingsColumn}::jsonb @> ${document})`;
}

/** SQL conditions on job `j` of sweep `s`, true for the jobs whose result is no single variant's measurement. */
export interface JobKindConditions {
  /** An interleaved comparison job (it measures every variant in one process). */
  isComparison: string;
  /** A configuration-search job (it measures many runtime settings). */
  isConfigSearch: string;
}

/** The {@link JobKindConditions} of a dialect. */
export function jobKindConditions(dialect: SqlDialect): JobKindConditions {
  return { isComparison: settingsListsJob(dialect, 'comparisonJobs'), isConfigSearch: settingsListsJob(dialect, 'configSearch.devices') };
}

/** A top-level scalar of a JSON text column as text (NULL when absent); numbers read as their JSON text. */
export function jsonText(dialect: SqlDialect, column: string, key: string): string {
  return dialect === 'sqlite' ? `json_extract(${column}, '$.${key}')` : `(${column}::jsonb ->> '${key}')`;
}

/** The larger of two values (SQLite's two-argument MAX, PostgreSQL's GREATEST). */
export function greatest(dialect: SqlDialect, a: string, b: string): string {
  return dialect === 'sqlite' ? `MAX(${a}, ${b})` : `GREATEST(${a}, ${b})`;
}

/**
 * The strings of a JSON array bound as one text parameter (`param`: `?` or `@name`), as a
 * subquery for `IN (...)`: one cached statement whatever the list's length.
 */
export function jsonStringList(dialect: SqlDialect, param: string): string {
  return dialect === 'sqlite' ? `SELECT value FROM json_each(${param})` : `SELECT jsonb_array_elements_text(${param}::jsonb)`;
}

/** True when text column `column` contains the text parameter `param` (a plain substring, no pattern). */
export function containsText(dialect: SqlDialect, column: string, param: string): string {
  return dialect === 'sqlite' ? `instr(${column}, ${param}) > 0` : `strpos(${column}, ${param}) > 0`;
}
