/**
 * The caches in front of the ERP (see README "Caching"): shared row caches behind the one port
 * (`row-cache.ts`), the response cache plugin (`response-cache.ts`), tag invalidation across
 * replicas (`tagged-cache.ts`, `backend.ts`) and the manual purge. Built once per process from the
 * configuration; the command line builds only the invalidation, so its writes reach every replica.
 */
import type { ApolloServerPlugin } from '@apollo/server';
import type { Logger } from 'pino';
import type { CacheConfig } from '../config.js';
import { allRecordsTag } from '../legacy/client-types.js';
import type { LegacyPort, WriteListener } from '../legacy/port.js';
import { createMemoryBackend, createRedisBackend, type CacheBackend } from './backend.js';
import { NO_CACHE_METRICS, type CacheMetrics } from './metrics.js';
import { CacheReport } from './report.js';
import { responseCachePlugin } from './response-cache.js';
import { RowCache } from './row-cache.js';
import { TaggedCache } from './tagged-cache.js';

export { CacheReport } from './report.js';
export { createCacheMetrics, NO_CACHE_METRICS, type CacheMetrics } from './metrics.js';
export { isUpstreamUnavailable } from './row-cache.js';

/** The cache settings, as `src/config.ts` reads and validates them (`CACHE_*`). */
export type CacheSettings = CacheConfig;

export interface CacheOptions {
  readonly settings: CacheSettings;
  /** Shared store when set; in memory otherwise. */
  readonly redisUrl?: string;
  /** Key prefix in Redis (shared with the session store's namespace). */
  readonly namespace: string;
  readonly logger: Logger;
  readonly metrics?: CacheMetrics;
  /** The cache clock; default `Date.now`. */
  readonly now?: () => number;
  /** GraphQL type → its table, for per-type TTLs and `Type:id` purge tags. */
  readonly typeTables: Readonly<Record<string, string>>;
  /** Redis operation timeout (ms); default 500. */
  readonly timeoutMs?: number;
}

export interface PurgeRequest {
  /** Tags (`Table:__KEY`, `Table`, or the GraphQL forms `Type:id`, `Type`). */
  readonly tags?: readonly string[];
  /** Tables (or GraphQL types) whose every entry goes. */
  readonly tables?: readonly string[];
  /** Everything (a new epoch). */
  readonly all?: boolean;
}

/** A purge request naming an unknown table or type, a malformed tag, or nothing at all. */
export class PurgeInputError extends Error {
  override name = 'PurgeInputError';
}

export interface PurgeResult {
  readonly tags: string[];
  readonly all: boolean;
}

export class Cache {
  readonly tagged: TaggedCache;
  readonly settings: CacheSettings;
  private readonly backend: CacheBackend;
  private readonly logger: Logger;
  private readonly metrics: CacheMetrics;
  private readonly typeTables: Readonly<Record<string, string>>;
  private readonly tableTtl = new Map<string, number>();
  private readonly rowCaches: RowCache[] = [];

  constructor(options: CacheOptions) {
    this.settings = options.settings;
    this.logger = options.logger.child({ component: 'cache' });
    this.metrics = options.metrics ?? NO_CACHE_METRICS;
    this.typeTables = options.typeTables;
    const graceMs = this.settings.graceSeconds * 1000;
    const longest = Math.max(this.settings.ttlSeconds, ...Object.values(this.settings.ttlByType)) * 1000;
    this.backend = options.redisUrl
      ? createRedisBackend({ url: options.redisUrl, namespace: options.namespace, timeoutMs: options.timeoutMs ?? 500, counterTtlMs: 2 * (longest + graceMs) + 60_000 })
      : createMemoryBackend({ maxEntries: this.settings.maxEntries, maxBytes: this.settings.maxBytes });
    this.tagged = new TaggedCache({ backend: this.backend, logger: options.logger, metrics: this.metrics, now: options.now ?? Date.now });
    for (const [type, seconds] of Object.entries(this.settings.ttlByType)) {
      const table = this.typeTables[type];
      if (table) this.tableTtl.set(table, Math.min(this.tableTtl.get(table) ?? Number.POSITIVE_INFINITY, seconds * 1000));
    }
  }

  /** `memory` or `redis`. */
  get store(): 'memory' | 'redis' {
    return this.backend.kind;
  }

  /** The port the mapping uses: the row caches in front of `origin` (or `origin` itself with `CACHE=off`). */
  port(origin: LegacyPort, options: { defaultEnvironment: string; uniqueAttributes?: Readonly<Record<string, readonly string[]>> }): LegacyPort {
    if (!this.settings.enabled) {
      // No entries to keep, but writes still move the shared tags other processes may cache under.
      origin.subscribeWrites(this.invalidation());
      return origin;
    }
    const rows = new RowCache({
      cache: this.tagged,
      origin,
      defaultEnvironment: options.defaultEnvironment,
      ttlMs: (table) => this.tableTtl.get(table) ?? this.settings.ttlSeconds * 1000,
      graceMs: this.settings.graceSeconds * 1000,
      uniqueAttributes: options.uniqueAttributes,
      metrics: this.metrics,
      logger: this.logger,
    });
    this.rowCaches.push(rows);
    return rows;
  }

  /** The write listener of a process that only writes (command line, compatibility module). */
  invalidation(): WriteListener {
    return async (event) => {
      await this.tagged.bump([...new Set([event.table, ...event.tags])], 'write');
    };
  }

  /** The response cache plugin (`undefined` with `CACHE=off`). */
  plugin<TContext extends object>(reportOf: (context: TContext) => CacheReport | undefined, namespace: string): ApolloServerPlugin<TContext> | undefined {
    if (!this.settings.enabled) return undefined;
    return responseCachePlugin<TContext>({
      cache: this.tagged,
      metrics: this.metrics,
      namespace,
      scopeHeader: this.settings.scopeHeader,
      maxAgeByType: this.settings.ttlByType,
      graceMs: this.settings.graceSeconds * 1000,
      debug: this.settings.debug,
      reportOf: reportOf as (context: unknown) => CacheReport | undefined,
    });
  }

  /** A report for one request's reads. */
  report(): CacheReport | undefined {
    return this.settings.enabled ? new CacheReport() : undefined;
  }

  /**
   * Purges by tag, table or everything; counted and logged. GraphQL names are accepted
   * (`Product:…` is `Artikel_Variante:…`). A record tag also moves its table's tag (lists).
   * @throws PurgeInputError for an unknown table or type or a malformed tag; Error when the store cannot be reached
   */
  async purge(request: PurgeRequest, by: string): Promise<PurgeResult> {
    if (request.all) {
      await this.tagged.purgeAll('purge');
      this.logger.warn({ by, all: true }, 'cache purged: everything (new epoch)');
      return { tags: [], all: true };
    }
    const tables = new Set(Object.values(this.typeTables));
    const table = (name: string) => {
      const resolved = this.typeTables[name] ?? name;
      if (!tables.has(resolved)) throw new PurgeInputError(`unknown table or type ${JSON.stringify(name)}; known: ${[...tables].join(', ')}`);
      return resolved;
    };
    const tags = new Set<string>();
    // A table goes whole: its lists and indexes (`Table`) and every record (`Table:*`).
    const wholeTable = (t: string) => {
      tags.add(t);
      tags.add(allRecordsTag(t));
    };
    for (const name of request.tables ?? []) wholeTable(table(name));
    for (const raw of request.tags ?? []) {
      const at = raw.indexOf(':');
      if (at < 0) {
        tags.add(table(raw));
        continue;
      }
      const t = table(raw.slice(0, at));
      const key = raw.slice(at + 1);
      if (!key) throw new PurgeInputError(`tag ${JSON.stringify(raw)} has no key after ":"`);
      tags.add(t);
      tags.add(`${t}:${key}`);
    }
    if (tags.size === 0) throw new PurgeInputError('nothing to purge: give tags, tables or all');
    const moved = await this.tagged.bump([...tags], 'purge');
    if (!moved) throw new Error('the cache store cannot be reached; nothing was purged');
    this.logger.warn({ by, tags: [...tags] }, `cache purged: ${tags.size} tag(s)`);
    return { tags: [...tags], all: false };
  }

  async close(): Promise<void> {
    for (const rows of this.rowCaches) rows.detach();
    this.tagged.close();
    await this.backend.close();
  }
}

export function createCache(options: CacheOptions): Cache {
  return new Cache(options);
}
