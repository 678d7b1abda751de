/**
 * `fetchByKeys` matches keys as 4D compares them: one list of rows per key, aligned with the keys
 * (duplicates included), text folded for case and accents (exact matches first), numeric keys
 * coerced, and a key that cannot match costs no request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeDate } from '../../src/legacy/codecs.js';
import { foldKey, LegacyValidationError, type Row } from '../../src/legacy/index.js';
import { rowsPerKey } from '../../src/legacy/keys.js';
import { requireAttribute, requireTable } from '../../src/legacy/filter.js';
import { rejection } from '../helpers/assertions.js';
import { countRequests, keysOf, legacyFixture, tableRows, type LegacyFixture } from './setup.js';

let fx: LegacyFixture;
/** `__KEY` of the inserted Kunden rows by their KundenNr. */
const inserted = new Map<string, string>();

beforeAll(async () => {
  fx = await legacyFixture();
  const kunden = fx.emulator.db.table('Kunden')!;
  for (const nr of ['Müller', 'muller', 'MÜLLER-2', 'STRASSE 1', 'Kühn']) inserted.set(nr, kunden.insert({ KundenNr: nr, AdrNr: `T-${nr}` }).__KEY);
  await fx.client.ping(); // the session is open: request counts below are data requests only
});
afterAll(async () => {
  await fx?.close();
});

const counting = <T>(fn: () => Promise<T>) => countRequests(fx.emulator, fn);

const keyOf = (nr: string) => inserted.get(nr)!;
const keys = (perKey: Row[][]) => perKey.map((rows) => rows.map((r) => r.__KEY));

describe('foldKey', () => {
  it('folds case and accents as 4D compares text, ß as ss', () => {
    expect(foldKey('Müller')).toBe('muller');
    expect(foldKey('MÜLLER')).toBe(foldKey('muller'));
    expect(foldKey('Straße')).toBe(foldKey('STRASSE'));
    expect(foldKey('Kühn')).not.toBe(foldKey('Kuehn'));
  });
});

describe('fetchByKeys per key', () => {
  it('aligns the rows with the keys, duplicates and misses included, exact matches first, in one request', async () => {
    const { result, requests } = await counting(() =>
      fx.client.fetchByKeys('Kunden', 'KundenNr', ['muller', 'Müller', 'MULLER', 'nobody', 'muller', 'kuhn', 'Straße 1']),
    );
    expect(requests).toBe(1);
    // No exact match for MULLER: both folded matches (in the table's natural order, a tie here).
    expect(keysOf(result[2]!)).toEqual(keysOf([{ __KEY: keyOf('Müller') }, { __KEY: keyOf('muller') }]));
    result[2] = [];
    expect(keys(result)).toEqual([
      [keyOf('muller'), keyOf('Müller')],
      [keyOf('Müller'), keyOf('muller')],
      [],
      [],
      [keyOf('muller'), keyOf('Müller')],
      [keyOf('Kühn')],
      [keyOf('STRASSE 1')],
    ]);
    // Each position is its own list: changing one does not change a duplicate's.
    result[0]!.pop();
    expect(result[4]).toHaveLength(2);
  });

  it('coerces numeric keys and sends none that cannot match (no request at all when none can)', async () => {
    const pos = tableRows(fx.emulator, 'Belege_Pos');
    const absNr = pos[0]!.AbsNr as number;
    const expected = keysOf(pos.filter((r) => r.AbsNr === absNr));
    const none = await counting(() => fx.client.fetchByKeys('Belege_Pos', 'AbsNr', ['12abc', '', '  ', '3.5', 'Infinity', '1e400']));
    expect(none.result).toEqual([[], [], [], [], [], []]);
    expect(none.requests).toBe(0);
    const some = await counting(() => fx.client.fetchByKeys('Belege_Pos', 'AbsNr', [` ${absNr} `, 'x', String(absNr), absNr]));
    expect(some.requests).toBe(1);
    expect(some.result.map((rows) => keysOf(rows))).toEqual([expected, [], expected, expected]);
  });

  it('costs nothing for no keys', async () => {
    const { result, requests } = await counting(() => fx.client.fetchByKeys('Kunden', 'KundenNr', []));
    expect(result).toEqual([]);
    expect(requests).toBe(0);
  });

  it('matches by the key attribute even when the caller did not ask for it, and does not return it', async () => {
    const perKey = await fx.client.fetchByKeys('Kunden', 'KundenNr', ['kühn', 'MÜLLER-2'], { attributes: ['AdrNr'] });
    expect(keys(perKey)).toEqual([[keyOf('Kühn')], [keyOf('MÜLLER-2')]]);
    expect(perKey[0]![0]).toMatchObject({ AdrNr: 'T-Kühn' });
    expect(perKey[0]![0]).not.toHaveProperty('KundenNr');
  });

  it('matches dates and paths into object attributes by value', async () => {
    const variants = tableRows(fx.emulator, 'Artikel_Variante');
    const day = decodeDate(variants[0]!.Release_date)!;
    const byDay = await fx.client.fetchByKeys('Artikel_Variante', 'Release_date', [day], { attributes: ['Nummer'] });
    expect(keysOf(byDay[0]!)).toEqual(keysOf(variants.filter((r) => decodeDate(r.Release_date) === day)));
    const arts = (r: Record<string, unknown>) => ((r.Preise as { Coll?: Array<{ Art: string }> } | null)?.Coll ?? []).map((p) => p.Art);
    const [laden, handel] = await fx.client.fetchByKeys('Artikel_Variante', 'Preise.Coll[].Art', ['laden', 'Handel'], { attributes: ['Nummer'] });
    expect(keysOf(laden!)).toEqual(keysOf(variants.filter((r) => arts(r).includes('Laden'))));
    expect(keysOf(handel!)).toEqual(keysOf(variants.filter((r) => arts(r).includes('Handel'))));
    expect(laden!.length).toBeLessThan(variants.length);
  });

  it('refuses a key of the wrong type before any request', async () => {
    const { result, requests } = await counting(() => rejection(fx.client.fetchByKeys('Kunden', 'KundenNr', [42])));
    expect(result).toBeInstanceOf(LegacyValidationError);
    expect(requests).toBe(0);
  });
});

describe('rowsPerKey', () => {
  const kunden = requireTable('Kunden');
  const row = (key: string, KundenNr: unknown): Row => ({ __KEY: key, __STAMP: 1, KundenNr });

  it('puts exact matches first, then folded ones, each row once per key', () => {
    const rows = [row('1', 'Muller'), row('2', 'müller'), row('3', 'Müller'), row('4', null), row('5', 'Miller')];
    const perKey = rowsPerKey(requireAttribute(kunden, 'KundenNr'), ['Müller', 'MULLER', undefined, 'nobody'], rows);
    expect(keys(perKey)).toEqual([['3', '1', '2'], ['1', '2', '3'], [], []]);
  });

  it('compares numbers as numbers', () => {
    const absNr = requireAttribute(requireTable('Belege_Pos'), 'AbsNr');
    const rows: Row[] = [{ __KEY: 'a', __STAMP: 1, AbsNr: 7 }, { __KEY: 'b', __STAMP: 1, AbsNr: 70 }];
    expect(keys(rowsPerKey(absNr, [7, 70, 8], rows))).toEqual([['a'], ['b'], []]);
  });
});

