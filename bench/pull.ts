/**
 * Part of `npm run bench` (and alone: `npx tsx bench/pull.ts [--runs N] [--latency MS] [--scale X]`):
 * a pull of every Artikel_Variante (10,000 rows at emulator scale 1) with a 20 ms upstream latency,
 * the way `wsz fetch --all` streams it, by four strategies:
 *
 * - entity set: `fetchAllPages` (one query on the server, `$entityset/{id}` pages, then release);
 * - ordered paging: `fetchAllPages` with `paging: 'ordered'` (what it does where entity sets are
 *   refused: `$skip`/`$top` ordered by the natural key and `__KEY`, each page re-runs the query);
 * - page after page: `fetchTable` with `$skip`/`$top` in the natural order, one page after the other;
 * - 4 pages at once: the same pages, 4 in flight (the former `fetchAll`; it cannot stream in order
 *   without holding pages back).
 *
 * Every run must return every row once; the upstream requests of a run (no login: the session is
 * opened before) and the median wall time are reported.
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { startEmulator } from '../src/emulator/index.js';
import { createLegacyClient, defaultOrderBy, findTable, type LegacyClient, type Row } from '../src/legacy/index.js';
import { numberParam, readFlags, runMain, UsageError } from './params.js';

const TABLE = 'Artikel_Variante';
const PAGE_SIZE = 500;

export interface PullParams {
  runs: number;
  latencyMs: number;
  scale: number;
}

interface Strategy {
  name: string;
  pull(client: LegacyClient, total: number): AsyncIterable<readonly Row[]>;
}

async function* pages(client: LegacyClient, total: number, parallel: number): AsyncIterable<readonly Row[]> {
  const orderBy = defaultOrderBy(findTable(TABLE)!);
  for (let skip = 0; skip < total; skip += PAGE_SIZE * parallel) {
    const batch = Array.from({ length: Math.min(parallel, Math.ceil((total - skip) / PAGE_SIZE)) }, (_, i) =>
      client.fetchTable(TABLE, { top: PAGE_SIZE, skip: skip + i * PAGE_SIZE, orderBy }),
    );
    for (const page of await Promise.all(batch)) yield page.rows;
  }
}

const STRATEGIES: Strategy[] = [
  {
    name: 'entity set (`fetchAllPages`, the default)',
    async *pull(client) {
      for await (const page of client.fetchAllPages(TABLE, { pageSize: PAGE_SIZE })) yield page.rows;
    },
  },
  {
    name: "ordered paging (`paging: 'ordered'`, where entity sets are refused)",
    async *pull(client) {
      for await (const page of client.fetchAllPages(TABLE, { pageSize: PAGE_SIZE, paging: 'ordered' })) yield page.rows;
    },
  },
  { name: 'page after page (`$skip`/`$top`, no entity set)', pull: (client, total) => pages(client, total, 1) },
  { name: '4 pages at once (the former `fetchAll`, not streamable in order)', pull: (client, total) => pages(client, total, 4) },
];

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Runs the four strategies and returns the Markdown section of the report. */
export async function pullReport(params: PullParams, log: (line: string) => void): Promise<string> {
  const emulator = await startEmulator({ port: 0, scale: params.scale, latencyMs: params.latencyMs });
  const client = createLegacyClient({
    environments: { bench: { baseUrl: emulator.url, username: 'wsz', password: 'wsz' } },
    defaultEnvironment: 'bench',
  });
  try {
    const total = emulator.db.table(TABLE)!.rows().length;
    const loadBefore = loadavg()[0]!;
    await client.ping();
    const lines: string[] = [];
    for (const strategy of STRATEGIES) {
      const times: number[] = [];
      let requests = 0;
      for (let run = 0; run <= params.runs; run++) {
        const before = emulator.counters.requests;
        const started = performance.now();
        const keys = new Set<string>();
        for await (const rows of strategy.pull(client, total)) for (const row of rows) keys.add(row.__KEY);
        const ms = performance.now() - started;
        if (keys.size !== total) throw new Error(`bench verification failed: ${strategy.name} returned ${keys.size} of ${total} rows`);
        if (emulator.counters.logins > 1) throw new Error('bench verification failed: more than one login');
        if (emulator.liveEntitySets() !== 0) throw new Error(`bench verification failed: ${strategy.name} left an entity set behind`);
        requests = emulator.counters.requests - before;
        if (run > 0) times.push(ms); // run 0 warms up
      }
      log(`bench: pull — ${strategy.name}: ${requests} requests, median ${Math.round(median(times))} ms`);
      lines.push(`| ${strategy.name} | ${requests} | ${Math.round(median(times))} |`);
    }
    return [
      '',
      `### Pull of all ${total} ${TABLE} rows (\`wsz fetch --all\`)`,
      '',
      '| strategy | upstream requests | median ms |',
      '| --- | ---: | ---: |',
      ...lines,
      '',
      `- emulator scale ${params.scale}, ${params.latencyMs} ms upstream latency per request, pages of ${PAGE_SIZE} rows, ` +
        `1 warm-up + ${params.runs} measured runs per strategy, one session opened before measuring, every run checked for every row once; ` +
        `emulator and client share this process; 1-min load average ${loadBefore.toFixed(2)} before, ${loadavg()[0]!.toFixed(2)} after`,
      '',
    ].join('\n');
  } finally {
    await client.close();
    await emulator.close();
  }
}

export function readPullParams(str: (flag: string) => string | undefined): PullParams {
  return {
    runs: numberParam('runs', str('runs'), 'BENCH_PULL_RUNS', 5, { integer: true, min: 1, max: 100 }),
    latencyMs: numberParam('latency', str('latency'), 'BENCH_LATENCY_MS', 20, { min: 0, max: 10_000 }),
    scale: numberParam('scale', str('scale'), 'BENCH_PULL_SCALE', 1, { min: 0.0001, max: 1 }),
  };
}

const USAGE = 'usage: npx tsx bench/pull.ts [--runs N] [--latency MS] [--scale X]   (or BENCH_PULL_RUNS, BENCH_LATENCY_MS, BENCH_PULL_SCALE)';

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  runMain('bench:pull', async () => {
    let params: PullParams;
    try {
      const str = readFlags(process.argv.slice(2), ['runs', 'latency', 'scale'], USAGE);
      if (!str) return 0;
      params = readPullParams(str);
    } catch (err) {
      if (err instanceof UsageError) {
        process.stderr.write(`bench:pull: ${err.message}\n${USAGE}\n`);
        return 2;
      }
      throw err;
    }
    process.stdout.write(await pullReport(params, (line) => process.stderr.write(`${line}\n`)));
    return 0;
  });
}
