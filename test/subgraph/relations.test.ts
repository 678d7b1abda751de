/**
 * Every relation of legacy-tables.md returns exactly the rows the emulator data implies, dangling
 * references resolve to null, and a list of N parents costs one upstream request per relation
 * level, never N.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ENTITY, dataOf, day, fold, requestsTo, rowsOf, type Row } from '../helpers/graph.js';
import { startTestSubgraph, type TestSubgraph } from '../helpers/subgraph.js';

let subgraph: TestSubgraph;

beforeAll(async () => {
  // A batch of 500 keys: at demo scale every relation level then fits one request, which is what
  // these tests count. The default batch of 100 is covered by the _entities tests in entities.test.ts.
  subgraph = await startTestSubgraph({ maxBatchSize: 500 });
  await subgraph.client.ping();
  // The generator gives every customer's main address its lowest number; make one customer's main
  // address its last one, so "main address first" is not the same as "by address number".
  const addresses = subgraph.emulator.db.table('Adressen')!;
  const owner = addresses.rows().find((a) => addresses.rows().filter((b) => b.KundenNr === a.KundenNr).length >= 3)!.KundenNr;
  const own = addresses.rows().filter((a) => a.KundenNr === owner);
  addresses.update(own[0].__KEY, { IstHauptadresse: false });
  addresses.update(own.at(-1)!.__KEY, { IstHauptadresse: true });
  // Likewise lines are stored in position order; swap two positions so "by position" is checked.
  for (const [table, parent, position, number] of [
    ['Belege_Pos', 'AbsNr', 'PosNr', rowsOf(subgraph, 'Belege')[0].AbsNr],
    ['WerksauftrPos', 'W_Auftr_Nr', 'WAP_Nr', rowsOf(subgraph, 'Werksauftraege')[0].WerkAufNr],
  ] as const) {
    const t = subgraph.emulator.db.table(table)!;
    const lines = t.rows().filter((r) => r[parent] === number);
    expect(lines.length).toBeGreaterThanOrEqual(2);
    const [first, last] = [lines[0], lines.at(-1)!];
    t.update(first.__KEY, { [position]: last[position] });
    t.update(last.__KEY, { [position]: first[position] });
  }
});
afterAll(() => subgraph.close());
beforeEach(() => subgraph.emulator.resetCounters());

const rows = (table: string) => rowsOf(subgraph, table);

/** Rows of `table` whose `attribute` equals `value` the way 4D joins text (case/accent-insensitive). */
function joined(table: string, attribute: string, value: unknown): Row[] {
  if (value === null || value === undefined || value === '') return [];
  return rows(table).filter((r) => r[attribute] !== null && (typeof value === 'number' ? r[attribute] === value : fold(r[attribute]) === fold(value)));
}

/** The one row `attribute = value` refers to, or null (dangling). */
function target(table: string, attribute: string, value: unknown): Row | null {
  return joined(table, attribute, value)[0] ?? null;
}

/** Ties in a relation's order are broken by `id`, so the order is total. */
const byKey = (a: Row, b: Row) => (a.__KEY < b.__KEY ? -1 : a.__KEY > b.__KEY ? 1 : 0);
function byText(attribute: string) {
  return (a: Row, b: Row) => (String(a[attribute]) < String(b[attribute]) ? -1 : String(a[attribute]) > String(b[attribute]) ? 1 : byKey(a, b));
}
function byNumber(attribute: string) {
  return (a: Row, b: Row) => (a[attribute] as number) - (b[attribute] as number) || byKey(a, b);
}
const idsOf = (list: readonly Row[]) => list.map((r) => ({ id: r.__KEY }));

/** The customer's sales records, newest first (undated last), then by number descending. */
function salesRecordsOf(customerNumber: unknown): Row[] {
  return joined('Belege', 'KundenNr', customerNumber).sort((a, b) => {
    const da = day(a.Datum);
    const db = day(b.Datum);
    if (da !== db) return da === null ? 1 : db === null ? -1 : db - da;
    return (b.AbsNr as number) - (a.AbsNr as number);
  });
}

describe('Product.family and ProductFamily.variants', () => {
  it('gives each of the 100 products its family (null when Familie_ points nowhere) in one request per level', async () => {
    const data = dataOf(
      await subgraph.execute<{ products: { edges: Array<{ node: { id: string; family: unknown } }> } }>(
        `{ products(first: 100) { edges { node { id family { ${ENTITY.ProductFamily.fields} } } } } }`,
      ),
    );
    const byId = new Map(rows('Artikel_Variante').map((r) => [r.__KEY, r]));
    expect(data.products.edges).toHaveLength(100);
    let dangling = 0;
    for (const { node } of data.products.edges) {
      const family = target('Artikel_Familie', '__KEY', byId.get(node.id)!.Familie_);
      if (!family) dangling++;
      expect(node.family).toEqual(family ? ENTITY.ProductFamily.expected(family) : null);
    }
    expect(dangling, 'the data should hold dangling family references').toBeGreaterThan(0);
    expect(requestsTo(subgraph, 'Artikel_Variante')).toBe(1);
    expect(requestsTo(subgraph, 'Artikel_Familie')).toBe(1);
  });

  it('lists every family’s variants by article number in one request for all families', async () => {
    const data = dataOf(
      await subgraph.execute<{ productFamilies: { edges: Array<{ node: { id: string; variants: Array<{ id: string }> } }> } }>(
        '{ productFamilies(first: 100) { edges { node { id variants { id } } } } }',
      ),
    );
    expect(data.productFamilies.edges).toHaveLength(rows('Artikel_Familie').length);
    for (const { node } of data.productFamilies.edges) {
      const expected = rows('Artikel_Variante')
        .filter((v) => v.Familie_ === node.id)
        .sort(byText('Nummer'));
      expect(expected.length).toBeGreaterThan(0);
      expect(node.variants).toEqual(idsOf(expected));
    }
    expect(requestsTo(subgraph, 'Artikel_Familie')).toBe(1);
    expect(requestsTo(subgraph, 'Artikel_Variante')).toBe(1);
  });

  it('resolves a variant’s family’s variants (a cycle) including the variant itself', async () => {
    const variant = rows('Artikel_Variante')[5];
    const data = dataOf(
      await subgraph.execute<{ product: { family: { variants: Array<{ id: string; sku: string }> } } }>(
        'query($id: ID!) { product(id: $id) { family { variants { id sku } } } }',
        { id: variant.__KEY },
      ),
    );
    const siblings = rows('Artikel_Variante').filter((v) => v.Familie_ === variant.Familie_).sort(byText('Nummer'));
    expect(data.product.family.variants).toEqual(siblings.map((s) => ({ id: s.__KEY, sku: s.Nummer })));
    expect(data.product.family.variants.map((v) => v.id)).toContain(variant.__KEY);
  });
});

describe('Customer.addresses and Customer.salesRecords', () => {
  it('lists each customer’s addresses, main address first, then by address number, in one request', async () => {
    const data = dataOf(
      await subgraph.execute<{ customers: { edges: Array<{ node: { customerNumber: string; addresses: unknown[] } }> } }>(
        `{ customers(first: 100) { edges { node { customerNumber addresses { ${ENTITY.Address.fields} } } } } }`,
      ),
    );
    expect(data.customers.edges).toHaveLength(rows('Kunden').length);
    for (const { node } of data.customers.edges) {
      const expected = joined('Adressen', 'KundenNr', node.customerNumber).sort(
        (a, b) => Number(b.IstHauptadresse) - Number(a.IstHauptadresse) || byText('AdrNr')(a, b),
      );
      expect(expected.length).toBeGreaterThan(0);
      expect(node.addresses).toEqual(expected.map(ENTITY.Address.expected));
    }
    expect(requestsTo(subgraph, 'Kunden')).toBe(1);
    expect(requestsTo(subgraph, 'Adressen')).toBe(1);
  });

  it('pages each customer’s sales records newest first with their total, in one request for 40 customers', async () => {
    const customers = rows('Kunden').slice(0, 40);
    const total = customers.reduce((n, c) => n + salesRecordsOf(c.KundenNr).length, 0);
    expect(total, 'one page of 4D rows (500) should hold them, so one request').toBeLessThanOrEqual(500);
    const data = dataOf(
      await subgraph.execute<{ customers: { edges: Array<{ node: { customerNumber: string; salesRecords: { totalCount: number; edges: Array<{ node: { id: string } }>; pageInfo: { hasNextPage: boolean } } } }> } }>(
        '{ customers(first: 40) { edges { node { customerNumber salesRecords(first: 3) { totalCount edges { node { id } } pageInfo { hasNextPage } } } } } }',
      ),
    );
    for (const { node } of data.customers.edges) {
      const expected = salesRecordsOf(node.customerNumber);
      expect(node.salesRecords.totalCount).toBe(expected.length);
      expect(node.salesRecords.edges.map((e) => e.node)).toEqual(idsOf(expected.slice(0, 3)));
      expect(node.salesRecords.pageInfo.hasNextPage).toBe(expected.length > 3);
    }
    expect(requestsTo(subgraph, 'Kunden')).toBe(1);
    expect(requestsTo(subgraph, 'Belege')).toBe(1);
  });

  it('walks one customer’s sales records with after-cursors without gaps or duplicates', async () => {
    const customer = [...rows('Kunden')].sort((a, b) => salesRecordsOf(b.KundenNr).length - salesRecordsOf(a.KundenNr).length)[0];
    const expected = salesRecordsOf(customer.KundenNr);
    expect(expected.length).toBeGreaterThan(6);
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 20; page++) {
      const data: { customer: { salesRecords: { totalCount: number; edges: Array<{ cursor: string; node: { id: string; date: string | null } }>; pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; endCursor: string | null } } } } = dataOf(
        await subgraph.execute(
          'query($id: ID!, $after: String) { customer(id: $id) { salesRecords(first: 4, after: $after) { totalCount edges { cursor node { id date } } pageInfo { hasNextPage hasPreviousPage endCursor } } } }',
          { id: customer.__KEY, after },
        ),
      );
      const connection = data.customer.salesRecords;
      expect(connection.totalCount).toBe(expected.length);
      expect(connection.pageInfo.hasPreviousPage).toBe(after !== null);
      seen.push(...connection.edges.map((e) => e.node.id));
      if (!connection.pageInfo.hasNextPage) break;
      expect(connection.pageInfo.endCursor).toBe(connection.edges.at(-1)!.cursor);
      after = connection.pageInfo.endCursor;
    }
    expect(seen).toEqual(expected.map((r) => r.__KEY));
    const dates = expected.map((r) => day(r.Datum)).filter((d): d is number => d !== null);
    expect(dates).toEqual([...dates].sort((a, b) => b - a));
  });

  it('gives a customer without sales records an empty page and no addresses', async () => {
    const kunden = subgraph.emulator.db.table('Kunden')!;
    const lonely = kunden.insert({ KundenNr: 'K-77777', Kundengr: 'Privat' });
    try {
      const data = dataOf(
        await subgraph.execute<{ customer: unknown }>(
          'query($n: String!) { customer: customerByNumber(customerNumber: $n) { id addresses { id } salesRecords { totalCount edges { cursor } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }',
          { n: 'K-77777' },
        ),
      );
      expect(data.customer).toEqual({
        id: lonely.__KEY,
        addresses: [],
        salesRecords: { totalCount: 0, edges: [], pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null } },
      });
    } finally {
      kunden.delete(lonely.__KEY);
    }
  });

  it('rejects a nested salesRecords page above the maximum with BAD_USER_INPUT naming first', async () => {
    const result = await subgraph.execute('query($id: ID!) { customer(id: $id) { salesRecords(first: 101) { totalCount } } }', {
      id: rows('Kunden')[0].__KEY,
    });
    expect(result.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect(result.errors?.[0].message).toContain('first');
  });

  it('refuses bad nested paging before fetching any sales record', async () => {
    const id = rows('Kunden')[1].__KEY;
    await subgraph.execute('query($id: ID!) { customer(id: $id) { id } }', { id });
    subgraph.emulator.resetCounters();
    const result = await subgraph.execute('query($id: ID!) { customer(id: $id) { salesRecords(first: 101) { totalCount } } }', { id });
    expect(result.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect(subgraph.emulator.counters.byTable.Belege ?? 0).toBe(0);
  });
});

describe('SalesRecord.customer, SalesRecord.items and SalesRecordItem.product', () => {
  it('gives each of 100 sales records its customer, the customer’s addresses, its items by position, each item’s product and family: one request per table', async () => {
    const records = [...rows('Belege')].sort(byNumber('AbsNr')).slice(0, 100);
    const data = dataOf(
      await subgraph.execute<{
        salesRecords: {
          edges: Array<{
            node: {
              id: string;
              customer: { id: string; addresses: Array<{ id: string }> } | null;
              items: Array<{ id: string; position: number; product: { id: string; family: { id: string } | null } | null }>;
            };
          }>;
        };
      }>(
        `{ salesRecords(first: 100) { edges { node { id
            customer { id addresses { id } }
            items { id position product { id family { id } } } } } } }`,
      ),
    );
    expect(data.salesRecords.edges.map((e) => e.node.id)).toEqual(records.map((r) => r.__KEY));
    let danglingCustomers = 0;
    let danglingProducts = 0;
    let itemCount = 0;
    data.salesRecords.edges.forEach(({ node }, i) => {
      const record = records[i];
      const customer = target('Kunden', 'KundenNr', record.KundenNr);
      if (!customer) danglingCustomers++;
      expect(node.customer).toEqual(
        customer
          ? {
              id: customer.__KEY,
              addresses: idsOf(
                joined('Adressen', 'KundenNr', customer.KundenNr).sort((a, b) => Number(b.IstHauptadresse) - Number(a.IstHauptadresse) || byText('AdrNr')(a, b)),
              ),
            }
          : null,
      );
      const items = joined('Belege_Pos', 'AbsNr', record.AbsNr).sort(byNumber('PosNr'));
      itemCount += items.length;
      expect(node.items).toEqual(
        items.map((item) => {
          const product = target('Artikel_Variante', 'Nummer', item.ArtNr);
          if (!product) danglingProducts++;
          const family = product ? target('Artikel_Familie', '__KEY', product.Familie_) : null;
          return {
            id: item.__KEY,
            position: item.PosNr,
            product: product ? { id: product.__KEY, family: family ? { id: family.__KEY } : null } : null,
          };
        }),
      );
    });
    expect(danglingCustomers, 'the data should hold dangling customer references').toBeGreaterThan(0);
    expect(danglingProducts, 'the data should hold dangling article numbers').toBeGreaterThan(0);
    expect(itemCount, 'one page of 4D rows (500) should hold the items').toBeLessThanOrEqual(500);
    for (const table of ['Belege', 'Kunden', 'Adressen', 'Belege_Pos', 'Artikel_Variante', 'Artikel_Familie']) {
      expect(requestsTo(subgraph, table), table).toBe(1);
    }
    expect(subgraph.emulator.counters.requests).toBe(6);
  });

  it('resolves a sales record’s customer with every field and a dangling KundenNr to null without an error', async () => {
    const customers = new Set(rows('Kunden').map((c) => fold(c.KundenNr)));
    const dangling = rows('Belege').find((r) => !customers.has(fold(r.KundenNr)))!;
    const linked = rows('Belege').find((r) => customers.has(fold(r.KundenNr)))!;
    const result = await subgraph.execute<Record<string, { customerNumber: string; customer: unknown }>>(
      `query($a: ID!, $b: ID!) { a: salesRecord(id: $a) { customerNumber customer { ${ENTITY.Customer.fields} } } b: salesRecord(id: $b) { customerNumber customer { id } } }`,
      { a: linked.__KEY, b: dangling.__KEY },
    );
    expect(result.errors).toBeUndefined();
    expect(result.data!.a).toEqual({ customerNumber: linked.KundenNr, customer: ENTITY.Customer.expected(target('Kunden', 'KundenNr', linked.KundenNr)!) });
    expect(result.data!.b).toEqual({ customerNumber: dangling.KundenNr, customer: null });
  });

  it('resolves an item’s product with every field, and an article number that is no product to null', async () => {
    const skus = new Set(rows('Artikel_Variante').map((v) => fold(v.Nummer)));
    const dangling = rows('Belege_Pos').find((r) => !skus.has(fold(r.ArtNr)))!;
    const linked = rows('Belege_Pos')[0];
    const result = await subgraph.execute<Record<string, unknown>>(
      `query($a: ID!, $b: ID!) { a: salesRecordItem(id: $a) { sku product { ${ENTITY.Product.fields} } } b: salesRecordItem(id: $b) { sku product { id } } }`,
      { a: linked.__KEY, b: dangling.__KEY },
    );
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({
      a: { sku: linked.ArtNr, product: ENTITY.Product.expected(target('Artikel_Variante', 'Nummer', linked.ArtNr)!) },
      b: { sku: dangling.ArtNr, product: null },
    });
  });

  it('gives a record’s items with every field, by position', async () => {
    const record = rows('Belege')[10];
    const data = dataOf(
      await subgraph.execute<{ salesRecord: { items: unknown[] } }>(`query($id: ID!) { salesRecord(id: $id) { items { ${ENTITY.SalesRecordItem.fields} } } }`, {
        id: record.__KEY,
      }),
    );
    const items = joined('Belege_Pos', 'AbsNr', record.AbsNr).sort(byNumber('PosNr'));
    expect(items.length).toBeGreaterThan(0);
    expect(data.salesRecord.items).toEqual(items.map(ENTITY.SalesRecordItem.expected));
  });
});

describe('Mold.articles, MoldArticle.product, ProductionOrder.mold, ProductionOrder.items, ProductionOrderItem.product', () => {
  it('lists every mold’s articles by article number with their products (null when dangling): one request per level', async () => {
    const data = dataOf(
      await subgraph.execute<{ molds: { edges: Array<{ node: { number: string; articles: Array<{ id: string; cavities: number; product: { id: string } | null }> } }> } }>(
        '{ molds(first: 100) { edges { node { number articles { id cavities product { id } } } } } }',
      ),
    );
    expect(data.molds.edges).toHaveLength(rows('Formen').length);
    let dangling = 0;
    for (const { node } of data.molds.edges) {
      const articles = joined('Form_Artikel', 'FormNr', node.number).sort(byText('ArtNr'));
      expect(articles.length).toBeGreaterThan(0);
      expect(node.articles).toEqual(
        articles.map((a) => {
          const product = target('Artikel_Variante', 'Nummer', a.ArtNr);
          if (!product) dangling++;
          return { id: a.__KEY, cavities: a.Anzahl, product: product ? { id: product.__KEY } : null };
        }),
      );
    }
    expect(dangling, 'the data should hold mold articles with dangling article numbers').toBeGreaterThan(0);
    for (const table of ['Formen', 'Form_Artikel', 'Artikel_Variante']) expect(requestsTo(subgraph, table), table).toBe(1);
  });

  it('gives each of 100 production orders its mold (null when dangling) and its items by position with products: one request per table', async () => {
    const orders = [...rows('Werksauftraege')].sort(byText('WerkAufNr')).slice(0, 100);
    const data = dataOf(
      await subgraph.execute<{
        productionOrders: { edges: Array<{ node: { id: string; mold: unknown; items: Array<{ id: string; position: number; product: { id: string } | null }> } }> };
      }>(`{ productionOrders(first: 100) { edges { node { id mold { ${ENTITY.Mold.fields} } items { id position product { id } } } } } }`),
    );
    expect(data.productionOrders.edges.map((e) => e.node.id)).toEqual(orders.map((o) => o.__KEY));
    let danglingMolds = 0;
    let danglingProducts = 0;
    data.productionOrders.edges.forEach(({ node }, i) => {
      const mold = target('Formen', 'FormNr', orders[i].Form_Nr);
      if (!mold) danglingMolds++;
      expect(node.mold).toEqual(mold ? ENTITY.Mold.expected(mold) : null);
      const items = joined('WerksauftrPos', 'W_Auftr_Nr', orders[i].WerkAufNr).sort(byNumber('WAP_Nr'));
      expect(node.items).toEqual(
        items.map((item) => {
          const product = target('Artikel_Variante', 'Nummer', item.Art_Nr);
          if (!product) danglingProducts++;
          return { id: item.__KEY, position: item.WAP_Nr, product: product ? { id: product.__KEY } : null };
        }),
      );
    });
    expect(danglingMolds, 'the data should hold dangling mold references').toBeGreaterThan(0);
    expect(danglingProducts, 'the data should hold dangling article numbers').toBeGreaterThan(0);
    for (const table of ['Werksauftraege', 'Formen', 'WerksauftrPos', 'Artikel_Variante']) expect(requestsTo(subgraph, table), table).toBe(1);
  });

  it('resolves an order’s items and a mold article with every field', async () => {
    const order = rows('Werksauftraege')[3];
    const article = rows('Form_Artikel')[0];
    const data = dataOf(
      await subgraph.execute<Record<string, unknown>>(
        `query($o: ID!, $a: ID!) { o: productionOrder(id: $o) { items { ${ENTITY.ProductionOrderItem.fields} } } a: moldArticle(id: $a) { ${ENTITY.MoldArticle.fields} product { sku } } }`,
        { o: order.__KEY, a: article.__KEY },
      ),
    );
    expect(data.o).toEqual({ items: joined('WerksauftrPos', 'W_Auftr_Nr', order.WerkAufNr).sort(byNumber('WAP_Nr')).map(ENTITY.ProductionOrderItem.expected) });
    expect(data.a).toEqual({ ...ENTITY.MoldArticle.expected(article), product: { sku: target('Artikel_Variante', 'Nummer', article.ArtNr)!.Nummer } });
  });

  it('resolves dangling mold, mold-article product and operation product references to null without errors', async () => {
    const molds = new Set(rows('Formen').map((m) => m.FormNr));
    const skus = new Set(rows('Artikel_Variante').map((v) => v.Nummer));
    const order = rows('Werksauftraege').find((o) => !molds.has(o.Form_Nr))!;
    const article = rows('Form_Artikel').find((a) => !skus.has(a.ArtNr))!;
    const item = rows('WerksauftrPos').find((p) => !skus.has(p.Art_Nr))!;
    expect([order, article, item].every(Boolean)).toBe(true);
    const result = await subgraph.execute<Record<string, unknown>>(
      'query($o: ID!, $a: ID!, $i: ID!) { o: productionOrder(id: $o) { moldNumber mold { id } } a: moldArticle(id: $a) { sku product { id } } i: productionOrderItem(id: $i) { sku product { id } } }',
      { o: order.__KEY, a: article.__KEY, i: item.__KEY },
    );
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({
      o: { moldNumber: order.Form_Nr, mold: null },
      a: { sku: article.ArtNr, product: null },
      i: { sku: item.Art_Nr, product: null },
    });
  });
});

describe('batching through _entities', () => {
  it('loads 60 sales records by number with customers, items and products in one request per table', async () => {
    const records = rows('Belege').slice(200, 260);
    const data = dataOf(
      await subgraph.execute<{ _entities: Array<{ id: string; customer: { id: string } | null; items: Array<{ product: { sku: string } | null }> }> }>(
        'query($reps: [_Any!]!) { _entities(representations: $reps) { ... on SalesRecord { id customer { id } items { product { sku } } } } }',
        { reps: records.map((r) => ({ __typename: 'SalesRecord', number: r.AbsNr })) },
      ),
    );
    expect(data._entities.map((e) => e.id)).toEqual(records.map((r) => r.__KEY));
    data._entities.forEach((entity, i) => {
      expect(entity.customer?.id ?? null).toBe(target('Kunden', 'KundenNr', records[i].KundenNr)?.__KEY ?? null);
      expect(entity.items.map((it) => it.product?.sku ?? null)).toEqual(
        joined('Belege_Pos', 'AbsNr', records[i].AbsNr)
          .sort(byNumber('PosNr'))
          .map((it) => target('Artikel_Variante', 'Nummer', it.ArtNr)?.Nummer ?? null),
      );
    });
    for (const table of ['Belege', 'Kunden', 'Belege_Pos', 'Artikel_Variante']) expect(requestsTo(subgraph, table), table).toBe(1);
    expect(subgraph.emulator.counters.requests).toBe(4);
  });
});
