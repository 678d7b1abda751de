/**
 * Test factory: an emulator, a legacy client pointed at it, and the subgraph built in-process
 * (no listening socket unless a test asks for one).
 */
import { pino, type Logger } from 'pino';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../src/emulator/index.js';
import { createLegacyClient, type LegacyClient, type LegacyClientOptions } from '../../src/legacy/index.js';
import { Readiness } from '../../src/health.js';
import { createMetrics, type Metrics } from '../../src/metrics.js';
import type { QueryLimitOptions } from '../../src/limits/index.js';
import { buildServer, type BuiltServer, type ServerDependencies } from '../../src/server.js';

export interface TestSubgraph {
  emulator: Emulator;
  client: LegacyClient;
  server: BuiltServer;
  metrics: Metrics;
  /** Executes an operation in-process and returns its single result (data and errors). */
  execute<T = Record<string, unknown>>(
    query: string,
    variables?: Record<string, unknown>,
  ): Promise<{ data?: T | null; errors?: ReadonlyArray<{ message: string; path?: ReadonlyArray<string | number>; extensions?: Record<string, unknown> }> }>;
  close(): Promise<void>;
}

export async function startTestSubgraph(
  options: {
    emulator?: EmulatorOptions;
    client?: Partial<LegacyClientOptions>;
    maxBatchSize?: number;
    maxPageSize?: number;
    /** Query limits (depth, aliases, cost); default: the server's defaults. */
    queryLimits?: QueryLimitOptions;
    logger?: Logger;
    production?: boolean;
    /** The metrics (e.g. with a small operation-name cap); default `createMetrics({ defaultMetrics: false })`. */
    metrics?: Metrics;
    /** Further server settings (router secret, mutation authorization, tracing, …). */
    server?: Partial<ServerDependencies>;
  } = {},
): Promise<TestSubgraph> {
  const emulator = await startEmulator({ port: 0, ...options.emulator });
  const metrics = options.metrics ?? createMetrics({ defaultMetrics: false });
  const readiness = new Readiness();
  const client = createLegacyClient({
    onUpstreamRequest: (event) => {
      metrics.observeUpstream(event);
      readiness.observeUpstream(event);
    },
    onSessionEvent: (event, environment) => metrics.observeSession(event, environment),
    environments: { test: { baseUrl: emulator.url, username: 'wsz', password: 'wsz' } },
    defaultEnvironment: 'test',
    retryBaseMs: 5,
    ...options.client,
  });
  readiness.watchSessions(client.defaultEnvironment, () => client.sessionState());
  metrics.upstream.watchSessions(client);
  const server = buildServer({
    source: client,
    readiness,
    logger: options.logger ?? pino({ level: 'silent' }),
    production: options.production,
    metrics,
    maxBatchSize: options.maxBatchSize,
    maxPageSize: options.maxPageSize,
    queryLimits: options.queryLimits,
    ...options.server,
  });
  await server.start();

  return {
    emulator,
    client,
    server,
    metrics,
    async execute(query, variables) {
      const response = await server.apollo.executeOperation(
        { query, variables },
        { contextValue: await server.createContext() },
      );
      if (response.body.kind !== 'single') throw new Error('expected a single (non-incremental) result');
      return response.body.singleResult as never;
    },
    async close() {
      await server.stop();
      await client.close();
      await emulator.close();
    },
  };
}
