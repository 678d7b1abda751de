/**
 * The per-request context: fresh DataLoaders for every operation (never module-scope, so one
 * caller's data is never served to another from a loader cache).
 */
import type { Logger } from 'pino';
import { EntityLoaders, type EntitySource } from './mapping/loaders.js';

export interface Context {
  readonly loaders: EntityLoaders;
  /** Whether an upstream session can be had (the `/ready` check). */
  readonly upstreamReady: () => Promise<boolean>;
  readonly logger: Logger;
}

export interface ContextDependencies {
  readonly source: EntitySource;
  readonly upstreamReady: () => Promise<boolean>;
  readonly logger: Logger;
  /** Keys per loader batch; default 500. */
  readonly maxBatchSize?: number;
}

/** Returns the function Apollo Server calls once per request. */
export function contextFactory(deps: ContextDependencies): () => Promise<Context> {
  return async () => ({
    loaders: new EntityLoaders(deps.source, deps.maxBatchSize),
    upstreamReady: deps.upstreamReady,
    logger: deps.logger,
  });
}
