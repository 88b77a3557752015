export { startAgent, AGENT_VERSION, type RunningAgent, type AgentLog, type AgentIo } from './agent';
export { compileAgentOptions, type AgentOptions } from './agent-options';
export { loadAgentConfig, agentConfigFromEnv, parseLabels, defaultAgentId, AgentConfigError, type AgentConfig } from './config';
export { collectCapabilities } from './inventory';
