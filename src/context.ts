/**
 * The per-request context: a fresh data access layer with fresh DataLoaders for every operation
 * (never module-scope, so one caller's data is never served to another from a loader cache).
 */
import type { Logger } from 'pino';
import type { LegacyPort } from './legacy/port.js';
import { DataAccess } from './mapping/data.js';

export interface Context {
  readonly data: DataAccess;
  /** Whether an upstream session can likely be had, from the upstream state `/ready` reports (no upstream request). */
  readonly upstreamReady: () => Promise<boolean>;
  readonly logger: Logger;
}

export interface ContextDependencies {
  readonly source: LegacyPort;
  readonly upstreamReady: () => Promise<boolean>;
  readonly logger: Logger;
  /** Keys per upstream request of a loader; default 100. */
  readonly maxBatchSize?: number;
  /** Largest `first` of a list; default 100. */
  readonly maxPageSize?: number;
}

/** Returns the function Apollo Server calls once per request. */
export function contextFactory(deps: ContextDependencies): () => Promise<Context> {
  return async () => ({
    data: new DataAccess(deps.source, { maxBatchSize: deps.maxBatchSize, maxPageSize: deps.maxPageSize }),
    upstreamReady: deps.upstreamReady,
    logger: deps.logger,
  });
}
