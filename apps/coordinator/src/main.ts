import { startCoordinator, type RunningCoordinator } from './app';
import { ConfigError, loadConfig, type CoordinatorConfig } from './config';
import { startLeaderElectedCoordinator } from './leadership/leader-elected-coordinator';
import { LeaderElectionStoppedError } from './leadership/leader-election';
import { LeadershipConfigError, loadLeadershipConfig, type LeadershipConfig } from './leadership/leadership.config';

/** Exit status of a leader that lost its lease (EX_TEMPFAIL): a supervisor restarts it, and it comes back as a standby. */
const LEADERSHIP_LOST_EXIT_CODE = 75;

const logLine = (level: string, message: string, fields: Record<string, unknown> = {}): void => {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, message, ...fields })}\n`);
};
const event = (fields: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(fields)}\n`);
};

/**
 * The coordinator process: configuration from `BENCHFARM_*` environment variables, one JSON
 * line `{"event":"ready","httpUrl":...,"grpcAddress":...}` on stdout once it serves, logs on
 * stderr, and a clean stop on SIGINT / SIGTERM.
 *
 * With `BENCHFARM_HA=true` it first waits as a standby for the leader lease (stdout
 * `{"event":"standby",...}` whenever the leader changes), and exits with
 * {@link LEADERSHIP_LOST_EXIT_CODE} the moment it loses the lease while leading.
 */
async function main(): Promise<void> {
  const settings = loadSettings();
  if ('problems' in settings) {
    process.stderr.write(`${settings.problems.join('\n')}\n`);
    process.exit(2);
  }
  if (settings.leadership.enabled) await runLeaderElected(settings.config, settings.leadership);
  else await runSingle(settings.config);
}

/** Both settings groups, each validated before either is used, so every bad variable is named at once. */
function loadSettings(): { config: CoordinatorConfig; leadership: LeadershipConfig } | { problems: string[] } {
  const problems: string[] = [];
  const attempt = <T>(load: () => T): T | undefined => {
    try {
      return load();
    } catch (err) {
      if (!(err instanceof ConfigError) && !(err instanceof LeadershipConfigError)) throw err;
      problems.push(err.message);
      return undefined;
    }
  };
  const config = attempt(() => loadConfig());
  const leadership = attempt(() => loadLeadershipConfig());
  return config && leadership ? { config, leadership } : { problems };
}

async function runSingle(config: CoordinatorConfig): Promise<void> {
  const coordinator = await startCoordinator(config);
  event({ event: 'ready', httpUrl: coordinator.httpUrl, grpcAddress: coordinator.grpcAddress });
  stopOnSignals(() => coordinator.close());
}

async function runLeaderElected(config: CoordinatorConfig, leadership: LeadershipConfig): Promise<void> {
  const elected = await startLeaderElectedCoordinator(config, leadership, {
    onStandby: (holder) => event({ event: 'standby', instanceId: leadership.instanceId, leader: holder?.record ?? null }),
    onAcquired: (record) => event({ event: 'leading', instanceId: leadership.instanceId, leaderSinceUnixMs: record.sinceUnixMs }),
    onLost: (reason) => {
      // Fail-stop: no graceful close (it would go on answering agents and writing while it
      // closes, beside the new leader). Agents re-send what this process did not confirm.
      event({ event: 'leadership_lost', instanceId: leadership.instanceId, reason });
      process.exit(LEADERSHIP_LOST_EXIT_CODE);
    },
  });
  stopOnSignals(() => elected.close());
  let coordinator: RunningCoordinator;
  try {
    coordinator = await elected.serving;
  } catch (err) {
    if (err instanceof LeaderElectionStoppedError) return;
    throw err;
  }
  event({ event: 'ready', httpUrl: coordinator.httpUrl, grpcAddress: coordinator.grpcAddress, instanceId: leadership.instanceId, leaderSinceUnixMs: elected.leaderSinceUnixMs });
}

function stopOnSignals(close: () => Promise<void>): void {
  const stop = (signal: NodeJS.Signals): void => {
    logLine('info', `${signal} received, stopping`);
    close().then(
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
  logLine('error', `coordinator failed to start: ${(err as Error).message}`, { stack: (err as Error).stack });
  process.exit(1);
});
