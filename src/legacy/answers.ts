/**
 * Reading 4D's answers: the JSON body (a gateway status or an unreadable body is an error), the
 * error stack mapped to the typed errors of `errors.ts`, entity collections and rows. Plus `getJson`,
 * the one path of every read: URL budget, shared session, answer checked.
 */
import {
  LegacyAPIConnectionError,
  LegacyAPIDataError,
  errorFromResponse,
  readErrorStack,
  type FourDErrorEntry,
} from './errors.js';
import type { HttpRequest, HttpResponse } from './http.js';
import type { Page, Row } from './client-types.js';
import type { Runtime } from './environment.js';
import { checkUrl } from './request.js';
import type { TableDef } from './tables.js';
import { isPlainObject } from './writes.js';

/** What an answer's messages name: the environment and how it shows a path. */
export type Endpoint = Pick<Runtime, 'name'> & { readonly http: Pick<Runtime['http'], 'displayPath'> };

/** The JSON of an answer; a gateway status or an unreadable body is an error. */
export function parseAnswer(rt: Endpoint, request: HttpRequest, response: HttpResponse): { status: number; json: unknown } {
  const where = `${request.method} ${rt.http.displayPath(request.path)}`;
  if (response.status === 502 || response.status === 503 || response.status === 504) {
    throw new LegacyAPIConnectionError(`4D answered HTTP ${response.status}: ${where}`, {
      status: response.status,
      environment: rt.name,
      table: request.table,
      fourDErrors: parseStackSafe(response.body),
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(response.body);
  } catch (cause) {
    const what = `(HTTP ${response.status}, ${response.contentType || 'no content type'}, ${Buffer.byteLength(response.body)} bytes)`;
    if (response.status >= 500) {
      throw new LegacyAPIConnectionError(`4D answered with a server error and a body that is not JSON ${what}: ${where}`, {
        status: response.status,
        environment: rt.name,
        table: request.table,
      });
    }
    throw new LegacyAPIDataError(`4D answered with a body that is not JSON or is truncated ${what}: ${where}`, {
      status: response.status,
      environment: rt.name,
      table: request.table,
      cause: cause instanceof Error ? new Error(cause.message) : undefined,
    });
  }
  return { status: response.status, json };
}

/** Throws the mapped error when the answer is an error (any status with `__ERROR`/`success:false`, or non-2xx). */
export function ensureOk(rt: Endpoint, request: HttpRequest, status: number, json: unknown, key?: string): void {
  const stack = readErrorStack(json);
  const statusFalse = isPlainObject(json) && isPlainObject(json.__STATUS) && json.__STATUS.success === false;
  if (status >= 200 && status < 300 && !stack?.length && !statusFalse) return;
  const where = `${request.method} ${rt.http.displayPath(request.path)}`;
  throw errorFromResponse(`4D rejected ${where} (HTTP ${status})`, {
    status,
    stack: stack ?? [],
    table: request.table,
    environment: rt.name,
    key,
  });
}

/** One page of entities (`__ENTITIES`, `__COUNT`, `__FIRST`, `__SENT`). */
export function parseCollection(rt: Pick<Runtime, 'name'>, table: TableDef, json: unknown): Page {
  if (!isPlainObject(json) || !Array.isArray(json.__ENTITIES)) {
    throw new LegacyAPIDataError(`4D answer for ${table.name} is not an entity collection (no __ENTITIES array)`, {
      environment: rt.name,
      table: table.name,
    });
  }
  const rows = json.__ENTITIES.map((e) => toRow(rt, table, e));
  const total = typeof json.__COUNT === 'number' ? json.__COUNT : undefined;
  if (total === undefined) {
    throw new LegacyAPIDataError(`4D answer for ${table.name} has no numeric __COUNT`, { environment: rt.name, table: table.name });
  }
  return {
    rows,
    total,
    first: typeof json.__FIRST === 'number' ? json.__FIRST : 0,
    sent: typeof json.__SENT === 'number' ? json.__SENT : rows.length,
    ...(typeof json.__GlobalStamp === 'number' ? { globalStamp: json.__GlobalStamp } : {}),
  };
}

/** An entity as a {@link Row}: `__KEY` required, as a string. */
export function toRow(rt: Pick<Runtime, 'name'>, table: TableDef, entity: unknown): Row {
  if (!isPlainObject(entity) || entity.__KEY === undefined || entity.__KEY === null) {
    throw new LegacyAPIDataError(`4D answer for ${table.name} contains an entity without __KEY`, { environment: rt.name, table: table.name });
  }
  return { ...entity, __KEY: String(entity.__KEY) } as Row;
}

/** The 4D error stack of a body, or none when it is not JSON. */
export function parseStackSafe(body: string): FourDErrorEntry[] {
  try {
    return readErrorStack(JSON.parse(body)) ?? [];
  } catch {
    return [];
  }
}

/** A `GET` through the shared session (URL budget checked first): the JSON of a successful answer. */
export async function getJson(rt: Runtime, maxUrlBytes: number, request: Omit<HttpRequest, 'method' | 'retry'>, key?: string): Promise<unknown> {
  const full: HttpRequest = { ...request, method: 'GET', retry: 'idempotent' };
  checkUrl(rt, maxUrlBytes, full.path, full.table);
  const { status, json } = parseAnswer(rt, full, await rt.sessions.send(full));
  ensureOk(rt, full, status, json, key);
  return json;
}
