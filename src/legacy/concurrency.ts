/**
 * A cap on concurrent upstream requests per environment: one slow 4D server answers a handful of
 * requests at once, and everything beyond that only queues inside 4D, where it holds connections and
 * processes and cannot be cancelled. So the client queues instead, in front of the server:
 *
 * - A slot is held for one HTTP attempt (from sending to the last byte of the answer, or the failure),
 *   never while waiting for a session, a retry delay or a lock. So a request that waits for a login
 *   holds no slot and a login can never deadlock behind it.
 * - A request that waits longer than `queueTimeoutMs` for a slot fails with {@link QueueTimeoutError}
 *   before anything is sent.
 * - `priority` acquisitions (logins and logouts) never wait: they take a slot even when the cap is
 *   reached. Logins are single-flight for the whole deployment, so this over-commits by one or two.
 * - Process-local by default (FIFO, p-limit). With a {@link SharedSemaphore} (Redis), the cap holds
 *   for the whole deployment: every slot is also a lease in a Redis sorted set scored by its expiry,
 *   taken and checked by one Lua script (expired leases of crashed holders are dropped first), so no
 *   two processes can both see the last free slot. No KEYS or SCAN. If Redis fails, the limiter logs
 *   and falls back to the local cap rather than failing requests (for 5 s, then it tries Redis again).
 */
import { createHash, randomUUID } from 'node:crypto';
import pLimit, { type LimitFunction } from 'p-limit';
import { pino, type Logger } from 'pino';
import { createClient } from '@keyv/redis';

/** A held slot; release it exactly once (further calls do nothing). */
export interface Lease {
  release(): void;
}

/** Options of one {@link ConcurrencyLimiter.acquire}. */
export interface AcquireOptions {
  /** Take a slot even when the cap is reached (logins, logouts). Default false. */
  priority?: boolean;
}

/** Thrown by {@link ConcurrencyLimiter.acquire} when no slot was free within the queue deadline. */
export class QueueTimeoutError extends Error {
  override name = 'QueueTimeoutError';
  constructor(
    readonly maxConcurrent: number,
    readonly waitedMs: number,
    readonly shared: boolean,
  ) {
    super(
      `no free slot among ${maxConcurrent} concurrent upstream requests${shared ? ' (shared by the deployment)' : ''} within the queue deadline of ${waitedMs} ms`,
    );
  }
}

/** The cap of one environment. */
export interface ConcurrencyLimiter {
  /** The cap. */
  readonly maxConcurrent: number;
  /** The queue deadline in ms. */
  readonly queueTimeoutMs: number;
  /** Slots this process holds now. */
  readonly active: number;
  /** Acquisitions of this process waiting for a slot. */
  readonly pending: number;
  /** Waits for a slot; rejects with {@link QueueTimeoutError} after `queueTimeoutMs`. */
  acquire(options?: AcquireOptions): Promise<Lease>;
}

/** Leases shared by several processes (see {@link createRedisSemaphore}). */
export interface SharedSemaphore {
  /**
   * Takes a lease `member` on `key` valid for `leaseMs` when fewer than `max` live leases exist (or
   * always, with `force`); resolves whether it was taken. Rejects when the backend fails.
   */
  tryAcquire(key: string, member: string, max: number, leaseMs: number, force: boolean): Promise<boolean>;
  /** Drops the lease (it would expire anyway). */
  release(key: string, member: string): Promise<void>;
  /** Live leases on `key` (diagnostics and tests). */
  count(key: string): Promise<number>;
  /** Connects and resolves when the backend answers. */
  connect(): Promise<void>;
  /** Closes connections (idempotent). */
  close(): Promise<void>;
}

/** Options of {@link createConcurrencyLimiter}. */
export interface ConcurrencyLimiterOptions {
  /** Cap on concurrent requests; integer ≥ 1. */
  maxConcurrent: number;
  /** How long a request may wait for a slot, in ms; integer ≥ 1. */
  queueTimeoutMs: number;
  /** Shares the cap through this backend (Redis). Default: process-local only. */
  shared?: {
    semaphore: SharedSemaphore;
    /** Key of this cap in the backend (one per upstream server). */
    key: string;
    /** Lifetime of a lease: longer than any one attempt can take (a crashed holder's lease ends then). */
    leaseMs: number;
    /** Polling interval while the shared cap is full, in ms. Default 20 (with jitter). */
    pollMs?: number;
  };
  /** Logger for backend failures. Default: silent. */
  logger?: Logger;
}

/** How long the shared cap is skipped after a backend failure. */
const SHARED_RETRY_MS = 5000;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

class Limiter implements ConcurrencyLimiter {
  readonly maxConcurrent: number;
  readonly queueTimeoutMs: number;
  private readonly limit: LimitFunction;
  private priorityActive = 0;
  private lastErrorLog = 0;
  /** After a backend failure the shared cap is skipped until then (epoch ms), so an outage costs no wait per request. */
  private sharedRetryAt = 0;
  private readonly log: Logger;

  constructor(private readonly options: ConcurrencyLimiterOptions) {
    const { maxConcurrent, queueTimeoutMs } = options;
    if (!Number.isInteger(maxConcurrent) || maxConcurrent < 1) {
      throw new TypeError(`maxConcurrent must be an integer ≥ 1, got ${JSON.stringify(maxConcurrent)}`);
    }
    if (!Number.isInteger(queueTimeoutMs) || queueTimeoutMs < 1) {
      throw new TypeError(`queueTimeoutMs must be an integer ≥ 1, got ${JSON.stringify(queueTimeoutMs)}`);
    }
    this.maxConcurrent = maxConcurrent;
    this.queueTimeoutMs = queueTimeoutMs;
    this.limit = pLimit(maxConcurrent);
    this.log = options.logger ?? pino({ level: 'silent' });
  }

  get active(): number {
    return this.limit.activeCount + this.priorityActive;
  }

  get pending(): number {
    return this.limit.pendingCount;
  }

  async acquire(options: AcquireOptions = {}): Promise<Lease> {
    const started = Date.now();
    const deadline = started + this.queueTimeoutMs;
    if (options.priority) {
      this.priorityActive++;
      const shared = await this.sharedLease(true, deadline).catch(() => undefined);
      return once(() => {
        this.priorityActive--;
        shared?.();
      });
    }
    const local = await this.localSlot(deadline);
    try {
      const shared = await this.sharedLease(false, deadline);
      return once(() => {
        shared?.();
        local();
      });
    } catch (error) {
      local();
      throw error;
    }
  }

  /** A local slot (FIFO); rejects at the deadline. Abandoned waiters release at once when their turn comes. */
  private localSlot(deadline: number): Promise<() => void> {
    return new Promise((resolve, reject) => {
      let state: 'waiting' | 'granted' | 'abandoned' = 'waiting';
      const timer = setTimeout(() => {
        if (state !== 'waiting') return;
        state = 'abandoned';
        reject(new QueueTimeoutError(this.maxConcurrent, this.queueTimeoutMs, !!this.options.shared));
      }, Math.max(0, deadline - Date.now()));
      void this.limit(
        () =>
          new Promise<void>((done) => {
            if (state === 'abandoned') return done();
            state = 'granted';
            clearTimeout(timer);
            resolve(once(done).release);
          }),
      );
    });
  }

  /** Takes the deployment-wide lease, polling until the deadline; `undefined` without a backend or when it fails. */
  private async sharedLease(force: boolean, deadline: number): Promise<(() => void) | undefined> {
    const shared = this.options.shared;
    if (!shared || Date.now() < this.sharedRetryAt) return undefined;
    const member = randomUUID();
    const pollMs = shared.pollMs ?? 20;
    for (;;) {
      let taken: boolean;
      try {
        taken = await shared.semaphore.tryAcquire(shared.key, member, this.maxConcurrent, shared.leaseMs, force);
      } catch (error) {
        // The backend is down: the local cap still protects the server from this process.
        this.sharedRetryAt = Date.now() + SHARED_RETRY_MS;
        this.logError(error);
        return undefined;
      }
      if (taken) {
        return () => {
          shared.semaphore.release(shared.key, member).catch((error: unknown) => this.logError(error));
        };
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new QueueTimeoutError(this.maxConcurrent, this.queueTimeoutMs, true);
      await sleep(Math.min(left, pollMs / 2 + Math.random() * pollMs));
    }
  }

  private logError(error: unknown): void {
    const now = Date.now();
    if (now - this.lastErrorLog < 1000) return;
    this.lastErrorLog = now;
    this.log.warn(
      { err: error instanceof Error ? error.message : String(error) },
      'shared concurrency cap unavailable; only the per-process cap applies',
    );
  }
}

function once(fn: () => void): Lease & (() => void) {
  let done = false;
  const release = () => {
    if (done) return;
    done = true;
    fn();
  };
  return Object.assign(release, { release });
}

/** Creates the cap of one environment; see the module comment. */
export function createConcurrencyLimiter(options: ConcurrencyLimiterOptions): ConcurrencyLimiter {
  return new Limiter(options);
}

/** Key of the cap protecting the server at `origin` for `environment` (no credentials in it). */
export function limiterKey(environment: string, origin: string): string {
  return `limit:${environment}:${createHash('sha256').update(origin).digest('hex').slice(0, 16)}`;
}

// -------------------------------------------------------------------------------------------------
// Redis

/**
 * Drops expired leases, then adds the new one if fewer than `max` remain (or always, when forced).
 * Time comes from Redis itself, so processes with skewed clocks agree on expiry.
 * KEYS[1] = sorted set; ARGV = member, max, leaseMs, force ('1' | '0').
 */
const ACQUIRE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if ARGV[4] ~= '1' and redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + lease, ARGV[1])
if redis.call('PTTL', KEYS[1]) < lease + 1000 then
  redis.call('PEXPIRE', KEYS[1], lease + 1000)
end
return 1
`;

/** Counts live leases without changing anything. KEYS[1] = sorted set. */
const COUNT_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZCOUNT', KEYS[1], '(' .. now, '+inf')
`;

/** Options of {@link createRedisSemaphore}. */
export interface RedisSemaphoreOptions {
  /** Redis URL (`redis://host:6379`). */
  url: string;
  /** Key prefix, as for the session store. Default `'wsz'`. */
  namespace?: string;
  /** Per-operation timeout in ms; a slower answer counts as a backend failure. Default 2000. */
  operationTimeoutMs?: number;
}

type RedisClient = ReturnType<typeof createClient>;

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`concurrency cap: Redis ${what} timed out after ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

class RedisSemaphore implements SharedSemaphore {
  private readonly client: RedisClient;
  private readonly namespace: string;
  private readonly timeoutMs: number;
  private connecting?: Promise<unknown>;
  private closed = false;

  constructor(options: RedisSemaphoreOptions) {
    this.namespace = options.namespace ?? 'wsz';
    this.timeoutMs = options.operationTimeoutMs ?? 2000;
    this.client = createClient({
      url: options.url,
      // Fail fast while disconnected: the limiter then falls back to the local cap.
      disableOfflineQueue: true,
      socket: {
        connectTimeout: this.timeoutMs,
        reconnectStrategy: (retries: number) => Math.min(2 ** retries * 100, 2000) + Math.floor(Math.random() * 100),
      },
    }) as RedisClient;
    this.client.on('error', () => {
      // Reported through the rejected operations (and the limiter's rate-limited log line).
    });
  }

  private key(key: string): string {
    return `${this.namespace}::${key}`;
  }

  private async ready(): Promise<RedisClient> {
    if (this.closed) throw new Error('concurrency cap: Redis connection closed');
    if (!this.client.isOpen) {
      this.connecting ??= this.client.connect().finally(() => {
        this.connecting = undefined;
      });
      await withTimeout(this.connecting, this.timeoutMs, 'connect');
    }
    if (!this.client.isReady) throw new Error('concurrency cap: Redis not ready');
    return this.client;
  }

  async connect(): Promise<void> {
    const client = await this.ready();
    await withTimeout(client.ping(), this.timeoutMs, 'ping');
  }

  async tryAcquire(key: string, member: string, max: number, leaseMs: number, force: boolean): Promise<boolean> {
    const client = await this.ready();
    const reply = await withTimeout(
      client.eval(ACQUIRE_SCRIPT, { keys: [this.key(key)], arguments: [member, String(max), String(Math.ceil(leaseMs)), force ? '1' : '0'] }),
      this.timeoutMs,
      'acquire',
    );
    return Number(reply) === 1;
  }

  async release(key: string, member: string): Promise<void> {
    const client = await this.ready();
    await withTimeout(client.zRem(this.key(key), member), this.timeoutMs, 'release');
  }

  async count(key: string): Promise<number> {
    const client = await this.ready();
    return Number(await withTimeout(client.eval(COUNT_SCRIPT, { keys: [this.key(key)], arguments: [] }), this.timeoutMs, 'count'));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      if (this.client.isOpen) await this.client.close();
      else this.client.destroy();
    } catch {
      // already closed
    }
  }
}

/**
 * A {@link SharedSemaphore} in Redis: one sorted set per cap (`<namespace>::limit:<env>:<origin hash>`),
 * members are lease ids scored by their expiry. Pass it to every client of the deployment
 * (`LegacyClientOptions.sharedConcurrency`); the caller connects and closes it.
 */
export function createRedisSemaphore(options: RedisSemaphoreOptions): SharedSemaphore {
  return new RedisSemaphore(options);
}
