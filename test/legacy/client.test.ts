import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  f,
  LegacyBulkUpdateError,
  LegacyNotFoundError,
  LegacyQueryError,
  LegacyStampConflictError,
  LegacyValidationError,
  type FilterNode,
  type Row,
} from '../../src/legacy/index.js';
import { countRequests, fold, keysOf, legacyFixture, tableRows, type LegacyFixture } from './setup.js';
import { rejection } from '../helpers/assertions.js';

let fx: LegacyFixture;

beforeAll(async () => {
  fx = await legacyFixture();
  await fx.client.ping(); // open the session once, so request counts below are data requests only
});
afterAll(async () => {
  await fx?.close();
});

const counting = <T>(fn: () => Promise<T>) => countRequests(fx.emulator, fn);


describe('fetchTable', () => {
  it('returns one page with __COUNT, __FIRST and __SENT, in the requested order', async () => {
    const all = tableRows(fx.emulator, 'Kunden');
    const page = await fx.client.fetchTable('Kunden', { top: 10, skip: 5, orderBy: 'KundenNr asc' });
    const expected = [...all].sort((a, b) => String(a.KundenNr).localeCompare(String(b.KundenNr))).slice(5, 15);
    expect(page.total).toBe(all.length);
    expect(page.first).toBe(5);
    expect(page.sent).toBe(10);
    expect(page.rows.map((r) => r.__KEY)).toEqual(expected.map((r) => r.__KEY));
    expect(typeof page.rows[0]!.__KEY).toBe('string');
    expect(page.rows[0]).toMatchObject({ KundenNr: expected[0]!.KundenNr, __STAMP: expected[0]!.__STAMP });
  });

  it('always sends $top explicitly (100 by default)', async () => {
    fx.emulator.resetCounters();
    const page = await fx.client.fetchTable('Belege');
    expect(page.rows).toHaveLength(100);
    expect(page.total).toBe(tableRows(fx.emulator, 'Belege').length);
    expect(fx.emulator.requestLog.at(-1)!.path).toMatch(/[?&]\$top=100(&|$)/);
  });

  it('orders descending and restricts attributes', async () => {
    const page = await fx.client.fetchTable('Belege', { top: 3, orderBy: [['AbsNr', 'desc']], attributes: ['AbsNr', 'Datum'] });
    const expected = tableRows(fx.emulator, 'Belege').map((r) => r.AbsNr as number).sort((a, b) => b - a).slice(0, 3);
    expect(page.rows.map((r) => r.AbsNr)).toEqual(expected);
    expect(Object.keys(page.rows[0]!).sort()).toEqual(['AbsNr', 'Datum', '__KEY', '__STAMP', '__TIMESTAMP']);
  });

  it('reports a 4D query error as LegacyQueryError (no silent unfiltered fallback)', async () => {
    const error = await rejection(fx.client.fetchTable('Kunden', { filter: f.raw('KundenNr ~~ :1', ['x']) }));
    expect(error).toBeInstanceOf(LegacyQueryError);
    expect((error as LegacyQueryError).errCode).toBeGreaterThan(0);
  });
});

describe('filters against the emulator', () => {
  const kunden = () => tableRows(fx.emulator, 'Kunden');
  const expectRows = async (table: string, filter: FilterNode, predicate: (r: Record<string, unknown>) => boolean) => {
    const expected = tableRows(fx.emulator, table).filter(predicate);
    const rows = await fx.client.fetchAll(table, { filter });
    expect(keysOf(rows)).toEqual(keysOf(expected));
    return { rows, expected };
  };

  it('eq/ne match exactly (case- and accent-insensitively, as 4D compares text)', async () => {
    const target = String(kunden()[7]!.KundenNr);
    const { rows } = await expectRows('Kunden', f.eq('KundenNr', target.toLowerCase()), (r) => fold(String(r.KundenNr)) === fold(target));
    expect(rows).toHaveLength(1);
    const group = String(kunden()[0]!.Preisgru);
    await expectRows('Kunden', f.ne('Preisgru', group), (r) => r.Preisgru !== null && fold(String(r.Preisgru)) !== fold(group));
  });

  it('lt/lte/gt/gte compare numbers', async () => {
    const limits = kunden().map((r) => r.Kreditlimit as number).sort((a, b) => a - b);
    const mid = limits[Math.floor(limits.length / 2)]!;
    await expectRows('Kunden', f.lt('Kreditlimit', mid), (r) => (r.Kreditlimit as number) < mid);
    await expectRows('Kunden', f.lte('Kreditlimit', mid), (r) => (r.Kreditlimit as number) <= mid);
    await expectRows('Kunden', f.gt('Kreditlimit', mid), (r) => (r.Kreditlimit as number) > mid);
    await expectRows('Kunden', f.gte('Kreditlimit', mid), (r) => (r.Kreditlimit as number) >= mid);
  });

  it('compares dates given as ISO strings or Date objects', async () => {
    const toIso = (wire: unknown) => {
      const m = /^(\d+)!(\d+)!(\d+)$/.exec(String(wire));
      if (!m || m[3] === '0') return null;
      return `${m[3]!.padStart(4, '0')}-${m[2]!.padStart(2, '0')}-${m[1]!.padStart(2, '0')}`;
    };
    const dates = tableRows(fx.emulator, 'Belege').map((r) => toIso(r.Datum)).filter((d): d is string => !!d).sort();
    const mid = dates[Math.floor(dates.length / 2)]!;
    await expectRows('Belege', f.gte('Datum', mid), (r) => (toIso(r.Datum) ?? '') >= mid && toIso(r.Datum) !== null);
    await expectRows('Belege', f.lt('Datum', new Date(`${mid}T00:00:00Z`)), (r) => toIso(r.Datum) !== null && toIso(r.Datum)! < mid);
  });

  it('begins and contains', async () => {
    const prefix = String(kunden()[3]!.KundenNr).slice(0, 5);
    await expectRows('Kunden', f.begins('KundenNr', prefix), (r) => fold(String(r.KundenNr)).startsWith(fold(prefix)));
    const part = String(kunden()[5]!.USt_IdNr).slice(4, 7);
    await expectRows('Kunden', f.contains('USt_IdNr', part), (r) => fold(String(r.USt_IdNr)).includes(fold(part)));
  });

  it('in, isNull, notNull, not, and, or', async () => {
    const some = kunden().slice(0, 4).map((r) => String(r.KundenNr));
    await expectRows('Kunden', f.in('KundenNr', some), (r) => some.includes(String(r.KundenNr)));
    const isNullDate = (v: unknown) => v === null || v === '0!0!0';
    await expectRows('Belege', f.isNull('ZahlungsDat'), (r) => isNullDate(r.ZahlungsDat));
    await expectRows('Belege', f.notNull('ZahlungsDat'), (r) => !isNullDate(r.ZahlungsDat));
    await expectRows('Kunden', f.not(f.in('KundenNr', some)), (r) => !some.includes(String(r.KundenNr)));
    const group = String(kunden()[0]!.Preisgru);
    await expectRows(
      'Kunden',
      f.or(f.and(f.eq('Preisgru', group), f.eq('Liefersperre', false)), f.in('KundenNr', some)),
      (r) => (fold(String(r.Preisgru)) === fold(group) && r.Liefersperre === false) || some.includes(String(r.KundenNr)),
    );
  });

  describe('values with URL and 4D syntax characters', () => {
    const tricky = [
      "O'Reilly",
      'say "hi"',
      'a@b',
      '@start',
      'x#y',
      'R&D',
      '100%',
      '1+1',
      'Ärger Straße',
      '日本語 😀',
      'AND',
      'OR',
      'null',
      'a b',
      ':1',
      'back\\slash',
    ];
    // Decoys that a broken encoding or a wildcard interpretation would match instead.
    const decoys = ['aXYb', 'a', 'x', 'R', '100', '1 1', '11', 'Xstart', 'O', 'say'];
    beforeAll(() => {
      const table = fx.emulator.db.table('Kunden')!;
      for (const value of [...tricky, ...decoys]) table.insert({ KundenNr: value, AdrNr: `T-${value}` });
    });

    for (const value of tricky) {
      it(`eq and in find exactly ${JSON.stringify(value)}`, async () => {
        const expected = keysOf(tableRows(fx.emulator, 'Kunden').filter((r) => fold(String(r.KundenNr)) === fold(value)));
        expect(expected).toHaveLength(1);
        expect(keysOf((await fx.client.fetchTable('Kunden', { filter: f.eq('KundenNr', value) })).rows)).toEqual(expected);
        expect(keysOf((await fx.client.fetchTable('Kunden', { filter: f.in('KundenNr', [value, 'no-such-value']) })).rows)).toEqual(expected);
      });
    }

    it('sends spaces as %20 and every value only inside $params', async () => {
      fx.emulator.resetCounters();
      await fx.client.fetchTable('Kunden', { filter: f.eq('KundenNr', 'a b') });
      const path = fx.emulator.requestLog.at(-1)!.path;
      expect(path).toContain('%20');
      expect(path).not.toContain('+');
      const filter = decodeURIComponent(/\$filter=([^&]*)/.exec(path)![1]!);
      expect(filter).toBe('"KundenNr === :1"');
      expect(decodeURIComponent(/\$params=([^&]*)/.exec(path)![1]!)).toBe(`'["a b"]'`);
    });

    it('begins/contains with URL-significant characters stay exact', async () => {
      const rows = (await fx.client.fetchTable('Kunden', { filter: f.begins('KundenNr', '1+') })).rows;
      expect(rows.map((r) => r.KundenNr)).toEqual(['1+1']);
      const pct = (await fx.client.fetchTable('Kunden', { filter: f.contains('KundenNr', '0%') })).rows;
      expect(pct.map((r) => r.KundenNr)).toEqual(['100%']);
      const amp = (await fx.client.fetchTable('Kunden', { filter: f.contains('KundenNr', '&') })).rows;
      expect(amp.map((r) => r.KundenNr)).toEqual(['R&D']);
    });

    it('fetchByKeys finds tricky values, @ included', async () => {
      const perKey = await fx.client.fetchByKeys('Kunden', 'KundenNr', tricky);
      expect(perKey.map((rows) => rows.map((r) => r.KundenNr))).toEqual(tricky.map((t) => [t]));
    });
  });
});

describe('fetchAll', () => {
  it('returns the whole table in order for ceil(n / pageSize) pages of one entity set and its release', async () => {
    const all = tableRows(fx.emulator, 'Belege');
    const pageSize = 70;
    const { result, requests } = await counting(() => fx.client.fetchAll('Belege', { pageSize, parallel: 3 }));
    expect(requests).toBe(Math.ceil(all.length / pageSize) + 1);
    expect(fx.emulator.liveEntitySets()).toBe(0);
    expect(result).toHaveLength(all.length);
    expect(result.map((r) => r.AbsNr)).toEqual(all.map((r) => r.AbsNr as number).sort((a, b) => a - b));
    expect(new Set(result.map((r) => r.__KEY)).size).toBe(all.length);
  });

  it('pages a filtered selection and honours the caller order', async () => {
    const expected = tableRows(fx.emulator, 'Belege').filter((r) => r.bezahlt === true);
    const rows = await fx.client.fetchAll('Belege', { filter: f.eq('bezahlt', true), pageSize: 25, orderBy: 'AbsNr desc' });
    expect(rows.map((r) => r.AbsNr)).toEqual(expected.map((r) => r.AbsNr as number).sort((a, b) => b - a));
  });

  it('costs the empty entity set and its release for an empty result', async () => {
    const { result, requests } = await counting(() => fx.client.fetchAll('Kunden', { filter: f.eq('KundenNr', 'does-not-exist') }));
    expect(result).toEqual([]);
    expect(requests).toBe(2);
  });

  it('stops requesting pages once one page has failed', async () => {
    const total = tableRows(fx.emulator, 'Belege').length;
    let armed = false;
    const client = fx.newClient({
      onUpstreamRequest: (e) => {
        // The first page (which gives __COUNT) is in: make the next request fail (a 4D error, not retried).
        if (e.route === 'collection' && e.status === 200 && !armed) {
          armed = true;
          fx.emulator.failNext(1, 500);
        }
      },
    });
    await client.ping();
    const before = fx.emulator.counters.byTable.Belege ?? 0;
    expect((await rejection(client.fetchAll('Belege', { pageSize: 5, parallel: 2 }))).message).toContain('HTTP 500');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(Math.ceil(total / 5)).toBeGreaterThan(10);
    // First page, the failed one, and the release of the entity set.
    expect((fx.emulator.counters.byTable.Belege ?? 0) - before).toBeLessThanOrEqual(3);
  });

  it('returns every row when the server caps $top below the page size', async () => {
    const capped = await legacyFixture({ maxTop: 30 });
    try {
      const all = tableRows(capped.emulator, 'Belege');
      expect(all.length).toBeGreaterThan(60);
      const rows = await capped.client.fetchAll('Belege', { pageSize: 100, parallel: 2 });
      expect(rows.map((r) => r.AbsNr)).toEqual(all.map((r) => r.AbsNr as number).sort((a, b) => a - b));
      expect(capped.emulator.counters.byTable.Belege).toBe(Math.ceil(all.length / 30) + 1); // and the release
      expect(capped.logs.some((l) => l.includes('caps $top'))).toBe(true);
    } finally {
      await capped.close();
    }
  });
});

describe('fetchRecord and fetchByKeys', () => {
  it('fetchRecord returns the entity, or null for an unknown key', async () => {
    const row = tableRows(fx.emulator, 'Artikel_Variante')[3]!;
    const got = await fx.client.fetchRecord('Artikel_Variante', row.__KEY);
    expect(got).toMatchObject({ __KEY: row.__KEY, __STAMP: row.__STAMP, Nummer: row.Nummer });
    expect(await fx.client.fetchRecord('Artikel_Variante', 'FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF')).toBeNull();
  });

  it('fetchByKeys splits long key lists into URL-safe chunks and returns every match', async () => {
    const rows = tableRows(fx.emulator, 'Belege_Pos');
    const wanted = rows.slice(0, 400).map((r) => r.__KEY);
    const missing = Array.from({ length: 50 }, (_, i) => `MISSING${String(i).padStart(25, '0')}`);
    fx.emulator.resetCounters();
    const got = await fx.client.fetchByKeys('Belege_Pos', '__KEY', [...wanted, ...missing, wanted[0]!]);
    // One array per key asked, in order: the duplicate too, the missing ones empty.
    expect(got).toHaveLength(wanted.length + missing.length + 1);
    expect(got.map((rows) => rows.map((r) => r.__KEY))).toEqual([...wanted.map((k) => [k]), ...missing.map(() => []), [wanted[0]]]);
    const paths = fx.emulator.requestLog.map((e) => e.path);
    expect(paths.length).toBeGreaterThan(1);
    for (const p of paths) expect(Buffer.byteLength(p)).toBeLessThan(6 * 1024);
  });

  it('fetchByKeys returns every row of a non-unique attribute and costs nothing for no keys', async () => {
    const rows = tableRows(fx.emulator, 'Belege_Pos');
    const absNrs = [...new Set(rows.slice(0, 30).map((r) => r.AbsNr as number))];
    const got = await fx.client.fetchByKeys('Belege_Pos', 'AbsNr', absNrs, { attributes: ['AbsNr', 'PosNr'] });
    absNrs.forEach((absNr, i) => expect(keysOf(got[i]!)).toEqual(keysOf(rows.filter((r) => r.AbsNr === absNr))));
    const { result, requests } = await counting(() => fx.client.fetchByKeys('Belege_Pos', 'AbsNr', []));
    expect(result).toEqual([]);
    expect(requests).toBe(0);
  });

  it('fetchByKeys matches keys as 4D compares: numeric text coerced, case and accents folded, non-numbers free', async () => {
    const rows = tableRows(fx.emulator, 'Belege_Pos');
    const absNr = rows[0]!.AbsNr as number;
    const { result, requests } = await counting(() => fx.client.fetchByKeys('Belege_Pos', 'AbsNr', [String(absNr), 'not a number', '']));
    expect(result[0]!.length).toBeGreaterThan(0);
    expect(result[0]!.every((r) => r.AbsNr === absNr)).toBe(true);
    expect(result.slice(1)).toEqual([[], []]);
    expect(requests).toBe(1);
    const none = await counting(() => fx.client.fetchByKeys('Belege_Pos', 'AbsNr', ['x', 'y']));
    expect(none.result).toEqual([[], []]);
    expect(none.requests).toBe(0);
    const kunde = tableRows(fx.emulator, 'Kunden')[0]!;
    const number = String(kunde.KundenNr);
    const variants = await fx.client.fetchByKeys('Kunden', 'KundenNr', [number.toLowerCase(), number]);
    expect(variants.map((r) => r.map((row) => row.__KEY))).toEqual([[kunde.__KEY], [kunde.__KEY]]);
  });
});

describe('update', () => {
  const pick = (table: string, i: number) => tableRows(fx.emulator, table)[i]!;

  it('saves changes and returns the saved entity with a new stamp', async () => {
    const row = pick('Kunden', 10);
    const saved = await fx.client.update('Kunden', row.__KEY, row.__STAMP, { Kreditlimit: 12345.5, Liefersperre: true });
    expect(saved).toMatchObject({ __KEY: row.__KEY, __STAMP: row.__STAMP + 1, Kreditlimit: 12345.5, Liefersperre: true });
    expect(fx.emulator.db.table('Kunden')!.get(row.__KEY)).toMatchObject({ Kreditlimit: 12345.5, __STAMP: row.__STAMP + 1 });
  });

  it('encodes dates as D!M!YYYY and null as the empty date', async () => {
    const row = pick('Belege', 11);
    await fx.client.update('Belege', row.__KEY, row.__STAMP, { Datum: '2024-02-29', ZahlungsDat: null });
    expect(fx.emulator.db.table('Belege')!.get(row.__KEY)).toMatchObject({ Datum: '29!2!2024' });
    expect(['0!0!0', null]).toContain(fx.emulator.db.table('Belege')!.get(row.__KEY)!.ZahlungsDat);
  });

  it('a stale stamp raises LegacyStampConflictError with the current stamp and values, and saves nothing', async () => {
    const row = pick('Kunden', 12);
    await fx.client.update('Kunden', row.__KEY, row.__STAMP, { Rabatt: 3 });
    const before = fx.emulator.db.table('Kunden')!.get(row.__KEY)!;
    const error = await rejection(fx.client.update('Kunden', row.__KEY, row.__STAMP, { Rabatt: 9 }));
    expect(error).toBeInstanceOf(LegacyStampConflictError);
    const conflict = error as LegacyStampConflictError;
    expect(conflict.errCode).toBe(1263);
    expect(conflict.currentStamp).toBe(row.__STAMP + 1);
    expect(conflict.sentStamp).toBe(row.__STAMP);
    expect(conflict.currentValues).toMatchObject({ Rabatt: 3, KundenNr: row.KundenNr });
    expect(conflict.message).toContain(row.__KEY);
    expect(fx.emulator.db.table('Kunden')!.get(row.__KEY)).toEqual(before);
  });

  it('an unknown key raises LegacyNotFoundError', async () => {
    const error = await rejection(fx.client.update('Kunden', 'FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF', 1, { Rabatt: 1 }));
    expect(error).toBeInstanceOf(LegacyNotFoundError);
  });

  it('rejects bad changes before any request', async () => {
    const row = pick('Kunden', 13);
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ Kundennummer: 'x' }, 'Kundennummer'],
      [{ __STAMP: 5 }, 'system attribute'],
      [{ Kreditlimit: '100' }, 'finite number'],
      [{ SkontoTage: 1.5 }, 'integer'],
      [{ Liefersperre: 'yes' }, 'boolean'],
      [{}, 'non-empty'],
    ];
    const before = fx.emulator.counters.requests;
    for (const [changes, text] of cases) {
      const error = await rejection(fx.client.update('Kunden', row.__KEY, row.__STAMP, changes));
      expect(error).toBeInstanceOf(LegacyValidationError);
      expect(error.message).toContain(text);
    }
    const dateError = await rejection(fx.client.update('Belege', row.__KEY, 1, { Datum: '31.12.2024' }));
    expect(dateError).toBeInstanceOf(LegacyValidationError);
    expect(fx.emulator.counters.requests).toBe(before);
  });
});

describe('bulkUpdate', () => {
  const take = (from: number, n: number) => tableRows(fx.emulator, 'Artikel_Variante').slice(from, from + n);

  it('saves every item in one request and returns the saved rows in order', async () => {
    const rows = take(20, 3);
    const { result, requests } = await counting(() =>
      fx.client.bulkUpdate('Artikel_Variante', rows.map((r, i) => ({ key: r.__KEY, stamp: r.__STAMP, changes: { Farbe: `bulk-${i}` } }))),
    );
    expect(requests).toBe(1);
    expect(result.map((r: Row) => [r.__KEY, r.Farbe, r.__STAMP])).toEqual(rows.map((r, i) => [r.__KEY, `bulk-${i}`, r.__STAMP + 1]));
  });

  it('an atomic batch with one stale stamp saves nothing and names the failed item', async () => {
    const rows = take(30, 3);
    const before = rows.map((r) => fx.emulator.db.table('Artikel_Variante')!.get(r.__KEY));
    const items = rows.map((r, i) => ({ key: r.__KEY, stamp: i === 1 ? r.__STAMP + 7 : r.__STAMP, changes: { Farbe: 'atomic' } }));
    const error = await rejection(fx.client.bulkUpdate('Artikel_Variante', items));
    expect(error).toBeInstanceOf(LegacyBulkUpdateError);
    const bulk = error as LegacyBulkUpdateError;
    expect(bulk.atomic).toBe(true);
    expect(bulk.failures.map((x) => x.key)).toEqual([rows[1]!.__KEY]);
    expect(bulk.failures[0]).toMatchObject({ index: 1, kind: 'staleStamp', errCode: 1263, currentStamp: rows[1]!.__STAMP });
    expect(bulk.message).toContain(rows[1]!.__KEY);
    expect(bulk.message).toContain('nothing was saved');
    expect(rows.map((r) => fx.emulator.db.table('Artikel_Variante')!.get(r.__KEY))).toEqual(before);
  });

  it('a non-atomic batch saves the good items and reports the bad ones', async () => {
    const rows = take(40, 2);
    const items = [
      { key: rows[0]!.__KEY, stamp: rows[0]!.__STAMP, changes: { Farbe: 'ok' } },
      { key: rows[1]!.__KEY, stamp: rows[1]!.__STAMP + 3, changes: { Farbe: 'stale' } },
    ];
    const error = (await rejection(fx.client.bulkUpdate('Artikel_Variante', items, { atomic: false }))) as LegacyBulkUpdateError;
    expect(error).toBeInstanceOf(LegacyBulkUpdateError);
    expect(error.failures.map((x) => x.index)).toEqual([1]);
    expect(error.saved.map((r) => r.__KEY)).toEqual([rows[0]!.__KEY]);
    expect(fx.emulator.db.table('Artikel_Variante')!.get(rows[0]!.__KEY)!.Farbe).toBe('ok');
    expect(fx.emulator.db.table('Artikel_Variante')!.get(rows[1]!.__KEY)!.Farbe).toBe(rows[1]!.Farbe);
  });

  it('tells a missing entity apart from a stale stamp in a batch', async () => {
    const rows = take(44, 1);
    const items = [
      { key: rows[0]!.__KEY, stamp: rows[0]!.__STAMP, changes: { Farbe: 'x' } },
      { key: 'FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF', stamp: 1, changes: { Farbe: 'y' } },
    ];
    const error = (await rejection(fx.client.bulkUpdate('Artikel_Variante', items))) as LegacyBulkUpdateError;
    expect(error).toBeInstanceOf(LegacyBulkUpdateError);
    expect(error.failures).toEqual([expect.objectContaining({ index: 1, kind: 'notFound' })]);
  });

  it('validates every item before sending anything', async () => {
    const rows = take(50, 2);
    const before = fx.emulator.counters.requests;
    const error = await rejection(
      fx.client.bulkUpdate('Artikel_Variante', [
        { key: rows[0]!.__KEY, stamp: rows[0]!.__STAMP, changes: { Farbe: 'x' } },
        { key: rows[1]!.__KEY, stamp: rows[1]!.__STAMP, changes: { Gewicht: 'heavy' } },
      ]),
    );
    expect(error).toBeInstanceOf(LegacyValidationError);
    expect(error.message).toContain('item #1');
    expect(fx.emulator.counters.requests).toBe(before);
  });
});

describe('pushField', () => {
  it('reads the stamp and writes one field', async () => {
    const row = tableRows(fx.emulator, 'Formen')[2]!;
    const { result, requests } = await counting(() => fx.client.pushField('Formen', row.__KEY, 'Bezeichnung', 'Neue Form'));
    expect(requests).toBe(2);
    expect(result).toMatchObject({ __KEY: row.__KEY, Bezeichnung: 'Neue Form', __STAMP: row.__STAMP + 1 });
  });

  it('raises LegacyNotFoundError for a missing record and validates before reading', async () => {
    expect(await rejection(fx.client.pushField('Formen', 'FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF', 'Bezeichnung', 'x'))).toBeInstanceOf(LegacyNotFoundError);
    const before = fx.emulator.counters.requests;
    const error = await rejection(fx.client.pushField('Formen', 'ABC', 'aktiv', 'ja'));
    expect(error).toBeInstanceOf(LegacyValidationError);
    expect(fx.emulator.counters.requests).toBe(before);
  });
});

describe('validation without upstream requests', () => {
  it('an unknown table is named and the allowed tables listed', async () => {
    const before = fx.emulator.counters.requests;
    const eventsBefore = fx.events.length;
    const error = await rejection(fx.client.fetchTable('Artikel'));
    expect(error).toBeInstanceOf(LegacyValidationError);
    expect(error.message).toContain('"Artikel"');
    for (const t of ['Artikel_Familie', 'Artikel_Variante', 'Kunden', 'WerksauftrPos']) expect(error.message).toContain(t);
    expect((error as LegacyValidationError).environment).toBe('test');
    expect(fx.emulator.counters.requests).toBe(before);
    expect(fx.events.length).toBe(eventsBefore);
  });

  it('an unknown attribute (filter, attributes, orderBy, fetchByKeys) is named with the table attributes', async () => {
    const before = fx.emulator.counters.requests;
    const attempts = [
      fx.client.fetchTable('Artikel_Variante', { filter: f.eq('aktiv', true) }),
      fx.client.fetchTable('Artikel_Variante', { attributes: ['Nummer', 'Release_Date'] }),
      fx.client.fetchAll('Artikel_Variante', { orderBy: 'nummer asc' }),
      fx.client.fetchByKeys('Artikel_Variante', 'Familie', ['x']),
    ];
    const names = ['aktiv', 'Release_Date', 'nummer', 'Familie'];
    for (const [i, attempt] of attempts.entries()) {
      const error = await rejection(attempt);
      expect(error).toBeInstanceOf(LegacyValidationError);
      expect(error.message).toContain(`"${names[i]}"`);
      expect(error.message).toContain('Aktiv');
      expect(error.message).toContain('Release_date');
      expect(error.message).toContain('Familie_');
    }
    expect(fx.emulator.counters.requests).toBe(before);
  });

  it('an unknown environment lists the configured ones', async () => {
    const error = await rejection(fx.client.fetchTable('Kunden', { environment: 'live' }));
    expect(error).toBeInstanceOf(LegacyValidationError);
    expect(error.message).toContain('"live"');
    expect(error.message).toContain('test');
  });

  it('bad paging values are rejected', async () => {
    expect(await rejection(fx.client.fetchTable('Kunden', { top: -1 }))).toBeInstanceOf(LegacyValidationError);
    expect(await rejection(fx.client.fetchTable('Kunden', { skip: 1.5 }))).toBeInstanceOf(LegacyValidationError);
    expect(await rejection(fx.client.fetchAll('Kunden', { pageSize: 0 }))).toBeInstanceOf(LegacyValidationError);
  });
});

describe('diagnostics', () => {
  it('listTables returns the catalog and ping answers', async () => {
    const tables = await fx.client.listTables();
    expect(tables).toEqual(expect.arrayContaining(['Kunden', 'Artikel_Variante', 'WerksauftrPos']));
    const pong = await fx.client.ping();
    expect(pong.environment).toBe('test');
    expect(pong.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('reports every HTTP attempt to onUpstreamRequest', async () => {
    const before = fx.events.length;
    await fx.client.fetchTable('Formen', { top: 1 });
    expect(fx.events.slice(before)).toEqual([
      expect.objectContaining({ environment: 'test', method: 'GET', route: 'collection', table: 'Formen', status: 200, attempt: 1 }),
    ]);
  });
});
