/**
 * Changes behind the graph's back, as a clerk at the 4D desktop application makes them all day: an
 * in-process API ({@link createDesktop}, `emulator.desktop`) and the emulator's control endpoint
 * (`/__control/…`, outside `/rest`, see {@link handleControl}).
 *
 * Both write through the same store code as `$method=update` / `$method=delete` (`EmulatorTable`
 * insert/update/delete), so `__STAMP`, `__TIMESTAMP` (the emulator's clock), `__GlobalStamp` and
 * `__DeletedRecords` behave exactly as for REST writes. They are not REST requests: no session, no
 * licence, no latency, no fault, and they are not counted in `counters` or `requestLog` (a test of
 * "requests per poll" sees only the client's requests).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DELETED_RECORDS, StoreError, type EmulatorDatabase, type EmulatorTable } from './data/store.js';
import { entityJson } from './http/read.js';

/** One change made through {@link DesktopUser}. */
export interface DesktopChange {
  readonly action: 'insert' | 'update' | 'delete';
  readonly table: string;
  readonly key: string;
  /**
   * The global stamp the change took: the record's `__GlobalStamp`, or after a delete the `__Stamp`
   * of its `__DeletedRecords` row. Absent when the table is untracked or tracking is off.
   */
  readonly stamp?: number;
  /** The record as `GET /rest/{table}({key})` now shows it (a copy); absent after a delete. */
  readonly entity?: Record<string, unknown>;
}

/**
 * A 4D desktop user: writes that never pass through REST. Every method throws a {@link ControlError}
 * naming what was wrong (an unknown table, a missing record, a bad value) and changes nothing then.
 */
export interface DesktopUser {
  /** Creates a record (`values.__KEY` picks its key; default a new 32-hex key). */
  insert(table: string, values?: Record<string, unknown>): DesktopChange;
  /** Saves changes to a record (an empty `changes` still saves it: `__STAMP` and the global stamp move). */
  update(table: string, key: string, changes: Record<string, unknown>): DesktopChange;
  /** Deletes a record. */
  delete(table: string, key: string): DesktopChange;
}

/** Bad input to the desktop API or the control endpoint; `status` is the HTTP status the endpoint answers. */
export class ControlError extends Error {
  override name = 'ControlError';
  constructor(
    message: string,
    readonly status: number = 400,
  ) {
    super(message);
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The desktop user of `db`; `now` is the emulator's clock (epoch ms) for `__TIMESTAMP`s. */
export function createDesktop(db: EmulatorDatabase, now: () => number): DesktopUser {
  const tableOf = (name: unknown): EmulatorTable => {
    if (typeof name !== 'string' || name === '') throw new ControlError(`table must be a table name, got ${JSON.stringify(name)}`);
    if (name === DELETED_RECORDS) throw new ControlError(`table: ${DELETED_RECORDS} is maintained by 4D's data change tracking and cannot be written`);
    const table = db.table(name);
    if (!table) throw new ControlError(`table: unknown table ${JSON.stringify(name)} (tables: ${db.tableNames().join(', ')})`);
    return table;
  };
  const keyOf = (key: unknown): string => {
    if ((typeof key !== 'string' || key === '') && (typeof key !== 'number' || !Number.isFinite(key))) {
      throw new ControlError(`key must be a record's __KEY (a non-empty string), got ${JSON.stringify(key)}`);
    }
    return String(key);
  };
  const valuesOf = (values: unknown, what: string): Record<string, unknown> => {
    if (!isPlainObject(values)) throw new ControlError(`${what} must be a JSON object of attribute values, got ${JSON.stringify(values)}`);
    return values;
  };
  const storeCall = <T>(what: string, fn: () => T): T => {
    try {
      return fn();
    } catch (e) {
      if (e instanceof StoreError) throw new ControlError(`${what}: ${e.message}`, e.status === 404 ? 404 : 400);
      throw e;
    }
  };
  const saved = (action: 'insert' | 'update', table: EmulatorTable, key: string): DesktopChange => {
    const entity = structuredClone(entityJson(table, table.get(key)!));
    const stamp = entity.__GlobalStamp;
    return { action, table: table.def.name, key, ...(typeof stamp === 'number' ? { stamp } : {}), entity };
  };

  return {
    insert(tableName, values = {}) {
      const table = tableOf(tableName);
      const row = storeCall('values', () => table.insert(valuesOf(values, 'values'), new Date(now())));
      return saved('insert', table, row.__KEY);
    },
    update(tableName, key, changes) {
      const table = tableOf(tableName);
      const k = keyOf(key);
      const fields = valuesOf(changes, 'values');
      if (!table.get(k)) throw new ControlError(`key: no record with __KEY ${JSON.stringify(k)} in ${table.def.name}`, 404);
      storeCall('values', () => table.update(k, fields, new Date(now())));
      return saved('update', table, k);
    },
    delete(tableName, key) {
      const table = tableOf(tableName);
      const k = keyOf(key);
      if (!table.get(k)) throw new ControlError(`key: no record with __KEY ${JSON.stringify(k)} in ${table.def.name}`, 404);
      const tracked = table.tracked;
      table.delete(k, new Date(now()));
      // The deletion took the stamp just below the counter.
      return { action: 'delete', table: table.def.name, key: k, ...(tracked ? { stamp: db.globalStamp - 1 } : {}) };
    },
  };
}

/** Path prefix of the control endpoint. */
export const CONTROL_PREFIX = '/__control';

/** Largest control request body (bytes). */
const MAX_CONTROL_BODY = 1024 * 1024;

/** Whether a request target is for the control endpoint. */
export function isControlPath(url: string | undefined): boolean {
  const path = (url ?? '/').split('?')[0];
  return path === CONTROL_PREFIX || path.startsWith(`${CONTROL_PREFIX}/`);
}

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let failed = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_CONTROL_BODY && !failed) {
        failed = true;
        reject(new ControlError(`the request body exceeds ${MAX_CONTROL_BODY} bytes`, 413));
        req.resume();
        return;
      }
      if (!failed) chunks.push(chunk);
    });
    req.on('error', reject);
    req.on('end', () => {
      if (failed) return;
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '') return reject(new ControlError('the request body is empty: expected a JSON object'));
      try {
        resolve(JSON.parse(text));
      } catch (e) {
        reject(new ControlError(`the request body is not valid JSON: ${(e as Error).message}`));
      }
    });
  });
}

function checkFields(body: Record<string, unknown>, allowed: readonly string[]): void {
  for (const name of Object.keys(body)) {
    if (!allowed.includes(name)) throw new ControlError(`unknown property ${JSON.stringify(name)} (expected ${allowed.join(', ')})`);
  }
}

/** What {@link handleControl} needs from the running emulator. */
export interface ControlContext {
  readonly db: EmulatorDatabase;
  readonly desktop: DesktopUser;
  readonly logger?: { info(...a: unknown[]): void };
}

/**
 * The control endpoint (only when `EmulatorOptions.control` is on), JSON in and out:
 *
 * - `POST /__control/desktop` `{ "action": "insert"|"update"|"delete", "table": "Kunden", "key"?: "…", "values"?: {…} }`
 *   → 200 `{ ok: true, action, table, key, stamp?, entity?, globalStamp }` (`key` required for update
 *   and delete, optional for insert; `values` required for update, optional for insert, not allowed for delete).
 * - `GET /__control/global-stamp` → 200 `{ globalStamp, changeTracking }`.
 * - `POST /__control/global-stamp` `{ "value": n }` → 200 `{ ok: true, globalStamp: n }` (an
 *   administrator's `setGlobalStamp`; it may go down).
 *
 * Errors: `{ "error": "<what was wrong>" }` with 400 (bad input: unknown table, attribute or
 * property, a value of the wrong type, malformed JSON; setting the stamp while tracking is off),
 * 404 (no such record, unknown control path), 405 + `Allow` (wrong verb), 413 (body over 1 MB).
 */
export async function handleControl(ctx: ControlContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const method = (req.method ?? 'GET').toUpperCase();
  const path = (req.url ?? '/').split('?')[0].replace(/\/+$/, '');
  let status = 200;
  let body: unknown;
  const headers: Record<string, string> = {};
  let action: string | undefined;
  try {
    const allow = (verbs: string): void => {
      if (!verbs.split(', ').includes(method)) {
        headers.Allow = verbs;
        throw new ControlError(`${method} is not allowed on ${path} (allowed: ${verbs})`, 405);
      }
    };
    if (path === `${CONTROL_PREFIX}/desktop`) {
      allow('POST');
      const input = await readJson(req);
      if (!isPlainObject(input)) throw new ControlError(`the body must be a JSON object { action, table, key?, values? }, got ${JSON.stringify(input)}`);
      checkFields(input, ['action', 'table', 'key', 'values']);
      action = typeof input.action === 'string' ? input.action : undefined;
      let change: DesktopChange;
      switch (input.action) {
        case 'insert': {
          const values = input.values === undefined ? {} : input.values;
          if (!isPlainObject(values)) throw new ControlError(`values must be a JSON object of attribute values, got ${JSON.stringify(values)}`);
          if (input.key !== undefined && values.__KEY !== undefined) throw new ControlError('give the new key either as key or as values.__KEY, not both');
          change = ctx.desktop.insert(input.table as string, input.key === undefined ? values : { ...values, __KEY: input.key });
          break;
        }
        case 'update':
          if (input.key === undefined) throw new ControlError('key is required for update');
          if (input.values === undefined) throw new ControlError('values is required for update');
          change = ctx.desktop.update(input.table as string, input.key as string, input.values as Record<string, unknown>);
          break;
        case 'delete':
          if (input.key === undefined) throw new ControlError('key is required for delete');
          if (input.values !== undefined) throw new ControlError('values is not allowed for delete');
          change = ctx.desktop.delete(input.table as string, input.key as string);
          break;
        default:
          throw new ControlError(`action must be "insert", "update" or "delete", got ${JSON.stringify(input.action)}`);
      }
      body = { ok: true, ...change, globalStamp: ctx.db.globalStamp };
    } else if (path === `${CONTROL_PREFIX}/global-stamp`) {
      allow('GET, POST');
      if (method === 'POST') {
        const input = await readJson(req);
        if (!isPlainObject(input)) throw new ControlError(`the body must be a JSON object { value }, got ${JSON.stringify(input)}`);
        checkFields(input, ['value']);
        action = 'setGlobalStamp';
        const value = input.value;
        if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
          throw new ControlError(`value must be an integer between 0 and ${Number.MAX_SAFE_INTEGER}, got ${JSON.stringify(value)}`);
        }
        if (!ctx.db.changeTracking) throw new ControlError('value: data change tracking is off, there is no global stamp to set');
        ctx.db.setGlobalStamp(value);
        body = { ok: true, globalStamp: ctx.db.globalStamp };
      } else {
        body = { globalStamp: ctx.db.globalStamp, changeTracking: ctx.db.changeTracking };
      }
    } else {
      throw new ControlError(`unknown control resource ${path} (POST ${CONTROL_PREFIX}/desktop, GET|POST ${CONTROL_PREFIX}/global-stamp)`, 404);
    }
  } catch (e) {
    if (!(e instanceof ControlError)) throw e;
    status = e.status;
    body = { error: e.message };
    req.resume();
  }
  ctx.logger?.info({ msg: 'control', method, path, action, status });
  if (res.destroyed || res.headersSent) return;
  const payload = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(payload), ...headers });
  res.end(payload);
}
