/**
 * Two subgraph replicas sharing one ERP and one real Redis: a repeated read costs no upstream
 * request, and a write through either replica, the command line or the compatibility module's
 * client is seen by the other at once (tag versions in Redis), with no sleep.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { runCli } from '../../src/cli/wsz.js';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { startReplica, upstreamDuring, type Replica } from '../helpers/cached-subgraph.js';
import { redisForTests, uniqueNamespace } from '../helpers/redis.js';

const redis = await redisForTests('the cache replica tests');

const PRODUCT = `query ($id: ID!) { product(id: $id) { id sku name stamp retailPrice { amount } } }`;
const BY_SKU = `query ($sku: String!) { productBySku(sku: $sku) { id name stamp } }`;

describe.skipIf(redis.skip)('two replicas sharing Redis', () => {
  let emulator: Emulator;
  let a: Replica;
  let b: Replica;
  let namespace: string;
  let ids: string[];
  let skus: string[];

  beforeAll(async () => {
    expect(redis.available, 'Redis must answer (REQUIRE_REDIS=1)').toBe(true);
    emulator = await startEmulator({ port: 0 });
    const rows = emulator.db.table('Artikel_Variante')!.rows().slice(0, 5);
    ids = rows.map((r) => String(r.__KEY));
    skus = rows.map((r) => String(r.Nummer));
  });
  afterAll(async () => {
    await emulator.close();
  });
  beforeEach(async () => {
    namespace = uniqueNamespace('wsz-cache');
    a = await startReplica({ emulator, redisUrl: redis.url, namespace });
    b = await startReplica({ emulator, redisUrl: redis.url, namespace });
  });
  afterEach(async () => {
    await a.close();
    await b.close();
  });

  it('a repeated read is answered without any upstream request, on the same and on the other replica', async () => {
    const first = await upstreamDuring(emulator, () => a.post(PRODUCT, { id: ids[0] }));
    expect(first.result.errors).toBeUndefined();
    expect(first.requests).toBeGreaterThan(0);
    expect(first.result.extensions?.cache?.status).toBe('miss');

    const again = await upstreamDuring(emulator, () => a.post(PRODUCT, { id: ids[0] }));
    expect(again.requests).toBe(0);
    expect(again.result.data).toEqual(first.result.data);
    expect(again.result.extensions?.cache?.status).toBe('hit');

    // Replica B shares the entries through Redis.
    const other = await upstreamDuring(emulator, () => b.post(PRODUCT, { id: ids[0] }));
    expect(other.requests).toBe(0);
    expect(other.result.data).toEqual(first.result.data);
  });

  it('an update on B is served by A right after it returned', async () => {
    const before = await a.post<{ product: { stamp: number; name: string } }>(PRODUCT, { id: ids[1] });
    await a.post(PRODUCT, { id: ids[1] }); // cached now
    const updated = await b.post<{ updateProduct: { product: { stamp: number; name: string } } }>(
      `mutation ($id: ID!, $stamp: Int!) { updateProduct(id: $id, expectedStamp: $stamp, input: { name: "Neu über B" }) { product { name stamp } } }`,
      { id: ids[1], stamp: before.data!.product.stamp },
    );
    expect(updated.errors).toBeUndefined();
    const after = await a.post<{ product: { stamp: number; name: string } }>(PRODUCT, { id: ids[1] });
    expect(after.data!.product.name).toBe('Neu über B');
    expect(after.data!.product.stamp).toBe(updated.data!.updateProduct.product.stamp);
  });

  it('the saved row replaces its entry (write-through): the next read by key costs nothing', async () => {
    const before = await b.post<{ product: { stamp: number } }>(PRODUCT, { id: ids[2] });
    await b.post(
      `mutation ($id: ID!, $stamp: Int!) { updateProduct(id: $id, expectedStamp: $stamp, input: { color: "blau" }) { product { stamp } } }`,
      { id: ids[2], stamp: before.data!.product.stamp },
    );
    // The answer of the earlier query was invalidated, but its row is already in the record cache.
    const read = await upstreamDuring(emulator, () => a.post<{ product: { stamp: number } }>(PRODUCT, { id: ids[2] }));
    expect(read.result.data!.product.stamp).toBeGreaterThan(before.data!.product.stamp);
    expect(read.requests).toBe(0);
  });

  it('bulkUpdateProducts on B: every product changed is new on A, lists included', async () => {
    const LIST = `{ products(first: 5) { edges { node { id name stamp } } } }`;
    const list = await a.post<{ products: { edges: Array<{ node: { id: string; stamp: number } }> } }>(LIST);
    const nodes = list.data!.products.edges.map((e) => e.node);
    await a.post(LIST);
    const items = nodes.slice(0, 3).map((n, i) => ({ id: n.id, expectedStamp: n.stamp, input: { name: `Bulk ${i}` } }));
    const bulk = await b.post(`mutation ($items: [BulkUpdateProductItem!]!) { bulkUpdateProducts(items: $items) { products { id } } }`, { items });
    expect(bulk.errors).toBeUndefined();
    const after = await a.post<{ products: { edges: Array<{ node: { id: string; name: string } }> } }>(LIST);
    const names = new Map(after.data!.products.edges.map((e) => [e.node.id, e.node.name]));
    for (const [i, n] of nodes.slice(0, 3).entries()) expect(names.get(n.id)).toBe(`Bulk ${i}`);
    for (const [i, id] of nodes.slice(0, 3).map((n) => n.id).entries()) {
      const one = await a.post<{ product: { name: string } }>(PRODUCT, { id });
      expect(one.data!.product.name).toBe(`Bulk ${i}`);
    }
  });

  it('setLegacyField on B is seen on A, also through an alternate key', async () => {
    await a.post(BY_SKU, { sku: skus[3] });
    const cached = await upstreamDuring(emulator, () => a.post(BY_SKU, { sku: skus[3] }));
    expect(cached.requests).toBe(0);
    const set = await b.post(
      `mutation ($key: ID!) { setLegacyField(table: "Artikel_Variante", key: $key, field: "Bezeichnung", value: "Per Feld") { stamp } }`,
      { key: ids[3] },
    );
    expect(set.errors).toBeUndefined();
    const after = await a.post<{ productBySku: { name: string } }>(BY_SKU, { sku: skus[3] });
    expect(after.data!.productBySku.name).toBe('Per Feld');
  });

  it('a `wsz push` from the command line (same REDIS_URL) is seen on A at once', async () => {
    await a.post(PRODUCT, { id: ids[4] });
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(['push', 'Artikel_Variante', ids[4]!, 'Bezeichnung', 'Von der Kommandozeile'], {
      out: (s) => out.push(s),
      err: (s) => err.push(s),
      env: { LEGACY_API_URL: emulator.url, LEGACY_API_USERNAME: 'wsz', LEGACY_API_PASSWORD: 'wsz', REDIS_URL: redis.url, STORE_NAMESPACE: namespace, LOG_LEVEL: 'silent' },
    });
    expect(err.join('')).toBe('');
    expect(code).toBe(0);
    const after = await a.post<{ product: { name: string } }>(PRODUCT, { id: ids[4] });
    expect(after.data!.product.name).toBe('Von der Kommandozeile');
  });

  it('a write through the compatibility client (its own process-level client) invalidates too', async () => {
    const { createRuntime } = await import('../../src/runtime.js');
    const { loadConfig } = await import('../../src/config.js');
    const config = loadConfig(
      { LEGACY_API_URL: emulator.url, LEGACY_API_USERNAME: 'wsz', LEGACY_API_PASSWORD: 'wsz', REDIS_URL: redis.url, STORE_NAMESPACE: namespace },
      { emulator: 'never' },
    );
    const rt = await createRuntime(config, pino({ level: 'silent' }));
    try {
      await a.post(PRODUCT, { id: ids[0] });
      await rt.client.pushField('Artikel_Variante', ids[0]!, 'Bezeichnung', 'Aus Python-Zeiten');
      const after = await a.post<{ product: { name: string } }>(PRODUCT, { id: ids[0] });
      expect(after.data!.product.name).toBe('Aus Python-Zeiten');
    } finally {
      await rt.close();
    }
  });
});
