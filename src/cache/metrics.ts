/**
 * Cache metrics (prom-client): lookups by layer, type and result, invalidations by source, store
 * errors and state, undecodable entries.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { LabelCap } from '../observability/metrics/label-cap.js';

export type CacheLayer = 'record' | 'index' | 'list' | 'response';
export type CacheResult = 'hit' | 'miss' | 'stale';

export interface CacheMetrics {
  lookup(layer: CacheLayer, type: string, result: CacheResult, count?: number): void;
  invalidated(source: string, tags: number): void;
  /** The tags an invalidation moved, counted by layer (`list`: a table's lists and answers, `record`: one record, `table`: all its records) and table. */
  invalidatedTags(source: string, tags: readonly string[]): void;
  invalidationFailed(source: string): void;
  storeError(op: string): void;
  setStoreUp(up: boolean): void;
  epochBumped(): void;
  decodeFailed(): void;
}

/** Metrics that count nothing (command line, tests that do not look). */
export const NO_CACHE_METRICS: CacheMetrics = {
  lookup() {},
  invalidated() {},
  invalidatedTags() {},
  invalidationFailed() {},
  storeError() {},
  setStoreUp() {},
  epochBumped() {},
  decodeFailed() {},
};

export function createCacheMetrics(registry: Registry): CacheMetrics {
  const lookups = new Counter({
    name: 'cache_lookups_total',
    help: 'Cache lookups by layer (record, index, list, response), type (the table, or an answer’s first root field) and result (hit, miss, stale)',
    labelNames: ['layer', 'type', 'result'] as const,
    registers: [registry],
  });
  const invalidations = new Counter({
    name: 'cache_invalidations_total',
    help: 'Cache tags moved to a new version, by source (write, purge, epoch)',
    labelNames: ['source'] as const,
    registers: [registry],
  });
  const invalidationFailures = new Counter({
    name: 'cache_invalidation_failures_total',
    help: 'Invalidations that could not reach the store (the store was away; a new epoch follows its return)',
    labelNames: ['source'] as const,
    registers: [registry],
  });
  const storeErrors = new Counter({
    name: 'cache_store_errors_total',
    help: 'Cache store operations that failed (treated as misses or skipped stores), by operation',
    labelNames: ['op'] as const,
    registers: [registry],
  });
  const storeUp = new Gauge({ name: 'cache_store_up', help: '1 while the cache store is reachable and in use', registers: [registry] });
  const epochs = new Counter({ name: 'cache_epochs_total', help: 'New cache epochs started after a store outage', registers: [registry] });
  const decode = new Counter({ name: 'cache_decode_failures_total', help: 'Cache entries that could not be decoded (treated as misses)', registers: [registry] });
  const tagged = new Counter({
    name: 'cache_invalidated_tags_total',
    help: 'Cache tags moved to a new version, by source (write, purge, watcher), layer (list: a table’s lists and answers; record: one record; table: all records of a table) and type (the table)',
    labelNames: ['source', 'layer', 'type'] as const,
    registers: [registry],
  });
  // Purge tags may come from operators' input: the table label is capped like client-chosen names.
  const types = new LabelCap(200);
  return {
    lookup(layer, type, result, count = 1) {
      if (count > 0) lookups.inc({ layer, type, result }, count);
    },
    invalidated(source, tags) {
      invalidations.inc({ source }, tags);
    },
    invalidatedTags(source, tags) {
      for (const tag of tags) {
        const colon = tag.indexOf(':');
        const type = types.label(colon < 0 ? tag : tag.slice(0, colon));
        const layer = colon < 0 ? 'list' : tag.slice(colon + 1) === '*' ? 'table' : 'record';
        tagged.inc({ source, layer, type });
      }
    },
    invalidationFailed(source) {
      invalidationFailures.inc({ source });
    },
    storeError(op) {
      storeErrors.inc({ op });
    },
    setStoreUp(up) {
      storeUp.set(up ? 1 : 0);
    },
    epochBumped() {
      epochs.inc();
    },
    decodeFailed() {
      decode.inc();
    },
  };
}
