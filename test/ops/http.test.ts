/**
 * The operators' routes over HTTP: the operator gate of /status, /status.json and /metrics, the
 * numbers of /status.json, the explorer routes per EXPLORER, and the EXPLORER setting.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { startOpsSubgraph, type OpsSubgraph } from './fixture.js';
import type { StatusSnapshot } from '../../src/ops/index.js';

const TOKEN = 'http-test-operator-token';

describe('the operator gate', () => {
  let open: OpsSubgraph;
  let guarded: OpsSubgraph;
  beforeAll(async () => {
    open = await startOpsSubgraph();
    guarded = await startOpsSubgraph({ operatorToken: TOKEN });
  });
  afterAll(async () => {
    await open?.close();
    await guarded?.close();
  });

  it('leaves /status, /status.json and /metrics open when no operator token is configured', async () => {
    for (const path of ['/status', '/status.json', '/metrics']) expect((await fetch(`${open.url}${path}`)).status, path).toBe(200);
  });

  it('refuses /status, /status.json and /metrics without the token, naming what to send and never echoing what was sent', async () => {
    for (const path of ['/status', '/status.json', '/metrics']) {
      const response = await fetch(`${guarded.url}${path}`, { headers: { accept: 'application/json' } });
      expect(response.status, path).toBe(401);
      expect(((await response.json()) as { error: { message: string } }).error.message).toContain('x-operator-token');
    }
    const wrong = await fetch(`${guarded.url}/status.json`, { headers: { 'x-operator-token': 'a-wrong-token-value-here' } });
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).not.toContain('a-wrong-token-value-here');
  });

  it('lets the token in as x-operator-token or as a bearer token (Prometheus)', async () => {
    expect((await fetch(`${guarded.url}/status.json`, { headers: { 'x-operator-token': TOKEN } })).status).toBe(200);
    const metrics = await fetch(`${guarded.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('legacy_upstream_requests_total');
  });

  it('turns ?token= into an HttpOnly SameSite=Strict cookie that does not hold the token, and drops it from the URL', async () => {
    const response = await fetch(`${guarded.url}/status?token=${TOKEN}&view=all`, { redirect: 'manual' });
    expect(response.status).toBe(303);
    expect(response.headers.get('location')).toBe('/status?view=all');
    const cookie = response.headers.get('set-cookie') ?? '';
    expect(cookie).toMatch(/^wsz_operator=[^;]+; Path=\/; HttpOnly; SameSite=Strict$/);
    expect(cookie).not.toContain(TOKEN);
    const pair = cookie.split(';')[0]!;
    for (const path of ['/status', '/status.json', '/metrics']) expect((await fetch(`${guarded.url}${path}`, { headers: { cookie: pair } })).status, path).toBe(200);
    expect((await fetch(`${guarded.url}/status.json`, { headers: { cookie: 'wsz_operator=forged' } })).status).toBe(401);
  });
});

describe('/status.json', () => {
  let subgraph: OpsSubgraph;
  beforeAll(async () => {
    subgraph = await startOpsSubgraph();
  });
  afterAll(() => subgraph?.close());

  const snapshot = async () => (await (await fetch(`${subgraph.url}/status.json`)).json()) as StatusSnapshot;

  it('shows the session, licence, upstream, cache and error-code numbers of the traffic, with codes and never messages', async () => {
    const before = await snapshot();
    const sku = subgraph.sku(2);
    subgraph.emulator.resetCounters();
    for (let i = 0; i < 2; i++) await subgraph.post('query($sku: String!) { productBySku(sku: $sku) { sku } }', { sku });
    await subgraph.post('query($sku: String!) { productBySku(sku: $sku) { sku } }', { sku: 42 });
    const after = await snapshot();

    expect(after.upstream.requests - before.upstream.requests).toBe(subgraph.emulator.counters.requests);
    expect(after.upstream.meanMs).toBeGreaterThan(0);
    expect(after.upstream.statuses['200']).toBe(after.upstream.requests);
    expect(after.environments).toHaveLength(1);
    expect(after.environments[0]).toMatchObject({ environment: 'test', state: 'ok', breakerOpen: false, session: { present: true }, licence: { held: 1, logins: 1, refused: 0 } });
    expect(after.cache.hits).toBeGreaterThan(before.cache.hits);
    expect(after.cache.hitRatio).toBeGreaterThan(0);
    expect(after.graphql.operations - before.graphql.operations).toBe(3);
    expect(after.errors.total).toEqual({ BAD_USER_INPUT: 1 });
    expect(after.errors.recent).toEqual({ BAD_USER_INPUT: 1 });
    expect(after.watcher).toEqual({ lagSeconds: null, leader: null, strategy: null, polls: {} });
    expect(JSON.stringify(after)).not.toContain('String');
  });
});

describe('the explorer routes', () => {
  it('serves /explorer and its assets from node_modules, and a landing page that falls back to it', async () => {
    const subgraph = await startOpsSubgraph();
    try {
      const page = await (await fetch(`${subgraph.url}/explorer`)).text();
      expect(page).not.toMatch(/https?:\/\//);
      for (const asset of ['react.production.min.js', 'react-dom.production.min.js', 'graphiql.min.js', 'graphiql.min.css']) {
        const response = await fetch(`${subgraph.url}/explorer/assets/${asset}`);
        expect(response.status, asset).toBe(200);
        expect(response.headers.get('content-type'), asset).toMatch(asset.endsWith('.css') ? /text\/css/ : /javascript/);
      }
      const landing = await (await fetch(`${subgraph.url}/graphql`, { headers: { accept: 'text/html' } })).text();
      expect(landing).toContain('embeddable-sandbox.cdn.apollographql.com');
      expect(landing).toContain('location.replace("/explorer")');
    } finally {
      await subgraph.close();
    }
  });

  it('has no explorer with EXPLORER=off, nor in production', async () => {
    for (const options of [{ explorer: 'off' as const }, { production: true, explorer: 'graphiql' as const }]) {
      const subgraph = await startOpsSubgraph(options);
      try {
        expect((await fetch(`${subgraph.url}/explorer`)).status).toBe(404);
        expect(await (await fetch(`${subgraph.url}/graphql`, { headers: { accept: 'text/html' } })).text()).not.toContain('<html');
      } finally {
        await subgraph.close();
      }
    }
  });

  it('answers an operation name the document does not define (what GraphiQL sends mid-edit) with a clear error, not an internal one', async () => {
    const subgraph = await startOpsSubgraph();
    try {
      const response = await fetch(`${subgraph.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: 'query A { legacyReady }', operationName: 'B' }),
      });
      const body = (await response.json()) as { errors: Array<{ message: string; extensions: { code: string } }> };
      expect(body.errors[0]!.message).toContain('B');
      expect(body.errors[0]!.extensions.code).not.toBe('INTERNAL_SERVER_ERROR');
    } finally {
      await subgraph.close();
    }
  });
});

describe('the EXPLORER setting', () => {
  it('defaults to sandbox, and to off in production', () => {
    expect(loadConfig({}).explorer).toBe('sandbox');
    expect(loadConfig({ EXPLORER: 'GraphiQL' }).explorer).toBe('graphiql');
    expect(loadConfig({ NODE_ENV: 'production', LEGACY_API_URL: 'http://erp:8080', LEGACY_API_USERNAME: 'u', LEGACY_API_PASSWORD: 'p' }).explorer).toBe('off');
  });

  it('stops start-up on an unknown value, and on an explorer asked for in production, naming EXPLORER', () => {
    expect(() => loadConfig({ EXPLORER: 'playground' })).toThrow(ConfigError);
    expect(() => loadConfig({ EXPLORER: 'playground' })).toThrow('EXPLORER must be one of sandbox, graphiql, off, got "playground"');
    expect(() => loadConfig({ NODE_ENV: 'production', EXPLORER: 'graphiql', LEGACY_API_URL: 'http://erp:8080', LEGACY_API_USERNAME: 'u', LEGACY_API_PASSWORD: 'p' })).toThrow(
      /EXPLORER=graphiql is not allowed with NODE_ENV=production/,
    );
  });
});
