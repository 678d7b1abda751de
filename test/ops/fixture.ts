/**
 * A listening subgraph for the operators' pages: emulator, legacy client feeding the metrics and
 * the readiness, an in-memory cache with its metrics, and a fast-sampling status page.
 */
import { pino } from 'pino';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { createCache, createCacheMetrics, type Cache } from '../../src/cache/index.js';
import { Readiness } from '../../src/health.js';
import { createLegacyClient, type LegacyClient } from '../../src/legacy/index.js';
import { createMetrics, type Metrics } from '../../src/metrics.js';
import { TYPE_TABLES } from '../../src/runtime.js';
import { buildServer, type BuiltServer, type ServerDependencies } from '../../src/server.js';
import { TEST_CACHE_SETTINGS } from '../helpers/cached-subgraph.js';

export interface OpsSubgraph {
  readonly url: string;
  readonly emulator: Emulator;
  readonly client: LegacyClient;
  readonly server: BuiltServer;
  readonly metrics: Metrics;
  /** POSTs an operation, returns the parsed body. */
  post(query: string, variables?: Record<string, unknown>): Promise<{ data?: Record<string, unknown> | null; errors?: Array<{ message: string; extensions?: { code?: string } }> }>;
  /** An article number the emulator holds. */
  sku(index?: number): string;
  close(): Promise<void>;
}

export async function startOpsSubgraph(options: Partial<Pick<ServerDependencies, 'operatorToken' | 'explorer' | 'production' | 'status'>> = {}): Promise<OpsSubgraph> {
  const logger = pino({ level: process.env.OPS_TEST_LOG ?? 'silent' });
  const emulator = await startEmulator({ port: 0 });
  const metrics = createMetrics({ defaultMetrics: false });
  const readiness = new Readiness();
  const client = createLegacyClient({
    environments: { test: { baseUrl: emulator.url, username: 'wsz', password: 'wsz' } },
    defaultEnvironment: 'test',
    retryBaseMs: 5,
    onUpstreamRequest: (event) => {
      metrics.observeUpstream(event);
      readiness.observeUpstream(event);
    },
    onSessionEvent: (event, environment) => metrics.observeSession(event, environment),
  });
  readiness.watchSessions(client.defaultEnvironment, () => client.sessionState());
  const cache: Cache = createCache({ settings: TEST_CACHE_SETTINGS, namespace: 'wsz-ops-test', logger, metrics: createCacheMetrics(metrics.registry), typeTables: TYPE_TABLES });
  const server = buildServer({
    source: client,
    cache,
    environment: 'test',
    readiness,
    sessions: client,
    logger,
    metrics,
    status: { sampleMs: 250 },
    ...options,
  });
  await server.start();
  await new Promise<void>((resolve) => server.httpServer.listen(0, '127.0.0.1', resolve));
  const { port } = server.httpServer.address() as { port: number };
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    emulator,
    client,
    server,
    metrics,
    async post(query, variables) {
      const response = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
      return (await response.json()) as never;
    },
    sku(index = 0) {
      return String(emulator.db.table('Artikel_Variante')!.rows()[index]!.Nummer);
    },
    async close() {
      await server.stop(100);
      await client.close();
      await cache.close();
      await emulator.close();
    },
  };
}
