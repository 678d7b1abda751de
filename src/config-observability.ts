/**
 * The settings of tracing (`TRACING_OTLP_URL`, `OTEL_EXPORTER_OTLP_*`), the log format
 * (`LOG_FORMAT`), the router-facing security (`ROUTER_SECRET`, `MUTATION_AUTH_*`) and the audit
 * log's caller header (`AUDIT_CALLER_HEADER`), read from the environment map `config.ts` passes in.
 */
import { ConfigError, type Env } from './config-values.js';

export interface ObservabilityConfig {
  /** OTLP/HTTP traces URL; none: tracing off. */
  readonly tracing: { readonly otlpUrl?: string; readonly serviceName: string };
  /** `LOG_FORMAT`: `auto` (default: pretty in development on a terminal), `pretty` or `json`. */
  readonly logFormat: 'auto' | 'pretty' | 'json';
  /** `ROUTER_SECRET`: what the router sends in `x-router-secret`; none: not checked. */
  readonly routerSecret?: string;
  /** `ROUTER_SECRET=off`: serve without a secret even in production (see {@link requireRouterSecret}). */
  readonly routerSecretOff: boolean;
  /** `NODE_ENV=production`. */
  readonly production: boolean;
  /** `MUTATION_AUTH_HEADER` (default `authorization`) and `MUTATION_AUTH_TOKEN` (default none). */
  readonly mutationAuth: { readonly header: string; readonly token?: string };
  /** `AUDIT_CALLER_HEADER`: the header naming the caller in the audit log; default `CACHE_SCOPE_HEADER`, else none. */
  readonly callerHeader?: string;
}

const TOKEN_HEADER = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;
/** Headers that carry a secret or are not per caller: never a caller name. */
const NOT_A_CALLER = ['authorization', 'cookie', 'host', 'content-type', 'content-length', 'x-router-secret', 'x-operator-token'];

function secret(env: Env, name: string, what: string): string | undefined {
  const value = env[name];
  if (value === undefined || value === '') return undefined;
  if (value.length < 16 || /\s/.test(value)) throw new ConfigError(`${name} must be at least 16 characters without spaces (${what}; value hidden)`);
  return value;
}

function headerName(env: Env, name: string, fallback: string | undefined, refused: readonly string[], example: string): string | undefined {
  const raw = env[name];
  const value = raw === undefined || raw.trim() === '' ? fallback : raw.trim().toLowerCase();
  if (value === undefined) return undefined;
  if (!TOKEN_HEADER.test(value) || refused.includes(value)) {
    throw new ConfigError(`${name} must be the name of a request header the router sets (e.g. ${example}), not one of ${refused.join(', ')}; got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** The traces URL from `name`, or `undefined` when unset; a malformed one stops start-up naming `name`. */
function otlpUrl(env: Env, name: string, suffix = ''): string | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  const full = suffix ? `${raw.replace(/\/+$/, '')}${suffix}` : raw;
  if (!URL.canParse(full)) throw new ConfigError(`${name} must be an http(s) URL such as http://otel-collector:4318${suffix || '/v1/traces'}, got ${JSON.stringify(raw.replace(/\/\/[^/@]*@/, '//(hidden)@'))}`);
  const url = new URL(full);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`${name} must be an http: or https: URL (OTLP over HTTP), got protocol ${JSON.stringify(url.protocol)}`);
  if (url.username || url.password) throw new ConfigError(`${name} must not carry credentials; put them in OTEL_EXPORTER_OTLP_HEADERS`);
  return full;
}

export function observabilityConfig(env: Env, nodeEnv: string): ObservabilityConfig {
  const production = nodeEnv === 'production';
  const formats = ['auto', 'pretty', 'json'] as const;
  const rawFormat = env.LOG_FORMAT || 'auto';
  const logFormat = formats.find((f) => f === rawFormat);
  if (!logFormat) throw new ConfigError(`LOG_FORMAT must be one of ${formats.join(', ')}, got ${JSON.stringify(rawFormat)}`);

  const routerSecretOff = env.ROUTER_SECRET?.toLowerCase() === 'off';
  const routerSecret = routerSecretOff ? undefined : secret(env, 'ROUTER_SECRET', 'the shared secret the router sends in x-router-secret');
  const scopeHeader = env.CACHE_SCOPE_HEADER?.trim().toLowerCase() || undefined;
  const token = secret(env, 'MUTATION_AUTH_TOKEN', 'the authorization the router sends for mutations');
  // The caller scope of the cache names a caller, the mutation header authorizes: never the same header.
  const sharedWithScope = token && scopeHeader ? [scopeHeader] : [];
  const mutationHeader = headerName(env, 'MUTATION_AUTH_HEADER', 'authorization', ['cookie', 'host', 'x-router-secret', 'x-operator-token', ...sharedWithScope], 'authorization or x-mutation-token')!;
  const refusedCallers = [...NOT_A_CALLER, mutationHeader];
  const defaultCaller = scopeHeader && !refusedCallers.includes(scopeHeader) ? scopeHeader : undefined;
  const callerHeader = headerName(env, 'AUDIT_CALLER_HEADER', defaultCaller, refusedCallers, 'x-caller-id');
  return {
    tracing: {
      otlpUrl: otlpUrl(env, 'TRACING_OTLP_URL') ?? otlpUrl(env, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT') ?? otlpUrl(env, 'OTEL_EXPORTER_OTLP_ENDPOINT', '/v1/traces'),
      serviceName: env.OTEL_SERVICE_NAME?.trim() || 'wsz-legacy-subgraph',
    },
    logFormat,
    routerSecret,
    routerSecretOff,
    production,
    mutationAuth: { header: mutationHeader, token },
    callerHeader,
  };
}

/**
 * The server's check at start-up (not `loadConfig`'s: the command line and the compatibility module
 * serve no router): in production a router secret is required unless `ROUTER_SECRET=off`.
 * @throws ConfigError naming ROUTER_SECRET
 */
export function requireRouterSecret(config: ObservabilityConfig): void {
  if (!config.production || config.routerSecret || config.routerSecretOff) return;
  throw new ConfigError(
    'ROUTER_SECRET is required with NODE_ENV=production: set it to the secret the router sends in the x-router-secret header (at least 16 characters), or ROUTER_SECRET=off to serve without one',
  );
}
