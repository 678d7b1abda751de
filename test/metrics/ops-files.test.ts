/**
 * The Grafana dashboard and the Prometheus alert rules parse as PromQL and read only metrics the
 * server really exports (there is no promtool here: this is the check). The real subgraph process runs over the emulator
 * with some traffic, and its `/metrics` names (HELP/TYPE lines included, so a metric without a
 * sample yet still counts) are compared with every metric name in every PromQL expression. Renaming
 * a metric without updating `ops/` fails here.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { exportedMetricNames } from '../helpers/metrics.js';
import { metricNamesOf, metricOfLabelValues } from '../helpers/promql-names.js';

const entry = fileURLToPath(new URL('../../src/index.ts', import.meta.url));
const dashboard = JSON.parse(readFileSync(new URL('../../ops/grafana/wsz-subgraph.json', import.meta.url), 'utf8')) as Dashboard;
const rules = parseYaml(readFileSync(new URL('../../ops/prometheus/alerts.yml', import.meta.url), 'utf8')) as RuleFile;

interface Target {
  expr?: string;
  refId?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  type: string;
  title?: string;
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  __inputs?: Array<{ name: string; type: string; pluginId: string }>;
  panels: Panel[];
  templating?: { list: Array<{ name: string; query?: string | { query: string } }> };
}
interface Rule {
  alert?: string;
  record?: string;
  expr?: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: Array<{ name: string; rules: Rule[] }>;
}

const allPanels = (panels: Panel[]): Panel[] => panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
const allRules = rules.groups.flatMap((g) => g.rules);
const recorded = new Set(allRules.flatMap((r) => (r.record ? [r.record] : [])));

/** Every PromQL expression of the ops files, with where it is. */
function expressions(): Array<{ where: string; expr: string; names: string[] }> {
  const out: Array<{ where: string; expr: string; names: string[] }> = [];
  for (const panel of allPanels(dashboard.panels)) {
    for (const t of panel.targets ?? []) if (t.expr) out.push({ where: `dashboard panel "${panel.title}" ${t.refId}`, expr: t.expr, names: metricNamesOf(t.expr) });
  }
  for (const v of dashboard.templating?.list ?? []) {
    const query = typeof v.query === 'string' ? v.query : v.query?.query;
    if (query) out.push({ where: `dashboard variable ${v.name}`, expr: query, names: metricOfLabelValues(query) });
  }
  for (const r of allRules) out.push({ where: `rule ${r.alert ?? r.record}`, expr: r.expr ?? '', names: metricNamesOf(r.expr ?? '') });
  return out;
}

describe('reading metric names from PromQL', () => {
  it('finds the selectors’ names, not functions, keywords, label lists, matchers, ranges or Grafana variables', () => {
    expect(
      metricNamesOf(
        'histogram_quantile(0.99, sum by (le, table) (rate(a_seconds_bucket{environment=~"$environment",x="b_total"}[$__rate_interval]))) / on (environment) group_left (z) max without (y) (b_total offset 5m) > bool 1e3 and c:rec unless d',
      ),
    ).toEqual(['a_seconds_bucket', 'b_total', 'c:rec', 'd']);
    expect(metricNamesOf('sum(rate(x_total[5m])) by (le) or vector(0)')).toEqual(['x_total']);
    expect(metricNamesOf('time() - max(ts_seconds) > 5 * max(interval_seconds)')).toEqual(['ts_seconds', 'interval_seconds']);
    expect(metricOfLabelValues('label_values(legacy_upstream_requests_total, environment)')).toEqual(['legacy_upstream_requests_total']);
  });

  it('refuses an expression that does not parse', () => {
    expect(() => metricNamesOf('sum by (le (rate(x_total[5m]))')).toThrow(/does not parse/);
  });
});

describe('the dashboard and the alert rules', () => {
  let emulator: Emulator;
  let child: ChildProcess | undefined;
  let text = '';

  beforeAll(async () => {
    emulator = await startEmulator({ port: 0 });
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const key of Object.keys(env)) if (/^(LEGACY_|REDIS_URL|WSZ_|EMULATOR_|CACHE|CHANGE_|METRICS_)/.test(key)) delete env[key];
    Object.assign(env, {
      LEGACY_API_URL: emulator.url,
      LEGACY_API_USERNAME: 'wsz',
      LEGACY_API_PASSWORD: 'wsz',
      LEGACY_LICENCE_POOL_SIZE: '10',
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
    });
    child = spawn(process.execPath, ['--import', 'tsx', entry], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let port: number | undefined;
    for await (const line of createInterface({ input: child.stdout! })) {
      const parsed = JSON.parse(line) as { msg: string; port?: number };
      if (parsed.msg.startsWith('subgraph ready')) {
        port = parsed.port;
        break;
      }
    }
    if (!port) throw new Error('the subgraph did not get ready');
    child.stdout!.resume(); // later log lines must never fill the pipe and stall the child
    const base = `http://127.0.0.1:${port}`;
    // Some traffic: a read that logs in, the same again (a cache hit), an error, a refused operation.
    for (const query of ['query Families { productFamilies(first: 2) { totalCount } }', 'query Families { productFamilies(first: 2) { totalCount } }', '{ nothing }']) {
      await fetch(`${base}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
    }
    text = await (await fetch(`${base}/metrics`)).text();
  }, 60_000);

  afterAll(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
    await emulator.close();
  });

  it('read only metrics the subgraph exports (or the rules record)', () => {
    const exported = exportedMetricNames(text);
    const histograms = new Set([...text.matchAll(/^# TYPE (\S+) histogram$/gm)].map((m) => m[1]!));
    const known = (name: string) => exported.has(name) || recorded.has(name) || histograms.has(name.replace(/_(bucket|sum|count)$/, ''));
    const all = expressions();
    expect(all.length).toBeGreaterThan(30);
    const unknown = all.flatMap(({ where, names }) => names.filter((n) => !known(n)).map((n) => `${where}: ${n}`));
    expect(unknown).toEqual([]);
    // The check has teeth: every expression reads at least one metric, and a renamed one is caught.
    for (const { where, names } of all) expect(names.length, where).toBeGreaterThan(0);
    expect(known('legacy_upstream_request_duration_seconds_bucket')).toBe(true);
    expect(known('legacy_upstream_request_duration_second_bucket')).toBe(false);
  });

  it('the process exports the licence pool it was given, per environment', () => {
    expect(text).toMatch(/^legacy_licence_pool_size\{environment="[^"]+"\} 10$/m);
    expect(text).toMatch(/^# TYPE change_watcher_last_poll_timestamp_seconds gauge$/m);
  });

  it('every alert has an expression, a duration, a severity and a summary; recording rules have a name with a colon', () => {
    const alerts = allRules.filter((r) => r.alert);
    expect(alerts.map((a) => a.alert).sort()).toEqual(
      ['WszBreakerOpen', 'WszCacheStoreDown', 'WszLicenceRefused', 'WszLicencesNearPoolSize', 'WszUpstreamErrorRatio', 'WszWatcherLagHigh', 'WszWatcherNotPolling'].sort(),
    );
    for (const a of alerts) {
      expect(a.expr?.trim(), a.alert).toBeTruthy();
      expect(a.for, a.alert).toMatch(/^\d+[smhd]$/);
      expect(['info', 'warning', 'critical'], a.alert).toContain(a.labels?.severity);
      expect(a.annotations?.summary?.trim(), a.alert).toBeTruthy();
    }
    for (const r of allRules.filter((x) => x.record)) expect(r.record).toMatch(/^[a-z_]+:[a-z_]+:[a-z0-9_]+$/);
  });

  it('the dashboard is importable: a Prometheus datasource input that every panel and query uses', () => {
    expect(dashboard.__inputs).toEqual([expect.objectContaining({ name: 'DS_PROMETHEUS', type: 'datasource', pluginId: 'prometheus' })]);
    const panels = allPanels(dashboard.panels).filter((p) => p.type !== 'row');
    expect(panels.length).toBeGreaterThan(15);
    for (const p of panels) {
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: '${DS_PROMETHEUS}' });
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets ?? []) expect(t.datasource, p.title).toEqual(p.datasource);
    }
  });
});
