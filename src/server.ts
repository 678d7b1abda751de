/**
 * Builds the HTTP application (GraphQL, health, readiness, metrics) from its dependencies.
 * It does not listen: `src/index.ts` does, and tests use the returned objects in-process.
 */
import { ApolloServer } from '@apollo/server';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { expressMiddleware } from '@as-integrations/express5';
import express from 'express';
import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import { ApolloServerPluginCacheControl } from '@apollo/server/plugin/cacheControl';
import type { Cache } from './cache/index.js';
import { contextFactory, type Context } from './context.js';
import { createErrorHandling } from './errors.js';
import { queryLimits, type QueryLimitOptions } from './limits/index.js';
import { Readiness, drainHttpServer } from './health.js';
import type { LegacyPort } from './legacy/port.js';
import { ENTITIES } from './mapping/entities.js';
import { attributeOf } from './mapping/entity.js';
import type { Metrics } from './metrics.js';
import { createOps, type SessionSource, type StatusOptions } from './ops/index.js';
import type { ExplorerMode } from './config-features.js';
import { resolvers } from './resolvers/index.js';
import { loadTypeDefs } from './schema.js';
import { accessLog, requestScope } from './observability/http-log.js';
import { operationSpan, tracingPlugin } from './observability/tracing.js';
import { mutationAuthPlugin, routerSecretGuard, type MutationAuth } from './security/router-auth.js';

export interface ServerDependencies {
  /** The legacy client (batched reads), or any port to the ERP. */
  readonly source: LegacyPort;
  /** The caches in front of `source` and the response cache (`src/cache/`); default none. */
  readonly cache?: Cache;
  /** The environment the subgraph reads (part of every cache key); default `default`. */
  readonly environment?: string;
  /** Operator operations (`purgeCache`) need `x-operator-token` equal to it; none: allowed outside production only. */
  readonly operatorToken?: string;
  /**
   * Readiness of the process (`/ready`) and its view of the upstream; the server marks it ready
   * when started and draining when stopped. Default: a new one without upstream state.
   */
  readonly readiness?: Readiness;
  /** The `legacyReady` query; must not throw. Default: `readiness.upstreamAvailable()` (no upstream request). */
  readonly upstreamReady?: () => Promise<boolean>;
  /** How long `stop()` lets in-flight requests finish before closing connections; default 10000 ms. */
  readonly shutdownGraceMs?: number;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** `true` hides Apollo Sandbox and turns introspection off; default `false`. */
  readonly production?: boolean;
  /** The browser landing page and `/explorer` (`src/ops/explorer.ts`); default `sandbox`, always `off` in production. */
  readonly explorer?: ExplorerMode;
  /** Session state of every environment for `/status` (the legacy client); default: the readiness' environment only. */
  readonly sessions?: SessionSource;
  /** Sampling of the status page's history (`src/ops/`). */
  readonly status?: StatusOptions;
  /** Keys per upstream request of a loader; default 100. */
  readonly maxBatchSize?: number;
  /** Largest `first` of a list query; default 100. */
  readonly maxPageSize?: number;
  /** Depth, alias and cost limits of an operation (`src/limits/`); defaults in `DEFAULT_QUERY_LIMITS`. */
  readonly queryLimits?: QueryLimitOptions;
  /** `/graphql` needs `x-router-secret` equal to it; none: not checked (`src/security/`). */
  readonly routerSecret?: string;
  /** The header and token mutations need; default `authorization`, no token (mutations allowed outside production only). */
  readonly mutationAuth?: Omit<MutationAuth, 'production'>;
  /** Request header naming the caller in the audit log; default none. */
  readonly callerHeader?: string;
  /** Whether a tracer provider is registered (`startTracing`): then each operation gets a span; default `false`. */
  readonly tracing?: boolean;
}

export interface BuiltServer {
  readonly apollo: ApolloServer<Context>;
  readonly app: express.Express;
  readonly httpServer: Server;
  /** Builds a context as a request would get it (for in-process `executeOperation`). */
  readonly createContext: () => Promise<Context>;
  /** `/ready` and the upstream state (see `src/health.ts`). */
  readonly readiness: Readiness;
  /** Starts Apollo, mounts the routes and marks the server ready; call once before serving. */
  start(): Promise<void>;
  /**
   * Drains and stops: `/ready` answers 503, in-flight requests finish within `graceMs` (default
   * `shutdownGraceMs`), the listener and the connections close, then Apollo stops.
   */
  stop(graceMs?: number): Promise<void>;
}

/** Builds, but does not start, the subgraph server. */
export function buildServer(deps: ServerDependencies): BuiltServer {
  const app = express();
  const httpServer = createServer(app);
  const readiness = deps.readiness ?? new Readiness();
  readiness.registerMetrics(deps.metrics.registry);
  const errors = createErrorHandling({ logger: deps.logger, production: deps.production });
  const environment = deps.environment ?? 'default';
  const uniqueAttributes: Record<string, string[]> = {};
  for (const def of Object.values(ENTITIES)) {
    uniqueAttributes[def.table] = def.alternateKeys.map((k) => attributeOf(def, k));
  }
  const source = deps.cache ? deps.cache.port(deps.source, { defaultEnvironment: environment, uniqueAttributes }) : deps.source;
  const createContext = contextFactory({
    ...deps,
    source,
    newReport: deps.cache ? () => deps.cache!.report() : undefined,
    cache: deps.cache,
    operatorToken: deps.operatorToken,
    mutationAuth: { header: 'authorization', ...deps.mutationAuth, production: deps.production },
    upstreamReady: deps.upstreamReady ?? (() => readiness.upstreamAvailable()),
    onBatch: (loader, table, size) => deps.metrics.graphql.observeBatch(loader, table, size),
  });
  // The status page, its operator gate (shared with /metrics) and the landing page (src/ops/).
  const ops = createOps({
    registry: deps.metrics.registry,
    readiness,
    operatorToken: deps.operatorToken,
    explorer: deps.production ? 'off' : deps.explorer,
    sessions: deps.sessions,
    status: deps.status,
  });
  const responseCache = deps.cache?.plugin<Context>((context) => context.cacheReport, environment);

  // Checked before execution, so a refused operation costs no upstream request.
  const limits = queryLimits<Context>({ ...deps.queryLimits, maxBatchSize: deps.maxBatchSize, maxPageSize: deps.maxPageSize }, { onCost: (cost) => deps.metrics.graphql.observeCost(cost) });

  const apollo = new ApolloServer<Context>({
    schema: buildSubgraphSchema([{ typeDefs: loadTypeDefs(), resolvers: resolvers as never }]),
    parseOptions: limits.parseOptions,
    validationRules: limits.validationRules,
    formatError: errors.formatError,
    includeStacktraceInErrorResponses: false,
    // Shutdown is the entry point's (one signal handler, draining first): Apollo's own handler
    // would stop without draining and re-raise the signal, so the process would not exit 0.
    stopOnTerminationSignals: false,
    // The router composes from `_service { sdl }`, which stays available; full introspection is
    // for exploring, so production turns it off like the Sandbox.
    introspection: !deps.production,
    plugins: [
      // `@cacheControl` hints (and the configured default age) make `overallCachePolicy`; the
      // response cache sets the headers itself, capped by the freshness of the rows it holds.
      ApolloServerPluginCacheControl({ defaultMaxAge: deps.cache?.settings.ttlSeconds ?? 0, calculateHttpHeaders: false }),
      ...(responseCache ? [responseCache] : []),
      ...ops.plugins,
      deps.metrics.plugin,
      deps.metrics.graphql.plugin,
      errors.plugin,
      limits.plugin,
      mutationAuthPlugin<Context>((context) => context.mutations),
      ...(deps.tracing ? [tracingPlugin<Context>()] : []),
    ],
    logger: deps.logger,
  });

  app.disable('x-powered-by');
  app.use(accessLog(deps.logger));
  app.use(readiness.requests);
  app.use('/graphql', routerSecretGuard(deps.routerSecret, deps.logger));
  app.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/ready', async (_req, res) => {
    // Never a request to the ERP: the phase, plus what the client already knows of the upstream.
    const report = await readiness.report();
    res.status(report.ready ? 200 : 503).set('cache-control', 'no-store').json(report);
  });
  ops.mount(app);
  app.get('/metrics', ops.gate, async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });

  return {
    apollo,
    app,
    httpServer,
    createContext,
    readiness,
    async start() {
      await apollo.start();
      // Until the process can serve (e.g. a configured Redis does not answer yet), GraphQL answers
      // 503 like /ready: each replica would otherwise open its own ERP session.
      app.use('/graphql', (_req, res, next) => {
        if (readiness.phase !== 'starting') return next();
        res
          .status(503)
          .set('retry-after', '1')
          .json({ errors: [{ message: `The subgraph is starting: ${readiness.waitingFor.join('; ') || 'not ready yet'}`, extensions: { code: 'SERVICE_UNAVAILABLE' } }] });
      });
      // The request scope (id, caller) and the operation span after the body parser, which would lose them.
      const scoped = [requestScope(deps.callerHeader), ...(deps.tracing ? [operationSpan()] : [])];
      app.use('/graphql', express.json({ limit: '1mb' }), ...scoped, expressMiddleware(apollo, { context: createContext }));
      app.get('/', (_req, res) => res.redirect('/graphql'));
      // Last: body-parser failures (malformed JSON, 413) answer JSON, never express's HTML page.
      app.use(errors.httpErrorHandler);
      readiness.markReady();
      ops.start();
    },
    async stop(graceMs = deps.shutdownGraceMs ?? 10_000) {
      ops.stop();
      const cut = await drainHttpServer(httpServer, readiness, graceMs);
      if (cut > 0) deps.logger.warn({ cut, graceMs }, `grace period over: closed the connections of ${cut} request(s) still in flight`);
      await apollo.stop();
    },
  };
}
