/**
 * Every entity by every key: the root `…(id:)` / `…By<Key>(…)` queries and `_entities` for each
 * `@key`, with every scalar field decoded from the emulator's wire row, and the request cost of
 * `_entities` batches.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ENTITY, dataOf, requestsTo, rowByKey, rowsOf, type EntityName, type Row } from '../helpers/graph.js';
import { startTestSubgraph, type TestSubgraph } from '../helpers/subgraph.js';

let subgraph: TestSubgraph;

beforeAll(async () => {
  subgraph = await startTestSubgraph();
  // Open the upstream session once so request counts below measure data requests only.
  await subgraph.client.ping();
});
afterAll(() => subgraph.close());
beforeEach(() => subgraph.emulator.resetCounters());

/** The root queries of each entity: by `id`, and by its alternate key (argument, GraphQL type, row attribute). */
const ROOTS: Record<EntityName, { byId: string; byKey?: { query: string; arg: string; type: string; attribute: string; field: string } }> = {
  Product: { byId: 'product', byKey: { query: 'productBySku', arg: 'sku', type: 'String!', attribute: 'Nummer', field: 'sku' } },
  ProductFamily: { byId: 'productFamily', byKey: { query: 'productFamilyBySku', arg: 'sku', type: 'String!', attribute: 'Nummer', field: 'sku' } },
  Customer: {
    byId: 'customer',
    byKey: { query: 'customerByNumber', arg: 'customerNumber', type: 'String!', attribute: 'KundenNr', field: 'customerNumber' },
  },
  Address: { byId: 'address' },
  SalesRecord: { byId: 'salesRecord', byKey: { query: 'salesRecordByNumber', arg: 'number', type: 'Int!', attribute: 'AbsNr', field: 'number' } },
  SalesRecordItem: { byId: 'salesRecordItem' },
  Mold: { byId: 'mold', byKey: { query: 'moldByNumber', arg: 'number', type: 'String!', attribute: 'FormNr', field: 'number' } },
  MoldArticle: { byId: 'moldArticle' },
  ProductionOrder: {
    byId: 'productionOrder',
    byKey: { query: 'productionOrderByNumber', arg: 'number', type: 'String!', attribute: 'WerkAufNr', field: 'number' },
  },
  ProductionOrderItem: { byId: 'productionOrderItem' },
};

const NAMES = Object.keys(ENTITY) as EntityName[];
const DATE_ATTRIBUTES: Record<EntityName, string[]> = {
  ProductFamily: ['Release_date'],
  Product: ['Release_date', 'Auslaufdatum'],
  Customer: [],
  Address: [],
  SalesRecord: ['Datum', 'ZahlungsDat'],
  SalesRecordItem: [],
  Mold: [],
  MoldArticle: [],
  ProductionOrder: ['eingestellt', 'Termin'],
  ProductionOrderItem: ['Datum_begin'],
};

/** Rows worth decoding: the first (hostile text), one late row, and rows with empty (`0!0!0`) and null dates. */
function samples(name: EntityName): Row[] {
  const rows = rowsOf(subgraph, ENTITY[name].table);
  const picked = new Set<Row>([rows[0], rows[rows.length - 1]]);
  for (const attribute of DATE_ATTRIBUTES[name]) {
    const empty = rows.find((r) => r[attribute] === '0!0!0');
    const nul = rows.find((r) => r[attribute] === null);
    if (empty) picked.add(empty);
    if (nul) picked.add(nul);
  }
  return [...picked];
}

describe('root queries by key', () => {
  it.each(NAMES)('resolve a %s by id (and by its alternate key) with every field decoded from the ERP row', async (name) => {
    const { byId, byKey } = ROOTS[name];
    for (const row of samples(name)) {
      const query = byKey
        ? `query($id: ID!, $key: ${byKey.type}) { byId: ${byId}(id: $id) { ${ENTITY[name].fields} } byKey: ${byKey.query}(${byKey.arg}: $key) { ${ENTITY[name].fields} } }`
        : `query($id: ID!) { byId: ${byId}(id: $id) { ${ENTITY[name].fields} } }`;
      const data = dataOf(await subgraph.execute<Record<string, unknown>>(query, { id: row.__KEY, ...(byKey ? { key: row[byKey.attribute] } : {}) }));
      const expected = ENTITY[name].expected(row);
      expect(data.byId).toEqual(expected);
      if (byKey) expect(data.byKey).toEqual(expected);
    }
  });

  it('covers empty dates: 0!0!0 and null both come out as null, real dates as ISO YYYY-MM-DD', async () => {
    const variants = rowsOf(subgraph, 'Artikel_Variante');
    const empty = variants.find((r) => r.Release_date === '0!0!0')!;
    const nul = variants.find((r) => r.Release_date === null)!;
    const dated = variants.find((r) => /^\d{1,2}!\d{1,2}!\d{4}$/.test(String(r.Release_date)) && String(r.Release_date).split('!')[0].length === 1)!;
    expect([empty, nul, dated].every(Boolean), 'the data should hold empty, null and single-digit-day dates').toBe(true);
    const data = dataOf(
      await subgraph.execute<Record<string, { releaseDate: string | null }>>(
        'query($a: ID!, $b: ID!, $c: ID!) { a: product(id: $a) { releaseDate } b: product(id: $b) { releaseDate } c: product(id: $c) { releaseDate } }',
        { a: empty.__KEY, b: nul.__KEY, c: dated.__KEY },
      ),
    );
    const [d, m, y] = String(dated.Release_date).split('!');
    expect(data).toEqual({
      a: { releaseDate: null },
      b: { releaseDate: null },
      c: { releaseDate: `${y}-${m.padStart(2, '0')}-${d.padStart(2, '0')}` },
    });
  });

  it('exposes Preise as retail and wholesale price, null for a missing entry and for Preise: null', async () => {
    const variants = rowsOf(subgraph, 'Artikel_Variante');
    const both = variants.find((r) => (r.Preise as { Coll?: unknown[] } | null)?.Coll?.length === 2)!;
    const retailOnly = variants.find((r) => JSON.stringify(r.Preise).includes('Laden') && !JSON.stringify(r.Preise).includes('Handel'))!;
    const wholesaleOnly = variants.find((r) => !JSON.stringify(r.Preise).includes('Laden') && JSON.stringify(r.Preise).includes('Handel'))!;
    const none = variants.find((r) => r.Preise === null)!;
    expect([both, retailOnly, wholesaleOnly, none].every(Boolean), 'the data should hold every Preise shape').toBe(true);
    const query = `query($ids: [_Any!]!) { _entities(representations: $ids) { ... on Product { retailPrice { amount packagingUnit } wholesalePrice { amount packagingUnit } } } }`;
    const data = dataOf(
      await subgraph.execute<{ _entities: unknown[] }>(query, {
        ids: [both, retailOnly, wholesaleOnly, none].map((r) => ({ __typename: 'Product', id: r.__KEY })),
      }),
    );
    const entry = (row: Row, art: string) => (row.Preise as { Coll: Array<{ Art: string; Preis: number; VE: number }> }).Coll.find((e) => e.Art === art)!;
    const asPrice = (e: { Preis: number; VE: number }) => ({ amount: e.Preis.toFixed(2), packagingUnit: e.VE });
    expect(data._entities).toEqual([
      { retailPrice: asPrice(entry(both, 'Laden')), wholesalePrice: asPrice(entry(both, 'Handel')) },
      { retailPrice: asPrice(entry(retailOnly, 'Laden')), wholesalePrice: null },
      { retailPrice: null, wholesalePrice: asPrice(entry(wholesaleOnly, 'Handel')) },
      { retailPrice: null, wholesalePrice: null },
    ]);
  });

  it('maps every Papierart of the data to its SalesRecord type', async () => {
    const records = rowsOf(subgraph, 'Belege');
    const byCode = new Map<string, Row>();
    for (const r of records) if (!byCode.has(String(r.Papierart))) byCode.set(String(r.Papierart), r);
    expect([...byCode.keys()].sort()).toEqual(['A', 'G', 'L', 'R']);
    const reps = [...byCode.values()].map((r) => ({ __typename: 'SalesRecord', number: r.AbsNr }));
    const data = dataOf(
      await subgraph.execute<{ _entities: Array<{ type: string; typeCode: string }> }>(
        'query($reps: [_Any!]!) { _entities(representations: $reps) { ... on SalesRecord { type typeCode } } }',
        { reps },
      ),
    );
    const expected: Record<string, string> = { R: 'INVOICE', A: 'ORDER', L: 'DELIVERY_NOTE', G: 'CREDIT_NOTE' };
    expect(data._entities).toEqual([...byCode.keys()].map((code) => ({ type: expected[code], typeCode: code })));
  });

  it('returns null without errors for unknown keys of every root query', async () => {
    const none = '00000000000000000000000000000000';
    const fields = NAMES.flatMap((name) => {
      const { byId, byKey } = ROOTS[name];
      const value = byKey?.type === 'Int!' ? '1' : JSON.stringify(`no-such-${name}`);
      return [`${byId}(id: "${none}") { id }`, ...(byKey ? [`${byKey.query}(${byKey.arg}: ${value}) { id }`] : [])];
    });
    const aliased = fields.map((f, i) => `f${i}: ${f}`).join('\n');
    const result = await subgraph.execute<Record<string, unknown>>(`{ ${aliased} }`);
    expect(result.errors).toBeUndefined();
    expect(Object.values(result.data!)).toEqual(fields.map(() => null));
    expect(Object.keys(result.data!)).toHaveLength(16);
  });
});

describe('_entities', () => {
  /** The federation keys of each type: `id` plus the alternate key (representation field, row attribute). */
  const KEYS: Record<EntityName, Array<[string, string]>> = {
    Product: [['id', '__KEY'], ['sku', 'Nummer']],
    ProductFamily: [['id', '__KEY'], ['sku', 'Nummer']],
    Customer: [['id', '__KEY'], ['customerNumber', 'KundenNr']],
    Address: [['id', '__KEY']],
    SalesRecord: [['id', '__KEY'], ['number', 'AbsNr']],
    SalesRecordItem: [['id', '__KEY']],
    Mold: [['id', '__KEY'], ['number', 'FormNr']],
    MoldArticle: [['id', '__KEY']],
    ProductionOrder: [['id', '__KEY'], ['number', 'WerkAufNr']],
    ProductionOrderItem: [['id', '__KEY']],
  };

  it.each(NAMES)('resolves %s by each of its @keys, unknown keys to null, in one request per key', async (name) => {
    const rows = rowsOf(subgraph, ENTITY[name].table);
    const picked = [rows[1], rows[2], rows[rows.length - 2]];
    const reps: Record<string, unknown>[] = [];
    const expected: unknown[] = [];
    for (const [field, attribute] of KEYS[name]) {
      for (const row of picked) {
        reps.push({ __typename: name, [field]: row[attribute] });
        expected.push(ENTITY[name].expected(row));
      }
      reps.push({ __typename: name, [field]: field === 'number' && name === 'SalesRecord' ? 1 : 'unknown-key' });
      expected.push(null);
    }
    subgraph.emulator.resetCounters();
    const result = await subgraph.execute<{ _entities: unknown[] }>(
      `query($reps: [_Any!]!) { _entities(representations: $reps) { ... on ${name} { ${ENTITY[name].fields} } } }`,
      { reps },
    );
    expect(result.errors).toBeUndefined();
    expect(result.data!._entities).toEqual(expected);
    expect(requestsTo(subgraph, ENTITY[name].table)).toBe(KEYS[name].length);
    expect(subgraph.emulator.counters.requests).toBe(KEYS[name].length);
  });

  it('resolves representations of all ten types and all keys in one operation, one request per (type, key)', async () => {
    const reps: Record<string, unknown>[] = [];
    const expected: Array<{ __typename: string; id: string }> = [];
    for (const name of NAMES) {
      const rows = rowsOf(subgraph, ENTITY[name].table);
      for (const [field, attribute] of KEYS[name]) {
        for (const row of rows.slice(3, 8)) {
          reps.push({ __typename: name, [field]: row[attribute] });
          expected.push({ __typename: name, id: row.__KEY });
        }
      }
    }
    const fragments = NAMES.map((n) => `... on ${n} { id }`).join(' ');
    const data = dataOf(
      await subgraph.execute<{ _entities: unknown[] }>(`query($reps: [_Any!]!) { _entities(representations: $reps) { __typename ${fragments} } }`, { reps }),
    );
    expect(data._entities).toEqual(expected);
    for (const name of NAMES) expect(requestsTo(subgraph, ENTITY[name].table), name).toBe(KEYS[name].length);
    expect(subgraph.emulator.counters.requests).toBe(16);
  });

  it('accepts a sales record number as a string too (representations come from other subgraphs)', async () => {
    const row = rowsOf(subgraph, 'Belege')[9];
    const data = dataOf(
      await subgraph.execute<{ _entities: unknown[] }>('query($reps: [_Any!]!) { _entities(representations: $reps) { ... on SalesRecord { id number } } }', {
        reps: [{ __typename: 'SalesRecord', number: String(row.AbsNr) }],
      }),
    );
    expect(data._entities).toEqual([{ id: row.__KEY, number: row.AbsNr }]);
  });

  it('loads all 100 products by id in one request with the default batch size', async () => {
    const rows = rowsOf(subgraph, 'Artikel_Variante');
    expect(rows).toHaveLength(100);
    const data = dataOf(
      await subgraph.execute<{ _entities: Array<{ id: string }> }>('query($reps: [_Any!]!) { _entities(representations: $reps) { ... on Product { id } } }', {
        reps: rows.map((r) => ({ __typename: 'Product', id: r.__KEY })),
      }),
    );
    expect(data._entities.map((e) => e.id)).toEqual(rows.map((r) => r.__KEY));
    expect(requestsTo(subgraph, 'Artikel_Variante')).toBe(1);
  });
});

describe('_entities batch size', () => {
  let small: TestSubgraph;

  beforeAll(async () => {
    small = await startTestSubgraph({ maxBatchSize: 10 });
    await small.client.ping();
  });
  afterAll(() => small.close());
  beforeEach(() => small.emulator.resetCounters());

  it('splits 35 representations of one type and key into ceil(35 / 10) = 4 requests', async () => {
    const rows = small.emulator.db.table('Artikel_Variante')!.rows().slice(0, 35);
    const data = dataOf(
      await small.execute<{ _entities: Array<{ id: string; sku: string }> }>(
        'query($reps: [_Any!]!) { _entities(representations: $reps) { ... on Product { id sku } } }',
        { reps: rows.map((r) => ({ __typename: 'Product', id: r.__KEY })) },
      ),
    );
    expect(data._entities).toEqual(rows.map((r) => ({ id: r.__KEY, sku: r.Nummer })));
    expect(small.emulator.counters.byTable.Artikel_Variante).toBe(4);
    expect(small.emulator.counters.requests).toBe(4);
  });

  it('chunks each key separately: 35 by sku and 35 sales records by number cost 4 requests each', async () => {
    const products = small.emulator.db.table('Artikel_Variante')!.rows().slice(40, 75);
    const records = small.emulator.db.table('Belege')!.rows().slice(100, 135);
    const reps = [
      ...products.map((r) => ({ __typename: 'Product', sku: r.Nummer })),
      ...records.map((r) => ({ __typename: 'SalesRecord', number: r.AbsNr })),
    ];
    const data = dataOf(
      await small.execute<{ _entities: Array<{ id: string }> }>(
        'query($reps: [_Any!]!) { _entities(representations: $reps) { ... on Product { id } ... on SalesRecord { id } } }',
        { reps },
      ),
    );
    expect(data._entities.map((e) => e.id)).toEqual([...products, ...records].map((r) => r.__KEY));
    expect(small.emulator.counters.byTable.Artikel_Variante).toBe(4);
    expect(small.emulator.counters.byTable.Belege).toBe(4);
  });

  it('keeps relation levels together: the families of 35 products cost ceil(distinct families / 10) requests, not one per product batch', async () => {
    const rows = small.emulator.db.table('Artikel_Variante')!.rows().slice(0, 35);
    const families = new Set(rows.map((r) => r.Familie_ as string).filter((f) => f));
    dataOf(
      await small.execute('query($reps: [_Any!]!) { _entities(representations: $reps) { ... on Product { id family { id } } } }', {
        reps: rows.map((r) => ({ __typename: 'Product', id: r.__KEY })),
      }),
    );
    expect(small.emulator.counters.byTable.Artikel_Variante).toBe(4);
    expect(small.emulator.counters.byTable.Artikel_Familie).toBe(Math.ceil(families.size / 10));
  });

  it('costs exactly one request for 10 representations and two for 11', async () => {
    const rows = small.emulator.db.table('Kunden')!.rows();
    const query = 'query($reps: [_Any!]!) { _entities(representations: $reps) { ... on Customer { id } } }';
    dataOf(await small.execute(query, { reps: rows.slice(0, 10).map((r) => ({ __typename: 'Customer', id: r.__KEY })) }));
    expect(small.emulator.counters.byTable.Kunden).toBe(1);
    small.emulator.resetCounters();
    dataOf(await small.execute(query, { reps: rows.slice(0, 11).map((r) => ({ __typename: 'Customer', customerNumber: r.KundenNr })) }));
    expect(small.emulator.counters.byTable.Kunden).toBe(2);
  });
});

describe('decoding edge values the ERP may send', () => {
  let edge: TestSubgraph;

  beforeAll(async () => {
    edge = await startTestSubgraph();
    await edge.client.ping();
  });
  afterAll(() => edge.close());

  /**
   * Overwrites attributes of a stored row in place, bypassing the store's normalisation, to serve
   * values exactly as a real 4D server may send them (ISO dates). Only non-indexed attributes.
   */
  function overwriteWire(table: string, key: string, values: Record<string, unknown>): void {
    Object.assign(rowByKey(edge, table, key), values);
  }

  it('rounds money half away from zero to two places, never truncating', async () => {
    const row = edge.emulator.db.table('Belege')!.rows()[5];
    edge.emulator.db.table('Belege')!.update(row.__KEY, {
      Netto: 1.005,
      MWST_EUR: 2.675,
      Frachtkosten: -0.125,
      Bearbeitungskos: 0.004,
      Endbetrag: -0.004,
    });
    const item = edge.emulator.db.table('Belege_Pos')!.rows()[5];
    edge.emulator.db.table('Belege_Pos')!.update(item.__KEY, { Preis: 19.999, Pos_Betrag: 1234567.895 });
    const customer = edge.emulator.db.table('Kunden')!.rows()[5];
    edge.emulator.db.table('Kunden')!.update(customer.__KEY, { Kreditlimit: 0.5 });
    const data = dataOf(
      await edge.execute<Record<string, Record<string, string>>>(
        `query($r: ID!, $i: ID!, $c: ID!) {
          r: salesRecord(id: $r) { netAmount vatAmount freightCost handlingCost totalAmount }
          i: salesRecordItem(id: $i) { unitPrice lineTotal }
          c: customer(id: $c) { creditLimit }
        }`,
        { r: row.__KEY, i: item.__KEY, c: customer.__KEY },
      ),
    );
    expect(data).toEqual({
      r: { netAmount: '1.01', vatAmount: '2.68', freightCost: '-0.13', handlingCost: '0.00', totalAmount: '0.00' },
      i: { unitPrice: '20.00', lineTotal: '1234567.90' },
      c: { creditLimit: '0.50' },
    });
  });

  it('decodes ISO dates and ISO date-times on the wire to the calendar date', async () => {
    const family = edge.emulator.db.table('Artikel_Familie')!.rows()[4];
    overwriteWire('Artikel_Familie', family.__KEY, { Release_date: '2021-03-04' });
    const order = edge.emulator.db.table('Werksauftraege')!.rows()[4];
    overwriteWire('Werksauftraege', order.__KEY, { eingestellt: '2019-12-31T23:30:00Z', Termin: '07!01!2020' });
    const data = dataOf(
      await edge.execute<Record<string, unknown>>(
        'query($f: ID!, $o: ID!) { f: productFamily(id: $f) { releaseDate } o: productionOrder(id: $o) { createdOn dueDate } }',
        { f: family.__KEY, o: order.__KEY },
      ),
    );
    expect(data).toEqual({ f: { releaseDate: '2021-03-04' }, o: { createdOn: '2019-12-31', dueDate: '2020-01-07' } });
  });

  it('keeps null booleans null and maps unknown or lower-case Papierart codes', async () => {
    const family = edge.emulator.db.table('Artikel_Familie')!.rows()[6];
    edge.emulator.db.table('Artikel_Familie')!.update(family.__KEY, { aktiv: null, Haengend: true, Einseitig: false });
    const [a, b] = edge.emulator.db.table('Belege')!.rows().slice(7, 9);
    edge.emulator.db.table('Belege')!.update(a.__KEY, { Papierart: 'X' });
    edge.emulator.db.table('Belege')!.update(b.__KEY, { Papierart: ' g ' });
    const data = dataOf(
      await edge.execute<Record<string, unknown>>(
        'query($f: ID!, $a: ID!, $b: ID!) { f: productFamily(id: $f) { active hanging oneSided } a: salesRecord(id: $a) { type typeCode } b: salesRecord(id: $b) { type typeCode } }',
        { f: family.__KEY, a: a.__KEY, b: b.__KEY },
      ),
    );
    expect(data).toEqual({
      f: { active: null, hanging: true, oneSided: false },
      a: { type: 'OTHER', typeCode: 'X' },
      b: { type: 'CREDIT_NOTE', typeCode: ' g ' },
    });
  });

  it('reads prices whose entries lack a packaging unit, and a Preise without Coll; a text amount is an error at that field only', async () => {
    const [p, q] = edge.emulator.db.table('Artikel_Variante')!.rows().slice(2, 4);
    edge.emulator.db.table('Artikel_Variante')!.update(p.__KEY, {
      Preise: { Coll: [{ Art: 'Laden', Preis: 9.995 }, { Art: 'Handel', Preis: 'auf Anfrage', VE: 6 }] },
    });
    edge.emulator.db.table('Artikel_Variante')!.update(q.__KEY, { Preise: {} });
    const result = await edge.execute<Record<string, unknown>>(
      'query($p: ID!, $q: ID!) { p: product(id: $p) { retailPrice { amount packagingUnit } wholesalePrice { amount } } q: product(id: $q) { retailPrice { amount } wholesalePrice { amount } } }',
      { p: p.__KEY, q: q.__KEY },
    );
    expect(result.errors).toHaveLength(1);
    expect(result.errors![0]).toMatchObject({ path: ['p', 'wholesalePrice'], extensions: { code: 'UPSTREAM_ERROR' } });
    expect(result.errors![0].message).toContain('"auf Anfrage"');
    expect(result.data).toEqual({
      p: { retailPrice: { amount: '10.00', packagingUnit: null }, wholesalePrice: null },
      q: { retailPrice: null, wholesalePrice: null },
    });
  });

  it('shows the stamp and the save time the ERP reports after a change', async () => {
    const mold = edge.emulator.db.table('Formen')!.rows()[1];
    const saved = edge.emulator.db.table('Formen')!.update(mold.__KEY, { aktiv: !mold.aktiv }, new Date('2024-06-01T12:34:56.789Z'));
    const data = dataOf(await edge.execute<{ mold: unknown }>('query($id: ID!) { mold(id: $id) { active stamp modifiedAt } }', { id: mold.__KEY }));
    expect(saved.__STAMP).toBe(mold.__STAMP + 1);
    expect(data.mold).toEqual({ active: !mold.aktiv, stamp: saved.__STAMP, modifiedAt: '2024-06-01T12:34:56.789Z' });
  });
});
