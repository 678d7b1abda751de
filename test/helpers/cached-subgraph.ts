/**
 * Test factory for the caches: a subgraph replica with its own legacy client and cache, listening
 * on a free port, in front of an emulator the test owns (so several replicas share one ERP and,
 * with `redisUrl`, one Redis). Requests go over HTTP, so headers (`Cache-Control`, `Cache-Tag`) are real.
 */
import { pino, type Logger } from 'pino';
import type { Emulator } from '../../src/emulator/index.js';
import { createCache, createCacheMetrics, type Cache, type CacheSettings } from '../../src/cache/index.js';
import { Readiness } from '../../src/health.js';
import { createLegacyClient, type LegacyClient, type LegacyClientOptions } from '../../src/legacy/index.js';
import { createMetrics, type Metrics } from '../../src/metrics.js';
import { TYPE_TABLES } from '../../src/runtime.js';
import { buildServer, type BuiltServer, type ServerDependencies } from '../../src/server.js';

export const TEST_CACHE_SETTINGS: CacheSettings = {
  enabled: true,
  ttlSeconds: 60,
  ttlByType: {},
  graceSeconds: 600,
  maxEntries: 10_000,
  maxBytes: 32 * 1024 * 1024,
  debug: true,
};

export interface GraphQLAnswer<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  data?: T | null;
  errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
  extensions?: { cache?: { status: string; tags?: string[] } } & Record<string, unknown>;
}

export interface Replica {
  readonly url: string;
  readonly client: LegacyClient;
  readonly cache: Cache;
  readonly server: BuiltServer;
  readonly metrics: Metrics;
  post<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>, headers?: Record<string, string>): Promise<GraphQLAnswer<T>>;
  close(): Promise<void>;
}

export interface ReplicaOptions {
  emulator: Emulator;
  /** Shared Redis; default none (in-memory cache). */
  redisUrl?: string;
  namespace?: string;
  settings?: Partial<CacheSettings>;
  /** The cache clock; default `Date.now`. */
  now?: () => number;
  client?: Partial<LegacyClientOptions>;
  logger?: Logger;
  operatorToken?: string;
  production?: boolean;
  /** Further server dependencies (explorer, status page sampling); default none. */
  server?: Partial<Pick<ServerDependencies, 'explorer' | 'status'>>;
}

export async function startReplica(options: ReplicaOptions): Promise<Replica> {
  const logger = options.logger ?? pino({ level: 'silent' });
  const metrics = createMetrics({ defaultMetrics: false });
  const readiness = new Readiness();
  const client = createLegacyClient({
    environments: { test: { baseUrl: options.emulator.url, username: 'wsz', password: 'wsz' } },
    defaultEnvironment: 'test',
    retryBaseMs: 5,
    retries: 1,
    onUpstreamRequest: (event) => {
      metrics.observeUpstream(event);
      readiness.observeUpstream(event);
    },
    onSessionEvent: (event, environment) => metrics.observeSession(event, environment),
    ...options.client,
  });
  const cache = createCache({
    settings: { ...TEST_CACHE_SETTINGS, ...options.settings },
    redisUrl: options.redisUrl,
    namespace: options.namespace ?? 'wsz-test',
    logger,
    metrics: createCacheMetrics(metrics.registry),
    now: options.now,
    typeTables: TYPE_TABLES,
  });
  const server = buildServer({
    source: client,
    cache,
    environment: 'test',
    readiness,
    logger,
    metrics,
    operatorToken: options.operatorToken,
    production: options.production,
    sessions: client,
    ...options.server,
  });
  await server.start();
  await new Promise<void>((resolve) => server.httpServer.listen(0, '127.0.0.1', resolve));
  const { port } = server.httpServer.address() as { port: number };
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    client,
    cache,
    server,
    metrics,
    async post(query, variables, headers) {
      const response = await fetch(`${url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ query, variables }),
      });
      const body = (await response.json()) as Omit<GraphQLAnswer, 'status' | 'headers'>;
      return { status: response.status, headers: response.headers, ...body } as never;
    },
    async close() {
      await server.stop(100);
      await client.close();
      await cache.close();
    },
  };
}

/** Upstream requests the emulator received while `fn` ran (its counters are reset first). */
export async function upstreamDuring<T>(emulator: Emulator, fn: () => Promise<T>): Promise<{ result: T; requests: number; byRoute: Record<string, number> }> {
  emulator.resetCounters();
  const result = await fn();
  return { result, requests: emulator.counters.requests, byRoute: { ...emulator.counters.byRoute } };
}
