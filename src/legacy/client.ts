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
import { CodecError, encodeDate } from './codecs.js';
import {
  LegacyAPIConnectionError,
  LegacyAPIDataError,
  LegacyAPIError,
  LegacyBulkUpdateError,
  LegacyNotFoundError,
  LegacyStampConflictError,
  LegacyValidationError,
  errorFromResponse,
  readErrorStack,
  bulkFailureKind,
  type BulkUpdateFailure,
  type FourDErrorEntry,
} from './errors.js';
import { attributeNames, compileFilter, describe, filterParam, f, requireAttribute, requireTable, type FilterNode, type FilterValue, type RawFilter } from './filter.js';
import { HttpTransport, buildQuery, encodeQueryValue, type HttpRequest, type UpstreamRequestEvent } from './http.js';
import { createSessionStore, type SessionStore } from './session-store.js';
import { SessionManager, type SessionState } from './sessions.js';
import { SYSTEM_ATTRIBUTES, type AttributeDef, type TableDef } from './tables.js';

/** One configured 4D server. */
export interface LegacyEnvironment {
  /** Origin, e.g. `http://erp:8080`; a trailing `/rest` is tolerated. */
  baseUrl: string;
  /** 4D user name. Without one, the session is opened with an anonymous `GET $info`. */
  username?: string;
  password?: string;
  /**
   * `'login'` (default): `POST $directory/login` with `username-4D`/`password-4D` headers.
   * `'basic'`: HTTP Basic `Authorization` on `GET $info` to open the session.
   */
  auth?: 'login' | 'basic';
}

/** Options of {@link createLegacyClient}. */
export interface LegacyClientOptions {
  /** Environments by name (`test`, `live`, …). */
  environments: Record<string, LegacyEnvironment>;
  /** Environment used when a call names none. */
  defaultEnvironment: string;
  /** Per-request timeout in ms (connect + headers + body). Default 60000. */
  timeoutMs?: number;
  /** Retries after the first attempt, where a retry is safe (see `http.ts`). Default 3. */
  retries?: number;
  /** A stored session idle for longer than this is refreshed before use. Default 3500 (4D: 3600). */
  sessionTimeoutSeconds?: number;
  /** After a 402 (no licence left) no login is attempted for this long; calls fail fast. Default 30. */
  sessionLimitBreakerSeconds?: number;
  /** undici Pool size (keep-alive connections) per environment. Default 8. */
  connections?: number;
  /** Page size of {@link LegacyClient.fetchAll}. Default 500. */
  pageSize?: number;
  /** Pages fetched at once by {@link LegacyClient.fetchAll}, and chunks by `fetchByKeys`. Default 4. */
  parallelPages?: number;
  /** Session store shared by the processes. Default: a new in-memory store (closed by `close()`). */
  store?: SessionStore;
  /** Logger (cookie, authorization and password paths are redacted). Default: silent. */
  logger?: Logger;
  /** First retry delay in ms (doubles each retry, with jitter). Default 100. */
  retryBaseMs?: number;
  /** Largest retry delay in ms. Default 2000. */
  retryMaxMs?: number;
  /** Called for every HTTP attempt (logins and retries included), e.g. for metrics. Default none. */
  onUpstreamRequest?: (event: UpstreamRequestEvent) => void;
}

/** A 4D entity as it comes over the wire (dates `D!M!YYYY`, `__KEY` always a string). */
export type Row = Record<string, unknown> & { __KEY: string; __STAMP: number; __TIMESTAMP?: string };

/** `'Nummer asc, Bezeichnung desc'` or `[['Nummer', 'asc'], ['Bezeichnung', 'desc']]`. */
export type OrderBy = string | ReadonlyArray<readonly [string, 'asc' | 'desc']>;

/** Options every call accepts. */
export interface CallOptions {
  /** Environment name; default the client's `defaultEnvironment`. */
  environment?: string;
}

/** Options of {@link LegacyClient.fetchTable}. */
export interface FetchTableOptions extends CallOptions {
  filter?: FilterNode | RawFilter;
  orderBy?: OrderBy;
  /** `$top`; default 100 (4D's own default, sent explicitly). */
  top?: number;
  /** `$skip`; default 0. */
  skip?: number;
  /** Attributes to return (system attributes always come); default all. */
  attributes?: readonly string[];
}

/** One page of a table. */
export interface Page {
  rows: Row[];
  /** `__COUNT`: size of the whole selection. */
  total: number;
  /** `__FIRST`. */
  first: number;
  /** `__SENT`. */
  sent: number;
}

/** Options of {@link LegacyClient.fetchAll}. */
export interface FetchAllOptions extends CallOptions {
  filter?: FilterNode | RawFilter;
  attributes?: readonly string[];
  /** Default: the table's natural key order (see {@link defaultOrderBy}). */
  orderBy?: OrderBy;
  /** Default: the client's `pageSize` (500). */
  pageSize?: number;
  /** Default: the client's `parallelPages` (4). */
  parallel?: number;
}

/** Options of {@link LegacyClient.fetchByKeys}. */
export interface FetchByKeysOptions extends CallOptions {
  attributes?: readonly string[];
}

/** Options of {@link LegacyClient.fetchRecord}. */
export interface FetchRecordOptions extends CallOptions {
  attributes?: readonly string[];
}

/** One element of {@link LegacyClient.bulkUpdate}. */
export interface BulkUpdateItem {
  key: string;
  stamp: number;
  changes: Record<string, unknown>;
}

/** Options of {@link LegacyClient.bulkUpdate}. */
export interface BulkUpdateOptions extends CallOptions {
  /** `$atomic=true`: all or nothing. Default true. */
  atomic?: boolean;
}

/** Result of {@link LegacyClient.ping}. */
export interface PingResult {
  environment: string;
  durationMs: number;
}

/** Budget for one request URL (4D and proxies commonly accept 8 KB; keep well below). */
const MAX_URL_BYTES = 6000;

/**
 * Sort orders that make paging deterministic: the natural (unique where possible) key of each table.
 * Tables not listed use their first indexed attribute. 4D (and the emulator) do not document a tie
 * order, so a non-unique order could shift rows between pages; `fetchAll` de-duplicates by `__KEY`
 * and logs a warning when the result is short of `__COUNT`.
 */
const NATURAL_ORDER: Readonly<Record<string, readonly string[]>> = {
  Artikel_Familie: ['Nummer'],
  Artikel_Variante: ['Nummer'],
  Kunden: ['KundenNr'],
  Adressen: ['AdrNr'],
  Belege: ['AbsNr'],
  Belege_Pos: ['AbsNr', 'PosNr'],
  Formen: ['FormNr'],
  Form_Artikel: ['FormNr', 'ArtNr'],
  Werksauftraege: ['WerkAufNr'],
  WerksauftrPos: ['W_Auftr_Nr', 'WAP_Nr'],
};

/** The `$orderby` `fetchAll` uses when the caller gives none. */
export function defaultOrderBy(table: TableDef): string {
  const natural = NATURAL_ORDER[table.name];
  if (natural) return natural.map((a) => `${a} asc`).join(',');
  const indexed = table.attributes.find((a) => a.indexed) ?? table.attributes[0];
  return indexed ? `${indexed.name} asc` : '__KEY asc';
}

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

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
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
    const http = new HttpTransport({
      environment: envName,
      baseUrl: env.baseUrl,
      timeoutMs: this.timeoutMs,
      retries: this.retries,
      retryBaseMs: this.retryBaseMs,
      retryMaxMs: this.retryMaxMs,
      connections: this.connections,
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
    const response = await rt.sessions.send(request);
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

  private async get(rt: Runtime, request: Omit<HttpRequest, 'method' | 'retry'>, key?: string): Promise<unknown> {
    const full: HttpRequest = { ...request, method: 'GET', retry: 'idempotent' };
    const { status, json } = await this.call(rt, full);
    this.ensureOk(rt, full, status, json, key);
    return json;
  }

  // ---------------------------------------------------------------------------------------------
  // Reading

  private attributeList(table: TableDef, attributes: readonly string[] | undefined): string | undefined {
    if (attributes === undefined) return undefined;
    if (!Array.isArray(attributes)) {
      throw new LegacyValidationError(`attributes must be an array of attribute names, got ${describe(attributes)}`, { table: table.name });
    }
    const names = new Set<string>();
    for (const name of attributes) {
      const def = requireAttribute(table, name);
      if (def.path) {
        throw new LegacyValidationError(`attributes lists attribute names, not paths: ${JSON.stringify(name)}`, { table: table.name });
      }
      if (!(SYSTEM_ATTRIBUTES as readonly string[]).includes(def.name)) names.add(def.name);
    }
    // Only system attributes asked for: 4D needs at least one attribute, so ask for the first one.
    if (names.size === 0) names.add(table.attributes[0]!.name);
    return [...names].join(',');
  }

  private orderByText(table: TableDef, orderBy: OrderBy | undefined): string | undefined {
    if (orderBy === undefined) return undefined;
    let parts: Array<[string, string]>;
    if (typeof orderBy === 'string') {
      parts = orderBy
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean)
        .map((p) => {
          const m = /^(\S+)(?:\s+(asc|desc))?$/i.exec(p);
          if (!m) {
            throw new LegacyValidationError(`Bad orderBy ${JSON.stringify(orderBy)}: expected "attribute [asc|desc], ..."`, { table: table.name });
          }
          return [m[1]!, (m[2] ?? 'asc').toLowerCase()];
        });
    } else if (Array.isArray(orderBy)) {
      parts = orderBy.map((entry) => {
        if (!Array.isArray(entry) || typeof entry[0] !== 'string' || (entry[1] !== 'asc' && entry[1] !== 'desc')) {
          throw new LegacyValidationError(`Bad orderBy entry ${describe(entry)}: expected [attribute, 'asc' | 'desc']`, { table: table.name });
        }
        return [entry[0], entry[1]];
      });
    } else {
      throw new LegacyValidationError(`Bad orderBy ${describe(orderBy)}`, { table: table.name });
    }
    if (parts.length === 0) throw new LegacyValidationError('orderBy names no attribute', { table: table.name });
    return parts
      .map(([name, dir]) => {
        const def = requireAttribute(table, name);
        if (def.type === 'object' && !def.path) {
          throw new LegacyValidationError(`Cannot order ${table.name} by the object attribute ${name}`, { table: table.name });
        }
        return `${def.path ?? def.name} ${dir}`;
      })
      .join(',');
  }

  private collectionPath(
    table: TableDef,
    parts: { filter?: { filter: string; params: unknown[] }; orderBy?: string; attributes?: string; skip: number; top: number },
  ): string {
    const query = buildQuery([
      ['$filter', parts.filter ? `"${parts.filter.filter}"` : undefined],
      ['$params', parts.filter && parts.filter.params.length ? `'${paramsJson(parts.filter.params)}'` : undefined],
      ['$orderby', parts.orderBy ? `"${parts.orderBy}"` : undefined],
      ['$attributes', parts.attributes],
      ['$skip', parts.skip],
      ['$top', parts.top],
    ]);
    return `${encodeURIComponent(table.name)}${query}`;
  }

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

  private compile(table: TableDef, filter: FilterNode | RawFilter | undefined) {
    return filter === undefined ? undefined : compileFilter(table, filter);
  }

  /**
   * Reads one page of `table`: `$top` (default 100, always sent), `$skip`, `$orderby`, `$filter` with
   * `$params`, `$attributes`. Rows are the raw 4D entities with `__KEY` as a string.
   * @throws LegacyValidationError for an unknown table/attribute or a bad filter value (no request made)
   */
  async fetchTable(table: string, options: FetchTableOptions = {}): Promise<Page> {
    const { rt, value: path } = this.prepare(options.environment, () => {
      const def = requireTable(table);
      const top = options.top ?? 100;
      const skip = options.skip ?? 0;
      if (!Number.isSafeInteger(top) || top < 0) throw new LegacyValidationError(`top must be an integer ≥ 0, got ${describe(top)}`, { table: def.name });
      if (!Number.isSafeInteger(skip) || skip < 0) throw new LegacyValidationError(`skip must be an integer ≥ 0, got ${describe(skip)}`, { table: def.name });
      return {
        def,
        path: this.collectionPath(def, {
          filter: this.compile(def, options.filter),
          orderBy: this.orderByText(def, options.orderBy),
          attributes: this.attributeList(def, options.attributes),
          skip,
          top,
        }),
      };
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
    const { rt, value } = this.prepare(options.environment, () => {
      const def = requireTable(table);
      const pageSize = options.pageSize ?? this.pageSize;
      const parallel = options.parallel ?? this.parallelPages;
      if (!Number.isSafeInteger(pageSize) || pageSize < 1) throw new LegacyValidationError(`pageSize must be an integer ≥ 1, got ${describe(pageSize)}`, { table: def.name });
      if (!Number.isSafeInteger(parallel) || parallel < 1) throw new LegacyValidationError(`parallel must be an integer ≥ 1, got ${describe(parallel)}`, { table: def.name });
      return {
        def,
        pageSize,
        parallel,
        filter: this.compile(def, options.filter),
        orderBy: this.orderByText(def, options.orderBy) ?? defaultOrderBy(def),
        attributes: this.attributeList(def, options.attributes),
      };
    });
    return this.collect(rt, value);
  }

  private async collect(
    rt: Runtime,
    q: { def: TableDef; pageSize: number; parallel: number; filter?: { filter: string; params: unknown[] }; orderBy: string; attributes?: string },
  ): Promise<Row[]> {
    const page = async (skip: number, top: number) => {
      const path = this.collectionPath(q.def, { filter: q.filter, orderBy: q.orderBy, attributes: q.attributes, skip, top });
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
      const query = buildQuery([['$attributes', this.attributeList(def, options.attributes)]]);
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
    const { rt, value } = this.prepare(options.environment, () => {
      const def = requireTable(table);
      const attr = requireAttribute(def, attribute);
      if (!Array.isArray(values)) throw new LegacyValidationError(`values must be an array, got ${describe(values)}`, { table: def.name });
      // Encoded parameter → value: de-duplicates, and each value is checked and encoded once.
      const unique = new Map<string, FilterValue>();
      for (const v of values) unique.set(JSON.stringify(filterParam(def, attr, v)), v);
      const chunks = chunkValues([...unique], ([encoded]) => encoded, attr.path ?? attr.name);
      return {
        def,
        attributes: this.attributeList(def, options.attributes),
        filters: chunks.map((chunk) => compileFilter(def, f.in(attr.path ?? attr.name, chunk.map(([, v]) => v)))),
      };
    });
    if (value.filters.length === 0) return [];
    const orderBy = defaultOrderBy(value.def);
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
   * @throws LegacyStampConflictError when `stamp` is not current (with the current stamp and values)
   * @throws LegacyNotFoundError when the key does not exist (errCode 1542)
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
    const { status, json } = await this.call(rt, request);
    const element = isPlainObject(json) && Array.isArray(json.__ENTITIES) ? json.__ENTITIES[0] : json;
    const failure = elementFailure(element);
    if (failure) throw updateError(rt, value.def, value.body.__KEY, stamp, failure.stack, element, status);
    this.ensureOk(rt, request, status, json, value.body.__KEY);
    return toRow(rt, value.def, stripStatus(element));
  }

  /**
   * Updates several entities of one table in ONE request (`$atomic=true` by default: all or nothing).
   * Returns the saved entities in item order.
   * @throws LegacyBulkUpdateError listing each failed item (key and reason); when atomic, nothing was saved
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
    const { status, json } = await this.call(rt, request);
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
    if (failures.length === 0 && saved.length === n) return saved;
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

  // ---------------------------------------------------------------------------------------------
  // Sessions and diagnostics

  /** The `Cookie` header value of the environment's shared 4D session, logging in if needed (compatibility module only). */
  async getSessionCookie(environment?: string): Promise<string> {
    return this.runtime(environment).sessions.cookie();
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
    await Promise.all([...this.runtimes.values()].map((rt) => rt.http.close()));
    if (this.ownsStore) await this.store.close();
  }
}

/** Creates a legacy client; see {@link LegacyClientOptions} for the defaults. */
export function createLegacyClient(options: LegacyClientOptions): LegacyClient {
  return new LegacyClient(options);
}

// -------------------------------------------------------------------------------------------------
// Helpers

/** `$params` JSON with `'` written as `\u0027`, so the single-quoted wrapper stays unambiguous. */
export function paramsJson(params: readonly unknown[]): string {
  return JSON.stringify(params).replace(/'/g, '\\u0027');
}

function parseStackSafe(body: string): FourDErrorEntry[] {
  try {
    return readErrorStack(JSON.parse(body)) ?? [];
  } catch {
    return [];
  }
}

function checkKey(table: TableDef, key: unknown): string {
  if (typeof key === 'number' && Number.isSafeInteger(key)) return String(key);
  if (typeof key !== 'string' || key.trim() === '' || key.length > 255 || /\p{Surrogate}|[\u0000-\u001f]/u.test(key)) {
    throw new LegacyValidationError(`Bad __KEY ${describe(key)} for ${table.name}: expected a non-empty string`, { table: table.name });
  }
  return key;
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

function stripStatus(entity: unknown): unknown {
  if (!isPlainObject(entity)) return entity;
  const { __STATUS: _status, ...rest } = entity;
  void _status;
  return rest;
}

function elementFailure(element: unknown): { stack: FourDErrorEntry[] } | undefined {
  if (!isPlainObject(element)) return { stack: [{ message: `unexpected update answer ${describe(element)}` }] };
  const stack = readErrorStack(element) ?? [];
  const statusFalse = isPlainObject(element.__STATUS) && element.__STATUS.success === false;
  if (!stack.length && !statusFalse) return undefined;
  if (!stack.length && isPlainObject(element.__STATUS)) {
    const s = element.__STATUS;
    stack.push({ message: typeof s.statusText === 'string' ? s.statusText : 'update failed', errCode: s.status === 2 ? 1263 : s.status === 5 ? 1542 : undefined });
  }
  return { stack };
}

function summarize(stack: readonly FourDErrorEntry[]): string {
  const first = stack[0];
  if (!first) return 'rejected';
  return `${(first.message.split('\n')[0] ?? '').trim()}${first.errCode ? ` (4D errCode ${first.errCode})` : ''}`;
}

function updateError(
  rt: Runtime,
  table: TableDef,
  key: string,
  sentStamp: number,
  stack: FourDErrorEntry[],
  element: unknown,
  status: number,
): LegacyAPIError {
  const codes = stack.map((e) => e.errCode);
  const statusCode = isPlainObject(element) && isPlainObject(element.__STATUS) ? element.__STATUS.status : undefined;
  const base = { environment: rt.name, table: table.name, status, fourDErrors: stack };
  if (codes.includes(1263) || statusCode === 2) {
    const { __STATUS: _s, __ERROR: _e, ...current } = isPlainObject(element) ? element : {};
    void _s;
    void _e;
    const currentStamp = typeof current.__STAMP === 'number' ? current.__STAMP : undefined;
    return new LegacyStampConflictError(
      `Stamp conflict updating ${table.name} ${key}: sent stamp ${sentStamp}, current stamp ${currentStamp ?? 'unknown'} (4D errCode 1263); nothing was saved`,
      { ...base, key, sentStamp, currentStamp, currentValues: current },
    );
  }
  if (codes.includes(1542) || codes.includes(1800) || statusCode === 5) {
    return new LegacyNotFoundError(`Cannot update ${table.name} ${key}: no such entity (${summarize(stack)})`, { ...base, key });
  }
  return errorFromResponse(`4D refused to update ${table.name} ${key}`, { status, stack, table: table.name, environment: rt.name, key });
}

/** Checks and encodes one update element: `{ __KEY, __STAMP, ...changes }` in wire format. */
function updateElement(
  table: TableDef,
  key: unknown,
  stamp: unknown,
  changes: unknown,
  prefix = '',
): { __KEY: string; __STAMP: number } & Record<string, unknown> {
  const k = checkKey(table, key);
  if (typeof stamp !== 'number' || !Number.isSafeInteger(stamp) || stamp < 0) {
    throw new LegacyValidationError(`${prefix}Bad __STAMP ${describe(stamp)} for ${table.name} ${k}: expected an integer ≥ 0`, { table: table.name });
  }
  if (!isPlainObject(changes) || Object.keys(changes).length === 0) {
    throw new LegacyValidationError(`${prefix}changes for ${table.name} ${k} must be a non-empty object of attribute → value, got ${describe(changes)}`, {
      table: table.name,
    });
  }
  const out: { __KEY: string; __STAMP: number } & Record<string, unknown> = { __KEY: k, __STAMP: stamp };
  for (const [name, value] of Object.entries(changes)) {
    if ((SYSTEM_ATTRIBUTES as readonly string[]).includes(name)) {
      throw new LegacyValidationError(`${prefix}${table.name}.${name} is a system attribute and cannot be changed`, { table: table.name });
    }
    const def = table.attributes.find((a) => a.name === name);
    if (!def) {
      throw new LegacyValidationError(
        `${prefix}Unknown attribute ${JSON.stringify(name)} in table ${table.name}. Attributes of ${table.name}: ${attributeNames(table).join(', ')}`,
        { table: table.name },
      );
    }
    out[name] = encodeChange(table, def, value, prefix);
  }
  return out;
}

/**
 * Checks one value to write against the table catalog exactly as `update` will, without a request:
 * for callers that must refuse bad input before anything else reaches the server.
 * @throws LegacyValidationError for an unknown table or attribute, a system attribute or a wrong type
 */
export function validateChange(table: string, attribute: string, value: unknown): void {
  const def = requireTable(table);
  updateElement(def, '0'.repeat(32), 0, { [attribute]: value });
}

function encodeChange(table: TableDef, def: AttributeDef, value: unknown, prefix: string): unknown {
  const fail = (expected: string): never => {
    throw new LegacyValidationError(`${prefix}Bad value ${describe(value)} for ${table.name}.${def.name}: expected ${expected}`, { table: table.name });
  };
  if (value === undefined) return fail('a value (undefined is not allowed; use null to clear)');
  if (value === null) return def.type === 'date' ? encodeDate(null) : null;
  switch (def.type) {
    case 'string':
      if (typeof value !== 'string') return fail('a string');
      if (/\p{Surrogate}/u.test(value)) return fail('well-formed Unicode text');
      return value;
    case 'long':
      return typeof value === 'number' && Number.isSafeInteger(value) ? value : fail('an integer');
    case 'number':
      return typeof value === 'number' && Number.isFinite(value) ? value : fail('a finite number');
    case 'bool':
      return typeof value === 'boolean' ? value : fail('a boolean');
    case 'date':
      if (!(value instanceof Date) && typeof value !== 'string') return fail('an ISO date YYYY-MM-DD, a Date or null');
      try {
        return encodeDate(value);
      } catch (error) {
        if (error instanceof CodecError) return fail('an ISO date YYYY-MM-DD, a Date or null');
        throw error;
      }
    case 'object': {
      if (!isPlainObject(value) && !Array.isArray(value)) return fail('a JSON object');
      try {
        return JSON.parse(JSON.stringify(value));
      } catch {
        return fail('a JSON-serialisable object');
      }
    }
  }
}

/**
 * Splits `values` into chunks whose `$params` (and filter) keep the URL within {@link MAX_URL_BYTES}.
 * Text values containing `@` go into separate chunks: they compile to an OR of `===` (one placeholder
 * each, so at most 100 per chunk, below 4D's 128-placeholder limit).
 */
function chunkValues<T>(values: readonly T[], encoded: (v: T) => string, attribute: string): T[][] {
  const budget = MAX_URL_BYTES - 1000; // path, $orderby, $attributes, $top/$skip
  const plain: T[] = [];
  const withAt: T[] = [];
  for (const v of values) (encoded(v).includes('@') ? withAt : plain).push(v);
  const chunks: T[][] = [];
  const pack = (list: T[], extraPerValue: number, maxCount: number) => {
    let current: T[] = [];
    let size = 0;
    for (const v of list) {
      const cost = encodeQueryValue(encoded(v)).length + 3 + extraPerValue;
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
