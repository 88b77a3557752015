// Real child processes (tiny fixture entries under tsx): every way a child can end.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FixtureError } from './fixtures/fixture-error';
import { ChildEntryError, IsolatedWorkError, childEntry, reviveError, runIsolated, serializeError, spawnSupervised, startIsolated, tsxLoaderUrl } from './index';

const work = childEntry(new URL('./fixtures/work.child.ts', import.meta.url));
const stream = childEntry(new URL('./fixtures/stream.child.ts', import.meta.url));

/** Whether `pid` still runs: a zombie (dead, not yet reaped by an init that may never reap it) does not. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

const pidIn = (err: IsolatedWorkError): number => Number(/pid=(\d+)/.exec(err.stderrTail)?.[1]);

describe('serializeError / reviveError', () => {
  it('keep name, message, stack, fields and the cause chain; known classes come back as themselves', () => {
    const err = new FixtureError('worse_thing', { attempts: 2, path: '/a' }, 'outer', { cause: new RangeError('inner', { cause: 'a string cause' }) });
    const wire = JSON.parse(JSON.stringify(serializeError(err))) as ReturnType<typeof serializeError>;
    const back = reviveError(wire, { FixtureError });
    expect(back).toBeInstanceOf(FixtureError);
    expect(back).toMatchObject({ name: 'FixtureError', message: 'outer', code: 'worse_thing', detail: { attempts: 2, path: '/a' } });
    expect(back.stack).toBe(err.stack);
    const inner = back.cause as Error;
    expect(inner).not.toBeInstanceOf(FixtureError);
    expect(inner).toMatchObject({ name: 'RangeError', message: 'inner' });
    expect(inner.cause).toMatchObject({ message: 'a string cause' });
  });

  it('cut cycles and survive values JSON cannot carry', () => {
    const a = new Error('a') as Error & { big?: bigint; buf?: Uint8Array; fn?: () => void };
    a.big = 10n;
    a.buf = new Uint8Array(4);
    a.fn = () => undefined;
    a.cause = a;
    const s = serializeError(a);
    expect(s.fields).toEqual({ big: '10', buf: '[Uint8Array of 4 bytes]' });
    expect(s.cause).toBeUndefined();
    expect(serializeError('plain')).toMatchObject({ name: 'Error', message: 'plain', nonError: true });
  });
});

describe('childEntry', () => {
  it('refuses what is not a .ts file URL, naming it', () => {
    expect(() => childEntry('https://example.com/x.ts')).toThrow(ChildEntryError);
    expect(() => childEntry(new URL('./fixtures/work.child.js', import.meta.url))).toThrow(/not a TypeScript source file/);
  });

  it('runs the source under the tsx loader when not bundled', () => {
    expect(work.path.endsWith('fixtures/work.child.ts')).toBe(true);
    expect(work.execArgv[0]).toBe('--import');
    expect(work.bundleName).toBe('work.child.mjs');
  });
});

describe('runIsolated (real child processes)', () => {
  it('resolves with the answer, once the child is gone', async () => {
    const out = await runIsolated<{ echoed: unknown; pid: number }>(work, { do: 'echo', value: { a: [1, 2] } });
    expect(out.echoed).toEqual({ a: [1, 2] });
    expect(alive(out.pid)).toBe(false);
  });

  it("rejects with the child's error rebuilt: class, fields, stack and cause chain", async () => {
    const err = await rejection(runIsolated(work, { do: 'throw' }, { errors: { FixtureError } }));
    expect(err).toBeInstanceOf(FixtureError);
    expect(err).toMatchObject({ message: 'the work failed', code: 'bad_thing', detail: { attempts: 3, path: '/tmp/x' } });
    expect(err.stack).toMatch(/work\.child\.ts/);
    expect(err.cause).toMatchObject({ name: 'TypeError', message: 'could not write the cache' });
    expect((err.cause as Error).cause).toMatchObject({ name: 'Error', message: 'disk full' });
  });

  it('kills a child past its deadline (SIGTERM), and it is really gone', async () => {
    const err = (await rejection(runIsolated(work, { do: 'hang' }, { timeoutMs: 3_000 }))) as IsolatedWorkError;
    expect(err).toBeInstanceOf(IsolatedWorkError);
    expect(err).toMatchObject({ code: 'timed_out', how: 'did not finish within 3000 ms', signal: 'SIGTERM' });
    expect(err.message).toMatch(/did not finish within 3000 ms; stderr: pid=\d+/);
    expect(alive(pidIn(err))).toBe(false);
  });

  it('escalates to SIGKILL when the child ignores SIGTERM', async () => {
    const err = (await rejection(runIsolated(work, { do: 'hang', ignoreTerm: true }, { timeoutMs: 3_000, killGraceMs: 200 }))) as IsolatedWorkError;
    expect(err).toMatchObject({ code: 'timed_out', signal: 'SIGKILL' });
    expect(alive(pidIn(err))).toBe(false);
  });

  it('reports a crash by exit code with the stderr tail, bounded', async () => {
    const err = (await rejection(runIsolated(work, { do: 'exit', code: 3, stderr: `${'noise\n'.repeat(50)}the last words\n` }, { stderrTailBytes: 64 }))) as IsolatedWorkError;
    expect(err).toMatchObject({ code: 'crashed', exitCode: 3, signal: null, how: 'exited with code 3' });
    expect(err.stderrTail.length).toBeLessThanOrEqual(64);
    expect(err.message).toMatch(/exited with code 3; stderr: [\s\S]*the last words$/);
  });

  it('reports a crash by signal', async () => {
    const err = (await rejection(runIsolated(work, { do: 'signal' }))) as IsolatedWorkError;
    expect(err).toMatchObject({ code: 'crashed', signal: 'SIGSEGV', how: 'crashed (SIGSEGV)' });
    expect(err.message).toMatch(/about to crash/);
  });

  it('refuses a message that is not the protocol, and stops the child', async () => {
    const err = (await rejection(runIsolated(work, { do: 'garbage' }))) as IsolatedWorkError;
    expect(err).toMatchObject({ code: 'protocol' });
    expect(err.message).toMatch(/sent a message that is not an answer: "not a protocol message"/);
  });

  it('refuses an oversize answer, naming its size and the limit', async () => {
    const err = (await rejection(runIsolated(work, { do: 'oversize', bytes: 200_000 }, { maxMessageBytes: 100_000 }))) as IsolatedWorkError;
    expect(err).toMatchObject({ code: 'protocol' });
    expect(err.message).toMatch(/sent a message of 2000\d\d bytes, over the limit of 100000/);
  });

  it('reports a missing entry file without starting anything', async () => {
    const err = (await rejection(runIsolated(childEntry(new URL('./fixtures/none.child.ts', import.meta.url)), {}))) as IsolatedWorkError;
    expect(err).toMatchObject({ code: 'start_failed' });
    expect(err.message).toMatch(/entry file .*none\.child\.ts does not exist/);
  });
});

describe('startIsolated (streams of messages)', () => {
  it('delivers messages in order, stops on abort (killGraceMs 0: SIGKILL at once), and the child is gone', async () => {
    const seen: unknown[] = [];
    const abort = new AbortController();
    const child = startIsolated(stream, {
      signal: abort.signal,
      killGraceMs: 0,
      onMessage: (m) => {
        seen.push(m);
        if ((m as { type: string }).type === 'tick' && (m as { i: number }).i === 4) abort.abort();
      },
    });
    await child.send({ count: 5, thenHang: true });
    const exit = await child.exited;
    expect(exit).toMatchObject({ signal: 'SIGKILL', stopped: { code: 'aborted' } });
    expect(seen.map((m) => (m as { type: string }).type)).toEqual(['pid', 'tick', 'tick', 'tick', 'tick', 'tick']);
    expect(alive((seen[0] as { pid: number }).pid)).toBe(false);
  });

  it('stops a child that goes quiet (idle bound), and one whose handler throws', async () => {
    const quiet = startIsolated(stream, { idleTimeoutMs: 1_500 });
    await quiet.send({ count: 0, thenHang: true });
    expect((await quiet.exited).stopped).toMatchObject({ code: 'idle_timeout' });

    const throwing = startIsolated(stream, {
      onMessage: () => {
        throw new Error('parent bug');
      },
    });
    await throwing.send({ count: 0, thenHang: true });
    const exit = await throwing.exited;
    expect(exit.stopped).toMatchObject({ code: 'parent_error', detail: expect.stringMatching(/parent bug/) });
  });
});

describe('spawnSupervised (a program, no IPC)', () => {
  it('streams stdout, keeps the stderr tail and reports the exit code', async () => {
    let out = '';
    const proc = spawnSupervised('sh', ['-c', 'echo hello; echo oops >&2; exit 4'], { onStdout: (c) => (out += c) });
    const exit = await proc.exited;
    expect(out).toBe('hello\n');
    expect(exit).toMatchObject({ code: 4, signal: null, stderrTail: 'oops\n' });
    expect(exit.stopped).toBeUndefined();
  });

  it('stops a program past its deadline, and it is really gone', async () => {
    let pid = 0;
    const proc = spawnSupervised('sleep', ['30'], { timeoutMs: 300, onSpawn: (p) => (pid = p) });
    const exit = await proc.exited;
    expect(exit).toMatchObject({ signal: 'SIGTERM', stopped: { code: 'timed_out', detail: 'did not finish within 300 ms' } });
    expect(pid).toBeGreaterThan(0);
    expect(alive(pid)).toBe(false);
  });

  it('reports a program that cannot start as start_failed, naming why', async () => {
    const exit = await spawnSupervised('/nonexistent/benchfarm-tool', []).exited;
    expect(exit.stopped).toMatchObject({ code: 'start_failed', detail: expect.stringMatching(/ENOENT/) });
  });
});

describe('no orphans', () => {
  it('a child does not outlive a parent that dies of an uncaught error', async () => {
    const parent = fileURLToPath(new URL('./fixtures/parent.main.ts', import.meta.url));
    const { stdout, code } = await new Promise<{ stdout: string; code: number | null }>((resolve) => {
      const p = execFile(process.execPath, ['--import', tsxLoaderUrl(), parent], { timeout: 30_000 }, (_err, out, errOut) => resolve({ stdout: `${out}${errOut}`, code: p.exitCode }));
    });
    expect(code).toBe(1);
    const pid = Number(/child=(\d+)/.exec(stdout)?.[1]);
    expect(pid).toBeGreaterThan(0);
    // SIGKILL from the parent's exit hook, or the child's own exit on disconnect: either way, at once.
    for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 20));
    expect(alive(pid)).toBe(false);
  });
});
