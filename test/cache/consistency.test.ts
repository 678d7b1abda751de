/**
 * What the caches must never get wrong: with `CACHE=off` every read reaches 4D; concurrent misses
 * of one record share one fetch; a value fetched before an invalidation is never stored as current
 * (the race of a slow read against a write on another replica); "not found" is cached and forgotten
 * on the next write to its table; an entry that cannot be decoded is a miss and a log line, never
 * an outage of the whole store.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '@keyv/redis';
import { Registry } from 'prom-client';
import { createRedisBackend, type CacheBackend } from '../../src/cache/backend.js';
import { createCacheMetrics } from '../../src/cache/metrics.js';
import { TaggedCache } from '../../src/cache/tagged-cache.js';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { eventually } from '../helpers/assertions.js';
import { startReplica, upstreamDuring, type Replica } from '../helpers/cached-subgraph.js';
import { captureLogger } from '../helpers/logs.js';
import { redisForTests, uniqueNamespace } from '../helpers/redis.js';

const redis = await redisForTests('the cache consistency tests');

const PRODUCT = `query ($id: ID!) { product(id: $id) { id name stamp } }`;
const BY_SKU = `query ($sku: String!) { productBySku(sku: $sku) { id sku name } }`;
const UPDATE = `mutation ($id: ID!, $stamp: Int!, $name: String!) { updateProduct(id: $id, expectedStamp: $stamp, input: { name: $name }) { product { name stamp } } }`;

type ProductAnswer = { product: { id: string; name: string; stamp: number } | null };

async function metric(registry: Registry, name: string): Promise<number> {
  const text = await registry.getSingleMetricAsString(name);
  return text
    .split('\n')
    .filter((line) => line.startsWith(name))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

describe('cache consistency', () => {
  let emulator: Emulator;
  let ids: string[];
  const replicas: Replica[] = [];

  beforeAll(async () => {
    emulator = await startEmulator({ port: 0 });
    ids = emulator.db.table('Artikel_Variante')!.rows().slice(0, 12).map((r) => String(r.__KEY));
  });
  afterAll(async () => {
    await emulator.close();
  });
  afterEach(async () => {
    emulator.clearFaults();
    emulator.setLatency(0);
    for (const replica of replicas.splice(0)) await replica.close();
  });

  const replica = async (options: Omit<Parameters<typeof startReplica>[0], 'emulator'> = {}) => {
    const started = await startReplica({ emulator, ...options });
    replicas.push(started);
    return started;
  };
  const stampOf = (id: string) => emulator.db.table('Artikel_Variante')!.get(id)!.__STAMP;

  it('CACHE=off: a repeated read reaches 4D every time', async () => {
    const r = await replica({ settings: { enabled: false } });
    for (let i = 0; i < 3; i++) {
      const read = await upstreamDuring(emulator, () => r.post<ProductAnswer>(PRODUCT, { id: ids[0] }));
      expect(read.result.errors).toBeUndefined();
      expect(read.result.data!.product!.id).toBe(ids[0]);
      expect(emulator.counters.byTable.Artikel_Variante).toBe(1);
      expect(read.result.extensions?.cache).toBeUndefined();
    }
  });

  it('two concurrent identical queries (two requests, two DataLoaders) fetch the record once', async () => {
    const r = await replica();
    await r.post(PRODUCT, { id: ids[1] }); // the session is logged in: only the record is fetched below
    emulator.setLatency(100);
    const both = await upstreamDuring(emulator, () => Promise.all([r.post<ProductAnswer>(PRODUCT, { id: ids[2] }), r.post<ProductAnswer>(PRODUCT, { id: ids[2] })]));
    emulator.setLatency(0);
    for (const answer of both.result) {
      expect(answer.errors).toBeUndefined();
      expect(answer.data!.product!.id).toBe(ids[2]);
    }
    expect(both.result[1].data).toEqual(both.result[0].data);
    expect(emulator.counters.byTable.Artikel_Variante).toBe(1);
    expect(emulator.requestLog.filter((e) => e.table === 'Artikel_Variante')).toHaveLength(1);
  });

  describe.skipIf(redis.skip)('with a shared Redis', () => {
    it('a slow read that saw the old value, overtaken by a write on B, is not stored as current', async () => {
      expect(redis.available, 'Redis must answer (REQUIRE_REDIS=1)').toBe(true);
      const namespace = uniqueNamespace('wsz-race');
      const a = await replica({ redisUrl: redis.url, namespace });
      const b = await replica({ redisUrl: redis.url, namespace });
      await a.post(PRODUCT, { id: ids[3] }); // both sessions and Redis connections are up
      await b.post(PRODUCT, { id: ids[3] });
      const id = ids[4]!;
      const oldName = String(emulator.db.table('Artikel_Variante')!.get(id)!.Bezeichnung);

      emulator.resetCounters();
      // A's fetch is answered from the row as it is now, but only 400 ms later.
      emulator.delayAnswerNext(1, 400);
      const slow = a.post<ProductAnswer>(PRODUCT, { id });
      await eventually(() => emulator.counters.faultsInjected === 1, 5000);
      expect(emulator.counters.faultsInjected).toBe(1);

      const updated = await b.post<{ updateProduct: { product: { name: string; stamp: number } } }>(UPDATE, { id, stamp: stampOf(id), name: 'Überholt' });
      expect(updated.errors).toBeUndefined();
      const first = await slow;
      // The race really happened: A's answer was read before the write.
      expect(first.errors).toBeUndefined();
      expect(first.data!.product!.name).toBe(oldName);

      const next = await a.post<ProductAnswer>(PRODUCT, { id });
      expect(next.errors).toBeUndefined();
      expect(next.data!.product!.name).toBe('Überholt');
      expect(next.data!.product!.stamp).toBe(updated.data!.updateProduct.product.stamp);
    });

    it('an entry that fails to decode is a miss, counted and logged (TaggedCache over the Redis backend)', async () => {
      expect(redis.available, 'Redis must answer (REQUIRE_REDIS=1)').toBe(true);
      const backend: CacheBackend = createRedisBackend({ url: redis.url, namespace: uniqueNamespace('wsz-decode'), timeoutMs: 500, counterTtlMs: 60_000 });
      const registry = new Registry();
      const log = captureLogger('info');
      const tagged = new TaggedCache({ backend, logger: log.logger, metrics: createCacheMetrics(registry), now: Date.now });
      try {
        await backend.setMany([{ key: 'x', value: { nonsense: true }, ttlMs: 10_000 }]);
        const good = tagged.entry({ fine: true }, {}, 60_000, 60_000);
        await tagged.write([{ key: 'y', entry: good }]);
        const got = await tagged.read<{ fine: boolean }>(['x', 'y'], []);
        expect(got).toBeDefined();
        expect(got!.entries[0]).toBeUndefined();
        expect(got!.entries[1]).toEqual(good);
        expect(await metric(registry, 'cache_decode_failures_total')).toBe(1);
        const lines = log.lines.filter((l) => l.level >= 40);
        expect(lines).toHaveLength(1);
        expect(lines[0]!.msg).toMatch(/cannot be decoded/);
        expect(lines[0]!.key).toBe('x');
        expect(tagged.usable).toBe(true);
      } finally {
        tagged.close();
        await backend.close();
      }
    });

    it('stored entries overwritten with garbage (not even JSON): a miss and a log line, never a store outage', async () => {
      expect(redis.available, 'Redis must answer (REQUIRE_REDIS=1)').toBe(true);
      const namespace = uniqueNamespace('wsz-garbage');
      const log = captureLogger('info');
      const r = await replica({ redisUrl: redis.url, namespace, logger: log.logger });
      const first = await r.post<ProductAnswer>(PRODUCT, { id: ids[5] });
      await r.post(PRODUCT, { id: ids[6] });
      expect((await upstreamDuring(emulator, () => r.post(PRODUCT, { id: ids[5] }))).requests).toBe(0);

      // Everything stored for ids[5] (its row and the answer holding it) becomes garbage.
      const raw = createClient({ url: redis.url });
      raw.on('error', () => {});
      await raw.connect();
      try {
        const keys = (await raw.keys(`${namespace}:cache::*`)).filter((k) => k.includes(ids[5]!) || k.includes(':q:'));
        expect(keys.some((k) => k.includes(ids[5]!))).toBe(true);
        // Only the answer of ids[5] is overwritten: ids[6]'s answer stays, so it must stay a hit.
        const ours = [];
        for (const key of keys) {
          if (key.includes(':q:')) {
            const value = await raw.get(key);
            if (!value?.includes(ids[5]!)) continue;
          }
          ours.push(key);
        }
        expect(ours.length).toBeGreaterThanOrEqual(2);
        for (const key of ours) await raw.set(key, '\u0000garbage{not json', { PX: 60_000 });
      } finally {
        await raw.close();
      }

      const read = await upstreamDuring(emulator, () => r.post<ProductAnswer>(PRODUCT, { id: ids[5] }));
      expect(read.result.errors).toBeUndefined();
      expect(read.result.data).toEqual(first.data);
      expect(read.requests).toBeGreaterThan(0); // a miss: read from 4D again
      expect(await metric(r.metrics.registry, 'cache_decode_failures_total')).toBeGreaterThanOrEqual(1);
      expect(log.lines.some((l) => l.level === 40 && /cannot be decoded/.test(String(l.msg)))).toBe(true);
      // One bad entry is not an outage: the store stays in use, no new epoch drops everything else.
      expect(log.lines.some((l) => /unreachable/.test(String(l.msg)))).toBe(false);
      expect(r.cache.tagged.usable).toBe(true);
      expect(await metric(r.metrics.registry, 'cache_store_up')).toBe(1);
      expect(await metric(r.metrics.registry, 'cache_epochs_total')).toBe(0);
      expect((await upstreamDuring(emulator, () => r.post(PRODUCT, { id: ids[6] }))).requests).toBe(0);
      // The garbage was replaced by the fresh value.
      expect((await upstreamDuring(emulator, () => r.post(PRODUCT, { id: ids[5] }))).requests).toBe(0);
    });
  });

  it('a sku nobody has is cached as not found until the next write to the table', async () => {
    const r = await replica();
    const sku = `NEU-${Date.now().toString(36)}`;
    const none = await upstreamDuring(emulator, () => r.post<{ productBySku: unknown }>(BY_SKU, { sku }));
    expect(none.result.errors).toBeUndefined();
    expect(none.result.data!.productBySku).toBeNull();
    expect(none.requests).toBeGreaterThan(0);
    const cached = await upstreamDuring(emulator, () => r.post<{ productBySku: unknown }>(BY_SKU, { sku }));
    expect(cached.result.data!.productBySku).toBeNull();
    expect(cached.requests).toBe(0);

    // Created behind the graph's back: the cached "not found" still answers…
    const created = emulator.db.table('Artikel_Variante')!.insert({ Nummer: sku, Bezeichnung: 'Hinter dem Rücken angelegt' });
    const stillCached = await upstreamDuring(emulator, () => r.post<{ productBySku: unknown }>(BY_SKU, { sku }));
    expect(stillCached.result.data!.productBySku).toBeNull();
    expect(stillCached.requests).toBe(0);

    // …until any write to the table through the graph moves the table tag.
    const other = ids[7]!;
    const write = await r.post(UPDATE, { id: other, stamp: stampOf(other), name: 'Irgendein anderes Produkt' });
    expect(write.errors).toBeUndefined();
    const found = await upstreamDuring(emulator, () => r.post<{ productBySku: { id: string; sku: string; name: string } | null }>(BY_SKU, { sku }));
    expect(found.result.errors).toBeUndefined();
    expect(found.result.data!.productBySku).toEqual({ id: created.__KEY, sku, name: 'Hinter dem Rücken angelegt' });
    expect(found.requests).toBeGreaterThan(0);
    // Found now: cached again.
    expect((await upstreamDuring(emulator, () => r.post(BY_SKU, { sku }))).requests).toBe(0);
  });
});
