import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AddressEntity, RELATIONS } from '../../src/mapping/entities.js';
import { EntityLoaders } from '../../src/mapping/loaders.js';
import { startTestSubgraph, type TestSubgraph } from '../helpers/subgraph.js';

let subgraph: TestSubgraph;
beforeAll(async () => {
  subgraph = await startTestSubgraph();
});
afterAll(() => subgraph.close());

describe('EntityLoaders', () => {
  it('returns each child once when keys that 4D treats as equal land in different requests', async () => {
    const addresses = subgraph.emulator.db.table('Adressen')!.rows();
    const customer = subgraph.emulator.db.table('Kunden')!.rows().find((k) => /[A-Za-z]/.test(String(k.KundenNr)) && addresses.some((a) => a.KundenNr === k.KundenNr));
    expect(customer, 'a customer number with letters and addresses').toBeDefined();
    const number = String(customer!.KundenNr);
    const expected = addresses.filter((a) => a.KundenNr === number).map((a) => a.__KEY).sort();
    // Batch size 1: the two spellings go out as two requests that both match the same rows.
    const loaders = new EntityLoaders(subgraph.client, 1);
    const { orderBy } = RELATIONS.Customer.addresses;
    const [upper, lower] = await loaders.byField(AddressEntity, 'customerNumber', orderBy).loadMany([number.toUpperCase(), number.toLowerCase()]);
    expect(Array.isArray(upper) && upper.map((a) => a.id).sort()).toEqual(expected);
    expect(Array.isArray(lower) && lower.map((a) => a.id).sort()).toEqual(expected);
  });
});
