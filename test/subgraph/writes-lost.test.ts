/**
 * A mutation whose upstream answer was lost, through GraphQL: saved (a normal payload), not saved
 * (`UPSTREAM_WRITE_NOT_SAVED`) or unknown (`UPSTREAM_WRITE_UNKNOWN`), checked against the emulator's
 * data, with exactly one update request (never a replay). Own emulator: these writes disturb no
 * other file.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { dataOf, expectError, rowByKey, rowsOf, type Row } from '../helpers/graph.js';
import { startTestSubgraph, type TestSubgraph } from '../helpers/subgraph.js';

let subgraph: TestSubgraph;

beforeAll(async () => {
  subgraph = await startTestSubgraph({ client: { timeoutMs: 300, writeRecheckDelayMs: 100 } });
  await subgraph.client.ping();
});
afterAll(() => subgraph.close());
beforeEach(() => subgraph.emulator.resetCounters());

const UPDATE = 'mutation($id: ID!, $stamp: Int!, $name: String!) { updateProduct(id: $id, expectedStamp: $stamp, input: { name: $name }) { product { id name stamp } } }';
const BULK = 'mutation($items: [BulkUpdateProductItem!]!) { bulkUpdateProducts(items: $items) { products { id name stamp } } }';

let next = 30;
const fresh = (): Row => rowsOf(subgraph, 'Artikel_Variante')[next++]!;
const live = (key: string): Row => rowByKey(subgraph, 'Artikel_Variante', key);
const updatePosts = () => subgraph.emulator.requestLog.filter((e) => e.method === 'POST' && e.path.includes('$method=update')).length;

describe('updateProduct when the answer is lost', () => {
  it('answers the saved product when 4D saved it', async () => {
    const p = fresh();
    subgraph.emulator.loseAnswerNext(1);
    const data = dataOf(await subgraph.execute<{ updateProduct: { product: { id: string; name: string; stamp: number } } }>(UPDATE, { id: p.__KEY, stamp: p.__STAMP, name: 'Verloren, doch gespeichert' }));
    expect(data.updateProduct.product).toEqual({ id: p.__KEY, name: 'Verloren, doch gespeichert', stamp: p.__STAMP + 1 });
    expect(live(p.__KEY)).toMatchObject({ Bezeichnung: 'Verloren, doch gespeichert', __STAMP: p.__STAMP + 1 });
    expect(updatePosts()).toBe(1);
  });

  it('answers the saved product when the answer arrives after the timeout', async () => {
    const p = fresh();
    subgraph.emulator.delayAnswerNext(1, 900);
    const data = dataOf(await subgraph.execute<{ updateProduct: { product: { stamp: number } } }>(UPDATE, { id: p.__KEY, stamp: p.__STAMP, name: 'Spät beantwortet' }));
    expect(data.updateProduct.product.stamp).toBe(p.__STAMP + 1);
    expect(live(p.__KEY).Bezeichnung).toBe('Spät beantwortet');
    expect(updatePosts()).toBe(1);
  });

  it('fails with UPSTREAM_WRITE_NOT_SAVED when the re-read shows the old stamp', async () => {
    const p = fresh();
    subgraph.emulator.dropNext(1);
    const result = await subgraph.execute(UPDATE, { id: p.__KEY, stamp: p.__STAMP, name: 'Nie angekommen' });
    const error = expectError(subgraph, result, 'UPSTREAM_WRITE_NOT_SAVED', 'not saved', 'safe to retry');
    expect(error.extensions?.records).toEqual([{ id: p.__KEY, outcome: 'notSaved', sentStamp: p.__STAMP, currentStamp: p.__STAMP }]);
    expect(live(p.__KEY)).toBe(p);
    expect(updatePosts()).toBe(1);
  });

  it('fails with UPSTREAM_WRITE_NOT_SAVED after a timeout of a request 4D never processed', async () => {
    const p = fresh();
    subgraph.emulator.hangNext(1);
    const result = await subgraph.execute(UPDATE, { id: p.__KEY, stamp: p.__STAMP, name: 'Hängt' });
    expectError(subgraph, result, 'UPSTREAM_WRITE_NOT_SAVED');
    expect(live(p.__KEY)).toBe(p);
    expect(updatePosts()).toBe(1);
  });

  it('fails with UPSTREAM_WRITE_UNKNOWN when someone else saved the product meanwhile', async () => {
    const p = fresh();
    subgraph.emulator.hangNext(1);
    // While our update hangs, a clerk renames the product in the 4D desktop application.
    setTimeout(() => subgraph.emulator.db.table('Artikel_Variante')!.update(p.__KEY, { Bezeichnung: 'Vom Sachbearbeiter' }), 50);
    const result = await subgraph.execute(UPDATE, { id: p.__KEY, stamp: p.__STAMP, name: 'Unsere Änderung' });
    const error = expectError(subgraph, result, 'UPSTREAM_WRITE_UNKNOWN', 'Read the record before retrying');
    expect(error.extensions?.records).toEqual([{ id: p.__KEY, outcome: 'unknown', sentStamp: p.__STAMP, currentStamp: p.__STAMP + 1 }]);
    expect(live(p.__KEY)).toMatchObject({ Bezeichnung: 'Vom Sachbearbeiter', __STAMP: p.__STAMP + 1 });
    expect(updatePosts()).toBe(1);
  });
});

describe('bulkUpdateProducts when the answer is lost', () => {
  it('answers every saved product when each holds what was sent', async () => {
    const products = [fresh(), fresh(), fresh()];
    subgraph.emulator.loseAnswerNext(1);
    const items = products.map((p, i) => ({ id: p.__KEY, expectedStamp: p.__STAMP, input: { name: `Los ${i}` } }));
    const data = dataOf(await subgraph.execute<{ bulkUpdateProducts: { products: Array<{ id: string; name: string; stamp: number }> } }>(BULK, { items }));
    expect(data.bulkUpdateProducts.products).toEqual(products.map((p, i) => ({ id: p.__KEY, name: `Los ${i}`, stamp: p.__STAMP + 1 })));
    expect(updatePosts()).toBe(1);
  });

  it('fails with UPSTREAM_WRITE_UNKNOWN when one item was changed by someone else meanwhile', async () => {
    const products = [fresh(), fresh()];
    subgraph.emulator.hangNext(1);
    setTimeout(() => subgraph.emulator.db.table('Artikel_Variante')!.update(products[1]!.__KEY, { Bezeichnung: 'Fremd' }), 50);
    const items = products.map((p, i) => ({ id: p.__KEY, expectedStamp: p.__STAMP, input: { name: `Batch ${i}` } }));
    const result = await subgraph.execute(BULK, { items });
    const error = expectError(subgraph, result, 'UPSTREAM_WRITE_UNKNOWN');
    expect(error.extensions?.records).toEqual([
      { id: products[0]!.__KEY, outcome: 'notSaved', sentStamp: products[0]!.__STAMP, currentStamp: products[0]!.__STAMP },
      { id: products[1]!.__KEY, outcome: 'unknown', sentStamp: products[1]!.__STAMP, currentStamp: products[1]!.__STAMP + 1 },
    ]);
    expect(live(products[0]!.__KEY)).toBe(products[0]);
    expect(updatePosts()).toBe(1);
  });
});
