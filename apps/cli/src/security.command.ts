// `benchfarm security ...` and `benchfarm agent enroll`: NATS accounts and users for a secured
// farm, and enrolling an agent with a one-time code.
import { InvalidArgumentError, type Command } from 'commander';
import { readFileSync } from 'node:fs';
import { COORDINATOR_USER_NAME, FARM_ACCOUNT_NAME, parseCredsFile } from '@benchfarm/messaging';
import { SecurityFilesError, enrollAgent, initFarmSecurity, initLeafSite, requestEnrollmentCode, revokeFarmUsers } from './enrollment';

const port = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InvalidArgumentError('must be a port number from 1 to 65535');
  return n;
};

const seconds = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number of seconds >= 1');
  return n;
};

/** Runs a command body; a SecurityFilesError is bad input (exit 2) with its message, not a stack trace. */
async function guarded(body: () => Promise<void>): Promise<void> {
  try {
    await body();
  } catch (err) {
    if (!(err instanceof SecurityFilesError)) throw err;
    process.stderr.write(`error: ${err.message}\n`);
    process.exitCode = 2;
  }
}

/**
 * The program's own `--dir` (given anywhere on the line; commander hands it to the program, not
 * to the subcommand), or undefined when it was not given.
 */
function givenDir(program: Command): string | undefined {
  return program.getOptionValueSource('dir') === 'cli' ? String(program.opts().dir) : undefined;
}

/** The program's own `--coordinator`, likewise. */
function givenCoordinator(program: Command): string | undefined {
  return program.getOptionValueSource('coordinator') === 'cli' ? String(program.opts().coordinator) : undefined;
}

/** Adds `security init`, `security enrollment-code` and `agent enroll` (to the existing `agent` command). */
export function registerSecurityCommands(program: Command, coordinatorUrl: (flag: string | undefined) => string): void {
  const security = program.command('security').description('NATS accounts and users of a secured farm (operator mode, per-agent permissions)');

  security
    .command('init')
    .description('generate the NATS operator, accounts and signing key; write a nats-server config and the coordinator creds into --dir <dir> (created 0700; files 0600)')
    .option('--nats-port <port>', 'port the nats-server listens on', port, 4222)
    .option('--nats-host <host>', 'interface the nats-server listens on', '0.0.0.0')
    .action((flags: { natsPort: number; natsHost: string }) =>
      guarded(async () => {
        const dir = givenDir(program);
        if (dir === undefined) throw new SecurityFilesError('--dir <dir> is required: the folder to write the farm\'s NATS security files into');
        const files = await initFarmSecurity(dir, { natsPort: flags.natsPort, natsHost: flags.natsHost });
        process.stdout.write(
          [
            `wrote ${files.dir}:`,
            `  ${files.natsConfigFile}   nats-server config: operator mode, account ${FARM_ACCOUNT_NAME} (JetStream on), store ${files.storeDir}`,
            `  ${files.natsAuthFile}   its authentication part (operator, accounts), included by it; include it into cluster or leaf node configs too`,
            `  ${files.coordinatorCredsFile}   the coordinator's NATS user "${COORDINATOR_USER_NAME}" (secret)`,
            `  ${files.accountSigningKeyFile}   the account signing key that signs agents' users at enrollment (secret)`,
            `  ${files.dir}/operator.nk   the operator seed: re-signs the account to revoke users (\`security revoke\`); keep it here or offline (secret)`,
            '',
            'next:',
            `  1. nats-server -c ${files.natsConfigFile}`,
            `  2. start the coordinator with BENCHFARM_NATS_CREDS=${files.coordinatorCredsFile} BENCHFARM_NATS_ACCOUNT_SIGNING_KEY=${files.accountSigningKeyFile}`,
            '     (and BENCHFARM_PUBLIC_NATS_URL / BENCHFARM_PUBLIC_GRPC_ADDRESS: what agents on other machines should dial)',
            '  3. per agent: benchfarm security enrollment-code --id <agent-id>   (prints a one-time code)',
            '  4. on the agent machine: benchfarm agent enroll --coordinator http://<coordinator>:8080 --code <code> --id <agent-id> --dir <dir>',
            '     then: benchfarm agent --enrolled <dir>',
            '',
          ].join('\n'),
        );
      }),
    );

  security
    .command('enrollment-code')
    .description('ask the coordinator for a one-time code that enrolls one agent id (needs BENCHFARM_TOKEN when the coordinator has an API token)')
    .requiredOption('--id <agent-id>', 'the agent id the code enrolls')
    .option('--ttl <seconds>', 'how long the code is valid', seconds)
    .option('--json', 'print JSON')
    .action((flags: { id: string; ttl?: number; json?: boolean }) =>
      guarded(async () => {
        const code = await requestEnrollmentCode(coordinatorUrl(givenCoordinator(program)), flags.id, flags.ttl);
        process.stdout.write(flags.json ? `${JSON.stringify(code)}\n` : `enrollment code for ${code.agentId} (valid until ${code.expiresAt}, usable once):\n${code.code}\n`);
      }),
    );

  security
    .command('revoke')
    .description("revoke agents' NATS users in the nats-auth.conf of --dir <dir> (re-signed with its operator.nk); then reload nats-server (kill -HUP <pid>, or nats-server --signal reload)")
    .option('--key <U...>', "a NATS user public key to revoke (repeatable): the coordinator logs each agent's key at enrollment", (value: string, previous: string[]) => [...previous, value], [] as string[])
    .option('--creds <file>', "revoke the user of this creds file (repeatable), e.g. a lost device's agent.creds", (value: string, previous: string[]) => [...previous, value], [] as string[])
    .action((flags: { key: string[]; creds: string[] }) =>
      guarded(async () => {
        const dir = givenDir(program);
        if (dir === undefined) throw new SecurityFilesError('--dir <dir> is required: the folder of `benchfarm security init`');
        const keys = [...flags.key];
        for (const file of flags.creds) {
          try {
            keys.push(parseCredsFile(readFileSync(file, 'utf8')).userPublicKey);
          } catch (err) {
            throw new SecurityFilesError(`--creds ${file}: ${(err as Error).message}`, { cause: err });
          }
        }
        if (keys.length === 0) throw new SecurityFilesError('give at least one --key or --creds');
        const { authFile } = await revokeFarmUsers(dir, keys);
        process.stdout.write(`revoked ${keys.join(', ')} in ${authFile}\nnow reload nats-server (kill -HUP <pid>, or nats-server --signal reload): it closes and refuses their connections\n`);
      }),
    );

  security
    .command('leaf')
    .description("write what a secured edge site's leaf node needs next to deploy/nats/leaf-secured/edge.conf into --out <dir>: a copy of the farm's nats-auth.conf, the site's leaf user creds (signed with the account signing key of --dir <dir>) and leaf-site.conf (the account and the creds' path)")
    .requiredOption('--site <name>', 'the edge site (its leaf user is named leaf-<name>)')
    .requiredOption('--out <dir>', 'folder for the leaf node (created 0700; files 0600)')
    .action((flags: { site: string; out: string }) =>
      guarded(async () => {
        const dir = givenDir(program);
        if (dir === undefined) throw new SecurityFilesError('--dir <dir> is required: the folder of `benchfarm security init`');
        const leaf = await initLeafSite(dir, flags.out, { site: flags.site });
        process.stdout.write(
          [
            `wrote ${leaf.dir}:`,
            `  ${leaf.natsAuthFile}   the farm's operator and accounts (copy it again after every \`security revoke\`, then reload this leaf too)`,
            `  ${leaf.siteFile}   BENCHFARM_FARM_ACCOUNT and BENCHFARM_LEAF_CREDS for the leaf's remote`,
            `  ${leaf.credsFile}   the site's leaf user leaf-${flags.site} (secret; revoke with --key ${leaf.userPublicKey})`,
            `next: copy deploy/nats/leaf-secured/edge.conf into ${leaf.dir}, set its hub URLs, run nats-server -c ${leaf.dir}/edge.conf;`,
            '  start the coordinator with BENCHFARM_PUBLIC_NATS_JS_DOMAIN=<the hub\'s JetStream domain> before enrolling the site\'s agents',
            '',
          ].join('\n'),
        );
      }),
    );

  const agent = program.commands.find((command) => command.name() === 'agent');
  if (!agent) throw new Error('registerSecurityCommands: register the agent command first');
  agent
    .command('enroll')
    .description(
      "enroll this machine as an agent: make its keys here, get its NATS user (and gRPC client certificate) with a one-time code: --coordinator <url> (the coordinator's REST URL) and --id <agent-id> (the id the code was issued for) are required; writes into --dir <dir> (default .benchfarm/agent-credentials; created 0700, files 0600)",
    )
    .option('--code <code>', 'the one-time enrollment code (or BENCHFARM_ENROLLMENT_CODE, which keeps it out of shell history and process lists)')
    .action((flags: { code?: string }) =>
      guarded(async () => {
        const coordinator = givenCoordinator(program);
        if (coordinator === undefined) throw new SecurityFilesError("--coordinator <url> is required: the coordinator's REST URL, e.g. http://farm.lab:8080");
        // `--id` belongs to the `agent` command, which commander gives it to.
        const agentId = agent.getOptionValueSource('id') === 'cli' ? String(agent.opts().id) : undefined;
        if (agentId === undefined) throw new SecurityFilesError('--id <agent-id> is required: the agent id the code was issued for');
        const code = flags.code ?? process.env.BENCHFARM_ENROLLMENT_CODE;
        if (!code) throw new SecurityFilesError('--code <code> (or BENCHFARM_ENROLLMENT_CODE) is required: the one-time code from `benchfarm security enrollment-code`');
        const enrolled = await enrollAgent({ coordinatorUrl: coordinator, code, agentId, dir: givenDir(program) ?? '.benchfarm/agent-credentials' });
        process.stdout.write(
          [
            `enrolled as ${enrolled.record.agentId}: NATS ${enrolled.record.natsUrl}, gRPC ${enrolled.record.grpcAddress}${enrolled.tls ? ' (mTLS client certificate issued)' : ''}`,
            `credentials in ${enrolled.dir}`,
            `run: benchfarm agent --enrolled ${enrolled.dir}`,
            '',
          ].join('\n'),
        );
      }),
    );
}
