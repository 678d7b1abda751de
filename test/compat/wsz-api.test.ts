import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { configureWszApi, fetchDataFromApi, getSessionCookie, pushData } from '../../src/compat/wsz-api.js';
import { startEmulator, type Emulator } from '../../src/emulator/index.js';
import { LegacyValidationError } from '../../src/legacy/errors.js';
import { createLegacyClient, type LegacyClient } from '../../src/legacy/index.js';
import { decodeDate } from '../../src/legacy/codecs.js';

let emulator: Emulator;
let client: LegacyClient;

beforeAll(async () => {
  emulator = await startEmulator({ port: 0 });
  client = createLegacyClient({
    environments: { live: { baseUrl: emulator.url, username: 'wsz', password: 'wsz' } },
    defaultEnvironment: 'live',
    retryBaseMs: 5,
  });
  configureWszApi(client);
});
afterAll(async () => {
  configureWszApi(undefined);
  await client.close();
  await emulator.close();
});
beforeEach(() => emulator.resetCounters());

describe('fetchDataFromApi', () => {
  it('returns `top` raw rows from `skip`, like the old function', async () => {
    const rows = await fetchDataFromApi('Artikel_Variante', 5, 2);
    expect(rows).toHaveLength(5);
    const table = emulator.db.table('Artikel_Variante')!;
    const all = await fetchDataFromApi('Artikel_Variante', table.size, 0);
    expect(rows.map((r) => r.__KEY)).toEqual(all.slice(2, 7).map((r) => r.__KEY));
    expect(rows[0]).toHaveProperty('Nummer');
    expect(rows[0]).toHaveProperty('Preise');
  });

  it('defaults to 100 rows', async () => {
    const rows = await fetchDataFromApi('Belege');
    expect(rows).toHaveLength(Math.min(100, emulator.db.table('Belege')!.size));
  });

  it('filters on the creation date with newDataOnly and dateCreatedStart', async () => {
    const start = '2022-01-01';
    const rows = await fetchDataFromApi('Belege', 10_000, 0, true, start);
    const expected = emulator.db
      .table('Belege')!
      .rows()
      .filter((r) => {
        const iso = decodeDate(r.Datum);
        return iso !== null && iso >= start;
      });
    expect(rows.map((r) => r.__KEY).sort()).toEqual(expected.map((r) => r.__KEY).sort());
    expect(rows.length).toBeGreaterThan(0);
  });

  it('ignores dateCreatedStart when newDataOnly is false', async () => {
    const rows = await fetchDataFromApi('Belege', 50, 0, false, '2100-01-01');
    expect(rows).toHaveLength(50);
  });

  it('rejects an unknown table naming it and the known tables, without a request', async () => {
    await expect(fetchDataFromApi('Artikel')).rejects.toThrow(/Unknown table "Artikel"; known tables: Artikel_Familie, Artikel_Variante/);
    await expect(fetchDataFromApi('Kunden', 10, 0, true, '2024-01-01')).rejects.toThrow(/Kunden has no creation date/);
    await expect(fetchDataFromApi('Kunden', 0)).rejects.toBeInstanceOf(LegacyValidationError);
    expect(emulator.counters.byTable.Kunden ?? 0).toBe(0);
  });
});

describe('pushData', () => {
  it('writes one field and returns true', async () => {
    const row = emulator.db.table('Kunden')!.rows()[0];
    await expect(pushData('Kunden', 'Versandart', row.__KEY, 'DHL Express')).resolves.toBe(true);
    const saved = emulator.db.table('Kunden')!.get(row.__KEY)!;
    expect(saved.Versandart).toBe('DHL Express');
    expect(saved.__STAMP).toBe(row.__STAMP + 1);
  });

  it('returns false when the record does not exist', async () => {
    await expect(pushData('Kunden', 'Versandart', 'FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF', 'x')).resolves.toBe(false);
  });

  it('throws before any request for an unknown column or a value of the wrong type', async () => {
    const row = emulator.db.table('Kunden')!.rows()[1];
    await expect(pushData('Kunden', 'Versandarten', row.__KEY, 'x')).rejects.toThrow(/Versandarten/);
    await expect(pushData('Kunden', 'Kreditlimit', row.__KEY, 'viel')).rejects.toBeInstanceOf(LegacyValidationError);
    expect(emulator.counters.updates).toBe(0);
    expect(emulator.db.table('Kunden')!.get(row.__KEY)!.__STAMP).toBe(row.__STAMP);
  });
});

describe('getSessionCookie', () => {
  it("returns the shared session's cookie header, which the 4D server accepts", async () => {
    const cookie = await getSessionCookie();
    expect(cookie).toMatch(/WASID4D=[0-9A-F]{32}/);
    const logins = emulator.counters.logins;
    const response = await fetch(`${emulator.url}/rest/Kunden?$top=1`, { headers: { cookie } });
    expect(response.status).toBe(200);
    expect(emulator.counters.logins).toBe(logins);
  });

  it('rejects an environment that is not configured, naming it', async () => {
    await expect(getSessionCookie('staging')).rejects.toThrow(/staging/);
  });
});
