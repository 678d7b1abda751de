import { createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createLegacyClient,
  createSessionStore,
  LegacyAPIAuthenticationError,
  LegacyAPIConnectionError,
  LegacyAPIDataError,
  LegacyAPIError,
  LegacySessionLimitError,
  type UpstreamRequestEvent,
} from '../../src/legacy/index.js';
import { captureLogger, legacyFixture, PASSWORD, USER, type LegacyFixture } from './setup.js';
import { offsetClock, rejection } from '../helpers/assertions.js';

let fx: LegacyFixture | undefined;
afterEach(async () => {
  await fx?.close();
  fx = undefined;
});



/** A TCP port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

// The session rules hold whichever sessions 4D licenses: every one, guests included (the WSZ
// server's legacy sessions), or only logged-in ones.
describe.each(['every-session', 'force-login'] as const)('licence mode %s', (licenceMode) => {
const fixture: typeof legacyFixture = (emulatorOptions = {}, clientOptions = {}) => legacyFixture({ licenceMode, ...emulatorOptions }, clientOptions);

describe('one session per environment', () => {
  it('50 concurrent cold reads cost exactly one login', async () => {
    fx = await fixture();
    const pages = await Promise.all(Array.from({ length: 50 }, (_, i) => fx!.client.fetchTable('Kunden', { top: 1, skip: i })));
    expect(pages.every((p) => p.rows.length === 1)).toBe(true);
    expect(fx.emulator.counters.logins).toBe(1);
    expect(fx.emulator.counters.byRoute.login).toBe(1);
    expect(fx.emulator.counters.sessionsOpened).toBe(1);
    expect(fx.emulator.counters.rejected401).toBe(0);
    expect(fx.emulator.activeSessions()).toBe(1);
  });

  it('two clients sharing a store cold-start with one login between them', async () => {
    fx = await fixture();
    const store = createSessionStore();
    const a = fx.newClient({ store });
    const b = fx.newClient({ store });
    await Promise.all([
      ...Array.from({ length: 20 }, () => a.fetchTable('Formen', { top: 1 })),
      ...Array.from({ length: 20 }, () => b.fetchTable('Formen', { top: 1 })),
    ]);
    expect(fx.emulator.counters.logins).toBe(1);
    expect((await a.sessionState()).sessionId).toBe((await b.sessionState()).sessionId);
    await store.close();
  });

  it('an expired session costs exactly one re-login and the request succeeds', async () => {
    fx = await fixture();
    await fx.client.fetchTable('Kunden', { top: 1 });
    const firstId = (await fx.client.sessionState()).sessionId;
    fx.emulator.expireAllSessions();
    fx.emulator.resetCounters();
    const page = await fx.client.fetchTable('Kunden', { top: 2 });
    expect(page.rows).toHaveLength(2);
    expect(fx.emulator.counters.logins).toBe(1);
    expect(fx.emulator.counters.rejected401).toBe(1);
    // The login upgraded the guest session 4D issued with the 401: no extra session was opened.
    expect(fx.emulator.counters.sessionsOpened).toBe(1);
    expect(fx.emulator.counters.requests).toBe(3);
    const state = await fx.client.sessionState();
    expect(state.sessionId).not.toBe(firstId);
    expect(fx.logs.some((l) => l.includes('4D no longer knows the session; logging in again'))).toBe(true);
  });

  it('concurrent requests on an expired session share one re-login', async () => {
    fx = await fixture();
    await fx.client.fetchTable('Kunden', { top: 1 });
    fx.emulator.expireAllSessions();
    fx.emulator.resetCounters();
    await Promise.all(Array.from({ length: 20 }, () => fx!.client.fetchTable('Kunden', { top: 1 })));
    expect(fx.emulator.counters.logins).toBe(1);
  });

  it('a 401 on a stale session adopts the fresh session another process wrote instead of logging in again', async () => {
    fx = await fixture();
    const store = createSessionStore();
    const a = fx.newClient({ store });
    const b = fx.newClient({ store });
    await a.fetchTable('Kunden', { top: 1 });
    await b.fetchTable('Kunden', { top: 1 }); // b adopts a's session
    fx.emulator.expireAllSessions();
    fx.emulator.resetCounters();
    await b.fetchTable('Kunden', { top: 1 }); // 401 → b logs in and stores the new session
    await a.fetchTable('Kunden', { top: 1 }); // a still holds the old one locally: 401 → adopts b's
    expect(fx.emulator.counters.logins).toBe(1);
    expect(fx.emulator.counters.rejected401).toBe(2);
    expect((await a.sessionState()).sessionId).toBe((await b.sessionState()).sessionId);
    await store.close();
  });

  it('a session idle longer than sessionTimeoutSeconds is refreshed before use, without a 401', async () => {
    const clock = offsetClock();
    fx = await fixture({ now: clock.now }, { now: clock.now, sessionTimeoutSeconds: 3500 });
    await fx.client.fetchTable('Kunden', { top: 1 });
    clock.advance(3501_000);
    await fx.client.fetchTable('Kunden', { top: 1 });
    expect(fx.emulator.counters.byRoute.login).toBe(2);
    expect(fx.emulator.counters.rejected401).toBe(0);
    // 4D still held the old session: the login re-authenticated it on the licence it already had.
    expect(fx.emulator.counters.logins).toBe(1);
    expect(fx.emulator.counters.sessionsOpened).toBe(1);
  });

  it('a proactive refresh never needs a second licence, even with a pool of one', async () => {
    // Client refreshes after 3500 s, 4D expires at 3600 s: in between, 4D still counts the old session.
    const clock = offsetClock();
    fx = await fixture({ sessions: 1, now: clock.now }, { now: clock.now, sessionTimeoutSeconds: 3500 });
    await fx.client.fetchTable('Kunden', { top: 1 });
    clock.advance(3550_000);
    const page = await fx.client.fetchTable('Kunden', { top: 1 });
    expect(page.rows).toHaveLength(1);
    expect(fx.emulator.counters.rejected402).toBe(0);
    expect(fx.emulator.activeSessions()).toBe(1);
  });

  it('a proactive refresh after 4D dropped the session upgrades the guest session 4D opens', async () => {
    const clock = offsetClock();
    fx = await fixture({ sessions: 1, now: clock.now }, { now: clock.now, sessionTimeoutSeconds: 3500 });
    await fx.client.fetchTable('Kunden', { top: 1 });
    clock.advance(3700_000); // 4D dropped it meanwhile
    expect((await fx.client.fetchTable('Kunden', { top: 1 })).rows).toHaveLength(1);
    expect(fx.emulator.counters.logins).toBe(2);
    expect(fx.emulator.counters.sessionsOpened).toBe(2);
    expect(fx.emulator.counters.rejected401).toBe(0);
    expect(fx.emulator.counters.rejected402).toBe(0);
  });

  it('a second client reuses the stored session without logging in', async () => {
    fx = await fixture();
    const store = createSessionStore();
    const a = fx.newClient({ store });
    await a.fetchTable('Kunden', { top: 1 });
    const b = fx.newClient({ store });
    await b.fetchTable('Kunden', { top: 1 });
    expect(fx.emulator.counters.logins).toBe(1);
    await store.close();
  });

  it('a new session cookie on a successful answer (4D served us as a guest) is replaced by a login on that guest', async () => {
    // auth 'none': a request with an expired cookie silently gets a new guest cookie and a 200.
    fx = await fixture({ auth: 'none' });
    const store = createSessionStore();
    const a = fx.newClient({ store });
    await a.fetchTable('Kunden', { top: 1 });
    const before = await a.getSessionCookie();
    fx.emulator.expireAllSessions();
    fx.emulator.resetCounters();
    await a.fetchTable('Kunden', { top: 1 });
    const after = await a.getSessionCookie();
    expect(after).not.toBe(before);
    // The login upgraded the guest 4D had opened: one session, one login, and another client with
    // the same store picks it up without either.
    const b = fx.newClient({ store });
    await b.fetchTable('Kunden', { top: 1 });
    await a.fetchTable('Kunden', { top: 1 });
    expect(fx.emulator.counters.sessionsOpened).toBe(1);
    expect(fx.emulator.counters.logins).toBe(1);
    expect(fx.emulator.activeSessions()).toBe(1);
    expect(after.match(/WASID4D=/g)).toHaveLength(1);
    await store.close();
  });

  it('HTTP Basic opens the session on GET $info once', async () => {
    const emulatorFx = await fixture();
    fx = emulatorFx;
    const client = fx.newClient({
      environments: { test: { baseUrl: `${fx.emulator.url}/rest/`, username: USER, password: PASSWORD, auth: 'basic' } },
    });
    await Promise.all(Array.from({ length: 5 }, () => client.fetchTable('Kunden', { top: 1 })));
    await client.fetchTable('Kunden', { top: 1 });
    expect(fx.emulator.counters.logins).toBe(1);
    expect(fx.emulator.counters.byRoute.info).toBe(1);
    expect(fx.emulator.counters.byRoute.login).toBe(0);
  });

  it('wrong credentials fail with LegacyAPIAuthenticationError after one attempt', async () => {
    fx = await fixture();
    const client = fx.newClient({ environments: { test: { baseUrl: fx.emulator.url, username: USER, password: 'wrong' } } });
    const error = await rejection(client.fetchTable('Kunden'));
    expect(error).toBeInstanceOf(LegacyAPIAuthenticationError);
    expect(error).not.toBeInstanceOf(LegacySessionLimitError);
    expect(fx.emulator.counters.failedLogins).toBe(1);
    expect(fx.emulator.counters.byTable.Kunden ?? 0).toBe(0);
  });
});

describe('licence limit (402) breaker', () => {
  it('opens the breaker: no further logins until it closes', async () => {
    const clock = offsetClock();
    fx = await fixture({ sessions: 1 }, { now: clock.now, sessionLimitBreakerSeconds: 30 });
    const other = fx.newClient(); // its own store: a separate deployment holding the only licence
    await other.fetchTable('Kunden', { top: 1 });
    fx.emulator.resetCounters();

    const first = await rejection(fx.client.fetchTable('Kunden', { top: 1 }));
    expect(first).toBeInstanceOf(LegacySessionLimitError);
    expect(first).toBeInstanceOf(LegacyAPIAuthenticationError);
    expect((first as LegacySessionLimitError).retryAfterMs).toBeGreaterThan(0);
    expect(fx.emulator.counters.rejected402).toBe(1);
    const requestsAfterFirst = fx.emulator.counters.requests;

    for (let i = 0; i < 10; i++) {
      const again = await rejection(fx.client.fetchTable('Kunden', { top: 1 }));
      expect(again).toBeInstanceOf(LegacySessionLimitError);
    }
    expect(fx.emulator.counters.requests).toBe(requestsAfterFirst);
    expect(fx.emulator.counters.logins).toBe(0);
    expect(fx.emulator.counters.rejected402).toBe(1);
    const state = await fx.client.sessionState();
    expect(state.breakerOpenUntil).toBeGreaterThan(Date.now());
    expect(state.hasSession).toBe(false);

    // A licence frees up; after the breaker closes, one login succeeds.
    fx.emulator.setSessionLimit(2);
    clock.advance(30_000);
    await fx.client.fetchTable('Kunden', { top: 1 });
    expect(fx.emulator.counters.logins).toBe(1);
    expect(fx.emulator.counters.rejected402).toBe(1);
  });

  it('the breaker is shared through the store: other processes back off too', async () => {
    fx = await fixture({ sessions: 0 });
    const store = createSessionStore();
    const a = fx.newClient({ store });
    const b = fx.newClient({ store });
    expect(await rejection(a.fetchTable('Kunden'))).toBeInstanceOf(LegacySessionLimitError);
    const requests = fx.emulator.counters.requests;
    expect(await rejection(b.fetchTable('Kunden'))).toBeInstanceOf(LegacySessionLimitError);
    expect(fx.emulator.counters.requests).toBe(requests);
    expect(fx.emulator.counters.rejected402).toBe(1);
    await store.close();
  });
});
});

describe('retries and timeouts', () => {
  it('failNext(1) on a read is retried and succeeds', async () => {
    fx = await legacyFixture();
    await fx.client.ping();
    fx.emulator.failNext(1);
    const before = fx.events.length;
    const page = await fx.client.fetchTable('Kunden', { top: 3 });
    expect(page.rows).toHaveLength(3);
    expect(fx.events.slice(before).map((e) => [e.status, e.attempt])).toEqual([
      [503, 1],
      [200, 2],
    ]);
  });

  it('dropNext(1) (socket closed without an answer) is retried and succeeds', async () => {
    fx = await legacyFixture();
    await fx.client.ping();
    fx.emulator.dropNext(1);
    const page = await fx.client.fetchTable('Kunden', { top: 3 });
    expect(page.rows).toHaveLength(3);
    expect(fx.emulator.counters.faultsInjected).toBe(1);
  });

  it('a persistent 503 becomes LegacyAPIConnectionError after retries', async () => {
    fx = await legacyFixture({}, { retries: 2 });
    await fx.client.ping();
    fx.emulator.failNext(10);
    const before = fx.events.length;
    const error = await rejection(fx.client.fetchTable('Kunden'));
    expect(error).toBeInstanceOf(LegacyAPIConnectionError);
    expect((error as LegacyAPIConnectionError).status).toBe(503);
    expect(fx.events.length - before).toBe(3);
  });

  it('an update is not replayed after a 503 or a dropped connection', async () => {
    fx = await legacyFixture();
    const row = fx.emulator.db.table('Kunden')!.rows()[0]!;
    await fx.client.ping();
    fx.emulator.failNext(1);
    const before = fx.emulator.counters.requests;
    expect(await rejection(fx.client.update('Kunden', row.__KEY, row.__STAMP, { Rabatt: 1 }))).toBeInstanceOf(LegacyAPIConnectionError);
    fx.emulator.dropNext(1);
    expect(await rejection(fx.client.update('Kunden', row.__KEY, row.__STAMP, { Rabatt: 1 }))).toBeInstanceOf(LegacyAPIConnectionError);
    // One POST each; the dropped one is read back (a GET) to learn whether 4D saved it, never re-sent.
    expect(fx.emulator.counters.byRoute.update).toBe(2);
    expect(fx.emulator.counters.requests - before).toBe(3);
    expect(fx.emulator.counters.updates).toBe(0);
  });

  it('a refused connection is retried (also for POSTs), then reported', async () => {
    const port = await closedPort();
    const events: UpstreamRequestEvent[] = [];
    const client = createLegacyClient({
      environments: { x: { baseUrl: `http://127.0.0.1:${port}`, username: USER, password: PASSWORD } },
      defaultEnvironment: 'x',
      retries: 2,
      retryBaseMs: 1,
      retryMaxMs: 5,
      onUpstreamRequest: (e) => events.push(e),
    });
    const error = await rejection(client.fetchTable('Kunden'));
    expect(error).toBeInstanceOf(LegacyAPIConnectionError);
    expect(error.message).toContain('ECONNREFUSED');
    // The login POST was attempted 3 times (refused before anything was sent).
    expect(events.map((e) => [e.route, e.errorCode])).toEqual([
      ['login', 'ECONNREFUSED'],
      ['login', 'ECONNREFUSED'],
      ['login', 'ECONNREFUSED'],
    ]);
    await client.close();
  });

  it('a login whose answer is lost is not replayed (it may have taken a licence), with Basic or $directory/login', async () => {
    // A server that reads each request and closes the socket without answering.
    const seen: string[] = [];
    const server = createHttpServer((req) => {
      seen.push(`${req.method} ${req.url}`);
      req.socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    try {
      for (const auth of ['basic', 'login'] as const) {
        seen.length = 0;
        const client = createLegacyClient({
          environments: { x: { baseUrl: `http://127.0.0.1:${port}`, username: USER, password: PASSWORD, auth } },
          defaultEnvironment: 'x',
          retryBaseMs: 1,
          retryMaxMs: 5,
        });
        expect(await rejection(client.fetchTable('Kunden'))).toBeInstanceOf(LegacyAPIConnectionError);
        expect(seen).toEqual([auth === 'basic' ? 'GET /rest/$info' : 'POST /rest/$directory/login']);
        await client.close();
      }
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('hangNext with timeoutMs 300 fails with a timeout LegacyAPIConnectionError, without retrying', async () => {
    fx = await legacyFixture({}, { timeoutMs: 300 });
    await fx.client.ping();
    fx.emulator.hangNext(1);
    const started = Date.now();
    const error = await rejection(fx.client.fetchTable('Kunden', { filter: { kind: 'compare', op: 'eq', attr: 'KundenNr', value: 'x' } }));
    expect(Date.now() - started).toBeLessThan(1500);
    expect(error).toBeInstanceOf(LegacyAPIConnectionError);
    expect((error as LegacyAPIConnectionError).timeout).toBe(true);
    expect(error.message).toContain('timed out after 300 ms');
    expect(error.message).toContain('/rest/Kunden');
    expect(error.message).not.toContain('$filter');
    // The pool recovers: the next request works.
    expect((await fx.client.fetchTable('Kunden', { top: 1 })).rows).toHaveLength(1);
  });

  it('an HTML or truncated answer is a LegacyAPIDataError', async () => {
    fx = await legacyFixture();
    await fx.client.ping();
    fx.emulator.garbageNext(1, 'html');
    const html = await rejection(fx.client.fetchTable('Kunden'));
    expect(html).toBeInstanceOf(LegacyAPIDataError);
    expect(html.message).toContain('text/html');
    fx.emulator.garbageNext(1, 'truncated');
    const truncated = await rejection(fx.client.fetchTable('Kunden'));
    expect(truncated).toBeInstanceOf(LegacyAPIDataError);
    expect(truncated.message).toContain('truncated');
  });
});

describe('secrets never leak', () => {
  it('no error message, error JSON or log line contains the password, a cookie or an Authorization value', async () => {
    fx = await legacyFixture({ sessions: 2 }, { timeoutMs: 300, retries: 1 });
    const { logger, lines } = captureLogger();
    const client = fx.newClient({ logger });
    const basic = fx.newClient({
      logger,
      environments: { test: { baseUrl: fx.emulator.url, username: USER, password: PASSWORD, auth: 'basic' } },
    });
    const wrong = fx.newClient({ logger, environments: { test: { baseUrl: `http://${USER}:${PASSWORD}@127.0.0.1:1`, username: USER } } });

    const cookie = await client.getSessionCookie();
    const cookieValues = cookie.split(';').map((p) => p.split('=')[1]!.trim());
    expect(cookieValues.length).toBeGreaterThan(0);
    await basic.fetchTable('Kunden', { top: 1 });

    const errors: Error[] = [];
    fx.emulator.hangNext(1);
    errors.push(await rejection(client.fetchTable('Kunden')));
    fx.emulator.garbageNext(1);
    errors.push(await rejection(client.fetchTable('Kunden')));
    fx.emulator.failNext(2, 502);
    errors.push(await rejection(client.fetchTable('Kunden')));
    fx.emulator.expireAllSessions();
    fx.emulator.setSessionLimit(0);
    errors.push(await rejection(client.fetchTable('Kunden')));
    errors.push(await rejection(wrong.fetchTable('Kunden')));
    const bad = fx.newClient({ logger, environments: { test: { baseUrl: fx.emulator.url, username: USER, password: `${PASSWORD}x` } } });
    fx.emulator.setSessionLimit(5);
    errors.push(await rejection(bad.fetchTable('Kunden')));

    expect(errors.map((e) => e.constructor)).toEqual([
      LegacyAPIConnectionError,
      LegacyAPIDataError,
      LegacyAPIConnectionError,
      LegacySessionLimitError,
      LegacyAPIConnectionError,
      LegacyAPIAuthenticationError,
    ]);
    expect(errors.every((e) => e instanceof LegacyAPIError)).toBe(true);
    const basicToken = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
    const haystack = [
      ...errors.map((e) => `${e.message}\n${JSON.stringify(e)}\n${String(e.stack)}`),
      ...lines,
    ].join('\n');
    expect(lines.length).toBeGreaterThan(5);
    expect(haystack).not.toContain(PASSWORD);
    expect(haystack).not.toContain(basicToken);
    for (const value of cookieValues) expect(haystack).not.toContain(value);
  });
});
