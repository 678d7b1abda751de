/**
 * The legacy 4D REST client (the WSZ_api replacement): reading tables with paging and typed filters,
 * batch lookups, single and bulk updates with optimistic locking, one shared session per environment.
 * Knows nothing of GraphQL.
 *
 * Every call validates its input against `tables.ts` before any request (a
 * {@link LegacyValidationError} costs no upstream call) and reports upstream failures as the typed
 * errors of `errors.ts`. The work is done by: `environment.ts` (options, transport and session per
 * environment), `request.ts` (paths, URL budget), `answers.ts` (reading answers), `reads.ts`,
 * `keys.ts` (matching keys as 4D does), `write-path.ts` and `writes.ts` (updates, lost answers),
 * `write-events.ts`, `catalog.ts`.
 */
import type { Logger } from 'pino';
import { ensureOk, toRow } from './answers.js';
import { info, listTables, ping } from './catalog.js';
import {
  checkEnvironment,
  clientLogger,
  createRuntime,
  readSettings,
  type ClientSettings,
  type Runtime,
} from './environment.js';
import { LegacyAPIConnectionError, LegacyAPIDataError, LegacyAPIError, LegacyNotFoundError, LegacyStampConflictError, LegacyValidationError } from './errors.js';
import { describe, requireTable } from './filter.js';
import { buildQuery, type HttpRequest } from './http.js';
import type { LegacyPort, WriteListener } from './port.js';
import { planAll, planByKeys, planPage, planRecord, readByKeys, readPage, readRecord } from './reads.js';
import { planPull, pullPages, type PullPage } from './pull.js';
import { createSessionStore, type SessionStore } from './session-store.js';
import type { SessionState } from './sessions.js';
import { WriteEvents, type AuditListener } from './write-events.js';
import { afterLostAnswer, bulkUpdateError, readBulkAnswer, sendWrite, type WriteContext } from './write-path.js';
import { elementFailure, isPlainObject, stripStatus, updateElement, updateError } from './writes.js';
import type {
  BulkUpdateItem,
  BulkUpdateOptions,
  CallOptions,
  FetchAllOptions,
  FetchByKeysOptions,
  FetchRecordOptions,
  FetchTableOptions,
  LegacyClientOptions,
  Page,
  PingResult,
  Row,
} from './client-types.js';

export { validateChange } from './writes.js';
export * from './client-types.js';
export { defaultOrderBy, paramsJson } from './request.js';
export type { AuditEvent, AuditListener } from './write-events.js';

/** The field names of a write's changes (never their values). */
function fieldNames(changes: unknown): string[] {
  return isPlainObject(changes) ? Object.keys(changes) : [];
}

/**
 * The legacy 4D REST client, the {@link LegacyPort} to the ERP. Create with {@link createLegacyClient}.
 * It never caches: every read goes to 4D, so the `fresh` and `report` read options (for a cache in
 * front of it, see `src/cache/`) are accepted and ignored.
 */
export class LegacyClient implements LegacyPort {
  private readonly runtimes = new Map<string, Runtime>();
  private readonly store: SessionStore;
  private readonly ownsStore: boolean;
  private readonly log: Logger;
  private readonly settings: ClientSettings;
  private readonly events: WriteEvents;
  /** What the read and write modules use of the client. */
  private readonly core: WriteContext;
  private closed = false;

  constructor(private readonly options: LegacyClientOptions) {
    this.settings = readSettings(options);
    this.log = clientLogger(options);
    this.events = new WriteEvents(this.log);
    if (options.onWrite) this.events.subscribe(options.onWrite);
    this.core = { settings: this.settings, log: this.log, emit: (...args) => this.events.emit(...args) };
    this.ownsStore = !options.store;
    this.store = options.store ?? createSessionStore({ logger: this.log });
    // Validate every environment now, so a bad URL fails at start-up, not on the first call.
    for (const [name, env] of Object.entries(options.environments)) {
      checkEnvironment(name, env);
      this.runtime(name);
    }
  }

  /** Names of the configured environments. */
  environments(): string[] {
    return Object.keys(this.options.environments);
  }

  /** The default environment's name. */
  get defaultEnvironment(): string {
    return this.options.defaultEnvironment;
  }

  private runtime(name: string | undefined): Runtime {
    const envName = name ?? this.options.defaultEnvironment;
    const existing = this.runtimes.get(envName);
    if (existing) return existing;
    if (this.closed) throw new LegacyAPIConnectionError('The legacy client is closed', { environment: envName });
    const env = Object.prototype.hasOwnProperty.call(this.options.environments, envName) ? this.options.environments[envName] : undefined;
    if (!env) {
      throw new LegacyValidationError(
        `Unknown environment ${JSON.stringify(envName)}. Configured environments: ${this.environments().join(', ')}`,
        { environment: envName },
      );
    }
    const runtime = createRuntime(envName, env, this.settings, this.options, this.store, this.log);
    this.runtimes.set(envName, runtime);
    return runtime;
  }

  /** Resolves the environment first so a validation error carries its name. */
  private prepare<T>(environment: string | undefined, build: (rt: Runtime) => T): { rt: Runtime; value: T } {
    const rt = this.runtime(environment);
    try {
      return { rt, value: build(rt) };
    } catch (error) {
      if (error instanceof LegacyAPIError && !error.environment) error.environment = rt.name;
      throw error;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Reading

  /**
   * Reads one page of `table`: `$top` (default 100, always sent), `$skip`, `$orderby`, `$filter` with
   * `$params`, `$attributes`. Rows are the raw 4D entities with `__KEY` as a string.
   * @throws LegacyValidationError for an unknown table/attribute or a bad filter value (no request made)
   */
  async fetchTable(table: string, options: FetchTableOptions = {}): Promise<Page> {
    const { rt, value } = this.prepare(options.environment, (rt) => planPage(this.core, rt, table, options));
    return readPage(this.core, rt, value);
  }

  /**
   * Reads every row of `table` matching `filter`, through {@link fetchAllPages} (one query on the
   * server, a fixed membership; ordered paging where 4D refuses entity sets). Rows come in order.
   * Order: the caller's `orderBy`, else {@link defaultOrderBy} (the table's natural key).
   */
  async fetchAll(table: string, options: FetchAllOptions = {}): Promise<Row[]> {
    const rows: Row[] = [];
    for await (const page of this.fetchAllPages(table, options)) rows.push(...page.rows);
    return rows;
  }

  /**
   * The pages of {@link fetchAll} as they arrive, each requested when the previous one has been
   * consumed: an entity set created by the first request, paged with `$skip`/`$top`, holes of deleted
   * entities skipped, renewed when it expires (same membership) or a {@link LegacyEntitySetExpiredError},
   * released at the end, on an error, and when the loop is left early or `signal` aborts. Checked
   * (table, filter, URL budget) when called, before anything is sent.
   */
  fetchAllPages(table: string, options: FetchAllOptions = {}): AsyncGenerator<PullPage, void, undefined> {
    const { rt, value } = this.prepare(options.environment, (rt) => planPull(this.core, rt, planAll(this.core, rt, table, options), options));
    return pullPages(this.core, rt, value);
  }

  /**
   * Reads one entity by `__KEY`; `null` when 4D says it does not exist (404 / errCode 1800).
   */
  async fetchRecord(table: string, key: string, options: FetchRecordOptions = {}): Promise<Row | null> {
    const { rt, value } = this.prepare(options.environment, () => planRecord(table, key, options));
    return readRecord(this.core, rt, value);
  }

  /**
   * Batch lookup: the rows of each key, in the order of `keys` (one array per key, duplicates
   * included, `[]` for a key that matched nothing). One `attribute IN :1` per chunk of keys that keeps
   * the URL within `maxUrlBytes`, at most `parallelPages` chunks at once; a chunk with more rows than
   * a page is paged; rows are de-duplicated by `__KEY` across chunks. Keys are matched as 4D compares
   * (see `keys.ts`): text case- and accent-insensitively, exact matches first; on a numeric attribute
   * a key that is not a number matches nothing and is not sent. No key to send: no request. Keys may
   * be strings (the port) or numbers.
   * @throws LegacyValidationError for an unknown table/attribute, a key of the wrong type or too long for any URL (no request made)
   */
  async fetchByKeys(table: string, attribute: string, keys: readonly (string | number)[], options: FetchByKeysOptions = {}): Promise<Row[][]> {
    const { rt, value } = this.prepare(options.environment, (rt) => planByKeys(this.core, rt, table, attribute, keys, options));
    return readByKeys(this.core, rt, value);
  }

  // ---------------------------------------------------------------------------------------------
  // Writing

  /**
   * Updates one entity (`POST $method=update` with `__KEY`, `__STAMP` and the changes) and returns it
   * as saved. Changes are checked against `tables.ts` first (unknown/system attribute, wrong type →
   * {@link LegacyValidationError}, no request); dates may be ISO strings or `Date`s (sent `D!M!YYYY`).
   *
   * When the answer is lost (timeout, dropped connection, gateway error, unreadable answer) the write
   * is never replayed: after `writeRecheckDelayMs` the record is read back, and if it holds what was
   * sent the re-read row is returned as if the answer had arrived (see `writes.ts`).
   *
   * Emits one write event before it resolves or throws: `saved` (with the row), `conflict` for a
   * stale stamp, `unknown` after a lost answer the re-read cannot settle; none when nothing was saved.
   * @throws LegacyStampConflictError when `stamp` is not current (with the current stamp and values)
   * @throws LegacyNotFoundError when the key does not exist (errCode 1542)
   * @throws LegacyWriteNotSavedError when the answer was lost and nothing was saved (nothing sent, or the stamp unchanged)
   * @throws LegacyWriteOutcomeUnknownError when the answer was lost and the re-read cannot tell (someone else saved, re-read failed)
   */
  async update(table: string, key: string, stamp: number, changes: Record<string, unknown>, options: CallOptions = {}): Promise<Row> {
    return this.events.audited(this.envName(options), String(table), [key], fieldNames(changes), () => this.updateOne(table, key, stamp, changes, options, true));
  }

  /** {@link update}; `reportConflict: false` leaves a stale stamp's event to the caller (pushField retries). */
  private async updateOne(table: string, key: string, stamp: number, changes: Record<string, unknown>, options: CallOptions, reportConflict: boolean): Promise<Row> {
    const { rt, value } = this.prepare(options.environment, () => {
      const def = requireTable(table);
      return { def, body: updateElement(def, key, stamp, changes) };
    });
    const { def, body } = value;
    const request: HttpRequest = {
      method: 'POST',
      path: `${encodeURIComponent(def.name)}${buildQuery([['$method', 'update']])}`,
      body: JSON.stringify(body),
      route: 'update',
      table: def.name,
      retry: 'unsent',
    };
    const answer = await sendWrite(this.core, rt, request);
    if ('lost' in answer) return (await afterLostAnswer(this.core, rt, def, [body], true, answer))[0]!;
    let row: Row;
    try {
      const { status, json } = answer;
      const element = isPlainObject(json) && Array.isArray(json.__ENTITIES) ? json.__ENTITIES[0] : json;
      const failure = elementFailure(element);
      if (failure) throw updateError(rt.name, def, body.__KEY, stamp, failure.stack, element, status);
      ensureOk(rt, request, status, json, body.__KEY);
      row = toRow(rt, def, stripStatus(element));
    } catch (error) {
      // A stale stamp: the record changed behind this writer's back, so copies of it are old.
      if (reportConflict && error instanceof LegacyStampConflictError) await this.events.emit(rt.name, def.name, [body.__KEY], 'conflict');
      throw error;
    }
    await this.events.emit(rt.name, def.name, [row.__KEY], 'saved', [row]);
    return row;
  }

  /**
   * Updates several entities of one table in ONE request (`$atomic=true` by default: all or nothing).
   * Returns the saved entities in item order. A lost answer is handled as in {@link update}, comparing
   * every item with the re-read records. Events: `saved` for what was saved (with the rows),
   * `conflict` for the items refused for a stale stamp (a non-atomic batch can have both).
   * @throws LegacyBulkUpdateError listing each failed item (key and reason); when atomic, nothing was saved
   * @throws LegacyWriteNotSavedError / LegacyWriteOutcomeUnknownError after a lost answer (see {@link update})
   */
  async bulkUpdate(table: string, items: readonly BulkUpdateItem[], options: BulkUpdateOptions = {}): Promise<Row[]> {
    const list = Array.isArray(items) ? items : [];
    return this.events.audited(this.envName(options), String(table), list.map((i) => i?.key), list.flatMap((i) => fieldNames(i?.changes)), () => this.bulkUpdateAudited(table, items, options));
  }

  private async bulkUpdateAudited(table: string, items: readonly BulkUpdateItem[], options: BulkUpdateOptions): Promise<Row[]> {
    const atomic = options.atomic ?? true;
    const { rt, value } = this.prepare(options.environment, () => {
      const def = requireTable(table);
      if (!Array.isArray(items) || items.length === 0) {
        throw new LegacyValidationError(`bulkUpdate needs a non-empty array of { key, stamp, changes }, got ${describe(items)}`, { table: def.name });
      }
      const keys = new Set<string>();
      const body = items.map((item, i) => {
        if (!isPlainObject(item)) throw new LegacyValidationError(`bulkUpdate item #${i} must be { key, stamp, changes }, got ${describe(item)}`, { table: def.name });
        const element = updateElement(def, item.key, item.stamp, item.changes, `item #${i}: `);
        if (keys.has(element.__KEY)) {
          throw new LegacyValidationError(`bulkUpdate item #${i}: key ${element.__KEY} appears twice in one batch`, { table: def.name });
        }
        keys.add(element.__KEY);
        return element;
      });
      return { def, body };
    });
    const { def, body } = value;
    const request: HttpRequest = {
      method: 'POST',
      path: `${encodeURIComponent(def.name)}${buildQuery([['$method', 'update'], ['$atomic', atomic ? 'true' : undefined]])}`,
      body: JSON.stringify(body),
      route: 'update',
      table: def.name,
      retry: 'unsent',
    };
    const answer = await sendWrite(this.core, rt, request);
    if ('lost' in answer) return afterLostAnswer(this.core, rt, def, body, atomic, answer);
    const { saved, failures } = readBulkAnswer(rt, def, body, atomic, answer);
    const n = body.length;
    const savedKeys = saved.map((r) => r.__KEY);
    if (failures.length === 0 && saved.length === n) {
      await this.events.emit(rt.name, def.name, savedKeys, 'saved', saved);
      return saved;
    }
    if (!atomic) await this.events.emit(rt.name, def.name, savedKeys, 'saved', saved);
    await this.events.emit(rt.name, def.name, failures.filter((fl) => fl.kind === 'staleStamp').map((fl) => fl.key), 'conflict');
    if (failures.length === 0) {
      throw new LegacyAPIDataError(`4D did not confirm every element of a batch of ${n} ${def.name} updates`, { environment: rt.name, table: def.name, status: answer.status });
    }
    throw bulkUpdateError(rt, def, n, atomic, answer.status, saved, failures);
  }

  /**
   * Sets one field of one record (the old `push_data`): reads the record for its current stamp, then
   * updates that field. If the record changes between the read and the write (stamp conflict), the
   * write is retried once with the new stamp — a single-field push is last-writer-wins by design.
   * One write event, as {@link update} (a conflict only when the retry is not possible or fails).
   * @throws LegacyValidationError before any request for an unknown table/field, a system attribute or a bad value
   * @throws LegacyNotFoundError when the record does not exist
   */
  async pushField(table: string, key: string, field: string, value: unknown, options: CallOptions = {}): Promise<Row> {
    return this.events.audited(this.envName(options), String(table), [key], [String(field)], () => this.pushFieldAudited(table, key, field, value, options));
  }

  private async pushFieldAudited(table: string, key: string, field: string, value: unknown, options: CallOptions): Promise<Row> {
    const { rt, value: def } = this.prepare(options.environment, () => {
      const d = requireTable(table);
      updateElement(d, key, 0, { [field]: value });
      return d;
    });
    const current = await this.fetchRecord(def.name, key, options);
    if (!current) {
      throw new LegacyNotFoundError(`No ${def.name} record with key ${key}`, {
        environment: options.environment ?? this.options.defaultEnvironment,
        table: def.name,
        key,
      });
    }
    try {
      return await this.updateOne(def.name, key, current.__STAMP, { [field]: value }, options, false);
    } catch (error) {
      if (!(error instanceof LegacyStampConflictError)) throw error;
      let stamp: number | undefined;
      try {
        stamp = error.currentStamp ?? (await this.fetchRecord(def.name, key, options))?.__STAMP;
      } finally {
        if (stamp === undefined) await this.events.emit(rt.name, def.name, [error.key], 'conflict');
      }
      if (stamp === undefined) throw error;
      this.log.info({ table: def.name, key, field }, 'pushField: record changed between read and write; retrying once');
      return this.update(def.name, key, stamp, { [field]: value }, options);
    }
  }

  /**
   * Subscribes to write events (see {@link WriteEvent}); returns the function that unsubscribes.
   * A listener may return a promise: the write resolves (or rejects) only after every listener
   * settled. A listener that fails is logged and changes nothing.
   */
  subscribeWrites(listener: WriteListener): () => void {
    return this.events.subscribe(listener);
  }

  /** Subscribes to the audit events of every write, failed ones included (see `write-events.ts`). */
  subscribeAudit(listener: AuditListener): () => void {
    return this.events.subscribeAudit(listener);
  }

  private envName(options: CallOptions): string {
    return options.environment ?? this.options.defaultEnvironment;
  }

  // ---------------------------------------------------------------------------------------------
  // Sessions and diagnostics

  /** The `Cookie` header value of the environment's shared 4D session, logging in if needed (compatibility module only). */
  async getSessionCookie(environment?: string): Promise<string> {
    return this.runtime(environment).sessions.cookie();
  }

  /**
   * Ends the environment's shared 4D session (`$directory/logout`) and removes it from the store,
   * freeing its licence; the next call logs in again. Resolves `false` when there was none.
   */
  async logout(environment?: string): Promise<boolean> {
    return this.runtime(environment).sessions.logout();
  }

  /** Session and breaker state of an environment, without any cookie value. */
  async sessionState(environment?: string): Promise<SessionState> {
    return this.runtime(environment).sessions.state();
  }

  /** `GET $info` through the shared session: resolves when the environment answers (readiness). */
  async ping(environment?: string): Promise<PingResult> {
    return ping(this.runtime(environment), this.settings.maxUrlBytes);
  }

  /** `GET $info` as 4D answers it (the change watcher reads `hasDataChangeTracking`). */
  async info(environment?: string): Promise<Record<string, unknown>> {
    return info(this.runtime(environment), this.settings.maxUrlBytes);
  }

  /** Names of the dataclasses the server exposes (`GET $catalog`). */
  async listTables(environment?: string): Promise<string[]> {
    return listTables(this.runtime(environment), this.settings.maxUrlBytes);
  }

  /** Closes the connection pools, and the session store when the client created it. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // A session only this process knows is logged out (its licence would sit idle for an hour);
    // a shared one (Redis, file) stays for the other processes.
    await Promise.all([...this.runtimes.values()].map((rt) => rt.sessions.close()));
    await Promise.all([...this.runtimes.values()].map((rt) => rt.http.close()));
    if (this.ownsStore) await this.store.close();
  }
}

/** Creates a legacy client; see {@link LegacyClientOptions} for the defaults. */
export function createLegacyClient(options: LegacyClientOptions): LegacyClient {
  return new LegacyClient(options);
}
