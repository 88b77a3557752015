import { AgentConfigError } from './config';
import { compileAgentOptions } from './agent-options';
import { startAgent } from './agent';

// The agent daemon: configured from BENCHFARM_* variables (the `benchfarm agent` command
// sets them from its flags). Prints one JSON line per event on stdout.
const log = (level: string, message: string, fields: Record<string, unknown> = {}): void => {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), level, component: 'agent', message, ...fields })}\n`);
};

async function main(): Promise<void> {
  // Every setting, read and validated once before anything connects.
  const options = compileAgentOptions(process.env);
  const agent = await startAgent(options, log);
  process.stdout.write(`${JSON.stringify({ event: 'ready', agentId: agent.agentId })}\n`);
  let closing = false;
  const shutdown = (signal: string): void => {
    if (closing) return;
    closing = true;
    log('info', `received ${signal}; stopping`);
    agent.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log('error', 'shutdown failed', { error: String(err) });
        process.exit(1);
      },
    );
  };
  // SIGUSR2 drains: finish the running job, stop pulling, then exit.
  process.on('SIGUSR2', () => {
    if (closing) return;
    closing = true;
    log('info', 'received SIGUSR2; draining');
    agent.drain().then(
      () => process.exit(0),
      (err: unknown) => {
        log('error', 'drain failed', { error: String(err) });
        process.exit(1);
      },
    );
  });
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((err: unknown) => {
  if (err instanceof AgentConfigError) process.stderr.write(`${err.message}\n`);
  else process.stderr.write(`agent failed to start: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
