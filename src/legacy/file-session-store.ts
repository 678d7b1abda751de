/**
 * A {@link SessionStore} in one local JSON file, for the command line and the compatibility module
 * when no Redis is configured: as the old WSZ_api kept its cookie in a file, scripts run one after
 * another reuse one 4D session (one licence) instead of opening one each.
 *
 * - The file holds cookies, so it is created with mode 0600 (the directories it creates with 0700)
 *   and written atomically (a temporary file in the same directory, then `rename`), so a reader never
 *   sees half a file and a crash mid-write leaves the previous content.
 * - Every read-modify-write runs under a short file lock, so two processes writing different keys
 *   (a session and a breaker) never lose one another's entry.
 * - `acquireLock` is a lock across processes: a lock directory made atomically by `mkdir`
 *   ([proper-lockfile](https://github.com/moxystudio/node-proper-lockfile)). Its holder refreshes
 *   the directory's mtime while it lives; a lock whose holder died (SIGKILL, power loss) is taken over
 *   once it has not been refreshed for `lockStaleMs`, and a live holder's lock ends after its TTL.
 * - A missing file is an empty store; a corrupt or unreadable one is a miss and a log line (never the
 *   file's content: it holds cookies), and the next write replaces it.
 */
import { createHash, randomUUID } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, win32 } from 'node:path';
import { pino, type Logger } from 'pino';
import type { SessionStore, StoredSession } from './session-store.js';

/** Options of {@link createFileSessionStore}. */
export interface FileSessionStoreOptions {
  /** Absolute path of the JSON file (see {@link defaultSessionFilePath}). Required. */
  path: string;
  /** Logger for store problems (never a file's content). Default: silent. */
  logger?: Logger;
  /**
   * A lock whose holder stopped refreshing it (the process died) is taken over after this many ms;
   * at least 2000 (proper-lockfile's minimum). Default 10000.
   */
  lockStaleMs?: number;
  /** How long a write waits for another process's write to finish before it is skipped (logged). Default 3000. */
  writeWaitMs?: number;
  /** Clock in epoch ms for entry TTLs. Default `Date.now`. */
  now?: () => number;
}

interface Entry {
  value: unknown;
  /** Epoch ms. */
  expiresAt: number;
}

interface FileContent {
  version: 1;
  entries: Record<string, Entry>;
}

type Release = () => Promise<void>;
type LockModule = typeof import('proper-lockfile');

const FILE_NAME = 'sessions.json';

/**
 * The default place of the session file, in the user's cache directory:
 * `$XDG_CACHE_HOME/wsz/sessions.json` (else `~/.cache/wsz/…`) on Linux and other Unixes,
 * `~/Library/Caches/wsz/…` on macOS, `%LOCALAPPDATA%\wsz\…` on Windows.
 * @param env environment variables to read `XDG_CACHE_HOME` / `LOCALAPPDATA` from (config.ts passes its own).
 */
export function defaultSessionFilePath(
  env: Record<string, string | undefined>,
  platform: NodeJS.Platform = process.platform,
  home: string = homedir(),
): string {
  if (platform === 'win32') {
    const local = env.LOCALAPPDATA && win32.isAbsolute(env.LOCALAPPDATA) ? env.LOCALAPPDATA : win32.join(home, 'AppData', 'Local');
    return win32.join(local, 'wsz', FILE_NAME);
  }
  if (platform === 'darwin') return join(home, 'Library', 'Caches', 'wsz', FILE_NAME);
  // The XDG spec: a relative XDG_CACHE_HOME is invalid and must be ignored.
  const cache = env.XDG_CACHE_HOME && isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : join(home, '.cache');
  return join(cache, 'wsz', FILE_NAME);
}

/** A file-safe, collision-free name for a lock key (`session:live` → `session_live-1a2b3c4d`). */
function lockName(key: string): string {
  const readable = key.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 40);
  return `${readable}-${createHash('sha256').update(key).digest('hex').slice(0, 8)}`;
}

function errorText(error: unknown): string {
  // Only the code and the syscall: a JSON.parse message would quote the file, and the file holds cookies.
  const e = error as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string') return e.code;
  if (error instanceof SyntaxError) return 'not valid JSON';
  return error instanceof Error ? error.name : 'unknown error';
}

function isEntry(value: unknown): value is Entry {
  return !!value && typeof value === 'object' && 'value' in value && typeof (value as Entry).expiresAt === 'number';
}

class FileSessionStore implements SessionStore {
  /** Other processes (later CLI runs, other scripts) read this file: never log out at shutdown. */
  readonly shared = true;
  private readonly path: string;
  private readonly logger: Logger;
  private readonly lockStaleMs: number;
  private readonly writeWaitMs: number;
  private readonly now: () => number;
  /** Serialises this instance's read-modify-writes (the file lock serialises processes). */
  private queue: Promise<unknown> = Promise.resolve();
  private readonly held = new Map<string, { key: string; release: Release; timer: NodeJS.Timeout }>();
  private lockModule?: Promise<LockModule>;
  private closed = false;

  constructor(options: FileSessionStoreOptions) {
    if (!options || typeof options.path !== 'string' || !isAbsolute(options.path)) {
      throw new TypeError(`FileSessionStoreOptions.path must be an absolute file path, got ${JSON.stringify(options?.path)}`);
    }
    this.path = options.path;
    this.logger = options.logger ?? pino({ level: 'silent' });
    this.lockStaleMs = Math.max(2000, options.lockStaleMs ?? 10_000);
    this.writeWaitMs = Math.max(0, options.writeWaitMs ?? 3000);
    this.now = options.now ?? Date.now;
  }

  /** proper-lockfile, loaded on first use: it installs exit handlers, which a process that never locks does not need. */
  private locks(): Promise<LockModule> {
    this.lockModule ??= import('proper-lockfile').then((m) => ((m as { default?: LockModule }).default ?? m) as LockModule);
    return this.lockModule;
  }

  private warn(op: string, error: unknown, message: string): void {
    this.logger.warn({ op, file: this.path, err: errorText(error) }, message);
  }

  /**
   * Creates the directory (0700) and checks that the file can be kept there: rejects, naming the
   * path, when the directory cannot be created or written. A corrupt file is no reason to fail
   * (it is a miss and will be replaced).
   */
  async connect(): Promise<void> {
    try {
      await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
      const info = await stat(this.path).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return undefined;
        throw error;
      });
      if (info?.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
      // Prove the directory is writable the way every write will use it.
      const probe = `${this.path}.${process.pid}.${randomUUID()}.probe`;
      const handle = await open(probe, fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_WRONLY, 0o600);
      await handle.close();
      await rm(probe, { force: true });
      await this.locks();
    } catch (error) {
      throw new Error(`the session file ${this.path} cannot be used (${errorText(error)})`);
    }
  }

  /** The file's entries; a missing file is empty, a corrupt or unreadable one empty plus a log line. */
  private async read(): Promise<Record<string, Entry>> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.warn('read', error, 'session file unreadable (treated as empty)');
      return {};
    }
    try {
      const json = JSON.parse(text) as FileContent;
      if (!json || typeof json !== 'object' || json.version !== 1 || !json.entries || typeof json.entries !== 'object') {
        throw new SyntaxError('unexpected shape');
      }
      return json.entries;
    } catch (error) {
      this.warn('read', error, 'session file corrupt (treated as empty; the next write replaces it)');
      return {};
    }
  }

  /** Writes `entries` atomically: a 0600 temporary file beside the target, flushed, then renamed over it. */
  private async write(entries: Record<string, Entry>): Promise<void> {
    const temp = `${this.path}.${process.pid}.${randomUUID()}.tmp`;
    const content: FileContent = { version: 1, entries };
    try {
      const handle = await open(temp, fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_WRONLY, 0o600);
      try {
        await handle.writeFile(`${JSON.stringify(content)}\n`, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, this.path);
    } catch (error) {
      await rm(temp, { force: true }).catch(() => {});
      throw error;
    }
  }

  /** Runs `change` on the entries under this instance's queue and the cross-process file lock. */
  private update(op: string, change: (entries: Record<string, Entry>) => void): Promise<void> {
    const run = async () => {
      if (this.closed) return;
      let release: Release | undefined;
      try {
        await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
        const lockfile = await this.locks();
        release = await lockfile.lock(this.path, {
          realpath: false,
          lockfilePath: `${this.path}.lock`,
          stale: 2000,
          retries: { retries: Math.ceil(this.writeWaitMs / 50), factor: 1, minTimeout: 25, maxTimeout: 75, randomize: true },
          onCompromised: (error) => this.warn(op, error, 'session file lock lost during a write'),
        });
        const entries = await this.read();
        const now = this.now();
        for (const [key, entry] of Object.entries(entries)) if (!isEntry(entry) || entry.expiresAt <= now) delete entries[key];
        change(entries);
        await this.write(entries);
      } catch (error) {
        this.warn(op, error, 'session file write failed (skipped)');
      } finally {
        await release?.().catch(() => {});
      }
    };
    const result = this.queue.then(run, run);
    this.queue = result;
    return result;
  }

  async get<T = StoredSession>(key: string): Promise<T | undefined> {
    if (this.closed) return undefined;
    const entry = (await this.read())[key];
    if (!isEntry(entry) || entry.expiresAt <= this.now()) return undefined;
    return entry.value as T;
  }

  async set<T = StoredSession>(key: string, value: T, ttlMs: number): Promise<void> {
    const expiresAt = this.now() + Math.max(1, Math.round(ttlMs));
    const copy = structuredClone(value) as unknown;
    await this.update('set', (entries) => {
      entries[key] = { value: copy, expiresAt };
    });
  }

  async delete(key: string): Promise<void> {
    await this.update('delete', (entries) => {
      delete entries[key];
    });
  }

  async acquireLock(key: string, ttlMs: number): Promise<string | null> {
    if (this.closed) return null;
    const token = randomUUID();
    // A file of its own per key: proper-lockfile tracks its locks by that path.
    const file = `${this.path}.${lockName(key)}`;
    try {
      await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
      const lockfile = await this.locks();
      const release = await lockfile.lock(file, {
        realpath: false,
        stale: Math.max(2000, Math.min(this.lockStaleMs, ttlMs)),
        retries: 0,
        onCompromised: (error) => {
          // Another process took it over (we stalled past the stale time): it is no longer ours.
          const held = this.held.get(token);
          if (held) clearTimeout(held.timer);
          this.held.delete(token);
          this.warn('lock', error, 'session lock lost');
        },
      });
      // The lock's TTL: a holder that forgets to release (or hangs) does not block others for longer.
      const timer = setTimeout(() => void this.releaseLock(key, token), Math.max(1, ttlMs));
      timer.unref();
      this.held.set(token, { key, release, timer });
      return token;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ELOCKED') return null;
      // The lock cannot be made at all (disk full, permissions): say so, and let the caller go on
      // without it rather than failing every request; at worst two processes log in at once.
      this.warn('lock', error, 'session lock unavailable (proceeding without it)');
      return `unlocked:${token}`;
    }
  }

  async releaseLock(key: string, token: string): Promise<void> {
    const held = this.held.get(token);
    if (!held || held.key !== key) return;
    this.held.delete(token);
    clearTimeout(held.timer);
    try {
      await held.release();
    } catch (error) {
      this.warn('unlock', error, 'session lock release failed (it goes stale by itself)');
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.queue.catch(() => {});
    this.closed = true;
    await Promise.all([...this.held.entries()].map(([token, held]) => this.releaseLock(held.key, token)));
  }
}

/**
 * Creates a session store in one local file (mode 0600), shared by the processes of this user that
 * use the same path; locks work across processes. Call `connect()` before use: it creates the
 * directory and rejects, naming the path, when the file cannot be kept there.
 */
export function createFileSessionStore(options: FileSessionStoreOptions): SessionStore {
  return new FileSessionStore(options);
}
