/**
 * Writes: every `update*` mutation saves its writable fields (checked in the emulator and in the
 * payload), optimistic concurrency (`STALE_STAMP` changes nothing), `bulkUpdateProducts` in one
 * all-or-nothing request, `setLegacyField` limited to mapped writable attributes, and bad input
 * refused before any upstream request. This file has its own emulator, so its writes cannot
 * disturb the expectations of other files.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ENTITY, dataOf, expectError, rowByKey, rowsOf, type Row } from '../helpers/graph.js';
import { startTestSubgraph, type TestSubgraph } from '../helpers/subgraph.js';

let subgraph: TestSubgraph;

beforeAll(async () => {
  subgraph = await startTestSubgraph();
  await subgraph.client.ping();
});
afterAll(() => subgraph.close());
beforeEach(() => subgraph.emulator.resetCounters());

const counters = () => subgraph.emulator.counters;
/** Picks a distinct row per test so tests do not depend on each other's writes. */
const row = (table: string, index: number): Row => rowsOf(subgraph, table)[index];
const live = (table: string, key: string): Row => rowByKey(subgraph, table, key);

/** Each update mutation: its payload field, entity, table and a writable input with the attributes it must write. */
const UPDATES = [
  {
    mutation: 'updateProduct',
    payload: 'product',
    input: 'UpdateProductInput',
    entity: 'Product',
    table: 'Artikel_Variante',
    index: 60,
    change: {
      name: 'Lok "Adler" Müller & Söhne',
      nameEn: 'Locomotive Adler',
      description: "O'Reilly #1 100% + more",
      weightGrams: 321.5,
      color: 'grün',
      size: 'Spur 0',
      forSale: false,
      releaseDate: '2024-03-05',
      discontinuedOn: null,
      active: false,
    },
    written: {
      Bezeichnung: 'Lok "Adler" Müller & Söhne',
      Bezeichnung_ENG: 'Locomotive Adler',
      Beschreibung: "O'Reilly #1 100% + more",
      Gewicht: 321.5,
      Farbe: 'grün',
      Groesse: 'Spur 0',
      Verkaufsartikel: false,
      Release_date: '5!3!2024',
      Auslaufdatum: '0!0!0',
      Aktiv: false,
    },
  },
  {
    mutation: 'updateProductFamily',
    payload: 'productFamily',
    input: 'UpdateProductFamilyInput',
    entity: 'ProductFamily',
    table: 'Artikel_Familie',
    index: 15,
    change: {
      name: 'Engel mit Harfe',
      nameEn: 'Angel with harp',
      description: 'Neu beschrieben',
      descriptionEn: 'Newly described',
      shortDescription: 'Engel, 40 mm',
      weightGrams: 40.25,
      category: 'WE',
      isNew: true,
      releaseDate: '2023-12-24',
      active: false,
    },
    written: {
      Bezeichnung: 'Engel mit Harfe',
      Bezeichnung_ENG: 'Angel with harp',
      Beschreibung: 'Neu beschrieben',
      Beschreibung_ENG: 'Newly described',
      Beschreibung_kurz: 'Engel, 40 mm',
      Gewicht: 40.25,
      ArtGr: 'WE',
      Neu: true,
      Release_date: '24!12!2023',
      aktiv: false,
    },
  },
  {
    mutation: 'updateCustomer',
    payload: 'customer',
    input: 'UpdateCustomerInput',
    entity: 'Customer',
    table: 'Kunden',
    index: 50,
    change: {
      group: 'Export',
      deliveryBlocked: true,
      priceGroup: 'H',
      vatId: null,
      paymentMethod: 'Vorkasse',
      shippingMethod: 'Spedition',
      creditLimit: '12345.67',
      discountPercent: 7.5,
      cashDiscountDays: 14,
      netPaymentDays: 60,
    },
    written: {
      Kundengr: 'Export',
      Liefersperre: true,
      Preisgru: 'H',
      USt_IdNr: null,
      Zahlungsart: 'Vorkasse',
      Versandart: 'Spedition',
      Kreditlimit: 12345.67,
      Rabatt: 7.5,
      SkontoTage: 14,
      NettoTage: 60,
    },
  },
  {
    mutation: 'updateAddress',
    payload: 'address',
    input: 'UpdateAddressInput',
    entity: 'Address',
    table: 'Adressen',
    index: 60,
    change: {
      company: 'Zinn@Home e.K.',
      street: 'Schloßallee 1a',
      postalCode: '86911',
      city: 'Dießen am Ammersee',
      country: 'DE',
      phone: '+49 8807 1234',
      email: 'info@zinn-home.de',
      isDeliveryAddress: false,
      isBillingAddress: true,
      isPrimary: false,
    },
    written: {
      Firma: 'Zinn@Home e.K.',
      Strasse: 'Schloßallee 1a',
      PLZ: '86911',
      Ort: 'Dießen am Ammersee',
      Land: 'DE',
      Telefon: '+49 8807 1234',
      Email: 'info@zinn-home.de',
      IstLieferadresse: false,
      IstRechnungsadresse: true,
      IstHauptadresse: false,
    },
  },
  {
    mutation: 'updateProductionOrder',
    payload: 'productionOrder',
    input: 'UpdateProductionOrderInput',
    entity: 'ProductionOrder',
    table: 'Werksauftraege',
    index: 150,
    change: { quantity: 750, status: 'in Arbeit', dueDate: '2025-01-31', priority: 1 },
    written: { Stückzahl: 750, Status: 'in Arbeit', Termin: '31!1!2025', Prio: 1 },
  },
  {
    mutation: 'updateProductionOrderItem',
    payload: 'productionOrderItem',
    input: 'UpdateProductionOrderItemInput',
    entity: 'ProductionOrderItem',
    table: 'WerksauftrPos',
    index: 600,
    change: { targetQuantity: 500, doneQuantity: 120.5, remainingQuantity: 379.5, startDate: '2024-02-29', status: 'in Arbeit' },
    written: { St_Soll: 500, St_Haben: 120.5, St_Rest: 379.5, Datum_begin: '29!2!2024', Status: 'in Arbeit' },
  },
] as const;

type Update = (typeof UPDATES)[number];

function updateQuery(u: Update): string {
  return `mutation($id: ID!, $stamp: Int!, $input: ${u.input}!) { ${u.mutation}(id: $id, expectedStamp: $stamp, input: $input) { ${u.payload} { ${ENTITY[u.entity].fields} } } }`;
}

describe('update mutations', () => {
  it.each(UPDATES)('$mutation saves every writable field, bumps the stamp and returns the saved entity, in one request', async (u) => {
    const before = row(u.table, u.index);
    const data = dataOf(await subgraph.execute<Record<string, Record<string, unknown>>>(updateQuery(u), { id: before.__KEY, stamp: before.__STAMP, input: u.change }));
    const after = live(u.table, before.__KEY);
    expect(after.__STAMP).toBe(before.__STAMP + 1);
    for (const [attribute, value] of Object.entries(u.written)) expect(after[attribute], attribute).toEqual(value);
    // Everything else is as it was.
    for (const [attribute, value] of Object.entries(before)) {
      if (!(attribute in u.written) && !attribute.startsWith('__')) expect(after[attribute], attribute).toEqual(value);
    }
    expect(data[u.mutation][u.payload]).toEqual(ENTITY[u.entity].expected(after));
    expect(data[u.mutation][u.payload]).toMatchObject({ ...u.change, ...(u.mutation === 'updateCustomer' ? { creditLimit: '12345.67' } : {}) });
    expect(counters().byRoute.update).toBe(1);
    expect(counters().requests).toBe(1);
  });

  it.each(UPDATES)('$mutation with a stale expectedStamp fails with STALE_STAMP, the current stamp and values, and changes nothing', async (u) => {
    const current = row(u.table, u.index + 1);
    const result = await subgraph.execute(updateQuery(u), { id: current.__KEY, stamp: current.__STAMP + 7, input: u.change });
    const error = expectError(subgraph, result, 'STALE_STAMP');
    expect(result.data).toBeNull();
    expect(error.extensions!.currentStamp).toBe(current.__STAMP);
    const expected = ENTITY[u.entity].expected(current);
    expect(error.extensions!.currentValues).toMatchObject(
      Object.fromEntries(Object.keys(u.change).map((field) => [field, (expected as Record<string, unknown>)[field]])),
    );
    expect(live(u.table, current.__KEY)).toBe(current);
  });

  it.each(UPDATES)('$mutation of an unknown id is NOT_FOUND', async (u) => {
    const result = await subgraph.execute(updateQuery(u), { id: 'FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF', stamp: 1, input: u.change });
    expectError(subgraph, result, 'NOT_FOUND', 'FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF');
  });

  it.each([
    ['updateProduct', 'UpdateProductInput', 'sku'],
    ['updateProduct', 'UpdateProductInput', 'familyId'],
    ['updateProduct', 'UpdateProductInput', 'variantCode'],
    ['updateProduct', 'UpdateProductInput', 'stamp'],
    ['updateProductFamily', 'UpdateProductFamilyInput', 'hanging'],
    ['updateCustomer', 'UpdateCustomerInput', 'customerNumber'],
    ['updateAddress', 'UpdateAddressInput', 'customerNumber'],
    ['updateProductionOrder', 'UpdateProductionOrderInput', 'moldNumber'],
    ['updateProductionOrderItem', 'UpdateProductionOrderItemInput', 'sku'],
  ])('%s refuses the read-only field %s.%s before any upstream request', async (mutation, type, field) => {
    const inline = await subgraph.execute(`mutation { ${mutation}(id: "x", expectedStamp: 1, input: { ${field}: "1" }) { __typename } }`);
    expectError(subgraph, inline, 'BAD_USER_INPUT', field, type);
    const asVariable = await subgraph.execute(`mutation($input: ${type}!) { ${mutation}(id: "x", expectedStamp: 1, input: $input) { __typename } }`, {
      input: { [field]: '1' },
    });
    expectError(subgraph, asVariable, 'BAD_USER_INPUT', field);
    expect(counters().requests).toBe(0);
  });

  it('refuses an input that changes nothing before any upstream request', async () => {
    const p = row('Artikel_Variante', 61);
    const result = await subgraph.execute('mutation($id: ID!, $stamp: Int!) { updateProduct(id: $id, expectedStamp: $stamp, input: {}) { product { id } } }', {
      id: p.__KEY,
      stamp: p.__STAMP,
    });
    expectError(subgraph, result, 'BAD_USER_INPUT', 'input');
    expect(counters().requests).toBe(0);
  });

  it.each([
    ['a Decimal string with three decimals', '"1000.005"', '1000.005'],
    ['a Decimal number with three decimals', '1000.005', 1000.005],
    ['a Decimal that is no number', '"tausend"', 'tausend'],
  ])('refuses %s for creditLimit, inline and as a variable, before any upstream request', async (_what, literal, value) => {
    const c = row('Kunden', 52);
    const inline = await subgraph.execute(`mutation { updateCustomer(id: "${c.__KEY}", expectedStamp: ${c.__STAMP}, input: { creditLimit: ${literal} }) { customer { id } } }`);
    expectError(subgraph, inline, 'BAD_USER_INPUT', 'creditLimit');
    const asVariable = await subgraph.execute(updateQuery(UPDATES[2]), { id: c.__KEY, stamp: c.__STAMP, input: { creditLimit: value } });
    expectError(subgraph, asVariable, 'BAD_USER_INPUT', 'creditLimit');
    expect(counters().requests).toBe(0);
    expect(live('Kunden', c.__KEY)).toBe(c);
  });

  it('writes money from a Decimal number and shows it with two places', async () => {
    const c = row('Kunden', 53);
    const data = dataOf(
      await subgraph.execute<{ updateCustomer: { customer: { creditLimit: string } } }>(
        'mutation($id: ID!, $stamp: Int!) { updateCustomer(id: $id, expectedStamp: $stamp, input: { creditLimit: 2500.5 }) { customer { creditLimit } } }',
        { id: c.__KEY, stamp: c.__STAMP },
      ),
    );
    expect(live('Kunden', c.__KEY).Kreditlimit).toBe(2500.5);
    expect(data.updateCustomer.customer.creditLimit).toBe('2500.50');
  });

  it('refuses an impossible date before any upstream request', async () => {
    const o = row('Werksauftraege', 160);
    const result = await subgraph.execute(updateQuery(UPDATES[4]), { id: o.__KEY, stamp: o.__STAMP, input: { dueDate: '2025-02-30' } });
    expectError(subgraph, result, 'BAD_USER_INPUT', 'dueDate');
    expect(counters().requests).toBe(0);
  });

  it('clears a date with null, which 4D stores as 0!0!0', async () => {
    const item = row('WerksauftrPos', 610);
    expect(item.Datum_begin).not.toBe('0!0!0');
    const data = dataOf(
      await subgraph.execute<{ updateProductionOrderItem: { productionOrderItem: { startDate: string | null } } }>(updateQuery(UPDATES[5]).replace(ENTITY.ProductionOrderItem.fields, 'startDate'), {
        id: item.__KEY,
        stamp: item.__STAMP,
        input: { startDate: null },
      }),
    );
    expect(live('WerksauftrPos', item.__KEY).Datum_begin).toBe('0!0!0');
    expect(data.updateProductionOrderItem.productionOrderItem.startDate).toBeNull();
  });
});

describe('prices', () => {
  const PRICES = 'retailPrice { amount packagingUnit } wholesalePrice { amount packagingUnit }';
  const withPrices = (r: Row) => (r.Preise as { Coll?: unknown[] } | null)?.Coll?.length === 2;

  async function updatePrices(product: Row, input: Record<string, unknown>, stamp = product.__STAMP) {
    return subgraph.execute<{ updateProduct: { product: Record<string, unknown> } }>(
      `mutation($id: ID!, $stamp: Int!, $input: UpdateProductInput!) { updateProduct(id: $id, expectedStamp: $stamp, input: $input) { product { stamp ${PRICES} } } }`,
      { id: product.__KEY, stamp, input },
    );
  }

  it('refuses a packaging unit below 1 before reading the product', async () => {
    const p = rowsOf(subgraph, 'Artikel_Variante').filter(withPrices)[11];
    subgraph.emulator.resetCounters();
    const result = await updatePrices(p, { retailPrice: { amount: '5.00', packagingUnit: 0 } });
    expect(result.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect(result.errors?.[0].message).toContain('input.retailPrice');
    expect(subgraph.emulator.counters.requests).toBe(0);
  });

  it('sets the retail price inside Preise and keeps the wholesale entry as it was', async () => {
    const p = rowsOf(subgraph, 'Artikel_Variante').filter(withPrices)[10];
    const handel = (p.Preise as { Coll: Array<Record<string, unknown>> }).Coll.find((e) => e.Art === 'Handel')!;
    const data = dataOf(await updatePrices(p, { retailPrice: { amount: '19.90', packagingUnit: 2 } }));
    const after = live('Artikel_Variante', p.__KEY);
    expect(after.Preise).toEqual({ Coll: [{ Art: 'Laden', Preis: 19.9, VE: 2 }, handel] });
    expect(after.__STAMP).toBe(p.__STAMP + 1);
    expect(data.updateProduct.product).toEqual({
      stamp: p.__STAMP + 1,
      retailPrice: { amount: '19.90', packagingUnit: 2 },
      wholesalePrice: { amount: (handel.Preis as number).toFixed(2), packagingUnit: handel.VE },
    });
    // The current Preise is read once, then written once.
    expect(counters().byRoute.update).toBe(1);
    expect(counters().requests).toBe(2);
  });

  it('sets the wholesale amount alone, keeping its packaging unit and the retail entry', async () => {
    const handelOf = (r: Row) => (r.Preise as { Coll: Array<Record<string, unknown>> }).Coll.find((e) => e.Art === 'Handel')!;
    const p = rowsOf(subgraph, 'Artikel_Variante').filter(withPrices).filter((r) => (handelOf(r).VE as number) > 1)[3];
    const laden = (p.Preise as { Coll: Array<Record<string, unknown>> }).Coll.find((e) => e.Art === 'Laden')!;
    const unit = handelOf(p).VE;
    const data = dataOf(await updatePrices(p, { wholesalePrice: { amount: 7 } }));
    // A price per 24 must not silently become a price per piece because the unit was not resent.
    expect(live('Artikel_Variante', p.__KEY).Preise).toEqual({ Coll: [laden, { Art: 'Handel', Preis: 7, VE: unit }] });
    expect(data.updateProduct.product.wholesalePrice).toEqual({ amount: '7.00', packagingUnit: unit });
  });

  it('gives a new price without a packaging unit the unit 1, also in a bulk update', async () => {
    const p = rowsOf(subgraph, 'Artikel_Variante').filter((r) => r.Preise === null)[1];
    dataOf(
      await subgraph.execute(
        'mutation($items: [BulkUpdateProductItem!]!) { bulkUpdateProducts(items: $items) { products { id } } }',
        { items: [{ id: p.__KEY, expectedStamp: p.__STAMP, input: { wholesalePrice: { amount: '3.10', packagingUnit: null } } }] },
      ),
    );
    expect(live('Artikel_Variante', p.__KEY).Preise).toEqual({ Coll: [{ Art: 'Handel', Preis: 3.1, VE: 1 }] });
  });

  it('removes one entry with null and keeps the other', async () => {
    const p = rowsOf(subgraph, 'Artikel_Variante').filter(withPrices)[12];
    const laden = (p.Preise as { Coll: Array<Record<string, unknown>> }).Coll.find((e) => e.Art === 'Laden')!;
    const data = dataOf(await updatePrices(p, { wholesalePrice: null }));
    expect(live('Artikel_Variante', p.__KEY).Preise).toEqual({ Coll: [laden] });
    expect(data.updateProduct.product.wholesalePrice).toBeNull();
  });

  it('creates Preise on a product that has none, and sets both prices with other fields at once', async () => {
    const p = rowsOf(subgraph, 'Artikel_Variante').find((r) => r.Preise === null)!;
    const data = dataOf(
      await updatePrices(p, { name: 'Neu bepreist', retailPrice: { amount: '12.50' }, wholesalePrice: { amount: '6.25', packagingUnit: 6 } }),
    );
    const after = live('Artikel_Variante', p.__KEY);
    expect(after.Preise).toEqual({ Coll: [{ Art: 'Laden', Preis: 12.5, VE: 1 }, { Art: 'Handel', Preis: 6.25, VE: 6 }] });
    expect(after.Bezeichnung).toBe('Neu bepreist');
    expect(data.updateProduct.product).toMatchObject({ retailPrice: { amount: '12.50', packagingUnit: 1 }, wholesalePrice: { amount: '6.25', packagingUnit: 6 } });
  });

  it('refuses a price with three decimals before any upstream request', async () => {
    const p = rowsOf(subgraph, 'Artikel_Variante').filter(withPrices)[13];
    expectError(subgraph, await updatePrices(p, { retailPrice: { amount: '9.999' } }), 'BAD_USER_INPUT', 'amount');
    const inline = await subgraph.execute(`mutation { updateProduct(id: "${p.__KEY}", expectedStamp: ${p.__STAMP}, input: { retailPrice: { amount: 9.999 } }) { product { id } } }`);
    expectError(subgraph, inline, 'BAD_USER_INPUT', 'retailPrice.amount');
    expect(counters().requests).toBe(0);
    expect(live('Artikel_Variante', p.__KEY)).toBe(p);
  });

  it('refuses a packaging unit below 1 and saves nothing', async () => {
    const p = rowsOf(subgraph, 'Artikel_Variante').filter(withPrices)[14];
    expectError(subgraph, await updatePrices(p, { retailPrice: { amount: '9.99', packagingUnit: 0 } }), 'BAD_USER_INPUT', 'packagingUnit');
    expect(counters().byRoute.update).toBe(0);
    expect(live('Artikel_Variante', p.__KEY)).toBe(p);
  });

  it('fails a price change on a stale stamp with STALE_STAMP and the current prices, without writing', async () => {
    const p = rowsOf(subgraph, 'Artikel_Variante').filter(withPrices)[15];
    const result = await updatePrices(p, { retailPrice: { amount: '1.00' } }, p.__STAMP - 1);
    const error = expectError(subgraph, result, 'STALE_STAMP');
    expect(error.extensions!.currentStamp).toBe(p.__STAMP);
    const laden = (p.Preise as { Coll: Array<{ Art: string; Preis: number; VE: number }> }).Coll.find((e) => e.Art === 'Laden')!;
    // In GraphQL terms: the derived prices, not the raw Preise object or the internal family key.
    expect(error.extensions!.currentValues).toMatchObject({ id: p.__KEY, stamp: p.__STAMP, name: p.Bezeichnung, retailPrice: { amount: laden.Preis.toFixed(2), packagingUnit: laden.VE } });
    expect(error.extensions!.currentValues).not.toHaveProperty('prices');
    expect(error.extensions!.currentValues).not.toHaveProperty('__typename');
    expect(counters().byRoute.update).toBe(0);
    expect(live('Artikel_Variante', p.__KEY)).toBe(p);
  });
});

describe('bulkUpdateProducts', () => {
  const BULK = 'mutation($items: [BulkUpdateProductItem!]!) { bulkUpdateProducts(items: $items) { products { id name weightGrams stamp retailPrice { amount } } } }';
  const slice = (from: number, n: number) => rowsOf(subgraph, 'Artikel_Variante').slice(from, from + n);

  it('saves many products in exactly one update request and returns them in item order', async () => {
    const products = slice(70, 5);
    const items = products.map((p, i) => ({ id: p.__KEY, expectedStamp: p.__STAMP, input: { name: `Bulk ${i} "Spezial"`, weightGrams: 100 + i } }));
    const data = dataOf(await subgraph.execute<{ bulkUpdateProducts: { products: Array<Record<string, unknown>> } }>(BULK, { items }));
    expect(counters().byRoute.update).toBe(1);
    expect(counters().requests).toBe(1);
    products.forEach((p, i) => {
      const after = live('Artikel_Variante', p.__KEY);
      expect(after).toMatchObject({ Bezeichnung: `Bulk ${i} "Spezial"`, Gewicht: 100 + i, __STAMP: p.__STAMP + 1, Farbe: p.Farbe });
      expect(data.bulkUpdateProducts.products[i]).toEqual({
        id: p.__KEY,
        name: `Bulk ${i} "Spezial"`,
        weightGrams: 100 + i,
        stamp: p.__STAMP + 1,
        retailPrice: ENTITY.Product.expected(after).retailPrice && { amount: ENTITY.Product.expected(after).retailPrice!.amount },
      });
    });
  });

  it('saves price changes for many products with one read and one update request', async () => {
    const products = slice(76, 3).filter((p) => p.Preise !== null);
    const items = products.map((p, i) => ({ id: p.__KEY, expectedStamp: p.__STAMP, input: { retailPrice: { amount: `${10 + i}.95` } } }));
    const data = dataOf(await subgraph.execute<{ bulkUpdateProducts: { products: Array<{ retailPrice: { amount: string } }> } }>(BULK, { items }));
    expect(data.bulkUpdateProducts.products.map((p) => p.retailPrice.amount)).toEqual(products.map((_, i) => `${10 + i}.95`));
    expect(counters().byRoute.update).toBe(1);
    expect(counters().requests).toBe(2);
  });

  it('saves nothing when one item has a stale stamp (STALE_STAMP naming it), in one request', async () => {
    const products = slice(80, 4);
    const items = products.map((p, i) => ({ id: p.__KEY, expectedStamp: i === 2 ? p.__STAMP + 1 : p.__STAMP, input: { name: `Never ${i}` } }));
    const result = await subgraph.execute(BULK, { items });
    const error = expectError(subgraph, result, 'STALE_STAMP', 'nothing was saved');
    expect(error.extensions!.failures).toEqual([expect.objectContaining({ index: 2, id: products[2].__KEY, currentStamp: products[2].__STAMP })]);
    for (const p of products) expect(live('Artikel_Variante', p.__KEY)).toBe(p);
    expect(counters().byRoute.update).toBe(1);
  });

  it('saves nothing when one item names an unknown product (NOT_FOUND)', async () => {
    const products = slice(84, 2);
    const items = [
      ...products.map((p) => ({ id: p.__KEY, expectedStamp: p.__STAMP, input: { size: 'XXL' } })),
      { id: 'FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF', expectedStamp: 1, input: { size: 'XXL' } },
    ];
    expectError(subgraph, await subgraph.execute(BULK, { items }), 'NOT_FOUND');
    for (const p of products) expect(live('Artikel_Variante', p.__KEY)).toBe(p);
  });

  it('saves nothing when one item has a stale stamp and a price change, without any update request', async () => {
    const products = slice(86, 3).filter((p) => p.Preise !== null);
    const items = products.map((p, i) => ({ id: p.__KEY, expectedStamp: i === 0 ? p.__STAMP - 1 : p.__STAMP, input: { retailPrice: { amount: '5.00' } } }));
    expectError(subgraph, await subgraph.execute(BULK, { items }), 'STALE_STAMP');
    for (const p of products) expect(live('Artikel_Variante', p.__KEY)).toBe(p);
    expect(counters().byRoute.update).toBe(0);
  });

  it.each([
    ['a Decimal with three decimals in one item', (p: Row[]) => p.map((r, i) => ({ id: r.__KEY, expectedStamp: r.__STAMP, input: { retailPrice: { amount: i === 1 ? '1.001' : '1.00' } } })), 'amount'],
    ['a read-only field in one item', (p: Row[]) => p.map((r, i) => ({ id: r.__KEY, expectedStamp: r.__STAMP, input: i === 1 ? { sku: 'X' } : { name: 'Y' } })), 'sku'],
    ['the same product twice', (p: Row[]) => [p[0], p[1], p[0]].map((r) => ({ id: r.__KEY, expectedStamp: r.__STAMP, input: { name: 'Z' } })), p0Id],
    ['an item that changes nothing', (p: Row[]) => p.map((r, i) => ({ id: r.__KEY, expectedStamp: r.__STAMP, input: i === 1 ? {} : { name: 'Y' } })), 'items[1].input'],
  ])('refuses %s before any upstream request and saves nothing', async (_what, build, mention) => {
    const products = slice(90, 3);
    const result = await subgraph.execute(BULK, { items: build(products) });
    expectError(subgraph, result, 'BAD_USER_INPUT', typeof mention === 'function' ? mention(products) : mention);
    expect(counters().requests).toBe(0);
    for (const p of products) expect(live('Artikel_Variante', p.__KEY)).toBe(p);
  });

  it('refuses a read-only field written inline before any upstream request', async () => {
    const p = slice(93, 1)[0];
    const result = await subgraph.execute(
      `mutation { bulkUpdateProducts(items: [{ id: "${p.__KEY}", expectedStamp: ${p.__STAMP}, input: { oldSku: "1" } }]) { products { id } } }`,
    );
    expectError(subgraph, result, 'BAD_USER_INPUT', 'oldSku');
    expect(counters().requests).toBe(0);
  });
});

function p0Id(products: Row[]): string {
  return products[0].__KEY;
}

describe('setLegacyField', () => {
  const SET = 'mutation($table: String!, $key: ID!, $field: String!, $value: JSON, $stamp: Int) { setLegacyField(table: $table, key: $key, field: $field, value: $value, expectedStamp: $stamp) { table key field value stamp } }';

  it('writes a mapped writable attribute and returns the stored value and the new stamp', async () => {
    const p = row('Artikel_Variante', 95);
    const data = dataOf(await subgraph.execute<{ setLegacyField: unknown }>(SET, { table: 'Artikel_Variante', key: p.__KEY, field: 'Bezeichnung', value: `Zinn@Home & "Söhne" #1` }));
    expect(data.setLegacyField).toEqual({ table: 'Artikel_Variante', key: p.__KEY, field: 'Bezeichnung', value: `Zinn@Home & "Söhne" #1`, stamp: p.__STAMP + 1 });
    expect(live('Artikel_Variante', p.__KEY)).toMatchObject({ Bezeichnung: `Zinn@Home & "Söhne" #1`, __STAMP: p.__STAMP + 1, Farbe: p.Farbe });
    // Without expectedStamp: one read for the current stamp, one write (last writer wins).
    expect(counters().byRoute.update).toBe(1);
    const next = dataOf(await subgraph.execute<{ product: { name: string; stamp: number } }>('query($id: ID!) { product(id: $id) { name stamp } }', { id: p.__KEY }));
    expect(next.product).toEqual({ name: `Zinn@Home & "Söhne" #1`, stamp: p.__STAMP + 1 });
  });

  it('writes dates, numbers and booleans in the ERP wire format', async () => {
    const o = row('Werksauftraege', 170);
    const f = row('Artikel_Familie', 17);
    const a = row('Adressen', 70);
    const set = (table: string, key: string, field: string, value: unknown, stamp?: number) =>
      subgraph.execute<{ setLegacyField: { value: unknown; stamp: number } }>(SET, { table, key, field, value, stamp });
    expect(dataOf(await set('Werksauftraege', o.__KEY, 'Termin', '2025-01-31', o.__STAMP)).setLegacyField).toMatchObject({ value: '31!1!2025', stamp: o.__STAMP + 1 });
    expect(live('Werksauftraege', o.__KEY).Termin).toBe('31!1!2025');
    expect(dataOf(await set('Artikel_Familie', f.__KEY, 'Gewicht', 12.75)).setLegacyField.value).toBe(12.75);
    expect(dataOf(await set('Adressen', a.__KEY, 'IstHauptadresse', !a.IstHauptadresse)).setLegacyField.value).toBe(!a.IstHauptadresse);
    expect(live('Artikel_Familie', f.__KEY).Gewicht).toBe(12.75);
    expect(live('Adressen', a.__KEY).IstHauptadresse).toBe(!a.IstHauptadresse);
  });

  it('with the current expectedStamp writes in one request; with a stale one fails STALE_STAMP and changes nothing', async () => {
    const c = row('Kunden', 60);
    dataOf(await subgraph.execute(SET, { table: 'Kunden', key: c.__KEY, field: 'Versandart', value: 'DHL Express', stamp: c.__STAMP }));
    expect(counters().requests).toBe(1);
    const saved = live('Kunden', c.__KEY);
    expect(saved).toMatchObject({ Versandart: 'DHL Express', __STAMP: c.__STAMP + 1 });
    const stale = await subgraph.execute(SET, { table: 'Kunden', key: c.__KEY, field: 'Versandart', value: 'Abholung', stamp: c.__STAMP });
    const error = expectError(subgraph, stale, 'STALE_STAMP');
    expect(error.extensions!.currentStamp).toBe(saved.__STAMP);
    expect(error.extensions!.currentValues).toMatchObject({ shippingMethod: 'DHL Express' });
    expect(live('Kunden', c.__KEY)).toBe(saved);
  });

  it('refuses money with more than two decimal places, like updateCustomer, before any upstream request', async () => {
    const c = row('Kunden', 61);
    const result = await subgraph.execute(SET, { table: 'Kunden', key: c.__KEY, field: 'Kreditlimit', value: 1234.567 });
    expectError(subgraph, result, 'BAD_USER_INPUT', 'Kunden.Kreditlimit');
    expect(counters().requests).toBe(0);
    expect(live('Kunden', c.__KEY)).toBe(c);
    // A two-place Decimal string is stored as the number 4D expects.
    expect(dataOf(await subgraph.execute<{ setLegacyField: { value: unknown } }>(SET, { table: 'Kunden', key: c.__KEY, field: 'Kreditlimit', value: '2500.50' })).setLegacyField.value).toBe(2500.5);
  });

  it.each([
    ['Artikel_Variante', 'Nummer', 'Artikel_Variante.Nummer'],
    ['Artikel_Variante', 'Preise', 'Artikel_Variante.Preise'],
    ['Artikel_Variante', 'Familie_', 'Artikel_Variante.Familie_'],
    ['Artikel_Variante', '__STAMP', 'Artikel_Variante.__STAMP'],
    ['Artikel_Variante', 'Unbekannt', 'Artikel_Variante.Unbekannt'],
    ['Artikel_Variante', 'bezeichnung', 'Artikel_Variante.bezeichnung'],
    ['Kunden', 'KundenNr', 'Kunden.KundenNr'],
    ['Belege', 'Endbetrag', 'Belege.Endbetrag'],
    ['Belege_Pos', 'Menge', 'Belege_Pos.Menge'],
    ['Formen', 'aktiv', 'Formen.aktiv'],
    ['Lieferanten', 'Name', 'Lieferanten'],
    ['artikel_variante', 'Bezeichnung', 'artikel_variante'],
  ])('refuses %s.%s (not a mapped writable attribute) with BAD_USER_INPUT naming it, before any upstream request', async (table, field, mention) => {
    const key = rowsOf(subgraph, table === 'Lieferanten' || table === 'artikel_variante' ? 'Artikel_Variante' : table)[0].__KEY;
    const result = await subgraph.execute(SET, { table, key, field, value: 'x' });
    expectError(subgraph, result, 'BAD_USER_INPUT', mention);
    expect(counters().requests).toBe(0);
  });

  it('refuses a value of the wrong type for the attribute before any upstream request', async () => {
    const p = row('Artikel_Variante', 96);
    for (const [field, value] of [['Gewicht', 'schwer'], ['Aktiv', 'ja'], ['Release_date', '31.12.2024'], ['Bezeichnung', { de: 'x' }]] as const) {
      expectError(subgraph, await subgraph.execute(SET, { table: 'Artikel_Variante', key: p.__KEY, field, value }), 'BAD_USER_INPUT', field);
    }
    expect(counters().requests).toBe(0);
    expect(live('Artikel_Variante', p.__KEY)).toBe(p);
  });

  it('refuses a fraction for an integer attribute before reading the record', async () => {
    const k = row('Kunden', 12);
    const result = await subgraph.execute(SET, { table: 'Kunden', key: k.__KEY, field: 'SkontoTage', value: 1.5 });
    expectError(subgraph, result, 'BAD_USER_INPUT', 'SkontoTage');
    expect(counters().requests).toBe(0);
  });

  it('answers an unknown key with NOT_FOUND', async () => {
    for (const stamp of [undefined, 1]) {
      const result = await subgraph.execute(SET, { table: 'Artikel_Variante', key: 'FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF', field: 'Bezeichnung', value: 'x', stamp });
      expectError(subgraph, result, 'NOT_FOUND', 'FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF');
    }
  });
});

describe('upstream failures during writes', () => {
  it.each([
    [503, 'UPSTREAM_UNAVAILABLE'],
    [500, 'UPSTREAM_ERROR'],
  ])('reports HTTP %i from the ERP as %s without URL, cookie or stack trace, and saves nothing', async (status, code) => {
    const a = row('Adressen', 80);
    subgraph.emulator.failNext(1, status);
    const result = await subgraph.execute(updateQuery(UPDATES[3]), { id: a.__KEY, stamp: a.__STAMP, input: { city: 'Nirgendwo' } });
    expectError(subgraph, result, code);
    expect(live('Adressen', a.__KEY)).toBe(a);
  });
});

describe('reading after writing', () => {
  it('shows the saved value in the same operation, through relations loaded after the write', async () => {
    const p = row('Artikel_Variante', 97);
    const data = dataOf(
      await subgraph.execute<{ updateProduct: { product: { family: { variants: Array<{ id: string; name: string; stamp: number }> } | null } } }>(
        'mutation($id: ID!, $stamp: Int!) { updateProduct(id: $id, expectedStamp: $stamp, input: { name: "Frisch gespeichert" }) { product { family { variants { id name stamp } } } } }',
        { id: p.__KEY, stamp: p.__STAMP },
      ),
    );
    const family = data.updateProduct.product.family;
    if (family === null) {
      expect(rowsOf(subgraph, 'Artikel_Familie').some((f) => f.__KEY === p.Familie_)).toBe(false);
    } else {
      expect(family.variants.find((v) => v.id === p.__KEY)).toEqual({ id: p.__KEY, name: 'Frisch gespeichert', stamp: p.__STAMP + 1 });
    }
  });

  it('runs mutations of one operation in order, each seeing the one before', async () => {
    const f = row('Artikel_Familie', 18);
    const v = rowsOf(subgraph, 'Artikel_Variante').find((r) => r.Familie_ === f.__KEY)!;
    const data = dataOf(
      await subgraph.execute<Record<string, { [k: string]: unknown }>>(
        `mutation($f: ID!, $fs: Int!, $fs1: Int!, $v: ID!, $vs: Int!) {
          a: updateProductFamily(id: $f, expectedStamp: $fs, input: { name: "Erst" }) { productFamily { name stamp variants { id color } } }
          b: setLegacyField(table: "Artikel_Familie", key: $f, field: "Bezeichnung_ENG", value: "Second", expectedStamp: $fs1) { stamp }
          c: updateProduct(id: $v, expectedStamp: $vs, input: { color: "rot" }) { product { color family { name nameEn stamp variants { id color } } } }
        }`,
        { f: f.__KEY, fs: f.__STAMP, fs1: f.__STAMP + 1, v: v.__KEY, vs: v.__STAMP },
      ),
    );
    const variants = (colorOfV: unknown) =>
      rowsOf(subgraph, 'Artikel_Variante')
        .filter((r) => r.Familie_ === f.__KEY)
        .sort((x, y) => (String(x.Nummer) < String(y.Nummer) ? -1 : 1))
        .map((r) => ({ id: r.__KEY, color: r.__KEY === v.__KEY ? colorOfV : r.Farbe }));
    expect(data.a).toEqual({ productFamily: { name: 'Erst', stamp: f.__STAMP + 1, variants: variants(v.Farbe) } });
    expect(data.b).toEqual({ stamp: f.__STAMP + 2 });
    // The family and its variant list were loaded before; both show the later writes.
    expect(data.c).toEqual({ product: { color: 'rot', family: { name: 'Erst', nameEn: 'Second', stamp: f.__STAMP + 2, variants: variants('rot') } } });
    expect(live('Artikel_Familie', f.__KEY)).toMatchObject({ Bezeichnung: 'Erst', Bezeichnung_ENG: 'Second', __STAMP: f.__STAMP + 2 });
  });

  it('shows the new values to the next request, by id, by key and in lists', async () => {
    const o = row('Werksauftraege', 180);
    dataOf(await subgraph.execute(updateQuery(UPDATES[4]), { id: o.__KEY, stamp: o.__STAMP, input: { status: 'storniert', priority: 5 } }));
    const data = dataOf(
      await subgraph.execute<Record<string, unknown>>(
        'query($id: ID!, $n: String!) { a: productionOrder(id: $id) { status priority stamp } b: productionOrderByNumber(number: $n) { status } c: productionOrders(filter: { number: { eq: $n }, status: { eq: "storniert" } }) { totalCount } }',
        { id: o.__KEY, n: o.WerkAufNr },
      ),
    );
    expect(data).toEqual({ a: { status: 'storniert', priority: 5, stamp: o.__STAMP + 1 }, b: { status: 'storniert' }, c: { totalCount: 1 } });
  });
});
