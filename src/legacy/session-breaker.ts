/**
 * The licence breaker of one environment (design.md "Licences"): opened when 4D refuses a LOGIN
 * for want of a licence (402), for `breakerMs`, and shared through the session store so every
 * process backs off. While it is open and no live session is held, nothing goes upstream.
 */
import type { Logger } from 'pino';
import { LegacySessionLimitError, type FourDErrorEntry } from './errors.js';
import type { SessionStore } from './session-store.js';

interface BreakerState {
  until: number;
}

/** Options of {@link SessionBreaker}. */
export interface SessionBreakerOptions {
  environment: string;
  store: SessionStore;
  /** Store key of the shared state. */
  key: () => string;
  breakerMs: number;
  /** Clock in epoch ms. */
  now: () => number;
  logger: Logger;
  /** Called when it opens. */
  onOpen: () => void;
}

export class SessionBreaker {
  private until = 0;

  constructor(private readonly options: SessionBreakerOptions) {}

  /** Milliseconds it stays open as this process knows it (0 when closed); no store read. */
  remainingMs(): number {
    return Math.max(0, this.until - this.options.now());
  }

  /** Throws {@link LegacySessionLimitError} when it is open here or in the store. */
  async check(): Promise<void> {
    const now = this.options.now();
    if (this.until <= now) {
      const shared = await this.options.store.get<BreakerState>(this.options.key());
      if (shared && typeof shared.until === 'number' && shared.until > now) this.until = shared.until;
    }
    if (this.until > now) throw this.error(this.until - now, 'breaker open');
  }

  /** Opens it for `breakerMs` (here and in the store) and returns the error to throw. */
  async open(status: number, stack: FourDErrorEntry[] | undefined): Promise<LegacySessionLimitError> {
    const { breakerMs } = this.options;
    this.until = Math.max(this.until, this.options.now() + breakerMs);
    await this.options.store.set<BreakerState>(this.options.key(), { until: this.until }, breakerMs);
    this.options.onOpen();
    this.options.logger.warn({ breakerMs }, '4D refused a login: no licence left (402); session breaker opened');
    return this.error(breakerMs, 'breaker opened', status, stack);
  }

  /** Epoch ms until which it is open (here or in the store), or `undefined`. */
  async openUntil(): Promise<number | undefined> {
    const shared = await this.options.store.get<BreakerState>(this.options.key());
    const until = Math.max(this.until, shared?.until ?? 0);
    return until > this.options.now() ? until : undefined;
  }

  /** The error of a call refused for want of a licence. */
  error(retryAfterMs: number, why: string, status?: number, stack?: FourDErrorEntry[]): LegacySessionLimitError {
    const { environment } = this.options;
    return new LegacySessionLimitError(
      `4D has no free session/licence (HTTP 402, errCode 1823) for environment ${environment}; ` +
        `${why}: try again in ${Math.ceil(retryAfterMs / 1000)} s`,
      { environment, retryAfterMs, status, fourDErrors: stack },
    );
  }
}
