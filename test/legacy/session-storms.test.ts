/**
 * Licences under faults (issue "Protect the ERP"): the shared session expiring under load, 402s
 * on our own cookie, guest sessions, and a breaker that must never lock the deployment out. The
 * emulator charges a licence for every session, guests included (`every-session`, as the WSZ
 * server does); each scenario also runs in `force-login` mode. Licences, logins and 402s are
 * counted at the emulator.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { EmulatorOptions } from '../../src/emulator/index.js';
import { createSessionStore, LegacySessionLimitError, type LegacyClient, type LegacyClientOptions } from '../../src/legacy/index.js';
import { eventually, offsetClock, rejection } from '../helpers/assertions.js';
import { legacyFixture, PASSWORD, USER, type LegacyFixture } from './setup.js';

let fx: LegacyFixture | undefined;
afterEach(async () => {
  await fx?.close();
  fx = undefined;
});

type LicenceMode = NonNullable<EmulatorOptions['licenceMode']>;
const MODES: LicenceMode[] = ['every-session', 'force-login'];

function environments(url: string, auth: 'login' | 'basic', password = PASSWORD): LegacyClientOptions['environments'] {
  return { test: { baseUrl: url, username: USER, password, auth } };
}

/** `n` reads at once; resolves to how many succeeded and the errors of the others. */
async function burst(client: LegacyClient, n: number): Promise<{ ok: number; errors: Error[] }> {
  const results = await Promise.allSettled(Array.from({ length: n }, (_, i) => client.fetchTable('Kunden', { top: 1, skip: i % 20 })));
  return {
    ok: results.filter((r) => r.status === 'fulfilled').length,
    errors: results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : [])),
  };
}

describe.each(MODES)('the shared session expires while reads are in flight (licence mode %s)', (licenceMode) => {
  describe.each([1, 3])('licence pool of %i', (pool) => {
    it.each([
      [10, 'login'],
      [50, 'login'],
      [10, 'basic'],
      [50, 'basic'],
    ] as const)('%i concurrent reads by %s: all succeed, one login, one live session afterwards', async (n, auth) => {
      fx = await legacyFixture({ sessions: pool, licenceMode });
      const client = fx.newClient({ environments: environments(fx.emulator.url, auth) });
      await client.fetchTable('Kunden', { top: 1 });
      fx.emulator.expireAllSessions();
      fx.emulator.resetCounters();

      const { ok, errors } = await burst(client, n);
      expect(errors.map((e) => e.message)).toEqual([]);
      expect(ok).toBe(n);
      expect(fx.emulator.counters.logins).toBe(1);
      await eventually(() => fx!.emulator.activeSessions() === 1);
      expect(fx.emulator.activeSessions()).toBe(1);
      // Every guest 4D handed us but the one the login upgraded was ended.
      if (licenceMode === 'every-session') expect(fx.emulator.counters.logouts).toBe(fx.emulator.counters.sessionsOpened - 1);
      expect((await client.sessionState()).breakerOpenUntil).toBeUndefined();
      // And the session works without another login.
      fx.emulator.resetCounters();
      await burst(client, 5);
      expect(fx.emulator.counters).toMatchObject({ logins: 0, rejected401: 0, rejected402: 0, requests: 5 });
    });
  });

  it('two processes sharing a store recover with one login between them', async () => {
    fx = await legacyFixture({ sessions: 1, licenceMode });
    const store = createSessionStore();
    const a = fx.newClient({ store });
    const b = fx.newClient({ store });
    await a.fetchTable('Kunden', { top: 1 });
    await b.fetchTable('Kunden', { top: 1 });
    fx.emulator.expireAllSessions();
    fx.emulator.resetCounters();
    const [ra, rb] = await Promise.all([burst(a, 25), burst(b, 25)]);
    expect([...ra.errors, ...rb.errors].map((e) => e.message)).toEqual([]);
    expect(fx.emulator.counters.logins).toBe(1);
    await eventually(() => fx!.emulator.activeSessions() === 1);
    expect(fx.emulator.activeSessions()).toBe(1);
    expect((await a.sessionState()).sessionId).toBe((await b.sessionState()).sessionId);
    await store.close();
  });
});

describe('402 on our own cookie', () => {
  it('a 402 that arrives before any 401 joins the one refresh instead of opening the breaker', async () => {
    // Pool of one, every session licensed: after the expiry the first request's guest takes the
    // only licence, every other request gets a 402. Latency jitter lets 402s overtake the 401.
    fx = await legacyFixture({ sessions: 1, jitterMs: 15, latencyMs: 20 });
    await fx.client.fetchTable('Kunden', { top: 1 });
    fx.emulator.expireAllSessions();
    fx.emulator.resetCounters();
    const { ok, errors } = await burst(fx.client, 30);
    expect(errors).toEqual([]);
    expect(ok).toBe(30);
    expect(fx.emulator.counters.rejected402).toBeGreaterThan(0);
    expect(fx.emulator.counters.logins).toBe(1);
    await eventually(() => fx!.emulator.activeSessions() === 1);
    expect(fx.emulator.activeSessions()).toBe(1);
  });

  it('a 401 that sets no cookie re-logs in on the old cookies, keeping the session 4D still has', async () => {
    fx = await legacyFixture({ sessions: 1 });
    await fx.client.fetchTable('Kunden', { top: 1 });
    fx.emulator.resetCounters();
    fx.emulator.failNext(1, 401);
    await fx.client.fetchTable('Kunden', { top: 1 });
    // The login carried the old cookies: 4D re-authenticated that session, opened none.
    expect(fx.emulator.counters.byRoute.login).toBe(1);
    expect(fx.emulator.counters.sessionsOpened).toBe(0);
    expect(fx.emulator.activeSessions()).toBe(1);
  });

  it('a failed login leaves no guest session behind', async () => {
    fx = await legacyFixture({ sessions: 1 });
    const wrong = fx.newClient({ environments: environments(fx.emulator.url, 'login', 'not-the-password') });
    await rejection(wrong.fetchTable('Kunden', { top: 1 }));
    await eventually(() => fx!.emulator.activeSessions() === 0);
    expect(fx.emulator.activeSessions()).toBe(0);
    expect(fx.emulator.counters.logouts).toBe(1);
    // The licence is free for the right credentials.
    await fx.client.fetchTable('Kunden', { top: 1 });
    expect(fx.emulator.counters.logins).toBe(1);
  });
});

describe('requests that waited while the session died', () => {
  it('a request queued behind the concurrency cap never goes out with the dead cookie', async () => {
    fx = await legacyFixture({ sessions: 1, latencyMs: 20 }, { maxConcurrency: 2 });
    await fx.client.fetchTable('Kunden', { top: 1 });
    fx.emulator.expireAllSessions();
    fx.emulator.resetCounters();
    const { ok, errors } = await burst(fx.client, 20);
    expect(errors).toEqual([]);
    expect(ok).toBe(20);
    // Only the two requests in flight when it died carried the dead cookie.
    expect(fx.emulator.counters.rejected401 + fx.emulator.counters.rejected402).toBeLessThanOrEqual(2);
    expect(fx.emulator.counters.logins).toBe(1);
    await eventually(() => fx!.emulator.activeSessions() === 1);
    expect(fx.emulator.activeSessions()).toBe(1);
  });

  it('a guest whose login fails (the password was rotated meanwhile) is logged out, not left holding a licence', async () => {
    const users = { [USER]: PASSWORD };
    fx = await legacyFixture({ sessions: 2, users });
    await fx.client.fetchTable('Kunden', { top: 1 });
    fx.emulator.expireAllSessions();
    users[USER] = 'rotated-by-the-admin';
    await rejection(fx.client.fetchTable('Kunden', { top: 1 }));
    await eventually(() => fx!.emulator.activeSessions() === 0);
    expect(fx.emulator.activeSessions()).toBe(0);
  });

  it('a guest cookie on an answer open to guests ($catalog) is logged in on, not used as our session', async () => {
    fx = await legacyFixture({ sessions: 1 });
    await fx.client.fetchTable('Kunden', { top: 1 });
    fx.emulator.expireAllSessions();
    fx.emulator.resetCounters();
    expect(await fx.client.listTables()).toContain('Kunden');
    const { ok, errors } = await burst(fx.client, 10);
    expect(errors).toEqual([]);
    expect(ok).toBe(10);
    expect(fx.emulator.counters.logins).toBe(1);
    expect(fx.emulator.counters.sessionsOpened).toBe(1);
    expect(fx.emulator.activeSessions()).toBe(1);
  });
});

describe('the breaker never locks the deployment out', () => {
  /** Sequential reads by `workers` loops until stopped; counts outcomes. */
  function continuousLoad(client: LegacyClient, workers = 4) {
    let running = true;
    const outcome = { ok: 0, limited: 0, other: [] as string[] };
    const loops = Array.from({ length: workers }, async () => {
      while (running) {
        try {
          await client.fetchTable('Formen', { top: 1 });
          outcome.ok++;
        } catch (error) {
          if (error instanceof LegacySessionLimitError) {
            expect(error.retryAfterMs).toBeGreaterThan(0);
            outcome.limited++;
          } else outcome.other.push((error as Error).message);
        }
        await new Promise((r) => setTimeout(r, 2));
      }
    });
    return {
      outcome,
      async stop() {
        running = false;
        await Promise.all(loops);
      },
    };
  }

  it('a pool at 0, then restored: no request upstream while open, one login at half-open, traffic resumes', async () => {
    const clock = offsetClock();
    fx = await legacyFixture({ sessions: 2 }, { now: clock.now, sessionLimitBreakerSeconds: 30 });
    await fx.client.fetchTable('Formen', { top: 1 });
    fx.emulator.setSessionLimit(0);
    fx.emulator.expireAllSessions();
    const load = continuousLoad(fx.client);
    await eventually(() => load.outcome.limited > 0, 5000);
    expect(load.outcome.limited).toBeGreaterThan(0);
    const state = await fx.client.sessionState();
    expect(state.breakerOpenUntil).toBeGreaterThan(clock.now());

    // Breaker open, no live session: not a single request reaches 4D.
    const requestsWhileOpen = fx.emulator.counters.requests;
    await new Promise((r) => setTimeout(r, 300));
    expect(load.outcome.limited).toBeGreaterThan(20);
    expect(fx.emulator.counters.requests).toBe(requestsWhileOpen);

    // The pool has room again; once the breaker time has passed, one login brings traffic back.
    fx.emulator.setSessionLimit(2);
    fx.emulator.resetCounters();
    const okBefore = load.outcome.ok;
    clock.advance(30_000);
    await eventually(() => load.outcome.ok > okBefore + 20, 5000);
    await load.stop();
    expect(load.outcome.ok).toBeGreaterThan(okBefore + 20);
    expect(load.outcome.other).toEqual([]);
    expect(fx.emulator.counters.byRoute.login).toBe(1);
    expect(fx.emulator.counters.logins).toBe(1);
    expect(fx.emulator.counters.rejected401).toBe(0);
    expect(fx.emulator.activeSessions()).toBe(1);
  });

  it('two expiries 4 s apart under continuous load: every read succeeds, two logins, one live session', async () => {
    const clock = offsetClock();
    fx = await legacyFixture({ sessions: 3, now: clock.now }, { now: clock.now });
    await fx.client.fetchTable('Formen', { top: 1 });
    fx.emulator.resetCounters();
    const load = continuousLoad(fx.client);
    await eventually(() => load.outcome.ok > 10);
    fx.emulator.expireAllSessions();
    await eventually(() => fx!.emulator.counters.logins === 1);
    clock.advance(4000);
    const okAfterFirst = load.outcome.ok;
    await eventually(() => load.outcome.ok > okAfterFirst + 10);
    fx.emulator.expireAllSessions();
    await eventually(() => fx!.emulator.counters.logins === 2);
    const okAfterSecond = load.outcome.ok;
    await eventually(() => load.outcome.ok > okAfterSecond + 10);
    await load.stop();
    expect(load.outcome.other).toEqual([]);
    expect(load.outcome.limited).toBe(0);
    expect(fx.emulator.counters.logins).toBe(2);
    await eventually(() => fx!.emulator.activeSessions() === 1);
    expect(fx.emulator.activeSessions()).toBe(1);
  });

  it('the half-open login is one for every client sharing the store', async () => {
    const clock = offsetClock();
    fx = await legacyFixture({ sessions: 0 }, { now: clock.now, sessionLimitBreakerSeconds: 10 });
    const store = createSessionStore();
    const clients = [fx.newClient({ store }), fx.newClient({ store }), fx.newClient({ store })];
    expect(await rejection(clients[0]!.fetchTable('Kunden', { top: 1 }))).toBeInstanceOf(LegacySessionLimitError);
    fx.emulator.resetCounters();
    for (const c of clients) expect(await rejection(c.fetchTable('Kunden', { top: 1 }))).toBeInstanceOf(LegacySessionLimitError);
    expect(fx.emulator.counters.requests).toBe(0);
    fx.emulator.setSessionLimit(1);
    clock.advance(10_000);
    const results = await Promise.all(clients.flatMap((c) => Array.from({ length: 10 }, () => c.fetchTable('Kunden', { top: 1 }))));
    expect(results).toHaveLength(30);
    expect(fx.emulator.counters.byRoute.login).toBe(1);
    expect(fx.emulator.counters.rejected402).toBe(0);
    await store.close();
  });
});

describe('sessions no one else can use', () => {
  it('a client with an in-memory store logs its session out when it closes', async () => {
    fx = await legacyFixture({ sessions: 1 });
    const client = fx.newClient();
    await client.fetchTable('Kunden', { top: 1 });
    expect(fx.emulator.activeSessions()).toBe(1);
    await client.close();
    expect(fx.emulator.activeSessions()).toBe(0);
    expect(fx.emulator.counters.logouts).toBe(1);
  });

  it('logout() ends the shared session and the next call logs in again', async () => {
    fx = await legacyFixture({ sessions: 1 });
    await fx.client.fetchTable('Kunden', { top: 1 });
    expect(await fx.client.logout()).toBe(true);
    expect(fx.emulator.activeSessions()).toBe(0);
    expect((await fx.client.sessionState()).hasSession).toBe(false);
    expect(await fx.client.logout()).toBe(false);
    await fx.client.fetchTable('Kunden', { top: 1 });
    expect(fx.emulator.counters.logins).toBe(2);
  });

  it('a session is stored under its credentials: another password never rides on it', async () => {
    fx = await legacyFixture({ sessions: 3 });
    const store = createSessionStore();
    const right = fx.newClient({ store });
    const wrong = fx.newClient({ store, environments: environments(fx.emulator.url, 'login', 'rotated-password') });
    await right.fetchTable('Kunden', { top: 1 });
    fx.emulator.resetCounters();
    await rejection(wrong.fetchTable('Kunden', { top: 1 }));
    expect(fx.emulator.counters.failedLogins).toBe(1);
    expect((await wrong.sessionState()).hasSession).toBe(false);
    expect((await right.sessionState()).hasSession).toBe(true);
    await store.close();
  });
});
