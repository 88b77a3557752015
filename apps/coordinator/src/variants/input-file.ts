import { DomainError, DomainErrorCode } from '../common/domain-error';
import type { Workspace } from './workspace';

/** How a file that a request names on the coordinator's machine is checked. */
export interface InputFileRule {
  /** The request field that named it (`modelPath`, `ownVariants`, `calibrationDir`). */
  readonly field: string;
  /** Largest size accepted, in bytes. */
  readonly maxBytes: number;
  /** The setting that holds {@link maxBytes}, named in the refusal (`BENCHFARM_MAX_MODEL_BYTES`). */
  readonly limitName: string;
  /** The code of a file over the limit (413 at the REST edge). */
  readonly tooLarge: DomainErrorCode.ModelTooLarge | DomainErrorCode.DatasetTooLarge;
}

/**
 * The one check of a file a request names on the coordinator's machine (a model, an own variant,
 * a calibration image), made before anything reads it: a regular file (a FIFO, device or folder
 * would block the read or never end, and hold the request and its work folder) of at most
 * `rule.maxBytes`. Returns its size. Thrown ({@link DomainError}, field `rule.field`):
 * `invalid_argument` when the path is not a readable regular file, `rule.tooLarge` when it is too big.
 */
export async function requireInputFile(workspace: Workspace, path: string, rule: InputFileRule): Promise<number> {
  const sizeBytes = await workspace.regularFileSize(path);
  if (sizeBytes === undefined) {
    throw new DomainError(DomainErrorCode.InvalidArgument, `${rule.field} ${JSON.stringify(path)} is not a readable regular file on the coordinator`, { field: rule.field });
  }
  if (sizeBytes > rule.maxBytes) {
    throw new DomainError(rule.tooLarge, `${rule.field} ${JSON.stringify(path)} is ${sizeBytes} bytes; the coordinator accepts at most ${rule.maxBytes} (${rule.limitName})`, { field: rule.field });
  }
  return sizeBytes;
}
