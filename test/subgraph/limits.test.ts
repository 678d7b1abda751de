/**
 * Query limits: the abusive queries of issue 6 are refused before any upstream request, each
 * refusal names its setting, the limit and the measured value; the defaults let through the
 * README's examples, Sandbox's introspection, `_service` and router `_entities` calls with hundreds
 * of representations; identical list calls cost one request; a filter nested too deep is
 * BAD_USER_INPUT, not an internal error.
 */
import { buildSubgraphSchema } from '@apollo/subgraph';
import { getIntrospectionQuery, getOperationAST, parse } from 'graphql';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { DEFAULT_QUERY_LIMITS, estimateCost } from '../../src/limits/index.js';
import { MAX_FILTER_DEPTH } from '../../src/mapping/filters.js';
import { dataOf, expectError, rowsOf } from '../helpers/graph.js';
import { loadTypeDefs } from '../../src/schema.js';
import { startTestSubgraph, type TestSubgraph } from '../helpers/subgraph.js';

/** The schema's types as the server builds them (the estimate needs no resolvers). */
const SCHEMA = buildSubgraphSchema([{ typeDefs: loadTypeDefs() }]);

let subgraph: TestSubgraph;

beforeAll(async () => {
  // 500 products for the router-sized _entities call (the demo scale has 100).
  subgraph = await startTestSubgraph({ emulator: { scale: 0.05 } });
  await subgraph.client.ping();
});
afterAll(() => subgraph.close());
beforeEach(() => subgraph.emulator.resetCounters());

const upstream = () => subgraph.emulator.counters.requests;

/** The issue's query: `levels` times sales records → customer → the customer's sales records, 100 each. */
function nestedSalesRecords(levels: number, first: number | string = 100): string {
  let inner = 'number';
  for (let i = 0; i < levels; i++) inner = `number customer { customerNumber salesRecords(first: ${first}) { edges { node { ${inner} } } } }`;
  return `{ salesRecords(first: ${first}) { edges { node { ${inner} } } } }`;
}

const README_EXAMPLE = /* GraphQL */ `
  query {
    salesRecords(first: 20, orderBy: [{ field: DATE, direction: DESC }], filter: { paid: { eq: false } }) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { node {
        number date type totalAmount
        customer { customerNumber addresses { city isPrimary } }
        items { position quantity lineTotal product { sku name retailPrice { amount } family { name } } }
      } }
    }
  }
`;

/** The benchmark's scenario (a), at its full page of 100. */
const BENCH_SALES_RECORDS = /* GraphQL */ `
  query($first: Int!) {
    salesRecords(first: $first) {
      totalCount
      edges { node {
        id number
        customer { id customerNumber addresses { id city isPrimary } }
        items { id position sku quantity product { id sku name family { id sku name } } }
      } }
    }
  }
`;

describe('the abusive queries of issue 6', () => {
  it('refuses sales records → customer → sales records five levels deep by its depth, with no upstream request', async () => {
    const query = nestedSalesRecords(5);
    expect(query.length).toBeLessThan(600);
    const error = expectError(subgraph, await subgraph.execute(query), 'GRAPHQL_VALIDATION_FAILED', 'MAX_QUERY_DEPTH', '24 levels', 'at most 12');
    expect(error.extensions).toMatchObject({ limit: 'MAX_QUERY_DEPTH', maximum: 12, found: 24 });
    expect(upstream()).toBe(0);
  });

  it('refuses the same shape within the depth limit by its estimated rows, with no upstream request', async () => {
    // 100 sales records, 100 customers, 100 × 100 of their sales records, 10 000 customers, 1 000 000 records.
    const error = expectError(subgraph, await subgraph.execute(nestedSalesRecords(2)), 'QUERY_TOO_COSTLY', 'MAX_QUERY_ROWS', 'at most 20000');
    expect(error.message).toContain('1020200 rows');
    expect(error.message).toContain('salesRecords.edges.node.customer.salesRecords.edges.node.customer.salesRecords');
    expect(error.extensions).toMatchObject({ limit: 'MAX_QUERY_ROWS', maximum: 20000, found: 1020200, cost: { rows: 1020200, requests: 203 } });
    expect(upstream()).toBe(0);
  });

  it('refuses 1000 aliases of the same list in the parser (token limit), with no upstream request', async () => {
    const aliases = Array.from({ length: 1000 }, (_, i) => `p${i}: products(first: 1) { totalCount }`).join(' ');
    const error = expectError(subgraph, await subgraph.execute(`{ ${aliases} }`), 'GRAPHQL_PARSE_FAILED', 'more than 5000 tokens', 'MAX_QUERY_TOKENS');
    expect(error.extensions).toMatchObject({ limit: 'MAX_QUERY_TOKENS', maximum: 5000 });
    expect(upstream()).toBe(0);
  });

  it('refuses 100 aliases of the same list by the alias limit, with no upstream request', async () => {
    const aliases = Array.from({ length: 100 }, (_, i) => `p${i}: products(first: 1) { totalCount }`).join(' ');
    const error = expectError(subgraph, await subgraph.execute(`{ ${aliases} }`), 'GRAPHQL_VALIDATION_FAILED', 'MAX_ALIASES', '100 aliases', 'at most 30');
    expect(error.extensions).toMatchObject({ limit: 'MAX_ALIASES', maximum: 30, found: 100 });
    expect(upstream()).toBe(0);
  });

  it('counts aliases inside a fragment each time it is spread', async () => {
    const fifteen = Array.from({ length: 15 }, (_, i) => `t${i}: totalCount`).join(' ');
    const error = expectError(
      subgraph,
      await subgraph.execute(`{ one: products(first: 1) { ...Many } two: products(first: 2) { ...Many } } fragment Many on ProductConnection { ${fifteen} }`),
      'GRAPHQL_VALIDATION_FAILED',
      '32 aliases',
    );
    expect(error.extensions).toMatchObject({ found: 32 });
    expect(upstream()).toBe(0);
  });

  it('estimates the cost from variable values: first: $n passes with 5 and is refused with 100', async () => {
    const query = /* GraphQL */ `
      query($n: Int!) {
        salesRecords(first: $n) { edges { node { number customer { salesRecords(first: $n) { edges { node { items { product { family { name } } } } } } } } } }
      }
    `;
    dataOf(await subgraph.execute(query, { n: 5 }));
    expect(upstream()).toBeGreaterThan(0);
    subgraph.emulator.resetCounters();
    // 100 + 100 + 10 000 sales records, 100 000 items, products and families.
    expectError(subgraph, await subgraph.execute(query, { n: 100 }), 'QUERY_TOO_COSTLY', 'MAX_QUERY_ROWS', '310200 rows');
    expect(upstream()).toBe(0);
  });

  it('answers a refused cost with HTTP 400 and the estimate in the extensions', async () => {
    const response = await subgraph.server.apollo.executeOperation({ query: nestedSalesRecords(2) }, { contextValue: await subgraph.server.createContext() });
    expect(response.http.status).toBe(400);
    expect(response.body.kind === 'single' && response.body.singleResult.errors?.[0].extensions).toMatchObject({ code: 'QUERY_TOO_COSTLY' });
  });
});

describe('what the defaults let through', () => {
  it('the README example', async () => {
    dataOf(await subgraph.execute(README_EXAMPLE));
  });

  it("the benchmark's 100 sales records with customer, addresses, items, product and family", async () => {
    const data = dataOf(await subgraph.execute<{ salesRecords: { edges: unknown[] } }>(BENCH_SALES_RECORDS, { first: 100 }));
    expect(data.salesRecords.edges).toHaveLength(100);
  });

  it("Apollo Sandbox's introspection query", async () => {
    const data = dataOf(await subgraph.execute<{ __schema: { types: unknown[] } }>(getIntrospectionQuery({ descriptions: true, inputValueDeprecation: true, schemaDescription: true })));
    expect(data.__schema.types.length).toBeGreaterThan(50);
    expect(upstream()).toBe(0);
  });

  it('the router’s _service { sdl }', async () => {
    const data = dataOf(await subgraph.execute<{ _service: { sdl: string } }>('{ _service { sdl } }'));
    expect(data._service.sdl).toContain('type Product');
  });

  it('_entities for 500 products with their family, in ceil(500 / 100) + family batches', async () => {
    const products = rowsOf(subgraph, 'Artikel_Variante').slice(0, 500);
    expect(products).toHaveLength(500);
    const data = dataOf(
      await subgraph.execute<{ _entities: Array<{ id: string; family: { id: string } | null }> }>(
        'query($reps: [_Any!]!) { _entities(representations: $reps) { ... on Product { id sku name family { id sku name } } } }',
        { reps: products.map((p) => ({ __typename: 'Product', id: p.__KEY })) },
      ),
    );
    expect(data._entities.map((e) => e.id)).toEqual(products.map((p) => p.__KEY));
    expect(subgraph.emulator.counters.byTable.Artikel_Variante).toBe(5);
  });

  it('_entities for 500 sales records with items, products and families (a router fetch of a big page)', async () => {
    const records = rowsOf(subgraph, 'Belege').slice(0, 500);
    dataOf(
      await subgraph.execute(
        'query($reps: [_Any!]!) { _entities(representations: $reps) { ... on SalesRecord { number items { quantity product { sku family { name } } } } } }',
        { reps: records.map((r) => ({ __typename: 'SalesRecord', number: r.AbsNr })) },
      ),
    );
  });
});

describe('every limit is a setting', () => {
  let strict: TestSubgraph;

  beforeAll(async () => {
    strict = await startTestSubgraph({ queryLimits: { maxDepth: 5, maxAliases: 1, maxRequests: 3, maxRows: 50, childrenPerParent: 2 } });
    await strict.client.ping();
  });
  afterAll(() => strict.close());
  beforeEach(() => strict.emulator.resetCounters());

  it('MAX_QUERY_DEPTH', async () => {
    dataOf(await strict.execute('{ products(first: 1) { edges { node { family { sku } } } } }'));
    strict.emulator.resetCounters();
    expectError(
      strict,
      await strict.execute('{ products(first: 1) { edges { node { family { variants { sku } } } } } }'),
      'GRAPHQL_VALIDATION_FAILED',
      '6 levels',
      'at most 5',
      'MAX_QUERY_DEPTH',
    );
    expect(strict.emulator.counters.requests).toBe(0);
  });

  it('MAX_ALIASES', async () => {
    dataOf(await strict.execute('{ a: products(first: 1) { totalCount } }'));
    expectError(strict, await strict.execute('{ a: products(first: 1) { totalCount } b: products(first: 2) { totalCount } }'), 'GRAPHQL_VALIDATION_FAILED', '2 aliases', 'at most 1');
  });

  it('MAX_QUERY_REQUESTS: four lookups by key are four requests', async () => {
    dataOf(await strict.execute('{ product(id: "a") { id } productFamily(id: "b") { id } customer(id: "c") { id } }'));
    strict.emulator.resetCounters();
    const error = expectError(
      strict,
      await strict.execute('{ product(id: "a") { id } productFamily(id: "b") { id } customer(id: "c") { id } mold(id: "d") { id } }'),
      'QUERY_TOO_COSTLY',
      'an estimated 4 upstream requests, at most 3 are allowed (MAX_QUERY_REQUESTS)',
    );
    expect(error.extensions).toMatchObject({ limit: 'MAX_QUERY_REQUESTS', maximum: 3, found: 4 });
    expect(strict.emulator.counters.requests).toBe(0);
  });

  it('MAX_QUERY_ROWS and QUERY_COST_CHILDREN: an unpaged 1→N relation is estimated at that many children per parent', async () => {
    // 20 records + 20 × 2 items = 60 rows > 50; 10 + 20 = 30 rows pass.
    dataOf(await strict.execute('{ salesRecords(first: 10) { edges { node { items { id } } } } }'));
    expectError(strict, await strict.execute('{ salesRecords(first: 20) { edges { node { items { id } } } } }'), 'QUERY_TOO_COSTLY', '60 rows', 'at most 50');
  });

  it('a first: null variable counts as the default page of 20, as the resolver reads it', async () => {
    const query = 'query($n: Int) { salesRecords(first: $n) { edges { node { items { id } } } } }';
    expectError(strict, await strict.execute(query, { n: null }), 'QUERY_TOO_COSTLY', '60 rows');
    expectError(strict, await strict.execute(query, {}), 'QUERY_TOO_COSTLY', '60 rows');
    expect(strict.emulator.counters.requests).toBe(0);
  });

  it('a first above MAX_PAGE_SIZE keeps its BAD_USER_INPUT (it costs nothing: the resolver refuses it first)', async () => {
    expectError(strict, await strict.execute('{ products(first: 1000000) { totalCount } }'), 'BAD_USER_INPUT', 'first must be between 0 and 100');
    expect(strict.emulator.counters.requests).toBe(0);
  });

  it('are read and validated from the environment, naming the setting and the value', () => {
    expect(loadConfig({}).queryLimits).toEqual(DEFAULT_QUERY_LIMITS);
    expect(loadConfig({ MAX_QUERY_DEPTH: '20', MAX_ALIASES: '0', MAX_QUERY_TOKENS: '800', MAX_QUERY_REQUESTS: '50', MAX_QUERY_ROWS: '1000', QUERY_COST_CHILDREN: '3' }).queryLimits).toEqual({
      maxDepth: 20,
      maxAliases: 0,
      maxTokens: 800,
      maxRequests: 50,
      maxRows: 1000,
      childrenPerParent: 3,
    });
    for (const [name, value] of [['MAX_QUERY_DEPTH', '0'], ['MAX_ALIASES', '-1'], ['MAX_QUERY_TOKENS', '10'], ['MAX_QUERY_REQUESTS', 'many'], ['MAX_QUERY_ROWS', '1.5'], ['QUERY_COST_CHILDREN', '0']]) {
      expect(() => loadConfig({ [name]: value }), name).toThrow(ConfigError);
      expect(() => loadConfig({ [name]: value }), name).toThrow(new RegExp(`${name}.*"${value.replace('.', '\\.')}"`));
    }
  });
});

describe('in production', () => {
  it('refusals keep their message, code and limit (they are the client\'s to fix, not internals)', async () => {
    const production = await startTestSubgraph({ production: true });
    try {
      const error = expectError(production, await production.execute(nestedSalesRecords(2)), 'QUERY_TOO_COSTLY', 'MAX_QUERY_ROWS', '1020200 rows');
      expect(error.extensions).toMatchObject({ limit: 'MAX_QUERY_ROWS', maximum: 20000 });
      expectError(production, await production.execute(nestedSalesRecords(5)), 'GRAPHQL_VALIDATION_FAILED', 'MAX_QUERY_DEPTH', '24 levels');
      expect(production.emulator.counters.requests).toBe(0);
    } finally {
      await production.close();
    }
  });
});

describe('the estimate follows the batching', () => {
  let small: TestSubgraph;

  beforeAll(async () => {
    small = await startTestSubgraph({ maxBatchSize: 7, queryLimits: { maxRequests: 10_000, maxRows: 10_000_000 } });
    await small.client.ping();
  });
  afterAll(() => small.close());

  it.each([
    ['the README example', README_EXAMPLE, {}],
    ['the benchmark query', BENCH_SALES_RECORDS, { first: 50 }],
    ['families, variants, their family', '{ productFamilies(first: 30) { edges { node { variants { family { sku } } } } } }', {}],
    ['molds and production orders', '{ molds(first: 30) { edges { node { articles { product { sku } } } } } productionOrders(first: 30) { edges { node { mold { number } items { product { sku } } } } } }', {}],
    ['customers with addresses and paged sales records', '{ customers(first: 30) { edges { node { addresses { city } salesRecords(first: 3) { edges { node { items { sku } } } } } } } }', {}],
  ])('is never below the upstream requests really sent, with batches of 7: %s', async (_name, query, variables) => {
    small.emulator.resetCounters();
    dataOf(await small.execute(query, variables));
    const sent = small.emulator.counters.requests;
    const estimate = estimateCost(SCHEMA, getOperationAST(parse(query))!, {}, variables, { maxBatchSize: 7 });
    expect(sent).toBeGreaterThan(0);
    expect(estimate.requests).toBeGreaterThanOrEqual(sent);
  });
});

describe('identical list calls in one operation', () => {
  it('cost one upstream request: two aliases of products(first: 5)', async () => {
    const data = dataOf(
      await subgraph.execute<Record<'a' | 'b', { edges: Array<{ node: { id: string } }> }>>(
        '{ a: products(first: 5) { edges { node { id } } } b: products(first: 5) { totalCount edges { node { sku id } } } }',
      ),
    );
    expect(data.a.edges.map((e) => e.node.id)).toEqual(data.b.edges.map((e) => e.node.id));
    expect(subgraph.emulator.counters.byTable.Artikel_Variante).toBe(1);
    expect(upstream()).toBe(1);
  });

  it('cost one request when the same page comes through a fragment and a variable', async () => {
    dataOf(
      await subgraph.execute('query($f: ProductFilter) { a: products(first: 3, filter: $f) { ...Ids } b: products(filter: { active: { eq: true } }, first: 3) { ...Ids } } fragment Ids on ProductConnection { edges { node { id } } }', {
        f: { active: { eq: true } },
      }),
    );
    expect(upstream()).toBe(1);
  });

  it('cost two when the page, the filter or the order differ', async () => {
    dataOf(await subgraph.execute('{ a: products(first: 5) { totalCount } b: products(first: 6) { totalCount } }'));
    expect(upstream()).toBe(2);
    subgraph.emulator.resetCounters();
    dataOf(await subgraph.execute('{ a: products(first: 5) { totalCount } b: products(first: 5, filter: { active: { eq: true } }) { totalCount } }'));
    expect(upstream()).toBe(2);
    subgraph.emulator.resetCounters();
    dataOf(await subgraph.execute('{ a: products(first: 5) { totalCount } b: products(first: 5, orderBy: [{ field: NAME }]) { totalCount } }'));
    expect(upstream()).toBe(2);
  });

  it('are not shared between operations', async () => {
    await subgraph.execute('{ products(first: 5) { totalCount } }');
    await subgraph.execute('{ products(first: 5) { totalCount } }');
    expect(upstream()).toBe(2);
  });
});

describe('filters nested too deep', () => {
  const nest = (levels: number, wrap: (inner: string) => string) => {
    let filter = '{ sku: { eq: "x" } }';
    for (let i = 0; i < levels; i++) filter = wrap(filter);
    return filter;
  };
  const nestValue = (levels: number) => {
    let filter: Record<string, unknown> = { sku: { eq: 'x' } };
    for (let i = 0; i < levels; i++) filter = i % 2 ? { not: filter } : { and: [filter, { active: { eq: true } }] };
    return filter;
  };

  it(`pass at ${MAX_FILTER_DEPTH} levels of and/or/not`, async () => {
    dataOf(await subgraph.execute(`{ products(filter: ${nest(MAX_FILTER_DEPTH, (f) => `{ not: ${f} }`)}) { totalCount } }`));
    dataOf(await subgraph.execute('query($f: ProductFilter) { products(filter: $f) { totalCount } }', { f: nestValue(MAX_FILTER_DEPTH) }));
  });

  it('are BAD_USER_INPUT naming the limit and the depth: 200 levels of not, inline', async () => {
    const error = expectError(
      subgraph,
      await subgraph.execute(`{ products(filter: ${nest(200, (f) => `{ not: ${f} }`)}) { totalCount } }`),
      'BAD_USER_INPUT',
      'products: filter nests and/or/not 200 levels deep; at most 20 levels are allowed',
    );
    expect(error.extensions).toMatchObject({ maximum: 20, found: 200 });
    expect(upstream()).toBe(0);
  });

  it('are BAD_USER_INPUT for 200 and 5000 levels of and/not in a variable (graphql-js would overflow its stack at 5000)', async () => {
    for (const levels of [200, 5000]) {
      expectError(
        subgraph,
        await subgraph.execute('query($f: ProductFilter) { salesRecords(first: 1) { totalCount } products(filter: $f) { totalCount } }', { f: nestValue(levels) }),
        'BAD_USER_INPUT',
        `filter nests and/or/not ${levels} levels deep`,
      );
    }
    expect(upstream()).toBe(0);
  });

  it('are measured through variables inside a literal filter', async () => {
    expectError(
      subgraph,
      await subgraph.execute('query($f: ProductFilter!) { products(filter: { or: [{ sku: { eq: "a" } }, { not: $f }] }) { totalCount } }', { f: nestValue(30) }),
      'BAD_USER_INPUT',
      '32 levels deep',
    );
    expect(upstream()).toBe(0);
  });
});
