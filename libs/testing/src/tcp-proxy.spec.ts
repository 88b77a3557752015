import { createServer, connect, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTcpProxy, type TcpProxy } from './tcp-proxy';

describe('startTcpProxy (a pausable partition in front of a real TCP echo server)', () => {
  let echo: Server;
  let proxy: TcpProxy;
  const received = (socket: Socket): { text: () => string } => {
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      text += d;
    });
    return { text: () => text };
  };
  const until = async (what: () => boolean): Promise<void> => {
    for (let i = 0; i < 200 && !what(); i += 1) await sleep(50);
    expect(what()).toBe(true);
  };

  beforeAll(async () => {
    echo = createServer((s) => s.pipe(s));
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', () => resolve()));
    const address = echo.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    proxy = await startTcpProxy({ host: '127.0.0.1', port: address.port });
  });
  afterAll(async () => {
    await proxy.close();
    await new Promise<void>((resolve) => echo.close(() => resolve()));
  });

  it('forwards both ways, holds bytes while paused without resetting, and delivers them on resume', async () => {
    const socket = connect(proxy.port, '127.0.0.1');
    const got = received(socket);
    socket.write('one;');
    await until(() => got.text() === 'one;');
    proxy.pause();
    socket.write('two;');
    await sleep(500);
    expect(got.text()).toBe('one;');
    expect(socket.destroyed).toBe(false);
    proxy.resume();
    await until(() => got.text() === 'one;two;');
    socket.destroy();
  }, 30_000);

  it('holds a connection made during the partition and connects it on resume', async () => {
    proxy.pause();
    const socket = connect(proxy.port, '127.0.0.1');
    const got = received(socket);
    socket.write('late;');
    await sleep(500);
    expect(got.text()).toBe('');
    proxy.resume();
    await until(() => got.text() === 'late;');
    socket.destroy();
  }, 30_000);
});
