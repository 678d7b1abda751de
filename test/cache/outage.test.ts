/**
 * The shared cache store going away and coming back, on a private redis-server (the shared one is
 * never stopped): while Redis is stopped, queries are answered from 4D without errors, the outage
 * is logged once and shown by `cache_store_up`; when it returns, caching resumes by itself. While
 * Redis is frozen (SIGSTOP, data kept) a write whose invalidation cannot reach it is counted, and
 * the new epoch started on the store's return makes the other replica's entries misses, so the old
 * value is never served.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { eventually } from '../helpers/assertions.js';
import { startReplica, upstreamDuring, type Replica } from '../helpers/cached-subgraph.js';
import { captureLogger, type CapturedLogger, type LogLine } from '../helpers/logs.js';
import { freePort, PrivateRedis, redisForTests, uniqueNamespace } from '../helpers/redis.js';

// A private redis-server is started here; the probe only decides whether Redis tests run at all.
const redis = await redisForTests('the cache outage tests');

const PRODUCT = `query ($id: ID!) { product(id: $id) { id name stamp } }`;
const UPDATE = `mutation ($id: ID!, $stamp: Int!, $name: String!) { updateProduct(id: $id, expectedStamp: $stamp, input: { name: $name }) { product { name stamp } } }`;

/** The sum of every sample of a metric (all label sets), from the replica's registry. */
async function metric(replica: Replica, name: string): Promise<number> {
  const text = await replica.metrics.registry.getSingleMetricAsString(name);
  return text
    .split('\n')
    .filter((line) => line.startsWith(name))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

const warnings = (log: CapturedLogger): LogLine[] => log.lines.filter((l) => l.level >= 40);

describe.skipIf(redis.skip)('cache store outages (private redis-server)', () => {
  let emulator: Emulator;
  let store: PrivateRedis;
  let ids: string[];
  const replicas: Replica[] = [];

  beforeAll(async () => {
    emulator = await startEmulator({ port: 0 });
    ids = emulator.db.table('Artikel_Variante')!.rows().slice(0, 4).map((r) => String(r.__KEY));
  });
  afterAll(async () => {
    await emulator.close();
  });
  beforeEach(async () => {
    store = new PrivateRedis(await freePort());
    await store.start();
  });
  afterEach(async () => {
    emulator.clearFaults();
    store.resume();
    for (const replica of replicas.splice(0)) await replica.close();
    await store.stop();
  });

  const replica = async (namespace: string, log: CapturedLogger) => {
    const started = await startReplica({ emulator, redisUrl: store.url, namespace, logger: log.logger });
    replicas.push(started);
    return started;
  };

  it('Redis stopped: answers come from 4D without errors, one warning, cache_store_up 0; restarted: caching resumes by itself', async () => {
    const log = captureLogger('info');
    const a = await replica(uniqueNamespace('wsz-outage'), log);
    const first = await upstreamDuring(emulator, () => a.post(PRODUCT, { id: ids[0] }));
    expect(first.result.errors).toBeUndefined();
    expect(first.requests).toBeGreaterThan(0);
    expect((await upstreamDuring(emulator, () => a.post(PRODUCT, { id: ids[0] }))).requests).toBe(0);
    expect(await metric(a, 'cache_store_up')).toBe(1);

    await store.stop();
    for (let i = 0; i < 3; i++) {
      const during = await upstreamDuring(emulator, () => a.post(PRODUCT, { id: ids[0] }));
      expect(during.result.errors).toBeUndefined();
      expect(during.result.data).toEqual(first.result.data);
      // Every read goes to 4D: nothing is served from (or waits for) the store that is away.
      expect(during.requests).toBeGreaterThan(0);
      expect(emulator.counters.byTable.Artikel_Variante).toBe(1);
    }
    const other = await upstreamDuring(emulator, () => a.post(PRODUCT, { id: ids[1] }));
    expect(other.result.errors).toBeUndefined();
    expect(other.requests).toBeGreaterThan(0);
    expect(a.cache.tagged.usable).toBe(false);
    expect(await metric(a, 'cache_store_up')).toBe(0);
    // One warning for the whole outage, however many requests and reconnect attempts it saw.
    expect(warnings(log)).toHaveLength(1);
    expect(warnings(log)[0]!.msg).toMatch(/cache store unreachable/);

    await store.start(); // same port, empty: the replica is not restarted
    await eventually(() => a.cache.tagged.usable, 10_000);
    expect(a.cache.tagged.usable).toBe(true);
    expect(await metric(a, 'cache_store_up')).toBe(1);
    expect(await metric(a, 'cache_epochs_total')).toBe(1);
    expect(log.lines.some((l) => l.level === 30 && /reachable again/.test(String(l.msg)))).toBe(true);

    const refill = await upstreamDuring(emulator, () => a.post(PRODUCT, { id: ids[0] }));
    expect(refill.result.errors).toBeUndefined();
    expect(refill.requests).toBeGreaterThan(0);
    const cached = await upstreamDuring(emulator, () => a.post(PRODUCT, { id: ids[0] }));
    expect(cached.requests).toBe(0);
    expect(cached.result.data).toEqual(first.result.data);
    expect(cached.result.extensions?.cache?.status).toBe('hit');
    expect(warnings(log)).toHaveLength(1);
  });

  it('Redis paused while B writes: the failed invalidation is counted, and after the resume A never serves the old value', async () => {
    const namespace = uniqueNamespace('wsz-pause');
    const logA = captureLogger('info');
    const logB = captureLogger('info');
    const a = await replica(namespace, logA);
    const b = await replica(namespace, logB);
    const before = await a.post<{ product: { name: string; stamp: number } }>(PRODUCT, { id: ids[2] });
    expect(before.errors).toBeUndefined();
    expect((await upstreamDuring(emulator, () => a.post(PRODUCT, { id: ids[2] }))).requests).toBe(0); // cached on A
    await b.post(PRODUCT, { id: ids[3] }); // B's session and its Redis connection are up

    store.pause();
    // Traffic on B meets the frozen store first (it times out: B now knows the store is away), so
    // the write's invalidation below is never even sent: only the new epoch can make A's entry go.
    const meanwhile = await b.post(PRODUCT, { id: ids[3] });
    expect(meanwhile.errors).toBeUndefined();
    const updated = await b.post<{ updateProduct: { product: { name: string; stamp: number } } }>(UPDATE, {
      id: ids[2],
      stamp: before.data!.product.stamp,
      name: 'Geändert während der Pause',
    });
    expect(updated.errors).toBeUndefined();
    expect(updated.data!.updateProduct.product.name).toBe('Geändert während der Pause');
    expect(await metric(b, 'cache_invalidation_failures_total')).toBeGreaterThanOrEqual(1);
    expect(warnings(logB).some((l) => /cache invalidation failed/.test(String(l.msg)))).toBe(true);
    expect(b.cache.tagged.usable).toBe(false);

    store.resume();
    await eventually(() => b.cache.tagged.usable, 10_000);
    expect(b.cache.tagged.usable).toBe(true);
    expect(await metric(b, 'cache_epochs_total')).toBeGreaterThanOrEqual(1);
    expect(await metric(b, 'cache_store_up')).toBe(1);

    // A never noticed the pause; its entries were made under the old epoch.
    const after = await upstreamDuring(emulator, () => a.post<{ product: { name: string; stamp: number } }>(PRODUCT, { id: ids[2] }));
    expect(after.result.errors).toBeUndefined();
    expect(after.result.data!.product.name).toBe('Geändert während der Pause');
    expect(after.result.data!.product.stamp).toBe(updated.data!.updateProduct.product.stamp);
    expect(after.requests).toBeGreaterThan(0);
    const again = await a.post<{ product: { name: string } }>(PRODUCT, { id: ids[2] });
    expect(again.data!.product.name).toBe('Geändert während der Pause');
  });
});
