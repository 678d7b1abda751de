/**
 * HTTP transport to one 4D REST server: an undici `Pool` (keep-alive, bounded connections), a
 * per-request timeout, and retries with exponential backoff and jitter (p-retry) where a retry is
 * safe. Knows nothing of sessions (see `sessions.ts`) or of 4D bodies beyond "has an `__ERROR`".
 *
 * Retry rules:
 * - `idempotent` (GET): connection errors (refused, reset, socket closed, DNS), 502/503/504, and any
 *   other 5xx whose body is not a 4D `__ERROR` answer. A timeout is NOT retried: the budget is per
 *   request and a hung 4D process would only multiply the wait.
 * - `unsent` (an update POST): only when the connection failed before the request was sent
 *   (refused, DNS, connect timeout). Never replayed blindly.
 * - `login` (POST `$directory/login`, or GET `$info` with HTTP Basic): like `unsent`, plus 503 (the server said it
 *   did not process it). A login opens a licensed session, so it is not replayed after a lost answer.
 *
 * Every attempt first takes a slot of the environment's {@link ConcurrencyLimiter} (when one is
 * configured) and holds it until its answer is read or it failed; the timeout starts once the slot
 * is held. Logins and `$directory/*` requests take a priority slot (never queued). A request that
 * finds no slot within the queue deadline fails with a {@link LegacyAPIConnectionError} whose
 * `notSent` is true, without any upstream request.
 */
import { Pool } from 'undici';
import pRetry from 'p-retry';
import type { Span } from '@opentelemetry/api';
import type { Logger } from 'pino';
import { QueueTimeoutError, type ConcurrencyLimiter } from './concurrency.js';
import { LegacyAPIConnectionError, readErrorStack } from './errors.js';
import { recordAttempt, tracedRequest } from './tracing.js';

/** Retry policy of a request; see the module comment. */
export type RetryPolicy = 'idempotent' | 'unsent' | 'login';

/** Route names used for metrics and logs. */
export type UpstreamRoute = 'info' | 'catalog' | 'collection' | 'entity' | 'update' | 'login' | 'logout';

/** One request to the 4D REST server. */
export interface HttpRequest {
  readonly method: 'GET' | 'POST';
  /** Path under the REST root, starting after `/rest/`, with its query string (already encoded). */
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly route: UpstreamRoute;
  readonly table?: string;
  readonly retry: RetryPolicy;
  /**
   * Called once a slot is held, right before each attempt goes out: headers decided at the last
   * moment (the session cookie: a request that waited in the queue must not carry a session that
   * died meanwhile). Throwing aborts the request with that error: nothing is sent, no retry.
   */
  readonly beforeSend?: () => Readonly<Record<string, string>>;
  /** Whether the session layer sends it on a session it already held (a trace attribute only). */
  readonly sessionReused?: boolean;
}

/** A complete answer (body fully read). */
export interface HttpResponse {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
  /** Raw `Set-Cookie` header values. */
  readonly setCookies: readonly string[];
}

/** Event passed to `onUpstreamRequest` for every HTTP attempt (including logins and retries). */
export interface UpstreamRequestEvent {
  readonly environment: string;
  readonly method: 'GET' | 'POST';
  readonly route: UpstreamRoute;
  readonly table?: string;
  /** HTTP status; absent when the attempt failed without an answer. */
  readonly status?: number;
  readonly durationMs: number;
  /** 1 for the first attempt, 2 for the first retry, … */
  readonly attempt: number;
  /** Error code (`ECONNRESET`, `TIMEOUT`, …) when the attempt failed without an answer. */
  readonly errorCode?: string;
}

/** Options of {@link HttpTransport}. */
export interface HttpTransportOptions {
  environment: string;
  /** Origin (optionally with a path prefix); a trailing `/rest` is tolerated. */
  baseUrl: string;
  /** Per-request timeout in ms (connect + headers + body). */
  timeoutMs: number;
  /** Retries after the first attempt. */
  retries: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /** Pool size. */
  connections: number;
  /** Cap on concurrent attempts (see `concurrency.ts`). Default: none. */
  limiter?: ConcurrencyLimiter;
  logger: Logger;
  onUpstreamRequest?: (event: UpstreamRequestEvent) => void;
}

/** Percent-encodes a query value: `encodeURIComponent` plus `! ' ( ) *`, so 4D sees no syntax in it. */
export function encodeQueryValue(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * Builds a query string by hand (never `URLSearchParams`, whose `+` for spaces breaks 4D).
 * Undefined values are skipped. Keys are written as-is (`$filter`, `$top`, …).
 */
export function buildQuery(params: ReadonlyArray<readonly [string, string | number | boolean | undefined]>): string {
  const parts: string[] = [];
  for (const [key, value] of params) {
    if (value === undefined) continue;
    parts.push(`${key}=${encodeQueryValue(String(value))}`);
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

/** Splits a configured base URL into the origin, the REST root path and any credentials in it. */
export function parseBaseUrl(baseUrl: string): { origin: string; restRoot: string; username?: string; password?: string } {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    throw new TypeError(`Invalid 4D base URL ${JSON.stringify(baseUrl.replace(/\/\/[^/@]*@/, '//[redacted]@'))}: expected an origin such as http://erp:8080`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`Invalid 4D base URL protocol ${JSON.stringify(url.protocol)}: expected http: or https:`);
  }
  let prefix = url.pathname.replace(/\/+$/, '');
  if (prefix.endsWith('/rest')) prefix = prefix.slice(0, -'/rest'.length);
  return {
    origin: url.origin,
    restRoot: `${prefix}/rest/`,
    username: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
  };
}

const NOT_SENT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
]);
const CONNECTION_CODES = new Set([
  ...NOT_SENT_CODES,
  'ECONNRESET',
  'EPIPE',
  'ECONNABORTED',
  'ETIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
  'UND_ERR_INFO',
  'HPE_INVALID_CONSTANT',
  'HPE_INVALID_STATUS',
  'HPE_INVALID_CHUNK_SIZE',
  'HPE_CLOSED_CONNECTION',
]);

/** Finds the most telling error code in an error, its `cause` or an `AggregateError`'s members. */
export function errorCode(error: unknown): string | undefined {
  const seen = new Set<unknown>();
  let current: unknown = error;
  while (current && typeof current === 'object' && !seen.has(current)) {
    seen.add(current);
    const e = current as { code?: unknown; errors?: unknown[]; cause?: unknown };
    if (typeof e.code === 'string' && e.code !== 'UND_ERR') return e.code;
    if (Array.isArray(e.errors) && e.errors.length) {
      const inner = errorCode(e.errors[0]);
      if (inner) return inner;
    }
    current = e.cause;
  }
  return undefined;
}

/** Internal: an attempt that produced an answer which should be retried. */
class RetryableStatus extends Error {
  constructor(readonly response: HttpResponse) {
    super(`HTTP ${response.status}`);
  }
}

/** Internal: an attempt that found no free slot within the queue deadline (nothing was sent). */
class Saturated extends Error {
  constructor(readonly timeout: QueueTimeoutError) {
    super(timeout.message);
  }
}

/** Internal: `beforeSend` refused the attempt (nothing was sent); carries its error. */
class Aborted extends Error {
  constructor(readonly reason: unknown) {
    super('aborted before sending');
  }
}

/** Internal: an attempt that failed without an answer. */
class TransportFailure extends Error {
  constructor(
    readonly code: string,
    readonly timedOut: boolean,
    readonly original: unknown,
  ) {
    super(code);
  }
}

function hasFourDError(response: HttpResponse): boolean {
  if (!response.contentType.includes('json') && !response.body.trimStart().startsWith('{')) return false;
  try {
    return (readErrorStack(JSON.parse(response.body))?.length ?? 0) > 0;
  } catch {
    return false;
  }
}

function shouldRetryStatus(policy: RetryPolicy, response: HttpResponse): boolean {
  const { status } = response;
  if (policy === 'idempotent') {
    if (status === 502 || status === 503 || status === 504) return true;
    return status >= 500 && !hasFourDError(response);
  }
  if (policy === 'login') return status === 503;
  return false;
}

function shouldRetryTransport(policy: RetryPolicy, failure: TransportFailure): boolean {
  if (failure.timedOut) return false;
  if (NOT_SENT_CODES.has(failure.code)) return true;
  return policy === 'idempotent' && CONNECTION_CODES.has(failure.code);
}

/** The transport of one environment. */
export class HttpTransport {
  readonly origin: string;
  readonly restRoot: string;
  /** Credentials found in the base URL's userinfo, if any (never logged). */
  readonly urlCredentials: { username?: string; password?: string };
  private readonly pool: Pool;
  private closed = false;

  constructor(private readonly options: HttpTransportOptions) {
    const parsed = parseBaseUrl(options.baseUrl);
    this.origin = parsed.origin;
    this.restRoot = parsed.restRoot;
    this.urlCredentials = { username: parsed.username, password: parsed.password };
    this.pool = new Pool(this.origin, {
      connections: options.connections,
      keepAliveTimeout: 30_000,
      // Backstops; the per-request AbortController below enforces the real budget.
      headersTimeout: options.timeoutMs + 1000,
      bodyTimeout: options.timeoutMs + 1000,
      connectTimeout: Math.min(options.timeoutMs, 10_000),
    });
  }

  /** Path shown in logs and error messages: no query string (no values), no credentials. */
  displayPath(path: string): string {
    return `${this.restRoot}${path.split('?')[0]}`;
  }

  /**
   * Sends a request, retrying per its policy. Resolves with the final answer whatever its status
   * (the caller interprets it); rejects with {@link LegacyAPIConnectionError} on a timeout, a
   * connection failure, or a retryable status that persisted after the retries.
   */
  send(request: HttpRequest): Promise<HttpResponse> {
    return tracedRequest(this.options.environment, request, (span) => this.sendWithRetries(request, span));
  }

  private async sendWithRetries(request: HttpRequest, span: Span): Promise<HttpResponse> {
    const { environment, retries, retryBaseMs, retryMaxMs } = this.options;
    const where = `${request.method} ${this.displayPath(request.path)}`;
    try {
      return await pRetry((attempt) => {
        recordAttempt(span, attempt);
        return this.attempt(request, attempt);
      }, {
        retries,
        factor: 2,
        minTimeout: retryBaseMs,
        maxTimeout: retryMaxMs,
        randomize: true,
        shouldRetry: ({ error, attemptNumber, retriesLeft }) => {
          let retry = false;
          if (this.closed || error instanceof Saturated || error instanceof Aborted) retry = false;
          else if (error instanceof RetryableStatus) retry = shouldRetryStatus(request.retry, error.response);
          else if (error instanceof TransportFailure) retry = shouldRetryTransport(request.retry, error);
          if (retry) {
            const reason = error instanceof RetryableStatus ? `HTTP ${error.response.status}` : error.message;
            this.options.logger.debug(
              { route: request.route, table: request.table, attempt: attemptNumber, retriesLeft, reason },
              '4D request failed; retrying',
            );
          }
          return retry;
        },
      });
    } catch (error) {
      if (error instanceof RetryableStatus) {
        // A 5xx that the policy does not retry (a 4D __ERROR answer, an update) is the caller's to interpret.
        if (!shouldRetryStatus(request.retry, error.response)) return error.response;
        throw new LegacyAPIConnectionError(
          `4D answered HTTP ${error.response.status} (retries exhausted, ${retries + 1} attempts): ${where}`,
          { status: error.response.status, environment, table: request.table, fourDErrors: [], route: request.route },
        );
      }
      if (error instanceof Aborted) throw error.reason;
      if (error instanceof Saturated) {
        throw new LegacyAPIConnectionError(`The ERP (environment ${environment}) is saturated: ${error.timeout.message}; nothing was sent: ${where}`, {
          environment,
          table: request.table,
          notSent: true,
          route: request.route,
        });
      }
      if (error instanceof TransportFailure) {
        const message = error.timedOut
          ? `4D request timed out after ${this.options.timeoutMs} ms: ${where}`
          : `4D connection failed (${error.code}): ${where}`;
        throw new LegacyAPIConnectionError(message, {
          environment,
          table: request.table,
          timeout: error.timedOut,
          // Only a connection that was never established proves the request did not arrive.
          notSent: !error.timedOut && NOT_SENT_CODES.has(error.code),
          route: request.route,
          cause: error.original,
        });
      }
      throw error;
    }
  }

  private async attempt(request: HttpRequest, attempt: number): Promise<HttpResponse> {
    let lease: { release(): void } | undefined;
    if (this.options.limiter) {
      try {
        // Logins and logouts never queue: a queue full of requests waiting for a session must not starve them.
        lease = await this.options.limiter.acquire({ priority: request.retry === 'login' || request.route === 'logout' || request.path.startsWith('$directory/') });
      } catch (error) {
        if (error instanceof QueueTimeoutError) {
          this.options.logger.warn({ route: request.route, table: request.table, waitedMs: error.waitedMs }, '4D request not sent: concurrency cap reached');
          throw new Saturated(error);
        }
        throw error;
      }
    }
    try {
      let late: Readonly<Record<string, string>> | undefined;
      try {
        late = request.beforeSend?.();
      } catch (error) {
        throw new Aborted(error);
      }
      return await this.attemptWithSlot(late ? { ...request, headers: { ...request.headers, ...late } } : request, attempt);
    } finally {
      lease?.release();
    }
  }

  private async attemptWithSlot(request: HttpRequest, attempt: number): Promise<HttpResponse> {
    const started = performance.now();
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, this.options.timeoutMs);
    const report = (status?: number, errorCode?: string) => {
      const event: UpstreamRequestEvent = {
        environment: this.options.environment,
        method: request.method,
        route: request.route,
        table: request.table,
        status,
        durationMs: performance.now() - started,
        attempt,
        errorCode,
      };
      const { environment: _env, ...fields } = event;
      void _env; // the logger's bindings carry the environment
      this.options.logger.debug({ ...fields, path: this.displayPath(request.path) }, '4D request');
      try {
        this.options.onUpstreamRequest?.(event);
      } catch {
        // A metrics callback must never break a request.
      }
    };
    let response: HttpResponse;
    try {
      const res = await this.pool.request({
        method: request.method,
        path: `${this.restRoot}${request.path}`,
        headers: {
          accept: 'application/json',
          ...(request.body !== undefined ? { 'content-type': 'application/json; charset=utf-8' } : {}),
          ...request.headers,
        },
        body: request.body,
        signal: controller.signal,
      });
      const body = await res.body.text();
      const setCookie = res.headers['set-cookie'];
      const contentType = res.headers['content-type'];
      response = {
        status: res.statusCode,
        contentType: (Array.isArray(contentType) ? contentType[0] : contentType) ?? '',
        body,
        setCookies: setCookie === undefined ? [] : Array.isArray(setCookie) ? setCookie : [setCookie],
      };
    } catch (error) {
      const code = timedOut ? 'TIMEOUT' : (errorCode(error) ?? (error instanceof Error ? error.name : 'UNKNOWN'));
      report(undefined, code);
      throw new TransportFailure(code, timedOut, error);
    } finally {
      clearTimeout(timer);
    }
    report(response.status);
    if (response.status >= 500) throw new RetryableStatus(response);
    return response;
  }

  /** Closes the pool, letting in-flight requests finish for up to `graceMs`, then destroys it. */
  async close(graceMs = 2000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), graceMs);
    });
    const result = await Promise.race([this.pool.close().then(() => 'closed' as const), grace]);
    clearTimeout(timer);
    if (result === 'timeout') await this.pool.destroy();
  }
}
