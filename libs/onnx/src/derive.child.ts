// Child-process entry of deriveVariantIsolated: derives one variant whose pass runs
// onnxruntime on the user's model (calibration, type discovery), so that an ORT crash or hang
// kills only this process. Receives the task over IPC, answers over IPC.
import { serializeDeriveError, type DeriveChildMessage, type DeriveTask } from './derive-isolated';
import { deriveVariant } from './variants';

process.once('message', (task: DeriveTask) => {
  const reply = (message: DeriveChildMessage) => process.send?.(message, () => process.disconnect());
  deriveVariant(task.name, task.srcPath, task.outDir, { isolated: false, ...(task.calibration ? { calibration: task.calibration } : {}), ...(task.holdout ? { holdout: task.holdout } : {}) }).then(
    (result) => reply({ ok: true, result }),
    (err: unknown) => reply({ ok: false, error: serializeDeriveError(err) }),
  );
});
