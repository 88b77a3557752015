import { credentials } from '@grpc/grpc-js';
import { PercentileStatus, ResultsClient, type ResultEvent, type Summary, type UploadAck, type UploadHeader } from '@benchfarm/protocol';

/** A gRPC client of the results service for tests. */
export function resultsClient(address: string): ResultsClient {
  return new ResultsClient(address, credentials.createInsecure());
}

/** Streams the events as one upload and resolves with the ack (rejects with the gRPC error). */
export function upload(client: ResultsClient, events: readonly ResultEvent[]): Promise<UploadAck> {
  return new Promise<UploadAck>((resolve, reject) => {
    const stream = client.upload((err, ack) => (err ? reject(err) : resolve(ack)));
    // A refused stream ends early; writes after that fail harmlessly.
    stream.on('error', () => undefined);
    for (const event of events) stream.write(event);
    stream.end();
  });
}

/** A synthetic, consistent result of `latencyMs` for a job: started, progress, sample chunks, summary. */
export function syntheticUpload(header: UploadHeader, latencyMs: number[], options: { chunk?: number; variantSha256?: string } = {}): ResultEvent[] {
  const chunk = options.chunk ?? 64;
  const sorted = [...latencyMs].sort((a, b) => a - b);
  const mean = latencyMs.reduce((a, b) => a + b, 0) / latencyMs.length;
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
  const summary: Summary = {
    count: latencyMs.length,
    meanMs: mean,
    stdMs: Math.sqrt(latencyMs.reduce((a, b) => a + (b - mean) ** 2, 0) / latencyMs.length),
    minMs: sorted[0] ?? Number.NaN,
    maxMs: sorted[sorted.length - 1] ?? Number.NaN,
    percentiles: [
      { quantile: 0.5, valueMs: at(0.5), status: PercentileStatus.PERCENTILE_STATUS_OK, minSamples: 1 },
      { quantile: 0.9, valueMs: at(0.9), status: PercentileStatus.PERCENTILE_STATUS_OK, minSamples: 64 },
      { quantile: 0.99, status: PercentileStatus.PERCENTILE_STATUS_INSUFFICIENT_SAMPLES, minSamples: 662 },
    ],
    throughputQps: 1000 / mean,
    measuredDurationMs: latencyMs.reduce((a, b) => a + b, 0),
    warmupQueries: 10,
    warmupDurationMs: 500,
    sessionCreationMs: 40,
    firstInferenceMs: 9,
    peakRssBytes: 123_000_000,
    rssBeforeSessionBytes: 50_000_000,
    modelFileSizeBytes: 578_966,
    stopReason: 'min_reached',
    manifest: {
      variantSha256: options.variantSha256 ?? '',
      onnxruntimeVersion: '1.30.0',
      executionProvider: 'cpu',
      intraOpThreads: 0,
      interOpThreads: 0,
      batch: 1,
      inputShapes: 'x:1x3x48x192',
      seed: 0,
      agentVersion: 'test',
      os: 'linux',
      osRelease: '6',
      cpuModel: 'test cpu',
      nodeVersion: process.version,
      graphOptimizationLevel: 'all',
    },
    unmeasured: [{ field: 'rss_after_session_bytes', reason: 'synthetic result' }],
  };
  const events: ResultEvent[] = [
    { header, event: { $case: 'started', value: { startedAtUnixMs: Date.now(), onnxruntimeVersion: '1.30.0', childPid: 4242 } } },
    { header, event: { $case: 'progress', value: { phase: 'measure', queriesDone: Math.floor(latencyMs.length / 2), elapsedMs: 100 } } },
  ];
  for (let offset = 0; offset < latencyMs.length; offset += chunk) {
    events.push({ header, event: { $case: 'samples', value: { offset, latencyMs: latencyMs.slice(offset, offset + chunk) } } });
  }
  events.push({ header, event: { $case: 'summary', value: summary } });
  return events;
}
