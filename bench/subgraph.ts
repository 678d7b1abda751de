/**
 * Benchmark factory: one 4D REST emulator, one legacy client pointed at it (one shared upstream
 * session), and the subgraph built in-process, wired as `src/index.ts` and the test helper wire it.
 * Several servers can be built over the same client, differing only in their `maxBatchSize`.
 */
import { pino } from 'pino';
import { startEmulator, type Emulator, type EmulatorOptions } from '../src/emulator/index.js';
import { createLegacyClient, type LegacyClient } from '../src/legacy/index.js';
import type { Cache } from '../src/cache/index.js';
import type { QueryLimitOptions } from '../src/limits/index.js';
import { createMetrics } from '../src/metrics.js';
import { buildServer, type BuiltServer } from '../src/server.js';

/** A GraphQL error as Apollo reports it in a single result. */
export interface ResultError {
  message: string;
  path?: ReadonlyArray<string | number>;
  extensions?: Record<string, unknown>;
}

/** The single (non-incremental) result of an operation. */
export interface SingleResult<T> {
  data?: T | null;
  errors?: ReadonlyArray<ResultError>;
}

export interface BenchServer {
  readonly server: BuiltServer;
  /** Keys per upstream request of a loader (`maxBatchSize`) this server was built with. */
  readonly maxBatchSize: number;
  /** Executes an operation in-process with a fresh context (fresh DataLoaders, nothing cached). */
  execute<T>(query: string, variables?: Record<string, unknown>): Promise<SingleResult<T>>;
}

export interface BenchSubgraph {
  readonly emulator: Emulator;
  readonly client: LegacyClient;
  /**
   * Builds and starts a subgraph server over the shared client (`queryLimits`: default, the server's
   * defaults; `cache`: the caches in front of the client, default none; the caller closes it).
   */
  addServer(maxBatchSize: number, queryLimits?: QueryLimitOptions, options?: { cache?: Cache }): Promise<BenchServer>;
  /** Stops every server, then the client, then the emulator. */
  close(): Promise<void>;
}

export async function startBenchSubgraph(emulatorOptions: EmulatorOptions): Promise<BenchSubgraph> {
  const emulator = await startEmulator({ port: 0, ...emulatorOptions });
  const client = createLegacyClient({
    environments: { bench: { baseUrl: emulator.url, username: 'wsz', password: 'wsz' } },
    defaultEnvironment: 'bench',
  });
  const servers: BuiltServer[] = [];

  return {
    emulator,
    client,
    async addServer(maxBatchSize, queryLimits, options) {
      const server = buildServer({
        source: client,
        cache: options?.cache,
        logger: pino({ level: 'silent' }),
        metrics: createMetrics({ defaultMetrics: false }),
        production: true,
        maxBatchSize,
        queryLimits,
      });
      await server.start();
      servers.push(server);
      return {
        server,
        maxBatchSize,
        async execute<T>(query: string, variables?: Record<string, unknown>) {
          const response = await server.apollo.executeOperation({ query, variables }, { contextValue: await server.createContext() });
          if (response.body.kind !== 'single') throw new Error('expected a single (non-incremental) result');
          return response.body.singleResult as SingleResult<T>;
        },
      };
    },
    async close() {
      for (const server of servers.splice(0)) await server.stop();
      await client.close();
      await emulator.close();
    },
  };
}
