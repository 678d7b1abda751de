/**
 * Upstream metrics beyond the request counts of `src/metrics.ts`: retries, 402 answers (no licence
 * left), and per environment the age and idle time of the shared 4D session and the breaker state.
 *
 * The legacy client knows nothing of prom-client: it reports through its `onUpstreamRequest` hook
 * (fed to {@link UpstreamMetrics.observe}) and answers `sessionState(environment)`, which the
 * gauges read at scrape time (no upstream request; a read of the session store).
 */
import { Counter, Gauge, type Registry } from 'prom-client';

/** The part of an upstream attempt these metrics need (a subset of the client's `UpstreamRequestEvent`). */
export interface UpstreamAttempt {
  readonly environment: string;
  readonly route?: string;
  readonly table?: string;
  readonly status?: number;
  readonly attempt?: number;
}

/** What the session gauges read: the legacy client, or anything answering the same two questions. */
export interface SessionStateSource {
  environments(): string[];
  sessionState(environment: string): Promise<SessionView>;
}

/** The fields of the client's `SessionState` the gauges read. */
export interface SessionView {
  readonly hasSession: boolean;
  readonly ageSeconds?: number;
  readonly idleSeconds?: number;
  /** Set while the breaker is open. */
  readonly breakerOpenUntil?: number;
}

export interface UpstreamMetrics {
  /** Counts a retry (attempt > 1) and a 402 answer; called for every attempt. */
  observe(event: UpstreamAttempt): void;
  /** Reads the session gauges from `source` at every scrape (the latest source wins). */
  watchSessions(source: SessionStateSource): void;
  /** Exports the 4D server's licence pool size of `environment` (`LEGACY_LICENCE_POOL_SIZE`), for the alerts. */
  setLicencePool(environment: string, size: number): void;
}

export function createUpstreamMetrics(registry: Registry): UpstreamMetrics {
  const retries = new Counter({
    name: 'legacy_upstream_retries_total',
    help: 'Retried requests to the 4D REST server (attempts after the first), by environment, route and table',
    labelNames: ['environment', 'route', 'table'] as const,
    registers: [registry],
  });
  const noLicence = new Counter({
    name: 'legacy_upstream_licence_refusals_total',
    help: 'HTTP 402 answers of the 4D REST server (no session/licence left), by environment and route',
    labelNames: ['environment', 'route'] as const,
    registers: [registry],
  });
  const pool = new Gauge({
    name: 'legacy_licence_pool_size',
    help: 'Licences (REST sessions) the 4D server of each environment allows, as configured (LEGACY_LICENCE_POOL_SIZE; absent when not set)',
    labelNames: ['environment'] as const,
    registers: [registry],
  });
  let source: SessionStateSource | undefined;
  /** One read of every environment per scrape, shared by the three gauges. */
  let pending: Promise<Array<[string, SessionView]>> | undefined;
  const states = () => {
    if (!source) return Promise.resolve([]);
    const current = source;
    pending ??= Promise.all(current.environments().map(async (env) => [env, await current.sessionState(env)] as [string, SessionView])).finally(() => {
      pending = undefined;
    });
    return pending;
  };
  const perEnvironment = (name: string, help: string, value: (s: SessionView) => number | undefined) =>
    new Gauge({
      name,
      help,
      labelNames: ['environment'] as const,
      registers: [registry],
      async collect() {
        this.reset();
        // A store that does not answer leaves the gauges empty for this scrape, never a failed scrape.
        const all = await states().catch(() => []);
        for (const [environment, state] of all) {
          const v = value(state);
          if (v !== undefined) this.set({ environment }, v);
        }
      },
    });
  perEnvironment('legacy_session_age_seconds', 'Age of the shared 4D session of each environment (absent while there is none)', (s) => (s.hasSession ? s.ageSeconds : undefined));
  perEnvironment('legacy_session_idle_seconds', 'Seconds since the shared 4D session of each environment was last used (absent while there is none)', (s) =>
    s.hasSession ? s.idleSeconds : undefined,
  );
  perEnvironment('legacy_session_breaker_open', '1 while the licence breaker of the environment is open (after a 402 no login is attempted)', (s) => (s.breakerOpenUntil !== undefined ? 1 : 0));
  return {
    observe(e) {
      if ((e.attempt ?? 1) > 1) retries.inc({ environment: e.environment, route: e.route ?? '', table: e.table ?? '' });
      if (e.status === 402) noLicence.inc({ environment: e.environment, route: e.route ?? '' });
    },
    watchSessions(s) {
      source = s;
    },
    setLicencePool(environment, size) {
      pool.set({ environment }, size);
    },
  };
}
