import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { createFileSessionStore, defaultSessionFilePath, type FileSessionStoreOptions } from '../../src/legacy/file-session-store.js';
import { createLegacyClient, type SessionStore } from '../../src/legacy/index.js';
import { captureLogger } from './setup.js';

const fixtures = fileURLToPath(new URL('../process/fixtures/', import.meta.url));
let dir: string;
let path: string;
const stores: SessionStore[] = [];
const children: ChildProcess[] = [];

function store(options: Partial<FileSessionStoreOptions> = {}): SessionStore {
  const s = createFileSessionStore({ path, ...options });
  stores.push(s);
  return s;
}

/** Runs a fixture script with tsx; resolves with the child once it printed its first line. */
async function child(script: string, args: string[]): Promise<{ proc: ChildProcess; line: string }> {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(fixtures, script), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(proc);
  const reader = createInterface({ input: proc.stdout! });
  const [line] = (await once(reader, 'line')) as [string];
  return { proc, line };
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'wsz-file-store-'));
  path = join(dir, 'cache', 'wsz', 'sessions.json');
});
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.close()));
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('file session store', () => {
  it('is shared: a session kept there outlives the process, so it is never logged out at shutdown', () => {
    expect(store().shared).toBe(true);
  });

  it('keeps values until their TTL, by the injected clock', async () => {
    let now = 1_000_000;
    const s = store({ now: () => now });
    await s.connect();
    await s.set('session:live', { id: 'a', cookies: { WASID4D: 'X' }, createdAt: 1, lastUsedAt: 1 }, 60_000);
    await s.set('breaker:live', { until: 5 }, 1000);
    expect(await s.get('session:live')).toEqual({ id: 'a', cookies: { WASID4D: 'X' }, createdAt: 1, lastUsedAt: 1 });
    now += 1000;
    expect(await s.get('breaker:live')).toBeUndefined();
    expect(await s.get('session:live')).toBeDefined();
    now += 59_000;
    expect(await s.get('session:live')).toBeUndefined();
  });

  it('deletes a key and leaves the others', async () => {
    const s = store();
    await s.set('a', { v: 1 }, 60_000);
    await s.set('b', { v: 2 }, 60_000);
    await s.delete('a');
    expect(await s.get('a')).toBeUndefined();
    expect(await s.get('b')).toEqual({ v: 2 });
  });

  it('is read by another instance (another process) on the same path', async () => {
    await store().set('k', { v: 'x' }, 60_000);
    expect(await store().get('k')).toEqual({ v: 'x' });
    expect(await createFileSessionStore({ path: join(dir, 'other.json') }).get('k')).toBeUndefined();
  });

  it('creates the file with mode 0600 in a directory with mode 0700, written atomically (no temporary file left)', async () => {
    const s = store();
    await s.connect();
    await s.set('k', { v: 1 }, 60_000);
    await s.set('k', { v: 2 }, 60_000);
    if (process.platform !== 'win32') {
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(statSync(join(dir, 'cache', 'wsz')).mode & 0o777).toBe(0o700);
      expect(statSync(join(dir, 'cache')).mode & 0o777).toBe(0o700);
    }
    expect(readdirSync(join(dir, 'cache', 'wsz')).filter((n) => !n.endsWith('.lock'))).toEqual(['sessions.json']);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ version: 1, entries: { k: { value: { v: 2 } } } });
  });

  it('replaces a looser-moded file with a 0600 one on the next write', async () => {
    mkdirSync(join(dir, 'cache', 'wsz'), { recursive: true });
    writeFileSync(path, JSON.stringify({ version: 1, entries: {} }), { mode: 0o644 });
    await store().set('k', { v: 1 }, 60_000);
    if (process.platform !== 'win32') expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('treats a corrupt file as a miss with a log line that never quotes it, and repairs it on the next write', async () => {
    mkdirSync(join(dir, 'cache', 'wsz'), { recursive: true });
    writeFileSync(path, '{"version":1,"entries":{"session:live":{"value":{"cookies":{"WASID4D":"SECRETCOOKIE', { mode: 0o600 });
    const { logger, lines } = captureLogger();
    const s = store({ logger });
    await expect(s.connect()).resolves.toBeUndefined();
    expect(await s.get('session:live')).toBeUndefined();
    expect(lines.join('\n')).toContain('session file corrupt');
    expect(lines.join('\n')).not.toContain('SECRETCOOKIE');
    await s.set('k', { v: 1 }, 60_000);
    expect(await s.get('k')).toEqual({ v: 1 });
  });

  it('treats a file of the wrong shape as a miss', async () => {
    mkdirSync(join(dir, 'cache', 'wsz'), { recursive: true });
    writeFileSync(path, JSON.stringify({ entries: { k: 'not an entry' } }));
    expect(await store().get('k')).toBeUndefined();
    writeFileSync(path, JSON.stringify({ version: 1, entries: { k: 'not an entry' } }));
    expect(await store().get('k')).toBeUndefined();
  });

  it('treats an unreadable file as a miss and a log line, never a crash', async () => {
    // A directory where the file should be: every read fails (EISDIR), as an unreadable file would.
    mkdirSync(path, { recursive: true });
    const { logger, lines } = captureLogger();
    const s = store({ logger, writeWaitMs: 100 });
    expect(await s.get('k')).toBeUndefined();
    await expect(s.set('k', { v: 1 }, 1000)).resolves.toBeUndefined();
    expect(lines.join('\n')).toMatch(/session file unreadable.*EISDIR|EISDIR.*session file unreadable/);
  });

  it('refuses to connect where the file cannot be kept, naming the path and the reason', async () => {
    writeFileSync(join(dir, 'plain-file'), '');
    const s = createFileSessionStore({ path: join(dir, 'plain-file', 'sessions.json') });
    // mkdir reports a file in the way as EEXIST or ENOTDIR, depending on the platform.
    await expect(s.connect()).rejects.toThrow(new RegExp(`^the session file ${join(dir, 'plain-file', 'sessions.json')} cannot be used \\((EEXIST|ENOTDIR)\\)$`));
    mkdirSync(path, { recursive: true });
    await expect(store().connect()).rejects.toThrow(/cannot be used \(EISDIR\)/);
  });

  it('rejects a relative path, naming it', () => {
    expect(() => createFileSessionStore({ path: 'sessions.json' })).toThrow('FileSessionStoreOptions.path must be an absolute file path, got "sessions.json"');
  });

  it('never loses a write when two processes write different keys at once', async () => {
    const a = spawn(process.execPath, ['--import', 'tsx', join(fixtures, 'write-keys.ts'), path, 'a', '15'], { stdio: 'inherit' });
    const b = spawn(process.execPath, ['--import', 'tsx', join(fixtures, 'write-keys.ts'), path, 'b', '15'], { stdio: 'inherit' });
    children.push(a, b);
    const s = store();
    await Promise.all(Array.from({ length: 15 }, (_, i) => s.set(`c-${i}`, { i }, 60_000)));
    await Promise.all([once(a, 'exit'), once(b, 'exit')]);
    expect(a.exitCode).toBe(0);
    expect(b.exitCode).toBe(0);
    const entries = (JSON.parse(readFileSync(path, 'utf8')) as { entries: Record<string, unknown> }).entries;
    expect(Object.keys(entries).sort()).toEqual(['a', 'b', 'c'].flatMap((p) => Array.from({ length: 15 }, (_, i) => `${p}-${i}`)).sort());
  });
});

describe('file session store locks', () => {
  it('gives a lock to one holder at a time, released only with its token', async () => {
    const a = store();
    const b = store();
    const token = await a.acquireLock('session:live', 60_000);
    expect(token).toEqual(expect.any(String));
    expect(await b.acquireLock('session:live', 60_000)).toBeNull();
    expect(await a.acquireLock('session:live', 60_000)).toBeNull();
    // Another key is another lock.
    expect(await b.acquireLock('session:test', 60_000)).toEqual(expect.any(String));
    await b.releaseLock('session:live', 'not-the-token');
    expect(await b.acquireLock('session:live', 60_000)).toBeNull();
    await a.releaseLock('session:live', token!);
    expect(await b.acquireLock('session:live', 60_000)).toEqual(expect.any(String));
  });

  it('ends a held lock after its TTL', async () => {
    const a = store();
    expect(await a.acquireLock('k', 300)).not.toBeNull();
    expect(await store().acquireLock('k', 300)).toBeNull();
    await new Promise((r) => setTimeout(r, 450));
    expect(await store().acquireLock('k', 300)).not.toBeNull();
  });

  it('holds a lock against another process, and takes over the lock of a process killed with SIGKILL once it went stale', async () => {
    const { proc, line } = await child('hold-lock.ts', [path, 'session:live', '600000', '2000']);
    expect(line).toBe('locked');
    const s = store({ lockStaleMs: 2000 });
    expect(await s.acquireLock('session:live', 600_000)).toBeNull();
    // While the holder lives it keeps the lock fresh, well past the stale time.
    await new Promise((r) => setTimeout(r, 2600));
    expect(await s.acquireLock('session:live', 600_000)).toBeNull();
    proc.kill('SIGKILL');
    await once(proc, 'exit');
    const killedAt = Date.now();
    let token: string | null = null;
    while (!token && Date.now() - killedAt < 6000) {
      token = await s.acquireLock('session:live', 600_000);
      if (!token) await new Promise((r) => setTimeout(r, 100));
    }
    expect(token).not.toBeNull();
    expect(Date.now() - killedAt).toBeLessThan(4000);
  });

  it('sees a lock taken by another process that is still running as busy', async () => {
    const s = store();
    expect(await s.acquireLock('k', 60_000)).not.toBeNull();
    const { line } = await child('hold-lock.ts', [path, 'k', '60000', '2000']);
    expect(line).toBe('busy');
  });
});

describe('default session file', () => {
  it('lives in the user cache directory of each platform', () => {
    expect(defaultSessionFilePath({ XDG_CACHE_HOME: '/xdg' }, 'linux', '/home/u')).toBe('/xdg/wsz/sessions.json');
    expect(defaultSessionFilePath({}, 'linux', '/home/u')).toBe('/home/u/.cache/wsz/sessions.json');
    expect(defaultSessionFilePath({ XDG_CACHE_HOME: 'relative' }, 'linux', '/home/u')).toBe('/home/u/.cache/wsz/sessions.json');
    expect(defaultSessionFilePath({ XDG_CACHE_HOME: '/xdg' }, 'darwin', '/Users/u')).toBe('/Users/u/Library/Caches/wsz/sessions.json');
    expect(defaultSessionFilePath({ LOCALAPPDATA: 'C:\\Users\\u\\AppData\\Local' }, 'win32', 'C:\\Users\\u')).toBe('C:\\Users\\u\\AppData\\Local\\wsz\\sessions.json');
    expect(defaultSessionFilePath({}, 'win32', 'C:\\Users\\u')).toBe('C:\\Users\\u\\AppData\\Local\\wsz\\sessions.json');
  });
});

describe('legacy clients sharing a file store', () => {
  let emulator: Emulator;
  beforeEach(async () => {
    emulator = await startEmulator({ port: 0 });
  });
  afterEach(() => emulator.close());

  function client(s: SessionStore) {
    return createLegacyClient({
      environments: { live: { baseUrl: emulator.url, username: 'wsz', password: 'wsz' } },
      defaultEnvironment: 'live',
      retryBaseMs: 5,
      store: s,
    });
  }

  it('log in once for two "processes" starting together, and once for a third that starts later', async () => {
    const one = client(store());
    const two = client(store());
    await Promise.all([
      ...Array.from({ length: 5 }, () => one.fetchTable('Formen', { top: 1 })),
      ...Array.from({ length: 5 }, () => two.fetchTable('Formen', { top: 1 })),
    ]);
    await Promise.all([one.close(), two.close()]);
    const three = client(store());
    await three.fetchTable('Formen', { top: 1 });
    await three.close();
    expect(emulator.counters.logins).toBe(1);
    expect(emulator.activeSessions()).toBe(1);
  });
});
