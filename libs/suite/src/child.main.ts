// The suite process: runs ONE job in a fresh process, so that its peak RSS is the job's
// peak memory and nothing of an earlier model (arenas, thread pools) colours the next one.
// Started by runSuiteInChild; speaks the SuiteRunMessage / SuiteChildEvent protocol.
import { postToParent, sendToParent } from '@benchfarm/isolate';
import { serveOneJob } from './child-io';
import { InvalidSuiteJobError } from './errors';
import { createInputs } from './inputs';
import { parseSuiteJob } from './job';
import { hostFacts } from './host';
import { machineFacts, readOwnProcStatusBytes } from './machine';
import { SAMPLES_CHUNK_MAX, type SuiteChildEvent, type SuiteMarkEvent, type SuiteProgressEvent } from './messages';
import { onnxruntimeVersion, openSession } from './session';
import { runScenario } from './scenario-runner';
import { buildSummary, roundLatenciesInPlace } from './summary';

const send = (event: SuiteChildEvent): Promise<void> => sendToParent(event);

/** RSS now: VmRSS where /proc exists, else libuv's portable reading of the same figure. */
function rssBytes(): number {
  return readOwnProcStatusBytes('VmRSS') ?? process.memoryUsage.rss();
}

async function runJob(message: unknown): Promise<void> {
  await send({ type: 'started', onnxruntimeVersion, pid: process.pid });
  if (typeof message !== 'object' || message === null || (message as { type?: unknown }).type !== 'run') {
    throw new InvalidSuiteJobError([`expected a {type: 'run'} message, got ${JSON.stringify(message)}`]);
  }
  const job = parseSuiteJob((message as { job?: unknown }).job);

  postToParent({ type: 'progress', phase: 'session', queriesDone: 0, elapsedMs: 0 } satisfies SuiteProgressEvent);
  const rssBeforeSessionBytes = rssBytes();
  const { session, sessionCreationMs, modelFileSizeBytes } = await openSession(job);
  const rssAfterSessionBytes = rssBytes();
  const feeds = createInputs(job.inputs, job.suite.seed);

  let measureBegun = false;
  let measureEnded = false;
  const { run, report } = await runScenario(job, session, feeds, (phase, queriesDone, elapsedMs, search) => {
    // The accuracy phase is not measured: the power sampler's window ends where it begins.
    if (phase === 'evaluation' && !measureEnded) {
      measureEnded = true;
      postToParent({ type: 'mark', mark: 'measure-end' } satisfies SuiteMarkEvent);
    }
    // The BEGIN mark of the agent's power sampler: the first measured query is about to start.
    if (phase === 'measure' && !measureBegun) {
      measureBegun = true;
      postToParent({ type: 'mark', mark: 'measure-begin' } satisfies SuiteMarkEvent);
    }
    postToParent({ type: 'progress', phase, queriesDone, elapsedMs, ...search } satisfies SuiteProgressEvent);
  });
  if (!measureEnded) postToParent({ type: 'mark', mark: 'measure-end' } satisfies SuiteMarkEvent);
  // Read before anything else allocates: the high-water mark of the whole job (a requested
  // profile's session, opened after the scenario, is included).
  const peakRssBytes = readOwnProcStatusBytes('VmHWM');
  if (report.coldStart) {
    report.coldStart.sessionCreationMs = Math.round(sessionCreationMs * 1000) / 1000;
    if (rssAfterSessionBytes !== undefined) report.coldStart.rssAfterSessionBytes = rssAfterSessionBytes;
    if (peakRssBytes !== undefined) report.coldStart.peakRssBytes = peakRssBytes;
  }

  roundLatenciesInPlace(run.latenciesMs);
  const summary = buildSummary({
    job,
    run,
    sessionCreationMs,
    modelFileSizeBytes,
    peakRssBytes,
    rssBeforeSessionBytes,
    rssAfterSessionBytes,
    onnxruntimeVersion,
    machine: machineFacts(),
    host: hostFacts(job.manifest.modelSha256),
    report,
  });
  for (let offset = 0; offset < run.count; offset += SAMPLES_CHUNK_MAX) {
    await send({ type: 'samples', offset, latencyMs: Array.from(run.latenciesMs.subarray(offset, offset + SAMPLES_CHUNK_MAX)) });
  }
  await send({ type: 'summary', summary });
}

serveOneJob(runJob);
