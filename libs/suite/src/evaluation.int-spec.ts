// Accuracy on the agent: the comparison job's evaluation phase, in a real suite
// process with real onnxruntime-node, on real photos through the YOLOX detector in
// ../shared/models (the file fails naming the path when absent).
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Scenario, TensorDataType, type EvaluationRequest, type Summary } from '@benchfarm/protocol';
import { sharedModelFile } from '@benchfarm/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { runSuiteInChild, type SuiteChildEvent, type SuiteJob } from './index';

// Lazy, as the module-boundary rule wants for @benchfarm/onnx in this project.
const { readModelFile, writeModel, floatsOf, floatTensor, runModel, loadImageFeeds, decodeYolo, PREPROCESS_PRESETS, DETECTION_THRESHOLDS } = await import('@benchfarm/onnx');

// Thrown here when ../shared/models is absent: the file fails naming the path (SharedModelsMissingError).
const YOLOX = sharedModelFile('yolox_nano_3class.onnx');
const IMAGES = sharedModelFile('images');

const dir = mkdtempSync(join(tmpdir(), 'bf-suite-eval-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const INPUT = { name: 'images', dataType: TensorDataType.TENSOR_DATA_TYPE_FLOAT32, shape: [1, 3, 416, 416] };

function request(names: string[], labels: boolean): EvaluationRequest {
  return {
    datasetId: 'd'.repeat(64),
    datasetName: 'shared-photos',
    images: names.map((name) => ({ name, sha256: '0'.repeat(64), sizeBytes: 1 })),
    datasetImages: 13,
    split: 'first 4 photos by name (test)',
    preprocessJson: JSON.stringify(PREPROCESS_PRESETS.yolox),
    task: 'detection',
    detectionLayout: 'yolox',
    labelsSha256: labels ? 'l'.repeat(64) : '',
    labelsSizeBytes: 0,
    bootstrapResamples: 200,
    seed: 5,
  };
}

function job(comparison: SuiteJob['comparison'], evaluation: SuiteJob['evaluation']): SuiteJob {
  return {
    modelPath: comparison?.[0]?.modelPath ?? YOLOX,
    inputs: [INPUT],
    executionProvider: 'cpu',
    intraOpThreads: 1,
    interOpThreads: 1,
    suite: { scenario: Scenario.SCENARIO_SINGLE_STREAM, warmupMinQueries: 1, warmupMinDurationMs: 0, minQueries: 2, minDurationMs: 0, maxDurationMs: 20_000, seed: 3, scenarioOptions: { interleaveRounds: 2, roundMinQueries: 2 } as never },
    manifest: { variantSha256: 'f'.repeat(64), agentVersion: '0.0.0-test', batch: 1, modelSha256: 'e'.repeat(64) },
    comparison,
    ...(evaluation && { evaluation }),
  } as SuiteJob;
}

async function run(suiteJob: SuiteJob): Promise<{ summary: Summary; phases: string[] }> {
  const events: SuiteChildEvent[] = [];
  await runSuiteInChild(suiteJob, { onEvent: (e) => events.push(e) });
  const last = events.at(-1);
  if (last?.type !== 'summary') throw new Error(`expected a summary, got ${JSON.stringify(last).slice(0, 800)}`);
  return { summary: last.summary, phases: events.flatMap((e) => (e.type === 'progress' ? [e.phase] : [])) };
}

describe('comparison job with an evaluation on real photos (YOLOX-nano)', () => {
  const files = readdirSync(IMAGES).filter((f) => f.endsWith('.jpg')).sort().slice(0, 4);
  const paths = files.map((f) => join(IMAGES, f));

  it('fp32 vs its copy agrees exactly; a variant with a broken first Conv agrees less', { timeout: 180_000 }, async () => {
    const copy = join(dir, 'copy.onnx');
    copyFileSync(YOLOX, copy);
    // Broken on purpose: the first Conv's weights with their sign flipped.
    const { model } = await readModelFile(YOLOX);
    const graph = model.graph!;
    const firstConv = graph.node!.find((n) => n.opType === 'Conv')!;
    const at = graph.initializer!.findIndex((t) => t.name === firstConv.input![1]);
    const weight = graph.initializer![at]!;
    graph.initializer![at] = floatTensor(weight.name!, (weight.dims ?? []).map(Number), floatsOf(weight).map((w) => -w));
    const broken = join(dir, 'broken.onnx');
    writeFileSync(broken, writeModel(model));

    const { summary, phases } = await run(
      job(
        [
          { variant: 'fp32', sha256: 'a'.repeat(64), modelPath: YOLOX },
          { variant: 'fp32-copy', sha256: 'b'.repeat(64), modelPath: copy },
          { variant: 'broken', sha256: 'c'.repeat(64), modelPath: broken },
        ],
        { request: request(files, false), imagePaths: paths },
      ),
    );
    const evaluation = summary.report?.evaluation;
    expect(evaluation).toMatchObject({ task: 'detection', images: 4, labelledImages: 0, detectionLayout: 'yolox', datasetName: 'shared-photos' });
    expect(evaluation?.inputs).toMatch(/^real images: dataset shared-photos \(4 of 13 images/);
    expect(phases).toContain('evaluation');
    expect(evaluation!.peakRssBytes).toBeGreaterThan(0);
    const [reference, copied, bad] = evaluation!.variants;
    const agreement = (v: typeof reference) => v!.metrics.find((m) => m.metric === 'map50_agreement')!;
    expect(agreement(copied)).toMatchObject({ value: 1, images: 4, against: 'reference' });
    expect(copied!.fidelity[0]).toMatchObject({ output: 'output', cosine: 1, maxAbsError: 0, images: 4, randomInputs: false });
    expect(agreement(bad).value).toBeLessThan(1);
    expect(bad!.fidelity[0]!.cosine).toBeLessThan(copied!.fidelity[0]!.cosine);
    expect(bad!.fidelity[0]!.cosineCi).toBeDefined();
    expect(reference!.metrics.find((m) => m.metric === 'map50')).toMatchObject({ reason: 'the dataset has no labels' });
    // The comparison's fidelity is the evaluation's (real images), not random inputs.
    expect(summary.report?.comparison?.variants[2]?.fidelity[0]).toEqual(bad!.fidelity[0]);
    // Latency rounds are unchanged by the phase: every variant has its queries.
    expect(summary.report?.comparison?.variants.map((v) => v.queries)).toEqual([4, 4, 4]);
    const perImage = (ms: number) => (ms / 4).toFixed(1);
    process.stdout.write(
      `evaluation on ${evaluation!.images} photos: ${perImage(evaluation!.durationMs)} ms/image for 3 variants (load ${perImage(evaluation!.loadMs)} ms/image; inference ${evaluation!.variants.map((v) => `${v.variant} ${perImage(v.inferenceMs)}`).join(', ')} ms/image; postprocess ${evaluation!.variants.map((v) => perImage(v.postprocessMs)).join(', ')} ms/image); broken agreement ${agreement(bad).value?.toFixed(3)}, peak RSS ${((evaluation!.peakRssBytes ?? 0) / 2 ** 20).toFixed(0)} MiB\n`,
    );
  });

  it('one variant with labels: mAP@0.5 and mAP@0.5:0.95 against them', { timeout: 120_000 }, async () => {
    // Labels made from the model's own detections, mapped back to photo pixels: a plumbing
    // check of the labels path (letterbox scale both ways), so mAP@0.5 must come out 1.
    const feeds = await loadImageFeeds(paths, 'images', [1, 3, 416, 416], PREPROCESS_PRESETS.yolox);
    const outputs = await runModel(YOLOX, feeds);
    const ratio = 416 / 640;
    const annotations = outputs.flatMap((o, i) =>
      decodeYolo(o.get('output')!, { layout: 'yolox', inputHw: [416, 416], scoreThreshold: DETECTION_THRESHOLDS.referenceScore, iouThreshold: DETECTION_THRESHOLDS.nmsIou }).map((d, k) => ({
        id: i * 1000 + k,
        image_id: i + 1,
        category_id: d.classId + 1,
        bbox: [d.box[0] / ratio, d.box[1] / ratio, (d.box[2] - d.box[0]) / ratio, (d.box[3] - d.box[1]) / ratio],
      })),
    );
    expect(annotations.length).toBeGreaterThan(0);
    const labelsPath = join(dir, 'labels.json');
    writeFileSync(
      labelsPath,
      JSON.stringify({
        // The fourth photo is left out of the labels: 3 labelled images.
        images: files.slice(0, 3).map((file_name, i) => ({ id: i + 1, file_name, width: 640, height: 640 })),
        annotations: annotations.filter((a) => a.image_id <= 3),
        categories: [1, 2, 3].map((id) => ({ id, name: `c${id}` })),
      }),
    );
    const { summary } = await run(job([{ variant: 'fp32', sha256: 'a'.repeat(64), modelPath: YOLOX }], { request: request(files, true), imagePaths: paths, labelsPath }));
    const evaluation = summary.report!.evaluation!;
    expect(evaluation).toMatchObject({ images: 4, labelledImages: 3 });
    const [only] = evaluation.variants;
    expect(only!.fidelity).toEqual([]);
    const metric = (name: string) => only!.metrics.find((m) => m.metric === name)!;
    expect(metric('map50')).toMatchObject({ images: 3, against: 'labels' });
    expect(metric('map50').value).toBeCloseTo(1, 6);
    expect(metric('map50_95').value).toBeGreaterThan(0.9);
    expect(metric('map50').ci).toBeDefined();
  });
});
