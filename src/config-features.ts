/**
 * The settings of the caches (`CACHE_*`), the change watcher (`CHANGE_*`) and the operator token,
 * read from the environment map `config.ts` passes in.
 */
import { ENTITIES } from './mapping/entities.js';
import { booleanSetting, ConfigError, intSetting, type Env } from './config-values.js';

/** Change-watcher settings. */
export interface ChangesConfig {
  /** `auto` (default), `globalStamp`, `timestamp` or `off`; `CHANGE_STRATEGY`. */
  readonly strategy: 'auto' | 'globalStamp' | 'timestamp' | 'off';
  /** Poll interval; `CHANGE_POLL_MS`, default 2000 (200 to 600000). */
  readonly pollMs: number;
  /** Past this many changed keys of one table in one poll, the whole table is dropped; `CHANGE_MAX_KEYS`, default 1000. */
  readonly maxKeysPerTable: number;
  /**
   * The leader's lease: a replica that dies holds it this long at most, so another one takes over
   * within it plus one poll; `CHANGE_LEASE_MS`, default max(3 × poll, 5000), at least 2 × poll.
   */
  readonly leaseMs: number;
}

export function changesConfig(env: Env): ChangesConfig {
  const strategies = ['auto', 'globalStamp', 'timestamp', 'off'] as const;
  const raw = env.CHANGE_STRATEGY || 'auto';
  const strategy = strategies.find((s) => s === raw);
  if (!strategy) throw new ConfigError(`CHANGE_STRATEGY must be one of ${strategies.join(', ')}, got ${JSON.stringify(raw)}`);
  const pollMs = intSetting(env, 'CHANGE_POLL_MS', 2000, 200, 600_000);
  // Renewed every poll: a lease shorter than two polls would lapse between two renewals of a live leader.
  const leaseMs = intSetting(env, 'CHANGE_LEASE_MS', Math.max(3 * pollMs, 5000), 2 * pollMs, 3_600_000);
  return {
    strategy,
    pollMs,
    maxKeysPerTable: intSetting(env, 'CHANGE_MAX_KEYS', 1000, 1, 1_000_000),
    leaseMs,
  };
}

/** Cache settings; every `CACHE_*` variable that is not one of these stops start-up. */
export interface CacheConfig {
  /** `CACHE=off` turns every cache off (writes still invalidate a shared store); default on. */
  readonly enabled: boolean;
  /** Freshness of cached rows and answers; `CACHE_TTL_S`, default 60. */
  readonly ttlSeconds: number;
  /** Freshness per GraphQL type, e.g. `Product=300,Customer=30`; `CACHE_TTL_BY_TYPE`, default none. */
  readonly ttlByType: Readonly<Record<string, number>>;
  /** How long past freshness a value is served when 4D cannot answer; `CACHE_GRACE_S`, default 900 (0: never). */
  readonly graceSeconds: number;
  /** In-memory store: most entries; `CACHE_MAX_ENTRIES`, default 50000. */
  readonly maxEntries: number;
  /** In-memory store: most megabytes; `CACHE_MAX_MB`, default 64. */
  readonly maxBytes: number;
  /** Request header naming the caller, so `PRIVATE` answers are kept per caller; `CACHE_SCOPE_HEADER`, default none (PRIVATE answers are not kept). */
  readonly scopeHeader?: string;
  /** Tags in `extensions.cache`; `CACHE_DEBUG`, default on outside production. */
  readonly debug: boolean;
}

export function operatorToken(env: Env): string | undefined {
  const token = env.OPERATOR_TOKEN;
  if (token === undefined || token === '') return undefined;
  if (token.length < 16 || /\s/.test(token)) throw new ConfigError('OPERATOR_TOKEN must be at least 16 characters without spaces (value hidden)');
  return token;
}

const CACHE_SETTINGS = ['CACHE', 'CACHE_TTL_S', 'CACHE_TTL_BY_TYPE', 'CACHE_GRACE_S', 'CACHE_MAX_ENTRIES', 'CACHE_MAX_MB', 'CACHE_SCOPE_HEADER', 'CACHE_DEBUG'];


export function cacheConfig(env: Env, nodeEnv: string): CacheConfig {
  for (const name of Object.keys(env)) {
    if ((name === 'CACHE' || name.startsWith('CACHE_')) && !CACHE_SETTINGS.includes(name)) {
      throw new ConfigError(`${name} is not a cache setting; the cache settings are ${CACHE_SETTINGS.join(', ')}`);
    }
  }
  const ttlByType: Record<string, number> = {};
  const types: string[] = Object.values(ENTITIES).map((d) => d.typename);
  for (const item of (env.CACHE_TTL_BY_TYPE ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([A-Za-z_]\w*)\s*=\s*(\d{1,6})$/.exec(item);
    if (!m) throw new ConfigError(`CACHE_TTL_BY_TYPE must be a list like "Product=300,Customer=30" (seconds), got ${JSON.stringify(item)}`);
    if (!types.includes(m[1]!)) throw new ConfigError(`CACHE_TTL_BY_TYPE: unknown type ${JSON.stringify(m[1])}; types: ${types.join(', ')}`);
    const seconds = Number(m[2]);
    if (seconds < 1 || seconds > 86_400) throw new ConfigError(`CACHE_TTL_BY_TYPE: ${m[1]} must be from 1 to 86400 seconds, got ${seconds}`);
    ttlByType[m[1]!] = seconds;
  }
  const scopeHeader = env.CACHE_SCOPE_HEADER?.trim().toLowerCase() || undefined;
  if (scopeHeader && (!/^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(scopeHeader) || ['cookie', 'host', 'content-type', 'content-length'].includes(scopeHeader))) {
    throw new ConfigError(`CACHE_SCOPE_HEADER must be the name of a request header the router sets per caller (e.g. x-caller-id), got ${JSON.stringify(env.CACHE_SCOPE_HEADER)}`);
  }
  return {
    enabled: booleanSetting(env, 'CACHE', true, ['on', 'off']),
    ttlSeconds: intSetting(env, 'CACHE_TTL_S', 60, 1, 86_400),
    ttlByType,
    graceSeconds: intSetting(env, 'CACHE_GRACE_S', 900, 0, 7 * 86_400),
    maxEntries: intSetting(env, 'CACHE_MAX_ENTRIES', 50_000, 100, 10_000_000),
    maxBytes: intSetting(env, 'CACHE_MAX_MB', 64, 1, 65_536) * 1024 * 1024,
    scopeHeader,
    debug: booleanSetting(env, 'CACHE_DEBUG', nodeEnv !== 'production'),
  };
}

/** Which explorer the landing page (`GET /graphql` from a browser) shows; `EXPLORER`. */
export type ExplorerMode = 'sandbox' | 'graphiql' | 'off';

/**
 * `EXPLORER`: `sandbox` (default outside production: Apollo Sandbox from Apollo's CDN, falling back
 * to the bundled GraphiQL at `/explorer` when the CDN cannot be reached), `graphiql` (the bundled
 * GraphiQL only, no CDN), `off`. Production has no explorer: `off` there, and asking for one is an error.
 */
export function explorerMode(env: Env, nodeEnv: string): ExplorerMode {
  const modes = ['sandbox', 'graphiql', 'off'] as const;
  const raw = env.EXPLORER;
  const production = nodeEnv === 'production';
  if (raw === undefined || raw === '') return production ? 'off' : 'sandbox';
  const mode = modes.find((m) => m === raw.toLowerCase());
  if (!mode) throw new ConfigError(`EXPLORER must be one of ${modes.join(', ')}, got ${JSON.stringify(raw)}`);
  if (production && mode !== 'off') {
    throw new ConfigError(`EXPLORER=${mode} is not allowed with NODE_ENV=production (production has no explorer and no introspection); unset EXPLORER or set it to off`);
  }
  return mode;
}
