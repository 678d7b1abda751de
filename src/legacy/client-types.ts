/**
 * The legacy client's public types: environments and options, rows and pages, call options.
 */
import type { Logger } from 'pino';
import type { SharedSemaphore } from './concurrency.js';
import type { FilterNode, RawFilter } from './filter.js';
import type { UpstreamRequestEvent } from './http.js';
import type { SessionStore } from './session-store.js';
import type { SessionEvent } from './sessions.js';
import type { WriteListener } from './port.js';

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
  /** Key chunks fetched at once by `fetchByKeys` (`fetchAll` pages one page after the other, through an entity set). Default 4. */
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
  /**
   * Called after every write that saved or may have saved something, or was refused for a stale
   * stamp (see {@link WriteEvent}), e.g. to invalidate caches; awaited before the write resolves.
   * Never for a write known not to have saved anything otherwise. Default none.
   */
  onWrite?: WriteListener;
  /**
   * After an update's answer is lost (timeout, dropped connection, gateway error), wait this long
   * before reading the records back to tell whether it was saved (a timed-out write may still be
   * running in 4D). Default 1000.
   */
  writeRecheckDelayMs?: number;
  /**
   * Largest request URL (path and query string, in bytes). A request that would exceed it is refused
   * before it is sent with a {@link LegacyValidationError} naming the filter value; `fetchByKeys`
   * splits its keys to fit. 4D and proxies commonly accept 8 KB. Default 6000.
   */
  maxUrlBytes?: number;
  /** Cap on concurrent upstream requests per environment (see `concurrency.ts`). Default 8. */
  maxConcurrency?: number;
  /**
   * How long a request may wait for one of the `maxConcurrency` slots before it fails with a
   * {@link LegacyAPIConnectionError} (ERP saturated, nothing sent). Default 10000.
   */
  queueTimeoutMs?: number;
  /**
   * Shares the `maxConcurrency` cap with every process using the same backend (Redis, see
   * `createRedisSemaphore`). The caller connects and closes it. Default: the cap is per process.
   */
  sharedConcurrency?: SharedSemaphore;
  /** Called for every session event (logins, guest sessions ended, breaker opened, …), e.g. for metrics. Default none. */
  onSessionEvent?: (event: SessionEvent, environment: string) => void;
  /** Clock in epoch ms for session idle time and the breaker. Default `Date.now`. */
  now?: () => number;
}

/**
 * A write that saved, or may have saved, records: emitted after every successful `update` and
 * `bulkUpdate` (and so `pushField`), for the saved items of a partly failed non-atomic batch, and
 * after a lost answer unless the re-read proved that nothing was saved; and a write refused for a
 * stale stamp (`conflict`, with the keys that conflicted). At most one event per outcome of a write.
 */
export interface WriteEvent {
  readonly environment: string;
  readonly table: string;
  readonly keys: readonly string[];
  /**
   * `saved`: confirmed by 4D's answer or by the re-read; `unknown`: may have been saved;
   * `conflict`: refused for a stale stamp, so the record changed behind the writer's back.
   */
  readonly outcome: 'saved' | 'unknown' | 'conflict';
  /**
   * Cache tags the write touched (see {@link writeTags}): the record tags `Table:__KEY`, plus the
   * table tag `Table` unless the outcome is `conflict` (nothing was saved, no list changed).
   */
  readonly tags: readonly string[];
  /** The saved records as 4D returned them (outcome `saved` only; may lack unsent attributes). */
  readonly rows?: readonly Row[];
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

/**
 * What a cache in front of the client learns about the data one read used (see `src/cache/`):
 * the tag versions each value was valid under, and whether a stale value was served.
 */
export interface ReadReport {
  /** A value valid under `tag` at `version`, fresh until `freshUntil` (epoch ms). */
  observe(tag: string, version: string, freshUntil: number): void;
  /** A value past its freshness was served because 4D could not answer. */
  markStale(): void;
  /** Something was read without a cache able to vouch for it (the store was away): do not keep the answer. */
  markUncacheable(): void;
}

/** Options of every read. */
export interface ReadOptions extends CallOptions {
  /**
   * `true`: the read precedes a write (a stamp to send, a value to rewrite), so a cache in front of
   * the client must not answer it. The client itself never caches, so it ignores the flag.
   */
  fresh?: boolean;
  /** Filled by a cache in front of the client; the client ignores it. */
  report?: ReadReport;
}

/** Options of {@link LegacyClient.fetchTable}. */
export interface FetchTableOptions extends ReadOptions {
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
  /** The envelope's `__GlobalStamp`: the value the datastore's next change will get (0 without change tracking). */
  globalStamp?: number;
}

/** Options of {@link LegacyClient.fetchAll}. */
export interface FetchAllOptions extends CallOptions {
  filter?: FilterNode | RawFilter;
  attributes?: readonly string[];
  /** Default: the table's natural key order (see {@link defaultOrderBy}). */
  orderBy?: OrderBy;
  /** Default: the client's `pageSize` (500). */
  pageSize?: number;
  /** Default: the client's `parallelPages` (4). Unused since `fetchAll` pages one page after the other through an entity set; kept for callers. */
  parallel?: number;
  /**
   * `'entityset'` (default): one query on the server, pages of a fixed membership; falls back to
   * `'ordered'` when 4D refuses entity sets. `'ordered'`: `$skip`/`$top` pages ordered with `__KEY` last.
   */
  paging?: 'entityset' | 'ordered';
  /** `$timeout` of the pull's entity set, seconds since its last use. Default 600. */
  entitySetTimeoutSeconds?: number;
  /** Stops the pull before the next page (the entity set is released). */
  signal?: AbortSignal;
}

/** Options of {@link LegacyClient.fetchByKeys}. */
export interface FetchByKeysOptions extends ReadOptions {
  attributes?: readonly string[];
}

/** Options of {@link LegacyClient.fetchRecord}. */
export interface FetchRecordOptions extends ReadOptions {
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

/** Cache tags of a write to `keys` of `table`: the table tag (lists) unless `recordsOnly`, then one tag per record. */
export function writeTags(table: string, keys: readonly string[], recordsOnly = false): string[] {
  return [...(recordsOnly ? [] : [table]), ...keys.map((key) => recordTag(table, key))];
}

/**
 * The tag every cached record of `table` carries besides its own (`Table:*`): moved only when the
 * whole table must be dropped (a purge of the table, a change feed that overflowed, "assume
 * everything changed"), never by an ordinary write.
 */
export function allRecordsTag(table: string): string {
  return `${table}:*`;
}

/** The cache tag of one record: `Table:__KEY`. */
export function recordTag(table: string, key: string): string {
  return `${table}:${key}`;
}
