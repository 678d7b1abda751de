/**
 * GraphQL-side metrics: operations by name and outcome, errors by code, the estimated cost of each
 * operation and the limits that refused one, and the sizes of DataLoader batches.
 *
 * Operation names come from clients, so their label is capped ({@link LabelCap}): the first
 * `maxOperationNames` distinct names are kept, later ones are counted as `other`.
 */
import type { ApolloServerPlugin } from '@apollo/server';
import { getOperationAST, type GraphQLFormattedError } from 'graphql';
import { Counter, Histogram, type Registry } from 'prom-client';
import { LabelCap } from './label-cap.js';

/** Default of `METRICS_MAX_OPERATION_NAMES`. */
export const DEFAULT_MAX_OPERATION_NAMES = 100;
/** Distinct error codes and limits kept (they come from this server, the cap is a safety net). */
const MAX_CODES = 50;
/** The label of an operation without a name. */
export const ANONYMOUS = 'anonymous';

export interface GraphqlMetrics {
  /** The Apollo Server plugin that counts operations and errors (add it to the server's plugins). */
  readonly plugin: ApolloServerPlugin;
  /** The estimate of an operation checked by the query limits (`src/limits/`), before execution. */
  observeCost(cost: { readonly requests: number; readonly rows: number }): void;
  /** One DataLoader batch: `loader` names the lookup (`byKey:id`, `byField:customerId`), `size` its keys. */
  observeBatch(loader: string, table: string, size: number): void;
  /** The operation-name cap in use. */
  readonly operationNames: LabelCap;
}

/** The limit that refused an operation, from its error (`extensions.limit`, or the parser's token limit). */
function limitOf(error: GraphQLFormattedError): string | undefined {
  const limit = error.extensions?.limit;
  if (typeof limit === 'string') return limit;
  if (error.extensions?.code === 'GRAPHQL_PARSE_FAILED' && /contains more than \d+ tokens/.test(error.message)) return 'MAX_QUERY_TOKENS';
  return undefined;
}

export function createGraphqlMetrics(registry: Registry, options: { maxOperationNames?: number } = {}): GraphqlMetrics {
  const operationNames = new LabelCap(options.maxOperationNames ?? DEFAULT_MAX_OPERATION_NAMES);
  const codes = new LabelCap(MAX_CODES);
  const limitsSeen = new LabelCap(MAX_CODES);
  const requests = new Counter({
    name: 'graphql_requests_total',
    help: 'GraphQL operations by operation name (capped: later names count as "other"; "anonymous" without a name), type (query, mutation; "unknown" when it did not parse) and outcome (success, error)',
    labelNames: ['operation_name', 'operation', 'outcome'] as const,
    registers: [registry],
  });
  const errors = new Counter({
    name: 'graphql_errors_total',
    help: 'GraphQL errors sent to clients, by operation name (capped as in graphql_requests_total) and extensions.code',
    labelNames: ['operation_name', 'code'] as const,
    registers: [registry],
  });
  const refusals = new Counter({
    name: 'graphql_query_limit_refusals_total',
    help: 'Operations refused by a query limit, by the setting that refused them (MAX_QUERY_DEPTH, MAX_ALIASES, MAX_QUERY_TOKENS, MAX_QUERY_REQUESTS, MAX_QUERY_ROWS, MAX_FILTER_DEPTH)',
    labelNames: ['limit'] as const,
    registers: [registry],
  });
  const costRequests = new Histogram({
    name: 'graphql_query_cost_requests',
    help: 'Estimated upstream requests of each operation (the cost checked against MAX_QUERY_REQUESTS)',
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
    registers: [registry],
  });
  const costRows = new Histogram({
    name: 'graphql_query_cost_rows',
    help: 'Estimated rows read from the ERP by each operation (the cost checked against MAX_QUERY_ROWS)',
    buckets: [1, 10, 100, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000, 100_000],
    registers: [registry],
  });
  const batches = new Histogram({
    name: 'graphql_dataloader_batch_size',
    help: 'Keys per DataLoader batch, by loader (byKey:<key field>, byField:<field>) and table',
    labelNames: ['loader', 'table'] as const,
    buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000],
    registers: [registry],
  });

  const plugin: ApolloServerPlugin = {
    async requestDidStart() {
      return {
        async willSendResponse(ctx) {
          // Validation failures have a document but no resolved operation: the name is read from it.
          const operation = ctx.operation ?? (ctx.document ? (getOperationAST(ctx.document, ctx.request.operationName) ?? undefined) : undefined);
          const name = operation?.name?.value ?? ctx.request.operationName ?? '';
          const operationName = name === '' ? ANONYMOUS : operationNames.label(name);
          // The errors as the client gets them (after formatError gave them their codes).
          const sent = ctx.response.body.kind === 'single' ? (ctx.response.body.singleResult.errors ?? []) : (ctx.errors ?? []);
          requests.inc({ operation_name: operationName, operation: operation?.operation ?? 'unknown', outcome: sent.length ? 'error' : 'success' });
          const limits = new Set<string>();
          for (const error of sent) {
            const code = error.extensions?.code;
            errors.inc({ operation_name: operationName, code: codes.label(typeof code === 'string' ? code : 'INTERNAL_SERVER_ERROR') });
            const limit = limitOf(error as GraphQLFormattedError);
            if (limit) limits.add(limitsSeen.label(limit));
          }
          for (const limit of limits) refusals.inc({ limit });
        },
      };
    },
  };

  return {
    plugin,
    operationNames,
    observeCost(cost) {
      costRequests.observe(Math.min(cost.requests, Number.MAX_SAFE_INTEGER));
      costRows.observe(Math.min(cost.rows, Number.MAX_SAFE_INTEGER));
    },
    observeBatch(loader, table, size) {
      batches.observe({ loader, table }, size);
    },
  };
}
