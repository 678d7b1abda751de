/**
 * Freshness, grace and stale-if-error, on the injected clock: each entry carries its own expiry and
 * grace, checked against the clock (no sleeping for TTLs). When 4D fails or its licence pool is
 * full, a value within grace is served and marked stale; beyond grace, the error as before; an
 * invalidated value is never served, stale or not.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { offsetClock } from '../helpers/assertions.js';
import { startReplica, upstreamDuring, type Replica } from '../helpers/cached-subgraph.js';

const PRODUCT = `query ($id: ID!) { product(id: $id) { id name stamp } }`;

describe('freshness and grace on the cache clock', () => {
  let emulator: Emulator;
  let replica: Replica;
  let clock: ReturnType<typeof offsetClock>;
  let ids: string[];

  beforeAll(async () => {
    emulator = await startEmulator({ port: 0 });
    ids = emulator.db.table('Artikel_Variante')!.rows().slice(0, 4).map((r) => String(r.__KEY));
  });
  afterAll(async () => {
    await emulator.close();
  });
  beforeEach(async () => {
    clock = offsetClock();
    emulator.setSessionLimit(10);
    replica = await startReplica({ emulator, now: clock.now, settings: { ttlSeconds: 60, graceSeconds: 600 } });
  });
  afterEach(async () => {
    await replica.close();
  });

  it('an entry is fresh until its own expiry, then read again from 4D', async () => {
    await replica.post(PRODUCT, { id: ids[0] });
    clock.advance(30_000);
    await replica.post(PRODUCT, { id: ids[1] }); // stored 30 s later: expires 30 s later
    clock.advance(29_000);
    const both = await upstreamDuring(emulator, async () => [await replica.post(PRODUCT, { id: ids[0] }), await replica.post(PRODUCT, { id: ids[1] })]);
    expect(both.requests).toBe(0);
    clock.advance(2_000); // 61 s after the first, 31 s after the second
    const first = await upstreamDuring(emulator, () => replica.post(PRODUCT, { id: ids[0] }));
    expect(first.requests).toBeGreaterThan(0);
    expect(first.result.extensions?.cache?.status).toBe('miss');
    const second = await upstreamDuring(emulator, () => replica.post(PRODUCT, { id: ids[1] }));
    expect(second.requests).toBe(0);
  });

  it('the Cache-Control max-age never exceeds what is left of the rows’ freshness', async () => {
    const first = await replica.post(PRODUCT, { id: ids[2] });
    expect(first.headers.get('cache-control')).toMatch(/^max-age=(59|60), public$/);
    clock.advance(45_000);
    const hit = await replica.post(PRODUCT, { id: ids[2] });
    expect(hit.extensions?.cache?.status).toBe('hit');
    expect(hit.headers.get('cache-control')).toMatch(/^max-age=1[45], public$/);
    expect(hit.headers.get('cache-tag')).toContain(`Artikel_Variante:${ids[2]}`);
  });

  it('4D failing: a value within grace is served, marked stale, and not kept as fresh', async () => {
    const fresh = await replica.post(PRODUCT, { id: ids[3] });
    clock.advance(61_000);
    emulator.failNext(100, 503);
    try {
      const stale = await replica.post(PRODUCT, { id: ids[3] });
      expect(stale.errors).toBeUndefined();
      expect(stale.data).toEqual(fresh.data);
      expect(stale.extensions?.cache?.status).toBe('stale');
      expect(stale.headers.get('cache-control')).toBe('no-store');
      const metrics = await replica.metrics.registry.getSingleMetricAsString('cache_lookups_total');
      expect(metrics).toMatch(/result="stale"[^\n]* [1-9]/);
      // Beyond grace: the error, as without a cache.
      clock.advance(600_000);
      const gone = await replica.post(PRODUCT, { id: ids[3] });
      expect(gone.errors?.[0]?.extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
    } finally {
      emulator.clearFaults();
    }
  });

  it('the licence pool full (402): a value within grace is served, marked stale', async () => {
    const fresh = await replica.post(PRODUCT, { id: ids[0] });
    clock.advance(61_000);
    emulator.setSessionLimit(0);
    emulator.expireAllSessions();
    const stale = await replica.post(PRODUCT, { id: ids[0] });
    expect(stale.errors).toBeUndefined();
    expect(stale.data).toEqual(fresh.data);
    expect(stale.extensions?.cache?.status).toBe('stale');
  });

  it('an invalidated value is never served, not even as stale', async () => {
    await replica.post(PRODUCT, { id: ids[1] });
    clock.advance(61_000);
    await replica.cache.purge({ tags: [`Artikel_Variante:${ids[1]}`] }, 'test');
    emulator.failNext(100, 503);
    try {
      const answer = await replica.post(PRODUCT, { id: ids[1] });
      expect(answer.data?.product ?? null).toBeNull();
      expect(answer.errors?.[0]?.extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
    } finally {
      emulator.clearFaults();
    }
  });
});
