/**
 * Where the legacy client keeps its 4D sessions so that every process (replica) shares them:
 * Keyv in memory by default, Keyv + Redis when a Redis URL is given. The store also provides a lock
 * (atomic `SET NX PX` + compare-and-delete in Redis) that makes a session refresh single-flight
 * across processes.
 *
 * A store failure is a miss and a log line, never a failed request: `get` answers `undefined`,
 * `set`/`delete` do nothing, and `acquireLock` degrades to a process-local lock.
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { Keyv } from 'keyv';
import KeyvRedis, { createClient } from '@keyv/redis';
import { pino, type Logger } from 'pino';
import { withTimeout } from './timeout.js';

/** The one 4D session an environment uses, as shared by every process. */
export interface StoredSession {
  /** Random id for log correlation and compare-before-delete; never the cookie value. */
  readonly id: string;
  /** Cookie jar: one value per cookie name (`WASID4D`, `4DSID_<App>`, …). */
  readonly cookies: Readonly<Record<string, string>>;
  /** Epoch ms when the session was opened. */
  readonly createdAt: number;
  /** Epoch ms of the last known successful use (written back at most every few seconds). */
  readonly lastUsedAt: number;
}

/** Storage for sessions, breaker state and locks. All methods resolve; none rejects on a store failure. */
export interface SessionStore {
  /**
   * `true` when other processes can read what this store holds (Redis, a file): a session kept here
   * outlives the process and must not be logged out at shutdown. `false` for the in-memory store.
   */
  readonly shared: boolean;
  get<T = StoredSession>(key: string): Promise<T | undefined>;
  /** Stores `value` for `ttlMs` milliseconds. */
  set<T = StoredSession>(key: string, value: T, ttlMs: number): Promise<void>;
  delete(key: string): Promise<void>;
  /**
   * Tries to take the lock `key` for `ttlMs`; resolves to a token to release it with, or `null` when
   * another holder has it. Never waits.
   */
  acquireLock(key: string, ttlMs: number): Promise<string | null>;
  /** Releases the lock if `token` still owns it (compare-and-delete). */
  releaseLock(key: string, token: string): Promise<void>;
  /**
   * Connects to the backing store and resolves when it answers; rejects when it cannot within the
   * operation timeout. Call it at start-up: until Redis is connected every operation is a miss and
   * every lock process-local, so replicas starting together could each open a 4D session.
   */
  connect(): Promise<void>;
  /** Closes connections (idempotent). */
  close(): Promise<void>;
}

/** Options of {@link createSessionStore}. */
export interface SessionStoreOptions {
  /** Redis URL (`redis://host:6379`). Default: none, an in-memory store private to this process. */
  redisUrl?: string;
  /** Key prefix, so several deployments can share one Redis. Default `'wsz'`. */
  namespace?: string;
  /** Logger for store errors. Default: silent. */
  logger?: Logger;
  /** Per-operation timeout in ms; a slower store answer counts as a miss. Default 2000. */
  operationTimeoutMs?: number;
}

const RELEASE_SCRIPT = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

/** Process-local locks: the in-memory store's locks, and the fallback when Redis is unreachable. */
class LocalLocks {
  private readonly locks = new Map<string, { token: string; expiresAt: number }>();
  acquire(key: string, ttlMs: number): string | null {
    const now = Date.now();
    const held = this.locks.get(key);
    if (held && held.expiresAt > now) return null;
    const token = `local:${randomUUID()}`;
    this.locks.set(key, { token, expiresAt: now + ttlMs });
    return token;
  }
  release(key: string, token: string): void {
    if (this.locks.get(key)?.token === token) this.locks.delete(key);
  }
}

type RedisClient = ReturnType<typeof createClient>;

class KeyvSessionStore implements SessionStore {
  readonly shared: boolean;
  private readonly keyv: Keyv;
  private readonly local = new LocalLocks();
  private closed = false;
  private lastErrorLog = 0;

  constructor(
    private readonly options: {
      namespace: string;
      logger: Logger;
      timeoutMs: number;
      redis?: { adapter: KeyvRedis<unknown>; client: RedisClient };
    },
  ) {
    this.shared = !!options.redis;
    if (options.redis) {
      options.redis.adapter.namespace = options.namespace;
      this.keyv = new Keyv({ store: options.redis.adapter, namespace: options.namespace, useKeyPrefix: false });
    } else {
      this.keyv = new Keyv({ namespace: options.namespace });
    }
    // A store error is a miss plus a log line; without this listener Keyv would drop it silently.
    this.keyv.on('error', (error: unknown) => this.logError('keyv', error));
  }

  private logError(op: string, error: unknown): void {
    // Redis reconnect loops can emit many errors per second; keep the log readable.
    const now = Date.now();
    if (now - this.lastErrorLog < 1000) return;
    this.lastErrorLog = now;
    const message = error instanceof Error ? error.message : String(error);
    this.options.logger.warn({ op, err: message }, 'session store error (treated as a miss)');
  }

  private connecting?: Promise<void>;

  /** Set once Redis answered: from then on a lost connection is a fast miss, not a wait. */
  private wasReady = false;

  /** Resolves once the Redis client is ready (connecting it if needed); a no-op in memory. */
  private async ready(): Promise<void> {
    const redis = this.options.redis;
    if (!redis || this.closed) return;
    if (redis.client.isReady) {
      this.wasReady = true;
      return;
    }
    // Redis went away after start-up: every operation is a miss at once (the client reconnects in
    // the background), so an outage costs no request a timeout.
    if (this.wasReady) throw new Error('redis is reconnecting');
    // Never reuse a connection attempt that failed: Keyv destroys the client after a failed first
    // connect, so each attempt starts anew and settles within the timeout (start-up may retry).
    this.connecting ??= (async () => {
      try {
        await redis.adapter.getClient();
        if (!redis.client.isReady && redis.client.isOpen) await withTimeout(once(redis.client, 'ready'), this.options.timeoutMs, 'session store connect');
        if (!redis.client.isReady) throw new Error('Redis did not answer');
        this.wasReady = true;
      } finally {
        this.connecting = undefined;
      }
    })();
    await withTimeout(this.connecting, this.options.timeoutMs, 'session store connect');
  }

  async connect(): Promise<void> {
    await this.ready();
    if (this.options.redis) await withTimeout(this.options.redis.client.ping(), this.options.timeoutMs, 'session store ping');
  }

  private lockKey(key: string): string {
    return `${this.options.namespace}::lock:${key}`;
  }

  async get<T = StoredSession>(key: string): Promise<T | undefined> {
    try {
      await this.ready();
      const value = await withTimeout(this.keyv.get<T>(key), this.options.timeoutMs, 'session store get');
      // The in-memory Keyv hands out its own object; never let callers mutate the stored value.
      return value === undefined || value === null ? undefined : structuredClone(value);
    } catch (error) {
      this.logError('get', error);
      return undefined;
    }
  }

  async set<T = StoredSession>(key: string, value: T, ttlMs: number): Promise<void> {
    try {
      await this.ready();
      await withTimeout(this.keyv.set(key, structuredClone(value), Math.max(1, Math.round(ttlMs))), this.options.timeoutMs, 'session store set');
    } catch (error) {
      this.logError('set', error);
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.ready();
      await withTimeout(this.keyv.delete(key), this.options.timeoutMs, 'session store delete');
    } catch (error) {
      this.logError('delete', error);
    }
  }

  private async redisClient(): Promise<RedisClient | undefined> {
    const redis = this.options.redis;
    if (!redis || this.closed) return undefined;
    await this.ready();
    return redis.client.isReady ? redis.client : undefined;
  }

  async acquireLock(key: string, ttlMs: number): Promise<string | null> {
    if (!this.options.redis) return this.local.acquire(key, ttlMs);
    try {
      const client = await this.redisClient();
      if (!client) throw new Error('redis client not ready');
      const token = randomUUID();
      const ok = await withTimeout(
        client.set(this.lockKey(key), token, { condition: 'NX', expiration: { type: 'PX', value: Math.max(1, Math.round(ttlMs)) } }),
        this.options.timeoutMs,
        'session store lock',
      );
      return ok === 'OK' ? token : null;
    } catch (error) {
      // Redis unreachable: degrade to a per-process lock rather than failing every request.
      this.logError('acquireLock', error);
      return this.local.acquire(key, ttlMs);
    }
  }

  async releaseLock(key: string, token: string): Promise<void> {
    if (token.startsWith('local:')) {
      this.local.release(key, token);
      return;
    }
    try {
      const client = await this.redisClient();
      if (!client) throw new Error('redis client not ready');
      await withTimeout(client.eval(RELEASE_SCRIPT, { keys: [this.lockKey(key)], arguments: [token] }), this.options.timeoutMs, 'session store unlock');
    } catch (error) {
      // The lock expires by itself (PX); nothing else to do.
      this.logError('releaseLock', error);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const client = this.options.redis?.client;
    if (!client) return;
    try {
      // A graceful QUIT waits for pending commands; a client still (re)connecting may never get
      // there, so it is destroyed after the operation timeout rather than hanging a shutdown.
      if (client.isReady) await withTimeout(client.close(), this.options.timeoutMs, 'session store close');
      else client.destroy();
    } catch (error) {
      this.logError('close', error);
      if (client.isOpen) client.destroy();
    }
  }
}

/**
 * Creates the session store: in memory (this process only) by default, Redis-backed (shared by every
 * process using the same `redisUrl` and `namespace`) when `redisUrl` is set.
 */
export function createSessionStore(options: SessionStoreOptions = {}): SessionStore {
  const namespace = options.namespace ?? 'wsz';
  const logger = options.logger ?? pino({ level: 'silent' });
  const timeoutMs = options.operationTimeoutMs ?? 2000;
  if (!options.redisUrl) return new KeyvSessionStore({ namespace, logger, timeoutMs });
  const client = createClient({
    url: options.redisUrl,
    // Do not queue commands while disconnected: a store op should fail fast and count as a miss.
    disableOfflineQueue: true,
    socket: {
      connectTimeout: timeoutMs,
      reconnectStrategy: (retries: number) => Math.min(2 ** retries * 100, 2000) + Math.floor(Math.random() * 100),
    },
  });
  const adapter = new KeyvRedis<unknown>(client, {
    namespace,
    throwOnConnectError: false,
    throwOnErrors: false,
    connectionTimeout: timeoutMs,
  });
  return new KeyvSessionStore({ namespace, logger, timeoutMs, redis: { adapter, client: client as RedisClient } });
}
