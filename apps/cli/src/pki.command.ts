// `benchfarm pki`: the farm's certificates for gRPC over TLS with mTLS. The PKI code belongs to
// the coordinator (it also signs enrolled agents' certificates) and apps import only libs, so
// this command runs the coordinator's PKI entry as a child with one JSON request.
import { spawn } from 'node:child_process';
import { join, resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { repoRoot, tsxExecArgv } from './processes';

/** The PKI entry of the coordinator the command runs. */
const PKI_ENTRY = join(repoRoot, 'apps/coordinator/src/security/pki.main.ts');

const collect = (value: string, previous: string[]): string[] => [...previous, value];

const days = (value: string): number => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number of days >= 1');
  return n;
};

/** Runs one PKI request in the child; resolves to its exit code (its output goes to ours). */
function runPki(request: Record<string, unknown>): Promise<number> {
  const child = spawn(process.execPath, [...tsxExecArgv(), PKI_ENTRY, JSON.stringify(request)], { stdio: 'inherit' });
  return new Promise<number>((done) => child.once('exit', (code) => done(code ?? 1)));
}

/**
 * The folder of `--dir`. The program itself owns `--dir` (the embedded farm's state folder, with
 * a default) and commander parses it after the subcommand too, so the PKI commands read it from
 * the program and insist it was given: a CA key must not land in a default folder by accident.
 */
function pkiDir(program: Command, what: string): string | undefined {
  if (program.getOptionValueSource('dir') !== 'cli') {
    process.stderr.write(`benchfarm pki: --dir <dir> is required (${what})\n`);
    process.exitCode = 2;
    return undefined;
  }
  return resolve(program.opts<{ dir: string }>().dir);
}

/** Registers `benchfarm pki init --dir DIR [--host name]...` and `benchfarm pki issue-agent --dir DIR --id ID --out DIR2`. */
export function registerPkiCommand(program: Command): void {
  const pki = program.command('pki').description('certificates for gRPC over TLS with mTLS (farm CA, coordinator server certificate, agent client certificates)');
  pki
    .command('init')
    .description('create a farm CA and the coordinator server certificate: ca.crt, ca.key, server.crt, server.key (keys 0600)')
    .option('--host <name>', 'DNS name or IP address agents dial the coordinator by (repeatable; localhost and 127.0.0.1 are always included)', collect, [])
    .addHelpText('after', '\n--dir <dir> (required): the folder to write them to; refused when it already holds them.')
    .action(async (flags: { host: string[] }) => {
      const dir = pkiDir(program, 'the folder to write the farm PKI to');
      if (dir !== undefined) process.exitCode = await runPki({ command: 'init', dir, hosts: flags.host });
    });
  pki
    .command('issue-agent')
    .description('issue credentials for an agent not enrolled through the coordinator: agent.key (made here, 0600), agent.crt, ca.crt')
    .requiredOption('--id <agentId>', 'the agent id the certificate names (CN and spiffe://benchfarm/agent/<id>)')
    .requiredOption('--out <dir>', "folder to write the agent's files to; copy it to the device and pass --tls-ca/--tls-cert/--tls-key")
    .option('--days <n>', 'validity in days (default 365, at most 825)', days)
    .addHelpText('after', '\n--dir <dir> (required): the farm PKI folder made by `benchfarm pki init`.')
    .action(async (flags: { id: string; out: string; days?: number }) => {
      const dir = pkiDir(program, 'the farm PKI folder made by `benchfarm pki init`');
      if (dir !== undefined) process.exitCode = await runPki({ command: 'issue-agent', dir, id: flags.id, out: resolve(flags.out), ...(flags.days === undefined ? {} : { days: flags.days }) });
    });
}
