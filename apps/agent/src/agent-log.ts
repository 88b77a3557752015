/**
 * What the agent tells whoever started it, one line at a time. Its own file so that the parts
 * the agent starts (device reach, the simulated fleet) can log without importing agent.ts.
 */
export type AgentLog = (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
