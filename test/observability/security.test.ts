/**
 * Router-facing security over HTTP: the shared router secret on /graphql (probes exempt), the
 * authorization mutations need (refused before any upstream request), `_service` for composition
 * while introspection is off in production, and no secret in any log line.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { captureLogger } from '../helpers/logs.js';
import { startTestSubgraph, type TestSubgraph } from '../helpers/subgraph.js';
import { listen, post, UPDATE_PRODUCT } from './http.js';

const SECRET = 'router-secret-0123456789';
const TOKEN = 'mutation-token-0123456789';

function firstProduct(subgraph: TestSubgraph) {
  const row = subgraph.emulator.db.table('Artikel_Variante')!.rows()[0] as { __KEY: string; __STAMP: number };
  return { id: row.__KEY, stamp: row.__STAMP };
}

describe('in production with a router secret and a mutation token', () => {
  const logs = captureLogger('debug');
  let subgraph: TestSubgraph;
  let base: string;
  const router = { 'x-router-secret': SECRET };

  beforeAll(async () => {
    subgraph = await startTestSubgraph({
      production: true,
      logger: logs.logger,
      server: { routerSecret: SECRET, mutationAuth: { header: 'authorization', token: TOKEN } },
    });
    base = await listen(subgraph.server);
  });
  afterAll(() => subgraph.close());

  it('answers 401 on /graphql without the secret or with a wrong one, and sends nothing upstream', async () => {
    subgraph.emulator.resetCounters();
    const missing = await post(base, '{ __typename }');
    expect(missing.status).toBe(401);
    expect(missing.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(missing.body.errors?.[0]?.message).toContain('x-router-secret header is missing');
    const wrong = await post(base, '{ __typename }', undefined, { 'x-router-secret': `${SECRET}x` });
    expect(wrong.status).toBe(401);
    expect(wrong.body.errors?.[0]?.message).toContain('x-router-secret header is wrong');
    expect(subgraph.emulator.counters.requests).toBe(0);
  });

  it('serves /health and /ready without the secret', async () => {
    expect((await fetch(`${base}/health`)).status).toBe(200);
    expect((await fetch(`${base}/ready`)).status).toBe(200);
  });

  it('keeps _service { sdl } reachable for the router but refuses introspection', async () => {
    const sdl = await post(base, '{ _service { sdl } }', undefined, router);
    expect(sdl.status).toBe(200);
    expect(String((sdl.body.data?._service as { sdl: string }).sdl)).toContain('type Product');
    const introspection = await post(base, '{ __schema { types { name } } }', undefined, router);
    expect(introspection.body.errors?.[0]?.message).toMatch(/introspection/i);
  });

  it('refuses a mutation without the authorization header (UNAUTHENTICATED) before any upstream request', async () => {
    const { id, stamp } = firstProduct(subgraph);
    subgraph.emulator.resetCounters();
    const answer = await post(base, UPDATE_PRODUCT, { id, stamp, name: 'nicht erlaubt' }, router);
    expect(answer.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(answer.body.errors?.[0]?.message).toContain('authorization header');
    expect(answer.body.data ?? null).toBeNull();
    expect(subgraph.emulator.counters.requests).toBe(0);
  });

  it('refuses a mutation with a wrong authorization (FORBIDDEN), also hidden in a fragment', async () => {
    const { id, stamp } = firstProduct(subgraph);
    subgraph.emulator.resetCounters();
    const wrong = await post(base, UPDATE_PRODUCT, { id, stamp, name: 'x' }, { ...router, authorization: 'Bearer not-the-token-at-all' });
    expect(wrong.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const fragment = `mutation($id: ID!, $stamp: Int!) { ...W } fragment W on Mutation { updateProduct(id: $id, expectedStamp: $stamp, input: { name: "y" }) { product { id } } }`;
    const hidden = await post(base, fragment, { id, stamp }, router);
    expect(hidden.body.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(subgraph.emulator.counters.requests).toBe(0);
  });

  it('saves a mutation with the right authorization, as a token or a bearer token', async () => {
    const { id, stamp } = firstProduct(subgraph);
    const bearer = await post(base, UPDATE_PRODUCT, { id, stamp, name: 'Erlaubt 1' }, { ...router, authorization: `Bearer ${TOKEN}` });
    expect(bearer.body.errors).toBeUndefined();
    const saved = bearer.body.data?.updateProduct as { product: { name: string; stamp: number } };
    expect(saved.product.name).toBe('Erlaubt 1');
    const plain = await post(base, UPDATE_PRODUCT, { id, stamp: saved.product.stamp, name: 'Erlaubt 2' }, { ...router, authorization: TOKEN });
    expect((plain.body.data?.updateProduct as { product: { name: string } }).product.name).toBe('Erlaubt 2');
  });

  it('leaves purgeCache to its operator token', async () => {
    const answer = await post(base, 'mutation { purgeCache(all: true) { all } }', undefined, router);
    expect(answer.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(answer.body.errors?.[0]?.message).toContain('x-operator-token');
  });

  it('never logs the router secret or the mutation token', () => {
    expect(logs.lines.length).toBeGreaterThan(0);
    expect(logs.text()).not.toContain(SECRET);
    expect(logs.text()).not.toContain(TOKEN);
  });
});

describe('mutation authorization defaults', () => {
  it('in production without a token: mutations are FORBIDDEN, nothing sent', async () => {
    const subgraph = await startTestSubgraph({ production: true });
    try {
      const base = await listen(subgraph.server);
      const { id, stamp } = firstProduct(subgraph);
      subgraph.emulator.resetCounters();
      const answer = await post(base, UPDATE_PRODUCT, { id, stamp, name: 'x' }, { authorization: 'Bearer anything-at-all-here' });
      expect(answer.body.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect(answer.body.errors?.[0]?.message).toContain('MUTATION_AUTH_TOKEN');
      expect(subgraph.emulator.counters.requests).toBe(0);
    } finally {
      await subgraph.close();
    }
  });

  it('in development without settings: the Sandbox mutates with no secret and no authorization', async () => {
    const subgraph = await startTestSubgraph();
    try {
      const base = await listen(subgraph.server);
      const { id, stamp } = firstProduct(subgraph);
      const answer = await post(base, UPDATE_PRODUCT, { id, stamp, name: 'Sandbox' });
      expect(answer.status).toBe(200);
      expect((answer.body.data?.updateProduct as { product: { name: string } }).product.name).toBe('Sandbox');
    } finally {
      await subgraph.close();
    }
  });
});
