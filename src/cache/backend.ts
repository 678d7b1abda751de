/**
 * Where cache entries and tag versions live. Entries are plain Keyv values (an LRU bounded by
 * entries and bytes in memory, `@keyv/redis` with `REDIS_URL`); tag versions are generation
 * counters moved with atomic operations (Redis `INCR` in a Lua script, `SET NX`), because Keyv has
 * no atomic increment. A version token is `epoch.counter`: a new epoch (a Redis that lost its data,
 * or one that came back after an outage) makes every earlier entry a miss.
 *
 * Backends throw when the store cannot answer; the layers above treat that as "no cache".
 */
import KeyvRedis, { createClient } from '@keyv/redis';
import Keyv from 'keyv';
import { LRUCache } from 'lru-cache';
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { withTimeout } from '../legacy/timeout.js';

export interface StoredEntry {
  readonly key: string;
  readonly value: unknown;
  /** Physical lifetime in the store (freshness plus grace); logical expiry lives in the value. */
  readonly ttlMs: number;
}

export interface CacheBackend {
  readonly kind: 'memory' | 'redis';
  /** Raw values of `keys` (`undefined` for a miss). */
  getMany(keys: readonly string[]): Promise<unknown[]>;
  setMany(entries: readonly StoredEntry[]): Promise<void>;
  /** The current version token of each tag. */
  versions(tags: readonly string[]): Promise<string[]>;
  /**
   * Moves every tag to a new version at once; resolves with the new tokens, followed by the current
   * tokens of `read` (read in the same atomic step, so nothing moves between the two).
   */
  bump(tags: readonly string[], read?: readonly string[]): Promise<string[]>;
  /** A new epoch: every entry stored before is a miss from now on. */
  bumpEpoch(): Promise<void>;
  /**
   * Takes or renews the lease `key` for `owner` for `ttlMs` (atomic: `SET NX PX`, or `PEXPIRE` when
   * `owner` already holds it); `false` when someone else holds it.
   */
  lease(key: string, owner: string, ttlMs: number): Promise<boolean>;
  /** Gives the lease up if `owner` holds it. */
  releaseLease(key: string, owner: string): Promise<void>;
  /** `true` while the store is believed reachable. */
  readonly available: boolean;
  /** Emits `down` (with the error message) and `up` when reachability changes. */
  readonly events: EventEmitter;
  close(): Promise<void>;
}

export interface MemoryBackendOptions {
  /** Most entries kept; least recently used go first. */
  maxEntries: number;
  /** Most bytes of serialized entries kept. */
  maxBytes: number;
  /** Counters kept before the whole cache starts a new epoch (bounds memory of tags). Default 1,000,000. */
  maxTags?: number;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** The in-memory backend: one process, bounded, LRU. */
export function createMemoryBackend(options: MemoryBackendOptions): CacheBackend {
  const lru = new LRUCache<string, { value: unknown; expires?: number }>({
    max: options.maxEntries,
    maxSize: options.maxBytes,
    // Measured once, when stored: the size of the entry as JSON (V8 keeps such text at about a byte
    // per character), plus the key and some overhead.
    sizeCalculation: (stored, key) => JSON.stringify(stored.value).length + key.length + 64,
  });
  // Entries are kept as (frozen) objects, not serialized: a hit costs no JSON.parse. Frozen, so a
  // caller can never change what the next request reads.
  const keyv = new Keyv<unknown>({ store: lru, namespace: 'cache', serialize: undefined, deserialize: undefined });
  const maxTags = options.maxTags ?? 1_000_000;
  const counters = new Map<string, number>();
  let epoch = randomUUID().slice(0, 8);
  const token = (tag: string) => `${epoch}.${counters.get(tag) ?? 0}`;
  const leases = new Map<string, { owner: string; until: number }>();
  return {
    kind: 'memory',
    async lease(key, owner, ttlMs) {
      const held = leases.get(key);
      if (held && held.owner !== owner && held.until > Date.now()) return false;
      leases.set(key, { owner, until: Date.now() + ttlMs });
      return true;
    },
    async releaseLease(key, owner) {
      if (leases.get(key)?.owner === owner) leases.delete(key);
    },
    available: true,
    events: new EventEmitter(),
    async getMany(keys) {
      return keyv.getMany([...keys]);
    },
    async setMany(entries) {
      await keyv.setMany(entries.map((e) => ({ key: e.key, value: deepFreeze(e.value), ttl: e.ttlMs })));
    },
    async versions(tags) {
      return tags.map(token);
    },
    async bump(tags, read = []) {
      if (counters.size + tags.length > maxTags) {
        counters.clear();
        epoch = randomUUID().slice(0, 8);
      }
      for (const tag of tags) counters.set(tag, (counters.get(tag) ?? 0) + 1);
      return [...tags.map(token), ...read.map(token)];
    },
    async bumpEpoch() {
      counters.clear();
      epoch = randomUUID().slice(0, 8);
    },
    async close() {
      lru.clear();
    },
  };
}

export interface RedisBackendOptions {
  url: string;
  /** Key prefix shared with the session store's namespace. */
  namespace: string;
  /** Per-operation timeout; a slower answer counts as the store being unavailable. */
  timeoutMs: number;
  /** How long a tag counter outlives its last bump: longer than any entry (freshness + grace). */
  counterTtlMs: number;
}

// Every tag key and the epoch share one hash slot (`{…}`), so the multi-key MGET and scripts below
// also work on Redis Cluster; entries spread over the cluster as usual.
const BUMP_SCRIPT = `
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  epoch = ARGV[2]
  redis.call('SET', KEYS[1], epoch)
end
local out = {}
local bumped = tonumber(ARGV[3])
for i = 2, #KEYS do
  if i - 1 <= bumped then
    local n = redis.call('INCR', KEYS[i])
    redis.call('PEXPIRE', KEYS[i], ARGV[1])
    out[i - 1] = epoch .. '.' .. n
  else
    out[i - 1] = epoch .. '.' .. (redis.call('GET', KEYS[i]) or '0')
  end
end
return out`;

const VERSIONS_SCRIPT = `
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  redis.call('SET', KEYS[1], ARGV[1])
  epoch = ARGV[1]
end
local out = {}
for i = 2, #KEYS do
  out[i - 1] = epoch .. '.' .. (redis.call('GET', KEYS[i]) or '0')
end
return out`;

const LEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0`;

const RELEASE_SCRIPT = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

/** The Redis backend, shared by every replica and command-line run with the same URL and namespace. */
export function createRedisBackend(options: RedisBackendOptions): CacheBackend {
  const client = createClient({
    url: options.url,
    // No offline queue: while Redis is away an operation fails at once (a miss), never waits.
    disableOfflineQueue: true,
    socket: {
      connectTimeout: options.timeoutMs,
      reconnectStrategy: (retries: number) => Math.min(2 ** retries * 100, 2000) + Math.floor(Math.random() * 100),
    },
  });
  const adapter = new KeyvRedis<unknown>(client, { namespace: `${options.namespace}:cache`, throwOnConnectError: false, throwOnErrors: true, connectionTimeout: options.timeoutMs });
  const keyv = new Keyv<unknown>({ store: adapter, namespace: `${options.namespace}:cache`, useKeyPrefix: false, throwOnErrors: true });
  // A stored value that is not JSON must be one undecodable entry (a counted miss above), not a
  // thrown `getMany` that fails the whole batch and looks like an outage (and a new epoch).
  const parse = keyv.deserialize!;
  keyv.deserialize = (async (data: string) => {
    try {
      return await parse(data);
    } catch {
      return { value: { undecodable: true } };
    }
  }) as typeof parse;
  const events = new EventEmitter();
  const tagPrefix = `${options.namespace}:{${options.namespace}:tags}`;
  const epochKey = `${tagPrefix}:epoch`;
  const tagKey = (tag: string) => `${tagPrefix}:v:${tag}`;
  let available = false;
  let closed = false;
  let connecting: Promise<unknown> | undefined;
  const setAvailable = (value: boolean, reason?: string) => {
    if (available === value) return;
    available = value;
    events.emit(value ? 'up' : 'down', reason);
  };
  client.on('error', (error: Error) => setAvailable(false, error.message));
  client.on('end', () => setAvailable(false, 'connection closed'));
  client.on('ready', () => setAvailable(true));
  keyv.on('error', () => {}); // surfaced through the rejected operation instead

  const ready = async () => {
    if (closed) throw new Error('cache store closed');
    if (client.isReady) return;
    if (!client.isOpen) {
      connecting ??= client.connect().catch((error: unknown) => {
        connecting = undefined;
        throw error;
      });
      await withTimeout(connecting, options.timeoutMs, 'cache store connect');
      return;
    }
    throw new Error('Redis is reconnecting');
  };

  return {
    kind: 'redis',
    events,
    get available() {
      return available;
    },
    async getMany(keys) {
      if (keys.length === 0) return [];
      await ready();
      return withTimeout(keyv.getMany([...keys]), options.timeoutMs, 'cache store read');
    },
    async setMany(entries) {
      if (entries.length === 0) return;
      await ready();
      await withTimeout(
        keyv.setMany(entries.map((e) => ({ key: e.key, value: e.value, ttl: Math.max(1, Math.round(e.ttlMs)) }))),
        options.timeoutMs,
        'cache store write',
      );
    },
    async versions(tags) {
      if (tags.length === 0) return [];
      await ready();
      const out = await withTimeout(
        client.eval(VERSIONS_SCRIPT, { keys: [epochKey, ...tags.map(tagKey)], arguments: [randomUUID().slice(0, 8)] }),
        options.timeoutMs,
        'cache store version read',
      );
      return out as string[];
    },
    async bump(tags, read = []) {
      if (tags.length === 0) return [];
      await ready();
      const out = await withTimeout(
        client.eval(BUMP_SCRIPT, {
          keys: [epochKey, ...tags.map(tagKey), ...read.map(tagKey)],
          arguments: [String(options.counterTtlMs), randomUUID().slice(0, 8), String(tags.length)],
        }),
        options.timeoutMs,
        'cache store tag bump',
      );
      return out as string[];
    },
    async lease(key, owner, ttlMs) {
      await ready();
      const out = await withTimeout(
        client.eval(LEASE_SCRIPT, { keys: [`${options.namespace}:lease:${key}`], arguments: [owner, String(Math.max(1, Math.round(ttlMs)))] }),
        options.timeoutMs,
        'cache store lease',
      );
      return out === 1;
    },
    async releaseLease(key, owner) {
      await ready();
      await withTimeout(client.eval(RELEASE_SCRIPT, { keys: [`${options.namespace}:lease:${key}`], arguments: [owner] }), options.timeoutMs, 'cache store lease release');
    },
    async bumpEpoch() {
      await ready();
      await withTimeout(client.set(epochKey, randomUUID().slice(0, 8)), options.timeoutMs, 'cache store epoch bump');
    },
    async close() {
      if (closed) return;
      closed = true;
      try {
        if (client.isReady) await withTimeout(client.close(), options.timeoutMs, 'cache store close');
        else if (client.isOpen) client.destroy();
      } catch {
        if (client.isOpen) client.destroy();
      }
    },
  };
}
