import { randomUUID } from 'node:crypto';

/** Makes ids of sweeps, jobs and results; injected so tests can make them predictable. */
export abstract class IdGenerator {
  /** A new unique id, prefixed by its kind (`sweep_`, `job_`, `result_`). */
  abstract newId(kind: 'sweep' | 'job' | 'result'): string;
}

/** Random ids: the kind, an underscore and a UUID v4 without dashes. */
export class RandomIdGenerator extends IdGenerator {
  newId(kind: 'sweep' | 'job' | 'result'): string {
    return `${kind}_${randomUUID().replaceAll('-', '')}`;
  }
}
