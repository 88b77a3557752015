// Entry of `benchfarm pki` (apps/cli/src/pki.command.ts starts it with one JSON argument): the
// PKI code lives with the coordinator, and apps depend only on libs, so the CLI runs it as a child.
import { DomainError } from '../common/domain-error';
import { PkiFilesError, initPki, issueAgentFiles } from './pki-files';

type PkiRequest = { command: 'init'; dir: string; hosts: string[] } | { command: 'issue-agent'; dir: string; id: string; out: string; days?: number };

async function main(): Promise<number> {
  let request: PkiRequest;
  try {
    request = JSON.parse(process.argv[2] ?? '') as PkiRequest;
  } catch {
    process.stderr.write('benchfarm pki: expected one JSON request argument\n');
    return 2;
  }
  try {
    const { files } = request.command === 'init' ? await initPki(request.dir, request.hosts) : await issueAgentFiles(request.dir, request.id, request.out, { validityDays: request.days });
    process.stdout.write(`${files.map((f) => `wrote ${f}`).join('\n')}\n`);
    return 0;
  } catch (err) {
    if (err instanceof DomainError || err instanceof PkiFilesError) {
      const flag = err instanceof DomainError ? { agentId: '--id', hosts: '--host', validityDays: '--days' }[err.field ?? ''] : undefined;
      process.stderr.write(`benchfarm pki ${request.command}: ${flag ? `${flag}: ` : ''}${err.message}\n`);
      return 2;
    }
    throw err;
  }
}

process.exitCode = await main();
