/**
 * Filter values the legacy client refuses while sending (a lone surrogate, a value too long for one
 * request URL) are BAD_USER_INPUT naming the GraphQL field, not only the 4D attribute, with no
 * upstream request. (Found by the filter fuzzing in test/fuzz/.)
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

describe('filter values refused by the legacy client name the field', () => {
  it.each([
    ['a lone surrogate in a text', { name: { eq: 'a\ud800' } }, 'filter.name', 'Bezeichnung', 'lone surrogate'],
    ['a lone surrogate in an id', { id: { in: ['\udc00'] } }, 'filter.id', '__KEY', 'lone surrogate'],
    ['a lone surrogate in a relation id', { familyId: { eq: '\ud800x' } }, 'filter.familyId', 'Familie_', 'lone surrogate'],
    ['a value too long for the URL', { or: [{ sku: { eq: '1' } }, { nameEn: { contains: 'x'.repeat(7000) } }] }, 'filter.nameEn', 'Bezeichnung_ENG', 'too long'],
    ['an id list too long for the URL', { id: { in: ['()'.repeat(2000)] } }, 'filter.id', '__KEY', 'too long'],
  ])('%s', async (_what, filter, field, attribute, why) => {
    const result = await subgraph.execute('query($f: ProductFilter) { products(filter: $f) { totalCount } }', { f: filter });
    expectError(subgraph, result, 'BAD_USER_INPUT', `${field}:`, attribute, why);
    expect(subgraph.emulator.counters.requests).toBe(0);
  });
});
