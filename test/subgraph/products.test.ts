import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SCHEMA_FILES } from '../../src/schema.js';
import { startTestSubgraph, type TestSubgraph } from '../helpers/subgraph.js';

let subgraph: TestSubgraph;

beforeAll(async () => {
  subgraph = await startTestSubgraph();
  // Open the upstream session once so request counts below measure data requests only.
  await subgraph.client.ping();
});
afterAll(() => subgraph.close());
beforeEach(() => subgraph.emulator.resetCounters());

function variants() {
  return subgraph.emulator.db.table('Artikel_Variante')!.rows();
}
function families() {
  return subgraph.emulator.db.table('Artikel_Familie')!.rows();
}
function dataRequests(table: string): number {
  return subgraph.emulator.counters.byTable[table] ?? 0;
}

describe('the subgraph schema', () => {
  it('loads every SDL file in schema/ (none forgotten in SCHEMA_FILES)', () => {
    const onDisk = readdirSync(new URL('../../schema/', import.meta.url)).filter((f) => f.endsWith('.graphql')).sort();
    expect([...SCHEMA_FILES].sort()).toEqual(onDisk);
  });

  it('serves its SDL with both Product keys through _service', async () => {
    const result = await subgraph.execute<{ _service: { sdl: string } }>('{ _service { sdl } }');
    expect(result.errors).toBeUndefined();
    const sdl = result.data!._service.sdl;
    expect(sdl).toMatch(/type Product\s+@key\(fields: "id"\)\s+@key\(fields: "sku"\)/);
    expect(sdl).toMatch(/type ProductFamily\s+@key\(fields: "id"\)\s+@key\(fields: "sku"\)/);
    expect(sdl).toMatch(/@link\(url: "https:\/\/specs.apollo.dev\/federation\/v2\.\d+"/);
  });
});

describe('Product', () => {
  it('resolves a product by id with its decoded fields', async () => {
    const row = variants()[3];
    const result = await subgraph.execute<{ product: Record<string, unknown> }>(
      'query($id: ID!) { product(id: $id) { id sku name stamp } }',
      { id: row.__KEY },
    );
    expect(result.errors).toBeUndefined();
    expect(result.data!.product).toEqual({ id: row.__KEY, sku: row.Nummer, name: row.Bezeichnung, stamp: row.__STAMP });
  });

  it('returns null for an unknown id or sku instead of an error', async () => {
    const result = await subgraph.execute('{ product(id: "00000000000000000000000000000000") { id } productBySku(sku: "no such sku") { id } }');
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ product: null, productBySku: null });
  });

  it('resolves _entities by id and by sku in one request per key kind', async () => {
    const [a, b, c] = variants();
    const result = await subgraph.execute<{ _entities: Array<{ id: string; sku: string } | null> }>(
      `query($reps: [_Any!]!) { _entities(representations: $reps) { ... on Product { id sku } } }`,
      {
        reps: [
          { __typename: 'Product', id: a.__KEY },
          { __typename: 'Product', sku: b.Nummer },
          { __typename: 'Product', id: c.__KEY },
          { __typename: 'Product', sku: 'does-not-exist' },
        ],
      },
    );
    expect(result.errors).toBeUndefined();
    expect(result.data!._entities).toEqual([
      { id: a.__KEY, sku: a.Nummer },
      { id: b.__KEY, sku: b.Nummer },
      { id: c.__KEY, sku: c.Nummer },
      null,
    ]);
    // One batched request by __KEY, one by Nummer.
    expect(dataRequests('Artikel_Variante')).toBe(2);
  });

  it('loads 50 products with their family in one request for products and one for families', async () => {
    const fifty = variants().slice(0, 50);
    const result = await subgraph.execute<{ _entities: Array<{ id: string; family: { id: string; sku: string; name: string | null } | null }> }>(
      `query($reps: [_Any!]!) { _entities(representations: $reps) { ... on Product { id family { id sku name } } } }`,
      { reps: fifty.map((r) => ({ __typename: 'Product', id: r.__KEY })) },
    );
    expect(result.errors).toBeUndefined();
    const familyByKey = new Map(families().map((f) => [f.__KEY, f]));
    result.data!._entities.forEach((entity, i) => {
      const expectedFamily = familyByKey.get(fifty[i].Familie_ as string);
      expect(entity.id).toBe(fifty[i].__KEY);
      expect(entity.family).toEqual(
        expectedFamily ? { id: expectedFamily.__KEY, sku: expectedFamily.Nummer, name: expectedFamily.Bezeichnung } : null,
      );
    });
    expect(dataRequests('Artikel_Variante')).toBe(1);
    expect(dataRequests('Artikel_Familie')).toBe(1);
  });

  it('resolves a dangling family reference to null without failing the query', async () => {
    const familyKeys = new Set(families().map((f) => f.__KEY));
    const orphan = variants().find((v) => v.Familie_ && !familyKeys.has(v.Familie_ as string));
    expect(orphan, 'the emulator data should contain dangling family references').toBeDefined();
    const result = await subgraph.execute<{ product: { family: unknown } }>('query($id: ID!) { product(id: $id) { family { id } } }', {
      id: orphan!.__KEY,
    });
    expect(result.errors).toBeUndefined();
    expect(result.data!.product.family).toBeNull();
  });

  it('reports an unreachable upstream as UPSTREAM_UNAVAILABLE without leaking the URL', async () => {
    // Default retries: 3, so four failures in a row exhaust them.
    subgraph.emulator.failNext(4, 503);
    const result = await subgraph.execute('query($id: ID!) { product(id: $id) { id } }', { id: variants()[0].__KEY });
    expect(result.errors?.[0].extensions?.code).toBe('UPSTREAM_UNAVAILABLE');
    expect(JSON.stringify(result.errors)).not.toContain(subgraph.emulator.url);
  });
});
