import { describe, expect, it } from 'vitest';
import { decodeDate } from '../../src/legacy/codecs.js';
import { TABLES, findTable, type TableName } from '../../src/legacy/tables.js';
import { DEMO_SCALE, PRODUCTION_SIZES, generateDatabase, tableSizes } from '../../src/emulator/data/generate.js';
import { EmulatorDatabase, StoreError, type EmulatorTable, type Row } from '../../src/emulator/data/store.js';

const demo = generateDatabase();
const rowsOf = (name: TableName): Row[] => demo.table(name)!.rows();
const NOW = new Date('2024-05-02T08:15:31.204Z');

/** Every text value of the generated database, for the "hostile data" checks. */
function allText(): string[] {
  const out: string[] = [];
  for (const def of TABLES) {
    const textAttrs = def.attributes.filter((a) => a.type === 'string').map((a) => a.name);
    for (const row of rowsOf(def.name as TableName)) for (const a of textAttrs) if (typeof row[a] === 'string') out.push(row[a] as string);
  }
  return out;
}

/** Fraction of `rows` whose `attr` value is found among `targets`, and the number of misses. */
function resolution(rows: Row[], attr: string, targets: Iterable<unknown>): { ratio: number; dangling: number } {
  const set = new Set(targets);
  const dangling = rows.filter((r) => !set.has(r[attr])).length;
  return { ratio: 1 - dangling / rows.length, dangling };
}

function freshTable(name: TableName): { db: EmulatorDatabase; table: EmulatorTable } {
  const db = new EmulatorDatabase(TABLES);
  return { db, table: db.table(name)! };
}

describe('generateDatabase: determinism and sizes', () => {
  it('produces identical tables for the same seed and scale', () => {
    const a = generateDatabase({ seed: 7 });
    const b = generateDatabase({ seed: 7 });
    for (const name of a.tableNames()) {
      expect(b.table(name)!.size).toBe(a.table(name)!.size);
      expect(b.table(name)!.rows().slice(0, 5)).toEqual(a.table(name)!.rows().slice(0, 5));
    }
    const lastA = a.table('Belege_Pos')!.rows().at(-1);
    expect(b.table('Belege_Pos')!.rows().at(-1)).toEqual(lastA);
  });

  it('produces different data for a different seed', () => {
    const a = generateDatabase({ seed: 7 });
    const c = generateDatabase({ seed: 8 });
    expect(c.table('Artikel_Variante')!.rows()[0].__KEY).not.toBe(a.table('Artikel_Variante')!.rows()[0].__KEY);
    expect(c.table('Belege')!.rows().map((r) => r.Netto)).not.toEqual(a.table('Belege')!.rows().map((r) => r.Netto));
  });

  it('defaults to 1 % of the production sizes', () => {
    expect(DEMO_SCALE).toBe(0.01);
    const sizes = tableSizes(DEMO_SCALE);
    for (const name of demo.tableNames() as TableName[]) {
      expect(sizes[name]).toBe(Math.max(5, Math.round(PRODUCTION_SIZES[name] * 0.01)));
      expect(demo.table(name)!.size).toBe(sizes[name]);
    }
    expect(sizes.Belege_Pos).toBe(3000);
    expect(sizes.Formen).toBe(15);
  });

  it('generates scale 0.1 with the requested sizes', () => {
    const db = generateDatabase({ scale: 0.1, seed: 3 });
    const sizes = tableSizes(0.1);
    expect(sizes.Belege_Pos).toBe(30000);
    for (const name of db.tableNames() as TableName[]) expect(db.table(name)!.size).toBe(sizes[name]);
  });

  it('keeps at least 5 rows per table at tiny scales and rejects a bad scale', () => {
    for (const size of Object.values(tableSizes(0.00001))) expect(size).toBe(5);
    const tiny = generateDatabase({ scale: 0.00001 });
    for (const name of tiny.tableNames()) expect(tiny.table(name)!.size).toBe(5);
    expect(() => tableSizes(0)).toThrow(RangeError);
    expect(() => generateDatabase({ scale: Number.NaN })).toThrow(RangeError);
  });

  it('holds one table per catalog entry, in catalog order', () => {
    expect(demo.tableNames()).toEqual(TABLES.map((t) => t.name));
  });
});

describe('generateDatabase: wire format', () => {
  it('gives every row exactly the catalog attributes, each with its 4D wire type', () => {
    for (const def of TABLES) {
      const expectedKeys = ['__KEY', '__STAMP', '__TIMESTAMP', ...def.attributes.map((a) => a.name)];
      for (const row of rowsOf(def.name as TableName)) {
        expect(Object.keys(row)).toEqual(expectedKeys);
        expect(row.__KEY).toMatch(/^[0-9A-F]{32}$/);
        expect(row.__STAMP).toBe(1);
        for (const attr of def.attributes) {
          const v = row[attr.name];
          const where = `${def.name}.${attr.name} = ${JSON.stringify(v)}`;
          switch (attr.type) {
            case 'string':
              expect(typeof v, where).toBe('string');
              break;
            case 'long':
              expect(Number.isInteger(v), where).toBe(true);
              break;
            case 'number':
              expect(typeof v === 'number' && Number.isFinite(v), where).toBe(true);
              break;
            case 'bool':
              expect(typeof v, where).toBe('boolean');
              break;
            case 'date':
              if (v !== null) {
                expect(v, where).toMatch(/^(0!0!0|[1-9]\d?![1-9]\d?!\d{4})$/);
                expect(() => decodeDate(v), where).not.toThrow();
              }
              break;
            case 'object':
              expect(v === null || (typeof v === 'object' && !Array.isArray(v)), where).toBe(true);
              break;
          }
        }
      }
    }
  });

  it('uses unique keys across the whole database', () => {
    const keys = TABLES.flatMap((t) => rowsOf(t.name as TableName).map((r) => r.__KEY));
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('stamps rows with ISO timestamps between 2015 and 2024', () => {
    for (const def of TABLES) {
      for (const row of rowsOf(def.name as TableName)) {
        expect(row.__TIMESTAMP).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
        expect(row.__TIMESTAMP >= '2015-01-01' && row.__TIMESTAMP < '2025-01-01').toBe(true);
      }
    }
  });

  it('writes unpadded D!M!YYYY dates, about 5 % "0!0!0" and a few nulls', () => {
    const dates = TABLES.flatMap((def) =>
      def.attributes
        .filter((a) => a.type === 'date' && a.name !== 'ZahlungsDat') // unpaid records have no payment date by design
        .flatMap((a) => rowsOf(def.name as TableName).map((r) => r[a.name])),
    );
    const empty = dates.filter((d) => d === '0!0!0').length / dates.length;
    const nulls = dates.filter((d) => d === null).length;
    expect(empty).toBeGreaterThan(0.02);
    expect(empty).toBeLessThan(0.1);
    expect(nulls).toBeGreaterThan(0);
    expect(nulls / dates.length).toBeLessThan(0.03);
    expect(dates.some((d) => typeof d === 'string' && /^\d!\d!/.test(d))).toBe(true); // e.g. "6!3!2017"
  });

  it('stores prices as {"Coll": [{Art, Preis, VE}]} with a few partial or null price objects', () => {
    const preise = rowsOf('Artikel_Variante').map((r) => r.Preise as { Coll: { Art: string; Preis: number; VE: number }[] } | null);
    let both = 0;
    let partial = 0;
    for (const p of preise) {
      if (p === null) continue;
      expect(Object.keys(p)).toEqual(['Coll']);
      for (const item of p.Coll) {
        expect(Object.keys(item)).toEqual(['Art', 'Preis', 'VE']);
        expect(['Laden', 'Handel']).toContain(item.Art);
        expect(Math.round(item.Preis * 100) / 100).toBe(item.Preis);
        expect(Number.isInteger(item.VE)).toBe(true);
      }
      if (p.Coll.length === 2) {
        both++;
        expect(p.Coll.map((c) => c.Art)).toEqual(['Laden', 'Handel']);
        expect(p.Coll[1].Preis).toBeLessThan(p.Coll[0].Preis);
      } else partial++;
    }
    expect(preise.filter((p) => p === null).length).toBeGreaterThan(0);
    expect(partial).toBeGreaterThan(0);
    expect(both / preise.length).toBeGreaterThan(0.85);
  });
});

describe('generateDatabase: WSZ-shaped content', () => {
  it('gives families several variants numbered "<family>-<code>"', () => {
    const families = rowsOf('Artikel_Familie');
    const variants = rowsOf('Artikel_Variante');
    const byKey = new Map(families.map((f) => [f.__KEY, f]));
    for (const f of families) expect(f.Nummer).toMatch(/^\d{6}$/);
    for (const v of variants) {
      expect(v.Nummer).toMatch(/^\d{6}-[A-Z0-9]{2,3}$/);
      const family = byKey.get(v.Familie_ as string);
      if (family) expect((v.Nummer as string).startsWith(`${family.Nummer}-`)).toBe(true);
    }
    expect(new Set(variants.map((v) => v.Nummer)).size).toBe(variants.length);
    const perFamily = families.map((f) => variants.filter((v) => v.Familie_ === f.__KEY).length);
    expect(Math.min(...perFamily)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...perFamily)).toBeGreaterThanOrEqual(3);
  });

  it('numbers customers "K-10023"-style or numerically, with German VAT ids', () => {
    const customers = rowsOf('Kunden');
    expect(new Set(customers.map((c) => c.KundenNr)).size).toBe(customers.length);
    for (const c of customers) {
      expect(c.KundenNr).toMatch(/^(K-\d{5}|\d{5,})$/);
      if (c.USt_IdNr !== '') expect(c.USt_IdNr).toMatch(/^(DE\d{9}|ATU\d{8})$/);
    }
    expect(customers.some((c) => /^\d+$/.test(c.KundenNr as string))).toBe(true);
    expect(customers.some((c) => /^DE\d{9}$/.test(c.USt_IdNr as string))).toBe(true);
  });

  it('gives every customer at least one address and exactly one main address, referenced by Kunden.AdrNr', () => {
    const addresses = rowsOf('Adressen');
    for (const c of rowsOf('Kunden')) {
      const own = addresses.filter((a) => a.KundenNr === c.KundenNr);
      expect(own.length).toBeGreaterThanOrEqual(1);
      const main = own.filter((a) => a.IstHauptadresse);
      expect(main).toHaveLength(1);
      expect(c.AdrNr).toBe(main[0].AdrNr);
    }
    const counts = new Map<unknown, number>();
    for (const a of addresses) counts.set(a.KundenNr, (counts.get(a.KundenNr) ?? 0) + 1);
    expect([...counts.values()].some((n) => n > 1)).toBe(true);
  });

  it('writes sales records with unique increasing numbers, R/A/L/G papers and consistent amounts', () => {
    const records = rowsOf('Belege');
    const numbers = records.map((r) => r.AbsNr as number);
    for (let i = 1; i < numbers.length; i++) expect(numbers[i]).toBeGreaterThan(numbers[i - 1]);
    for (const r of records) {
      expect(['R', 'A', 'L', 'G']).toContain(r.Papierart);
      const sum = (r.Netto as number) + (r.MWST_EUR as number) + (r.Frachtkosten as number) + (r.Bearbeitungskos as number);
      expect(Math.abs((r.Endbetrag as number) - sum)).toBeLessThan(0.006);
      for (const a of ['Netto', 'MWST_EUR', 'Endbetrag']) expect(Math.round((r[a] as number) * 100) / 100).toBe(r[a]);
      if (!r.bezahlt) expect(r.ZahlungsDat).toBe('0!0!0');
    }
    expect(new Set(records.map((r) => r.Papierart)).size).toBe(4);
    expect(records.filter((r) => r.Währung === 'EUR').length / records.length).toBeGreaterThan(0.85);
  });

  it('writes about five items per sales record, numbered 1..n, with Pos_Betrag = Menge × Preis × (1 − Rabatt/100)', () => {
    const items = rowsOf('Belege_Pos');
    expect(items.length / rowsOf('Belege').length).toBeCloseTo(5, 0);
    const byRecord = new Map<unknown, number[]>();
    for (const it of items) {
      const expected = Math.round((it.Menge as number) * (it.Preis as number) * (1 - (it.Rabatt as number) / 100) * 100) / 100;
      expect(it.Pos_Betrag).toBe(expected);
      expect(it.Pick_Menge as number).toBeLessThanOrEqual(it.Menge as number);
      if (!byRecord.has(it.AbsNr)) byRecord.set(it.AbsNr, []);
      byRecord.get(it.AbsNr)!.push(it.PosNr as number);
    }
    const recordNumbers = new Set(rowsOf('Belege').map((r) => r.AbsNr));
    for (const [absNr, pos] of byRecord) {
      if (recordNumbers.has(absNr)) expect(pos).toEqual(pos.map((_, i) => i + 1));
    }
  });

  it('keeps production order items consistent: WAP_Nr 1..n per order, St_Rest = St_Soll − St_Haben', () => {
    const orders = new Set(rowsOf('Werksauftraege').map((o) => o.WerkAufNr));
    const byOrder = new Map<unknown, number[]>();
    for (const p of rowsOf('WerksauftrPos')) {
      if (orders.has(p.W_Auftr_Nr)) byOrder.set(p.W_Auftr_Nr, [...(byOrder.get(p.W_Auftr_Nr) ?? []), p.WAP_Nr as number]);
    }
    for (const nrs of byOrder.values()) expect(nrs).toEqual(nrs.map((_, i) => i + 1));
    for (const p of rowsOf('WerksauftrPos')) {
      expect(p.St_Rest).toBe((p.St_Soll as number) - (p.St_Haben as number));
      expect(p.UUID).toMatch(/^[0-9A-F]{32}$/);
    }
    for (const o of rowsOf('Werksauftraege')) expect(o.WerkAufNr).toMatch(/^WA-\d{6}$/);
  });

  it('resolves about 98 % of every relation and leaves some references dangling', () => {
    const variantNumbers = rowsOf('Artikel_Variante').map((v) => v.Nummer);
    const relations: [string, { ratio: number; dangling: number }][] = [
      ['Artikel_Variante.Familie_', resolution(rowsOf('Artikel_Variante'), 'Familie_', rowsOf('Artikel_Familie').map((f) => f.__KEY))],
      ['Adressen.KundenNr', resolution(rowsOf('Adressen'), 'KundenNr', rowsOf('Kunden').map((c) => c.KundenNr))],
      ['Belege.KundenNr', resolution(rowsOf('Belege'), 'KundenNr', rowsOf('Kunden').map((c) => c.KundenNr))],
      ['Belege_Pos.AbsNr', resolution(rowsOf('Belege_Pos'), 'AbsNr', rowsOf('Belege').map((b) => b.AbsNr))],
      ['Belege_Pos.ArtNr', resolution(rowsOf('Belege_Pos'), 'ArtNr', variantNumbers)],
      ['Form_Artikel.FormNr', resolution(rowsOf('Form_Artikel'), 'FormNr', rowsOf('Formen').map((f) => f.FormNr))],
      ['Form_Artikel.ArtNr', resolution(rowsOf('Form_Artikel'), 'ArtNr', variantNumbers)],
      ['Werksauftraege.Form_Nr', resolution(rowsOf('Werksauftraege'), 'Form_Nr', rowsOf('Formen').map((f) => f.FormNr))],
      ['WerksauftrPos.W_Auftr_Nr', resolution(rowsOf('WerksauftrPos'), 'W_Auftr_Nr', rowsOf('Werksauftraege').map((o) => o.WerkAufNr))],
      ['WerksauftrPos.Art_Nr', resolution(rowsOf('WerksauftrPos'), 'Art_Nr', variantNumbers)],
    ];
    for (const [name, { ratio, dangling }] of relations) {
      expect(dangling, name).toBeGreaterThan(0);
      expect(ratio, name).toBeGreaterThanOrEqual(0.95);
    }
    const big = generateDatabase({ scale: 0.05, seed: 5 });
    const pos = big.table('Belege_Pos')!.rows();
    const { ratio } = resolution(pos, 'ArtNr', big.table('Artikel_Variante')!.rows().map((v) => v.Nummer));
    expect(ratio).toBeCloseTo(0.98, 2);
  });

  it('spreads hostile text: quotes, umlauts, ß, @ & # % + and the filter keywords as words', () => {
    const text = allText();
    const has = (re: RegExp): boolean => text.some((t) => re.test(t));
    for (const ch of ["'", '"', '@', '&', '#', '%', '+', 'ä', 'ö', 'ü', 'ß']) {
      expect(text.some((t) => t.includes(ch)), ch).toBe(true);
    }
    for (const word of ['AND', 'OR', 'NOT', 'begin', 'null']) expect(has(new RegExp(`(^|\\s)${word}(\\s|$)`)), word).toBe(true);
    expect(text).toContain(`O'Reilly "Spezial" Modellbau`);
    // Even a tiny database carries some of it.
    const tiny = generateDatabase({ scale: 0.00001 });
    expect(tiny.table('Artikel_Familie')!.rows()[0].Bezeichnung).toContain(`O'Reilly "Spezial"`);
  });
});

describe('EmulatorTable: writes', () => {
  it('inserts a row with a new 32-hex key, stamp 1, the given time and blank defaults', () => {
    const { db, table } = freshTable('Kunden');
    const row = table.insert({ KundenNr: 'K-1', Rabatt: 2.5 }, NOW);
    expect(row.__KEY).toMatch(/^[0-9A-F]{32}$/);
    expect(row.__STAMP).toBe(1);
    expect(row.__TIMESTAMP).toBe('2024-05-02T08:15:31.204Z');
    expect(row).toMatchObject({ KundenNr: 'K-1', Rabatt: 2.5, AdrNr: '', Liefersperre: false, SkontoTage: 0 });
    expect(table.get(row.__KEY)).toBe(row);
    expect(table.size).toBe(1);
    // Change tracking: the row took the current global stamp (1, a fresh datastore's), which moved on.
    expect(row.__GlobalStamp).toBe(1);
    expect(db.globalStamp).toBe(2);
  });

  it('formats __TIMESTAMP exactly like Date#toISOString, whatever the year', () => {
    const { table } = freshTable('Formen');
    for (const iso of ['1969-07-20T20:17:40.000Z', '2000-02-29T23:59:59.999Z', '2024-12-31T00:00:00.001Z', '1970-01-01T00:00:00.000Z']) {
      expect(table.insert({}, new Date(iso)).__TIMESTAMP).toBe(iso);
    }
  });

  it('converts written values to wire format: ISO or padded dates to unpadded D!M!YYYY, numeric strings to numbers', () => {
    const { table } = freshTable('Belege');
    const a = table.insert({ Datum: '2017-03-06', ZahlungsDat: '06!03!2017', AbsNr: '42', Netto: 1.5 }, NOW);
    expect(a).toMatchObject({ Datum: '6!3!2017', ZahlungsDat: '6!3!2017', AbsNr: 42 });
    const b = table.insert({ Datum: null, ZahlungsDat: '0!0!0' }, NOW);
    expect(b).toMatchObject({ Datum: null, ZahlungsDat: '0!0!0' });
  });

  it('refuses unknown attributes (1500), wrong types (1517) and duplicate explicit keys (1534)', () => {
    const { db, table } = freshTable('Belege');
    const err = (fn: () => unknown): StoreError => {
      try {
        fn();
      } catch (e) {
        expect(e).toBeInstanceOf(StoreError);
        return e as StoreError;
      }
      throw new Error('expected a StoreError');
    };
    expect(err(() => table.insert({ Nme: 'x' })).errCode).toBe(1500);
    expect(err(() => table.insert({ Nme: 'x' })).message).toBe('The "Nme" attribute cannot be found in the "Belege" datastore class');
    expect(err(() => table.insert({ Netto: 'viel' })).errCode).toBe(1517);
    expect(err(() => table.insert({ Datum: '31!2!2020' })).errCode).toBe(1517);
    expect(err(() => table.insert({ bezahlt: 'ja' })).errCode).toBe(1517);
    table.insert({ __KEY: 'ABC' }, NOW);
    expect(err(() => table.insert({ __KEY: 'ABC' })).errCode).toBe(1534);
    expect(table.size).toBe(1);
    expect(db.globalStamp).toBe(2); // refused writes take no stamp
  });

  it('updates by replacing the row: stamp + 1, new timestamp, earlier objects untouched', () => {
    const { db, table } = freshTable('Adressen');
    const before = table.insert({ AdrNr: '1', Firma: 'Alt GmbH', Ort: 'Köln' }, NOW);
    const later = new Date('2024-06-01T00:00:00.000Z');
    const after = table.update(before.__KEY, { Firma: 'Neu GmbH', __STAMP: 99 }, later);
    expect(after).not.toBe(before);
    expect(before).toMatchObject({ Firma: 'Alt GmbH', __STAMP: 1 });
    expect(after).toMatchObject({ __KEY: before.__KEY, Firma: 'Neu GmbH', Ort: 'Köln', __STAMP: 2, __TIMESTAMP: '2024-06-01T00:00:00.000Z' });
    expect(table.get(before.__KEY)).toBe(after);
    expect(table.update(before.__KEY, {}, later).__STAMP).toBe(3);
    expect(db.globalStamp).toBe(4);
  });

  it('keeps insertion order across updates and drops deleted rows', () => {
    const { table } = freshTable('Formen');
    const [a, b, c] = ['F1', 'F2', 'F3'].map((FormNr) => table.insert({ FormNr }, NOW));
    table.update(a.__KEY, { Bezeichnung: 'geändert' }, NOW);
    expect(table.rows().map((r) => r.FormNr)).toEqual(['F1', 'F2', 'F3']);
    expect(table.delete(b.__KEY)).toBe(true);
    expect(table.delete(b.__KEY)).toBe(false);
    expect(table.rows().map((r) => r.FormNr)).toEqual(['F1', 'F3']);
    expect(table.get(b.__KEY)).toBeUndefined();
    expect(table.size).toBe(2);
    expect(table.get(c.__KEY)?.FormNr).toBe('F3');
  });

  it('is all-or-nothing on update and reports unknown keys with 1542', () => {
    const { db, table } = freshTable('Formen');
    const row = table.insert({ FormNr: 'F1' }, NOW);
    expect(() => table.update(row.__KEY, { Bezeichnung: 'x', aktiv: 'nein' })).toThrow(StoreError);
    expect(table.get(row.__KEY)).toBe(row);
    try {
      table.update('NOPE', { Bezeichnung: 'x' });
      expect.unreachable();
    } catch (e) {
      expect(e).toMatchObject({ errCode: 1542, status: 404 });
    }
    expect(db.globalStamp).toBe(2);
  });
});

describe('EmulatorTable.findBy', () => {
  it('finds rows by an indexed attribute, 4D-style (case- and accent-insensitive), in table order', () => {
    const { table } = freshTable('Adressen');
    const a = table.insert({ AdrNr: '1', KundenNr: 'K-Müller' }, NOW);
    table.insert({ AdrNr: '2', KundenNr: 'K-2' }, NOW);
    const c = table.insert({ AdrNr: '3', KundenNr: 'k-muller' }, NOW);
    expect(findTable('Adressen')!.attributes.find((x) => x.name === 'KundenNr')!.indexed).toBe(true);
    expect(table.findBy('KundenNr', 'K-MULLER')).toEqual([a, c]);
    expect(table.findBy('KundenNr', 'K-Mu@')).toEqual([]); // no wildcard: literal comparison
  });

  it('keeps the index right after updates and deletes', () => {
    const { table } = freshTable('Belege_Pos');
    const a = table.insert({ AbsNr: 1, PosNr: 1, ArtNr: '100-BE' }, NOW);
    const b = table.insert({ AbsNr: 1, PosNr: 2, ArtNr: '100-SW' }, NOW);
    expect(table.findBy('AbsNr', 1)).toEqual([a, b]); // builds the index
    const moved = table.update(a.__KEY, { AbsNr: 2 }, NOW);
    expect(table.findBy('AbsNr', 1)).toEqual([b]);
    expect(table.findBy('AbsNr', 2)).toEqual([moved]);
    const back = table.update(a.__KEY, { AbsNr: 1 }, NOW);
    expect(table.findBy('AbsNr', 1)).toEqual([back, b]); // table order, not index order
    const c = table.insert({ AbsNr: 1, PosNr: 3 }, NOW);
    expect(table.findBy('AbsNr', '1')).toEqual([back, b, c]); // numeric text converted like an update value
    table.delete(b.__KEY);
    expect(table.findBy('AbsNr', 1)).toEqual([back, c]);
    expect(table.findBy('ArtNr', '100-sw')).toEqual([]);
  });

  it('scans for non-indexed attributes, compares dates by calendar day and finds by __KEY', () => {
    const { table } = freshTable('Belege');
    const a = table.insert({ Datum: '6!3!2017', Text: 'Straße' }, NOW);
    const b = table.insert({ Datum: '0!0!0', Text: 'x' }, NOW);
    const c = table.insert({ Datum: null }, NOW);
    expect(table.findBy('Datum', '2017-03-06')).toEqual([a]);
    expect(table.findBy('Datum', '06!03!2017')).toEqual([a]);
    expect(table.findBy('Datum', null)).toEqual([b, c]);
    expect(table.findBy('Text', 'STRASSE')).toEqual([a]);
    expect(table.findBy('Netto', 'abc')).toEqual([]);
    expect(table.findBy('__KEY', a.__KEY)).toEqual([a]);
    expect(() => table.findBy('Nme', 1)).toThrow(StoreError);
  });

  it('finds generated rows through the index at demo scale', () => {
    const pos = demo.table('Belege_Pos')!;
    const absNr = pos.rows()[0].AbsNr;
    expect(pos.findBy('AbsNr', absNr)).toEqual(pos.rows().filter((r) => r.AbsNr === absNr));
  });
});

describe('EmulatorDatabase', () => {
  it('looks tables up by exact name and moves globalStamp (from 1) on every write', () => {
    const db = new EmulatorDatabase(TABLES);
    expect(db.table('kunden')).toBeUndefined();
    const kunden = db.table('Kunden')!;
    const row = kunden.insert({ KundenNr: 'K-1' }, NOW);
    kunden.update(row.__KEY, { Rabatt: 3 }, NOW);
    kunden.delete(row.__KEY);
    kunden.delete(row.__KEY); // no-op
    expect(db.globalStamp).toBe(4);
  });

  it('creates the same keys for the same key seed', () => {
    const keys = (seed: number): string[] => {
      const t = new EmulatorDatabase(TABLES, { keySeed: seed }).table('Formen')!;
      return [1, 2, 3].map(() => t.insert({}, NOW).__KEY);
    };
    expect(keys(4)).toEqual(keys(4));
    expect(keys(4)).not.toEqual(keys(5));
  });
});
