import type { OpenAPIObject } from '@nestjs/swagger';
import type { NextFunction, Request, Response } from 'express';
import type { HttpErrorBody } from './http-error.filter';

/** The HTTP methods an OpenAPI path item may hold. */
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/** One route of the API: its path pattern and, per method, the media types its body may have. */
export interface RouteContract {
  /** The path as documented, e.g. `/sweeps/{id}`. */
  readonly template: string;
  readonly pattern: RegExp;
  /** Upper-case method -> media types of its request body; an empty list: it takes no body. */
  readonly methods: ReadonlyMap<string, readonly string[]>;
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The routes of an OpenAPI document, plus `extra` routes served outside it (`/openapi.json`).
 * Path parameters match one segment; like express, matching ignores case and a trailing slash.
 */
export function routeContractsOf(document: OpenAPIObject, extra: readonly { path: string; method: string }[] = []): RouteContract[] {
  const routes = new Map<string, Map<string, readonly string[]>>();
  for (const [template, item] of Object.entries(document.paths)) {
    const methods = new Map<string, readonly string[]>();
    for (const method of METHODS) {
      const operation = item[method];
      if (operation === undefined) continue;
      const body = operation.requestBody;
      methods.set(method.toUpperCase(), body !== undefined && 'content' in body ? Object.keys(body.content).map((t) => t.toLowerCase()) : []);
    }
    routes.set(template, methods);
  }
  for (const { path, method } of extra) {
    const methods = routes.get(path) ?? new Map<string, readonly string[]>();
    methods.set(method.toUpperCase(), []);
    routes.set(path, methods);
  }
  return [...routes].map(([template, methods]) => {
    const source = template
      .split(/(\{[^}/]+\})/)
      .map((part) => (/^\{[^}/]+\}$/.test(part) ? '[^/]+' : escapeRegExp(part)))
      .join('');
    return { template, pattern: new RegExp(`^${source}/?$`, 'i'), methods };
  });
}

/** Whether the request carries a body (RFC 9112: a Transfer-Encoding, or a non-zero Content-Length). */
function hasBody(req: Request): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length.trim() !== '0');
}

const errorBody = (statusCode: number, code: HttpErrorBody['code'], message: string, field?: string): HttpErrorBody => ({ statusCode, code, message, ...(field === undefined ? {} : { field }) });

/**
 * Holds every request to the API's route contract before a controller sees it: a known path
 * with a method it does not serve gets 405 with `Allow` (OPTIONS gets 204 with `Allow`), and a
 * body whose media type the operation does not take gets 415 naming it (a body without a
 * Content-Type counts as application/octet-stream, RFC 9110). Unknown paths pass through (404
 * from the router). Express routes GET handlers for HEAD too, so HEAD is allowed with GET.
 */
export function requestContractMiddleware(routes: readonly RouteContract[]): (req: Request, res: Response, next: NextFunction) => void {
  return (req, res, next) => {
    const matches = routes.filter((route) => route.pattern.test(req.path));
    if (matches.length === 0) {
      next();
      return;
    }
    const allowed = new Set(matches.flatMap((route) => [...route.methods.keys()]));
    if (allowed.has('GET')) allowed.add('HEAD');
    const allow = [...allowed].sort().join(', ');
    const method = req.method.toUpperCase();
    if (method === 'OPTIONS' && !allowed.has('OPTIONS')) {
      res.status(204).setHeader('Allow', `${allow}, OPTIONS`).end();
      return;
    }
    if (!allowed.has(method)) {
      res
        .status(405)
        .setHeader('Allow', allow)
        .json(errorBody(405, 'method_not_allowed', `${method} is not allowed on ${req.path}; allowed: ${allow}`));
      return;
    }
    if (!hasBody(req)) {
      next();
      return;
    }
    const accepted = [...new Set(matches.flatMap((route) => route.methods.get(method === 'HEAD' ? 'GET' : method) ?? []))].sort();
    // An operation that documents no body is left to its handler (a body there is ignored, not misread).
    if (accepted.length === 0) {
      next();
      return;
    }
    const header = req.headers['content-type'];
    const mediaType = (header ?? 'application/octet-stream').split(';')[0]?.trim().toLowerCase() ?? '';
    if (!accepted.includes(mediaType)) {
      const given = header === undefined ? 'a body with no content-type' : `content-type ${header.split(';')[0]?.trim() ?? header}`;
      res.status(415).json(errorBody(415, 'unsupported_media_type', `${given} is not accepted by ${method} ${req.path}: send ${accepted.join(' or ')}`, 'content-type'));
      return;
    }
    next();
  };
}
