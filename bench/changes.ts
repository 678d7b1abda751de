/**
 * `npm run bench:changes`: how fast a change made in the ERP itself (a clerk at the 4D desktop, not
 * through the graph) is served, and what watching costs the ERP.
 *
 * Two replicas (`buildServer` with a `Cache` each, sharing one Redis namespace, as two processes
 * of a deployment would) over the 4D REST emulator with data change tracking; each replica runs a
 * `ChangeWatcher` as `src/index.ts` does (one leads, the other follows) on real timers.
 *
 * 1. Change → served: `--changes` times, a product both replicas have cached is changed at the
 *    emulator's desktop at a random moment of the poll cycle; both replicas are then asked every
 *    `--probe-ms` until one serves the new name. p50, p90, p99 and max of that time.
 * 2. Idle: upstream requests per minute over `--window` seconds with nothing changing and no
 *    queries (the emulator's counters).
 * 3. Steady change rate: the same with `--rate` desktop changes per second spread over the tables.
 *
 * Options (flags win over environment variables):
 *   --poll MS        BENCH_POLL_MS       the watchers' poll interval (default 2000, the CHANGE_POLL_MS default)
 *   --changes N      BENCH_CHANGES       changes timed in part 1 (default 100)
 *   --probe-ms MS    BENCH_PROBE_MS      how often the replicas are asked while waiting (default 5)
 *   --window S       BENCH_WINDOW_S      seconds counted in parts 2 and 3 (default 30)
 *   --rate N         BENCH_RATE          desktop changes per second in part 3 (default 1)
 *   --latency MS     BENCH_LATENCY_MS    emulated upstream latency per request (default 5)
 *   --seed N         BENCH_SEED          PRNG seed (default 42)
 *
 * Needs Redis (`REDIS_URL`, default `redis://127.0.0.1:6379`); a unique namespace is used. Results
 * go to stdout (a table, then a README-ready markdown block), progress to stderr.
 */
import { randomUUID } from 'node:crypto';
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import { createCache, type Cache } from '../src/cache/index.js';
import { Random } from '../src/emulator/data/random.js';
import { TYPE_TABLES } from '../src/runtime.js';
import { ChangeWatcher, NO_WATCHER_METRICS, WATCHED_TABLES } from '../src/watcher/index.js';
import { TEST_CACHE_SETTINGS } from '../test/helpers/cached-subgraph.js';
import { numberParam, readFlags, runMain } from './params.js';
import { startBenchSubgraph, type BenchServer } from './subgraph.js';

const USAGE = 'usage: npm run bench:changes -- [--poll MS] [--changes N] [--probe-ms MS] [--window S] [--rate N] [--latency MS] [--seed N]';
const PRODUCT = `query ($id: ID!) { product(id: $id) { id name } }`;
const LOGGER = pino({ level: 'silent' });

interface Params {
  pollMs: number;
  changes: number;
  probeMs: number;
  windowS: number;
  rate: number;
  latencyMs: number;
  seed: number;
}

function readParams(argv: string[]): Params | undefined {
  const flag = readFlags(argv, ['poll', 'changes', 'probe-ms', 'window', 'rate', 'latency', 'seed'], USAGE);
  if (!flag) return undefined;
  return {
    pollMs: numberParam('poll', flag('poll'), 'BENCH_POLL_MS', 2000, { integer: true, min: 200, max: 600_000 }),
    changes: numberParam('changes', flag('changes'), 'BENCH_CHANGES', 100, { integer: true, min: 1, max: 10_000 }),
    probeMs: numberParam('probe-ms', flag('probe-ms'), 'BENCH_PROBE_MS', 5, { integer: true, min: 1, max: 1000 }),
    windowS: numberParam('window', flag('window'), 'BENCH_WINDOW_S', 30, { integer: true, min: 1, max: 3600 }),
    rate: numberParam('rate', flag('rate'), 'BENCH_RATE', 1, { min: 0.01, max: 100 }),
    latencyMs: numberParam('latency', flag('latency'), 'BENCH_LATENCY_MS', 5, { integer: true, min: 0, max: 10_000 }),
    seed: numberParam('seed', flag('seed'), 'BENCH_SEED', 42, { integer: true, min: 0, max: 2 ** 31 }),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const percentile = (sorted: readonly number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

async function productName(server: BenchServer, id: string): Promise<string> {
  const answer = await server.execute<{ product: { name: string } | null }>(PRODUCT, { id });
  if (answer.errors?.length || !answer.data?.product) throw new Error(`product(${id}) failed: ${JSON.stringify(answer.errors ?? answer.data)}`);
  return answer.data.product.name;
}

async function main(): Promise<number> {
  const params = readParams(process.argv.slice(2));
  if (!params) return 0;
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const namespace = `wsz-bench-changes-${randomUUID().slice(0, 8)}`;
  const rng = new Random(params.seed);
  const random = () => rng.next();
  const subgraph = await startBenchSubgraph({ latencyMs: params.latencyMs, scale: 0.05 });
  const { emulator, client } = subgraph;
  const caches: Cache[] = [0, 1].map(() =>
    createCache({ settings: { ...TEST_CACHE_SETTINGS, debug: false, ttlSeconds: 3600 }, redisUrl, namespace, logger: LOGGER, typeTables: TYPE_TABLES }),
  );
  const replicas = await Promise.all(caches.map((cache) => subgraph.addServer(100, undefined, { cache })));
  const watchers = caches.map(
    (cache) =>
      new ChangeWatcher({
        source: client,
        cache: cache.tagged,
        tables: WATCHED_TABLES,
        strategy: 'auto',
        pollMs: params.pollMs,
        maxKeysPerTable: 1000,
        longestTtlMs: 3_600_000,
        environment: 'bench',
        logger: LOGGER,
        metrics: NO_WATCHER_METRICS,
      }),
  );
  try {
    await Promise.all(watchers.map((w) => w.start(0)));
    await sleep(params.pollMs + 200); // the first poll (nothing recorded: a reset) is behind us
    const ids = emulator.db.table('Artikel_Variante')!.rows().slice(0, 20).map((r) => String(r.__KEY));

    // 1. Change → served
    const times: number[] = [];
    for (let i = 0; i < params.changes; i++) {
      const id = ids[i % ids.length]!;
      for (const r of replicas) await productName(r, id);
      await sleep(random() * params.pollMs);
      const name = `Bench-Änderung ${i}`;
      emulator.desktop.update('Artikel_Variante', id, { Bezeichnung: name });
      const changedAt = performance.now();
      for (;;) {
        const names = await Promise.all(replicas.map((r) => productName(r, id)));
        if (names.includes(name)) break;
        if (performance.now() - changedAt > 10 * params.pollMs) throw new Error(`change ${i} not served within ${10 * params.pollMs} ms`);
        await sleep(params.probeMs);
      }
      times.push(performance.now() - changedAt);
      if ((i + 1) % 10 === 0) process.stderr.write(`bench:changes: ${i + 1}/${params.changes} changes timed\n`);
    }
    const sorted = [...times].sort((a, b) => a - b);

    // 2. Idle
    process.stderr.write(`bench:changes: counting upstream requests for ${params.windowS} s, nothing changing\n`);
    emulator.resetCounters();
    await sleep(params.windowS * 1000);
    const idlePerMinute = (emulator.counters.requests * 60) / params.windowS;

    // 3. Steady change rate, spread over the tables the graph maps
    process.stderr.write(`bench:changes: ${params.rate} desktop change(s) per second for ${params.windowS} s\n`);
    const tables = ['Artikel_Variante', 'Kunden', 'Belege', 'Adressen'];
    emulator.resetCounters();
    const steadyStart = performance.now();
    let made = 0;
    while (performance.now() - steadyStart < params.windowS * 1000) {
      const table = tables[made % tables.length]!;
      const rows = emulator.db.table(table)!.rows();
      emulator.desktop.update(table, String(rows[Math.floor(random() * rows.length)]!.__KEY), {});
      made++;
      await sleep(1000 / params.rate);
    }
    const steadyPerMinute = (emulator.counters.requests * 60) / ((performance.now() - steadyStart) / 1000);
    const logins = emulator.counters.logins;

    const fmt = (ms: number) => `${Math.round(ms)} ms`;
    const rows: Array<[string, string]> = [
      ['change → served, p50', fmt(percentile(sorted, 50))],
      ['change → served, p90', fmt(percentile(sorted, 90))],
      ['change → served, p99', fmt(percentile(sorted, 99))],
      ['change → served, max', fmt(sorted[sorted.length - 1]!)],
      ['upstream requests per minute, idle', idlePerMinute.toFixed(1)],
      [`upstream requests per minute, ${params.rate} change(s)/s`, steadyPerMinute.toFixed(1)],
      ['logins during parts 2 and 3', String(logins)],
    ];
    const setup = `poll ${params.pollMs} ms, ${params.changes} changes, two replicas sharing Redis, emulator latency ${params.latencyMs} ms, ${availableParallelism()} cores, load ${loadavg()[0]!.toFixed(1)}`;
    process.stdout.write(`\n${setup}\n${rows.map(([k, v]) => `${k.padEnd(48)} ${v}`).join('\n')}\n\n`);
    process.stdout.write(`| ${setup} | |\n|---|---:|\n${rows.map(([k, v]) => `| ${k} | ${v} |`).join('\n')}\n`);
    return 0;
  } finally {
    await Promise.all(watchers.map((w) => w.stop()));
    await subgraph.close();
    for (const cache of caches) await cache.close();
  }
}

runMain('bench:changes', main);
