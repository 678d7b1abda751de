/**
 * The cap on concurrent upstream requests per environment, measured at the emulator (its in-flight
 * high-water mark): queueing beyond the cap, the queue deadline (the ERP is saturated, nothing is
 * sent), logins and logouts that never queue, and the cap shared through Redis by two clients (with
 * the lease of a crashed holder expiring).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { limiterKey } from '../../src/legacy/concurrency.js';
import {
  createConcurrencyLimiter,
  createLegacyClient,
  createRedisSemaphore,
  LegacyAPIConnectionError,
  LegacyWriteNotSavedError,
  QueueTimeoutError,
  type LegacyClient,
  type LegacyClientOptions,
  type SharedSemaphore,
} from '../../src/legacy/index.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { rejection } from '../helpers/assertions.js';
import { redisForTests, uniqueNamespace } from '../helpers/redis.js';
import { PASSWORD, USER } from './setup.js';

const LATENCY_MS = 80;

let emulator: Emulator;
const clients: LegacyClient[] = [];

function client(options: Partial<LegacyClientOptions> = {}): LegacyClient {
  const c = createLegacyClient({
    environments: { test: { baseUrl: emulator.url, username: USER, password: PASSWORD } },
    defaultEnvironment: 'test',
    retryBaseMs: 5,
    retryMaxMs: 20,
    ...options,
  });
  clients.push(c);
  return c;
}

/** Runs `n` concurrent table reads (different pages, so nothing is shared) and returns their outcomes. */
function reads(c: LegacyClient, n: number) {
  return Promise.allSettled(Array.from({ length: n }, (_, i) => c.fetchTable('Kunden', { top: 1, skip: i })));
}

const dataRequests = () => emulator.requestLog.filter((e) => e.table).length;

beforeAll(async () => {
  emulator = await startEmulator({ port: 0, users: { [USER]: PASSWORD } });
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  emulator.setLatency(0);
  emulator.resetCounters();
});
afterAll(async () => {
  await emulator?.close();
});

describe('the cap on concurrent upstream requests', () => {
  it('keeps at most 2 requests in flight at the emulator for 10 concurrent reads, with one login', async () => {
    const c = client({ maxConcurrency: 2 });
    emulator.setLatency(LATENCY_MS);
    emulator.resetCounters();
    const started = performance.now();
    const outcomes = await reads(c, 10);
    const elapsed = performance.now() - started;
    expect(outcomes.every((o) => o.status === 'fulfilled')).toBe(true);
    expect(emulator.counters.maxInFlight).toBe(2);
    expect(emulator.counters.logins).toBe(1);
    expect(dataRequests()).toBe(10);
    // Login, then five rounds of two.
    expect(elapsed).toBeGreaterThanOrEqual(6 * LATENCY_MS - 20);
  });

  it('measures what it claims: without a tight cap the same reads overlap', async () => {
    const c = client({ maxConcurrency: 20, connections: 20 });
    await c.ping();
    emulator.setLatency(LATENCY_MS);
    emulator.resetCounters();
    await reads(c, 10);
    expect(emulator.counters.maxInFlight).toBe(10);
  });

  it('defaults to 8', async () => {
    const c = client({ connections: 20 });
    await c.ping();
    emulator.setLatency(LATENCY_MS);
    emulator.resetCounters();
    await reads(c, 12);
    expect(emulator.counters.maxInFlight).toBe(8);
  });

  it('fails a request that waited past the queue deadline, saying the ERP is saturated, without sending it', async () => {
    const c = client({ maxConcurrency: 1, queueTimeoutMs: 100 });
    await c.ping();
    emulator.setLatency(400);
    emulator.resetCounters();
    const [first, second] = await reads(c, 2);
    expect(first!.status).toBe('fulfilled');
    expect(second!.status).toBe('rejected');
    const error = (second as PromiseRejectedResult).reason as LegacyAPIConnectionError;
    expect(error).toBeInstanceOf(LegacyAPIConnectionError);
    expect(error.message).toContain('saturated');
    expect(error.message).toContain('1 concurrent upstream requests');
    expect(error.message).toContain('100 ms');
    expect(error.notSent).toBe(true);
    expect(dataRequests()).toBe(1);
  });

  it('reports an update that waited past the deadline as not saved, without sending it or reading back', async () => {
    const c = client({ maxConcurrency: 1, queueTimeoutMs: 100, writeRecheckDelayMs: 5000 });
    await c.ping();
    const row = emulator.db.table('Kunden')!.rows()[3]!;
    emulator.slowNext(1, 400);
    emulator.resetCounters();
    const slowRead = c.fetchTable('Kunden', { top: 1 });
    const error = await rejection(c.update('Kunden', row.__KEY, row.__STAMP, { Rabatt: 2 }));
    await slowRead;
    expect(error).toBeInstanceOf(LegacyWriteNotSavedError);
    expect((error as LegacyWriteNotSavedError).evidence).toBe('notSent');
    expect(emulator.requestLog.some((e) => e.method === 'POST')).toBe(false);
    expect(emulator.db.table('Kunden')!.get(row.__KEY)).toBe(row);
  });

  it('never queues a logout or a login behind a held slot', async () => {
    const c = client({ maxConcurrency: 1, queueTimeoutMs: 300 });
    await c.ping();
    emulator.resetCounters();
    emulator.slowNext(1, 700); // the read below holds the only slot for 700 ms
    const slow = c.fetchTable('Kunden', { top: 1 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = performance.now();
    expect(await c.logout()).toBe(true);
    // Logged out while the slot was held; then a read that needs a new login waits only for the slot.
    expect(performance.now() - started).toBeLessThan(300);
    await slow;
    await c.fetchTable('Kunden', { top: 1 });
    expect(emulator.counters.maxInFlight).toBe(2); // the held slot plus the priority logout
    expect(emulator.counters.logins).toBe(1);
  });

  it('validates its settings', () => {
    expect(() => client({ maxConcurrency: 0 })).toThrow(/maxConcurrency must be an integer ≥ 1/);
    expect(() => client({ queueTimeoutMs: 0 })).toThrow(/queueTimeoutMs must be an integer ≥ 1/);
    expect(() => createConcurrencyLimiter({ maxConcurrent: 1.5, queueTimeoutMs: 10 })).toThrow(TypeError);
  });
});

describe('configuration', () => {
  const base = { LEGACY_API_URL: 'http://erp:8080' };

  it('reads the cap, the queue deadline, the URL budget and the re-read delay, with their defaults', () => {
    expect(loadConfig(base).legacy).toMatchObject({ maxConcurrency: 8, queueTimeoutMs: 10_000, maxUrlBytes: 6000, writeRecheckDelayMs: 1000 });
    const set = loadConfig({
      ...base,
      LEGACY_API_MAX_CONCURRENCY: '3',
      LEGACY_API_QUEUE_TIMEOUT_MS: '2500',
      LEGACY_API_MAX_URL_BYTES: '4000',
      LEGACY_WRITE_RECHECK_MS: '0',
    });
    expect(set.legacy).toMatchObject({ maxConcurrency: 3, queueTimeoutMs: 2500, maxUrlBytes: 4000, writeRecheckDelayMs: 0 });
  });

  it.each([
    ['LEGACY_API_MAX_CONCURRENCY', '0'],
    ['LEGACY_API_QUEUE_TIMEOUT_MS', 'soon'],
    ['LEGACY_API_MAX_URL_BYTES', '100'],
    ['LEGACY_WRITE_RECHECK_MS', '-1'],
  ])('refuses %s=%s, naming the setting and the value', (name, value) => {
    expect(() => loadConfig({ ...base, [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ ...base, [name]: value })).toThrow(new RegExp(`${name} must be an integer from \\d+ to \\d+, got "${value}"`));
  });
});

describe('the local limiter', () => {
  it('serves waiters first come, first served, and drops those that passed the deadline', async () => {
    const limiter = createConcurrencyLimiter({ maxConcurrent: 1, queueTimeoutMs: 50 });
    const held = await limiter.acquire();
    const late = rejection(limiter.acquire());
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(await late).toBeInstanceOf(QueueTimeoutError);
    const order: number[] = [];
    const waiting = [1, 2, 3].map((i) => limiter.acquire().then((lease) => (order.push(i), lease.release())));
    held.release();
    held.release(); // a second release does nothing
    await Promise.all(waiting);
    expect(order).toEqual([1, 2, 3]);
    expect(limiter.active).toBe(0);
    expect(limiter.pending).toBe(0);
  });
});

describe('the cap shared through Redis', async () => {
  const redis = await redisForTests('the shared concurrency cap');
  let semaphore: SharedSemaphore;
  let namespace: string;

  beforeAll(async () => {
    if (redis.skip) return;
    namespace = uniqueNamespace('wsz-cap');
    semaphore = createRedisSemaphore({ url: redis.url, namespace });
    await semaphore.connect();
  });
  afterAll(async () => {
    await semaphore?.close();
  });

  it.skipIf(redis.skip)('holds for two clients together: at most 2 in flight for 2 × 10 concurrent reads', async () => {
    expect(redis.available).toBe(true);
    const a = client({ maxConcurrency: 2, sharedConcurrency: semaphore });
    const b = client({ maxConcurrency: 2, sharedConcurrency: semaphore });
    await Promise.all([a.ping(), b.ping()]);
    emulator.setLatency(LATENCY_MS);
    emulator.resetCounters();
    const outcomes = await Promise.all([reads(a, 10), reads(b, 10)]);
    expect(outcomes.flat().every((o) => o.status === 'fulfilled')).toBe(true);
    expect(emulator.counters.maxInFlight).toBe(2);
    expect(dataRequests()).toBe(20);
    expect(await semaphore.count(limiterKey('test', emulator.url))).toBe(0);
  });

  it.skipIf(redis.skip)('is per process without Redis: the same two clients then reach 4', async () => {
    const a = client({ maxConcurrency: 2 });
    const b = client({ maxConcurrency: 2 });
    await Promise.all([a.ping(), b.ping()]);
    emulator.setLatency(LATENCY_MS);
    emulator.resetCounters();
    await Promise.all([reads(a, 10), reads(b, 10)]);
    expect(emulator.counters.maxInFlight).toBe(4);
  });

  it.skipIf(redis.skip)('lets the lease of a crashed holder expire, and meanwhile fails fast past the deadline', async () => {
    const key = limiterKey('test', emulator.url);
    // A process took the only slot and died: its lease lives 400 ms.
    expect(await semaphore.tryAcquire(key, 'crashed-holder', 1, 400, false)).toBe(true);
    const c = client({ maxConcurrency: 1, queueTimeoutMs: 100, sharedConcurrency: semaphore });
    const impatient = await rejection(c.fetchTable('Kunden', { top: 1 }));
    expect(impatient).toBeInstanceOf(LegacyAPIConnectionError);
    expect(impatient.message).toContain('shared by the deployment');
    expect(dataRequests()).toBe(0);
    const patient = client({ maxConcurrency: 1, queueTimeoutMs: 2000, sharedConcurrency: semaphore });
    const started = performance.now();
    await patient.fetchTable('Kunden', { top: 1 });
    expect(performance.now() - started).toBeGreaterThanOrEqual(200);
    expect(await semaphore.count(key)).toBe(0);
  });

  it.skipIf(redis.skip)('falls back to the per-process cap when Redis does not answer', async () => {
    const down = createRedisSemaphore({ url: 'redis://127.0.0.1:1', namespace, operationTimeoutMs: 200 });
    try {
      const c = client({ maxConcurrency: 2, sharedConcurrency: down });
      await c.ping();
      emulator.setLatency(LATENCY_MS);
      emulator.resetCounters();
      const outcomes = await reads(c, 6);
      expect(outcomes.every((o) => o.status === 'fulfilled')).toBe(true);
      expect(emulator.counters.maxInFlight).toBe(2);
    } finally {
      await down.close();
    }
  });
});
