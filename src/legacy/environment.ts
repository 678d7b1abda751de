/**
 * The legacy client's configuration and, per environment, the transport and the shared session
 * built from it: option defaults and checks, the redacting logger, the concurrency cap.
 */
import { pino, type Logger } from 'pino';
import { createConcurrencyLimiter, limiterKey } from './concurrency.js';
import { HttpTransport, parseBaseUrl } from './http.js';
import type { SessionStore } from './session-store.js';
import { SessionManager } from './sessions.js';
import type { LegacyClientOptions, LegacyEnvironment } from './client-types.js';
import { MAX_URL_BYTES } from './request.js';
import { isPlainObject } from './writes.js';

const REDACT_PATHS = [
  'cookie',
  'cookies',
  'authorization',
  'password',
  'headers.cookie',
  'headers.authorization',
  'headers["password-4D"]',
  'headers["set-cookie"]',
  '*.cookie',
  '*.cookies',
  '*.authorization',
  '*.password',
  '*.headers.cookie',
  '*.headers.authorization',
  '*.headers["password-4D"]',
];

/** One environment: its transport (pool, retries, concurrency cap) and its shared session. */
export interface Runtime {
  readonly name: string;
  readonly http: HttpTransport;
  readonly sessions: SessionManager;
}

/** The options of {@link LegacyClientOptions} with their defaults applied, in ms where a time. */
export interface ClientSettings {
  readonly timeoutMs: number;
  readonly retries: number;
  readonly sessionTimeoutMs: number;
  readonly breakerMs: number;
  readonly connections: number;
  readonly pageSize: number;
  readonly parallelPages: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  readonly writeRecheckDelayMs: number;
  readonly maxUrlBytes: number;
  readonly maxConcurrency: number;
  readonly queueTimeoutMs: number;
}

function positiveInt(value: number | undefined, fallback: number, name: string, min = 1): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new TypeError(`${name} must be an integer ≥ ${min}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function positiveNumber(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new TypeError(`${name} must be a number > 0, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * Checks the options (at least one environment, the default among them, sane numbers) and applies
 * the defaults. Each environment's URL and auth are checked by {@link checkEnvironment}.
 * @throws TypeError naming the bad option
 */
export function readSettings(options: LegacyClientOptions): ClientSettings {
  if (!options || !isPlainObject(options.environments) || Object.keys(options.environments).length === 0) {
    throw new TypeError('LegacyClientOptions.environments must name at least one environment');
  }
  if (!Object.prototype.hasOwnProperty.call(options.environments, options.defaultEnvironment)) {
    throw new TypeError(
      `LegacyClientOptions.defaultEnvironment ${JSON.stringify(options.defaultEnvironment)} is not one of the environments: ${Object.keys(options.environments).join(', ')}`,
    );
  }
  return {
    timeoutMs: positiveInt(options.timeoutMs, 60_000, 'timeoutMs'),
    retries: positiveInt(options.retries, 3, 'retries', 0),
    sessionTimeoutMs: positiveNumber(options.sessionTimeoutSeconds, 3500, 'sessionTimeoutSeconds') * 1000,
    breakerMs: positiveNumber(options.sessionLimitBreakerSeconds, 30, 'sessionLimitBreakerSeconds') * 1000,
    connections: positiveInt(options.connections, 8, 'connections'),
    pageSize: positiveInt(options.pageSize, 500, 'pageSize'),
    parallelPages: positiveInt(options.parallelPages, 4, 'parallelPages'),
    retryBaseMs: positiveInt(options.retryBaseMs, 100, 'retryBaseMs', 0),
    retryMaxMs: positiveInt(options.retryMaxMs, 2000, 'retryMaxMs', 0),
    writeRecheckDelayMs: positiveInt(options.writeRecheckDelayMs, 1000, 'writeRecheckDelayMs', 0),
    maxUrlBytes: positiveInt(options.maxUrlBytes, MAX_URL_BYTES, 'maxUrlBytes', 1024),
    maxConcurrency: positiveInt(options.maxConcurrency, 8, 'maxConcurrency'),
    queueTimeoutMs: positiveInt(options.queueTimeoutMs, 10_000, 'queueTimeoutMs'),
  };
}

/** Checks one environment, so a bad URL or auth fails at start-up, not on the first call. */
export function checkEnvironment(name: string, env: LegacyEnvironment | undefined): void {
  if (!env || typeof env.baseUrl !== 'string') throw new TypeError(`Environment ${JSON.stringify(name)} needs a baseUrl`);
  if (env.auth !== undefined && env.auth !== 'login' && env.auth !== 'basic') {
    throw new TypeError(`Environment ${JSON.stringify(name)}: auth must be 'login' or 'basic', got ${JSON.stringify(env.auth)}`);
  }
}

/** The client's logger: a child of `options.logger` (default silent) with cookies, authorization and passwords redacted. */
export function clientLogger(options: LegacyClientOptions): Logger {
  const base = options.logger ?? pino({ level: 'silent' });
  return base.child({ component: 'legacy-client' }, { redact: { paths: REDACT_PATHS, censor: '[redacted]' } });
}

/** Builds the transport and the session manager of environment `name`. */
export function createRuntime(
  name: string,
  env: LegacyEnvironment,
  settings: ClientSettings,
  options: LegacyClientOptions,
  store: SessionStore,
  log: Logger,
): Runtime {
  const logger = log.child({ environment: name });
  const limiter = createConcurrencyLimiter({
    maxConcurrent: settings.maxConcurrency,
    queueTimeoutMs: settings.queueTimeoutMs,
    logger,
    shared: options.sharedConcurrency && {
      semaphore: options.sharedConcurrency,
      key: limiterKey(name, parseBaseUrl(env.baseUrl).origin),
      // Longer than any attempt can take (timeout, plus undici's backstops): a crashed holder's lease ends then.
      leaseMs: settings.timeoutMs + 10_000,
    },
  });
  const http = new HttpTransport({
    environment: name,
    baseUrl: env.baseUrl,
    timeoutMs: settings.timeoutMs,
    retries: settings.retries,
    retryBaseMs: settings.retryBaseMs,
    retryMaxMs: settings.retryMaxMs,
    connections: settings.connections,
    limiter,
    logger,
    onUpstreamRequest: options.onUpstreamRequest,
  });
  const sessions = new SessionManager({
    environment: name,
    http,
    store,
    logger,
    credentials: { username: env.username, password: env.password, auth: env.auth ?? 'login' },
    sessionTimeoutMs: settings.sessionTimeoutMs,
    breakerMs: settings.breakerMs,
    requestTimeoutMs: settings.timeoutMs,
    loginBudgetMs: settings.timeoutMs + settings.retries * (settings.retryMaxMs + 100),
    now: options.now,
    onEvent: options.onSessionEvent,
  });
  return { name, http, sessions };
}
