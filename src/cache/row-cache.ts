/**
 * The shared row caches, as a {@link LegacyPort} in front of another port (the legacy client):
 *
 * - records: `Table:__KEY` → the row (or "not found"), tagged with the record tag and `Table:*`
 *   (moved only to drop the whole table), and, when not found, the table tag, so a created record
 *   shows at once;
 * - key indexes: `Table.attribute = value` → the `__KEY`s it matched. A unique alternate key
 *   (`sku`, `customerNumber`, `number`) is tagged with its record; a 1→N relation or a key that
 *   matched nothing with the table, since any write to the table can change who matches;
 * - lists: a normalized page query → its keys and `__COUNT`, tagged with the table.
 *
 * A batch reads every entry and tag version in one round trip, fetches only the misses (one
 * upstream request per batch, as before), and stores what it fetched under the versions read
 * before the fetch. Every invalidation moves the table tag with the record tags, so "the table tag
 * did not move during the fetch" proves no record of the table did either. Concurrent misses of
 * one key in this process share one fetch. Entries past their freshness but within grace are
 * served, marked stale, when 4D cannot answer.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import {
  LegacyAPIConnectionError,
  LegacyAPIDataError,
  LegacySessionLimitError,
  LegacyNotFoundError,
  LegacyStampConflictError,
  LegacyQueryError,
  LegacyBulkUpdateError,
} from '../legacy/errors.js';
import { QueueTimeoutError } from '../legacy/concurrency.js';
import { allRecordsTag, recordTag, type FetchByKeysOptions, type FetchRecordOptions, type FetchTableOptions, type Page, type ReadReport, type Row, type WriteEvent } from '../legacy/client-types.js';
import { foldKey } from '../legacy/keys.js';
import type { LegacyPort, WriteListener } from '../legacy/port.js';
import type { CacheMetrics } from './metrics.js';
import type { Entry, TaggedCache } from './tagged-cache.js';

export interface RowCacheOptions {
  readonly cache: TaggedCache;
  readonly origin: LegacyPort;
  /** The environment a call without `environment` goes to (part of every key). */
  readonly defaultEnvironment: string;
  /** Freshness of a table's entries. */
  readonly ttlMs: (table: string) => number;
  /** How long past freshness an entry may be served when 4D cannot answer. */
  readonly graceMs: number;
  /** Attributes whose values identify at most one record, by table (alternate keys). */
  readonly uniqueAttributes?: Readonly<Record<string, readonly string[]>>;
  readonly metrics: CacheMetrics;
  readonly logger: Logger;
}

interface ListValue {
  readonly keys: readonly string[];
  readonly total: number;
  readonly first: number;
  readonly sent: number;
}

/** 4D could not answer (down, failing, out of licences, overloaded): a stale value beats an error. */
export function isUpstreamUnavailable(error: unknown): boolean {
  if (error instanceof QueueTimeoutError) return true;
  if (error instanceof LegacySessionLimitError || error instanceof LegacyAPIConnectionError) return true;
  const refusals = [LegacyNotFoundError, LegacyStampConflictError, LegacyQueryError, LegacyBulkUpdateError];
  if (error instanceof LegacyAPIDataError && !refusals.some((kind) => error instanceof kind)) return true;
  return false;
}

const digest = (text: string) => createHash('sha256').update(text).digest('base64url').slice(0, 22);
/** A key part from outside (a key value, a filter): hashed when long, so keys stay bounded. */
const part = (value: string) => (value.length <= 96 && !value.includes(' ') ? value : `#${digest(value)}`);

export class RowCache implements LegacyPort {
  private readonly cache: TaggedCache;
  private readonly origin: LegacyPort;
  private readonly inflight = new Map<string, Promise<unknown>>();
  /** Attribute lists read per table (`id` → list), so a saved row can replace each of its entries. */
  private readonly shapes = new Map<string, Map<string, readonly string[] | undefined>>();
  private readonly unsubscribe: () => void;

  constructor(private readonly options: RowCacheOptions) {
    this.cache = options.cache;
    this.origin = options.origin;
    this.unsubscribe = options.origin.subscribeWrites((event) => this.afterWrite(event));
  }

  /** Stops listening to the origin's writes. */
  detach(): void {
    this.unsubscribe();
  }

  subscribeWrites(listener: WriteListener): () => void {
    return this.origin.subscribeWrites(listener);
  }

  update(...args: Parameters<LegacyPort['update']>): ReturnType<LegacyPort['update']> {
    return this.origin.update(...args);
  }

  bulkUpdate(...args: Parameters<LegacyPort['bulkUpdate']>): ReturnType<LegacyPort['bulkUpdate']> {
    return this.origin.bulkUpdate(...args);
  }

  async fetchRecord(table: string, key: string, options: FetchRecordOptions = {}): Promise<Row | null> {
    if (options.fresh) return this.origin.fetchRecord(table, key, options);
    const [row] = await this.records(table, [key], options);
    return row ?? null;
  }

  async fetchByKeys(table: string, attribute: string, keys: readonly string[], options: FetchByKeysOptions = {}): Promise<Row[][]> {
    if (options.fresh || keys.length === 0) return this.origin.fetchByKeys(table, attribute, keys, options);
    if (attribute === '__KEY') {
      const rows = await this.records(table, keys, options);
      return rows.map((row) => (row ? [row] : []));
    }
    return this.byIndex(table, attribute, keys, options);
  }

  async fetchTable(table: string, options: FetchTableOptions = {}): Promise<Page> {
    if (options.fresh) return this.origin.fetchTable(table, options);
    const env = options.environment ?? this.options.defaultEnvironment;
    const { report, environment: _e, fresh: _f, ...query } = options;
    const key = `l:${env}:${table}:${digest(JSON.stringify(query))}`;
    const got = await this.cache.read<ListValue>([key], [table]);
    const lookup = got ? this.cache.judge(got.entries[0], got.versions) : ({ state: 'miss' } as const);
    if (lookup.state === 'fresh') {
      const rows = await this.records(table, lookup.entry.v.keys, options);
      if (rows.every((r) => r !== null)) {
        this.options.metrics.lookup('list', table, 'hit');
        this.observe(report, lookup.entry);
        const { keys: _k, ...rest } = lookup.entry.v;
        return { ...rest, rows: rows as Row[] };
      }
    }
    try {
      // A request joining another's fetch learns its tags from its own observation below.
      let own = false;
      const fetch = () => {
        own = true;
        return this.fetchList(table, key, options, got?.versions, report);
      };
      const page = await (got ? this.coalesce(`${key}@${got.versions.get(table)}`, fetch) : fetch());
      if (!own && got) {
        const until = this.cache.now() + this.ttl(table);
        report?.observe(table, got.versions.get(table)!, until);
        report?.markUncacheable(); // the record versions were observed by the other request
      }
      this.options.metrics.lookup('list', table, 'miss');
      if (!got) report?.markUncacheable();
      return page;
    } catch (error) {
      if (lookup.state !== 'stale' || !isUpstreamUnavailable(error)) throw error;
      const rows = await this.records(table, lookup.entry.v.keys, options);
      if (rows.some((r) => r === null)) throw error;
      this.options.metrics.lookup('list', table, 'stale');
      this.stale(report, table, error);
      const { keys: _k, ...rest } = lookup.entry.v;
      return { ...rest, rows: rows as Row[] };
    }
  }

  // ---------------------------------------------------------------------------------------------

  private async fetchList(table: string, key: string, options: FetchTableOptions, before: ReadonlyMap<string, string> | undefined, report: ReadReport | undefined): Promise<Page> {
    const { report: _r, ...plain } = options;
    const page = await this.origin.fetchTable(table, plain);
    if (before) {
      this.noteShape(table, options);
      await this.storeFetched(
        table,
        page.rows,
        options,
        before,
        (after) => [
          { key, entry: this.cache.entry<ListValue>({ keys: page.rows.map((r) => r.__KEY), total: page.total, first: page.first, sent: page.sent }, { [table]: after.get(table)! }, this.ttl(table), this.options.graceMs) },
        ],
        report,
      );
    }
    return page;
  }

  /**
   * Stores rows fetched through a list or an index (whose record keys were unknown before the fetch)
   * only if the table tag did not move meanwhile: then no record of it did, and the versions read
   * now are the ones from before the fetch.
   */
  private async storeFetched(
    table: string,
    rows: readonly Row[],
    options: { environment?: string; attributes?: readonly string[] },
    before: ReadonlyMap<string, string>,
    extra: (after: ReadonlyMap<string, string>) => Array<{ key: string; entry: Entry }>,
    report: ReadReport | undefined,
  ): Promise<void> {
    const tags = [table, allRecordsTag(table), ...new Set(rows.map((r) => recordTag(table, r.__KEY)))];
    const after = await this.cache.versions(tags);
    if (!after || after.get(table) !== before.get(table)) {
      // Something of the table changed meanwhile: this answer cannot be vouched for.
      report?.markUncacheable();
      return;
    }
    if (report) {
      const until = this.cache.now() + this.ttl(table);
      for (const tag of tags) report.observe(tag, after.get(tag)!, until);
    }
    const entries = rows.map((row) => ({
      key: this.recordKey(table, row.__KEY, options),
      entry: this.cache.entry<Row | null>(
        row,
        { [recordTag(table, row.__KEY)]: after.get(recordTag(table, row.__KEY))!, [allRecordsTag(table)]: after.get(allRecordsTag(table))! },
        this.ttl(table),
        this.options.graceMs,
      ),
    }));
    await this.cache.write([...entries, ...extra(after)]);
  }

  /** Rows by `__KEY` (`null`: not found), in the order of `keys`. */
  private async records(table: string, keys: readonly string[], options: FetchByKeysOptions): Promise<Array<Row | null>> {
    const unique = [...new Set(keys)];
    if (unique.length === 0) return [];
    const report = options.report;
    const entryKeys = unique.map((k) => this.recordKey(table, k, options));
    const got = await this.cache.read<Row | null>(entryKeys, [table, allRecordsTag(table), ...unique.map((k) => recordTag(table, k))]);
    const found = new Map<string, Row | null>();
    const stale = new Map<string, Entry<Row | null>>();
    const missing: string[] = [];
    unique.forEach((key, i) => {
      const lookup = got ? this.cache.judge(got.entries[i], got.versions) : ({ state: 'miss' } as const);
      if (lookup.state === 'fresh') {
        found.set(key, lookup.entry.v);
        this.observe(report, lookup.entry);
        return;
      }
      if (lookup.state === 'stale') stale.set(key, lookup.entry);
      missing.push(key);
    });
    this.options.metrics.lookup('record', table, 'hit', found.size);
    if (missing.length > 0) {
      if (!got) report?.markUncacheable();
      try {
        const fetched = await this.fetchRecords(table, missing, options, got?.versions);
        for (const [key, row] of fetched) found.set(key, row);
        this.options.metrics.lookup('record', table, 'miss', missing.length);
        if (got) for (const key of missing) this.observeFetched(report, table, key, found.get(key) ?? null, got.versions);
      } catch (error) {
        if (!isUpstreamUnavailable(error) || !missing.every((k) => stale.has(k))) throw error;
        for (const key of missing) found.set(key, stale.get(key)!.v);
        this.options.metrics.lookup('record', table, 'stale', missing.length);
        this.stale(report, table, error);
      }
    }
    return keys.map((k) => found.get(k) ?? null);
  }

  /** Fetches records by `__KEY`, sharing the fetch of a key another request is already fetching. */
  private fetchRecords(
    table: string,
    keys: readonly string[],
    options: FetchByKeysOptions,
    before: ReadonlyMap<string, string> | undefined,
  ): Promise<Map<string, Row | null>> {
    const { report: _r, ...plain } = options;
    const token = (key: string) => before?.get(recordTag(table, key));
    return this.shared(keys, (key) => `${this.recordKey(table, key, options)}@${token(key)}`, before !== undefined, async (own) => {
      const perKey = await this.origin.fetchByKeys(table, '__KEY', own, plain);
      const rows = new Map(own.map((key, i) => [key, perKey[i]?.[0] ?? null]));
      if (before) await this.storeRecords(table, rows, options, before);
      return rows;
    });
  }

  /**
   * One fetch for the keys nobody in this process is fetching yet (one upstream request, as the
   * batch asked), and a wait on the others' fetches: a hot key costs one request however many ask.
   */
  private async shared<V>(
    keys: readonly string[],
    entryKey: (key: string) => string,
    share: boolean,
    fetchMany: (keys: string[]) => Promise<Map<string, V>>,
  ): Promise<Map<string, V>> {
    // The id carries the tag version read before the fetch: a request that starts after an
    // invalidation never joins a fetch that may have read the old value. Without versions (the
    // store is away) nothing is shared.
    if (!share) return fetchMany([...keys]);
    const result = new Map<string, V>();
    const waiting: Array<Promise<void>> = [];
    const own: string[] = [];
    for (const key of keys) {
      const pending = this.inflight.get(entryKey(key)) as Promise<V> | undefined;
      if (pending) waiting.push(pending.then((value) => void result.set(key, value)));
      else own.push(key);
    }
    if (own.length > 0) {
      const batch = fetchMany(own);
      for (const key of own) {
        const id = entryKey(key);
        const one = batch.then((values) => values.get(key) as V);
        this.inflight.set(id, one);
        one.then(
          () => this.inflight.get(id) === one && this.inflight.delete(id),
          () => this.inflight.get(id) === one && this.inflight.delete(id),
        );
      }
      for (const [key, value] of await batch) result.set(key, value);
    }
    await Promise.all(waiting);
    return result;
  }

  private async storeRecords(table: string, rows: ReadonlyMap<string, Row | null>, options: FetchByKeysOptions, before: ReadonlyMap<string, string>): Promise<void> {
    this.noteShape(table, options);
    const entries = [...rows].map(([key, row]) => {
      const tag = recordTag(table, key);
      // Not found: also under the table tag, so a record created later is found at once.
      const all = allRecordsTag(table);
      const tags: Record<string, string> = row
        ? { [tag]: before.get(tag)!, [all]: before.get(all)! }
        : { [tag]: before.get(tag)!, [all]: before.get(all)!, [table]: before.get(table)! };
      return { key: this.recordKey(table, key, options), entry: this.cache.entry<Row | null>(row, tags, this.ttl(table), this.options.graceMs) };
    });
    await this.cache.write(entries);
  }

  private async byIndex(table: string, attribute: string, keys: readonly string[], options: FetchByKeysOptions): Promise<Row[][]> {
    const report = options.report;
    const folded = [...new Set(keys.map((k) => foldKey(k)))];
    const raw = new Map<string, string>();
    for (const k of keys) if (!raw.has(foldKey(k))) raw.set(foldKey(k), k);
    const entryKeys = folded.map((f) => this.indexKey(table, attribute, f, options));
    const got = await this.cache.read<readonly string[]>(entryKeys, [table]);
    const members = new Map<string, readonly string[]>();
    const stale = new Map<string, Entry<readonly string[]>>();
    const missing: string[] = [];
    const used: Array<Entry<readonly string[]>> = [];
    folded.forEach((f, i) => {
      const lookup = got ? this.cache.judge(got.entries[i], got.versions) : ({ state: 'miss' } as const);
      if (lookup.state === 'fresh') {
        members.set(f, lookup.entry.v);
        used.push(lookup.entry);
        return;
      }
      if (lookup.state === 'stale') stale.set(f, lookup.entry);
      missing.push(f);
    });
    const rowsOf = new Map<string, Row[]>();
    // Hits: the members' rows from the record cache; an index pointing at a vanished record is refetched.
    if (members.size > 0) {
      const all = [...new Set([...members.values()].flat())];
      const rows = await this.records(table, all, options);
      const byKey = new Map(all.map((k, i) => [k, rows[i]]));
      for (const [f, list] of members) {
        if (list.some((k) => !byKey.get(k))) {
          missing.push(f);
          continue;
        }
        rowsOf.set(f, list.map((k) => byKey.get(k)!));
      }
      this.options.metrics.lookup('index', table, 'hit', rowsOf.size);
      for (const entry of used) this.observe(report, entry);
    }
    if (missing.length > 0) {
      if (!got) report?.markUncacheable();
      try {
        const token = got?.versions.get(table);
        const fetched = await this.shared(missing, (f) => `${this.indexKey(table, attribute, f, options)}@${token}`, got !== undefined, (own) =>
          this.fetchIndex(table, attribute, own, raw, options, got?.versions, report),
        );
        for (const [f, rows] of fetched) rowsOf.set(f, rows);
        this.options.metrics.lookup('index', table, 'miss', missing.length);
        if (got) report?.observe(table, got.versions.get(table)!, this.cache.now() + this.ttl(table));
      } catch (error) {
        if (!isUpstreamUnavailable(error) || !missing.every((f) => stale.has(f))) throw error;
        const all = [...new Set(missing.flatMap((f) => stale.get(f)!.v))];
        const rows = await this.records(table, all, options);
        const byKey = new Map(all.map((k, i) => [k, rows[i]]));
        for (const f of missing) rowsOf.set(f, stale.get(f)!.v.map((k) => byKey.get(k)).filter((r): r is Row => !!r));
        this.options.metrics.lookup('index', table, 'stale', missing.length);
        this.stale(report, table, error);
      }
    }
    return keys.map((k) => rowsOf.get(foldKey(k)) ?? []);
  }

  private async fetchIndex(
    table: string,
    attribute: string,
    folded: readonly string[],
    raw: ReadonlyMap<string, string>,
    options: FetchByKeysOptions,
    before: ReadonlyMap<string, string> | undefined,
    report: ReadReport | undefined,
  ): Promise<Map<string, Row[]>> {
    const { report: _r, ...plain } = options;
    const perKey = await this.origin.fetchByKeys(table, attribute, folded.map((f) => raw.get(f)!), plain);
    const result = new Map(folded.map((f, i) => [f, perKey[i] ?? []]));
    if (before) {
      this.noteShape(table, options);
      const unique = this.options.uniqueAttributes?.[table]?.includes(attribute) ?? false;
      await this.storeFetched(table, [...result.values()].flat(), options, before, (after) =>
        [...result].map(([f, rows]) => {
          const tags: Record<string, string> = {};
          // Who matches a non-unique value (or a value nothing had) changes with any write to the table.
          if (!unique || rows.length === 0) tags[table] = after.get(table)!;
          tags[allRecordsTag(table)] = after.get(allRecordsTag(table))!;
          for (const row of rows) tags[recordTag(table, row.__KEY)] = after.get(recordTag(table, row.__KEY))!;
          return { key: this.indexKey(table, attribute, f, options), entry: this.cache.entry<readonly string[]>(rows.map((r) => r.__KEY), tags, this.ttl(table), this.options.graceMs) };
        }),
        report,
      );
    }
    return result;
  }

  /**
   * After every write through the origin (any writer of this process): move the tags it touched,
   * then store the saved rows under their new versions (write-through), so the next read is free.
   * Every bump includes the table tag (see the class comment).
   */
  private async afterWrite(event: WriteEvent): Promise<void> {
    const tags = [...new Set([event.table, ...event.tags])];
    const all = allRecordsTag(event.table);
    const tokens = await this.cache.bump(tags, 'write', [all]);
    if (!tokens || event.outcome !== 'saved' || !event.rows?.length) return;
    const shapes = this.shapes.get(`${event.environment}\u0000${event.table}`);
    if (!shapes) return;
    const entries: Array<{ key: string; entry: Entry }> = [];
    for (const row of event.rows) {
      const token = tokens.get(recordTag(event.table, row.__KEY));
      if (!token) continue;
      for (const attributes of shapes.values()) {
        if (attributes && !attributes.every((a) => a in row)) continue;
        if (!attributes) continue; // "every attribute": a saved row may lack the ones not sent
        const projected = Object.fromEntries(['__KEY', '__STAMP', '__TIMESTAMP', ...attributes].filter((a) => a in row).map((a) => [a, row[a]])) as Row;
        entries.push({
          key: this.recordKey(event.table, row.__KEY, { environment: event.environment, attributes }),
          entry: this.cache.entry<Row | null>(projected, { [recordTag(event.table, row.__KEY)]: token, [all]: tokens.get(all)! }, this.ttl(event.table), this.options.graceMs),
        });
      }
    }
    await this.cache.write(entries);
  }

  private coalesce<T>(key: string, fetch: () => Promise<T>): Promise<T> {
    const pending = this.inflight.get(key) as Promise<T> | undefined;
    if (pending) return pending;
    const started = fetch().finally(() => {
      if (this.inflight.get(key) === started) this.inflight.delete(key);
    });
    this.inflight.set(key, started);
    return started;
  }

  private noteShape(table: string, options: { environment?: string; attributes?: readonly string[] }): void {
    const env = options.environment ?? this.options.defaultEnvironment;
    const id = `${env}\u0000${table}`;
    let shapes = this.shapes.get(id);
    if (!shapes) this.shapes.set(id, (shapes = new Map()));
    const shape = this.shapeId(options.attributes);
    if (!shapes.has(shape) && shapes.size < 16) shapes.set(shape, options.attributes ? [...options.attributes] : undefined);
  }

  private shapeId(attributes: readonly string[] | undefined): string {
    return attributes ? digest([...attributes].sort().join(',')).slice(0, 10) : '*';
  }

  private recordKey(table: string, key: string, options: { environment?: string; attributes?: readonly string[] }): string {
    return `r:${options.environment ?? this.options.defaultEnvironment}:${table}:${this.shapeId(options.attributes)}:${part(key)}`;
  }

  private indexKey(table: string, attribute: string, folded: string, options: { environment?: string; attributes?: readonly string[] }): string {
    return `i:${options.environment ?? this.options.defaultEnvironment}:${table}:${attribute}:${part(folded)}`;
  }

  private ttl(table: string): number {
    return this.options.ttlMs(table);
  }

  private observe(report: ReadReport | undefined, entry: Entry): void {
    if (!report) return;
    for (const [tag, token] of Object.entries(entry.t)) report.observe(tag, token, entry.exp);
  }

  private observeFetched(report: ReadReport | undefined, table: string, key: string, row: Row | null, before: ReadonlyMap<string, string>): void {
    if (!report) return;
    const until = this.cache.now() + this.ttl(table);
    const tag = recordTag(table, key);
    report.observe(tag, before.get(tag)!, until);
    report.observe(allRecordsTag(table), before.get(allRecordsTag(table))!, until);
    if (!row) report.observe(table, before.get(table)!, until);
  }

  private stale(report: ReadReport | undefined, table: string, error: unknown): void {
    report?.markStale();
    this.options.logger.warn({ table, err: (error as Error).message }, 'serving cached values past their freshness: 4D cannot answer');
  }
}
