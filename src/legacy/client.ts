/**
 * The legacy 4D REST client (the WSZ_api replacement): reading tables with paging and typed filters,
 * batch lookups, single and bulk updates with optimistic locking, one shared session per environment.
 * Knows nothing of GraphQL.
 *
 * Every call validates its input against `tables.ts` before any request (a
 * {@link LegacyValidationError} costs no upstream call) and reports upstream failures as the typed
 * errors of `errors.ts`.
 */
import { pino, type Logger } from 'pino';
import { createConcurrencyLimiter, limiterKey } from './concurrency.js';
import {
  LegacyAPIConnectionError,
  LegacyAPIDataError,
  LegacyAPIError,
  LegacyBulkUpdateError,
  LegacyNotFoundError,
  LegacyStampConflictError,
  LegacyValidationError,
  LegacyWriteNotSavedError,
  LegacyWriteOutcomeUnknownError,
  errorFromResponse,
  readErrorStack,
  bulkFailureKind,
  type BulkUpdateFailure,
  type FourDErrorEntry,
  type LostWriteRecord,
} from './errors.js';
import { compileFilter, describe, filterParam, f, requireAttribute, requireTable, type CompiledFilter, type FilterValue } from './filter.js';
import { HttpTransport, buildQuery, encodeQueryValue, parseBaseUrl, type HttpRequest, type HttpResponse } from './http.js';
import { createSessionStore, type SessionStore } from './session-store.js';
import { SessionManager, type SessionState } from './sessions.js';
import type { TableDef } from './tables.js';
import {
  checkKey,
  classifyRecord,
  describeRecords,
  elementFailure,
  isPlainObject,
  stripStatus,
  summarize,
  updateElement,
  updateError,
  type UpdateElement,
} from './writes.js';

export { validateChange } from './writes.js';
export * from './client-types.js';
export { defaultOrderBy, paramsJson } from './request.js';
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
  WriteEvent,
} from './client-types.js';
import { LONGEST_SKIP, MAX_URL_BYTES, attributeList, collectionPath, compile, defaultOrderBy, orderByText, paramsJson } from './request.js';

const REDACT_PATHS = [
  'cookie',
  'cookies',
  'authorization',
  'password',
  'headers.cookie',
  'headers.authorization',
  'headers["password-4D"]',
  'headers["set-cookie"]',
  '*.cookie',
  '*.cookies',
  '*.authorization',
  '*.password',
  '*.headers.cookie',
  '*.headers.authorization',
  '*.headers["password-4D"]',
];

interface Runtime {
  readonly name: string;
  readonly http: HttpTransport;
  readonly sessions: SessionManager;
}

function positiveInt(value: number | undefined, fallback: number, name: string, min = 1): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new TypeError(`${name} must be an integer ≥ ${min}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function positiveNumber(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new TypeError(`${name} must be a number > 0, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Runs `fn` over `items` with at most `limit` at once; results in input order. Stops starting new items after a failure. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i] as T, i);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}


/** The legacy 4D REST client. Create with {@link createLegacyClient}. */
export class LegacyClient {
  private readonly runtimes = new Map<string, Runtime>();
  private readonly store: SessionStore;
  private readonly ownsStore: boolean;
  private readonly log: Logger;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly sessionTimeoutMs: number;
  private readonly breakerMs: number;
  private readonly connections: number;
  private readonly pageSize: number;
  private readonly parallelPages: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly writeRecheckDelayMs: number;
  private readonly maxUrlBytes: number;
  private readonly maxConcurrency: number;
  private readonly queueTimeoutMs: number;
  private readonly writeListeners = new Set<(event: WriteEvent) => void>();
  private closed = false;

  constructor(private readonly options: LegacyClientOptions) {
    if (!options || !isPlainObject(options.environments) || Object.keys(options.environments).length === 0) {
      throw new TypeError('LegacyClientOptions.environments must name at least one environment');
    }
    if (!Object.prototype.hasOwnProperty.call(options.environments, options.defaultEnvironment)) {
      throw new TypeError(
        `LegacyClientOptions.defaultEnvironment ${JSON.stringify(options.defaultEnvironment)} is not one of the environments: ${Object.keys(options.environments).join(', ')}`,
      );
    }
    this.timeoutMs = positiveInt(options.timeoutMs, 60_000, 'timeoutMs');
    this.retries = positiveInt(options.retries, 3, 'retries', 0);
    this.sessionTimeoutMs = positiveNumber(options.sessionTimeoutSeconds, 3500, 'sessionTimeoutSeconds') * 1000;
    this.breakerMs = positiveNumber(options.sessionLimitBreakerSeconds, 30, 'sessionLimitBreakerSeconds') * 1000;
    this.connections = positiveInt(options.connections, 8, 'connections');
    this.pageSize = positiveInt(options.pageSize, 500, 'pageSize');
    this.parallelPages = positiveInt(options.parallelPages, 4, 'parallelPages');
    this.retryBaseMs = positiveInt(options.retryBaseMs, 100, 'retryBaseMs', 0);
    this.retryMaxMs = positiveInt(options.retryMaxMs, 2000, 'retryMaxMs', 0);
    this.writeRecheckDelayMs = positiveInt(options.writeRecheckDelayMs, 1000, 'writeRecheckDelayMs', 0);
    this.maxUrlBytes = positiveInt(options.maxUrlBytes, MAX_URL_BYTES, 'maxUrlBytes', 1024);
    this.maxConcurrency = positiveInt(options.maxConcurrency, 8, 'maxConcurrency');
    this.queueTimeoutMs = positiveInt(options.queueTimeoutMs, 10_000, 'queueTimeoutMs');
    if (options.onWrite) this.writeListeners.add(options.onWrite);
    const base = options.logger ?? pino({ level: 'silent' });
    this.log = base.child({ component: 'legacy-client' }, { redact: { paths: REDACT_PATHS, censor: '[redacted]' } });
    this.ownsStore = !options.store;
    this.store = options.store ?? createSessionStore({ logger: this.log });
    // Validate every environment now, so a bad URL fails at start-up, not on the first call.
    for (const [name, env] of Object.entries(options.environments)) {
      if (!env || typeof env.baseUrl !== 'string') throw new TypeError(`Environment ${JSON.stringify(name)} needs a baseUrl`);
      if (env.auth !== undefined && env.auth !== 'login' && env.auth !== 'basic') {
        throw new TypeError(`Environment ${JSON.stringify(name)}: auth must be 'login' or 'basic', got ${JSON.stringify(env.auth)}`);
      }
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
    const logger = this.log.child({ environment: envName });
    const limiter = createConcurrencyLimiter({
      maxConcurrent: this.maxConcurrency,
      queueTimeoutMs: this.queueTimeoutMs,
      logger,
      shared: this.options.sharedConcurrency && {
        semaphore: this.options.sharedConcurrency,
        key: limiterKey(envName, parseBaseUrl(env.baseUrl).origin),
        // Longer than any attempt can take (timeout, plus undici's backstops): a crashed holder's lease ends then.
        leaseMs: this.timeoutMs + 10_000,
      },
    });
    const http = new HttpTransport({
      environment: envName,
      baseUrl: env.baseUrl,
      timeoutMs: this.timeoutMs,
      retries: this.retries,
      retryBaseMs: this.retryBaseMs,
      retryMaxMs: this.retryMaxMs,
      connections: this.connections,
      limiter,
      logger,
      onUpstreamRequest: this.options.onUpstreamRequest,
    });
    const sessions = new SessionManager({
      environment: envName,
      http,
      store: this.store,
      logger,
      credentials: { username: env.username, password: env.password, auth: env.auth ?? 'login' },
      sessionTimeoutMs: this.sessionTimeoutMs,
      breakerMs: this.breakerMs,
      requestTimeoutMs: this.timeoutMs,
      loginBudgetMs: this.timeoutMs + this.retries * (this.retryMaxMs + 100),
      now: this.options.now,
      onEvent: this.options.onSessionEvent,
    });
    const runtime: Runtime = { name: envName, http, sessions };
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

  /** Sends a request through the session layer and parses the JSON answer (errors not yet mapped). */
  private async call(rt: Runtime, request: HttpRequest): Promise<{ status: number; json: unknown }> {
    this.checkUrl(rt, request.path, request.table);
    return this.parseAnswer(rt, request, await rt.sessions.send(request));
  }

  /** The JSON of an answer; a gateway status or an unreadable body is an error. */
  private parseAnswer(rt: Runtime, request: HttpRequest, response: HttpResponse): { status: number; json: unknown } {
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
  private ensureOk(rt: Runtime, request: HttpRequest, status: number, json: unknown, key?: string): void {
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

  /**
   * Refuses a request whose URL (REST root, path and query) would exceed `maxUrlBytes`, before it
   * is sent. Given the compiled filter, the message names the value that makes it too long.
   */
  private checkUrl(rt: Runtime, path: string, table?: string, filter?: CompiledFilter): void {
    const bytes = Buffer.byteLength(rt.http.restRoot) + Buffer.byteLength(path);
    if (bytes <= this.maxUrlBytes) return;
    throw new LegacyValidationError(urlBudgetMessage(table, bytes, this.maxUrlBytes, filter), { table, environment: rt.name });
  }

  private async get(rt: Runtime, request: Omit<HttpRequest, 'method' | 'retry'>, key?: string): Promise<unknown> {
    const full: HttpRequest = { ...request, method: 'GET', retry: 'idempotent' };
    const { status, json } = await this.call(rt, full);
    this.ensureOk(rt, full, status, json, key);
    return json;
  }

  // ---------------------------------------------------------------------------------------------
  // Reading




  private parseCollection(rt: Runtime, table: TableDef, json: unknown): Page {
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
    };
  }


  /**
   * Reads one page of `table`: `$top` (default 100, always sent), `$skip`, `$orderby`, `$filter` with
   * `$params`, `$attributes`. Rows are the raw 4D entities with `__KEY` as a string.
   * @throws LegacyValidationError for an unknown table/attribute or a bad filter value (no request made)
   */
  async fetchTable(table: string, options: FetchTableOptions = {}): Promise<Page> {
    const { rt, value: path } = this.prepare(options.environment, (rt) => {
      const def = requireTable(table);
      const top = options.top ?? 100;
      const skip = options.skip ?? 0;
      if (!Number.isSafeInteger(top) || top < 0) throw new LegacyValidationError(`top must be an integer ≥ 0, got ${describe(top)}`, { table: def.name });
      if (!Number.isSafeInteger(skip) || skip < 0) throw new LegacyValidationError(`skip must be an integer ≥ 0, got ${describe(skip)}`, { table: def.name });
      const filter = compile(def, options.filter);
      const path = collectionPath(def, {
        filter,
        orderBy: orderByText(def, options.orderBy),
        attributes: attributeList(def, options.attributes),
        skip,
        top,
      });
      this.checkUrl(rt, path, def.name, filter);
      return { def, path };
    });
    const json = await this.get(rt, { path: path.path, route: 'collection', table: path.def.name });
    return this.parseCollection(rt, path.def, json);
  }

  /**
   * Reads every row of `table` matching `filter`: the first page gives `__COUNT`, the other pages are
   * fetched in parallel (at most `parallel` at once) with the same `$orderby`, so the whole read costs
   * `ceil(count / pageSize)` requests. Rows come in order, de-duplicated by `__KEY`.
   *
   * Order: the caller's `orderBy`, else {@link defaultOrderBy} (the table's natural key). Pages re-run
   * the query, so rows inserted or deleted meanwhile can shift; duplicates are dropped and a short
   * result is logged as a warning.
   */
  async fetchAll(table: string, options: FetchAllOptions = {}): Promise<Row[]> {
    const { rt, value } = this.prepare(options.environment, (rt) => {
      const def = requireTable(table);
      const pageSize = options.pageSize ?? this.pageSize;
      const parallel = options.parallel ?? this.parallelPages;
      if (!Number.isSafeInteger(pageSize) || pageSize < 1) throw new LegacyValidationError(`pageSize must be an integer ≥ 1, got ${describe(pageSize)}`, { table: def.name });
      if (!Number.isSafeInteger(parallel) || parallel < 1) throw new LegacyValidationError(`parallel must be an integer ≥ 1, got ${describe(parallel)}`, { table: def.name });
      const q = {
        def,
        pageSize,
        parallel,
        filter: compile(def, options.filter),
        orderBy: orderByText(def, options.orderBy) ?? defaultOrderBy(def),
        attributes: attributeList(def, options.attributes),
      };
      this.checkCollection(rt, q);
      return q;
    });
    return this.collect(rt, value);
  }

  /** {@link checkUrl} for every page {@link collect} may request (the longest `$skip` included). */
  private checkCollection(rt: Runtime, q: { def: TableDef; pageSize: number; filter?: CompiledFilter; orderBy: string; attributes?: string }): void {
    const path = collectionPath(q.def, { filter: q.filter, orderBy: q.orderBy, attributes: q.attributes, skip: LONGEST_SKIP, top: q.pageSize });
    this.checkUrl(rt, path, q.def.name, q.filter);
  }

  private async collect(
    rt: Runtime,
    q: { def: TableDef; pageSize: number; parallel: number; filter?: { filter: string; params: unknown[] }; orderBy: string; attributes?: string },
  ): Promise<Row[]> {
    const page = async (skip: number, top: number) => {
      const path = collectionPath(q.def, { filter: q.filter, orderBy: q.orderBy, attributes: q.attributes, skip, top });
      return this.parseCollection(rt, q.def, await this.get(rt, { path, route: 'collection', table: q.def.name }));
    };
    const first = await page(0, q.pageSize);
    // A server that caps $top (a configured maximum) sends a short first page although more rows
    // exist: page by what it actually sends, or every page would leave a gap.
    let step = q.pageSize;
    if (first.sent < q.pageSize && first.sent < first.total) {
      if (first.sent <= 0) {
        throw new LegacyAPIDataError(`4D sent no rows of ${q.def.name} although __COUNT is ${first.total}`, { environment: rt.name, table: q.def.name });
      }
      step = first.sent;
      this.log.warn({ environment: rt.name, table: q.def.name, pageSize: q.pageSize, sent: step }, 'fetchAll: 4D caps $top; paging by the rows it sends');
    }
    const remaining: number[] = [];
    for (let skip = step; skip < first.total; skip += step) remaining.push(skip);
    const pages = await mapLimit(remaining, q.parallel, (skip) => page(skip, step));
    const seen = new Set<string>();
    const rows: Row[] = [];
    for (const p of [first, ...pages]) {
      for (const row of p.rows) {
        if (seen.has(row.__KEY)) continue;
        seen.add(row.__KEY);
        rows.push(row);
      }
    }
    if (rows.length < first.total) {
      this.log.warn(
        { environment: rt.name, table: q.def.name, expected: first.total, got: rows.length },
        'fetchAll: fewer rows than __COUNT (the selection changed between pages)',
      );
    }
    return rows;
  }

  /**
   * Reads one entity by `__KEY`; `null` when 4D says it does not exist (404 / errCode 1800).
   */
  async fetchRecord(table: string, key: string, options: FetchRecordOptions = {}): Promise<Row | null> {
    const { rt, value } = this.prepare(options.environment, () => {
      const def = requireTable(table);
      const k = checkKey(def, key);
      const query = buildQuery([['$attributes', attributeList(def, options.attributes)]]);
      return { def, key: k, path: `${encodeURIComponent(def.name)}(${keyInPath(k)})${query}` };
    });
    let json: unknown;
    try {
      json = await this.get(rt, { path: value.path, route: 'entity', table: value.def.name }, value.key);
    } catch (error) {
      if (error instanceof LegacyNotFoundError) return null;
      throw error;
    }
    return toRow(rt, value.def, json);
  }

  /**
   * Batch lookup: every row whose `attribute` equals one of `values` (`attribute IN :1`), in chunks
   * that keep each URL under ~6 KB, fetched in parallel (at most `parallelPages` at once). A chunk
   * with more rows than a page is paged. Returns the rows (chunk order, de-duplicated by `__KEY`);
   * matching rows back to keys is the caller's job (4D compares text case/accent-insensitively).
   */
  async fetchByKeys(
    table: string,
    attribute: string,
    values: readonly FilterValue[],
    options: FetchByKeysOptions = {},
  ): Promise<Row[]> {
    const { rt, value } = this.prepare(options.environment, (rt) => {
      const def = requireTable(table);
      const attr = requireAttribute(def, attribute);
      if (!Array.isArray(values)) throw new LegacyValidationError(`values must be an array, got ${describe(values)}`, { table: def.name });
      // Encoded parameter → value: de-duplicates, and each value is checked and encoded once.
      const unique = new Map<string, FilterValue>();
      for (const v of values) unique.set(JSON.stringify(filterParam(def, attr, v)), v);
      const name = attr.path ?? attr.name;
      const attributes = attributeList(def, options.attributes);
      const orderBy = defaultOrderBy(def);
      // What a chunk's URL costs besides its values: measured on an empty list.
      const overhead =
        Buffer.byteLength(rt.http.restRoot) +
        collectionPath(def, { filter: { filter: `${name} IN :1`, params: [[]] }, orderBy, attributes, skip: LONGEST_SKIP, top: this.pageSize }).length;
      const chunks = chunkValues([...unique], ([encoded]) => encoded, name, this.maxUrlBytes - overhead);
      const filters = chunks.map((chunk) => compileFilter(def, f.in(name, chunk.map(([, v]) => v))));
      // Every chunk is checked before the first is sent: a value too long for any URL fails the whole call up front.
      for (const filter of filters) this.checkCollection(rt, { def, pageSize: this.pageSize, filter, orderBy, attributes });
      return { def, attributes, orderBy, filters };
    });
    if (value.filters.length === 0) return [];
    const orderBy = value.orderBy;
    const results = await mapLimit(value.filters, this.parallelPages, (filter) =>
      this.collect(rt, { def: value.def, pageSize: this.pageSize, parallel: 1, filter, orderBy, attributes: value.attributes }),
    );
    const seen = new Set<string>();
    const rows: Row[] = [];
    for (const row of results.flat()) {
      if (seen.has(row.__KEY)) continue;
      seen.add(row.__KEY);
      rows.push(row);
    }
    return rows;
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
   * @throws LegacyStampConflictError when `stamp` is not current (with the current stamp and values)
   * @throws LegacyNotFoundError when the key does not exist (errCode 1542)
   * @throws LegacyWriteNotSavedError when the answer was lost and nothing was saved (nothing sent, or the stamp unchanged)
   * @throws LegacyWriteOutcomeUnknownError when the answer was lost and the re-read cannot tell (someone else saved, re-read failed)
   */
  async update(table: string, key: string, stamp: number, changes: Record<string, unknown>, options: CallOptions = {}): Promise<Row> {
    const { rt, value } = this.prepare(options.environment, () => {
      const def = requireTable(table);
      return { def, body: updateElement(def, key, stamp, changes) };
    });
    const request: HttpRequest = {
      method: 'POST',
      path: `${encodeURIComponent(value.def.name)}${buildQuery([['$method', 'update']])}`,
      body: JSON.stringify(value.body),
      route: 'update',
      table: value.def.name,
      retry: 'unsent',
    };
    const answer = await this.sendWrite(rt, request);
    if ('lost' in answer) return (await this.afterLostAnswer(rt, value.def, [value.body], true, answer))[0]!;
    const { status, json } = answer;
    const element = isPlainObject(json) && Array.isArray(json.__ENTITIES) ? json.__ENTITIES[0] : json;
    const failure = elementFailure(element);
    if (failure) throw updateError(rt.name, value.def, value.body.__KEY, stamp, failure.stack, element, status);
    this.ensureOk(rt, request, status, json, value.body.__KEY);
    const row = toRow(rt, value.def, stripStatus(element));
    this.emitWrite(rt, value.def.name, [row.__KEY], 'saved');
    return row;
  }

  /**
   * Updates several entities of one table in ONE request (`$atomic=true` by default: all or nothing).
   * Returns the saved entities in item order. A lost answer is handled as in {@link update}, comparing
   * every item with the re-read records.
   * @throws LegacyBulkUpdateError listing each failed item (key and reason); when atomic, nothing was saved
   * @throws LegacyWriteNotSavedError / LegacyWriteOutcomeUnknownError after a lost answer (see {@link update})
   */
  async bulkUpdate(table: string, items: readonly BulkUpdateItem[], options: BulkUpdateOptions = {}): Promise<Row[]> {
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
    const request: HttpRequest = {
      method: 'POST',
      path: `${encodeURIComponent(value.def.name)}${buildQuery([['$method', 'update'], ['$atomic', atomic ? 'true' : undefined]])}`,
      body: JSON.stringify(value.body),
      route: 'update',
      table: value.def.name,
      retry: 'unsent',
    };
    const answer = await this.sendWrite(rt, request);
    if ('lost' in answer) return this.afterLostAnswer(rt, value.def, value.body, atomic, answer);
    const { status, json } = answer;
    const elements: unknown[] = isPlainObject(json) && Array.isArray(json.__ENTITIES) ? json.__ENTITIES : Array.isArray(json) ? json : [json];
    const topStack = isPlainObject(json) && !Array.isArray(json.__ENTITIES) && value.body.length > 1 ? readErrorStack(json) : undefined;
    const n = value.body.length;
    const failures: BulkUpdateFailure[] = [];
    const saved: Row[] = [];
    if (topStack?.length) {
      // The whole batch was rejected without per-element detail.
      const reason = summarize(topStack);
      const kind = bulkFailureKind(topStack.map((e) => e.errCode));
      for (let i = 0; i < n; i++) failures.push({ index: i, key: value.body[i]!.__KEY, kind, errCode: topStack[0]?.errCode, reason });
    } else {
      if (elements.length !== n) {
        throw new LegacyAPIDataError(`4D answered ${elements.length} entities for a batch of ${n} ${value.def.name} updates`, {
          environment: rt.name,
          table: value.def.name,
          status,
        });
      }
      const perElement = elements.map((el) => elementFailure(el));
      // In an atomic batch, elements rolled back only because another failed carry just the generic
      // "cannot be saved" error; list the real culprits (all of them when nothing more specific exists).
      const specific = perElement.map((fl) => !!fl && fl.stack.some((e) => e.errCode !== 1517 && e.errCode !== 1534));
      const anySpecific = specific.some(Boolean);
      perElement.forEach((fl, i) => {
        if (!fl) {
          saved.push(toRow(rt, value.def, stripStatus(elements[i])));
          return;
        }
        if (atomic && anySpecific && !specific[i]) return;
        const element = elements[i];
        const currentStamp = isPlainObject(element) && typeof element.__STAMP === 'number' && fl.stack.some((e) => e.errCode === 1263) ? element.__STAMP : undefined;
        const kind = bulkFailureKind(fl.stack.map((e) => e.errCode));
        failures.push({ index: i, key: value.body[i]!.__KEY, kind, errCode: fl.stack[0]?.errCode, reason: summarize(fl.stack), currentStamp });
      });
    }
    if (failures.length === 0 && saved.length === n) {
      this.emitWrite(rt, value.def.name, saved.map((r) => r.__KEY), 'saved');
      return saved;
    }
    if (!atomic && saved.length) this.emitWrite(rt, value.def.name, saved.map((r) => r.__KEY), 'saved');
    if (failures.length === 0) {
      throw new LegacyAPIDataError(`4D did not confirm every element of a batch of ${n} ${value.def.name} updates`, { environment: rt.name, table: value.def.name, status });
    }
    const list = failures
      .map((fl) => `#${fl.index} key ${fl.key}: ${fl.reason}${fl.currentStamp !== undefined ? ` (current stamp ${fl.currentStamp})` : ''}`)
      .join('; ');
    const tail = atomic ? ' Atomic batch: nothing was saved.' : ` Not atomic: the other ${saved.length} item(s) were saved.`;
    throw new LegacyBulkUpdateError(
      `Bulk update of ${n} ${value.def.name} entities failed for ${failures.length} item(s): ${list}.${tail}`,
      {
        environment: rt.name,
        table: value.def.name,
        status,
        failures,
        atomic,
        saved: atomic ? [] : saved,
        fourDErrors: failures.length ? [{ message: failures[0]!.reason, errCode: failures[0]!.errCode }] : [],
      },
    );
  }

  /**
   * Sets one field of one record (the old `push_data`): reads the record for its current stamp, then
   * updates that field. If the record changes between the read and the write (stamp conflict), the
   * write is retried once with the new stamp — a single-field push is last-writer-wins by design.
   * @throws LegacyValidationError before any request for an unknown table/field, a system attribute or a bad value
   * @throws LegacyNotFoundError when the record does not exist
   */
  async pushField(table: string, key: string, field: string, value: unknown, options: CallOptions = {}): Promise<Row> {
    const { value: def } = this.prepare(options.environment, () => {
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
      return await this.update(def.name, key, current.__STAMP, { [field]: value }, options);
    } catch (error) {
      if (!(error instanceof LegacyStampConflictError)) throw error;
      const stamp = error.currentStamp ?? (await this.fetchRecord(def.name, key, options))?.__STAMP;
      if (stamp === undefined) throw error;
      this.log.info({ table: def.name, key, field }, 'pushField: record changed between read and write; retrying once');
      return this.update(def.name, key, stamp, { [field]: value }, options);
    }
  }

  /**
   * Sends an update. Resolves with the parsed answer, or with `lost` when the answer never came or
   * could not be read (timeout, dropped connection, 502/504, a 2xx or 5xx body that is not JSON):
   * then `notSent` tells whether the request certainly never reached 4D. Any other failure (an answer
   * such as 503, 401 after the re-login, the licence breaker) is thrown as before: nothing was saved.
   */
  private async sendWrite(rt: Runtime, request: HttpRequest): Promise<{ status: number; json: unknown } | { lost: LegacyAPIError; notSent: boolean }> {
    this.checkUrl(rt, request.path, request.table);
    let response: HttpResponse;
    try {
      response = await rt.sessions.send(request);
    } catch (error) {
      if (!(error instanceof LegacyAPIConnectionError)) throw error;
      // The transport tags its errors with the route of the request that failed: a failure of the
      // login (or of waiting for someone else's) means this update was never sent in that cycle, and
      // 4D answers a request sent with a dead session with 401 before processing it.
      return { lost: error, notSent: error.route !== request.route || error.notSent };
    }
    try {
      return this.parseAnswer(rt, request, response);
    } catch (error) {
      // 503: 4D said it did not process it. 3xx/4xx: refused before processing.
      if (response.status === 503 || (response.status >= 300 && response.status < 500)) throw error;
      if (error instanceof LegacyAPIError) return { lost: error, notSent: false };
      throw error;
    }
  }

  /**
   * Classifies a write whose answer was lost (see `writes.ts`): resolves with the re-read rows when
   * every element was saved, else throws {@link LegacyWriteNotSavedError} or
   * {@link LegacyWriteOutcomeUnknownError}. Emits the write events. Never sends the write again.
   */
  private async afterLostAnswer(
    rt: Runtime,
    def: TableDef,
    sent: readonly UpdateElement[],
    atomic: boolean,
    lost: { lost: LegacyAPIError; notSent: boolean },
  ): Promise<Row[]> {
    const keys = sent.map((e) => e.__KEY);
    const what = sent.length === 1 ? `Update of ${def.name} ${keys[0]}` : `${atomic ? 'Atomic b' : 'B'}ulk update of ${sent.length} ${def.name} records`;
    const cause = lost.lost.message;
    const base = { environment: rt.name, table: def.name, keys, cause: lost.lost, timeout: lost.lost instanceof LegacyAPIConnectionError && lost.lost.timeout };
    if (lost.notSent) {
      const records = sent.map((e): LostWriteRecord => ({ key: e.__KEY, sentStamp: e.__STAMP, outcome: 'notSaved', reason: 'the request was never sent' }));
      throw new LegacyWriteNotSavedError(`${what} was not saved: the request never reached 4D (${cause}). It is safe to send again.`, {
        ...base,
        notSent: true,
        records,
        evidence: 'notSent',
      });
    }
    this.log.warn({ table: def.name, keys, cause }, 'update answer lost; reading the record(s) back to learn whether it was saved');
    await sleep(this.writeRecheckDelayMs);
    let current: Map<string, Row>;
    try {
      current = await this.reread(rt, def, keys);
    } catch (error) {
      const reason = `re-read failed: ${error instanceof Error ? error.message : String(error)}`;
      const records = sent.map((e): LostWriteRecord => ({ key: e.__KEY, sentStamp: e.__STAMP, outcome: 'unknown', reason }));
      this.emitWrite(rt, def.name, keys, 'unknown');
      throw new LegacyWriteOutcomeUnknownError(
        `${what}: the answer was lost (${cause}) and reading the record${sent.length > 1 ? 's' : ''} back failed, so whether it was saved is unknown. Read before sending again.`,
        { ...base, records },
      );
    }
    const records = sent.map((e) => classifyRecord(def, e, current.get(e.__KEY)));
    const count = (o: LostWriteRecord['outcome']) => records.filter((r) => r.outcome === o).length;
    const after = `${this.writeRecheckDelayMs} ms later`;
    if (count('saved') === sent.length) {
      this.log.info({ table: def.name, keys }, 'update answer lost, but the re-read shows it saved');
      this.emitWrite(rt, def.name, keys, 'saved');
      return keys.map((k) => current.get(k)!);
    }
    if (count('notSaved') === sent.length) {
      throw new LegacyWriteNotSavedError(
        `${what} was not saved: the answer was lost (${cause}) and ${after} the record${sent.length > 1 ? 's still have the stamps' : ' still has the stamp'} it was sent with. It is safe to send again.`,
        { ...base, records, evidence: 'stampUnchanged' },
      );
    }
    if (!atomic && count('unknown') === 0) {
      // A non-atomic batch may really be partly saved: say which items were.
      const savedKeys = records.filter((r) => r.outcome === 'saved').map((r) => r.key);
      this.emitWrite(rt, def.name, savedKeys, 'saved');
      throw new LegacyWriteNotSavedError(
        `${what} was partly saved: the answer was lost (${cause}); ${after}: ${describeRecords(records)}. Only the items not saved are safe to send again.`,
        { ...base, records, evidence: 'stampUnchanged', savedKeys },
      );
    }
    const maybe = records.filter((r) => r.outcome !== 'notSaved').map((r) => r.key);
    this.emitWrite(rt, def.name, maybe, 'unknown');
    const atomicNote = atomic && count('unknown') === 0 ? ' (an atomic batch cannot be partly saved: someone else saved meanwhile)' : '';
    throw new LegacyWriteOutcomeUnknownError(
      `${what}: the answer was lost (${cause}) and whether it was saved is unknown${atomicNote}; ${after}: ${describeRecords(records)}. Read before sending again.`,
      { ...base, records },
    );
  }

  /** Reads records by key straight from 4D (never from a cache), for {@link afterLostAnswer}. */
  private async reread(rt: Runtime, def: TableDef, keys: readonly string[]): Promise<Map<string, Row>> {
    const rows = new Map<string, Row>();
    if (keys.length === 1) {
      const key = keys[0]!;
      try {
        const json = await this.get(rt, { path: `${encodeURIComponent(def.name)}(${keyInPath(key)})`, route: 'entity', table: def.name }, key);
        const row = toRow(rt, def, json);
        rows.set(row.__KEY, row);
      } catch (error) {
        if (!(error instanceof LegacyNotFoundError)) throw error;
      }
      return rows;
    }
    const orderBy = defaultOrderBy(def);
    const overhead =
      Buffer.byteLength(rt.http.restRoot) +
      collectionPath(def, { filter: { filter: '__KEY IN :1', params: [[]] }, orderBy, skip: LONGEST_SKIP, top: this.pageSize }).length;
    const chunks = chunkValues(keys, (k) => JSON.stringify(k), '__KEY', this.maxUrlBytes - overhead);
    for (const chunk of chunks) {
      const filter = compileFilter(def, f.in('__KEY', chunk));
      for (const row of await this.collect(rt, { def, pageSize: this.pageSize, parallel: 1, filter, orderBy })) rows.set(row.__KEY, row);
    }
    return rows;
  }

  /** Tells every write listener; a failing listener is logged, never breaks the write. */
  private emitWrite(rt: Runtime, table: string, keys: readonly string[], outcome: WriteEvent['outcome']): void {
    if (keys.length === 0 || this.writeListeners.size === 0) return;
    const event: WriteEvent = { environment: rt.name, table, keys: [...keys], outcome };
    for (const listener of this.writeListeners) {
      try {
        listener(event);
      } catch (error) {
        this.log.warn({ err: error instanceof Error ? error.message : String(error), table }, 'write listener failed');
      }
    }
  }

  /**
   * Subscribes to write events (see {@link WriteEvent}); returns the function that unsubscribes.
   * Listeners run synchronously after the write, before the caller sees its result.
   */
  subscribeWrites(listener: (event: WriteEvent) => void): () => void {
    this.writeListeners.add(listener);
    return () => {
      this.writeListeners.delete(listener);
    };
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
    const rt = this.runtime(environment);
    const started = performance.now();
    await this.get(rt, { path: '$info', route: 'info' });
    return { environment: rt.name, durationMs: performance.now() - started };
  }

  /** Names of the dataclasses the server exposes (`GET $catalog`). */
  async listTables(environment?: string): Promise<string[]> {
    const rt = this.runtime(environment);
    const json = await this.get(rt, { path: '$catalog', route: 'catalog' });
    const list = isPlainObject(json) ? (json.dataClasses ?? json.dataClass) : undefined;
    if (!Array.isArray(list)) {
      throw new LegacyAPIDataError('4D $catalog answer has no dataClasses array', { environment: rt.name });
    }
    return list.map((d) => (isPlainObject(d) && typeof d.name === 'string' ? d.name : undefined)).filter((n): n is string => !!n);
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

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Creates a legacy client; see {@link LegacyClientOptions} for the defaults. */
export function createLegacyClient(options: LegacyClientOptions): LegacyClient {
  return new LegacyClient(options);
}

// -------------------------------------------------------------------------------------------------
// Helpers


function parseStackSafe(body: string): FourDErrorEntry[] {
  try {
    return readErrorStack(JSON.parse(body)) ?? [];
  } catch {
    return [];
  }
}


/** A key inside `Table(…)`: bare when it is plain (hex UUIDs, numbers), else quoted and encoded. */
function keyInPath(key: string): string {
  if (/^[A-Za-z0-9_.-]+$/.test(key)) return key;
  return encodeQueryValue(`"${key.replace(/"/g, '\\"')}"`);
}

function toRow(rt: Runtime, table: TableDef, entity: unknown): Row {
  if (!isPlainObject(entity) || entity.__KEY === undefined || entity.__KEY === null) {
    throw new LegacyAPIDataError(`4D answer for ${table.name} contains an entity without __KEY`, { environment: rt.name, table: table.name });
  }
  const row = { ...entity, __KEY: String(entity.__KEY) } as Row;
  return row;
}


/**
 * Splits `values` into chunks whose `$params` (and filter) take at most `budget` bytes of the URL.
 * Text values containing `@` go into separate chunks: they compile to an OR of `===` (one placeholder
 * each, so at most 100 per chunk, below 4D's 128-placeholder limit). A single value larger than the
 * budget gets a chunk of its own (and is then refused by the URL check, naming it).
 */
function chunkValues<T>(values: readonly T[], encoded: (v: T) => string, attribute: string, budget: number): T[][] {
  const plain: T[] = [];
  const withAt: T[] = [];
  for (const v of values) (encoded(v).includes('@') ? withAt : plain).push(v);
  const chunks: T[][] = [];
  const pack = (list: T[], extraPerValue: number, maxCount: number) => {
    let current: T[] = [];
    let size = 0;
    for (const v of list) {
      const cost = encodeQueryValue(encoded(v).replace(/'/g, '\\u0027')).length + 3 + extraPerValue;
      if (current.length && (size + cost > budget || current.length >= maxCount)) {
        chunks.push(current);
        current = [];
        size = 0;
      }
      current.push(v);
      size += cost;
    }
    if (current.length) chunks.push(current);
  };
  pack(plain, 0, Number.POSITIVE_INFINITY);
  pack(withAt, encodeQueryValue(` OR ${attribute} === :100`).length, 100);
  return chunks;
}

/** `attr op :n` in compiled filter text: which attribute each placeholder belongs to. */
const PLACEHOLDER_USE = /([^\s()]+)\s+(?:===|!==|==|!=|<=|>=|=|<|>|IN|%|#|begin)\s+:(\d+)\b/g;

/**
 * The message of a request refused for its URL length: names the filter value (attribute) that
 * makes it too long and how much room it had, or says the filter as a whole is too large.
 */
function urlBudgetMessage(table: string | undefined, bytes: number, budget: number, filter: CompiledFilter | undefined): string {
  const limit = `the client's URL budget of ${budget} bytes (maxUrlBytes)`;
  const generic = `The request${table ? ` to ${table}` : ''} would have a URL of ${bytes} bytes, over ${limit}`;
  if (!filter || filter.params.length === 0) return `${generic}; nothing was sent`;
  const attributeOf = new Map<number, string>();
  for (const m of filter.filter.matchAll(PLACEHOLDER_USE)) attributeOf.set(Number(m[2]), m[1]!);
  const sizes = filter.params.map((p, i) => ({ index: i + 1, param: p, bytes: encodeQueryValue(paramsJson([p])).length - 6 }));
  const largest = sizes.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  const attribute = attributeOf.get(largest.index);
  // Room left for that value once everything else is in the URL; name it when it alone is the problem.
  const room = budget - (bytes - largest.bytes);
  if (attribute && room >= 0) {
    const name = table ? `${table}.${attribute}` : attribute;
    const url = `the URL would be ${bytes} bytes, over ${limit}`;
    if (Array.isArray(largest.param)) {
      return (
        `Filter values for ${name} are too long: the ${largest.param.length} values of its "in" list take ${largest.bytes} bytes once percent-encoded and ` +
        `${url}; at most about ${room} bytes fit. Use fewer values (fetchByKeys splits long key lists); nothing was sent`
      );
    }
    return (
      `Filter value for ${name} is too long: it takes ${largest.bytes} bytes once percent-encoded and ${url}; at most about ${room} bytes fit ` +
      `(a plain letter or digit takes 1 byte, a space or punctuation 3, an umlaut 6). Use a shorter value; nothing was sent`
    );
  }
  const filterBytes = encodeQueryValue(filter.filter).length + encodeQueryValue(paramsJson(filter.params)).length;
  return `${generic}: its filter takes ${filterBytes} bytes with ${filter.params.length} value(s). Use fewer or shorter values; nothing was sent`;
}
