/**
 * The per-request context: a fresh data access layer with fresh DataLoaders for every operation
 * (never module-scope, so one caller's data is never served to another from a loader cache).
 */
import type { Logger } from 'pino';
import type { Cache, CacheReport } from './cache/index.js';
import type { LegacyPort } from './legacy/port.js';
import { DataAccess } from './mapping/data.js';
import { mutationPermission, sameSecret, type MutationAuth, type MutationPermission } from './security/router-auth.js';

export interface Context {
  readonly data: DataAccess;
  /** What this request's reads learned from the caches (for the response cache); none with `CACHE=off`. */
  readonly cacheReport?: CacheReport;
  /** The caches, for the operators' purge; none when the server has no cache. */
  readonly cache?: Cache;
  /** Whether the caller presented the operator token (or none is needed: no token, not production). */
  readonly operator: boolean;
  /** Whether the router's authorization allows mutations (checked before execution, `src/security/`). */
  readonly mutations: MutationPermission;
  /** Whether an upstream session can likely be had, from the upstream state `/ready` reports (no upstream request). */
  readonly upstreamReady: () => Promise<boolean>;
  readonly logger: Logger;
}

export interface ContextDependencies {
  /** The port to the ERP (the row caches in front of the legacy client, or the client itself). */
  readonly source: LegacyPort;
  /** A new report per request; default none. */
  readonly newReport?: () => CacheReport | undefined;
  readonly cache?: Cache;
  /** `x-operator-token` must equal it for operator operations; default none. */
  readonly operatorToken?: string;
  /** The authorization mutations need; default none (mutations allowed unless `production`). */
  readonly mutationAuth?: MutationAuth;
  /** Without an operator token, operator operations are refused in production. */
  readonly production?: boolean;
  readonly upstreamReady: () => Promise<boolean>;
  readonly logger: Logger;
  /** Keys per upstream request of a loader; default 100. */
  readonly maxBatchSize?: number;
  /** Largest `first` of a list; default 100. */
  readonly maxPageSize?: number;
  /** Called with every DataLoader batch (loader, table, keys), for metrics; default none. */
  readonly onBatch?: (loader: string, table: string, size: number) => void;
}

/** Whether `presented` is the operator token, compared in constant time. */
function isOperator(deps: ContextDependencies, presented: string | string[] | undefined): boolean {
  if (!deps.operatorToken) return !deps.production;
  return sameSecret(presented, deps.operatorToken);
}

/** Returns the function Apollo Server calls once per request (with the HTTP request when there is one). */
export function contextFactory(deps: ContextDependencies): (http?: { req?: { headers: Record<string, string | string[] | undefined> } }) => Promise<Context> {
  return async (http) => {
    const cacheReport = deps.newReport?.();
    return {
      cache: deps.cache,
      operator: isOperator(deps, http?.req?.headers['x-operator-token']),
      mutations: mutationPermission(deps.mutationAuth ?? { header: 'authorization', production: deps.production }, http?.req?.headers ?? {}),
      data: new DataAccess(deps.source, { maxBatchSize: deps.maxBatchSize, maxPageSize: deps.maxPageSize, report: cacheReport, onBatch: deps.onBatch }),
      cacheReport,
      upstreamReady: deps.upstreamReady,
      logger: deps.logger,
    };
  };
}
