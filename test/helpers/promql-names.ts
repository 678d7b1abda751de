/**
 * The metric names a PromQL expression reads, from Prometheus's own grammar
 * (`@prometheus-io/lezer-promql`, the parser of the Prometheus UI): the names of the vector
 * selectors, so functions, keywords, label names and matchers never count. An expression that does
 * not parse throws, naming where (there is no promtool here: this is the syntax check too).
 * Grafana's interval variables (`$__rate_interval`, `$__interval`, …) are read as `5m`.
 */
import { parser } from '@prometheus-io/lezer-promql';

/** The metric names `expr` reads, in order of appearance, without duplicates. @throws Error when it does not parse */
export function metricNamesOf(expr: string): string[] {
  const source = expr.replace(/\$__\w+|\$\{__\w+\}/g, '5m');
  const cursor = parser.parse(source).cursor();
  const names: string[] = [];
  do {
    if (cursor.type.isError) throw new Error(`PromQL does not parse at ${cursor.from}: ${JSON.stringify(source.slice(Math.max(0, cursor.from - 20), cursor.from + 20))} in ${JSON.stringify(expr)}`);
    if (cursor.name === 'Identifier' && cursor.node.parent?.name === 'VectorSelector') {
      const name = source.slice(cursor.from, cursor.to);
      if (!names.includes(name)) names.push(name);
    }
  } while (cursor.next());
  return names;
}

/** The metrics a Grafana variable query reads: `label_values(metric, label)`, `label_values(label)`, `query_result(expr)`, or PromQL. */
export function metricOfLabelValues(query: string): string[] {
  const match = /^\s*label_values\(\s*(.+?)\s*,\s*\w+\s*\)\s*$/.exec(query);
  if (match) return metricNamesOf(match[1]!);
  if (/^\s*label_values\(\s*\w+\s*\)\s*$/.test(query)) return [];
  return metricNamesOf(query.replace(/^\s*query_result\((.*)\)\s*$/, '$1'));
}
