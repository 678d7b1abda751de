/**
 * Conformance of the emulator's read side with the 4D REST protocol reference (§1–§3, §7):
 * catalog, $info, collection envelope and paging, $orderby, $attributes, key syntaxes, attribute
 * lookup, quoting of `$` parameters, percent-encoding, error bodies.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Row } from '../../src/emulator/data/store.js';
import { TABLES } from '../../src/legacy/tables.js';
import { startTestEmulator, withEmulator, type TestEmulator } from '../helpers/emulator.js';

interface FourDErrorBody {
  __ERROR: Array<{ message: string; componentSignature: string; errCode: number }>;
}
interface Envelope {
  __ENTITYSET?: string;
  __DATACLASS?: string;
  __entityModel: string;
  __GlobalStamp: number;
  __COUNT: number;
  __FIRST: number;
  __ENTITIES: Array<Record<string, unknown> & { __KEY: string; __STAMP: number }>;
  __SENT: number;
}

const enc = encodeURIComponent;

function expectFourDError(body: unknown, errCode?: number): void {
  const b = body as FourDErrorBody;
  expect(Array.isArray(b.__ERROR)).toBe(true);
  expect(b.__ERROR.length).toBeGreaterThan(0);
  for (const e of b.__ERROR) {
    expect(e).toEqual({ message: expect.any(String), componentSignature: 'dbmg', errCode: expect.any(Number) });
  }
  if (errCode !== undefined) expect(b.__ERROR.map((e) => e.errCode)).toContain(errCode);
}

describe('catalog and $info', () => {
  const emu = withEmulator();

  it('lists every dataclass with relative uri and dataURI', async () => {
    const res = await emu().rest<{ dataClasses: Array<{ name: string; uri: string; dataURI: string }> }>('/rest/$catalog');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body.dataClasses.map((d) => d.name)).toEqual(TABLES.map((t) => t.name));
    expect(res.body.dataClasses[0]).toEqual({ name: 'Artikel_Familie', uri: '/rest/$catalog/Artikel_Familie', dataURI: '/rest/Artikel_Familie' });
  });

  it('answers $catalog to a guest session without authentication', async () => {
    const res = await emu().rest('/rest/$catalog/$all');
    expect(res.status).toBe(200);
    expect(res.cookies.WASID4D).toMatch(/^[0-9A-F]{32}$/);
  });

  it('describes a dataclass with kind, type, fieldPos, indexed, simpleDate and key', async () => {
    const res = await emu().rest<{ name: string; tableNumber: number; attributes: Array<Record<string, unknown>>; key: unknown }>('/rest/$catalog/Belege');
    expect(res.status).toBe(200);
    expect(res.body.name).toBe('Belege');
    expect(res.body.tableNumber).toBe(20);
    expect(res.body.attributes[0]).toEqual({ name: 'AbsNr', kind: 'storage', fieldPos: 1, scope: 'public', indexed: true, type: 'long' });
    const datum = res.body.attributes.find((a) => a.name === 'Datum');
    expect(datum).toMatchObject({ kind: 'storage', type: 'date', simpleDate: true, fieldPos: 3 });
    expect(datum).not.toHaveProperty('indexed');
    expect(res.body.attributes.find((a) => a.name === 'Währung')).toMatchObject({ type: 'string' });
    expect(res.body.key).toEqual([{ name: '__KEY' }]);
  });

  it('describes every dataclass under $catalog/$all', async () => {
    const res = await emu().rest<{ dataClasses: Array<{ name: string; attributes: unknown[] }> }>('/rest/$catalog/$all');
    expect(res.body.dataClasses).toHaveLength(TABLES.length);
    expect(res.body.dataClasses.every((d) => d.attributes.length > 0)).toBe(true);
  });

  it('answers 404 with errCode 1800 for an unknown dataclass in the catalog', async () => {
    const res = await emu().rest('/rest/$catalog/Kunde');
    expect(res.status).toBe(404);
    expectFourDError(res.body, 1800);
  });

  it('serves $info with session lifetimes but without session cookies or passwords', async () => {
    const t = emu();
    const cookie = await t.login();
    const res = await t.rest<{ sessionInfo: Array<Record<string, unknown>>; cacheSize: number; entitySet: unknown[] }>('/rest/$info', { cookie });
    expect(res.status).toBe(200);
    expect(res.body.cacheSize).toBeGreaterThan(0);
    const mine = res.body.sessionInfo.find((s) => s.userName === 'wsz');
    expect(mine).toMatchObject({ lifeTime: 3600, sessionID: expect.stringMatching(/^[0-9A-F]{32}$/), expiration: expect.any(String) });
    const wasid = /WASID4D=([0-9A-F]{32})/.exec(cookie)![1];
    const sid = /4DSID_WSZ-DB=([0-9A-F]{32})/.exec(cookie)![1];
    expect(res.text).not.toContain(wasid);
    expect(res.text).not.toContain(sid);
    expect(res.text).not.toMatch(/password/i);
  });

  it('requires an authenticated session for $info', async () => {
    const res = await emu().rest('/rest/$info');
    expect(res.status).toBe(401);
    expectFourDError(res.body);
  });
});

describe('collections', () => {
  const emu = withEmulator();
  let belege: Row[];
  beforeAll(() => {
    belege = emu().emulator.db.table('Belege')!.rows();
    expect(belege.length).toBeGreaterThan(150);
  });

  it('wraps entities in the envelope __DATACLASS, __entityModel, __GlobalStamp, __COUNT, __FIRST, __ENTITIES, __SENT in that order', async () => {
    const res = await emu().rest<Envelope>('/rest/Kunden?$top=3', { login: true });
    expect(res.status).toBe(200);
    expect(Object.keys(res.body)).toEqual(['__DATACLASS', '__entityModel', '__GlobalStamp', '__COUNT', '__FIRST', '__ENTITIES', '__SENT']);
    expect(res.body.__DATACLASS).toBe('Kunden');
    expect(res.body.__entityModel).toBe('Kunden');
    expect(res.body.__GlobalStamp).toBe(emu().emulator.db.globalStamp);
    expect(res.body.__COUNT).toBe(emu().emulator.db.table('Kunden')!.size);
    expect(res.body.__SENT).toBe(3);
  });

  it('sends __KEY as a string, then __TIMESTAMP and __STAMP, then every attribute in catalog order, __GlobalStamp last', async () => {
    const res = await emu().rest<Envelope>('/rest/Belege?$top=1', { login: true });
    const entity = res.body.__ENTITIES[0];
    const def = TABLES.find((t) => t.name === 'Belege')!;
    expect(Object.keys(entity)).toEqual(['__KEY', '__TIMESTAMP', '__STAMP', ...def.attributes.map((a) => a.name), '__GlobalStamp']);
    expect(typeof entity.__KEY).toBe('string');
    expect(entity.__KEY).toBe(belege[0].__KEY);
    expect(entity.Datum).toMatch(/^(\d{1,2}!\d{1,2}!\d{4}|0!0!0)$/);
  });

  it('returns at most 100 entities when neither $top nor $limit is given, in insertion order', async () => {
    const res = await emu().rest<Envelope>('/rest/Belege', { login: true });
    expect(res.body.__COUNT).toBe(belege.length);
    expect(res.body.__FIRST).toBe(0);
    expect(res.body.__SENT).toBe(100);
    expect(res.body.__ENTITIES.map((e) => e.__KEY)).toEqual(belege.slice(0, 100).map((r) => r.__KEY));
  });

  it('pages with $skip and $top and reports __FIRST and a short last page', async () => {
    const skip = belege.length - 7;
    const res = await emu().rest<Envelope>(`/rest/Belege?$skip=${skip}&$top=20`, { login: true });
    expect(res.body.__FIRST).toBe(skip);
    expect(res.body.__SENT).toBe(7);
    expect(res.body.__COUNT).toBe(belege.length);
    expect(res.body.__ENTITIES.map((e) => e.__KEY)).toEqual(belege.slice(skip).map((r) => r.__KEY));
  });

  it('treats $limit as a synonym of $top and sends nothing past the end', async () => {
    const a = await emu().rest<Envelope>('/rest/Belege?$limit=5', { login: true });
    expect(a.body.__SENT).toBe(5);
    const b = await emu().rest<Envelope>(`/rest/Belege?$skip=${belege.length + 10}`, { login: true });
    expect(b.body).toMatchObject({ __SENT: 0, __ENTITIES: [], __FIRST: belege.length + 10, __COUNT: belege.length });
  });

  it('sorts by $orderby and breaks ties by __KEY so pages are stable', async () => {
    const res = await emu().rest<Envelope>(`/rest/Belege?$orderby=${enc('"Papierart asc"')}&$top=1000&$attributes=Papierart`, { login: true });
    const got = res.body.__ENTITIES.map((e) => [String(e.Papierart).toLowerCase(), e.__KEY] as const);
    const sorted = [...got].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : x[1] < y[1] ? -1 : 1));
    expect(got).toEqual(sorted);
    const desc = await emu().rest<Envelope>(`/rest/Belege?$orderby=${enc('AbsNr desc')}&$top=5`, { login: true });
    const nums = desc.body.__ENTITIES.map((e) => e.AbsNr as number);
    expect(nums).toEqual([...nums].sort((x, y) => y - x));
    expect(nums[0]).toBe(Math.max(...belege.map((r) => r.AbsNr as number)));
  });

  it('restricts attributes with $attributes and with a path attribute list', async () => {
    const a = await emu().rest<Envelope>('/rest/Kunden?$top=2&$attributes=KundenNr,Rabatt', { login: true });
    expect(Object.keys(a.body.__ENTITIES[0])).toEqual(['__KEY', '__TIMESTAMP', '__STAMP', 'KundenNr', 'Rabatt']);
    const b = await emu().rest<Envelope>('/rest/Kunden/KundenNr,Rabatt?$top=2', { login: true });
    expect(b.body.__ENTITIES).toEqual(a.body.__ENTITIES);
    const c = await emu().rest<Envelope>(`/rest/Kunden/KundenNr/?$filter=${enc(`KundenNr='${a.body.__ENTITIES[0].KundenNr}'`)}`, { login: true });
    expect(c.body.__COUNT).toBe(1);
    expect(Object.keys(c.body.__ENTITIES[0])).toEqual(['__KEY', '__TIMESTAMP', '__STAMP', 'KundenNr']);
  });

  it('accepts unquoted, double-quoted and single-quoted values for every $ parameter', async () => {
    const t = emu();
    const kundenNr = String(t.emulator.db.table('Kunden')!.rows()[3].KundenNr);
    const variants = [
      `$filter=${enc(`KundenNr='${kundenNr}'`)}&$top=5&$attributes=KundenNr`,
      `$filter=${enc(`"KundenNr='${kundenNr}'"`)}&$top="5"&$attributes="KundenNr"`,
      `$filter=${enc(`'KundenNr=:1'`)}&$params=${enc(`'["${kundenNr}"]'`)}&$top='5'&$attributes='KundenNr'`,
      `$filter=${enc('KundenNr=:1')}&$params=${enc(JSON.stringify([kundenNr]))}&$top=5&$attributes=KundenNr`,
    ];
    for (const q of variants) {
      const res = await t.rest<Envelope>(`/rest/Kunden?${q}`, { login: true });
      expect(res.status, q).toBe(200);
      expect(res.body.__COUNT, q).toBe(1);
      expect(res.body.__ENTITIES[0].KundenNr, q).toBe(kundenNr);
    }
  });

  it('decodes %23, %26, %25 in $filter and keeps a literal + (it is not a space)', async () => {
    const t = emu();
    const kunden = t.emulator.db.table('Kunden')!;
    const a = kunden.insert({ KundenNr: 'ENC-1', Zahlungsart: '100% & #1' });
    const b = kunden.insert({ KundenNr: 'ENC-2', Zahlungsart: 'Vorkasse+Skonto' });
    const exact = await t.rest<Envelope>(`/rest/Kunden?$filter=${enc(`Zahlungsart='100% & #1'`)}`, { login: true });
    expect(exact.body.__ENTITIES.map((e) => e.__KEY)).toEqual([a.__KEY]);
    const plus = await t.rest<Envelope>(`/rest/Kunden?$filter=Zahlungsart='Vorkasse+Skonto'`, { login: true });
    expect(plus.body.__ENTITIES.map((e) => e.__KEY)).toEqual([b.__KEY]);
    // `#` is the not-equal comparator and `&` the AND symbol once decoded.
    const notEqual = await t.rest<Envelope>(`/rest/Kunden?$filter=${enc(`KundenNr#'ENC-1' & KundenNr='ENC@'`)}`, { login: true });
    expect(notEqual.body.__ENTITIES.map((e) => e.__KEY)).toEqual([b.__KEY]);
  });

  it('answers an invalid filter with a 500 and an __ERROR stack, never with unfiltered data', async () => {
    const res = await emu().rest(`/rest/Kunden?$filter=${enc("KundenNr='unterminated")}`, { login: true });
    expect(res.status).toBe(500);
    expectFourDError(res.body);
    expect(res.body).not.toHaveProperty('__ENTITIES');
  });

  it('answers an unknown attribute in $filter, $orderby or $attributes with a 500 and errCode 1500 in the stack', async () => {
    for (const q of [`$filter=${enc("Nme='x'")}`, '$orderby=Nme', '$attributes=KundenNr,Nme']) {
      const res = await emu().rest(`/rest/Kunden?${q}`, { login: true });
      expect(res.status, q).toBe(500);
      expectFourDError(res.body, 1500);
    }
  });

  it('answers an unknown dataclass with 404 and errCode 1800', async () => {
    const res = await emu().rest('/rest/kunden', { login: true });
    expect(res.status).toBe(404);
    expectFourDError(res.body, 1800);
  });

  it('rejects an unknown $ keyword with errCode 1811 and a malformed $params with 1806', async () => {
    const a = await emu().rest('/rest/Kunden?$fliter=x', { login: true });
    expect(a.status).toBe(500);
    expectFourDError(a.body, 1811);
    const b = await emu().rest(`/rest/Kunden?$filter=${enc('KundenNr=:1')}&$params=${enc('{"a":1}')}`, { login: true });
    expect(b.status).toBe(500);
    expectFourDError(b.body, 1806);
  });

  it('answers a wrong HTTP verb with 405 and an Allow header', async () => {
    const a = await emu().rest('/rest/Kunden?$method=update', { login: true, method: 'GET' });
    expect(a.status).toBe(405);
    expect(a.headers.allow).toBe('POST');
    expectFourDError(a.body, 1829);
    const b = await emu().rest('/rest/Kunden', { login: true, method: 'DELETE' });
    expect(b.status).toBe(405);
  });

  it('caps $top at maxTop when configured', async () => {
    const t = await startTestEmulator({ maxTop: 10 });
    try {
      const res = await t.rest<Envelope>('/rest/Belege?$top=1000', { login: true });
      expect(res.body.__SENT).toBe(10);
    } finally {
      await t.close();
    }
  });
});

describe('single entities', () => {
  const emu = withEmulator();
  let row: Row;
  beforeAll(() => {
    row = emu().emulator.db.table('Kunden')!.rows()[5];
  });

  it('finds an entity with the parenthesis, bracket and quoted key syntaxes', async () => {
    for (const path of [`/rest/Kunden(${row.__KEY})`, `/rest/Kunden[${row.__KEY}]`, `/rest/Kunden(${enc(`"${row.__KEY}"`)})`, `/rest/Kunden("${row.__KEY}")`]) {
      const res = await emu().rest<Record<string, unknown>>(path, { login: true });
      expect(res.status, path).toBe(200);
      expect(res.body.__KEY, path).toBe(row.__KEY);
      expect(Object.keys(res.body).slice(0, 4), path).toEqual(['__entityModel', '__KEY', '__TIMESTAMP', '__STAMP']);
      expect(res.body.__entityModel).toBe('Kunden');
      expect(res.body.KundenNr).toBe(row.KundenNr);
    }
  });

  it('restricts the attributes of one entity with a path list', async () => {
    const res = await emu().rest<Record<string, unknown>>(`/rest/Kunden(${row.__KEY})/KundenNr,Rabatt`, { login: true });
    expect(res.body).toEqual({ __entityModel: 'Kunden', __KEY: row.__KEY, __TIMESTAMP: row.__TIMESTAMP, __STAMP: row.__STAMP, KundenNr: row.KundenNr, Rabatt: row.Rabatt });
  });

  it('finds an entity by a unique attribute, quoted or not', async () => {
    for (const path of [`/rest/Kunden:KundenNr(${enc(String(row.KundenNr))})`, `/rest/Kunden:KundenNr(${enc(`"${String(row.KundenNr)}"`)})/KundenNr`]) {
      const res = await emu().rest<Record<string, unknown>>(path, { login: true });
      expect(res.status, path).toBe(200);
      expect(res.body.__KEY).toBe(row.__KEY);
    }
  });

  it('answers an unknown key with 404 and errCode 1800', async () => {
    const res = await emu().rest('/rest/Kunden(00000000000000000000000000000000)', { login: true });
    expect(res.status).toBe(404);
    expectFourDError(res.body, 1800);
    const byAttr = await emu().rest('/rest/Kunden:KundenNr(NOPE)', { login: true });
    expect(byAttr.status).toBe(404);
    expectFourDError(byAttr.body, 1800);
  });
});

describe('entity sets', () => {
  const emu = withEmulator();

  it('creates an entity set with __ENTITYSET first, pages through it and releases it', async () => {
    const t = emu();
    const created = await t.rest<Envelope>(`/rest/Belege?$method=entityset&$orderby=AbsNr&$top=10&$timeout=600`, { login: true });
    expect(created.status).toBe(200);
    expect(Object.keys(created.body)[0]).toBe('__ENTITYSET');
    expect(created.body.__ENTITYSET).toMatch(/^\/rest\/Belege\/\$entityset\/[0-9A-F]{32}$/);
    expect(t.emulator.counters.byRoute.entityset).toBe(1);

    const page2 = await t.rest<Envelope>(`${created.body.__ENTITYSET}?$skip=10&$top=10`, { login: true });
    expect(page2.body.__FIRST).toBe(10);
    expect(page2.body.__COUNT).toBe(created.body.__COUNT);
    const nums = page2.body.__ENTITIES.map((e) => e.AbsNr as number);
    expect(Math.min(...nums)).toBeGreaterThanOrEqual(Math.max(...created.body.__ENTITIES.map((e) => e.AbsNr as number)));

    // An entity deleted after the set was built stays as a { __STAMP: 0 } hole.
    const victim = page2.body.__ENTITIES[0].__KEY;
    t.emulator.db.table('Belege')!.delete(victim);
    const again = await t.rest<Envelope>(`${created.body.__ENTITYSET}?$skip=10&$top=2`, { login: true });
    expect(again.body.__ENTITIES[0]).toEqual({ __STAMP: 0 });

    const released = await t.rest(`${created.body.__ENTITYSET}?$method=release`, { login: true });
    expect(released.body).toEqual({ ok: true });
    const gone = await t.rest(created.body.__ENTITYSET!, { login: true });
    expect(gone.status).toBe(404);
    expectFourDError(gone.body, 1802);
  });
});

describe('version profiles', () => {
  let v18: TestEmulator;
  let v21: TestEmulator;
  beforeAll(async () => {
    [v18, v21] = await Promise.all([startTestEmulator({ version: 'v18' }), startTestEmulator({ version: 'v21' })]);
    return async () => {
      await Promise.all([v18.close(), v21.close()]);
    };
  });

  it('omits __DATACLASS in v18 and emits parenthesis uris', async () => {
    const list = await v18.rest<Envelope>('/rest/Formen?$top=1', { login: true });
    expect(list.body).not.toHaveProperty('__DATACLASS');
    expect(Object.keys(list.body)[0]).toBe('__entityModel');
    const saved = await v18.rest<{ uri: string; __KEY: string }>('/rest/Formen?$method=update', { login: true, body: { FormNr: 'V18' } });
    expect(saved.body.uri).toBe(`/rest/Formen(${saved.body.__KEY})`);
  });

  it('emits bracket uris in v21 and accepts both key syntaxes', async () => {
    const saved = await v21.rest<{ uri: string; __KEY: string }>('/rest/Formen?$method=update', { login: true, body: { FormNr: 'V21' } });
    expect(saved.body.uri).toBe(`/rest/Formen[${saved.body.__KEY}]`);
    expect((await v21.rest(`/rest/Formen(${saved.body.__KEY})`, { login: true })).status).toBe(200);
    expect((await v21.rest(saved.body.uri, { login: true })).status).toBe(200);
  });
});

describe('empty filters', () => {
  const emu = withEmulator();

  it('answers an empty $filter with an error instead of the whole table', async () => {
    for (const q of ['$filter=', '$filter=""', "$filter=''"]) {
      const res = await emu().rest(`/rest/Kunden?${q}`, { login: true });
      expect(res.status, q).toBe(500);
      expect(res.body, q).not.toHaveProperty('__ENTITIES');
    }
  });
});

describe('$distinct and $compute', () => {
  const emu = withEmulator();

  it('answers $distinct with a bare, sorted array of the distinct values of one attribute', async () => {
    const t = emu();
    const expected = [...new Set(t.emulator.db.table('Belege')!.rows().map((r) => r.Papierart as string))].sort();
    const res = await t.rest<string[]>('/rest/Belege/Papierart?$distinct=true', { login: true });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(expected);
  });

  it('answers $compute=sum with a bare number and $compute=$all with the statistics object', async () => {
    const t = emu();
    const values = t.emulator.db.table('Belege_Pos')!.rows().map((r) => r.Menge as number);
    const sum = await t.rest<number>('/rest/Belege_Pos/Menge?$compute=sum', { login: true });
    expect(sum.body).toBeCloseTo(values.reduce((a, b) => a + b, 0), 6);
    const all = await t.rest<{ Menge: Record<string, number> }>('/rest/Belege_Pos/Menge/?$compute=$all', { login: true });
    expect(all.body.Menge).toMatchObject({ count: values.length, min: Math.min(...values), max: Math.max(...values) });
    const bad = await t.rest('/rest/Belege_Pos/Menge?$compute=median', { login: true });
    expect(bad.status).toBe(500);
  });
});
