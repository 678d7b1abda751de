import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestSubgraph, type TestSubgraph } from '../helpers/subgraph.js';

let subgraph: TestSubgraph;
let base: string;

beforeAll(async () => {
  subgraph = await startTestSubgraph();
  await new Promise<void>((resolve) => subgraph.server.httpServer.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(subgraph.server.httpServer.address() as AddressInfo).port}`;
});
afterAll(() => subgraph.close());

describe('HTTP routes', () => {
  it('answers /health while the process is up', async () => {
    const response = await fetch(`${base}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('answers /ready with 200 when an upstream session can be had, 503 when not', async () => {
    expect((await fetch(`${base}/ready`)).status).toBe(200);
    subgraph.emulator.failNext(4, 503);
    const down = await fetch(`${base}/ready`);
    expect(down.status).toBe(503);
    expect(await down.json()).toEqual({ status: 'upstream unavailable' });
    expect((await fetch(`${base}/ready`)).status).toBe(200);
  });

  it('serves GraphQL over POST /graphql', async () => {
    const sku = subgraph.emulator.db.table('Artikel_Variante')!.rows()[0].Nummer;
    const response = await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: 'query($sku: String!) { productBySku(sku: $sku) { sku } }', variables: { sku } }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { productBySku: { sku } } });
  });

  it('serves the Apollo Sandbox landing page to a browser outside production', async () => {
    const response = await fetch(`${base}/graphql`, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('sandbox');
  });

  it('exposes Prometheus metrics with upstream requests by table', async () => {
    await fetch(`${base}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ productFamily(id: "00000000000000000000000000000000") { id } }' }),
    });
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toMatch(/legacy_upstream_requests_total\{[^}]*table="Artikel_Familie"[^}]*\} [1-9]/);
    expect(text).toMatch(/graphql_operations_total\{operation="query",outcome="success"\} [1-9]/);
  });
});
