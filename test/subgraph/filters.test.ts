/**
 * List filters: every operator and and/or/not combinations return exactly the rows 4D would match
 * (text case- and accent-insensitive, `ne` skipping nulls, `0!0!0` as a null date), hostile strings
 * match literally, and bad filters are BAD_USER_INPUT naming the field, before any upstream request.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { dataOf, day, expectError, fold, ids, rowsOf, sortLike4D, type Row } from '../helpers/graph.js';
import { startTestSubgraph, type TestSubgraph } from '../helpers/subgraph.js';

let subgraph: TestSubgraph;

beforeAll(async () => {
  subgraph = await startTestSubgraph();
  await subgraph.client.ping();
  // The generated data has no null text, number or boolean: add a few so isNull and ne have something to skip.
  const variants = subgraph.emulator.db.table('Artikel_Variante')!;
  const [a, b, c, d] = variants.rows().slice(5, 9);
  variants.update(a.__KEY, { alteNummer: null, Gewicht: null });
  variants.update(b.__KEY, { alteNummer: null, Aktiv: null });
  variants.update(c.__KEY, { Farbe: null });
  variants.update(d.__KEY, { Bezeichnung_ENG: null, Verkaufsartikel: null });
});
afterAll(() => subgraph.close());
beforeEach(() => subgraph.emulator.resetCounters());

const LISTS = {
  products: { type: 'ProductFilter', table: 'Artikel_Variante', natural: 'Nummer' },
  productFamilies: { type: 'ProductFamilyFilter', table: 'Artikel_Familie', natural: 'Nummer' },
  customers: { type: 'CustomerFilter', table: 'Kunden', natural: 'KundenNr' },
  salesRecords: { type: 'SalesRecordFilter', table: 'Belege', natural: 'AbsNr' },
  molds: { type: 'MoldFilter', table: 'Formen', natural: 'FormNr' },
  productionOrders: { type: 'ProductionOrderFilter', table: 'Werksauftraege', natural: 'WerkAufNr' },
} as const;
type ListName = keyof typeof LISTS;
type Predicate = (row: Row) => boolean;

/** Every id the list returns for `filter` (all pages), and its totalCount. */
async function filtered(list: ListName, filter: unknown): Promise<{ ids: string[]; totalCount: number }> {
  const seen: string[] = [];
  let after: string | null = null;
  let totalCount = -1;
  for (let guard = 0; guard < 20; guard++) {
    const data: Record<string, { totalCount: number; edges: Array<{ node: { id: string } }>; pageInfo: { hasNextPage: boolean; endCursor: string | null } }> = dataOf(
      await subgraph.execute(
        `query($filter: ${LISTS[list].type}, $after: String) { list: ${list}(filter: $filter, first: 100, after: $after) { totalCount edges { node { id } } pageInfo { hasNextPage endCursor } } }`,
        { filter, after },
      ),
    );
    totalCount = data.list.totalCount;
    seen.push(...data.list.edges.map((e) => e.node.id));
    if (!data.list.pageInfo.hasNextPage) break;
    after = data.list.pageInfo.endCursor;
  }
  return { ids: seen, totalCount };
}

/** The ids of the rows `predicate` selects, in the list's natural order. */
function expected(list: ListName, predicate: Predicate): string[] {
  const { table, natural } = LISTS[list];
  return ids(sortLike4D(table, rowsOf(subgraph, table).filter(predicate), [[natural, 'asc']]));
}

async function expectMatches(list: ListName, filter: unknown, predicate: Predicate, options: { some?: boolean } = { some: true }): Promise<string[]> {
  const want = expected(list, predicate);
  if (options.some) expect(want.length, `the data should hold rows for ${JSON.stringify(filter)}`).toBeGreaterThan(0);
  const got = await filtered(list, filter);
  expect(got.ids).toEqual(want);
  expect(got.totalCount).toBe(want.length);
  return want;
}

// 4D's comparisons, as predicates on one attribute.
const present = (v: unknown) => v !== null && v !== undefined;
const text = {
  eq: (a: string, v: string): Predicate => (r) => present(r[a]) && fold(r[a]) === fold(v),
  ne: (a: string, v: string): Predicate => (r) => present(r[a]) && fold(r[a]) !== fold(v),
  in: (a: string, vs: string[]): Predicate => (r) => present(r[a]) && vs.some((v) => fold(r[a]) === fold(v)),
  begins: (a: string, v: string): Predicate => (r) => present(r[a]) && fold(r[a]).startsWith(fold(v)),
  contains: (a: string, v: string): Predicate => (r) => present(r[a]) && fold(r[a]).includes(fold(v)),
};
const num = {
  eq: (a: string, v: number): Predicate => (r) => r[a] === v,
  ne: (a: string, v: number): Predicate => (r) => typeof r[a] === 'number' && r[a] !== v,
  in: (a: string, vs: number[]): Predicate => (r) => vs.includes(r[a] as number),
  gt: (a: string, v: number): Predicate => (r) => typeof r[a] === 'number' && (r[a] as number) > v,
  gte: (a: string, v: number): Predicate => (r) => typeof r[a] === 'number' && (r[a] as number) >= v,
  lt: (a: string, v: number): Predicate => (r) => typeof r[a] === 'number' && (r[a] as number) < v,
  lte: (a: string, v: number): Predicate => (r) => typeof r[a] === 'number' && (r[a] as number) <= v,
};
const isoDay = (iso: string) => Date.parse(`${iso}T00:00:00Z`) / 86_400_000;
const date = {
  eq: (a: string, iso: string): Predicate => (r) => day(r[a]) === isoDay(iso),
  ne: (a: string, iso: string): Predicate => (r) => day(r[a]) !== null && day(r[a]) !== isoDay(iso),
  in: (a: string, isos: string[]): Predicate => (r) => isos.some((iso) => day(r[a]) === isoDay(iso)),
  gt: (a: string, iso: string): Predicate => (r) => day(r[a]) !== null && day(r[a])! > isoDay(iso),
  gte: (a: string, iso: string): Predicate => (r) => day(r[a]) !== null && day(r[a])! >= isoDay(iso),
  lt: (a: string, iso: string): Predicate => (r) => day(r[a]) !== null && day(r[a])! < isoDay(iso),
  lte: (a: string, iso: string): Predicate => (r) => day(r[a]) !== null && day(r[a])! <= isoDay(iso),
  isNull: (a: string): Predicate => (r) => day(r[a]) === null,
};
const isNull = (a: string): Predicate => (r) => !present(r[a]);
const and = (...ps: Predicate[]): Predicate => (r) => ps.every((p) => p(r));
const or = (...ps: Predicate[]): Predicate => (r) => ps.some((p) => p(r));
const not = (p: Predicate): Predicate => (r) => !p(r);

/** An ISO date some rows of `table` have in `attribute` (the most frequent one). */
function commonIso(table: string, attribute: string): string {
  const counts = new Map<number, number>();
  for (const r of rowsOf(subgraph, table)) {
    const d = day(r[attribute]);
    if (d !== null) counts.set(d, (counts.get(d) ?? 0) + 1);
  }
  const best = [...counts].sort((x, y) => y[1] - x[1] || x[0] - y[0])[0][0];
  return new Date(best * 86_400_000).toISOString().slice(0, 10);
}

describe('text operators', () => {
  it('eq compares case- and accent-insensitively', async () => {
    await expectMatches('products', { color: { eq: 'GRÜN' } }, text.eq('Farbe', 'grün'));
    await expectMatches('products', { color: { eq: 'grun' } }, text.eq('Farbe', 'grün'));
    const sku = rowsOf(subgraph, 'Artikel_Variante')[12].Nummer as string;
    await expectMatches('products', { sku: { eq: sku.toLowerCase() } }, text.eq('Nummer', sku));
  });

  it('ne matches every row with another value and skips nulls', async () => {
    const want = await expectMatches('products', { color: { ne: 'bemalt' } }, text.ne('Farbe', 'bemalt'));
    const colourless = rowsOf(subgraph, 'Artikel_Variante').find((r) => r.Farbe === null)!;
    expect(want).not.toContain(colourless.__KEY);
    await expectMatches('products', { oldSku: { ne: '' } }, text.ne('alteNummer', ''));
  });

  it('in matches any of its values', async () => {
    await expectMatches('products', { color: { in: ['rot', 'SCHWARZ', 'weiss'] } }, text.in('Farbe', ['rot', 'schwarz', 'weiß']));
    await expectMatches('customers', { paymentMethod: { in: ['PayPal'] } }, text.in('Zahlungsart', ['PayPal']));
  });

  it('beginsWith and contains match prefixes and parts, case-insensitively', async () => {
    await expectMatches('products', { sku: { beginsWith: '1102' } }, text.begins('Nummer', '1102'));
    await expectMatches('products', { name: { contains: 'LOKOMOTIVE' } }, text.contains('Bezeichnung', 'Lokomotive'));
    await expectMatches('customers', { vatId: { beginsWith: 'atu' } }, text.begins('USt_IdNr', 'ATU'));
    await expectMatches('productFamilies', { nameEn: { contains: 'with' } }, text.contains('Bezeichnung_ENG', 'with'));
  });

  it('isNull true finds null text, false finds every value including the empty string', async () => {
    await expectMatches('products', { oldSku: { isNull: true } }, isNull('alteNummer'));
    const withValue = await expectMatches('products', { oldSku: { isNull: false } }, not(isNull('alteNummer')));
    expect(rowsOf(subgraph, 'Artikel_Variante').filter((r) => r.alteNummer === '' && withValue.includes(r.__KEY)).length).toBeGreaterThan(0);
    await expectMatches('products', { nameEn: { isNull: true } }, isNull('Bezeichnung_ENG'));
  });
});

describe('number, money, date, boolean and id operators', () => {
  it('compares numbers with eq, ne (skipping nulls), in, gt, gte, lt, lte and isNull', async () => {
    const w = rowsOf(subgraph, 'Artikel_Variante')[20].Gewicht as number;
    await expectMatches('products', { weightGrams: { eq: w } }, num.eq('Gewicht', w));
    await expectMatches('products', { weightGrams: { ne: w } }, num.ne('Gewicht', w));
    await expectMatches('products', { weightGrams: { gt: 200 } }, num.gt('Gewicht', 200));
    await expectMatches('products', { weightGrams: { gte: w, lte: w + 50.5 } }, and(num.gte('Gewicht', w), num.lte('Gewicht', w + 50.5)));
    await expectMatches('products', { weightGrams: { lt: 100.25 } }, num.lt('Gewicht', 100.25));
    await expectMatches('products', { weightGrams: { isNull: true } }, isNull('Gewicht'));
    await expectMatches('products', { weightGrams: { isNull: false } }, not(isNull('Gewicht')));
    const numbers = rowsOf(subgraph, 'Belege').slice(3, 6).map((r) => r.AbsNr as number);
    await expectMatches('salesRecords', { number: { in: numbers } }, num.in('AbsNr', numbers));
    await expectMatches('salesRecords', { number: { gt: numbers[0], lte: numbers[2] } }, and(num.gt('AbsNr', numbers[0]), num.lte('AbsNr', numbers[2])));
    await expectMatches('productionOrders', { priority: { gte: 4 } }, num.gte('Prio', 4));
    await expectMatches('productionOrders', { priority: { in: [1, 5] }, quantity: { lt: 500 } }, and(num.in('Prio', [1, 5]), num.lt('Stückzahl', 500)));
  });

  it('compares money given as Decimal strings or numbers', async () => {
    const total = rowsOf(subgraph, 'Belege')[7].Endbetrag as number;
    await expectMatches('salesRecords', { totalAmount: { eq: total.toFixed(2) } }, num.eq('Endbetrag', total));
    await expectMatches('salesRecords', { totalAmount: { gte: '1000.00' } }, num.gte('Endbetrag', 1000));
    await expectMatches('salesRecords', { totalAmount: { lt: 20.5 } }, num.lt('Endbetrag', 20.5));
    await expectMatches('salesRecords', { netAmount: { gt: '2500', lte: '3000.99' } }, and(num.gt('Netto', 2500), num.lte('Netto', 3000.99)));
    await expectMatches('salesRecords', { totalAmount: { ne: total.toFixed(2) } }, num.ne('Endbetrag', total));
    const [l1, l2] = rowsOf(subgraph, 'Kunden').slice(3, 5).map((r) => r.Kreditlimit as number);
    await expectMatches('customers', { creditLimit: { in: [l1.toFixed(2), l2, '0.01'] } }, num.in('Kreditlimit', [l1, l2, 0.01]));
    await expectMatches('customers', { creditLimit: { gt: '40000.50' } }, num.gt('Kreditlimit', 40000.5));
  });

  it('compares dates by calendar day, with 0!0!0 and null counted as no date', async () => {
    const iso = commonIso('Artikel_Variante', 'Release_date');
    await expectMatches('products', { releaseDate: { eq: iso } }, date.eq('Release_date', iso));
    await expectMatches('products', { releaseDate: { ne: iso } }, date.ne('Release_date', iso));
    await expectMatches('products', { releaseDate: { in: [iso, '2015-01-01'] } }, date.in('Release_date', [iso, '2015-01-01']));
    await expectMatches('products', { releaseDate: { gt: '2020-06-30' } }, date.gt('Release_date', '2020-06-30'));
    await expectMatches('products', { releaseDate: { gte: iso } }, date.gte('Release_date', iso));
    await expectMatches('products', { releaseDate: { lt: '2014-02-01' } }, date.lt('Release_date', '2014-02-01'));
    await expectMatches('products', { releaseDate: { lte: iso } }, date.lte('Release_date', iso));
    const undated = await expectMatches('products', { releaseDate: { isNull: true } }, date.isNull('Release_date'));
    const rows = rowsOf(subgraph, 'Artikel_Variante').filter((r) => undated.includes(r.__KEY));
    expect(rows.some((r) => r.Release_date === '0!0!0')).toBe(true);
    expect(rows.some((r) => r.Release_date === null)).toBe(true);
    await expectMatches('products', { releaseDate: { isNull: false } }, not(date.isNull('Release_date')));
    await expectMatches('salesRecords', { paymentDate: { isNull: true } }, date.isNull('ZahlungsDat'));
    await expectMatches('salesRecords', { date: { gte: '2020-01-01', lt: '2020-02-01' } }, and(date.gte('Datum', '2020-01-01'), date.lt('Datum', '2020-02-01')));
    await expectMatches('productionOrders', { dueDate: { lte: '2016-01-01' }, createdOn: { isNull: false } }, and(date.lte('Termin', '2016-01-01'), not(date.isNull('eingestellt'))));
  });

  it('compares booleans with eq and isNull', async () => {
    await expectMatches('products', { active: { eq: true } }, (r) => r.Aktiv === true);
    await expectMatches('products', { active: { eq: false } }, (r) => r.Aktiv === false);
    await expectMatches('products', { active: { isNull: true } }, isNull('Aktiv'));
    await expectMatches('products', { forSale: { isNull: false } }, not(isNull('Verkaufsartikel')));
    await expectMatches('salesRecords', { paid: { eq: true } }, (r) => r.bezahlt === true);
    await expectMatches('customers', { deliveryBlocked: { eq: true } }, (r) => r.Liefersperre === true);
    await expectMatches('molds', { active: { eq: false } }, (r) => r.aktiv === false);
    await expectMatches('productFamilies', { isNew: { eq: true } }, (r) => r.Neu === true);
  });

  it('filters on id and on the family id', async () => {
    const variants = rowsOf(subgraph, 'Artikel_Variante');
    await expectMatches('products', { id: { eq: variants[4].__KEY } }, (r) => r.__KEY === variants[4].__KEY);
    const some = [variants[1].__KEY, variants[50].__KEY, 'not-a-key'];
    await expectMatches('products', { id: { in: some } }, (r) => some.includes(r.__KEY));
    const family = variants[0].Familie_ as string;
    await expectMatches('products', { familyId: { eq: family } }, (r) => r.Familie_ === family);
    await expectMatches('products', { familyId: { in: [family, variants[40].Familie_ as string] } }, (r) => [family, variants[40].Familie_].includes(r.Familie_));
  });
});

describe('and, or, not', () => {
  it('and requires every part, or any part, not negates (including rows where the inner field is null)', async () => {
    await expectMatches('products', { and: [{ weightGrams: { gte: 100 } }, { weightGrams: { lt: 250 } }, { active: { eq: true } }] }, and(num.gte('Gewicht', 100), num.lt('Gewicht', 250), (r) => r.Aktiv === true));
    await expectMatches('products', { or: [{ color: { eq: 'rot' } }, { color: { eq: 'schwarz' } }, { size: { eq: 'H0' } }] }, or(text.eq('Farbe', 'rot'), text.eq('Farbe', 'schwarz'), text.eq('Groesse', 'H0')));
    const notActive = await expectMatches('products', { not: { active: { eq: true } } }, not((r) => r.Aktiv === true));
    expect(notActive).toContain(rowsOf(subgraph, 'Artikel_Variante').find((r) => r.Aktiv === null)!.__KEY);
    await expectMatches('products', { not: { color: { ne: 'rot' } } }, not(text.ne('Farbe', 'rot')));
  });

  it('nests combinations and ANDs them with the fields beside them', async () => {
    const filter = {
      active: { eq: true },
      or: [{ and: [{ weightGrams: { gt: 150 } }, { color: { in: ['bemalt', 'blank'] } }] }, { not: { releaseDate: { lt: '2020-01-01' } } }],
      not: { size: { eq: 'klein' } },
    };
    const predicate = and(
      (r) => r.Aktiv === true,
      or(and(num.gt('Gewicht', 150), text.in('Farbe', ['bemalt', 'blank'])), not(date.lt('Release_date', '2020-01-01'))),
      not(text.eq('Groesse', 'klein')),
    );
    await expectMatches('products', filter, predicate);
    await expectMatches(
      'salesRecords',
      { or: [{ typeCode: { eq: 'G' }, paid: { eq: false } }, { and: [{ currency: { ne: 'EUR' } }, { totalAmount: { gt: '500' } }] }] },
      or(and(text.eq('Papierart', 'G'), (r) => r.bezahlt === false), and(text.ne('Währung', 'EUR'), num.gt('Endbetrag', 500))),
    );
  });

  it('treats an empty and as no condition', async () => {
    await expectMatches('molds', { and: [] }, () => true);
  });

  it('refuses an empty or with BAD_USER_INPUT naming it, with no upstream request', async () => {
    subgraph.emulator.resetCounters();
    const result = await subgraph.execute('{ molds(filter: { or: [] }) { totalCount } }');
    expectError(subgraph, result, 'BAD_USER_INPUT', 'filter.or');
    expect(subgraph.emulator.counters.requests).toBe(0);
  });
});

describe('hostile strings match literally', () => {
  const texts = () => rowsOf(subgraph, 'Belege').slice(0, 14).map((r) => r.Text as string);

  it('finds the hostile texts the data puts on the first sales records, each by eq', async () => {
    const hostile = texts();
    expect(hostile).toContain(`O'Reilly "Spezial"`);
    expect(hostile).toContain('Bestellung an info@wsz-zinn.de');
    for (const value of hostile) {
      const want = await expectMatches('salesRecords', { text: { eq: value } }, text.eq('Text', value));
      expect(want).toContain(rowsOf(subgraph, 'Belege').find((r) => r.Text === value)!.__KEY);
    }
  });

  it.each([
    [`O'Reilly "Spezial"`],
    ['Bestellung an info@wsz-zinn.de'],
    ['Weiß & Blau @ Ostern'],
    ['WEISS & BLAU @ OSTERN'],
    ['Figur #12 mit Sockel'],
    ['100% Zinn'],
    ['Ross + Reiter'],
    ['Ross AND Reiter'],
    ['Sonne OR Mond'],
    ['NOT für Kinder unter 14 Jahren'],
    ['begin der Serie'],
    ['null Fehler'],
    ['Kölner Dom "groß"'],
    ['Größe XL an der Straße'],
    ['grosse xl an der strasse'],
  ])('eq %j returns exactly the rows with that text', async (value) => {
    await expectMatches('salesRecords', { text: { eq: value } }, text.eq('Text', value));
  });

  it.each([["'"], ['"'], ['#'], ['&'], ['%'], ['+'], ['#12'], ['100%'], ['ß'], ['GROSS'], ['ö'], ['AND'], [' OR '], ['NOT'], ['null'], ['begin'], ["O'Reilly"], ['"groß"'], ['\\'], ['(']])(
    'contains %j returns exactly the rows containing it',
    async (value) => {
      const want = expected('salesRecords', text.contains('Text', value));
      const got = await filtered('salesRecords', { text: { contains: value } });
      expect(got.ids).toEqual(want);
    },
  );

  it.each([['NOT '], ['begin'], ['null'], ['Sonne OR'], ['Ross AND'], ["O'R"], ['100%'], ['Größe'], ['Kölner Dom "']])('beginsWith %j returns exactly the rows starting with it', async (value) => {
    await expectMatches('salesRecords', { text: { beginsWith: value } }, text.begins('Text', value));
  });

  it('takes filter keywords and quotes as plain text, never as filter syntax', async () => {
    for (const value of ['null', 'AND', 'OR', 'NOT', 'begin', "' OR 1=1 OR '", '" OR Text # "', 'Text = null', ':1', '@']) {
      await expectMatches('salesRecords', { text: { eq: value } }, text.eq('Text', value), { some: false });
    }
    const rows = rowsOf(subgraph, 'Belege');
    expect((await filtered('salesRecords', { text: { eq: 'null' } })).ids).toEqual([]);
    expect((await filtered('salesRecords', { text: { ne: "' OR 1=1 OR '" } })).totalCount).toBe(rows.filter((r) => present(r.Text)).length);
  });

  it('in matches values with quotes, @ and umlauts literally', async () => {
    const values = ['Bestellung an info@wsz-zinn.de', `O'Reilly "Spezial"`, 'KÖLNER DOM "GROSS"', 'Zahlung per Überweisung', '@'];
    await expectMatches('salesRecords', { text: { in: values } }, text.in('Text', values));
  });

  it('ne with an @ value excludes only that text', async () => {
    await expectMatches('salesRecords', { text: { ne: 'Bestellung an info@wsz-zinn.de' } }, text.ne('Text', 'Bestellung an info@wsz-zinn.de'));
  });

  it('matches hostile names of families, products, molds and company names of customers’ addresses', async () => {
    await expectMatches('productFamilies', { name: { contains: `O'Reilly "Spezial"` } }, text.contains('Bezeichnung', `O'Reilly "Spezial"`));
    await expectMatches('productFamilies', { name: { contains: 'müller & söhne' } }, text.contains('Bezeichnung', 'Müller & Söhne'));
    await expectMatches('products', { name: { contains: '100% Zinn' } }, text.contains('Bezeichnung', '100% Zinn'));
    await expectMatches('products', { or: [{ name: { contains: '#12' } }, { name: { contains: 'Ross + Reiter' } }] }, or(text.contains('Bezeichnung', '#12'), text.contains('Bezeichnung', 'Ross + Reiter')));
    await expectMatches('molds', { name: { contains: '"Spezial"' } }, text.contains('Bezeichnung', '"Spezial"'));
    await expectMatches('molds', { name: { eq: rowsOf(subgraph, 'Formen')[0].Bezeichnung as string } }, text.eq('Bezeichnung', rowsOf(subgraph, 'Formen')[0].Bezeichnung as string));
  });
});

describe('bad filters', () => {
  /** Runs `query` inline and `variablesQuery` with `variables`; both must fail with BAD_USER_INPUT naming `mentions`, without a request. */
  async function expectBadBothWays(inline: string, withVariables: [string, Record<string, unknown>], ...mentions: string[]) {
    for (const result of [await subgraph.execute(inline), await subgraph.execute(withVariables[0], withVariables[1])]) {
      expectError(subgraph, result, 'BAD_USER_INPUT', ...mentions);
    }
    expect(subgraph.emulator.counters.requests).toBe(0);
  }

  it.each([
    ['products', 'ProductFilter', 'description'],
    ['products', 'ProductFilter', 'retailPrice'],
    ['salesRecords', 'SalesRecordFilter', 'vatType'],
    ['customers', 'CustomerFilter', 'cashDiscountDays'],
    ['productionOrders', 'ProductionOrderFilter', 'uuid'],
    ['molds', 'MoldFilter', 'nonsense'],
  ])('%s: a filter on %s.%s, which is not filterable, is BAD_USER_INPUT naming it', async (list, type, field) => {
    await expectBadBothWays(
      `{ ${list}(filter: { ${field}: { eq: "x" } }) { totalCount } }`,
      [`query($f: ${type}) { ${list}(filter: $f) { totalCount } }`, { f: { [field]: { eq: 'x' } } }],
      field,
    );
  });

  it('names a field that is not filterable inside and/or/not', async () => {
    await expectBadBothWays(
      '{ products(filter: { or: [{ sku: { eq: "1" } }, { not: { description: { contains: "x" } } }] }) { totalCount } }',
      ['query($f: ProductFilter) { products(filter: $f) { totalCount } }', { f: { or: [{ sku: { eq: '1' } }, { not: { description: { contains: 'x' } } }] } }],
      'description',
    );
  });

  it.each([
    ['a text for a number', 'products', 'ProductFilter', 'weightGrams', 'eq', '"schwer"', 'schwer'],
    ['a text for an integer', 'salesRecords', 'SalesRecordFilter', 'number', 'gt', '"200000x"', '200000x'],
    ['a fraction for an integer', 'productionOrders', 'ProductionOrderFilter', 'priority', 'eq', '1.5', 1.5],
    ['a number for a text', 'molds', 'MoldFilter', 'number', 'eq', '10000', 10000],
    ['a text for a boolean', 'products', 'ProductFilter', 'active', 'eq', '"yes"', 'yes'],
    ['an impossible date', 'products', 'ProductFilter', 'releaseDate', 'gt', '"2021-02-30"', '2021-02-30'],
    ['a German date', 'salesRecords', 'SalesRecordFilter', 'date', 'lt', '"24.12.2023"', '24.12.2023'],
    ['a 4D wire date', 'productionOrders', 'ProductionOrderFilter', 'dueDate', 'eq', '"24!12!2023"', '24!12!2023'],
    ['money with three decimals', 'salesRecords', 'SalesRecordFilter', 'totalAmount', 'gte', '"10.005"', '10.005'],
    ['money that is no number', 'customers', 'CustomerFilter', 'creditLimit', 'lt', '"viel"', 'viel'],
    ['a number list with a text', 'salesRecords', 'SalesRecordFilter', 'number', 'in', '[200002, "x"]', [200002, 'x']],
    ['an object for an operator', 'products', 'ProductFilter', 'sku', 'eq', '{ value: "x" }', { value: 'x' }],
  ])('%s (%s.%s.%s) is BAD_USER_INPUT naming the field, inline and as a variable', async (_what, list, type, field, op, literal, value) => {
    await expectBadBothWays(
      `{ ${list}(filter: { ${field}: { ${op}: ${literal} } }) { totalCount } }`,
      [`query($f: ${type}) { ${list}(filter: $f) { totalCount } }`, { f: { [field]: { [op]: value } } }],
      field,
    );
  });

  it('names the field of a wrong value deep inside and/or/not', async () => {
    await expectBadBothWays(
      '{ products(filter: { and: [{ active: { eq: true } }, { or: [{ not: { weightGrams: { gt: "x" } } }] }] }) { totalCount } }',
      ['query($f: ProductFilter) { products(filter: $f) { totalCount } }', { f: { and: [{ active: { eq: true } }, { or: [{ not: { weightGrams: { gt: 'x' } } }] }] } }],
      'weightGrams',
    );
  });

  it.each([
    ['contains', 'name'],
    ['beginsWith', 'name'],
    ['contains', 'nameEn'],
  ])('refuses %s with "@" on %s (4D cannot match it literally), naming the field', async (op, field) => {
    await expectBadBothWays(
      `{ products(filter: { ${field}: { ${op}: "info@wsz" } }) { totalCount } }`,
      ['query($f: ProductFilter) { products(filter: $f) { totalCount } }', { f: { [field]: { [op]: 'info@wsz' } } }],
      `${field}.${op}`,
      '@',
    );
  });

  it('refuses "@" in contains even nested in or, naming its path', async () => {
    const result = await subgraph.execute('query($f: SalesRecordFilter) { salesRecords(filter: $f) { totalCount } }', {
      f: { or: [{ paid: { eq: true } }, { text: { contains: '@' } }] },
    });
    expectError(subgraph, result, 'BAD_USER_INPUT', 'filter.or[1].text.contains');
    expect(subgraph.emulator.counters.requests).toBe(0);
  });

  it.each([
    ['sku', 'ProductFilter', 'products'],
    ['id', 'ProductFilter', 'products'],
    ['number', 'SalesRecordFilter', 'salesRecords'],
    ['releaseDate', 'ProductFamilyFilter', 'productFamilies'],
    ['creditLimit', 'CustomerFilter', 'customers'],
  ])('refuses an empty in on %s, naming the field', async (field, type, list) => {
    await expectBadBothWays(`{ ${list}(filter: { ${field}: { in: [] } }) { totalCount } }`, [`query($f: ${type}) { ${list}(filter: $f) { totalCount } }`, { f: { [field]: { in: [] } } }], `${field}.in`);
  });
});
