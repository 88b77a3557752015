import { inspectModel, readModelFile } from '@benchfarm/onnx';
import { DomainError, DomainErrorCode } from '../common/domain-error';
import { batchSizeProblem } from './scenario-request';

/**
 * Refuses offline batch sizes the model as given forbids (an input whose first dimension is
 * fixed to another size), before anything is derived or queued. A model that cannot be read
 * is left to the model checks that follow, which report it with their own codes.
 *
 * Thrown: {@link DomainError} `invalid_argument` with `field: 'batchSizes'`.
 */
export async function assertBatchSizesFit(batchSizes: readonly number[] | undefined, modelPath: string): Promise<void> {
  if (!batchSizes) return;
  let inputs: { name: string; dims: (number | string | null)[] | null }[];
  try {
    const { model, bytes } = await readModelFile(modelPath);
    inputs = inspectModel(model, bytes.length).inputs.map((i) => ({ name: i.name, dims: i.dims ? [...i.dims] : null }));
  } catch {
    return;
  }
  const problem = batchSizeProblem(batchSizes, inputs);
  if (problem) throw new DomainError(DomainErrorCode.InvalidArgument, problem, { field: 'batchSizes' });
}
