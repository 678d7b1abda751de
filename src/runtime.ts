/**
 * Wires the long-lived parts of a process from the configuration: the shared session store, the
 * embedded emulator when no upstream is configured, the legacy client and the metrics.
 * Used by the server entry point and the command line.
 */
import type { Logger } from 'pino';
import { ConfigError, type AppConfig } from './config.js';
import { startEmulator, type Emulator } from './emulator/index.js';
import { createLegacyClient, createSessionStore, type LegacyClient } from './legacy/index.js';
import type { UpstreamEvent } from './metrics.js';

export interface Runtime {
  readonly client: LegacyClient;
  /** Set when the built-in emulator serves as the upstream. */
  readonly emulator?: Emulator;
  close(): Promise<void>;
}

/**
 * Starts the runtime. With `config.emulator` set, the emulator is started first and the default
 * environment points at it with the emulator's default credentials.
 */
export async function createRuntime(
  config: AppConfig,
  logger: Logger,
  options: { onUpstreamRequest?: (event: UpstreamEvent) => void } = {},
): Promise<Runtime> {
  let emulator: Emulator | undefined;
  let environments = config.legacy.environments;
  if (config.emulator) {
    emulator = await startEmulator({
      port: config.emulator.port,
      scale: config.emulator.scale,
      latencyMs: config.emulator.latencyMs,
      sessions: config.emulator.sessions,
    });
    environments = { [config.legacy.defaultEnvironment]: { baseUrl: emulator.url, username: 'wsz', password: 'wsz', auth: 'login' } };
  }
  const store = createSessionStore({ redisUrl: config.redisUrl, namespace: config.storeNamespace, logger });
  try {
    // Before the first request: an unconnected store would let replicas starting together each log in.
    await store.connect();
  } catch (err) {
    await store.close();
    await emulator?.close();
    const where = (config.redisUrl ?? '').replace(/\/\/[^@/]*@/, '//(credentials hidden)@');
    throw new ConfigError(`REDIS_URL: Redis at ${where} does not answer: ${(err as Error).message}`);
  }
  const client = createLegacyClient({
    environments,
    defaultEnvironment: config.legacy.defaultEnvironment,
    timeoutMs: config.legacy.timeoutMs,
    retries: config.legacy.retries,
    sessionTimeoutSeconds: config.legacy.sessionTimeoutSeconds,
    sessionLimitBreakerSeconds: config.legacy.sessionLimitBreakerSeconds,
    connections: config.legacy.connections,
    store,
    logger,
    onUpstreamRequest: options.onUpstreamRequest,
  });
  return {
    client,
    emulator,
    async close() {
      await client.close();
      await store.close();
      await emulator?.close();
    },
  };
}
