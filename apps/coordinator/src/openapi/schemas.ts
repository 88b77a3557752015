import { DomainErrorCode } from '../common/domain-error';
import { HTTP_EDGE_CODES } from '../common/http-error.filter';
import { COMPARE_MODES, SCENARIO_NAMES } from '../sweeps/scenario-request';
import { createSweepSchemas, type Schema } from './request-schemas';

export type { Schema } from './request-schemas';

/** A reference to one of {@link OPENAPI_SCHEMAS}. */
export function ref(name: keyof typeof OPENAPI_SCHEMAS): Schema {
  return { $ref: `#/components/schemas/${name}` };
}

const percentile: Schema = {
  type: 'object',
  required: ['quantile', 'status', 'minSamples'],
  properties: {
    quantile: { type: 'number', example: 0.99 },
    valueMs: { type: 'number', description: 'Absent unless status is ok.' },
    status: { type: 'string', enum: ['ok', 'insufficient_samples', 'unspecified'] },
    minSamples: { type: 'integer', description: 'Samples this percentile needs.' },
  },
};

const configAxis: Schema = { type: 'object', properties: { name: { type: 'string', example: 'intra_op_threads' }, values: { type: 'array', items: { type: 'string' }, example: ['1', '2'] } } };
const configSkip: Schema = {
  type: 'object',
  properties: {
    axis: { type: 'string', description: 'The axis of a skipped value; empty for a point.' },
    value: { type: 'string', description: "The value, or the point's config id." },
    reason: { type: 'string' },
    label: { type: 'string', description: "A point's settings in words; empty for a value." },
  },
};

/** Schemas of the REST API, placed in `components.schemas` of the document. */
export const OPENAPI_SCHEMAS = {
  Error: {
    type: 'object',
    required: ['statusCode', 'code', 'message'],
    properties: {
      statusCode: { type: 'integer', example: 400 },
      code: {
        type: 'string',
        description: 'Machine-readable error code.',
        example: 'unknown_variant',
        // Every code a service raises, then those of the HTTP edge itself (routing, parsing, token, 405/415).
        enum: [...Object.values(DomainErrorCode), ...HTTP_EDGE_CODES],
      },
      message: { type: 'string' },
      field: { type: 'string', description: 'The request field at fault, when there is one.', example: 'variants' },
    },
  },
  // Generated from the schema POST /sweeps parses with (request-schemas.ts).
  ...createSweepSchemas(),
  Settings: {
    type: 'object',
    description: 'How every job of the sweep measures: the request as applied, defaults included.',
    properties: {
      scenario: { type: 'string', enum: [...SCENARIO_NAMES] },
      scenarioOptions: {
        type: 'object',
        description: 'The scenario options every job carries (ScenarioOptions of the wire contract; 0 or empty: the suite default). Absent in sweeps stored before scenarios.',
        additionalProperties: true,
      },
      compare: { type: 'string', enum: [...COMPARE_MODES] },
      comparisonJobs: {
        type: 'array',
        description: 'The interleaved comparison jobs among the jobs, one per device.',
        items: { type: 'object', properties: { jobId: { type: 'string' }, agentId: { type: 'string' }, variants: { type: 'array', items: { type: 'string' } } } },
      },
      datasets: {
        type: 'object',
        description: 'Where calibration and evaluation images came from; absent without a dataset.',
        properties: {
          calibration: { type: 'object', properties: { datasetId: { type: 'string' }, datasetName: { type: 'string' }, images: { type: 'integer' } } },
          evaluation: {
            type: 'object',
            properties: {
              datasetId: { type: 'string' },
              datasetName: { type: 'string' },
              images: { type: 'integer' },
              datasetImages: { type: 'integer' },
              task: { type: 'string' },
              detectionLayout: { type: 'string' },
              labelled: { type: 'boolean' },
            },
          },
          split: { type: 'string', description: 'How the images were chosen, in words.' },
        },
      },
      externalRuntime: { type: 'object', description: 'The external tool every job runs instead of onnxruntime-node; absent: onnxruntime-node.', properties: { tool: { type: 'string' }, precision: { type: 'string' }, device: { type: 'string' } } },
      configSearch: {
        type: 'object',
        description: 'The runtime-settings search as planned (absent without dimensions): the axes as requested, the strategy and budget, and per device the narrowed axes, the skipped values with why, its job (absent: no point can run there) and the estimate.',
        properties: {
          axes: { type: 'array', items: configAxis },
          strategy: { type: 'string', enum: ['grid', 'quick'] },
          objective: { type: 'string', enum: ['p50_latency', 'throughput'] },
          budgetMinutes: { type: 'number' },
          budgetMs: { type: 'integer' },
          pointWarmupMs: { type: 'integer' },
          pointDurationMs: { type: 'integer' },
          pointMinQueries: { type: 'integer' },
          confirmRounds: { type: 'integer' },
          latencyBoundMs: { type: 'number' },
          devices: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                agentId: { type: 'string' },
                agentName: { type: 'string' },
                jobId: { type: 'string', description: 'Absent when no point of the space can run on this device (see skipped, notes).' },
                axes: { type: 'array', items: configAxis },
                skipped: { type: 'array', items: configSkip },
                notes: { type: 'array', items: { type: 'string' } },
                points: { type: 'integer', description: 'Points of the space on this device, per variant.' },
                measurements: { type: 'integer', description: 'Points measured at most over all variants (quick: its worst case).' },
                estimatedMs: { type: 'integer', description: 'The estimate the budget was checked against; 0 without a job.' },
              },
            },
          },
        },
      },
      executionProvider: { type: 'string', example: 'cpu' },
      intraOpThreads: { type: 'integer' },
      interOpThreads: { type: 'integer' },
      batch: { type: 'integer' },
      warmupMinQueries: { type: 'integer' },
      warmupMinDurationMs: { type: 'integer' },
      minQueries: { type: 'integer' },
      minDurationMs: { type: 'integer' },
      maxDurationMs: { type: 'integer' },
      seed: { type: 'integer' },
    },
  },
  ResultView: {
    type: 'object',
    description: 'A stored result. A value that could not be measured is absent and listed in unmeasured.',
    properties: {
      id: { type: 'string' },
      count: { type: 'integer' },
      meanMs: { type: 'number' },
      stdMs: { type: 'number' },
      minMs: { type: 'number' },
      maxMs: { type: 'number' },
      percentiles: { type: 'array', items: percentile },
      throughputQps: { type: 'number' },
      measuredDurationMs: { type: 'number' },
      warmupQueries: { type: 'integer' },
      warmupDurationMs: { type: 'number' },
      sessionCreationMs: { type: 'number' },
      firstInferenceMs: { type: 'number' },
      peakRssBytes: { type: 'integer' },
      rssBeforeSessionBytes: { type: 'integer' },
      rssAfterSessionBytes: { type: 'integer' },
      modelFileSizeBytes: { type: 'integer' },
      stopReason: { type: 'string', example: 'min_reached' },
      manifest: { type: 'object', additionalProperties: true, description: 'Reproducibility facts (Manifest of the wire contract).' },
      unmeasured: { type: 'array', items: { type: 'object', properties: { field: { type: 'string' }, reason: { type: 'string' } } } },
      device: { type: 'string', description: "The agent's name." },
      provider: { type: 'string', example: 'cpu' },
      attempt: { type: 'integer' },
      committedAt: { type: 'string', format: 'date-time' },
      power: {
        type: 'object',
        description: 'Power of the measured window; absent when the device has no power sensor (see unmeasured). A figure not measured is absent, never 0.',
        properties: {
          sensor: { type: 'string' },
          domain: { type: 'string', example: 'module' },
          averagePowerWatts: { type: 'number' },
          idlePowerWatts: { type: 'number' },
          energyJoules: { type: 'number' },
          energyPerInferenceJoules: { type: 'number' },
          energyPerInferenceAboveIdleJoules: { type: 'number' },
        },
      },
      throttled: { type: 'boolean', description: 'Present when the result has thermal data.' },
      externalRuntime: { type: 'object', additionalProperties: true, description: 'The external tool that produced the figures (runtime, version, precision, device, command); absent for onnxruntime-node.' },
    },
  },
  JobView: {
    type: 'object',
    required: ['id', 'variant', 'agentId', 'state', 'attempts'],
    properties: {
      id: { type: 'string' },
      variant: { type: 'string' },
      agentId: { type: 'string' },
      state: { type: 'string', enum: ['queued', 'running', 'done', 'failed'] },
      attempts: { type: 'integer' },
      error: { type: 'string', description: "The last attempt's error." },
      progress: {
        type: 'object',
        description: 'The latest progress of a running job; a configuration search adds the point being measured, points done / total and the current rate.',
        properties: {
          phase: { type: 'string' },
          queriesDone: { type: 'integer' },
          elapsedMs: { type: 'integer' },
          point: { type: 'string', description: 'The configuration being measured, in words.', example: 'fp32 cpu t2 basic' },
          pointsDone: { type: 'integer' },
          pointsTotal: { type: 'integer' },
          queriesPerSecond: { type: 'number', description: 'Of the current window; 0 when not measuring.' },
        },
      },
      result: { $ref: '#/components/schemas/ResultView' },
    },
  },
  SweepView: {
    type: 'object',
    required: ['id', 'name', 'state', 'createdAt', 'model', 'inputs', 'settings', 'variants', 'agents', 'jobs'],
    properties: {
      id: { type: 'string' },
      name: { type: 'string' },
      state: { type: 'string', enum: ['running', 'completed', 'failed'], description: 'completed when every job is done or failed; failed when all failed or the jobs could not be published.' },
      createdAt: { type: 'string', format: 'date-time' },
      error: { type: 'string' },
      model: { type: 'object', properties: { name: { type: 'string' }, sha256: { type: 'string' }, sizeBytes: { type: 'integer' } } },
      inputs: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, dataType: { type: 'string', example: 'float32' }, shape: { type: 'array', items: { type: 'integer' } } } } },
      settings: { $ref: '#/components/schemas/Settings' },
      targets: { type: 'array', items: { type: 'string' } },
      variants: {
        type: 'array',
        items: { type: 'object', properties: { name: { type: 'string' }, sha256: { type: 'string' }, sizeBytes: { type: 'integer' }, recipe: { type: 'object', additionalProperties: { type: 'string' } } } },
      },
      agents: { type: 'array', items: { type: 'string' }, description: 'Ids of the agents matched.' },
      jobs: { type: 'array', items: { $ref: '#/components/schemas/JobView' } },
      comparisons: { type: 'array', description: 'Per device: the interleaved comparison job (every variant in one process) and what it measured: ratios to the reference with CIs, and accuracy (issue 12). Empty without comparison jobs (compare: none).', items: { $ref: '#/components/schemas/DeviceComparisonView' } },
      configSearch: { $ref: '#/components/schemas/ConfigSearchView' },
      etaMs: {
        type: 'integer',
        description:
          'Estimated time left, ms: per agent the sum over its unfinished jobs (a configuration search: its estimate times the share of points not done once reported, at least one variant confirmation while it runs; other jobs: warm-up + min duration, less what the running phase has spent), the largest over agents. Absent when the sweep is not running.',
      },
    },
  },
  ConfigSearchView: {
    type: 'object',
    description: "The sweep's runtime-settings search (absent without dimensions): the request and, per device, its job and once stored its result (SuiteReport.configSearch of the wire contract: every point measured or skipped, each variant's best confirmed against onnxruntime's defaults with a ratio and CI).",
    properties: {
      strategy: { type: 'string', enum: ['grid', 'quick'] },
      objective: { type: 'string', enum: ['p50_latency', 'throughput'] },
      budgetMs: { type: 'integer' },
      latencyBoundMs: { type: 'number' },
      axes: { type: 'array', description: 'As requested, before narrowing per device.', items: configAxis },
      devices: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            agentId: { type: 'string' },
            agentName: { type: 'string' },
            jobId: { type: 'string', description: 'Empty for a device without a search job (state skipped).' },
            state: { type: 'string', enum: ['queued', 'running', 'done', 'failed', 'skipped'] },
            skipped: { type: 'array', items: configSkip },
            notes: { type: 'array', items: { type: 'string' } },
            estimatedMs: { type: 'integer' },
            result: { type: 'object', additionalProperties: true, description: 'ConfigSearchResult of the wire contract (camelCase): strategy, objective, spacePoints, pointsMeasured, budgetMs, spentMs, budgetExhausted, configs, points, best, skipped, latencyBoundMs.' },
          },
        },
      },
    },
  },
  Interval: {
    type: 'object',
    description: 'A 95% confidence interval: bootstrap over images (accuracy, fidelity) or over rounds (latency ratio).',
    properties: { low: { type: 'number' }, high: { type: 'number' }, level: { type: 'number', example: 0.95 }, resamples: { type: 'integer' } },
  },
  AccuracyView: {
    type: 'object',
    description: "A variant's accuracy on one device. measuredOn real_images: task metrics and fidelity on the sweep's evaluation images, run with the device's provider after its latency rounds. random_inputs: fidelity on generated inputs only, which is not accuracy (metrics empty). A figure not computed is absent with a reason, never 0.",
    properties: {
      measuredOn: { type: 'string', enum: ['real_images', 'random_inputs'] },
      inputs: { type: 'string', example: 'real images: dataset coco-val (9 of 13, every 3rd held out)' },
      images: { type: 'integer', description: 'Images evaluated; 0 for random inputs.' },
      dataset: { type: 'object', properties: { id: { type: 'string' }, name: { type: 'string' } } },
      task: { type: 'string', enum: ['detection', 'classification', 'fidelity'] },
      metrics: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            metric: { type: 'string', enum: ['map50_agreement', 'map50', 'map50_95', 'top1_agreement', 'top1', 'top5'] },
            value: { type: 'number', description: 'Absent when not computed (see reason).' },
            ci: { $ref: '#/components/schemas/Interval' },
            images: { type: 'integer', description: 'Images behind the value (labelled images for against=labels).' },
            against: { type: 'string', enum: ['reference', 'labels'] },
            reason: { type: 'string' },
          },
        },
      },
      fidelity: {
        type: 'array',
        description: 'Per output against the reference on the same inputs; empty for the reference.',
        items: {
          type: 'object',
          properties: {
            output: { type: 'string' },
            cosine: { type: 'number' },
            cosineCi: { $ref: '#/components/schemas/Interval' },
            snrDb: { type: 'number' },
            snrDbCi: { $ref: '#/components/schemas/Interval' },
            maxAbsError: { type: 'number' },
            images: { type: 'integer' },
            measuredOn: { type: 'string', enum: ['real_images', 'random_inputs'] },
            inputs: { type: 'string' },
          },
        },
      },
      error: { type: 'string', description: 'This variant could not be evaluated on the device; figures absent.' },
    },
  },
  DeviceComparisonView: {
    type: 'object',
    properties: {
      jobId: { type: 'string' },
      agentId: { type: 'string' },
      device: { type: 'string', description: "The agent's name (result.device of the variant jobs)." },
      state: { type: 'string', enum: ['queued', 'running', 'done', 'failed'] },
      provider: { type: 'string' },
      referenceVariant: { type: 'string' },
      rounds: { type: 'integer' },
      order: { type: 'string', enum: ['interleaved', 'sequential'] },
      evaluation: {
        type: 'object',
        description: 'The evaluation phase on real images, when the sweep has an evaluation dataset.',
        properties: {
          datasetId: { type: 'string' },
          datasetName: { type: 'string' },
          task: { type: 'string' },
          images: { type: 'integer' },
          labelledImages: { type: 'integer' },
          inputs: { type: 'string' },
          split: { type: 'string' },
          detectionLayout: { type: 'string', example: 'yolox' },
          durationMs: { type: 'number' },
          peakRssBytes: { type: 'integer' },
        },
      },
      variants: {
        type: 'array',
        items: {
          type: 'object',
          properties: {
            variant: { type: 'string' },
            reference: { type: 'boolean' },
            medianMs: { type: 'number' },
            ratioToReference: { type: 'number', description: 'Median over rounds of (variant round median / reference round median); 1 for the reference.' },
            ratioCi: { $ref: '#/components/schemas/Interval' },
            accuracy: { $ref: '#/components/schemas/AccuracyView' },
          },
        },
      },
      unmeasured: { type: 'array', items: { type: 'object', properties: { field: { type: 'string' }, reason: { type: 'string' } } }, description: 'e.g. accuracy: no evaluation dataset in this sweep.' },
    },
  },
  SweepListItem: {
    type: 'object',
    properties: { id: { type: 'string' }, name: { type: 'string' }, state: { type: 'string', enum: ['running', 'completed', 'failed'] }, createdAt: { type: 'string', format: 'date-time' } },
  },
  Samples: {
    type: 'object',
    properties: { latencyMs: { type: 'array', items: { type: 'number' }, description: 'Raw per-query latencies in ms, in the order measured.' } },
  },
  AgentView: {
    type: 'object',
    properties: {
      agentId: { type: 'string' },
      name: { type: 'string' },
      state: { type: 'string', enum: ['unspecified', 'idle', 'busy', 'checking', 'unhealthy', 'draining', 'offline'], description: 'checking: running its health check (a reference model), pulls no job; unhealthy: its check failed (retried with backoff) or does not verify here.' },
      labels: { type: 'object', additionalProperties: { type: 'string' } },
      capabilities: {
        type: 'object',
        nullable: true,
        properties: {
          arch: { type: 'string' },
          os: { type: 'string' },
          osRelease: { type: 'string' },
          cpuModel: { type: 'string' },
          cpuCores: { type: 'integer' },
          memoryBytes: { type: 'integer' },
          executionProviders: { type: 'array', items: { type: 'string' } },
          sensors: { type: 'array', items: { type: 'string' } },
          onnxruntimeVersion: { type: 'string' },
          hostname: { type: 'string' },
          externalRuntimes: { type: 'array', description: 'External tools found on the agent PATH.', items: { type: 'object', properties: { tool: { type: 'string' }, version: { type: 'string' }, path: { type: 'string' } } } },
        },
      },
      agentVersion: { type: 'string' },
      currentJobId: { type: 'string' },
      startedAt: { type: 'string', format: 'date-time' },
      heartbeatAt: { type: 'string', format: 'date-time' },
      stale: { type: 'boolean', description: 'The last heartbeat is older than the stale limit (15 s by default).' },
      health: {
        type: 'object',
        description: "The agent's last health check (a reference model run in a fresh onnxruntime process after joining and after a device-level failure), verified by the coordinator, which recomputes the expected outputs. Only verified agents get jobs.",
        properties: {
          status: { type: 'string', enum: ['verified', 'checking', 'failed', 'mismatch', 'not_reported'], description: 'Only verified agents take jobs. not_reported: the agent sends no health check (it predates them).' },
          reason: { type: 'string', description: 'Why the agent is not verified, e.g. "health check does not verify: outputs differ from the reference by 5.00e-1 (...)".' },
          passed: { type: 'boolean', description: "The agent's own verdict of its last finished check." },
          referenceModelId: { type: 'string' },
          referenceModelSha256: { type: 'string' },
          ranAt: { type: 'string', format: 'date-time' },
          durationMs: { type: 'number', description: 'Whole check: process start, session creation, inference.' },
          inferenceMs: { type: 'number' },
          attempt: { type: 'integer', description: '1 for the first check after joining or after a failure.' },
          trigger: { type: 'string', description: '"joined" or "after-failure: <why>".' },
          error: { type: 'string' },
          nextAttemptAt: { type: 'string', format: 'date-time', description: 'When a failed check is retried (5 s doubling to 5 min).' },
        },
      },
    },
  },
  Health: {
    type: 'object',
    properties: { status: { type: 'string', enum: ['ok', 'degraded'] }, nats: { type: 'string' }, database: { type: 'string' } },
  },
  CreateEnrollmentCode: {
    type: 'object',
    required: ['agentId'],
    properties: {
      agentId: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$', description: 'The agent id the code enrolls (and only that one).' },
      ttlSeconds: { type: 'integer', minimum: 1, maximum: 604800, default: 3600, description: 'How long the code is valid.' },
    },
  },
  EnrollmentCode: {
    type: 'object',
    properties: {
      agentId: { type: 'string' },
      code: { type: 'string', description: 'One-time code (256 random bits, base64url); shown only here, stored only as its SHA-256.' },
      expiresAt: { type: 'string', format: 'date-time' },
      expiresAtUnixMs: { type: 'integer' },
    },
  },
  EnrollRequest: {
    type: 'object',
    required: ['agentId', 'code', 'natsPublicKey'],
    properties: {
      agentId: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' },
      code: { type: 'string' },
      natsPublicKey: { type: 'string', description: "The agent's NATS user public key (U..., 56 characters); its seed never leaves the agent." },
      tlsPublicKeyPem: { type: 'string', description: "The agent's TLS public key (SPKI PEM); with a farm CA the coordinator returns a client certificate over it." },
    },
  },
  Enrollment: {
    type: 'object',
    properties: {
      agentId: { type: 'string' },
      natsUserJwt: { type: 'string', description: "NATS user JWT restricted to the agent's own consumer, inbox prefix _INBOX_<agentId> and registry key." },
      natsUrl: { type: 'string', description: 'NATS URL(s) to dial (BENCHFARM_PUBLIC_NATS_URL).' },
      grpcAddress: { type: 'string', description: 'gRPC host:port to dial (BENCHFARM_PUBLIC_GRPC_ADDRESS).' },
      natsJsDomain: { type: 'string', description: "The hub's JetStream domain (BENCHFARM_PUBLIC_NATS_JS_DOMAIN), when agents may join through leaf nodes; absent otherwise." },
      tls: { type: 'object', properties: { certificatePem: { type: 'string' }, caCertificatePem: { type: 'string' } } },
    },
  },
  DatasetManifest: {
    type: 'object',
    required: ['images'],
    description: 'What a dataset upload will hold. Limits: BENCHFARM_MAX_DATASET_IMAGES images, BENCHFARM_MAX_DATASET_IMAGE_BYTES per image, BENCHFARM_MAX_DATASET_LABELS_BYTES of labels, BENCHFARM_MAX_DATASET_BYTES in all (413 dataset_too_large).',
    properties: {
      name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$', description: 'Unique name; not 8+ hex digits only. Default: dataset-<first 12 digits of the id>.' },
      preprocess: { oneOf: [{ type: 'string', enum: ['yolox', 'yolo', 'imagenet'] }, { type: 'object' }], description: 'How images become the model input: a preset or { resize, padValue, channelOrder, layout, scale, mean, std } (as calibrationPreprocess).' },
      labels: {
        oneOf: [
          { type: 'object', required: ['sha256', 'sizeBytes'], properties: { sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' }, sizeBytes: { type: 'integer', minimum: 1 } }, description: 'A COCO JSON file, uploaded like an image.' },
          { type: 'object', required: ['images', 'annotations', 'categories'], description: 'COCO JSON inline (small label sets).' },
        ],
        description: "COCO labels: every images[].file_name (base name) an image of the dataset with the same width and height, every annotation on a listed image and a known category.",
      },
      images: {
        type: 'array',
        minItems: 1,
        items: {
          type: 'object',
          required: ['name', 'sha256', 'sizeBytes'],
          properties: {
            name: { type: 'string', description: 'Base name of a .jpg/.jpeg file: A-Z a-z 0-9 space . _ ( ) + , - (no folders, no leading dot); unique.' },
            sha256: { type: 'string', pattern: '^[0-9a-f]{64}$', description: 'Unique: each content once.' },
            sizeBytes: { type: 'integer', minimum: 1 },
          },
        },
      },
    },
  },
  DatasetUpload: {
    type: 'object',
    required: ['datasetId', 'name', 'state', 'files', 'reusedFiles', 'missing'],
    properties: {
      uploadId: { type: 'string', example: 'upload_3f1c...', description: 'Absent when the dataset existed already.' },
      datasetId: { type: 'string', description: 'SHA-256 of the manifest (images, labels digest, preprocess): the id the dataset has or will have.' },
      name: { type: 'string' },
      state: { type: 'string', enum: ['open', 'complete'] },
      expiresAt: { type: 'string', format: 'date-time', description: 'An open upload without activity until then is dropped with its bytes (BENCHFARM_DATASET_UPLOAD_TTL_MS).' },
      files: { type: 'integer', description: 'Distinct files (by digest), images and labels.' },
      reusedFiles: { type: 'integer', description: 'Files another dataset had stored already: not sent again.' },
      missing: {
        type: 'array',
        items: {
          type: 'object',
          properties: { sha256: { type: 'string' }, sizeBytes: { type: 'integer' }, receivedBytes: { type: 'integer', description: 'Resume from this byte.' }, name: { type: 'string', description: 'Image name, or "labels".' } },
        },
      },
      dataset: { $ref: '#/components/schemas/Dataset' },
      reused: { type: 'boolean', description: 'The dataset existed already with this content (under its own name).' },
    },
  },
  DatasetFileProgress: {
    type: 'object',
    properties: { sha256: { type: 'string' }, sizeBytes: { type: 'integer' }, receivedBytes: { type: 'integer' }, complete: { type: 'boolean', description: 'Every byte arrived and the file was verified.' } },
  },
  Dataset: {
    type: 'object',
    required: ['id', 'name', 'createdAt', 'imageCount', 'totalBytes'],
    properties: {
      id: { type: 'string' },
      name: { type: 'string' },
      createdAt: { type: 'string', format: 'date-time' },
      imageCount: { type: 'integer' },
      totalBytes: { type: 'integer', description: 'Images and labels.' },
      preprocess: { oneOf: [{ type: 'string' }, { type: 'object' }] },
      labels: {
        type: 'object',
        properties: {
          sha256: { type: 'string' },
          sizeBytes: { type: 'integer' },
          labelledImages: { type: 'integer' },
          annotations: { type: 'integer' },
          categories: { type: 'array', items: { type: 'object', properties: { id: { type: 'integer' }, name: { type: 'string' } } } },
        },
      },
      images: {
        type: 'array',
        description: 'Only on GET /v1/datasets/{idOrName}; sorted by name.',
        items: { type: 'object', properties: { name: { type: 'string' }, sha256: { type: 'string' }, sizeBytes: { type: 'integer' }, width: { type: 'integer' }, height: { type: 'integer' } } },
      },
    },
  },
  DatasetRemoval: {
    type: 'object',
    properties: {
      id: { type: 'string' },
      name: { type: 'string' },
      deletedObjects: { type: 'integer' },
      keptObjects: { type: 'integer', description: 'Still used by another dataset, an open upload or a sweep.' },
      failedObjects: { type: 'integer', description: 'Could not be deleted (object store unavailable); the record is gone either way.' },
    },
  },
} satisfies Record<string, Schema>;
