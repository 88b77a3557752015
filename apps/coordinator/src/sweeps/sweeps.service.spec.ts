import { Logger } from '@nestjs/common';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AgentState, TensorDataType, type AgentRecord, type BenchJob } from '@benchfarm/protocol';
import { AgentRegistry } from '../agents/agent-registry';
import { AgentsService } from '../agents/agents.service';
import { Clock } from '../common/clock';
import { DomainError, DomainErrorCode } from '../common/domain-error';
import { IdGenerator } from '../common/ids';
import { loadConfig } from '../config';
import { ProgressTracker } from '../results/progress-tracker';
import { openDatabase, type SqliteDatabase } from '../storage/database';
import { SqliteSweepRepository } from '../storage/sweep.repository';
import { SqliteResultRepository } from '../storage/result.repository';
import { MetricsService } from '../metrics/metrics.service';
import { SqliteSeriesHistoryRepository } from '../metrics/series-history.repository';
import { createFarmMetrics } from '@benchfarm/metrics';
import { Registry } from 'prom-client';
import { ModelStore } from '../variants/model-store';
import { ModelToolkit, type PreparedModel, type VariantFile } from '../variants/model-toolkit';
import { Workspace } from '../variants/workspace';
import { JobBus } from './job-bus';
import { SweepsService, type ModelUpload } from './sweeps.service';
import { passingHealthReport } from '../testing/fake-agent';

class FixedClock extends Clock {
  nowMs(): number {
    return 1_700_000_000_000;
  }
}

class CountingIds extends IdGenerator {
  private n = 0;
  newId(kind: 'sweep' | 'job' | 'result'): string {
    return `${kind}_${++this.n}`;
  }
}

class FakeRegistry extends AgentRegistry {
  constructor(private readonly agents: AgentRecord[]) {
    super();
  }
  async list(): Promise<AgentRecord[]> {
    return this.agents;
  }
}

class FakeToolkit extends ModelToolkit {
  prepared: string[] = [];
  failVariant: string | undefined;
  knownVariants(): string[] {
    return ['fp32', 'ort-basic'];
  }
  parseVariants(names: readonly string[]): string[] {
    for (const name of names) if (!this.knownVariants().includes(name)) throw new DomainError(DomainErrorCode.UnknownVariant, `unknown variant ${name}`, { field: 'variants' });
    return [...names];
  }
  async prepare(sourcePath: string, _shapes: unknown, workDir: string): Promise<PreparedModel> {
    this.prepared.push(sourcePath);
    return { path: `${workDir}/prepared.onnx`, inputs: [{ name: 'x', dataType: TensorDataType.TENSOR_DATA_TYPE_FLOAT32, shape: [1, 3, 8, 8] }] };
  }
  async deriveVariant(name: string, _preparedPath: string, workDir: string): Promise<VariantFile> {
    if (name === this.failVariant) throw new DomainError(DomainErrorCode.VariantDerivationFailed, `variant ${name}: broken`, { field: 'variants' });
    return { name, path: `${workDir}/${name}.onnx`, recipe: { pass: name } };
  }
}

class FakeStore extends ModelStore {
  async put(path: string): Promise<{ sha256: string; sizeBytes: number }> {
    return { sha256: Buffer.from(path).toString('hex').slice(-64).padStart(64, '0'), sizeBytes: path.length };
  }
}

class FlakyBus extends JobBus {
  published: BenchJob[] = [];
  constructor(private readonly failAfter = Infinity) {
    super();
  }
  async publish(job: BenchJob): Promise<{ duplicate: boolean }> {
    if (this.published.length >= this.failAfter) throw new DomainError(DomainErrorCode.MessagingUnavailable, 'nats is down');
    this.published.push(job);
    return { duplicate: false };
  }
}

class FakeWorkspace extends Workspace {
  readonly uploadDir = '/scratch/uploads';
  live = new Set<string>();
  private n = 0;
  async reset(): Promise<void> {
    this.live.clear();
  }
  async createWorkDir(): Promise<string> {
    const dir = `/scratch/work/${++this.n}`;
    this.live.add(dir);
    return dir;
  }
  async remove(path: string): Promise<void> {
    this.live.delete(path);
  }
  async regularFileSize(path: string): Promise<number | undefined> {
    return path.endsWith('.onnx') ? 1000 : undefined;
  }
}

const agent = (agentId: string): AgentRecord => ({
  agentId,
  name: agentId,
  agentVersion: '1',
  labels: {},
  capabilities: undefined,
  state: AgentState.AGENT_STATE_IDLE,
  currentJobId: '',
  startedAtUnixMs: 0,
  heartbeatAtUnixMs: new FixedClock().nowMs(),
  health: passingHealthReport(new FixedClock().nowMs()),
});

describe('SweepsService (fake adapters, real SQLite)', () => {
  let db: SqliteDatabase;
  let toolkit: FakeToolkit;
  let workspace: FakeWorkspace;
  let bus: FlakyBus;
  let metrics: MetricsService;
  const upload: ModelUpload = { kind: 'upload', path: '/scratch/uploads/abc', originalName: 'my model.onnx', sizeBytes: 1000 };

  const service = (b: JobBus = bus): SweepsService => {
    const config = loadConfig({}, {});
    const clock = new FixedClock();
    const agents = new AgentsService(new FakeRegistry([agent('a1'), agent('a2')]), clock, config);
    const sweeps = new SqliteSweepRepository(db);
    metrics = new MetricsService(createFarmMetrics(new Registry()), sweeps, new SqliteResultRepository(db), agents, new SqliteSeriesHistoryRepository(db), clock);
    return new SweepsService(sweeps, agents, toolkit, new FakeStore(), b, workspace, new ProgressTracker(), metrics, clock, new CountingIds(), config);
  };
  const count = (table: string): number => (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;

  // The service logs the publish failure it is made to hit; keep the test output clean.
  beforeAll(() => Logger.overrideLogger(false));
  beforeEach(() => {
    db = openDatabase(':memory:');
    toolkit = new FakeToolkit();
    workspace = new FakeWorkspace();
    workspace.live.add(upload.kind === 'upload' ? upload.path : '');
    bus = new FlakyBus();
  });
  afterEach(() => db.close());

  it('plans variant x agent jobs, publishes them in order and cleans the scratch files', async () => {
    const view = await service().create(upload, { variants: 'fp32,ort-basic', compare: 'none' });
    expect(view).toMatchObject({ id: 'sweep_1', name: 'my_model', state: 'running', agents: ['a1', 'a2'] });
    expect(view.jobs.map((j) => `${j.variant}@${j.agentId}`)).toEqual(['fp32@a1', 'fp32@a2', 'ort-basic@a1', 'ort-basic@a2']);
    expect(bus.published.map((j) => j.jobId)).toEqual(view.jobs.map((j) => j.id));
    expect(bus.published[0]).toMatchObject({ sweepId: 'sweep_1', createdAtUnixMs: 1_700_000_000_000, variant: { modelName: 'my_model', variant: 'fp32' } });
    expect(workspace.live.size).toBe(0);
    expect((await metrics.render()).text).toContain('benchfarm_model_size_bytes{model="my_model",variant="ort-basic"}');
  });

  it('keeps a sweep whose jobs could not all be published, failed with the reason', async () => {
    const view = await service(new FlakyBus(1)).create(upload, { compare: 'none' });
    expect(view.state).toBe('failed');
    expect(view.error).toMatch(/publishing jobs failed after 1 of 4: nats is down/);
    expect(view.jobs.map((j) => j.state)).toEqual(['queued', 'failed', 'failed', 'failed']);
    expect(workspace.live.size).toBe(0);
  });

  it.each<[string, () => void, unknown, string]>([
    ['a bad field, before the model is read', () => undefined, { minQueries: 0 }, DomainErrorCode.InvalidArgument],
    ['an unknown variant', () => undefined, { variants: 'fp64' }, DomainErrorCode.UnknownVariant],
    ['a variant that cannot be derived', () => (toolkit.failVariant = 'ort-basic'), {}, DomainErrorCode.VariantDerivationFailed],
    ['no matching agent', () => undefined, { targets: 'label:x=y' }, DomainErrorCode.NoMatchingAgent],
  ])('writes nothing and removes every scratch file on %s', async (_name, arrange, body, code) => {
    arrange();
    await expect(service().create(upload, body)).rejects.toMatchObject({ code });
    expect([count('sweeps'), count('variants'), count('jobs')]).toEqual([0, 0, 0]);
    expect(bus.published).toEqual([]);
    expect(workspace.live.size).toBe(0);
    if (code === DomainErrorCode.InvalidArgument) expect(toolkit.prepared).toEqual([]);
  });

  it('takes a model path on the coordinator (JSON) but not both a file and a path', async () => {
    const view = await service().create({ kind: 'none' }, { modelPath: '/models/det.onnx', variants: ['fp32'], targets: ['a2'] });
    expect(view).toMatchObject({ name: 'det', agents: ['a2'] });
    expect(toolkit.prepared).toEqual(['/models/det.onnx']);
    await expect(service().create(upload, { modelPath: '/models/det.onnx' })).rejects.toMatchObject({ code: DomainErrorCode.InvalidArgument, field: 'modelPath' });
    await expect(service().create({ kind: 'none' }, { modelPath: '/models/notes.txt' })).rejects.toMatchObject({ field: 'modelPath' });
  });
});
