export { startAgent, AGENT_VERSION, type RunningAgent, type AgentIo } from './agent';
export type { AgentLog } from './agent-log';
export { compileAgentOptions, type AgentOptions } from './agent-options';
export { loadAgentConfig, agentConfigFromEnv, parseLabels, defaultAgentId, AgentConfigError, type AgentConfig } from './config';
export { collectCapabilities } from './inventory';
