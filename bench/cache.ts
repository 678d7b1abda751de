/**
 * `npm run bench:cache`: what the caches of `src/cache/` buy, in one process and one run.
 *
 * 1. Ceiling: a bare Apollo Server (`@apollo/server` + the express 5 integration, as `src/server.ts`
 *    mounts it, no plugins) answering `{ hello }` with a constant. autocannon: req/s, p50, p99.
 *    Next to it, the subgraph's own stack: `{ __typename }` on the CACHE-off subgraph (plugins,
 *    query limits, metrics; no cache, no upstream), to tell the cache's cost from the server's.
 * 2. The subgraph as `src/index.ts` builds it (`buildServer` with a `Cache` from `createCache`,
 *    the test settings of `test/helpers/cached-subgraph.ts`, in-memory store) against the 4D REST
 *    emulator at `--latency` ms per request, for
 *      (a) product detail: `product(id:)` with price and family, one fixed id;
 *      (b) `_entities` of 100 products;
 *    cached (warm: every request a response-cache hit) and uncached (`enabled: false`, every request
 *    goes to the emulator). The headline is cached (a) ÷ bare Apollo throughput (goal ≥ 0.8): bare,
 *    subgraph stack and cached (a) are run alternately `--rounds` times (the machine's load drifts)
 *    and the headline is the median of the per-round ratios.
 * 3. The cached case with the Redis store (`REDIS_URL`, default `redis://127.0.0.1:6379`, a unique
 *    namespace removed afterwards); skipped with a notice when Redis does not answer.
 * 4. Upstream requests per 1,000 product-detail requests with Zipf-distributed ids (fixed-seed
 *    PRNG): without cache, cold (fresh cache), warm (a second pass of new draws) and the first pass
 *    replayed, from the emulator's counters (reset before each pass).
 * 5. Memory: a cache bounded to `--memory-entries` / `--memory-mb` filled with far more distinct
 *    products than fit (`_entities` batches of 100; the emulator gets synthetic copies of its
 *    products for this, with new keys and SKUs), twice; heap (after a forced GC) and RSS before and
 *    after each fill, and how many of the entries written are still held.
 *
 * Every autocannon run sends the one body of its scenario and checks every answer byte for byte
 * against the answer verified before the run (`expectBody`): a wrong, partial or error answer
 * fails the bench instead of counting as throughput. The load generator runs in a worker thread of
 * this process (`--workers`), so it does not share the server's event loop.
 *
 * Options (flags win over environment variables):
 *   --duration S          BENCH_DURATION          seconds per autocannon run (default 5)
 *   --rounds N            BENCH_ROUNDS            alternated runs of the headline rows, median reported (default 5)
 *   --connections N       BENCH_CONNECTIONS       autocannon connections (default 20)
 *   --workers N           BENCH_WORKERS           autocannon worker threads, 0: this thread (default 1)
 *   --latency MS          BENCH_LATENCY_MS        emulated upstream latency per request (default 20)
 *   --scale X             BENCH_SCALE             emulator data-set size, fraction of production (default 0.1)
 *   --zipf-requests N     BENCH_ZIPF_REQUESTS     requests per Zipf pass (default 1000)
 *   --zipf-products N     BENCH_ZIPF_PRODUCTS     distinct products the Zipf draws come from (default 1000, at most the data set's)
 *   --zipf-s X            BENCH_ZIPF_S            Zipf exponent (default 1.1)
 *   --zipf-concurrency N  BENCH_ZIPF_CONCURRENCY  requests in flight in a cached Zipf pass (default 1: deterministic counts)
 *   --seed N              BENCH_SEED              PRNG seed (default 42)
 *   --memory-entries N    BENCH_MEMORY_ENTRIES    maxEntries of the memory test's cache (default 5000)
 *   --memory-mb MB        BENCH_MEMORY_MB         maxBytes of the memory test's cache, MiB (default 16)
 *   --memory-products N   BENCH_MEMORY_PRODUCTS   distinct products read per fill (default 12000)
 *
 * The results go to stdout (a compact table, then a README-ready markdown block), progress to stderr.
 */
import { ApolloServer } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import { createClient } from '@keyv/redis';
import express from 'express';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { pino } from 'pino';
import { createCache, type Cache, type CacheSettings } from '../src/cache/index.js';
import type { CacheBackend, StoredEntry } from '../src/cache/backend.js';
import { loadConfig } from '../src/config.js';
import { TYPE_TABLES } from '../src/runtime.js';
import { TEST_CACHE_SETTINGS } from '../test/helpers/cached-subgraph.js';
import { autocannon, type AutocannonResult } from './autocannon.js';
import { numberParam, readFlags, runMain, UsageError } from './params.js';
import { startBenchSubgraph, type BenchServer, type BenchSubgraph } from './subgraph.js';

// ---------------------------------------------------------------------------------------------
// Parameters

interface Params {
  duration: number;
  rounds: number;
  connections: number;
  workers: number;
  latencyMs: number;
  scale: number;
  zipfRequests: number;
  zipfProducts: number;
  zipfS: number;
  zipfConcurrency: number;
  seed: number;
  memoryEntries: number;
  memoryMb: number;
  memoryProducts: number;
}

const FLAGS = [
  'duration',
  'rounds',
  'connections',
  'workers',
  'latency',
  'scale',
  'zipf-requests',
  'zipf-products',
  'zipf-s',
  'zipf-concurrency',
  'seed',
  'memory-entries',
  'memory-mb',
  'memory-products',
] as const;

const USAGE = `usage: npm run bench:cache -- [--duration S] [--rounds N] [--connections N] [--workers N] [--latency MS] [--scale X]
    [--zipf-requests N] [--zipf-products N] [--zipf-s X] [--zipf-concurrency N] [--seed N]
    [--memory-entries N] [--memory-mb MB] [--memory-products N]
  (or BENCH_DURATION, BENCH_ROUNDS, BENCH_CONNECTIONS, BENCH_WORKERS, BENCH_LATENCY_MS, BENCH_SCALE, BENCH_ZIPF_REQUESTS,
   BENCH_ZIPF_PRODUCTS, BENCH_ZIPF_S, BENCH_ZIPF_CONCURRENCY, BENCH_SEED, BENCH_MEMORY_ENTRIES, BENCH_MEMORY_MB,
   BENCH_MEMORY_PRODUCTS; REDIS_URL for the Redis store, default redis://127.0.0.1:6379)`;

const ENTITY_BATCH = 100;

function readParams(argv: string[]): Params | undefined {
  const str = readFlags(argv, FLAGS, USAGE);
  if (!str) return undefined;
  const params: Params = {
    duration: numberParam('duration', str('duration'), 'BENCH_DURATION', 5, { min: 1, max: 600 }),
    rounds: numberParam('rounds', str('rounds'), 'BENCH_ROUNDS', 5, { integer: true, min: 1, max: 50 }),
    connections: numberParam('connections', str('connections'), 'BENCH_CONNECTIONS', 20, { integer: true, min: 1, max: 1_000 }),
    workers: numberParam('workers', str('workers'), 'BENCH_WORKERS', 1, { integer: true, min: 0, max: 16 }),
    latencyMs: numberParam('latency', str('latency'), 'BENCH_LATENCY_MS', 20, { min: 0, max: 10_000 }),
    scale: numberParam('scale', str('scale'), 'BENCH_SCALE', 0.1, { min: 0.01, max: 1 }),
    zipfRequests: numberParam('zipf-requests', str('zipf-requests'), 'BENCH_ZIPF_REQUESTS', 1000, { integer: true, min: 1, max: 1_000_000 }),
    zipfProducts: numberParam('zipf-products', str('zipf-products'), 'BENCH_ZIPF_PRODUCTS', 1000, { integer: true, min: 1, max: 1_000_000 }),
    zipfS: numberParam('zipf-s', str('zipf-s'), 'BENCH_ZIPF_S', 1.1, { min: 0, max: 10 }),
    zipfConcurrency: numberParam('zipf-concurrency', str('zipf-concurrency'), 'BENCH_ZIPF_CONCURRENCY', 1, { integer: true, min: 1, max: 1_000 }),
    seed: numberParam('seed', str('seed'), 'BENCH_SEED', 42, { integer: true, min: 0, max: 2 ** 32 - 1 }),
    memoryEntries: numberParam('memory-entries', str('memory-entries'), 'BENCH_MEMORY_ENTRIES', 5000, { integer: true, min: 100, max: 10_000_000 }),
    memoryMb: numberParam('memory-mb', str('memory-mb'), 'BENCH_MEMORY_MB', 16, { min: 1, max: 4096 }),
    memoryProducts: numberParam('memory-products', str('memory-products'), 'BENCH_MEMORY_PRODUCTS', 12_000, { integer: true, min: 100, max: 200_000 }),
  };
  if (params.duration > SETTINGS.ttlSeconds - 10) {
    throw new UsageError(`--duration (${params.duration} s) must be at least 10 s shorter than the cache TTL (${SETTINGS.ttlSeconds} s): a warm run must stay warm`);
  }
  if (params.memoryProducts <= params.memoryEntries) {
    throw new UsageError(`--memory-products (${params.memoryProducts}) must exceed --memory-entries (${params.memoryEntries}): the test fills the cache past its bound`);
  }
  return params;
}

// ---------------------------------------------------------------------------------------------
// Queries

const PRODUCT_QUERY = 'query($id: ID!){ product(id:$id){ id sku name retailPrice{ amount } family { sku name } } }';
const ENTITIES_QUERY = 'query($r:[_Any!]!){ _entities(representations:$r){ ... on Product { id sku name } } }';

interface ProductData {
  product: { id: string; sku: string; name: string | null; retailPrice: { amount: unknown } | null; family: { sku: string; name: string | null } | null } | null;
}

interface EntitiesData {
  _entities: Array<{ id: string; sku: string; name: string | null } | null>;
}

interface GraphQLBody<T> {
  data?: T | null;
  errors?: Array<{ message: string; extensions?: Record<string, unknown> }>;
  extensions?: { cache?: { status?: string } } & Record<string, unknown>;
}

const representations = (ids: readonly string[]) => ids.map((id) => ({ __typename: 'Product', id }));
const body = (query: string, variables?: Record<string, unknown>) => JSON.stringify(variables ? { query, variables } : { query });

function fail(message: string): never {
  throw new Error(`bench verification failed: ${message}`);
}

function checkProduct(what: string, answer: GraphQLBody<ProductData>, id: string): void {
  if (answer.errors?.length) fail(`${what}: ${answer.errors[0].message}`);
  const product = answer.data?.product;
  if (!product || product.id !== id || !product.sku) fail(`${what}: product ${id} not returned (${JSON.stringify(answer.data).slice(0, 200)})`);
}

function checkEntities(what: string, answer: GraphQLBody<EntitiesData>, ids: readonly string[]): void {
  if (answer.errors?.length) fail(`${what}: ${answer.errors[0].message}`);
  const entities = answer.data?._entities ?? fail(`${what}: no _entities`);
  if (entities.length !== ids.length) fail(`${what}: ${entities.length} entities, expected ${ids.length}`);
  entities.forEach((e, i) => {
    if (!e || e.id !== ids[i] || !e.sku) fail(`${what}: entity #${i} is ${JSON.stringify(e)}, expected product ${ids[i]}`);
  });
}

// ---------------------------------------------------------------------------------------------
// HTTP load

interface Load {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
}

const JSON_HEADERS = { 'content-type': 'application/json' };

async function post(url: string, payload: string): Promise<{ status: number; text: string }> {
  const response = await fetch(`${url}/graphql`, { method: 'POST', headers: JSON_HEADERS, body: payload });
  return { status: response.status, text: await response.text() };
}

/**
 * The answer autocannon must get for every request: `payload` posted until it comes back twice
 * identical with status 200 (a cached scenario's first answer is the miss that fills the cache).
 */
async function expectedAnswer(url: string, payload: string, check: (text: string) => void): Promise<string> {
  let last = '';
  for (let i = 0; i < 5; i++) {
    const { status, text } = await post(url, payload);
    if (status !== 200) fail(`HTTP ${status}: ${text.slice(0, 300)}`);
    check(text);
    if (text === last) return text;
    last = text;
  }
  fail(`the answer keeps changing: ${last.slice(0, 300)}`);
}

async function load(url: string, payload: string, expected: string, params: Params): Promise<Load> {
  const result = await autocannon({
    url: `${url}/graphql`,
    connections: params.connections,
    duration: params.duration,
    workers: params.workers > 0 ? params.workers : undefined,
    method: 'POST',
    headers: JSON_HEADERS,
    body: payload,
    expectBody: expected,
  });
  const bad = result.errors + result.timeouts + result.non2xx + result.mismatches;
  if (bad > 0) {
    fail(`autocannon: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx, ${result.mismatches} answers differing from the verified one (of ${result.requests.total})`);
  }
  return { rps: result['2xx'] / result.duration, p50: result.latency.p50, p99: result.latency.p99, requests: result['2xx'] };
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** The ceiling: Apollo Server behind express 5 as `src/server.ts` mounts it, no plugins, a constant resolver. */
async function startBareApollo(): Promise<{ url: string; close(): Promise<void> }> {
  const apollo = new ApolloServer({ typeDefs: 'type Query { hello: String! }', resolvers: { Query: { hello: () => 'world' } } });
  await apollo.start();
  const app = express();
  app.disable('x-powered-by');
  app.use('/graphql', express.json({ limit: '1mb' }), expressMiddleware(apollo));
  const server = createServer(app);
  const url = await listen(server);
  return {
    url,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await apollo.stop();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Caches and servers

const LOGGER = pino({ level: 'silent' });
const MAX_BATCH_SIZE = loadConfig({}).maxBatchSize;
/** The test settings, with `extensions.cache` as in production (no tag list). */
const SETTINGS: CacheSettings = { ...TEST_CACHE_SETTINGS, debug: false };

function newCache(settings: Partial<CacheSettings> = {}, redis?: { url: string; namespace: string }): Cache {
  return createCache({
    settings: { ...SETTINGS, ...settings },
    redisUrl: redis?.url,
    namespace: redis?.namespace ?? 'wsz-bench',
    logger: LOGGER,
    typeTables: TYPE_TABLES,
  });
}

interface Subgraph {
  url: string;
  bench: BenchServer;
  cache: Cache;
}

async function startSubgraph(subgraph: BenchSubgraph, cache: Cache, listenHttp = true): Promise<Subgraph> {
  const bench = await subgraph.addServer(MAX_BATCH_SIZE, undefined, { cache });
  const url = listenHttp ? await listen(bench.server.httpServer) : '';
  return { url, bench, cache };
}

async function redisAnswers(url: string, timeoutMs = 1000): Promise<string | undefined> {
  const client = createClient({ url, disableOfflineQueue: true, socket: { connectTimeout: timeoutMs, reconnectStrategy: false } });
  client.on('error', () => {});
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    await Promise.race([client.connect(), timeout]);
    const pong = await Promise.race([client.ping(), timeout]);
    return pong === 'PONG' ? undefined : `PING answered ${JSON.stringify(pong)}`;
  } catch (error) {
    return (error as Error).message || String(error);
  } finally {
    clearTimeout(timer);
    if (client.isOpen) client.destroy();
  }
}

/** Removes every key of `namespace` (entries, tag counters, the epoch). */
async function dropRedisNamespace(url: string, namespace: string): Promise<number> {
  const client = createClient({ url });
  client.on('error', () => {});
  await client.connect();
  let removed = 0;
  try {
    for await (const batch of client.scanIterator({ MATCH: `${namespace}:*`, COUNT: 1000 })) {
      const keys = (Array.isArray(batch) ? batch : [batch]) as string[];
      if (keys.length > 0) removed += await client.unlink(keys);
    }
  } finally {
    await client.close();
  }
  return removed;
}

// ---------------------------------------------------------------------------------------------
// Zipf

/** mulberry32: a small, fixed-seed PRNG in [0, 1). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Draws ranks 0…n−1 with P(k) ∝ 1/(k+1)^s (inverse CDF, binary search). */
function zipf(n: number, s: number, random: () => number): () => number {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let k = 0; k < n; k++) cdf[k] = sum += 1 / (k + 1) ** s;
  return () => {
    const u = random() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

interface ZipfPass {
  name: string;
  requests: number;
  distinct: number;
  upstream: number;
  perThousand: number;
  seconds: number;
}

async function zipfPass(subgraph: BenchSubgraph, server: BenchServer, name: string, ids: readonly string[], concurrency: number): Promise<ZipfPass> {
  const counters = subgraph.emulator.counters;
  subgraph.emulator.resetCounters();
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < ids.length) {
      const id = ids[next++];
      const result = await server.execute<ProductData>(PRODUCT_QUERY, { id });
      checkProduct(`zipf ${name}`, result as GraphQLBody<ProductData>, id);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, ids.length) }, worker));
  const upstream = counters.requests;
  if (counters.logins !== 0) fail(`zipf ${name}: the upstream session was renewed during the pass`);
  return { name, requests: ids.length, distinct: new Set(ids).size, upstream, perThousand: (upstream * 1000) / ids.length, seconds: (performance.now() - started) / 1000 };
}

// ---------------------------------------------------------------------------------------------
// Memory

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const mib = (bytes: number) => bytes / 2 ** 20;

interface MemorySample {
  label: string;
  heapMb: number;
  rssMb: number;
  /** Entries written so far that the store still returns, of all written (distinct keys). */
  held?: number;
  written?: number;
  /** Of those still held: LRU bytes as the memory backend counts them (approximate). */
  heldMb?: number;
  upstream?: number;
  seconds?: number;
}

function memorySample(label: string): MemorySample {
  gc();
  gc();
  const m = process.memoryUsage();
  return { label, heapMb: mib(m.heapUsed), rssMb: mib(m.rss) };
}

/** Copies of the generated products (new keys, SKUs with a suffix) until the table has `total`. */
function addSyntheticProducts(subgraph: BenchSubgraph, total: number): number {
  const table = subgraph.emulator.db.table('Artikel_Variante') ?? fail('the emulator has no table Artikel_Variante');
  const originals = table.rows();
  let added = 0;
  for (let i = 0; table.size < total; i++) {
    const { __KEY: _k, __STAMP: _s, __TIMESTAMP: _t, ...values } = originals[i % originals.length];
    table.insert({ ...values, Nummer: `${String(values.Nummer)}-B${i}` });
    added++;
  }
  return added;
}

/** Records the keys every write to `backend` stores (the bench's own bookkeeping, freed before each heap sample). */
function recordWrites(backend: CacheBackend): Set<string> {
  const keys = new Set<string>();
  const setMany = backend.setMany.bind(backend);
  backend.setMany = async (entries: readonly StoredEntry[]) => {
    for (const e of entries) keys.add(e.key);
    return setMany(entries);
  };
  return keys;
}

/** How many of `keys` the store still holds, and their size as the memory backend's LRU counts it (Keyv-serialized). */
async function held(backend: CacheBackend, keys: readonly string[]): Promise<{ held: number; bytes: number }> {
  let count = 0;
  let bytes = 0;
  for (let i = 0; i < keys.length; i += 500) {
    const chunk = keys.slice(i, i + 500);
    const values = await backend.getMany(chunk);
    values.forEach((value, j) => {
      if (value === undefined || value === null) return;
      count++;
      const serialized = JSON.stringify({ value, expires: Date.now() }).length;
      bytes += 2 * (serialized + `cache:${chunk[j]}`.length) + 64;
    });
  }
  return { held: count, bytes };
}

async function fill(server: BenchServer, batches: readonly string[][], label: string): Promise<void> {
  for (const ids of batches) {
    const result = await server.execute<EntitiesData>(ENTITIES_QUERY, { r: representations(ids) });
    checkEntities(`memory ${label}`, result as GraphQLBody<EntitiesData>, ids);
  }
}

function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

const chunks = <T>(items: readonly T[], size: number): T[][] => Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));

// ---------------------------------------------------------------------------------------------
// Report

interface Row {
  section: string;
  scenario: string;
  store: string;
  /** The run shown (rows run over several rounds: the median round's). */
  load: Load;
  runs: number;
}

const fmt = (n: number, digits = 1) => n.toFixed(digits);
const signed = (n: number, digits = 1) => `${n >= 0 ? '+' : '−'}${Math.abs(n).toFixed(digits)}`;
const int = (n: number) => Math.round(n).toLocaleString('en-US');

function markdownTable(header: string[], rows: string[][], textColumns: number): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map((_, i) => (i < textColumns ? '---' : '---:'))), ...rows.map(line)].join('\n');
}

function textTable(header: string[], rows: string[][], textColumns: number): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < textColumns ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const started = performance.now();
  const loadBefore = loadavg();
  let params: Params | undefined;
  try {
    params = readParams(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`bench:cache: ${err.message}\n${USAGE}\n`);
      return 2;
    }
    throw err;
  }
  if (!params) return 0;
  const p = params;
  const log = (line: string) => process.stderr.write(`bench:cache: ${line}\n`);
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const redisNamespace = `wsz-bench-${process.pid}-${randomUUID().slice(0, 8)}`;

  log(`emulator scale ${p.scale}, latency ${p.latencyMs} ms; autocannon ${p.connections} connections × ${p.duration} s, ${p.workers || 'no'} worker thread(s)`);
  const subgraph = await startBenchSubgraph({ scale: p.scale, latencyMs: p.latencyMs, sessions: 10 });
  const caches: Cache[] = [];
  const cache = (settings?: Partial<CacheSettings>, redis?: { url: string; namespace: string }) => {
    const c = newCache(settings, redis);
    caches.push(c);
    return c;
  };
  const rows: Row[] = [];
  const notes: string[] = [];
  let redisSkipped: string | undefined;
  let redisUsed = false;
  let closeBare: (() => Promise<void>) | undefined;
  try {
    await subgraph.client.ping();
    const products = (subgraph.emulator.db.table('Artikel_Variante') ?? fail('no Artikel_Variante')).rows().map((r) => r.__KEY);
    if (products.length < ENTITY_BATCH) fail(`scale ${p.scale} gives ${products.length} products; (b) needs ${ENTITY_BATCH}`);
    const productId = products[0];
    const entityIds = products.slice(0, ENTITY_BATCH);
    const productBody = body(PRODUCT_QUERY, { id: productId });
    const entitiesBody = body(ENTITIES_QUERY, { r: representations(entityIds) });
    const checkProductText = (what: string) => (text: string) => checkProduct(what, JSON.parse(text), productId);
    const checkEntitiesText = (what: string) => (text: string) => checkEntities(what, JSON.parse(text), entityIds);
    interface Scenario {
      section: string;
      scenario: string;
      store: string;
      url: string;
      payload: string;
      check: (text: string) => void;
      /** `hit`: a warm cached scenario (its runs must cost no upstream request). */
      cacheStatus?: 'hit';
      /** The cache of a warm scenario: purged and warmed again before each run, so no entry reaches its TTL during one. */
      cache?: Cache;
    }
    /** The verified answer every request of `s` must get (a cached scenario's cache is warm afterwards). */
    const verify = async (s: Scenario): Promise<string> => {
      const expected = await expectedAnswer(s.url, s.payload, s.check);
      const status = (JSON.parse(expected) as GraphQLBody<unknown>).extensions?.cache?.status;
      if (status !== s.cacheStatus) fail(`${s.scenario} ${s.store}: cache status ${JSON.stringify(status)}, expected ${JSON.stringify(s.cacheStatus)}`);
      return expected;
    };
    const measure = async (s: Scenario, expected: string): Promise<Load> => {
      log(`${s.section} ${s.scenario} — ${s.store}…`);
      if (s.cache) {
        await s.cache.purge({ all: true }, 'bench');
        if ((await verify(s)) !== expected) fail(`${s.scenario} ${s.store}: the answer changed after a purge`);
      }
      subgraph.emulator.resetCounters();
      const result = await load(s.url, s.payload, expected, p);
      const upstream = subgraph.emulator.counters.requests;
      if (s.cacheStatus === 'hit' && upstream > 0) fail(`${s.scenario} ${s.store}: ${upstream} upstream requests during a warm cached run`);
      log(`  ${int(result.rps)} req/s, p50 ${result.p50} ms, p99 ${result.p99} ms (${int(result.requests)} requests, ${int(upstream)} upstream)`);
      return result;
    };
    const record = (s: Scenario, loads: Load[], shown = 0) => {
      rows.push({ section: s.section, scenario: s.scenario, store: s.store, load: loads[shown], runs: loads.length });
      return loads[shown];
    };

    // 1 and 2(a) cached: the headline pair, alternated over --rounds (machine load drifts), with the
    // subgraph's own stack (no cache, no upstream) in between to show what it costs by itself.
    const bare = await startBareApollo();
    closeBare = () => bare.close();
    const cached = await startSubgraph(subgraph, cache());
    const uncached = await startSubgraph(subgraph, cache({ enabled: false }));
    const headline: Scenario[] = [
      {
        section: '1',
        scenario: 'bare Apollo `{ hello }`',
        store: '—',
        url: bare.url,
        payload: body('{ hello }'),
        check: (text) => {
          if (JSON.parse(text)?.data?.hello !== 'world') fail(`bare Apollo answered ${text}`);
        },
      },
      {
        section: '1',
        scenario: 'subgraph stack `{ __typename }`',
        store: 'CACHE off',
        url: uncached.url,
        payload: body('{ __typename }'),
        check: (text) => {
          if (JSON.parse(text)?.data?.__typename !== 'Query') fail(`the subgraph answered ${text}`);
        },
      },
      { section: '2', scenario: '(a) product detail', store: 'memory, warm', url: cached.url, payload: productBody, check: checkProductText('(a) cached'), cacheStatus: 'hit', cache: cached.cache },
    ];
    const expected: string[] = [];
    for (const s of headline) expected.push(await verify(s));
    const perRound: Load[][] = headline.map(() => []);
    for (let round = 0; round < p.rounds; round++) {
      for (const [i, s] of headline.entries()) perRound[i].push(await measure(s, expected[i]));
    }
    await bare.close();
    closeBare = undefined;
    // The rows show the round whose cached ÷ bare ratio is the median, so the table and the headline agree.
    const ratios = perRound[2].map((l, i) => l.rps / perRound[0][i].rps);
    const medianRound = ratios.map((r, i) => ({ r, i })).sort((a, b) => a.r - b.r)[Math.floor((ratios.length - 1) / 2)].i;
    const ratioA = ratios[medianRound];
    const bareLoad = record(headline[0], perRound[0], medianRound);
    record(headline[1], perRound[1], medianRound);
    const cachedA = record(headline[2], perRound[2], medianRound);
    const spread = (i: number) => `${int(Math.min(...perRound[i].map((l) => l.rps)))}–${int(Math.max(...perRound[i].map((l) => l.rps)))}`;

    // 2. The rest of the subgraph scenarios, in-memory cache (warm) and CACHE off.
    const single = async (s: Scenario) => record(s, [await measure(s, await verify(s))]);
    const cachedB = await single({ section: '2', scenario: `(b) _entities × ${ENTITY_BATCH}`, store: 'memory, warm', url: cached.url, payload: entitiesBody, check: checkEntitiesText('(b) cached'), cacheStatus: 'hit', cache: cached.cache });
    await single({ section: '2', scenario: '(a) product detail', store: 'CACHE off', url: uncached.url, payload: productBody, check: checkProductText('(a) uncached') });
    await single({ section: '2', scenario: `(b) _entities × ${ENTITY_BATCH}`, store: 'CACHE off', url: uncached.url, payload: entitiesBody, check: checkEntitiesText('(b) uncached') });

    // 3. The Redis store.
    const redisProblem = await redisAnswers(redisUrl);
    let redisA: Load | undefined;
    if (redisProblem) {
      redisSkipped = `Redis store skipped: ${redisUrl} does not answer (${redisProblem})`;
      log(redisSkipped);
    } else {
      redisUsed = true;
      const redis = await startSubgraph(subgraph, cache({}, { url: redisUrl, namespace: redisNamespace }));
      redisA = await single({ section: '3', scenario: '(a) product detail', store: 'Redis, warm', url: redis.url, payload: productBody, check: checkProductText('(a) redis'), cacheStatus: 'hit', cache: redis.cache });
      await single({ section: '3', scenario: `(b) _entities × ${ENTITY_BATCH}`, store: 'Redis, warm', url: redis.url, payload: entitiesBody, check: checkEntitiesText('(b) redis'), cacheStatus: 'hit', cache: redis.cache });
    }

    // 4. Upstream requests under Zipf-distributed traffic.
    const zipfN = Math.min(p.zipfProducts, products.length);
    if (zipfN < p.zipfProducts) notes.push(`Zipf over ${zipfN} products: the data set at scale ${p.scale} has no more (asked for ${p.zipfProducts})`);
    const draw = zipf(zipfN, p.zipfS, prng(p.seed));
    const ranked = shuffled(products.slice(0, zipfN), prng(p.seed ^ 0x5eed));
    const firstPass = Array.from({ length: p.zipfRequests }, () => ranked[draw()]);
    const secondPass = Array.from({ length: p.zipfRequests }, () => ranked[draw()]);
    log(`Zipf (s ${p.zipfS}, ${zipfN} products, ${p.zipfRequests} requests per pass)…`);
    const zipfFresh = await startSubgraph(subgraph, cache(), false);
    const zipfPasses: ZipfPass[] = [
      await zipfPass(subgraph, uncached.bench, 'CACHE off (first pass)', firstPass, p.connections),
      await zipfPass(subgraph, zipfFresh.bench, 'cold: fresh cache, first pass', firstPass, p.zipfConcurrency),
      await zipfPass(subgraph, zipfFresh.bench, 'warm: second pass (new draws)', secondPass, p.zipfConcurrency),
      await zipfPass(subgraph, zipfFresh.bench, 'warm: first pass replayed', firstPass, p.zipfConcurrency),
    ];
    for (const z of zipfPasses) log(`  ${z.name}: ${z.upstream} upstream requests for ${z.requests} (${z.distinct} distinct products), ${fmt(z.seconds)} s`);

    // 5. Memory with a full, bounded in-memory cache.
    log(`memory: ${p.memoryProducts} products through a cache of ${p.memoryEntries} entries / ${p.memoryMb} MiB…`);
    const added = addSyntheticProducts(subgraph, p.memoryProducts);
    const all = (subgraph.emulator.db.table('Artikel_Variante') ?? fail('no Artikel_Variante')).rows().map((r) => r.__KEY).slice(0, p.memoryProducts);
    const memoryCache = cache({ maxEntries: p.memoryEntries, maxBytes: p.memoryMb * 2 ** 20 });
    const memory = await startSubgraph(subgraph, memoryCache, false);
    const written = recordWrites(memoryCache.tagged.backend);
    const shuffle = prng(p.seed + 1);
    const samples: MemorySample[] = [memorySample('before (cache empty)')];
    const passes: Array<{ label: string; batches: string[][] }> = [
      { label: `after fill 1: ${p.memoryProducts} products, in order`, batches: chunks(all, ENTITY_BATCH) },
      { label: `after fill 2: the same products, shuffled into new batches`, batches: chunks(shuffled(all, shuffle), ENTITY_BATCH) },
    ];
    // Every key written so far, kept off the JS heap (a Buffer) between fills so that the heap
    // samples measure the cache, not this bookkeeping.
    let writtenLog = Buffer.alloc(0);
    for (const pass of passes) {
      subgraph.emulator.resetCounters();
      const t0 = performance.now();
      await fill(memory.bench, pass.batches, pass.label);
      const seconds = (performance.now() - t0) / 1000;
      const upstream = subgraph.emulator.counters.requests;
      const keys = new Set(writtenLog.length > 0 ? writtenLog.toString().split('\n') : []);
      for (const k of written) keys.add(k);
      written.clear();
      const { held: count, bytes } = await held(memoryCache.tagged.backend, [...keys]);
      writtenLog = Buffer.from([...keys].join('\n'));
      const total = keys.size;
      keys.clear();
      samples.push({ ...memorySample(pass.label), held: count, written: total, heldMb: mib(bytes), upstream, seconds });
    }
    const maxHeld = Math.max(...samples.map((s) => s.held ?? 0));
    if (maxHeld > p.memoryEntries) fail(`the memory cache holds ${maxHeld} entries, above its bound of ${p.memoryEntries}`);
    const maxHeldMb = Math.max(...samples.map((s) => s.heldMb ?? 0));
    if (maxHeldMb > p.memoryMb * 1.05) fail(`the memory cache holds ≈ ${fmt(maxHeldMb)} MiB, above its bound of ${p.memoryMb} MiB`);
    log(`  heap ${samples.map((s) => fmt(s.heapMb)).join(' → ')} MiB, RSS ${samples.map((s) => fmt(s.rssMb, 0)).join(' → ')} MiB, held ${samples.map((s) => s.held ?? 0).join(' → ')}`);

    // -----------------------------------------------------------------------------------------
    // Report
    const ratioB = cachedB.rps / bareLoad.rps;
    const verdict = ratioA >= 0.8 ? 'meets the goal ≥ 0.8' : 'BELOW the goal ≥ 0.8';
    const roundRatios = ratios.map((r) => fmt(r, 2)).join(', ');
    const headlineText =
      `cached (a) product detail ÷ bare Apollo throughput: ${fmt(ratioA, 2)} (${int(cachedA.rps)} / ${int(bareLoad.rps)} req/s, the median of ${ratios.length} alternated round(s): ${roundRatios}; ` +
      `bare ${spread(0)}, cached (a) ${spread(2)} req/s over the rounds) — ${verdict}`;
    const throughputRows = rows.map((r) => [
      r.section,
      r.scenario,
      r.store,
      int(r.load.rps),
      String(r.load.p50),
      String(r.load.p99),
      r.store === '—' ? '1.00' : fmt(r.load.rps / bareLoad.rps, 2),
      String(r.runs),
    ]);
    const throughputHeader = ['#', 'scenario', 'store', 'req/s', 'p50 ms', 'p99 ms', '÷ bare', 'runs'];
    const zipfHeader = ['pass', 'requests', 'distinct products', 'upstream requests', 'per 1,000 GraphQL requests'];
    const zipfRows = zipfPasses.map((z) => [z.name, int(z.requests), int(z.distinct), int(z.upstream), fmt(z.perThousand, 0)]);
    const memoryHeader = ['state', 'heap MiB', 'RSS MiB', 'entries held / distinct written', '≈ MiB held (LRU count)', 'upstream requests', 's'];
    const memoryRows = samples.map((s) => [
      s.label,
      fmt(s.heapMb),
      fmt(s.rssMb, 0),
      s.held === undefined ? '—' : `${int(s.held)} / ${int(s.written!)}`,
      s.heldMb === undefined ? '—' : fmt(s.heldMb),
      s.upstream === undefined ? '—' : int(s.upstream),
      s.seconds === undefined ? '—' : fmt(s.seconds),
    ]);
    const base = samples[0];
    const last = samples.at(-1)!;
    const memoryLine =
      `bound ${int(p.memoryEntries)} entries / ${p.memoryMb} MiB; ${int(last.written!)} distinct entries written, ${int(last.held!)} held; ` +
      `heap ${signed(last.heapMb - base.heapMb)} MiB over the empty cache (${signed(samples[1].heapMb - base.heapMb)} after fill 1), RSS ${signed(last.rssMb - base.rssMb, 0)} MiB (RSS also holds what earlier sections left to the allocator)`;
    const context = [
      `emulator scale ${p.scale} (${int(products.length)} products), upstream latency ${p.latencyMs} ms, one legacy client (default 8 keep-alive connections, one session), maxBatchSize ${MAX_BATCH_SIZE}`,
      `cache settings: test/helpers/cached-subgraph.ts TEST_CACHE_SETTINGS (TTL ${SETTINGS.ttlSeconds} s, grace ${SETTINGS.graceSeconds} s, ${int(SETTINGS.maxEntries)} entries / ${mib(SETTINGS.maxBytes)} MiB) with debug off (production: no tag list in extensions)`,
      `autocannon ${p.connections} connections × ${p.duration} s per run; rows with several runs were alternated round by round and show the round with the median cached (a) ÷ bare ratio; load generator in ${p.workers ? `${p.workers} worker thread(s)` : 'the server thread'} of this process; every answer compared byte for byte with the verified one; warm rows checked to cost 0 upstream requests (their cache is purged and warmed again before each run, so no entry reaches its TTL mid-run)`,
      'subgraph stack: `{ __typename }` on the CACHE-off subgraph (its plugins, query limits, metrics, no cache, no upstream): what the server costs by itself',
      `(a) \`${PRODUCT_QUERY}\` with one fixed id; (b) \`${ENTITIES_QUERY}\` with ${ENTITY_BATCH} \`{__typename: "Product", id}\``,
      `Zipf: s ${p.zipfS} over ${zipfN} products (shuffled ranks), mulberry32 seed ${p.seed}, ${int(p.zipfRequests)} requests per pass, in process (executeOperation), ` +
        `${p.zipfConcurrency} in flight for the cached passes, ${p.connections} for CACHE off (its count does not depend on concurrency)`,
      `memory: ${int(added)} synthetic products (copies with new keys and SKUs) added to the emulator for this test; \`_entities\` batches of ${ENTITY_BATCH}; heap after two forced GCs; ` +
        `"held" = keys ever written that the store still returns; MiB held as the memory backend's LRU counts entries (2 bytes per character of Keyv-serialized value and key, + 64)`,
      ...(redisSkipped ? [redisSkipped] : [`Redis: ${redisUrl}, namespace ${redisNamespace} (removed afterwards)`]),
      ...notes,
      `Node ${process.version} on ${process.platform}/${process.arch}, ${availableParallelism()} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'}; 1-min load average ${fmt(loadBefore[0], 2)} before, ${fmt(loadavg()[0], 2)} after`,
      `total runtime ${fmt((performance.now() - started) / 1000)} s`,
    ];

    const out: string[] = [
      '',
      '=== bench:cache ===',
      '',
      textTable(throughputHeader, throughputRows, 3),
      '',
      `>>> ${headlineText}`,
      `    (b) _entities cached ÷ bare: ${fmt(ratioB, 2)}${redisA ? `; (a) with Redis ÷ bare: ${fmt(redisA.rps / bareLoad.rps, 2)}` : ''}`,
      '',
      textTable(zipfHeader, zipfRows, 1),
      '',
      textTable(memoryHeader, memoryRows, 1),
      memoryLine,
      '',
      '--- markdown ---',
      '',
      '## Benchmark: caches',
      '',
      `**${headlineText}.**`,
      '',
      markdownTable(throughputHeader, throughputRows, 3),
      '',
      `Upstream (4D) requests per ${int(p.zipfRequests)} product-detail requests, Zipf-distributed ids:`,
      '',
      markdownTable(zipfHeader, zipfRows, 1),
      '',
      'Memory with a full in-memory cache:',
      '',
      markdownTable(memoryHeader, memoryRows, 1),
      '',
      `- ${memoryLine}`,
      ...context.map((c) => `- ${c}`),
      '',
    ];
    process.stdout.write(`${out.join('\n')}\n`);
    return 0;
  } finally {
    await closeBare?.();
    await subgraph.close();
    for (const c of caches) await c.close();
    if (redisUsed) {
      try {
        log(`removed ${await dropRedisNamespace(redisUrl, redisNamespace)} Redis keys of namespace ${redisNamespace}`);
      } catch (error) {
        log(`could not remove the Redis namespace ${redisNamespace}: ${(error as Error).message}`);
      }
    }
  }
}

runMain('bench:cache', main);
