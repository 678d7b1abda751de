/**
 * The `$filter` query planner (`src/emulator/query/plan.ts`): whatever plan it picks, the result
 * must be exactly the full scan's (same rows, same order), and it must pick the key map / index
 * for top-level equalities and `IN` on `__KEY` or indexed attributes.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { TableDef } from '../../src/legacy/tables.js';
import { generateDatabase } from '../../src/emulator/data/generate.js';
import { EmulatorDatabase, type EmulatorTable } from '../../src/emulator/data/store.js';
import { Random } from '../../src/emulator/data/random.js';
import { compileFilter } from '../../src/emulator/query/filter.js';
import { explainFilter, planFilter, type QueryPlan } from '../../src/emulator/query/plan.js';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';

const NOW = new Date('2024-05-02T08:15:31.204Z');

/** Keys of the rows a full scan matches, in table order; or the error message. */
function scan(table: EmulatorTable, filter: string, params?: unknown[]): string[] | string {
  try {
    const predicate = compileFilter(filter, params, table);
    return table.rows().filter(predicate).map((r) => r.__KEY);
  } catch (e) {
    return `error: ${(e as Error).message}`;
  }
}

/** Keys of the rows the planner returns; or the error message. */
function planned(table: EmulatorTable, filter: string, params?: unknown[]): string[] | string {
  try {
    return planFilter(filter, params, table).rows().map((r) => r.__KEY);
  } catch (e) {
    return `error: ${(e as Error).message}`;
  }
}

/** Asserts planner ≡ scan and the plan kind; returns the matched keys. */
function same(table: EmulatorTable, kind: QueryPlan['kind'], filter: string, params?: unknown[]): string[] {
  const expected = scan(table, filter, params);
  expect(planned(table, filter, params), filter).toEqual(expected);
  expect(explainFilter(filter, params, table).kind, filter).toBe(kind);
  expect(Array.isArray(expected), String(expected)).toBe(true);
  return expected as string[];
}

function shuffle<T>(rng: Random, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

describe('query planner on generated data', () => {
  const db = generateDatabase({ scale: 0.01, seed: 7 });
  const variants = db.table('Artikel_Variante')!;
  const belege = db.table('Belege')!;
  const rng = new Random(12345);

  // Text that folds alike (4D compares case- and diacritic-insensitively), blanks and nulls.
  const extra = ['Müller-1', 'MÜLLER-1', 'muller-1', 'Straße', 'STRASSE', 'strasse', 'Strasse ', 'Ärger', 'AERGER', 'arger', 'a@b', 'A@B', '', null, '4711'];
  for (const nummer of extra) variants.insert({ Nummer: nummer, Gewicht: nummer === null ? 1 : nummer.length }, NOW);
  // Numbers, null and repeated values on the indexed long attribute AbsNr.
  for (const absNr of [4711, 4711, null, 0, -3]) belege.insert({ AbsNr: absNr, KundenNr: 'K-PLAN' }, NOW);
  // Writes after the rows exist: updates keep the position but move the row in the index; a
  // deleted-then-recreated key goes to the end.
  const all = variants.rows();
  variants.update(all[3].__KEY, { Nummer: 'MÜLLER-1' }, NOW);
  variants.update(all[10].__KEY, { Nummer: 'x-moved' }, NOW);
  const recreated = all[5];
  variants.delete(recreated.__KEY);
  variants.insert({ ...Object.fromEntries(Object.entries(recreated).filter(([k]) => !k.startsWith('__STAMP') && k !== '__TIMESTAMP')) }, NOW);

  it('uses the key map for __KEY = / == / === / IS / IN, case-insensitively, in table order', () => {
    const keys = variants.rows().map((r) => r.__KEY);
    const picked = shuffle(rng, keys).slice(0, 40);
    const values = [...picked, picked[0], picked[1].toLowerCase(), 'NO-SUCH-KEY', keys[0].toLowerCase(), 'ÄBC'];
    const found = same(variants, 'key', '__KEY IN :1', [values]);
    expect(found).toEqual(keys.filter((k) => picked.includes(k) || k === keys[0]));
    expect(found.length).toBeGreaterThan(40);
    for (const op of ['=', '==', '===', 'IS']) {
      expect(same(variants, 'key', `__KEY ${op} :1`, [keys[7].toLowerCase()])).toEqual([keys[7]]);
    }
    expect(same(variants, 'key', `__KEY = '${keys[2]}'`)).toEqual([keys[2]]);
    expect(same(variants, 'key', '__KEY = null')).toEqual([]);
    expect(same(variants, 'key', '__KEY IN :1', [[]])).toEqual([]);
    expect(same(variants, 'key', '__KEY IN :1', [[12345, 'x']])).toEqual([]);
    // The recreated row went to the end of the table.
    expect(same(variants, 'key', '__KEY IN :1', [[recreated.__KEY, keys[0]]])).toEqual([keys[0], recreated.__KEY]);
  });

  it('uses the index for Nummer with case/umlaut/ß variants, numbers and nulls', () => {
    const byNummer = (n: string) => variants.rows().filter((r) => r.Nummer === n).map((r) => r.__KEY);
    const muller = same(variants, 'index', 'Nummer IN :1', [['MULLER-1']]);
    expect(muller).toHaveLength(4); // Müller-1, MÜLLER-1, muller-1 and the updated row
    expect(muller).toEqual(variants.rows().filter((r) => ['Müller-1', 'MÜLLER-1', 'muller-1'].includes(r.Nummer as string)).map((r) => r.__KEY));
    expect(same(variants, 'index', 'Nummer = :1', ['STRAßE'])).toHaveLength(3); // not 'Strasse ' (trailing blank)
    expect(same(variants, 'index', 'Nummer == "ärger"')).toHaveLength(2); // Ärger, arger; not AERGER
    expect(same(variants, 'index', 'Nummer IN :1', [[4711]])).toEqual(byNummer('4711'));
    expect(same(variants, 'index', 'Nummer IN :1', [['4711', 4711, '4711']])).toEqual(byNummer('4711'));
    expect(same(variants, 'index', 'Nummer = null')).toHaveLength(1);
    expect(same(variants, 'index', "Nummer IN ['', null]")).toHaveLength(2);
    expect(same(variants, 'index', 'Nummer IN :1', [[]])).toEqual([]);
    // `===` / IS compare literally: `@` is no wildcard there, so the index still answers.
    expect(same(variants, 'index', 'Nummer === :1', ['a@B'])).toHaveLength(2);
    expect(same(variants, 'index', 'Nummer IS "A@b"')).toHaveLength(2);
    // 500 values, shuffled, some folding alike: order must still be the table's.
    const nummern = variants.rows().map((r) => r.Nummer).filter((n): n is string => typeof n === 'string' && !n.includes('@'));
    const many = shuffle(rng, [...nummern, ...nummern.map((n) => n.toUpperCase()), 'nope']).slice(0, 500);
    expect(same(variants, 'index', 'Nummer IN :1', [many]).length).toBeGreaterThan(50);
  });

  it('uses the index for the long attribute Belege.AbsNr with numbers and numeric strings', () => {
    const absNrs = belege.rows().map((r) => r.AbsNr as number | null);
    const sample = shuffle(rng, absNrs.filter((n): n is number => n !== null)).slice(0, 60);
    const mixed = sample.map((n, i) => (i % 3 === 0 ? String(n) : i % 3 === 1 ? ` ${n} ` : n));
    expect(same(belege, 'index', 'AbsNr IN :1', [mixed]).length).toBeGreaterThanOrEqual(60);
    expect(same(belege, 'index', "AbsNr IN [4711, '4711', 4711.5, '4.711e3', null]")).toHaveLength(3); // two 4711 + the null
    expect(same(belege, 'index', 'AbsNr = :1', ['4711'])).toHaveLength(2);
    expect(same(belege, 'index', 'AbsNr = 4711.0')).toHaveLength(2);
    expect(same(belege, 'index', 'AbsNr = 4711.5')).toEqual([]);
    expect(same(belege, 'index', 'AbsNr === -3')).toHaveLength(1);
    expect(same(belege, 'index', 'AbsNr = null')).toHaveLength(1);
    expect(same(belege, 'index', 'AbsNr IN [0]').length).toBeGreaterThanOrEqual(1);
    // A non-unique index (several sales records per customer), values in reverse order.
    const kunden = [...new Set(belege.rows().map((r) => r.KundenNr as string))].slice(0, 30).reverse();
    expect(same(belege, 'index', 'KundenNr IN :1', [kunden]).length).toBeGreaterThan(30);
    // Errors stay the same (from the compiler, before planning).
    expect(planned(belege, 'AbsNr IN :1', [['abc']])).toEqual(scan(belege, 'AbsNr IN :1', [['abc']]));
    expect(planned(belege, 'AbsNr IN :1', [['abc']])).toMatch(/^error:/);
    expect(planned(variants, 'Nummer IN :1', [[true]])).toMatch(/^error:/);
    expect(planned(variants, 'Nummer IN :1', [[true]])).toEqual(scan(variants, 'Nummer IN :1', [[true]]));
  });

  it('uses a lookup inside a top-level AND (and parentheses), choosing the smaller one', () => {
    const keys = variants.rows().map((r) => r.__KEY);
    const nummern = variants.rows().map((r) => r.Nummer as string);
    same(variants, 'index', 'Nummer IN :1 AND Gewicht > 3', [nummern.slice(0, 80)]);
    same(variants, 'index', 'Gewicht > 3 AND Aktiv = true AND Nummer IN :1', [nummern.slice(0, 80)]);
    same(variants, 'index', '(Gewicht > 3 AND (Nummer IN :1 AND Aktiv = true))', [nummern.slice(0, 80)]);
    same(variants, 'index', '(Nummer IN :1 OR Gewicht > 300) AND Familie_ = :2', [nummern.slice(0, 5), variants.rows()[0].Familie_]);
    const both = 'Nummer IN :1 AND __KEY IN :2';
    expect(explainFilter(both, [nummern.slice(0, 80), keys.slice(0, 10)], variants)).toEqual({ kind: 'key', attribute: '__KEY', values: 10 });
    same(variants, 'key', both, [nummern.slice(0, 80), keys.slice(0, 10)]);
    expect(explainFilter(both, [nummern.slice(0, 3), keys.slice(0, 10)], variants)).toEqual({ kind: 'index', attribute: 'Nummer', values: 3 });
    same(variants, 'index', both, [nummern.slice(0, 3), keys.slice(0, 10)]);
    // A non-indexed equality next to an indexed one: the index.
    same(variants, 'index', 'Bezeichnung = :1 AND Nummer IN :2', [variants.rows()[0].Bezeichnung, nummern.slice(0, 20)]);
  });

  it('falls back to the scan for wildcards, OR/EXCEPT/NOT at the top level and non-indexed attributes', () => {
    const nummern = variants.rows().map((r) => r.Nummer as string);
    expect(explainFilter('Nummer IN :1', [['a@']], variants)).toEqual({ kind: 'scan', reason: 'no top-level equality or IN' });
    same(variants, 'scan', 'Nummer IN :1', [[...nummern.slice(0, 10), 'MÜ@']]);
    same(variants, 'scan', 'Nummer = :1', ['str@']);
    same(variants, 'scan', 'Nummer == "@"');
    same(variants, 'scan', '__KEY = :1', [`${variants.rows()[0].__KEY.slice(0, 5)}@`]);
    same(variants, 'scan', 'Nummer IN :1 OR Gewicht > 300', [nummern.slice(0, 10)]);
    same(variants, 'scan', 'Gewicht > 300 OR __KEY IN :1', [variants.rows().slice(0, 5).map((r) => r.__KEY)]);
    same(variants, 'scan', 'Nummer IN :1 EXCEPT Gewicht > 300', [nummern.slice(0, 10)]);
    same(variants, 'scan', 'NOT(Nummer IN :1)', [nummern.slice(0, 10)]);
    same(variants, 'scan', 'Nummer # :1', [nummern[0]]);
    same(variants, 'scan', 'Nummer !== :1', [nummern[0]]);
    same(variants, 'scan', 'Nummer IS NOT null');
    same(variants, 'scan', 'Nummer > :1', [nummern[0]]);
    same(variants, 'scan', 'Nummer BEGIN "1"');
    same(variants, 'scan', 'Nummer % "muller"');
    expect(explainFilter('Bezeichnung = :1', ['x'], variants)).toEqual({ kind: 'scan', reason: 'no equality or IN on __KEY or an indexed attribute' });
    same(variants, 'scan', 'Bezeichnung IN :1', [variants.rows().slice(0, 10).map((r) => r.Bezeichnung)]);
    same(belege, 'scan', 'Netto IN :1', [[0, 1, 2]]);
    same(variants, 'scan', 'Preise.Coll[].Art = "Laden"');
  });
});

describe('query planner on every attribute type (randomised against the scan)', () => {
  const FUZZ: TableDef = {
    name: 'Fuzz',
    tableNumber: 99,
    attributes: [
      { name: 'S', type: 'string', indexed: true },
      { name: 'L', type: 'long', indexed: true },
      { name: 'N', type: 'number', indexed: true },
      { name: 'D', type: 'date', indexed: true },
      { name: 'B', type: 'bool', indexed: true },
      { name: 'T', type: 'string' },
      { name: 'O', type: 'object' },
    ],
  };
  const POOL: Record<string, unknown[]> = {
    S: ['Müller', 'MÜLLER', 'muller', 'Mueller', 'Straße', 'STRASSE', 'strasse', 'Ä', 'a', 'A', '', null, '42', 'x@y', 'X@Y', 'Ðé'],
    L: [0, 1, 2, 42, -1, 100000, null],
    N: [0, 1.5, -2.25, 42, 1e-7, null],
    D: ['6!3!2017', '06!03!2017', '2017-03-06', '1!1!2018', '0!0!0', null, '31!12!1999'],
    B: [true, false, null],
    T: ['x', 'y', null],
  };
  const QUERY: Record<string, unknown[]> = {
    S: [...POOL.S, 'MULLER', 'strasse', 'STRAßE', 'a@', '@', 42, 'ä', 'ÐE'],
    L: [...POOL.L, '42', ' 1 ', '1e2', 1.5, '1.0', 'abc', true],
    N: [...POOL.N, '1.5', '1.50', '-2.25', '42', 'x'],
    D: [...POOL.D, '2017-03-06T10:00:00Z', '', 'nonsense', 5],
    B: [...POOL.B, 'true', 'false', 'yes'],
    T: [...POOL.T],
  };
  const OPS = ['=', '==', '===', 'IS', 'IN', 'IN', 'IN', '#', '>', 'IS NOT'];

  function randomFilter(rng: Random): { filter: string; params: unknown[] } {
    const params: unknown[] = [];
    const atom = (): string => {
      const attr = rng.pick(['__KEY', 'S', 'S', 'L', 'N', 'D', 'B', 'T']);
      const op = rng.pick(OPS);
      const pool = attr === '__KEY' ? [] : QUERY[attr];
      const pickValue = (): unknown => (attr === '__KEY' ? keyValue(rng) : rng.pick(pool));
      if (op === 'IN') {
        const list = Array.from({ length: rng.int(0, 5) }, pickValue);
        if (rng.chance(0.5)) {
          params.push(list);
          return `${attr} IN :${params.length}`;
        }
        // A literal list can hold null (a placeholder cannot).
        const literal = list.map((v) => (typeof v === 'string' ? `"${v}"` : String(v)));
        if (rng.chance(0.3)) literal.push('null');
        return `${attr} IN [${literal.join(', ')}]`;
      }
      const value = pickValue();
      if (value === null) return `${attr} ${op} null`;
      params.push(value);
      return `${attr} ${op} :${params.length}`;
    };
    let filter = atom();
    for (let k = rng.int(0, 3); k > 0; k--) {
      const conj = rng.pick(['AND', 'AND', 'AND', 'OR', 'EXCEPT']);
      filter = rng.chance(0.3) ? `(${filter}) ${conj} ${atom()}` : `${filter} ${conj} ${atom()}`;
    }
    if (rng.chance(0.1)) filter = `NOT(${filter})`;
    return { filter, params };
  }

  let table: EmulatorTable;
  const keyValue = (rng: Random): unknown => {
    const keys = table.rows().map((r) => r.__KEY);
    const k = keys.length > 0 ? rng.pick(keys) : 'NONE';
    return rng.pick([k, k.toLowerCase(), 'nope', 7]);
  };

  function randomRow(rng: Random): Record<string, unknown> {
    const row: Record<string, unknown> = {};
    for (const name of Object.keys(POOL)) row[name] = rng.pick(POOL[name]);
    return row;
  }

  it('returns the scan result for 3000 random filters over random rows and writes', () => {
    const rng = new Random(2024);
    const db = new EmulatorDatabase([FUZZ], { keySeed: 3 });
    table = db.table('Fuzz')!;
    for (let i = 0; i < 300; i++) table.insert(randomRow(rng), NOW);
    const kinds = new Map<string, number>();
    for (let round = 0; round < 3000; round++) {
      const { filter, params } = randomFilter(rng);
      const expected = scan(table, filter, params);
      expect(planned(table, filter, params), `${filter} ${JSON.stringify(params)}`).toEqual(expected);
      if (typeof expected !== 'string') {
        const kind = explainFilter(filter, params, table).kind;
        kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      }
      // Writes between queries: the indexes must follow.
      if (round % 10 === 0) {
        const rows = table.rows();
        const victim = rng.pick(rows);
        if (rng.chance(0.5)) table.update(victim.__KEY, randomRow(rng), NOW);
        else table.delete(victim.__KEY);
        table.insert(randomRow(rng), NOW);
      }
    }
    // Every plan was exercised.
    expect(kinds.get('key')).toBeGreaterThan(100);
    expect(kinds.get('index')).toBeGreaterThan(500);
    expect(kinds.get('scan')).toBeGreaterThan(300);
  });

  it('falls back to the scan for __KEY while some key has lowercase or non-ASCII characters', () => {
    const db = new EmulatorDatabase([FUZZ], { keySeed: 4 });
    const t = db.table('Fuzz')!;
    for (let i = 0; i < 20; i++) t.insert({ S: `s${i}` }, NOW);
    const upper = t.rows()[3].__KEY;
    expect(same(t, 'key', '__KEY = :1', [upper.toLowerCase()])).toEqual([upper]);
    t.insert({ __KEY: 'abc', S: 'lower' }, NOW);
    t.insert({ __KEY: 'ÄBC', S: 'umlaut' }, NOW);
    t.insert({ __KEY: 'ABC', S: 'upper' }, NOW);
    const abc = same(t, 'scan', '__KEY IN :1', [['AbC', upper]]);
    expect(abc.map((k) => t.get(k)!.S)).toEqual(['s3', 'lower', 'umlaut', 'upper']);
    expect(same(t, 'index', '__KEY IN :1 AND S = "lower"', [['ABC']])).toEqual(['abc']);
    t.delete('abc');
    expect(explainFilter('__KEY = "abc"', [], t).kind).toBe('scan'); // ÄBC is still there
    t.delete('ÄBC');
    expect(same(t, 'key', '__KEY = "abc"')).toEqual(['ABC']);
    expect(same(t, 'key', '__KEY = "äbc"')).toEqual(['ABC']); // folds to "abc" as well
  });
});

describe('planner in the read route', () => {
  const db = generateDatabase({ scale: 0.01, seed: 11 });
  const variants = db.table('Artikel_Variante')!;
  for (const n of ['Müller-9', 'MULLER-9', 'Straße', 'STRASSE']) variants.insert({ Nummer: n }, NOW);
  let emu: TestEmulator;
  let setUri: string;
  const enc = encodeURIComponent;

  interface Envelope {
    __COUNT: number;
    __FIRST: number;
    __SENT: number;
    __ENTITIES: Array<Record<string, unknown>>;
  }

  beforeAll(async () => {
    // Cookie-less requests on purpose (the planner is under test): guests must not use up licences.
    emu = await startTestEmulator({ database: db, auth: 'none', licenceMode: 'force-login' });
    // An entity set of the whole table: filtering it goes through the plain scan of its rows.
    const res = await emu.rest<{ __ENTITYSET: string }>('/rest/Artikel_Variante?$method=entityset&$top=0');
    setUri = res.body.__ENTITYSET;
  });
  afterAll(async () => {
    await emu.close();
  });

  it('answers like the scan of an entity set: same __COUNT, entities, order and paging', async () => {
    const rows = variants.rows();
    const keys = rows.map((r) => r.__KEY);
    const nummern = rows.map((r) => r.Nummer as string);
    const cases: Array<[string, unknown[] | undefined, string]> = [
      ['__KEY IN :1', [[...keys.slice(0, 60).reverse(), keys[70].toLowerCase()]], ''],
      ['__KEY IN :1', [keys.slice(5, 40)], `&$orderby=${enc('Gewicht desc')}&$top=7&$skip=3`],
      ['Nummer IN :1', [[...nummern.slice(0, 30).reverse(), 'muller-9', 'STRAßE']], ''],
      ['Nummer IN :1 AND Gewicht > 100', [nummern.slice(0, 80)], '&$orderby=Nummer'],
      ['Nummer IN :1 OR Gewicht > 300', [nummern.slice(0, 10)], '&$top=5'],
      ['Nummer = :1', ['M@'], ''],
    ];
    for (const [filter, params, extra] of cases) {
      const query = `$filter=${enc(`"${filter}"`)}${params ? `&$params=${enc(`'${JSON.stringify(params)}'`)}` : ''}${extra}`;
      const viaPlan = await emu.rest<Envelope>(`/rest/Artikel_Variante?${query}`);
      const viaScan = await emu.rest<Envelope>(`${setUri}?${query}`);
      expect(viaPlan.status, viaPlan.text).toBe(200);
      expect(viaScan.status, viaScan.text).toBe(200);
      expect(viaPlan.body.__COUNT, filter).toBe(viaScan.body.__COUNT);
      expect(viaPlan.body.__FIRST).toBe(viaScan.body.__FIRST);
      expect(viaPlan.body.__ENTITIES, filter).toEqual(viaScan.body.__ENTITIES);
      expect(viaPlan.body.__COUNT).toBeGreaterThan(0);
    }
  });

  it('does not read the whole table for an IN on __KEY or an indexed attribute, and does for an OR', async () => {
    const keys = variants.rows().map((r) => r.__KEY);
    const spy = vi.spyOn(variants, 'rows');
    try {
      const byKey = await emu.rest<Envelope>(`/rest/Artikel_Variante?$filter=${enc('"__KEY IN :1"')}&$params=${enc(`'${JSON.stringify([keys.slice(0, 20)])}'`)}`);
      expect(byKey.body.__COUNT).toBe(20);
      const byNummer = await emu.rest<Envelope>(`/rest/Artikel_Variante?$filter=${enc('"Nummer IN :1"')}&$params=${enc(`'${JSON.stringify([['straße']])}'`)}`);
      expect(byNummer.body.__COUNT).toBe(2);
      expect(spy).not.toHaveBeenCalled();
      const or = await emu.rest<Envelope>(`/rest/Artikel_Variante?$filter=${enc('"Nummer = 1 OR __KEY IN :1"')}&$params=${enc(`'${JSON.stringify([keys.slice(0, 20)])}'`)}`);
      expect(or.body.__COUNT).toBeGreaterThanOrEqual(20);
      expect(spy).toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });
});
