/**
 * The emulator's session and licence model (protocol reference §5): cookies, `$directory/login`,
 * HTTP Basic, the licence pool and 402, guest sessions, inactivity expiry, duplicate cookies,
 * logout, and counters. Every test runs in both licence modes: `every-session` (the WSZ server's
 * legacy sessions: guests take a licence too) and `force-login` (guests are free).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { EmulatorOptions } from '../../src/emulator/index.js';
import { basicAuth, startTestEmulator, type TestEmulator } from '../helpers/emulator.js';

const started: TestEmulator[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((t) => t.close()));
});

type LicenceMode = NonNullable<EmulatorOptions['licenceMode']>;

describe.each<LicenceMode>(['every-session', 'force-login'])('licence mode %s', (mode) => {
const everySession = mode === 'every-session';

async function emulator(opts: EmulatorOptions = {}): Promise<TestEmulator> {
  const t = await startTestEmulator({ licenceMode: mode, ...opts });
  started.push(t);
  return t;
}

/** A manual clock for expiry tests. */
function manualClock(start = Date.parse('2024-01-01T00:00:00Z')): { now: () => number; advance(seconds: number): void } {
  let t = start;
  return { now: () => t, advance: (s) => (t += s * 1000) };
}

const LOGIN = { method: 'POST', headers: { 'username-4D': 'wsz', 'password-4D': 'wsz' } } as const;

describe('logging in', () => {
  it('logs in with username-4D/password-4D headers, answers { result: true } and sets both session cookies', async () => {
    const t = await emulator();
    const res = await t.rest('/rest/$directory/login', LOGIN);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ result: true });
    expect(res.setCookies).toHaveLength(2);
    expect(res.setCookies[0]).toMatch(/^WASID4D=[0-9A-F]{32}; Path=\/; Max-Age=3600; HttpOnly$/);
    expect(res.setCookies[1]).toMatch(/^4DSID_WSZ-DB=[0-9A-F]{32}; Path=\/; Max-Age=3600; HttpOnly$/);
    expect(res.cookies.WASID4D).not.toBe(res.cookies['4DSID_WSZ-DB']);
    const data = await t.rest('/rest/Kunden?$top=1', { cookie: res.cookieHeader });
    expect(data.status).toBe(200);
    expect(data.setCookies).toEqual([]);
    expect(t.emulator.counters).toMatchObject({ logins: 1, sessionsOpened: 1, failedLogins: 0 });
    expect(t.emulator.activeSessions()).toBe(1);
  });

  it('names the app cookie after appName', async () => {
    const t = await emulator({ appName: 'ERP' });
    const res = await t.rest('/rest/$directory/login', LOGIN);
    expect(Object.keys(res.cookies)).toEqual(['WASID4D', '4DSID_ERP']);
  });

  it('authenticates with HTTP Basic on any request and serves that request', async () => {
    const t = await emulator();
    const res = await t.rest('/rest/Kunden?$top=1', { headers: { authorization: basicAuth('wsz', 'wsz') } });
    expect(res.status).toBe(200);
    expect(res.cookies.WASID4D).toMatch(/^[0-9A-F]{32}$/);
    const next = await t.rest('/rest/Kunden?$top=1', { cookie: res.cookieHeader });
    expect(next.status).toBe(200);
    expect(t.emulator.counters.logins).toBe(1);
    expect(t.emulator.activeSessions()).toBe(1);
  });

  it('answers bad credentials with 401, { result: false } and errCode 1822, for headers and for Basic', async () => {
    const t = await emulator();
    const res = await t.rest('/rest/$directory/login', { method: 'POST', headers: { 'username-4D': 'wsz', 'password-4D': 'nope' } });
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ result: false, __ERROR: [{ message: 'Login failed', componentSignature: 'dbmg', errCode: 1822 }] });
    const basic = await t.rest('/rest/Kunden', { headers: { authorization: basicAuth('wsz', 'nope') } });
    expect(basic.status).toBe(401);
    expect((basic.body as { __ERROR: Array<{ errCode: number }> }).__ERROR[0].errCode).toBe(1822);
    expect(t.emulator.counters).toMatchObject({ failedLogins: 2, logins: 0, rejected401: 2 });
    // Each cookie-less request opened a guest session; with legacy sessions each holds a licence.
    expect(t.emulator.activeSessions()).toBe(everySession ? 2 : 0);
  });

  it('accepts any configured user and refuses unknown users', async () => {
    const t = await emulator({ users: { anna: 'geheim', bob: 's3cret:with:colons' } });
    expect((await t.rest('/rest/$directory/login', { method: 'POST', headers: { 'username-4D': 'anna', 'password-4D': 'geheim' } })).status).toBe(200);
    expect((await t.rest('/rest/Formen', { headers: { authorization: basicAuth('bob', 's3cret:with:colons') } })).status).toBe(200);
    expect((await t.rest('/rest/$directory/login', LOGIN)).status).toBe(401);
  });

  it('reports the user of the session in $directory/currentUser and null for a guest', async () => {
    const t = await emulator();
    const guest = await t.rest('/rest/$directory/currentUser');
    expect(guest.body).toEqual({ result: null });
    const cookie = await t.login();
    const me = await t.rest<{ result: { userName: string; ID: string } }>('/rest/$directory/currentUser', { cookie });
    expect(me.body.result).toMatchObject({ userName: 'wsz', ID: expect.stringMatching(/^[0-9A-F]{32}$/) });
  });

  it('refuses GET on $directory/login with 405', async () => {
    const t = await emulator();
    const res = await t.rest('/rest/$directory/login', { headers: LOGIN.headers });
    expect(res.status).toBe(405);
  });
});

describe('licences', () => {
  it('answers 402 with errCode 1823 when the licence pool is full, and counts it', async () => {
    const t = await emulator({ sessions: 2 });
    expect((await t.rest('/rest/$directory/login', LOGIN)).status).toBe(200);
    expect((await t.rest('/rest/$directory/login', LOGIN)).status).toBe(200);
    const third = await t.rest('/rest/$directory/login', LOGIN);
    expect(third.status).toBe(402);
    expect(third.body).toEqual({ __ERROR: [{ message: 'Maximum number of sessions reached', componentSignature: 'dbmg', errCode: 1823 }] });
    const basic = await t.rest('/rest/Kunden', { headers: { authorization: basicAuth('wsz', 'wsz') } });
    expect(basic.status).toBe(402);
    expect(t.emulator.counters.rejected402).toBe(2);
    expect(t.emulator.activeSessions()).toBe(2);
  });

  it(
    everySession
      ? 'gives every cookie-less request a licensed guest session, and a full pool a 402 without a cookie'
      : 'opens guest sessions without taking a licence',
    async () => {
      if (everySession) {
    const t = await emulator({ sessions: 2 });
    const a = await t.rest('/rest/$catalog');
    const b = await t.rest('/rest/Kunden');
    expect(a.status).toBe(200);
    expect(b.status).toBe(401);
    expect(b.setCookies).toHaveLength(2);
    expect(t.emulator.activeSessions()).toBe(2);
    const full = await t.rest('/rest/$catalog');
    expect(full.status).toBe(402);
    expect(full.setCookies).toEqual([]);
    expect((full.body as { __ERROR: Array<{ errCode: number }> }).__ERROR[0].errCode).toBe(1823);
    // A cookie-less login needs a session too: refused while the guests hold the pool.
    expect((await t.rest('/rest/$directory/login', LOGIN)).status).toBe(402);
    // Logging in on a guest's cookie upgrades it on the licence it already holds.
    expect((await t.rest('/rest/$directory/login', { ...LOGIN, cookie: b.cookieHeader })).status).toBe(200);
    // Logging out a guest frees its licence.
    expect((await t.rest('/rest/$directory/logout', { cookie: a.cookieHeader })).body).toEqual({ result: true });
    expect(t.emulator.activeSessions()).toBe(1);
    expect(t.emulator.counters).toMatchObject({ sessionsOpened: 2, logins: 1, logouts: 1, rejected402: 2 });
      } else {
    const t = await emulator({ sessions: 1 });
    for (let i = 0; i < 20; i++) {
      const res = await t.rest('/rest/$catalog');
      expect(res.status).toBe(200);
      expect(res.setCookies).toHaveLength(2);
    }
    expect(t.emulator.counters.sessionsOpened).toBe(20);
    expect(t.emulator.activeSessions()).toBe(0);
    expect((await t.rest('/rest/$directory/login', LOGIN)).status).toBe(200);
      }
    },
  );

  it('upgrades the guest session of the cookie sent instead of opening a new one', async () => {
    const t = await emulator({ sessions: 1 });
    const guest = await t.rest('/rest/$catalog');
    const login = await t.rest('/rest/$directory/login', { ...LOGIN, cookie: guest.cookieHeader });
    expect(login.status).toBe(200);
    expect(login.cookies).toEqual(guest.cookies);
    expect((await t.rest('/rest/Formen', { cookie: guest.cookieHeader })).status).toBe(200);
    // Logging in again on an authenticated session takes no second licence.
    expect((await t.rest('/rest/$directory/login', { ...LOGIN, cookie: guest.cookieHeader })).status).toBe(200);
    expect(t.emulator.counters.sessionsOpened).toBe(1);
    expect(t.emulator.activeSessions()).toBe(1);
  });

  it('frees the licence on logout; the old cookie is then unknown', async () => {
    const t = await emulator({ sessions: 1 });
    const cookie = await t.login();
    const out = await t.rest('/rest/$directory/logout', { cookie });
    expect(out.body).toEqual({ result: true });
    expect(t.emulator.activeSessions()).toBe(0);
    const after = await t.rest('/rest/Formen', { cookie });
    expect(after.status).toBe(401);
    // With legacy sessions the guest 4D opened for that request holds the only licence.
    expect((await t.rest('/rest/$directory/login', LOGIN)).status).toBe(everySession ? 402 : 200);
    if (everySession) expect((await t.rest('/rest/$directory/login', { ...LOGIN, cookie: after.cookieHeader })).status).toBe(200);
    expect((await t.rest('/rest/$directory/logout')).body).toEqual({ result: false });
  });

  it('applies setSessionLimit and expireAllSessions', async () => {
    const t = await emulator({ sessions: 1 });
    const cookie = await t.login();
    expect((await t.rest('/rest/$directory/login', LOGIN)).status).toBe(402);
    t.emulator.setSessionLimit(2);
    expect((await t.rest('/rest/$directory/login', LOGIN)).status).toBe(200);
    expect(t.emulator.activeSessions()).toBe(2);
    t.emulator.expireAllSessions();
    expect(t.emulator.activeSessions()).toBe(0);
    expect((await t.rest('/rest/Formen', { cookie })).status).toBe(401);
  });
});

describe('session lookup and expiry', () => {
  it('finds the session by either cookie alone', async () => {
    const t = await emulator();
    const login = await t.rest('/rest/$directory/login', LOGIN);
    expect((await t.rest('/rest/Formen', { cookie: `WASID4D=${login.cookies.WASID4D}` })).status).toBe(200);
    expect((await t.rest('/rest/Formen', { cookie: `4DSID_WSZ-DB=${login.cookies['4DSID_WSZ-DB']}` })).status).toBe(200);
    expect((await t.rest('/rest/Formen', { cookie: `other=1; ${login.cookieHeader}; theme=dark` })).status).toBe(200);
  });

  it('answers 401 to a request carrying two different WASID4D values', async () => {
    const t = await emulator();
    const a = await t.rest('/rest/$directory/login', LOGIN);
    const b = await t.rest('/rest/$directory/login', LOGIN);
    const res = await t.rest('/rest/Formen', { cookie: `WASID4D=${a.cookies.WASID4D}; WASID4D=${b.cookies.WASID4D}` });
    expect(res.status).toBe(401);
    expect(res.setCookies).toEqual([]);
    expect((await t.rest('/rest/Formen', { cookie: `WASID4D=${a.cookies.WASID4D}; WASID4D=${a.cookies.WASID4D}` })).status).toBe(200);
    expect(t.emulator.counters.rejected401).toBe(1);
  });

  it('expires an idle session, frees its licence and silently issues a new guest cookie answered with 401', async () => {
    const clock = manualClock();
    const t = await emulator({ sessions: 1, now: clock.now });
    const login = await t.rest('/rest/$directory/login', LOGIN);
    clock.advance(3599);
    expect((await t.rest('/rest/Formen', { cookie: login.cookieHeader })).status).toBe(200);
    clock.advance(3599); // activity restarted the countdown
    expect((await t.rest('/rest/Formen', { cookie: login.cookieHeader })).status).toBe(200);
    clock.advance(3600);
    expect(t.emulator.activeSessions()).toBe(0);
    const expired = await t.rest('/rest/Formen', { cookie: login.cookieHeader });
    expect(expired.status).toBe(401);
    expect(expired.cookies.WASID4D).toMatch(/^[0-9A-F]{32}$/);
    expect(expired.cookies.WASID4D).not.toBe(login.cookies.WASID4D);
    // The fresh guest session can log in and use the freed licence.
    const relogin = await t.rest('/rest/$directory/login', { ...LOGIN, cookie: expired.cookieHeader });
    expect(relogin.status).toBe(200);
    expect((await t.rest('/rest/Formen', { cookie: expired.cookieHeader })).status).toBe(200);
  });

  it('honours session-4D-length in minutes with a minimum of 60', async () => {
    const clock = manualClock();
    const t = await emulator({ now: clock.now, sessionIdleSeconds: 600 });
    const long = await t.rest('/rest/$directory/login', { ...LOGIN, headers: { ...LOGIN.headers, 'session-4D-length': '120' } });
    expect(long.setCookies[0]).toContain('Max-Age=7200');
    const short = await t.rest('/rest/$directory/login', { ...LOGIN, headers: { ...LOGIN.headers, 'session-4D-length': '5' } });
    expect(short.setCookies[0]).toContain('Max-Age=3600');
    const plain = await t.rest('/rest/$directory/login', LOGIN);
    expect(plain.setCookies[0]).toContain('Max-Age=600');
    clock.advance(3601);
    expect((await t.rest('/rest/Formen', { cookie: long.cookieHeader })).status).toBe(200);
    expect((await t.rest('/rest/Formen', { cookie: short.cookieHeader })).status).toBe(401);
    expect((await t.rest('/rest/Formen', { cookie: plain.cookieHeader })).status).toBe(401);
  });

  it('answers data requests without an authenticated session with 401 and a guest cookie', async () => {
    const t = await emulator();
    const res = await t.rest('/rest/Kunden');
    expect(res.status).toBe(401);
    expect((res.body as { __ERROR: unknown[] }).__ERROR).toHaveLength(1);
    expect(Object.keys(res.cookies)).toEqual(['WASID4D', '4DSID_WSZ-DB']);
    expect(t.emulator.counters.rejected401).toBe(1);
  });

  it("serves guests everything with auth 'none'", async () => {
    const t = await emulator({ auth: 'none', sessions: everySession ? 2 : 0 });
    expect((await t.rest('/rest/Kunden?$top=1')).status).toBe(200);
    expect((await t.rest('/rest/$info')).status).toBe(200);
    // Legacy sessions: each cookie-less request took a licence; force-login guests take none.
    expect(t.emulator.activeSessions()).toBe(everySession ? 2 : 0);
  });
});

describe('counters and logs', () => {
  it('counts requests by route and by dataclass, and resets in place', async () => {
    const t = await emulator();
    const cookie = await t.login();
    await t.rest('/rest/Kunden?$top=1', { cookie });
    await t.rest('/rest/Kunden?$top=1', { cookie });
    await t.rest('/rest/Formen?$top=1', { cookie });
    await t.rest('/rest/$catalog', { cookie });
    await t.rest('/nothing-here', { cookie });
    const c = t.emulator.counters;
    expect(c.requests).toBe(6);
    expect(c.byRoute).toMatchObject({ login: 1, collection: 3, catalog: 1, notFound: 1, update: 0 });
    expect(c.byTable).toMatchObject({ Kunden: 2, Formen: 1, Belege: 0 });
    expect(t.emulator.requestLog.map((r) => [r.method, r.path, r.status])).toEqual([
      ['POST', '/rest/$directory/login', 200],
      ['GET', '/rest/Kunden?$top=1', 200],
      ['GET', '/rest/Kunden?$top=1', 200],
      ['GET', '/rest/Formen?$top=1', 200],
      ['GET', '/rest/$catalog', 200],
      ['GET', '/nothing-here', 404],
    ]);
    expect(t.emulator.requestLog[1].table).toBe('Kunden');
    t.emulator.resetCounters();
    expect(c.requests).toBe(0);
    expect(c.byRoute.collection).toBe(0);
    expect(t.emulator.requestLog).toEqual([]);
  });

  it('never writes passwords or cookie values to the log', async () => {
    const lines: unknown[] = [];
    const t = await emulator({ users: { wsz: 'TopSecret-42' }, logger: { info: (...a: unknown[]) => lines.push(a) } });
    const login = await t.rest('/rest/$directory/login', { method: 'POST', headers: { 'username-4D': 'wsz', 'password-4D': 'TopSecret-42' } });
    await t.rest('/rest/Kunden', { cookie: login.cookieHeader });
    await t.rest('/rest/Kunden', { headers: { authorization: basicAuth('wsz', 'TopSecret-42') } });
    const text = JSON.stringify(lines);
    expect(lines.length).toBe(3);
    expect(text).not.toContain('TopSecret-42');
    expect(text).not.toContain(login.cookies.WASID4D);
    expect(text).not.toContain(login.cookies['4DSID_WSZ-DB']);
  });
});
});
