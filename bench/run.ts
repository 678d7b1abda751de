/**
 * `npm run bench`: upstream requests and latency of the subgraph against the in-process 4D REST
 * emulator with a realistic upstream latency (issue 3, item 9).
 *
 * Scenarios, each batched (the configured DataLoader batch size) and "one request per parent"
 * (the same server with `maxBatchSize: 1`, i.e. the same code path with batching disabled):
 *   (a) `salesRecords(first: 100)` with customer, the customer's addresses, items, each item's
 *       product and that product's family;
 *   (b) `_entities` for 500 `Product` representations (by id) with their family.
 *
 * Every operation gets a fresh context (fresh DataLoaders) and there is no response cache; each
 * iteration must cost exactly as many upstream requests as the first warm-up did and return the
 * same data in both modes, so a cache, a retry or an error path cannot produce the numbers.
 *
 * Options (flags win over environment variables):
 *   --iterations N  BENCH_ITERATIONS  measured runs per scenario and mode (default 20)
 *   --warmup N      BENCH_WARMUP      unmeasured runs before them (default 3)
 *   --latency MS    BENCH_LATENCY_MS  emulated upstream latency per request (default 20)
 *   --jitter MS     BENCH_JITTER_MS   uniform ± jitter around it (default 2)
 *   --scale X       BENCH_SCALE       emulator data-set size, fraction of production (default 0.1)
 *   --pull-runs N   BENCH_PULL_RUNS   measured runs of each strategy of the pull of all variants (default 5; see bench/pull.ts)
 *
 * The table goes to stdout, progress to stderr.
 */
import { availableParallelism, cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { loadConfig } from '../src/config.js';
import { tableSizes } from '../src/emulator/data/generate.js';
import { startBenchSubgraph, type BenchServer, type BenchSubgraph } from './subgraph.js';
import { numberParam, readFlags, runMain, UsageError } from './params.js';
import { pullReport } from './pull.js';

/** The server's default keys per upstream request of a loader (`MAX_BATCH_SIZE`), read from the configuration defaults. */
const BATCHED_MAX_BATCH_SIZE = loadConfig({}).maxBatchSize;
const SALES_RECORDS = 100;
const PRODUCT_REPRESENTATIONS = 500;

interface Params {
  iterations: number;
  warmup: number;
  latencyMs: number;
  jitterMs: number;
  scale: number;
  pullRuns: number;
}

// ---------------------------------------------------------------------------------------------
// Parameters

const USAGE = `usage: npm run bench -- [--iterations N] [--warmup N] [--latency MS] [--jitter MS] [--scale X] [--pull-runs N]
  (or BENCH_ITERATIONS, BENCH_WARMUP, BENCH_LATENCY_MS, BENCH_JITTER_MS, BENCH_SCALE, BENCH_PULL_RUNS)
see also: npm run bench:limits -- --help (heap and refusal time of abusive queries with and without the query limits)`;

function readParams(argv: string[]): Params | undefined {
  const str = readFlags(argv, ['iterations', 'warmup', 'latency', 'jitter', 'scale', 'pull-runs'], USAGE);
  if (!str) return undefined;
  const params: Params = {
    iterations: numberParam('iterations', str('iterations'), 'BENCH_ITERATIONS', 20, { integer: true, min: 1, max: 10_000 }),
    warmup: numberParam('warmup', str('warmup'), 'BENCH_WARMUP', 3, { integer: true, min: 0, max: 1_000 }),
    latencyMs: numberParam('latency', str('latency'), 'BENCH_LATENCY_MS', 20, { min: 0, max: 10_000 }),
    jitterMs: numberParam('jitter', str('jitter'), 'BENCH_JITTER_MS', 2, { min: 0, max: 10_000 }),
    scale: numberParam('scale', str('scale'), 'BENCH_SCALE', 0.1, { min: 0.0001, max: 1 }),
    pullRuns: numberParam('pull-runs', str('pull-runs'), 'BENCH_PULL_RUNS', 5, { integer: true, min: 1, max: 100 }),
  };
  if (params.jitterMs > params.latencyMs) {
    throw new UsageError(`jitter (${params.jitterMs} ms) must not exceed latency (${params.latencyMs} ms)`);
  }
  const sizes = tableSizes(params.scale);
  if (sizes.Artikel_Variante < PRODUCT_REPRESENTATIONS || sizes.Belege < SALES_RECORDS) {
    throw new UsageError(
      `scale ${params.scale} gives ${sizes.Artikel_Variante} products and ${sizes.Belege} sales records; ` +
        `the scenarios need ${PRODUCT_REPRESENTATIONS} and ${SALES_RECORDS} (use a scale of at least 0.05)`,
    );
  }
  return params;
}

// ---------------------------------------------------------------------------------------------
// Scenarios

interface SalesRecordsData {
  salesRecords: {
    totalCount: number;
    edges: Array<{
      node: {
        id: string;
        number: number;
        customer: { id: string; customerNumber: string; addresses: Array<{ id: string }> } | null;
        items: Array<{ id: string; sku: string | null; product: { id: string; family: { id: string } | null } | null }>;
      };
    }>;
  };
}

interface EntitiesData {
  _entities: Array<{ id: string; sku: string; family: { id: string; sku: string } | null } | null>;
}

interface Scenario {
  id: string;
  title: string;
  query: string;
  variables: Record<string, unknown>;
  /** Throws when the result is not the expected shape; returns the number of objects returned. */
  verify(data: unknown): number;
}

const SALES_RECORDS_QUERY = /* GraphQL */ `
  query BenchSalesRecords($first: Int!) {
    salesRecords(first: $first) {
      totalCount
      edges {
        node {
          id
          number
          customer {
            id
            customerNumber
            addresses { id city isPrimary }
          }
          items {
            id
            position
            sku
            quantity
            product {
              id
              sku
              name
              family { id sku name }
            }
          }
        }
      }
    }
  }
`;

const ENTITIES_QUERY = /* GraphQL */ `
  query BenchProductEntities($representations: [_Any!]!) {
    _entities(representations: $representations) {
      ... on Product {
        id
        sku
        name
        family { id sku name }
      }
    }
  }
`;

function fail(message: string): never {
  throw new Error(`bench verification failed: ${message}`);
}

function buildScenarios(subgraph: BenchSubgraph): Scenario[] {
  const db = subgraph.emulator.db;
  const table = (name: string) => db.table(name) ?? fail(`the emulator has no table ${name}`);

  // Expected shape, from the emulator's own rows (computed once, outside any timing).
  const salesRecords = table('Belege').rows();
  const expectedNumbers = salesRecords
    .map((r) => Number(r.AbsNr))
    .sort((a, b) => a - b)
    .slice(0, SALES_RECORDS);
  const itemsPerRecord = new Map<number, number>();
  for (const item of table('Belege_Pos').rows()) itemsPerRecord.set(Number(item.AbsNr), (itemsPerRecord.get(Number(item.AbsNr)) ?? 0) + 1);

  const products = table('Artikel_Variante').rows().slice(0, PRODUCT_REPRESENTATIONS);
  const familyKeys = new Set(table('Artikel_Familie').rows().map((f) => f.__KEY));

  return [
    {
      id: 'a',
      title: `(a) ${SALES_RECORDS} sales records + customer, addresses, items, product, family`,
      query: SALES_RECORDS_QUERY,
      variables: { first: SALES_RECORDS },
      verify(raw) {
        const data = raw as SalesRecordsData;
        const edges = data?.salesRecords?.edges ?? fail('no salesRecords.edges');
        if (data.salesRecords.totalCount !== salesRecords.length) fail(`totalCount ${data.salesRecords.totalCount}, expected ${salesRecords.length}`);
        if (edges.length !== SALES_RECORDS) fail(`${edges.length} sales records, expected ${SALES_RECORDS}`);
        let objects = 0;
        let customers = 0;
        let productsSeen = 0;
        let families = 0;
        edges.forEach(({ node }, i) => {
          objects++;
          if (node.number !== expectedNumbers[i]) fail(`sales record #${i} is number ${node.number}, expected ${expectedNumbers[i]}`);
          const expectedItems = itemsPerRecord.get(node.number) ?? 0;
          if (node.items.length !== expectedItems) fail(`sales record ${node.number} has ${node.items.length} items, expected ${expectedItems}`);
          if (node.customer) {
            customers++;
            objects += 1 + node.customer.addresses.length;
          }
          for (const item of node.items) {
            objects++;
            if (item.product) {
              productsSeen++;
              objects++;
              if (item.product.family) {
                families++;
                objects++;
              }
            }
          }
        });
        if (customers === 0 || productsSeen === 0 || families === 0) {
          fail(`relations did not resolve (customers ${customers}, products ${productsSeen}, families ${families})`);
        }
        return objects;
      },
    },
    {
      id: 'b',
      title: `(b) _entities: ${PRODUCT_REPRESENTATIONS} Product (by id) + family`,
      query: ENTITIES_QUERY,
      variables: { representations: products.map((p) => ({ __typename: 'Product', id: p.__KEY })) },
      verify(raw) {
        const entities = (raw as EntitiesData)?._entities ?? fail('no _entities');
        if (entities.length !== PRODUCT_REPRESENTATIONS) fail(`${entities.length} entities, expected ${PRODUCT_REPRESENTATIONS}`);
        let objects = 0;
        entities.forEach((entity, i) => {
          const row = products[i];
          if (!entity || entity.id !== row.__KEY) fail(`entity #${i} is ${JSON.stringify(entity?.id)}, expected ${row.__KEY}`);
          objects++;
          const familyKey = typeof row.Familie_ === 'string' && familyKeys.has(row.Familie_) ? row.Familie_ : null;
          if ((entity.family?.id ?? null) !== familyKey) fail(`product ${row.__KEY} has family ${entity.family?.id}, expected ${familyKey}`);
          if (entity.family) objects++;
        });
        if (objects === PRODUCT_REPRESENTATIONS) fail('no family resolved');
        return objects;
      },
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// Measurement

interface Mode {
  name: string;
  server: BenchServer;
}

interface Measurement {
  scenario: Scenario;
  mode: Mode;
  requestsPerOp: number;
  byTable: Record<string, number>;
  objects: number;
  median: number;
  /** Median process CPU time (user + system, all threads) per operation: emulator and subgraph together. */
  cpuMedian: number;
  p95: number;
  min: number;
  max: number;
  rssMb: number;
  heapMb: number;
  /** Serialized data, compared across modes. */
  data: string;
}

function median(sorted: number[]): number {
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Nearest-rank percentile of an ascending array. */
function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1];
}

async function runOnce(subgraph: BenchSubgraph, scenario: Scenario, mode: Mode) {
  const counters = subgraph.emulator.counters;
  const requestsBefore = counters.requests;
  const loginsBefore = counters.logins;
  const byTableBefore = { ...counters.byTable };
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const result = await mode.server.execute(scenario.query, scenario.variables);
  const ms = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  if (result.errors?.length) {
    const first = result.errors[0];
    fail(`${scenario.id}/${mode.name}: ${result.errors.length} GraphQL error(s), first: ${first.message} (${JSON.stringify(first.extensions?.code)})`);
  }
  if (counters.logins !== loginsBefore) fail(`${scenario.id}/${mode.name}: the upstream session was renewed during the operation`);
  const objects = scenario.verify(result.data);
  const byTable: Record<string, number> = {};
  for (const [name, n] of Object.entries(counters.byTable)) {
    const delta = n - (byTableBefore[name] ?? 0);
    if (delta > 0) byTable[name] = delta;
  }
  return { ms, cpuMs, requests: counters.requests - requestsBefore, byTable, objects, data: JSON.stringify(result.data) };
}

async function measure(subgraph: BenchSubgraph, scenario: Scenario, mode: Mode, params: Params): Promise<Measurement> {
  let reference: Awaited<ReturnType<typeof runOnce>> | undefined;
  const check = (run: Awaited<ReturnType<typeof runOnce>>) => {
    if (!reference) {
      reference = run;
      return;
    }
    if (run.requests !== reference.requests) {
      fail(`${scenario.id}/${mode.name}: ${run.requests} upstream requests, the first run took ${reference.requests} (a cache or retry would distort the numbers)`);
    }
    if (run.data !== reference.data) fail(`${scenario.id}/${mode.name}: the result changed between runs`);
  };

  for (let i = 0; i < params.warmup; i++) check(await runOnce(subgraph, scenario, mode));
  const times: number[] = [];
  const cpuTimes: number[] = [];
  for (let i = 0; i < params.iterations; i++) {
    const run = await runOnce(subgraph, scenario, mode);
    check(run);
    times.push(run.ms);
    cpuTimes.push(run.cpuMs);
  }
  times.sort((a, b) => a - b);
  cpuTimes.sort((a, b) => a - b);
  const memory = process.memoryUsage();
  return {
    scenario,
    mode,
    requestsPerOp: reference!.requests,
    byTable: reference!.byTable,
    objects: reference!.objects,
    median: median(times),
    cpuMedian: median(cpuTimes),
    p95: percentile(times, 95),
    min: times[0],
    max: times[times.length - 1],
    rssMb: memory.rss / 2 ** 20,
    heapMb: memory.heapUsed / 2 ** 20,
    data: reference!.data,
  };
}

// ---------------------------------------------------------------------------------------------
// Report

const fmt = (n: number, digits = 1) => n.toFixed(digits);

/** `textColumns` leading columns are left-aligned, the rest (numbers) right-aligned. */
function markdownTable(header: string[], rows: string[][], textColumns: number): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  const align = header.map((_, i) => (i < textColumns ? '---' : '---:'));
  return [line(header), line(align), ...rows.map(line)].join('\n');
}

function report(params: Params, subgraph: BenchSubgraph, results: Measurement[], runtimeMs: number, loadBefore: number[]): string {
  const sizes = Object.fromEntries(
    ['Artikel_Familie', 'Artikel_Variante', 'Kunden', 'Adressen', 'Belege', 'Belege_Pos'].map((t) => [t, subgraph.emulator.db.table(t)?.rows().length ?? 0]),
  );
  const main = markdownTable(
    ['scenario', 'mode', 'upstream requests/op', 'median ms', 'p95 ms', 'CPU ms/op (median)', 'objects/op', 'RSS MB after', 'heap MB after'],
    results.map((r) => [
      r.scenario.title,
      r.mode.name,
      String(r.requestsPerOp),
      fmt(r.median),
      fmt(r.p95),
      fmt(r.cpuMedian),
      String(r.objects),
      fmt(r.rssMb, 0),
      fmt(r.heapMb, 0),
    ]),
    2,
  );
  const detail = markdownTable(
    ['scenario', 'mode', 'upstream requests/op by table', 'min ms', 'max ms'],
    results.map((r) => [
      r.scenario.id,
      r.mode.name,
      Object.entries(r.byTable)
        .map(([t, n]) => `${t} ${n}`)
        .join(', '),
      fmt(r.min),
      fmt(r.max),
    ]),
    3,
  );
  const speedups = results
    .filter((r) => r.mode.server.maxBatchSize === BATCHED_MAX_BATCH_SIZE)
    .map((batched) => {
      const naive = results.find((r) => r.scenario === batched.scenario && r !== batched)!;
      return `- (${batched.scenario.id}): ${fmt(naive.requestsPerOp / batched.requestsPerOp)}× fewer upstream requests, ${fmt(naive.median / batched.median)}× lower median latency with batching`;
    });
  return [
    '## Benchmark: subgraph against the 4D REST emulator',
    '',
    main,
    '',
    ...speedups,
    '',
    detail,
    '',
    'Parameters:',
    `- emulator scale ${params.scale} (${Object.entries(sizes)
      .map(([t, n]) => `${t} ${n}`)
      .join(', ')}), upstream latency ${params.latencyMs} ms ± ${params.jitterMs} ms`,
    `- ${params.warmup} warm-up + ${params.iterations} measured iterations per scenario and mode, operations run one after another; p95 is nearest-rank`,
    `- batched: maxBatchSize ${BATCHED_MAX_BATCH_SIZE} (the server default MAX_BATCH_SIZE; batches are fetched in parallel); ` +
      'one request per parent: the same server with maxBatchSize 1 (per-operation DataLoader de-duplication of equal keys still applies)',
    '- legacy client defaults (8 keep-alive connections), one upstream session opened before measuring; a fresh GraphQL context per operation, no response cache',
    '- emulator, legacy client and subgraph share this process and its event loop: RSS, heap and CPU include the emulator ' +
      '(its data set and its query engine, which answers IN lookups on keys and indexed attributes from its indexes; part of the CPU time is the emulator\'s, not the subgraph\'s)',
    `- Node ${process.version} on ${process.platform}/${process.arch}, ${availableParallelism()} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'}; ` +
      `1-min load average ${fmt(loadBefore[0], 2)} before, ${fmt(loadavg()[0], 2)} after (other load on the machine skews latency, not request counts)`,
    `- total runtime ${fmt(runtimeMs / 1000)} s`,
    '',
  ].join('\n');
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
      process.stderr.write(`bench: ${err.message}\n${USAGE}\n`);
      return 2;
    }
    throw err;
  }
  if (!params) return 0;

  const log = (line: string) => process.stderr.write(`${line}\n`);
  log(`bench: emulator scale ${params.scale}, latency ${params.latencyMs} ± ${params.jitterMs} ms, ${params.warmup} warm-up + ${params.iterations} iterations`);
  const subgraph = await startBenchSubgraph({ scale: params.scale, latencyMs: params.latencyMs, jitterMs: params.jitterMs, sessions: 10 });
  try {
    const modes: Mode[] = [
      { name: 'batched', server: await subgraph.addServer(BATCHED_MAX_BATCH_SIZE) },
      // Without batching the benchmark's queries exceed the default MAX_QUERY_REQUESTS (a naive
      // subgraph has no such limit either): lift it for this mode only.
      { name: 'one request per parent', server: await subgraph.addServer(1, { maxRequests: Number.MAX_SAFE_INTEGER }) },
    ];
    // Open the upstream session now, so no login lands inside a measured operation.
    await subgraph.client.ping();
    subgraph.emulator.resetCounters();

    const results: Measurement[] = [];
    for (const scenario of buildScenarios(subgraph)) {
      for (const mode of modes) {
        log(`bench: ${scenario.title} — ${mode.name}…`);
        const result = await measure(subgraph, scenario, mode, params);
        log(`bench:   ${result.requestsPerOp} upstream requests/op, median ${fmt(result.median)} ms, p95 ${fmt(result.p95)} ms`);
        results.push(result);
      }
      const [batched, naive] = results.slice(-2);
      if (batched.data !== naive.data) fail(`${scenario.id}: batched and one-request-per-parent results differ`);
    }
    process.stdout.write(report(params, subgraph, results, performance.now() - started, loadBefore));
  } finally {
    await subgraph.close();
  }
  // The pull of all variants runs on its own emulator at scale 1, with the same upstream latency.
  process.stdout.write(await pullReport({ runs: params.pullRuns, latencyMs: params.latencyMs, scale: 1 }, log));
  return 0;
}

runMain('bench', main);
