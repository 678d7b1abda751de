/**
 * Reading metrics in tests: one value from a registry (summed over the series that match the given
 * labels), and the metric names a `/metrics` text declares (HELP/TYPE lines included, so a metric
 * with no sample yet still counts).
 */
import type { MetricValue, Registry } from 'prom-client';

/** A sample as `metric.get()` gives it: histograms add the series name (`_bucket`, `_sum`, `_count`). */
type Sample = MetricValue<string> & { metricName?: string };

/** Histogram series names that belong to their base metric. */
const HISTOGRAM_SUFFIX = /_(bucket|sum|count)$/;

/**
 * The value of `name` (a counter, gauge, or a histogram's `_count`/`_sum`/`_bucket`) summed over the
 * series whose labels include `labels`; 0 when there is none.
 */
export async function metricValue(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name) ?? registry.getSingleMetric(name.replace(HISTOGRAM_SUFFIX, ''));
  if (!metric) throw new Error(`no metric ${name} in the registry`);
  const values = (await metric.get()).values as Sample[];
  return values
    .filter((v) => (v.metricName ?? name) === name && Object.entries(labels).every(([k, x]) => String((v.labels as Record<string, unknown>)[k]) === x))
    .reduce((sum, v) => sum + v.value, 0);
}

/** The label sets of `name`'s series (for a histogram, of its `_count` series). */
export async function metricLabels(registry: Registry, name: string): Promise<Array<Record<string, string>>> {
  const metric = registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name} in the registry`);
  const got = await metric.get();
  const histogram = String(got.type) === 'histogram';
  return (got.values as Sample[])
    .filter((v) => !histogram || v.metricName === `${name}_count`)
    .map((v) => Object.fromEntries(Object.entries(v.labels).map(([k, x]) => [k, String(x)])));
}

/** Every metric name a Prometheus text exposition declares or samples. */
export function exportedMetricNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const declared = /^# (?:HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
    if (declared) names.add(declared[1]!);
    else if (line && !line.startsWith('#')) names.add(/^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)![0]);
  }
  return names;
}
