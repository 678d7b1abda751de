/**
 * Every metric added for operations moves when its event happens: the real subgraph over the
 * emulator (and the caches and the change watcher in front of it), read from the registry.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { createMetrics } from '../../src/metrics.js';
import { OTHER } from '../../src/observability/metrics/label-cap.js';
import { ChangeWatcher, createWatcherMetrics, WATCHED_TABLES } from '../../src/watcher/index.js';
import { startReplica, type Replica } from '../helpers/cached-subgraph.js';
import { metricLabels, metricValue } from '../helpers/metrics.js';
import { startTestSubgraph, type TestSubgraph } from '../helpers/subgraph.js';

const FAMILY = 'query OneFamily { productFamily(id: "00000000000000000000000000000000") { id } }';
const CUSTOMERS_WITH_ADDRESSES = 'query CustomersAndAddresses { customers(first: 5) { edges { node { id addresses { id } } } } }';

describe('upstream and GraphQL metrics', () => {
  let subgraph: TestSubgraph;
  let clock = Date.parse('2026-01-05T08:00:00Z');
  beforeAll(async () => {
    subgraph = await startTestSubgraph({ client: { now: () => clock } });
  });
  afterAll(() => subgraph.close());
  const value = (name: string, labels?: Record<string, string>) => metricValue(subgraph.metrics.registry, name, labels);

  it('times upstream requests by table, route and status', async () => {
    const before = await value('legacy_upstream_request_duration_seconds_count', { table: 'Artikel_Familie', route: 'collection', status: '200' });
    await subgraph.execute(FAMILY);
    expect(await value('legacy_upstream_request_duration_seconds_count', { table: 'Artikel_Familie', route: 'collection', status: '200' })).toBe(before + 1);
    expect(await value('legacy_upstream_request_duration_seconds_count', { route: 'login', status: '200' })).toBeGreaterThan(0);
  });

  it('counts a retried request', async () => {
    await subgraph.execute(FAMILY); // a session first, so the failure hits the read
    const before = await value('legacy_upstream_retries_total', { table: 'Artikel_Familie', route: 'collection' });
    subgraph.emulator.failNext(1, 503);
    const { errors } = await subgraph.execute(FAMILY);
    expect(errors).toBeUndefined();
    expect(await value('legacy_upstream_retries_total', { table: 'Artikel_Familie', route: 'collection' })).toBe(before + 1);
    expect(await value('legacy_upstream_request_duration_seconds_count', { table: 'Artikel_Familie', status: '503' })).toBeGreaterThan(0);
  });

  it('reports the shared session’s age and idle time per environment on the client’s clock, and a closed breaker', async () => {
    await subgraph.execute(FAMILY);
    const age = await value('legacy_session_age_seconds', { environment: 'test' });
    clock += 120_000;
    expect(await value('legacy_session_age_seconds', { environment: 'test' })).toBe(age + 120);
    expect(await value('legacy_session_idle_seconds', { environment: 'test' })).toBeGreaterThanOrEqual(120);
    expect(await metricLabels(subgraph.metrics.registry, 'legacy_session_breaker_open')).toEqual([{ environment: 'test' }]);
    expect(await value('legacy_session_breaker_open', { environment: 'test' })).toBe(0);
  });

  it('observes DataLoader batch sizes by loader and table', async () => {
    const before = await value('graphql_dataloader_batch_size_sum', { loader: 'byField:customerNumber', table: 'Adressen' });
    const { errors } = await subgraph.execute(CUSTOMERS_WITH_ADDRESSES);
    expect(errors).toBeUndefined();
    // Five customers' addresses: one batch of five keys.
    expect(await value('graphql_dataloader_batch_size_sum', { loader: 'byField:customerNumber', table: 'Adressen' })).toBe(before + 5);
    expect(await value('graphql_dataloader_batch_size_bucket', { loader: 'byField:customerNumber', table: 'Adressen', le: '5' })).toBeGreaterThan(0);
  });

  it('observes the estimated cost of every operation, and counts the limit that refused one', async () => {
    const count = await value('graphql_query_cost_requests_count');
    const rows = await value('graphql_query_cost_rows_sum');
    await subgraph.execute(CUSTOMERS_WITH_ADDRESSES);
    expect(await value('graphql_query_cost_requests_count')).toBe(count + 1);
    expect(await value('graphql_query_cost_rows_sum')).toBeGreaterThan(rows);

    const aliases = `{ ${Array.from({ length: 31 }, (_, i) => `p${i}: products(first: 1) { totalCount }`).join(' ')} }`;
    const refused = await subgraph.execute(aliases);
    expect(refused.errors?.[0]?.extensions?.limit).toBe('MAX_ALIASES');
    expect(await value('graphql_query_limit_refusals_total', { limit: 'MAX_ALIASES' })).toBe(1);

    const nested = '{ salesRecords(first: 100) { edges { node { customer { salesRecords(first: 100) { edges { node { customer { salesRecords(first: 100) { edges { node { number } } } } } } } } } } } }';
    const costly = await subgraph.execute(nested);
    expect(costly.errors?.[0]?.extensions).toMatchObject({ code: 'QUERY_TOO_COSTLY', limit: 'MAX_QUERY_ROWS' });
    expect(await value('graphql_query_limit_refusals_total', { limit: 'MAX_QUERY_ROWS' })).toBe(1);
    expect(await value('graphql_query_cost_rows_bucket', { le: '+Inf' })).toBe(count + 2);

    let filter = '{ sku: { eq: "x" } }';
    for (let i = 0; i < 25; i++) filter = `{ not: ${filter} }`;
    const deep = await subgraph.execute(`{ products(filter: ${filter}) { totalCount } }`);
    expect(deep.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: 'MAX_FILTER_DEPTH' });
    expect(await value('graphql_query_limit_refusals_total', { limit: 'MAX_FILTER_DEPTH' })).toBe(1);
  });

  it('counts operations by name and outcome, and errors by operation name and code', async () => {
    const before = await value('graphql_requests_total', { operation_name: 'OneFamily', operation: 'query', outcome: 'success' });
    await subgraph.execute(FAMILY);
    expect(await value('graphql_requests_total', { operation_name: 'OneFamily', operation: 'query', outcome: 'success' })).toBe(before + 1);

    const bad = await subgraph.execute('query BadFilter { products(filter: { sku: { beginsWith: 1 } }) { totalCount } }');
    expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(await value('graphql_requests_total', { operation_name: 'BadFilter', outcome: 'error' })).toBe(1);
    expect(await value('graphql_errors_total', { operation_name: 'BadFilter', code: 'BAD_USER_INPUT' })).toBe(1);
    await subgraph.execute('query NoSuchField { nothing }');
    expect(await value('graphql_errors_total', { operation_name: 'NoSuchField', code: 'GRAPHQL_VALIDATION_FAILED' })).toBe(1);

    await subgraph.execute('{ __typename }');
    expect(await value('graphql_requests_total', { operation_name: 'anonymous', outcome: 'success' })).toBeGreaterThan(0);
  });
});

describe('licence refusals and the breaker', () => {
  let subgraph: TestSubgraph;
  beforeAll(async () => {
    subgraph = await startTestSubgraph({ emulator: { sessions: 0 } });
  });
  afterAll(() => subgraph.close());
  const value = (name: string, labels?: Record<string, string>) => metricValue(subgraph.metrics.registry, name, labels);

  it('counts every 402 answer, opens the breaker gauge and counts the UPSTREAM_SESSION_LIMIT error', async () => {
    const { errors } = await subgraph.execute(FAMILY);
    expect(errors?.[0]?.extensions?.code).toBe('UPSTREAM_SESSION_LIMIT');
    expect(subgraph.emulator.counters.rejected402).toBeGreaterThan(0);
    expect(await value('legacy_upstream_licence_refusals_total', { environment: 'test' })).toBe(subgraph.emulator.counters.rejected402);
    expect(await value('legacy_session_breaker_open', { environment: 'test' })).toBe(1);
    expect(await value('legacy_session_events_total', { environment: 'test', event: 'breakerOpened' })).toBe(1);
    expect(await value('graphql_errors_total', { operation_name: 'OneFamily', code: 'UPSTREAM_SESSION_LIMIT' })).toBe(1);
    // No session, so no age.
    expect(await metricLabels(subgraph.metrics.registry, 'legacy_session_age_seconds')).toEqual([]);
  });
});

describe('the operation-name cap', () => {
  let subgraph: TestSubgraph;
  beforeAll(async () => {
    subgraph = await startTestSubgraph({ metrics: createMetrics({ defaultMetrics: false, maxOperationNames: 20 }) });
  });
  afterAll(() => subgraph.close());

  it('keeps the first 20 of 1,000 distinct operation names and counts the rest as other', async () => {
    for (let i = 0; i < 1000; i++) await subgraph.execute(`query Op${i} { __typename }`);
    // A name already kept stays itself after the cap is reached.
    await subgraph.execute('query Op0 { __typename }');
    const { registry } = subgraph.metrics;
    const names = new Set((await metricLabels(registry, 'graphql_requests_total')).map((l) => l.operation_name));
    expect(names.size).toBe(21);
    expect(names.has(OTHER)).toBe(true);
    expect(await metricValue(registry, 'graphql_requests_total', { operation_name: OTHER })).toBe(980);
    expect(await metricValue(registry, 'graphql_requests_total', { operation_name: 'Op0' })).toBe(2);
    expect(await metricValue(registry, 'graphql_requests_total', { operation_name: 'Op20' })).toBe(0);
    expect(subgraph.emulator.counters.requests).toBe(0);
  });
});

describe('cache and change-watcher metrics', () => {
  let emulator: Emulator;
  let replica: Replica;
  let watcher: ChangeWatcher | undefined;
  beforeAll(async () => {
    emulator = await startEmulator({ port: 0 });
  });
  afterAll(() => emulator.close());
  afterEach(async () => {
    await watcher?.stop();
    await replica.close();
  });

  it('counts the tags an invalidation moved by source, layer and table, beside hits and misses', async () => {
    replica = await startReplica({ emulator });
    const value = (name: string, labels?: Record<string, string>) => metricValue(replica.metrics.registry, name, labels);
    const id = String(emulator.db.table('Artikel_Variante')!.rows()[0]!.__KEY);
    const PRODUCT = 'query ($id: ID!) { product(id: $id) { id name } }';
    await replica.post(PRODUCT, { id });
    await replica.post(PRODUCT, { id });
    expect(await value('cache_lookups_total', { layer: 'response', result: 'miss' })).toBeGreaterThan(0);
    expect(await value('cache_lookups_total', { layer: 'response', result: 'hit' })).toBeGreaterThan(0);

    const purged = await replica.post('mutation ($tags: [String!]) { purgeCache(tags: $tags) { __typename } }', { tags: [`Artikel_Variante:${id}`, 'Kunden'] });
    expect(purged.errors).toBeUndefined();
    expect(await value('cache_invalidated_tags_total', { source: 'purge', layer: 'record', type: 'Artikel_Variante' })).toBe(1);
    expect(await value('cache_invalidated_tags_total', { source: 'purge', layer: 'list', type: 'Kunden' })).toBe(1);
  });

  it('exports the poll interval and when the leader last polled, on the watcher’s clock', async () => {
    replica = await startReplica({ emulator });
    const clock = Date.parse('2026-01-05T09:00:00Z');
    watcher = new ChangeWatcher({
      source: replica.client,
      cache: replica.cache.tagged,
      tables: WATCHED_TABLES,
      strategy: 'auto',
      pollMs: 60_000,
      maxKeysPerTable: 1000,
      longestTtlMs: 3_600_000,
      environment: 'test',
      logger: pino({ level: 'silent' }),
      metrics: createWatcherMetrics(replica.metrics.registry, 'metrics-test', 60_000),
      now: () => clock,
    });
    await watcher.start(0);
    const value = (name: string, labels?: Record<string, string>) => metricValue(replica.metrics.registry, name, labels);
    expect(await value('change_watcher_poll_interval_seconds')).toBe(60);
    await watcher.poll();
    expect(await value('change_watcher_last_poll_timestamp_seconds')).toBe(clock / 1000);
    expect(await value('change_watcher_polls_total')).toBeGreaterThan(0);
  });
});
