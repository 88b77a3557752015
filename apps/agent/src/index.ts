export { startAgent, AGENT_VERSION, type RunningAgent, type AgentLog } from './agent';
export { loadAgentConfig, agentConfigFromEnv, parseLabels, defaultAgentId, AgentConfigError, type AgentConfig } from './config';
export { collectCapabilities } from './inventory';
