/**
 * The URL budget and `orderBy`: every request URL is checked against `maxUrlBytes` before it is
 * sent (a filter value too long is a `LegacyValidationError` naming the attribute and the limit,
 * never an HTTP 431 from 4D or a proxy), `fetchByKeys` splits long key lists to fit, and `orderBy`
 * accepts only attribute names or dotted paths with asc/desc. No refusal costs an upstream request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { f, LegacyValidationError, type LegacyClient } from '../../src/legacy/index.js';
import { rejection } from '../helpers/assertions.js';
import { keysOf, legacyFixture, tableRows, type LegacyFixture } from './setup.js';

let fx: LegacyFixture;

beforeAll(async () => {
  fx = await legacyFixture();
  await fx.client.ping();
});
afterAll(async () => {
  await fx?.close();
});

/** The refusal of `call`, asserting that nothing reached the emulator. */
async function refusedUpfront(call: () => Promise<unknown>): Promise<LegacyValidationError> {
  const before = fx.emulator.counters.requests;
  const error = await rejection(call());
  expect(error).toBeInstanceOf(LegacyValidationError);
  expect(fx.emulator.counters.requests - before).toBe(0);
  return error as LegacyValidationError;
}

describe('the URL budget', () => {
  it('refuses a 10 KB filter value before sending, naming the attribute and the limit', async () => {
    const error = await refusedUpfront(() => fx.client.fetchTable('Artikel_Variante', { filter: f.eq('Bezeichnung', 'x'.repeat(10_000)) }));
    expect(error.message).toContain('Artikel_Variante.Bezeichnung');
    expect(error.message).toContain('6000 bytes');
    expect(error.message).toContain('too long');
    expect(error.message).toMatch(/at most about \d+ bytes fit/);
    expect(error.message).toContain('nothing was sent');
    expect(error.environment).toBe('test');
  });

  it('counts percent-encoding: 1500 umlauts are 9000 bytes on the wire', async () => {
    const error = await refusedUpfront(() => fx.client.fetchTable('Kunden', { filter: f.contains('Versandart', 'ä'.repeat(1500)) }));
    expect(error.message).toContain('Kunden.Versandart');
    expect(error.message).toMatch(/takes 9\d{3} bytes once percent-encoded/);
  });

  it('lets a value through that fits, and the request stays within the budget', async () => {
    fx.emulator.resetCounters();
    const page = await fx.client.fetchTable('Artikel_Variante', { filter: f.eq('Bezeichnung', 'y'.repeat(5000)) });
    expect(page.total).toBe(0);
    expect(fx.emulator.requestLog).toHaveLength(1);
    expect(fx.emulator.requestLog[0]!.path.length).toBeLessThanOrEqual(6000);
  });

  it('refuses an "in" list too long for one URL, suggesting fewer values', async () => {
    const values = Array.from({ length: 2000 }, (_, i) => `K${i}`);
    const error = await refusedUpfront(() => fx.client.fetchTable('Kunden', { filter: f.in('KundenNr', values) }));
    expect(error.message).toContain('Kunden.KundenNr');
    expect(error.message).toContain('2000 values');
    expect(error.message).toContain('fewer values');
  });

  it('says the filter as a whole is too large when no single value is to blame', async () => {
    const many = f.or(...Array.from({ length: 100 }, (_, i) => f.eq('KundenNr', `${'k'.repeat(80)}${i}`)));
    const error = await refusedUpfront(() => fx.client.fetchTable('Kunden', { filter: many }));
    expect(error.message).toMatch(/The request to Kunden would have a URL of \d+ bytes, over the client's URL budget of 6000 bytes/);
    expect(error.message).toContain('100 value(s)');
  });

  it('checks every page fetchAll could request before the first', async () => {
    const error = await refusedUpfront(() => fx.client.fetchAll('Kunden', { filter: f.ne('Versandart', 'z'.repeat(8000)) }));
    expect(error.message).toContain('Kunden.Versandart');
  });

  it('is a client option (maxUrlBytes), at least 1024', async () => {
    const small = fx.newClient({ maxUrlBytes: 2000 });
    await small.ping();
    const error = await refusedUpfront(() => small.fetchTable('Kunden', { filter: f.eq('Versandart', 'v'.repeat(2500)) }));
    expect(error.message).toContain('2000 bytes');
    await expect(small.fetchTable('Kunden', { filter: f.eq('Versandart', 'v'.repeat(1000)) })).resolves.toMatchObject({ total: 0 });
    expect(() => fx.newClient({ maxUrlBytes: 100 })).toThrow(/maxUrlBytes must be an integer ≥ 1024/);
  });
});

describe('fetchByKeys within the URL budget', () => {
  const keys = () => tableRows(fx.emulator, 'Belege_Pos').map((r) => r.__KEY);

  async function chunked(client: LegacyClient, budget: number) {
    fx.emulator.resetCounters();
    const all = keys().slice(0, 600);
    const rows = await client.fetchByKeys('Belege_Pos', '__KEY', all);
    expect(keysOf(rows.flat())).toEqual([...all].sort());
    const paths = fx.emulator.requestLog.filter((e) => e.table === 'Belege_Pos').map((e) => e.path);
    for (const path of paths) expect(path.length).toBeLessThanOrEqual(budget);
    return paths.length;
  }

  it('splits a long key list into requests that each fit the budget', async () => {
    // 600 keys of 32 hex digits ≈ 600 × 40 bytes encoded: several requests, none above 6000 bytes.
    expect(await chunked(fx.client, 6000)).toBeGreaterThanOrEqual(4);
  });

  it('splits further with a smaller budget', async () => {
    const small = fx.newClient({ maxUrlBytes: 2000 });
    await small.ping();
    expect(await chunked(small, 2000)).toBeGreaterThanOrEqual(12);
  });

  it('refuses a single key too long for any URL, before sending the keys that would fit', async () => {
    const error = await refusedUpfront(() => fx.client.fetchByKeys('Kunden', 'KundenNr', ['K1', 'K2', 'k'.repeat(7000)]));
    expect(error.message).toContain('Kunden.KundenNr');
    expect(error.message).toContain('6000 bytes');
  });
});

describe('orderBy', () => {
  it('accepts attribute names and dotted paths with asc/desc', async () => {
    await expect(fx.client.fetchTable('Artikel_Variante', { top: 2, orderBy: 'Nummer desc, Bezeichnung' })).resolves.toMatchObject({ sent: 2 });
    await expect(fx.client.fetchTable('Artikel_Variante', { top: 2, orderBy: [['Preise.Art', 'asc']] })).resolves.toMatchObject({ sent: 2 });
  });

  it.each([
    ['Preise.Coll[].Art asc', 'not collection paths with []'],
    ['Preise.Coll[a].Preis desc', 'not collection paths with []'],
    ['Nummer sideways', 'attribute names or dotted paths'],
    ['Nummer;Bezeichnung', 'Unknown attribute "Nummer;Bezeichnung"'],
    ['Preise asc', 'order by an attribute or a dotted path inside it'],
  ])('refuses %j, saying what is allowed, without a request', async (orderBy, says) => {
    const error = await refusedUpfront(() => fx.client.fetchTable('Artikel_Variante', { orderBy }));
    expect(error.message).toContain(says);
  });

  it('refuses a [] path in the array form too', async () => {
    const error = await refusedUpfront(() => fx.client.fetchAll('Artikel_Variante', { orderBy: [['Preise.Coll[].Preis', 'desc']] }));
    expect(error.message).toContain('Preise.Coll[].Preis');
  });
});
