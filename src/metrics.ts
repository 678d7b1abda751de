/**
 * Prometheus metrics (prom-client) on a registry of our own, so several servers in one process
 * (tests) never collide on the global registry.
 */
import type { ApolloServerPlugin } from '@apollo/server';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { createGraphqlMetrics, type GraphqlMetrics } from './observability/metrics/graphql-metrics.js';
import { createUpstreamMetrics, type UpstreamMetrics } from './observability/metrics/upstream-metrics.js';

/** One upstream request as the legacy client reports it. */
export interface UpstreamEvent {
  environment: string;
  method: string;
  table?: string;
  status?: number;
  durationMs: number;
  attempt?: number;
  /** The kind of request (`collection`, `entity`, `login`, …; see `UpstreamRoute`). */
  route?: string;
}

export interface Metrics {
  readonly registry: Registry;
  /** Feed for the legacy client's `onUpstreamRequest` hook. */
  observeUpstream(event: UpstreamEvent): void;
  /** Feed for the legacy client's `onSessionEvent` hook (logins, guest sessions ended, breaker, …). */
  observeSession(event: string, environment: string): void;
  /** Apollo Server plugin counting operations and their duration. */
  readonly plugin: ApolloServerPlugin;
  /** GraphQL-side metrics: operations by name, errors by code, query cost, limits hit, DataLoader batches (`src/observability/metrics/`). */
  readonly graphql: GraphqlMetrics;
  /** Upstream-side metrics beyond the request counts: retries, 402s, session age and breaker per environment. */
  readonly upstream: UpstreamMetrics;
}

/**
 * Creates the registry and metrics; `defaultMetrics` adds Node's process metrics (default true);
 * `maxOperationNames` caps the distinct `operation_name` label values (`METRICS_MAX_OPERATION_NAMES`, default 100).
 */
export function createMetrics(options: { defaultMetrics?: boolean; maxOperationNames?: number } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });

  const upstreamRequests = new Counter({
    name: 'legacy_upstream_requests_total',
    help: 'Requests sent to the 4D REST server, by environment, method, table and HTTP status (0 = no answer)',
    labelNames: ['environment', 'method', 'table', 'status'] as const,
    registers: [registry],
  });
  const upstreamDuration = new Histogram({
    name: 'legacy_upstream_request_duration_seconds',
    help: 'Duration of requests to the 4D REST server, by environment, method, table, route (collection, entity, login, …) and HTTP status (0 = no answer)',
    labelNames: ['environment', 'method', 'table', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const operations = new Counter({
    name: 'graphql_operations_total',
    help: 'GraphQL operations executed, by operation type and outcome',
    labelNames: ['operation', 'outcome'] as const,
    registers: [registry],
  });
  const operationDuration = new Histogram({
    name: 'graphql_operation_duration_seconds',
    help: 'Duration of GraphQL operations',
    labelNames: ['operation'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });

  const sessionEvents = new Counter({
    name: 'legacy_session_events_total',
    help: '4D session events by environment: login, loginRefused, guestEnded (guest sessions logged out), breakerOpened, sessionLost, logout',
    labelNames: ['environment', 'event'] as const,
    registers: [registry],
  });

  const plugin: ApolloServerPlugin = {
    async requestDidStart() {
      const started = process.hrtime.bigint();
      return {
        async willSendResponse(ctx) {
          const operation = ctx.operation?.operation ?? 'unknown';
          const outcome = ctx.errors?.length ? 'error' : 'success';
          operations.inc({ operation, outcome });
          operationDuration.observe({ operation }, Number(process.hrtime.bigint() - started) / 1e9);
        },
      };
    },
  };

  const graphql = createGraphqlMetrics(registry, { maxOperationNames: options.maxOperationNames });
  const upstream = createUpstreamMetrics(registry);

  return {
    registry,
    plugin,
    graphql,
    upstream,
    observeSession(event, environment) {
      sessionEvents.inc({ environment, event });
    },
    observeUpstream(e) {
      const table = e.table ?? '';
      const status = String(e.status ?? 0);
      upstreamRequests.inc({ environment: e.environment, method: e.method, table, status });
      upstreamDuration.observe({ environment: e.environment, method: e.method, table, route: e.route ?? '', status }, e.durationMs / 1000);
      upstream.observe(e);
    },
  };
}
