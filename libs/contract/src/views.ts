import { z } from 'zod';
import type { ConfigSearchResult, ScenarioOptions, SuiteReport } from '@benchfarm/protocol';
import { COMPARE_MODES, SCENARIO_NAMES } from './scenario-request';
import { SEARCH_STRATEGIES } from './config-search-request';

/**
 * The coordinator's REST answers as zod schemas. The OpenAPI document's component schemas are
 * generated from {@link REST_COMPONENTS} (the coordinator's openapi/schemas.ts), the CLI's view
 * types are `z.infer` of them, and the contract int-spec validates real answers with them.
 * Objects are strict: a field the server starts sending without adding it here fails that
 * test. Figures that could not be measured are absent (optional), never 0.
 */

/**
 * A message of the wire contract (proto/) as the REST answer embeds it (camelCase JSON): typed
 * by its generated interface, documented as an open object, checked only for being an object.
 */
const protoMessage = <T extends object>(description: string) =>
  z.custom<T>((value) => typeof value === 'object' && value !== null && !Array.isArray(value), { error: 'must be an object' }).meta({ type: 'object', additionalProperties: true, description });

/**
 * A name the server types as a string (it comes from a wire enum or the suite) but that takes
 * only these values today: documented as an enum, typed and checked as a string so that a new
 * value on the wire does not make a valid answer invalid.
 */
const documentedEnum = (values: readonly string[]) => z.string().meta({ enum: [...values] });

const dateTime = (description?: string) => z.string().meta({ format: 'date-time', ...(description === undefined ? {} : { description }) });
const unmeasured = z.array(z.strictObject({ field: z.string(), reason: z.string() }));
const configAxis = z.strictObject({ name: z.string().meta({ example: 'intra_op_threads' }), values: z.array(z.string()).meta({ example: ['1', '2'] }) });
const configSkip = z.strictObject({
  axis: z.string().meta({ description: 'The axis of a skipped value; empty for a point.' }),
  value: z.string().meta({ description: "The value, or the point's config id." }),
  reason: z.string(),
  label: z.string().meta({ description: "A point's settings in words; empty for a value." }),
});

/** States of a sweep. */
export const SWEEP_STATES = ['deriving', 'running', 'completed', 'failed'] as const;
/** States of one variant in a sweep's derivation step. */
export const VARIANT_DERIVATION_STATES = ['pending', 'deriving', 'done', 'failed'] as const;
/** States of a job. */
export const JOB_STATES = ['queued', 'running', 'done', 'failed'] as const;

/** The body of every error answer. The coordinator's document narrows `code` to its closed set. */
export const errorBodySchema = z
  .strictObject({
    statusCode: z.number().int().meta({ example: 400 }),
    code: z.string().meta({ description: 'Machine-readable error code.', example: 'unknown_variant' }),
    message: z.string(),
    field: z.string().meta({ description: 'The request field at fault, when there is one.', example: 'variants' }).optional(),
  });

export const settingsSchema = z
  .strictObject({
    scenario: z.enum(SCENARIO_NAMES),
    scenarioOptions: protoMessage<ScenarioOptions>('The scenario options every job carries (ScenarioOptions of the wire contract; 0 or empty: the suite default). Absent in sweeps stored before scenarios.').optional(),
    compare: z.enum(COMPARE_MODES).optional(),
    comparisonJobs: z
      .array(z.strictObject({ jobId: z.string(), agentId: z.string(), variants: z.array(z.string()) }))
      .meta({ description: 'The interleaved comparison jobs among the jobs, one per device.' })
      .optional(),
    datasets: z
      .strictObject({
        calibration: z.strictObject({ datasetId: z.string(), datasetName: z.string(), images: z.number().int() }).optional(),
        evaluation: z
          .strictObject({
            datasetId: z.string(),
            datasetName: z.string(),
            images: z.number().int(),
            datasetImages: z.number().int(),
            task: z.string(),
            detectionLayout: z.string().optional(),
            labelled: z.boolean(),
          })
          .optional(),
        split: z.string().meta({ description: 'How the images were chosen, in words.' }),
      })
      .meta({ description: 'Where calibration and evaluation images came from; absent without a dataset.' })
      .optional(),
    externalRuntime: z
      .strictObject({ tool: z.string(), precision: z.string(), device: z.string().optional() })
      .meta({ description: 'The external tool every job runs instead of onnxruntime-node; absent: onnxruntime-node.' })
      .optional(),
    configSearch: z
      .strictObject({
        axes: z.array(configAxis),
        strategy: z.enum(SEARCH_STRATEGIES),
        objective: z.enum(['p50_latency', 'throughput']),
        budgetMinutes: z.number(),
        budgetMs: z.number().int(),
        pointWarmupMs: z.number().int(),
        pointDurationMs: z.number().int(),
        pointMinQueries: z.number().int(),
        confirmRounds: z.number().int(),
        latencyBoundMs: z.number().optional(),
        devices: z.array(
          z.strictObject({
            agentId: z.string(),
            agentName: z.string(),
            jobId: z.string().meta({ description: 'Absent when no point of the space can run on this device (see skipped, notes).' }).optional(),
            axes: z.array(configAxis),
            skipped: z.array(configSkip),
            notes: z.array(z.string()),
            points: z.number().int().meta({ description: 'Points of the space on this device, per variant.' }),
            measurements: z.number().int().meta({ description: 'Points measured at most over all variants (quick: its worst case).' }),
            estimatedMs: z.number().int().meta({ description: 'The estimate the budget was checked against; 0 without a job.' }),
          }),
        ),
      })
      .meta({
        description:
          'The runtime-settings search as planned (absent without dimensions): the axes as requested, the strategy and budget, and per device the narrowed axes, the skipped values with why, its job (absent: no point can run there) and the estimate.',
      })
      .optional(),
    executionProvider: z.string().meta({ example: 'cpu' }),
    intraOpThreads: z.number().int(),
    interOpThreads: z.number().int(),
    batch: z.number().int(),
    warmupMinQueries: z.number().int(),
    warmupMinDurationMs: z.number().int(),
    minQueries: z.number().int(),
    minDurationMs: z.number().int(),
    maxDurationMs: z.number().int(),
    seed: z.number().int(),
  })
  .meta({ description: 'How every job of the sweep measures: the request as applied, defaults included.' });

export const resultViewSchema = z
  .strictObject({
    id: z.string(),
    count: z.number().int(),
    meanMs: z.number(),
    stdMs: z.number(),
    minMs: z.number(),
    maxMs: z.number(),
    percentiles: z.array(
      z.strictObject({
        quantile: z.number().meta({ example: 0.99 }),
        valueMs: z.number().meta({ description: 'Absent unless status is ok.' }).optional(),
        status: z.enum(['ok', 'insufficient_samples', 'unspecified']),
        minSamples: z.number().int().meta({ description: 'Samples this percentile needs.' }),
      }),
    ),
    throughputQps: z.number(),
    measuredDurationMs: z.number(),
    warmupQueries: z.number().int(),
    warmupDurationMs: z.number(),
    sessionCreationMs: z.number(),
    firstInferenceMs: z.number(),
    peakRssBytes: z.number().int().optional(),
    rssBeforeSessionBytes: z.number().int().optional(),
    rssAfterSessionBytes: z.number().int().optional(),
    modelFileSizeBytes: z.number().int(),
    stopReason: z.string().meta({ example: 'min_reached' }),
    manifest: z.record(z.string(), z.unknown()).meta({ description: 'Reproducibility facts (Manifest of the wire contract).' }),
    unmeasured,
    device: z.string().meta({ description: "The agent's name." }),
    provider: z.string().meta({ example: 'cpu' }),
    attempt: z.number().int(),
    committedAt: dateTime(),
    power: z
      .strictObject({
        sensor: z.string(),
        domain: z.string().meta({ example: 'module' }),
        averagePowerWatts: z.number().optional(),
        idlePowerWatts: z.number().optional(),
        energyJoules: z.number().optional(),
        energyPerInferenceJoules: z.number().optional(),
        energyPerInferenceAboveIdleJoules: z.number().optional(),
      })
      .meta({ description: 'Power of the measured window; absent when the device has no power sensor (see unmeasured). A figure not measured is absent, never 0.' })
      .optional(),
    throttled: z.boolean().meta({ description: 'Present when the result has thermal data.' }).optional(),
    externalRuntime: z
      .record(z.string(), z.unknown())
      .meta({ description: 'The external tool that produced the figures (runtime, version, precision, device, command); absent for onnxruntime-node.' })
      .optional(),
  })
  .meta({ description: 'A stored result. A value that could not be measured is absent and listed in unmeasured.' });

export const progressViewSchema = z
  .strictObject({
    phase: z.string(),
    queriesDone: z.number().int(),
    elapsedMs: z.number().int(),
    point: z.string().meta({ description: 'The configuration being measured, in words.', example: 'fp32 cpu t2 basic' }).optional(),
    pointsDone: z.number().int().optional(),
    pointsTotal: z.number().int().optional(),
    queriesPerSecond: z.number().meta({ description: 'Of the current window; 0 when not measuring.' }).optional(),
  })
  .meta({ description: 'The latest progress of a running job; a configuration search adds the point being measured, points done / total and the current rate.' });

export const jobViewSchema = z
  .strictObject({
    id: z.string(),
    variant: z.string(),
    agentId: z.string(),
    state: z.enum(JOB_STATES),
    attempts: z.number().int(),
    error: z.string().meta({ description: "The last attempt's error." }).optional(),
    progress: progressViewSchema.optional(),
    result: resultViewSchema.optional(),
  });

export const configSearchViewSchema = z
  .strictObject({
    strategy: documentedEnum(SEARCH_STRATEGIES),
    objective: documentedEnum(['p50_latency', 'throughput']),
    budgetMs: z.number().int(),
    latencyBoundMs: z.number().optional(),
    axes: z.array(configAxis).meta({ description: 'As requested, before narrowing per device.' }),
    devices: z.array(
      z.strictObject({
        agentId: z.string(),
        agentName: z.string(),
        jobId: z.string().meta({ description: 'Empty for a device without a search job (state skipped).' }),
        state: z.enum([...JOB_STATES, 'skipped']),
        skipped: z.array(configSkip),
        notes: z.array(z.string()),
        estimatedMs: z.number().int(),
        result: protoMessage<ConfigSearchResult>(
          'ConfigSearchResult of the wire contract (camelCase): strategy, objective, spacePoints, pointsMeasured, budgetMs, spentMs, budgetExhausted, configs, points, best, skipped, latencyBoundMs.',
        ).optional(),
      }),
    ),
  })
  .meta({
    description:
      "The sweep's runtime-settings search (absent without dimensions): the request and, per device, its job and once stored its result (SuiteReport.configSearch of the wire contract: every point measured or skipped, each variant's best confirmed against onnxruntime's defaults with a ratio and CI).",
  });

export const intervalSchema = z
  .strictObject({ low: z.number(), high: z.number(), level: z.number().meta({ example: 0.95 }), resamples: z.number().int().optional() })
  .meta({ description: 'A 95% confidence interval: bootstrap over images (accuracy, fidelity) or over rounds (latency ratio).' });

const MEASURED_ON = ['real_images', 'random_inputs'] as const;

export const accuracyViewSchema = z
  .strictObject({
    measuredOn: z.enum(MEASURED_ON),
    inputs: z.string().meta({ example: 'real images: dataset coco-val (9 of 13, every 3rd held out)' }),
    images: z.number().int().meta({ description: 'Images evaluated; 0 for random inputs.' }),
    dataset: z.strictObject({ id: z.string(), name: z.string() }).optional(),
    task: documentedEnum(['detection', 'classification', 'fidelity']).optional(),
    metrics: z.array(
      z.strictObject({
        metric: documentedEnum(['map50_agreement', 'map50', 'map50_95', 'top1_agreement', 'top1', 'top5']),
        value: z.number().meta({ description: 'Absent when not computed (see reason).' }).optional(),
        ci: intervalSchema.optional(),
        images: z.number().int().meta({ description: 'Images behind the value (labelled images for against=labels).' }),
        against: documentedEnum(['reference', 'labels']),
        reason: z.string().optional(),
      }),
    ),
    fidelity: z
      .array(
        z.strictObject({
          output: z.string(),
          cosine: z.number(),
          cosineCi: intervalSchema.optional(),
          snrDb: z.number().optional(),
          snrDbCi: intervalSchema.optional(),
          maxAbsError: z.number(),
          images: z.number().int(),
          measuredOn: z.enum(MEASURED_ON),
          inputs: z.string(),
        }),
      )
      .meta({ description: 'Per output against the reference on the same inputs; empty for the reference.' }),
    error: z.string().meta({ description: 'This variant could not be evaluated on the device; figures absent.' }).optional(),
  })
  .meta({
    description:
      "A variant's accuracy on one device. measuredOn real_images: task metrics and fidelity on the sweep's evaluation images, run with the device's provider after its latency rounds. random_inputs: fidelity on generated inputs only, which is not accuracy (metrics empty). A figure not computed is absent with a reason, never 0.",
  });

export const deviceComparisonViewSchema = z
  .strictObject({
    jobId: z.string(),
    agentId: z.string(),
    device: z.string().meta({ description: "The agent's name (result.device of the variant jobs)." }),
    state: z.enum(JOB_STATES),
    provider: z.string().optional(),
    referenceVariant: z.string().optional(),
    rounds: z.number().int().optional(),
    order: documentedEnum(['interleaved', 'sequential']).optional(),
    evaluation: z
      .strictObject({
        datasetId: z.string(),
        datasetName: z.string(),
        task: z.string(),
        images: z.number().int(),
        labelledImages: z.number().int(),
        inputs: z.string(),
        split: z.string(),
        detectionLayout: z.string().meta({ example: 'yolox' }).optional(),
        durationMs: z.number(),
        peakRssBytes: z.number().int().optional(),
      })
      .meta({ description: 'The evaluation phase on real images, when the sweep has an evaluation dataset.' })
      .optional(),
    variants: z.array(
      z.strictObject({
        variant: z.string(),
        reference: z.boolean(),
        medianMs: z.number(),
        ratioToReference: z.number().meta({ description: 'Median over rounds of (variant round median / reference round median); 1 for the reference.' }),
        ratioCi: intervalSchema.optional(),
        accuracy: accuracyViewSchema.optional(),
      }),
    ),
    unmeasured: unmeasured.meta({ description: 'e.g. accuracy: no evaluation dataset in this sweep.' }),
  });

export const sweepViewSchema = z
  .strictObject({
    id: z.string(),
    name: z.string(),
    state: z.enum(SWEEP_STATES).meta({
      description:
        'deriving while its variants are derived (no job yet; see derivation), then running; completed when every job is done or failed; failed when all failed, a variant could not be derived, the sweep was cancelled, or the jobs could not be published.',
    }),
    createdAt: dateTime(),
    error: z.string().optional(),
    model: z.strictObject({ name: z.string(), sha256: z.string(), sizeBytes: z.number().int() }),
    inputs: z.array(z.strictObject({ name: z.string(), dataType: z.string().meta({ example: 'float32' }), shape: z.array(z.number().int()) })),
    settings: settingsSchema,
    targets: z.array(z.string()),
    variants: z.array(z.strictObject({ name: z.string(), sha256: z.string(), sizeBytes: z.number().int(), recipe: z.record(z.string(), z.string()) })),
    derivation: z
      .array(
        z.strictObject({
          variant: z.string(),
          state: z.enum(VARIANT_DERIVATION_STATES),
          error: z.string().optional(),
          startedAt: dateTime().optional(),
          finishedAt: dateTime().optional(),
          durationMs: z.number().int().optional().meta({ description: 'From start to end of its derivation, once ended.' }),
        }),
      )
      .optional()
      .meta({ description: "Each variant's progress in the derivation step, in order (bring-your-own variants are done at once). Absent for sweeps made before the step existed." }),
    agents: z.array(z.string()).meta({ description: 'Ids of the agents matched.' }),
    jobs: z.array(jobViewSchema),
    comparisons: z
      .array(deviceComparisonViewSchema)
      .meta({
        description:
          'Per device: the interleaved comparison job (every variant in one process) and what it measured: ratios to the reference with CIs, and accuracy. Empty without comparison jobs (compare: none).',
      }),
    configSearch: configSearchViewSchema.optional(),
    etaMs: z
      .number()
      .int()
      .meta({
        description:
          'Estimated time left, ms: per agent the sum over its unfinished jobs (a configuration search: its estimate times the share of points not done once reported, at least one variant confirmation while it runs; other jobs: warm-up + min duration, less what the running phase has spent), the largest over agents. Absent when the sweep is not running.',
      })
      .optional(),
  });

export const sweepListItemSchema = z
  .strictObject({ id: z.string(), name: z.string(), state: z.enum(SWEEP_STATES), createdAt: dateTime() });

export const samplesSchema = z
  .strictObject({ latencyMs: z.array(z.number()).meta({ description: 'Raw per-query latencies in ms, in the order measured.' }) });

export const agentViewSchema = z
  .strictObject({
    agentId: z.string(),
    name: z.string(),
    state: documentedEnum(['unspecified', 'idle', 'busy', 'checking', 'unhealthy', 'draining', 'offline']).meta({ description: 'checking: running its health check (a reference model), pulls no job; unhealthy: its check failed (retried with backoff) or does not verify here.' }),
    labels: z.record(z.string(), z.string()),
    capabilities: z
      .strictObject({
        arch: z.string(),
        os: z.string(),
        osRelease: z.string(),
        cpuModel: z.string(),
        cpuCores: z.number().int(),
        memoryBytes: z.number().int(),
        executionProviders: z.array(z.string()),
        sensors: z.array(z.string()),
        onnxruntimeVersion: z.string(),
        hostname: z.string(),
        externalRuntimes: z.array(z.strictObject({ tool: z.string(), version: z.string(), path: z.string() })).meta({ description: 'External tools found on the agent PATH.' }),
      })
      .nullable(),
    agentVersion: z.string(),
    currentJobId: z.string().optional(),
    startedAt: dateTime(),
    heartbeatAt: dateTime(),
    stale: z.boolean().meta({ description: 'The last heartbeat is older than the stale limit (15 s by default).' }),
    health: z
      .strictObject({
        status: z.enum(['verified', 'checking', 'failed', 'mismatch', 'not_reported']).meta({ description: 'Only verified agents take jobs. not_reported: the agent sends no health check (it predates them).' }),
        reason: z.string().meta({ description: 'Why the agent is not verified, e.g. "health check does not verify: outputs differ from the reference by 5.00e-1 (...)".' }).optional(),
        passed: z.boolean().meta({ description: "The agent's own verdict of its last finished check." }).optional(),
        referenceModelId: z.string().optional(),
        referenceModelSha256: z.string().optional(),
        ranAt: dateTime().optional(),
        durationMs: z.number().meta({ description: 'Whole check: process start, session creation, inference.' }).optional(),
        inferenceMs: z.number().optional(),
        attempt: z.number().int().meta({ description: '1 for the first check after joining or after a failure.' }).optional(),
        trigger: z.string().meta({ description: '"joined" or "after-failure: <why>".' }).optional(),
        error: z.string().optional(),
        nextAttemptAt: dateTime('When a failed check is retried (5 s doubling to 5 min).').optional(),
      })
      .meta({
        description:
          "The agent's last health check (a reference model run in a fresh onnxruntime process after joining and after a device-level failure), verified by the coordinator, which recomputes the expected outputs. Only verified agents get jobs.",
      }),
  });

export const datasetSchema = z
  .strictObject({
    id: z.string(),
    name: z.string(),
    createdAt: dateTime(),
    imageCount: z.number().int(),
    totalBytes: z.number().int().meta({ description: 'Images and labels.' }),
    preprocess: z.union([z.string(), z.record(z.string(), z.unknown())]).optional(),
    labels: z
      .strictObject({
        sha256: z.string(),
        sizeBytes: z.number().int(),
        labelledImages: z.number().int(),
        annotations: z.number().int(),
        categories: z.array(z.strictObject({ id: z.number().int(), name: z.string() })),
      })
      .optional(),
    images: z
      .array(z.strictObject({ name: z.string(), sha256: z.string(), sizeBytes: z.number().int(), width: z.number().int(), height: z.number().int() }))
      .meta({ description: 'Only on GET /v1/datasets/{idOrName}; sorted by name.' })
      .optional(),
  });

export const datasetUploadSchema = z
  .strictObject({
    uploadId: z.string().meta({ description: 'Absent when the dataset existed already.', example: 'upload_3f1c...' }).optional(),
    datasetId: z.string().meta({ description: 'SHA-256 of the manifest (images, labels digest, preprocess): the id the dataset has or will have.' }),
    name: z.string(),
    state: z.enum(['open', 'complete']),
    expiresAt: dateTime('An open upload without activity until then is dropped with its bytes (BENCHFARM_DATASET_UPLOAD_TTL_MS).').optional(),
    files: z.number().int().meta({ description: 'Distinct files (by digest), images and labels.' }),
    reusedFiles: z.number().int().meta({ description: 'Files another dataset had stored already: not sent again.' }),
    missing: z.array(
      z.strictObject({
        sha256: z.string(),
        sizeBytes: z.number().int(),
        receivedBytes: z.number().int().meta({ description: 'Resume from this byte.' }),
        name: z.string().meta({ description: 'Image name, or "labels".' }),
      }),
    ),
    dataset: datasetSchema.optional(),
    reused: z.boolean().meta({ description: 'The dataset existed already with this content (under its own name).' }).optional(),
  });

export const datasetFileProgressSchema = z
  .strictObject({ sha256: z.string(), sizeBytes: z.number().int(), receivedBytes: z.number().int(), complete: z.boolean().meta({ description: 'Every byte arrived and the file was verified.' }) });

export const datasetRemovalSchema = z
  .strictObject({
    id: z.string(),
    name: z.string(),
    deletedObjects: z.number().int(),
    keptObjects: z.number().int().meta({ description: 'Still used by another dataset, an open upload or a sweep.' }),
    failedObjects: z.number().int().meta({ description: 'Could not be deleted (object store unavailable); the record is gone either way.' }),
  });

export const suiteReportsSchema = z.strictObject({
  sweepId: z.string(),
  comparisonJobs: z
    .array(z.strictObject({ jobId: z.string(), agentId: z.string(), variants: z.array(z.string()) }))
    .meta({ description: 'The interleaved comparison jobs of the sweep (one per device), whether done yet or not.' }),
  reports: z.array(
    z.strictObject({
      jobId: z.string(),
      resultId: z.string(),
      variant: z.string(),
      agentId: z.string(),
      agentName: z.string(),
      scenario: z.string(),
      report: protoMessage<SuiteReport>('SuiteReport of the wire contract (camelCase): what the scenario measured beyond the summary (bootstrap CIs, stability, offline levels, server runs, cold start, comparison, profile, configuration search).'),
    }),
  ),
});

/** POST /sweeps/{id}/cancel: what was cancelled. */
export const sweepCancellationSchema = z.strictObject({
  cancelledJobs: z.number().int().meta({ description: 'Jobs not yet finished that are now cancelled (0 for a sweep still deriving: it has no job yet).' }),
  deletedMessages: z.number().int().meta({ description: 'Queued job messages removed from the job stream; a running job stops at its next lease renewal.' }),
});

export const healthSchema = z.strictObject({
  status: z.enum(['ok', 'degraded']),
  nats: z.enum(['connected', 'reconnecting', 'closed']),
  database: z.enum(['ok', 'failed']),
});

export const enrollmentCodeSchema = z.strictObject({
  agentId: z.string(),
  code: z.string().meta({ description: 'One-time code (256 random bits, base64url); shown only here, stored only as its SHA-256.' }),
  expiresAt: dateTime(),
  expiresAtUnixMs: z.number().int(),
});

export const enrollmentSchema = z.strictObject({
  agentId: z.string(),
  natsUserJwt: z.string().meta({ description: "NATS user JWT restricted to the agent's own consumer, inbox prefix _INBOX_<agentId> and registry key." }),
  natsUrl: z.string().meta({ description: 'NATS URL(s) to dial (BENCHFARM_PUBLIC_NATS_URL).' }),
  grpcAddress: z.string().meta({ description: 'gRPC host:port to dial (BENCHFARM_PUBLIC_GRPC_ADDRESS).' }),
  natsJsDomain: z.string().meta({ description: "The hub's JetStream domain (BENCHFARM_PUBLIC_NATS_JS_DOMAIN), when agents may join through leaf nodes; absent otherwise." }).optional(),
  tls: z.strictObject({ certificatePem: z.string(), caCertificatePem: z.string() }).optional(),
});

/** A sweep as GET /sweeps/{id} answers it. */
export type SweepView = z.infer<typeof sweepViewSchema>;
/** One line of GET /sweeps. */
export type SweepListItem = z.infer<typeof sweepListItemSchema>;
/** How every job of a sweep measures. */
export type SweepSettingsView = z.infer<typeof settingsSchema>;
/** A job of a sweep. */
export type JobView = z.infer<typeof jobViewSchema>;
/** A running job's latest progress. */
export type ProgressView = z.infer<typeof progressViewSchema>;
/** A stored result. */
export type ResultView = z.infer<typeof resultViewSchema>;
/** A sweep's runtime-settings search. */
export type ConfigSearchView = z.infer<typeof configSearchViewSchema>;
/** One device's configuration search. */
export type ConfigSearchDeviceView = ConfigSearchView['devices'][number];
/** A 95% confidence interval. */
export type IntervalView = z.infer<typeof intervalSchema>;
/** A variant's accuracy on one device. */
export type AccuracyView = z.infer<typeof accuracyViewSchema>;
/** What an accuracy figure was measured on. */
export type MeasuredOn = AccuracyView['measuredOn'];
/** One task metric. */
export type TaskMetricView = AccuracyView['metrics'][number];
/** One output's fidelity against the reference. */
export type OutputFidelityView = AccuracyView['fidelity'][number];
/** A device's interleaved comparison job. */
export type DeviceComparisonView = z.infer<typeof deviceComparisonViewSchema>;
/** An agent of the registry. */
export type AgentView = z.infer<typeof agentViewSchema>;
/** A stored dataset. */
export type DatasetView = z.infer<typeof datasetSchema>;
/** Where a dataset upload stands. */
export type DatasetUploadView = z.infer<typeof datasetUploadSchema>;
/** What a PUT of dataset file bytes left behind. */
export type DatasetFileProgressView = z.infer<typeof datasetFileProgressSchema>;
/** What removing a dataset did. */
export type DatasetRemovalView = z.infer<typeof datasetRemovalSchema>;
/** GET /sweeps/{id}/suite-reports. */
export type SuiteReportsView = z.infer<typeof suiteReportsSchema>;
/** GET /healthz. */
export type HealthView = z.infer<typeof healthSchema>;
/** POST /v1/enrollments. */
export type EnrollmentCodeView = z.infer<typeof enrollmentCodeSchema>;
/** POST /v1/enroll. */
export type EnrollmentView = z.infer<typeof enrollmentSchema>;
/** POST /sweeps/{id}/cancel. */
export type SweepCancellationView = z.infer<typeof sweepCancellationSchema>;
/** The body of an error answer. */
export type ErrorBody = z.infer<typeof errorBodySchema>;

/** The answers the OpenAPI document names as components, by component name. */
export const REST_COMPONENTS = {
  Error: errorBodySchema,
  Settings: settingsSchema,
  ResultView: resultViewSchema,
  JobView: jobViewSchema,
  SweepView: sweepViewSchema,
  ConfigSearchView: configSearchViewSchema,
  Interval: intervalSchema,
  AccuracyView: accuracyViewSchema,
  DeviceComparisonView: deviceComparisonViewSchema,
  SweepListItem: sweepListItemSchema,
  Samples: samplesSchema,
  AgentView: agentViewSchema,
  Dataset: datasetSchema,
  DatasetUpload: datasetUploadSchema,
  DatasetFileProgress: datasetFileProgressSchema,
  DatasetRemoval: datasetRemovalSchema,
  SuiteReports: suiteReportsSchema,
  Health: healthSchema,
  EnrollmentCode: enrollmentCodeSchema,
  Enrollment: enrollmentSchema,
  SweepCancellation: sweepCancellationSchema,
} as const;
/** The name of one of {@link REST_COMPONENTS}. */
export type RestComponentName = keyof typeof REST_COMPONENTS;

const registry = z.registry<{ id: string }>();
for (const [id, schema] of Object.entries(REST_COMPONENTS)) registry.add(schema, { id });

/** The OpenAPI (3.0) schema of every component, by name; references between them are `#/components/schemas/<name>`. */
export function restComponentSchemas(): Record<RestComponentName, Record<string, unknown>> {
  const { schemas } = z.toJSONSchema(registry, { target: 'openapi-3.0', io: 'output', unrepresentable: 'any', uri: (id) => `#/components/schemas/${id}` }) as { schemas: Record<string, Record<string, unknown>> };
  return Object.fromEntries(Object.entries(schemas).map(([name, schema]) => [name, tidy(schema) as Record<string, unknown>])) as Record<RestComponentName, Record<string, unknown>>;
}

/** Drops what the document does not need: each component's `$id`, and the safe-integer bounds zod puts on every integer. */
function tidy(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(tidy);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    if (key === '$id') continue;
    if (key === 'minimum' && v === Number.MIN_SAFE_INTEGER) continue;
    if (key === 'maximum' && v === Number.MAX_SAFE_INTEGER) continue;
    out[key] = tidy(v);
  }
  return out;
}
