/**
 * The change watcher (see `watcher.ts`), built from the configuration: it watches every mapped
 * table through the legacy client and invalidates the shared cache's tags.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Cache } from '../cache/index.js';
import type { AppConfig } from '../config.js';
import { ENTITIES } from '../mapping/entities.js';
import { createWatcherMetrics } from './metrics.js';
import { ChangeWatcher, type WatchedSource } from './watcher.js';

export { ChangeWatcher, type ChangeStrategy, type PollOutcome, type WatcherOptions, type WatcherStatus } from './watcher.js';
export { createWatcherMetrics, NO_WATCHER_METRICS, type WatcherMetrics } from './metrics.js';

/** The mapped tables, each once. */
export const WATCHED_TABLES: readonly string[] = [...new Set(Object.values(ENTITIES).map((d) => d.table))];

export function createChangeWatcher(options: {
  config: AppConfig;
  source: WatchedSource & { readonly defaultEnvironment: string };
  cache: Cache;
  logger: Logger;
  registry: Registry;
  now?: () => number;
}): ChangeWatcher {
  const { config, cache } = options;
  const instance = randomUUID().slice(0, 8);
  const longest = Math.max(config.cache.ttlSeconds, ...Object.values(config.cache.ttlByType)) * 1000;
  return new ChangeWatcher({
    source: options.source,
    cache: cache.tagged,
    tables: WATCHED_TABLES,
    strategy: config.changes.strategy,
    pollMs: config.changes.pollMs,
    leaseMs: config.changes.leaseMs,
    maxKeysPerTable: config.changes.maxKeysPerTable,
    longestTtlMs: longest + config.cache.graceSeconds * 1000,
    environment: options.source.defaultEnvironment,
    logger: options.logger,
    metrics: createWatcherMetrics(options.registry, instance, config.changes.pollMs),
    instance,
    now: options.now,
  });
}
