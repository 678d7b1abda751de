/**
 * Process entry: load the configuration, start the runtime (and the built-in emulator when no
 * upstream is configured), build the server, listen, and shut down cleanly on SIGTERM/SIGINT.
 *
 * Shutdown (one handler for both signals): `/ready` answers 503 at once, in-flight requests finish
 * within `SHUTDOWN_GRACE_MS`, the listener and connections close, then the runtime (pools, session
 * store, emulator) closes and the process exits 0. Run it with `exec node …` (as `npm start` does)
 * so the signal reaches node and not a shell.
 */
import { ConfigError, loadConfig, maskSecrets } from './config.js';
import { requireRouterSecret } from './config-observability.js';
import { createLogger } from './observability/logger.js';
import { startTracing } from './observability/tracing.js';
import { Readiness } from './health.js';
import { createCacheMetrics } from './cache/index.js';
import { createChangeWatcher } from './watcher/index.js';
import { createMetrics } from './metrics.js';
import { createRuntime, type Runtime } from './runtime.js';
import { buildServer } from './server.js';

/** Log paths that may carry secrets; pino replaces them before anything is written. */
const REDACT = ['password', '*.password', 'cookie', '*.cookie', 'headers.cookie', 'headers.authorization', '*.headers.cookie', '*.headers.authorization'];

/** After the grace period, how long closing the runtime may take before the process gives up. */
const CLOSE_MARGIN_MS = 5000;

let runtime: Runtime | undefined;

async function main(): Promise<void> {
  const config = loadConfig();
  requireRouterSecret(config.observability);
  const logger = createLogger({ level: config.logLevel, format: config.observability.logFormat, production: config.nodeEnv === 'production', redact: REDACT });
  // Before the client: its spans go to the provider registered here (none: the no-op API).
  const tracing = startTracing({ otlpUrl: config.observability.tracing.otlpUrl, serviceName: config.observability.tracing.serviceName, logger });
  const metrics = createMetrics({ maxOperationNames: config.metrics.maxOperationNames });
  const readiness = new Readiness();
  runtime = await createRuntime(config, logger, {
    onUpstreamRequest: (e) => {
      metrics.observeUpstream(e);
      readiness.observeUpstream(e);
    },
    onSessionEvent: (event, environment) => metrics.observeSession(event, environment),
    // A configured Redis that does not answer yet: serve /ready 503 (naming REDIS_URL) and wait.
    waitForStore: true,
    cache: 'serve',
    cacheMetrics: createCacheMetrics(metrics.registry),
  });
  const rt = runtime;
  if (rt.storeWaiting) {
    const unblock = readiness.block(() => maskSecrets(rt.storeWaiting ?? 'the session store'));
    void rt.storeReady.then(unblock);
  }
  if (rt.emulator) {
    logger.info(
      { emulator: rt.emulator.url, scale: config.emulator?.scale },
      `using the built-in 4D REST emulator at ${rt.emulator.url} (no LEGACY_API_URL configured)`,
    );
  } else {
    const env = config.legacy.environments[config.legacy.defaultEnvironment];
    logger.info({ environment: config.legacy.defaultEnvironment, upstream: new URL(env.baseUrl).origin }, 'using the 4D REST server');
  }
  readiness.watchSessions(rt.client.defaultEnvironment, () => rt.client.sessionState());
  metrics.upstream.watchSessions(rt.client);
  if (config.metrics.licencePoolSize > 0) for (const env of rt.client.environments()) metrics.upstream.setLicencePool(env, config.metrics.licencePoolSize);

  const server = buildServer({
    source: rt.client,
    cache: rt.cache,
    environment: rt.client.defaultEnvironment,
    operatorToken: config.operatorToken,
    explorer: config.explorer,
    sessions: rt.client,
    readiness,
    logger,
    metrics,
    production: config.nodeEnv === 'production',
    maxPageSize: config.maxPageSize,
    maxBatchSize: config.maxBatchSize,
    queryLimits: config.queryLimits,
    shutdownGraceMs: config.shutdownGraceMs,
    routerSecret: config.observability.routerSecret,
    mutationAuth: config.observability.mutationAuth,
    callerHeader: config.observability.callerHeader,
    tracing: tracing.enabled,
  });

  const watcher = rt.cache && config.cache.enabled ? createChangeWatcher({ config, source: rt.client, cache: rt.cache, logger, registry: metrics.registry }) : undefined;
  readiness.describe('cache', () => ({ store: config.cache.enabled ? rt.cache?.store : 'off', usable: rt.cache?.tagged.usable ?? false }));
  if (watcher) readiness.describe('changes', () => watcher.status());

  // The one handler of SIGTERM and SIGINT. A repeated signal (npm forwards the terminal's SIGINT
  // that node also received) does not cut the drain short.
  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.info({ signal }, 'already shutting down');
      return;
    }
    stopping = true;
    const started = Date.now();
    logger.info({ signal, graceMs: config.shutdownGraceMs, inFlight: readiness.inFlight }, 'shutting down: draining');
    const hardStop = setTimeout(() => {
      logger.error({ signal }, 'shutdown did not finish in time; exiting');
      process.exit(1);
    }, config.shutdownGraceMs + CLOSE_MARGIN_MS);
    hardStop.unref();
    // The watcher stops beside the drain (its poll in flight gets the same moment), then the runtime closes.
    Promise.all([server.stop(), watcher?.stop()])
      .then(() => rt.close())
      .then(() => tracing.shutdown())
      .then(
        () => {
          logger.info({ signal, durationMs: Date.now() - started }, 'shut down');
          process.exit(0);
        },
        (err: unknown) => {
          logger.error({ err }, 'error while shutting down');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);

  await server.start();
  if (stopping) return;
  // Polls in the background; a server it cannot reach yet is logged, never a failed start.
  void watcher?.start().catch((err: unknown) => logger.warn({ err: (err as Error).message }, 'change watcher could not start'));
  await new Promise<void>((resolve, reject) => {
    server.httpServer.once('error', reject);
    server.httpServer.listen(config.port, config.host, () => resolve());
  });
  const address = server.httpServer.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  logger.info({ port, redis: Boolean(config.redisUrl), cache: config.cache.enabled ? rt.cache?.store : 'off' }, `subgraph ready at http://localhost:${port}/graphql`);
}

main().catch(async (err: unknown) => {
  // Messages may quote settings: every secret of the configuration is masked before printing.
  if (err instanceof ConfigError) {
    console.error(maskSecrets(`Invalid configuration: ${err.message}`));
  } else {
    console.error(maskSecrets(`The subgraph failed to start: ${err instanceof Error ? err.message : String(err)}`));
  }
  if (runtime) await Promise.race([runtime.close().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, CLOSE_MARGIN_MS).unref())]);
  process.exit(1);
});
