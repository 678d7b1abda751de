/**
 * Issue 6 §3: sessions survive command-line runs and crashes. The upstream is the emulator in its
 * default licence mode (every session, guests included, takes a licence); every test counts logins
 * and live sessions at the emulator.
 */
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/wsz.js';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { redisForTests, uniqueNamespace } from '../helpers/redis.js';

const cli = fileURLToPath(new URL('../../src/cli/wsz.ts', import.meta.url));
const openSession = fileURLToPath(new URL('./fixtures/open-session.ts', import.meta.url));

let emulator: Emulator;
let dir: string;
let sessionFile: string;
let env: Record<string, string>;

beforeAll(async () => {
  emulator = await startEmulator({ port: 0, sessions: 3 });
});
afterAll(() => emulator.close());
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'wsz-cli-sessions-'));
  sessionFile = join(dir, 'wsz', 'sessions.json');
  env = { LEGACY_API_URL: emulator.url, LEGACY_API_USERNAME: 'wsz', LEGACY_API_PASSWORD: 'wsz', LOG_LEVEL: 'silent', WSZ_SESSION_FILE: sessionFile };
  emulator.expireAllSessions();
  emulator.resetCounters();
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function wsz(argv: string[], runEnv: Record<string, string | undefined> = env): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { out: (s) => (out += s), err: (s) => (err += s), env: runEnv });
  return { code, out, err };
}

/** Environment of a child process: this one's, less any upstream, store or emulator setting, plus `extra`. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(base)) if (/^(LEGACY_|REDIS_URL|STORE_NAMESPACE|WSZ_|EMULATOR_)/.test(key)) delete base[key];
  return { ...base, ...extra };
}

function spawnCli(argv: string[], extra: Record<string, string> = env) {
  return promisify(execFile)(process.execPath, ['--import', 'tsx', cli, ...argv], { env: childEnv(extra), timeout: 30_000 });
}

/** Session entries in the file store (keys only; values hold cookies). */
function storedSessionKeys(): string[] {
  if (!existsSync(sessionFile)) return [];
  const entries = (JSON.parse(readFileSync(sessionFile, 'utf8')) as { entries: Record<string, unknown> }).entries;
  return Object.keys(entries).filter((k) => k.includes('session'));
}

/** Starts the crash fixture, waits until it holds a session, then kills it with SIGKILL. */
async function openSessionAndCrash(extra: Record<string, string>): Promise<string> {
  const child = spawn(process.execPath, ['--import', 'tsx', openSession], { env: childEnv(extra), stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const line = await Promise.race([
      once(createInterface({ input: child.stdout }), 'line').then(([l]) => l as string),
      once(child, 'exit').then(([code]) => {
        throw new Error(`the session fixture exited with ${code} before opening a session`);
      }),
    ]);
    child.kill('SIGKILL');
    const [, signal] = (await once(child, 'exit')) as [number | null, string | null];
    expect(signal).toBe('SIGKILL');
    return line;
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

describe('wsz keeps its session in a local file between runs', () => {
  it('twenty sequential `wsz fetch` runs cost one login and hold one licence', async () => {
    for (let run = 0; run < 20; run++) {
      const { code, out, err } = await wsz(['fetch', 'Formen', '--top', '2', '--attributes', 'FormNr']);
      expect(code, err).toBe(0);
      expect(JSON.parse(out)).toHaveLength(2);
    }
    expect(emulator.counters.logins).toBe(1);
    expect(emulator.counters.sessionsOpened).toBe(1);
    expect(emulator.activeSessions()).toBe(1);
    expect(storedSessionKeys()).toHaveLength(1);
  });

  it('two runs of the real program share one login', async () => {
    for (let run = 0; run < 2; run++) {
      const { stdout } = await spawnCli(['fetch', 'Formen', '--top', '1']);
      expect(JSON.parse(stdout)).toHaveLength(1);
    }
    expect(emulator.counters.logins).toBe(1);
    expect(emulator.activeSessions()).toBe(1);
  });

  it('`wsz session --logout` ends the session at the server and forgets it; the next run logs in again once', async () => {
    expect((await wsz(['fetch', 'Formen', '--top', '1'])).code).toBe(0);
    expect(emulator.activeSessions()).toBe(1);
    const { code, out, err } = await wsz(['session', '--logout']);
    expect(code, err).toBe(0);
    expect(JSON.parse(out)).toEqual({ environment: 'live', loggedOut: true });
    expect(emulator.activeSessions()).toBe(0);
    // What stays is a tombstone without cookies, so no other process writes the dead session back.
    expect(storedSessionKeys().length).toBeLessThanOrEqual(1);
    expect(readFileSync(sessionFile, 'utf8')).not.toMatch(/WASID4D|4DSID/);
    expect((await wsz(['fetch', 'Formen', '--top', '1'])).code).toBe(0);
    expect(emulator.counters.logins).toBe(2);
    expect(emulator.activeSessions()).toBe(1);
  });

  it('`wsz session --logout` with no session does not log in to log out', async () => {
    const { code, out } = await wsz(['session', '--logout']);
    expect(code).toBe(0);
    expect(JSON.parse(out)).toEqual({ environment: 'live', loggedOut: false });
    expect(emulator.counters.requests).toBe(0);
    expect(emulator.activeSessions()).toBe(0);
  });

  it('refuses `--cookie` with `--logout`, naming both, without a request', async () => {
    const { code, err } = await wsz(['session', '--logout', '--cookie']);
    expect(code).toBe(2);
    expect(err).toMatch(/--logout.*--cookie|--cookie.*--logout/);
    expect(emulator.counters.requests).toBe(0);
  });

  it('refuses a relative WSZ_SESSION_FILE, naming it, without a request', async () => {
    const { code, err } = await wsz(['fetch', 'Formen'], { ...env, WSZ_SESSION_FILE: 'sessions.json' });
    expect(code).toBe(2);
    expect(err).toContain('WSZ_SESSION_FILE must be an absolute file path, got "sessions.json"');
    expect(emulator.counters.requests).toBe(0);
  });

  it('refuses a session file that cannot be kept, naming WSZ_SESSION_FILE, without a request', async () => {
    const { code, err } = await wsz(['fetch', 'Formen'], { ...env, WSZ_SESSION_FILE: join(cli, 'sessions.json') });
    expect(code).toBe(2);
    expect(err).toMatch(/WSZ_SESSION_FILE: the session file .* cannot be used \((EEXIST|ENOTDIR)\); set WSZ_SESSION_FILE to a file in a writable directory/);
    expect(emulator.counters.requests).toBe(0);
  });

  it('never writes the password or the cookie to stderr', async () => {
    const secretEnv = { ...env, LOG_LEVEL: 'debug' };
    const { code, err } = await wsz(['fetch', 'Formen', '--top', '1'], secretEnv);
    expect(code).toBe(0);
    // The emulator's password is "wsz", a substring of everything: check the cookie instead, and the header names.
    expect(err).not.toMatch(/WASID4D=|4DSID_WSZ-DB=|password-4D/);
  });
});

describe('a crash (SIGKILL) cannot log out: the next start reuses the stored session', () => {
  it('with the file store: one login in all', async () => {
    expect(await openSessionAndCrash(env)).toBe('ready file');
    expect(emulator.counters.logins).toBe(1);
    const { code, err } = await wsz(['fetch', 'Formen', '--top', '1']);
    expect(code, err).toBe(0);
    expect(emulator.counters.logins).toBe(1);
    expect(emulator.activeSessions()).toBe(1);
  });

  it('with Redis: one login in all', async (ctx) => {
    const redis = await redisForTests('the Redis crash test');
    if (redis.skip) return ctx.skip();
    expect(redis.available, `Redis must answer at ${redis.url}`).toBe(true);
    const redisEnv = { ...env, REDIS_URL: redis.url, STORE_NAMESPACE: uniqueNamespace('wsz-crash') };
    try {
      expect(await openSessionAndCrash(redisEnv)).toBe('ready redis');
      expect(emulator.counters.logins).toBe(1);
      const { code, err } = await wsz(['fetch', 'Formen', '--top', '1'], redisEnv);
      expect(code, err).toBe(0);
      expect(emulator.counters.logins).toBe(1);
      expect(emulator.activeSessions()).toBe(1);
      // Nothing went to the file store.
      expect(existsSync(sessionFile)).toBe(false);
    } finally {
      // Frees the licence and removes the key from the shared Redis.
      await wsz(['session', '--logout'], redisEnv);
    }
    expect(emulator.activeSessions()).toBe(0);
  });
});

describe('wsz never falls back to an emulator', () => {
  const unconfigured = { LOG_LEVEL: 'silent', WSZ_SESSION_FILE: join(tmpdir(), 'wsz-never-used.json') };

  it('fails with exit code 2 without a configured 4D server, naming the settings and the opt-in', async () => {
    const { code, out, err } = await wsz(['fetch', 'Formen'], unconfigured);
    expect(code).toBe(2);
    expect(out).toBe('');
    expect(err).toContain('no 4D server configured: set LEGACY_API_URL');
    expect(err).toContain('WSZ_CONFIG_FILE');
    expect(err).toContain('--emulator');
    expect(err).not.toContain('using a built-in');
  });

  it('fails the same way as a program (exit code 2)', async () => {
    await expect(spawnCli(['fetch', 'Formen'], unconfigured)).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('no 4D server configured: set LEGACY_API_URL'),
    });
  });

  it('runs on a built-in emulator with --emulator, says so on stderr, and keeps no session file', async () => {
    const { code, out, err } = await wsz(['--emulator', 'fetch', 'Formen', '--top', '2'], { ...unconfigured, WSZ_SESSION_FILE: sessionFile });
    expect(code, err).toBe(0);
    expect(JSON.parse(out)).toHaveLength(2);
    expect(err).toMatch(/^wsz: --emulator: using a built-in 4D emulator at http:\/\/127\.0\.0\.1:\d+ \(generated data, writes end with this command\)\n$/);
    expect(existsSync(sessionFile)).toBe(false);
  });

  it('says that --emulator leaves a configured 4D server unused', async () => {
    const { code, err } = await wsz(['--emulator', 'fetch', 'Formen', '--top', '1']);
    expect(code).toBe(0);
    expect(err).toContain('the configured 4D server is not used');
    expect(emulator.counters.requests).toBe(0);
  });
});
