/**
 * The observability and security settings: defaults, the refusals that stop start-up naming the
 * setting (never quoting a secret), and the production rule for the router secret.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { requireRouterSecret } from '../../src/config-observability.js';
import { isPretty } from '../../src/observability/logger.js';
import { refusal } from '../helpers/config.js';

const PROD = { NODE_ENV: 'production', LEGACY_API_URL: 'http://erp.example:8080' };

describe('observability settings', () => {
  it('defaults: tracing off, auto log format, no secret, authorization header, no caller header', () => {
    const { observability } = loadConfig({});
    expect(observability).toMatchObject({ tracing: { serviceName: 'wsz-legacy-subgraph' }, logFormat: 'auto', mutationAuth: { header: 'authorization' }, routerSecretOff: false });
    expect(observability.tracing.otlpUrl).toBeUndefined();
    expect(observability.routerSecret).toBeUndefined();
    expect(observability.mutationAuth.token).toBeUndefined();
    expect(observability.callerHeader).toBeUndefined();
  });

  it('reads the traces URL from TRACING_OTLP_URL, or the OTEL_ variables', () => {
    expect(loadConfig({ TRACING_OTLP_URL: 'http://collector:4318/v1/traces' }).observability.tracing.otlpUrl).toBe('http://collector:4318/v1/traces');
    expect(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).observability.tracing.otlpUrl).toBe('http://collector:4318/v1/traces');
    expect(loadConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://c:4318/x' }).observability.tracing.otlpUrl).toBe('https://c:4318/x');
  });

  it('refuses malformed traces URLs, naming the setting and hiding credentials', () => {
    expect(refusal({ TRACING_OTLP_URL: 'http://coll ector:4318/v1/traces' })).toMatch(/^TRACING_OTLP_URL must be an http\(s\) URL/);
    expect(refusal({ TRACING_OTLP_URL: 'ftp://collector/v1/traces' })).toMatch(/^TRACING_OTLP_URL must be an http: or https: URL/);
    expect(refusal({ OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url' })).toMatch(/^OTEL_EXPORTER_OTLP_ENDPOINT must be/);
    const credentials = refusal({ TRACING_OTLP_URL: 'http://user:hunter2-secret@collector:4318/v1/traces' });
    expect(credentials).toMatch(/^TRACING_OTLP_URL must not carry credentials/);
    expect(credentials).not.toContain('hunter2');
  });

  it('refuses an unknown LOG_FORMAT, and decides pretty output', () => {
    expect(refusal({ LOG_FORMAT: 'xml' })).toBe('LOG_FORMAT must be one of auto, pretty, json, got "xml"');
    expect(isPretty({ format: 'auto', production: false, tty: true })).toBe(true);
    expect(isPretty({ format: 'auto', production: false, tty: false })).toBe(false);
    expect(isPretty({ format: 'auto', production: true, tty: true })).toBe(false);
    expect(isPretty({ format: 'pretty', production: true, tty: false })).toBe(true);
    expect(isPretty({ format: 'json', production: false, tty: true })).toBe(false);
  });
});

describe('security settings', () => {
  it('refuses short secrets without quoting them', () => {
    const short = refusal({ ROUTER_SECRET: 'short-one' });
    expect(short).toMatch(/^ROUTER_SECRET must be at least 16 characters/);
    expect(short).not.toContain('short-one');
    expect(refusal({ MUTATION_AUTH_TOKEN: 'with space 0123456789' })).toMatch(/^MUTATION_AUTH_TOKEN must be at least 16 characters without spaces/);
  });

  it('requires a router secret for the server in production, unless ROUTER_SECRET=off', () => {
    const config = loadConfig(PROD);
    expect(() => requireRouterSecret(config.observability)).toThrow(ConfigError);
    expect(() => requireRouterSecret(config.observability)).toThrow(/^ROUTER_SECRET is required with NODE_ENV=production/);
    expect(() => requireRouterSecret(loadConfig({ ...PROD, ROUTER_SECRET: 'off' }).observability)).not.toThrow();
    expect(() => requireRouterSecret(loadConfig({ ...PROD, ROUTER_SECRET: 'a-long-router-secret-value' }).observability)).not.toThrow();
    // Outside production, and for the command line (which never calls it), no secret is needed.
    expect(() => requireRouterSecret(loadConfig({}).observability)).not.toThrow();
    expect(loadConfig({ ...PROD, ROUTER_SECRET: 'OFF' }).observability.routerSecret).toBeUndefined();
  });

  it('refuses a mutation header that is a cookie, another secret header, or the cache scope header', () => {
    expect(refusal({ MUTATION_AUTH_HEADER: 'Cookie' })).toMatch(/^MUTATION_AUTH_HEADER must be the name of a request header/);
    expect(refusal({ MUTATION_AUTH_HEADER: 'x-router-secret' })).toMatch(/^MUTATION_AUTH_HEADER/);
    expect(refusal({ MUTATION_AUTH_HEADER: 'bad header' })).toMatch(/^MUTATION_AUTH_HEADER/);
    expect(refusal({ MUTATION_AUTH_HEADER: 'x-caller-id', MUTATION_AUTH_TOKEN: 'a-long-mutation-token', CACHE_SCOPE_HEADER: 'x-caller-id' })).toMatch(/^MUTATION_AUTH_HEADER/);
    expect(loadConfig({ MUTATION_AUTH_HEADER: 'X-Mutation-Token' }).observability.mutationAuth.header).toBe('x-mutation-token');
  });

  it('takes the caller header from AUDIT_CALLER_HEADER or CACHE_SCOPE_HEADER, never a secret header', () => {
    expect(loadConfig({ CACHE_SCOPE_HEADER: 'x-caller-id' }).observability.callerHeader).toBe('x-caller-id');
    expect(loadConfig({ AUDIT_CALLER_HEADER: 'X-Client' }).observability.callerHeader).toBe('x-client');
    // A scope header that is the authorization is fine for the cache, but never logged as the caller.
    expect(loadConfig({ CACHE_SCOPE_HEADER: 'authorization' }).observability.callerHeader).toBeUndefined();
    expect(refusal({ AUDIT_CALLER_HEADER: 'authorization' })).toMatch(/^AUDIT_CALLER_HEADER must be the name of a request header/);
    expect(refusal({ AUDIT_CALLER_HEADER: 'x-router-secret' })).toMatch(/^AUDIT_CALLER_HEADER/);
    expect(refusal({ AUDIT_CALLER_HEADER: 'x-auth', MUTATION_AUTH_HEADER: 'x-auth' })).toMatch(/^AUDIT_CALLER_HEADER/);
  });
});
