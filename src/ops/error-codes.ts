/**
 * Counts the `extensions.code` of the errors GraphQL answers carry, for the status page: codes
 * only, never messages (a message may quote input or, outside production, 4D's own text).
 * In memory, not a metric: the counts since start and the codes of the last few minutes.
 */
import type { ApolloServerPlugin } from '@apollo/server';

/** Options of {@link createErrorCodes}. */
export interface ErrorCodesOptions {
  /** How far back `recent` looks; default 300000 ms (5 minutes). */
  readonly windowMs?: number;
  /** Most timestamps kept for `recent`; default 5000. */
  readonly maxEvents?: number;
  /** Clock (epoch ms); default `Date.now`. */
  readonly now?: () => number;
}

export interface ErrorCodeCounts {
  /** Errors per code since the process started. */
  readonly total: Readonly<Record<string, number>>;
  /** Errors per code within the last `windowSeconds`. */
  readonly recent: Readonly<Record<string, number>>;
  readonly windowSeconds: number;
}

export interface ErrorCodes {
  /** Apollo Server plugin that records the codes of every answer's errors. */
  readonly plugin: ApolloServerPlugin;
  record(code: string): void;
  counts(): ErrorCodeCounts;
}

/** A code is shown as sent only when it looks like one (`UPPER_SNAKE`); anything else is `OTHER`. */
const CODE = /^[A-Z][A-Z0-9_]{0,63}$/;

export function createErrorCodes(options: ErrorCodesOptions = {}): ErrorCodes {
  const now = options.now ?? Date.now;
  const windowMs = options.windowMs ?? 300_000;
  const maxEvents = options.maxEvents ?? 5000;
  const total: Record<string, number> = {};
  let events: Array<{ at: number; code: string }> = [];

  const record = (raw: string) => {
    const code = CODE.test(raw) ? raw : 'OTHER';
    total[code] = (total[code] ?? 0) + 1;
    events.push({ at: now(), code });
    if (events.length > maxEvents) events = events.slice(-maxEvents);
  };

  return {
    record,
    counts() {
      const since = now() - windowMs;
      events = events.filter((e) => e.at >= since);
      const recent: Record<string, number> = {};
      for (const e of events) recent[e.code] = (recent[e.code] ?? 0) + 1;
      return { total: { ...total }, recent, windowSeconds: Math.round(windowMs / 1000) };
    },
    plugin: {
      async requestDidStart() {
        return {
          async willSendResponse({ response }) {
            if (response.body.kind !== 'single') return;
            for (const error of response.body.singleResult.errors ?? []) {
              const code = error.extensions?.code;
              record(typeof code === 'string' ? code : 'INTERNAL_SERVER_ERROR');
            }
          },
        };
      },
    },
  };
}
