/**
 * Query planning for `$filter`: when the filter's top level is (or is an AND containing) an
 * equality or `IN` on `__KEY` or on an indexed attribute, the candidate rows come from the key map
 * or the index instead of a scan of the whole table; the full compiled predicate then runs on those
 * candidates only. Results are identical to a scan: the same rows, in table (insertion) order.
 *
 * Why the candidates are a superset of the matches: a {@link LookupHint} says every matching row's
 * attribute equals one of the hint's values the way 4D's `===` compares (text case- and
 * diacritic-insensitive through `foldText`, numbers numerically, `null` = no value), which is
 * exactly how `EmulatorTable.findBy` and its indexes compare. `__KEY` is text, so it is compared
 * folded too (`__KEY = 'abc…'` finds `ABC…`): the key map answers that only while every key is
 * ASCII without lowercase letters (`findByFoldedKey`); otherwise the plan falls back to a scan.
 */
import type { EmulatorDatabase, EmulatorTable, Row } from '../data/store.js';
import { foldText } from '../data/values.js';
import { analyzeFilter, type LookupHint, type RowPredicate } from './filter.js';

/** How a filter is evaluated. */
export type QueryPlan =
  | { kind: 'scan'; reason: string }
  /** Candidates from the key map: `values` `__KEY` values looked up. */
  | { kind: 'key'; attribute: '__KEY'; values: number }
  /** Candidates from the index of `attribute`: `values` values looked up. */
  | { kind: 'index'; attribute: string; values: number };

export interface PlannedFilter {
  predicate: RowPredicate;
  plan: QueryPlan;
  /** The rows matching the filter, in table order (a fresh array). */
  rows(): Row[];
}

/**
 * Compiles `filter` (same errors as `compileFilter`) and chooses how to evaluate it on the WHOLE
 * `table` (not on an entity set or any other subset of rows).
 */
export function planFilter(filter: string, params: unknown[] | undefined, table: EmulatorTable, db?: EmulatorDatabase): PlannedFilter {
  const { predicate, lookups } = analyzeFilter(filter, params, table, db);
  const chosen = chooseLookup(table, lookups);
  if (!chosen) {
    const reason = lookups.length === 0 ? 'no top-level equality or IN' : 'no equality or IN on __KEY or an indexed attribute';
    return { predicate, plan: { kind: 'scan', reason }, rows: () => table.rows().filter((r) => predicate(r)) };
  }
  const { hint, lookup } = chosen;
  const plan: QueryPlan =
    hint.attribute === '__KEY'
      ? { kind: 'key', attribute: '__KEY', values: hint.values.length }
      : { kind: 'index', attribute: hint.attribute, values: hint.values.length };
  return {
    predicate,
    plan,
    rows: () => {
      const candidates = new Map<string, Row>(); // by key: IN values may repeat or fold alike
      for (const value of hint.values) {
        const found = lookup(value);
        // The table changed since planning so that the key map no longer answers: scan.
        if (found === undefined) return table.rows().filter((r) => predicate(r));
        for (const row of found) candidates.set(row.__KEY, row);
      }
      const matches: Array<{ row: Row; at: number }> = [];
      for (const row of candidates.values()) if (predicate(row)) matches.push({ row, at: table.position(row.__KEY)! });
      return matches.sort((a, b) => a.at - b.at).map((m) => m.row);
    },
  };
}

/** The plan `planFilter` would choose (for tests and diagnostics). */
export function explainFilter(filter: string, params: unknown[] | undefined, table: EmulatorTable, db?: EmulatorDatabase): QueryPlan {
  return planFilter(filter, params, table, db).plan;
}

/** Rows equal to one hint value; `undefined` when the store cannot answer without a scan. */
type Lookup = (value: LookupHint['values'][number]) => readonly Row[] | undefined;

/** The usable hint with the fewest values (`__KEY` first on ties: at most one row per value). */
function chooseLookup(table: EmulatorTable, hints: readonly LookupHint[]): { hint: LookupHint; lookup: Lookup } | undefined {
  let best: { hint: LookupHint; lookup: Lookup } | undefined;
  for (const hint of hints) {
    const lookup = lookupFor(table, hint);
    if (!lookup) continue;
    const better =
      !best ||
      hint.values.length < best.hint.values.length ||
      (hint.values.length === best.hint.values.length && hint.attribute === '__KEY' && best.hint.attribute !== '__KEY');
    if (better) best = { hint, lookup };
  }
  return best;
}

function lookupFor(table: EmulatorTable, hint: LookupHint): Lookup | undefined {
  if (hint.attribute === '__KEY') {
    if (table.findByFoldedKey('') === undefined) return undefined; // some key is not canonical
    // `__KEY` is never null, and the filter compares it as folded text (values are strings here).
    return (value) => (value === null ? [] : table.findByFoldedKey(foldText(String(value))));
  }
  if (!table.isIndexed(hint.attribute)) return undefined;
  return (value) => table.findBy(hint.attribute, value);
}
