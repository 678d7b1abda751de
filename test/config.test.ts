import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../src/config.js';

function configFile(content: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'wsz-config-'));
  const path = join(dir, 'wsz.config.json');
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

describe('loadConfig', () => {
  it('runs against the built-in emulator on port 4001 when nothing is configured', () => {
    const config = loadConfig({});
    expect(config.port).toBe(4001);
    expect(config.emulator).toEqual({ port: 0, scale: 0.01, latencyMs: 0, sessions: 10, changeTracking: true });
    expect(config.legacy.defaultEnvironment).toBe('emulator');
    expect(config.legacy).toMatchObject({ timeoutMs: 60_000, retries: 3, sessionTimeoutSeconds: 3500 });
    expect(config.redisUrl).toBeUndefined();
  });

  it('points the default environment at LEGACY_API_URL with its credentials', () => {
    const config = loadConfig({
      LEGACY_API_URL: 'http://erp.example:8080',
      LEGACY_API_USERNAME: 'api',
      LEGACY_API_PASSWORD: 's3cret',
      PORT: '5000',
      REDIS_URL: 'redis://127.0.0.1:6379',
    });
    expect(config.emulator).toBeUndefined();
    expect(config.legacy.defaultEnvironment).toBe('live');
    expect(config.legacy.environments.live).toEqual({ baseUrl: 'http://erp.example:8080', username: 'api', password: 's3cret', auth: 'login' });
    expect(config.port).toBe(5000);
    expect(config.redisUrl).toBe('redis://127.0.0.1:6379');
  });

  it('returns a frozen object', () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.legacy)).toBe(true);
  });

  it.each([
    [{ PORT: 'abc' }, 'PORT must be an integer from 0 to 65535, got "abc"'],
    [{ PORT: '70000' }, 'PORT must be an integer from 0 to 65535, got "70000"'],
    [{ LEGACY_API_RETRIES: '-1' }, 'LEGACY_API_RETRIES must be an integer from 0 to 10, got "-1"'],
    [{ LEGACY_API_URL: 'erp.example' }, 'LEGACY_API_URL: must be an http(s) URL, got "erp.example"'],
    [{ LEGACY_API_URL: 'http://erp', LEGACY_API_AUTH: 'digest' }, 'LEGACY_API_AUTH'],
    [{ REDIS_URL: 'localhost:6379' }, 'REDIS_URL must be a redis:// or rediss:// URL, got "localhost:6379"'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL must be one of'],
    [{ EMULATOR_SCALE: '0' }, 'EMULATOR_SCALE must be a number greater than 0 and at most 5, got "0"'],
  ])('rejects %j naming the setting and the value', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('never echoes a password in an error', () => {
    const path = configFile({ environments: { live: { baseUrl: 'http://erp', password: 12345 } } });
    try {
      loadConfig({ WSZ_CONFIG_FILE: path });
      expect.unreachable();
    } catch (err) {
      expect((err as Error).message).toContain('environments.live.password');
      expect((err as Error).message).not.toContain('12345');
    }
  });

  it('reads environments from the config file and lets environment variables override it', () => {
    const path = configFile({
      environments: {
        test: { baseUrl: 'http://erp-test:8080', username: 'u', password: 'p' },
        live: { baseUrl: 'http://erp-live:8080', username: 'u', password: 'p', auth: 'basic' },
      },
      defaultEnvironment: 'test',
      retries: 5,
    });
    const fromFile = loadConfig({ WSZ_CONFIG_FILE: path });
    expect(fromFile.legacy.defaultEnvironment).toBe('test');
    expect(fromFile.legacy.retries).toBe(5);
    expect(Object.keys(fromFile.legacy.environments)).toEqual(['test', 'live']);

    const overridden = loadConfig({ WSZ_CONFIG_FILE: path, LEGACY_API_ENV: 'live', LEGACY_API_RETRIES: '1', LEGACY_API_PASSWORD: 'other' });
    expect(overridden.legacy.defaultEnvironment).toBe('live');
    expect(overridden.legacy.retries).toBe(1);
    expect(overridden.legacy.environments.live.password).toBe('other');
    expect(overridden.legacy.environments.live.auth).toBe('basic');
  });

  it('rejects a default environment that is not configured', () => {
    const path = configFile({ environments: { test: { baseUrl: 'http://erp-test:8080' } }, defaultEnvironment: 'live' });
    expect(() => loadConfig({ WSZ_CONFIG_FILE: path })).toThrow('defaultEnvironment must name a configured environment (test), got "live"');
  });

  it('rejects an unreadable or malformed config file naming it', () => {
    expect(() => loadConfig({ WSZ_CONFIG_FILE: '/nonexistent/wsz.json' })).toThrow('WSZ_CONFIG_FILE "/nonexistent/wsz.json" cannot be read');
    expect(() => loadConfig({ WSZ_CONFIG_FILE: configFile('{ not json') })).toThrow('is not valid JSON');
    expect(() => loadConfig({ WSZ_CONFIG_FILE: configFile({ retires: 3 }) })).toThrow('is invalid');
  });
});
