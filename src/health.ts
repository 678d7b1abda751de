/**
 * Readiness (`GET /ready`) and draining.
 *
 * `/ready` means "this process can serve": 503 while it starts or drains, 200 otherwise. It does
 * not turn 503 because the ERP is slow or down: the caches answer then, and a load balancer must
 * keep sending traffic. What the process knows about the upstream is in the body, from what it
 * already has, never from a request to the ERP: the session and breaker state as the session store
 * holds them (read at most once per `sessionMaxAgeMs`, bounded by `sessionTimeoutMs`) and the
 * outcome of the last upstream requests, observed through the legacy client's `onUpstreamRequest`.
 */
import type { Server, ServerResponse } from 'node:http';
import type { RequestHandler } from 'express';
import { Gauge, type Registry } from 'prom-client';
import type { SessionState } from './legacy/index.js';

/** `starting` until the server is started, `ready` while it serves, `draining` once shutdown began. */
export type Phase = 'starting' | 'ready' | 'draining';

/** What the readiness needs of an upstream request event (a subset of the client's `UpstreamRequestEvent`). */
export interface ObservedUpstreamRequest {
  readonly environment: string;
  readonly route?: string;
  readonly table?: string;
  /** HTTP status; absent when the attempt got no answer. */
  readonly status?: number;
  /** `ECONNREFUSED`, `TIMEOUT`, … when the attempt got no answer. */
  readonly errorCode?: string;
  readonly durationMs: number;
}

/** One observed upstream request, as `/ready` shows it. */
export interface UpstreamOutcome {
  /** ISO time the answer (or the failure) arrived. */
  readonly at: string;
  readonly route?: string;
  readonly table?: string;
  readonly status?: number;
  readonly errorCode?: string;
  readonly durationMs: number;
}

/** What the process knows about one upstream environment, without asking it. */
export interface UpstreamReport {
  readonly environment: string;
  /**
   * `ok`: the last request was answered; `failing`: it got no answer or a 5xx (or 402);
   * `session-limit`: the licence breaker is open; `unknown`: no request yet.
   */
  readonly state: 'ok' | 'failing' | 'session-limit' | 'unknown';
  /** The shared session as last read from the store (see `checkedAt`); `null` until the store has answered once. */
  readonly session: { readonly present: boolean; readonly ageSeconds?: number; readonly idleSeconds?: number } | null;
  /** The licence breaker (after a 402 to a login); `retryAt`/`retryAfterMs` while open. */
  readonly breaker: { readonly open: boolean; readonly retryAt?: string; readonly retryAfterMs?: number } | null;
  readonly lastSuccess: UpstreamOutcome | null;
  readonly lastFailure: UpstreamOutcome | null;
  /** Failed requests since the last answered one. */
  readonly consecutiveFailures: number;
  /** ISO time the session state was read from the store; `null` if never. */
  readonly checkedAt: string | null;
}

/** The body of `GET /ready`. */
export interface ReadinessReport {
  readonly status: Phase;
  /** `true` exactly when `status` is `ready` (then `/ready` answers 200, else 503). */
  readonly ready: boolean;
  /** Requests being served (probes and metrics not counted). */
  readonly inFlight: number;
  /** While starting: what the process still waits for (e.g. `REDIS_URL: Redis at … does not answer`). */
  readonly waitingFor?: readonly string[];
  /** Absent until a session source is attached (see {@link Readiness.watchSessions}). */
  readonly upstream?: UpstreamReport;
  /** Extra sections (the cache store, the change watcher), from {@link Readiness.describe}. */
  readonly [section: string]: unknown;
}

/** Options of {@link Readiness}. */
export interface ReadinessOptions {
  /** Longest wait for the session store in a probe; a slower store shows the last known state. Default 250 ms. */
  readonly sessionTimeoutMs?: number;
  /** A session state read this recently is reused instead of reading the store again. Default 1000 ms. */
  readonly sessionMaxAgeMs?: number;
  /** Clock (epoch ms). Default `Date.now`. */
  readonly now?: () => number;
}

/** Paths that are not counted as in-flight work (they must answer while draining). */
const PROBES = new Set(['/health', '/ready', '/metrics']);

interface Observed {
  lastSuccess: UpstreamOutcome | null;
  lastFailure: UpstreamOutcome | null;
  consecutiveFailures: number;
}

/** Readiness of one server process; also counts its in-flight requests for draining. */
export class Readiness {
  private current: Phase = 'starting';
  private started = false;
  private readonly blockers = new Set<{ reason: () => string }>();
  private readonly now: () => number;
  private readonly sessionTimeoutMs: number;
  private readonly sessionMaxAgeMs: number;
  private readonly observed = new Map<string, Observed>();
  private source?: { environment: string; read: () => Promise<SessionState> };
  private cached?: { state: SessionState; at: number };
  private refreshing?: Promise<boolean>;
  private readonly active = new Set<ServerResponse>();
  private idleWaiters: Array<() => void> = [];

  constructor(options: ReadinessOptions = {}) {
    this.now = options.now ?? Date.now;
    this.sessionTimeoutMs = options.sessionTimeoutMs ?? 250;
    this.sessionMaxAgeMs = options.sessionMaxAgeMs ?? 1000;
  }

  /** The current phase. */
  get phase(): Phase {
    return this.current;
  }

  /** Whether the process can serve (`/ready` answers 200). */
  get ready(): boolean {
    return this.current === 'ready';
  }

  /** Requests being served (probes and metrics not counted). */
  get inFlight(): number {
    return this.active.size;
  }

  /** The server is started and serves (once nothing blocks it); no effect once draining. */
  markReady(): void {
    this.started = true;
    if (this.current === 'starting' && this.blockers.size === 0) this.current = 'ready';
  }

  /**
   * Keeps the process `starting` (503) until the returned function is called, e.g. while a
   * configured Redis does not answer; `reason` is shown in the `/ready` body.
   */
  block(reason: string | (() => string)): () => void {
    const blocker = { reason: typeof reason === 'string' ? () => reason : reason };
    this.blockers.add(blocker);
    return () => {
      this.blockers.delete(blocker);
      if (this.started) this.markReady();
    };
  }

  /** What the process still waits for before it can serve. */
  get waitingFor(): string[] {
    return [...this.blockers].map((b) => b.reason());
  }

  /** Shutdown began: `/ready` answers 503 from now on, and responses ask clients to close their connection. */
  markDraining(): void {
    this.current = 'draining';
    for (const res of this.active) if (!res.headersSent) res.setHeader('connection', 'close');
  }

  /**
   * Attaches the session state of `environment` (the legacy client's `sessionState`, which reads the
   * session store and never the ERP).
   */
  watchSessions(environment: string, read: () => Promise<SessionState>): void {
    this.source = { environment, read };
    this.cached = undefined;
  }

  /** Feed for the legacy client's `onUpstreamRequest` hook. Never throws. */
  observeUpstream(event: ObservedUpstreamRequest): void {
    let entry = this.observed.get(event.environment);
    if (!entry) {
      entry = { lastSuccess: null, lastFailure: null, consecutiveFailures: 0 };
      this.observed.set(event.environment, entry);
    }
    const outcome: UpstreamOutcome = {
      at: new Date(this.now()).toISOString(),
      route: event.route,
      table: event.table,
      status: event.status,
      errorCode: event.errorCode,
      durationMs: Math.round(event.durationMs),
    };
    // An answer below 500 (404, 401, a 4D query error) shows a working server; 402 is a full licence pool.
    const failed = event.status === undefined || event.status >= 500 || event.status === 402;
    if (failed) {
      entry.lastFailure = outcome;
      entry.consecutiveFailures++;
    } else {
      entry.lastSuccess = outcome;
      entry.consecutiveFailures = 0;
    }
  }

  private readonly sections = new Map<string, () => unknown>();

  /** Adds a section to the `/ready` body (it must answer at once, without upstream requests). */
  describe(name: string, section: () => unknown): void {
    this.sections.set(name, section);
  }

  /** The `/ready` body: answers within `sessionTimeoutMs` and costs no upstream request. */
  async report(): Promise<ReadinessReport> {
    const waiting = this.current === 'starting' ? this.waitingFor : [];
    const extra = Object.fromEntries([...this.sections].map(([name, section]) => [name, section()]));
    const base = { status: this.current, ready: this.ready, inFlight: this.inFlight, ...(waiting.length ? { waitingFor: waiting } : {}), ...extra };
    if (!this.source) return base;
    return { ...base, upstream: await this.upstream() };
  }

  /**
   * Whether an upstream session can likely be had now, from the same state as `/ready` (no request):
   * `false` while the breaker is open or the last upstream request failed.
   */
  async upstreamAvailable(): Promise<boolean> {
    if (!this.source) return true;
    const { state } = await this.upstream();
    return state === 'ok' || state === 'unknown';
  }

  /** Registers gauges of the readiness and the upstream state on `registry` (once per registry). */
  registerMetrics(registry: Registry): void {
    if (registry.getSingleMetric('subgraph_ready')) return;
    const self = this;
    new Gauge({
      name: 'subgraph_ready',
      help: '1 while the process serves (GET /ready answers 200), 0 while starting or draining',
      registers: [registry],
      collect() {
        this.set(self.ready ? 1 : 0);
      },
    });
    new Gauge({
      name: 'subgraph_requests_in_flight',
      help: 'Requests being served (probes and metrics not counted)',
      registers: [registry],
      collect() {
        this.set(self.inFlight);
      },
    });
    const labelNames = ['environment'] as const;
    const perEnvironment = (name: string, help: string, value: (r: UpstreamReport) => number | undefined) =>
      new Gauge({
        name,
        help,
        labelNames,
        registers: [registry],
        async collect() {
          this.reset();
          if (!self.source) return;
          const report = await self.upstream();
          const v = value(report);
          if (v !== undefined) this.set({ environment: report.environment }, v);
        },
      });
    const seconds = (o: UpstreamOutcome | null) => (o ? Date.parse(o.at) / 1000 : undefined);
    perEnvironment('legacy_upstream_available', '1 when the last upstream request was answered (or none was sent yet) and the breaker is closed', (r) =>
      r.state === 'ok' || r.state === 'unknown' ? 1 : 0,
    );
    perEnvironment('legacy_upstream_session_present', '1 when the shared 4D session exists in the session store', (r) =>
      r.session ? (r.session.present ? 1 : 0) : undefined,
    );
    perEnvironment('legacy_upstream_breaker_open', '1 while the licence breaker is open (no login attempted)', (r) =>
      r.breaker ? (r.breaker.open ? 1 : 0) : undefined,
    );
    perEnvironment('legacy_upstream_last_success_timestamp_seconds', 'When the last upstream request was answered', (r) => seconds(r.lastSuccess));
    perEnvironment('legacy_upstream_last_failure_timestamp_seconds', 'When the last upstream request failed', (r) => seconds(r.lastFailure));
  }

  /**
   * Express middleware counting in-flight requests (probes and `/metrics` excluded) and, while
   * draining, asking each client to close its connection after the response.
   */
  readonly requests: RequestHandler = (req, res, next) => {
    if (this.current === 'draining') res.setHeader('connection', 'close');
    if (PROBES.has(req.path)) {
      next();
      return;
    }
    this.active.add(res);
    const done = () => {
      if (!this.active.delete(res)) return;
      if (this.active.size === 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const w of waiters) w();
      }
    };
    res.once('finish', done);
    res.once('close', done);
    next();
  };

  /** Resolves `true` once no request is in flight, or `false` at `deadline` (epoch ms) if some still are. */
  whenIdle(deadline: number): Promise<boolean> {
    if (this.active.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.idleWaiters = this.idleWaiters.filter((w) => w !== onIdle);
        resolve(this.active.size === 0);
      }, Math.max(0, deadline - Date.now()));
      const onIdle = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.idleWaiters.push(onIdle);
    });
  }

  private async upstream(): Promise<UpstreamReport> {
    const { environment } = this.source!;
    const state = await this.sessionState();
    const now = this.now();
    const observed = this.observed.get(environment) ?? { lastSuccess: null, lastFailure: null, consecutiveFailures: 0 };
    const breakerUntil = state?.breakerOpenUntil;
    const breakerOpen = breakerUntil !== undefined && breakerUntil > now;
    const last = observed.consecutiveFailures > 0 ? 'failing' : observed.lastSuccess ? 'ok' : 'unknown';
    return {
      environment,
      state: breakerOpen ? 'session-limit' : last,
      session: state ? { present: state.hasSession, ageSeconds: state.ageSeconds, idleSeconds: state.idleSeconds } : null,
      breaker: state
        ? breakerOpen
          ? { open: true, retryAt: new Date(breakerUntil).toISOString(), retryAfterMs: breakerUntil - now }
          : { open: false }
        : null,
      lastSuccess: observed.lastSuccess,
      lastFailure: observed.lastFailure,
      consecutiveFailures: observed.consecutiveFailures,
      checkedAt: this.cached ? new Date(this.cached.at).toISOString() : null,
    };
  }

  /**
   * The session state, read from the store at most once per `sessionMaxAgeMs` (one read at a time);
   * when the store does not answer within `sessionTimeoutMs`, the last known state (`undefined` if
   * none), while the read goes on to refresh it.
   */
  private async sessionState(): Promise<SessionState | undefined> {
    if (this.cached && this.now() - this.cached.at < this.sessionMaxAgeMs) return this.cached.state;
    const source = this.source!;
    this.refreshing ??= Promise.resolve()
      .then(() => source.read())
      .then(
        (state) => {
          if (this.source === source) this.cached = { state, at: this.now() };
          return true;
        },
        () => false,
      )
      .finally(() => {
        this.refreshing = undefined;
      });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.refreshing,
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), this.sessionTimeoutMs);
        timer.unref();
      }),
    ]);
    clearTimeout(timer);
    return this.cached?.state;
  }
}

/**
 * Drains an HTTP server within `graceMs`: marks `readiness` draining (`/ready` answers 503, the
 * listener stays open, responses close their connection), waits until no request is in flight, then
 * stops listening, waits for requests that arrived meanwhile, and closes every connection left when
 * the grace period is over. Resolves, once the server is closed, to the number of requests that
 * were still in flight when their connections were closed (0 when everything finished in time).
 */
export async function drainHttpServer(server: Server, readiness: Readiness, graceMs: number): Promise<number> {
  const deadline = Date.now() + graceMs;
  readiness.markDraining();
  await readiness.whenIdle(deadline);
  if (!server.listening) return 0;
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  await readiness.whenIdle(deadline);
  const cut = readiness.inFlight;
  server.closeAllConnections();
  await closed;
  return cut;
}
