// TEST-ONLY fault injection for RELIABILITY.md promise 12 ("a model that crashes
// onnxruntime"). The fault suite starts an agent with
//   NODE_OPTIONS=--import=<this file> BENCHFARM_TEST_CRASH_SUITE_WHILE=<flag file>
// Every Node process of that agent loads this file, but it acts only in the suite's child
// process (child.main.ts): while the flag file exists, the child kills itself with SIGSEGV
// as soon as it is handed its job, the way a model that crashes onnxruntime's native code
// kills it. No production code path reads this variable.
import { existsSync } from 'node:fs';

const flag = process.env.BENCHFARM_TEST_CRASH_SUITE_WHILE;
// Listen only while the fault is on: a 'message' listener keeps the IPC channel referenced,
// and a healthy child must still exit on its own once its job is done.
if (flag && existsSync(flag) && (process.argv[1] ?? '').endsWith('child.main.ts')) {
  process.once('message', (message) => {
    if (message && typeof message === 'object' && message.type === 'run') process.kill(process.pid, 'SIGSEGV');
  });
}
