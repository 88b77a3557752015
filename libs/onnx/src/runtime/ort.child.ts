// Child-process entry of runOrtTaskIsolated: runs one onnxruntime task on an untrusted model
// and answers over IPC (runIsolated). If ORT crashes, only this process dies.
import { serveIsolated } from '@benchfarm/isolate';
import { runOrtTask, type OrtTask } from './ort';

serveIsolated((task: OrtTask) => runOrtTask(task));
