/**
 * The change watcher end to end: the emulator with data change tracking, changes made behind the
 * graph's back (the emulator's desktop user), replicas sharing real Redis, one poll at a time
 * (`poll()`, no sleeping for intervals).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { ChangeWatcher, NO_WATCHER_METRICS, WATCHED_TABLES } from '../../src/watcher/index.js';
import { startReplica, upstreamDuring, type Replica } from '../helpers/cached-subgraph.js';
import { redisForTests, uniqueNamespace } from '../helpers/redis.js';

const redis = await redisForTests('the change watcher tests');
const PRODUCT = `query ($id: ID!) { product(id: $id) { id name } }`;

function watcherFor(replica: Replica, options: { maxKeysPerTable?: number } = {}): ChangeWatcher {
  return new ChangeWatcher({
    source: replica.client,
    cache: replica.cache.tagged,
    tables: WATCHED_TABLES,
    strategy: 'auto',
    pollMs: 60_000,
    maxKeysPerTable: options.maxKeysPerTable ?? 1000,
    longestTtlMs: 3_600_000,
    environment: 'test',
    logger: pino({ level: 'silent' }),
    metrics: NO_WATCHER_METRICS,
  });
}

describe.skipIf(redis.skip)('change watcher', () => {
  let emulator: Emulator;
  let a: Replica;
  let b: Replica;
  let ids: string[];
  let watchers: ChangeWatcher[];

  beforeAll(async () => {
    emulator = await startEmulator({ port: 0 });
    ids = emulator.db.table('Artikel_Variante')!.rows().slice(0, 8).map((r) => String(r.__KEY));
  });
  afterAll(async () => {
    await emulator.close();
  });
  beforeEach(async () => {
    const namespace = uniqueNamespace('wsz-watch');
    a = await startReplica({ emulator, redisUrl: redis.url, namespace });
    b = await startReplica({ emulator, redisUrl: redis.url, namespace });
    watchers = [];
  });
  afterEach(async () => {
    for (const w of watchers) await w.stop();
    await a.close();
    await b.close();
  });

  const started = async (replica: Replica, options?: { maxKeysPerTable?: number }) => {
    const w = watcherFor(replica, options);
    watchers.push(w);
    await w.start(0);
    return w;
  };

  it('detects global-stamp tracking, and an idle poll costs exactly one upstream request', async () => {
    const w = await started(a);
    expect(w.status().strategy).toBe('globalStamp');
    expect(Object.values(w.status().tables).every((s) => s === 'globalStamp')).toBe(true);
    expect(w.status().deletions).toBe(true);
    expect(await w.poll()).toBe('reset'); // nothing recorded yet: everything assumed changed once
    const idle = await upstreamDuring(emulator, () => w.poll());
    expect(idle.result).toBe('idle');
    expect(idle.requests).toBe(1);
  });

  it('a change made at the 4D desktop is served new by both replicas after one poll', async () => {
    const w = await started(a);
    await w.poll();
    await a.post(PRODUCT, { id: ids[0] });
    await b.post(PRODUCT, { id: ids[0] });
    emulator.desktop.update('Artikel_Variante', ids[0]!, { Bezeichnung: 'Vom Sachbearbeiter' });
    // Until the poll, the cache still answers (that is what the watcher is for).
    const before = await upstreamDuring(emulator, () => a.post<{ product: { name: string } }>(PRODUCT, { id: ids[0] }));
    expect(before.requests).toBe(0);
    expect(await w.poll()).toBe('changed');
    for (const r of [a, b]) {
      const after = await r.post<{ product: { name: string } }>(PRODUCT, { id: ids[0] });
      expect(after.data!.product.name).toBe('Vom Sachbearbeiter');
    }
    // Other products stay cached.
    await a.post(PRODUCT, { id: ids[1] });
    emulator.desktop.update('Artikel_Variante', ids[2]!, { Bezeichnung: 'Anderes' });
    await w.poll();
    expect((await upstreamDuring(emulator, () => a.post(PRODUCT, { id: ids[1] }))).requests).toBe(0);
  });

  it('a deleted record resolves to null and leaves its lists; a created one appears in them', async () => {
    const w = await started(a);
    await w.poll();
    const LIST = `query ($sku: String!) { products(filter: { sku: { beginsWith: $sku } }) { totalCount edges { node { id } } } }`;
    const victim = emulator.db.table('Artikel_Variante')!.get(ids[3]!)!;
    const sku = String(victim.Nummer);
    await a.post(PRODUCT, { id: ids[3] });
    const listed = await a.post<{ products: { totalCount: number } }>(LIST, { sku });
    emulator.desktop.delete('Artikel_Variante', ids[3]!);
    await w.poll();
    const gone = await a.post<{ product: unknown }>(PRODUCT, { id: ids[3] });
    expect(gone.data!.product).toBeNull();
    const after = await a.post<{ products: { totalCount: number; edges: Array<{ node: { id: string } }> } }>(LIST, { sku });
    expect(after.data!.products.totalCount).toBe(listed.data!.products.totalCount - 1);
    expect(after.data!.products.edges.map((e) => e.node.id)).not.toContain(ids[3]);
    emulator.desktop.insert('Artikel_Variante', { ...victim, __KEY: undefined, __STAMP: undefined, __TIMESTAMP: undefined, __GlobalStamp: undefined, Nummer: `${sku}-NEU` });
    await w.poll();
    const grown = await a.post<{ products: { totalCount: number } }>(LIST, { sku });
    expect(grown.data!.products.totalCount).toBe(listed.data!.products.totalCount);
  });

  it('one watcher per deployment: the other replica follows, and takes over when the leader stops', async () => {
    const leader = await started(a);
    const follower = await started(b);
    expect(await leader.poll()).not.toBe('follower');
    expect(await follower.poll()).toBe('follower');
    await a.post(PRODUCT, { id: ids[4] });
    await leader.stop();
    emulator.desktop.update('Artikel_Variante', ids[4]!, { Bezeichnung: 'Nach dem Wechsel' });
    expect(await follower.poll()).toBe('changed'); // the stamp recorded by the old leader: nothing missed
    const after = await a.post<{ product: { name: string } }>(PRODUCT, { id: ids[4] });
    expect(after.data!.product.name).toBe('Nach dem Wechsel');
  });

  it('a stamp that goes down means everything changed, once', async () => {
    const w = await started(a);
    await w.poll();
    await a.post(PRODUCT, { id: ids[5] });
    emulator.setGlobalStamp(1);
    expect(await w.poll()).toBe('reset');
    expect((await upstreamDuring(emulator, () => a.post(PRODUCT, { id: ids[5] }))).requests).toBeGreaterThan(0);
    expect(await w.poll()).toBe('idle');
  });

  it('more changed keys than the bound drops the whole table', async () => {
    const w = await started(a, { maxKeysPerTable: 2 });
    await w.poll();
    await a.post(PRODUCT, { id: ids[6] });
    for (const id of ids.slice(0, 3)) emulator.desktop.update('Artikel_Variante', id, {});
    expect(await w.poll()).toBe('changed');
    // ids[6] did not change, but its table was dropped whole.
    expect((await upstreamDuring(emulator, () => a.post(PRODUCT, { id: ids[6] }))).requests).toBeGreaterThan(0);
  });

  it('a failing poll keeps the last stamp and the next one catches up', async () => {
    const w = await started(a);
    await w.poll();
    await a.post(PRODUCT, { id: ids[7] });
    emulator.desktop.update('Artikel_Variante', ids[7]!, { Bezeichnung: 'Nach dem Fehler' });
    emulator.failNext(20, 503);
    expect(await w.poll()).toBe('error');
    emulator.clearFaults();
    expect(await w.poll()).toBe('changed');
    const after = await a.post<{ product: { name: string } }>(PRODUCT, { id: ids[7] });
    expect(after.data!.product.name).toBe('Nach dem Fehler');
  });
});
