import { readFile } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { basename } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AgentView, CancelSweepRequest, SweepCancellationView, SweepField, DatasetFileProgressView, DatasetManifestRequest, DatasetRemovalView, DatasetUploadView, DatasetView, ResultView, SuiteReportsView, SweepView } from '@benchfarm/contract';

/** Thrown when the coordinator cannot be reached at all. */
export class CoordinatorUnreachableError extends Error {
  override name = 'CoordinatorUnreachableError';
  constructor(
    readonly url: string,
    options: { cause?: unknown },
  ) {
    const reason = (options.cause as { cause?: { code?: string } })?.cause?.code ?? (options.cause as Error)?.message ?? 'unknown error';
    super(`the coordinator at ${url} is unreachable (${reason}); start one with \`benchfarm up\` or pass --coordinator URL`, options);
  }
}

/** Thrown when the coordinator answered with an error status; carries its code, message and field. */
export class CoordinatorRequestError extends Error {
  override name = 'CoordinatorRequestError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(field ? `${message} (field: ${field})` : message);
  }
}

// The coordinator's answers as the REST contract defines them: the coordinator's OpenAPI
// document and its own view types are checked against the same zod schemas.
export type {
  AccuracyView,
  AgentView,
  ConfigSearchDeviceView,
  ConfigSearchView,
  DatasetUploadView,
  DatasetView,
  DeviceComparisonView,
  IntervalView,
  JobView,
  MeasuredOn,
  OutputFidelityView,
  ProgressView,
  ResultView,
  SuiteReportsView,
  SweepView,
  TaskMetricView,
} from '@benchfarm/contract';

/** One percentile of a result. */
export type PercentileView = ResultView['percentiles'][number];

/**
 * Options of a sweep as the multipart form of POST /sweeps carries them: any field of the
 * coordinator's request schema but modelPath (the model is uploaded), as text, a number or a
 * flag; the coordinator parses the text forms (see SWEEP_FIELD_DOCS of @benchfarm/contract).
 */
export type SweepOptions = { [K in Exclude<SweepField, 'modelPath'>]?: string | number | boolean | undefined };

/**
 * How long `createSweep` waits for the coordinator's answer with no byte crossing: POST /sweeps
 * answers once the model and the request are checked (the model loads in onnxruntime in a child
 * process, datasets are probed), in state `deriving`; the variants are derived after. Node's
 * fetch gives up after 300 s without response headers (undici's headersTimeout), so that request
 * goes through node:http.
 */
export const CREATE_SWEEP_IDLE_TIMEOUT_MS = 60 * 60_000;

/** A thin REST client of the coordinator. */
export class CoordinatorClient {
  /** `token`: the REST bearer token (default: BENCHFARM_TOKEN at each request). */
  constructor(
    readonly baseUrl: string,
    private readonly token?: string,
  ) {}

  /** Uploads the model and starts a sweep; `fileName` names the model (default: the file's name). */
  async createSweep(modelPath: string, options: SweepOptions, fileName = basename(modelPath)): Promise<SweepView> {
    const form = new FormData();
    const bytes = await readFile(modelPath);
    form.append('model', new Blob([bytes]), fileName);
    for (const [key, value] of Object.entries(options)) {
      if (value !== undefined) form.append(key, String(value));
    }
    return this.request<SweepView>('POST', '/sweeps', form, {}, { idleTimeoutMs: CREATE_SWEEP_IDLE_TIMEOUT_MS });
  }

  getSweep(id: string): Promise<SweepView> {
    return this.request<SweepView>('GET', `/sweeps/${encodeURIComponent(id)}`);
  }

  /**
   * Polls a sweep until its variants are derived (POST /sweeps answers in `deriving`): the
   * sweep running with its jobs, or failed. Thrown (Error) when it is still deriving after `timeoutMs`.
   */
  async waitDerived(id: string, timeoutMs = 3_600_000, pollMs = 200): Promise<SweepView> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const sweep = await this.getSweep(id);
      if (sweep.state !== 'deriving') return sweep;
      if (Date.now() > deadline) throw new Error(`sweep ${id} still deriving after ${timeoutMs} ms: ${JSON.stringify(sweep.derivation)}`);
      await sleep(pollMs);
    }
  }

  /** Cancels a sweep (POST /sweeps/:id/cancel): its derivation stops, queued jobs are removed, running jobs stop at their next lease renewal. */
  cancelSweep(id: string, body: CancelSweepRequest = {}): Promise<SweepCancellationView> {
    return this.request<SweepCancellationView>('POST', `/sweeps/${encodeURIComponent(id)}/cancel`, JSON.stringify(body), { 'content-type': 'application/json' });
  }

  listAgents(): Promise<AgentView[]> {
    return this.request<AgentView[]>('GET', '/agents');
  }

  /** What each job's scenario measured beyond its summary (GET /sweeps/:id/suite-reports). */
  suiteReports(sweepId: string): Promise<SuiteReportsView> {
    return this.request<SuiteReportsView>('GET', `/sweeps/${encodeURIComponent(sweepId)}/suite-reports`);
  }

  /** The raw latencies (ms) of a job's result. */
  async samples(sweepId: string, jobId: string): Promise<number[]> {
    return (await this.request<{ latencyMs: number[] }>('GET', `/sweeps/${encodeURIComponent(sweepId)}/jobs/${encodeURIComponent(jobId)}/samples`)).latencyMs;
  }

  async metricsText(): Promise<string> {
    const response = await this.fetch('GET', '/metrics');
    return response.text();
  }

  /** Opens (or finds again) a dataset upload. */
  createDatasetUpload(manifest: DatasetManifestRequest): Promise<DatasetUploadView> {
    return this.postJson<DatasetUploadView>('/v1/datasets/uploads', manifest);
  }

  datasetUpload(uploadId: string): Promise<DatasetUploadView> {
    return this.request<DatasetUploadView>('GET', `/v1/datasets/uploads/${encodeURIComponent(uploadId)}`);
  }

  /** Sends bytes `start..start+length-1` of a declared file of `sizeBytes`, streamed from `body`. */
  putDatasetFile(uploadId: string, sha256: string, body: ReadableStream<Uint8Array>, range: { start: number; length: number; sizeBytes: number }): Promise<DatasetFileProgressView> {
    const headers = { 'content-type': 'application/octet-stream', 'content-range': `bytes ${range.start}-${range.start + range.length - 1}/${range.sizeBytes}`, 'content-length': String(range.length) };
    return this.request('PUT', `/v1/datasets/uploads/${encodeURIComponent(uploadId)}/files/${encodeURIComponent(sha256)}`, body, headers);
  }

  completeDatasetUpload(uploadId: string): Promise<DatasetUploadView> {
    return this.request<DatasetUploadView>('POST', `/v1/datasets/uploads/${encodeURIComponent(uploadId)}/complete`);
  }

  listDatasets(): Promise<DatasetView[]> {
    return this.request<DatasetView[]>('GET', '/v1/datasets');
  }

  getDataset(idOrName: string): Promise<DatasetView> {
    return this.request<DatasetView>('GET', `/v1/datasets/${encodeURIComponent(idOrName)}`);
  }

  deleteDataset(idOrName: string): Promise<DatasetRemovalView> {
    return this.request('DELETE', `/v1/datasets/${encodeURIComponent(idOrName)}`);
  }

  /** POSTs a JSON body; the answer as JSON, or a {@link CoordinatorRequestError}. */
  async postJson<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, JSON.stringify(body), { 'content-type': 'application/json' });
  }

  private async request<T>(method: string, path: string, body?: FormData | string | ReadableStream<Uint8Array>, headers: Record<string, string> = {}, slow?: { idleTimeoutMs: number }): Promise<T> {
    const response = await this.fetch(method, path, body, headers, slow);
    const text = await response.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!response.ok) {
      const error = (json ?? {}) as { code?: string; message?: string | string[]; field?: string };
      const message = Array.isArray(error.message) ? error.message.join('; ') : (error.message ?? text.slice(0, 500));
      throw new CoordinatorRequestError(response.status, error.code ?? `http_${response.status}`, message || `HTTP ${response.status}`, error.field);
    }
    return json as T;
  }

  private async fetch(method: string, path: string, body?: FormData | string | ReadableStream<Uint8Array>, extraHeaders: Record<string, string> = {}, slow?: { idleTimeoutMs: number }): Promise<Response> {
    try {
      // A coordinator with an API token (BENCHFARM_API_TOKEN there) wants it on every request.
      const token = this.token ?? process.env.BENCHFARM_TOKEN;
      const headers = { ...extraHeaders, ...(token ? { authorization: `Bearer ${token}` } : {}) };
      if (slow && !(body instanceof ReadableStream)) return await slowRequest(new URL(path, this.baseUrl), method, body, headers, slow.idleTimeoutMs);
      // A streamed body (dataset files) needs half-duplex in Node's fetch.
      return await fetch(new URL(path, this.baseUrl), { method, body, headers, ...(body instanceof ReadableStream ? { duplex: 'half' } : {}) } as RequestInit);
    } catch (err) {
      throw new CoordinatorUnreachableError(this.baseUrl, { cause: err });
    }
  }
}

/**
 * One request through node:http(s), answered as a fetch Response: for a request whose answer may
 * take longer than fetch waits for headers. Rejected when the connection fails or stays silent
 * for `idleTimeoutMs`.
 */
async function slowRequest(url: URL, method: string, body: FormData | string | undefined, headers: Record<string, string>, idleTimeoutMs: number): Promise<Response> {
  // fetch's own encoder writes the multipart body and its boundary.
  const encoded = new Request(url, { method, ...(body === undefined ? {} : { body }) });
  const bytes = body === undefined ? undefined : Buffer.from(await encoded.arrayBuffer());
  const contentType = encoded.headers.get('content-type');
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<Response>((resolve, reject) => {
    const req = send(url, { method, headers: { ...(contentType ? { 'content-type': contentType } : {}), ...headers, ...(bytes ? { 'content-length': String(bytes.length) } : {}) } }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const status = res.statusCode ?? 502;
        const responseHeaders = new Headers();
        for (const [name, value] of Object.entries(res.headers)) if (value !== undefined) responseHeaders.set(name, Array.isArray(value) ? value.join(', ') : value);
        resolve(new Response(status === 204 || status === 304 ? null : Buffer.concat(chunks), { status, headers: responseHeaders }));
      });
    });
    req.setTimeout(idleTimeoutMs, () => req.destroy(new Error(`no answer within ${Math.round(idleTimeoutMs / 1000)} s`)));
    req.on('error', reject);
    req.end(bytes);
  });
}
