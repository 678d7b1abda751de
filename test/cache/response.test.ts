/**
 * The response cache: keyed by document, variables and (for PRIVATE answers) the caller; never a
 * mutation, an answer with errors, or one caller's private answer for another. Changes made in the
 * emulator directly (behind the graph's back, no invalidation) show which entry an answer came from.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { startReplica, upstreamDuring, type Replica } from '../helpers/cached-subgraph.js';

const PRODUCT = `query ($id: ID!) { product(id: $id) { id name } }`;
const CUSTOMER = `query ($id: ID!) { customer(id: $id) { id customerNumber group } }`;

describe('response cache', () => {
  let emulator: Emulator;
  let replica: Replica | undefined;
  let products: string[];
  let customers: string[];

  beforeAll(async () => {
    emulator = await startEmulator({ port: 0 });
    products = emulator.db.table('Artikel_Variante')!.rows().slice(0, 6).map((r) => String(r.__KEY));
    customers = emulator.db.table('Kunden')!.rows().slice(0, 3).map((r) => String(r.__KEY));
  });
  afterAll(async () => {
    await emulator.close();
  });
  afterEach(async () => {
    await replica?.close();
    replica = undefined;
  });

  /** Changes a row in the ERP without telling anyone, as a clerk at the 4D desktop would. */
  const behindTheBack = (table: string, key: string, changes: Record<string, unknown>) => emulator.db.table(table)!.update(key, changes);

  it('variables are part of the key (in any key order), so one variable set never answers another', async () => {
    replica = await startReplica({ emulator });
    const QUERY = `query ($a: ID!, $b: ID!) { a: product(id: $a) { id } b: product(id: $b) { id } }`;
    const one = await replica.post<{ a: { id: string }; b: { id: string } }>(QUERY, { a: products[0], b: products[1] });
    const swapped = await replica.post<{ a: { id: string }; b: { id: string } }>(QUERY, { a: products[1], b: products[0] });
    expect(swapped.data!.a.id).toBe(products[1]);
    expect(swapped.extensions?.cache?.status).toBe('miss');
    // Same values, keys in another order: the same entry.
    const reordered = await replica.post<{ a: { id: string } }>(QUERY, { b: products[1], a: products[0] });
    expect(reordered.extensions?.cache?.status).toBe('hit');
    expect(reordered.data).toEqual(one.data);
  });

  it('mutations and answers with errors are never kept', async () => {
    replica = await startReplica({ emulator });
    const bad = `{ products(first: 100000) { totalCount } }`;
    const first = await replica.post(bad);
    expect(first.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const second = await replica.post(bad);
    expect(second.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const { result: before } = await upstreamDuring(emulator, () => replica!.post<{ product: { name: string } }>(`query ($id: ID!) { product(id: $id) { stamp } }`, { id: products[2] }));
    const MUTATION = `mutation ($id: ID!, $s: Int!) { updateProduct(id: $id, expectedStamp: $s, input: { size: "XL" }) { product { stamp } } }`;
    const stamp = (before.data as unknown as { product: { stamp: number } }).product.stamp;
    const m1 = await replica.post(MUTATION, { id: products[2], s: stamp });
    expect(m1.errors).toBeUndefined();
    const m2 = await upstreamDuring(emulator, () => replica!.post(MUTATION, { id: products[2], s: stamp }));
    expect(m2.result.errors?.[0]?.extensions?.code).toBe('STALE_STAMP');
    expect(m2.requests).toBeGreaterThan(0);
  });

  it('a PRIVATE answer is not kept without a configured caller-scope header', async () => {
    replica = await startReplica({ emulator });
    const first = await replica.post(CUSTOMER, { id: customers[0] });
    expect(first.headers.get('cache-control')).toMatch(/private/);
    behindTheBack('Kunden', customers[0]!, { Kundengr: 'ZZ' });
    const second = await replica.post<{ customer: { group: string } }>(CUSTOMER, { id: customers[0] });
    expect(second.extensions?.cache?.status).toBe('miss');
  });

  it('with a caller-scope header, a PRIVATE answer is kept per caller and never reaches another', async () => {
    replica = await startReplica({ emulator, settings: { scopeHeader: 'x-caller-id' } });
    const alice = { 'x-caller-id': 'alice' };
    const bob = { 'x-caller-id': 'bob' };
    const original = await replica.post<{ customer: { group: string | null } }>(CUSTOMER, { id: customers[1] }, alice);
    behindTheBack('Kunden', customers[1]!, { Kundengr: 'NEU' });
    await replica.cache.purge({ tags: [`Kunden:${customers[1]}`] }, 'test'); // the rows, not alice's answer key
    const aliceAgain = await replica.post<{ customer: { group: string | null } }>(CUSTOMER, { id: customers[1] }, alice);
    // Purged tags invalidate alice's answer too: she gets the new value, a miss.
    expect(aliceAgain.data!.customer.group).toBe('NEU');
    const aliceHit = await replica.post<{ customer: { group: string | null } }>(CUSTOMER, { id: customers[1] }, alice);
    expect(aliceHit.extensions?.cache?.status).toBe('hit');
    behindTheBack('Kunden', customers[1]!, { Kundengr: original.data!.customer.group ?? '' });
    // Bob never gets alice's entry: his answer is a miss (built from the rows), alice still her hit.
    const bobs = await replica.post<{ customer: { group: string | null } }>(CUSTOMER, { id: customers[1] }, bob);
    expect(bobs.extensions?.cache?.status).toBe('miss');
    const nobody = await replica.post(CUSTOMER, { id: customers[1] });
    expect(nobody.extensions?.cache?.status).toBe('miss');
    const aliceStill = await replica.post(CUSTOMER, { id: customers[1] }, alice);
    expect(aliceStill.extensions?.cache?.status).toBe('hit');
  });

  it('a crafted scope header or variables cannot plant a public answer for others', async () => {
    replica = await startReplica({ emulator, settings: { scopeHeader: 'x-caller-id' } });
    // A public query with a caller header is stored publicly (its data does not depend on the caller)…
    await replica.post(PRODUCT, { id: products[3] }, { 'x-caller-id': 'mallory' });
    behindTheBack('Artikel_Variante', products[3]!, { Bezeichnung: 'Behind the back' });
    // …and answers anyone with the same document and variables only.
    const other = await replica.post<{ product: { name: string } }>(PRODUCT, { id: products[3] }, { 'x-caller-id': 'carol' });
    expect(other.extensions?.cache?.status).toBe('hit');
    // Extra variables, an operation name or a different document never share it.
    const extra = await replica.post(PRODUCT, { id: products[3], extra: 'x' });
    expect(extra.extensions?.cache?.status).toBe('miss');
    const spaced = await replica.post(`${PRODUCT} `, { id: products[3] });
    expect(spaced.extensions?.cache?.status).toBe('miss');
  });

  it('per-type ages from configuration cap max-age', async () => {
    replica = await startReplica({ emulator, settings: { ttlSeconds: 60, ttlByType: { Product: 5 } } });
    const answer = await replica.post(PRODUCT, { id: products[4] });
    expect(answer.headers.get('cache-control')).toMatch(/^max-age=[45], public$/);
    const families = await replica.post(`{ productFamilies(first: 1) { edges { node { id } } } }`);
    expect(families.headers.get('cache-control')).toMatch(/^max-age=(59|60), public$/);
  });

  it('debug extensions and the Cache-Tag header list the tags of the answer', async () => {
    replica = await startReplica({ emulator });
    const answer = await replica.post(`{ products(first: 2) { edges { node { id } } } }`);
    const tags = answer.extensions?.cache?.tags ?? [];
    expect(tags).toContain('Artikel_Variante');
    expect(tags.filter((t) => t.startsWith('Artikel_Variante:') && t !== 'Artikel_Variante:*')).toHaveLength(2);
    expect(tags).toContain('Artikel_Variante:*');
    expect(answer.headers.get('cache-tag')!.split(',').sort()).toEqual([...tags].sort());
  });
});
