/**
 * The paged root lists: totalCount, edges and cursors, pageInfo, `after` paging over the whole
 * set, orderBy with the default tie-break, the `first` cap and bad cursors.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ENTITY, PAGE, dataOf, expectError, ids, requestsTo, rowsOf, sortLike4D, type Page, type Row } from '../helpers/graph.js';
import { startTestSubgraph, type TestSubgraph } from '../helpers/subgraph.js';

let subgraph: TestSubgraph;

beforeAll(async () => {
  subgraph = await startTestSubgraph();
  await subgraph.client.ping();
});
afterAll(() => subgraph.close());
beforeEach(() => subgraph.emulator.resetCounters());

/** Each root list: its GraphQL field, filter and order types, table and default order (the tie-break). */
const LISTS = [
  { field: 'products', entity: 'Product', filter: 'ProductFilter', order: 'ProductOrder', table: 'Artikel_Variante', natural: 'Nummer' },
  { field: 'productFamilies', entity: 'ProductFamily', filter: 'ProductFamilyFilter', order: 'ProductFamilyOrder', table: 'Artikel_Familie', natural: 'Nummer' },
  { field: 'customers', entity: 'Customer', filter: 'CustomerFilter', order: 'CustomerOrder', table: 'Kunden', natural: 'KundenNr' },
  { field: 'salesRecords', entity: 'SalesRecord', filter: 'SalesRecordFilter', order: 'SalesRecordOrder', table: 'Belege', natural: 'AbsNr' },
  { field: 'molds', entity: 'Mold', filter: 'MoldFilter', order: 'MoldOrder', table: 'Formen', natural: 'FormNr' },
  { field: 'productionOrders', entity: 'ProductionOrder', filter: 'ProductionOrderFilter', order: 'ProductionOrderOrder', table: 'Werksauftraege', natural: 'WerkAufNr' },
] as const;

type List = (typeof LISTS)[number];

async function page(list: List, args: { first?: number; after?: string | null; orderBy?: unknown; filter?: unknown }): Promise<Page> {
  const data = dataOf(
    await subgraph.execute<Record<string, Page>>(
      `query($first: Int, $after: String, $orderBy: [${list.order}!], $filter: ${list.filter}) { list: ${list.field}(first: $first, after: $after, orderBy: $orderBy, filter: $filter) { ${PAGE} } }`,
      args,
    ),
  );
  return data.list;
}

/** Follows `endCursor` until `hasNextPage` is false and returns every node id in order. */
async function walk(list: List, first: number, orderBy?: unknown): Promise<{ ids: string[]; pages: number }> {
  const seen: string[] = [];
  let after: string | null = null;
  let pages = 0;
  for (;;) {
    const p = await page(list, { first, after, orderBy });
    pages++;
    expect(p.pageInfo.hasPreviousPage).toBe(after !== null);
    expect(p.pageInfo.startCursor).toBe(p.edges[0]?.cursor ?? null);
    expect(p.pageInfo.endCursor).toBe(p.edges.at(-1)?.cursor ?? null);
    seen.push(...p.edges.map((e) => e.node.id));
    if (!p.pageInfo.hasNextPage) break;
    expect(p.edges).toHaveLength(first);
    after = p.pageInfo.endCursor;
    if (pages > 100) throw new Error('paging does not end');
  }
  return { ids: seen, pages };
}

describe('root lists', () => {
  it.each(LISTS)('$field: the first page holds the first 20 (or all) by natural order, the total and distinct cursors, in one request', async (list) => {
    const rows = rowsOf(subgraph, list.table);
    const expected = sortLike4D(list.table, rows, [[list.natural, 'asc']]);
    const data = dataOf(
      await subgraph.execute<{ list: { totalCount: number; edges: Array<{ cursor: string; node: unknown }>; pageInfo: Page['pageInfo'] } }>(
        `{ list: ${list.field} { totalCount edges { cursor node { ${ENTITY[list.entity].fields} } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`,
      ),
    );
    expect(data.list.totalCount).toBe(rows.length);
    const size = Math.min(20, rows.length);
    expect(data.list.edges.map((e) => e.node)).toEqual(expected.slice(0, 20).map((r) => ENTITY[list.entity].expected(r)));
    expect(new Set(data.list.edges.map((e) => e.cursor)).size).toBe(size);
    expect(data.list.pageInfo).toEqual({
      hasNextPage: rows.length > 20,
      hasPreviousPage: false,
      startCursor: data.list.edges[0].cursor,
      endCursor: data.list.edges[size - 1].cursor,
    });
    expect(requestsTo(subgraph, list.table)).toBe(1);
    expect(subgraph.emulator.counters.requests).toBe(1);
  });

  it.each(LISTS)('$field: after-cursors walk the whole set without gaps or duplicates', async (list) => {
    const rows = rowsOf(subgraph, list.table);
    const expected = ids(sortLike4D(list.table, rows, [[list.natural, 'asc']]));
    const size = Math.max(3, Math.ceil(rows.length / 7));
    const { ids: seen, pages } = await walk(list, size);
    expect(seen).toEqual(expected);
    expect(pages).toBe(Math.ceil(rows.length / size));
    expect(requestsTo(subgraph, list.table)).toBe(pages);
  });

  it('continues after any cursor, not only endCursor, and gives an empty last page past the end', async () => {
    const list = LISTS[0];
    const expected = ids(sortLike4D(list.table, rowsOf(subgraph, list.table), [['Nummer', 'asc']]));
    const first = await page(list, { first: 10 });
    const fromFourth = await page(list, { first: 5, after: first.edges[3].cursor });
    expect(fromFourth.edges.map((e) => e.node.id)).toEqual(expected.slice(4, 9));
    const last = await page(list, { first: 100 });
    expect(last.pageInfo.hasNextPage).toBe(false);
    const past = await page(list, { first: 10, after: last.pageInfo.endCursor });
    expect(past).toEqual({
      totalCount: expected.length,
      edges: [],
      pageInfo: { hasNextPage: false, hasPreviousPage: true, startCursor: null, endCursor: null },
    });
  });

  it('answers first: 0 with the total only', async () => {
    const p = await page(LISTS[3], { first: 0 });
    expect(p.totalCount).toBe(rowsOf(subgraph, 'Belege').length);
    expect(p.edges).toEqual([]);
    expect(p.pageInfo).toEqual({ hasNextPage: true, hasPreviousPage: false, startCursor: null, endCursor: null });
  });

  it('returns an empty page for a filter that matches nothing', async () => {
    for (const list of LISTS) {
      const filter = list.field === 'salesRecords' ? { number: { eq: 1 } } : { id: { eq: 'no-such-key' } };
      expect(await page(list, { filter })).toEqual({
        totalCount: 0,
        edges: [],
        pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null },
      });
    }
  });
});

describe('orderBy', () => {
  const cases: Array<{ list: List; orderBy: Array<{ field: string; direction?: string }>; spec: Array<[string, 'asc' | 'desc']> }> = [
    { list: LISTS[0], orderBy: [{ field: 'SKU', direction: 'DESC' }], spec: [['Nummer', 'desc']] },
    { list: LISTS[0], orderBy: [{ field: 'NAME', direction: 'DESC' }], spec: [['Bezeichnung', 'desc'], ['Nummer', 'asc']] },
    { list: LISTS[0], orderBy: [{ field: 'WEIGHT' }], spec: [['Gewicht', 'asc'], ['Nummer', 'asc']] },
    { list: LISTS[0], orderBy: [{ field: 'RELEASE_DATE', direction: 'DESC' }, { field: 'NAME' }], spec: [['Release_date', 'desc'], ['Bezeichnung', 'asc'], ['Nummer', 'asc']] },
    { list: LISTS[1], orderBy: [{ field: 'RELEASE_DATE' }], spec: [['Release_date', 'asc'], ['Nummer', 'asc']] },
    { list: LISTS[1], orderBy: [{ field: 'NAME', direction: 'DESC' }], spec: [['Bezeichnung', 'desc'], ['Nummer', 'asc']] },
    { list: LISTS[2], orderBy: [{ field: 'GROUP' }, { field: 'CREDIT_LIMIT', direction: 'DESC' }], spec: [['Kundengr', 'asc'], ['Kreditlimit', 'desc'], ['KundenNr', 'asc']] },
    { list: LISTS[2], orderBy: [{ field: 'CUSTOMER_NUMBER', direction: 'DESC' }], spec: [['KundenNr', 'desc']] },
    { list: LISTS[3], orderBy: [{ field: 'DATE', direction: 'DESC' }, { field: 'TOTAL_AMOUNT' }], spec: [['Datum', 'desc'], ['Endbetrag', 'asc'], ['AbsNr', 'asc']] },
    { list: LISTS[3], orderBy: [{ field: 'TOTAL_AMOUNT', direction: 'DESC' }], spec: [['Endbetrag', 'desc'], ['AbsNr', 'asc']] },
    { list: LISTS[4], orderBy: [{ field: 'NAME' }], spec: [['Bezeichnung', 'asc'], ['FormNr', 'asc']] },
    { list: LISTS[4], orderBy: [{ field: 'NUMBER', direction: 'DESC' }], spec: [['FormNr', 'desc']] },
    {
      list: LISTS[5],
      orderBy: [{ field: 'PRIORITY', direction: 'DESC' }, { field: 'DUE_DATE' }],
      spec: [['Prio', 'desc'], ['Termin', 'asc'], ['WerkAufNr', 'asc']],
    },
    { list: LISTS[5], orderBy: [{ field: 'CREATED_ON', direction: 'DESC' }], spec: [['eingestellt', 'desc'], ['WerkAufNr', 'asc']] },
  ];

  it.each(cases)('$list.field by $orderBy.0.field $orderBy.0.direction (+$orderBy.length keys) sorts like 4D with the natural order as tie-break', async ({ list, orderBy, spec }) => {
    const rows = rowsOf(subgraph, list.table);
    const expected = ids(sortLike4D(list.table, rows, spec));
    const first = await page(list, { first: 100, orderBy });
    expect(first.edges.map((e) => e.node.id)).toEqual(expected.slice(0, 100));
    expect(first.totalCount).toBe(rows.length);
  });

  it('pages a multi-key DESC order with after-cursors exactly like one long list', async () => {
    const list = LISTS[3];
    const orderBy = [{ field: 'DATE', direction: 'DESC' }, { field: 'TOTAL_AMOUNT', direction: 'DESC' }];
    const expected = ids(sortLike4D(list.table, rowsOf(subgraph, list.table), [['Datum', 'desc'], ['Endbetrag', 'desc'], ['AbsNr', 'asc']]));
    const { ids: seen } = await walk(list, 100, orderBy);
    expect(seen).toEqual(expected);
  });

  it('sorts a 4D null date first ascending and last descending (0!0!0 counts as null)', async () => {
    const list = LISTS[0];
    const rows = rowsOf(subgraph, list.table);
    const undated = rows.filter((r) => r.Release_date === null || r.Release_date === '0!0!0').length;
    expect(undated).toBeGreaterThan(1);
    const asc = await page(list, { first: 100, orderBy: [{ field: 'RELEASE_DATE' }] });
    const desc = await page(list, { first: 100, orderBy: [{ field: 'RELEASE_DATE', direction: 'DESC' }] });
    const byId = new Map(rows.map((r) => [r.__KEY, r]));
    const isUndated = (id: string) => [null, '0!0!0'].includes(byId.get(id)!.Release_date as string | null);
    expect(asc.edges.slice(0, undated).every((e) => isUndated(e.node.id))).toBe(true);
    expect(desc.edges.slice(-undated).every((e) => isUndated(e.node.id))).toBe(true);
  });
});

describe('bad paging input', () => {
  it.each(LISTS)('$field: first above the maximum (100) is BAD_USER_INPUT naming first, with no upstream request', async (list) => {
    const result = await subgraph.execute(`{ ${list.field}(first: 101) { totalCount } }`);
    expectError(subgraph, result, 'BAD_USER_INPUT', 'first', '100', '101');
    expect(subgraph.emulator.counters.requests).toBe(0);
  });

  it('rejects a negative first the same way', async () => {
    const result = await subgraph.execute('query($n: Int) { products(first: $n) { totalCount } }', { n: -1 });
    expectError(subgraph, result, 'BAD_USER_INPUT', 'first');
    expect(subgraph.emulator.counters.requests).toBe(0);
  });

  it.each([
    ['garbage', 'not-a-cursor'],
    ['a cursor that decodes to nothing', 'AA'],
    ['a cursor of another type', Buffer.from('Customer:3').toString('base64url')],
    ['a negative offset', Buffer.from('Product:-1').toString('base64url')],
    ['a fractional offset', Buffer.from('Product:1.5').toString('base64url')],
    ['a non-numeric offset', Buffer.from('Product:abc').toString('base64url')],
    ['an empty offset', Buffer.from('Product:').toString('base64url')],
    ['an offset in exponent form', Buffer.from('Product:1e1').toString('base64url')],
  ])('rejects %s as after with BAD_USER_INPUT naming after, with no upstream request', async (_what, cursor) => {
    const result = await subgraph.execute('query($after: String) { products(after: $after) { totalCount } }', { after: cursor });
    expectError(subgraph, result, 'BAD_USER_INPUT', 'after');
    expect(subgraph.emulator.counters.requests).toBe(0);
  });

  it('accepts a cursor it issued for the same list and refuses one from another list', async () => {
    const customers = dataOf(await subgraph.execute<{ customers: Page }>(`{ customers(first: 2) { ${PAGE} } }`));
    const result = await subgraph.execute('query($after: String) { molds(after: $after) { totalCount } }', { after: customers.customers.pageInfo.endCursor });
    expectError(subgraph, result, 'BAD_USER_INPUT', 'after', 'Mold');
    const ok = dataOf(await subgraph.execute<{ customers: Page }>('query($after: String) { customers(first: 2, after: $after) { totalCount edges { node { id } } } }', {
      after: customers.customers.pageInfo.endCursor,
    }));
    const expected = ids(sortLike4D('Kunden', rowsOf(subgraph, 'Kunden'), [['KundenNr', 'asc']]));
    expect(ok.customers.edges.map((e) => e.node.id)).toEqual(expected.slice(2, 4));
  });

  it('rejects an unknown orderBy field as BAD_USER_INPUT before any request', async () => {
    const result = await subgraph.execute('{ products(orderBy: [{ field: COLOR }]) { totalCount } }');
    expect(result.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect(result.errors?.[0].message).toContain('COLOR');
    expect(subgraph.emulator.counters.requests).toBe(0);
  });
});

describe('a configured maximum page size', () => {
  let small: TestSubgraph;

  beforeAll(async () => {
    small = await startTestSubgraph({ maxPageSize: 5 });
    await small.client.ping();
  });
  afterAll(() => small.close());
  beforeEach(() => small.emulator.resetCounters());

  it('serves first up to the maximum and refuses one more, naming first and the maximum, before any request', async () => {
    const ok = dataOf(await small.execute<{ molds: Page }>(`{ molds(first: 5) { ${PAGE} } }`));
    expect(ok.molds.edges).toHaveLength(5);
    expect(small.emulator.counters.requests).toBe(1);
    small.emulator.resetCounters();
    const result = await small.execute('{ molds(first: 6) { totalCount } }');
    expectError(small, result, 'BAD_USER_INPUT', 'first', '5', '6');
    expect(small.emulator.counters.requests).toBe(0);
  });

  it('refuses the default page size (20) when the maximum is lower, rather than cutting silently', async () => {
    const result = await small.execute('{ productionOrders { totalCount } }');
    expectError(small, result, 'BAD_USER_INPUT', 'first', '20');
    expect(small.emulator.counters.requests).toBe(0);
  });

  it('caps the nested salesRecords page too', async () => {
    const customer = small.emulator.db.table('Kunden')!.rows()[0] as Row;
    const result = await small.execute('query($id: ID!) { customer(id: $id) { salesRecords(first: 6) { totalCount } } }', { id: customer.__KEY });
    expect(result.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect(result.errors?.[0].message).toContain('first');
  });
});
