/**
 * The emulator's session and licence model (protocol reference §5).
 *
 * - Every REST request that arrives without a valid session cookie opens a *guest* session and gets
 *   both cookies (`WASID4D` and `4DSID_<appName>`, two different 32-hex values).
 * - Licences (§5.3/§5.4), by {@link LicenceMode}: in `every-session` mode (legacy `WASID4D` sessions,
 *   as the WSZ server runs them; the default) EVERY session takes a licence when it opens, guests
 *   included, and a request that would open one on a full pool fails with HTTP 402 / errCode 1823
 *   and gets no session; authenticating a session then costs nothing more. In `force-login` mode
 *   guests are free and *authenticating* a session (`$directory/login` or HTTP Basic) takes the
 *   licence (402 when the pool is full).
 * - A session expires after `idleSeconds` without a request (checked lazily against the injectable
 *   clock); expiry, logout and {@link SessionManager.expireAll} free the licence. An expired cookie is
 *   treated exactly like an unknown one, so the next request silently gets a fresh guest session.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { formatSetCookie, parseCookies } from './http/cookies.js';

/** Who pays a licence: every session (legacy sessions, default) or only authenticated ones. */
export type LicenceMode = 'every-session' | 'force-login';

/** One emulated 4D session. */
export interface Session {
  /** Value of the `WASID4D` cookie. */
  readonly wasid: string;
  /** Value of the `4DSID_<appName>` cookie. */
  readonly sid: string;
  authenticated: boolean;
  /** Holds one licence of the pool (until it expires or logs out). */
  licensed: boolean;
  userName: string | null;
  readonly createdAt: number;
  lastSeen: number;
  /** Inactivity timeout in seconds. */
  lifetimeSeconds: number;
}

export interface SessionManagerOptions {
  /** Licence pool size (licensed sessions at once). */
  poolSize: number;
  /** Which sessions take a licence. */
  licenceMode: LicenceMode;
  /** Default inactivity timeout in seconds. */
  idleSeconds: number;
  /** Name used in the `4DSID_<appName>` cookie. */
  appName: string;
  /** Accepted credentials, user name → password. */
  users: Record<string, string>;
  /** Clock in epoch milliseconds. */
  now: () => number;
}

/** Result of looking up the session of a request from its cookies. */
export interface SessionLookup {
  session?: Session;
  /** Two different values for one session cookie, or cookies naming two different sessions. */
  conflict: boolean;
}

/** Unlicensed guest sessions kept at most (`force-login` mode); the oldest are dropped beyond this. */
const MAX_GUEST_SESSIONS = 10_000;
const SWEEP_INTERVAL_MS = 10_000;

function newId(): string {
  return randomBytes(16).toString('hex').toUpperCase();
}

function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

/** Holds the sessions and the licence pool. */
export class SessionManager {
  readonly wasidCookie = 'WASID4D';
  readonly sidCookie: string;
  private readonly byWasid = new Map<string, Session>();
  private readonly bySid = new Map<string, Session>();
  private poolSize: number;
  private lastSweep: number;

  constructor(private readonly opts: SessionManagerOptions) {
    this.sidCookie = `4DSID_${opts.appName}`;
    this.poolSize = opts.poolSize;
    this.lastSweep = opts.now();
  }

  /** Finds the live session named by the request's cookies, dropping expired ones on the way. */
  lookup(cookieHeader: string | string[] | undefined): SessionLookup {
    this.maybeSweep();
    const cookies = parseCookies(cookieHeader);
    const wasids = [...new Set(cookies.get(this.wasidCookie) ?? [])];
    const sids = [...new Set(cookies.get(this.sidCookie) ?? [])];
    if (wasids.length > 1 || sids.length > 1) return { conflict: true };
    const a = wasids[0] !== undefined ? this.live(this.byWasid.get(wasids[0])) : undefined;
    const b = sids[0] !== undefined ? this.live(this.bySid.get(sids[0])) : undefined;
    if (a && b && a !== b) return { conflict: true };
    return { session: a ?? b, conflict: false };
  }

  /**
   * Opens a guest session; in `every-session` mode it takes a licence, and `undefined` means the
   * pool is full (no session was opened).
   */
  open(): Session | undefined {
    const licensed = this.opts.licenceMode === 'every-session';
    if (licensed && this.activeCount() >= this.poolSize) return undefined;
    const now = this.opts.now();
    const session: Session = {
      wasid: newId(),
      sid: newId(),
      authenticated: false,
      licensed,
      userName: null,
      createdAt: now,
      lastSeen: now,
      lifetimeSeconds: this.opts.idleSeconds,
    };
    this.byWasid.set(session.wasid, session);
    this.bySid.set(session.sid, session);
    if (this.byWasid.size > MAX_GUEST_SESSIONS) this.dropOldestGuest();
    return session;
  }

  /** `true` when the user name and password match a configured user. */
  checkCredentials(user: string | undefined, password: string | undefined): user is string {
    if (user === undefined || password === undefined) return false;
    const expected = Object.prototype.hasOwnProperty.call(this.opts.users, user) ? this.opts.users[user] : undefined;
    // Compare even when the user is unknown, so timing does not reveal user names.
    const ok = safeEqual(password, expected ?? '\u0000no-such-user');
    return ok && expected !== undefined;
  }

  /**
   * Authenticates a session as `user`, taking a licence unless it already holds one.
   * Returns `false` when the licence pool is full (the session stays a guest).
   */
  authenticate(session: Session, user: string, lifetimeSeconds?: number): boolean {
    if (!session.licensed) {
      if (this.activeCount() >= this.poolSize) return false;
      session.licensed = true;
    }
    session.authenticated = true;
    session.userName = user;
    if (lifetimeSeconds !== undefined) session.lifetimeSeconds = lifetimeSeconds;
    session.lastSeen = this.opts.now();
    return true;
  }

  /** Ends a session and frees its licence. */
  end(session: Session): void {
    this.byWasid.delete(session.wasid);
    this.bySid.delete(session.sid);
    session.authenticated = false;
    session.licensed = false;
  }

  /** Marks activity on a session (restarts its inactivity countdown). */
  touch(session: Session): void {
    if (this.byWasid.get(session.wasid) === session) session.lastSeen = this.opts.now();
  }

  /** The two `Set-Cookie` values for a session. */
  setCookies(session: Session): string[] {
    return [
      formatSetCookie(this.wasidCookie, session.wasid, session.lifetimeSeconds),
      formatSetCookie(this.sidCookie, session.sid, session.lifetimeSeconds),
    ];
  }

  /** Number of sessions holding a licence (not expired). */
  activeCount(): number {
    this.sweep();
    let n = 0;
    for (const s of this.byWasid.values()) if (s.licensed) n++;
    return n;
  }

  /** Every live session (for `$info`). */
  list(): Session[] {
    this.sweep();
    return [...this.byWasid.values()];
  }

  /** Changes the licence pool size; sessions above a lowered limit keep running until they end. */
  setLimit(n: number): void {
    this.poolSize = n;
  }

  get limit(): number {
    return this.poolSize;
  }

  /** Ends every session (as a server restart would). */
  expireAll(): void {
    for (const s of [...this.byWasid.values()]) this.end(s);
  }

  private expired(s: Session): boolean {
    return this.opts.now() - s.lastSeen >= s.lifetimeSeconds * 1000;
  }

  private live(s: Session | undefined): Session | undefined {
    if (!s) return undefined;
    if (this.expired(s)) {
      this.end(s);
      return undefined;
    }
    return s;
  }

  private maybeSweep(): void {
    if (this.opts.now() - this.lastSweep >= SWEEP_INTERVAL_MS) this.sweep();
  }

  private sweep(): void {
    this.lastSweep = this.opts.now();
    for (const s of [...this.byWasid.values()]) this.live(s);
  }

  private dropOldestGuest(): void {
    for (const s of this.byWasid.values()) {
      if (!s.licensed) {
        this.end(s);
        return;
      }
    }
  }
}
