// Work in a child process: one way to start it (the entry and the tsx loader resolved once,
// from source or from the agent bundle), bound it (deadline, idle bound, abort: SIGTERM then
// SIGKILL), report how it ended (exit code, signal, stderr tail), and carry errors across with
// their class, fields and cause chain.
export { childEntry, runningBundled, tsxLoaderUrl, type ChildEntry } from './entry';
export { ChildEntryError, IsolatedWorkError, ISOLATED_WORK_CODES, describeExit, type ChildExit, type IsolatedWorkCode } from './errors';
export { reviveError, serializeError, isSerializedError, type JsonValue, type KnownErrors, type SerializedError } from './serialize';
export { messageBytes, spawnSupervised, startIsolated, type IsolatedChild, type SpawnSupervisedOptions, type StartIsolatedOptions, type SupervisedProcess, type SuperviseOptions } from './start';
export { runIsolated, type RunIsolatedOptions } from './run';
export { postToParent, sendToParent, serveIsolated, serveOne } from './child';
