import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmulator } from '../src/emulator/index.js';
import { Readiness } from '../src/health.js';
import { createLegacyClient, createSessionStore } from '../src/legacy/index.js';

describe('Readiness', () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const c of cleanup.reverse()) await c().catch(() => undefined);
  });

  it('answers within its timeout when the session store hangs, and reads the store once for many probes', async () => {
    // A "Redis" that accepts connections and never answers.
    const sockets: Socket[] = [];
    let hanging = true;
    const blackHole: Server = createServer((s) => (hanging ? sockets.push(s) : s.destroy()));
    await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
    const store = createSessionStore({ redisUrl: `redis://127.0.0.1:${(blackHole.address() as AddressInfo).port}`, operationTimeoutMs: 800 });
    const client = createLegacyClient({ environments: { live: { baseUrl: 'http://127.0.0.1:9' } }, defaultEnvironment: 'live', store });
    // A store closed while its connection attempt is pending does not close (reported): let the
    // attempt time out (800 ms) first.
    cleanup.push(async () => {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      hanging = false;
      for (const s of sockets) s.destroy();
      await client.close();
      await store.close();
      await new Promise((resolve) => blackHole.close(resolve));
    });
    let reads = 0;
    const readiness = new Readiness({ sessionTimeoutMs: 150 });
    readiness.watchSessions('live', () => {
      reads++;
      return client.sessionState();
    });
    readiness.markReady();

    const started = Date.now();
    const reports = await Promise.all(Array.from({ length: 20 }, () => readiness.report()));
    expect(Date.now() - started).toBeLessThan(600); // the store's own timeout is 800 ms
    expect(reports.every((r) => r.ready && r.upstream?.session === null && r.upstream.checkedAt === null)).toBe(true);
    expect(reads).toBe(1);
  });

  it('reports an open licence breaker with its retry time, and stays ready', async () => {
    const emulator = await startEmulator({ port: 0, sessions: 1 });
    cleanup.push(() => emulator.close());
    // Someone else holds the only licence.
    const other = createLegacyClient({ environments: { erp: { baseUrl: emulator.url, username: 'wsz', password: 'wsz' } }, defaultEnvironment: 'erp' });
    cleanup.push(() => other.close());
    await other.ping();

    const readiness = new Readiness();
    const client = createLegacyClient({
      environments: { erp: { baseUrl: emulator.url, username: 'wsz', password: 'wsz' } },
      defaultEnvironment: 'erp',
      retries: 0,
      sessionLimitBreakerSeconds: 30,
      onUpstreamRequest: (e) => readiness.observeUpstream(e),
    });
    cleanup.push(() => client.close());
    readiness.watchSessions('erp', () => client.sessionState());
    readiness.markReady();
    await expect(client.fetchTable('Kunden', { top: 1 })).rejects.toThrow();

    const report = await readiness.report();
    expect(report.ready).toBe(true);
    expect(report.upstream).toMatchObject({ state: 'session-limit', breaker: { open: true }, lastFailure: { status: 402 } });
    expect(Date.parse(report.upstream!.breaker!.retryAt!)).toBeGreaterThan(Date.now());
    expect(report.upstream!.breaker!.retryAfterMs).toBeGreaterThan(20_000);
    expect(await readiness.upstreamAvailable()).toBe(false);
  });

  it('moves from starting to ready to draining and never back; with nothing in flight it is idle at once', async () => {
    const readiness = new Readiness();
    expect(await readiness.whenIdle(Date.now() + 10)).toBe(true);
    expect(readiness.phase).toBe('starting');
    readiness.markReady();
    readiness.markDraining();
    readiness.markReady(); // no way back from draining
    expect(readiness.phase).toBe('draining');
  });
});
