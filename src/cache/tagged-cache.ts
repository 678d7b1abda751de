/**
 * Tagged entries with their own freshness and grace, over a {@link CacheBackend}. An entry holds the
 * version token of every tag it depends on, as read BEFORE the value was fetched; it is valid only
 * while each tag still has that version, so a value fetched before an invalidation is never served
 * after it, whoever stored it. Expiry and grace are checked against the injected clock.
 *
 * Every store failure becomes a miss (reads) or a skipped store (writes), counted and logged once
 * per outage; when the store comes back a new epoch is started before it is used again, because
 * writes made meanwhile bumped nothing.
 */
import type { Logger } from 'pino';
import type { CacheBackend, StoredEntry } from './backend.js';
import type { CacheMetrics } from './metrics.js';

/** What is stored under a key. */
export interface Entry<T = unknown> {
  /** The value (a row, `null` for "not found", a list of keys, a response). */
  readonly v: T;
  /** Tag → version token the value is valid under. */
  readonly t: Readonly<Record<string, string>>;
  /** Fresh until (epoch ms, the cache clock). */
  readonly exp: number;
  /** Servable when 4D cannot answer until (epoch ms). */
  readonly grace: number;
}

export type Lookup<T> =
  | { readonly state: 'fresh'; readonly entry: Entry<T> }
  | { readonly state: 'stale'; readonly entry: Entry<T> }
  | { readonly state: 'miss' };

export interface TaggedCacheOptions {
  readonly backend: CacheBackend;
  readonly logger: Logger;
  readonly metrics: CacheMetrics;
  /** The cache clock (epoch ms). */
  readonly now: () => number;
}

/** How often an unreachable store is probed for its return. */
const RECOVERY_INTERVAL_MS = 250;

function isEntry(value: unknown): value is Entry {
  if (typeof value !== 'object' || value === null) return false;
  const e = value as Record<string, unknown>;
  return (
    'v' in e &&
    typeof e.exp === 'number' &&
    typeof e.grace === 'number' &&
    typeof e.t === 'object' &&
    e.t !== null &&
    Object.values(e.t as object).every((token) => typeof token === 'string')
  );
}

export class TaggedCache {
  readonly backend: CacheBackend;
  readonly now: () => number;
  private readonly log: Logger;
  private readonly metrics: CacheMetrics;
  /** `false` from the first failure until the store answered again and the epoch moved. */
  private healthy = true;
  private closed = false;
  private recovering?: Promise<void>;

  constructor(options: TaggedCacheOptions) {
    this.backend = options.backend;
    this.now = options.now;
    this.log = options.logger.child({ component: 'cache' });
    this.metrics = options.metrics;
    this.backend.events.on('down', (reason: string) => this.markDown(reason));
    this.metrics.setStoreUp(true);
  }

  /** Whether the shared store is in use right now (false during an outage). */
  get usable(): boolean {
    return this.healthy;
  }

  /** Reads entries and the current versions of `tags` (known up front) together. */
  async read<T>(keys: readonly string[], tags: readonly string[]): Promise<{ entries: Array<Entry<T> | undefined>; versions: Map<string, string> } | undefined> {
    if (!(await this.ready())) return undefined;
    try {
      const [raw, tokens] = await Promise.all([this.backend.getMany(keys), this.backend.versions(tags)]);
      return { entries: raw.map((value, i) => this.decode<T>(keys[i]!, value)), versions: new Map(tags.map((tag, i) => [tag, tokens[i]!])) };
    } catch (error) {
      this.failed('read', error);
      return undefined;
    }
  }

  /** Reads entries whose tags are known only from the entries themselves (two round trips). */
  async readSelfTagged<T>(keys: readonly string[]): Promise<Array<Lookup<T>> | undefined> {
    if (!(await this.ready())) return undefined;
    try {
      const entries = (await this.backend.getMany(keys)).map((value, i) => this.decode<T>(keys[i]!, value));
      const tags = [...new Set(entries.flatMap((e) => (e ? Object.keys(e.t) : [])))];
      const tokens = tags.length ? await this.backend.versions(tags) : [];
      const versions = new Map(tags.map((tag, i) => [tag, tokens[i]!]));
      return entries.map((e) => this.judge(e, versions));
    } catch (error) {
      this.failed('read', error);
      return undefined;
    }
  }

  /** Current versions of `tags`; `undefined` when the store cannot answer. */
  async versions(tags: readonly string[]): Promise<Map<string, string> | undefined> {
    if (!(await this.ready())) return undefined;
    try {
      const tokens = await this.backend.versions(tags);
      return new Map(tags.map((tag, i) => [tag, tokens[i]!]));
    } catch (error) {
      this.failed('read', error);
      return undefined;
    }
  }

  /** Fresh, stale (past freshness, within grace) or a miss (absent, expired, or a tag moved). */
  judge<T>(entry: Entry<T> | undefined, versions: ReadonlyMap<string, string>): Lookup<T> {
    if (!entry) return { state: 'miss' };
    for (const [tag, token] of Object.entries(entry.t)) if (versions.get(tag) !== token) return { state: 'miss' };
    const now = this.now();
    if (now < entry.exp) return { state: 'fresh', entry };
    if (now < entry.grace) return { state: 'stale', entry };
    return { state: 'miss' };
  }

  /** An entry valid under `tags` (tag → token read before the value was fetched). */
  entry<T>(value: T, tags: ReadonlyMap<string, string> | Record<string, string>, ttlMs: number, graceMs: number): Entry<T> {
    const now = this.now();
    const t = tags instanceof Map ? Object.fromEntries(tags) : (tags as Record<string, string>);
    return { v: value, t, exp: now + ttlMs, grace: now + ttlMs + graceMs };
  }

  /** Stores entries; a failure is counted and logged, never thrown. */
  async write(entries: ReadonlyArray<{ key: string; entry: Entry }>): Promise<void> {
    if (entries.length === 0 || !this.healthy) return;
    const now = this.now();
    const stored: StoredEntry[] = entries.map(({ key, entry }) => ({ key, value: entry, ttlMs: Math.max(1, entry.grace - now) }));
    try {
      await this.backend.setMany(stored);
    } catch (error) {
      this.failed('write', error);
    }
  }

  /**
   * Moves `tags` to new versions; resolves with the new tokens (and the current ones of `read`, read
   * in the same atomic step), or `undefined` when the store could
   * not be reached (counted and logged as a failed invalidation: nothing the store holds was changed).
   */
  async bump(tags: readonly string[], source: string, read: readonly string[] = []): Promise<Map<string, string> | undefined> {
    if (tags.length === 0) return new Map();
    try {
      if (!(await this.ready())) throw new Error('the cache store is unavailable');
      const tokens = await this.backend.bump(tags, read);
      this.metrics.invalidated(source, tags.length);
      this.metrics.invalidatedTags(source, tags);
      return new Map([...tags, ...read].map((tag, i) => [tag, tokens[i]!]));
    } catch (error) {
      this.metrics.invalidationFailed(source);
      this.log.warn(
        { err: (error as Error).message, tags: tags.length, source },
        'cache invalidation failed: the store could not be reached; entries from before the outage will be dropped when it returns (new epoch)',
      );
      this.failed('bump', error, false);
      return undefined;
    }
  }

  /** Starts a new epoch: every entry stored so far is a miss. */
  async purgeAll(source: string): Promise<void> {
    try {
      if (!(await this.ready())) throw new Error('the cache store cannot be reached; nothing was purged');
      await this.backend.bumpEpoch();
    } catch (error) {
      this.metrics.invalidationFailed(source);
      throw error;
    }
    this.metrics.invalidated(source, 1);
  }

  private decode<T>(key: string, value: unknown): Entry<T> | undefined {
    if (value === undefined || value === null) return undefined;
    if (isEntry(value)) return value as Entry<T>;
    this.metrics.decodeFailed();
    this.log.warn({ key: key.slice(0, 200) }, 'cache entry cannot be decoded; treated as a miss');
    return undefined;
  }

  private markDown(reason: string): void {
    if (!this.healthy || this.closed) return;
    this.healthy = false;
    this.metrics.setStoreUp(false);
    this.log.warn({ err: reason, store: this.backend.kind }, 'cache store unreachable: serving without the shared cache (requests go to 4D, still batched) until it returns');
    // Recover without waiting for traffic: writes made meanwhile bumped nothing, so the new epoch
    // should be in place before another replica reads an entry they made stale.
    const retry = setInterval(() => {
      if (this.healthy || this.closed) {
        clearInterval(retry);
        return;
      }
      void this.ready();
    }, RECOVERY_INTERVAL_MS);
    retry.unref();
  }

  /** Stops the recovery attempts (the backend is closed by its owner). */
  close(): void {
    this.closed = true;
  }

  private failed(op: string, error: unknown, count = true): void {
    if (count) this.metrics.storeError(op);
    this.markDown(`${op}: ${(error as Error)?.message ?? String(error)}`);
  }

  /**
   * `true` when the store may be used. After an outage the first caller starts a new epoch before
   * anyone reads again: entries invalidated by writes during the outage could otherwise come back.
   */
  private async ready(): Promise<boolean> {
    if (this.healthy) return true;
    this.recovering ??= (async () => {
      try {
        await this.backend.bumpEpoch();
        this.healthy = true;
        this.metrics.setStoreUp(true);
        this.metrics.epochBumped();
        this.log.info({ store: this.backend.kind }, 'cache store reachable again: started a new epoch (entries from before the outage are misses)');
      } catch {
        // still away
      } finally {
        this.recovering = undefined;
      }
    })();
    await this.recovering;
    return this.healthy;
  }
}
