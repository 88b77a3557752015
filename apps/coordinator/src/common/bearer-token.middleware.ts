import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

/** Routes a scraper or a load balancer reads without the token. */
const OPEN_ROUTES = new Set(['/healthz', '/metrics']);
/** POST routes authenticated by their own body instead (an enrollment code). */
const OPEN_POST_ROUTES = new Set(['/v1/enroll']);

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/**
 * REST authentication: every request must carry `Authorization: Bearer <token>`, except
 * GET /healthz, GET /metrics and POST /v1/enroll (which a one-time enrollment code authenticates).
 * The comparison is constant-time (on SHA-256 digests, so the
 * token's length does not leak either). A refusal is the API's usual error body with 401.
 */
export function bearerTokenMiddleware(token: string): (req: Request, res: Response, next: NextFunction) => void {
  const expected = digest(token);
  return (req, res, next) => {
    if ((req.method === 'GET' && OPEN_ROUTES.has(req.path)) || (req.method === 'POST' && OPEN_POST_ROUTES.has(req.path))) {
      next();
      return;
    }
    const header = req.headers.authorization ?? '';
    const match = /^Bearer (\S+)$/.exec(header);
    if (match?.[1] !== undefined && timingSafeEqual(digest(match[1]), expected)) {
      next();
      return;
    }
    res.status(401).json({
      statusCode: 401,
      code: 'unauthorized',
      message: header === '' ? 'this coordinator requires an API token: send "Authorization: Bearer <token>" (benchfarm: BENCHFARM_TOKEN)' : 'the API token is not valid',
      field: 'authorization',
    });
  };
}
