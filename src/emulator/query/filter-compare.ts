/**
 * The values and comparisons of the emulator's `$filter` engine (`filter.ts`): comparators, how a
 * stored value compares with a filter value (text, number, inside objects), and path readers.
 */
import type { Row } from '../data/store.js';
import { foldText } from '../data/values.js';
import { keywordMatcher, wildcardMatcher } from './text.js';
import type { RowPredicate } from './filter.js';


export type Scalar = string | number | boolean | null;

/** A value of the filter with where it came from, for coercion rules and messages. */
export interface ValueRef {
  raw: Scalar;
  /** `:1` for a placeholder, the literal text otherwise. */
  label: string;
}

export type ValueNode = { kind: 'scalar'; ref: ValueRef } | { kind: 'list'; items: ValueRef[]; label: string };

export type Comparator = 'eq' | 'eqLit' | 'ne' | 'neLit' | 'lt' | 'gt' | 'le' | 'ge' | 'in' | 'kw' | 'begin';

export const OPERATORS: Record<string, Comparator> = {
  '=': 'eq',
  '==': 'eq',
  '===': 'eqLit',
  '!=': 'ne',
  '#': 'ne',
  '!==': 'neLit',
  '<': 'lt',
  '>': 'gt',
  '<=': 'le',
  '>=': 'ge',
  '%': 'kw',
};

/** Canonical spelling of each comparator, for messages. */
export const SYMBOLS: Record<Comparator, string> = {
  eq: '=', eqLit: '===', ne: '#', neLit: '!==', lt: '<', gt: '>', le: '<=', ge: '>=', in: 'IN', kw: '%', begin: 'begin',
};

export interface Segment {
  name: string;
  /** `[]` or `[a]` after the name: iterate the collection. */
  each: boolean;
  letter?: string;
}

/** How values at a path compare: by the attribute's type, or inside objects by each stored value's own type ("dynamic"). */
export type AttrKind = 'string' | 'number' | 'bool' | 'date' | 'object' | 'dynamic';

export const NUMERIC = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

export function any(predicates: RowPredicate[]): RowPredicate {
  if (predicates.length === 1) return predicates[0];
  return (row) => {
    for (const p of predicates) if (p(row)) return true;
    return false;
  };
}

export function all(predicates: RowPredicate[]): RowPredicate {
  if (predicates.length === 1) return predicates[0];
  return (row) => {
    for (const p of predicates) if (!p(row)) return false;
    return true;
  };
}

export function toNumber(raw: Scalar): number | undefined {
  if (typeof raw === 'number') return raw;
  // v21 converts a numeric string to the attribute's type ("42" → 42); anything else is an error.
  if (typeof raw === 'string' && NUMERIC.test(raw.trim())) return Number(raw.trim());
  return undefined;
}

export function textTest(cmp: Comparator, value: string): (v: unknown) => boolean {
  const folded = foldText(value);
  let match: (s: string) => boolean;
  switch (cmp) {
    case 'eq':
      match = wildcardMatcher(folded);
      break;
    case 'eqLit':
      match = (s) => s === folded;
      break;
    case 'lt':
      match = (s) => s < folded;
      break;
    case 'gt':
      match = (s) => s > folded;
      break;
    case 'le':
      match = (s) => s <= folded;
      break;
    case 'ge':
      match = (s) => s >= folded;
      break;
    case 'begin':
      match = (s) => s.startsWith(folded);
      break;
    case 'kw':
      match = keywordMatcher(folded);
      break;
    default:
      throw new Error(`unexpected comparator ${cmp}`);
  }
  // Rows share text values (item names repeat variant names), so results are memoised per value.
  const memo = new Map<string, boolean>();
  return (v) => {
    if (typeof v !== 'string') return false;
    let result = memo.get(v);
    if (result === undefined) {
      result = match(foldText(v));
      if (memo.size >= 50_000) memo.clear();
      memo.set(v, result);
    }
    return result;
  };
}

export function numberTest(cmp: Comparator, n: number): (v: unknown) => boolean {
  switch (cmp) {
    case 'eq':
    case 'eqLit':
      return (v) => v === n;
    case 'lt':
      return (v) => typeof v === 'number' && v < n;
    case 'gt':
      return (v) => typeof v === 'number' && v > n;
    case 'le':
      return (v) => typeof v === 'number' && v <= n;
    case 'ge':
      return (v) => typeof v === 'number' && v >= n;
    default:
      throw new Error(`unexpected comparator ${cmp}`);
  }
}

/** Inside object attributes the type comes from the stored value: numbers numerically, text as text. */
export function dynamicTest(cmp: Comparator, raw: Scalar): (v: unknown) => boolean {
  const asText = typeof raw === 'boolean' ? undefined : textTest(cmp, String(raw));
  const n = typeof raw === 'boolean' ? undefined : toNumber(raw);
  const asNumber = n === undefined || cmp === 'kw' || cmp === 'begin' ? undefined : numberTest(cmp, n);
  return (v) => {
    if (typeof v === 'string') return asText !== undefined && asText(v);
    if (typeof v === 'number') return asNumber !== undefined && asNumber(v);
    if (typeof v === 'boolean') return (cmp === 'eq' || cmp === 'eqLit') && (v === raw || String(v) === raw);
    return false;
  };
}

/** Reads the values at an object path; `[]` segments spread collections (a non-collection yields nothing). */
export function pathReader(segments: Segment[]): (row: Row) => unknown[] {
  return (row) => {
    let current: unknown[] = [row[segments[0].name]];
    if (segments[0].each) current = current.flatMap((v) => (Array.isArray(v) ? v : []));
    for (let k = 1; k < segments.length; k++) {
      const { name, each } = segments[k];
      const next: unknown[] = [];
      for (const c of current) {
        const v = c !== null && typeof c === 'object' && !Array.isArray(c) ? (c as Record<string, unknown>)[name] : undefined;
        if (!each) next.push(v);
        else if (Array.isArray(v)) next.push(...v);
      }
      current = next;
    }
    return current;
  };
}
