/**
 * The change watcher at its edges: a poll gap on the injected clock, the `timestamp` strategy on a
 * server without change tracking (and one untracked table on a server with it), malformed answers
 * during a poll, and the idle cost of a deployment of three replicas sharing Redis.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pino, type Logger } from 'pino';
import { Registry } from 'prom-client';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { ChangeWatcher, createWatcherMetrics, NO_WATCHER_METRICS, WATCHED_TABLES, type WatcherMetrics } from '../../src/watcher/index.js';
import { startReplica, upstreamDuring, type Replica } from '../helpers/cached-subgraph.js';
import { captureLogger } from '../helpers/logs.js';
import { redisForTests, uniqueNamespace } from '../helpers/redis.js';

const redis = await redisForTests('the change watcher edge tests');
const PRODUCT = `query ($id: ID!) { product(id: $id) { id name } }`;
const CUSTOMER = `query ($id: ID!) { customer(id: $id) { id discountPercent } }`;
const LONGEST_TTL_MS = 3_600_000;

interface WatcherSetup {
  now?: () => number;
  metrics?: WatcherMetrics;
  logger?: Logger;
  strategy?: 'auto' | 'globalStamp' | 'timestamp';
}

describe.skipIf(redis.skip)('change watcher edges', () => {
  const emulators: Emulator[] = [];
  const replicas: Replica[] = [];
  const watchers: ChangeWatcher[] = [];

  afterEach(async () => {
    for (const w of watchers.splice(0)) await w.stop();
    for (const r of replicas.splice(0)) await r.close();
  });
  afterAll(async () => {
    for (const e of emulators) await e.close();
  });

  const emulatorWith = async (options: Parameters<typeof startEmulator>[0] = {}) => {
    const emulator = await startEmulator({ port: 0, ...options });
    emulators.push(emulator);
    return emulator;
  };
  const replicaOn = async (emulator: Emulator, namespace: string) => {
    const replica = await startReplica({ emulator, redisUrl: redis.url, namespace });
    replicas.push(replica);
    return replica;
  };
  const watch = async (replica: Replica, setup: WatcherSetup = {}) => {
    const watcher = new ChangeWatcher({
      source: replica.client,
      cache: replica.cache.tagged,
      tables: WATCHED_TABLES,
      strategy: setup.strategy ?? 'auto',
      pollMs: 60_000,
      maxKeysPerTable: 1000,
      longestTtlMs: LONGEST_TTL_MS,
      environment: 'test',
      logger: setup.logger ?? pino({ level: 'silent' }),
      metrics: setup.metrics ?? NO_WATCHER_METRICS,
      now: setup.now,
    });
    watchers.push(watcher);
    await watcher.start(0);
    return watcher;
  };
  const firstKey = (emulator: Emulator, table: string, n = 0) => String(emulator.db.table(table)!.rows()[n]!.__KEY);

  describe('on a server with change tracking', () => {
    let emulator: Emulator;
    beforeAll(async () => {
      emulator = await emulatorWith();
    });

    it('a poll gap longer than the longest TTL means everything changed once, then idle again', async () => {
      let now = Date.parse('2026-12-02T08:00:00Z');
      const a = await replicaOn(emulator, uniqueNamespace('wsz-gap'));
      const w = await watch(a, { now: () => now });
      expect(await w.poll()).toBe('reset');
      expect(await w.poll()).toBe('idle');
      const id = firstKey(emulator, 'Artikel_Variante', 1);
      await a.post(PRODUCT, { id });
      expect((await upstreamDuring(emulator, () => a.post(PRODUCT, { id }))).requests).toBe(0);
      now += LONGEST_TTL_MS + 1;
      expect(await w.poll()).toBe('reset');
      // Everything was dropped: the product is read again, once.
      expect((await upstreamDuring(emulator, () => a.post(PRODUCT, { id }))).requests).toBeGreaterThan(0);
      expect((await upstreamDuring(emulator, () => a.post(PRODUCT, { id }))).requests).toBe(0);
      now += 1000;
      expect(await w.poll()).toBe('idle');
    });

    it('within the longest TTL, a long pause is not a gap: only what changed is dropped', async () => {
      let now = Date.parse('2026-12-02T08:00:00Z');
      const a = await replicaOn(emulator, uniqueNamespace('wsz-gap'));
      const w = await watch(a, { now: () => now });
      await w.poll();
      const [kept, changed] = [firstKey(emulator, 'Artikel_Variante', 2), firstKey(emulator, 'Artikel_Variante', 3)];
      await a.post(PRODUCT, { id: kept });
      await a.post(PRODUCT, { id: changed });
      emulator.desktop.update('Artikel_Variante', changed, { Bezeichnung: 'Nach der Pause' });
      now += LONGEST_TTL_MS - 1;
      expect(await w.poll()).toBe('changed');
      expect((await upstreamDuring(emulator, () => a.post(PRODUCT, { id: kept }))).requests).toBe(0);
      const after = await a.post<{ product: { name: string } }>(PRODUCT, { id: changed });
      expect(after.data!.product.name).toBe('Nach der Pause');
    });

    it('a malformed answer during a poll is logged and counted, never crashes the watcher or marks data fresh', async () => {
      const registry = new Registry();
      const logs = captureLogger('info');
      const a = await replicaOn(emulator, uniqueNamespace('wsz-bad'));
      const w = await watch(a, { metrics: createWatcherMetrics(registry, 'edge'), logger: logs.logger });
      await w.poll();
      const id = firstKey(emulator, 'Artikel_Variante', 4);
      await a.post(PRODUCT, { id });
      emulator.desktop.update('Artikel_Variante', id, { Bezeichnung: 'Trotz Störung' });
      const stampBefore = w.status().stamp;
      for (const kind of ['html', 'truncated'] as const) {
        emulator.garbageNext(10, kind);
        expect(await w.poll()).toBe('error');
        emulator.clearFaults();
      }
      const errors = (await registry.getSingleMetric('change_watcher_polls_total')!.get()).values.find((v) => v.labels.outcome === 'error');
      expect(errors?.value).toBe(2);
      expect(logs.lines.filter((l) => l.msg?.startsWith('change watcher poll failed'))).toHaveLength(2);
      expect(w.status().stamp).toBe(stampBefore);
      // The cached row was not marked fresh: still served until the next good poll, which catches up.
      expect((await a.post<{ product: { name: string } }>(PRODUCT, { id })).data!.product.name).not.toBe('Trotz Störung');
      expect(await w.poll()).toBe('changed');
      expect((await a.post<{ product: { name: string } }>(PRODUCT, { id })).data!.product.name).toBe('Trotz Störung');
    });

    it('three replicas sharing Redis cost exactly one upstream request per interval while nothing changes', async () => {
      const namespace = uniqueNamespace('wsz-idle');
      const deployment = await Promise.all([0, 1, 2].map(() => replicaOn(emulator, namespace)));
      const ws: ChangeWatcher[] = [];
      for (const r of deployment) ws.push(await watch(r));
      // start() polls once at once (the reset: nothing recorded yet); this one shares it or is idle.
      expect(['reset', 'idle']).toContain(await ws[0]!.poll());
      const rounds = 5;
      const idle = await upstreamDuring(emulator, async () => {
        const outcomes: string[] = [];
        for (let round = 0; round < rounds; round++) for (const w of ws) outcomes.push(await w.poll());
        return outcomes;
      });
      expect(idle.result.filter((o) => o === 'idle')).toHaveLength(rounds);
      expect(idle.result.filter((o) => o === 'follower')).toHaveLength(2 * rounds);
      expect(idle.requests).toBe(rounds);
      expect(emulator.counters.logins).toBe(0);
    });
  });

  describe('timestamp strategy', () => {
    it('on a server without change tracking: auto picks timestamp, sees changes by the server’s times, leaves deletions to TTL', async () => {
      const emulator = await emulatorWith({ changeTracking: false });
      const a = await replicaOn(emulator, uniqueNamespace('wsz-ts'));
      // The subgraph's clock is a day off: only the server's __TIMESTAMPs count.
      const w = await watch(a, { now: () => Date.now() - 86_400_000 });
      expect(w.status()).toMatchObject({ strategy: 'timestamp', deletions: false });
      expect(Object.values(w.status().tables).every((s) => s === 'timestamp')).toBe(true);
      expect(await w.poll()).toBe('reset');
      expect(await w.poll()).toBe('idle');
      const [id, other] = [firstKey(emulator, 'Artikel_Variante', 5), firstKey(emulator, 'Artikel_Variante', 6)];
      await a.post(PRODUCT, { id });
      await a.post(PRODUCT, { id: other });
      emulator.desktop.update('Artikel_Variante', id, { Bezeichnung: 'Per Zeitstempel' });
      expect(await w.poll()).toBe('changed');
      expect((await a.post<{ product: { name: string } }>(PRODUCT, { id })).data!.product.name).toBe('Per Zeitstempel');
      expect((await upstreamDuring(emulator, () => a.post(PRODUCT, { id: other }))).requests).toBe(0);
      // Seen once: the overlap re-reads the row, but its stamp is known.
      expect(await w.poll()).toBe('idle');
    });

    it('two saves in the same millisecond are both seen, whichever poll reads the first', async () => {
      let clock = Date.parse('2026-12-02T09:00:00.000Z');
      const emulator = await emulatorWith({ changeTracking: false, now: () => clock });
      const a = await replicaOn(emulator, uniqueNamespace('wsz-ms'));
      const w = await watch(a);
      await w.poll();
      const [first, second] = [firstKey(emulator, 'Artikel_Variante', 7), firstKey(emulator, 'Artikel_Variante', 8)];
      await a.post(PRODUCT, { id: second });
      clock += 5000;
      emulator.desktop.update('Artikel_Variante', first, { Bezeichnung: 'Erste' });
      expect(await w.poll()).toBe('changed');
      // Same __TIMESTAMP as the highest one the last poll saw.
      emulator.desktop.update('Artikel_Variante', second, { Bezeichnung: 'Zweite' });
      expect(await w.poll()).toBe('changed');
      expect((await a.post<{ product: { name: string } }>(PRODUCT, { id: second })).data!.product.name).toBe('Zweite');
    });

    it('one untracked table falls back to timestamp alone; the others keep the global stamp', async () => {
      const emulator = await emulatorWith({ untrackedTables: ['Kunden'] });
      const a = await replicaOn(emulator, uniqueNamespace('wsz-untracked'));
      const w = await watch(a);
      expect(w.status().strategy).toBe('globalStamp');
      expect(w.status().tables).toMatchObject({ Kunden: 'timestamp', Artikel_Variante: 'globalStamp' });
      await w.poll();
      const customer = firstKey(emulator, 'Kunden', 0);
      const product = firstKey(emulator, 'Artikel_Variante', 0);
      await a.post(CUSTOMER, { id: customer });
      expect((await upstreamDuring(emulator, () => a.post(CUSTOMER, { id: customer }))).requests).toBe(0);
      await a.post(PRODUCT, { id: product });
      // A change in the untracked table does not move the global stamp, yet it is seen.
      emulator.desktop.update('Kunden', customer, { Rabatt: 7.5 });
      expect(await w.poll()).toBe('changed');
      const seen = await a.post<{ customer: { discountPercent: number } }>(CUSTOMER, { id: customer });
      expect(seen.data!.customer.discountPercent).toBe(7.5);
      emulator.desktop.update('Artikel_Variante', product, { Bezeichnung: 'Auch verfolgt' });
      expect(await w.poll()).toBe('changed');
      expect((await a.post<{ product: { name: string } }>(PRODUCT, { id: product })).data!.product.name).toBe('Auch verfolgt');
    });
  });
});
