/**
 * One 4D session per environment, shared by every process through the {@link SessionStore}.
 *
 * - Opening/refreshing a session is single-flight inside a process (one in-flight promise) and across
 *   processes (a lock in the store: the winner logs in and writes the session; the others poll the
 *   store until it appears or the lock expires, then try to take the lock themselves). Nobody sends a
 *   data request without a session, so parallel cold requests never burn several licences.
 * - Cookie jar: one value per cookie name, replaced on every `Set-Cookie`; every cookie is sent back.
 *   A rotated cookie on a successful answer is written back to the store (as a new session id).
 * - 401/403: the session that was used is dropped; under the lock, the store's session is replaced
 *   only if it is still that one (a fresh session written by another process survives); one login,
 *   one retry; a second 401/403 is a {@link LegacyAPIAuthenticationError}.
 * - 402 (no licence left): a breaker opens for `breakerMs`, also in the store so other processes back
 *   off too; while it is open no login is attempted and calls needing one fail fast with
 *   {@link LegacySessionLimitError}.
 * - A session idle for longer than `sessionTimeoutMs` is refreshed before use (4D would have expired it).
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import {
  LegacyAPIAuthenticationError,
  LegacyAPIConnectionError,
  LegacyAPIDataError,
  LegacySessionLimitError,
  errorFromResponse,
  readErrorStack,
  type FourDErrorEntry,
} from './errors.js';
import type { HttpRequest, HttpResponse, HttpTransport } from './http.js';
import type { SessionStore, StoredSession } from './session-store.js';

/** How the client authenticates against one environment. */
export interface SessionCredentials {
  username?: string;
  password?: string;
  /** `login`: `POST $directory/login` with `username-4D`/`password-4D` headers; `basic`: HTTP Basic on `GET $info`. */
  auth: 'login' | 'basic';
}

/** Options of {@link SessionManager}. */
export interface SessionManagerOptions {
  environment: string;
  http: HttpTransport;
  store: SessionStore;
  logger: Logger;
  credentials: SessionCredentials;
  /** Idle time after which a stored session is refreshed proactively. */
  sessionTimeoutMs: number;
  /** How long the breaker stays open after a 402. */
  breakerMs: number;
  /** Per-request timeout (sizes the cross-process lock). */
  requestTimeoutMs: number;
  /** Total time a login may take including retries (sizes the lock TTL). */
  loginBudgetMs: number;
  /** How long a process's local copy is trusted before re-reading the store. Default 1000. */
  revalidateMs?: number;
  /** Polling interval while another process logs in. Default 50. */
  pollMs?: number;
}

/** What {@link SessionManager.state} reports (never a cookie value). */
export interface SessionState {
  environment: string;
  hasSession: boolean;
  sessionId?: string;
  ageSeconds?: number;
  idleSeconds?: number;
  /** Epoch ms until which no login will be attempted after a 402. */
  breakerOpenUntil?: number;
}

interface BreakerState {
  until: number;
}

/** Parses `Set-Cookie` values into name → value; `null` marks a cookie the server deleted. */
export function parseSetCookies(headers: readonly string[]): Map<string, string | null> {
  const jar = new Map<string, string | null>();
  for (const header of headers) {
    const [pair = '', ...attributes] = header.split(';');
    const eq = pair.indexOf('=');
    if (eq <= 0) continue;
    const name = pair.slice(0, eq).trim();
    let value = pair.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    let deleted = value === '';
    for (const attribute of attributes) {
      const [k = '', v = ''] = attribute.split('=').map((x) => x.trim());
      if (k.toLowerCase() === 'max-age' && Number(v) <= 0) deleted = true;
      if (k.toLowerCase() === 'expires' && Date.parse(v) < Date.now()) deleted = true;
    }
    jar.set(name, deleted ? null : value);
  }
  return jar;
}

/** Applies parsed `Set-Cookie`s to a jar; returns the new jar and whether anything changed. */
export function mergeCookies(
  jar: Readonly<Record<string, string>>,
  updates: Map<string, string | null>,
): { cookies: Record<string, string>; changed: boolean } {
  const cookies: Record<string, string> = { ...jar };
  let changed = false;
  for (const [name, value] of updates) {
    if (value === null) {
      if (name in cookies) {
        delete cookies[name];
        changed = true;
      }
    } else if (cookies[name] !== value) {
      cookies[name] = value;
      changed = true;
    }
  }
  return { cookies, changed };
}

/** The `Cookie` header for a jar: each name exactly once. */
export function cookieHeader(cookies: Readonly<Record<string, string>>): string {
  return Object.entries(cookies)
    .map(([name, value]) => `${name}=${value}`)
    .join('; ');
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

type LocalSession = { -readonly [K in keyof StoredSession]: StoredSession[K] };

/** Session manager of one environment. */
export class SessionManager {
  private local: LocalSession | undefined;
  private localCheckedAt = 0;
  private lastPersistedUse = 0;
  private inflight: Promise<LocalSession> | undefined;
  private breakerUntil = 0;
  private readonly sessionKey: string;
  private readonly lockKey: string;
  private readonly breakerKey: string;
  private readonly revalidateMs: number;
  private readonly pollMs: number;
  private readonly lockTtlMs: number;
  private readonly touchIntervalMs: number;

  constructor(private readonly options: SessionManagerOptions) {
    this.sessionKey = `session:${options.environment}`;
    this.lockKey = `session:${options.environment}`;
    this.breakerKey = `breaker:${options.environment}`;
    this.revalidateMs = options.revalidateMs ?? 1000;
    this.pollMs = options.pollMs ?? 50;
    this.lockTtlMs = options.loginBudgetMs + 5000;
    this.touchIntervalMs = Math.max(1000, Math.min(60_000, options.sessionTimeoutMs / 10));
  }

  private get log(): Logger {
    return this.options.logger;
  }

  private isIdleExpired(session: StoredSession, now = Date.now()): boolean {
    return now - this.lastUse(session) > this.options.sessionTimeoutMs;
  }

  private usable(session: StoredSession | undefined, staleId: string | undefined): boolean {
    return (
      !!session &&
      typeof session.id === 'string' &&
      session.id !== staleId &&
      !!session.cookies &&
      Object.keys(session.cookies).length > 0 &&
      !this.isIdleExpired(session)
    );
  }

  private adopt(session: StoredSession): LocalSession {
    const copy: LocalSession = { ...session, cookies: { ...session.cookies } };
    this.local = copy;
    this.localCheckedAt = Date.now();
    this.lastPersistedUse = Math.max(this.lastPersistedUse, session.lastUsedAt);
    return copy;
  }

  /** The current session, opening one (single-flight) when there is none or it is idle-expired. */
  async acquire(): Promise<LocalSession> {
    const now = Date.now();
    if (this.local && now - this.localCheckedAt < this.revalidateMs && !this.isIdleExpired(this.local, now)) {
      return this.local;
    }
    const stored = await this.options.store.get<StoredSession>(this.sessionKey);
    if (stored && this.usable(stored, undefined)) {
      if (this.local?.id === stored.id) {
        // Same session: keep our (newer) lastUsedAt and cookies.
        this.localCheckedAt = now;
        return this.local;
      }
      return this.adopt(stored);
    }
    if (!stored && this.local && this.usable(this.local, undefined)) {
      // A miss (store TTL, flush or store failure) is no reason to log in again while our copy is
      // alive: keep it and put it back; a dead copy would be caught by the next 401 anyway.
      this.localCheckedAt = now;
      void this.writeBack(this.local.id, { ...this.local });
      return this.local;
    }
    // Idle-expired (by our clock, just under 4D's): log in on the old cookies. If 4D still holds
    // that session, the login re-authenticates it on the licence it already has; if 4D dropped it,
    // 4D opens a guest session that the login upgrades. A cookie-less login here would need a
    // second licence while the old session lives on for its last minutes (402 on a full pool).
    const previous = stored ?? this.local;
    const oldCookies = previous?.cookies && Object.keys(previous.cookies).length ? { ...previous.cookies } : undefined;
    return this.refresh(previous?.id, oldCookies);
  }

  /**
   * Replaces the session `staleId` (or opens the first one). Single-flight in this process; across
   * processes through the store lock.
   */
  async refresh(staleId: string | undefined, guestCookies?: Record<string, string>): Promise<LocalSession> {
    for (let round = 0; round < 2; round++) {
      this.inflight ??= this.refreshAcrossProcesses(staleId, guestCookies).finally(() => {
        this.inflight = undefined;
      });
      const session = await this.inflight;
      // Joined a refresh started for another stale session that handed back ours: refresh once more.
      if (session.id !== staleId) return session;
    }
    throw new LegacyAPIAuthenticationError(`Could not obtain a new 4D session for environment ${this.options.environment}`, {
      environment: this.options.environment,
    });
  }

  private async checkBreaker(): Promise<void> {
    const now = Date.now();
    if (this.breakerUntil <= now) {
      const shared = await this.options.store.get<BreakerState>(this.breakerKey);
      if (shared && typeof shared.until === 'number' && shared.until > now) this.breakerUntil = shared.until;
    }
    if (this.breakerUntil > now) throw this.sessionLimitError(this.breakerUntil - now, 'breaker open');
  }

  private sessionLimitError(retryAfterMs: number, why: string, status?: number, stack?: FourDErrorEntry[]): LegacySessionLimitError {
    return new LegacySessionLimitError(
      `4D has no free session/licence (HTTP 402, errCode 1823) for environment ${this.options.environment}; ` +
        `${why}: no login attempted for another ${Math.ceil(retryAfterMs / 1000)} s`,
      { environment: this.options.environment, retryAfterMs, status, fourDErrors: stack },
    );
  }

  private async openBreaker(status: number, stack: FourDErrorEntry[] | undefined): Promise<LegacySessionLimitError> {
    const until = Date.now() + this.options.breakerMs;
    this.breakerUntil = Math.max(this.breakerUntil, until);
    await this.options.store.set<BreakerState>(this.breakerKey, { until: this.breakerUntil }, this.options.breakerMs);
    this.log.warn(
      { breakerMs: this.options.breakerMs },
      '4D session limit reached (402); session breaker opened',
    );
    return this.sessionLimitError(this.options.breakerMs, 'breaker opened', status, stack);
  }

  private async refreshAcrossProcesses(staleId: string | undefined, guestCookies?: Record<string, string>): Promise<LocalSession> {
    const { store } = this.options;
    const deadline = Date.now() + this.lockTtlMs + this.options.requestTimeoutMs;
    for (;;) {
      const current = await store.get<StoredSession>(this.sessionKey);
      if (current && this.usable(current, staleId)) return this.adopt(current);
      await this.checkBreaker();
      const token = await store.acquireLock(this.lockKey, this.lockTtlMs);
      if (token) {
        try {
          // Double-check under the lock: another process may have just written a fresh session.
          const again = await store.get<StoredSession>(this.sessionKey);
          if (again && this.usable(again, staleId)) return this.adopt(again);
          await this.checkBreaker();
          let session: StoredSession;
          try {
            session = await this.login(guestCookies);
          } catch (error) {
            // The stored session (if it is the stale one) is dead: drop it so others do not reuse it.
            if (again && (again.id === staleId || this.isIdleExpired(again))) await store.delete(this.sessionKey);
            this.local = undefined;
            throw error;
          }
          await store.set(this.sessionKey, session, this.options.sessionTimeoutMs);
          this.lastPersistedUse = session.lastUsedAt;
          return this.adopt(session);
        } finally {
          await store.releaseLock(this.lockKey, token);
        }
      }
      if (Date.now() > deadline) {
        throw new LegacyAPIConnectionError(
          `Timed out waiting for another process to open the 4D session of environment ${this.options.environment}`,
          { environment: this.options.environment, timeout: true },
        );
      }
      await sleep(this.pollMs / 2 + Math.random() * this.pollMs);
    }
  }

  /** Opens a new 4D session (one login request) and returns it; never writes the store. */
  private async login(guestCookies?: Record<string, string>): Promise<StoredSession> {
    const { credentials, http, environment } = this.options;
    const username = credentials.username ?? http.urlCredentials.username;
    const password = credentials.password ?? http.urlCredentials.password ?? '';
    const headers: Record<string, string> = {};
    // Logging in on the guest session 4D just issued upgrades it instead of opening another one.
    if (guestCookies && Object.keys(guestCookies).length) headers.cookie = cookieHeader(guestCookies);
    let request: HttpRequest;
    if (username !== undefined && credentials.auth === 'login') {
      headers['username-4D'] = username;
      headers['password-4D'] = password;
      request = { method: 'POST', path: '$directory/login', headers, body: '', route: 'login', retry: 'login' };
    } else {
      if (username !== undefined) {
        headers.authorization = `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
      }
      // Not 'idempotent': with credentials this GET opens (and licenses) a session, so a replay after
      // a lost answer could hold a second licence until 4D expires the first one.
      request = { method: 'GET', path: '$info', headers, route: 'info', retry: 'login' };
    }
    const started = Date.now();
    const response = await http.send(request);
    const stack = parseStack(response);
    if (response.status === 402 || stack?.some((e) => e.errCode === 1823)) {
      throw await this.openBreaker(response.status, stack);
    }
    if (response.status === 401 || response.status === 403 || stack?.some((e) => e.errCode === 1822)) {
      throw new LegacyAPIAuthenticationError(
        `4D login failed for environment ${environment} (HTTP ${response.status}${stack?.[0]?.errCode ? `, errCode ${stack[0].errCode}` : ''})`,
        { environment, status: response.status, fourDErrors: stack },
      );
    }
    if (response.status < 200 || response.status >= 300 || stack?.length) {
      throw errorFromResponse(`4D login request failed for environment ${environment} (HTTP ${response.status})`, {
        status: response.status,
        stack,
        environment,
      });
    }
    if (request.route === 'login') {
      let result: unknown;
      try {
        result = (JSON.parse(response.body) as { result?: unknown }).result;
      } catch {
        throw new LegacyAPIDataError(`4D login answer for environment ${environment} is not JSON`, {
          environment,
          status: response.status,
        });
      }
      if (result !== true) {
        throw new LegacyAPIAuthenticationError(`4D login refused for environment ${environment} (result: ${JSON.stringify(result ?? null)})`, {
          environment,
          status: response.status,
          fourDErrors: [{ message: 'login failed', errCode: 1822 }],
        });
      }
    }
    const { cookies } = mergeCookies(guestCookies ?? {}, parseSetCookies(response.setCookies));
    if (Object.keys(cookies).length === 0) {
      throw new LegacyAPIAuthenticationError(
        `4D opened no session for environment ${environment}: the login answer set no cookie`,
        { environment, status: response.status },
      );
    }
    const now = Date.now();
    const session: StoredSession = { id: randomUUID(), cookies, createdAt: now, lastUsedAt: now };
    this.log.info(
      { sessionId: session.id, cookieNames: Object.keys(cookies), ms: now - started, auth: request.route },
      '4D session opened',
    );
    return session;
  }

  /**
   * Sends `request` with the session cookies, handling 401/403 (one re-login + one retry), 402
   * (breaker) and cookie rotation. Resolves with the answer for every other status.
   */
  async send(request: HttpRequest): Promise<HttpResponse> {
    let session = await this.acquire();
    for (let attempt = 1; ; attempt++) {
      const response = await this.options.http.send({
        ...request,
        headers: { ...request.headers, cookie: cookieHeader(session.cookies) },
      });
      const updates = parseSetCookies(response.setCookies);
      if (response.status === 401 || response.status === 403) {
        if (attempt >= 2) {
          throw new LegacyAPIAuthenticationError(
            `4D rejected the request with HTTP ${response.status} even after a new login: ${request.method} ${this.options.http.displayPath(request.path)}`,
            { environment: this.options.environment, status: response.status, table: request.table, fourDErrors: parseStack(response) },
          );
        }
        this.log.info(
          { sessionId: session.id, status: response.status },
          '4D rejected the session; logging in again',
        );
        // Whatever 4D just set (typically a new guest session) is what the login should upgrade.
        const guest: Record<string, string> = {};
        for (const [name, value] of updates) if (value !== null) guest[name] = value;
        if (this.local?.id === session.id) this.local = undefined;
        session = await this.refresh(session.id, Object.keys(guest).length ? guest : undefined);
        continue;
      }
      if (response.status === 402) {
        if (this.local?.id === session.id) this.local = undefined;
        throw await this.openBreaker(response.status, parseStack(response));
      }
      session = await this.afterSuccess(session, updates);
      return response;
    }
  }

  /** Records use of the session and writes rotated cookies back to the store. */
  private async afterSuccess(session: LocalSession, updates: Map<string, string | null>): Promise<LocalSession> {
    const now = Date.now();
    if (this.local && this.local.id !== session.id) {
      // The session was replaced while this request was in flight; a cookie change on this (older)
      // answer must not overwrite the newer session.
      return this.local;
    }
    const base = this.local ?? session;
    base.lastUsedAt = now;
    if (updates.size) {
      const { cookies, changed } = mergeCookies(base.cookies, updates);
      if (changed && Object.keys(cookies).length) {
        // 4D rotated the cookie on a successful answer: this is now the session everyone should use.
        const rotated: LocalSession = { id: randomUUID(), cookies, createdAt: base.createdAt, lastUsedAt: now };
        this.log.info(
          { sessionId: rotated.id, previousSessionId: base.id },
          '4D session cookie rotated',
        );
        await this.writeBack(base.id, rotated);
        return this.adopt(rotated);
      }
    }
    if (now - this.lastPersistedUse >= this.touchIntervalMs) {
      this.lastPersistedUse = now;
      // Fire and forget: the store write is not on the request's path.
      void this.writeBack(base.id, { ...base });
    }
    return base;
  }

  /**
   * Writes `session` to the store if the store still holds `expectedId` or nothing at all. Done under the lock so a concurrent login in another process is never overwritten;
   * skipped when the lock is busy (someone is refreshing anyway).
   */
  private async writeBack(expectedId: string, session: StoredSession): Promise<void> {
    const { store } = this.options;
    // A short TTL: a process dying here must not block other processes' logins for long.
    const token = await store.acquireLock(this.lockKey, Math.min(this.lockTtlMs, 5000));
    if (!token) return;
    try {
      const current = await store.get<StoredSession>(this.sessionKey);
      if (current && current.id !== expectedId) return;
      await store.set(this.sessionKey, session, this.options.sessionTimeoutMs);
    } finally {
      await store.releaseLock(this.lockKey, token);
    }
  }

  /** The `Cookie` header of the current session (opening one if needed). */
  async cookie(): Promise<string> {
    return cookieHeader((await this.acquire()).cookies);
  }

  private lastUse(session: StoredSession): number {
    return this.local?.id === session.id ? Math.max(session.lastUsedAt, this.local.lastUsedAt) : session.lastUsedAt;
  }

  /** Session and breaker state for diagnostics; no cookie values. */
  async state(): Promise<SessionState> {
    const now = Date.now();
    const stored = await this.options.store.get<StoredSession>(this.sessionKey);
    const breaker = await this.options.store.get<BreakerState>(this.breakerKey);
    const breakerUntil = Math.max(this.breakerUntil, breaker?.until ?? 0);
    const session = stored && this.usable(stored, undefined) ? stored : undefined;
    return {
      environment: this.options.environment,
      hasSession: !!session,
      sessionId: session?.id,
      ageSeconds: session ? Math.round((now - session.createdAt) / 1000) : undefined,
      idleSeconds: session ? Math.round((now - this.lastUse(session)) / 1000) : undefined,
      breakerOpenUntil: breakerUntil > now ? breakerUntil : undefined,
    };
  }
}

function parseStack(response: HttpResponse): FourDErrorEntry[] | undefined {
  if (!response.body) return undefined;
  try {
    return readErrorStack(JSON.parse(response.body));
  } catch {
    return undefined;
  }
}
