/**
 * Process entry: load the configuration, start the runtime (and the built-in emulator when no
 * upstream is configured), build the server, listen, and shut down cleanly on SIGINT/SIGTERM.
 */
import { pino } from 'pino';
import { ConfigError, loadConfig } from './config.js';
import { createMetrics } from './metrics.js';
import { createRuntime } from './runtime.js';
import { buildServer } from './server.js';

/** Log paths that may carry secrets; pino replaces them before anything is written. */
const REDACT = ['password', '*.password', 'cookie', '*.cookie', 'headers.cookie', 'headers.authorization', '*.headers.cookie', '*.headers.authorization'];

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = pino({ level: config.logLevel, redact: { paths: REDACT, censor: '[redacted]' } });
  const metrics = createMetrics();
  const runtime = await createRuntime(config, logger, { onUpstreamRequest: (e) => metrics.observeUpstream(e) });
  if (runtime.emulator) {
    logger.info(
      { emulator: runtime.emulator.url, scale: config.emulator?.scale },
      `using the built-in 4D REST emulator at ${runtime.emulator.url} (no LEGACY_API_URL configured)`,
    );
  } else {
    const env = config.legacy.environments[config.legacy.defaultEnvironment];
    logger.info({ environment: config.legacy.defaultEnvironment, upstream: new URL(env.baseUrl).origin }, 'using the 4D REST server');
  }

  const server = buildServer({
    source: runtime.client,
    upstreamReady: () => runtime.client.ping().then(() => true, () => false),
    logger,
    metrics,
    production: config.nodeEnv === 'production',
    maxPageSize: config.maxPageSize,
    maxBatchSize: config.maxBatchSize,
  });
  await server.start();
  await new Promise<void>((resolve, reject) => {
    server.httpServer.once('error', reject);
    server.httpServer.listen(config.port, config.host, () => resolve());
  });
  const address = server.httpServer.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  logger.info({ port, redis: Boolean(config.redisUrl) }, `subgraph ready at http://localhost:${port}/graphql`);

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    Promise.allSettled([server.stop()])
      .then(() => runtime.close())
      .then(
        () => process.exit(0),
        (err) => {
          logger.error({ err }, 'error while shutting down');
          process.exit(1);
        },
      );
  };
  process.once('SIGINT', () => shutdown('SIGINT'));
  process.once('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    console.error(`Invalid configuration: ${err.message}`);
  } else {
    console.error('The subgraph failed to start:', err instanceof Error ? err.message : err);
  }
  process.exit(1);
});
