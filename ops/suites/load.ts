/**
 * `npm run load`: sustained load on the subgraph (its own process, started as in production, in
 * front of the 4D REST emulator at `--latency` ms per request): autocannon sends a mix of product
 * detail reads (`--products` distinct ids) and filtered lists for `--duration` seconds, in three
 * equal segments. Per segment: requests/s, latency p50/p99, errors and non-2xx answers, and the
 * subgraph's memory (RSS from /proc, V8 heap used from its /metrics) at the start and after each
 * segment, so growth over the run shows (the caches are bounded by CACHE_MAX_ENTRIES/CACHE_MAX_MB).
 *
 * Options: --duration S (default 45), --connections N (default 20), --latency MS (default 5),
 * --products N (default 100); also LOAD_* variables. Exit 1 on a socket error, timeout or non-2xx
 * answer (autocannon does not read the bodies: GraphQL errors are checked per body in the warm-up).
 */
import { cpus, loadavg } from 'node:os';
import { autocannon, type AutocannonResult } from '../../bench/autocannon.js';
import { numberParam, readFlags, runMain } from '../../bench/params.js';
import { startStack } from './stack.js';
import { post, table } from './traffic.js';

const USAGE = 'usage: npm run load -- [--duration S] [--connections N] [--latency MS] [--products N]';

const PRODUCT = 'query ($id: ID!) { product(id: $id) { id sku name stamp retailPrice { amount } family { id name } } }';
const LIST = 'query ($p: String!) { products(filter: { sku: { beginsWith: $p } }, first: 10) { totalCount edges { node { id name } } } }';

const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);

async function main(): Promise<number> {
  const flag = readFlags(process.argv.slice(2), ['duration', 'connections', 'latency', 'products'], USAGE);
  if (!flag) return 0;
  const duration = numberParam('duration', flag('duration'), 'LOAD_DURATION_S', 45, { integer: true, min: 3, max: 600 });
  const connections = numberParam('connections', flag('connections'), 'LOAD_CONNECTIONS', 20, { integer: true, min: 1, max: 1000 });
  const latencyMs = numberParam('latency', flag('latency'), 'LOAD_LATENCY_MS', 5, { min: 0, max: 5000 });
  const products = numberParam('products', flag('products'), 'LOAD_PRODUCTS', 100, { integer: true, min: 1, max: 100_000 });

  const stack = await startStack({ emulator: { latencyMs, scale: 0.05 } });
  process.stderr.write(`load: subgraph pid ${stack.pid} at ${stack.url}\n`);
  const ids = stack.emulator.db.table('Artikel_Variante')!.rows().slice(0, products).map((r) => r.__KEY);
  const body = (query: string, variables: Record<string, unknown>) => ({ method: 'POST' as const, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
  const requests = ids.flatMap((id, i) => (i % 5 === 0 ? [body(PRODUCT, { id }), body(LIST, { p: String(i % 10) })] : [body(PRODUCT, { id })]));
  // Every body once before the clock starts: each must answer without errors.
  for (const r of requests) {
    const parsed = JSON.parse(r.body) as { query: string; variables: Record<string, unknown> };
    const { outcome } = await post(stack.url, parsed.query, parsed.variables);
    if (outcome !== 'ok') throw new Error(`a warm-up request failed with ${outcome}`);
  }

  const memory = async (label: string) => ({ label, rss: stack.rss(), heap: await stack.metric('nodejs_heap_size_used_bytes') });
  const samples = [await memory('start')];
  const segments: Array<{ label: string; result: AutocannonResult; upstream: number }> = [];
  try {
    for (const label of ['first third', 'second third', 'last third']) {
      process.stderr.write(`load: ${label} (${Math.round(duration / 3)} s, ${connections} connections)\n`);
      stack.emulator.resetCounters();
      const result = await autocannon({ url: `${stack.url}/graphql`, connections, duration: Math.max(1, Math.round(duration / 3)), workers: 1, requests });
      segments.push({ label, result, upstream: stack.emulator.counters.requests });
      samples.push(await memory(`after ${label}`));
    }
  } finally {
    await stack.close();
  }

  process.stdout.write(
    `${table(
      ['segment', 'req/s', 'p50 ms', 'p99 ms', 'requests', 'errors', 'non-2xx', 'upstream requests'],
      segments.map(({ label, result, upstream }) => [label, Math.round(result.requests.average), result.latency.p50, result.latency.p99, result.requests.total, result.errors + result.timeouts, result.non2xx, upstream]),
    )}\n\n${table(
      ['memory', 'RSS MiB', 'heap used MiB'],
      samples.map((s) => [s.label, mb(s.rss), mb(s.heap)]),
    )}\n\n(machine: ${cpus().length} CPUs, load average ${loadavg()[0].toFixed(1)}; ${duration} s, ${connections} connections, ${requests.length} distinct bodies over ${ids.length} products, emulator latency ${latencyMs} ms, cache on in memory)\n`,
  );
  return segments.some((s) => s.result.errors + s.result.timeouts + s.result.non2xx > 0) ? 1 : 0;
}

runMain('load', main);
