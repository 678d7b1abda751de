/**
 * The status page's history: each sample holds the deltas since the previous one, read from the
 * registry by metric name (absent metrics read as nothing), with an injected clock.
 */
import { describe, expect, it } from 'vitest';
import { Registry } from 'prom-client';
import { createCacheMetrics } from '../../src/cache/index.js';
import { Readiness } from '../../src/health.js';
import { createMetrics } from '../../src/metrics.js';
import { createErrorCodes } from '../../src/ops/error-codes.js';
import { StatusSampler } from '../../src/ops/sampler.js';
import { createWatcherMetrics } from '../../src/watcher/metrics.js';

describe('the status sampler', () => {
  it('samples per-interval upstream latency, cache hit ratio, operations and errors, and keeps a bounded history', async () => {
    let now = 1_000_000;
    const metrics = createMetrics({ defaultMetrics: false });
    const cache = createCacheMetrics(metrics.registry);
    const watcher = createWatcherMetrics(metrics.registry, 'test-instance');
    const errorCodes = createErrorCodes({ now: () => now });
    const sampler = new StatusSampler({ registry: metrics.registry, readiness: new Readiness(), errorCodes, points: 3, now: () => now });

    await sampler.sample();
    metrics.observeUpstream({ environment: 'live', method: 'GET', table: 'Kunden', status: 200, durationMs: 10 });
    metrics.observeUpstream({ environment: 'live', method: 'GET', table: 'Kunden', status: 200, durationMs: 30 });
    cache.lookup('record', 'Kunden', 'hit', 3);
    cache.lookup('record', 'Kunden', 'miss', 1);
    watcher.setLag(4);
    watcher.setLeader(true);
    watcher.setStrategy('globalStamp');
    errorCodes.record('NOT_FOUND');
    now += 5000;
    await sampler.sample();
    now += 5000;
    await sampler.sample();

    const snapshot = await sampler.snapshot();
    expect(snapshot.history.map((p) => p.t)).toEqual([1_000_000, 1_005_000, 1_010_000]);
    expect(snapshot.history[1]).toEqual({ t: 1_005_000, upstreamRequests: 2, upstreamMs: 20, hitRatio: 0.75, lagSeconds: 4, operations: 0, errors: 1 });
    expect(snapshot.history[2]).toMatchObject({ upstreamRequests: 0, upstreamMs: null, hitRatio: null, errors: 0 });
    expect(snapshot.upstream).toEqual({ requests: 2, meanMs: 20, p95Ms: 50, statuses: { '200': 2 } });
    expect(snapshot.cache).toMatchObject({ hits: 3, misses: 1, hitRatio: 0.75 });
    expect(snapshot.watcher).toMatchObject({ lagSeconds: 4, leader: true, strategy: 'globalStamp' });
    expect(snapshot.errors).toEqual({ total: { NOT_FOUND: 1 }, recent: { NOT_FOUND: 1 }, windowSeconds: 300 });

    now += 5000;
    await sampler.sample();
    expect((await sampler.snapshot()).history).toHaveLength(3);
    now += 300_000;
    expect(errorCodes.counts()).toEqual({ total: { NOT_FOUND: 1 }, recent: {}, windowSeconds: 300 });
  });

  it('reads a registry without any of the metrics it knows as nothing', async () => {
    const sampler = new StatusSampler({ registry: new Registry(), readiness: new Readiness(), errorCodes: createErrorCodes() });
    await sampler.sample();
    const snapshot = await sampler.snapshot();
    expect(snapshot.environments).toEqual([]);
    expect(snapshot.upstream).toEqual({ requests: 0, meanMs: null, p95Ms: null, statuses: {} });
    expect(snapshot.cache).toEqual({ hits: 0, misses: 0, stale: 0, hitRatio: null, storeUp: null });
    expect(snapshot.watcher).toEqual({ lagSeconds: null, leader: null, strategy: null, polls: {} });
    expect(snapshot.history).toHaveLength(1);
  });
});
