/**
 * Federation proof: our subgraph composes with a second subgraph that extends `Product` (by `sku`) and
 * `Customer` (by `customerNumber`), and `@apollo/gateway` over both answers queries that cross the
 * boundary in both directions, with our `_entities` batched into one upstream request per table.
 */
import { composeServices } from '@apollo/composition';
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { parse } from 'graphql';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Row } from '../../src/emulator/data/store.js';
import { readPrice } from '../../src/mapping/prices.js';
import { startTestSubgraph, type TestSubgraph } from '../helpers/subgraph.js';
import {
  averageRating,
  conflictingTypeDefs,
  loyaltyPointsFor,
  startReviewsSubgraph,
  type ReviewSeed,
  type ReviewsSubgraph,
} from './fixtures/reviews-subgraph.js';

const DANGLING_SKU = 'NO-SUCH-SKU-404';

let subgraph: TestSubgraph;
let ourUrl: string;
let ourSdl: string;
let reviews: ReviewsSubgraph;
let seeds: ReviewSeed[];
let gatewayServer: ApolloServer | undefined;
/** Every fetch the gateway sends to a subgraph: its name and, for `_entities`, the representation count. */
const fetches: Array<{ subgraph: string; representations: number | null }> = [];

function table(name: string): Row[] {
  return subgraph.emulator.db.table(name)!.rows();
}
function dataRequests(name: string): number {
  return subgraph.emulator.counters.byTable[name] ?? 0;
}
/** Data requests per table, without the zeroes. */
function upstreamByTable(): Record<string, number> {
  return Object.fromEntries(Object.entries(subgraph.emulator.counters.byTable).filter(([, n]) => n > 0));
}

function composeWith(reviewsTypeDefs = reviews.typeDefs) {
  return composeServices([
    { name: 'wsz', typeDefs: parse(ourSdl), url: `${ourUrl}/graphql` },
    { name: 'reviews', typeDefs: reviewsTypeDefs, url: reviews.url },
  ]);
}

async function gatewayExecute<T>(query: string, variables?: Record<string, unknown>) {
  const response = await gatewayServer!.executeOperation({ query, variables });
  if (response.body.kind !== 'single') throw new Error('expected a single (non-incremental) result');
  return response.body.singleResult as { data?: T | null; errors?: ReadonlyArray<{ message: string; path?: ReadonlyArray<string | number> }> };
}

// Reviews: two for each of six products (one of them with a dangling family reference), by five
// customers; one more review, rated lowest, points at a SKU our subgraph does not know.
let reviewedVariants: Row[];
let authors: string[];

beforeAll(async () => {
  subgraph = await startTestSubgraph();
  await new Promise<void>((resolve) => subgraph.server.httpServer.listen(0, '127.0.0.1', resolve));
  ourUrl = `http://127.0.0.1:${(subgraph.server.httpServer.address() as AddressInfo).port}`;

  const familyKeys = new Set(table('Artikel_Familie').map((f) => f.__KEY));
  const variants = table('Artikel_Variante');
  const orphan = variants.find((v) => v.Familie_ && !familyKeys.has(v.Familie_ as string));
  expect(orphan, 'the emulator data should contain a variant with a dangling family reference').toBeDefined();
  reviewedVariants = [...variants.filter((v) => v !== orphan).slice(0, 5), orphan!];
  authors = table('Kunden')
    .slice(0, 5)
    .map((k) => k.KundenNr as string);
  seeds = reviewedVariants.flatMap((v, i) => [
    { id: `r${String(2 * i).padStart(2, '0')}`, sku: v.Nummer as string, customerNumber: authors[i % 5], rating: 5 - (i % 4), body: `Great ${v.Nummer}` },
    { id: `r${String(2 * i + 1).padStart(2, '0')}`, sku: v.Nummer as string, customerNumber: authors[(i + 2) % 5], rating: 2 + (i % 3), body: `Fine ${v.Nummer}` },
  ]);
  seeds.push({ id: 'r99', sku: DANGLING_SKU, customerNumber: authors[0], rating: 1, body: 'Where did it go?' });
  reviews = await startReviewsSubgraph(seeds);

  // Our SDL as the gateway's tooling would fetch it: `_service { sdl }` over HTTP.
  const response = await fetch(`${ourUrl}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ _service { sdl } }' }),
  });
  ourSdl = ((await response.json()) as { data: { _service: { sdl: string } } }).data._service.sdl;

  // Open the upstream session once so the counts below measure data requests only.
  await subgraph.client.ping();
});

afterAll(async () => {
  // ApolloServer.stop() also stops the gateway it runs.
  await gatewayServer?.stop();
  await reviews?.stop();
  await subgraph?.close();
});

describe('composition', () => {
  it('composes our subgraph with the reviews subgraph without errors', () => {
    const result = composeWith();
    if (result.errors) console.error(result.errors.map((e) => `${e.extensions?.code ?? ''} ${e.message}`).join('\n'));
    expect(result.errors).toBeUndefined();
    const supergraph = result.supergraphSdl!;
    expect(supergraph).toMatch(/join__graph\(name: "wsz", url: "http:\/\/127\.0\.0\.1:\d+\/graphql"\)/);
    expect(supergraph).toMatch(/join__graph\(name: "reviews", url: "http:\/\/127\.0\.0\.1:\d+\/"\)/);
    // Product carries the keys of both subgraphs, and the fields of both.
    expect(supergraph).toMatch(/type Product\s[^{]*@join__type\(graph: REVIEWS, key: "sku"\)/);
    expect(supergraph).toMatch(/type Product\s[^{]*@join__type\(graph: WSZ, key: "id"\)/);
    expect(supergraph).toMatch(/averageRating: Float @join__field\(graph: REVIEWS\)/);
    expect(supergraph).toMatch(/loyaltyPoints: Int @join__field\(graph: REVIEWS\)/);
  });

  it('fails with a clear error when a subgraph redefines Product.name with another type', () => {
    const result = composeWith(conflictingTypeDefs);
    expect(result.supergraphSdl).toBeUndefined();
    expect(result.errors?.length).toBeGreaterThan(0);
    const messages = result.errors!.map((e) => `${String(e.extensions?.code)}: ${e.message}`);
    expect(messages.some((m) => m.includes('Product.name'))).toBe(true);
    expect(result.errors!.map((e) => e.extensions?.code)).toEqual(expect.arrayContaining(['FIELD_TYPE_MISMATCH', 'INVALID_FIELD_SHARING']));
    expect(messages.join('\n')).toContain('it has type "Int" in subgraph "reviews" but type "String" in subgraph "wsz"');
  });
});

describe('the gateway over both subgraphs', () => {
  beforeAll(async () => {
    const composed = composeWith();
    if (composed.errors) throw new Error(`composition failed:\n${composed.errors.map((e) => e.message).join('\n')}`);
    const gateway = new ApolloGateway({
      supergraphSdl: composed.supergraphSdl,
      buildService: ({ name, url }) =>
        new RemoteGraphQLDataSource({
          url,
          willSendRequest({ request }) {
            const reps = request.variables?.representations;
            fetches.push({ subgraph: name, representations: Array.isArray(reps) ? reps.length : null });
          },
        }),
    });
    gatewayServer = new ApolloServer({ gateway });
    await gatewayServer.start();
  });

  beforeEach(() => {
    subgraph.emulator.resetCounters();
    fetches.length = 0;
  });

  it('resolves reviews from the fixture with products, families and authors from our _entities, batched', async () => {
    const limit = seeds.length - 1; // every review but the dangling one (rated lowest)
    const result = await gatewayExecute<{
      topReviews: Array<{
        id: string;
        rating: number;
        product: { sku: string; name: string | null; retailPrice: { amount: string } | null; family: { name: string | null } | null } | null;
        author: { customerNumber: string; group: string | null } | null;
      }>;
    }>(
      `query($limit: Int) { topReviews(limit: $limit) {
         id rating
         product { sku name retailPrice { amount } family { name } }
         author { customerNumber group }
       } }`,
      { limit },
    );
    expect(result.errors).toBeUndefined();

    const variantBySku = new Map(table('Artikel_Variante').map((v) => [v.Nummer as string, v]));
    const familyByKey = new Map(table('Artikel_Familie').map((f) => [f.__KEY, f]));
    const customerByNumber = new Map(table('Kunden').map((k) => [k.KundenNr as string, k]));
    const expected = seeds
      .filter((s) => s.sku !== DANGLING_SKU)
      .sort((a, b) => b.rating - a.rating || a.id.localeCompare(b.id))
      .map((s) => {
        const v = variantBySku.get(s.sku)!;
        const family = familyByKey.get(v.Familie_ as string);
        const price = readPrice(v.Preise, 'Laden');
        return {
          id: s.id,
          rating: s.rating,
          product: {
            sku: s.sku,
            name: v.Bezeichnung,
            retailPrice: price ? { amount: price.amount } : null,
            family: family ? { name: family.Bezeichnung } : null,
          },
          author: { customerNumber: s.customerNumber, group: customerByNumber.get(s.customerNumber)!.Kundengr ?? null },
        };
      });
    expect(result.data!.topReviews).toHaveLength(12);
    expect(result.data!.topReviews).toEqual(expected);
    // The emulator's data really exercises a dangling family and real prices.
    expect(result.data!.topReviews.filter((r) => r.product!.family === null)).toHaveLength(2);
    expect(result.data!.topReviews.every((r) => r.product!.retailPrice !== null)).toBe(true);

    // 12 reviews, 6 distinct products, 5 distinct authors: one upstream request per table for all of them.
    expect(dataRequests('Artikel_Variante')).toBe(1);
    expect(dataRequests('Artikel_Familie')).toBe(1);
    expect(dataRequests('Kunden')).toBe(1);
    expect(upstreamByTable()).toEqual({ Artikel_Variante: 1, Artikel_Familie: 1, Kunden: 1 });
    // The gateway: one root fetch to the fixture, then one _entities fetch to ours for the 12 product
    // references and one for the 12 author references (the gateway does not deduplicate; our loaders do).
    expect(fetches).toEqual([
      { subgraph: 'reviews', representations: null },
      { subgraph: 'wsz', representations: 12 },
      { subgraph: 'wsz', representations: 12 },
    ]);
  });

  it('resolves our customers with the fixture loyalty points and reviews in one _entities fetch', async () => {
    const result = await gatewayExecute<{
      customers: { totalCount: number; edges: Array<{ node: { customerNumber: string; loyaltyPoints: number | null; reviews: Array<{ id: string; rating: number }> } }> };
    }>(
      `query($numbers: [String!]) {
         customers(first: 5, filter: { customerNumber: { in: $numbers } }) {
           totalCount
           edges { node { customerNumber loyaltyPoints reviews { id rating } } }
         }
       }`,
      { numbers: authors },
    );
    expect(result.errors).toBeUndefined();
    const nodes = result.data!.customers.edges.map((e) => e.node);
    expect(result.data!.customers.totalCount).toBe(5);
    expect(nodes.map((n) => n.customerNumber).sort()).toEqual([...authors].sort());
    for (const node of nodes) {
      expect(node.loyaltyPoints).toBe(loyaltyPointsFor(node.customerNumber));
      expect(node.reviews).toEqual(seeds.filter((s) => s.customerNumber === node.customerNumber).map((s) => ({ id: s.id, rating: s.rating })));
    }
    expect(nodes.reduce((n, c) => n + c.reviews.length, 0)).toBe(seeds.length);
    expect(fetches).toEqual([
      { subgraph: 'wsz', representations: null },
      { subgraph: 'reviews', representations: 5 },
    ]);
    expect(upstreamByTable()).toEqual({ Kunden: 1 });
  });

  it('resolves productBySku from ours with reviews and average rating from the fixture', async () => {
    const variant = reviewedVariants[0];
    const sku = variant.Nummer as string;
    const result = await gatewayExecute<{ productBySku: { name: string | null; reviews: Array<{ rating: number }>; averageRating: number | null } }>(
      'query($sku: String!) { productBySku(sku: $sku) { name reviews { rating } averageRating } }',
      { sku },
    );
    expect(result.errors).toBeUndefined();
    const own = seeds.filter((s) => s.sku === sku);
    expect(own).toHaveLength(2);
    expect(result.data!.productBySku).toEqual({
      name: variant.Bezeichnung,
      reviews: own.map((s) => ({ rating: s.rating })),
      averageRating: averageRating(own),
    });
    expect(fetches).toEqual([
      { subgraph: 'wsz', representations: null },
      { subgraph: 'reviews', representations: 1 },
    ]);
    expect(upstreamByTable()).toEqual({ Artikel_Variante: 1 });
  });

  it('resolves a review of an unknown SKU to product: null without failing the query', async () => {
    const result = await gatewayExecute<{
      topReviews: Array<{ id: string; product: { id: string; sku: string; name: string | null } | null }>;
      review: { id: string; body: string; product: { id: string; name: string | null } | null } | null;
    }>(
      `query { topReviews(limit: 100) { id product { id sku name } }
               review(id: "r99") { id body product { id name } } }`,
    );
    expect(result.errors).toBeUndefined();
    const all = result.data!.topReviews;
    expect(all).toHaveLength(seeds.length);
    expect(all.at(-1)).toEqual({ id: 'r99', product: null });
    expect(all.slice(0, -1).every((r) => r.product !== null && r.product.sku !== DANGLING_SKU)).toBe(true);
    expect(result.data!.review).toEqual({ id: 'r99', body: 'Where did it go?', product: null });
    // Two gateway fetches to ours (13 product references for the list, 1 for `review`), each batched
    // into a single upstream request.
    expect(fetches[0]).toEqual({ subgraph: 'reviews', representations: null });
    expect(fetches.slice(1)).toHaveLength(2);
    expect(fetches.slice(1)).toEqual(
      expect.arrayContaining([
        { subgraph: 'wsz', representations: 13 },
        { subgraph: 'wsz', representations: 1 },
      ]),
    );
    expect(upstreamByTable()).toEqual({ Artikel_Variante: 2 });
  });

  it('gives the unknown SKU an empty entity when only nullable fields of ours are selected', async () => {
    // Our `_entities` answers null; the gateway keeps the fixture's reference object, so without a
    // non-null field to propagate from, the product is an object whose fields of ours are all null.
    const result = await gatewayExecute<{ review: { product: unknown } }>(
      '{ review(id: "r99") { product { sku name retailPrice { amount } averageRating } } }',
    );
    expect(result.errors).toBeUndefined();
    expect(result.data!.review.product).toEqual({ sku: DANGLING_SKU, name: null, retailPrice: null, averageRating: 1 });
  });
});
