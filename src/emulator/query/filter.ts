/**
 * The emulator's `$filter` engine: parses the 4D query language of the protocol reference §2.2 and
 * compiles it into a row predicate.
 *
 * Decisions where 4D is silent or ambiguous (all covered by tests):
 * - Precedence: `AND` binds tighter than `OR` and `EXCEPT`, which share one level and associate to
 *   the left (`a OR b AND c` = `a OR (b AND c)`; `a OR b EXCEPT c` = `(a OR b) EXCEPT c`).
 *   `A EXCEPT B` = `A AND NOT(B)`. Parentheses override.
 * - `%` (contains keyword): true when a whole word of the text equals the keyword (`@` wildcard
 *   allowed); words are runs of letters/digits, anything else separates them.
 * - Dates: `"0!0!0"` and `null` both count as null: `Datum=null` finds both, `Datum#null` and range
 *   comparisons find neither.
 * - Every "not equal" comparator (`!=`, `#`, `!==`, `IS NOT`) skips null values, like 4D's `#`.
 * - On a path through a collection (`Preise.Coll[].Art`), `=`-like comparators match when any
 *   element matches and `#`-like ones when no element equals; `[a]` (used once) means "some element".
 */
import type { AttributeDef, TableDef } from '../../legacy/tables.js';
import { EmulatorTable, GLOBAL_STAMP, type EmulatorDatabase, type Row } from '../data/store.js';
import { dayToWire, parseDate, wireDateToDay } from '../data/values.js';
import { QueryErrCode, QueryError, attributeNotFoundMessage } from './errors.js';
import { readAttribute, resolveAttribute } from './tracked.js';
import { stripOuterQuotes, syntaxError, tokenize, type Token } from './filter-lexer.js';
import {
  all,
  any,
  dynamicTest,
  numberTest,
  OPERATORS,
  pathReader,
  SYMBOLS,
  textTest,
  toNumber,
  type AttrKind,
  type Comparator,
  type Scalar,
  type Segment,
  type ValueNode,
  type ValueRef,
} from './filter-compare.js';

export { QueryError, QueryErrCode } from './errors.js';

/** A compiled `$filter`. */
export type RowPredicate = (row: Row) => boolean;

/**
 * An equality the whole filter implies: every row the filter matches has an `attribute` value equal
 * (4D `===`: text folded, no wildcard; numbers numerically; dates by day; `null` = no value) to one
 * of `values`. The values are already converted to the attribute's type (numbers as numbers, dates
 * as wire dates, booleans as booleans, text as given), ready for `EmulatorTable.findBy`; text values
 * never hold a `@` wildcard unless the comparator was `===`/`IS`, where `@` is literal.
 * `values` may be empty (`IN []`): then nothing matches.
 */
export interface LookupHint {
  attribute: string;
  values: Array<string | number | boolean | null>;
}

/** A compiled `$filter` with the equalities a query planner can use to avoid a full scan. */
export interface AnalyzedFilter {
  predicate: RowPredicate;
  /**
   * Alternatives, each sufficient on its own: the filter is (or is an AND containing) an
   * `=`/`==`/`===`/`IS`/`IN` on a plain attribute. Empty when the top level is an OR, EXCEPT, NOT…
   */
  lookups: LookupHint[];
}

/**
 * Compiles a 4D `$filter` into a predicate over rows of `table`.
 *
 * @param filter the `$filter` value; one pair of outer `"…"` or `'…'` is stripped if present.
 * @param params the `$params` JSON array for `:1`, `:2`… placeholders (1-based); default none.
 * @param table the dataclass the filter applies to (attribute names and types come from its definition).
 * @param db reserved for relation paths; the WSZ catalog declares no relations, so unused.
 * @throws {QueryError} on any invalid filter (never matches everything on bad input).
 */
export function compileFilter(
  filter: string,
  params: unknown[] | undefined,
  table: EmulatorTable | TableDef,
  db?: EmulatorDatabase,
): RowPredicate {
  return analyzeFilter(filter, params, table, db).predicate;
}

/**
 * {@link compileFilter} plus the equalities the filter implies at its top level ({@link LookupHint}),
 * for the query planner (`plan.ts`). Same errors as {@link compileFilter}.
 */
export function analyzeFilter(
  filter: string,
  params: unknown[] | undefined,
  table: EmulatorTable | TableDef,
  db?: EmulatorDatabase,
): AnalyzedFilter {
  void db;
  const def = table instanceof EmulatorTable ? table.def : table;
  const source = stripOuterQuotes(filter);
  if (source === '') throw new QueryError(QueryErrCode.emptyQuery, 'The query string is empty');
  const parser = new Parser(tokenize(source), source, def, params ?? [], (name) => resolveAttribute(table, name));
  const { test, lookups } = parser.parse();
  return { predicate: test, lookups };
}

// ---------------------------------------------------------------------------------------------
// Parser + compiler (recursive descent, compiling each node into a closure as it goes)

const isPresent = (v: unknown): boolean => v !== null && v !== undefined;

/** A compiled node: its predicate and the lookups that bound its matches (see {@link LookupHint}). */
interface Compiled {
  test: RowPredicate;
  lookups: LookupHint[];
}

const opaque = (test: RowPredicate): Compiled => ({ test, lookups: [] });

class Parser {
  private i = 0;
  private readonly letters = new Set<string>();

  constructor(
    private readonly tokens: Token[],
    private readonly source: string,
    private readonly def: TableDef,
    private readonly params: unknown[],
    /** Attribute lookup: `findAttribute`, plus `__GlobalStamp` on a tracked table. */
    private readonly attribute: (name: string) => AttributeDef | undefined,
  ) {}

  parse(): Compiled {
    const predicate = this.parseOr();
    const tok = this.peek();
    if (tok.t !== 'eof') throw this.unexpected(tok, 'a conjunction (AND, OR, EXCEPT) or the end of the query');
    return predicate;
  }

  private peek(offset = 0): Token {
    return this.tokens[Math.min(this.i + offset, this.tokens.length - 1)];
  }

  private next(): Token {
    return this.tokens[Math.min(this.i++, this.tokens.length - 1)];
  }

  private unexpected(tok: Token, expected: string): QueryError {
    if (tok.t === 'eof') return syntaxError(this.source, `${expected} expected, found the end of the query`);
    const text = 'v' in tok ? (tok.t === 'param' ? `:${tok.v}` : String(tok.v)) : tok.t;
    return syntaxError(this.source, `${expected} expected, found "${text}"`, tok.pos);
  }

  /** `AND` / `OR` / `EXCEPT` at the current position, or `undefined`. */
  private conjunction(): 'AND' | 'OR' | 'EXCEPT' | undefined {
    const tok = this.peek();
    if (tok.t === 'conj') return tok.v;
    if (tok.t === 'word') {
      const upper = tok.v.toUpperCase();
      if (upper === 'AND' || upper === 'OR' || upper === 'EXCEPT') return upper;
    }
    return undefined;
  }

  private parseOr(): Compiled {
    // Runs of OR become one flat "any of" (no deep closure chains on long filters).
    const first = this.parseAnd();
    let anyOf = [first.test];
    let plain = true; // no OR / EXCEPT: the lookups of `first` bound the whole expression
    for (let op = this.conjunction(); op === 'OR' || op === 'EXCEPT'; op = this.conjunction()) {
      this.next();
      plain = false;
      const right = this.parseAnd().test;
      if (op === 'OR') anyOf.push(right);
      else {
        const base = any(anyOf);
        anyOf = [(row) => base(row) && !right(row)];
      }
    }
    return { test: any(anyOf), lookups: plain ? first.lookups : [] };
  }

  private parseAnd(): Compiled {
    const first = this.parseUnary();
    const allOf = [first.test];
    const lookups = [...first.lookups]; // a row matching an AND matches each operand
    while (this.conjunction() === 'AND') {
      this.next();
      const next = this.parseUnary();
      allOf.push(next.test);
      lookups.push(...next.lookups);
    }
    return { test: all(allOf), lookups };
  }

  private parseUnary(): Compiled {
    const tok = this.peek();
    if (tok.t === 'word' && tok.v.toUpperCase() === 'NOT') {
      this.next();
      if (this.peek().t !== '(') throw this.unexpected(this.peek(), '"(" after NOT');
      const inner = this.parseGroup().test;
      return opaque((row) => !inner(row));
    }
    if (tok.t === '(') return this.parseGroup();
    return this.parsePredicate();
  }

  private parseGroup(): Compiled {
    this.next(); // (
    const inner = this.parseOr();
    const close = this.next();
    if (close.t !== ')') throw this.unexpected(close, '")"');
    return inner;
  }

  // --- predicate -----------------------------------------------------------------------------

  private parsePredicate(): Compiled {
    const start = this.peek();
    if (this.conjunction() || start.t !== 'word') throw this.unexpected(start, 'an attribute');
    const segments = this.parsePath();
    const pathText = segments.map((s) => s.name + (s.each ? `[${s.letter ?? ''}]` : '')).join('.');
    const cmp = this.parseComparator(pathText);
    const value = this.parseValue(cmp);
    const test = this.compilePredicate(segments, pathText, cmp, value);
    const hint = segments.length === 1 && !segments[0].each ? this.lookupHint(segments[0].name, cmp, value) : undefined;
    return { test, lookups: hint ? [hint] : [] };
  }

  /**
   * The {@link LookupHint} of a compiled (so valid) predicate on a plain attribute, or `undefined`
   * when its matches are not a set of equal values: other comparators, or a `@` wildcard in text
   * compared with `=`/`==`/`IN`.
   */
  private lookupHint(name: string, cmp: Comparator, value: ValueNode): LookupHint | undefined {
    if (cmp !== 'eq' && cmp !== 'eqLit' && cmp !== 'in') return undefined;
    const attr = this.attribute(name)!;
    const items = value.kind === 'list' ? value.items : [value.ref];
    const values: LookupHint['values'] = [];
    for (const { raw } of items) {
      if (raw === null) {
        values.push(null);
        continue;
      }
      switch (attr.type) {
        case 'string':
          // valueTest: String(raw), folded; `=`-like comparators treat `@` as a wildcard.
          if (cmp !== 'eqLit' && String(raw).includes('@')) return undefined;
          values.push(String(raw));
          break;
        case 'long':
        case 'number':
          values.push(toNumber(raw)!); // valueTest accepted it
          break;
        case 'date': {
          const parsed = parseDate(raw as string); // valueTest accepted it: a string, 'empty' or 'day'
          values.push(parsed.kind === 'day' ? dayToWire(parsed.day) : null); // "0!0!0" ≡ null
          break;
        }
        case 'bool':
          values.push(raw === true || raw === 'true');
          break;
        default:
          return undefined; // objects: only compared with null, never indexed
      }
    }
    return { attribute: name, values };
  }

  private parsePath(): Segment[] {
    const segments: Segment[] = [];
    const addNames = (word: string, pos: number, leadingDot: boolean): void => {
      const names = word.split('.');
      if (leadingDot) names.shift();
      for (const name of names) {
        if (name === '') throw syntaxError(this.source, `invalid attribute path "${word}"`, pos);
        segments.push({ name, each: false });
      }
    };
    const first = this.next() as { v: string; pos: number };
    addNames(first.v, first.pos, false);
    for (;;) {
      const tok = this.peek();
      if (tok.t === '[') {
        this.next();
        let letter: string | undefined;
        const inside = this.next();
        if (inside.t === 'word' && /^[a-zA-Z]$/.test(inside.v)) {
          letter = inside.v;
          if (this.next().t !== ']') throw this.unexpected(this.peek(-1), '"]"');
        } else if (inside.t !== ']') {
          throw this.unexpected(inside, '"]" or a letter (collection element)');
        }
        const last = segments[segments.length - 1];
        if (last.each) throw syntaxError(this.source, 'nested "[]" on one attribute', tok.pos);
        last.each = true;
        if (letter !== undefined) {
          // Linking several criteria to one element needs a joint evaluation the emulator does not implement.
          if (this.letters.has(letter)) {
            throw syntaxError(this.source, `criteria linked through the same collection letter "[${letter}]" are not supported by the emulator`, tok.pos);
          }
          this.letters.add(letter);
          last.letter = letter;
        }
        continue;
      }
      if (tok.t === 'word' && tok.v.startsWith('.') && segments[segments.length - 1].each) {
        this.next();
        addNames(tok.v, tok.pos, true);
        continue;
      }
      return segments;
    }
  }

  private parseComparator(pathText: string): Comparator {
    const tok = this.next();
    if (tok.t === 'op') {
      const cmp = OPERATORS[tok.v];
      if (cmp) return cmp;
    } else if (tok.t === 'word') {
      const upper = tok.v.toUpperCase();
      if (upper === 'IS') {
        const after = this.peek();
        if (after.t === 'word' && after.v.toUpperCase() === 'NOT') {
          this.next();
          return 'neLit';
        }
        return 'eqLit';
      }
      if (upper === 'IN') return 'in';
      if (upper === 'BEGIN') return 'begin';
    } else if (tok.t === 'eof') {
      throw syntaxError(this.source, `comparison operator expected after "${pathText}", found the end of the query`);
    }
    const text = 'v' in tok ? String(tok.v) : tok.t;
    throw new QueryError(
      QueryErrCode.wrongComparator,
      `Wrong comparison operator "${text}" after "${pathText}" at position ${tok.pos + 1} in the query "${this.source}"`,
    );
  }

  private parseValue(cmp: Comparator): ValueNode {
    const tok = this.peek();
    if (tok.t === '[') {
      this.next();
      const items: ValueRef[] = [];
      if (this.peek().t === ']') this.next();
      else {
        for (;;) {
          items.push(this.parseScalar());
          const sep = this.next();
          if (sep.t === ']') break;
          if (sep.t !== ',') throw this.unexpected(sep, '"," or "]"');
        }
      }
      const list: ValueNode = { kind: 'list', items, label: `[${items.map((r) => r.label).join(',')}]` };
      if (cmp !== 'in') throw new QueryError(QueryErrCode.wrongType, `A list ${list.label} can only be used with IN in the query "${this.source}"`);
      return list;
    }
    if (tok.t === 'param') {
      const raw = this.placeholder(tok.v);
      if (Array.isArray(raw)) {
        if (cmp !== 'in') throw new QueryError(QueryErrCode.wrongType, `Placeholder :${tok.v} is a collection; collections can only be used with IN`);
        this.next();
        return {
          kind: 'list',
          label: `:${tok.v}`,
          items: raw.map((item, k) => ({ raw: this.checkScalar(item, `:${tok.v}[${k}]`), label: `:${tok.v}[${k}]` })),
        };
      }
    }
    const ref = this.parseScalar();
    if (cmp === 'in') throw new QueryError(QueryErrCode.wrongType, `IN needs a collection ([v1,v2] or a placeholder holding an array), got ${ref.label}`);
    return { kind: 'scalar', ref };
  }

  private parseScalar(): ValueRef {
    const tok = this.next();
    switch (tok.t) {
      case 'param':
        return { raw: this.checkScalar(this.placeholder(tok.v), `:${tok.v}`), label: `:${tok.v}` };
      case 'string':
        return { raw: tok.v, label: `'${tok.v}'` };
      case 'word': {
        const upper = tok.v.toUpperCase();
        if (upper === 'AND' || upper === 'OR' || upper === 'EXCEPT' || upper === 'NOT') {
          throw syntaxError(this.source, `value expected, found the keyword "${tok.v}" (quote it or use a placeholder)`, tok.pos);
        }
        if (tok.v === 'null') return { raw: null, label: 'null' };
        if (tok.v === 'true') return { raw: true, label: 'true' };
        if (tok.v === 'false') return { raw: false, label: 'false' };
        return { raw: tok.v, label: tok.v };
      }
      default:
        throw this.unexpected(tok, 'a value');
    }
  }

  /** The raw value of placeholder `:n`; missing or null is 4D error 1279. */
  private placeholder(n: number): unknown {
    const value = n >= 1 && n <= this.params.length ? this.params[n - 1] : undefined;
    if (value === undefined || value === null) {
      throw new QueryError(
        QueryErrCode.placeholderMissing,
        `The placeholder :${n} has no value: $params holds ${this.params.length} value(s), and null cannot be passed through a placeholder`,
      );
    }
    return value;
  }

  private checkScalar(value: unknown, label: string): Scalar {
    if (value === null || value === undefined) {
      throw new QueryError(QueryErrCode.placeholderMissing, `The placeholder ${label} is null; null cannot be passed through a placeholder`);
    }
    if (typeof value === 'string' || typeof value === 'boolean') return value;
    if (typeof value === 'number' && Number.isFinite(value)) return value;
    throw new QueryError(QueryErrCode.wrongType, `The placeholder ${label} has an unsupported type: ${JSON.stringify(value)}`);
  }

  // --- compilation ---------------------------------------------------------------------------

  private compilePredicate(segments: Segment[], pathText: string, cmp: Comparator, value: ValueNode): RowPredicate {
    const rootName = segments[0].name;
    const attr = this.attribute(rootName);
    if (!attr) {
      throw new QueryError(QueryErrCode.attributeNotFound, attributeNotFoundMessage(rootName, this.def.name));
    }
    const isPath = segments.length > 1 || segments[0].each;
    if (isPath && attr.type !== 'object') {
      throw new QueryError(QueryErrCode.attributeNotFound, attributeNotFoundMessage(pathText, this.def.name));
    }
    const kind: AttrKind = isPath ? 'dynamic' : attr.type === 'long' ? 'number' : attr.type;
    this.checkApplicable(kind, cmp, pathText);

    const items = value.kind === 'list' ? value.items : [value.ref];
    const hasNull = items.some((r) => r.raw === null);
    if (hasNull && !['eq', 'eqLit', 'ne', 'neLit', 'in'].includes(cmp)) {
      throw new QueryError(QueryErrCode.wrongType, `null can only be compared with =, ==, ===, IS, !=, #, !== or IS NOT ("${pathText}")`);
    }
    if (kind === 'object' && items.some((r) => r.raw !== null)) {
      throw new QueryError(QueryErrCode.wrongType, `The object attribute "${pathText}" can only be compared with null; use a property path (${pathText}.property)`);
    }

    // The positive test of one (non-null) row value; "not equal" comparators are derived from the equality test.
    const positive: Comparator = cmp === 'ne' ? 'eq' : cmp === 'neLit' ? 'eqLit' : cmp;
    const tests = items.map((ref) => this.valueTest(kind, positive === 'in' ? 'eq' : positive, ref, pathText));
    const test =
      tests.length === 1
        ? tests[0]
        : (v: unknown): boolean => {
            for (const t of tests) if (t(v)) return true;
            return false;
          };
    const present = kind === 'date' ? (v: unknown) => wireDateToDay(v) !== null : isPresent;
    const negative = cmp === 'ne' || cmp === 'neLit';

    if (!isPath) {
      const name = rootName;
      if (name === GLOBAL_STAMP) {
        const read = readAttribute(name); // 0 on a record saved before tracking was enabled
        return negative ? (row) => present(read(row)) && !test(read(row)) : (row) => test(read(row));
      }
      return negative ? (row) => present(row[name]) && !test(row[name]) : (row) => test(row[name]);
    }

    const read = pathReader(segments);
    if (!negative) return (row) => read(row).some(test);
    const isNullCheck = items.length === 1 && items[0].raw === null;
    const collection = segments.some((s) => s.each);
    const linked = segments.some((s) => s.letter !== undefined);
    if (isNullCheck || !collection || linked) {
      const differs = (v: unknown): boolean => present(v) && !test(v);
      return (row) => read(row).some(differs);
    }
    // `coll[].x # v`: no element equals (and at least one has a value).
    return (row) => {
      const values = read(row);
      return values.some(present) && !values.some(test);
    };
  }

  private checkApplicable(kind: AttrKind, cmp: Comparator, pathText: string): void {
    const ok =
      kind === 'string' || kind === 'dynamic'
        ? true
        : kind === 'number' || kind === 'date'
          ? cmp !== 'kw' && cmp !== 'begin'
          : ['eq', 'eqLit', 'ne', 'neLit', 'in'].includes(cmp); // bool, object
    if (!ok) {
      throw new QueryError(QueryErrCode.wrongComparator, `The comparison operator "${SYMBOLS[cmp]}" cannot be used with the ${kind} attribute "${pathText}"`);
    }
  }

  /** Test of a row value against one filter value for a positive comparator (`eq`, `eqLit`, `lt`… `kw`, `begin`). */
  private valueTest(kind: AttrKind, cmp: Comparator, ref: ValueRef, pathText: string): (v: unknown) => boolean {
    if (ref.raw === null) {
      return kind === 'date' ? (v) => wireDateToDay(v) === null : (v) => !isPresent(v);
    }
    const wrongType = (expected: string): never => {
      throw new QueryError(
        QueryErrCode.wrongType,
        `The value ${ref.label} cannot be compared with the ${expected} attribute "${pathText}" in the query "${this.source}"`,
      );
    };
    switch (kind) {
      case 'string':
        if (typeof ref.raw === 'boolean') return wrongType('string');
        return textTest(cmp, String(ref.raw));
      case 'number': {
        const n = toNumber(ref.raw);
        if (n === undefined) return wrongType('number');
        return numberTest(cmp, n);
      }
      case 'date': {
        const parsed = typeof ref.raw === 'string' ? parseDate(ref.raw) : ({ kind: 'invalid' } as const);
        if (parsed.kind === 'invalid') return wrongType('date');
        if (parsed.kind === 'empty') {
          // An empty date ("0!0!0") is null: only (in)equality makes sense.
          if (cmp !== 'eq' && cmp !== 'eqLit') return wrongType('date');
          return (v) => wireDateToDay(v) === null;
        }
        const day = parsed.day;
        const cmpDay = numberTest(cmp, day);
        return (v) => {
          const d = wireDateToDay(v);
          return d !== null && cmpDay(d);
        };
      }
      case 'bool': {
        const b = typeof ref.raw === 'boolean' ? ref.raw : ref.raw === 'true' ? true : ref.raw === 'false' ? false : undefined;
        if (b === undefined) return wrongType('boolean');
        return (v) => v === b;
      }
      case 'object':
        return wrongType('object');
      case 'dynamic':
        return dynamicTest(cmp, ref.raw);
    }
  }
}
