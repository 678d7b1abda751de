/**
 * The types of the session manager (`sessions.ts`): its options and state, what it keeps in the
 * store (a live session or the tombstone of a dead one), and small helpers it needs.
 */
import type { SessionCredentials } from './session-login.js';
import type { HttpTransport } from './http.js';
import type { Logger } from 'pino';
import type { SessionStore, StoredSession } from './session-store.js';

/** Session events, for metrics and tests. */
export type SessionEvent = 'login' | 'loginRefused' | 'guestEnded' | 'breakerOpened' | 'sessionLost' | 'logout';

/** Options of {@link SessionManager}. */
export interface SessionManagerOptions {
  environment: string;
  http: HttpTransport;
  store: SessionStore;
  logger: Logger;
  credentials: SessionCredentials;
  /** Idle time after which a stored session is refreshed proactively. */
  sessionTimeoutMs: number;
  /** How long the breaker stays open after a login refused with 402. */
  breakerMs: number;
  /** Per-request timeout (sizes the cross-process lock). */
  requestTimeoutMs: number;
  /** Total time a login may take including retries (sizes the lock TTL). */
  loginBudgetMs: number;
  /** Clock in epoch ms. Default `Date.now`. */
  now?: () => number;
  /** How long a process's local copy is trusted before re-reading the store. Default 1000. */
  revalidateMs?: number;
  /** Polling interval while another process logs in. Default 50. */
  pollMs?: number;
  /**
   * With no guest session to log in on, how long a refresh waits for the dead session's other
   * answers (a 401 among them brings one). Default 2000.
   */
  guestWaitMs?: number;
  /** Called for every session event (metrics). Default none. */
  onEvent?: (event: SessionEvent, environment: string) => void;
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

/** The stored record of a session known dead (its id only, so stale copies are recognised). */
export interface StoredTombstone {
  readonly id: string;
  readonly dead: true;
  readonly cookies: Readonly<Record<string, string>>;
  readonly createdAt: number;
  readonly lastUsedAt: number;
}

export type Stored = StoredSession | StoredTombstone;

export type LocalSession = { -readonly [K in keyof StoredSession]: StoredSession[K] };

/** One refresh in flight in this process, and the guest sessions offered to it meanwhile. */
export interface Refresh {
  readonly stale: LocalSession | undefined;
  /** `true` when the session was lost under load (401/402), not merely idle. */
  readonly recovering: boolean;
  readonly guests: Record<string, string>[];
  closed: boolean;
  promise?: Promise<LocalSession>;
}

/** Internal: the session a request was about to use died while it waited in the queue. */
export class StaleSession extends Error {
  constructor() {
    super('the session died before the request was sent');
  }
}
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `promise`'s value, or `'timeout'` after `ms` (the timer never keeps the process alive). */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
    timer.unref();
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function isTombstone(value: Stored | undefined): value is StoredTombstone {
  return !!value && (value as { dead?: unknown }).dead === true;
}

