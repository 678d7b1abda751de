/**
 * The HTTP side of the logs: one access log line per request (pino-http), the request id (a valid
 * `X-Request-Id` or a new one, echoed in the response), and the request scope the GraphQL work runs
 * in, so every log line about the upstream for that request carries the id.
 *
 * The access line logs the method, the path (never the query string: a GET operation's variables)
 * and the status; never a header (cookies, the router secret, an authorization).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import { pinoHttp } from 'pino-http';
import type { Logger } from 'pino';
import { headerToken, requestIdOf, runInRequest } from './request-scope.js';

export const REQUEST_ID_HEADER = 'x-request-id';

type WithId = IncomingMessage & { id?: unknown };

/** The id {@link accessLog} gave the request (a new one if it did not run). */
export function requestIdOfRequest(req: IncomingMessage): string {
  const id = (req as WithId).id;
  return typeof id === 'string' ? id : requestIdOf(req.headers[REQUEST_ID_HEADER]);
}

/** The access log and the request id; mount first. Probes are logged at debug, not info. */
export function accessLog(logger: Logger): RequestHandler {
  return pinoHttp({
    logger,
    genReqId(req: IncomingMessage, res: ServerResponse) {
      const id = requestIdOf(req.headers[REQUEST_ID_HEADER]);
      res.setHeader(REQUEST_ID_HEADER, id);
      return id;
    },
    customLogLevel(req, res, err) {
      if (err || res.statusCode >= 500) return 'error';
      if (req.url === '/health' || req.url === '/ready' || req.url === '/metrics') return 'debug';
      return 'info';
    },
    serializers: {
      req: (req: { id?: unknown; method?: string; url?: string }) => ({ id: req.id, method: req.method, url: (req.url ?? '').split('?')[0] }),
      res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
    },
    // Nothing of the request beyond the serializers above: no headers, no remote user. The id is in
    // `req.id` and, through the request scope, in `requestId`: no third copy as pino-http's `reqId`.
    wrapSerializers: false,
  }) as unknown as RequestHandler;
}

/**
 * Runs the rest of the chain in the request scope (id and caller). Mount after the body parser:
 * the scope then follows the GraphQL execution down to the legacy client.
 */
export function requestScope(callerHeader: string | undefined): RequestHandler {
  return (req, _res, next) => {
    const caller = callerHeader ? headerToken(req.headers[callerHeader]) : undefined;
    runInRequest({ requestId: requestIdOfRequest(req), ...(caller ? { caller } : {}) }, next);
  };
}
