import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TensorSpec } from '@benchfarm/protocol';

/** A copy of a model whose inputs take another batch size. */
export interface RebatchedModel {
  modelPath: string;
  inputs: TensorSpec[];
}

/**
 * Writes a copy of the model with the first dimension of every graph input set to
 * `batchSize` and the first dimension of every graph output made symbolic, so onnxruntime
 * infers it. The coordinator fixes every input dim before a job is planned (onnxruntime-node
 * ignores free-dimension overrides), so an offline batch size other than the job's needs its
 * own file. Models whose graph bakes the batch into constants (a Reshape to [1, ...], shapes
 * folded by an optimised variant) then fail in onnxruntime, and that level reports the error.
 * libs/onnx is loaded lazily so that jobs without batch sizes never carry it in their RSS.
 */
export async function rebatchModel(modelPath: string, inputs: readonly TensorSpec[], batchSize: number): Promise<RebatchedModel> {
  const { readModelFile, writeModel, onnx } = await import('@benchfarm/onnx');
  const { model } = await readModelFile(modelPath);
  const graph = model.graph;
  for (const value of graph?.input ?? []) {
    const dims = value.type?.tensorType?.shape?.dim;
    if (inputs.some((i) => i.name === value.name) && dims && dims.length > 0) dims[0] = onnx.TensorShapeProto.Dimension.create({ dimValue: batchSize });
  }
  for (const value of graph?.output ?? []) {
    const dims = value.type?.tensorType?.shape?.dim;
    if (dims && dims.length > 0) dims[0] = onnx.TensorShapeProto.Dimension.create({ dimParam: 'batch' });
  }
  const dir = await mkdtemp(join(tmpdir(), 'benchfarm-batch-'));
  const path = join(dir, `batch${batchSize}.onnx`);
  await writeFile(path, writeModel(model));
  return { modelPath: path, inputs: inputs.map((i) => ({ ...i, shape: i.shape.length > 0 ? [batchSize, ...i.shape.slice(1)] : [] })) };
}
