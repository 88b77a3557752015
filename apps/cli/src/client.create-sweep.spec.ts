// CoordinatorClient.createSweep through node:http (the coordinator answers POST /sweeps only once
// every variant is derived, longer than fetch waits for headers): a real loopback HTTP server
// stands in for the coordinator's REST edge, answering late, with an error, or not at all.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { CoordinatorClient, CoordinatorRequestError, CoordinatorUnreachableError } from './client';

const dir = mkdtempSync(join(tmpdir(), 'bf-create-sweep-'));
const model = join(dir, 'tiny.onnx');
writeFileSync(model, Buffer.from('not really onnx, bytes to upload'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let server: Server | undefined;
afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

async function serve(handler: (req: IncomingMessage, body: Buffer, res: ServerResponse) => void): Promise<string> {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handler(req, Buffer.concat(chunks), res));
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return `http://127.0.0.1:${address.port}`;
}

describe('CoordinatorClient.createSweep', () => {
  it('sends the model and options as multipart with the token, and takes a late 201 answer', async () => {
    let seen: { contentType: string; authorization: string; body: string } | undefined;
    const url = await serve((req, body, res) => {
      seen = { contentType: req.headers['content-type'] ?? '', authorization: req.headers.authorization ?? '', body: body.toString('latin1') };
      setTimeout(() => {
        res.writeHead(201, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: 'sweep-1', variants: [], jobs: [] }));
      }, 1500);
    });
    const sweep = await new CoordinatorClient(url, 'secret').createSweep(model, { variants: 'fp32,int8-auto', targets: 'all' }, 'mine.onnx');
    expect(sweep).toMatchObject({ id: 'sweep-1' });
    const boundary = /^multipart\/form-data; boundary=(.+)$/.exec(seen?.contentType ?? '')?.[1];
    expect(boundary, seen?.contentType).toBeDefined();
    expect(seen?.authorization).toBe('Bearer secret');
    expect(seen?.body).toContain('name="model"; filename="mine.onnx"');
    expect(seen?.body).toContain('not really onnx, bytes to upload');
    expect(seen?.body).toMatch(/name="variants"\r\n\r\nfp32,int8-auto\r\n/);
    expect(seen?.body.trimEnd().endsWith(`--${boundary}--`)).toBe(true);
  });

  it('turns an error answer into a CoordinatorRequestError with its code and field', async () => {
    const url = await serve((_req, _body, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ code: 'invalid_argument', message: 'held-out images of int8-auto (dataset): cannot decode x.jpg', field: 'dataset' }));
    });
    await expect(new CoordinatorClient(url).createSweep(model, {})).rejects.toMatchObject({ name: 'CoordinatorRequestError', status: 400, code: 'invalid_argument', field: 'dataset' });
    await expect(new CoordinatorClient(url).createSweep(model, {})).rejects.toBeInstanceOf(CoordinatorRequestError);
  });

  it('says the coordinator is unreachable when the connection drops before an answer', async () => {
    const url = await serve((req) => req.socket.destroy());
    await expect(new CoordinatorClient(url).createSweep(model, {})).rejects.toBeInstanceOf(CoordinatorUnreachableError);
  });
});
