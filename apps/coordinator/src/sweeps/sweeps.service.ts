import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { listImages } from '@benchfarm/onnx';
import { AgentsService } from '../agents/agents.service';
import { parseTargets, requireExternalRuntime } from '../agents/agent-matcher';
import { Clock } from '../common/clock';
import { DomainError, DomainErrorCode, errorMessage } from '../common/domain-error';
import { IdGenerator } from '../common/ids';
import { COORDINATOR_CONFIG } from '../common/tokens';
import { DatasetCatalog } from '../datasets/dataset.types';
import { MetricsService } from '../metrics/metrics.service';
import { ProgressTracker } from '../results/progress-tracker';
import { SweepRepository } from '../storage/sweep.repository';
import { ModelStore } from '../variants/model-store';
import { ModelToolkit } from '../variants/model-toolkit';
import { Workspace } from '../variants/workspace';
import { requireInputFile, type InputFileRule } from '../variants/input-file';
import { assertBatchSizesFit } from './batch-check';
import {
  assertImagesFitModel,
  assertLabelsFit,
  assertNoSharedImages,
  datasetRecipe,
  evaluationRequestOf,
  evaluationTargetOf,
  resolveSweepDatasets,
  type DatasetPart,
  type EvaluationTarget,
  type SweepDatasets,
} from './sweep-datasets';
import { DerivationRunner, type DerivationSpec } from './derivation.runner';
import { DEFAULT_EXECUTION_PROVIDER, modelNameOf, planConfigSearch, plannedJobCount, settingsOf } from './sweep-planner';
import { assertInputElements, assertJobCount, assertSearchBudget, assertVariantCount } from './work-limits';
import { parseSweepRequest, usesCalibration, type SweepRequest } from './sweep-request';
import { toSweepListView, toSweepView, type SweepListView, type SweepView } from './sweep.view';
import { CONFIG_ENV_VARS, type CoordinatorConfig } from '../config';
import type { SweepDatasetsSummary, VariantRecord } from '../storage/records';
import type { PreparedModel } from '../variants/model-toolkit';
import type { CalibrationSource } from '@benchfarm/onnx';
import type { EvaluationRequest } from '@benchfarm/protocol';

/**
 * Calibration for int8-static and int8-auto: a folder of images on the coordinator's machine with its
 * preprocessing, or seeded random inputs when the request asks for them (labelled RANDOM in
 * the recipe). The coordinator never picks calibration data on its own.
 */
function calibrationOf(request: SweepRequest): CalibrationSource | undefined {
  const preprocess = request.calibrationPreprocess ?? request.preprocess;
  if (request.calibrationDir !== undefined && preprocess !== undefined) return { kind: 'images', dir: request.calibrationDir, preprocess };
  if (request.calibrationRandom !== undefined) return { kind: 'random', count: request.calibrationRandom, seed: request.seed, min: 0, max: 1 };
  return undefined;
}

/** {@link calibrationOf} as the derivation spec stores it. */
function calibrationSourceOf(request: SweepRequest): { kind: 'source'; source: CalibrationSource } | undefined {
  const source = calibrationOf(request);
  return source ? { kind: 'source', source } : undefined;
}

/** Variants whose derivation reads calibration images (the others never fetch them). */
const needsCalibration = usesCalibration;

/** Variants that check their choice on held-out images (int8-auto: the sweep's evaluation images). */
const needsHoldout = (variant: string): boolean => variant.split(':')[0] === 'int8-auto';

/** What a sweep's datasets became once checked against the prepared model. */
interface PlannedDatasets {
  readonly datasets: SweepDatasets;
  readonly target?: EvaluationTarget;
  readonly evaluation?: EvaluationRequest;
  readonly summary: SweepDatasetsSummary;
}

/** Where a sweep's model comes from: an uploaded file (multipart), or none (JSON `modelPath`). */
export type ModelUpload = { kind: 'upload'; path: string; originalName: string; sizeBytes: number } | { kind: 'none' };

/** Checks, stores and shows sweeps; their derivation step is the {@link DerivationRunner}'s. */
@Injectable()
export class SweepsService {
  private readonly log = new Logger('SweepsService');

  constructor(
    @Inject(SweepRepository) private readonly sweeps: SweepRepository,
    @Inject(AgentsService) private readonly agents: AgentsService,
    @Inject(ModelToolkit) private readonly toolkit: ModelToolkit,
    @Inject(ModelStore) private readonly models: ModelStore,
    @Inject(DerivationRunner) private readonly derivation: DerivationRunner,
    @Inject(Workspace) private readonly workspace: Workspace,
    @Inject(ProgressTracker) private readonly progress: ProgressTracker,
    @Inject(MetricsService) private readonly metrics: MetricsService,
    @Inject(Clock) private readonly clock: Clock,
    @Inject(IdGenerator) private readonly ids: IdGenerator,
    @Inject(COORDINATOR_CONFIG) private readonly config: CoordinatorConfig,
    // Optional: a coordinator without the datasets module refuses sweeps that name a dataset.
    @Optional() @Inject(DatasetCatalog) private readonly catalog?: DatasetCatalog,
  ) {}

  /**
   * Creates a sweep: validates every option, checks the model (ONNX, fixable dimensions,
   * loads in onnxruntime), the datasets and the bring-your-own variants, matches agents,
   * stores the model and those variants, writes the sweep in state `deriving` and hands it to
   * the {@link DerivationRunner} (which derives the variants, then writes and publishes the
   * jobs); answers at once with the sweep. Nothing is written to the database when any check
   * fails; scratch files are always removed. Thrown: {@link DomainError} (see the codes in
   * `domain-error.ts`).
   */
  async create(upload: ModelUpload, body: unknown): Promise<SweepView> {
    const scratch: string[] = upload.kind === 'upload' ? [upload.path] : [];
    try {
      const request = parseSweepRequest(body);
      const variants = this.toolkit.parseVariants(request.variants);
      const ownVariants = Object.keys(request.ownVariants ?? {}).length;
      // Work size is bounded before any model work; the prepared inputs are checked again below.
      assertVariantCount(variants.length, ownVariants, this.config);
      if (request.shapes) assertInputElements(Object.entries(request.shapes).map(([name, shape]) => ({ name, shape })), this.config, () => 'shapes');
      // Datasets resolve before any model work: an unknown name fails fast.
      const datasets = await resolveSweepDatasets(request, this.catalog);
      const selectors = parseTargets(request.targets);
      const source = await this.resolveSource(upload, request);
      await this.checkNamedFiles(request);
      await assertBatchSizesFit(request.batchSizes, source.path);
      const workDir = await this.workspace.createWorkDir();
      scratch.push(workDir);

      // The model's errors name the field it came from: the upload (model) or a path on this machine (modelPath).
      const modelField = upload.kind === 'upload' ? 'model' : 'modelPath';
      const prepared = await this.toolkit.prepare(source.path, request.shapes, workDir).catch((err: unknown) => {
        throw err instanceof DomainError && err.field === 'model' ? new DomainError(err.code, err.message, { field: modelField, cause: err }) : err;
      });
      assertInputElements(prepared.inputs, this.config, (name) => (request.shapes && Object.hasOwn(request.shapes, name) ? 'shapes' : modelField), request.batchSizes);
      const agents = requireExternalRuntime(await this.agents.resolveTargets(selectors, DEFAULT_EXECUTION_PROVIDER), selectors, request.runtime?.tool);
      const planned = datasets ? await this.checkDatasets(datasets, request, prepared, workDir) : undefined;
      const variantCount = variants.length + ownVariants;
      // The search is planned per device now, so an over-budget grid is refused before any derivation or queueing.
      const searchPlans = request.configSearch ? planConfigSearch(request.configSearch, agents, variantCount) : [];
      if (request.configSearch) assertSearchBudget(request.configSearch.strategy, request.configSearch.budgetMinutes, variantCount, searchPlans);
      const searchJobs = searchPlans.filter((p) => p.hasJob).length;
      const jobs = plannedJobCount(request, variantCount, agents.length, planned?.evaluation !== undefined, searchJobs);
      const comparisonJobs = jobs - variantCount * agents.length - searchJobs;
      assertJobCount(jobs, `${variantCount} variant(s) x ${agents.length} agent(s)${comparisonJobs > 0 ? ' + one comparison job per agent' : ''}${searchJobs > 0 ? ` + ${searchJobs} configuration-search job(s)` : ''}`, this.config);
      const derived = variants.map((name) => ({ name }));
      const own: Array<{ name: string; stored: VariantRecord }> = [];
      const recipe = planned ? datasetRecipe(planned.datasets, planned.target) : {};
      const ownFiles = [];
      for (const [name, path] of Object.entries(request.ownVariants ?? {})) {
        if (variants.includes(name)) throw new DomainError(DomainErrorCode.InvalidArgument, `own variant ${name} has the name of a derived variant`, { field: 'ownVariants' });
        ownFiles.push(await this.toolkit.registerOwnVariant(name, path, prepared, workDir));
      }

      const original = await this.models.put(source.path, `${source.name} (as given)`);
      for (const file of ownFiles) {
        const { sha256, sizeBytes } = await this.models.put(file.path, `${source.name} ${file.name}`);
        own.push({ name: file.name, stored: { name: file.name, sha256, sizeBytes, recipe: { ...file.recipe, ...recipe } } });
      }
      const calibration = datasets?.calibration && variants.some(needsCalibration) ? ({ kind: 'dataset', part: datasets.calibration } as const) : calibrationSourceOf(request);
      // Unusable calibration data is bad input: refused now, not found by the derivation step (a dataset's was probed above).
      if (variants.some(needsCalibration) && calibration?.kind !== 'dataset') await this.toolkit.checkCalibration(prepared.path, calibration?.source);
      const spec: DerivationSpec = {
        request,
        modelName: source.name,
        original,
        agents,
        ...(planned?.evaluation ? { evaluation: planned.evaluation } : {}),
        ...(planned ? { datasets: planned.summary } : {}),
        datasetRecipe: recipe,
        ...(calibration ? { calibration } : {}),
        // int8-auto checks its layer set on the evaluation images, the ones the agents score every variant on.
        ...(datasets?.evaluation && variants.some(needsHoldout) ? { holdout: datasets.evaluation } : {}),
        needsCalibration: variants.filter(needsCalibration),
        needsHoldout: variants.filter(needsHoldout),
      };
      const settings = settingsOf(request, prepared.inputs);
      if (planned) settings.datasets = planned.summary;
      const sweepId = this.ids.newId('sweep');
      await this.sweeps.createDeriving({
        id: sweepId,
        name: request.name ?? source.name,
        createdAtMs: this.clock.nowMs(),
        model: { name: source.name, sha256: original.sha256, sizeBytes: original.sizeBytes },
        inputs: prepared.inputs,
        settings,
        targets: [...request.targets],
        agentIds: agents.map((a) => a.agentId),
        spec,
        variants: [...derived, ...own],
      });
      this.log.log(`sweep ${sweepId} created, deriving: ${variants.length} variant(s) to derive, ${own.length} brought, ${agents.length} agent(s)`);
      this.derivation.enqueue(sweepId);
      return await this.get(sweepId);
    } finally {
      for (const path of scratch) {
        await this.workspace.remove(path).catch((err: unknown) => this.log.warn(`could not remove scratch ${path}: ${errorMessage(err)}`));
      }
    }
  }

  /** A sweep's view; thrown ({@link DomainError} `sweep_not_found`) for an unknown id. */
  async get(id: string): Promise<SweepView> {
    const sweep = await this.sweeps.get(id);
    if (!sweep) throw new DomainError(DomainErrorCode.SweepNotFound, `no sweep with id ${id}`, { field: 'id' });
    return toSweepView(sweep, (jobId) => this.progress.get(jobId));
  }

  /** Every sweep, newest first. */
  async list(): Promise<SweepListView[]> {
    return (await this.sweeps.list()).map(toSweepListView);
  }

  private async resolveSource(upload: ModelUpload, request: SweepRequest): Promise<{ path: string; name: string }> {
    if (upload.kind === 'upload') {
      if (request.modelPath !== undefined) throw new DomainError(DomainErrorCode.InvalidArgument, 'give either a model file or modelPath, not both', { field: 'modelPath' });
      if (upload.sizeBytes === 0) throw new DomainError(DomainErrorCode.InvalidModel, 'not an ONNX model: the uploaded file is empty', { field: 'model' });
      return { path: upload.path, name: modelNameOf(upload.originalName) };
    }
    if (request.modelPath === undefined) {
      throw new DomainError(DomainErrorCode.InvalidArgument, 'no model: upload the ONNX file as multipart field "model", or send JSON { "modelPath": "/path/on/the/coordinator.onnx" }', { field: 'model' });
    }
    await requireInputFile(this.workspace, request.modelPath, this.modelFileRule('modelPath'));
    return { path: request.modelPath, name: modelNameOf(request.modelPath) };
  }

  private modelFileRule(field: string): InputFileRule {
    return { field, maxBytes: this.config.maxModelBytes, limitName: CONFIG_ENV_VARS.maxModelBytes, tooLarge: DomainErrorCode.ModelTooLarge };
  }

  /**
   * The files a request names besides the model get the model's check before any work folder
   * exists: a FIFO given as an own variant or put among the calibration images held the request
   * (and its work folder) forever.
   */
  private async checkNamedFiles(request: SweepRequest): Promise<void> {
    for (const path of Object.values(request.ownVariants ?? {})) await requireInputFile(this.workspace, path, this.modelFileRule('ownVariants'));
    if (request.calibrationDir === undefined) return;
    let images: string[];
    try {
      images = await listImages(request.calibrationDir, 'calibrationDir');
    } catch {
      return; // an unusable folder is refused by int8-static's derivation, naming calibrationDir
    }
    const rule: InputFileRule = { field: 'calibrationDir', maxBytes: this.config.maxDatasetImageBytes, limitName: CONFIG_ENV_VARS.maxDatasetImageBytes, tooLarge: DomainErrorCode.DatasetTooLarge };
    for (const image of images) await requireInputFile(this.workspace, image, rule);
  }

  /**
   * Checks a sweep's datasets against the prepared model, before any variant is derived:
   * the first image of each dataset decodes and becomes the model input, calibration
   * images from `calibrationDir` are not evaluation images, the task fits the outputs and
   * the labels' categories fit the classes. Returns the EvaluationRequest of the
   * all-variants jobs. Thrown ({@link DomainError} `invalid_argument`) naming the field.
   */
  private async checkDatasets(datasets: SweepDatasets, request: SweepRequest, prepared: PreparedModel, workDir: string): Promise<PlannedDatasets> {
    const probe = async (part: DatasetPart, folder: string): Promise<[number, number]> => {
      const first = part.images[0];
      if (!first) throw new DomainError(DomainErrorCode.InvalidArgument, `${part.field} ${part.dataset.name}: no images`, { field: part.field });
      const [path] = await this.requireCatalog(part.field).materialize([first], join(workDir, folder));
      return assertImagesFitModel(part, prepared.inputs, path ?? '');
    };
    const { calibration, evaluation } = datasets;
    let inputHw: [number, number] | undefined;
    if (evaluation) inputHw = await probe(evaluation, 'probe-evaluation');
    if (calibration && calibration.dataset.id !== evaluation?.dataset.id) inputHw ??= await probe(calibration, 'probe-calibration');
    if (evaluation && request.calibrationDir !== undefined) await this.assertCalibrationDirApart(request.calibrationDir, evaluation);
    const summary: SweepDatasetsSummary = {
      ...(calibration ? { calibration: { datasetId: calibration.dataset.id, datasetName: calibration.dataset.name, images: calibration.images.length } } : {}),
      split: datasets.split,
    };
    if (!evaluation || !inputHw) return { datasets, summary };
    const target = evaluationTargetOf(prepared.outputs ?? [], inputHw, request.task);
    assertLabelsFit(evaluation, target);
    const evaluationRequest = evaluationRequestOf(evaluation, target, datasets.split, request.seed);
    summary.evaluation = {
      datasetId: evaluation.dataset.id,
      datasetName: evaluation.dataset.name,
      images: evaluation.images.length,
      datasetImages: evaluation.dataset.images.length,
      task: target.task,
      ...(target.detectionLayout ? { detectionLayout: target.detectionLayout } : {}),
      labelled: evaluationRequest.labelsSha256 !== '',
    };
    return { datasets, target, evaluation: evaluationRequest, summary };
  }

  /** A calibration folder on the coordinator must not hold an evaluation image either (by digest). */
  private async assertCalibrationDirApart(dir: string, evaluation: DatasetPart): Promise<void> {
    let files: string[];
    try {
      files = await listImages(dir, 'calibrationDir');
    } catch {
      return; // an unusable folder is refused by int8-static's derivation, naming calibrationDir
    }
    const digests: { name: string; sha256: string }[] = [];
    for (const file of files) digests.push({ name: file, sha256: createHash('sha256').update(await readFile(file)).digest('hex') });
    assertNoSharedImages(digests, evaluation.images, `calibrationDir ${dir}`);
  }

  private requireCatalog(field: string): DatasetCatalog {
    if (!this.catalog) throw new DomainError(DomainErrorCode.InvalidArgument, 'this coordinator keeps no datasets (no dataset catalog is configured)', { field });
    return this.catalog;
  }
}
