import { describe, expect, it } from 'vitest';
import { TABLES, findTable, type TableName } from '../../src/legacy/tables.js';
import { EmulatorDatabase, type EmulatorTable, type Row } from '../../src/emulator/data/store.js';
import { QueryError, compileFilter } from '../../src/emulator/query/filter.js';
import { compileOrderBy, sortRows } from '../../src/emulator/query/orderby.js';
import { parseAttributeList, projectRow } from '../../src/emulator/query/attributes.js';

const NOW = new Date('2024-05-02T08:15:31.204Z');

/** A fresh table of the catalog holding exactly `rows`. */
function tableWith(name: TableName, rows: Record<string, unknown>[]): EmulatorTable {
  const table = new EmulatorDatabase(TABLES).table(name)!;
  for (const r of rows) table.insert(r, NOW);
  return table;
}

/** Addresses labelled by AdrNr: text comparisons. */
const adressen = tableWith('Adressen', [
  { AdrNr: 'a1', Firma: 'Müller & Söhne GmbH', Ort: 'München', Email: 'info@mueller.de', IstHauptadresse: true },
  { AdrNr: 'a2', Firma: 'MULLER KG', Ort: 'Köln', Email: '', IstHauptadresse: false },
  { AdrNr: 'a3', Firma: `O'Reilly "Spezial" Modellbau`, Ort: 'Großenhain', Email: 'o@reilly.ie', IstHauptadresse: true },
  { AdrNr: 'a4', Firma: 'Zinn@Home e.K.', Ort: 'Straßburg', IstHauptadresse: true },
  { AdrNr: 'a5', Firma: '100% Handwerk #1 + Co', Ort: 'Berlin', IstHauptadresse: false },
  { AdrNr: 'a6', Firma: 'Hinz AND Kunz', Ort: 'Dießen', Strasse: 'null Acht', IstHauptadresse: true },
  { AdrNr: 'a7', Firma: null, Ort: 'Bremen', IstHauptadresse: false },
  { AdrNr: 'a8', Firma: '', Ort: 'Hamburg', IstHauptadresse: false },
  { AdrNr: 'a9', Firma: 'begin Design OR Not', Ort: 'Strasse', IstHauptadresse: true },
]);

/** Sales records labelled by PapierNr: numbers, dates, booleans. */
const belege = tableWith('Belege', [
  { PapierNr: 'b1', AbsNr: 100, Datum: '6!3!2017', Netto: 10.5, bezahlt: true },
  { PapierNr: 'b2', AbsNr: 200, Datum: '31!12!2017', Netto: 99.99, bezahlt: false },
  { PapierNr: 'b3', AbsNr: 300, Datum: '0!0!0', Netto: 0, bezahlt: true },
  { PapierNr: 'b4', AbsNr: 1000, Datum: null, Netto: 1000, bezahlt: false },
  { PapierNr: 'b5', AbsNr: 500, Datum: '1!1!2018', Netto: -5, bezahlt: true },
]);

/** Variants labelled by Nummer: object paths. */
const varianten = tableWith('Artikel_Variante', [
  { Nummer: 'v1', Preise: { Coll: [{ Art: 'Laden', Preis: 12.5, VE: 1 }, { Art: 'Handel', Preis: 7.9, VE: 6 }] } },
  { Nummer: 'v2', Preise: { Coll: [{ Art: 'Laden', Preis: 20, VE: 1 }] } },
  { Nummer: 'v3', Preise: null },
  { Nummer: 'v4', Preise: { Coll: [] } },
  { Nummer: 'v5', Preise: { Coll: [{ Art: 'Handel', Preis: 5, VE: 12 }], Hinweis: 'Sonder', Aktion: true } },
]);

const LABEL: Partial<Record<string, string>> = { Adressen: 'AdrNr', Belege: 'PapierNr', Artikel_Variante: 'Nummer' };

/** Labels of the rows matching `filter`, in table order. */
function q(table: EmulatorTable, filter: string, params?: unknown[]): string[] {
  const predicate = compileFilter(filter, params, table);
  return table.rows().filter(predicate).map((r) => r[LABEL[table.def.name]!] as string);
}

/** The QueryError thrown by `fn`. */
function queryError(fn: () => unknown): QueryError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(QueryError);
    return e as QueryError;
  }
  throw new Error('expected a QueryError');
}

const ALL_ADDRESSES = ['a1', 'a2', 'a3', 'a4', 'a5', 'a6', 'a7', 'a8', 'a9'];
const except = (...labels: string[]): string[] => ALL_ADDRESSES.filter((l) => !labels.includes(l));

describe('compileFilter: comparators', () => {
  it('= compares text case- and diacritic-insensitively', () => {
    expect(q(adressen, "Ort = 'munchen'")).toEqual(['a1']);
    expect(q(adressen, "Firma = 'muller kg'")).toEqual(['a2']);
    expect(q(adressen, "Ort = 'STRASSBURG'")).toEqual(['a4']); // ß ≈ ss
    expect(q(adressen, "Ort = 'Straße'")).toEqual(['a9']);
  });

  it('== is the same as =', () => {
    expect(q(adressen, "Ort == 'KÖLN'")).toEqual(['a2']);
    expect(q(adressen, "Firma=='m@'")).toEqual(['a1', 'a2']);
  });

  it('= treats @ as a wildcard for any sequence, including an empty one', () => {
    expect(q(adressen, "Firma = 'm@'")).toEqual(['a1', 'a2']);
    expect(q(adressen, "Firma = '@gmbh'")).toEqual(['a1']);
    expect(q(adressen, "Firma = '@ AND @'")).toEqual(['a6']);
    expect(q(adressen, "Firma = '@and@'")).toEqual(['a5', 'a6']); // "Hand…" contains "and"
    expect(q(adressen, "Firma = 'Zinn@'")).toEqual(['a4']);
    expect(q(adressen, "Firma = '@'")).toEqual(except('a7')); // any non-null text, even ""
    expect(q(adressen, "Firma = 'm@s@h@'")).toEqual(['a1']);
  });

  it('=== and IS compare literally: @ is an ordinary character, case still ignored', () => {
    expect(q(adressen, "Firma === 'Zinn@'")).toEqual([]);
    expect(q(adressen, "Firma === 'zinn@home e.k.'")).toEqual(['a4']);
    expect(q(adressen, "Firma IS 'ZINN@HOME E.K.'")).toEqual(['a4']);
    expect(q(adressen, "Firma is 'm@'")).toEqual([]);
  });

  it('!= and # exclude matches (with wildcards) and never match null', () => {
    expect(q(adressen, "Firma != 'm@'")).toEqual(except('a1', 'a2', 'a7'));
    expect(q(adressen, "Firma # 'm@'")).toEqual(except('a1', 'a2', 'a7'));
    expect(q(adressen, "Firma#''")).toEqual(except('a7', 'a8'));
  });

  it('!== and IS NOT are literal not-equal, and never match null', () => {
    expect(q(adressen, "Firma !== 'Zinn@'")).toEqual(except('a7'));
    expect(q(adressen, "Firma !== 'zinn@home e.k.'")).toEqual(except('a4', 'a7'));
    expect(q(adressen, "Firma IS NOT 'MULLER KG'")).toEqual(except('a2', 'a7'));
  });

  it('< > <= >= order numbers numerically', () => {
    expect(q(belege, 'AbsNr < 300')).toEqual(['b1', 'b2']);
    expect(q(belege, 'AbsNr > 300')).toEqual(['b4', 'b5']);
    expect(q(belege, 'AbsNr <= 300')).toEqual(['b1', 'b2', 'b3']);
    expect(q(belege, 'AbsNr >= 500')).toEqual(['b4', 'b5']);
    expect(q(belege, 'Netto > 10.5')).toEqual(['b2', 'b4']);
    expect(q(belege, 'Netto < -1')).toEqual(['b5']);
  });

  it('< > <= >= order text case- and diacritic-insensitively', () => {
    expect(q(adressen, "Ort < 'c'")).toEqual(['a5', 'a7']);
    expect(q(adressen, "Ort >= 'Strass'")).toEqual(['a4', 'a9']);
    expect(q(adressen, "Ort > 'Straßburg'")).toEqual(['a9']); // "strasse" > "strassburg"
  });

  it('IN matches any value of a [list], wildcards included', () => {
    expect(q(adressen, "Ort IN ['köln', 'Berlin']")).toEqual(['a2', 'a5']);
    expect(q(adressen, "Ort in ['Str@', \"bremen\"]")).toEqual(['a4', 'a7', 'a9']);
    expect(q(belege, 'AbsNr IN [100,500, 42]')).toEqual(['b1', 'b5']);
    expect(q(belege, 'AbsNr IN []')).toEqual([]);
  });

  it('IN takes a placeholder holding an array', () => {
    expect(q(adressen, 'Ort IN :1', [['München', 'Hamburg']])).toEqual(['a1', 'a8']);
    expect(q(belege, 'AbsNr IN :1', [[200, '300']])).toEqual(['b2', 'b3']);
  });

  it('% matches a whole word of the text, with @ allowed in the keyword', () => {
    expect(q(adressen, "Firma % 'sohne'")).toEqual(['a1']);
    expect(q(adressen, "Firma % 'Söh'")).toEqual([]); // part of a word is not a keyword
    expect(q(adressen, "Firma % 'söh@'")).toEqual(['a1']);
    expect(q(adressen, "Firma % 'AND'")).toEqual(['a6']);
    expect(q(adressen, "Firma % 'spezial'")).toEqual(['a3']);
    expect(q(adressen, "Firma % :1", ["O'Reilly"])).toEqual(['a3']);
    expect(q(adressen, 'Firma%Handwerk')).toEqual(['a5']);
  });

  it('begin matches a literal prefix', () => {
    expect(q(adressen, "Firma begin 'mul'")).toEqual(['a1', 'a2']);
    expect(q(adressen, 'Firma begin Zinn@')).toEqual(['a4']);
    expect(q(adressen, "Firma begin 'Z@H'")).toEqual([]); // @ is literal here
    expect(q(adressen, "Ort BEGIN 'strass'")).toEqual(['a4', 'a9']);
  });
});

describe('compileFilter: conjunctions and grouping', () => {
  it('AND, and, & and && all intersect', () => {
    for (const and of ['AND', 'and', '&', '&&']) {
      expect(q(belege, `bezahlt = true ${and} AbsNr > 100`)).toEqual(['b3', 'b5']);
    }
    expect(q(belege, 'bezahlt=true&AbsNr>100')).toEqual(['b3', 'b5']);
  });

  it('OR, or, | and || all unite', () => {
    for (const or of ['OR', 'or', '|', '||']) {
      expect(q(belege, `AbsNr = 100 ${or} AbsNr = 500`)).toEqual(['b1', 'b5']);
    }
    expect(q(belege, 'AbsNr=100||AbsNr=500')).toEqual(['b1', 'b5']);
  });

  it('EXCEPT removes the right-hand matches', () => {
    expect(q(belege, 'bezahlt = true EXCEPT AbsNr = 300')).toEqual(['b1', 'b5']);
    expect(q(belege, 'bezahlt = true except AbsNr > 200')).toEqual(['b1']);
  });

  it('NOT( … ) negates a sub-expression, including its null rows', () => {
    expect(q(belege, 'NOT(bezahlt = true)')).toEqual(['b2', 'b4']);
    expect(q(belege, 'NOT (AbsNr < 300 OR AbsNr > 600)')).toEqual(['b3', 'b5']);
    expect(q(adressen, "NOT(Firma # 'm@')")).toEqual(['a1', 'a2', 'a7']);
    expect(q(belege, 'not(not(AbsNr = 100))')).toEqual(['b1']);
  });

  it('binds AND tighter than OR, and parentheses override it', () => {
    // b1 paid; b4 is AbsNr 1000 (unpaid); b5 paid, 500.
    expect(q(belege, 'AbsNr = 1000 OR bezahlt = true AND AbsNr > 400')).toEqual(['b4', 'b5']);
    expect(q(belege, '(AbsNr = 1000 OR bezahlt = true) AND AbsNr > 400')).toEqual(['b4', 'b5']);
    expect(q(belege, 'bezahlt = true AND AbsNr > 400 OR AbsNr = 100')).toEqual(['b1', 'b5']);
    expect(q(belege, 'bezahlt = true AND (AbsNr > 400 OR AbsNr = 100)')).toEqual(['b1', 'b5']);
    expect(q(belege, 'AbsNr = 200 OR AbsNr = 300 AND bezahlt = false')).toEqual(['b2']);
    expect(q(belege, '(AbsNr = 200 OR AbsNr = 300) AND bezahlt = false')).toEqual(['b2']);
    expect(q(belege, 'AbsNr = 300 OR AbsNr = 200 AND bezahlt = true')).toEqual(['b3']);
    expect(q(belege, '(AbsNr = 300 OR AbsNr = 200) AND bezahlt = true')).toEqual(['b3']);
  });

  it('evaluates long OR chains', () => {
    const filter = Array.from({ length: 5000 }, (_, i) => `AbsNr = ${i + 1000}`).join(' OR ');
    expect(q(belege, filter)).toEqual(['b4']);
  });

  it('gives OR and EXCEPT the same precedence, left to right', () => {
    expect(q(belege, 'AbsNr = 100 OR AbsNr = 200 EXCEPT AbsNr = 100')).toEqual(['b2']);
    expect(q(belege, 'AbsNr = 100 EXCEPT AbsNr = 100 OR AbsNr = 200')).toEqual(['b2']);
    expect(q(belege, 'AbsNr = 100 OR (AbsNr = 200 EXCEPT AbsNr = 100)')).toEqual(['b1', 'b2']);
    expect(q(belege, 'AbsNr < 600 EXCEPT bezahlt = true AND AbsNr > 100')).toEqual(['b1', 'b2']);
  });
});

describe('compileFilter: values', () => {
  it('accepts a filter wrapped in one pair of double or single quotes', () => {
    expect(q(adressen, `"Ort='Köln'"`)).toEqual(['a2']);
    expect(q(adressen, `'Ort = "Köln"'`)).toEqual(['a2']);
    expect(q(adressen, `  "Ort = Köln"  `)).toEqual(['a2']);
  });

  it('accepts bare words, including a quote inside a word', () => {
    expect(q(adressen, 'Ort=München')).toEqual(['a1']);
    expect(q(adressen, "Firma=O'Reilly@")).toEqual(['a3']);
    expect(q(adressen, 'AdrNr = a4')).toEqual(['a4']);
  });

  it('reads escaped quotes inside quoted strings', () => {
    expect(q(adressen, `Firma = "O'Reilly \\"Spezial\\" Modellbau"`)).toEqual(['a3']);
    expect(q(adressen, `Firma = 'O\\'Reilly "Spezial" Modellbau'`)).toEqual(['a3']);
  });

  it('fills placeholders with hostile strings without any quoting', () => {
    const p = (filter: string, value: unknown): string[] => q(adressen, filter, [value]);
    expect(p('Firma = :1', `O'Reilly "Spezial" Modellbau`)).toEqual(['a3']);
    expect(p('Firma = :1', 'Müller & Söhne GmbH')).toEqual(['a1']);
    expect(p('Firma = :1', '100% Handwerk #1 + Co')).toEqual(['a5']);
    expect(p('Firma = :1', 'Hinz AND Kunz')).toEqual(['a6']);
    expect(p('Firma = :1', 'begin Design OR Not')).toEqual(['a9']);
    expect(p('Strasse = :1', 'null Acht')).toEqual(['a6']);
    expect(p('Firma = :1', 'null')).toEqual([]); // the text "null", not null
    expect(p('Ort = :1', 'DIESSEN')).toEqual(['a6']);
    expect(p('Ort = :1', 'Großenhain')).toEqual(['a3']);
  });

  it('keeps @ a wildcard in placeholders for =, and literal for ===', () => {
    expect(q(adressen, 'Email = :1', ['o@reilly.ie'])).toEqual(['a3']);
    expect(q(adressen, 'Email = :1', ['info@'])).toEqual(['a1']); // "info" + anything
    expect(q(adressen, 'Email === :1', ['info@'])).toEqual([]);
    expect(q(adressen, 'Firma === :1', ['Zinn@Home e.K.'])).toEqual(['a4']);
  });

  it('takes several placeholders, 1-based, in any order', () => {
    expect(q(belege, 'AbsNr > :2 AND AbsNr < :1', [600, 100])).toEqual(['b2', 'b3', 'b5']);
  });

  it('converts numeric strings for number attributes (v21) and numbers for text attributes', () => {
    expect(q(belege, 'AbsNr = :1', ['200'])).toEqual(['b2']);
    expect(q(belege, "Netto = '99.99'")).toEqual(['b2']);
    expect(q(belege, 'Netto = :1', [' 10.5 '])).toEqual(['b1']);
    expect(q(adressen, 'AdrNr = :1', ['a1'])).toEqual(['a1']);
    const t = tableWith('Artikel_Familie', [{ Nummer: '218093' }, { Nummer: '0218093' }]);
    expect(t.rows().filter(compileFilter('Nummer = :1', [218093], t)).map((r) => r.Nummer)).toEqual(['218093']);
    expect(t.rows().filter(compileFilter('Nummer = 0218093', undefined, t)).map((r) => r.Nummer)).toEqual(['0218093']);
  });

  it('compares booleans with true/false literals and placeholders', () => {
    expect(q(belege, 'bezahlt = true')).toEqual(['b1', 'b3', 'b5']);
    expect(q(belege, 'bezahlt == false')).toEqual(['b2', 'b4']);
    expect(q(belege, 'bezahlt = :1', [false])).toEqual(['b2', 'b4']);
    expect(q(belege, 'bezahlt # true')).toEqual(['b2', 'b4']);
  });

  it('matches null with =null and non-null with #null', () => {
    expect(q(adressen, 'Firma = null')).toEqual(['a7']);
    expect(q(adressen, 'Firma # null')).toEqual(except('a7'));
    expect(q(adressen, 'Firma IS NOT null')).toEqual(except('a7'));
    expect(q(adressen, "Firma # 'x' | Firma = null")).toEqual(ALL_ADDRESSES);
  });

  it('compares dates as calendar dates, treating "0!0!0" like null', () => {
    expect(q(belege, "Datum = '2017-03-06'")).toEqual(['b1']);
    expect(q(belege, "Datum > '2017-06-01'")).toEqual(['b2', 'b5']);
    expect(q(belege, "Datum <= '2017-12-31'")).toEqual(['b1', 'b2']);
    expect(q(belege, 'Datum >= :1 AND Datum < :2', ['2017-12-31', '2018-01-02'])).toEqual(['b2', 'b5']);
    expect(q(belege, 'Datum = :1', ['2018-01-01T00:00:00Z'])).toEqual(['b5']);
    expect(q(belege, 'Datum = null')).toEqual(['b3', 'b4']);
    expect(q(belege, 'Datum # null')).toEqual(['b1', 'b2', 'b5']);
    expect(q(belege, "Datum # '2017-03-06'")).toEqual(['b2', 'b5']);
    expect(q(belege, "Datum IN ['2017-03-06', '2018-01-01']")).toEqual(['b1', 'b5']);
  });

  it('queries system attributes: __KEY as text, __STAMP as a number', () => {
    const table = tableWith('Formen', [{ FormNr: 'F1' }, { FormNr: 'F2' }]);
    const [f1, f2] = table.rows();
    table.update(f2.__KEY, { aktiv: true }, NOW);
    const ids = (filter: string, params?: unknown[]): unknown[] => table.rows().filter(compileFilter(filter, params, table)).map((r) => r.FormNr);
    expect(ids('__KEY = :1', [f1.__KEY])).toEqual(['F1']);
    expect(ids('__KEY = :1', [f1.__KEY.toLowerCase()])).toEqual(['F1']);
    expect(ids('__STAMP > 1')).toEqual(['F2']);
  });

  it('follows dot paths into object attributes, any element of a [] collection', () => {
    expect(q(varianten, "Preise.Coll[].Art = 'Laden'")).toEqual(['v1', 'v2']);
    expect(q(varianten, "Preise.Coll[].Art = 'handel'")).toEqual(['v1', 'v5']);
    expect(q(varianten, 'Preise.Coll[].Preis > 10')).toEqual(['v1', 'v2']);
    expect(q(varianten, 'Preise.Coll[].VE = :1', ['12'])).toEqual(['v5']);
    expect(q(varianten, "Preise.Hinweis = 'sonder'")).toEqual(['v5']);
    expect(q(varianten, 'Preise.Aktion = true')).toEqual(['v5']);
  });

  it('reads "# on a collection path" as "no element equals", and [a] as "some element differs"', () => {
    expect(q(varianten, "Preise.Coll[].Art # 'Laden'")).toEqual(['v5']);
    expect(q(varianten, "Preise.Coll[a].Art # 'Laden'")).toEqual(['v1', 'v5']);
    expect(q(varianten, "Preise.Coll[a].Art = 'Laden'")).toEqual(['v1', 'v2']);
  });

  it('compares a whole object attribute with null only', () => {
    expect(q(varianten, 'Preise = null')).toEqual(['v3']);
    expect(q(varianten, 'Preise # null')).toEqual(['v1', 'v2', 'v4', 'v5']);
    expect(q(varianten, 'Preise.Hinweis = null')).toEqual(['v1', 'v2', 'v3', 'v4']);
  });

  it('works on a TableDef as well as on a table', () => {
    const predicate = compileFilter("Ort = 'Köln'", undefined, findTable('Adressen')!);
    expect(adressen.rows().filter(predicate).map((r: Row) => r.AdrNr)).toEqual(['a2']);
  });
});

describe('compileFilter: errors', () => {
  it('reports an unknown attribute with 1500 and the 4D message', () => {
    const kunden = tableWith('Kunden', []);
    const e = queryError(() => compileFilter("Nme = 'x'", undefined, kunden));
    expect(e.errCode).toBe(1500);
    expect(e.status).toBe(500);
    expect(e.message).toBe('The "Nme" attribute cannot be found in the "Kunden" datastore class');
    expect(e.errors).toEqual([{ message: e.message, componentSignature: 'dbmg', errCode: 1500 }]);
    expect(e.toBody()).toEqual({ __ERROR: e.errors });
    expect(queryError(() => compileFilter('kundenNr = 1', undefined, kunden)).errCode).toBe(1500); // names are case-sensitive
    expect(queryError(() => compileFilter('KundenNr.x = 1', undefined, kunden)).errCode).toBe(1500);
    expect(queryError(() => compileFilter("Preise.Coll[].Art = 'x' AND Nme = 1", undefined, varianten)).errCode).toBe(1500);
  });

  it.each([
    ["Firma = 'x' Ort = 'y'", 'two predicates without a conjunction'],
    ["(Firma = 'x'", 'unclosed parenthesis'],
    ["Firma = 'x')", 'stray parenthesis'],
    ['Firma =', 'missing value'],
    ['Firma', 'missing comparator'],
    ["Firma = 'x' AND", 'dangling conjunction'],
    ["NOT Firma = 'x'", 'NOT without parentheses'],
    ['Firma = AND', 'keyword as a bare value'],
    ["Firma = 'x' &&& Ort = 'y'", 'unknown conjunction'],
    ['Firma = :name', 'named placeholder'],
    ["Ort IN ['a' 'b']", 'list without comma'],
    ["Preise.Coll[a].Art = 'x' AND Preise.Coll[a].VE = 1", 'linked collection criteria'],
  ])('rejects a syntax error with 1200: %s (%s)', (filter) => {
    const table = filter.startsWith('Preise') ? varianten : adressen;
    const e = queryError(() => compileFilter(filter, undefined, table));
    expect(e.errCode).toBe(1200);
    expect(e.status).toBe(500);
  });

  it('rejects an empty filter with 1162', () => {
    expect(queryError(() => compileFilter('', undefined, adressen)).errCode).toBe(1162);
    expect(queryError(() => compileFilter('""', undefined, adressen)).errCode).toBe(1162);
  });

  it.each([
    ["Firma LIKE '%x%'"],
    ["Firma =< 'x'"],
    ["Firma <> 'x'"],
    ["Firma ! 'x'"],
  ])('rejects a wrong comparison operator with 1112: %s', (filter) => {
    expect(queryError(() => compileFilter(filter, undefined, adressen)).errCode).toBe(1112);
  });

  it('rejects comparators that do not apply to the attribute type with 1112', () => {
    expect(queryError(() => compileFilter('Netto % 5', undefined, belege)).errCode).toBe(1112);
    expect(queryError(() => compileFilter('AbsNr begin 1', undefined, belege)).errCode).toBe(1112);
    expect(queryError(() => compileFilter('bezahlt > false', undefined, belege)).errCode).toBe(1112);
  });

  it('reports a missing closing quote with 1808 (single) and 1809 (double)', () => {
    expect(queryError(() => compileFilter("Firma = 'abc", undefined, adressen)).errCode).toBe(1808);
    expect(queryError(() => compileFilter('Firma = "abc', undefined, adressen)).errCode).toBe(1809);
    expect(queryError(() => compileFilter(`"Firma = 'abc'`, undefined, adressen)).errCode).toBe(1809);
  });

  it('reports a missing or null placeholder value with 1279', () => {
    expect(queryError(() => compileFilter('Firma = :1', undefined, adressen)).errCode).toBe(1279);
    expect(queryError(() => compileFilter('Firma = :2', ['x'], adressen)).errCode).toBe(1279);
    expect(queryError(() => compileFilter('Firma = :1', [null], adressen)).errCode).toBe(1279);
    expect(queryError(() => compileFilter('Firma = :0', ['x'], adressen)).errCode).toBe(1279);
    expect(queryError(() => compileFilter('Ort IN :1', [['a', null]], adressen)).errCode).toBe(1279);
  });

  it('reports values of the wrong type with 1280', () => {
    const code = (table: EmulatorTable, filter: string, params?: unknown[]): number =>
      queryError(() => compileFilter(filter, params, table)).errCode;
    expect(code(belege, 'AbsNr = :1', ['abc'])).toBe(1280);
    expect(code(belege, 'AbsNr = abc')).toBe(1280);
    expect(code(belege, 'Netto > :1', [true])).toBe(1280);
    expect(code(belege, "Datum = 'gestern'")).toBe(1280);
    expect(code(belege, 'Datum > :1', [20170306])).toBe(1280);
    expect(code(belege, "bezahlt = 'vielleicht'")).toBe(1280);
    expect(code(adressen, 'Firma = true')).toBe(1280);
    expect(code(adressen, "Ort IN 'Köln'")).toBe(1280);
    expect(code(adressen, "Ort = ['Köln']")).toBe(1280);
    expect(code(adressen, 'Ort = :1', [['Köln']])).toBe(1280);
    expect(code(adressen, 'Ort = :1', [{ a: 1 }])).toBe(1280);
    expect(code(adressen, 'Ort > null')).toBe(1280);
    expect(code(varianten, "Preise = 'x'")).toBe(1280);
  });
});

describe('compileOrderBy', () => {
  const order = (table: EmulatorTable, spec: string): string[] =>
    [...table.rows()].sort(compileOrderBy(spec, table)).map((r) => r[LABEL[table.def.name]!] as string);

  it('sorts numbers numerically, ascending by default', () => {
    expect(order(belege, 'AbsNr')).toEqual(['b1', 'b2', 'b3', 'b5', 'b4']);
    expect(order(belege, 'AbsNr DESC')).toEqual(['b4', 'b5', 'b3', 'b2', 'b1']);
    expect(order(belege, '"Netto asc"')).toEqual(['b5', 'b3', 'b1', 'b2', 'b4']);
  });

  it('sorts text case- and diacritic-insensitively, nulls first', () => {
    expect(order(adressen, 'Ort asc')).toEqual(['a5', 'a7', 'a6', 'a3', 'a8', 'a2', 'a1', 'a4', 'a9']);
    const t = tableWith('Adressen', [
      { AdrNr: 'x1', Firma: 'zeta' },
      { AdrNr: 'x2', Firma: 'Älter' },
      { AdrNr: 'x3', Firma: null },
      { AdrNr: 'x4', Firma: 'ALT' },
      { AdrNr: 'x5', Firma: 'b' },
    ]);
    expect([...t.rows()].sort(compileOrderBy('Firma', t)).map((r) => r.AdrNr)).toEqual(['x3', 'x4', 'x2', 'x5', 'x1']);
    expect([...t.rows()].sort(compileOrderBy('Firma desc', t)).map((r) => r.AdrNr)).toEqual(['x1', 'x5', 'x2', 'x4', 'x3']);
  });

  it('sorts dates as calendar dates with empty and null dates first', () => {
    const sorted = order(belege, 'Datum');
    // b3 ("0!0!0") and b4 (null) are both null dates: they tie, and the tie is broken by __KEY.
    const [k3, k4] = ['b3', 'b4'].map((l) => belege.rows().find((r) => r.PapierNr === l)!.__KEY);
    expect(sorted.slice(0, 2)).toEqual(k3 < k4 ? ['b3', 'b4'] : ['b4', 'b3']);
    expect(sorted.slice(2)).toEqual(['b1', 'b2', 'b5']);
    expect(order(belege, 'Datum desc').slice(0, 3)).toEqual(['b5', 'b2', 'b1']);
  });

  it('applies several criteria in order and breaks remaining ties by __KEY', () => {
    expect(order(belege, 'bezahlt desc, AbsNr desc')).toEqual(['b5', 'b3', 'b1', 'b4', 'b2']);
    expect(order(belege, 'bezahlt, AbsNr')).toEqual(['b2', 'b4', 'b1', 'b3', 'b5']);
    const t = tableWith('Formen', [{ FormNr: 'same' }, { FormNr: 'same' }, { FormNr: 'same' }]);
    const byKey = [...t.rows()].sort((a, b) => (a.__KEY < b.__KEY ? -1 : 1)).map((r) => r.__KEY);
    expect([...t.rows()].sort(compileOrderBy('FormNr desc', t)).map((r) => r.__KEY)).toEqual(byKey);
  });

  it('sorts on object properties by dot path', () => {
    const t = tableWith('Artikel_Variante', [
      { Nummer: 'p1', Preise: { Rang: 3 } },
      { Nummer: 'p2', Preise: { Rang: 10 } },
      { Nummer: 'p3', Preise: null },
      { Nummer: 'p4', Preise: { Rang: -1.5 } },
    ]);
    expect([...t.rows()].sort(compileOrderBy('Preise.Rang', t)).map((r) => r.Nummer)).toEqual(['p3', 'p4', 'p1', 'p2']);
  });

  it('sortRows gives the same order as sorting with the comparator, without touching the input', () => {
    const rows = adressen.rows();
    const copy = [...rows];
    for (const spec of ['Ort desc', 'IstHauptadresse, Firma desc', 'Firma']) {
      expect(sortRows(rows, spec, adressen)).toEqual([...rows].sort(compileOrderBy(spec, adressen)));
    }
    expect(rows).toEqual(copy);
    expect(() => sortRows(rows, 'Nme', adressen)).toThrow(QueryError);
  });

  it('rejects unknown attributes and bad directions with 1810', () => {
    const e = queryError(() => compileOrderBy('Nme desc', belege));
    expect(e.errCode).toBe(1810);
    expect(e.status).toBe(500);
    expect(e.errors.map((x) => x.errCode)).toEqual([1500, 1810]);
    expect(e.errors[0].message).toBe('The "Nme" attribute cannot be found in the "Belege" datastore class');
    expect(queryError(() => compileOrderBy('AbsNr sideways', belege)).errCode).toBe(1810);
    expect(queryError(() => compileOrderBy('AbsNr asc extra', belege)).errCode).toBe(1810);
    expect(queryError(() => compileOrderBy('AbsNr,', belege)).errCode).toBe(1810);
    expect(queryError(() => compileOrderBy('', belege)).errCode).toBe(1810);
    expect(queryError(() => compileOrderBy('AbsNr.x', belege)).errCode).toBe(1810);
  });
});

describe('parseAttributeList and projectRow', () => {
  it('parses a comma list, trimming spaces and dropping duplicates and system attributes', () => {
    expect(parseAttributeList(' Nummer , Bezeichnung,Nummer,__KEY ', varianten)).toEqual(['Nummer', 'Bezeichnung']);
    expect(parseAttributeList('"Preise"', varianten)).toEqual(['Preise']);
    expect(parseAttributeList('*', findTable('Formen')!)).toEqual(['FormNr', 'Bezeichnung', 'aktiv']);
  });

  it('rejects an unknown attribute with 1804 (after the 1500 cause) and an empty list with 1816', () => {
    const e = queryError(() => parseAttributeList('Nummer,Nme', varianten));
    expect(e.errCode).toBe(1804);
    expect(e.message).toBe('Cannot completely build a list of attributes with "Nme" for the "Artikel_Variante" dataclass');
    expect(e.errors.map((x) => x.errCode)).toEqual([1500, 1804]);
    expect(queryError(() => parseAttributeList('nummer', varianten)).errCode).toBe(1804);
    expect(queryError(() => parseAttributeList('', varianten)).errCode).toBe(1816);
    expect(queryError(() => parseAttributeList('Nummer,,Farbe', varianten)).errCode).toBe(1816);
  });

  it('projects __KEY, __TIMESTAMP, __STAMP, then the requested attributes in catalog order', () => {
    const row = varianten.rows()[0];
    const projected = projectRow(row, ['Preise', 'Nummer']);
    expect(Object.keys(projected)).toEqual(['__KEY', '__TIMESTAMP', '__STAMP', 'Nummer', 'Preise']);
    expect(projected).toMatchObject({ __KEY: row.__KEY, __STAMP: 1, __TIMESTAMP: NOW.toISOString(), Nummer: 'v1' });
    const all = projectRow(row);
    expect(Object.keys(all)).toEqual(['__KEY', '__TIMESTAMP', '__STAMP', ...findTable('Artikel_Variante')!.attributes.map((a) => a.name)]);
  });

  it('deep-copies values so callers cannot change the store', () => {
    const row = varianten.rows()[0];
    const projected = projectRow(row, ['Preise']) as { Preise: { Coll: { Preis: number }[] } };
    projected.Preise.Coll[0].Preis = 0;
    projected.Preise.Coll.pop();
    expect(varianten.rows()[0].Preise).toEqual({ Coll: [{ Art: 'Laden', Preis: 12.5, VE: 1 }, { Art: 'Handel', Preis: 7.9, VE: 6 }] });
  });
});
