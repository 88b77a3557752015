// TEST-ONLY fault injection for the agent's health check (apps/agent/src/health-check.ts).
// The health test starts an agent with
//   NODE_OPTIONS=--import=<this file> BENCHFARM_TEST_CRASH_HEALTH_CHECK_WHILE=<flag file>
// Every Node process of that agent loads this file, but it acts only in the health check's
// process (health-check.child.ts): while the flag file exists, that process kills itself with
// SIGSEGV as soon as the agent asks it to run, the way a broken onnxruntime install or a
// faulty device kills it. Job suite processes are left alone (crash-suite-child.mjs covers
// those). No production code path reads this variable.
import { existsSync } from 'node:fs';

const flag = process.env.BENCHFARM_TEST_CRASH_HEALTH_CHECK_WHILE;
if (flag && existsSync(flag) && (process.argv[1] ?? '').endsWith('health-check.child.ts')) {
  process.once('message', () => process.kill(process.pid, 'SIGSEGV'));
}
