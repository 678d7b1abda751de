/**
 * `$method=update` / `validate` / `delete` against the emulator (protocol reference §4): creation,
 * partial updates, the stamp-conflict error stack, 1542, atomic and non-atomic batches, date
 * encoding and deletion.
 */
import { describe, expect, it } from 'vitest';
import type { EmulatorTable } from '../../src/emulator/data/store.js';
import { TABLES } from '../../src/legacy/tables.js';
import { withEmulator } from '../helpers/emulator.js';

interface Saved extends Record<string, unknown> {
  __STATUS: { success: boolean; status?: number; statusText?: string };
  __KEY: string;
  __STAMP: number;
  uri?: string;
  __TIMESTAMP?: string;
  __ERROR?: Array<{ message: string; componentSignature: string; errCode: number }>;
}

const enc = encodeURIComponent;
const errCodes = (x: { __ERROR?: Array<{ errCode: number }> }): number[] => (x.__ERROR ?? []).map((e) => e.errCode);

describe('$method=update', () => {
  const emu = withEmulator({ now: () => Date.parse('2024-05-02T08:15:31.204Z') });
  const formen = (): EmulatorTable => emu().emulator.db.table('Formen')!;

  it('creates an entity without __KEY: stamp 1, a new 32-hex key, uri, timestamp, every attribute and __GlobalStamp', async () => {
    const t = emu();
    const before = formen().size;
    const res = await t.rest<Saved>('/rest/Formen?$method=update', { login: true, body: { FormNr: 'F-NEW-1', Bezeichnung: 'Neue Form', aktiv: true } });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body)).toEqual(['__STATUS', '__KEY', '__STAMP', 'uri', '__TIMESTAMP', 'FormNr', 'Bezeichnung', 'aktiv', '__GlobalStamp']);
    expect(res.body.__GlobalStamp).toBe(t.emulator.globalStamp() - 1);
    expect(res.body).toMatchObject({ __STATUS: { success: true }, __STAMP: 1, FormNr: 'F-NEW-1', Bezeichnung: 'Neue Form', aktiv: true });
    expect(res.body.__KEY).toMatch(/^[0-9A-F]{32}$/);
    expect(res.body.uri).toBe(`/rest/Formen(${res.body.__KEY})`);
    expect(res.body.__TIMESTAMP).toBe('2024-05-02T08:15:31.204Z');
    expect(formen().size).toBe(before + 1);
    expect(formen().get(res.body.__KEY)).toMatchObject({ FormNr: 'F-NEW-1' });
    expect(t.emulator.counters.updates).toBeGreaterThanOrEqual(1);
  });

  it('updates only the attributes sent and bumps the stamp', async () => {
    const t = emu();
    const row = formen().rows()[0];
    const res = await t.rest<Saved>('/rest/Formen?$method=update', { login: true, body: { __KEY: row.__KEY, __STAMP: row.__STAMP, Bezeichnung: 'Umbenannt' } });
    expect(res.body).toMatchObject({ __STATUS: { success: true }, __KEY: row.__KEY, __STAMP: row.__STAMP + 1, Bezeichnung: 'Umbenannt', FormNr: row.FormNr, aktiv: row.aktiv });
    expect(formen().get(row.__KEY)).toMatchObject({ Bezeichnung: 'Umbenannt', FormNr: row.FormNr, __STAMP: row.__STAMP + 1 });
  });

  it('accepts a numeric __KEY and an update without __STAMP (no stamp check)', async () => {
    const t = emu();
    const row = t.emulator.db.table('Formen')!.insert({ __KEY: '4711', FormNr: 'NUM' });
    const res = await t.rest<Saved>('/rest/Formen?$method=update', { login: true, body: { __KEY: 4711, aktiv: true } });
    expect(res.body).toMatchObject({ __STATUS: { success: true }, __KEY: '4711', __STAMP: row.__STAMP + 1, aktiv: true });
  });

  it('answers a stale __STAMP with status 2, the current values and stamp, and errors 1263, 1046, 1517, saving nothing', async () => {
    const t = emu();
    const row = formen().rows()[1];
    await t.rest('/rest/Formen?$method=update', { login: true, body: { __KEY: row.__KEY, __STAMP: row.__STAMP, Bezeichnung: 'Erste Änderung' } });
    const current = formen().get(row.__KEY)!;
    const res = await t.rest<Saved>('/rest/Formen?$method=update', { login: true, body: { __KEY: row.__KEY, __STAMP: row.__STAMP, Bezeichnung: 'Zweite Änderung' } });
    expect(res.status).toBe(200);
    expect(res.body.__STATUS).toEqual({ status: 2, statusText: 'Stamp has changed', success: false });
    expect(res.body).toMatchObject({ __KEY: row.__KEY, __STAMP: current.__STAMP, __TIMESTAMP: current.__TIMESTAMP, Bezeichnung: 'Erste Änderung', FormNr: current.FormNr });
    expect(errCodes(res.body)).toEqual([1263, 1046, 1517]);
    expect(res.body.__ERROR!.every((e) => e.componentSignature === 'dbmg')).toBe(true);
    expect(formen().get(row.__KEY)).toBe(current);
  });

  it('answers an unknown __KEY with errCode 1542', async () => {
    const res = await emu().rest<Saved>('/rest/Formen?$method=update', { login: true, body: { __KEY: 'DOESNOTEXIST', __STAMP: 1, aktiv: false } });
    expect(res.status).toBe(200);
    expect(res.body.__STATUS.success).toBe(false);
    expect(errCodes(res.body)[0]).toBe(1542);
    expect(res.body.__ERROR![0].message).toContain('DOESNOTEXIST');
  });

  it('refuses an unknown attribute with errCode 1500 and a wrongly typed value, saving nothing', async () => {
    const t = emu();
    const row = formen().rows()[2];
    const unknown = await t.rest<Saved>('/rest/Formen?$method=update', { login: true, body: { __KEY: row.__KEY, Bezeichnung: 'x', bezeichnung: 'y' } });
    expect(unknown.body.__STATUS.success).toBe(false);
    expect(errCodes(unknown.body)).toContain(1500);
    const badType = await t.rest<Saved>('/rest/Formen?$method=update', { login: true, body: { __KEY: row.__KEY, Bezeichnung: 'x', aktiv: 'ja' } });
    expect(badType.body.__STATUS.success).toBe(false);
    expect(badType.body.__ERROR!.length).toBeGreaterThan(0);
    expect(formen().get(row.__KEY)).toBe(row);
    const before = formen().size;
    const badCreate = await t.rest<Saved>('/rest/Formen?$method=update', { login: true, body: { FormNr: 1 } });
    expect(badCreate.body.__STATUS.success).toBe(false);
    expect(formen().size).toBe(before);
  });

  it('stores dates written as D!M!YYYY, padded, ISO, ISO date-time, 0!0!0 or null as unpadded D!M!YYYY', async () => {
    const t = emu();
    const cases: Array<[unknown, unknown]> = [
      ['24!12!2023', '24!12!2023'],
      ['05!03!2024', '5!3!2024'],
      ['2024-03-05', '5!3!2024'],
      ['2024-03-05T00:00:00Z', '5!3!2024'],
      ['0!0!0', '0!0!0'],
      [null, null],
    ];
    for (const [written, stored] of cases) {
      const res = await t.rest<Saved>('/rest/Belege?$method=update', { login: true, body: { AbsNr: 990001, Datum: written } });
      expect(res.body.__STATUS, String(written)).toEqual({ success: true });
      expect(res.body.Datum, String(written)).toBe(stored);
      const read = await t.rest<Record<string, unknown>>(`/rest/Belege(${res.body.__KEY})/Datum`, { login: true });
      expect(read.body.Datum, String(written)).toBe(stored);
    }
    for (const bad of ['31!2!2024', '2024-13-01', 'gestern', 20240305]) {
      const res = await t.rest<Saved>('/rest/Belege?$method=update', { login: true, body: { AbsNr: 990002, Datum: bad } });
      expect(res.body.__STATUS.success, String(bad)).toBe(false);
    }
    expect(t.emulator.db.table('Belege')!.findBy('AbsNr', 990002)).toHaveLength(0);
  });

  it('saves the valid elements of a non-atomic batch and reports __ERROR on the failing ones', async () => {
    const t = emu();
    const row = formen().rows()[3];
    const res = await t.rest<{ __ENTITIES: Saved[] }>('/rest/Formen?$method=update', {
      login: true,
      body: [
        { __KEY: row.__KEY, __STAMP: row.__STAMP, Bezeichnung: 'Batch ok' },
        { __KEY: 'NOPE', Bezeichnung: 'never' },
        { FormNr: 'BATCH-NEW' },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.__ENTITIES).toHaveLength(3);
    expect(res.body.__ENTITIES[0]).toMatchObject({ __STATUS: { success: true }, __STAMP: row.__STAMP + 1, Bezeichnung: 'Batch ok' });
    expect(errCodes(res.body.__ENTITIES[1])).toEqual([1542]);
    expect(res.body.__ENTITIES[2]).toMatchObject({ __STATUS: { success: true }, __STAMP: 1, FormNr: 'BATCH-NEW' });
    expect(formen().findBy('FormNr', 'BATCH-NEW')).toHaveLength(1);
  });

  it('saves nothing of an $atomic=true batch when one element fails, and every element reports an error', async () => {
    const t = emu();
    const row = formen().rows()[4];
    const before = formen().size;
    const res = await t.rest<{ __ENTITIES: Saved[] }>('/rest/Formen?$method=update&$atomic=true', {
      login: true,
      body: [
        { __KEY: row.__KEY, __STAMP: row.__STAMP, Bezeichnung: 'Atomic' },
        { FormNr: 'ATOMIC-NEW' },
        { __KEY: row.__KEY, __STAMP: row.__STAMP, Bezeichnung: 'Conflict with the first element' },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.body.__ENTITIES.map((e) => e.__STATUS.success)).toEqual([false, false, false]);
    expect(res.body.__ENTITIES.every((e) => (e.__ERROR ?? []).length > 0)).toBe(true);
    expect(errCodes(res.body.__ENTITIES[2])).toEqual([1263, 1046, 1517]);
    expect(formen().get(row.__KEY)).toBe(row);
    expect(formen().size).toBe(before);
  });

  it('saves every element of a valid $atomic=true batch', async () => {
    const res = await emu().rest<{ __ENTITIES: Saved[] }>(`/rest/Formen?$method=update&$atomic='true'`, {
      login: true,
      body: [{ FormNr: 'AT-1' }, { FormNr: 'AT-2' }],
    });
    expect(res.body.__ENTITIES.map((e) => e.__STATUS.success)).toEqual([true, true]);
    expect(formen().findBy('FormNr', 'AT-2')).toHaveLength(1);
  });

  it('validates without saving with $method=validate', async () => {
    const before = formen().size;
    const ok = await emu().rest('/rest/Formen?$method=validate', { login: true, body: { FormNr: 'VAL' } });
    expect(ok.body).toEqual({ ok: true });
    const bad = await emu().rest<{ __ENTITIES: Saved[] }>('/rest/Formen?$method=validate', { login: true, body: { Form: 'VAL' } });
    expect(errCodes(bad.body.__ENTITIES[0])).toContain(1500);
    expect(formen().size).toBe(before);
  });

  it('answers a malformed JSON body with a 500 and errCode 1806', async () => {
    const res = await emu().rest('/rest/Formen?$method=update', { login: true, body: '{"FormNr": ' });
    expect(res.status).toBe(500);
    expect(errCodes(res.body as Saved)).toEqual([1806]);
  });

  it('needs POST: a GET with $method=update is refused with 405', async () => {
    const res = await emu().rest('/rest/Formen?$method=update', { login: true, method: 'GET' });
    expect(res.status).toBe(405);
  });

  it('keeps object attributes as inline JSON', async () => {
    const preise = { Coll: [{ Art: 'Laden', Preis: 12.5, VE: 1 }, { Art: 'Handel', Preis: 7.9, VE: 6 }] };
    const res = await emu().rest<Saved>('/rest/Artikel_Variante?$method=update', { login: true, body: { Nummer: 'OBJ-1', Preise: preise } });
    expect(res.body.Preise).toEqual(preise);
    const def = TABLES.find((x) => x.name === 'Artikel_Variante')!;
    expect(Object.keys(res.body).slice(5)).toEqual([...def.attributes.map((a) => a.name), '__GlobalStamp']);
  });
});

describe('$method=delete', () => {
  const emu = withEmulator();

  it('deletes one entity by key and answers { ok: true }; a second delete is a 404', async () => {
    const t = emu();
    const table = t.emulator.db.table('Form_Artikel')!;
    const row = table.rows()[0];
    const res = await t.rest(`/rest/Form_Artikel(${row.__KEY})?$method=delete`, { login: true, method: 'POST' });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ok: true });
    expect(table.get(row.__KEY)).toBeUndefined();
    expect(t.emulator.counters.byRoute.delete).toBe(1);
    const again = await t.rest(`/rest/Form_Artikel(${row.__KEY})?$method=delete`, { login: true, method: 'POST' });
    expect(again.status).toBe(404);
  });

  it('deletes the entities matching a $filter and only those', async () => {
    const t = emu();
    const table = t.emulator.db.table('Formen')!;
    table.insert({ FormNr: 'DEL-A' });
    table.insert({ FormNr: 'DEL-B' });
    const before = table.size;
    const res = await t.rest(`/rest/Formen?$filter=${enc("FormNr='DEL-@'")}&$method=delete`, { login: true, method: 'POST' });
    expect(res.body).toEqual({ ok: true });
    expect(table.size).toBe(before - 2);
    expect(table.findBy('FormNr', 'DEL-A')).toHaveLength(0);
  });

  it('refuses a delete sent with GET', async () => {
    const t = emu();
    const row = t.emulator.db.table('Formen')!.rows()[0];
    const res = await t.rest(`/rest/Formen(${row.__KEY})?$method=delete`, { login: true });
    expect(res.status).toBe(405);
    expect(t.emulator.db.table('Formen')!.get(row.__KEY)).toBeDefined();
  });
});
