import { join } from 'node:path';
import { Inject, Injectable, Logger, Optional, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { Clock } from '../common/clock';
import { DomainError, DomainErrorCode, errorMessage } from '../common/domain-error';
import { IdGenerator } from '../common/ids';
import { DatasetCatalog } from '../datasets/dataset.types';
import { MetricsService } from '../metrics/metrics.service';
import { SweepRepository } from '../storage/sweep.repository';
import { ModelStore } from '../variants/model-store';
import { ModelToolkit } from '../variants/model-toolkit';
import { Workspace } from '../variants/workspace';
import { JobBus } from './job-bus';
import { evenlySpaced, CALIBRATION_IMAGES_MAX, type DatasetPart } from './sweep-datasets';
import { planSweep, type SweepPlan } from './sweep-planner';
import type { AgentRecord, EvaluationRequest } from '@benchfarm/protocol';
import type { CalibrationSource } from '@benchfarm/onnx';
import type { SweepDatasetsSummary, VariantRecord } from '../storage/records';
import type { HoldoutImages } from '../variants/model-toolkit';
import type { SweepRequest } from './sweep-request';

/** Job publishes in flight at once (each waits for its stream ack and ledger write). */
export const PUBLISH_PIPELINE_DEPTH = 128;

/**
 * Held-out images int8-auto loads at most: each is one input tensor in its memory (2 MB at
 * 416x416) beside its fp32 reference outputs, as for calibration; more are cut evenly spaced.
 */
const HOLDOUT_IMAGES_MAX = CALIBRATION_IMAGES_MAX;

/** How often a running derivation looks whether its sweep was cancelled (its child is killed then). */
export const CANCEL_POLL_MS = 500;

/**
 * What a sweep's derivation step needs, stored with the sweep (sweeps.derivation_json) when
 * POST /sweeps accepted it, so that any coordinator that leads later can finish it: the model
 * is fetched back from the object store by digest and prepared again, dataset images are
 * fetched from the catalog again.
 */
export interface DerivationSpec {
  readonly request: SweepRequest;
  readonly modelName: string;
  readonly original: { readonly sha256: string; readonly sizeBytes: number };
  readonly agents: readonly AgentRecord[];
  readonly evaluation?: EvaluationRequest;
  readonly datasets?: SweepDatasetsSummary;
  /** Recipe entries every variant gets (the datasets it was made and scored with). */
  readonly datasetRecipe: Record<string, string>;
  /** Calibration: images of a dataset (fetched by the step), or a source given as such (a folder on the coordinator, random inputs). */
  readonly calibration?: { readonly kind: 'dataset'; readonly part: DatasetPart } | { readonly kind: 'source'; readonly source: CalibrationSource };
  /** int8-auto's held-out images: the evaluation dataset's. */
  readonly holdout?: DatasetPart;
  /** Variants that read calibration data / held-out images (the others never fetch them). */
  readonly needsCalibration: readonly string[];
  readonly needsHoldout: readonly string[];
}

/** Why a running derivation was stopped. */
type StopReason = 'cancelled' | 'shutdown';

/**
 * The derivation step of sweeps: derives each variant of a sweep in `deriving`, one
 * at a time, through the isolated derivation (a child process per variant), records each
 * variant's progress, then plans the jobs, writes them with the sweep's move to `running` in one
 * transaction and publishes them. A variant that cannot be derived fails the sweep with its
 * error (no job is written). A cancelled sweep's derivation child is killed and nothing is
 * written after. At start-up (a coordinator runs only while it leads) every sweep left in
 * `deriving` is resumed: variants already done stay done.
 */
@Injectable()
export class DerivationRunner implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('DerivationRunner');
  private queue: Promise<void> = Promise.resolve();
  private readonly queued = new Set<string>();
  private stopping = false;
  private current: { sweepId: string; controller: AbortController } | undefined;

  constructor(
    @Inject(SweepRepository) private readonly sweeps: SweepRepository,
    @Inject(ModelToolkit) private readonly toolkit: ModelToolkit,
    @Inject(ModelStore) private readonly models: ModelStore,
    @Inject(JobBus) private readonly bus: JobBus,
    @Inject(Workspace) private readonly workspace: Workspace,
    @Inject(MetricsService) private readonly metrics: MetricsService,
    @Inject(Clock) private readonly clock: Clock,
    @Inject(IdGenerator) private readonly ids: IdGenerator,
    @Optional() @Inject(DatasetCatalog) private readonly catalog?: DatasetCatalog,
    @Optional() @Inject('DERIVATION_CANCEL_POLL_MS') private readonly cancelPollMs: number = CANCEL_POLL_MS,
  ) {}

  /** Resumes every sweep left in `deriving` (a restart, or this coordinator took the lead). */
  async onApplicationBootstrap(): Promise<void> {
    await this.resume();
  }

  /** Stops the derivation in progress without failing it: the next coordinator resumes it. */
  async onApplicationShutdown(): Promise<void> {
    this.stopping = true;
    this.current?.controller.abort('shutdown' satisfies StopReason);
    await this.queue;
  }

  /** Queues every sweep in `deriving`; resolves once they are queued, not derived. */
  async resume(): Promise<void> {
    for (const id of await this.sweeps.derivingSweepIds()) this.enqueue(id);
  }

  /** Queues one sweep's derivation (a no-op when it is queued already). */
  enqueue(sweepId: string): void {
    if (this.stopping || this.queued.has(sweepId)) return;
    this.queued.add(sweepId);
    this.queue = this.queue
      .then(() => this.derive(sweepId))
      .catch((err: unknown) => this.log.error(`sweep ${sweepId}: derivation step failed: ${errorMessage(err)}`))
      .finally(() => this.queued.delete(sweepId));
  }

  /** Resolves once every queued derivation has ended (tests, shutdown). */
  async idle(): Promise<void> {
    let seen: Promise<void> | undefined;
    while (seen !== this.queue) {
      seen = this.queue;
      await seen;
    }
  }

  private async derive(sweepId: string): Promise<void> {
    if (this.stopping) return;
    const record = await this.sweeps.get(sweepId);
    if (record?.state !== 'deriving') return;
    const spec = (await this.sweeps.derivationSpec(sweepId)) as DerivationSpec | undefined;
    if (!spec) {
      await this.sweeps.failDerivation(sweepId, 'the sweep has no derivation spec', this.clock.nowMs());
      return;
    }
    const controller = new AbortController();
    this.current = { sweepId, controller };
    const watch = setInterval(() => {
      this.sweeps.derivingSweepIds().then(
        (ids) => {
          if (!ids.includes(sweepId)) controller.abort('cancelled' satisfies StopReason);
        },
        (err: unknown) => this.log.warn(`sweep ${sweepId}: cannot check for a cancel: ${errorMessage(err)}`),
      );
    }, this.cancelPollMs);
    const workDir = await this.workspace.createWorkDir();
    try {
      const pending = (record.derivation ?? []).filter((d) => d.state !== 'done').map((d) => d.name);
      if (pending.length > 0) await this.derivePending(sweepId, spec, pending, workDir, controller.signal);
      if (controller.signal.aborted) return;
      await this.finish(sweepId, spec);
    } catch (err) {
      if (controller.signal.aborted) {
        this.log.log(`sweep ${sweepId}: derivation stopped (${String(controller.signal.reason)})`);
        return;
      }
      const reason = errorMessage(err);
      this.log.warn(`sweep ${sweepId}: ${reason}`);
      await this.sweeps.failDerivation(sweepId, reason, this.clock.nowMs());
    } finally {
      clearInterval(watch);
      this.current = undefined;
      await this.workspace.remove(workDir).catch((err: unknown) => this.log.warn(`could not remove scratch ${workDir}: ${errorMessage(err)}`));
    }
  }

  private async derivePending(sweepId: string, spec: DerivationSpec, pending: readonly string[], workDir: string, signal: AbortSignal): Promise<void> {
    const source = await this.models.fetch(spec.original.sha256, join(workDir, 'source'));
    const prepared = await this.toolkit.prepare(source, spec.request.shapes, workDir);
    const calibration = pending.some((n) => spec.needsCalibration.includes(n)) ? await this.calibrationOf(spec, workDir) : undefined;
    const holdout = spec.holdout && pending.some((n) => spec.needsHoldout.includes(n)) ? await this.holdoutOf(spec.holdout, workDir) : undefined;
    for (const name of pending) {
      if (signal.aborted) return;
      await this.sweeps.recordVariantDerivation(sweepId, name, { state: 'deriving' }, this.clock.nowMs());
      let variant: VariantRecord;
      try {
        const file = await this.toolkit.deriveVariant(name, prepared.path, workDir, calibration, spec.needsHoldout.includes(name) ? holdout : undefined, signal);
        const { sha256, sizeBytes } = await this.models.put(file.path, `${spec.modelName} ${file.name}`);
        variant = { name: file.name, sha256, sizeBytes, recipe: { ...file.recipe, ...spec.datasetRecipe } };
      } catch (err) {
        // A shutdown leaves the variant to be derived again on resume; a cancel ends it with the sweep.
        const stopped = signal.aborted ? (signal.reason as StopReason) : undefined;
        if (stopped !== 'shutdown') await this.sweeps.recordVariantDerivation(sweepId, name, { state: 'failed', error: stopped === 'cancelled' ? 'stopped: the sweep was cancelled' : errorMessage(err) }, this.clock.nowMs());
        throw err;
      }
      await this.sweeps.recordVariantDerivation(sweepId, name, { state: 'done', variant }, this.clock.nowMs());
    }
  }

  /** Plans the jobs from the stored variants, writes them with the move to `running`, publishes them. */
  private async finish(sweepId: string, spec: DerivationSpec): Promise<void> {
    const record = await this.sweeps.get(sweepId);
    if (record?.state !== 'deriving') return;
    const variants = (record.derivation ?? []).flatMap((d) => (d.variant ? [d.variant] : []));
    const plan = planSweep({
      sweepId,
      name: record.name,
      nowMs: record.createdAtMs,
      model: record.model,
      inputs: record.inputs,
      request: spec.request,
      agents: spec.agents,
      variants,
      newJobId: () => this.ids.newId('job'),
      ...(spec.evaluation ? { evaluation: spec.evaluation } : {}),
      ...(spec.datasets ? { datasets: spec.datasets } : {}),
    });
    if (!(await this.sweeps.finishDerivation(plan.sweep, this.clock.nowMs()))) return;
    for (const variant of variants) this.metrics.recordVariantSize(spec.modelName, variant.name, variant.sizeBytes);
    this.log.log(`sweep ${sweepId} derived: ${variants.length} variant(s) x ${spec.agents.length} agent(s) = ${plan.jobs.length} job(s)`);
    await this.publish(plan);
  }

  private async calibrationOf(spec: DerivationSpec, workDir: string): Promise<CalibrationSource | undefined> {
    const calibration = spec.calibration;
    if (!calibration) return undefined;
    if (calibration.kind === 'source') return calibration.source;
    const files = await this.requireCatalog(calibration.part.field).materialize(calibration.part.images, join(workDir, 'calibration'));
    return { kind: 'images', files, preprocess: calibration.part.preprocess };
  }

  /** Fetches the evaluation images (at most {@link HOLDOUT_IMAGES_MAX}, evenly spaced) for int8-auto's held-out check. */
  private async holdoutOf(part: DatasetPart, workDir: string): Promise<HoldoutImages> {
    const files = await this.requireCatalog(part.field).materialize(evenlySpaced(part.images, HOLDOUT_IMAGES_MAX), join(workDir, 'holdout'));
    return { source: { kind: 'images', files, preprocess: part.preprocess }, field: part.field };
  }

  private requireCatalog(field: string): DatasetCatalog {
    if (!this.catalog) throw new DomainError(DomainErrorCode.InvalidArgument, 'this coordinator keeps no datasets (no dataset catalog is configured)', { field });
    return this.catalog;
  }

  /**
   * Publishes every job, {@link PUBLISH_PIPELINE_DEPTH} at a time: each publish waits for the
   * stream's ack and for its ledger row, so one after the other a 4,000-job sweep took ~40 s of
   * round trips with the coordinator's thread half idle. Publishes start in plan order on one
   * connection, so each agent's queue keeps the plan's order. On a failure no new publish
   * starts, those in flight finish, and the sweep is marked failed with the jobs not published.
   */
  private async publish(plan: SweepPlan): Promise<void> {
    const { jobs } = plan;
    const published = new Array<boolean>(jobs.length).fill(false);
    let next = 0;
    let failure: { error: unknown } | undefined;
    const lane = async (): Promise<void> => {
      while (failure === undefined && next < jobs.length) {
        const index = next;
        next += 1;
        const job = jobs[index];
        if (!job) break;
        try {
          await this.bus.publish(job);
          published[index] = true;
        } catch (err) {
          failure ??= { error: err };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(PUBLISH_PIPELINE_DEPTH, jobs.length) }, lane));
    if (failure === undefined) return;
    const count = published.filter(Boolean).length;
    const reason = `publishing jobs failed after ${count} of ${jobs.length}: ${errorMessage(failure.error)}`;
    this.log.error(`sweep ${plan.sweep.id}: ${reason}`);
    const unpublished = jobs.filter((_, i) => !published[i]).map((j) => j.jobId);
    await this.sweeps.markFailed(plan.sweep.id, reason, unpublished, this.clock.nowMs());
  }
}
