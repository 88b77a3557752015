// Child-process entry of deriveVariantIsolated: derives one variant whose pass runs
// onnxruntime on the user's model (calibration, type discovery), so that an ORT crash or hang
// kills only this process. Receives the task and answers over IPC (runIsolated).
import { serveIsolated } from '@benchfarm/isolate';
import type { DeriveTask } from './derive-isolated';
import { deriveVariant } from './variants';

serveIsolated((task: DeriveTask) =>
  deriveVariant(task.name, task.srcPath, task.outDir, { isolated: false, ...(task.calibration ? { calibration: task.calibration } : {}), ...(task.holdout ? { holdout: task.holdout } : {}) }),
);
