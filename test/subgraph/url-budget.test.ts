/**
 * The client's URL budget through GraphQL: a filter or key value too long for one request URL is
 * `BAD_USER_INPUT` naming the field and the limit (not an HTTP 431 reported as `UPSTREAM_ERROR`),
 * with zero upstream requests.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { expectError } from '../helpers/graph.js';
import { startTestSubgraph, type TestSubgraph } from '../helpers/subgraph.js';

let subgraph: TestSubgraph;

beforeAll(async () => {
  subgraph = await startTestSubgraph();
  await subgraph.client.ping();
});
afterAll(() => subgraph.close());
beforeEach(() => subgraph.emulator.resetCounters());

describe('values too long for one request URL', () => {
  it('refuses a 10 KB filter value with BAD_USER_INPUT, naming the attribute and the limit, without any upstream request', async () => {
    const result = await subgraph.execute('query($v: String!) { products(filter: { name: { eq: $v } }) { totalCount } }', { v: 'x'.repeat(10_000) });
    expectError(subgraph, result, 'BAD_USER_INPUT', 'Bezeichnung', 'too long', '6000 bytes');
    expect(subgraph.emulator.counters.requests).toBe(0);
  });

  it('refuses an inline 10 KB literal the same way', async () => {
    const result = await subgraph.execute(`{ products(filter: { name: { contains: "${'ü'.repeat(2000)}" } }) { totalCount } }`);
    expectError(subgraph, result, 'BAD_USER_INPUT', 'Bezeichnung', '6000 bytes');
    expect(subgraph.emulator.counters.requests).toBe(0);
  });

  it('refuses a key lookup whose key cannot fit a URL, without any upstream request', async () => {
    const result = await subgraph.execute('query($sku: String!) { productBySku(sku: $sku) { id } }', { sku: 'S'.repeat(9000) });
    expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(result.errors?.[0]?.message).toContain('6000 bytes');
    expect(subgraph.emulator.counters.requests).toBe(0);
  });
});
