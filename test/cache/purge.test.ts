/**
 * The manual purge: the operators' `purgeCache` mutation (guarded by `x-operator-token`, refused in
 * production without a configured token) and `wsz cache purge` on the command line, which reaches
 * every replica sharing its `REDIS_URL` and namespace. A purged record's next read goes to 4D;
 * everything else stays cached.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/wsz.js';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { startReplica, upstreamDuring, type Replica } from '../helpers/cached-subgraph.js';
import { redisForTests, uniqueNamespace } from '../helpers/redis.js';

const redis = await redisForTests('the command-line cache purge tests');

const PRODUCT = `query ($id: ID!) { product(id: $id) { id name stamp } }`;
const PURGE = `mutation ($tags: [String!], $tables: [String!], $all: Boolean) { purgeCache(tags: $tags, tables: $tables, all: $all) { tags all } }`;
const TOKEN = 'operator-token-for-tests-0123456789';

type PurgeAnswer = { purgeCache: { tags: string[]; all: boolean } };

describe('purgeCache and wsz cache purge', () => {
  let emulator: Emulator;
  let ids: string[];
  let replica: Replica | undefined;

  beforeAll(async () => {
    emulator = await startEmulator({ port: 0 });
    ids = emulator.db.table('Artikel_Variante')!.rows().slice(0, 4).map((r) => String(r.__KEY));
  });
  afterAll(async () => {
    await emulator.close();
  });
  afterEach(async () => {
    await replica?.close();
    replica = undefined;
  });

  /** Upstream requests one read of product `id` costs. */
  const cost = async (r: Replica, id: string) => {
    const read = await upstreamDuring(emulator, () => r.post(PRODUCT, { id }));
    expect(read.result.errors).toBeUndefined();
    return read.requests;
  };

  /** Reads every product once, so each is cached, and checks it is. */
  const warm = async (r: Replica, keys: readonly string[]) => {
    for (const id of keys) await r.post(PRODUCT, { id });
    for (const id of keys) expect(await cost(r, id)).toBe(0);
  };

  describe('the purgeCache mutation', () => {
    it('without the operator token: FORBIDDEN, and nothing is purged', async () => {
      replica = await startReplica({ emulator, operatorToken: TOKEN });
      await warm(replica, [ids[0]!]);
      const refused = await upstreamDuring(emulator, () => replica!.post<PurgeAnswer>(PURGE, { tags: [`Product:${ids[0]}`] }));
      expect(refused.result.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect(refused.result.data?.purgeCache ?? null).toBeNull();
      expect(refused.requests).toBe(0);
      const wrong = await replica.post<PurgeAnswer>(PURGE, { all: true }, { 'x-operator-token': `${TOKEN.slice(0, -1)}x` });
      expect(wrong.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect(await cost(replica, ids[0]!)).toBe(0);
    });

    it('with the token: Product:<id> and Artikel_Variante:<id> purge that record only', async () => {
      replica = await startReplica({ emulator, operatorToken: TOKEN });
      const operator = { 'x-operator-token': TOKEN };
      await warm(replica, [ids[0]!, ids[1]!]);

      const graphqlForm = await replica.post<PurgeAnswer>(PURGE, { tags: [`Product:${ids[0]}`] }, operator);
      expect(graphqlForm.errors).toBeUndefined();
      expect(graphqlForm.data!.purgeCache.all).toBe(false);
      // A record tag brings its table tag (lists may hold the record).
      expect([...graphqlForm.data!.purgeCache.tags].sort()).toEqual(['Artikel_Variante', `Artikel_Variante:${ids[0]}`]);
      expect(await cost(replica, ids[0]!)).toBeGreaterThan(0);
      expect(await cost(replica, ids[1]!)).toBe(0);
      expect(await cost(replica, ids[0]!)).toBe(0); // cached again

      const tableForm = await replica.post<PurgeAnswer>(PURGE, { tags: [`Artikel_Variante:${ids[1]}`] }, operator);
      expect(tableForm.errors).toBeUndefined();
      expect([...tableForm.data!.purgeCache.tags].sort()).toEqual(['Artikel_Variante', `Artikel_Variante:${ids[1]}`]);
      expect(await cost(replica, ids[1]!)).toBeGreaterThan(0);
      expect(await cost(replica, ids[0]!)).toBe(0);
    });

    it('tables: [Product] drops every record of the table (and nothing of another table)', async () => {
      replica = await startReplica({ emulator, operatorToken: TOKEN });
      await warm(replica, [ids[0]!, ids[1]!]);
      const family = `{ productFamilies(first: 1) { edges { node { id } } } }`;
      await replica.post(family);
      const purged = await replica.post<PurgeAnswer>(PURGE, { tables: ['Product'] }, { 'x-operator-token': TOKEN });
      expect([...purged.data!.purgeCache.tags].sort()).toEqual(['Artikel_Variante', 'Artikel_Variante:*']);
      expect(await cost(replica, ids[0]!)).toBeGreaterThan(0);
      expect(await cost(replica, ids[1]!)).toBeGreaterThan(0);
      const other = await upstreamDuring(emulator, () => replica!.post(family));
      expect(other.requests).toBe(0);
    });

    it('all: true drops everything', async () => {
      replica = await startReplica({ emulator, operatorToken: TOKEN });
      await warm(replica, [ids[0]!, ids[1]!]);
      const all = await replica.post<PurgeAnswer>(PURGE, { all: true }, { 'x-operator-token': TOKEN });
      expect(all.errors).toBeUndefined();
      expect(all.data!.purgeCache).toEqual({ tags: [], all: true });
      expect(await cost(replica, ids[0]!)).toBeGreaterThan(0);
      expect(await cost(replica, ids[1]!)).toBeGreaterThan(0);
    });

    it('an unknown table or type: BAD_USER_INPUT naming it, nothing purged', async () => {
      replica = await startReplica({ emulator, operatorToken: TOKEN });
      await warm(replica, [ids[2]!]);
      const operator = { 'x-operator-token': TOKEN };
      const badTag = await replica.post<PurgeAnswer>(PURGE, { tags: [`Produkt:${ids[2]}`] }, operator);
      expect(badTag.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(badTag.errors?.[0]?.message).toContain('"Produkt"');
      const badTable = await replica.post<PurgeAnswer>(PURGE, { tables: ['Artikel'] }, operator);
      expect(badTable.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(badTable.errors?.[0]?.message).toContain('"Artikel"');
      // A good tag next to a bad one purges nothing either.
      const mixed = await replica.post<PurgeAnswer>(PURGE, { tags: [`Product:${ids[2]}`, 'Nirgendwo:1'] }, operator);
      expect(mixed.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect(mixed.errors?.[0]?.message).toContain('"Nirgendwo"');
      expect(await cost(replica, ids[2]!)).toBe(0);
    });

    it('in production without a configured token: FORBIDDEN, whatever header is sent', async () => {
      replica = await startReplica({ emulator, production: true });
      await warm(replica, [ids[3]!]);
      const bare = await replica.post<PurgeAnswer>(PURGE, { all: true });
      expect(bare.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      const guessed = await replica.post<PurgeAnswer>(PURGE, { all: true }, { 'x-operator-token': '' });
      expect(guessed.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      const some = await replica.post<PurgeAnswer>(PURGE, { all: true }, { 'x-operator-token': TOKEN });
      expect(some.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect(await cost(replica, ids[3]!)).toBe(0);
    });
  });

  describe.skipIf(redis.skip)('wsz cache purge (shared Redis)', () => {
    let namespace: string;

    const cli = async (args: string[], env: Record<string, string | undefined>) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await runCli(['cache', 'purge', ...args], { out: (s) => out.push(s), err: (s) => err.push(s), env: { LOG_LEVEL: 'silent', ...env } });
      return { code, out: out.join(''), err: err.join('') };
    };

    it('purges what a replica with that Redis namespace cached', async () => {
      expect(redis.available, 'Redis must answer (REQUIRE_REDIS=1)').toBe(true);
      namespace = uniqueNamespace('wsz-purge');
      replica = await startReplica({ emulator, redisUrl: redis.url, namespace });
      await warm(replica, [ids[0]!, ids[1]!]);
      const run = await cli(['--tag', `Product:${ids[0]}`], { REDIS_URL: redis.url, STORE_NAMESPACE: namespace });
      expect(run.err).toBe('');
      expect(run.code).toBe(0);
      const result = JSON.parse(run.out) as { tags: string[]; all: boolean };
      expect(result.all).toBe(false);
      expect([...result.tags].sort()).toEqual(['Artikel_Variante', `Artikel_Variante:${ids[0]}`]);
      expect(await cost(replica, ids[0]!)).toBeGreaterThan(0);
      expect(await cost(replica, ids[1]!)).toBe(0);

      // Another namespace is another cache: purging there leaves this one alone.
      const elsewhere = await cli(['--tag', `Product:${ids[1]}`], { REDIS_URL: redis.url, STORE_NAMESPACE: uniqueNamespace('wsz-purge-other') });
      expect(elsewhere.code).toBe(0);
      expect(await cost(replica, ids[1]!)).toBe(0);
    });

    it('--all starts a new epoch: everything is a miss', async () => {
      expect(redis.available, 'Redis must answer (REQUIRE_REDIS=1)').toBe(true);
      namespace = uniqueNamespace('wsz-purge');
      replica = await startReplica({ emulator, redisUrl: redis.url, namespace });
      await warm(replica, [ids[2]!, ids[3]!]);
      const run = await cli(['--all'], { REDIS_URL: redis.url, STORE_NAMESPACE: namespace });
      expect(run.err).toBe('');
      expect(run.code).toBe(0);
      expect(JSON.parse(run.out)).toEqual({ tags: [], all: true });
      expect(await cost(replica, ids[2]!)).toBeGreaterThan(0);
      expect(await cost(replica, ids[3]!)).toBeGreaterThan(0);
      expect(await cost(replica, ids[2]!)).toBe(0);
    });

    it('without REDIS_URL: exit 2 naming REDIS_URL; bad input: exit 2 naming it', async () => {
      const missing = await cli(['--tag', `Product:${ids[0]}`], {});
      expect(missing.code).toBe(2);
      expect(missing.err).toContain('REDIS_URL');
      expect(missing.out).toBe('');
      const unknown = await cli(['--tag', 'Produkt:1'], { REDIS_URL: redis.url, STORE_NAMESPACE: uniqueNamespace('wsz-purge') });
      expect(unknown.code).toBe(2);
      expect(unknown.err).toContain('"Produkt"');
      const nothing = await cli([], { REDIS_URL: redis.url, STORE_NAMESPACE: uniqueNamespace('wsz-purge') });
      expect(nothing.code).toBe(2);
      expect(nothing.err).toMatch(/--tag, --table or --all/);
    });
  });
});
