/**
 * Licences across replicas sharing real Redis: an expiry storm on two replicas (separate Redis
 * connections, as two processes have) costs one login; a Redis outage costs no login at all while
 * the replicas' session lives. The outage uses a private `redis-server` on a free port, never the
 * machine's shared one.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createSessionStore, type SessionStore } from '../../src/legacy/index.js';
import { freePort, PrivateRedis, redisForTests, REDIS_URL, uniqueNamespace } from '../helpers/redis.js';
import { eventually } from '../helpers/assertions.js';
import { legacyFixture, type LegacyFixture } from './setup.js';

const redis = await redisForTests('the Redis licence tests');

let fx: LegacyFixture | undefined;
const stores: SessionStore[] = [];
afterEach(async () => {
  await fx?.close();
  fx = undefined;
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

function redisStore(url: string, namespace: string): SessionStore {
  const store = createSessionStore({ redisUrl: url, namespace, operationTimeoutMs: 500 });
  stores.push(store);
  return store;
}

describe.skipIf(redis.skip)('licences across replicas sharing Redis', () => {
  it('Redis is reachable (REQUIRE_REDIS)', () => {
    expect(redis.available).toBe(true);
  });

  it.each([1, 3])('an expiry storm on two replicas (pool of %i) costs one login and leaves one live session', async (pool) => {
    fx = await legacyFixture({ sessions: pool });
    const namespace = uniqueNamespace('wsz-storm');
    const a = fx.newClient({ store: redisStore(REDIS_URL, namespace) });
    const b = fx.newClient({ store: redisStore(REDIS_URL, namespace) });
    await Promise.all([a.fetchTable('Kunden', { top: 1 }), b.fetchTable('Kunden', { top: 1 })]);
    expect(fx.emulator.counters.logins).toBe(1);
    fx.emulator.expireAllSessions();
    fx.emulator.resetCounters();
    const results = await Promise.allSettled([
      ...Array.from({ length: 25 }, (_, i) => a.fetchTable('Kunden', { top: 1, skip: i })),
      ...Array.from({ length: 25 }, (_, i) => b.fetchTable('Kunden', { top: 1, skip: i })),
    ]);
    expect(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
    expect(fx.emulator.counters.logins).toBe(1);
    await eventually(() => fx!.emulator.activeSessions() === 1, 3000);
    expect(fx.emulator.activeSessions()).toBe(1);
    expect((await a.sessionState()).sessionId).toBe((await b.sessionState()).sessionId);
  });

  describe('a Redis outage', () => {
    let server: PrivateRedis;
    beforeAll(async () => {
      server = new PrivateRedis(await freePort());
      await server.start();
    });
    afterAll(async () => {
      await server.stop();
    });

    it('costs no login: each replica keeps the session it holds, and shares again when Redis is back', async () => {
      fx = await legacyFixture({ sessions: 2 });
      const namespace = uniqueNamespace('wsz-outage');
      const a = fx.newClient({ store: redisStore(server.url, namespace) });
      const b = fx.newClient({ store: redisStore(server.url, namespace) });
      await a.fetchTable('Kunden', { top: 1 });
      await b.fetchTable('Kunden', { top: 1 });
      expect(fx.emulator.counters.logins).toBe(1);

      await server.stop();
      fx.emulator.resetCounters();
      // 1.5 s: each replica re-reads the store (a miss now) at least once after the first second.
      for (let i = 0; i < 6; i++) {
        await Promise.all([a.fetchTable('Kunden', { top: 1, skip: i }), b.fetchTable('Formen', { top: 1, skip: i })]);
        await new Promise((r) => setTimeout(r, 250));
      }
      expect(fx.emulator.counters.byRoute.login).toBe(0);
      expect(fx.emulator.counters.requests).toBe(12);
      expect(fx.emulator.activeSessions()).toBe(1);

      await server.start();
      await Promise.all([a.fetchTable('Kunden', { top: 1 }), b.fetchTable('Kunden', { top: 1 })]);
      expect(fx.emulator.counters.byRoute.login).toBe(0);
      expect((await a.sessionState()).sessionId).toBe((await b.sessionState()).sessionId);
    });
  });
});
