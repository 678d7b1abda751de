/**
 * `npm run bench:limits`: what the abusive queries of issue 6 cost the process and the ERP, with the
 * query limits (the server as shipped) and, bounded, without them.
 *
 * With the limits: each abusive operation is refused; the table shows the refusal time (median and
 * p95 over the iterations), the heap growth over all iterations after a forced GC, and the upstream
 * requests (must be 0; the bench fails otherwise).
 *
 * Without the limits (the same server with every limit lifted): the nested query
 * `salesRecords(first: 100) { … customer { salesRecords(first: 100) { … } } }` is run one level
 * deeper at a time, measuring time, upstream requests, objects returned and the peak heap. Each
 * level multiplies the response, so before running the next level the bench predicts its heap from
 * the last two levels and stops when the prediction exceeds `--heap-cap-mb`: it never runs into
 * out-of-memory. 1000 aliases of one list are also run without the alias limit (one request since
 * identical list calls are memoized; 1001 before).
 *
 * Options (flags win over environment variables):
 *   --iterations N   BENCH_ITERATIONS   refusals measured per query (default 50)
 *   --scale X        BENCH_SCALE        emulator data-set size, fraction of production (default 0.1)
 *   --latency MS     BENCH_LATENCY_MS   emulated upstream latency per request (default 2)
 *   --levels N       BENCH_LEVELS       deepest nesting tried without limits (default 5, the issue's)
 *   --heap-cap-mb MB BENCH_HEAP_CAP_MB  predicted peak heap above which a level is not run (default 768, at most 1536)
 *
 * The table goes to stdout, progress to stderr.
 */
import { availableParallelism, cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { loadConfig } from '../src/config.js';
import { startBenchSubgraph, type BenchServer, type BenchSubgraph } from './subgraph.js';
import { numberParam, readFlags, runMain, UsageError } from './params.js';

interface Params {
  iterations: number;
  scale: number;
  latencyMs: number;
  levels: number;
  heapCapMb: number;
}

const USAGE = `usage: npm run bench:limits -- [--iterations N] [--scale X] [--latency MS] [--levels N] [--heap-cap-mb MB]
  (or BENCH_ITERATIONS, BENCH_SCALE, BENCH_LATENCY_MS, BENCH_LEVELS, BENCH_HEAP_CAP_MB)`;

function readParams(argv: string[]): Params | undefined {
  const str = readFlags(argv, ['iterations', 'scale', 'latency', 'levels', 'heap-cap-mb'], USAGE);
  if (!str) return undefined;
  return {
    iterations: numberParam('iterations', str('iterations'), 'BENCH_ITERATIONS', 50, { integer: true, min: 1, max: 10_000 }),
    scale: numberParam('scale', str('scale'), 'BENCH_SCALE', 0.1, { min: 0.001, max: 1 }),
    latencyMs: numberParam('latency', str('latency'), 'BENCH_LATENCY_MS', 2, { min: 0, max: 10_000 }),
    levels: numberParam('levels', str('levels'), 'BENCH_LEVELS', 5, { integer: true, min: 1, max: 10 }),
    heapCapMb: numberParam('heap-cap-mb', str('heap-cap-mb'), 'BENCH_HEAP_CAP_MB', 768, { min: 16, max: 1536 }),
  };
}

// ---------------------------------------------------------------------------------------------
// Queries

/** The query: `levels` times sales records → customer → the customer's sales records, `first` each. */
function nestedSalesRecords(levels: number, first = 100): string {
  let inner = 'number';
  for (let i = 0; i < levels; i++) inner = `number customer { customerNumber salesRecords(first: ${first}) { edges { node { ${inner} } } } }`;
  return `{ salesRecords(first: ${first}) { edges { node { ${inner} } } } }`;
}

function nestedFilter(levels: number): Record<string, unknown> {
  let filter: Record<string, unknown> = { sku: { eq: 'x' } };
  for (let i = 0; i < levels; i++) filter = i % 2 ? { not: filter } : { and: [filter, { active: { eq: true } }] };
  return filter;
}

interface Abuse {
  title: string;
  query: string;
  variables?: Record<string, unknown>;
  /** The `extensions.code` of the refusal. */
  code: string;
}

function abusiveQueries(): Abuse[] {
  const aliasesOf = (n: number) => Array.from({ length: n }, (_, i) => `p${i}: products(first: 100) { edges { node { sku } } }`).join(' ');
  const aliases = aliasesOf(1000);
  return [
    { title: `issue's nested sales records, 5 levels (${nestedSalesRecords(5).length} bytes)`, query: nestedSalesRecords(5), code: 'GRAPHQL_VALIDATION_FAILED' },
    { title: 'the same, 2 levels (within the depth limit; cost 1 020 200 rows)', query: nestedSalesRecords(2), code: 'QUERY_TOO_COSTLY' },
    { title: '1000 aliases of products(first: 100) (over the token limit)', query: `{ ${aliases} }`, code: 'GRAPHQL_PARSE_FAILED' },
    { title: '100 aliases of products(first: 100)', query: `{ ${aliasesOf(100)} }`, code: 'GRAPHQL_VALIDATION_FAILED' },
    {
      title: 'filter with 200 levels of and/not (variable)',
      query: 'query($f: ProductFilter) { products(filter: $f) { totalCount } }',
      variables: { f: nestedFilter(200) },
      code: 'BAD_USER_INPUT',
    },
    {
      title: 'filter with 5000 levels of and/not (variable)',
      query: 'query($f: ProductFilter) { products(filter: $f) { totalCount } }',
      variables: { f: nestedFilter(5000) },
      code: 'BAD_USER_INPUT',
    },
  ];
}

// ---------------------------------------------------------------------------------------------
// Measurement

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const mb = (bytes: number) => bytes / 2 ** 20;
const fmt = (n: number, digits = 1) => n.toFixed(digits);

function heapUsed(): number {
  gc();
  return process.memoryUsage().heapUsed;
}

function fail(message: string): never {
  throw new Error(`bench verification failed: ${message}`);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length))) - 1];
}

interface Refusal {
  abuse: Abuse;
  median: number;
  p95: number;
  heapGrowthMb: number;
  peakHeapMb: number;
  upstream: number;
  message: string;
}

async function measureRefusal(subgraph: BenchSubgraph, server: BenchServer, abuse: Abuse, iterations: number): Promise<Refusal> {
  const before = heapUsed();
  subgraph.emulator.resetCounters();
  const times: number[] = [];
  let message = '';
  for (let i = 0; i < iterations; i++) {
    const started = performance.now();
    const result = await server.execute(abuse.query, abuse.variables);
    times.push(performance.now() - started);
    const error = result.errors?.[0];
    if (!error || result.errors!.length !== 1 || error.extensions?.code !== abuse.code) {
      fail(`${abuse.title}: expected one ${abuse.code} error, got ${JSON.stringify(result.errors ?? result.data).slice(0, 300)}`);
    }
    message = error.message;
  }
  const retained = heapUsed() - before;
  // The peak of one refusal on a collected heap (over many, it would mostly measure garbage not yet collected).
  const baseline = heapUsed();
  let peak = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().heapUsed);
  }, 1);
  try {
    await server.execute(abuse.query, abuse.variables);
  } finally {
    clearInterval(sampler);
  }
  peak = Math.max(peak, process.memoryUsage().heapUsed);
  const upstream = subgraph.emulator.counters.requests;
  if (upstream !== 0) fail(`${abuse.title}: ${upstream} upstream requests for a refused operation`);
  times.sort((a, b) => a - b);
  return { abuse, median: percentile(times, 50), p95: percentile(times, 95), heapGrowthMb: mb(retained), peakHeapMb: mb(peak - baseline), upstream, message };
}

interface Unlimited {
  title: string;
  ms: number;
  upstream: number;
  objects: number;
  responseMb: number;
  peakHeapMb: number;
}

function countObjects(value: unknown): number {
  let n = 0;
  const stack = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (Array.isArray(v)) stack.push(...v);
    else if (v && typeof v === 'object') {
      n++;
      for (const child of Object.values(v)) if (child && typeof child === 'object') stack.push(child);
    }
  }
  return n;
}

/** Runs one operation, sampling the heap every 5 ms; the baseline is the heap after a GC before it. */
async function measureUnlimited(subgraph: BenchSubgraph, server: BenchServer, title: string, query: string): Promise<Unlimited> {
  const baseline = heapUsed();
  subgraph.emulator.resetCounters();
  let peak = process.memoryUsage().heapUsed;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().heapUsed);
  }, 5);
  const started = performance.now();
  let result: Awaited<ReturnType<BenchServer['execute']>>;
  try {
    result = await server.execute(query);
  } finally {
    clearInterval(sampler);
  }
  const ms = performance.now() - started;
  peak = Math.max(peak, process.memoryUsage().heapUsed);
  if (result.errors?.length) fail(`${title}: ${result.errors[0].message}`);
  const objects = countObjects(result.data);
  const responseMb = mb(Buffer.byteLength(JSON.stringify(result.data)));
  return { title, ms, upstream: subgraph.emulator.counters.requests, objects, responseMb, peakHeapMb: mb(peak - baseline) };
}

// ---------------------------------------------------------------------------------------------
// Report

function markdownTable(header: string[], rows: string[][], textColumns: number): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map((_, i) => (i < textColumns ? '---' : '---:'))), ...rows.map(line)].join('\n');
}

async function main(): Promise<number> {
  let params: Params | undefined;
  try {
    params = readParams(process.argv.slice(2));
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`bench:limits: ${err.message}\n${USAGE}\n`);
      return 2;
    }
    throw err;
  }
  if (!params) return 0;
  const log = (line: string) => process.stderr.write(`bench:limits: ${line}\n`);
  const limits = loadConfig({}).queryLimits;

  const subgraph = await startBenchSubgraph({ scale: params.scale, latencyMs: params.latencyMs, sessions: 10 });
  try {
    const limited = await subgraph.addServer(loadConfig({}).maxBatchSize);
    const unlimited = await subgraph.addServer(loadConfig({}).maxBatchSize, {
      maxDepth: 1_000,
      maxAliases: 1_000_000,
      maxTokens: 1_000_000,
      maxRequests: Number.MAX_SAFE_INTEGER,
      maxRows: Number.MAX_SAFE_INTEGER,
    });
    await subgraph.client.ping();

    const refusals: Refusal[] = [];
    for (const abuse of abusiveQueries()) {
      log(`with limits: ${abuse.title}…`);
      // One unmeasured run warms the code paths (and Apollo's document cache, as in production).
      await limited.execute(abuse.query, abuse.variables);
      refusals.push(await measureRefusal(subgraph, limited, abuse, params.iterations));
    }

    // Warm the execution path (and the loaders' code) with the smallest level, unmeasured.
    await unlimited.execute(nestedSalesRecords(1, 5));
    const runs: Unlimited[] = [];
    let stopped = '';
    for (let level = 1; level <= params.levels; level++) {
      const last = runs.at(-1);
      const before = runs.at(-2);
      if (last && before) {
        const growth = Math.max(1, last.objects / Math.max(1, before.objects));
        const predicted = last.peakHeapMb * growth;
        if (predicted > params.heapCapMb) {
          stopped = `level ${level} not run: predicted peak heap ${fmt(predicted, 0)} MB (×${fmt(growth)} per level) exceeds --heap-cap-mb ${params.heapCapMb}`;
          log(stopped);
          break;
        }
      }
      log(`without limits: nested sales records, ${level} level(s)…`);
      runs.push(await measureUnlimited(subgraph, unlimited, `nested sales records, ${level} level(s)`, nestedSalesRecords(level)));
    }
    const aliasesOf = (n: number) => Array.from({ length: n }, (_, i) => `p${i}: products(first: 100) { edges { node { sku } } }`).join(' ');
  const aliases = aliasesOf(1000);
    log('without limits: 1000 aliases…');
    runs.push(await measureUnlimited(subgraph, unlimited, '1000 aliases of products(first: 100) (1001 requests before lists were memoized)', `{ ${aliases} }`));

    const sizes = ['Kunden', 'Belege'].map((t) => `${t} ${subgraph.emulator.db.table(t)?.rows().length ?? 0}`).join(', ');
    process.stdout.write(
      [
        '## Benchmark: query limits',
        '',
        `With the limits (defaults: MAX_QUERY_DEPTH ${limits.maxDepth}, MAX_ALIASES ${limits.maxAliases}, MAX_QUERY_TOKENS ${limits.maxTokens}, MAX_QUERY_REQUESTS ${limits.maxRequests}, ` +
          `MAX_QUERY_ROWS ${limits.maxRows}, filters at most 20 levels), ${params.iterations} refusals each:`,
        '',
        markdownTable(
          ['abusive operation', 'refused with', 'upstream requests', 'median ms', 'p95 ms', 'peak heap growth MB (one refusal)', `heap retained MB after ${params.iterations}`],
          refusals.map((r) => [r.abuse.title, r.abuse.code, String(r.upstream), fmt(r.median, 2), fmt(r.p95, 2), fmt(r.peakHeapMb), fmt(Math.max(0, r.heapGrowthMb))]),
          2,
        ),
        '',
        ...refusals.map((r) => `- ${r.abuse.title}: "${r.message}"`),
        '',
        'Without the limits (every limit lifted), one run each:',
        '',
        markdownTable(
          ['operation', 'upstream requests', 'ms', 'objects returned', 'response MB', 'peak heap growth MB'],
          runs.map((r) => [r.title, String(r.upstream), fmt(r.ms, 0), String(r.objects), fmt(r.responseMb), fmt(r.peakHeapMb)]),
          1,
        ),
        '',
        stopped ? `- ${stopped} (the issue's 5 levels grew the heap past 1.5 GB and killed the process)` : '',
        `- emulator scale ${params.scale} (${sizes}), upstream latency ${params.latencyMs} ms; emulator and subgraph share this process (heap numbers include both)`,
        `- Node ${process.version} on ${process.platform}/${process.arch}, ${availableParallelism()} × ${cpus()[0]?.model.trim() ?? 'unknown CPU'}`,
        '',
      ].join('\n'),
    );
    return 0;
  } finally {
    await subgraph.close();
  }
}

runMain('bench:limits', main);
