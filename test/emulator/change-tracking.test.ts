/**
 * 4D data change tracking in the emulator (protocol reference §11, issue 8 item 5): the global stamp
 * in every envelope and on each tracked record, the boundary (`>=` the envelope stamp read before a
 * change finds it), `__DeletedRecords`, `$info`, tracking off, untracked tables, administrator
 * resets, paging of change queries, and the desktop API / control endpoint that change data behind
 * the graph's back.
 */
import { describe, expect, it } from 'vitest';
import { ControlError, startEmulator } from '../../src/emulator/index.js';
import { EmulatorDatabase } from '../../src/emulator/data/store.js';
import { TABLES } from '../../src/legacy/tables.js';
import { rawRequest, withEmulator, type TestEmulator } from '../helpers/emulator.js';

interface Entity extends Record<string, unknown> {
  __KEY: string;
  __STAMP: number;
  __TIMESTAMP: string;
}
interface Envelope {
  __DATACLASS?: string;
  __entityModel: string;
  __GlobalStamp: number;
  __COUNT: number;
  __FIRST: number;
  __ENTITIES: Entity[];
  __SENT: number;
}
interface ErrorBody {
  __ERROR: Array<{ message: string; errCode: number }>;
}

const enc = encodeURIComponent;
const T0 = Date.parse('2024-05-02T08:15:31.204Z');
const errCodes = (body: unknown): number[] => ((body as ErrorBody).__ERROR ?? []).map((e) => e.errCode);

/** A clock that moves 1 s per reading, so every write has its own `__TIMESTAMP`. */
function ticking(): () => number {
  let t = T0;
  return () => (t += 1000);
}

/** The envelope stamp, read the way a watcher polls: one row, keys only. */
async function envelopeStamp(t: TestEmulator, table = 'Kunden'): Promise<number> {
  const res = await t.rest<Envelope>(`/rest/${table}?$top=1&$attributes=__KEY`, { login: true });
  expect(res.status, res.text).toBe(200);
  return res.body.__GlobalStamp;
}

/** `GET /rest/{table}?$filter=…&$params=…` (plus extra query text). */
function query(t: TestEmulator, table: string, filter: string, params: unknown[], extra = ''): Promise<{ status: number; body: Envelope; text: string }> {
  return t.rest<Envelope>(`/rest/${table}?$filter=${enc(filter)}&$params=${enc(JSON.stringify(params))}${extra}`, { login: true });
}

async function changedKeys(t: TestEmulator, table: string, comparator: '>=' | '>', since: number): Promise<string[]> {
  const res = await query(t, table, `__GlobalStamp ${comparator} :1`, [since], '&$attributes=__KEY,__GlobalStamp&$top=10000');
  expect(res.status, res.text).toBe(200);
  return res.body.__ENTITIES.map((e) => e.__KEY);
}

function post(t: TestEmulator, path: string, body: unknown): Promise<{ status: number; body: Record<string, unknown>; text: string; headers: Record<string, unknown> }> {
  return rawRequest<Record<string, unknown>>(t.url, path, { method: 'POST', body });
}

describe('the global stamp and the boundary', () => {
  const emu = withEmulator({ now: ticking() });

  it('starts at 1 with the generated rows unstamped (0), and $info reports tracking', async () => {
    const t = emu();
    expect(t.emulator.globalStamp()).toBe(1);
    expect(await envelopeStamp(t)).toBe(1);
    const page = await t.rest<Envelope>('/rest/Formen?$top=3', { login: true });
    expect(page.body.__ENTITIES.map((e) => e.__GlobalStamp)).toEqual([0, 0, 0]);
    const info = await t.rest<{ hasDataChangeTracking: boolean }>('/rest/$info', { login: true });
    expect(info.body.hasDataChangeTracking).toBe(true);
  });

  it('gives a changed record the stamp the envelope showed before, and the next envelope that stamp + 1', async () => {
    const t = emu();
    const s = await envelopeStamp(t);
    const target = t.emulator.db.table('Formen')!.rows()[2];
    const saved = await t.rest<Entity>('/rest/Formen?$method=update', { login: true, body: { __KEY: target.__KEY, __STAMP: target.__STAMP, Bezeichnung: 'geändert' } });
    expect(saved.body).toMatchObject({ __STATUS: { success: true }, __GlobalStamp: s });
    expect(await envelopeStamp(t)).toBe(s + 1);
    // One counter for the whole datastore: every table's envelope shows it.
    expect(await envelopeStamp(t, 'Belege_Pos')).toBe(s + 1);
    const read = await t.rest<Entity>(`/rest/Formen(${target.__KEY})`, { login: true });
    expect(read.body.__GlobalStamp).toBe(s);
    expect(await changedKeys(t, 'Formen', '>=', s)).toEqual([target.__KEY]);
    expect(await changedKeys(t, 'Formen', '>', s)).toEqual([]);
    expect(await changedKeys(t, 'Kunden', '>=', s)).toEqual([]);
  });

  it('stamps inserts too, and each entity of a batch with its own consecutive stamp', async () => {
    const t = emu();
    const s = await envelopeStamp(t);
    const res = await t.rest<{ __ENTITIES: Entity[] }>('/rest/Formen?$method=update', { login: true, body: [{ FormNr: 'CT-1' }, { FormNr: 'CT-2' }, { FormNr: 'CT-3' }] });
    expect(res.body.__ENTITIES.map((e) => e.__GlobalStamp)).toEqual([s, s + 1, s + 2]);
    expect(await envelopeStamp(t)).toBe(s + 3);
    expect(await changedKeys(t, 'Formen', '>=', s + 1)).toEqual(res.body.__ENTITIES.slice(1).map((e) => e.__KEY));
  });

  it('moves nothing for a refused write: a stamp conflict, a rolled-back $atomic batch, a validate', async () => {
    const t = emu();
    const s = await envelopeStamp(t);
    const row = t.emulator.db.table('Formen')!.rows()[0];
    const conflict = await t.rest<Entity>('/rest/Formen?$method=update', { login: true, body: { __KEY: row.__KEY, __STAMP: row.__STAMP + 5, Bezeichnung: 'x' } });
    expect(conflict.body.__STATUS).toMatchObject({ success: false });
    const atomic = await t.rest('/rest/Formen?$method=update&$atomic=true', { login: true, body: [{ FormNr: 'OK' }, { Nme: 'bad' }] });
    expect(atomic.status).toBe(200);
    const validate = await t.rest('/rest/Formen?$method=validate', { login: true, body: { FormNr: 'V' } });
    expect(validate.body).toEqual({ ok: true });
    expect(await envelopeStamp(t)).toBe(s);
  });

  it('ignores a __GlobalStamp echoed back in an update body', async () => {
    const t = emu();
    const s = await envelopeStamp(t);
    const row = t.emulator.db.table('Kunden')!.rows()[1];
    const res = await t.rest<Entity>('/rest/Kunden?$method=update', { login: true, body: { __KEY: row.__KEY, __GlobalStamp: 99999, Rabatt: 4 } });
    expect(res.body).toMatchObject({ __STATUS: { success: true }, __GlobalStamp: s, Rabatt: 4 });
  });

  it('sends only the meta-properties for $attributes=__KEY: the tiny poll stays tiny', async () => {
    const t = emu();
    const res = await t.rest<Envelope>('/rest/Kunden?$top=1&$attributes=__KEY', { login: true });
    expect(res.status, res.text).toBe(200);
    expect(Object.keys(res.body.__ENTITIES[0]!)).toEqual(['__KEY', '__TIMESTAMP', '__STAMP']);
    const path = await t.rest<Envelope>('/rest/Kunden/__KEY,__STAMP?$top=1', { login: true });
    expect(Object.keys(path.body.__ENTITIES[0]!)).toEqual(['__KEY', '__TIMESTAMP', '__STAMP']);
  });

  it('serves __GlobalStamp through $attributes, $orderby, $compute, $distinct and numeric comparisons', async () => {
    const t = emu();
    const s = await envelopeStamp(t);
    const kunden = t.emulator.db.table('Kunden')!.rows().slice(5, 8);
    for (const k of [...kunden].reverse()) t.emulator.desktop.update('Kunden', k.__KEY, { Rabatt: 1 });
    const attrs = await t.rest<Envelope>(`/rest/Kunden?$attributes=__KEY,__GlobalStamp&$top=1&$filter=${enc(`__KEY='${kunden[0].__KEY}'`)}`, { login: true });
    expect(Object.keys(attrs.body.__ENTITIES[0])).toEqual(['__KEY', '__TIMESTAMP', '__STAMP', '__GlobalStamp']);
    expect(attrs.body.__ENTITIES[0].__GlobalStamp).toBe(s + 2);
    const ordered = await query(t, 'Kunden', '__GlobalStamp >= :1', [s], `&$orderby=${enc('__GlobalStamp asc')}&$attributes=__GlobalStamp`);
    expect(ordered.body.__ENTITIES.map((e) => e.__GlobalStamp)).toEqual([s, s + 1, s + 2]);
    expect(ordered.body.__ENTITIES.map((e) => e.__KEY)).toEqual([kunden[2], kunden[1], kunden[0]].map((r) => r.__KEY));
    const desc = await t.rest<Envelope>(`/rest/Kunden?$orderby=${enc('__GlobalStamp desc')}&$top=1`, { login: true });
    expect(desc.body.__ENTITIES[0].__GlobalStamp).toBe(s + 2);
    const range = await query(t, 'Kunden', '__GlobalStamp > :1 AND __GlobalStamp <= :2', [s, s + 1]);
    expect(range.body.__ENTITIES.map((e) => e.__KEY)).toEqual([kunden[1].__KEY]);
    const literal = await t.rest<Envelope>(`/rest/Kunden?$filter=${enc(`__GlobalStamp = ${s + 1}`)}`, { login: true });
    expect(literal.body.__COUNT).toBe(1);
    const asText = await query(t, 'Kunden', '__GlobalStamp >= :1', [String(s)]);
    expect(asText.body.__COUNT).toBe(3);
    const notNumber = await query(t, 'Kunden', '__GlobalStamp >= :1', ['gestern']);
    expect(notNumber.status).toBe(500);
    expect(errCodes(notNumber.body)).toContain(1280);
    const max = await t.rest('/rest/Kunden/__GlobalStamp?$compute=max', { login: true });
    expect(max.body).toBe(s + 2);
    const distinct = await t.rest<number[]>(`/rest/Kunden/__GlobalStamp?$distinct=true`, { login: true });
    expect(distinct.body.slice(-3)).toEqual([s, s + 1, s + 2]);
    expect(distinct.body[0]).toBe(0); // the records nobody changed since tracking was enabled
  });

  it('lists __GlobalStamp in $catalog/{dc} as an indexed long64, last', async () => {
    const t = emu();
    const res = await t.rest<{ attributes: Array<Record<string, unknown>> }>('/rest/$catalog/Formen');
    const def = TABLES.find((x) => x.name === 'Formen')!;
    expect(res.body.attributes.at(-1)).toEqual({ name: '__GlobalStamp', kind: 'storage', fieldPos: def.attributes.length + 1, scope: 'public', indexed: true, type: 'long64' });
  });
});

describe('__DeletedRecords', () => {
  const emu = withEmulator({ now: ticking() });

  it('records a REST deletion with the stamp, key, table name and number, and its own __KEY/__STAMP/__TIMESTAMP', async () => {
    const t = emu();
    const s = await envelopeStamp(t);
    const victim = t.emulator.db.table('Adressen')!.rows()[4];
    const del = await t.rest(`/rest/Adressen(${victim.__KEY})?$method=delete`, { login: true, method: 'POST' });
    expect(del.body).toEqual({ ok: true });
    expect(await envelopeStamp(t)).toBe(s + 1);
    const res = await query(t, '__DeletedRecords', '__Stamp >= :1 AND __TableName = :2', [s, 'Adressen']);
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ __DATACLASS: '__DeletedRecords', __entityModel: '__DeletedRecords', __GlobalStamp: s + 1, __COUNT: 1, __SENT: 1 });
    const row = res.body.__ENTITIES[0];
    expect(Object.keys(row)).toEqual(['__KEY', '__TIMESTAMP', '__STAMP', '__Stamp', '__PrimaryKey', '__TableNumber', '__TableName']);
    expect(row).toMatchObject({ __KEY: expect.stringMatching(/^\d+$/), __STAMP: 1, __Stamp: s, __PrimaryKey: victim.__KEY, __TableName: 'Adressen', __TableNumber: TABLES.find((x) => x.name === 'Adressen')!.tableNumber });
    expect(Date.parse(row.__TIMESTAMP)).toBeGreaterThan(T0);
    expect((await query(t, '__DeletedRecords', '__Stamp > :1', [s])).body.__COUNT).toBe(0);
    // The deleted record is gone, and the deletion did not stamp any other record.
    expect((await t.rest(`/rest/Adressen(${victim.__KEY})`, { login: true })).status).toBe(404);
    expect(await changedKeys(t, 'Adressen', '>=', s)).toEqual([]);
  });

  it('records each entity of a deleted selection, and deletions by attribute', async () => {
    const t = emu();
    const s = await envelopeStamp(t);
    const formen = t.emulator.db.table('Formen')!;
    const [a, b] = [formen.insert({ FormNr: 'DEL-SEL' }), formen.insert({ FormNr: 'DEL-SEL' })];
    const c = formen.insert({ FormNr: 'DEL-ATTR' });
    expect(t.emulator.globalStamp()).toBe(s + 3); // in-process store writes are tracked as well
    await t.rest(`/rest/Formen?$filter=${enc("FormNr='DEL-SEL'")}&$method=delete`, { login: true, method: 'POST' });
    await t.rest(`/rest/Formen:FormNr(DEL-ATTR)?$method=delete`, { login: true, method: 'POST' });
    const res = await query(t, '__DeletedRecords', '__Stamp >= :1', [s + 3], `&$orderby=${enc('__Stamp asc')}`);
    expect(res.body.__ENTITIES.map((e) => [e.__PrimaryKey, e.__Stamp])).toEqual([[a.__KEY, s + 3], [b.__KEY, s + 4], [c.__KEY, s + 5]]);
    expect(t.emulator.globalStamp()).toBe(s + 6);
  });

  it('is served like any dataclass but not listed in $catalog by default', async () => {
    const t = emu();
    const catalog = await t.rest<{ dataClasses: Array<{ name: string }> }>('/rest/$catalog');
    expect(catalog.body.dataClasses.map((d) => d.name)).toEqual(TABLES.map((x) => x.name));
    const all = await t.rest<{ dataClasses: Array<{ name: string }> }>('/rest/$catalog/$all');
    expect(all.body.dataClasses.map((d) => d.name)).not.toContain('__DeletedRecords');
    const described = await t.rest<{ name: string; attributes: Array<{ name: string; type: string }> }>('/rest/$catalog/__DeletedRecords');
    expect(described.status).toBe(200);
    expect(described.body.attributes.map((a) => [a.name, a.type])).toEqual([['__Stamp', 'long64'], ['__PrimaryKey', 'string'], ['__TableNumber', 'long'], ['__TableName', 'string']]);
    // Its rows are not tracked records: no __GlobalStamp attribute there.
    const filtered = await t.rest(`/rest/__DeletedRecords?$filter=${enc('__GlobalStamp >= 0')}`, { login: true });
    expect(filtered.status).toBe(500);
    expect(errCodes(filtered.body)).toContain(1500);
  });

  it('lists __DeletedRecords first with deletedRecordsInCatalog', async () => {
    const emulator = await startEmulator({ deletedRecordsInCatalog: true });
    try {
      const res = await rawRequest<{ dataClasses: Array<{ name: string; dataURI: string }> }>(emulator.url, '/rest/$catalog');
      expect(res.body.dataClasses[0]).toEqual({ name: '__DeletedRecords', uri: '/rest/$catalog/__DeletedRecords', dataURI: '/rest/__DeletedRecords' });
      expect(res.body.dataClasses.slice(1).map((d) => d.name)).toEqual(TABLES.map((x) => x.name));
    } finally {
      await emulator.close();
    }
  });
});

describe('changes behind the graph\'s back: the desktop API', () => {
  const clock = ticking();
  const emu = withEmulator({ now: clock });

  it('updates, inserts and deletes through the store, moving the stamp, __STAMP and __TIMESTAMP like REST writes', async () => {
    const t = emu();
    t.emulator.resetCounters();
    const s = t.emulator.globalStamp();
    const row = t.emulator.db.table('Artikel_Variante')!.rows()[3];
    const updated = t.emulator.desktop.update('Artikel_Variante', row.__KEY, { Bezeichnung: 'vom Schreibtisch', Aktiv: false });
    expect(updated).toMatchObject({ action: 'update', table: 'Artikel_Variante', key: row.__KEY, stamp: s });
    expect(updated.entity).toMatchObject({ __KEY: row.__KEY, __STAMP: row.__STAMP + 1, Bezeichnung: 'vom Schreibtisch', Aktiv: false, __GlobalStamp: s });
    expect(Date.parse(updated.entity!.__TIMESTAMP as string)).toBeGreaterThan(Date.parse(row.__TIMESTAMP));

    const inserted = t.emulator.desktop.insert('Kunden', { KundenNr: 'DESK-1', Rabatt: '2.5' });
    expect(inserted).toMatchObject({ action: 'insert', table: 'Kunden', stamp: s + 1, entity: { __STAMP: 1, KundenNr: 'DESK-1', Rabatt: 2.5, __GlobalStamp: s + 1 } });
    expect(inserted.key).toMatch(/^[0-9A-F]{32}$/);

    const deleted = t.emulator.desktop.delete('Kunden', inserted.key);
    expect(deleted).toEqual({ action: 'delete', table: 'Kunden', key: inserted.key, stamp: s + 2 });
    expect(t.emulator.globalStamp()).toBe(s + 3);
    // Not REST requests: nothing counted.
    expect(t.emulator.counters.requests).toBe(0);
    expect(t.emulator.counters.updates).toBe(0);

    // The REST side sees all three.
    expect(await envelopeStamp(t)).toBe(s + 3);
    expect(await changedKeys(t, 'Artikel_Variante', '>=', s)).toEqual([row.__KEY]);
    expect(await changedKeys(t, 'Kunden', '>=', s)).toEqual([]);
    const gone = await query(t, '__DeletedRecords', '__Stamp >= :1 AND __TableName = :2', [s, 'Kunden']);
    expect(gone.body.__ENTITIES.map((e) => e.__PrimaryKey)).toEqual([inserted.key]);
    const via = await t.rest<Entity>(`/rest/Artikel_Variante(${row.__KEY})`, { login: true });
    expect(via.body).toMatchObject({ Bezeichnung: 'vom Schreibtisch', __STAMP: row.__STAMP + 1, __GlobalStamp: s });
  });

  it('makes a REST update with the old __STAMP fail after a desktop change (optimistic locking still works)', async () => {
    const t = emu();
    const row = t.emulator.db.table('Formen')!.rows()[1];
    t.emulator.desktop.update('Formen', row.__KEY, { Bezeichnung: 'Schreibtisch zuerst' });
    const res = await t.rest<Entity>('/rest/Formen?$method=update', { login: true, body: { __KEY: row.__KEY, __STAMP: row.__STAMP, Bezeichnung: 'zu spät' } });
    expect(res.body.__STATUS).toMatchObject({ success: false, status: 2 });
  });

  it('returns copies: changing a returned entity does not change the store', () => {
    const t = emu();
    const row = t.emulator.db.table('Artikel_Variante')!.rows()[0];
    const change = t.emulator.desktop.update('Artikel_Variante', row.__KEY, { Preise: { Coll: [{ Art: 'Laden', Preis: 1 }] } });
    (change.entity!.Preise as { Coll: unknown[] }).Coll.length = 0;
    expect(t.emulator.db.table('Artikel_Variante')!.get(row.__KEY)!.Preise).toEqual({ Coll: [{ Art: 'Laden', Preis: 1 }] });
  });

  it('refuses bad input with a ControlError naming it, and changes nothing', () => {
    const t = emu();
    const s = t.emulator.globalStamp();
    const key = t.emulator.db.table('Formen')!.rows()[0].__KEY;
    const fails = (fn: () => unknown, status: number, message: RegExp): void => {
      try {
        fn();
      } catch (e) {
        expect(e).toBeInstanceOf(ControlError);
        expect((e as ControlError).status).toBe(status);
        expect((e as Error).message).toMatch(message);
        return;
      }
      throw new Error('expected a ControlError');
    };
    fails(() => t.emulator.desktop.update('Forms', key, {}), 400, /table: unknown table "Forms"/);
    fails(() => t.emulator.desktop.update('Formen', 'NOPE', {}), 404, /key: no record with __KEY "NOPE" in Formen/);
    fails(() => t.emulator.desktop.update('Formen', key, { aktiv: 'ja' }), 400, /values: .*"aktiv"/);
    fails(() => t.emulator.desktop.update('Formen', key, { Nme: 1 }), 400, /values: The "Nme" attribute cannot be found/);
    fails(() => t.emulator.desktop.insert('Formen', { __KEY: key }), 400, /already exists/);
    fails(() => t.emulator.desktop.delete('Formen', 'NOPE'), 404, /key: no record/);
    fails(() => t.emulator.desktop.delete('__DeletedRecords', '1'), 400, /maintained by 4D/);
    fails(() => t.emulator.desktop.update('Formen', key, null as unknown as Record<string, unknown>), 400, /values must be a JSON object/);
    expect(t.emulator.globalStamp()).toBe(s);
  });
});

describe('the administrator\'s setGlobalStamp', () => {
  const emu = withEmulator({ now: ticking() });

  it('sets the stamp the next change gets, also downwards', async () => {
    const t = emu();
    t.emulator.setGlobalStamp(1000);
    expect(await envelopeStamp(t)).toBe(1000);
    const a = t.emulator.db.table('Formen')!.rows()[0].__KEY;
    const b = t.emulator.db.table('Formen')!.rows()[1].__KEY;
    expect(t.emulator.desktop.update('Formen', a, { Bezeichnung: 'hoch' }).stamp).toBe(1000);
    t.emulator.setGlobalStamp(5);
    expect(await envelopeStamp(t)).toBe(5);
    expect(t.emulator.desktop.update('Formen', b, { Bezeichnung: 'runter' }).stamp).toBe(5);
    expect(await envelopeStamp(t)).toBe(6);
    // After a reset the record changed before it still carries the higher stamp: a client must treat a
    // stamp that went down as "everything changed", the filter alone cannot tell.
    expect(await changedKeys(t, 'Formen', '>=', 5)).toEqual([a, b]);
  });

  it('refuses anything but an integer ≥ 0', () => {
    const t = emu();
    for (const bad of [-1, 1.5, Number.NaN, 2 ** 60]) expect(() => t.emulator.setGlobalStamp(bad)).toThrow(TypeError);
    t.emulator.setGlobalStamp(0);
    expect(t.emulator.globalStamp()).toBe(0);
  });
});

describe('paging a change query', () => {
  const emu = withEmulator({ now: ticking() });

  it('sends 100 changed rows per page by default, with __COUNT the whole change set', async () => {
    const t = emu();
    const s = await envelopeStamp(t);
    const belege = t.emulator.db.table('Belege')!.rows().slice(0, 150);
    expect(belege).toHaveLength(150);
    for (const r of [...belege].reverse()) t.emulator.desktop.update('Belege', r.__KEY, { Text: 'nachgebucht' });
    const first = await query(t, 'Belege', '__GlobalStamp >= :1', [s], '&$attributes=__KEY,__GlobalStamp');
    expect(first.body).toMatchObject({ __COUNT: 150, __FIRST: 0, __SENT: 100 });
    const second = await query(t, 'Belege', '__GlobalStamp >= :1', [s], '&$attributes=__KEY,__GlobalStamp&$skip=100');
    expect(second.body).toMatchObject({ __COUNT: 150, __FIRST: 100, __SENT: 50 });
    const keys = [...first.body.__ENTITIES, ...second.body.__ENTITIES].map((e) => e.__KEY);
    expect(new Set(keys).size).toBe(150);
    expect(new Set(keys)).toEqual(new Set(belege.map((r) => r.__KEY)));
    const ordered = await query(t, 'Belege', '__GlobalStamp >= :1', [s], `&$orderby=${enc('__GlobalStamp asc')}&$top=50&$skip=50`);
    expect(ordered.body.__ENTITIES.map((e) => e.__GlobalStamp)).toEqual(Array.from({ length: 50 }, (_, i) => s + 50 + i));
  });

  it('pages __DeletedRecords the same way', async () => {
    const t = emu();
    const s = await envelopeStamp(t);
    for (const r of t.emulator.db.table('Belege_Pos')!.rows().slice(0, 120)) t.emulator.desktop.delete('Belege_Pos', r.__KEY);
    const first = await query(t, '__DeletedRecords', '__Stamp >= :1 AND __TableName = :2', [s, 'Belege_Pos']);
    expect(first.body).toMatchObject({ __COUNT: 120, __SENT: 100 });
    const rest = await query(t, '__DeletedRecords', '__Stamp >= :1 AND __TableName = :2', [s, 'Belege_Pos'], '&$skip=100&$top=100');
    expect(rest.body).toMatchObject({ __COUNT: 120, __FIRST: 100, __SENT: 20 });
  });
});

describe('the control endpoint', () => {
  const emu = withEmulator({ now: ticking() });

  it('changes data as a desktop user would, outside /rest, uncounted and never faulted', async () => {
    const t = emu();
    await envelopeStamp(t); // logged in before the fault is armed
    t.emulator.resetCounters();
    t.emulator.failNext(1);
    const s = t.emulator.globalStamp();
    const row = t.emulator.db.table('Kunden')!.rows()[7];
    const upd = await post(t, '/__control/desktop', { action: 'update', table: 'Kunden', key: row.__KEY, values: { Rabatt: 9 } });
    expect(upd.status, upd.text).toBe(200);
    expect(upd.body).toMatchObject({ ok: true, action: 'update', table: 'Kunden', key: row.__KEY, stamp: s, globalStamp: s + 1, entity: { Rabatt: 9, __GlobalStamp: s } });
    const ins = await post(t, '/__control/desktop', { action: 'insert', table: 'Formen', values: { FormNr: 'CTRL-1' } });
    expect(ins.body).toMatchObject({ ok: true, action: 'insert', stamp: s + 1, entity: { FormNr: 'CTRL-1' } });
    const withKey = await post(t, '/__control/desktop', { action: 'insert', table: 'Formen', key: 'CTRL-KEY' });
    expect(withKey.body).toMatchObject({ ok: true, key: 'CTRL-KEY', stamp: s + 2 });
    const del = await post(t, '/__control/desktop', { action: 'delete', table: 'Formen', key: 'CTRL-KEY' });
    expect(del.body).toEqual({ ok: true, action: 'delete', table: 'Formen', key: 'CTRL-KEY', stamp: s + 3, globalStamp: s + 4 });
    expect(t.emulator.counters.requests).toBe(0);
    expect(t.emulator.requestLog).toEqual([]);
    // The armed fault is still there for the next 4D request.
    expect((await t.rest('/rest/Kunden?$top=1', { login: true })).status).toBe(503);
    expect(await envelopeStamp(t)).toBe(s + 4);
  });

  it('reads and sets the global stamp', async () => {
    const t = emu();
    const read = await rawRequest<Record<string, unknown>>(t.url, '/__control/global-stamp');
    expect(read.body).toEqual({ globalStamp: t.emulator.globalStamp(), changeTracking: true });
    const set = await post(t, '/__control/global-stamp', { value: 3 });
    expect(set.status).toBe(200);
    expect(set.body).toEqual({ ok: true, globalStamp: 3 });
    expect(await envelopeStamp(t)).toBe(3);
  });

  it.each([
    [{ action: 'upsert', table: 'Kunden' }, 400, /action must be "insert", "update" or "delete", got "upsert"/],
    [{ action: 'update', table: 'Kundn', key: 'X', values: {} }, 400, /table: unknown table "Kundn"/],
    [{ action: 'update', table: 'Kunden', values: {} }, 400, /key is required for update/],
    [{ action: 'update', table: 'Kunden', key: 'X' }, 400, /values is required for update/],
    [{ action: 'update', table: 'Kunden', key: 'NOPE', values: {} }, 404, /key: no record with __KEY "NOPE" in Kunden/],
    [{ action: 'delete', table: 'Kunden' }, 400, /key is required for delete/],
    [{ action: 'delete', table: 'Kunden', key: 'X', values: {} }, 400, /values is not allowed for delete/],
    [{ action: 'insert', table: 'Kunden', values: { Rabatt: 'viel' } }, 400, /values: .*"Rabatt"/],
    [{ action: 'insert', table: 'Kunden', values: [1] }, 400, /values must be a JSON object/],
    [{ action: 'insert', table: 'Kunden', valeus: {} }, 400, /unknown property "valeus"/],
    [{ action: 'insert', table: 42 }, 400, /table must be a table name, got 42/],
    [[1, 2], 400, /the body must be a JSON object/],
    ['{"action":', 400, /not valid JSON/],
    ['', 400, /body is empty/],
  ])('answers %j with %i naming what was wrong', async (body, status, message) => {
    const t = emu();
    const s = t.emulator.globalStamp();
    const res = await post(t, '/__control/desktop', body);
    expect(res.status).toBe(status);
    expect(res.body.error).toMatch(message);
    expect(t.emulator.globalStamp()).toBe(s);
  });

  it('refuses a bad stamp, a wrong verb and an unknown control path', async () => {
    const t = emu();
    for (const value of [-1, 1.5, '7', null]) {
      const res = await post(t, '/__control/global-stamp', { value });
      expect(res.status).toBe(400);
      expect(res.body.error).toMatch(/value must be an integer/);
    }
    expect((await post(t, '/__control/global-stamp', { valu: 1 })).body.error).toMatch(/unknown property "valu"/);
    const get = await rawRequest<Record<string, unknown>>(t.url, '/__control/desktop');
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('POST');
    const unknown = await rawRequest<Record<string, unknown>>(t.url, '/__control/restart');
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatch(/unknown control resource/);
  });

  it('does not exist with control off: the path is an ordinary unknown resource', async () => {
    const emulator = await startEmulator({ control: false });
    try {
      const res = await rawRequest(emulator.url, '/__control/desktop', { method: 'POST', body: { action: 'insert', table: 'Formen' } });
      expect(res.status).toBe(404);
      expect(errCodes(res.body)).toContain(1800);
      expect(emulator.counters.requests).toBe(1);
      expect(emulator.db.table('Formen')!.size).toBe(emulator.db.table('Formen')!.rows().length);
    } finally {
      await emulator.close();
    }
  });
});

describe('without change tracking', () => {
  const emu = withEmulator({ changeTracking: false });

  it('shows 0 in every envelope, no __GlobalStamp on records, and hasDataChangeTracking false', async () => {
    const t = emu();
    const row = t.emulator.db.table('Formen')!.rows()[0];
    await t.rest('/rest/Formen?$method=update', { login: true, body: { __KEY: row.__KEY, Bezeichnung: 'ohne' } });
    t.emulator.desktop.update('Formen', row.__KEY, { Bezeichnung: 'ohne, Schreibtisch' });
    t.emulator.desktop.delete('Formen', t.emulator.db.table('Formen')!.rows()[1].__KEY);
    const res = await t.rest<Envelope>('/rest/Formen?$top=2', { login: true });
    expect(res.body.__GlobalStamp).toBe(0);
    expect(res.body.__ENTITIES[0]).not.toHaveProperty('__GlobalStamp');
    expect(t.emulator.globalStamp()).toBe(0);
    const info = await t.rest<{ hasDataChangeTracking: boolean }>('/rest/$info', { login: true });
    expect(info.body.hasDataChangeTracking).toBe(false);
    const catalog = await t.rest<{ attributes: Array<{ name: string }> }>('/rest/$catalog/Formen');
    expect(catalog.body.attributes.map((a) => a.name)).not.toContain('__GlobalStamp');
  });

  it('answers __GlobalStamp like any unknown attribute and __DeletedRecords like an unknown dataclass', async () => {
    const t = emu();
    const filter = await query(t, 'Formen', '__GlobalStamp >= :1', [0]);
    expect(filter.status).toBe(500);
    expect(errCodes(filter.body)).toContain(1500);
    const attrs = await t.rest('/rest/Formen?$attributes=__KEY,__GlobalStamp', { login: true });
    expect(attrs.status).toBe(500);
    expect(errCodes(attrs.body)).toEqual([1500, 1804]);
    const order = await t.rest(`/rest/Formen?$orderby=${enc('__GlobalStamp asc')}`, { login: true });
    expect(errCodes(order.body)).toContain(1810);
    const deleted = await t.rest('/rest/__DeletedRecords', { login: true });
    expect(deleted.status).toBe(404);
    expect(errCodes(deleted.body)).toContain(1800);
    expect((await t.rest('/rest/$catalog/__DeletedRecords')).status).toBe(404);
  });

  it('cannot set a global stamp', async () => {
    const t = emu();
    expect(() => t.emulator.setGlobalStamp(5)).toThrow(/data change tracking is off/);
    const res = await post(t, '/__control/global-stamp', { value: 5 });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(/data change tracking is off/);
    expect((await rawRequest<Record<string, unknown>>(t.url, '/__control/global-stamp')).body).toEqual({ globalStamp: 0, changeTracking: false });
  });
});

describe('untracked tables', () => {
  const emu = withEmulator({ untrackedTables: ['Formen', 'Form_Artikel'] });

  it('carry no __GlobalStamp, do not move the counter and record no deletions', async () => {
    const t = emu();
    const s = await envelopeStamp(t);
    const formen = t.emulator.db.table('Formen')!.rows();
    await t.rest('/rest/Formen?$method=update', { login: true, body: { __KEY: formen[0].__KEY, Bezeichnung: 'untracked' } });
    t.emulator.desktop.update('Formen', formen[1].__KEY, { Bezeichnung: 'untracked' });
    const del = t.emulator.desktop.delete('Formen', formen[2].__KEY);
    expect(del).not.toHaveProperty('stamp');
    t.emulator.desktop.insert('Form_Artikel', {});
    expect(await envelopeStamp(t)).toBe(s);
    const page = await t.rest<Envelope>('/rest/Formen?$top=1', { login: true });
    expect(page.body.__GlobalStamp).toBe(s); // the envelope still carries the datastore's stamp
    expect(page.body.__ENTITIES[0]).not.toHaveProperty('__GlobalStamp');
    const attrs = await t.rest('/rest/Formen?$top=1&$attributes=__GlobalStamp', { login: true });
    expect(errCodes(attrs.body)).toContain(1804);
    const filter = await query(t, 'Formen', '__GlobalStamp >= :1', [s]);
    expect(errCodes(filter.body)).toContain(1500);
    const deletions = await query(t, '__DeletedRecords', '__TableName = :1', ['Formen']);
    expect(deletions.body.__COUNT).toBe(0);
    expect(t.emulator.db.isTracked('Formen')).toBe(false);
  });

  it('leave the other tables tracked', async () => {
    const t = emu();
    const s = await envelopeStamp(t);
    const k = t.emulator.db.table('Kunden')!.rows()[0].__KEY;
    expect(t.emulator.desktop.update('Kunden', k, { Rabatt: 1 }).stamp).toBe(s);
    expect(await changedKeys(t, 'Kunden', '>=', s)).toEqual([k]);
    const catalog = await t.rest<{ dataClasses: Array<{ name: string; attributes: Array<{ name: string }> }> }>('/rest/$catalog/$all');
    const hasStamp = Object.fromEntries(catalog.body.dataClasses.map((d) => [d.name, d.attributes.some((a) => a.name === '__GlobalStamp')]));
    expect(hasStamp).toMatchObject({ Formen: false, Form_Artikel: false, Kunden: true, Belege: true });
  });

  it('must name existing tables', async () => {
    await expect(startEmulator({ untrackedTables: ['Formen', 'Kunde'] })).rejects.toThrow(/EmulatorOptions\.untrackedTables: unknown table "Kunde"/);
    await expect(startEmulator({ changeTracking: 'yes' as unknown as boolean })).rejects.toThrow(/EmulatorOptions\.changeTracking must be true or false/);
  });
});

describe('EmulatorDatabase change tracking', () => {
  it('applies to a database handed in, whose earlier records read __GlobalStamp 0', async () => {
    const db = new EmulatorDatabase(TABLES, { changeTracking: false });
    const old = db.table('Formen')!.insert({ FormNr: 'ALT' });
    expect(db.globalStamp).toBe(0);
    expect(db.table('__DeletedRecords')).toBeUndefined();
    const emulator = await startEmulator({ database: db, auth: 'none' });
    try {
      expect(db.changeTracking).toBe(true);
      const res = await rawRequest<Envelope>(emulator.url, '/rest/Formen');
      expect(res.body.__GlobalStamp).toBe(1);
      expect(res.body.__ENTITIES).toEqual([expect.objectContaining({ __KEY: old.__KEY, __GlobalStamp: 0 })]);
      const zero = await rawRequest<Envelope>(emulator.url, `/rest/Formen?$filter=${enc('__GlobalStamp = 0')}`);
      expect(zero.body.__COUNT).toBe(1);
    } finally {
      await emulator.close();
    }
  });
});
