/**
 * A listening subgraph for the operators' pages: a cached replica (test/helpers/cached-subgraph.ts)
 * in front of its own emulator, with a fast-sampling status page.
 */
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import type { ServerDependencies } from '../../src/server.js';
import { startReplica, type Replica } from '../helpers/cached-subgraph.js';

export interface OpsSubgraph {
  readonly url: string;
  readonly emulator: Emulator;
  readonly replica: Replica;
  /** POSTs an operation, returns the answer. */
  post: Replica['post'];
  /** An article number the emulator holds. */
  sku(index?: number): string;
  close(): Promise<void>;
}

export async function startOpsSubgraph(options: Partial<Pick<ServerDependencies, 'operatorToken' | 'explorer' | 'production'>> = {}): Promise<OpsSubgraph> {
  const emulator = await startEmulator({ port: 0 });
  const replica = await startReplica({
    emulator,
    namespace: `wsz-ops-test-${process.pid}`,
    operatorToken: options.operatorToken,
    production: options.production,
    server: { explorer: options.explorer, status: { sampleMs: 250 } },
  });
  // The upstream state per environment, as the entry point attaches it (the replica does not).
  replica.server.readiness.watchSessions(replica.client.defaultEnvironment, () => replica.client.sessionState());
  return {
    url: replica.url,
    emulator,
    replica,
    post: (query, variables, headers) => replica.post(query, variables, headers),
    sku(index = 0) {
      return String(emulator.db.table('Artikel_Variante')!.rows()[index]!.Nummer);
    },
    async close() {
      await replica.close();
      await emulator.close();
    },
  };
}
