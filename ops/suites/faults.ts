/**
 * `npm run faults`: the subgraph (its own process, started as in production) under the faults the
 * ERP and Redis really have, one scenario after another over one stack: latency spikes, 5xx
 * bursts, dropped connections, a 402 storm (licence pool full), mass session expiry, the ERP down
 * (answers served stale from the cache), Redis down and back.
 *
 * Each scenario runs readers and writers for a baseline, injects the fault for a while, clears it,
 * and keeps going to see the recovery. Per scenario: requests answered, errors by code (during the
 * fault and after), read p50/p99 during the fault, writes acknowledged, lost and doubled (must be
 * 0: the emulator's store is compared after every write), and the time to recover (from clearing
 * the fault to the end of the last failed request after it).
 *
 * Options: --baseline S (default 1.5), --fault S (default 5), --recover S (default 4),
 * --readers N (default 6), --writers N (default 3); also FAULTS_* variables. Exit 1 when a write
 * was lost or doubled.
 */
import { cpus, loadavg } from 'node:os';
import { numberParam, readFlags, runMain } from '../../bench/params.js';
import { startStack, type Stack } from './stack.js';
import { post, quantile, startTraffic, table, type Sample } from './traffic.js';

const USAGE = 'usage: npm run faults -- [--baseline S] [--fault S] [--recover S] [--readers N] [--writers N]';

interface Scenario {
  readonly name: string;
  /** Injects the fault; returns the function that clears it. */
  inject(stack: Stack): Promise<() => Promise<void> | void> | (() => Promise<void> | void);
  /** Seconds of fault instead of --fault. */
  readonly faultS?: number;
  /** Besides answering again: what "recovered" means (polled after clearing, for at most `recoverS`). */
  recovered?(stack: Stack): Promise<boolean>;
  /** Seconds after clearing instead of --recover (at least). */
  readonly recoverS?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let probes = 0;
/** Whether a read that no cache can answer (a filter never sent before) succeeds: 4D is reachable through the subgraph again. */
async function upstreamServes(stack: Stack): Promise<boolean> {
  const { outcome } = await post(stack.url, 'query ($s: String!) { products(filter: { sku: { eq: $s } }, first: 1) { totalCount } }', { s: `probe-${process.pid}-${probes++}` }, 5000);
  return outcome === 'ok';
}

const SCENARIOS: Scenario[] = [
  {
    name: 'latency spike 400±200 ms',
    inject: ({ emulator }) => {
      emulator.setLatency(400, 200);
      return () => emulator.setLatency(0);
    },
  },
  {
    name: '5xx burst (60 × 503)',
    inject: ({ emulator }) => {
      emulator.failNext(60, 503);
      return () => emulator.clearFaults();
    },
  },
  {
    name: 'dropped connections (60)',
    inject: ({ emulator }) => {
      emulator.dropNext(60);
      return () => emulator.clearFaults();
    },
  },
  {
    name: '402 storm (pool full, sessions gone)',
    inject: ({ emulator }) => {
      emulator.setSessionLimit(0);
      emulator.expireAllSessions();
      return () => emulator.setSessionLimit(10);
    },
    // The client's licence breaker (LEGACY_SESSION_LIMIT_BREAKER_S, 30 s) keeps it from logging in for a while.
    recovered: upstreamServes,
    recoverS: 40,
  },
  {
    name: 'mass session expiry (every 250 ms)',
    inject: ({ emulator }) => {
      const timer = setInterval(() => emulator.expireAllSessions(), 250);
      return () => clearInterval(timer);
    },
  },
  {
    name: 'ERP down (every request dropped)',
    faultS: 6,
    inject: ({ emulator }) => {
      emulator.dropNext(10_000_000);
      return () => emulator.clearFaults();
    },
  },
  {
    name: 'Redis down and back',
    inject: async ({ redis }) => {
      await redis!.stop();
      return () => redis!.start();
    },
    recovered: async (stack) => (await stack.metric('cache_store_up')) === 1,
    recoverS: 20,
  },
];

interface Row {
  name: string;
  answered: string;
  faultReads: string;
  upstream: string;
  faultErrors: string;
  afterErrors: string;
  p50: number;
  p99: number;
  writes: number;
  lost: number;
  doubled: number;
  savedDespiteError: number;
  recoverMs: number;
}

function codes(samples: readonly Sample[]): string {
  const counts = new Map<string, number>();
  for (const s of samples) if (s.outcome !== 'ok') counts.set(s.outcome, (counts.get(s.outcome) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}`).join(', ') || '-';
}

async function main(): Promise<number> {
  const flag = readFlags(process.argv.slice(2), ['baseline', 'fault', 'recover', 'readers', 'writers'], USAGE);
  if (!flag) return 0;
  const baselineMs = numberParam('baseline', flag('baseline'), 'FAULTS_BASELINE_S', 1.5, { min: 0, max: 60 }) * 1000;
  const faultMs = numberParam('fault', flag('fault'), 'FAULTS_FAULT_S', 5, { min: 0.5, max: 60 }) * 1000;
  const recoverMs = numberParam('recover', flag('recover'), 'FAULTS_RECOVER_S', 4, { min: 0.5, max: 60 }) * 1000;
  const readers = numberParam('readers', flag('readers'), 'FAULTS_READERS', 6, { integer: true, min: 1, max: 100 });
  const writers = numberParam('writers', flag('writers'), 'FAULTS_WRITERS', 3, { integer: true, min: 0, max: 20 });

  // A short TTL, so that "ERP down" outlives freshness and the cache must serve stale answers.
  const stack = await startStack({ redis: true, env: { CACHE_TTL_S: '2', CACHE_GRACE_S: '600', LEGACY_API_TIMEOUT_MS: '3000' } });
  process.stderr.write(`faults: subgraph pid ${stack.pid} at ${stack.url}, emulator ${stack.emulator.url}, redis ${stack.redis!.url}\n`);
  const keys = stack.emulator.db.table('Artikel_Variante')!.rows().map((r) => r.__KEY);
  const rows: Row[] = [];
  try {
    for (const [index, scenario] of SCENARIOS.entries()) {
      process.stderr.write(`faults: ${scenario.name}\n`);
      const writeIds = keys.slice(60 + index * writers, 60 + (index + 1) * writers);
      stack.emulator.resetCounters();
      const traffic = startTraffic(stack, { readers, readIds: keys.slice(0, 40), writeIds, tag: `faults ${index}` });
      await sleep(baselineMs);
      const injectedAt = performance.now();
      const clear = await scenario.inject(stack);
      await sleep(scenario.faultS ? scenario.faultS * 1000 : faultMs);
      await clear();
      const clearedAt = performance.now();
      let recoveredAt = clearedAt;
      const window = Math.max(recoverMs, (scenario.recoverS ?? 0) * 1000);
      if (scenario.recovered) {
        while (!(await scenario.recovered(stack).catch(() => false)) && performance.now() - clearedAt < window) await sleep(100);
        recoveredAt = performance.now();
      }
      await sleep(Math.max(0, recoverMs - (recoveredAt - clearedAt)));
      await traffic.stop();
      stack.emulator.clearFaults();

      const fault = traffic.samples.filter((s) => s.start >= injectedAt && s.start < clearedAt);
      const after = traffic.samples.filter((s) => s.start >= clearedAt);
      const c = stack.emulator.counters;
      const upstream = `${c.requests} req, ${c.logins} logins, ${c.rejected402} × 402, ${c.faultsInjected} faults`;
      const lastFailure = Math.max(recoveredAt, ...after.filter((s) => s.outcome !== 'ok').map((s) => s.end));
      const faultReads = fault.filter((s) => s.kind === 'read' && s.outcome === 'ok').map((s) => s.end - s.start);
      const all = traffic.samples;
      rows.push({
        name: scenario.name,
        answered: `${all.filter((s) => s.outcome === 'ok').length}/${all.length}`,
        faultReads: `${faultReads.length}/${fault.filter((s) => s.kind === 'read').length}`,
        upstream,
        faultErrors: codes(fault),
        afterErrors: codes(after),
        p50: Math.round(quantile(faultReads, 0.5)),
        p99: Math.round(quantile(faultReads, 0.99)),
        writes: traffic.writes.acknowledged,
        lost: traffic.writes.lost,
        doubled: traffic.writes.doubled,
        savedDespiteError: traffic.writes.savedDespiteError,
        recoverMs: Math.round(lastFailure - clearedAt),
      });
      await sleep(500);
    }
  } finally {
    await stack.close();
  }

  process.stdout.write(
    `${table(
      ['scenario', 'answered', 'reads ok in fault', 'upstream (whole scenario)', 'errors during fault', 'errors after clearing', 'read p50 ms', 'read p99 ms', 'writes ok', 'lost', 'doubled', 'saved despite error', 'recovery ms'],
      rows.map((r) => [r.name, r.answered, r.faultReads, r.upstream, r.faultErrors, r.afterErrors, r.p50, r.p99, r.writes, r.lost, r.doubled, r.savedDespiteError, r.recoverMs]),
    )}\n\n` +
      `(machine: ${cpus().length} CPUs, load average ${loadavg()[0].toFixed(1)}; fault ${faultMs / 1000} s after a ${baselineMs / 1000} s baseline, ${recoverMs / 1000} s after clearing; ${readers} readers, ${writers} writers; ` +
      `"read p50/p99": successful reads started during the fault; "recovery": from clearing the fault to the end of the last failed request after it, for Redis also until cache_store_up is 1 again)\n`,
  );
  return rows.some((r) => r.lost > 0 || r.doubled > 0) ? 1 : 0;
}

runMain('faults', main);
