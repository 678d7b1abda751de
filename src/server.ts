/**
 * Builds the HTTP application (GraphQL, health, readiness, metrics) from its dependencies.
 * It does not listen: `src/index.ts` does, and tests use the returned objects in-process.
 */
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import {
  ApolloServerPluginLandingPageLocalDefault,
} from '@apollo/server/plugin/landingPage/default';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { expressMiddleware } from '@as-integrations/express5';
import express from 'express';
import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import { contextFactory, type Context } from './context.js';
import { errorLoggingPlugin, formatError } from './errors.js';
import type { DataSource } from './mapping/data.js';
import type { Metrics } from './metrics.js';
import { resolvers } from './resolvers/index.js';
import { loadTypeDefs } from './schema.js';

export interface ServerDependencies {
  /** The legacy client (batched reads). */
  readonly source: DataSource;
  /** Resolves `true` when an upstream session can be had; must not throw. */
  readonly upstreamReady: () => Promise<boolean>;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** `true` hides Apollo Sandbox and turns introspection off; default `false`. */
  readonly production?: boolean;
  /** Keys per upstream request of a loader; default 100. */
  readonly maxBatchSize?: number;
  /** Largest `first` of a list query; default 100. */
  readonly maxPageSize?: number;
}

export interface BuiltServer {
  readonly apollo: ApolloServer<Context>;
  readonly app: express.Express;
  readonly httpServer: Server;
  /** Builds a context as a request would get it (for in-process `executeOperation`). */
  readonly createContext: () => Promise<Context>;
  /** Starts Apollo and mounts the routes; call once before serving. */
  start(): Promise<void>;
  /** Drains HTTP connections and stops Apollo. */
  stop(): Promise<void>;
}

/** Builds, but does not start, the subgraph server. */
export function buildServer(deps: ServerDependencies): BuiltServer {
  const app = express();
  const httpServer = createServer(app);
  const createContext = contextFactory(deps);

  const apollo = new ApolloServer<Context>({
    schema: buildSubgraphSchema([{ typeDefs: loadTypeDefs(), resolvers: resolvers as never }]),
    formatError,
    includeStacktraceInErrorResponses: false,
    // The router composes from `_service { sdl }`, which stays available; full introspection is
    // for exploring, so production turns it off like the Sandbox.
    introspection: !deps.production,
    plugins: [
      ApolloServerPluginDrainHttpServer({ httpServer }),
      deps.production ? ApolloServerPluginLandingPageDisabled() : ApolloServerPluginLandingPageLocalDefault({ embed: true }),
      deps.metrics.plugin,
      errorLoggingPlugin(deps.logger),
    ],
    logger: deps.logger,
  });

  app.disable('x-powered-by');
  app.get('/health', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/ready', async (_req, res) => {
    const ready = await deps.upstreamReady();
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'upstream unavailable' });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });

  return {
    apollo,
    app,
    httpServer,
    createContext,
    async start() {
      await apollo.start();
      app.use('/graphql', express.json({ limit: '1mb' }), expressMiddleware(apollo, { context: createContext }));
      app.get('/', (_req, res) => res.redirect('/graphql'));
    },
    async stop() {
      await apollo.stop();
      if (httpServer.listening) await new Promise<void>((resolve) => httpServer.close(() => resolve()));
    },
  };
}
