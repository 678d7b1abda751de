import { afterEach, describe, expect, it } from 'vitest';
import { createSessionStore, type SessionStore, type StoredSession } from '../../src/legacy/index.js';
import { redisAnswers, redisForTests, uniqueNamespace } from '../helpers/redis.js';
import { captureLogger } from './setup.js';

const redis = await redisForTests('the Redis session-store tests');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const session = (id: string): StoredSession => ({ id, cookies: { WASID4D: `c-${id}` }, createdAt: 1, lastUsedAt: 2 });

const stores: SessionStore[] = [];
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
});
function track(store: SessionStore): SessionStore {
  stores.push(store);
  return store;
}

/** Behaviour every store must have. */
function contract(make: () => SessionStore) {
  it('stores, returns copies of, expires and deletes values', async () => {
    const store = track(make());
    expect(await store.get('session:a')).toBeUndefined();
    await store.set('session:a', session('1'), 10_000);
    const got = await store.get('session:a');
    expect(got).toEqual(session('1'));
    (got as { id: string }).id = 'mutated';
    expect((await store.get('session:a'))?.id).toBe('1');
    await store.set('session:short', session('2'), 50);
    await sleep(120);
    expect(await store.get('session:short')).toBeUndefined();
    await store.delete('session:a');
    expect(await store.get('session:a')).toBeUndefined();
  });

  it('gives a lock to one holder at a time and releases only with the right token', async () => {
    const store = track(make());
    const key = `lock-${Math.random()}`;
    const token = await store.acquireLock(key, 5000);
    expect(token).toEqual(expect.any(String));
    expect(await store.acquireLock(key, 5000)).toBeNull();
    await store.releaseLock(key, 'not-the-token');
    expect(await store.acquireLock(key, 5000)).toBeNull();
    await store.releaseLock(key, token!);
    const next = await store.acquireLock(key, 5000);
    expect(next).toEqual(expect.any(String));
    expect(next).not.toBe(token);
  });

  it('lets a lock expire after its TTL', async () => {
    const store = track(make());
    const key = `lock-${Math.random()}`;
    expect(await store.acquireLock(key, 60)).not.toBeNull();
    await sleep(120);
    expect(await store.acquireLock(key, 60)).not.toBeNull();
  });
}

describe('in-memory session store', () => {
  contract(() => createSessionStore());
});

describe.skipIf(redis.skip)('Redis session store', () => {
  const namespace = uniqueNamespace('wsz-store');
  contract(() => createSessionStore({ redisUrl: redis.url, namespace }));

  it('shares values and locks between two store instances (two processes)', async () => {
    const a = track(createSessionStore({ redisUrl: redis.url, namespace }));
    const b = track(createSessionStore({ redisUrl: redis.url, namespace }));
    await a.set('session:shared', session('x'), 10_000);
    expect(await b.get('session:shared')).toEqual(session('x'));
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).acquireLock('lock:race', 5000)));
    expect(results.filter((t) => t !== null)).toHaveLength(1);
    const winner = results.find((t) => t !== null)!;
    await a.releaseLock('lock:race', winner);
    expect(await b.acquireLock('lock:race', 5000)).not.toBeNull();
    await a.delete('session:shared');
  });

  it('answers the first read of a freshly created store from Redis (no miss while it connects)', async () => {
    const writer = track(createSessionStore({ redisUrl: redis.url, namespace }));
    await writer.set('session:cold', session('cold'), 10_000);
    // A cold replica: its very first operations, fired together, before any explicit connect.
    const cold = track(createSessionStore({ redisUrl: redis.url, namespace }));
    const [got, token] = await Promise.all([cold.get('session:cold'), cold.acquireLock('lock:cold', 5000)]);
    expect(got).toEqual(session('cold'));
    // The lock is Redis's, not a process-local fallback: the writer cannot take it.
    expect(token).toEqual(expect.any(String));
    expect(token!.startsWith('local:')).toBe(false);
    expect(await writer.acquireLock('lock:cold', 5000)).toBeNull();
    await cold.releaseLock('lock:cold', token!);
    await writer.delete('session:cold');
  });

  it('connects on connect() and resolves once Redis answers', async () => {
    const store = track(createSessionStore({ redisUrl: redis.url, namespace }));
    await expect(store.connect()).resolves.toBeUndefined();
  });

  it('keeps namespaces apart', async () => {
    const a = track(createSessionStore({ redisUrl: redis.url, namespace: uniqueNamespace('ns-a') }));
    const b = track(createSessionStore({ redisUrl: redis.url, namespace: uniqueNamespace('ns-b') }));
    await a.set('session:test', session('a'), 10_000);
    expect(await b.get('session:test')).toBeUndefined();
    expect(await a.acquireLock('lock', 5000)).not.toBeNull();
    expect(await b.acquireLock('lock', 5000)).not.toBeNull();
    await a.delete('session:test');
  });
});

describe('an unreachable Redis', () => {
  it('is a miss and a log line, never a failure', async () => {
    const { logger, lines } = captureLogger();
    const store = track(createSessionStore({ redisUrl: 'redis://127.0.0.1:1', logger, operationTimeoutMs: 300 }));
    const started = Date.now();
    expect(await store.get('session:x')).toBeUndefined();
    await expect(store.set('session:x', session('1'), 1000)).resolves.toBeUndefined();
    await expect(store.delete('session:x')).resolves.toBeUndefined();
    // The lock degrades to a process-local one.
    const token = await store.acquireLock('lock', 1000);
    expect(token).toEqual(expect.any(String));
    expect(await store.acquireLock('lock', 1000)).toBeNull();
    await store.releaseLock('lock', token!);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(lines.some((l) => l.includes('session store error'))).toBe(true);
  });

  it('makes connect() reject, so start-up can stop with a clear error', async () => {
    const store = track(createSessionStore({ redisUrl: 'redis://127.0.0.1:1', operationTimeoutMs: 300 }));
    await expect(store.connect()).rejects.toThrow();
  });

  it('closes at once while the client is still trying to connect (a shutdown never hangs on it)', async () => {
    const store = createSessionStore({ redisUrl: 'redis://127.0.0.1:1', operationTimeoutMs: 300 });
    await expect(store.connect()).rejects.toThrow();
    const started = Date.now();
    await store.close();
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('the availability probe answers false quickly', async () => {
    const started = Date.now();
    expect(await redisAnswers('redis://127.0.0.1:1', 300)).toBe(false);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});
