/**
 * Latency and fault injection of the emulator: failNext, dropNext, garbageNext, hangNext, and a
 * close() that never waits for keep-alive or hung connections.
 */
import { Agent } from 'node:http';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { rawRequest, startTestEmulator, withEmulator, type TestEmulator } from '../helpers/emulator.js';

describe('latency', () => {
  const emu = withEmulator({ auth: 'none' });
  afterEach(() => emu().emulator.setLatency(0, 0));

  it('delays every answer by the configured latency', async () => {
    const t = emu();
    t.emulator.setLatency(150);
    const started = performance.now();
    const res = await t.rest('/rest/$catalog');
    expect(res.status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(145);
  });

  it('keeps jittered latency within latency ± jitter', async () => {
    const t = emu();
    t.emulator.setLatency(80, 40);
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      await t.rest('/rest/$catalog');
      const ms = performance.now() - started;
      expect(ms).toBeGreaterThanOrEqual(38);
      expect(ms).toBeLessThan(400);
    }
  });

  it('applies latencyMs from the options', async () => {
    const t = await startTestEmulator({ latencyMs: 100, auth: 'none' });
    try {
      const started = performance.now();
      await t.rest('/rest/$catalog');
      expect(performance.now() - started).toBeGreaterThanOrEqual(95);
    } finally {
      await t.close();
    }
  });
});

describe('faults', () => {
  const emu = withEmulator();
  // Log in once up front, so that `login: true` below never sends a login that would take a fault.
  beforeAll(async () => {
    await emu().rest('/rest/$catalog', { login: true });
    emu().emulator.resetCounters();
  });
  afterEach(() => emu().emulator.resetCounters());

  it('answers the next n requests with 503 and a 4D __ERROR body, then recovers', async () => {
    const t = emu();
    t.emulator.failNext(2);
    for (let i = 0; i < 2; i++) {
      const res = await t.rest('/rest/Kunden', { login: true });
      expect(res.status).toBe(503);
      expect(res.body).toEqual({ __ERROR: [{ message: expect.any(String), componentSignature: 'dbmg', errCode: 503 }] });
    }
    expect((await t.rest('/rest/Kunden?$top=1', { login: true })).status).toBe(200);
    expect(t.emulator.counters.faultsInjected).toBe(2);
    // Faulted requests are still counted and logged.
    expect(t.emulator.counters.byRoute.collection).toBe(3);
    expect(t.emulator.requestLog.map((r) => r.status)).toEqual([503, 503, 200]);
  });

  it('uses the given status for failNext', async () => {
    const t = emu();
    t.emulator.failNext(1, 500);
    expect((await t.rest('/rest/Kunden', { login: true })).status).toBe(500);
  });

  it('applies faults to every route, login included, and consumes them in the order armed', async () => {
    const t = emu();
    t.emulator.failNext(1, 502);
    t.emulator.garbageNext(1, 'truncated');
    const login = await t.rest('/rest/$directory/login', { method: 'POST', headers: { 'username-4D': 'wsz', 'password-4D': 'wsz' } });
    expect(login.status).toBe(502);
    expect(login.setCookies).toEqual([]);
    const second = await t.rest('/rest/$catalog');
    expect(second.status).toBe(200);
    expect(second.body).toBeUndefined();
    expect((await t.rest('/rest/$catalog')).body).toHaveProperty('dataClasses');
    expect(t.emulator.counters.logins).toBe(0);
  });

  it('destroys the socket without an answer for dropNext', async () => {
    const t = emu();
    t.emulator.dropNext(1);
    await expect(t.rest('/rest/$catalog')).rejects.toThrow(/socket hang up|ECONNRESET/);
    expect((await t.rest('/rest/$catalog')).status).toBe(200);
    expect(t.emulator.requestLog[0].status).toBe(0);
  });

  it('answers 200 with an HTML page for garbageNext("html")', async () => {
    const t = emu();
    t.emulator.garbageNext(1);
    const res = await t.rest('/rest/Kunden', { login: true });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.text).toMatch(/^<!DOCTYPE html>/);
    expect(res.body).toBeUndefined();
  });

  it('answers 200 with truncated JSON labelled application/json for garbageNext("truncated")', async () => {
    const t = emu();
    t.emulator.garbageNext(1, 'truncated');
    const res = await t.rest('/rest/Kunden', { login: true });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(() => JSON.parse(res.text)).toThrow();
    expect(Number(res.headers['content-length'])).toBe(Buffer.byteLength(res.text));
  });

  it('never answers a hung request, so a client timeout fires; later requests are served', async () => {
    const t = emu();
    t.emulator.hangNext(1);
    const started = performance.now();
    await expect(t.rest('/rest/$catalog', { timeoutMs: 200 })).rejects.toThrow(/timed out/);
    expect(performance.now() - started).toBeGreaterThanOrEqual(195);
    expect((await t.rest('/rest/$catalog')).status).toBe(200);
    expect(t.emulator.counters.faultsInjected).toBe(1);
  });

  it('validates fault arguments', () => {
    expect(() => emu().emulator.failNext(-1)).toThrow(TypeError);
    expect(() => emu().emulator.failNext(1, 42)).toThrow(TypeError);
    expect(() => emu().emulator.setLatency(-5)).toThrow(TypeError);
  });
});

describe('close()', () => {
  let t: TestEmulator | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  it('ends hung requests and keep-alive connections instead of waiting for them', async () => {
    t = await startTestEmulator({ auth: 'none' });
    const agent = new Agent({ keepAlive: true });
    try {
      const ok = await rawRequest(t.url, '/rest/$catalog', { agent });
      expect(ok.status).toBe(200);
      t.emulator.hangNext(1);
      const hung = rawRequest(t.url, '/rest/$catalog', { agent: new Agent({ keepAlive: true }) });
      hung.catch(() => undefined);
      await new Promise((r) => setTimeout(r, 50));
      const started = performance.now();
      await t.emulator.close();
      expect(performance.now() - started).toBeLessThan(1000);
      await expect(hung).rejects.toThrow();
    } finally {
      agent.destroy();
    }
  });

  it('resolves when called twice and refuses new connections afterwards', async () => {
    t = await startTestEmulator({ auth: 'none', latencyMs: 5_000 });
    const pending = t.rest('/rest/$catalog');
    pending.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 50));
    const started = performance.now();
    await Promise.all([t.emulator.close(), t.emulator.close()]);
    expect(performance.now() - started).toBeLessThan(1000);
    await expect(pending).rejects.toThrow();
    await expect(rawRequest(t.url, '/rest/$catalog')).rejects.toThrow(/ECONNREFUSED/);
  });
});
