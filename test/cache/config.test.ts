/**
 * The cache settings in `loadConfig`: defaults, `CACHE=off`, and every bad value (a mistyped
 * `CACHE_*` name included) stopping start-up with a message naming the setting; the operator
 * token is never echoed.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { refusal } from '../helpers/config.js';

const KNOWN = ['CACHE', 'CACHE_TTL_S', 'CACHE_TTL_BY_TYPE', 'CACHE_GRACE_S', 'CACHE_MAX_ENTRIES', 'CACHE_MAX_MB', 'CACHE_SCOPE_HEADER', 'CACHE_DEBUG'];


describe('cache configuration', () => {
  it('defaults: enabled, 60 s fresh, 900 s grace, no per-type ages, no scope header, debug outside production', () => {
    const { cache } = loadConfig({});
    expect(cache).toEqual({
      enabled: true,
      ttlSeconds: 60,
      ttlByType: {},
      graceSeconds: 900,
      maxEntries: 50_000,
      maxBytes: 64 * 1024 * 1024,
      scopeHeader: undefined,
      debug: true,
    });
    expect(Object.isFrozen(cache)).toBe(true);
  });

  it('NODE_ENV=production: debug off by default, on when asked', () => {
    const production = { NODE_ENV: 'production', LEGACY_API_URL: 'http://erp.example:8080' };
    expect(loadConfig(production).cache.debug).toBe(false);
    expect(loadConfig(production).cache.enabled).toBe(true);
    expect(loadConfig({ ...production, CACHE_DEBUG: 'true' }).cache.debug).toBe(true);
    expect(loadConfig({ CACHE_DEBUG: 'false' }).cache.debug).toBe(false);
  });

  it('CACHE=off turns the caches off; on/true/1 keep them on', () => {
    expect(loadConfig({ CACHE: 'off' }).cache.enabled).toBe(false);
    expect(loadConfig({ CACHE: 'OFF' }).cache.enabled).toBe(false);
    expect(loadConfig({ CACHE: 'false' }).cache.enabled).toBe(false);
    for (const on of ['on', 'true', '1']) expect(loadConfig({ CACHE: on }).cache.enabled).toBe(true);
  });

  it('reads the settings it knows', () => {
    const { cache } = loadConfig({
      CACHE_TTL_S: '30',
      CACHE_TTL_BY_TYPE: 'Product=300, Customer=5',
      CACHE_GRACE_S: '0',
      CACHE_MAX_ENTRIES: '1000',
      CACHE_MAX_MB: '8',
      CACHE_SCOPE_HEADER: 'X-Caller-Id',
    });
    expect(cache).toMatchObject({ ttlSeconds: 30, ttlByType: { Product: 300, Customer: 5 }, graceSeconds: 0, maxEntries: 1000, maxBytes: 8 * 1024 * 1024, scopeHeader: 'x-caller-id' });
  });

  it('a mistyped CACHE_* setting stops start-up naming it and listing the known ones', () => {
    const message = refusal({ CACHE_TLL_S: '30' });
    expect(message).toContain('CACHE_TLL_S');
    for (const name of KNOWN) expect(message).toContain(name);
    expect(refusal({ CACHE_ENABLED: 'true' })).toContain('CACHE_ENABLED');
  });

  it.each([
    [{ CACHE: 'maybe' }, 'CACHE', '"maybe"'],
    [{ CACHE_TTL_S: '0' }, 'CACHE_TTL_S', '"0"'],
    [{ CACHE_TTL_S: 'soon' }, 'CACHE_TTL_S', '"soon"'],
    [{ CACHE_GRACE_S: '-1' }, 'CACHE_GRACE_S', '"-1"'],
    [{ CACHE_TTL_BY_TYPE: 'Produkt=5' }, 'CACHE_TTL_BY_TYPE', '"Produkt"'],
    [{ CACHE_TTL_BY_TYPE: 'Product' }, 'CACHE_TTL_BY_TYPE', '"Product"'],
    [{ CACHE_TTL_BY_TYPE: 'Product=0' }, 'CACHE_TTL_BY_TYPE', 'Product'],
    [{ CACHE_SCOPE_HEADER: 'cookie' }, 'CACHE_SCOPE_HEADER', '"cookie"'],
    [{ CACHE_SCOPE_HEADER: 'x caller' }, 'CACHE_SCOPE_HEADER', '"x caller"'],
    [{ CACHE_DEBUG: 'sometimes' }, 'CACHE_DEBUG', '"sometimes"'],
  ])('refuses %j naming the setting', (env, setting, shown) => {
    const message = refusal(env);
    expect(message.startsWith(setting)).toBe(true);
    expect(message).toContain(shown);
  });

  it('an unknown type in CACHE_TTL_BY_TYPE lists the known types', () => {
    const message = refusal({ CACHE_TTL_BY_TYPE: 'Produkt=5' });
    expect(message).toMatch(/unknown type "Produkt"/);
    expect(message).toMatch(/\bProduct\b/);
    expect(message).toMatch(/\bCustomer\b/);
  });

  it('OPERATOR_TOKEN: too short is refused without echoing it; a good one is kept', () => {
    const message = refusal({ OPERATOR_TOKEN: 'kurz-geheim' });
    expect(message).toContain('OPERATOR_TOKEN');
    expect(message).not.toContain('kurz-geheim');
    const spaced = refusal({ OPERATOR_TOKEN: 'lang genug aber mit leerzeichen' });
    expect(spaced).not.toContain('leerzeichen');
    expect(loadConfig({ OPERATOR_TOKEN: 'a-long-enough-operator-token' }).operatorToken).toBe('a-long-enough-operator-token');
    expect(loadConfig({}).operatorToken).toBeUndefined();
  });
});
