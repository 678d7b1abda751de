/**
 * What went over the wire, from the emulator's request log: the `$filter` and `$params` of each
 * request, and a strict check that the filter text holds nothing but attribute names of the table,
 * comparators, `AND`/`OR`/`NOT`/`IN`, parentheses, `:n` placeholders in every value position, and
 * the keyword `null` (only as `attr = null`, which 4D cannot take through a placeholder). Any user
 * text inlined into the filter fails this check, whatever the text is.
 */
import type { RequestLogEntry } from '../../src/emulator/index.js';
import { findTable } from '../../src/legacy/tables.js';

/** The decoded query parameters of a logged request (the target is logged as sent). */
export function queryOf(entry: RequestLogEntry): Map<string, string> {
  const params = new Map<string, string>();
  const q = entry.path.indexOf('?');
  if (q < 0) return params;
  for (const part of entry.path.slice(q + 1).split('&')) {
    const eq = part.indexOf('=');
    const key = decodeURIComponent(eq < 0 ? part : part.slice(0, eq));
    params.set(key, eq < 0 ? '' : decodeURIComponent(part.slice(eq + 1)));
  }
  return params;
}

const TOKEN = /\s+|===|!==|<=|>=|=|<|>|#|\(|\)|:\d+|[\p{L}_][\p{L}\p{N}_]*/uy;

function tokens(filter: string): string[] {
  const out: string[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < filter.length) {
    const at = TOKEN.lastIndex;
    const m = TOKEN.exec(filter);
    if (!m) throw new Error(`unexpected text at ${at} of $filter ${JSON.stringify(filter)}: ${JSON.stringify(filter.slice(at, at + 20))}`);
    if (!/^\s+$/.test(m[0])) out.push(m[0]);
  }
  return out;
}

const COMPARATORS = new Set(['===', '!==', '=', '<', '<=', '>', '>=']);
const KEYWORDS = new Set(['AND', 'OR', 'NOT', 'IN', 'null']);

/**
 * Parses `filter` with the grammar the legacy client may produce and returns the placeholder
 * numbers in order; throws naming what is out of place.
 *
 *   expr := term (("AND" | "OR") term)*
 *   term := "NOT" "(" expr ")" | "(" expr ")" | attr comparator ":n" | attr "IN" ":n" | attr "=" "null"
 */
export function placeholdersOf(table: string, filter: string): number[] {
  const def = findTable(table);
  if (!def) throw new Error(`unknown table ${table}`);
  const attributes = new Set(['__KEY', '__STAMP', '__TIMESTAMP', ...def.attributes.map((a) => a.name)]);
  const list = tokens(filter);
  const used: number[] = [];
  let i = 0;
  const fail = (what: string): never => {
    throw new Error(`$filter ${JSON.stringify(filter)}: ${what} at token ${i} (${JSON.stringify(list[i] ?? '<end>')})`);
  };
  const expect = (token: string) => (list[i] === token ? i++ : fail(`expected ${JSON.stringify(token)}`));
  const placeholder = () => {
    const m = /^:(\d+)$/.exec(list[i] ?? '');
    if (!m) fail('expected a :n placeholder in a value position');
    used.push(Number(m![1]));
    i++;
  };
  const term = (): void => {
    const t = list[i];
    if (t === 'NOT') {
      i++;
      expect('(');
      expr();
      expect(')');
    } else if (t === '(') {
      i++;
      expr();
      expect(')');
    } else if (t !== undefined && attributes.has(t) && !KEYWORDS.has(t)) {
      i++;
      const op = list[i];
      if (op === 'IN') {
        i++;
        placeholder();
      } else if (op !== undefined && COMPARATORS.has(op)) {
        i++;
        if (op === '=' && list[i] === 'null') i++;
        else placeholder();
      } else fail('expected a comparator');
    } else fail(`expected an attribute of ${table}, NOT or "("`);
  };
  const expr = (): void => {
    term();
    while (list[i] === 'AND' || list[i] === 'OR') {
      i++;
      term();
    }
  };
  expr();
  if (i !== list.length) fail('unexpected trailing tokens');
  return used;
}

/**
 * Checks every logged request to `table` that carries a `$filter`: the grammar above, placeholders
 * numbered 1…n in order, and a `$params` JSON array of exactly n values. Returns how many filters
 * were checked.
 */
export function checkFilters(log: readonly RequestLogEntry[], table: string): number {
  let checked = 0;
  for (const entry of log) {
    const query = queryOf(entry);
    const quoted = query.get('$filter');
    if (quoted === undefined) continue;
    // 4D takes the filter in double quotes and the parameters in single quotes.
    const filter = /^"([^"]*)"$/.exec(quoted)?.[1];
    if (filter === undefined) throw new Error(`$filter ${JSON.stringify(quoted)} is not one double-quoted text`);
    if (entry.table !== table) throw new Error(`a $filter went to ${entry.table ?? entry.path}, expected ${table}`);
    const used = placeholdersOf(table, filter);
    used.forEach((n, k) => {
      if (n !== k + 1) throw new Error(`$filter ${JSON.stringify(filter)}: placeholder :${n} where :${k + 1} was due`);
    });
    const raw = query.get('$params');
    const params: unknown = raw === undefined ? [] : JSON.parse(/^'([\s\S]*)'$/.exec(raw)?.[1] ?? 'null');
    if (!Array.isArray(params) || params.length !== used.length) {
      throw new Error(`$filter ${JSON.stringify(filter)} has ${used.length} placeholders but $params is ${raw}`);
    }
    checked++;
  }
  return checked;
}
