// Fakes of the SweepsService's adapters, for tests of pure planning logic (labelled as such:
// nothing here talks to NATS, onnxruntime or a disk).
import { AgentState, TensorDataType, type AgentRecord, type BenchJob } from '@benchfarm/protocol';
import { AgentRegistry } from '../../agents/agent-registry';
import { Clock } from '../../common/clock';
import { DomainError, DomainErrorCode } from '../../common/domain-error';
import { IdGenerator } from '../../common/ids';
import { passingHealthReport } from '../../testing/fake-agent';
import { ModelStore } from '../../variants/model-store';
import { ModelToolkit, type HoldoutImages, type PreparedModel, type VariantFile } from '../../variants/model-toolkit';
import { Workspace } from '../../variants/workspace';
import { JobBus } from '../job-bus';
import { DerivationRunner } from '../derivation.runner';
import { SweepsService } from '../sweeps.service';
import { ProgressTracker } from '../../results/progress-tracker';
import type { AgentsService } from '../../agents/agents.service';
import type { CoordinatorConfig } from '../../config';
import type { DatasetCatalog } from '../../datasets/dataset.types';
import type { MetricsService } from '../../metrics/metrics.service';
import type { SweepRepository } from '../../storage/sweep.repository';
import type { CalibrationSource } from '@benchfarm/onnx';

/** A clock stopped at one instant (fake). */
export class FixedClock extends Clock {
  nowMs(): number {
    return 1_700_000_000_000;
  }
}

/** Ids kind_1, kind_2, ... (fake). */
export class CountingIds extends IdGenerator {
  private n = 0;
  newId(kind: 'sweep' | 'job' | 'result'): string {
    return `${kind}_${++this.n}`;
  }
}

/** An agent registry holding a fixed list (fake). */
export class FakeRegistry extends AgentRegistry {
  constructor(private readonly agents: AgentRecord[]) {
    super();
  }
  async list(): Promise<AgentRecord[]> {
    return this.agents;
  }
}

/** A model toolkit that derives nothing: names files, records the calibration it was given (fake). */
export class FakeToolkit extends ModelToolkit {
  prepared: string[] = [];
  failVariant: string | undefined;
  variants = ['fp32', 'ort-basic'];
  /** What prepare() says the model is. */
  model: Omit<PreparedModel, 'path'> = { inputs: [{ name: 'x', dataType: TensorDataType.TENSOR_DATA_TYPE_FLOAT32, shape: [1, 3, 8, 8] }] };
  /** The calibration each deriveVariant call was given, by variant. */
  calibrations = new Map<string, CalibrationSource | undefined>();
  /** The held-out images each deriveVariant call was given, by variant. */
  holdouts = new Map<string, HoldoutImages | undefined>();
  knownVariants(): string[] {
    return this.variants;
  }
  parseVariants(names: readonly string[]): string[] {
    for (const name of names) if (!this.knownVariants().includes(name)) throw new DomainError(DomainErrorCode.UnknownVariant, `unknown variant ${name}`, { field: 'variants' });
    return [...names];
  }
  async prepare(sourcePath: string, _shapes: unknown, workDir: string): Promise<PreparedModel> {
    this.prepared.push(sourcePath);
    return { path: `${workDir}/prepared.onnx`, ...this.model };
  }
  async deriveVariant(name: string, _preparedPath: string, workDir: string, calibration?: CalibrationSource, holdout?: HoldoutImages, _signal?: AbortSignal): Promise<VariantFile> {
    this.calibrations.set(name, calibration);
    this.holdouts.set(name, holdout);
    if (name === this.failVariant) throw new DomainError(DomainErrorCode.VariantDerivationFailed, `variant ${name}: broken`, { field: 'variants' });
    return { name, path: `${workDir}/${name}.onnx`, recipe: { pass: name } };
  }
}

/** A model store that stores nothing; the digest is made from the path (fake). */
export class FakeStore extends ModelStore {
  async put(path: string): Promise<{ sha256: string; sizeBytes: number }> {
    return { sha256: Buffer.from(path).toString('hex').slice(-64).padStart(64, '0'), sizeBytes: path.length };
  }
  async fetch(sha256: string, dir: string): Promise<string> {
    return `${dir}/${sha256}.onnx`;
  }
}

/** A job bus that keeps published jobs and fails after `failAfter` (fake). */
export class FlakyBus extends JobBus {
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

/** A workspace of made-up paths that tracks which are live (fake). */
export class FakeWorkspace extends Workspace {
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

/** A registered, idle, healthy agent record (fake). */
export const agent = (agentId: string): AgentRecord => ({
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


/**
 * A sweeps service wired to its derivation step, whose `create` waits for that step and answers
 * with the sweep as it then stands (running, or failed): the tests of planning and publishing
 * read the jobs at once, as they could before POST /sweeps answered in `deriving`.
 */
export function derivingService(deps: SweepServiceDeps): { service: SweepsService; runner: DerivationRunner; create: SweepsService['create']; get: SweepsService['get'] } {
  const runner = new DerivationRunner(deps.sweeps, deps.toolkit, deps.models, deps.bus, deps.workspace, deps.metrics, deps.clock, deps.ids, deps.catalog);
  const service = new SweepsService(deps.sweeps, deps.agents, deps.toolkit, deps.models, runner, deps.workspace, deps.progress ?? new ProgressTracker(), deps.metrics, deps.clock, deps.ids, deps.config, deps.catalog);
  return {
    service,
    runner,
    create: async (upload, body) => {
      const view = await service.create(upload, body);
      await runner.idle();
      return service.get(view.id);
    },
    get: (id) => service.get(id),
  };
}

/** What {@link derivingService} wires together. */
export interface SweepServiceDeps {
  readonly sweeps: SweepRepository;
  readonly agents: AgentsService;
  readonly toolkit: ModelToolkit;
  readonly models: ModelStore;
  readonly bus: JobBus;
  readonly workspace: Workspace;
  readonly progress?: ProgressTracker;
  readonly metrics: MetricsService;
  readonly clock: Clock;
  readonly ids: IdGenerator;
  readonly config: CoordinatorConfig;
  readonly catalog?: DatasetCatalog;
}
