/**
 * Configuration: the only module that reads `process.env`.
 *
 * Sources, later ones winning: built-in defaults, an optional JSON config file (`WSZ_CONFIG_FILE`),
 * environment variables. Everything is validated once; a bad value stops start-up with a message
 * naming the setting and the value (never echoing a password). The result is deeply frozen.
 *
 * With no upstream configured at all (no `LEGACY_API_URL`, no environments in the file), the
 * subgraph runs against the built-in 4D emulator in development; in production, and for the command
 * line and the compatibility module, that is an error unless they opt in (see {@link LoadConfigOptions}).
 */
import { readFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { defaultSessionFilePath } from './legacy/file-session-store.js';
import { cacheConfig, changesConfig, explorerMode, operatorToken, type CacheConfig, type ChangesConfig, type ExplorerMode } from './config-features.js';
import { metricsConfig, type MetricsConfig } from './config-metrics.js';
import { observabilityConfig, type ObservabilityConfig } from './config-observability.js';
import { booleanSetting, ConfigError, intSetting, numberSetting, type Env } from './config-values.js';

export { ConfigError } from './config-values.js';
export type { CacheConfig, ChangesConfig, ExplorerMode } from './config-features.js';
export type { MetricsConfig } from './config-metrics.js';
export type { ObservabilityConfig } from './config-observability.js';

/** One 4D REST server the client may talk to (the old package's `test`, `live`, …). */
export interface EnvironmentConfig {
  /** Origin of the 4D web server, e.g. `http://erp.example:8080` (a trailing `/rest` is tolerated). */
  readonly baseUrl: string;
  readonly username?: string;
  readonly password?: string;
  /** How the client opens its session: `login` (POST `$directory/login`, default) or `basic` (HTTP Basic). */
  readonly auth: 'login' | 'basic';
}

export interface EmulatorConfig {
  /** Port of the embedded emulator; default 0 (a free port). */
  readonly port: number;
  /** Data size: 1 = production sizes; default 0.01. */
  readonly scale: number;
  /** Simulated upstream latency in ms; default 0. */
  readonly latencyMs: number;
  /** Licence pool of the emulated server; default 10. */
  readonly sessions: number;
  /** 4D data change tracking in the emulator (`EMULATOR_CHANGE_TRACKING`); default true. */
  readonly changeTracking: boolean;
}

export interface AppConfig {
  /** `production` hides the Sandbox landing page and turns introspection off; from `NODE_ENV`, default `development`. */
  readonly nodeEnv: string;
  /** HTTP port of the subgraph; `PORT`, default 4001. */
  readonly port: number;
  /** Interface to listen on; `HOST`, default `0.0.0.0`. */
  readonly host: string;
  /** pino level; `LOG_LEVEL`, default `info`. */
  readonly logLevel: string;
  /** Redis for the shared session store; `REDIS_URL`, default none (in-memory, one process). */
  readonly redisUrl?: string;
  /** Key prefix in the shared store; `STORE_NAMESPACE`, default `wsz`. */
  readonly storeNamespace: string;
  /** Largest `first` of a list query; `MAX_PAGE_SIZE`, default 100. */
  readonly maxPageSize: number;
  /** On SIGTERM/SIGINT, how long in-flight requests may take to finish before connections are closed; `SHUTDOWN_GRACE_MS`, default 10000. */
  readonly shutdownGraceMs: number;
  /** Keys per upstream request of a loader (a tick's keys are split into such requests, fetched in parallel); `MAX_BATCH_SIZE`, default 100. */
  readonly maxBatchSize: number;
  /** Limits every operation must pass before any upstream request (see `src/limits/`). */
  readonly queryLimits: QueryLimitsConfig;
  /** The legacy client settings (the old WSZ_api settings block). */
  readonly legacy: {
    readonly environments: Readonly<Record<string, EnvironmentConfig>>;
    readonly defaultEnvironment: string;
    /** Per-request timeout; `LEGACY_API_TIMEOUT_MS`, default 60000. */
    readonly timeoutMs: number;
    /** Retries of reads and connection failures; `LEGACY_API_RETRIES`, default 3. */
    readonly retries: number;
    /** A session unused this long is renewed; `LEGACY_SESSION_TIMEOUT_S`, default 3500 (server: 3600). */
    readonly sessionTimeoutSeconds: number;
    /** After a 402 (licence pool full) no login for this long; `LEGACY_SESSION_LIMIT_BREAKER_S`, default 30. */
    readonly sessionLimitBreakerSeconds: number;
    /** Keep-alive connections per environment; `LEGACY_API_CONNECTIONS`, default 8. */
    readonly connections: number;
    /** Cap on concurrent upstream requests per environment (shared through Redis when `REDIS_URL` is set); `LEGACY_API_MAX_CONCURRENCY`, default 8. */
    readonly maxConcurrency: number;
    /** How long a request may wait for a slot under that cap before failing (ERP saturated); `LEGACY_API_QUEUE_TIMEOUT_MS`, default 10000. */
    readonly queueTimeoutMs: number;
    /** Largest request URL in bytes; longer requests are refused before sending; `LEGACY_API_MAX_URL_BYTES`, default 6000. */
    readonly maxUrlBytes: number;
    /** After a lost update answer, wait this long before reading the record back; `LEGACY_WRITE_RECHECK_MS`, default 1000. */
    readonly writeRecheckDelayMs: number;
  };
  /**
   * Session store of the command line and the compatibility module when `REDIS_URL` is not set;
   * `WSZ_SESSION_FILE`, default `sessions.json` in the user's cache directory (`~/.cache/wsz`, …).
   */
  readonly sessionFile: string;
  /** Set when the built-in emulator is the upstream (see {@link LoadConfigOptions.emulator}). */
  readonly emulator?: EmulatorConfig;
  /** The caches in front of the ERP (see `src/cache/`). */
  readonly cache: CacheConfig;
  /** The change watcher (`src/watcher/`): how changes made in the ERP itself are noticed. */
  readonly changes: ChangesConfig;
  /** Metrics settings (`src/config-metrics.ts`): the operation-name cap, the licence pool size. */
  readonly metrics: MetricsConfig;
  /** Token operators send as `x-operator-token` for `purgeCache`; `OPERATOR_TOKEN`, default none (then operator operations work only outside production). */
  readonly operatorToken?: string;
  /** The browser landing page: `sandbox` (default; falls back to the bundled GraphiQL offline), `graphiql` or `off` (always in production); `EXPLORER`. */
  readonly explorer: ExplorerMode;
  /** Tracing, log format, router secret, mutation authorization, audit caller (`src/config-observability.ts`). */
  readonly observability: ObservabilityConfig;
}


/** Options of {@link loadConfig}. */
export interface LoadConfigOptions {
  /**
   * When the built-in emulator is the upstream. `'fallback'` (default; the subgraph): when no upstream
   * is configured, except with `NODE_ENV=production`, where that is a ConfigError naming
   * `LEGACY_API_URL`. `'never'` (the command line, the compatibility module): no upstream configured
   * is a ConfigError naming `LEGACY_API_URL` and `WSZ_CONFIG_FILE`. `'always'`: the emulator, whatever
   * is configured (`wsz --emulator`).
   */
  emulator?: 'fallback' | 'never' | 'always';
  /** With `'never'`: how the caller opts in to the emulator, appended to the error (e.g. `run with --emulator`). */
  emulatorOptIn?: string;
}

/** Per-operation limits, checked before execution: a refused operation costs no upstream request. */
export interface QueryLimitsConfig {
  /** Deepest selection nesting (introspection's `__schema` not counted, fragments flattened); `MAX_QUERY_DEPTH`, default 12. */
  readonly maxDepth: number;
  /** Aliases per operation (fragments counted where spread); `MAX_ALIASES`, default 30. */
  readonly maxAliases: number;
  /** Lexical tokens per document, enforced by the parser; `MAX_QUERY_TOKENS`, default 5000 (Sandbox's introspection query has about 200). */
  readonly maxTokens: number;
  /** Estimated upstream requests per operation; `MAX_QUERY_REQUESTS`, default 200. */
  readonly maxRequests: number;
  /** Estimated rows read from the ERP per operation; `MAX_QUERY_ROWS`, default 20000. */
  readonly maxRows: number;
  /** Children per parent the estimate assumes for an unpaged 1→N relation (`SalesRecord.items`, …); `QUERY_COST_CHILDREN`, default 10. */
  readonly childrenPerParent: number;
}


/** Names of settings and keys whose values are secrets (never shown in a message). */
const SECRET_KEYS = /pass|pwd|secret|token|credential|private|api[-_]?key/i;

/** Hides the user-info part of anything URL-like (`http://u:secret@erp`), even in a malformed URL. */
function hideUrlCredentials(text: string): string {
  // Greedy up to the last `@` of a whitespace-free run: a password may itself contain `/` or `@`.
  return text.replace(/([a-z][a-z0-9+.-]*:)?\/\/[^\s"]*@/gi, (_m, scheme: string | undefined) => `${scheme ?? ''}//(credentials hidden)@`);
}

/** A value as a message may show it: secret keys hidden, URL credentials hidden, at most 200 characters. */
function showValue(value: unknown): string {
  const masked = JSON.stringify(value, (key, v: unknown) =>
    key !== '' && SECRET_KEYS.test(key) ? '(hidden)' : typeof v === 'string' ? hideUrlCredentials(v) : v,
  );
  if (masked === undefined) return String(value);
  return masked.length > 200 ? `${masked.slice(0, 200)}…` : masked;
}

/**
 * Every secret value this environment (and its config file) holds: passwords, any setting whose
 * name looks secret, the passwords inside URLs. Used to mask messages as a last line of defence.
 */
function secretValues(env: Env): string[] {
  const found = new Set<string>();
  const addUrl = (text: string) => {
    const userInfo = /\/\/([^\s"]*)@/.exec(text)?.[1];
    if (userInfo) {
      found.add(userInfo);
      const colon = userInfo.indexOf(':');
      if (colon >= 0) found.add(userInfo.slice(colon + 1));
    }
  };
  for (const [name, value] of Object.entries(env)) {
    if (!value) continue;
    if (SECRET_KEYS.test(name)) found.add(value);
    if (value.includes('//')) addUrl(value);
  }
  if (env.WSZ_CONFIG_FILE) {
    let text = '';
    try {
      text = readFileSync(env.WSZ_CONFIG_FILE, 'utf8');
    } catch {
      // Unreadable: it can hold no secret that a message could show.
    }
    // From the raw text, so a file that is not valid JSON is covered too.
    for (const m of text.matchAll(/"([^"\\]*)"\s*:\s*"((?:[^"\\]|\\.)*)"/g)) {
      if (SECRET_KEYS.test(m[1])) found.add(m[2]);
      if (m[2].includes('//')) addUrl(m[2]);
    }
  }
  // Very short values would mask ordinary words; the structured masking above covers those.
  return [...found].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
}

/**
 * Masks every secret of the configuration (`env`, default `process.env`, and its config file) in
 * `text`: URL credentials and the literal values of passwords and secret-looking settings.
 * For anything printed about the configuration or a failed start.
 */
export function maskSecrets(text: string, env: Env = process.env): string {
  let out = hideUrlCredentials(text);
  for (const secret of secretValues(env)) out = out.split(secret).join('(hidden)');
  return out;
}

const environmentSchema = z.strictObject({
  baseUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
  username: z.string().min(1).optional(),
  password: z.string().min(1).optional(),
  auth: z.enum(['login', 'basic']).default('login'),
});

const fileSchema = z.strictObject({
  environments: z.record(z.string().regex(/^[A-Za-z0-9_-]+$/), environmentSchema).optional(),
  defaultEnvironment: z.string().optional(),
  timeoutMs: z.number().int().positive().optional(),
  retries: z.number().int().min(0).max(10).optional(),
  sessionTimeoutSeconds: z.number().int().positive().optional(),
  sessionLimitBreakerSeconds: z.number().int().positive().optional(),
  connections: z.number().int().min(1).max(256).optional(),
  maxConcurrency: z.number().int().min(1).max(256).optional(),
  queueTimeoutMs: z.number().int().min(1).max(600_000).optional(),
  maxUrlBytes: z.number().int().min(1024).max(65_536).optional(),
  writeRecheckDelayMs: z.number().int().min(0).max(60_000).optional(),
});



function describeIssue(prefix: string, issue: z.core.$ZodIssue, input: unknown): string {
  const path = [prefix, ...issue.path.map(String)].filter(Boolean).join('.') || '(top level)';
  if (issue.code === 'unrecognized_keys') {
    // Never the surrounding object: it holds the password next to the mistyped key.
    const allowed =
      issue.path.length === 0 ? Object.keys(fileSchema.shape) : issue.path.length === 2 && issue.path[0] === 'environments' ? Object.keys(environmentSchema.shape) : [];
    return `${path}: unknown setting ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}${allowed.length ? ` (allowed: ${allowed.join(', ')})` : ''}`;
  }
  let value: unknown = input;
  for (const p of issue.path) value = (value as Record<PropertyKey, unknown> | undefined)?.[p as PropertyKey];
  const shown = issue.path.some((p) => SECRET_KEYS.test(String(p))) ? '(hidden)' : showValue(value);
  return `${path}: ${issue.message}, got ${shown}`;
}

function readConfigFile(path: string): z.infer<typeof fileSchema> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`WSZ_CONFIG_FILE ${JSON.stringify(path)} cannot be read: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    // V8's message may quote the text around the error (a password, say): report the place only.
    const position = Number(/at position (\d+)/.exec((err as Error).message)?.[1]);
    const before = Number.isInteger(position) ? text.slice(0, position).split('\n') : undefined;
    const where = before ? ` at line ${before.length}, column ${before.at(-1)!.length + 1}` : '';
    throw new ConfigError(`WSZ_CONFIG_FILE ${JSON.stringify(path)} is not valid JSON${where}`);
  }
  const parsed = fileSchema.safeParse(json);
  if (!parsed.success) {
    throw new ConfigError(
      `WSZ_CONFIG_FILE ${JSON.stringify(path)} is invalid: ` +
        parsed.error.issues.map((i) => describeIssue('', i, json)).join('; '),
    );
  }
  return parsed.data;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/**
 * Builds and validates the configuration from `env` (default `process.env`).
 * @throws ConfigError naming the first bad setting and its value, with every secret masked.
 */
export function loadConfig(env: Env = process.env, options: LoadConfigOptions = {}): AppConfig {
  try {
    return buildConfig(env, options);
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(maskSecrets(err.message, env));
    throw err;
  }
}

function buildConfig(env: Env, options: LoadConfigOptions): AppConfig {
  const file = env.WSZ_CONFIG_FILE ? readConfigFile(env.WSZ_CONFIG_FILE) : {};
  const environments: Record<string, EnvironmentConfig> = { ...(file.environments ?? {}) };

  const defaultEnvironment = env.LEGACY_API_ENV || file.defaultEnvironment || (env.LEGACY_API_URL ? 'live' : undefined);

  if (env.LEGACY_API_URL) {
    const name = defaultEnvironment ?? 'live';
    const candidate = {
      ...environments[name],
      baseUrl: env.LEGACY_API_URL,
      ...(env.LEGACY_API_USERNAME ? { username: env.LEGACY_API_USERNAME } : {}),
      ...(env.LEGACY_API_PASSWORD ? { password: env.LEGACY_API_PASSWORD } : {}),
      ...(env.LEGACY_API_AUTH ? { auth: env.LEGACY_API_AUTH } : {}),
    };
    const parsed = environmentSchema.safeParse(candidate);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const setting =
        { baseUrl: 'LEGACY_API_URL', username: 'LEGACY_API_USERNAME', password: 'LEGACY_API_PASSWORD', auth: 'LEGACY_API_AUTH' }[
          String(issue.path[0])
        ] ?? String(issue.path[0]);
      const shown = setting === 'LEGACY_API_PASSWORD' ? '(hidden)' : showValue(candidate[issue.path[0] as keyof typeof candidate]);
      throw new ConfigError(`${setting}: ${issue.message}, got ${shown}`);
    }
    environments[name] = parsed.data;
  } else if (env.LEGACY_API_USERNAME || env.LEGACY_API_PASSWORD) {
    if (!defaultEnvironment || !environments[defaultEnvironment]) {
      throw new ConfigError('LEGACY_API_USERNAME/LEGACY_API_PASSWORD are set but LEGACY_API_URL is not: set LEGACY_API_URL too');
    }
    environments[defaultEnvironment] = {
      ...environments[defaultEnvironment],
      ...(env.LEGACY_API_USERNAME ? { username: env.LEGACY_API_USERNAME } : {}),
      ...(env.LEGACY_API_PASSWORD ? { password: env.LEGACY_API_PASSWORD } : {}),
    };
  }

  // No silent emulator where a real ERP was meant: only the subgraph in development falls back to it.
  const emulatorMode = options.emulator ?? 'fallback';
  const configured = Object.keys(environments).length > 0;
  if (!configured && emulatorMode === 'never') {
    throw new ConfigError(
      'no 4D server configured: set LEGACY_API_URL (with LEGACY_API_USERNAME and LEGACY_API_PASSWORD) or WSZ_CONFIG_FILE (a JSON file with environments)' +
        (options.emulatorOptIn ? `, or ${options.emulatorOptIn}` : ''),
    );
  }
  if (!configured && emulatorMode === 'fallback' && env.NODE_ENV === 'production') {
    throw new ConfigError(
      'LEGACY_API_URL is required with NODE_ENV=production: set LEGACY_API_URL (with LEGACY_API_USERNAME and LEGACY_API_PASSWORD) or an environment in WSZ_CONFIG_FILE; the built-in emulator runs only in development',
    );
  }
  const useEmulator = emulatorMode === 'always' || !configured;
  let emulator: EmulatorConfig | undefined;
  let defaultEnv = defaultEnvironment;
  if (useEmulator) {
    emulator = {
      port: intSetting(env, 'EMULATOR_PORT', 0, 0, 65535),
      scale: numberSetting(env, 'EMULATOR_SCALE', 0.01, 0, 5),
      latencyMs: intSetting(env, 'EMULATOR_LATENCY_MS', 0, 0, 60_000),
      sessions: intSetting(env, 'EMULATOR_SESSIONS', 10, 1, 10_000),
      changeTracking: booleanSetting(env, 'EMULATOR_CHANGE_TRACKING', true),
    };
    defaultEnv = 'emulator';
    // The emulator's URL is only known once it listens; server start-up fills the environment in.
  } else if (!defaultEnv || !environments[defaultEnv]) {
    const setting = env.LEGACY_API_ENV ? 'LEGACY_API_ENV' : 'defaultEnvironment';
    throw new ConfigError(
      `${setting} must name a configured environment (${Object.keys(environments).join(', ')}), got ${JSON.stringify(defaultEnv ?? null)}`,
    );
  }

  const sessionFile = env.WSZ_SESSION_FILE || defaultSessionFilePath(env);
  if (!isAbsolute(sessionFile)) {
    throw new ConfigError(`WSZ_SESSION_FILE must be an absolute file path, got ${showValue(sessionFile)}`);
  }

  const logLevel = env.LOG_LEVEL ?? 'info';
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    throw new ConfigError(`LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got ${JSON.stringify(logLevel)}`);
  }
  let redisUrl: string | undefined;
  if (env.REDIS_URL) {
    if (!/^rediss?:\/\/[^\s]+$/.test(env.REDIS_URL)) {
      throw new ConfigError(`REDIS_URL must be a redis:// or rediss:// URL, got ${showValue(env.REDIS_URL)}`);
    }
    if (!URL.canParse(env.REDIS_URL) || !new URL(env.REDIS_URL).hostname) {
      throw new ConfigError(
        `REDIS_URL is not a valid URL (percent-encode "/", "@" and ":" in a user name or password), got ${showValue(env.REDIS_URL)}`,
      );
    }
    redisUrl = env.REDIS_URL;
  }

  const config: AppConfig = {
    nodeEnv: env.NODE_ENV ?? 'development',
    port: intSetting(env, 'PORT', 4001, 0, 65535),
    host: env.HOST || '0.0.0.0',
    logLevel,
    redisUrl,
    storeNamespace: env.STORE_NAMESPACE || 'wsz',
    sessionFile,
    maxPageSize: intSetting(env, 'MAX_PAGE_SIZE', 100, 1, 10_000),
    shutdownGraceMs: intSetting(env, 'SHUTDOWN_GRACE_MS', 10_000, 0, 600_000),
    maxBatchSize: intSetting(env, 'MAX_BATCH_SIZE', 100, 1, 10_000),
    queryLimits: {
      maxDepth: intSetting(env, 'MAX_QUERY_DEPTH', 12, 1, 1_000),
      maxAliases: intSetting(env, 'MAX_ALIASES', 30, 0, 100_000),
      maxTokens: intSetting(env, 'MAX_QUERY_TOKENS', 5000, 100, 1_000_000),
      maxRequests: intSetting(env, 'MAX_QUERY_REQUESTS', 200, 1, 1_000_000),
      maxRows: intSetting(env, 'MAX_QUERY_ROWS', 20_000, 1, 100_000_000),
      childrenPerParent: intSetting(env, 'QUERY_COST_CHILDREN', 10, 1, 100_000),
    },
    legacy: {
      environments,
      defaultEnvironment: defaultEnv as string,
      timeoutMs: intSetting(env, 'LEGACY_API_TIMEOUT_MS', file.timeoutMs ?? 60_000, 1, 600_000),
      retries: intSetting(env, 'LEGACY_API_RETRIES', file.retries ?? 3, 0, 10),
      sessionTimeoutSeconds: intSetting(env, 'LEGACY_SESSION_TIMEOUT_S', file.sessionTimeoutSeconds ?? 3500, 60, 86_400),
      sessionLimitBreakerSeconds: intSetting(env, 'LEGACY_SESSION_LIMIT_BREAKER_S', file.sessionLimitBreakerSeconds ?? 30, 1, 3600),
      connections: intSetting(env, 'LEGACY_API_CONNECTIONS', file.connections ?? 8, 1, 256),
      maxConcurrency: intSetting(env, 'LEGACY_API_MAX_CONCURRENCY', file.maxConcurrency ?? 8, 1, 256),
      queueTimeoutMs: intSetting(env, 'LEGACY_API_QUEUE_TIMEOUT_MS', file.queueTimeoutMs ?? 10_000, 1, 600_000),
      maxUrlBytes: intSetting(env, 'LEGACY_API_MAX_URL_BYTES', file.maxUrlBytes ?? 6000, 1024, 65_536),
      writeRecheckDelayMs: intSetting(env, 'LEGACY_WRITE_RECHECK_MS', file.writeRecheckDelayMs ?? 1000, 0, 60_000),
    },
    emulator,
    cache: cacheConfig(env, env.NODE_ENV ?? 'development'),
    operatorToken: operatorToken(env),
    observability: observabilityConfig(env, env.NODE_ENV ?? 'development'),
    changes: changesConfig(env),
    metrics: metricsConfig(env),
    explorer: explorerMode(env, env.NODE_ENV ?? 'development'),
  };
  return deepFreeze(config);
}
