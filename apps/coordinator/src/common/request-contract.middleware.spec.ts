import type { OpenAPIObject } from '@nestjs/swagger';
import { describe, expect, it } from 'vitest';
import { routeContractsOf } from './request-contract.middleware';

const document = {
  openapi: '3.0.0',
  info: { title: 't', version: '1' },
  paths: {
    '/sweeps': { get: { responses: {} }, post: { responses: {}, requestBody: { content: { 'multipart/form-data': {}, 'application/json': {} } } } },
    '/sweeps/{id}': { get: { responses: {} } },
    '/v1/datasets/uploads/{id}/files/{sha256}': { put: { responses: {}, requestBody: { content: { 'application/octet-stream': {} } } } },
  },
} as unknown as OpenAPIObject;

describe('routeContractsOf', () => {
  const routes = routeContractsOf(document, [{ path: '/openapi.json', method: 'get' }]);
  const match = (path: string) => routes.filter((r) => r.pattern.test(path)).map((r) => r.template);

  it('matches like express: one segment per parameter, any case, an optional trailing slash', () => {
    expect(match('/sweeps')).toEqual(['/sweeps']);
    expect(match('/SWEEPS/')).toEqual(['/sweeps']);
    expect(match('/sweeps/sweep_1')).toEqual(['/sweeps/{id}']);
    expect(match('/sweeps/a/b')).toEqual([]);
    expect(match('/sweeps/')).toEqual(['/sweeps']);
    expect(match('/v1/datasets/uploads/u1/files/abc')).toEqual(['/v1/datasets/uploads/{id}/files/{sha256}']);
    expect(match('/openapi.json')).toEqual(['/openapi.json']);
    expect(match('/openapiXjson')).toEqual([]);
  });

  it('keeps the media types each method takes (none for a bodiless operation)', () => {
    const sweeps = routes.find((r) => r.template === '/sweeps')!;
    expect([...sweeps.methods]).toEqual([
      ['GET', []],
      ['POST', ['multipart/form-data', 'application/json']],
    ]);
    expect([...routes.find((r) => r.template === '/openapi.json')!.methods]).toEqual([['GET', []]]);
  });
});
