// The reference of the harness-overhead bench: the same job opened the same way as the
// suite process does, then nothing but `await session.run(feeds)` for the job's minimum
// duration. Its throughput is what the suite's would be if the harness cost nothing.
import { sendToParent } from '@benchfarm/isolate';
import { serveOneJob } from './child-io';
import { createInputs } from './inputs';
import { parseSuiteJob } from './job';
import type { BareLoopResultMessage } from './messages';
import { onnxruntimeVersion, openSession } from './session';

serveOneJob(async (message) => {
  const job = parseSuiteJob((message as { job?: unknown }).job);
  const { session } = await openSession(job);
  const feeds = createInputs(job.inputs, job.suite.seed);

  // Same warm-up rule as the suite, so both loops are measured in the same steady state.
  const warmupStart = performance.now();
  let warmupQueries = 0;
  do {
    await session.run(feeds);
    warmupQueries++;
  } while (warmupQueries < job.suite.warmupMinQueries || performance.now() - warmupStart < job.suite.warmupMinDurationMs);

  const durationTargetMs = job.suite.minDurationMs;
  let queries = 0;
  const start = performance.now();
  let elapsedMs: number;
  do {
    await session.run(feeds);
    queries++;
    elapsedMs = performance.now() - start;
  } while (elapsedMs < durationTargetMs);

  const result: BareLoopResultMessage = { type: 'bare-result', onnxruntimeVersion, queries, durationMs: elapsedMs };
  await sendToParent(result);
});
