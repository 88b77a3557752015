import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OperatorProfile, OperatorTime } from '@benchfarm/protocol';
import * as ort from 'onnxruntime-node';
import { ModelLoadError, ProfileParseError } from './errors';

/** One event of onnxruntime's profile (Chrome trace format), as far as the suite reads it. */
export interface OrtProfileEvent {
  cat?: string;
  name?: string;
  /** Microseconds. */
  dur?: number;
  args?: { op_name?: string };
}

/**
 * Sums onnxruntime's per-node kernel times by operator type: the `Node` events whose name
 * ends in `_kernel_time` (the other Node events, fence_before/after, are bookkeeping).
 * Returns the `top` operators by total time, with their share of all kernel time. Pure.
 */
export function aggregateOperatorTimes(events: readonly OrtProfileEvent[], top: number): { nodeTotalMs: number; top: OperatorTime[] } {
  const byOp = new Map<string, { totalUs: number; calls: number }>();
  let totalUs = 0;
  for (const event of events) {
    if (event.cat !== 'Node' || !event.name?.endsWith('_kernel_time')) continue;
    const op = event.args?.op_name ?? 'unknown';
    const dur = typeof event.dur === 'number' && event.dur >= 0 ? event.dur : 0;
    const entry = byOp.get(op) ?? { totalUs: 0, calls: 0 };
    entry.totalUs += dur;
    entry.calls += 1;
    byOp.set(op, entry);
    totalUs += dur;
  }
  const ranked = [...byOp.entries()].sort((a, b) => b[1].totalUs - a[1].totalUs || a[0].localeCompare(b[0]));
  return {
    nodeTotalMs: totalUs / 1000,
    top: ranked.slice(0, top).map(([opType, { totalUs: us, calls }]) => ({
      opType,
      totalMs: Math.round(us) / 1000,
      calls,
      share: totalUs > 0 ? Math.round((us / totalUs) * 10_000) / 10_000 : 0,
    })),
  };
}

/**
 * Profiles a model per operator: opens a separate session with onnxruntime's profiler on
 * (profiling slows every run, so the measured session never has it), runs `runs` queries,
 * ends profiling, parses the JSON file onnxruntime wrote and removes it.
 *
 * Thrown errors: ModelLoadError when the session cannot be created; ProfileParseError when
 * onnxruntime wrote no profile or an unreadable one.
 */
export async function profileOperators(
  variant: string,
  modelPath: string,
  options: ort.InferenceSession.SessionOptions,
  feeds: Record<string, ort.Tensor>,
  runs: number,
  top: number,
): Promise<OperatorProfile> {
  const dir = await mkdtemp(join(tmpdir(), 'benchfarm-profile-'));
  try {
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(modelPath, { ...options, enableProfiling: true, profileFilePrefix: join(dir, 'ort') });
    } catch (err) {
      throw new ModelLoadError(modelPath, { cause: err });
    }
    for (let i = 0; i < runs; i++) await session.run(feeds);
    session.endProfiling();
    await session.release();
    const files = (await readdir(dir)).filter((f) => f.endsWith('.json'));
    const file = files[0];
    if (files.length !== 1 || file === undefined) throw new ProfileParseError(`onnxruntime wrote ${files.length} profile files, expected 1`);
    let events: unknown;
    try {
      events = JSON.parse(await readFile(join(dir, file), 'utf8'));
    } catch (err) {
      throw new ProfileParseError(`the onnxruntime profile is not JSON`, { cause: err });
    }
    if (!Array.isArray(events)) throw new ProfileParseError('the onnxruntime profile is not a JSON array of trace events');
    const { nodeTotalMs, top: ops } = aggregateOperatorTimes(events as OrtProfileEvent[], top);
    return { variant, profiledRuns: runs, nodeTotalMs: Math.round(nodeTotalMs * 1000) / 1000, top: ops };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
