/**
 * What the status page shows: a snapshot read from what the process already has (the readiness
 * report, the session state per environment, the prom-client registry by metric name, the error
 * codes), and a short history sampled every few seconds for the sparklines. Metrics are read by
 * name and an absent one reads as nothing, so metrics added or missing elsewhere never break it.
 * Reading costs no upstream request (the session state comes from the session store).
 */
import type { Registry } from 'prom-client';
import type { Readiness } from '../health.js';
import type { SessionState } from '../legacy/index.js';
import type { ErrorCodeCounts, ErrorCodes } from './error-codes.js';

/** Where the session state of every environment comes from (the legacy client). */
export interface SessionSource {
  environments(): string[];
  sessionState(environment?: string): Promise<SessionState>;
}

/** One environment as the status page shows it. */
export interface EnvironmentStatus {
  readonly environment: string;
  /** `ok`, `failing`, `session-limit` or `unknown` (see `UpstreamReport.state`); `unknown` without readiness data. */
  readonly state: string;
  /** Whether the shared 4D session (one licence) exists; `null` when the store did not answer. */
  readonly session: { readonly present: boolean; readonly ageSeconds?: number; readonly idleSeconds?: number } | null;
  readonly breakerOpen: boolean;
  /** Licence use seen by this process: `legacy_session_events_total` by event. */
  readonly licence: { readonly held: number; readonly logins: number; readonly refused: number; readonly guestsEnded: number; readonly lost: number };
  readonly requests: number;
  /** Mean upstream latency since start, ms; `null` before any request. */
  readonly meanMs: number | null;
}

/** One point of the history (deltas over the interval before `t`). */
export interface StatusPoint {
  /** Epoch ms. */
  readonly t: number;
  readonly upstreamRequests: number;
  /** Mean upstream latency over the interval, ms; `null` without requests. */
  readonly upstreamMs: number | null;
  /** Cache hits / lookups over the interval; `null` without lookups. */
  readonly hitRatio: number | null;
  readonly lagSeconds: number | null;
  readonly operations: number;
  readonly errors: number;
}

/** The body of `/status.json`. */
export interface StatusSnapshot {
  readonly at: string;
  readonly phase: string;
  readonly inFlight: number;
  readonly sampleMs: number;
  readonly environments: readonly EnvironmentStatus[];
  readonly upstream: { readonly requests: number; readonly meanMs: number | null; readonly p95Ms: number | null; readonly statuses: Readonly<Record<string, number>> };
  readonly cache: { readonly hits: number; readonly misses: number; readonly stale: number; readonly hitRatio: number | null; readonly storeUp: boolean | null };
  readonly watcher: { readonly lagSeconds: number | null; readonly leader: boolean | null; readonly strategy: string | null; readonly polls: Readonly<Record<string, number>> };
  readonly graphql: { readonly operations: number; readonly failed: number };
  readonly errors: ErrorCodeCounts;
  readonly history: readonly StatusPoint[];
}

export interface StatusSamplerOptions {
  readonly registry: Registry;
  readonly readiness: Readiness;
  readonly errorCodes: ErrorCodes;
  readonly sessions?: SessionSource;
  /** Sampling interval of the history; default 5000 ms. */
  readonly sampleMs?: number;
  /** Points kept; default 120 (10 minutes at 5 s). */
  readonly points?: number;
  /** Longest wait for one environment's session state; default 250 ms. */
  readonly sessionTimeoutMs?: number;
  /** Clock (epoch ms); default `Date.now`. */
  readonly now?: () => number;
}

type Value = { labels: Record<string, string | number | undefined>; value: number; metricName?: string };

async function read(registry: Registry, name: string): Promise<Value[]> {
  try {
    const metric = registry.getSingleMetric(name);
    return metric ? ((await metric.get()).values as Value[]) : [];
  } catch {
    return [];
  }
}

function sum(values: Value[], match: (v: Value) => boolean = () => true): number {
  return values.reduce((acc, v) => (match(v) ? acc + v.value : acc), 0);
}

function by(values: Value[], label: string, match: (v: Value) => boolean = () => true): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) {
    if (!match(v)) continue;
    const key = String(v.labels[label] ?? '');
    out[key] = (out[key] ?? 0) + v.value;
  }
  return out;
}

/** Upper bound of the bucket holding the 95th percentile, ms; `null` without observations. */
function p95(values: Value[]): number | null {
  const buckets = by(values, 'le', (v) => v.metricName?.endsWith('_bucket') ?? false);
  const les = Object.keys(buckets).filter((le) => le !== '+Inf').map(Number).sort((a, b) => a - b);
  const count = buckets['+Inf'] ?? 0;
  if (count === 0) return null;
  for (const le of les) if ((buckets[String(le)] ?? 0) >= 0.95 * count) return le * 1000;
  return Infinity;
}

const round = (n: number | null, digits = 1) => (n === null ? null : Math.round(n * 10 ** digits) / 10 ** digits);

interface Totals {
  requests: number;
  seconds: number;
  hits: number;
  lookups: number;
  operations: number;
  errors: number;
}

export class StatusSampler {
  private readonly now: () => number;
  readonly sampleMs: number;
  private readonly points: number;
  private readonly history: StatusPoint[] = [];
  private last?: Totals;
  private timer?: NodeJS.Timeout;

  constructor(private readonly options: StatusSamplerOptions) {
    this.now = options.now ?? Date.now;
    this.sampleMs = options.sampleMs ?? 5000;
    this.points = options.points ?? 120;
  }

  /** Starts sampling every `sampleMs` (the timer does not keep the process alive). */
  start(): void {
    if (this.timer) return;
    void this.sample();
    this.timer = setInterval(() => void this.sample(), this.sampleMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private async totals(): Promise<Totals> {
    const { registry } = this.options;
    const duration = await read(registry, 'legacy_upstream_request_duration_seconds');
    const lookups = await read(registry, 'cache_lookups_total');
    const operations = await read(registry, 'graphql_operations_total');
    const errors = this.options.errorCodes.counts().total;
    return {
      requests: sum(duration, (v) => v.metricName?.endsWith('_count') ?? false),
      seconds: sum(duration, (v) => v.metricName?.endsWith('_sum') ?? false),
      hits: sum(lookups, (v) => v.labels.result === 'hit'),
      lookups: sum(lookups),
      operations: sum(operations),
      errors: Object.values(errors).reduce((a, b) => a + b, 0),
    };
  }

  /** Adds one point to the history (the deltas since the previous sample). */
  async sample(): Promise<void> {
    const totals = await this.totals();
    const prev = this.last ?? totals;
    this.last = totals;
    const requests = totals.requests - prev.requests;
    const lookups = totals.lookups - prev.lookups;
    const lag = await read(this.options.registry, 'change_watcher_lag_seconds');
    this.history.push({
      t: this.now(),
      upstreamRequests: requests,
      upstreamMs: requests > 0 ? round(((totals.seconds - prev.seconds) / requests) * 1000) : null,
      hitRatio: lookups > 0 ? round((totals.hits - prev.hits) / lookups, 3) : null,
      lagSeconds: lag.length ? round(sum(lag)) : null,
      operations: totals.operations - prev.operations,
      errors: totals.errors - prev.errors,
    });
    if (this.history.length > this.points) this.history.splice(0, this.history.length - this.points);
  }

  private async sessionStates(): Promise<Map<string, SessionState | null>> {
    const out = new Map<string, SessionState | null>();
    const source = this.options.sessions;
    if (!source) return out;
    const timeout = this.options.sessionTimeoutMs ?? 250;
    await Promise.all(
      source.environments().map(async (environment) => {
        let timer: NodeJS.Timeout | undefined;
        const state = await Promise.race([
          source.sessionState(environment).catch(() => null),
          new Promise<null>((resolve) => {
            timer = setTimeout(() => resolve(null), timeout);
            timer.unref();
          }),
        ]);
        clearTimeout(timer);
        out.set(environment, state);
      }),
    );
    return out;
  }

  /** The `/status.json` body, read now (the history as sampled). */
  async snapshot(): Promise<StatusSnapshot> {
    const { registry, readiness } = this.options;
    const report = await readiness.report();
    const [duration, requests, lookups, storeUp, lag, leader, strategy, polls, operations, sessionEvents, states] = await Promise.all([
      read(registry, 'legacy_upstream_request_duration_seconds'),
      read(registry, 'legacy_upstream_requests_total'),
      read(registry, 'cache_lookups_total'),
      read(registry, 'cache_store_up'),
      read(registry, 'change_watcher_lag_seconds'),
      read(registry, 'change_watcher_leader'),
      read(registry, 'change_watcher_strategy'),
      read(registry, 'change_watcher_polls_total'),
      read(registry, 'graphql_operations_total'),
      read(registry, 'legacy_session_events_total'),
      this.sessionStates(),
    ]);
    const named = (suffix: string) => (v: Value) => v.metricName?.endsWith(suffix) ?? false;
    const count = sum(duration, named('_count'));
    const mean = (match: (v: Value) => boolean) => {
      const n = sum(duration, (v) => named('_count')(v) && match(v));
      return n > 0 ? round((sum(duration, (v) => named('_sum')(v) && match(v)) / n) * 1000) : null;
    };
    const names = new Set([...states.keys(), ...(report.upstream ? [report.upstream.environment] : [])]);
    const environments = [...names].sort().map((environment): EnvironmentStatus => {
      const ofEnv = (v: Value) => v.labels.environment === environment;
      const events = by(sessionEvents, 'event', ofEnv);
      const upstream = report.upstream?.environment === environment ? report.upstream : undefined;
      const state = states.get(environment);
      const session = state ? { present: state.hasSession, ageSeconds: state.ageSeconds, idleSeconds: state.idleSeconds } : (upstream?.session ?? null);
      const breakerOpen = state ? (state.breakerOpenUntil ?? 0) > this.now() : (upstream?.breaker?.open ?? false);
      return {
        environment,
        state: breakerOpen ? 'session-limit' : (upstream?.state ?? 'unknown'),
        session,
        breakerOpen,
        licence: {
          held: session?.present ? 1 : 0,
          logins: events.login ?? 0,
          refused: events.loginRefused ?? 0,
          guestsEnded: events.guestEnded ?? 0,
          lost: events.sessionLost ?? 0,
        },
        requests: sum(requests, ofEnv),
        meanMs: mean(ofEnv),
      };
    });
    const results = by(lookups, 'result');
    const hits = results.hit ?? 0;
    const allLookups = sum(lookups);
    const strategyInUse = strategy.find((v) => v.value === 1)?.labels.strategy;
    const outcomes = by(operations, 'outcome');
    return {
      at: new Date(this.now()).toISOString(),
      phase: report.status,
      inFlight: report.inFlight,
      sampleMs: this.sampleMs,
      environments,
      upstream: {
        requests: count,
        meanMs: mean(() => true),
        p95Ms: p95(duration),
        statuses: by(requests, 'status'),
      },
      cache: {
        hits,
        misses: results.miss ?? 0,
        stale: results.stale ?? 0,
        hitRatio: allLookups > 0 ? round(hits / allLookups, 3) : null,
        storeUp: storeUp.length ? sum(storeUp) > 0 : null,
      },
      watcher: {
        lagSeconds: lag.length ? round(sum(lag)) : null,
        leader: leader.length ? leader.some((v) => v.value === 1) : null,
        strategy: strategyInUse === undefined ? null : String(strategyInUse),
        polls: by(polls, 'outcome'),
      },
      graphql: { operations: sum(operations), failed: outcomes.error ?? 0 },
      errors: this.options.errorCodes.counts(),
      history: [...this.history],
    };
  }
}
