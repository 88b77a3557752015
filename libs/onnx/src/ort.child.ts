// Child-process entry of runOrtTaskIsolated: runs one onnxruntime task on an untrusted model
// and reports over IPC. If ORT crashes, only this process dies.
import { InvalidModelError } from './errors';
import { runOrtTask, type OrtChildMessage, type OrtTask } from './ort';

function reply(message: OrtChildMessage): void {
  // Disconnecting lets the process exit once the answer is flushed.
  process.send?.(message, () => process.disconnect());
}

const task = JSON.parse(process.argv[2] ?? '{}') as OrtTask;
try {
  reply({ ok: true, result: await runOrtTask(task) });
} catch (err) {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof InvalidModelError) reply({ ok: false, code: err.code, field: err.field, message });
  else reply({ ok: false, code: undefined, field: '', message: `onnxruntime task ${task.kind} failed: ${message}` });
}
