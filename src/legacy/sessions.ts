/**
 * One 4D session per environment, shared by every process through the {@link SessionStore}, and
 * the rules that keep the ERP's small licence pool from running dry (design.md "Licences";
 * protocol reference §5). The WSZ server runs legacy sessions: EVERY session holds a licence until
 * it expires or logs out, including the guest session 4D opens for a request whose cookie is dead.
 *
 * - Single-flight: a refresh (login) is one promise in a process and one lock holder across
 *   processes; the others adopt the session it stores. Nobody sends a data request without a session.
 * - Session loss (the shared session expired in 4D): each request in flight comes back either with a
 *   401 and a new guest session (its own cookie and licence) or, once those guests fill the pool,
 *   with a 402. Both join the one refresh and are retried once. The refresh logs in ON a guest 4D
 *   handed us (upgrading it costs no further licence); every other guest is logged out at once; a
 *   process that cannot take the lock logs its guests out so the lock holder's login finds room.
 *   When a 402 comes first, the refresh waits (bounded) for the other answers of the dead session,
 *   which may bring a guest. A 401 that sets no cookie re-logs in on the old cookies.
 * - A dead session is marked dead in the store (a tombstone), so other processes stop using it.
 * - Breaker: only a 402 to the login itself opens it (for `breakerMs`, shared through the store).
 *   While it is open and no live session is held, nothing goes upstream: calls fail fast with
 *   {@link LegacySessionLimitError} and `retryAfterMs`. When it half-opens, the one lock holder of
 *   the deployment makes one login. During a loss recovery a login refused with 402 is retried a
 *   few times first (other processes may still be logging their guests out).
 * - A session idle for longer than `sessionTimeoutMs` (just under 4D's) is refreshed on its old
 *   cookies before use; a store miss (flush, Redis outage) keeps the live local copy: an outage never
 *   turns into a login per replica.
 * - Sessions are stored under a fingerprint of environment, server, user, auth mode and a one-way
 *   hash of the password ({@link sessionFingerprint}).
 * - Time comes from the injected clock `now`, so expiry and breaker tests need no sleeping.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { LegacyAPIAuthenticationError, LegacyAPIConnectionError } from './errors.js';
import { cookieHeader, hasCookies, newSessionCookies, parseSetCookies, type CookieJar } from './cookies.js';
import type { HttpRequest, HttpResponse } from './http.js';
import { SessionBreaker } from './session-breaker.js';
import {
  StaleSession,
  isTombstone,
  sleep,
  within,
  type LocalSession,
  type Refresh,
  type SessionEvent,
  type SessionManagerOptions,
  type SessionState,
  type Stored,
  type StoredTombstone,
} from './session-types.js';
import type { SessionStore, StoredSession } from './session-store.js';
import {
  LoginRefusedNoLicence,
  login,
  logout,
  parseStack,
  serverId,
  sessionFingerprint,
} from './session-login.js';

export type { SessionCredentials } from './session-login.js';
export type { SessionEvent, SessionManagerOptions, SessionState } from './session-types.js';
export { cookieHeader, mergeCookies, parseSetCookies } from './cookies.js';

const DEAD_IDS_KEPT = 64;
/** At close: how long to wait for a login still running, and for logouts. */
const CLOSE_WAIT_MS = 250;
const CLOSE_LOGOUT_MS = 1000;
/** Times a request may find its session died while it waited for a slot before it gives up. */
const STALE_RETRIES = 3;

/** Session manager of one environment. */
export class SessionManager {
  private local: LocalSession | undefined;
  private localCheckedAt = 0;
  private lastPersistedUse = 0;
  private refreshing: Refresh | undefined;
  private readonly breaker: SessionBreaker;
  private readonly dead = new Set<string>();
  /** HTTP requests in flight per session id, and who waits for them to settle. */
  private readonly inFlight = new Map<string, number>();
  private readonly settleWaiters = new Set<() => void>();
  private readonly releases = new Set<Promise<unknown>>();
  private readonly now: () => number;
  private readonly revalidateMs: number;
  private readonly pollMs: number;
  private readonly lockTtlMs: number;
  private readonly touchIntervalMs: number;
  private readonly guestWaitMs: number;
  private keys: { session: string; lock: string; breaker: string } | undefined;

  constructor(private readonly options: SessionManagerOptions) {
    this.now = options.now ?? Date.now;
    this.revalidateMs = options.revalidateMs ?? 1000;
    this.pollMs = options.pollMs ?? 50;
    this.lockTtlMs = options.loginBudgetMs + 5000;
    this.touchIntervalMs = Math.max(1000, Math.min(60_000, options.sessionTimeoutMs / 10));
    this.guestWaitMs = options.guestWaitMs ?? 2000;
    this.breaker = new SessionBreaker({
      environment: options.environment,
      store: options.store,
      key: () => this.key.breaker,
      breakerMs: options.breakerMs,
      now: this.now,
      logger: options.logger,
      onOpen: () => this.emit('breakerOpened'),
    });
  }

  private get log(): Logger {
    return this.options.logger;
  }

  private get environment(): string {
    return this.options.environment;
  }

  /** Store keys; computed on first use (the password hash costs a few ms of CPU). */
  private get key(): { session: string; lock: string; breaker: string } {
    if (!this.keys) {
      const { http, credentials } = this.options;
      const server = `${http.origin}${http.restRoot}`;
      const fingerprint = sessionFingerprint(this.environment, server, credentials, http.urlCredentials);
      this.keys = {
        session: `session:${this.environment}:${fingerprint}`,
        lock: `session:${this.environment}:${fingerprint}`,
        breaker: `breaker:${this.environment}:${serverId(server)}`,
      };
    }
    return this.keys;
  }

  private emit(event: SessionEvent): void {
    try {
      this.options.onEvent?.(event, this.environment);
    } catch {
      // A metrics callback must never break a request.
    }
  }

  private lastUse(session: StoredSession): number {
    return this.local?.id === session.id ? Math.max(session.lastUsedAt, this.local.lastUsedAt) : session.lastUsedAt;
  }

  private isIdleExpired(session: StoredSession, now = this.now()): boolean {
    return now - this.lastUse(session) > this.options.sessionTimeoutMs;
  }

  /** A session we may send requests with: not dead, not idle-expired, with cookies. */
  private usable(session: Stored | undefined, staleId?: string): boolean {
    return (
      !!session &&
      !isTombstone(session) &&
      typeof session.id === 'string' &&
      session.id !== staleId &&
      !this.dead.has(session.id) &&
      hasCookies(session.cookies) &&
      !this.isIdleExpired(session)
    );
  }

  private markDead(id: string): void {
    this.dead.add(id);
    if (this.dead.size > DEAD_IDS_KEPT) this.dead.delete(this.dead.values().next().value as string);
    if (this.local?.id === id) this.local = undefined;
  }

  private adopt(session: StoredSession): LocalSession {
    const copy: LocalSession = { ...session, cookies: { ...session.cookies } };
    this.local = copy;
    this.localCheckedAt = Date.now();
    this.lastPersistedUse = Math.max(this.lastPersistedUse, session.lastUsedAt);
    return copy;
  }

  // ---------------------------------------------------------------------------------------------
  // Acquiring a session

  /** The current session, opening one (single-flight) when there is none or it is idle-expired. */
  async acquire(): Promise<LocalSession> {
    const local = this.usable(this.local) ? this.local : undefined;
    // Revalidation is about noticing other processes' writes: real time, not the session clock.
    if (local && Date.now() - this.localCheckedAt < this.revalidateMs) return local;
    // Breaker open and nothing alive to send with: not a single request upstream.
    if (!local && this.breaker.remainingMs() > 0) throw this.breaker.error(this.breaker.remainingMs(), 'breaker open');
    const stored = await this.options.store.get<Stored>(this.key.session);
    // A 401 on another request may have marked it dead while the store answered.
    if (local && this.dead.has(local.id)) return this.acquire();
    if (local && isTombstone(stored) && stored.id === local.id) {
      // Another process saw our session die.
      this.markDead(local.id);
    } else if (local && (!stored || stored.id === local.id || !this.usable(stored))) {
      // Same session, or a store miss (TTL, flush, Redis outage): a miss is no reason to log in
      // again while our copy is alive; put it back. A dead copy is caught by the next 401.
      this.localCheckedAt = Date.now();
      if (!stored) void this.writeBack(local.id, { ...local });
      return local;
    }
    if (this.usable(stored)) return this.adopt(stored!);
    if (!this.local) await this.breaker.check();
    // Idle-expired (by our clock, just under 4D's): log in on the old cookies. If 4D still holds
    // that session, the login re-authenticates it on the licence it already has; if 4D dropped
    // it, 4D opens one session for the login. A cookie-less login here would need a second
    // licence while the old session lives on for its last minutes (402 on a full pool).
    const previous = this.local ?? stored;
    return this.refresh(previous ? { ...previous, cookies: { ...previous.cookies } } : undefined, undefined, false);
  }

  /**
   * Replaces the session `stale` (or opens the first one). Single-flight in this process (a
   * caller arriving during a refresh offers its guest and waits for the same result); across
   * processes through the store lock.
   */
  private async refresh(stale: LocalSession | undefined, guest: Record<string, string> | undefined, recovering: boolean): Promise<LocalSession> {
    const running = this.refreshing;
    if (running) {
      if (guest) await this.offer(running, guest);
      return running.promise!;
    }
    const state: Refresh = { stale, recovering, guests: guest ? [guest] : [], closed: false };
    this.refreshing = state;
    state.promise = this.refreshAcrossProcesses(state).finally(() => {
      state.closed = true;
      if (this.refreshing === state) this.refreshing = undefined;
      // Not awaited: the new session is usable now; `close()` waits for these logouts.
      void this.releaseGuests(state.guests.splice(0));
    });
    return state.promise;
  }

  /** Gives a guest session to a running refresh, or ends it when the refresh is past using it. */
  private async offer(state: Refresh, guest: Record<string, string>): Promise<void> {
    if (state.closed) {
      void this.releaseGuests([guest]);
      return;
    }
    state.guests.push(guest);
    this.notifySettle();
  }

  private async refreshAcrossProcesses(state: Refresh): Promise<LocalSession> {
    const { store } = this.options;
    const staleId = state.stale?.id;
    // Real time: this waits for another process's I/O, not for session time.
    const deadline = Date.now() + this.lockTtlMs + this.options.requestTimeoutMs;
    for (;;) {
      const current = await store.get<Stored>(this.key.session);
      if (this.usable(current, staleId)) return this.adopt(current!);
      const token = await store.acquireLock(this.key.lock, this.lockTtlMs);
      if (token) {
        try {
          // Double-check under the lock: another process may have just written a fresh session.
          const again = await store.get<Stored>(this.key.session);
          if (this.usable(again, staleId)) return this.adopt(again!);
          if (again && !isTombstone(again) && again.id === staleId && state.recovering) {
            // Tell the other processes before anything else: nobody sends with it any more.
            // Its cookies stay: a later login on them re-authenticates the session if 4D still has it.
            await store.set<StoredTombstone>(this.key.session, { ...again, dead: true }, this.options.sessionTimeoutMs);
          }
          await this.breaker.check();
          const session = await this.loginForRefresh(state);
          await store.set<StoredSession>(this.key.session, session, this.options.sessionTimeoutMs);
          this.lastPersistedUse = session.lastUsedAt;
          return this.adopt(session);
        } finally {
          await store.releaseLock(this.key.lock, token);
        }
      }
      // Another process is logging in. Our guests are of no use to us; ending them now frees the
      // licences its login may need.
      await this.releaseGuests(state.guests.splice(0));
      await this.breaker.check();
      if (Date.now() > deadline) {
        throw new LegacyAPIConnectionError(`Timed out waiting for another process to open the 4D session of environment ${this.environment}`, {
          environment: this.environment,
          timeout: true,
        });
      }
      await sleep(this.pollMs / 2 + Math.random() * this.pollMs);
    }
  }

  /** The login of a refresh: on a guest 4D handed us if there is one, else on the old cookies. */
  private async loginForRefresh(state: Refresh): Promise<LocalSession> {
    if (state.recovering && state.guests.length === 0 && state.stale) {
      // A 402 came first: the dead session's other answers are still arriving, and a 401 among
      // them carries a guest session that already holds a licence.
      await this.settle(state.stale.id, state);
    }
    // During a recovery a 402 may only mean that our guests (here or in another process) are still
    // being logged out: keep trying, with backoff, for a bounded time before opening the breaker.
    const recoverUntil = Date.now() + this.guestWaitMs + 2000;
    for (let attempt = 1; ; attempt++) {
      const guest = state.guests.shift();
      const cookies: CookieJar | undefined = guest ?? (hasCookies(state.stale?.cookies) ? state.stale.cookies : undefined);
      const started = this.now();
      try {
        const opened = await login(this.options.http, this.environment, this.options.credentials, cookies, (orphan) => {
          void this.releaseGuests([orphan]);
        });
        const now = this.now();
        const session: LocalSession = { id: randomUUID(), cookies: opened.cookies, createdAt: now, lastUsedAt: now };
        this.emit('login');
        this.log.info(
          { sessionId: session.id, cookieNames: Object.keys(opened.cookies), ms: now - started, auth: opened.route, onGuest: !!guest },
          '4D session opened',
        );
        return session;
      } catch (error) {
        this.emit('loginRefused');
        // A guest the login could not use (refused, timed out, lost) would hold its licence for an hour.
        if (guest) void this.releaseGuests([guest]);
        if (!(error instanceof LoginRefusedNoLicence)) throw error;
        if (state.recovering && Date.now() < recoverUntil) {
          this.log.info({ attempt }, '4D refused the login for want of a licence while guest sessions are being ended; trying again');
          await sleep(Math.min(100 * 2 ** (attempt - 1), 500));
          continue;
        }
        throw await this.breaker.open(error.status, error.fourDErrors);
      }
    }
  }

  /** Waits until the requests sent with `sessionId` have all answered, a guest arrived, or `guestWaitMs`. */
  private async settle(sessionId: string, state: Refresh): Promise<void> {
    const until = Date.now() + this.guestWaitMs;
    while (state.guests.length === 0 && (this.inFlight.get(sessionId) ?? 0) > 0 && Date.now() < until) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.max(1, until - Date.now()));
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.settleWaiters.add(done);
      });
    }
    // Answers that just arrived offer their guest a few microtasks later.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  private notifySettle(): void {
    const waiters = [...this.settleWaiters];
    this.settleWaiters.clear();
    for (const w of waiters) w();
  }

  /** Ends guest sessions we will not use (`$directory/logout` with each one's cookie). */
  private async releaseGuests(guests: Record<string, string>[]): Promise<void> {
    if (guests.length === 0) return;
    await Promise.all(
      guests.map((cookies) => {
        const ending = logout(this.options.http, cookies).then(
          (ok) => {
            this.emit('guestEnded');
            this.log.debug({ ok }, '4D guest session ended');
          },
          (error: unknown) => this.log.warn({ err: (error as Error).message }, 'could not end a 4D guest session; it holds a licence until 4D expires it'),
        );
        this.releases.add(ending);
        return ending.finally(() => this.releases.delete(ending));
      }),
    );
  }

  // ---------------------------------------------------------------------------------------------
  // Sending

  /**
   * One HTTP request with the session's cookies, counted as in flight on that session once it is
   * actually sent. A request that waited for a slot while its session died is not sent
   * ({@link StaleSession}).
   */
  private async transmit(session: LocalSession, request: HttpRequest): Promise<HttpResponse> {
    let counted = false;
    try {
      return await this.options.http.send({
        ...request,
        beforeSend: () => {
          if (this.dead.has(session.id)) throw new StaleSession();
          if (!counted) {
            counted = true;
            this.inFlight.set(session.id, (this.inFlight.get(session.id) ?? 0) + 1);
          }
          return { cookie: cookieHeader(session.cookies) };
        },
      });
    } finally {
      if (counted) {
        const left = (this.inFlight.get(session.id) ?? 1) - 1;
        if (left > 0) this.inFlight.set(session.id, left);
        else this.inFlight.delete(session.id);
        this.notifySettle();
      }
    }
  }

  /**
   * Sends `request` with the session cookies. A 401/403 or a 402 on our cookie means the session
   * is gone: the request joins the one refresh and is retried once. Resolves with the answer for
   * every other status.
   */
  async send(request: HttpRequest): Promise<HttpResponse> {
    const held = this.local?.id;
    let session = await this.acquire();
    let stale = 0;
    for (let attempt = 1; ; attempt++) {
      let response: HttpResponse;
      try {
        response = await this.transmit(session, { ...request, sessionReused: attempt === 1 && session.id === held });
      } catch (error) {
        if (!(error instanceof StaleSession) || ++stale > STALE_RETRIES) throw error;
        // Its session died while it waited for a slot: take the current one (or fail fast if none).
        session = await this.acquire();
        attempt--;
        continue;
      }
      const updates = parseSetCookies(response.setCookies, this.now());
      const rejected = response.status === 401 || response.status === 403;
      if (rejected || response.status === 402) {
        // 4D opened a session for this request (our cookie was dead): a guest holding a licence.
        const guest = newSessionCookies(session.cookies, updates);
        if (attempt >= 2) {
          if (guest) await this.releaseGuests([guest]);
          if (!rejected) {
            throw this.breaker.error(this.options.breakerMs, 'the new session was refused too', response.status, parseStack(response));
          }
          throw new LegacyAPIAuthenticationError(
            `4D rejected the request with HTTP ${response.status} even after a new login: ${request.method} ${this.options.http.displayPath(request.path)}`,
            { environment: this.environment, status: response.status, table: request.table, fourDErrors: parseStack(response) },
          );
        }
        session = await this.recover(session, guest, response.status);
        continue;
      }
      session = await this.afterSuccess(session, updates);
      return response;
    }
  }

  /** The session `lost` was refused by 4D: returns the session to retry with (one refresh for all). */
  private async recover(lost: LocalSession, guest: Record<string, string> | undefined, status: number): Promise<LocalSession> {
    if (!this.dead.has(lost.id)) {
      this.emit('sessionLost');
      this.log.info({ sessionId: lost.id, status }, '4D no longer knows the session; logging in again');
    }
    this.markDead(lost.id);
    if (this.local && this.usable(this.local)) {
      // A refresh already replaced it while this request was in flight.
      if (guest) await this.releaseGuests([guest]);
      return this.local;
    }
    if (!this.refreshing && this.breaker.remainingMs() > 0) {
      if (guest) await this.releaseGuests([guest]);
      throw this.breaker.error(this.breaker.remainingMs(), 'breaker open');
    }
    return this.refresh(lost, guest, true);
  }

  /** Records use of the session and writes rotated cookies back to the store. */
  private async afterSuccess(session: LocalSession, updates: Map<string, string | null>): Promise<LocalSession> {
    const now = this.now();
    if (this.local && this.local.id !== session.id) {
      // The session was replaced while this request was in flight; a cookie change on this (older)
      // answer must not overwrite the newer session.
      return this.local;
    }
    const base = this.local ?? session;
    base.lastUsedAt = now;
    const fresh = newSessionCookies(base.cookies, updates);
    if (fresh) {
      // 4D set other session cookies on an answer it served (a route open to guests, such as
      // $catalog): our session is gone and this is a guest. Log in on it in the background; the
      // answer itself is good.
      void this.recover(base, fresh, 200).catch((error: unknown) => {
        this.log.warn({ err: (error as Error).message }, 'could not replace the 4D session after 4D issued a new cookie');
      });
      return base;
    }
    if (now - this.lastPersistedUse >= this.touchIntervalMs) {
      this.lastPersistedUse = now;
      // Fire and forget: the store write is not on the request's path.
      void this.writeBack(base.id, { ...base });
    }
    return base;
  }

  /**
   * Writes `session` to the store if the store still holds `expectedId` or nothing at all. Done under
   * the lock so a concurrent login in another process is never overwritten; skipped when the lock
   * is busy (someone is refreshing anyway).
   */
  private async writeBack(expectedId: string, session: StoredSession): Promise<void> {
    const { store } = this.options;
    // Never compete with our own refresh for the lock, nor write back a session known dead.
    if (this.refreshing || this.dead.has(expectedId)) return;
    // A short TTL: a process dying here must not block other processes' logins for long.
    const token = await store.acquireLock(this.key.lock, Math.min(this.lockTtlMs, 5000));
    if (!token) return;
    try {
      const current = await store.get<Stored>(this.key.session);
      if (current && current.id !== expectedId) return;
      if (isTombstone(current)) return;
      await store.set(this.key.session, session, this.options.sessionTimeoutMs);
    } finally {
      await store.releaseLock(this.key.lock, token);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Diagnostics and ending

  /** The `Cookie` header of the current session (opening one if needed). */
  async cookie(): Promise<string> {
    return cookieHeader((await this.acquire()).cookies);
  }

  /**
   * Ends the session this environment uses (`$directory/logout`) and removes it from the store, so
   * the next call logs in again. Resolves `false` when there was no live session to end.
   */
  async logout(): Promise<boolean> {
    const stored = await this.options.store.get<Stored>(this.key.session);
    // Ours even when idle by our clock (4D may still hold it for its last minutes), else the stored one.
    const local = this.local && !this.dead.has(this.local.id) ? this.local : undefined;
    const session = local ?? (this.usable(stored) ? (stored as StoredSession) : undefined);
    if (!session) return false;
    this.markDead(session.id);
    const token = await this.options.store.acquireLock(this.key.lock, 5000);
    try {
      const current = await this.options.store.get<Stored>(this.key.session);
      // A tombstone, not a delete: another process reading a miss would write its copy back.
      if (current?.id === session.id) {
        // Without its cookies: 4D ended it, nobody will log in on them.
        await this.options.store.set<StoredTombstone>(this.key.session, { ...session, cookies: {}, dead: true }, this.options.sessionTimeoutMs);
      }
    } finally {
      if (token) await this.options.store.releaseLock(this.key.lock, token);
    }
    const ok = await logout(this.options.http, session.cookies);
    this.emit('logout');
    this.log.info({ sessionId: session.id, ok }, '4D session logged out');
    return ok;
  }

  /**
   * Called when the client closes. A session that only this process knows (a store no other
   * process reads) is logged out, since no one else could ever use its licence; a shared one is
   * left for the others. Pending guest logouts are awaited.
   */
  async close(): Promise<void> {
    // A login about to finish would open a session nobody logs out; but a shutdown must not wait
    // on a slow ERP, so the wait is short (a login that takes longer is logged and left to expire).
    const refreshing = this.refreshing?.promise?.catch(() => undefined);
    if (refreshing && (await within(refreshing.then(() => true), CLOSE_WAIT_MS)) === 'timeout') {
      this.log.warn('a 4D login was still running at shutdown; its session stays open until 4D expires it');
    }
    await within(Promise.allSettled([...this.releases]), CLOSE_LOGOUT_MS);
    const local = this.local;
    if (this.options.store.shared || !local || this.dead.has(local.id)) return;
    try {
      const ended = await within(this.logout(), CLOSE_LOGOUT_MS);
      if (ended === 'timeout') this.log.warn('4D did not confirm the logout at shutdown in time; the session expires on its own');
    } catch (error) {
      this.log.warn({ err: (error as Error).message }, 'could not log out the 4D session at shutdown');
    }
  }

  /** Session and breaker state for diagnostics; no cookie values. */
  async state(): Promise<SessionState> {
    const now = this.now();
    const stored = await this.options.store.get<Stored>(this.key.session);
    const breakerOpenUntil = await this.breaker.openUntil();
    const session = this.usable(stored) ? stored : this.usable(this.local) && !isTombstone(stored) ? this.local : undefined;
    return {
      environment: this.environment,
      hasSession: !!session,
      sessionId: session?.id,
      ageSeconds: session ? Math.round((now - session.createdAt) / 1000) : undefined,
      idleSeconds: session ? Math.round((now - this.lastUse(session)) / 1000) : undefined,
      breakerOpenUntil,
    };
  }
}
