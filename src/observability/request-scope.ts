/**
 * What the process knows about the HTTP request it is working for, carried through every await
 * with `AsyncLocalStorage`: the request id (echoed in `X-Request-Id`) and the caller the router
 * named. The root logger's `mixin` ({@link requestLogFields}) adds the id to every log line written
 * while the request runs, including the legacy client's lines about the upstream, and the audit
 * log reads the caller from here. The legacy client knows nothing of it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

export interface RequestScope {
  /** Taken from a valid `X-Request-Id`, else generated. */
  readonly requestId: string;
  /** The caller the router named in the configured caller header, if any (never a secret). */
  readonly caller?: string;
}

const storage = new AsyncLocalStorage<RequestScope>();

/** The scope of the request being served, if any. */
export function currentRequest(): RequestScope | undefined {
  return storage.getStore();
}

/** Runs `fn` inside `scope`: everything it starts (awaits, timers, loaders) sees the scope. */
export function runInRequest<T>(scope: RequestScope, fn: () => T): T {
  return storage.run(scope, fn);
}

/** The pino `mixin`: `{ requestId }` inside a request (unless the line names one), nothing outside. */
export function requestLogFields(line: object = {}): Record<string, unknown> {
  const scope = storage.getStore();
  return scope && !('requestId' in line) ? { requestId: scope.requestId } : {};
}

/** Longest request id or caller taken from a header; longer ones are replaced or dropped. */
export const MAX_HEADER_ID_LENGTH = 128;

/** Printable ASCII without spaces, quotes or backslashes: safe in a log line and a response header. */
const PRINTABLE_ID = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/** `value` when it is one printable, bounded token; else `undefined`. */
export function headerToken(value: string | string[] | undefined): string | undefined {
  if (typeof value !== 'string') return undefined;
  if (value.length === 0 || value.length > MAX_HEADER_ID_LENGTH || !PRINTABLE_ID.test(value)) return undefined;
  return value;
}

/** The request id of an incoming request: its `X-Request-Id` when valid, else a new UUID. */
export function requestIdOf(header: string | string[] | undefined): string {
  return headerToken(header) ?? randomUUID();
}
