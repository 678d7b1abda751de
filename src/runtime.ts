/**
 * Wires the long-lived parts of a process from the configuration: the session store, the embedded
 * emulator when the configuration asks for it, the legacy client and the metrics.
 * Used by the server entry point, the command line and the compatibility module.
 *
 * The emulator is imported only when it is used (a dynamic `import()`), so a process talking to a
 * real ERP never loads `src/emulator/` (test/process/no-silent-emulator.test.ts checks it).
 */
import { auditLog } from './observability/audit.js';
import type { Logger } from 'pino';
import { ConfigError, type AppConfig } from './config.js';
import type { Emulator } from './emulator/index.js';
import { createFileSessionStore, createLegacyClient, createRedisSemaphore, createSessionStore, type LegacyClient, type SessionEvent, type SessionStore } from './legacy/index.js';
import type { UpstreamEvent } from './metrics.js';
import { createCache, type Cache, type CacheMetrics } from './cache/index.js';
import { ENTITIES } from './mapping/entities.js';

export interface Runtime {
  readonly client: LegacyClient;
  /**
   * The caches (`src/cache/`): with `cache: 'serve'` the server puts them in front of the client;
   * with `'invalidate'` (and `REDIS_URL`) the client's writes move the shared tags, so replicas
   * caching in that Redis never serve what this process changed. `undefined` otherwise.
   */
  readonly cache?: Cache;
  /** Set when the built-in emulator serves as the upstream. */
  readonly emulator?: Emulator;
  /** Which session store holds the sessions: `redis` (`REDIS_URL`), `file` or `memory`. */
  readonly sessionStore: 'redis' | 'file' | 'memory';
  /** With `waitForStore`: why the store is not connected yet (names `REDIS_URL`), else `undefined`. */
  readonly storeWaiting: string | undefined;
  /** Resolves once the session store is connected (at once unless `waitForStore` had to wait). */
  readonly storeReady: Promise<void>;
  /**
   * Closes the client (which logs out a session no other process can use, i.e. one kept in memory),
   * the store and the emulator. Idempotent.
   */
  close(): Promise<void>;
}

/** Options of {@link createRuntime}. */
export interface RuntimeOptions {
  /** Called for every upstream HTTP attempt (metrics). Default none. */
  onUpstreamRequest?: (event: UpstreamEvent) => void;
  /** Called for every session event (metrics). Default none. */
  onSessionEvent?: (event: SessionEvent, environment: string) => void;
  /**
   * Where the sessions live when `REDIS_URL` is not set. `'memory'` (default; the subgraph, which logs
   * its session out at shutdown) or `'file'` (the command line and the compatibility module: the
   * session survives the process in `config.sessionFile`, so runs one after another share one
   * licence). With `REDIS_URL` Redis is used either way. An in-process emulator dies with the process,
   * and its session with it, so it always gets the memory store.
   */
  sessionStore?: 'memory' | 'file';
  /**
   * When Redis does not answer at start-up: `false` (default; the command line) fails with a
   * ConfigError naming `REDIS_URL`; `true` (the server) returns at once and keeps trying in the
   * background, with `storeWaiting` set until `storeReady` resolves.
   */
  waitForStore?: boolean;
  /**
   * `'serve'` (the server): build the caches from `config.cache`. `'invalidate'` (the command line,
   * the compatibility module): only invalidate the shared cache on writes, when `REDIS_URL` is set.
   * Default `'invalidate'`.
   */
  cache?: 'serve' | 'invalidate';
  /** Cache metrics; default none. */
  cacheMetrics?: CacheMetrics;
  /** Who writes outside a GraphQL request, in the audit log (`cli`, `compat`); default `local`. */
  auditVia?: string;
}

/** GraphQL type → table, for per-type TTLs and `Type:id` purge tags. */
export const TYPE_TABLES: Readonly<Record<string, string>> = Object.fromEntries(Object.values(ENTITIES).map((d) => [d.typename, d.table]));

/** Interval between connection attempts while waiting for Redis at start-up. */
const STORE_RETRY_MS = 1000;
/** At most one warning this often while waiting. */
const STORE_RETRY_LOG_MS = 10_000;

function hideCredentials(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//(credentials hidden)@');
}

/**
 * Starts the runtime. With `config.emulator` set, the emulator is started first and the default
 * environment points at it with the emulator's default credentials.
 * @throws ConfigError naming `REDIS_URL` or `WSZ_SESSION_FILE` when the session store cannot be used.
 */
export async function createRuntime(config: AppConfig, logger: Logger, options: RuntimeOptions = {}): Promise<Runtime> {
  let emulator: Emulator | undefined;
  let environments = config.legacy.environments;
  if (config.emulator) {
    // Loaded here only: production processes never import the emulator.
    const { startEmulator } = await import('./emulator/index.js');
    emulator = await startEmulator({
      port: config.emulator.port,
      scale: config.emulator.scale,
      latencyMs: config.emulator.latencyMs,
      sessions: config.emulator.sessions,
      changeTracking: config.emulator.changeTracking,
    });
    environments = { [config.legacy.defaultEnvironment]: { baseUrl: emulator.url, username: 'wsz', password: 'wsz', auth: 'login' } };
  }

  const kind: Runtime['sessionStore'] = config.redisUrl ? 'redis' : options.sessionStore === 'file' && !emulator ? 'file' : 'memory';
  const store: SessionStore =
    kind === 'file'
      ? createFileSessionStore({ path: config.sessionFile, logger })
      : createSessionStore({ redisUrl: config.redisUrl, namespace: config.storeNamespace, logger });
  // Before the first request: an unconnected store would let replicas starting together each log in.
  let storeWaiting: string | undefined;
  let storeReady: Promise<void> = Promise.resolve();
  let closed = false;
  try {
    await store.connect();
  } catch (err) {
    const problem =
      kind === 'file'
        ? `WSZ_SESSION_FILE: ${(err as Error).message}; set WSZ_SESSION_FILE to a file in a writable directory`
        : `REDIS_URL: Redis at ${hideCredentials(config.redisUrl ?? '')} does not answer: ${(err as Error).message}`;
    if (kind !== 'redis' || !options.waitForStore) {
      await store.close();
      await emulator?.close();
      throw new ConfigError(problem);
    }
    // A server waits for Redis (its /ready answers 503 meanwhile) instead of exiting.
    storeWaiting = problem;
    logger.warn({ setting: 'REDIS_URL' }, `${problem}; waiting for it (the server is not ready until it answers)`);
    storeReady = (async () => {
      let lastLog = Date.now();
      while (!closed) {
        await new Promise((resolve) => setTimeout(resolve, STORE_RETRY_MS).unref());
        if (closed) return;
        try {
          await store.connect();
          storeWaiting = undefined;
          logger.info({ setting: 'REDIS_URL' }, 'REDIS_URL: Redis answers; the session store is connected');
          return;
        } catch (retryErr) {
          if (Date.now() - lastLog >= STORE_RETRY_LOG_MS) {
            lastLog = Date.now();
            logger.warn({ setting: 'REDIS_URL' }, `REDIS_URL: Redis at ${hideCredentials(config.redisUrl ?? '')} still does not answer: ${(retryErr as Error).message}`);
          }
        }
      }
    })();
  }
  // With Redis, the cap on concurrent upstream requests holds for the whole deployment.
  const semaphore = config.redisUrl ? createRedisSemaphore({ url: config.redisUrl, namespace: config.storeNamespace }) : undefined;
  await semaphore?.connect().catch((err: unknown) => {
    logger.warn({ err: (err as Error).message }, 'REDIS_URL: the shared concurrency cap is not reachable yet; each process applies LEGACY_API_MAX_CONCURRENCY on its own until it is');
  });
  const client = createLegacyClient({
    environments,
    defaultEnvironment: config.legacy.defaultEnvironment,
    timeoutMs: config.legacy.timeoutMs,
    retries: config.legacy.retries,
    sessionTimeoutSeconds: config.legacy.sessionTimeoutSeconds,
    sessionLimitBreakerSeconds: config.legacy.sessionLimitBreakerSeconds,
    connections: config.legacy.connections,
    maxConcurrency: config.legacy.maxConcurrency,
    queueTimeoutMs: config.legacy.queueTimeoutMs,
    maxUrlBytes: config.legacy.maxUrlBytes,
    writeRecheckDelayMs: config.legacy.writeRecheckDelayMs,
    sharedConcurrency: semaphore,
    store,
    logger,
    onUpstreamRequest: options.onUpstreamRequest,
    onSessionEvent: options.onSessionEvent,
  });
  // Every writer (GraphQL, the command line, the compatibility module) writes through this client.
  client.subscribeAudit(auditLog(logger, options.auditVia));
  const mode = options.cache ?? 'invalidate';
  const cache =
    mode === 'serve' || config.redisUrl
      ? createCache({ settings: config.cache, redisUrl: config.redisUrl, namespace: config.storeNamespace, logger, metrics: options.cacheMetrics, typeTables: TYPE_TABLES })
      : undefined;
  if (cache && mode === 'invalidate') client.subscribeWrites(cache.invalidation());
  let closing: Promise<void> | undefined;
  return {
    client,
    cache,
    emulator,
    sessionStore: kind,
    get storeWaiting() {
      return storeWaiting;
    },
    storeReady,
    close() {
      closed = true;
      closing ??= (async () => {
        // The client first: with a memory store it logs its session out, which needs the store.
        try {
          await client.close();
        } finally {
          await store.close();
          await cache?.close();
          await semaphore?.close();
          await emulator?.close();
        }
      })();
      return closing;
    },
  };
}
