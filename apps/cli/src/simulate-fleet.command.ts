// `benchfarm simulate-fleet`: the command line of simulate-fleet.ts.
import type { Command } from 'commander';
import { formatFigures } from './simulate-fleet.figures';
import { CHEAP_VARIANTS, SIMULATE_FLEET_DEFAULTS, SimulateFleetError, resolveFleetOptions, runSimulateFleet } from './simulate-fleet';

interface FleetFlags {
  agents?: string;
  variants?: string;
  variantNames?: string;
  processes?: string;
  jobMs?: string;
  queries?: string;
  nats?: string;
  grpc?: string;
  coordinatorPid?: string;
  idleMs?: string;
  fetchAgents?: string;
  fetchMb?: string;
  fetchTimeoutMs?: string;
  natsConnections?: string;
  grpcChannels?: string;
  modelCache?: string;
  healthMs?: string;
  registerTimeoutMs?: string;
  sweepTimeoutMs?: string;
  coordinatorCpuProf?: string;
  json?: boolean;
}

/**
 * Registers `benchfarm simulate-fleet`. `globalCoordinator` reads the program's `--coordinator`
 * flag (the coordinator of a farm to join; absent: a farm is started here). Exit codes: 0 when
 * every job was done once and every result stored once (or no sweep ran), 1 otherwise, 2 for bad
 * flags.
 */
export function registerSimulateFleetCommand(program: Command, globalCoordinator: () => string | undefined): void {
  program
    .command('simulate-fleet')
    .description(
      'start N simulated agents (real protocol: KV registry and heartbeat, own JetStream consumer, gRPC leases and uploads, object-store model fetch; a synthetic suite) in P processes, sweep V variants to all of them and print the figures of the coordinator, NATS and the store. Without --nats/--grpc/--coordinator a nats-server and a coordinator are started here',
    )
    .requiredOption('--agents <n>', 'simulated agents')
    .option('--variants <n>', `variants swept to every agent, the first n of ${CHEAP_VARIANTS.join(', ')} (default 0: no sweep)`)
    .option('--variant-names <list>', 'the variants by name instead (comma-separated)')
    .option('--processes <n>', 'worker processes the agents are spread over', String(SIMULATE_FLEET_DEFAULTS.processes))
    .option('--job-ms <ms>', 'wall time of one simulated job', String(SIMULATE_FLEET_DEFAULTS.jobMs))
    .option('--queries <n>', 'synthetic latencies per result (the sweep minQueries)', String(SIMULATE_FLEET_DEFAULTS.queries))
    .option('--nats <url>', 'NATS URL of a farm to join (with --grpc and --coordinator)')
    .option('--grpc <host:port>', "the farm coordinator's gRPC address")
    .option('--coordinator-pid <pid>', 'pid of the given coordinator on this machine, to read its CPU and memory from /proc')
    .option('--idle-ms <ms>', 'how long the idle heartbeat load is measured', String(SIMULATE_FLEET_DEFAULTS.idleWindowMs))
    .option('--fetch-agents <n>', 'agents that fetch one big model at once (default min(100, agents); 0 skips it)')
    .option('--fetch-mb <n>', 'size of that model, MiB', String(SIMULATE_FLEET_DEFAULTS.fetchMb))
    .option('--fetch-timeout-ms <ms>', 'an agent still reading that model after this counts as an error of the figure', String(SIMULATE_FLEET_DEFAULTS.fetchTimeoutMs))
    .option('--nats-connections <scope>', 'agent: one NATS connection per agent (as real devices); process: one per worker process', SIMULATE_FLEET_DEFAULTS.natsConnections)
    .option('--grpc-channels <scope>', 'agent: one gRPC connection per agent; process: one per worker process', SIMULATE_FLEET_DEFAULTS.grpcChannels)
    .option('--model-cache <scope>', 'process: agents of a process share fetched models; agent: each fetches its own', SIMULATE_FLEET_DEFAULTS.modelCache)
    .option('--health-ms <ms>', 'how long each simulated health check takes', String(SIMULATE_FLEET_DEFAULTS.healthCheckMs))
    .option('--register-timeout-ms <ms>', 'give up waiting for registration after this', String(SIMULATE_FLEET_DEFAULTS.registerTimeoutMs))
    .option('--sweep-timeout-ms <ms>', 'give up waiting for the results after this', String(SIMULATE_FLEET_DEFAULTS.sweepTimeoutMs))
    .option('--coordinator-cpu-prof <dir>', 'write a V8 CPU profile of the coordinator started here into this folder')
    .option('--json', 'print the figures as JSON (progress goes to stderr)')
    .action(async (flags: FleetFlags) => {
      let options;
      try {
        options = resolveFleetOptions({
          agents: flags.agents,
          variants: flags.variants,
          ...(flags.variantNames === undefined ? {} : { variantNames: flags.variantNames.split(',') }),
          processes: flags.processes,
          jobMs: flags.jobMs,
          queries: flags.queries,
          natsUrl: flags.nats,
          grpcAddress: flags.grpc,
          coordinatorUrl: globalCoordinator(),
          coordinatorPid: flags.coordinatorPid,
          idleWindowMs: flags.idleMs,
          fetchAgents: flags.fetchAgents,
          fetchMb: flags.fetchMb,
          fetchTimeoutMs: flags.fetchTimeoutMs,
          natsConnections: flags.natsConnections,
          grpcChannels: flags.grpcChannels,
          modelCache: flags.modelCache,
          healthCheckMs: flags.healthMs,
          registerTimeoutMs: flags.registerTimeoutMs,
          sweepTimeoutMs: flags.sweepTimeoutMs,
          cpuProfileDir: flags.coordinatorCpuProf,
          command: ['benchfarm', ...process.argv.slice(2)].join(' '),
        });
      } catch (err) {
        if (!(err instanceof SimulateFleetError)) throw err;
        process.stderr.write(`error: ${err.message}\n`);
        process.exitCode = 2;
        return;
      }
      const say = (line: string): void => void (flags.json ? process.stderr : process.stdout).write(`${line}\n`);
      const figures = await runSimulateFleet(options, say);
      process.stdout.write(flags.json ? `${JSON.stringify(figures, null, 2)}\n` : formatFigures(figures));
      const sweep = figures.sweep;
      const clean = 'absent' in sweep || (sweep.store.done === sweep.jobs && sweep.store.distinctResults === sweep.jobs && sweep.agents.committedOnce === sweep.jobs && sweep.agents.committedMoreThanOnce === 0);
      process.exitCode = clean && figures.registration.failed === 0 ? 0 : 1;
    });
}
