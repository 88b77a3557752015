// The baseline a suite process's memory is judged against: a process started the same way
// (node + the tsx loader) that loads onnxruntime-node's native binding and nothing else.
import 'onnxruntime-node';
import { sendToParent } from '@benchfarm/isolate';
import { serveOneJob } from './child-io';
import { readOwnProcStatusBytes } from './machine';
import type { IdleRssMessage } from './messages';

serveOneJob(async () => {
  const message: IdleRssMessage = { type: 'idle-rss', peakRssBytes: readOwnProcStatusBytes('VmHWM') ?? null };
  await sendToParent(message);
});
