import { startCoordinator } from './app';
import { ConfigError, loadConfig } from './config';

/**
 * The coordinator process: configuration from `BENCHFARM_*` environment variables, one JSON
 * line `{"event":"ready","httpUrl":...,"grpcAddress":...}` on stdout once it serves, logs on
 * stderr, and a clean stop on SIGINT / SIGTERM.
 */
async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const coordinator = await startCoordinator(config);
  process.stdout.write(`${JSON.stringify({ event: 'ready', httpUrl: coordinator.httpUrl, grpcAddress: coordinator.grpcAddress })}\n`);
  const stop = (signal: NodeJS.Signals): void => {
    process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'info', message: `${signal} received, stopping` })}\n`);
    coordinator.close().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`stop failed: ${(err as Error).stack ?? String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level: 'error', message: `coordinator failed to start: ${(err as Error).message}`, stack: (err as Error).stack })}\n`);
  process.exit(1);
});
