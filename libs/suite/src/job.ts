import type { SuiteSettings, TensorSpec } from '@benchfarm/protocol';
import { Scenario } from '@benchfarm/protocol';
import { z } from 'zod';
import { InvalidSuiteJobError } from './errors';

/** onnxruntime's graph optimisation levels, as `SessionOptions.graphOptimizationLevel` names them. */
export type GraphOptimizationLevel = 'disabled' | 'basic' | 'extended' | 'all';

/** What one suite process runs: a model file already on disk, how to open it, and how long to measure. */
export interface SuiteJob {
  /** Absolute path of the model file (the agent's cache). */
  modelPath: string;
  /** Every model input with fixed dimensions; data is generated from `suite.seed`. */
  inputs: TensorSpec[];
  /** onnxruntime execution provider name, e.g. "cpu". */
  executionProvider: string;
  /** 0 leaves onnxruntime's default. */
  intraOpThreads: number;
  /** 0 leaves onnxruntime's default. */
  interOpThreads: number;
  /** Default "all", onnxruntime's own default. */
  graphOptimizationLevel?: GraphOptimizationLevel;
  suite: SuiteSettings;
  /** Facts the suite process cannot know but the result's manifest must carry. */
  manifest: { variantSha256: string; agentVersion: string; batch: number };
}

const count = z.number().int().nonnegative();

const suiteJobSchema = z.object({
  modelPath: z.string().min(1),
  inputs: z.array(
    z.object({
      name: z.string().min(1),
      dataType: z.number().int(),
      shape: z.array(z.number()),
    }),
  ),
  executionProvider: z.string().min(1),
  intraOpThreads: count,
  interOpThreads: count,
  graphOptimizationLevel: z.enum(['disabled', 'basic', 'extended', 'all']).optional(),
  suite: z.object({
    scenario: z.number().int(),
    warmupMinQueries: count,
    warmupMinDurationMs: count,
    minQueries: count,
    minDurationMs: count,
    maxDurationMs: count,
    seed: count,
  }),
  manifest: z.object({
    variantSha256: z.string(),
    agentVersion: z.string(),
    batch: count,
  }),
});

/**
 * Checks a job at a process boundary (the agent before forking, the suite process on
 * receipt) and reports every problem at once. Beyond the shapes, it rejects settings that
 * cannot describe a run: a zero max duration, a max below the min, a scenario other than
 * single-stream. SCENARIO_UNSPECIFIED is accepted as single-stream because proto3 sends
 * an unset enum as 0 and single-stream is the only scenario there is.
 *
 * Thrown errors: InvalidSuiteJobError listing every problem.
 */
export function parseSuiteJob(value: unknown): SuiteJob {
  const parsed = suiteJobSchema.safeParse(value);
  if (!parsed.success) {
    throw new InvalidSuiteJobError(parsed.error.issues.map((issue) => `${issue.path.join('.') || '(job)'}: ${issue.message}`));
  }
  const job = parsed.data;
  const problems: string[] = [];
  const { scenario, minDurationMs, maxDurationMs } = job.suite;
  if (scenario !== Scenario.SCENARIO_SINGLE_STREAM && scenario !== Scenario.SCENARIO_UNSPECIFIED) {
    problems.push(`suite.scenario: ${scenario} is not single-stream, the only scenario this suite runs`);
  }
  if (maxDurationMs < 1) problems.push('suite.maxDurationMs: must be >= 1 (a run needs a deadline)');
  if (maxDurationMs < minDurationMs) problems.push(`suite.maxDurationMs: ${maxDurationMs} is below suite.minDurationMs ${minDurationMs}`);
  if (problems.length > 0) throw new InvalidSuiteJobError(problems);
  return job as SuiteJob;
}
